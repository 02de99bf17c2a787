/* The training loop's counters (train.c), written by train.c only. */
#ifndef WGAN_TRAIN_TRAIN_H
#define WGAN_TRAIN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "experiment.h"

typedef struct exp_loop {
    int64_t gen_step, critic_step; /* completed; critic_step is also the data index */
    double start_time;             /* of this session's training */
    int64_t start_step;
    wg_progress_mode progress; /* resolved: never AUTO once running */
    bool interrupted;
} exp_loop;

#endif
