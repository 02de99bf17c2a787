#include "metrics/metrics_internal.h"

#include <math.h>
#include <stdlib.h>

wg_status met_need(const void *p, const char *what) {
    return p ? WG_OK : wg_fail(WG_ERR_INVALID, "%s is NULL", what);
}

wg_status met_check_finite(const double *x, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return wg_fail(WG_ERR_NUMERIC, "%s[%lld] is %g, not a finite number", what,
                           (long long)i, x[i]);
    return WG_OK;
}

wg_status met_alloc(void **out, size_t count, size_t size, const char *what) {
    *out = NULL;
    if (size && count > SIZE_MAX / size)
        return wg_fail(WG_ERR_NOMEM, "%s: %zu x %zu bytes overflow", what, count, size);
    size_t bytes = count * size;
    *out = malloc(bytes > 0 ? bytes : 1);
    if (!*out) return wg_fail(WG_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, count * size);
    return WG_OK;
}

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void met_sort(double *x, int64_t n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
}

double met_quantile_sorted(const double *sorted, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    if (lo < 0) return sorted[0];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

double met_sqdist(const double *a, const double *b, int dim) {
    double s = 0.0;
    for (int k = 0; k < dim; k++) {
        double d = a[k] - b[k];
        s += d * d;
    }
    return s;
}

double met_dot(const double *a, const double *b, int dim) {
    double s = 0.0;
    /* Reassociating the sum lets it vectorise; the order is still fixed per build. */
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < dim; k++) s += a[k] * b[k];
    return s;
}

uint64_t met_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t met_rng_below(uint64_t *state, uint64_t bound) {
    /* Rejects the top partial block of the 2^64 range. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = met_rng_next(state);
    while (r >= limit);
    return r % bound;
}
