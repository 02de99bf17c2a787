/* Exact Wasserstein-1 distances between empirical distributions: the 1-D quantile
 * formula and, in any dimension with equal sizes, a min-cost perfect matching solved
 * by the Jonker-Volgenant algorithm (Computing 38, 1987). */
#include "wgan/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

wg_status wg_metric_w1_1d(const double *a, int64_t na, const double *b, int64_t nb, double *w1) {
    wg_status s = WG_OK;
    if ((s = met_need(a, "w1_1d: a")) || (s = met_need(b, "w1_1d: b")) ||
        (s = met_need(w1, "w1_1d: w1")))
        return s;
    /* The breakpoints are counted in units of 1 / (na nb), exactly, in 64 bits. */
    if (na < 1 || nb < 1 || na > ((int64_t)1 << 31) || nb > ((int64_t)1 << 31))
        return wg_fail(WG_ERR_INVALID, "w1_1d: sizes %lld and %lld must lie in [1, 2^31]",
                       (long long)na, (long long)nb);
    if ((s = met_check_finite(a, na, "w1_1d: a")) || (s = met_check_finite(b, nb, "w1_1d: b")))
        return s;
    double *sa, *sb;
    if ((s = met_alloc((void **)&sa, (size_t)(na + nb), sizeof *sa, "w1_1d"))) return s;
    sb = sa + na;
    memcpy(sa, a, (size_t)na * sizeof *sa);
    memcpy(sb, b, (size_t)nb * sizeof *sb);
    met_sort(sa, na);
    met_sort(sb, nb);
    /* Between consecutive breakpoints both quantile functions are constant. */
    int64_t i = 0, j = 0, pos = 0;
    double acc = 0.0;
    while (i < na && j < nb) {
        int64_t end_a = (i + 1) * nb, end_b = (j + 1) * na;
        int64_t next = end_a < end_b ? end_a : end_b;
        acc += (double)(next - pos) * fabs(sa[i] - sb[j]);
        pos = next;
        if (end_a == next) i++;
        if (end_b == next) j++;
    }
    free(sa);
    *w1 = acc / ((double)na * (double)nb);
    return WG_OK;
}

/* ---- Jonker-Volgenant ---- */

typedef struct lap {
    const double *c;
    int n;
    int *rowsol, *colsol; /* -1: unassigned */
    double *v;            /* column prices */
    int *free_rows, *collist, *pred, *matches;
    double *d;
} lap;

/* Column reduction and reduction transfer; returns the number of free rows. Afterwards
 * every assigned row's column has the smallest reduced cost c[i][j] - v[j] of its row,
 * the invariant the later phases keep. */
static int lap_init(lap *L) {
    const double *c = L->c;
    int n = L->n;
    double *v = L->v;
    int *argmin = L->pred;
    /* Row by row for cache locality; strict < keeps the lowest row on ties. */
    for (int j = 0; j < n; j++) v[j] = c[j], argmin[j] = 0;
    for (int i = 1; i < n; i++) {
        const double *ci = c + (size_t)i * n;
        for (int j = 0; j < n; j++)
            if (ci[j] < v[j]) v[j] = ci[j], argmin[j] = i;
    }
    for (int i = 0; i < n; i++) L->matches[i] = 0, L->rowsol[i] = -1;
    for (int j = n - 1; j >= 0; j--) {
        int i = argmin[j];
        if (++L->matches[i] == 1) {
            L->rowsol[i] = j;
            L->colsol[j] = i;
        } else {
            L->colsol[j] = -1;
        }
    }
    int n_free = 0;
    for (int i = 0; i < n; i++) {
        if (L->matches[i] == 0) {
            L->free_rows[n_free++] = i;
        } else if (L->matches[i] == 1) {
            const double *ci = c + (size_t)i * n;
            int j1 = L->rowsol[i];
            double min = INFINITY;
            for (int j = 0; j < n; j++)
                if (j != j1 && ci[j] - v[j] < min) min = ci[j] - v[j];
            if (min < INFINITY) v[j1] -= min;
        }
    }
    return n_free;
}

/* One pass of augmenting row reduction over the free rows; returns the new count. In
 * exact arithmetic every re-queued row raises the dual objective, but in floating point
 * the raises can be tiny, so the pass stops after a bounded amount of work and leaves
 * the rest to the augmentation phase. */
static int lap_arr(lap *L, int n_free) {
    const double *c = L->c;
    int n = L->n;
    double *v = L->v;
    int *fr = L->free_rows;
    int k = 0, prev = n_free, budget = 8 * n + 64;
    n_free = 0;
    while (k < prev && budget-- > 0) {
        int i = fr[k++];
        const double *ci = c + (size_t)i * n;
        double umin = ci[0] - v[0], usub = INFINITY;
        int j1 = 0, j2 = -1;
        for (int j = 1; j < n; j++) {
            double h = ci[j] - v[j];
            if (h < usub) {
                if (h >= umin) {
                    usub = h;
                    j2 = j;
                } else {
                    usub = umin;
                    umin = h;
                    j2 = j1;
                    j1 = j;
                }
            }
        }
        int i0 = L->colsol[j1];
        bool lowered = umin < usub;
        if (lowered)
            v[j1] -= usub - umin;
        else if (i0 >= 0 && j2 >= 0) {
            j1 = j2;
            i0 = L->colsol[j2];
        }
        L->rowsol[i] = j1;
        L->colsol[j1] = i;
        if (i0 >= 0) {
            L->rowsol[i0] = -1;
            if (lowered)
                fr[--k] = i0;
            else
                fr[n_free++] = i0;
        }
    }
    /* Rows not reached stay free (n_free <= k, so the move never overlaps wrongly). */
    while (k < prev) fr[n_free++] = fr[k++];
    return n_free;
}

/* Shortest augmenting path (Dijkstra on reduced costs) from free row `f`. */
static void lap_augment(lap *L, int f) {
    const double *c = L->c;
    int n = L->n;
    double *v = L->v, *d = L->d;
    int *collist = L->collist, *pred = L->pred, *colsol = L->colsol;
    const double *cf = c + (size_t)f * n;
    for (int j = 0; j < n; j++) {
        d[j] = cf[j] - v[j];
        pred[j] = f;
        collist[j] = j;
    }
    /* collist: [0, low) scanned, [low, up) at the current minimum, [up, n) the rest. */
    int low = 0, up = 0, last = -1, end = -1;
    double min = 0.0;
    while (end < 0) {
        if (up == low) {
            last = low - 1;
            min = d[collist[up++]];
            for (int k = up; k < n; k++) {
                int j = collist[k];
                double h = d[j];
                if (h <= min) {
                    if (h < min) {
                        up = low;
                        min = h;
                    }
                    collist[k] = collist[up];
                    collist[up++] = j;
                }
            }
            for (int k = low; k < up; k++)
                if (colsol[collist[k]] < 0) {
                    end = collist[k];
                    break;
                }
            if (end >= 0) break;
        }
        int j1 = collist[low++];
        int i = colsol[j1];
        const double *ci = c + (size_t)i * n;
        double h = ci[j1] - v[j1] - min;
        for (int k = up; k < n; k++) {
            int j = collist[k];
            double v2 = ci[j] - v[j] - h;
            if (v2 < d[j]) {
                pred[j] = i;
                if (v2 == min) {
                    if (colsol[j] < 0) {
                        end = j;
                        break;
                    }
                    collist[k] = collist[up];
                    collist[up++] = j;
                }
                d[j] = v2;
            }
        }
    }
    for (int k = 0; k <= last; k++) {
        int j = collist[k];
        v[j] += d[j] - min;
    }
    for (;;) {
        int i = pred[end];
        colsol[end] = i;
        int next = L->rowsol[i];
        L->rowsol[i] = end;
        if (i == f) break;
        end = next;
    }
}

wg_status wg_metric_assignment(const double *cost, int64_t n, int64_t *row_to_col, double *total) {
    wg_status s = WG_OK;
    if ((s = met_need(cost, "assignment: cost")) || (s = met_need(total, "assignment: total")))
        return s;
    if (n < 1 || n > WG_METRIC_ASSIGNMENT_MAX_N)
        return wg_fail(WG_ERR_INVALID, "assignment: n = %lld must lie in [1, %d]", (long long)n,
                       WG_METRIC_ASSIGNMENT_MAX_N);
    if ((s = met_check_finite(cost, n * n, "assignment: cost"))) return s;
    int ni = (int)n;
    int *ints;
    double *dbls;
    if ((s = met_alloc((void **)&ints, 6 * (size_t)ni, sizeof *ints, "assignment"))) return s;
    if ((s = met_alloc((void **)&dbls, 2 * (size_t)ni, sizeof *dbls, "assignment"))) {
        free(ints);
        return s;
    }
    lap L = {
        cost,          ni,       ints, ints + ni, dbls, ints + 2 * ni, ints + 3 * ni, ints + 4 * ni,
        ints + 5 * ni, dbls + ni};
    int n_free = lap_init(&L);
    for (int pass = 0; pass < 2 && n_free > 0; pass++) n_free = lap_arr(&L, n_free);
    for (int k = 0; k < n_free; k++) lap_augment(&L, L.free_rows[k]);
    double sum = 0.0;
    for (int i = 0; i < ni; i++) {
        sum += cost[(size_t)i * ni + L.rowsol[i]];
        if (row_to_col) row_to_col[i] = L.rowsol[i];
    }
    free(ints);
    free(dbls);
    *total = sum;
    return WG_OK;
}

wg_status wg_metric_w1(const double *a, const double *b, int64_t n, int dim, double *w1) {
    wg_status s = WG_OK;
    if ((s = met_need(a, "w1: a")) || (s = met_need(b, "w1: b")) || (s = met_need(w1, "w1: w1")))
        return s;
    if (dim < 1) return wg_fail(WG_ERR_INVALID, "w1: dim = %d must be at least 1", dim);
    if (dim == 1) return wg_metric_w1_1d(a, n, b, n, w1);
    if (n < 1 || n > WG_METRIC_ASSIGNMENT_MAX_N)
        return wg_fail(WG_ERR_INVALID, "w1: n = %lld must lie in [1, %d]", (long long)n,
                       WG_METRIC_ASSIGNMENT_MAX_N);
    if ((s = met_check_finite(a, n * dim, "w1: a")) || (s = met_check_finite(b, n * dim, "w1: b")))
        return s;
    double *cost;
    if ((s = met_alloc((void **)&cost, (size_t)n * (size_t)n, sizeof *cost, "w1: cost matrix")))
        return s;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            cost[i * n + j] = sqrt(met_sqdist(a + i * dim, b + j * dim, dim));
    double total = 0.0;
    s = wg_metric_assignment(cost, n, NULL, &total);
    free(cost);
    if (s == WG_OK) *w1 = total / (double)n;
    return s;
}
