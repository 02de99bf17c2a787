/* Empirical Lipschitz estimates of the critic and statistics of its gradient norms. */
#include "wgan/metrics.h"

#include <math.h>

#include "metrics/metrics_internal.h"

wg_status wg_metric_lipschitz_pairs(const double *x, const double *y, const double *fx,
                                    const double *fy, int64_t n_pairs, int dim,
                                    wg_lipschitz_estimate *estimate) {
    wg_status s = WG_OK;
    if ((s = met_need(x, "lipschitz: x")) || (s = met_need(y, "lipschitz: y")) ||
        (s = met_need(fx, "lipschitz: fx")) || (s = met_need(fy, "lipschitz: fy")) ||
        (s = met_need(estimate, "lipschitz: estimate")))
        return s;
    if (n_pairs < 1 || dim < 1)
        return wg_fail(WG_ERR_INVALID, "lipschitz: n_pairs = %lld and dim = %d must be >= 1",
                       (long long)n_pairs, dim);
    if ((s = met_check_finite(x, n_pairs * dim, "lipschitz: x")) ||
        (s = met_check_finite(y, n_pairs * dim, "lipschitz: y")) ||
        (s = met_check_finite(fx, n_pairs, "lipschitz: fx")) ||
        (s = met_check_finite(fy, n_pairs, "lipschitz: fy")))
        return s;
    wg_lipschitz_estimate e = {.max_ratio = 0.0, .mean_ratio = 0.0, .argmax = -1, .n_used = 0};
    double sum = 0.0;
    for (int64_t i = 0; i < n_pairs; i++) {
        double dist = sqrt(met_sqdist(x + i * dim, y + i * dim, dim));
        if (dist == 0.0) continue;
        double ratio = fabs(fx[i] - fy[i]) / dist;
        sum += ratio;
        if (e.argmax < 0 || ratio > e.max_ratio) e.max_ratio = ratio, e.argmax = i;
        e.n_used++;
    }
    if (e.n_used == 0)
        return wg_fail(WG_ERR_INVALID, "lipschitz: all %lld pairs have x == y", (long long)n_pairs);
    e.mean_ratio = sum / (double)e.n_used;
    *estimate = e;
    return WG_OK;
}

wg_status wg_metric_norm_stats(const double *norms, int64_t n, double tol, wg_norm_stats *stats) {
    wg_status s = WG_OK;
    if ((s = met_need(norms, "norm_stats: norms")) || (s = met_need(stats, "norm_stats: stats")))
        return s;
    if (n < 1) return wg_fail(WG_ERR_INVALID, "norm_stats: n = %lld must be >= 1", (long long)n);
    if (!(tol >= 0.0) || !isfinite(tol))
        return wg_fail(WG_ERR_INVALID, "norm_stats: tol = %g must be >= 0 and finite", tol);
    if ((s = met_check_finite(norms, n, "norm_stats: norms"))) return s;
    wg_norm_stats r = {.n = n, .min = norms[0], .max = norms[0], .tol = tol};
    double sum = 0.0;
    int64_t above = 0, below = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = norms[i];
        if (v < 0.0)
            return wg_fail(WG_ERR_INVALID, "norm_stats: norms[%lld] = %g is negative", (long long)i,
                           v);
        sum += v;
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
        above += v > 1.0 + tol;
        below += v < 1.0 - tol;
    }
    r.mean = sum / (double)n;
    /* Second pass around the mean: no cancellation when the norms cluster near 1. */
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (norms[i] - r.mean) * (norms[i] - r.mean);
    r.std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    r.share_above = (double)above / (double)n;
    r.share_below = (double)below / (double)n;
    *stats = r;
    return WG_OK;
}
