/* Pieces of the reports shared between their files: escaping, line charts, and the
 * rows of the comparison tables. */
#ifndef WGAN_REPORT_INTERNAL_H
#define WGAN_REPORT_INTERNAL_H

#include "report.h"

/* `text` with &, <, >, " and ' escaped, for element content and attribute values. */
void rep_escape(wg_buf *out, const char *text);
/* Standard base64 of `size` bytes. */
void rep_base64(wg_buf *out, const unsigned char *data, size_t size);

typedef enum rep_dash { REP_SOLID, REP_DASHED, REP_DOTTED } rep_dash;

typedef struct rep_series {
    const char *label;
    const double *x, *y; /* n points; a non-finite y breaks the line */
    int64_t n;
    const char *color; /* "#rrggbb" */
    rep_dash dash;
    double width; /* stroke width; 0: 1.6 */
} rep_series;

typedef struct rep_chart {
    const char *title, *x_label, *y_label;
    int width, height; /* 0: 372 x 240, three to a row of the page */
    const rep_series *series;
    int n_series;
    double reference_y; /* a grey dashed horizontal line, NaN for none */
    const char *reference_label;
} rep_chart;

/* One <svg> element: axes with ticks and labels, a legend, the series as paths. A
 * chart with no finite point says so instead of drawing axes. */
void rep_line_chart(wg_buf *out, const rep_chart *chart);

/* ---- the comparison's rows (summary.c) ---- */

/* The seed comparison's qualitative claims about a method. */
typedef struct rep_claim {
    const char *cost, *stability, *quality;
} rep_claim;

/* clip, GP, SN, JS baseline first, in that order; the others after. */
int rep_method_rank(const char *method);
/* One colour per method, the same in every chart and table. */
const char *rep_method_color(const char *method);
/* NULL for a method the seed table does not rate. */
const rep_claim *rep_method_claim(const char *method);
/* A short device name: the spec asked for, else one derived from the description. */
const char *rep_device_label(const wg_run_info *run, char *buf, size_t size);
bool rep_completed(const wg_run_info *run);
/* wg_run_failed. */
bool rep_failed(const wg_run_info *run);
/* The median of the finite values among v[0..n) (sorted in place), their smallest and
 * largest and how many there were; NaN when none. */
double rep_median(double *v, int n, double *lo, double *hi, int *count);

/* A number in 3 significant digits (no exponent between 1e-3 and 1e5), "—" when not
 * finite; bytes as MiB or GiB. */
void rep_number(wg_buf *out, double v);
void rep_bytes(wg_buf *out, double v);

/* A row: the runs of one experiment on one device, whatever their seeds. */
typedef struct rep_group {
    char data[128], name[256], method[128], device[128];
    int *runs; /* indices into the runs array */
    int n;
} rep_group;

/* Rows sorted by data set, then method (rep_method_rank), experiment and device. */
typedef struct rep_grouping {
    rep_group *groups;
    int n;
} rep_grouping;

wg_status rep_make_groups(const wg_run_info *runs, int n_runs, rep_grouping *grouping);
void rep_free_groups(rep_grouping *grouping);

/* Columns: a wg_quantity, or this, Spearman's correlation between the W estimate and
 * the exact W1 over a run's logged rows (wg_run_w_correlation). */
#define REP_Q_CORRELATION ((int)WG_Q_COUNT)
enum { REP_N_QUALITY = 6, REP_N_CRITIC = 3 };
extern const int rep_quality_columns[REP_N_QUALITY]; /* W1, its floor, modes, ..., KID */
extern const int rep_critic_columns[REP_N_CRITIC];   /* final W estimate, correlation, ... */
double rep_value(const wg_run_info *run, int q);
const char *rep_label(int q);
/* Whether any run of rows [first, end) has a value in column q. */
bool rep_any(const wg_run_info *runs, const rep_grouping *grouping, int first, int end, int q);
/* The median of column q over a row's runs (only completed ones, when asked). */
double rep_group_median(const wg_run_info *runs, const rep_group *group, int q, bool only_completed,
                        double *scratch, double *lo, double *hi, int *count);

/* The health checks: titles, and the number behind each verdict (a JSON key of
 * wg_health_value) with a short name for it. */
extern const char *const rep_check_titles[WG_HEALTH_COUNT];
extern const char *const rep_check_values[WG_HEALTH_COUNT];
extern const char *const rep_check_value_names[WG_HEALTH_COUNT];

typedef struct rep_verdicts {
    int pass, fail, skipped, judged;
    double value; /* the median deciding number over the judged runs */
} rep_verdicts;

/* One check over a row's runs. `scratch` has room for the row's runs. */
rep_verdicts rep_group_verdicts(const wg_run_info *runs, const rep_group *group, int check,
                                double *scratch);
/* The mark of a judged row: "✓" every run passed, "✗" every run failed, else "◐". */
const char *rep_verdicts_mark(const rep_verdicts *v);

/* ---- paired-seed statistics (paired.c) ---- */

/* The quality columns compared pairwise: W1, modes, high-quality share, FID, KID (not
 * the W1 floor, which measures the data rather than the method). */
enum { REP_N_PAIRED = 5 };
extern const int rep_paired_columns[REP_N_PAIRED];

typedef struct rep_paired_row {
    int group;    /* the row (an index into the grouping) */
    int baseline; /* the baseline's row on the same device, -1 when it has none */
    int pairs;    /* the most pairs of any column */
    wg_paired_stat stats[REP_N_PAIRED];
} rep_paired_row;

/* The paired statistics of one data set's rows [first, end) against its baseline. */
typedef struct rep_paired {
    char baseline[256];         /* the baseline experiment; "" when there are no rows */
    bool columns[REP_N_PAIRED]; /* the columns with at least one pair */
    rep_paired_row *rows;       /* every row but the baseline's */
    int n;
} rep_paired;

wg_status rep_paired_make(const wg_run_info *runs, const rep_grouping *grouping, int first, int end,
                          rep_paired *out);
void rep_paired_free(rep_paired *paired);
/* "+0.0123" marks[0] "[0.01, 0.02]" marks[1] "p = 0.0625" marks[2] (shares in
 * percentage points), a dash without pairs. */
void rep_paired_cell(wg_buf *out, const wg_paired_stat *stat, int q, const char *const marks[3]);

#endif
