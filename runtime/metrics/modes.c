/* Mode coverage and sample quality for mixtures of isotropic gaussians. */
#include "wgan/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "metrics/metrics_internal.h"

wg_mode_options wg_mode_options_default(void) {
    return (wg_mode_options){.radius = 3.0, .min_share = 0.01, .min_count = 0};
}

wg_status wg_metric_modes(const double *samples, int64_t n, int dim, const double *centers,
                          int n_modes, double std, const wg_mode_options *options,
                          wg_mode_stats *stats, int64_t *counts) {
    wg_status s = WG_OK;
    if ((s = met_need(samples, "modes: samples")) || (s = met_need(centers, "modes: centers")) ||
        (s = met_need(stats, "modes: stats")))
        return s;
    wg_mode_options o = options ? *options : wg_mode_options_default();
    if (n < 1 || dim < 1 || n_modes < 1)
        return wg_fail(WG_ERR_INVALID, "modes: n = %lld, dim = %d, n_modes = %d must be >= 1",
                       (long long)n, dim, n_modes);
    if (!(std > 0.0) || !isfinite(std))
        return wg_fail(WG_ERR_INVALID, "modes: std = %g must be positive and finite", std);
    if (!(o.radius > 0.0) || !isfinite(o.radius))
        return wg_fail(WG_ERR_INVALID, "modes: radius = %g must be positive and finite", o.radius);
    if (o.min_count < 0 || !(o.min_share >= 0.0 && o.min_share <= 1.0))
        return wg_fail(WG_ERR_INVALID,
                       "modes: min_share = %g must lie in [0, 1], min_count = %lld "
                       "must be >= 0",
                       o.min_share, (long long)o.min_count);
    if ((s = met_check_finite(samples, n * dim, "modes: samples")) ||
        (s = met_check_finite(centers, (int64_t)n_modes * dim, "modes: centers")))
        return s;
    int64_t *tally;
    if ((s = met_alloc((void **)&tally, (size_t)n_modes, sizeof *tally, "modes"))) return s;
    for (int m = 0; m < n_modes; m++) tally[m] = 0;
    double r2 = (o.radius * std) * (o.radius * std);
    int64_t good = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *x = samples + i * dim;
        int best = 0;
        double best_d2 = met_sqdist(x, centers, dim);
        for (int m = 1; m < n_modes; m++) {
            double d2 = met_sqdist(x, centers + (int64_t)m * dim, dim);
            if (d2 < best_d2) best_d2 = d2, best = m;
        }
        if (best_d2 <= r2) {
            tally[best]++;
            good++;
        }
    }
    /* A share is turned into a count by rounding up, so "1% of 250" needs 3 samples. */
    int64_t threshold = o.min_count > 0 ? o.min_count : (int64_t)ceil(o.min_share * (double)n);
    if (threshold < 1) threshold = 1;
    int covered = 0;
    for (int m = 0; m < n_modes; m++) {
        if (tally[m] >= threshold) covered++;
        if (counts) counts[m] = tally[m];
    }
    free(tally);
    *stats = (wg_mode_stats){.n_samples = n,
                             .n_modes = n_modes,
                             .covered = covered,
                             .threshold = threshold,
                             .high_quality = good,
                             .high_quality_share = (double)good / (double)n};
    return WG_OK;
}
