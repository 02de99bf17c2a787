/* Paired-seed statistics: each row of a comparison against the baseline experiment's
 * run of the same seed on the same device, per quality column: the median difference,
 * a bootstrap interval for it and the Wilcoxon signed-rank test. Seeds are the natural
 * pairs (same initial weights' key, same data order), so a method's effect is read off
 * differences instead of two spreads that overlap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"
#include "wgan/philox.h"

#define BOOTSTRAP_KEY "report/bootstrap"

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sorted_median(const double *v, int n) {
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- Wilcoxon signed-rank ---- */

typedef struct signed_abs {
    double abs;
    bool positive;
} signed_abs;

static int compare_abs(const void *a, const void *b) {
    double x = ((const signed_abs *)a)->abs, y = ((const signed_abs *)b)->abs;
    return (x > y) - (x < y);
}

/* Exact: the number of sign assignments giving each sum of doubled ranks (integers,
 * as midranks are multiples of 1/2), by dynamic programming over the ranks. */
static double exact_p(const int *rank2, int n, int w2) {
    int total = 0;
    for (int i = 0; i < n; i++) total += rank2[i];
    double *count = calloc((size_t)total + 1, sizeof *count);
    if (!count) return NAN;
    count[0] = 1;
    int reach = 0;
    for (int i = 0; i < n; i++) {
        for (int s = reach; s >= 0; s--)
            if (count[s] != 0) count[s + rank2[i]] += count[s];
        reach += rank2[i];
    }
    double below = 0, above = 0, all = ldexp(1.0, n); /* counts below 2^53: exact */
    for (int s = 0; s <= total; s++) {
        if (s <= w2) below += count[s];
        if (s >= w2) above += count[s];
    }
    free(count);
    double p = 2 * fmin(below, above) / all;
    return p < 1 ? p : 1;
}

/* Normal approximation: mean n(n+1)/4, variance n(n+1)(2n+1)/24 less sum(t^3 - t)/48
 * over groups of t tied ranks, a continuity correction of 1/2. */
static double normal_p(const signed_abs *v, int n, double w_plus) {
    double var = n * (n + 1.0) * (2.0 * n + 1) / 24;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].abs == v[i].abs) j++;
        double t = j - i;
        var -= (t * t * t - t) / 48;
        i = j;
    }
    if (!(var > 0)) return 1;
    double diff = w_plus - n * (n + 1.0) / 4;
    double z = (fabs(diff) - 0.5) / sqrt(var);
    if (z < 0) z = 0;
    return fmin(1, erfc(z / sqrt(2.0)));
}

double wg_wilcoxon_p(const double *d, int n, double *w_plus_out, bool *exact_out) {
    signed_abs *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    int *rank2 = malloc((size_t)(n ? n : 1) * sizeof *rank2);
    double p = NAN, w_plus = 0;
    bool exact = true;
    if (!v || !rank2) goto done;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (d[i] != 0) v[m++] = (signed_abs){fabs(d[i]), d[i] > 0};
    qsort(v, (size_t)m, sizeof *v, compare_abs);
    /* ranks 1..m, ties sharing their average: doubled, i + j + 1 for positions i..j-1 */
    int w2 = 0;
    for (int i = 0; i < m;) {
        int j = i;
        while (j < m && v[j].abs == v[i].abs) j++;
        for (int k = i; k < j; k++) {
            rank2[k] = i + j + 1;
            if (v[k].positive) w2 += rank2[k];
        }
        i = j;
    }
    w_plus = 0.5 * w2;
    if (m == 0)
        p = 1; /* every difference is 0: no evidence either way */
    else if (m <= WG_WILCOXON_EXACT_MAX)
        p = exact_p(rank2, m, w2);
    else {
        exact = false;
        p = normal_p(v, m, w_plus);
    }
done:
    free(v);
    free(rank2);
    if (w_plus_out) *w_plus_out = w_plus;
    if (exact_out) *exact_out = exact;
    return p;
}

/* ---- bootstrap ---- */

/* The q-quantile of sorted v[0..n) by linear interpolation between order statistics
 * (type 7 of Hyndman and Fan, numpy's default). */
static double quantile(const double *v, int n, double q) {
    double at = q * (n - 1);
    int i = (int)floor(at);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (at - i) * (v[i + 1] - v[i]);
}

void wg_bootstrap_median(const double *d, int n, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (n <= 0) return;
    double *medians = malloc(WG_BOOTSTRAP_RESAMPLES * sizeof *medians);
    double *sample = malloc((size_t)n * sizeof *sample);
    if (medians && sample) {
        uint64_t stream = wg_philox_stream(BOOTSTRAP_KEY);
        for (int b = 0; b < WG_BOOTSTRAP_RESAMPLES; b++) {
            for (int j = 0; j < n; j++) {
                wg_philox_block r =
                    wg_philox_element((uint64_t)b * (uint64_t)n + (uint64_t)j, stream, 0, 0);
                int pick = (int)(wg_philox_unit(r.x[0]) * (float)n);
                sample[j] = d[pick < n ? pick : n - 1];
            }
            qsort(sample, (size_t)n, sizeof *sample, compare_doubles);
            medians[b] = sorted_median(sample, n);
        }
        qsort(medians, WG_BOOTSTRAP_RESAMPLES, sizeof *medians, compare_doubles);
        *lo = quantile(medians, WG_BOOTSTRAP_RESAMPLES, 0.025);
        *hi = quantile(medians, WG_BOOTSTRAP_RESAMPLES, 0.975);
    }
    free(medians);
    free(sample);
}

wg_paired_stat wg_paired_stats(const double *d, int n) {
    wg_paired_stat st = {.n = n, .median = NAN, .lo = NAN, .hi = NAN, .p = NAN};
    if (n <= 0) return st;
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return st;
    memcpy(sorted, d, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_doubles);
    st.median = sorted_median(sorted, n);
    free(sorted);
    for (int i = 0; i < n; i++) st.n_nonzero += d[i] != 0;
    wg_bootstrap_median(d, n, &st.lo, &st.hi);
    st.p = wg_wilcoxon_p(d, n, &st.w_plus, &st.exact);
    return st;
}

/* ---- the baseline ---- */

/* Whether `name` is one of the comma-separated `names`. */
static bool listed(const char *names, const char *name) {
    size_t len = strlen(name);
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, len)) return true;
        p += n;
        if (*p) p++;
    }
    return false;
}

wg_status wg_mark_baseline(wg_run_info *runs, int n_runs, const char *names) {
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (int i = 0; i < n_runs && !found; i++)
            found = strlen(runs[i].name) == n && !strncmp(runs[i].name, p, n);
        if (!found || n == 0)
            return wg_fail(WG_ERR_CONFIG, "baseline '%.*s': no run of an experiment of that name",
                           (int)n, p);
        p += n;
        if (*p) p++;
    }
    for (int i = 0; i < n_runs; i++) runs[i].baseline = *names && listed(names, runs[i].name);
    return WG_OK;
}

/* ---- the rows ---- */

const int rep_paired_columns[REP_N_PAIRED] = {WG_Q_W1, WG_Q_MODES, WG_Q_HIGH_QUALITY, WG_Q_FID,
                                              WG_Q_KID};

/* The baseline's name in groups [first, end): the first marked run's experiment, else
 * the first run's. */
static const char *baseline_name(const wg_run_info *runs, const rep_grouping *g, int first,
                                 int end) {
    int best = -1, best_marked = -1;
    const char *name = NULL, *marked = NULL;
    for (int k = first; k < end; k++)
        for (int i = 0; i < g->groups[k].n; i++) {
            int r = g->groups[k].runs[i];
            if (best < 0 || r < best) best = r, name = g->groups[k].name;
            if (runs[r].baseline && (best_marked < 0 || r < best_marked))
                best_marked = r, marked = g->groups[k].name;
        }
    return marked ? marked : name;
}

/* The differences of column q between a row's completed runs and the baseline's
 * completed run of the same seed, where both have a value. */
static int differences(const wg_run_info *runs, const rep_group *row, const rep_group *base, int q,
                       double *d) {
    int n = 0;
    for (int i = 0; i < row->n; i++) {
        const wg_run_info *r = &runs[row->runs[i]];
        if (!rep_completed(r) || r->seed < 0) continue;
        for (int j = 0; j < base->n; j++) {
            const wg_run_info *b = &runs[base->runs[j]];
            if (b->seed != r->seed || !rep_completed(b)) continue;
            double x = rep_value(r, q), y = rep_value(b, q);
            if (isfinite(x) && isfinite(y)) d[n++] = x - y;
            break;
        }
    }
    return n;
}

wg_status rep_paired_make(const wg_run_info *runs, const rep_grouping *g, int first, int end,
                          rep_paired *out) {
    *out = (rep_paired){0};
    const char *name = baseline_name(runs, g, first, end);
    if (!name) return WG_OK;
    snprintf(out->baseline, sizeof out->baseline, "%s", name);
    out->rows = calloc((size_t)(end - first), sizeof *out->rows);
    double *d = NULL;
    int most = 0;
    for (int k = first; k < end; k++) most = g->groups[k].n > most ? g->groups[k].n : most;
    d = malloc((size_t)(most ? most : 1) * sizeof *d);
    if (!out->rows || !d) {
        free(d);
        rep_paired_free(out);
        return wg_fail(WG_ERR_NOMEM, "out of memory for the paired statistics");
    }
    for (int k = first; k < end; k++) {
        const rep_group *row = &g->groups[k];
        if (!strcmp(row->name, name)) continue;
        int base = -1;
        for (int j = first; j < end && base < 0; j++)
            if (!strcmp(g->groups[j].name, name) && !strcmp(g->groups[j].device, row->device))
                base = j;
        rep_paired_row *pr = &out->rows[out->n++];
        pr->group = k;
        pr->baseline = base;
        for (int c = 0; c < REP_N_PAIRED; c++) {
            int n =
                base < 0 ? 0 : differences(runs, row, &g->groups[base], rep_paired_columns[c], d);
            pr->stats[c] = wg_paired_stats(d, n);
            if (n) out->columns[c] = true;
            if (n > pr->pairs) pr->pairs = n;
        }
    }
    free(d);
    return WG_OK;
}

void rep_paired_free(rep_paired *p) {
    free(p->rows);
    *p = (rep_paired){0};
}

void rep_paired_cell(wg_buf *b, const wg_paired_stat *st, int q, const char *const marks[3]) {
    if (st->n == 0) {
        wg_buf_puts(b, "—");
        return;
    }
    /* shares as percentage points */
    double scale = q == WG_Q_HIGH_QUALITY ? 100 : 1;
    const char *unit = q == WG_Q_HIGH_QUALITY ? " pp" : "";
    if (st->median > 0) wg_buf_puts(b, "+");
    rep_number(b, scale * st->median);
    wg_buf_printf(b, "%s%s[", unit, marks[0]);
    rep_number(b, scale * st->lo);
    wg_buf_puts(b, ", ");
    rep_number(b, scale * st->hi);
    wg_buf_printf(b, "]%sp = %.3g%s%s", marks[1], st->p, st->exact ? "" : " (normal approx.)",
                  marks[2]);
}
