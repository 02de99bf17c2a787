/* Experiments written by a test as YAML text and loaded from a scratch folder. */
#ifndef WGAN_TEST_EXPTEXT_H
#define WGAN_TEST_EXPTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "train/experiment.h"

/* Writes `text` to <dir>/exp.yaml and loads it quietly with --out <dir>/<run>, or with
 * `resume` continues the run in <dir>/<run>; stop_after as wg_experiment_options. */
wg_status te_load(const char *dir, const char *run, const char *text, bool resume,
                  int64_t stop_after, wg_experiment **out);

#endif
