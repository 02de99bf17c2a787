/* Gaussian fits and the Frechet distance between them (the FID formula). */
#include "wgan/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

void wg_gaussian_free(wg_gaussian *g) {
    if (!g) return;
    free(g->mean);
    free(g->cov);
    memset(g, 0, sizeof *g);
}

wg_status wg_gaussian_fit(const double *x, int64_t n, int dim, wg_gaussian *out) {
    wg_status s = WG_OK;
    if ((s = met_need(x, "gaussian_fit: x")) || (s = met_need(out, "gaussian_fit: out"))) return s;
    if (n < 2 || dim < 1)
        return wg_fail(WG_ERR_INVALID, "gaussian_fit: n = %lld must be >= 2 and dim = %d >= 1",
                       (long long)n, dim);
    if ((s = met_check_finite(x, n * dim, "gaussian_fit: x"))) return s;
    wg_gaussian g = {.dim = dim, .n = n};
    double *centered = NULL;
    if ((s = met_alloc((void **)&g.mean, (size_t)dim, sizeof(double), "gaussian_fit")) ||
        (s = met_alloc((void **)&g.cov, (size_t)dim * dim, sizeof(double), "gaussian_fit")) ||
        (s = met_alloc((void **)&centered, (size_t)dim, sizeof(double), "gaussian_fit"))) {
        wg_gaussian_free(&g);
        free(centered);
        return s;
    }
    for (int k = 0; k < dim; k++) g.mean[k] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < dim; k++) g.mean[k] += x[i * dim + k];
    for (int k = 0; k < dim; k++) g.mean[k] /= (double)n;
    /* Upper triangle of the centred scatter matrix, then scale and mirror. */
    memset(g.cov, 0, (size_t)dim * dim * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < dim; k++) centered[k] = x[i * dim + k] - g.mean[k];
        for (int r = 0; r < dim; r++) {
            double cr = centered[r], *row = g.cov + (size_t)r * dim;
            for (int c = r; c < dim; c++) row[c] += cr * centered[c];
        }
    }
    for (int r = 0; r < dim; r++)
        for (int c = r; c < dim; c++) {
            double v = g.cov[(size_t)r * dim + c] / (double)(n - 1);
            g.cov[(size_t)r * dim + c] = g.cov[(size_t)c * dim + r] = v;
        }
    free(centered);
    *out = g;
    return WG_OK;
}

/* c = a b for n x n row-major matrices. */
static void matmul(const double *a, const double *b, double *c, int n) {
    memset(c, 0, (size_t)n * n * sizeof *c);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double aik = a[(size_t)i * n + k];
            const double *bk = b + (size_t)k * n;
            double *ci = c + (size_t)i * n;
            for (int j = 0; j < n; j++) ci[j] += aik * bk[j];
        }
}

static wg_status check_gaussian(const wg_gaussian *g, const char *what) {
    if (!g || !g->mean || !g->cov || g->dim < 1)
        return wg_fail(WG_ERR_INVALID, "frechet: %s is not a fitted gaussian", what);
    wg_status s = met_check_finite(g->mean, g->dim, what);
    if (s == WG_OK) s = met_check_finite(g->cov, (int64_t)g->dim * g->dim, what);
    return s;
}

wg_status wg_metric_frechet(const wg_gaussian *a, const wg_gaussian *b, double *distance) {
    wg_status s = WG_OK;
    if ((s = check_gaussian(a, "frechet: a")) || (s = check_gaussian(b, "frechet: b")) ||
        (s = met_need(distance, "frechet: distance")))
        return s;
    if (a->dim != b->dim)
        return wg_fail(WG_ERR_INVALID, "frechet: dimensions %d and %d differ", a->dim, b->dim);
    int d = a->dim;
    size_t dd = (size_t)d * d;
    double *work;
    if ((s = met_alloc((void **)&work, 4 * dd + d, sizeof *work, "frechet"))) return s;
    double *m1 = work, *vecs = work + dd, *t = work + 2 * dd, *root = work + 3 * dd,
           *vals = work + 4 * dd;

    double mean_term = 0.0, trace = 0.0;
    for (int k = 0; k < d; k++) {
        double diff = a->mean[k] - b->mean[k];
        mean_term += diff * diff;
        trace += a->cov[(size_t)k * d + k] + b->cov[(size_t)k * d + k];
    }
    /* root = C1^1/2 = sum_k sqrt(l_k) u_k u_k^T. */
    memcpy(m1, a->cov, dd * sizeof *m1);
    if ((s = met_sym_eigen(m1, d, vals, vecs))) goto done;
    for (int k = 0; k < d; k++) {
        double r = sqrt(fmax(vals[k], 0.0));
        for (int j = 0; j < d; j++) vecs[(size_t)k * d + j] *= sqrt(r);
    }
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double sum = 0.0;
            for (int k = 0; k < d; k++) sum += vecs[(size_t)k * d + i] * vecs[(size_t)k * d + j];
            root[(size_t)i * d + j] = root[(size_t)j * d + i] = sum;
        }
    /* Tr (root C2 root)^1/2 from the eigenvalues of the symmetric PSD product. */
    matmul(root, b->cov, t, d);
    matmul(t, root, m1, d);
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double avg = 0.5 * (m1[(size_t)i * d + j] + m1[(size_t)j * d + i]);
            m1[(size_t)i * d + j] = m1[(size_t)j * d + i] = avg;
        }
    if ((s = met_sym_eigen(m1, d, vals, NULL))) goto done;
    double trace_root = 0.0;
    for (int k = 0; k < d; k++) trace_root += sqrt(fmax(vals[k], 0.0));
    *distance = fmax(mean_term + trace - 2.0 * trace_root, 0.0);
done:
    free(work);
    return s;
}

wg_status wg_metric_fid(const double *a, int64_t na, const double *b, int64_t nb, int dim,
                        double *fid) {
    wg_status s = WG_OK;
    if ((s = met_need(fid, "fid: fid"))) return s;
    wg_gaussian ga = {0}, gb = {0};
    if ((s = wg_gaussian_fit(a, na, dim, &ga)) == WG_OK &&
        (s = wg_gaussian_fit(b, nb, dim, &gb)) == WG_OK)
        s = wg_metric_frechet(&ga, &gb, fid);
    wg_gaussian_free(&ga);
    wg_gaussian_free(&gb);
    return s;
}
