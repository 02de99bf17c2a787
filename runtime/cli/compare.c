/* wgan compare: train a matrix of experiments x devices x seeds, then tabulate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dist/dist.h"
#include "cli_args.h"
#include "sweep/sweep.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: wgan compare SWEEP.yaml [--out DIR] [--only TEXT]... [--devices LIST]\n"
            "                    [--seeds LIST] [--set KEY=VALUE]... [--baseline NAMES]\n"
            "                    [--progress MODE]\n"
            "\n"
            "Trains every experiment of the sweep file on every device with every seed, one\n"
            "run after another, each in its own run folder DIR/<experiment>-<device>-s<seed>,\n"
            "then writes DIR/compare.csv (one row per run), DIR/compare.md (the comparison\n"
            "table and each row against the baseline paired by seed, also printed) and\n"
            "DIR/report.html. A failed run is recorded and the\n"
            "sweep goes on. Run again with the same --out to finish an\n"
            "interrupted comparison: completed runs are kept, unfinished ones continue.\n"
            "\n"
            "The sweep file (docs/results.md, \"wgan compare\"):\n"
            "  name: compare-lipschitz\n"
            "  experiments: [experiments/wgan-gp-8gaussians.yaml, ...]\n"
            "  devices: [cpu, pocl]     # or [all]: every device present\n"
            "  seeds: [1, 2]\n"
            "  set: {train.steps: 500}  # applied to every run\n"
            "  baseline: wgan-clip      # what the paired statistics compare with\n"
            "\n"
            "options:\n"
            "  --out DIR        the comparison folder (default runs/<name>-<date>-<time>)\n"
            "  --only TEXT      only the experiments whose name contains TEXT (repeatable)\n"
            "  --devices LIST   replaces the file's devices, e.g. cpu,pocl or all\n"
            "  --seeds LIST     replaces the file's seeds, e.g. 1,2,3\n"
            "  --set KEY=VALUE  override a key of every experiment (after the sweep's set:)\n"
            "  --baseline NAMES the experiment every row is compared with, paired by seed\n"
            "                   (comma-separated: one per data set; replaces baseline:;\n"
            "                   default: each data set's first experiment)\n"
            "  --progress MODE  each run's own output: quiet (default), lines or bar\n"
            "  --quiet          not even a line per run\n"
            "\n"
            "Exit status: 0 every run completed, 1 a run failed (the reports are still\n"
            "written), 2 bad usage or configuration (nothing was trained), 130 interrupted.\n");
}

/* The command line as one string, for the report. */
static char *command_line(int argc, char **argv) {
    wg_buf b = {0};
    wg_buf_puts(&b, "wgan");
    for (int i = 0; i < argc; i++) wg_buf_printf(&b, " %s", argv[i]);
    return b.failed ? NULL : b.data;
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},           {"set", required_argument, NULL, 's'},
    {"devices", required_argument, NULL, 'd'},  {"seeds", required_argument, NULL, 'e'},
    {"only", required_argument, NULL, 'n'},     {"out", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},          {"progress", required_argument, NULL, 'p'},
    {"baseline", required_argument, NULL, 'b'}, {0},
};

int wg_cmd_compare(int argc, char **argv) {
    const char *sweep_path = NULL, *out_dir = NULL, *devices = NULL, *seeds = NULL;
    const char *baseline = NULL;
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    const char **only = calloc((size_t)argc + 1, sizeof *only);
    int n_overrides = 0, n_only = 0, code = 0;
    wg_sweep_options options = {.progress = WG_PROGRESS_QUIET};
    if (!overrides || !only) {
        free(overrides);
        free(only);
        return 1;
    }
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; !code && (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        switch (c) {
        case 'h':
            usage(stdout);
            free(overrides);
            free(only);
            return 0;
        case 's': overrides[n_overrides++] = args.arg; break;
        case 'd': devices = args.arg; break;
        case 'e': seeds = args.arg; break;
        case 'n': only[n_only++] = args.arg; break;
        case 'o': out_dir = args.arg; break;
        case 'b': baseline = args.arg; break;
        case 'q': options.quiet = true; break;
        case 'p':
            if (!wg_cli_progress_mode(args.arg, &options.progress))
                code = wg_cli_usage_error(
                    "compare", "--progress takes bar, lines or quiet, not '%s'", args.arg);
            break;
        case WG_CLI_ARGUMENT:
            if (!sweep_path)
                sweep_path = args.arg;
            else
                code = wg_cli_usage_error(
                    "compare", "one sweep file at a time ('%s' is one too many)", args.arg);
            break;
        default: code = wg_cli_option_error("compare", c, args.arg);
        }
    }
    if (!code && !sweep_path) {
        usage(stderr);
        code = 2;
    }
    if (code) {
        free(overrides);
        free(only);
        return code;
    }

    wg_sweep *sweep = NULL;
    wg_status s = wg_sweep_load(sweep_path, overrides, n_overrides, &sweep);
    if (s == WG_OK) s = wg_sweep_select(sweep, only, n_only);
    if (s == WG_OK && devices) s = wg_sweep_set_devices(sweep, devices);
    if (s == WG_OK && seeds) s = wg_sweep_set_seeds(sweep, seeds);
    if (s == WG_OK && baseline) s = wg_sweep_set_baseline(sweep, baseline);
    free(overrides);
    free(only);
    if (s != WG_OK) {
        /* every rank reads the same files: one message, from rank 0 */
        if (wg_dist_rank() == 0 || s != WG_ERR_CONFIG) fprintf(stderr, "%s\n", wg_last_error());
        wg_sweep_free(sweep);
        return s == WG_ERR_CONFIG ? 2 : 1;
    }
    char dir[4200];
    if (out_dir) {
        snprintf(dir, sizeof dir, "%s", out_dir);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(dir, sizeof dir, "runs/%s-%s", sweep->name, stamp);
        /* the ranks' clocks may be a second apart: rank 0's name for all */
        wg_buf name = {0};
        wg_buf_puts(&name, dir);
        if (wg_dist_broadcast(&name) == WG_OK && name.data)
            snprintf(dir, sizeof dir, "%s", name.data);
        wg_buf_free(&name);
    }
    char *command = command_line(argc, argv);
    options.out_dir = dir;
    options.command = command;
    int n_failed = 0;
    bool interrupted = false;
    s = wg_sweep_execute(sweep, &options, &n_failed, &interrupted);
    free(command);
    wg_sweep_free(sweep);
    if (s != WG_OK) {
        if (s == WG_ERR_CONFIG)
            fprintf(stderr, "%s\n", wg_last_error());
        else if (wg_dist_size() > 1)
            fprintf(stderr, "wgan compare: rank %d: %s\n", wg_dist_rank(), wg_last_error());
        else
            fprintf(stderr, "wgan compare: %s\n", wg_last_error());
        return s == WG_ERR_CONFIG ? 2 : 1;
    }
    if (wg_dist_rank() != 0) return interrupted ? 130 : 0; /* rank 0 reports */
    if (!options.quiet || n_failed)
        fprintf(stderr, "wgan compare: %s%d failed; %s/compare.csv, compare.md, report.html\n",
                interrupted ? "interrupted; " : "", n_failed, dir);
    return interrupted ? 130 : n_failed ? 1 : 0;
}
