/* An exponential moving average of the generator's weights (ema.c), G-EMA: after
 * every generator step, ema = d ema + (1 - d) w for each trainable generator parameter
 * w (its value after the step), with d = decay from generator step `start` on and 0
 * before (the average then follows the weights). It is updated inside the generator
 * plan, saved in checkpoints as "ema/<parameter>", and swapped in for the parameters
 * while the run's samples and evaluation are drawn. Written by ema.c only. */
#ifndef WGAN_TRAIN_EMA_H
#define WGAN_TRAIN_EMA_H

#include <stdbool.h>

#include "experiment.h"
#include "wgan/optim.h"
#include "wgan/session.h"

typedef struct exp_ema {
    int count;
    wg_node *params;  /* the generator's trainable parameters */
    wg_node *vars;    /* their averages */
    wg_node *updates; /* the averages' assignments, for the generator plan */
    wg_node *assign;  /* averages = parameters, then parameters = averages: 2 count */
    char **names;     /* "ema/<parameter>": the averages' names in checkpoints */
    wg_node decay;    /* [1] input: d of the next generator step */
    wg_plan *copy_plan, *swap_plan;
    bool use; /* samples and evaluation from the averages */
} exp_ema;

/* While tracing the generator step (train.ema on): an average for each of `count`
 * parameters, updated from their values after `generator`'s step. */
wg_status exp_ema_trace(wg_experiment *e, const wg_optimizer *generator, int count,
                        const wg_node *params);
/* After the session exists: the plans that copy the parameters into the averages (at a
 * fresh start) and swap the two (around sampling). */
wg_status exp_ema_plan(wg_experiment *e);
/* Before generator step g (0-based): the decay it applies. */
wg_status exp_ema_set_decay(wg_experiment *e, int64_t g);
void exp_ema_free(wg_experiment *e);

#endif
