/* Helpers shared by the metric implementations (runtime/metrics/). */
#ifndef WGAN_METRICS_INTERNAL_H
#define WGAN_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wgan/status.h"

/* WG_ERR_INVALID naming `what` when p is NULL. */
wg_status met_need(const void *p, const char *what);
/* WG_ERR_NUMERIC naming `what` and the first bad index unless x[0..n) are finite. */
wg_status met_check_finite(const double *x, int64_t n, const char *what);
/* malloc of count * size bytes with overflow check; WG_ERR_NOMEM naming `what`. */
wg_status met_alloc(void **out, size_t count, size_t size, const char *what);

/* Ascending sort of doubles (no NaN). */
void met_sort(double *x, int64_t n);
/* Quantile q in [0, 1] of sorted x[0..n), n >= 1, linear interpolation between order
 * statistics (NumPy's default). */
double met_quantile_sorted(const double *sorted, int64_t n, double q);

double met_sqdist(const double *a, const double *b, int dim);
double met_dot(const double *a, const double *b, int dim);

/* splitmix64: the metrics' own random numbers (subset draws), independent of the
 * training's Philox stream. */
uint64_t met_rng_next(uint64_t *state);
/* Uniform integer in [0, bound), bound >= 1, without modulo bias. */
uint64_t met_rng_below(uint64_t *state, uint64_t bound);

/* Eigenvalues (ascending) and, when `vecs` is not NULL, eigenvectors of the symmetric
 * n x n row-major matrix a, by LAPACK (dsyevd); a is destroyed. vecs[k * n ..] is the
 * eigenvector of vals[k] (eigenvectors are rows). WG_ERR_NUMERIC when LAPACK does not
 * converge. */
wg_status met_sym_eigen(double *a, int n, double *vals, double *vecs);

#endif
