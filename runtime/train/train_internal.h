/* The experiment's state, shared by the files of this folder. */
#ifndef WGAN_TRAIN_INTERNAL_H
#define WGAN_TRAIN_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "experiment.h"
#include "io/clock.h"
#include "io/fileio.h"
#include "plugin/loader.h"
#include "plugin/registry.h"
#include "wgan/config.h"
#include "wgan/optim.h"
#include "wgan/session.h"

#define WG_EXP_MAX_COLUMNS 32

/* Where a logged value comes from. */
typedef enum exp_source {
    EXP_SRC_COUNTER, /* step numbers and seconds, known on the host */
    EXP_SRC_CRITIC,  /* a [1] target of the critic plan (its last run) */
    EXP_SRC_GEN,     /* a [1] target of the generator plan */
    EXP_SRC_DIAG,    /* computed on the host from the diagnostics plan */
    EXP_SRC_EVAL,    /* computed by the evaluation (evaluate.c) */
} exp_source;

typedef struct exp_column {
    char name[48];
    exp_source source;
    wg_node node;
    double value;
} exp_column;

/* One plugin in use: which one, its state, and its section of the configuration. */
typedef struct exp_plugin {
    const wg_plugin *plugin;
    void *state;
    const wg_cfg *section;
    char sha256[WG_PLUGIN_SHA256_HEX]; /* of plugin->path, at load */
} exp_plugin;

struct wg_experiment {
    wg_experiment_options options;

    /* ---- configuration ---- */
    wg_cfg *config;
    char *config_source; /* the file read */
    char name[128];
    uint64_t seed;
    const char *device_spec;
    int64_t batch, steps, log_every, sample_every, checkpoint_every, n_samples;
    int n_critic;
    bool warmup;
    wg_optim_config optim[2]; /* critic, generator */

    /* ---- plugins ---- */
    wg_plugins *plugins;
    exp_plugin data, arch, loss, lipschitz; /* lipschitz.plugin NULL: unconstrained */
    wg_shape sample_shape;                  /* one sample */
    wg_data_layout layout;
    int64_t sample_numel, noise_dim;
    bool batch_norm_warning;
    exp_plugin *blamed;  /* the plugin a tracing failure was blamed on (plugin_calls.c) */
    wg_buf plugin_notes; /* warnings about the plugin files, logged in the run folder */

    /* ---- run folder ---- */
    char dir[4096];
    char dir_stem[512]; /* without --out: runs/<name>-<time>, before any -n suffix */
    int dir_suffix;     /* the n of dir's "-n" chosen at load (1: none) */
    int lock_fd;        /* the folder's lock, held from claim to free; -1 when none */
    bool resuming;
    FILE *log;
    wg_buf metrics_csv; /* the whole file as written so far */

    /* ---- execution ---- */
    wg_device *device;
    wg_graph *graph;
    struct exp_targets *targets; /* traced at load, planned in exp_build (steps.c) */
    wg_registry registry;
    wg_session *session;
    wg_optimizer *optimizer[2]; /* critic, generator */
    wg_plan *critic_plan, *gen_plan, *project_plan, *diag_plan, *sample_plan;
    wg_node real;                           /* input [batch, sample...] */
    wg_node sample_noise, sample_out;       /* fixed noise and G(noise) */
    wg_node diag_norm_real, diag_norm_fake; /* [batch] input-gradient norms */
    exp_column columns[WG_EXP_MAX_COLUMNS];
    int n_columns;
    float *real_host; /* one batch */
    float *real_plot; /* n_samples real samples for the pictures */

    /* ---- progress ---- */
    int64_t gen_step, critic_step; /* completed; critic_step is also the data index */
    double seconds_before;         /* training time of earlier sessions of this run */
    double start_time;
    int64_t start_step;
    double last_w;
    bool have_w;
    wg_progress_mode progress;
    bool interrupted;

    struct exp_eval *eval; /* evaluate.c: what is measured at log steps and at the end */
};

/* Column indices of the fixed metrics. */
enum {
    COL_STEP,
    COL_CRITIC_STEP,
    COL_W,
    COL_CRITIC_LOSS,
    COL_GEN_LOSS,
    COL_PENALTY,
    COL_GNORM_REAL,
    COL_GNORM_FAKE,
    COL_GNORM_MIN,
    COL_GNORM_MAX,
    COL_SECONDS,
    COL_FIXED_COUNT
};

/* steps.c: the step graphs and their plans. exp_trace builds the graph (no device
 * needed); exp_build plans it on the device, tracing first when that was not done. */
wg_status exp_trace(wg_experiment *e);
wg_status exp_build(wg_experiment *e);
void exp_targets_free(wg_experiment *e);

/* plugin_calls.c: a hook's status `s` checked (the build, the graph, the metrics it
 * added; with `column`, `output` must be one element, the value of that column) and,
 * on failure, blamed on plugin `p` with its name, file and the hook. */
wg_status exp_hook_done(wg_experiment *e, wg_build *b, exp_plugin *p, const char *hook,
                        wg_status s);
wg_status exp_hook_output(wg_experiment *e, wg_build *b, exp_plugin *p, const char *hook,
                          wg_status s, wg_node output, const char *column);
/* WG_OK when `x` is a batch of samples; else a shape error blamed on the penalty (only
 * a penalty hands the critic batches of its own making). */
wg_status exp_check_batch(wg_experiment *e, wg_build *b, wg_node x);
/* Blames a failure on `p` unless an inner hook was blamed already. */
wg_status exp_blame(wg_experiment *e, exp_plugin *p, const char *hook, wg_status s);
/* exp_trace, with a failure blamed on a plugin made a configuration error at the
 * plugin's `plugin:` key. */
wg_status exp_trace_checked(wg_experiment *e);
/* experiment.c: the run folder's plugins.tsv (kind, name, SHA-256, file), and the
 * warnings about plugin files into the log. */
wg_status exp_record_plugins(wg_experiment *e);
/* Runs a plan without moving the training's random stream (diagnostics, samples). */
wg_status exp_run_aside(wg_experiment *e, wg_plan *plan);
/* Pieces of the step graphs that other graphs of the run reuse (evaluation). `trace`
 * names the trace and the keys of its random draws ("critic_step"). */
void exp_begin_build(wg_experiment *e, wg_build *b, const char *trace, int64_t batch);
/* `self` is the experiment: the signature of wg_critic_fn. */
wg_status exp_apply_critic(void *self, wg_build *build, wg_node x, wg_node *score);
wg_status exp_apply_generator(wg_experiment *e, wg_build *build, wg_node z, wg_node *x);
/* The critic's scores at `x` (score_out may be NULL) and the per-sample norm of its
 * input gradient over all non-batch axes: [N]. */
wg_status exp_input_grad_norm(wg_experiment *e, wg_build *b, wg_node x, wg_node *score_out,
                              wg_node *norm);
/* A plugin's failure while tracing, with the step it happened in. */
wg_status exp_traced(wg_build *b, wg_status s, const char *what);
/* [n, sample...] */
wg_shape exp_batch_shape(const wg_experiment *e, int64_t n);
/* false when WG_EXP_MAX_COLUMNS are taken */
bool exp_add_column(wg_experiment *e, const char *name, exp_source source, wg_node node);
/* Critic steps in generator step `g` (0-based), warm-up included. */
int exp_critic_iterations(const wg_experiment *e, int64_t g);
/* The critic steps of generator steps 0 .. gen-1: what a checkpoint at `gen` holds. */
int64_t exp_critic_steps_before(const wg_experiment *e, int64_t gen);

/* checkpoint.c */
wg_status exp_checkpoint_save(wg_experiment *e);
/* Restores variables and counters; *found false (and nothing changed) when the folder
 * has no checkpoint. */
wg_status exp_checkpoint_restore(wg_experiment *e, bool *found);
/* The same from a checkpoint file of the caller's choosing (wgan sample). */
wg_status exp_checkpoint_restore_file(wg_experiment *e, const char *path);
/* sample.c: rows [first, first + rows) of the N(0, 1) sample noise that `seed` names
 * (key WG_SAMPLE_NOISE_KEY), rows * noise_dim floats into z. */
void exp_draw_sample_noise(const wg_experiment *e, uint64_t seed, int64_t first, int64_t rows,
                           float *z);

/* rundir.c: owning the run folder, and its text files and pictures. */
#define EXP_RUNS_DIR "runs"
/* WG_ERR_CONFIG when --out names a folder holding a run, without --resume or --force. */
wg_status exp_rundir_check_free(const wg_experiment *e);
/* Creates (without --out: under a name no other run has) and locks the run folder for
 * the experiment's lifetime; --force first moves an earlier run there aside. */
wg_status exp_rundir_claim(wg_experiment *e);
wg_status exp_rundir_open(wg_experiment *e);
void exp_rundir_close(wg_experiment *e);
/* Formatted line to the run's log (and, for warnings, stderr). */
void exp_log(wg_experiment *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A line on stderr unless progress is quiet (not in the log). */
void exp_note(wg_experiment *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void exp_warn(wg_experiment *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Reads the metrics of the last step, fills columns[].value; WG_ERR_NUMERIC naming
 * the step when a loss is not finite. With `diagnostics`, also the gradient norms. */
wg_status exp_read_metrics(wg_experiment *e, bool diagnostics);
wg_status exp_append_metrics(wg_experiment *e);
wg_status exp_write_samples(wg_experiment *e);
wg_status exp_write_summary(wg_experiment *e, const char *state, const char *message);
double exp_seconds(const wg_experiment *e);

/* evaluate.c: sample quality and the critic's Lipschitz constant at log steps, FID and
 * KID for images, the training-health verdict at the end (docs/experiments.md). */
/* Reads the `eval` section (at load, before unused keys are reported). */
wg_status exp_eval_configure(wg_experiment *e);
/* In exp_build, after the step graphs and before any plan (plans point into the
 * graph's nodes): the evaluation's nodes and columns. */
wg_status exp_eval_trace(wg_experiment *e);
/* After exp_build: the evaluation's plans and fixed inputs. */
wg_status exp_eval_build(wg_experiment *e);
/* After the run folder is open: the FID classifier (trained when not cached) and the
 * real images' features. */
wg_status exp_eval_start(wg_experiment *e);
/* At a log step, after exp_read_metrics: fills the EXP_SRC_EVAL columns. */
wg_status exp_eval_step(wg_experiment *e);
/* At the end of a run: the health verdict over metrics.csv, logged and, unless quiet,
 * printed. */
void exp_eval_finish(wg_experiment *e);
/* The evaluation's keys of summary.json, each line "  \"key\": value,\n". */
void exp_eval_summary(const wg_experiment *e, wg_buf *b);
void exp_eval_free(wg_experiment *e);

/* progress.c */
void exp_progress(wg_experiment *e, bool logged);
void exp_progress_done(wg_experiment *e);

#endif
