/* Kernel inception distance: unbiased MMD^2 with a cubic polynomial kernel, averaged
 * over random subsets (Binkowski et al., "Demystifying MMD GANs", 2018), following
 * the reference implementations' choices: subsets drawn without replacement, the
 * cross term averaged over all m^2 pairs, the spread as a standard deviation with
 * divisor n_subsets. */
#include "wgan/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "metrics/metrics_internal.h"

wg_kid_options wg_kid_options_default(void) {
    return (wg_kid_options){.subset_size = 0, .n_subsets = 100, .seed = 0};
}

static double kernel(const double *x, const double *y, int dim) {
    double k = met_dot(x, y, dim) / (double)dim + 1.0;
    return k * k * k;
}

/* First m entries of a uniform random permutation of 0..n-1 into perm[0..m). */
static void draw_subset(int64_t *perm, int64_t n, int64_t m, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + (int64_t)met_rng_below(rng, (uint64_t)(n - i));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static double subset_mmd(const double *a, const int64_t *ia, const double *b, const int64_t *ib,
                         int64_t m, int dim) {
    double kxx = 0.0, kyy = 0.0, kxy = 0.0;
    for (int64_t i = 0; i < m; i++) {
        const double *xi = a + ia[i] * dim, *yi = b + ib[i] * dim;
        for (int64_t j = i + 1; j < m; j++) {
            kxx += kernel(xi, a + ia[j] * dim, dim);
            kyy += kernel(yi, b + ib[j] * dim, dim);
        }
        for (int64_t j = 0; j < m; j++) kxy += kernel(xi, b + ib[j] * dim, dim);
    }
    double md = (double)m;
    return 2.0 * (kxx + kyy) / (md * (md - 1.0)) - 2.0 * kxy / (md * md);
}

wg_status wg_metric_kid(const double *a, int64_t na, const double *b, int64_t nb, int dim,
                        const wg_kid_options *options, wg_kid_result *result) {
    wg_status s = WG_OK;
    if ((s = met_need(a, "kid: a")) || (s = met_need(b, "kid: b")) ||
        (s = met_need(result, "kid: result")))
        return s;
    wg_kid_options o = options ? *options : wg_kid_options_default();
    if (dim < 1 || na < 2 || nb < 2)
        return wg_fail(WG_ERR_INVALID, "kid: dim = %d must be >= 1, na = %lld and nb = %lld >= 2",
                       dim, (long long)na, (long long)nb);
    int64_t n_min = na < nb ? na : nb;
    int64_t m = o.subset_size ? o.subset_size : (n_min < 1000 ? n_min : 1000);
    if (m < 2 || m > n_min)
        return wg_fail(WG_ERR_INVALID, "kid: subset_size = %lld must lie in [2, %lld]",
                       (long long)o.subset_size, (long long)n_min);
    if (o.n_subsets < 1)
        return wg_fail(WG_ERR_INVALID, "kid: n_subsets = %d must be >= 1", o.n_subsets);
    if ((s = met_check_finite(a, na * dim, "kid: a")) ||
        (s = met_check_finite(b, nb * dim, "kid: b")))
        return s;
    double *mmd;
    if ((s = met_alloc((void **)&mmd, (size_t)o.n_subsets, sizeof *mmd, "kid"))) return s;
    bool out_of_memory = false;
    /* Each subset has its own random stream, so the result does not depend on which
     * thread draws it. */
#pragma omp parallel
    {
        int64_t *perm_a = malloc((size_t)(na + nb) * sizeof *perm_a);
        int64_t *perm_b = perm_a ? perm_a + na : NULL;
        if (!perm_a) {
#pragma omp atomic write
            out_of_memory = true;
        }
#pragma omp for schedule(dynamic)
        for (int t = 0; t < o.n_subsets; t++) {
            if (!perm_a) continue;
            uint64_t rng = o.seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(t + 1));
            met_rng_next(&rng);
            draw_subset(perm_a, na, m, &rng);
            draw_subset(perm_b, nb, m, &rng);
            mmd[t] = subset_mmd(a, perm_a, b, perm_b, m, dim);
        }
        free(perm_a);
    }
    if (out_of_memory) {
        free(mmd);
        return wg_fail(WG_ERR_NOMEM, "kid: cannot allocate subset indices");
    }
    double sum = 0.0;
    for (int t = 0; t < o.n_subsets; t++) sum += mmd[t];
    double mean = sum / o.n_subsets, ss = 0.0;
    for (int t = 0; t < o.n_subsets; t++) ss += (mmd[t] - mean) * (mmd[t] - mean);
    free(mmd);
    *result = (wg_kid_result){
        .mean = mean, .std = sqrt(ss / o.n_subsets), .subset_size = m, .n_subsets = o.n_subsets};
    return WG_OK;
}
