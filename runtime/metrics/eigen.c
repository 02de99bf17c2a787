/* Symmetric eigendecomposition by cyclic Jacobi rotations: O(n^3) per sweep and a
 * handful of sweeps, with small eigenvalues of positive definite matrices found to
 * high relative accuracy, which the square roots in the Frechet distance need. */
#include <float.h>
#include <math.h>
#include <stdbool.h>

#include "metrics/metrics_internal.h"

#define MAX_SWEEPS 100

/* Rotates rows p and q of an n-wide row-major array: (rp, rq) <- (rp - s (rq + tau rp),
 * rq + s (rp - tau rq)). */
static void rotate_rows(double *rp, double *rq, int n, double s, double tau) {
    for (int k = 0; k < n; k++) {
        double xp = rp[k], xq = rq[k];
        rp[k] = xp - s * (xq + tau * xp);
        rq[k] = xq + s * (xp - tau * xq);
    }
}

wg_status met_sym_eigen(double *a, int n, double *vals, double *vecs) {
    if (vecs)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) vecs[(size_t)i * n + j] = i == j;
    double scale = 0.0;
    for (size_t k = 0; k < (size_t)n * n; k++) scale = fmax(scale, fabs(a[k]));
    /* Below this an off-diagonal entry is zero for every purpose here. */
    double floor_abs = DBL_EPSILON * DBL_EPSILON * scale;
    bool converged = scale == 0.0;
    for (int sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
        converged = true;
        for (int p = 0; p < n - 1; p++) {
            for (int q = p + 1; q < n; q++) {
                double *ap = a + (size_t)p * n, *aq = a + (size_t)q * n;
                double apq = ap[q], app = ap[p], aqq = aq[q];
                if (apq == 0.0) continue;
                /* Relative negligibility (Demmel-Veselic) keeps tiny eigenvalues exact. */
                if (fabs(apq) <= DBL_EPSILON * sqrt(fabs(app) * fabs(aqq)) ||
                    fabs(apq) <= floor_abs) {
                    ap[q] = aq[p] = 0.0;
                    continue;
                }
                converged = false;
                double theta = (aqq - app) / (2.0 * apq);
                double t = fabs(theta) > 1e150 ? 0.5 / theta
                                               : (theta >= 0 ? 1.0 : -1.0) /
                                                     (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c, tau = s / (1.0 + c);
                /* Rows p and q hold the same numbers as columns p and q (symmetry), so
                 * rotate the rows, then copy them into the columns. */
                rotate_rows(ap, aq, n, s, tau);
                ap[p] = app - t * apq;
                aq[q] = aqq + t * apq;
                ap[q] = aq[p] = 0.0;
                for (int k = 0; k < n; k++) {
                    if (k == p || k == q) continue;
                    a[(size_t)k * n + p] = ap[k];
                    a[(size_t)k * n + q] = aq[k];
                }
                if (vecs) rotate_rows(vecs + (size_t)p * n, vecs + (size_t)q * n, n, s, tau);
            }
        }
    }
    if (!converged)
        return wg_fail(WG_ERR_NUMERIC, "symmetric eigensolver: no convergence after %d sweeps",
                       MAX_SWEEPS);
    for (int i = 0; i < n; i++) vals[i] = a[(size_t)i * n + i];
    /* Selection sort, ascending; moves whole eigenvector rows. */
    for (int i = 0; i < n - 1; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (vals[j] < vals[m]) m = j;
        if (m == i) continue;
        double tv = vals[i];
        vals[i] = vals[m];
        vals[m] = tv;
        if (vecs)
            for (int k = 0; k < n; k++) {
                double tmp = vecs[(size_t)i * n + k];
                vecs[(size_t)i * n + k] = vecs[(size_t)m * n + k];
                vecs[(size_t)m * n + k] = tmp;
            }
    }
    return WG_OK;
}
