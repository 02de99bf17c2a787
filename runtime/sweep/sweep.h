/* Sweeps (wgan compare): a matrix of experiments x devices x seeds read from a sweep
 * file, run one run at a time in child processes, then reported with report/. */
#ifndef WGAN_SWEEP_H
#define WGAN_SWEEP_H

#include <stdbool.h>

#include "report/report.h"

typedef struct wg_sweep_experiment {
    char *label; /* names the run folders: <label>-<device>-s<seed> */
    char *path;  /* the experiment file */
    int n_overrides;
    char **overrides; /* the item's own `set:`, as "key=value" */
} wg_sweep_experiment;

typedef struct wg_sweep {
    wg_cfg *root;
    char *path;
    char *name;
    const wg_cfg *inline_base; /* `base:` written inline; experiments with path "" use it */
    int n_experiments;
    wg_sweep_experiment *experiments;
    int n_devices;
    char **devices; /* specs; "all" means every device present */
    const wg_cfg **device_nodes;
    int n_seeds; /* 0: each experiment's own seed */
    int64_t *seeds;
    int n_overrides; /* the sweep's `set:` then the command line's --set */
    char **overrides;
    const wg_cfg **override_nodes; /* where each came from (NULL: command line) */
    char *baseline; /* experiment names for the paired statistics, comma-separated; NULL:
                       in each data set its first experiment */
} wg_sweep;

/* Reads a sweep file (docs/experiments.md, "Comparing"): every error is WG_ERR_CONFIG
 * with `file:line:col:`. `cli_overrides` are appended to every run's overrides. */
wg_status wg_sweep_load(const char *path, const char *const *cli_overrides, int n_cli,
                        wg_sweep **out);
void wg_sweep_free(wg_sweep *sweep);

/* Keeps the experiments whose label contains one of the `n` substrings (all of them
 * when n == 0). WG_ERR_CONFIG when none is left. */
wg_status wg_sweep_select(wg_sweep *sweep, const char *const *substrings, int n);

/* Replaces the sweep's `baseline:` with a comma-separated list of experiment names
 * from the command line; WG_ERR_CONFIG for a name that is not one of the sweep's
 * experiments (after wg_sweep_select). */
wg_status wg_sweep_set_baseline(wg_sweep *sweep, const char *list);

/* Replace the sweep's devices or seeds with a comma-separated list from the command
 * line ("cpu,pocl", "1,2,3"). WG_ERR_CONFIG naming the option for a bad list. */
wg_status wg_sweep_set_devices(wg_sweep *sweep, const char *list);
wg_status wg_sweep_set_seeds(wg_sweep *sweep, const char *list);

/* Turns an error message about one of the sweep's overrides ("--set k=v: ...") into
 * one at the position of its `set:` entry in the sweep file; other messages are
 * copied. */
void wg_sweep_locate_error(const wg_sweep *sweep, const char *message, char *out, size_t size);

typedef struct wg_sweep_options {
    const char *out_dir;       /* the comparison folder */
    wg_progress_mode progress; /* for each run's own output; QUIET by default */
    bool quiet;                /* no per-run lines on stderr */
    const char *command;       /* shown in the report */
} wg_sweep_options;

/* Runs the whole matrix, one run at a time, each in a child process (a crash or a
 * failure is recorded and the sweep goes on), then writes compare.csv (the baseline's
 * runs marked), compare.md (wg_compare_markdown) and report.html into out_dir. The devices and
 * every run's configuration are checked first, in a child too: a WG_ERR_CONFIG there (with its
 * position in the sweep or experiment file) comes back before anything is trained. A run folder
 * that an earlier, interrupted comparison left in out_dir is kept when it finished (completed,
 * diverged or failed) and continued from its checkpoint otherwise. SIGINT and SIGTERM are passed to
 * the running run, which stops after its step with a checkpoint; no further run starts and
 * *interrupted is set. *n_failed counts diverged, failed and crashed runs; the return value is
 * about the sweep itself (configuration, the reports), not about its runs. */
wg_status wg_sweep_execute(const wg_sweep *sweep, const wg_sweep_options *options, int *n_failed,
                           bool *interrupted);

#endif
