/* The run folder (rundir.c): choosing and owning it, its log and its text files. The
 * state is written by rundir.c only. */
#ifndef WGAN_TRAIN_RUNDIR_H
#define WGAN_TRAIN_RUNDIR_H

#include <stdbool.h>
#include <stdio.h>

#include "experiment.h"
#include "io/fileio.h"

#define EXP_RUNS_DIR "runs"

typedef struct exp_rundir {
    char dir[4096];
    char dir_stem[512]; /* without --out: runs/<name>-<time>, before any -n suffix */
    int dir_suffix;     /* the n of dir's "-n" chosen at load (1: none) */
    int lock_fd;        /* the folder's lock, held from claim to free; -1 when none */
    bool resuming;      /* --resume */
    FILE *log;
    wg_buf metrics_csv;    /* the whole file as written so far */
    double seconds_before; /* training time of earlier sessions of this run */
} exp_rundir;

/* Before anything else: no folder, no lock. */
void exp_rundir_init(wg_experiment *e);
/* At load: the folder resumed, --out, or runs/<name>-<local time> with a counter when
 * that exists already (created, under the next free name if this one is taken
 * meanwhile, by exp_rundir_claim); WG_ERR_CONFIG when --out names a folder holding a
 * run, without --resume or --force. */
wg_status exp_rundir_choose(wg_experiment *e);
/* Creates (without --out: under a name no other run has) and locks the run folder for
 * the experiment's lifetime; --force first moves an earlier run there aside. */
wg_status exp_rundir_claim(wg_experiment *e);
/* samples/, config.yaml, the log, and metrics.csv: with `continuing` (a checkpoint was
 * restored), the rows up to the checkpoint are kept. */
wg_status exp_rundir_open(wg_experiment *e, bool continuing);
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
/* A row of the columns' values to metrics.csv. */
wg_status exp_append_metrics(wg_experiment *e);
/* summary.json; `extra` holds more keys, each line "  \"key\": value,\n". */
wg_status exp_write_summary(wg_experiment *e, const char *state, const char *message,
                            const wg_buf *extra);

#endif
