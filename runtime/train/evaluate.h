/* evaluate.c: sample quality and the critic's Lipschitz constant at log steps, FID and
 * KID for images, the training-health verdict at the end (docs/experiments.md). Its
 * state (struct exp_eval) is its own. */
#ifndef WGAN_TRAIN_EVALUATE_H
#define WGAN_TRAIN_EVALUATE_H

#include "experiment.h"
#include "io/fileio.h"

/* Reads the `eval` section (at load, before unused keys are reported). */
wg_status exp_eval_configure(wg_experiment *e);
/* After exp_trace and before any plan (plans point into the graph's nodes): the
 * evaluation's nodes and columns. */
wg_status exp_eval_trace(wg_experiment *e);
/* After exp_steps_open: the evaluation's plans and fixed inputs. */
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

#endif
