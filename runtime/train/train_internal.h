/* The experiment: its configuration and one part per file of this folder, each part
 * written only by the file that owns it (docs/architecture.md, runtime/train). */
#ifndef WGAN_TRAIN_INTERNAL_H
#define WGAN_TRAIN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "ema.h"
#include "evaluate.h"
#include "experiment.h"
#include "pictures.h"
#include "plugin_calls.h"
#include "plugins.h"
#include "progress.h"
#include "rundir.h"
#include "schedule.h"
#include "shard.h"
#include "steps.h"
#include "train.h"
#include "wgan/config.h"
#include "wgan/optim.h"

/* What the experiment file (with overrides) and the options say; filled by
 * experiment.c at load, read by everyone after. */
typedef struct exp_config {
    wg_experiment_options options;
    wg_cfg *config;
    char *config_source; /* the file read */
    char name[128];
    uint64_t seed;
    const char *device_spec;
    int64_t batch, steps, log_every, sample_every, checkpoint_every, n_samples;
    int n_critic;
    bool warmup;
    wg_optim_config optim[2]; /* critic, generator */
    exp_schedule schedule[2]; /* their learning rates over the run */
    bool ema;                 /* train.ema: an average of the generator's weights */
    double ema_decay;
    int64_t ema_start;
} exp_config;

struct wg_experiment {
    exp_config cfg;        /* experiment.c */
    exp_plugins plugins;   /* plugins.c */
    exp_hooks hooks;       /* plugin_calls.c */
    exp_rundir run;        /* rundir.c */
    exp_steps steps;       /* steps.c */
    exp_ema ema;           /* ema.c */
    exp_loop loop;         /* train.c */
    exp_shard shard;       /* shard.c: data-parallel training over ranks */
    struct exp_eval *eval; /* evaluate.c: what is measured at log steps and at the end */
};

#endif
