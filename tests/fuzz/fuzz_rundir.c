/* The run-folder readers behind `wgan report` (runtime/report/): the input is split at
 * NUL bytes into summary.json, metrics.csv and config.yaml of a run folder, and the
 * compare.csv of a comparison folder listing it; everything a report shows is computed
 * from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_support.h"
#include "report/report.h"

static const char *const files[] = {"run/summary.json", "run/metrics.csv", "run/config.yaml",
                                    "compare.csv"};
enum { N_FILES = sizeof files / sizeof *files };

static void present(const wg_run_info *runs, int n) {
    for (int i = 0; i < n; i++) {
        for (int q = 0; q < WG_Q_COUNT; q++) {
            (void)wg_run_quantity(&runs[i], (wg_quantity)q);
            (void)wg_run_quantity_column(&runs[i], (wg_quantity)q);
        }
        (void)wg_run_failed(&runs[i]);
        (void)wg_run_w_correlation(&runs[i]);
        char method[64];
        FZ_CHECK(wg_run_method(&runs[i], method, sizeof method) != NULL);
    }
    wg_buf out = {0};
    wg_compare_csv(runs, n, &out);
    (void)wg_compare_markdown(runs, n, &out);
    wg_report_options options = {"fuzz", NULL};
    (void)wg_report_html(runs, n, &options, &out);
    wg_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mkdir(fz_path("run"), 0700);
    char *parts[N_FILES];
    int n = fz_split(data, size, parts, N_FILES);
    for (int i = 0; i < N_FILES; i++) {
        if (i < n) {
            fz_write(fz_path(files[i]), parts[i], strlen(parts[i]));
            free(parts[i]);
        } else {
            unlink(fz_path(files[i]));
        }
    }

    wg_run_info run = {0};
    if (wg_run_load(fz_path("run"), &run) == WG_OK) {
        present(&run, 1);
        wg_run_free(&run);
    }
    wg_run_info *runs = NULL;
    int n_runs = 0;
    if (n == N_FILES && wg_compare_load(fz_scratch(), &runs, &n_runs) == WG_OK) {
        present(runs, n_runs);
        for (int i = 0; i < n_runs; i++) wg_run_free(&runs[i]);
        free(runs);
    }
    return 0;
}
