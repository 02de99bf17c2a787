/* The step graphs (steps.c): one f32 graph holding the critic step, generator step,
 * projection, diagnostics and samples, the device and session they run on, their
 * plans, and the columns of metrics.csv they feed. Written by steps.c only; other files
 * read it and change column values through exp_set_value. */
#ifndef WGAN_TRAIN_STEPS_H
#define WGAN_TRAIN_STEPS_H

#include <stdbool.h>

#include "experiment.h"
#include "plugin/build.h"
#include "plugin/registry.h"
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

typedef struct exp_steps {
    wg_device *device;
    wg_graph *graph;
    struct exp_targets *targets; /* traced at load, planned in exp_steps_open */
    wg_registry registry;
    wg_session *session;
    wg_optimizer *optimizer[2]; /* critic, generator */
    wg_plan *critic_plan, *gen_plan, *project_plan, *diag_plan, *sample_plan;
    wg_plan *update_plan[2];                /* with shards: the optimizers' updates after the sum */
    wg_node real;                           /* input [batch, sample...] */
    wg_node sample_noise, sample_out;       /* fixed noise and G(noise) */
    wg_node diag_norm_real, diag_norm_fake; /* [batch] input-gradient norms */
    wg_node lr[2];    /* [1] inputs: the learning rates of a schedule, or WG_NONE */
    int lr_column[2]; /* their columns of metrics.csv, or -1 */
    exp_column columns[WG_EXP_MAX_COLUMNS];
    int n_columns;
    bool have_w;      /* the losses were read back at least once */
    float *real_host; /* one batch */
    float *real_plot; /* n_samples real samples for the pictures */
} exp_steps;

/* Builds the step graphs (no device needed). A failure blamed on a plugin is kept by
 * plugin_calls.c. */
wg_status exp_trace(wg_experiment *e);
/* After exp_trace and every other trace into the graph: opens the device and plans the
 * step graphs on it. */
wg_status exp_steps_open(wg_experiment *e);
/* Initialises the variables from the seed, runs the projection once and starts the
 * generator's average at its weights. */
wg_status exp_steps_initialize(wg_experiment *e);
/* Before generator step g (0-based) and its critic steps: the learning rates of the
 * schedules and the decay of the generator's average for that step. */
wg_status exp_steps_schedule(wg_experiment *e, int64_t g);
/* Swaps the generator's weights with their average when samples are drawn from it
 * (train.ema and wg_experiment_use_ema): once before drawing, once after. */
wg_status exp_swap_ema(wg_experiment *e);
void exp_steps_free(wg_experiment *e);
/* Runs a plan without moving the training's random stream (diagnostics, samples). */
wg_status exp_run_aside(wg_experiment *e, wg_plan *plan);
/* Rows [first, first + rows) of the N(0, 1) sample noise that `seed` names (key
 * WG_SAMPLE_NOISE_KEY), rows * noise_dim floats into z: the run's pictures use seed =
 * the run's seed, wgan sample any. */
void exp_draw_sample_noise(const wg_experiment *e, uint64_t seed, int64_t first, int64_t rows,
                           float *z);
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
/* false when WG_EXP_MAX_COLUMNS are taken */
bool exp_add_column(wg_experiment *e, const char *name, exp_source source, wg_node node);
void exp_set_value(wg_experiment *e, int column, double value);
/* Reads the metrics of the last step, fills columns[].value; WG_ERR_NUMERIC naming
 * the step when a loss is not finite. With `diagnostics`, also the gradient norms. */
wg_status exp_read_metrics(wg_experiment *e, bool diagnostics);
/* Critic steps in generator step `g` (0-based), warm-up included. */
int exp_critic_iterations(const wg_experiment *e, int64_t g);
/* The critic steps of generator steps 0 .. gen-1: what a checkpoint at `gen` holds. */
int64_t exp_critic_steps_before(const wg_experiment *e, int64_t gen);

#endif
