/* What the comparison tables of the HTML page and of compare.md are made of: methods
 * with their colours and the seed table's claims, rows (one per experiment and
 * device), and medians over a row's runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

/* Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. */
static const struct {
    const char *method, *color;
    rep_claim claim;
} methods[] = {
    {"clip", "#E69F00", {"very low", "moderate", "lower"}},
    {"GP", "#0072B2", {"high", "high", "high"}},
    {"SN", "#009E73", {"low", "very high", "very high"}},
    {"JS baseline", "#CC79A7", {NULL, NULL, NULL}},
};
enum { N_METHODS = sizeof methods / sizeof *methods };
static const char *const other_colors[] = {"#D55E00", "#56B4E9", "#000000",
                                           "#999933", "#882255", "#44AA99"};

int rep_method_rank(const char *method) {
    for (int i = 0; i < N_METHODS; i++)
        if (!strcmp(methods[i].method, method)) return i;
    return N_METHODS;
}

const char *rep_method_color(const char *method) {
    int rank = rep_method_rank(method);
    if (rank < N_METHODS) return methods[rank].color;
    unsigned h = 2166136261u; /* FNV-1a: the same method always gets the same colour */
    for (const char *p = method; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return other_colors[h % (sizeof other_colors / sizeof *other_colors)];
}

/* A short device name: the spec asked for, else one derived from the description. */
const char *rep_device_label(const wg_run_info *r, char *buf, size_t size) {
    if (*r->device_spec && strcmp(r->device_spec, "auto"))
        snprintf(buf, size, "%s", r->device_spec);
    else if (!strncmp(r->device, "cpu", 3))
        snprintf(buf, size, "cpu");
    else if (strstr(r->device, "Portable Computing Language"))
        snprintf(buf, size, "pocl");
    else if (*r->device)
        snprintf(buf, size, "%.*s", (int)strcspn(r->device, "("), r->device);
    else
        snprintf(buf, size, "%s", *r->device_spec ? r->device_spec : "?");
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == ' ') buf[--len] = 0;
    return buf;
}

bool rep_completed(const wg_run_info *r) {
    return !strcmp(r->state, "completed");
}

bool rep_failed(const wg_run_info *r) {
    return wg_run_failed(r);
}

/* ---- numbers ---- */

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the finite values; sorts v in place. */
double rep_median(double *v, int n, double *lo, double *hi, int *count) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[k++] = v[i];
    *count = k;
    if (!k) return *lo = *hi = NAN;
    qsort(v, (size_t)k, sizeof *v, compare_doubles);
    *lo = v[0];
    *hi = v[k - 1];
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* ---- grouping: one row of the comparison per experiment and device ---- */

static int compare_groups(const void *a, const void *b) {
    const rep_group *x = a, *y = b;
    int c = strcmp(x->data, y->data);
    if (c) return c;
    int rx = rep_method_rank(x->method), ry = rep_method_rank(y->method);
    if (rx != ry) return rx - ry;
    if ((c = strcmp(x->method, y->method))) return c;
    if ((c = strcmp(x->name, y->name))) return c;
    return strcmp(x->device, y->device);
}

wg_status rep_make_groups(const wg_run_info *runs, int n_runs, rep_grouping *g) {
    g->groups = calloc((size_t)(n_runs ? n_runs : 1), sizeof *g->groups);
    g->n = 0;
    if (!g->groups) return wg_fail(WG_ERR_NOMEM, "out of memory building the report");
    for (int i = 0; i < n_runs; i++) {
        rep_group key = {0};
        snprintf(key.data, sizeof key.data, "%s", *runs[i].data ? runs[i].data : "unknown data");
        snprintf(key.name, sizeof key.name, "%s", runs[i].name);
        wg_run_method(&runs[i], key.method, sizeof key.method);
        rep_device_label(&runs[i], key.device, sizeof key.device);
        int k = 0;
        while (k < g->n &&
               (strcmp(g->groups[k].data, key.data) || strcmp(g->groups[k].name, key.name) ||
                strcmp(g->groups[k].device, key.device)))
            k++;
        if (k == g->n) {
            key.runs = calloc((size_t)n_runs, sizeof *key.runs);
            if (!key.runs) return wg_fail(WG_ERR_NOMEM, "out of memory building the report");
            g->groups[g->n++] = key;
        }
        g->groups[k].runs[g->groups[k].n++] = i;
    }
    qsort(g->groups, (size_t)g->n, sizeof *g->groups, compare_groups);
    return WG_OK;
}

void rep_free_groups(rep_grouping *g) {
    for (int i = 0; i < g->n; i++) free(g->groups[i].runs);
    free(g->groups);
}

/* ---- columns ---- */

double rep_value(const wg_run_info *r, int q) {
    return q == REP_Q_CORRELATION ? wg_run_w_correlation(r) : wg_run_quantity(r, (wg_quantity)q);
}

const char *rep_label(int q) {
    return q == REP_Q_CORRELATION ? "ρ(W est., W1)"
           : q == WG_Q_W_ESTIMATE ? "final W est."
                                  : wg_quantity_label((wg_quantity)q);
}

const int rep_quality_columns[REP_N_QUALITY] = {WG_Q_W1,           WG_Q_W1_FLOOR, WG_Q_MODES,
                                                WG_Q_HIGH_QUALITY, WG_Q_FID,      WG_Q_KID};
const int rep_critic_columns[REP_N_CRITIC] = {WG_Q_W_ESTIMATE, REP_Q_CORRELATION, WG_Q_LIPSCHITZ};

const char *const rep_check_titles[WG_HEALTH_COUNT] = {"W trend ↓", "smooth", "converging",
                                                       "no explosion"};
/* The number that decides each check, shown under its verdict. */
const char *const rep_check_values[WG_HEALTH_COUNT] = {"mann_kendall_z", "roughness",
                                                       "variance_ratio", "ratio"};
const char *const rep_check_value_names[WG_HEALTH_COUNT] = {"z", "roughness", "var ratio",
                                                            "max/median"};

/* The median of a quantity over a group's runs (completed ones only, when asked). */
double rep_group_median(const wg_run_info *runs, const rep_group *g, int q, bool only_completed,
                        double *scratch, double *lo, double *hi, int *count) {
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (!only_completed || rep_completed(&runs[g->runs[i]]))
            scratch[n++] = rep_value(&runs[g->runs[i]], q);
    return rep_median(scratch, n, lo, hi, count);
}

const rep_claim *rep_method_claim(const char *method) {
    int rank = rep_method_rank(method);
    return rank < N_METHODS && methods[rank].claim.cost ? &methods[rank].claim : NULL;
}

rep_verdicts rep_group_verdicts(const wg_run_info *runs, const rep_group *g, int check,
                                double *scratch) {
    rep_verdicts v = {0, 0, 0, 0, NAN};
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        const wg_run_info *r = &runs[g->runs[i]];
        if (!r->have_health) continue;
        const wg_health_check *c = &r->health.checks[check];
        if (c->verdict == WG_VERDICT_SKIPPED) {
            v.skipped++;
            continue;
        }
        v.judged++;
        v.pass += c->verdict == WG_VERDICT_PASS;
        v.fail += c->verdict == WG_VERDICT_FAIL;
        scratch[n++] = wg_health_value_of(c, rep_check_values[check]);
    }
    double lo, hi;
    int count;
    v.value = rep_median(scratch, n, &lo, &hi, &count);
    return v;
}

const char *rep_verdicts_mark(const rep_verdicts *v) {
    return v->pass == v->judged ? "✓" : v->fail == v->judged ? "✗" : "◐";
}

bool rep_any(const wg_run_info *runs, const rep_grouping *g, int first, int end, int q) {
    for (int k = first; k < end; k++)
        for (int i = 0; i < g->groups[k].n; i++)
            if (isfinite(rep_value(&runs[g->groups[k].runs[i]], q))) return true;
    return false;
}

void rep_number(wg_buf *b, double v) {
    if (!isfinite(v))
        wg_buf_puts(b, "—");
    else if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3))
        wg_buf_printf(b, "%.3g", v);
    else if (fabs(v) >= 100)
        wg_buf_printf(b, "%.0f", v);
    else
        wg_buf_printf(b, "%.3g", v);
}

void rep_bytes(wg_buf *b, double v) {
    if (!isfinite(v))
        wg_buf_puts(b, "—");
    else if (v >= 1 << 30)
        wg_buf_printf(b, "%.2f GiB", v / (1 << 30));
    else
        wg_buf_printf(b, "%.1f MiB", v / (1 << 20));
}
