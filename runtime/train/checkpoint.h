/* checkpoint.safetensors (checkpoint.c): the run's variables and counters. */
#ifndef WGAN_TRAIN_CHECKPOINT_H
#define WGAN_TRAIN_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "experiment.h"

wg_status exp_checkpoint_save(wg_experiment *e);
/* Restores the variables and gives the counters the checkpoint holds; *found false
 * (and nothing changed) when the folder has no checkpoint. */
wg_status exp_checkpoint_restore(wg_experiment *e, bool *found, int64_t *gen_step,
                                 int64_t *critic_step);
/* The same from the checkpoint file `path` (wgan sample --checkpoint). */
wg_status exp_checkpoint_restore_file(wg_experiment *e, const char *path, int64_t *gen_step,
                                      int64_t *critic_step);

#endif
