/* What a running experiment shows on stderr (progress.c), and its training time. */
#ifndef WGAN_TRAIN_PROGRESS_H
#define WGAN_TRAIN_PROGRESS_H

#include <stdbool.h>

#include "experiment.h"

void exp_progress(wg_experiment *e, bool logged);
void exp_progress_done(wg_experiment *e);
/* Training seconds of this run, earlier sessions included. */
double exp_seconds(const wg_experiment *e);

#endif
