/* wgan report: one self-contained HTML page from run folders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "report/report.h"

static void usage(FILE *out) {
    fprintf(out, "usage: wgan report RUN_DIR... [--out FILE] [--title TEXT] [--baseline NAMES]\n"
                 "\n"
                 "Writes one HTML page (inline CSS, SVG charts and PNG samples; no network, no\n"
                 "scripts) about the runs: a comparison table per data set (cost, the training-\n"
                 "health verdicts, sample quality; medians over seeds), each row against the\n"
                 "baseline paired by seed (median difference, bootstrap 95%% interval, Wilcoxon\n"
                 "signed-rank p), every run's W estimate,\n"
                 "exact W1, losses and critic gradient norms, and its sample pictures.\n"
                 "A RUN_DIR holding a compare.csv (a `wgan compare` folder) stands for its runs.\n"
                 "\n"
                 "options:\n"
                 "  --out FILE    where to write it (default report.html)\n"
                 "  --title TEXT  the page's title\n"
                 "  --baseline NAMES  the experiment the rows are compared with, paired by\n"
                 "                seed (comma-separated, one per data set; default: the one\n"
                 "                compare.csv marks, else each data set's first experiment)\n");
}

/* Appends the runs of one argument: a run folder, or a comparison folder. */
static wg_status add_runs(const char *dir, wg_run_info **runs, int *n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.csv", dir);
    wg_run_info *found = NULL;
    int n_found = 0;
    wg_status s;
    if (wg_file_exists(path)) {
        if ((s = wg_compare_load(dir, &found, &n_found)) != WG_OK) return s;
    } else {
        snprintf(path, sizeof path, "%s/config.yaml", dir);
        char summary[4200];
        snprintf(summary, sizeof summary, "%s/summary.json", dir);
        if (!wg_file_exists(path) && !wg_file_exists(summary))
            return wg_fail(WG_ERR_IO,
                           "%s is not a run folder (no config.yaml or summary.json) "
                           "nor a comparison (no compare.csv)",
                           dir);
        if (!(found = calloc(1, sizeof *found))) return wg_fail(WG_ERR_NOMEM, "out of memory");
        if ((s = wg_run_load(dir, found)) != WG_OK) {
            free(found);
            return s;
        }
        n_found = 1;
    }
    wg_run_info *grown = realloc(*runs, (size_t)(*n + n_found) * sizeof *grown);
    if (!grown) {
        for (int i = 0; i < n_found; i++) wg_run_free(&found[i]);
        free(found);
        return wg_fail(WG_ERR_NOMEM, "out of memory");
    }
    memcpy(grown + *n, found, (size_t)n_found * sizeof *found);
    *runs = grown;
    *n += n_found;
    free(found);
    return WG_OK;
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"out", required_argument, NULL, 'o'},
    {"title", required_argument, NULL, 't'},
    {"baseline", required_argument, NULL, 'b'},
    {0},
};

int wg_cmd_report(int argc, char **argv) {
    const char *out = "report.html", *title = NULL, *baseline = NULL;
    wg_run_info *runs = NULL;
    int n_runs = 0, n_dirs = 0, code = 0;
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; !code && (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        switch (c) {
        case 'h':
            usage(stdout);
            code = -1;
            break;
        case 'o': out = args.arg; break;
        case 't': title = args.arg; break;
        case 'b': baseline = args.arg; break;
        case WG_CLI_ARGUMENT:
            n_dirs++;
            if (add_runs(args.arg, &runs, &n_runs) != WG_OK) {
                fprintf(stderr, "wgan report: %s\n", wg_last_error());
                code = 2;
            }
            break;
        default: code = wg_cli_option_error("report", c, args.arg);
        }
    }
    if (!code && !n_dirs) {
        usage(stderr);
        code = 2;
    }
    if (!code && baseline && wg_mark_baseline(runs, n_runs, baseline) != WG_OK) {
        fprintf(stderr, "wgan report: %s\n", wg_last_error());
        code = 2;
    }
    if (!code) {
        wg_buf html = {0};
        wg_report_options options = {title, NULL};
        wg_status s = wg_report_html(runs, n_runs, &options, &html);
        if (s == WG_OK) s = wg_write_file_atomic(out, html.data, html.len);
        wg_buf_free(&html);
        if (s != WG_OK) {
            fprintf(stderr, "wgan report: %s\n", wg_last_error());
            code = 1;
        } else {
            fprintf(stderr, "wgan report: %d run%s -> %s\n", n_runs, n_runs == 1 ? "" : "s", out);
        }
    }
    for (int i = 0; i < n_runs; i++) wg_run_free(&runs[i]);
    free(runs);
    return code < 0 ? 0 : code;
}
