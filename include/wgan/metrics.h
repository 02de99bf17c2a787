/* Metrics computed on the host in double precision: they take plain arrays (samples,
 * critic values, logged series) and return plain structs. No graph and no device is
 * involved; the experiment runtime evaluates the networks, copies the values out and
 * calls these. docs/metrics.md gives the exact definitions, costs and intended use.
 *
 * Point sets are row-major: n points of `dim` coordinates each, point i at
 * x[i * dim .. i * dim + dim). Every function checks its arguments and returns
 * WG_ERR_INVALID (NULL pointer, size out of range), WG_ERR_NUMERIC (a NaN or an
 * infinity in the input) or WG_ERR_NOMEM with a message set through wg_fail; outputs
 * are written only on WG_OK. All functions are reentrant. */
#ifndef WGAN_METRICS_H
#define WGAN_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Wasserstein-1 distance between empirical distributions ---- */

/* Exact W1 between two 1-D samples with uniform weights 1/na and 1/nb (any sizes):
 * the integral over t in (0, 1) of |Fa^-1(t) - Fb^-1(t)|, evaluated exactly on the
 * merged breakpoints i/na, j/nb. Sorts copies: O((na + nb) log(na + nb)). */
WG_API wg_status wg_metric_w1_1d(const double *a, int64_t na, const double *b, int64_t nb,
                                 double *w1);

/* Exact W1 between two sets of n points in R^dim with uniform weights and Euclidean
 * ground cost. With equal sizes and uniform weights an optimal plan is a permutation,
 * so this is the minimum-cost perfect matching, divided by n (wg_metric_assignment on
 * the n x n distance matrix). dim == 1 takes the sorting path. Memory 8 n^2 bytes;
 * O(n^3) worst case, well under a second for n = 2000 in the plane. */
WG_API wg_status wg_metric_w1(const double *a, const double *b, int64_t n, int dim, double *w1);

/* Minimum-cost perfect matching of a dense n x n cost matrix (row-major, finite):
 * Jonker-Volgenant (column reduction, reduction transfer, shortest augmenting paths).
 * `row_to_col` (n entries, may be NULL) receives the column matched to each row;
 * `total` the sum of the matched costs. n <= WG_METRIC_ASSIGNMENT_MAX_N. */
#define WG_METRIC_ASSIGNMENT_MAX_N 32768
WG_API wg_status wg_metric_assignment(const double *cost, int64_t n, int64_t *row_to_col,
                                      double *total);

/* ---- mode coverage of a mixture of isotropic gaussians (toy data) ---- */

typedef struct wg_mode_options {
    double radius;     /* in units of the mixture std: a sample is near a mode within
                          radius * std (Euclidean); 3 */
    double min_share;  /* a mode is covered when at least this share of the samples are
                          near it; 0.01 */
    int64_t min_count; /* when > 0, a count of samples that replaces min_share; 0 */
} wg_mode_options;

WG_API wg_mode_options wg_mode_options_default(void);

typedef struct wg_mode_stats {
    int64_t n_samples;
    int n_modes;
    int covered;               /* modes with at least `threshold` samples near them */
    int64_t threshold;         /* the sample count a mode needs */
    int64_t high_quality;      /* samples within radius * std of their nearest mode */
    double high_quality_share; /* high_quality / n_samples */
} wg_mode_stats;

/* Assigns each sample to its nearest center (ties to the lower index) and counts it
 * for that mode when it lies within options->radius * std of it. `centers` holds
 * n_modes points of `dim` coordinates; `std` is the per-coordinate standard deviation
 * of each component in data space (8gaussians: std / 1.414). options NULL: defaults.
 * counts (n_modes entries, may be NULL) receives the per-mode counts. */
WG_API wg_status wg_metric_modes(const double *samples, int64_t n, int dim, const double *centers,
                                 int n_modes, double std, const wg_mode_options *options,
                                 wg_mode_stats *stats, int64_t *counts);

/* ---- Lipschitz constant of the critic ---- */

typedef struct wg_lipschitz_estimate {
    double max_ratio;  /* max over pairs of |f(x) - f(y)| / |x - y| */
    double mean_ratio; /* mean of the same ratio */
    int64_t argmax;    /* index of the pair that attains max_ratio */
    int64_t n_used;    /* pairs with x != y (pairs of equal points are skipped) */
} wg_lipschitz_estimate;

/* Empirical lower bound on the Lipschitz constant from n_pairs pairs (x_i, y_i) of
 * points in R^dim and the critic's values fx_i = f(x_i), fy_i = f(y_i). At least one
 * pair must have x != y. */
WG_API wg_status wg_metric_lipschitz_pairs(const double *x, const double *y, const double *fx,
                                           const double *fy, int64_t n_pairs, int dim,
                                           wg_lipschitz_estimate *estimate);

typedef struct wg_norm_stats {
    int64_t n;
    double mean, std; /* std with the n - 1 divisor (0 when n == 1) */
    double min, max;
    double tol;
    double share_above; /* share of norms > 1 + tol */
    double share_below; /* share of norms < 1 - tol */
} wg_norm_stats;

/* Summary of n >= 1 gradient norms (non-negative, finite), e.g. |grad_x f(x)| at real,
 * fake or interpolated points. tol >= 0. */
WG_API wg_status wg_metric_norm_stats(const double *norms, int64_t n, double tol,
                                      wg_norm_stats *stats);

/* ---- Frechet distance and kernel inception distance on feature vectors ---- */

/* A gaussian fitted to n >= 2 samples: mean and unbiased (n - 1) covariance. */
typedef struct wg_gaussian {
    int dim;
    int64_t n;
    double *mean; /* dim */
    double *cov;  /* dim x dim, row-major, symmetric */
} wg_gaussian;

/* Fits a gaussian to n points in R^dim (two passes). On success the caller owns the
 * arrays and releases them with wg_gaussian_free. Cost O(n dim^2). */
WG_API wg_status wg_gaussian_fit(const double *x, int64_t n, int dim, wg_gaussian *out);
/* Frees the arrays and zeroes the struct; NULL and a zeroed struct are fine. */
WG_API void wg_gaussian_free(wg_gaussian *g);

/* Frechet distance between two gaussians of the same dimension:
 *   |mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2),
 * with C1^1/2 and the trace of the outer square root from symmetric eigen-
 * decompositions (Jacobi rotations; negative eigenvalues from rounding are taken as 0).
 * Cost O(dim^3): about two eigendecompositions. The result is clamped at 0. */
WG_API wg_status wg_metric_frechet(const wg_gaussian *a, const wg_gaussian *b, double *distance);

/* wg_gaussian_fit on both sets, then wg_metric_frechet (the FID formula). Each set
 * needs at least 2 points and should have many more than dim. */
WG_API wg_status wg_metric_fid(const double *a, int64_t na, const double *b, int64_t nb, int dim,
                               double *fid);

typedef struct wg_kid_options {
    int64_t subset_size; /* points drawn from each set per subset, without replacement;
                            0: min(1000, na, nb) */
    int n_subsets;       /* 100 */
    uint64_t seed;       /* picks the subsets; same seed, same result */
} wg_kid_options;

WG_API wg_kid_options wg_kid_options_default(void);

typedef struct wg_kid_result {
    double mean;         /* mean over subsets of the unbiased MMD^2 */
    double std;          /* their standard deviation (divisor n_subsets) */
    int64_t subset_size; /* as used */
    int n_subsets;
} wg_kid_result;

/* Kernel inception distance (Binkowski et al. 2018): the unbiased estimate of MMD^2
 * with the kernel k(x, y) = (x.y / dim + 1)^3, averaged over random subsets. Can be
 * slightly negative when the sets come from the same distribution. Cost
 * O(n_subsets subset_size^2 dim); subsets run in parallel (OpenMP). options NULL:
 * defaults. */
WG_API wg_status wg_metric_kid(const double *a, int64_t na, const double *b, int64_t nb, int dim,
                               const wg_kid_options *options, wg_kid_result *result);

/* ---- training health from a logged series ---- */

typedef enum wg_verdict { WG_VERDICT_PASS = 0, WG_VERDICT_FAIL, WG_VERDICT_SKIPPED } wg_verdict;

/* "pass", "fail" or "skipped". */
WG_API const char *wg_verdict_name(wg_verdict verdict);

typedef enum wg_health_kind {
    WG_HEALTH_W_DECREASING = 0, /* "w_trend_decreasing" */
    WG_HEALTH_SMOOTH,           /* "smooth" */
    WG_HEALTH_CONVERGING,       /* "converging" */
    WG_HEALTH_NO_EXPLOSION,     /* "no_explosion" */
    WG_HEALTH_COUNT
} wg_health_kind;

#define WG_HEALTH_MAX_VALUES 12

/* A number behind a verdict; `name` is a static identifier usable as a JSON key. */
typedef struct wg_health_value {
    const char *name;
    double value; /* may be NaN or an infinity where the quantity is undefined */
} wg_health_value;

typedef struct wg_health_check {
    const char *name; /* static identifier, see wg_health_kind */
    wg_verdict verdict;
    char reason[256]; /* one line for people, with the deciding numbers */
    int n_values;
    wg_health_value values[WG_HEALTH_MAX_VALUES];
} wg_health_check;

typedef struct wg_health_report {
    int64_t n_points;
    bool all_pass; /* every check passed (a skipped check is not a pass) */
    wg_health_check checks[WG_HEALTH_COUNT];
} wg_health_report;

/* A logged series: n rows of (step, W estimate, losses). */
typedef struct wg_health_series {
    int64_t n;
    const int64_t *steps;      /* strictly increasing */
    const double *w;           /* the critic's estimate of W */
    const double *critic_loss; /* may be NULL */
    const double *gen_loss;    /* may be NULL */
} wg_health_series;

typedef struct wg_health_options {
    double trend_z;          /* W decreasing when the Mann-Kendall z over the second half is
                                <= -trend_z; 1.645 (one-sided 5%) */
    double max_roughness;    /* smooth when median |dW| / robust range <= this; 0.1 */
    double max_var_ratio;    /* converging needs var(late) / var(early) <= this; 0.25 */
    double max_late_drift;   /* and |late slope| * late span / robust range <= this; 0.1 */
    double wander_eta;       /* and the late window must not wander: it wanders when the von
                                Neumann ratio of its detrended values is < wander_eta (1; white
                                noise gives 2) ... */
    double max_wander;       /* ... and their std exceeds max_wander * robust range; 0.02 */
    double explosion_factor; /* no explosion: max |W| <= factor * median |W| early; 10 */
    int min_window_points;   /* a check whose window has fewer finite points is
                                skipped; 5 */
} wg_health_options;

WG_API wg_health_options wg_health_options_default(void);

/* Judges a training run from its logged series (metrics.csv: step, w_estimate,
 * critic_loss, generator_loss). Windows are taken on the step axis: early = the first
 * quarter of the step span, late = the last quarter, second half = from the midpoint
 * on. The robust range is q95 - q05 of the finite W values. The W-based checks use the
 * finite W values; no_explosion fails on any non-finite W or loss. docs/metrics.md
 * gives the rules. options NULL: defaults. WG_ERR_INVALID for NULL arrays, n < 0 or
 * steps not strictly increasing; n == 0 gives a report with every check skipped. */
WG_API wg_status wg_metric_health(const wg_health_series *series, const wg_health_options *options,
                                  wg_health_report *report);

/* The value called `name` in a check, or NaN when it has none. */
WG_API double wg_health_value_of(const wg_health_check *check, const char *name);

#ifdef __cplusplus
}
#endif
#endif
