/* Training-health verdicts from a logged series of W estimates. The rules and their
 * thresholds are documented in docs/metrics.md; every verdict carries the numbers it
 * was decided on. */
#include "wgan/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

static const char *const check_names[WG_HEALTH_COUNT] = {"w_trend_decreasing", "smooth",
                                                         "converging", "no_explosion"};

const char *wg_verdict_name(wg_verdict verdict) {
    switch (verdict) {
    case WG_VERDICT_PASS: return "pass";
    case WG_VERDICT_FAIL: return "fail";
    case WG_VERDICT_SKIPPED: return "skipped";
    }
    return "unknown";
}

wg_health_options wg_health_options_default(void) {
    return (wg_health_options){.trend_z = 1.645,
                               .max_roughness = 0.1,
                               .max_var_ratio = 0.25,
                               .max_late_drift = 0.1,
                               .wander_eta = 1.0,
                               .max_wander = 0.02,
                               .explosion_factor = 10.0,
                               .min_window_points = 5};
}

double wg_health_value_of(const wg_health_check *check, const char *name) {
    for (int i = 0; check && name && i < check->n_values; i++)
        if (strcmp(check->values[i].name, name) == 0) return check->values[i].value;
    return NAN;
}

static void add_value(wg_health_check *c, const char *name, double value) {
    if (c->n_values < WG_HEALTH_MAX_VALUES)
        c->values[c->n_values++] = (wg_health_value){name, value};
}

static void set_reason(wg_health_check *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_reason(wg_health_check *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
}

/* x / y for non-negative x and y, with 0 / 0 = 0 (both quantities vanish). */
static double ratio(double x, double y) {
    if (y > 0.0) return x / y;
    return x > 0.0 ? INFINITY : 0.0;
}

/* The finite points, with the window positions on the step axis. */
typedef struct series {
    int64_t k;          /* finite W values */
    double *x, *y;      /* their steps and values */
    double *scratch;    /* 2n doubles of work space */
    double range;       /* robust range of y: q95 - q05 */
    double first, last; /* the first and last logged step (finite or not) */
} series;

/* [*lo, *hi) indices of the finite points with from <= step <= to. */
static void window(const series *s, double from, double to, int64_t *lo, int64_t *hi) {
    int64_t i = 0;
    while (i < s->k && s->x[i] < from) i++;
    int64_t j = i;
    while (j < s->k && s->x[j] <= to) j++;
    *lo = i;
    *hi = j;
}

static double mean_of(const double *v, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += v[i];
    return sum / (double)n;
}

/* Sample variance (divisor n - 1). */
static double variance_of(const double *v, int64_t n) {
    double m = mean_of(v, n), ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    return ss / (double)(n - 1);
}

/* Least-squares slope of y on x (x not all equal). */
static double slope_of(const double *x, const double *y, int64_t n) {
    double mx = mean_of(x, n), my = mean_of(y, n), sxy = 0.0, sxx = 0.0;
    for (int64_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxy / sxx;
}

/* Sorts v[0..n) and returns the number of pairs i < j with v[i] > v[j] (merge sort). */
static int64_t sort_count_inversions(double *v, double *tmp, int64_t n) {
    if (n < 2) return 0;
    int64_t h = n / 2;
    int64_t inv = sort_count_inversions(v, tmp, h) + sort_count_inversions(v + h, tmp, n - h);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (v[i] <= v[j]) {
            tmp[k++] = v[i++];
        } else {
            inv += h - i; /* every left element still waiting is strictly greater */
            tmp[k++] = v[j++];
        }
    }
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
    return inv;
}

/* Mann-Kendall trend statistics of y[0..n) in order (the steps are distinct):
 * S = sum_{i<j} sign(y_j - y_i), its tie-corrected variance, z with continuity
 * correction and Kendall's tau-b. O(n log n). `work` holds 2n doubles. */
static void mann_kendall(const double *y, int64_t n, double *work, double *z, double *tau) {
    double *v = work, *tmp = work + n;
    memcpy(v, y, (size_t)n * sizeof *v);
    int64_t discordant = sort_count_inversions(v, tmp, n);
    double pairs = 0.5 * (double)n * (double)(n - 1), tied = 0.0;
    double var = (double)n * (double)(n - 1) * (2.0 * (double)n + 5.0);
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j] == v[i]) j++;
        double t = (double)(j - i);
        tied += 0.5 * t * (t - 1.0);
        var -= t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    var /= 18.0;
    double concordant = pairs - tied - (double)discordant;
    double S = concordant - (double)discordant;
    *z = var > 0.0 ? (S - (S > 0) + (S < 0)) / sqrt(var) : 0.0;
    *tau = pairs - tied > 0.0 ? S / sqrt(pairs * (pairs - tied)) : 0.0;
}

static void check_trend(const series *s, const wg_health_options *o, wg_health_check *c) {
    double mid = s->first + 0.5 * (s->last - s->first);
    int64_t lo, hi;
    window(s, mid, s->last, &lo, &hi);
    int64_t k = hi - lo;
    add_value(c, "points", (double)k);
    if (k < o->min_window_points || k < 2) {
        c->verdict = WG_VERDICT_SKIPPED;
        set_reason(c, "%lld finite points in the second half, %d needed", (long long)k,
                   o->min_window_points);
        return;
    }
    double z, tau;
    mann_kendall(s->y + lo, k, s->scratch, &z, &tau);
    double slope = slope_of(s->x + lo, s->y + lo, k);
    double change = slope * (s->x[hi - 1] - s->x[lo]);
    add_value(c, "kendall_tau", tau);
    add_value(c, "mann_kendall_z", z);
    add_value(c, "z_threshold", -o->trend_z);
    add_value(c, "slope_per_step", slope);
    add_value(c, "relative_change", s->range > 0.0 ? change / s->range : 0.0);
    c->verdict = z <= -o->trend_z ? WG_VERDICT_PASS : WG_VERDICT_FAIL;
    set_reason(c,
               "second half (steps %.0f..%.0f, %lld points): Kendall tau %.3f, Mann-Kendall "
               "z %.2f %s %.3f; fitted change %.4g",
               s->x[lo], s->x[hi - 1], (long long)k, tau, z, z <= -o->trend_z ? "<=" : ">",
               -o->trend_z, change);
}

static void check_smooth(const series *s, const wg_health_options *o, wg_health_check *c) {
    int64_t k = s->k;
    add_value(c, "points", (double)k);
    if (k < o->min_window_points || k < 3) {
        c->verdict = WG_VERDICT_SKIPPED;
        set_reason(c, "%lld finite points, %d needed", (long long)k,
                   o->min_window_points < 3 ? 3 : o->min_window_points);
        return;
    }
    double *change = s->scratch;
    int64_t flips = 0;
    for (int64_t i = 0; i + 1 < k; i++) {
        double d = s->y[i + 1] - s->y[i];
        change[i] = fabs(d);
        if (i > 0) {
            double prev = s->y[i] - s->y[i - 1];
            flips += (d > 0 && prev < 0) || (d < 0 && prev > 0);
        }
    }
    met_sort(change, k - 1);
    double median = met_quantile_sorted(change, k - 1, 0.5);
    double rough = ratio(median, s->range);
    add_value(c, "roughness", rough);
    add_value(c, "max_roughness", o->max_roughness);
    add_value(c, "median_abs_change", median);
    add_value(c, "robust_range", s->range);
    add_value(c, "sign_flip_share", (double)flips / (double)(k - 2));
    c->verdict = rough <= o->max_roughness ? WG_VERDICT_PASS : WG_VERDICT_FAIL;
    set_reason(c, "median |dW| %.4g over robust range %.4g = roughness %.4f %s %.4f", median,
               s->range, rough, rough <= o->max_roughness ? "<=" : ">", o->max_roughness);
}

/* Detrends the late window [l0, l1) by its least-squares line and returns the von
 * Neumann ratio of the residuals, sum (r_i+1 - r_i)^2 / sum r_i^2 (about 2 for white
 * noise, near 0 for a random walk or any slow wandering), and their standard deviation
 * as a share of the robust range (a smooth curve also has a small ratio, but tiny
 * residuals). */
static void late_wander(const series *s, int64_t l0, int64_t l1, double slope, double *eta,
                        double *wander) {
    int64_t n = l1 - l0;
    double mx = mean_of(s->x + l0, n), my = mean_of(s->y + l0, n);
    double rss = 0.0, dss = 0.0, prev = 0.0;
    for (int64_t i = l0; i < l1; i++) {
        double r = s->y[i] - my - slope * (s->x[i] - mx);
        rss += r * r;
        if (i > l0) dss += (r - prev) * (r - prev);
        prev = r;
    }
    *eta = rss > 0.0 ? dss / rss : 2.0;
    *wander = ratio(sqrt(rss / (double)n), s->range);
}

static void check_converging(const series *s, const wg_health_options *o, wg_health_check *c) {
    double quarter = 0.25 * (s->last - s->first);
    int64_t e0, e1, l0, l1;
    window(s, s->first, s->first + quarter, &e0, &e1);
    window(s, s->last - quarter, s->last, &l0, &l1);
    add_value(c, "early_points", (double)(e1 - e0));
    add_value(c, "late_points", (double)(l1 - l0));
    int need = o->min_window_points < 2 ? 2 : o->min_window_points;
    if (e1 - e0 < need || l1 - l0 < need) {
        c->verdict = WG_VERDICT_SKIPPED;
        set_reason(c, "%lld early and %lld late finite points, %d needed in each",
                   (long long)(e1 - e0), (long long)(l1 - l0), need);
        return;
    }
    double var_early = variance_of(s->y + e0, e1 - e0);
    double var_late = variance_of(s->y + l0, l1 - l0);
    double vr = ratio(var_late, var_early);
    double slope = slope_of(s->x + l0, s->y + l0, l1 - l0);
    double drift = ratio(fabs(slope) * (s->x[l1 - 1] - s->x[l0]), s->range);
    add_value(c, "early_variance", var_early);
    add_value(c, "late_variance", var_late);
    add_value(c, "variance_ratio", vr);
    add_value(c, "max_variance_ratio", o->max_var_ratio);
    add_value(c, "late_slope_per_step", slope);
    add_value(c, "late_drift", drift);
    add_value(c, "max_late_drift", o->max_late_drift);
    double eta, wander;
    late_wander(s, l0, l1, slope, &eta, &wander);
    add_value(c, "late_von_neumann", eta);
    add_value(c, "late_wander", wander);
    add_value(c, "max_wander", o->max_wander);
    bool wanders = eta < o->wander_eta && wander > o->max_wander;
    bool pass = vr <= o->max_var_ratio && drift <= o->max_late_drift && !wanders;
    c->verdict = pass ? WG_VERDICT_PASS : WG_VERDICT_FAIL;
    set_reason(c,
               "var(late)/var(early) %.4f %s %.3f, late drift %.4f %s %.3f, late window %s "
               "(von Neumann %.2f, residual std %.4f of the robust range)",
               vr, vr <= o->max_var_ratio ? "<=" : ">", o->max_var_ratio, drift,
               drift <= o->max_late_drift ? "<=" : ">", o->max_late_drift,
               wanders ? "wanders" : "settled", eta, wander);
}

static int64_t count_non_finite(const double *v, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; v && i < n; i++) bad += !isfinite(v[i]);
    return bad;
}

static void check_explosion(const series *s, const wg_health_series *in, const wg_health_options *o,
                            wg_health_check *c) {
    int64_t bad_w = in->n - s->k;
    int64_t bad =
        bad_w + count_non_finite(in->critic_loss, in->n) + count_non_finite(in->gen_loss, in->n);
    add_value(c, "non_finite", (double)bad);
    int64_t e0, e1;
    window(s, s->first, s->first + 0.25 * (s->last - s->first), &e0, &e1);
    int need = o->min_window_points < 1 ? 1 : o->min_window_points;
    if (bad > 0) {
        c->verdict = WG_VERDICT_FAIL;
        set_reason(c, "%lld non-finite values (%lld in W)", (long long)bad, (long long)bad_w);
        return;
    }
    if (e1 - e0 < need) {
        c->verdict = WG_VERDICT_SKIPPED;
        set_reason(c, "all values finite; %lld early points, %d needed for the bound",
                   (long long)(e1 - e0), need);
        return;
    }
    double *abs_early = s->scratch, max_abs = 0.0;
    for (int64_t i = e0; i < e1; i++) abs_early[i - e0] = fabs(s->y[i]);
    met_sort(abs_early, e1 - e0);
    double early = met_quantile_sorted(abs_early, e1 - e0, 0.5);
    for (int64_t i = 0; i < s->k; i++) max_abs = fmax(max_abs, fabs(s->y[i]));
    double r = ratio(max_abs, early);
    add_value(c, "max_abs_w", max_abs);
    add_value(c, "early_median_abs_w", early);
    add_value(c, "ratio", r);
    add_value(c, "factor", o->explosion_factor);
    c->verdict = r <= o->explosion_factor ? WG_VERDICT_PASS : WG_VERDICT_FAIL;
    set_reason(c, "all values finite; max |W| %.4g is %.3g x the early median |W| %.4g (%s %g)",
               max_abs, r, early, r <= o->explosion_factor ? "<=" : ">", o->explosion_factor);
}

static wg_status check_options(const wg_health_options *o) {
    if (!(o->trend_z >= 0.0) || !(o->max_roughness >= 0.0) || !(o->max_var_ratio >= 0.0) ||
        !(o->max_late_drift >= 0.0) || !(o->wander_eta >= 0.0) || !(o->max_wander >= 0.0) ||
        !(o->explosion_factor >= 1.0) || o->min_window_points < 1)
        return wg_fail(WG_ERR_INVALID,
                       "health: options out of range (trend_z, max_roughness, max_var_ratio, "
                       "max_late_drift, wander_eta, max_wander >= 0, explosion_factor >= 1, "
                       "min_window_points >= 1)");
    return WG_OK;
}

wg_status wg_metric_health(const wg_health_series *in, const wg_health_options *options,
                           wg_health_report *report) {
    wg_status st = WG_OK;
    if ((st = met_need(in, "health: series")) || (st = met_need(report, "health: report")))
        return st;
    wg_health_options o = options ? *options : wg_health_options_default();
    if ((st = check_options(&o))) return st;
    if (in->n < 0) return wg_fail(WG_ERR_INVALID, "health: n = %lld is negative", (long long)in->n);
    if (in->n > 0 &&
        ((st = met_need(in->steps, "health: steps")) || (st = met_need(in->w, "health: w"))))
        return st;
    for (int64_t i = 1; i < in->n; i++)
        if (in->steps[i] <= in->steps[i - 1])
            return wg_fail(WG_ERR_INVALID,
                           "health: steps must increase, but row %lld has step "
                           "%lld after %lld",
                           (long long)i, (long long)in->steps[i], (long long)in->steps[i - 1]);
    series s = {0};
    double *buf = NULL;
    if ((st = met_alloc((void **)&buf, 4 * (size_t)in->n + 1, sizeof *buf, "health"))) return st;
    s.x = buf;
    s.y = buf + in->n;
    s.scratch = buf + 2 * in->n; /* 2n: merge sort needs a second half */
    for (int64_t i = 0; i < in->n; i++)
        if (isfinite(in->w[i])) {
            s.x[s.k] = (double)in->steps[i];
            s.y[s.k++] = in->w[i];
        }
    if (in->n > 0) {
        s.first = (double)in->steps[0];
        s.last = (double)in->steps[in->n - 1];
    }
    if (s.k > 0) {
        memcpy(s.scratch, s.y, (size_t)s.k * sizeof *s.y);
        met_sort(s.scratch, s.k);
        s.range =
            met_quantile_sorted(s.scratch, s.k, 0.95) - met_quantile_sorted(s.scratch, s.k, 0.05);
    }
    wg_health_report r;
    memset(&r, 0, sizeof r);
    r.n_points = in->n;
    for (int i = 0; i < WG_HEALTH_COUNT; i++) r.checks[i].name = check_names[i];
    check_trend(&s, &o, &r.checks[WG_HEALTH_W_DECREASING]);
    check_smooth(&s, &o, &r.checks[WG_HEALTH_SMOOTH]);
    check_converging(&s, &o, &r.checks[WG_HEALTH_CONVERGING]);
    check_explosion(&s, in, &o, &r.checks[WG_HEALTH_NO_EXPLOSION]);
    r.all_pass = true;
    for (int i = 0; i < WG_HEALTH_COUNT; i++) r.all_pass &= r.checks[i].verdict == WG_VERDICT_PASS;
    free(buf);
    *report = r;
    return WG_OK;
}
