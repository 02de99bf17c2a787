/* An experiment: a YAML file turned into plugins, step graphs on a device, a training
 * loop and a run folder. `wgan run` is a thin layer over this; tests use it directly.
 *
 *     wg_experiment *e;
 *     wg_status s = wg_experiment_load(&options, &e);   // all checks, no work
 *     if (s == WG_OK) s = wg_experiment_run(e);          // train, write the run folder
 *     wg_experiment_free(e);
 *
 * Statuses: WG_ERR_CONFIG for anything wrong with the configuration (its message
 * starts with `file:line:col:`), WG_ERR_NUMERIC when training diverged (the message
 * names the step), WG_ERR_IO for the run folder, others from the device. */
#ifndef WGAN_EXPERIMENT_H
#define WGAN_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgan/device.h"
#include "wgan/graph.h"
#include "wgan/status.h"

typedef enum wg_progress_mode {
    WG_PROGRESS_AUTO,  /* a bar when stderr is a terminal, else log lines */
    WG_PROGRESS_BAR,   /* one line redrawn with \r */
    WG_PROGRESS_LINES, /* a line every log_every steps */
    WG_PROGRESS_QUIET, /* nothing on stderr but warnings and errors */
} wg_progress_mode;

typedef struct wg_experiment_options {
    const char *config_path;      /* the YAML file; NULL when resuming */
    const char *resume_dir;       /* continue the run in this folder, or NULL */
    const char *const *overrides; /* "key.path=value" (--set) */
    int n_overrides;
    const char *device;  /* replaces the file's `device`, or NULL */
    const char *out_dir; /* run folder; NULL: runs/<name>-<timestamp> */
    bool force;          /* with out_dir: move a run found there aside (<dir>.old-N) */
    wg_progress_mode progress;
    /* Testing aid: stop right after this generator step as if killed (no final
     * checkpoint or summary); 0 runs to the end. */
    int64_t stop_after;
    /* Data-parallel training (wgan run under mpirun): this process is shard `shard` of
     * `shards` (0 or 1: alone); every shard must make the same calls in the same order.
     * Shard 0 writes the run folder, the others nothing. docs/scaling.md. */
    int shards, shard;
} wg_experiment_options;

typedef struct wg_experiment wg_experiment;

/* Reads the configuration (applying overrides), loads and creates every plugin and
 * checks every key, so that any configuration error surfaces here, before a device is
 * opened or a file written. When resuming, reads DIR/config.yaml. */
wg_status wg_experiment_load(const wg_experiment_options *options, wg_experiment **out);

/* Opens the device, builds and plans the step graphs, initialises the variables (or
 * restores the checkpoint when resuming), creates the run folder and trains. */
wg_status wg_experiment_run(wg_experiment *experiment);

void wg_experiment_free(wg_experiment *experiment);

/* Asks a running wg_experiment_run to stop after the current generator step, write a
 * checkpoint and a summary, and return WG_OK; safe to call from a signal handler. */
void wg_experiment_request_stop(void);
/* Whether the last run stopped on such a request. */
bool wg_experiment_interrupted(const wg_experiment *experiment);

/* The run folder (known after wg_experiment_load). */
const char *wg_experiment_dir(const wg_experiment *experiment);
/* Completed generator steps. */
int64_t wg_experiment_step(const wg_experiment *experiment);

/* After wg_experiment_run: the generator applied to the run's fixed sample noise;
 * *count samples of *numel floats each into a new array (free() it). With train.ema
 * the generator has the average of its weights, unless wg_experiment_use_ema said
 * otherwise. */
wg_status wg_experiment_generate(wg_experiment *experiment, float **samples, int64_t *count,
                                 int64_t *numel);

/* Whether samples (wg_experiment_generate, the run's pictures) and the evaluation use
 * the exponential moving average of the generator's weights (train.ema; the default
 * when it is set) or the generator's own weights. Call it after wg_experiment_load.
 * WG_ERR_CONFIG naming the run when `use` is true and the run keeps no average. */
wg_status wg_experiment_use_ema(wg_experiment *experiment, bool use);

/* ---- samples from a checkpoint (wgan sample) ----
 *
 *     wg_experiment_load(&(wg_experiment_options){.resume_dir = DIR}, &e);
 *     wg_experiment_prepare(e);
 *     wg_experiment_restore(e, NULL);          // DIR/checkpoint.safetensors
 *     wg_experiment_sample(e, seed, n, out);
 */

/* After wg_experiment_prepare: the variables and counters of the checkpoint file
 * `path` (NULL: the run folder's checkpoint.safetensors). WG_ERR_IO for a file that is
 * missing, unreadable, truncated or not a wgan checkpoint, WG_ERR_CONFIG for one that
 * the configuration does not match; the message names the file. */
wg_status wg_experiment_restore(wg_experiment *experiment, const char *path);

/* After wg_experiment_prepare: the generator at n rows of N(0, 1) noise named by `seed`
 * (the key of the run's pictures, so with the run's own seed the first train.samples
 * rows are the pictures' latent points), run train.samples rows at a time without
 * moving the training's random stream; n * numel floats into out, in the data's layout
 * and range. */
wg_status wg_experiment_sample(wg_experiment *experiment, uint64_t seed, int64_t n, float *out);

/* The shape of one sample ([C, H, W] for images, [D] for points) and whether the data
 * are images; known after wg_experiment_load. */
void wg_experiment_sample_shape(const wg_experiment *experiment, wg_shape *shape, bool *images);

/* ---- measuring (wgan bench) ----
 *
 *     wg_experiment_prepare(e);            // device, step graphs, initial variables
 *     wg_experiment_steps(e, warmup);
 *     t0 = now(); wg_experiment_steps(e, n); seconds = now() - t0;
 */

/* What wg_experiment_run does before its first step, without a run folder: opens the
 * device, builds and plans the step graphs, initialises the variables from the seed
 * and runs the projection once. Nothing is written. */
wg_status wg_experiment_prepare(wg_experiment *experiment);

/* After wg_experiment_prepare: `steps` steady-state generator steps, each n_critic
 * critic steps (the warm-up schedule is not applied) on the data plugin's next batches,
 * each followed by the projection, then the generator step. No metrics, pictures or
 * checkpoints; returns once the device has finished (it reads the generator loss back,
 * and fails with WG_ERR_NUMERIC when that is not finite). */
wg_status wg_experiment_steps(wg_experiment *experiment, int64_t steps);

typedef struct wg_experiment_info {
    const char *name;
    int64_t batch;
    int n_critic;
    /* one run of each plan (wg_plan_flops), and one generator step of
     * wg_experiment_steps: n_critic * (critic + projection) + generator */
    double critic_flops, projection_flops, generator_flops, step_flops;
    /* kernel calls of one generator step, counted as step_flops is; whether the plans
     * fuse element-wise chains (WGAN_FUSE=0 turns it off) */
    int64_t step_calls;
    bool fused;
    size_t plan_bytes;       /* device arenas of every plan, diagnostics and sampler too */
    size_t persistent_bytes; /* parameters, optimizer and network state, inputs */
} wg_experiment_info;

/* After wg_experiment_prepare (or wg_experiment_run). */
wg_status wg_experiment_info_get(const wg_experiment *experiment, wg_experiment_info *out);
/* The device it runs on, or NULL before one was opened. */
wg_device *wg_experiment_device(const wg_experiment *experiment);

#endif
