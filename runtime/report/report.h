/* Reading run folders back and presenting them: CSV tables (metrics.csv, compare.csv),
 * a small JSON reader (summary.json), a run folder as one record, the HTML report with
 * inline SVG charts, and sweep files for `wgan compare`. Columns and summary keys are
 * looked up by name, so a run folder written by an older or newer runtime still reads:
 * whatever is missing shows as a dash. */
#ifndef WGAN_REPORT_H
#define WGAN_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "train/experiment.h"
#include "io/fileio.h"
#include "wgan/config.h"
#include "wgan/metrics.h"
#include "wgan/status.h"

/* ---- CSV ---- */

/* A CSV file as text cells: a header row and data rows (RFC 4180 quoting). */
typedef struct wg_table {
    int n_cols;
    int64_t n_rows;
    char **header; /* n_cols names */
    char **cells;  /* n_rows * n_cols; NULL where a short row had no field */
} wg_table;

/* Parses `text`; `name` stands for the file in messages. A file without a header row
 * is an empty table. WG_ERR_INVALID for an unterminated quote. */
wg_status wg_table_parse(const char *name, const char *text, wg_table *out);
/* Reads and parses a file (WG_ERR_IO when it cannot be read). */
wg_status wg_table_read(const char *path, wg_table *out);
void wg_table_free(wg_table *table);
/* The index of the column called `name`, or -1. */
int wg_table_column(const wg_table *table, const char *name);
/* The cell's text, or "" when the row has no such field (col -1 included). */
const char *wg_table_cell(const wg_table *table, int64_t row, int col);
/* The cell as a number; NaN when empty, absent or not a number ("nan" and "inf" are
 * read as such). */
double wg_table_number(const wg_table *table, int64_t row, int col);
/* Appends a CSV field, quoted when it holds a comma, a quote or a line break. */
void wg_buf_csv_field(wg_buf *buf, const char *text);

/* ---- JSON ---- */

/* A JSON value (jansson's json_t); documents come from wg_json_parse. */
typedef struct json_t wg_json;

/* Parses one JSON value (RFC 8259, with jansson). Errors are WG_ERR_INVALID with
 * `name:line:col: message`, the position being where jansson stopped reading. */
wg_status wg_json_parse(const char *name, const char *text, wg_json **out);
void wg_json_free(wg_json *value);
/* Member `key` of an object, or NULL. */
const wg_json *wg_json_member(const wg_json *object, const char *key);
/* A member found by a dotted path ("versions.wgan"), or NULL. */
const wg_json *wg_json_path(const wg_json *root, const char *path);
/* The shallowest member called `key` anywhere below `root` (breadth first, objects
 * only), or NULL: for keys whose nesting a reader should not depend on. */
const wg_json *wg_json_find(const wg_json *root, const char *key);
/* The number of the shallowest numeric member called `key` below `root` (breadth
 * first), or NaN. */
double wg_json_find_number(const wg_json *root, const char *key);
/* A number (true/false read as 1/0), or NaN for anything else or NULL. */
double wg_json_number(const wg_json *value);
/* A string, or NULL. */
const char *wg_json_string(const wg_json *value);
/* The number of items of an array, or -1 for anything else or NULL. */
int wg_json_length(const wg_json *value);
/* Item i of an array, or NULL. */
const wg_json *wg_json_item(const wg_json *array, int i);

/* ---- a run folder ---- */

/* Quantities the report shows, each looked up under a few names because the runtime's
 * evaluation columns may be called differently from one version to the next. */
typedef enum wg_quantity {
    WG_Q_W_ESTIMATE = 0, /* the critic's estimate of W, last logged value */
    WG_Q_W1,             /* exact W1 between generated and real samples */
    WG_Q_W1_FLOOR,       /* W1 between two real samples of the same size */
    WG_Q_MODES,          /* modes covered */
    WG_Q_N_MODES,        /* modes of the mixture */
    WG_Q_HIGH_QUALITY,   /* share of samples near a mode */
    WG_Q_FID,
    WG_Q_KID,
    WG_Q_LIPSCHITZ, /* the largest difference quotient of the critic: a lower
                       bound on its Lipschitz constant */
    WG_Q_COUNT
} wg_quantity;

/* The column and key names tried for a quantity, most specific first (NULL-ended). */
const char *const *wg_quantity_names(wg_quantity q);
/* A short label for tables and legends ("exact W1"). */
const char *wg_quantity_label(wg_quantity q);

typedef struct wg_run_info {
    char *dir;   /* as given */
    char *id;    /* the folder's last path component */
    char *name;  /* the experiment's name (summary.json, else config.yaml, else id) */
    char *state; /* completed, diverged, failed, interrupted, not started, ... */
    char *message;
    char *data, *arch, *loss, *lipschitz; /* plugin names, "" when unknown */
    char *device;                         /* the device's description, "" when unknown */
    char *device_spec;                    /* as asked for (compare), else config's */
    int64_t seed;                         /* -1 when unknown */
    int64_t steps, steps_planned;         /* -1 when unknown */
    double ms_per_step;                   /* NaN when unknown */
    double memory_bytes;                  /* device arenas + persistent; NaN when unknown */
    double peak_rss_bytes;                /* NaN when unknown */
    wg_table metrics;                     /* metrics.csv, 0 rows when missing */
    wg_json *summary;                     /* summary.json or NULL */
    bool have_health;
    wg_health_report health; /* from metrics.csv through wg_metric_health */
    int n_samples;
    char **samples;    /* samples/step_*.png, in step order */
    char *real_sample; /* samples/real.png or NULL */
    bool baseline;     /* a run of the paired statistics' baseline (compare.csv) */
} wg_run_info;

/* Reads what there is of a run folder: summary.json, metrics.csv, config.yaml and the
 * sample pictures. Missing or unreadable files leave their fields unknown (a run that
 * never started reads as such); only running out of memory is an error. */
wg_status wg_run_load(const char *dir, wg_run_info *run);
void wg_run_free(wg_run_info *run);
/* A quantity's final value: summary.json first (any nesting), else the last finite
 * value of its metrics.csv column; NaN when neither has it. */
double wg_run_quantity(const wg_run_info *run, wg_quantity q);
/* The metrics.csv column holding a quantity, or -1. */
int wg_run_quantity_column(const wg_run_info *run, wg_quantity q);
/* Whether the run ended badly: diverged, failed, or its process crashed (not a run
 * that was interrupted, never started or is still going). */
bool wg_run_failed(const wg_run_info *run);
/* Spearman's rank correlation between the critic's W estimate and the exact W1 over
 * the logged rows where both are finite: does the curve one watches follow the
 * distance? NaN with fewer than 5 such rows or without a W1 column. */
double wg_run_w_correlation(const wg_run_info *run);
/* "clip", "GP", "SN", "JS baseline", ...: the method of a run for tables and legends. */
const char *wg_run_method(const wg_run_info *run, char *buf, size_t size);

/* ---- compare.csv ---- */

/* Appends compare.csv for `runs` (header included): one row per run. */
void wg_compare_csv(const wg_run_info *runs, int n_runs, wg_buf *out);
/* Reads DIR/compare.csv and the run folders it lists (paths relative to DIR), with
 * the measurements only compare.csv has (memory, peak RSS, failure messages).
 * *runs is a new array of *n_runs records (free each with wg_run_free, then free()). */
wg_status wg_compare_load(const char *dir, wg_run_info **runs, int *n_runs);

/* The comparison table (medians over seeds per method and device, one table per data
 * set) in Markdown. */
wg_status wg_compare_markdown(const wg_run_info *runs, int n_runs, wg_buf *out);

/* ---- paired-seed statistics (paired.c) ---- */

/* Bootstrap resamples behind every interval, drawn from a fixed Philox stream
 * ("report/bootstrap", seed 0), so the same differences always give the same interval. */
#define WG_BOOTSTRAP_RESAMPLES 10000
/* Up to this many non-zero differences the Wilcoxon p-value is exact; above it, the
 * normal approximation. */
#define WG_WILCOXON_EXACT_MAX 50

/* Statistics of the differences d[0..n) of paired runs (method - baseline). */
typedef struct wg_paired_stat {
    int n;         /* pairs */
    int n_nonzero; /* differences that are not 0: the Wilcoxon test's n */
    double median; /* the median difference */
    double lo, hi; /* bootstrap 95% percentile interval of the median */
    double w_plus; /* the sum of the (mid)ranks of the positive differences */
    double p;      /* two-sided Wilcoxon signed-rank p-value; 1 when every d is 0 */
    bool exact;    /* p from the exact distribution, not the normal approximation */
} wg_paired_stat;

/* The two-sided Wilcoxon signed-rank p-value of d[0..n) (finite values). Zeros are
 * dropped (Wilcoxon's method); tied |d| get their average rank. With at most
 * WG_WILCOXON_EXACT_MAX non-zero differences the p-value comes from the exact
 * distribution of W+ over the 2^n sign assignments of those ranks (ties included);
 * above, from the normal approximation with the tie-corrected variance and a
 * continuity correction of 1/2. *w_plus and *exact may be NULL. */
double wg_wilcoxon_p(const double *d, int n, double *w_plus, bool *exact);
/* The 2.5% and 97.5% percentiles of the medians of WG_BOOTSTRAP_RESAMPLES resamples
 * (with replacement, n values each) of d[0..n); NaN for n == 0. */
void wg_bootstrap_median(const double *d, int n, double *lo, double *hi);
/* Everything above for d[0..n); NaN medians and p for n == 0. */
wg_paired_stat wg_paired_stats(const double *d, int n);

/* Marks the runs of the experiments named in `names` (comma-separated) as the
 * baseline, unmarking the others; WG_ERR_CONFIG naming a name no run has. In each
 * data set the paired statistics compare every row with the baseline experiment's run
 * of the same seed on the same device: the first marked experiment of that data set,
 * or, when none is marked, the experiment of its first run. */
wg_status wg_mark_baseline(wg_run_info *runs, int n_runs, const char *names);

/* ---- the HTML report ---- */

typedef struct wg_report_options {
    const char *title;   /* NULL: "wgan report" */
    const char *command; /* the command that made it, shown verbatim; may be NULL */
} wg_report_options;

/* A self-contained page: inline CSS, inline SVG charts, PNG samples as data: URIs,
 * no scripts. */
wg_status wg_report_html(const wg_run_info *runs, int n_runs, const wg_report_options *options,
                         wg_buf *out);

#endif
