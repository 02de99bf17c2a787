/* The host metrics (include/wgan/metrics.h) against brute force, closed forms and
 * independent reference code written here: W1 by enumerating permutations and by a
 * textbook Hungarian algorithm, the 1-D W1 by integrating |Fa - Fb|, the Frechet
 * distance by closed forms, KID by its formula on a single subset, Kendall's tau by
 * counting pairs; the health verdicts on synthetic series. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "numcheck.h"
#include "wgan/metrics.h"

#define CHECK(call) nc_check((call), #call)

/* ---- test helpers ---- */

static double gauss(nc_rng *rng) {
    double u1 = nc_rng_unit(rng), u2 = nc_rng_unit(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double uniform(nc_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * nc_rng_unit(rng);
}

static void fill_gauss(nc_rng *rng, double *x, int64_t n, double mean, double std) {
    for (int64_t i = 0; i < n; i++) x[i] = mean + std * gauss(rng);
}

static void shuffle_points(nc_rng *rng, double *x, int64_t n, int dim) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(nc_rng_next(rng) % (uint64_t)(i + 1));
        for (int k = 0; k < dim; k++) {
            double t = x[i * dim + k];
            x[i * dim + k] = x[j * dim + k];
            x[j * dim + k] = t;
        }
    }
}

static void expect_rel(const char *what, double got, double want, double rtol, double atol) {
    if (!(fabs(got - want) <= rtol * fabs(want) + atol))
        fail_msg("%s: got %.17g, want %.17g (|diff| %.3g, rtol %.3g, atol %.3g)", what, got, want,
                 fabs(got - want), rtol, atol);
}

static void expect_status(wg_status got, wg_status want, const char *what) {
    if (got != want)
        fail_msg("%s: got %s, want %s (%s)", what, wg_status_name(got), wg_status_name(want),
                 wg_last_error());
    if (want != WG_OK && wg_last_error()[0] == '\0') fail_msg("%s: no error message", what);
    wg_clear_error();
}

/* Minimum over all permutations of sum_i cost[i][perm[i]], n <= 8. */
static double brute_force_assignment(const double *cost, int n) {
    int perm[8], c[8] = {0};
    for (int i = 0; i < n; i++) perm[i] = i;
    double best = 0.0;
    for (int i = 0; i < n; i++) best += cost[i * n + perm[i]];
    /* Heap's algorithm, iterative. */
    for (int i = 1; i < n;) {
        if (c[i] < i) {
            int j = i % 2 ? c[i] : 0, t = perm[j];
            perm[j] = perm[i];
            perm[i] = t;
            double sum = 0.0;
            for (int r = 0; r < n; r++) sum += cost[r * n + perm[r]];
            if (sum < best) best = sum;
            c[i]++;
            i = 1;
        } else {
            c[i++] = 0;
        }
    }
    return best;
}

/* The O(n^3) Hungarian algorithm with potentials, in its textbook form. */
static double hungarian_reference(const double *cost, int n) {
    double *u = nc_buf(n + 1), *v = nc_buf(n + 1), *minv = nc_buf(n + 1);
    double *p_d = nc_buf(n + 1), *way_d = nc_buf(n + 1), *used_d = nc_buf(n + 1);
    /* Indices kept in doubles so every buffer is tracked by the fixture. */
    for (int i = 1; i <= n; i++) {
        p_d[0] = i;
        int j0 = 0;
        for (int j = 0; j <= n; j++) minv[j] = INFINITY, used_d[j] = 0;
        do {
            used_d[j0] = 1;
            int i0 = (int)p_d[j0], j1 = 0;
            double delta = INFINITY;
            for (int j = 1; j <= n; j++)
                if (!used_d[j]) {
                    double cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                    if (cur < minv[j]) minv[j] = cur, way_d[j] = j0;
                    if (minv[j] < delta) delta = minv[j], j1 = j;
                }
            for (int j = 0; j <= n; j++)
                if (used_d[j])
                    u[(int)p_d[j]] += delta, v[j] -= delta;
                else
                    minv[j] -= delta;
            j0 = j1;
        } while (p_d[j0] != 0);
        do {
            int j1 = (int)way_d[j0];
            p_d[j0] = p_d[j1];
            j0 = j1;
        } while (j0);
    }
    double total = 0.0;
    for (int j = 1; j <= n; j++) total += cost[((int)p_d[j] - 1) * n + (j - 1)];
    return total;
}

static void distance_matrix(const double *a, const double *b, int n, int dim, double *cost) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int k = 0; k < dim; k++)
                s += (a[i * dim + k] - b[j * dim + k]) * (a[i * dim + k] - b[j * dim + k]);
            cost[i * n + j] = sqrt(s);
        }
}

/* ---- W1 ---- */

static void test_w1_point_masses(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 point masses"));
    double x = uniform(&rng, -3, 3), y = uniform(&rng, -3, 3), w;
    CHECK(wg_metric_w1_1d(&x, 1, &y, 1, &w));
    expect_rel("1-D point masses", w, fabs(x - y), 1e-15, 0);
    /* n copies of one point against n copies of another: every matching costs |a - b|. */
    const int n = 17, dim = 3;
    double *a = nc_buf(n * dim), *b = nc_buf(n * dim), pa[3], pb[3], d2 = 0.0;
    for (int k = 0; k < dim; k++) {
        pa[k] = uniform(&rng, -2, 2);
        pb[k] = uniform(&rng, -2, 2);
        d2 += (pa[k] - pb[k]) * (pa[k] - pb[k]);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dim; k++) a[i * dim + k] = pa[k], b[i * dim + k] = pb[k];
    CHECK(wg_metric_w1(a, b, n, dim, &w));
    expect_rel("3-D point masses", w, sqrt(d2), 1e-14, 0);
    CHECK(wg_metric_w1(a, b, 1, dim, &w));
    expect_rel("3-D single points", w, sqrt(d2), 1e-14, 0);
}

/* Translation is an optimal plan between a set and its shifted copy: W1 >= |mean
 * difference| = |shift| (Jensen) and the translation attains it. */
static void test_w1_shifted_copy(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 shift"));
    for (int dim = 2; dim <= 3; dim++) {
        const int n = 300;
        double *a = nc_buf(n * dim), *b = nc_buf(n * dim), shift[3], len2 = 0.0, w;
        fill_gauss(&rng, a, n * dim, 0.0, 1.0);
        for (int k = 0; k < dim; k++) {
            shift[k] = uniform(&rng, -1.5, 1.5);
            len2 += shift[k] * shift[k];
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < dim; k++) b[i * dim + k] = a[i * dim + k] + shift[k];
        shuffle_points(&rng, b, n, dim);
        CHECK(wg_metric_w1(a, b, n, dim, &w));
        expect_rel("W1 to a shifted copy", w, sqrt(len2), 1e-12, 0);
    }
}

static void test_w1_permutation_is_zero(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 permutation"));
    for (int dim = 1; dim <= 2; dim++) {
        const int n = 400;
        double *a = nc_buf(n * dim), *b = nc_buf(n * dim), w = -1;
        fill_gauss(&rng, a, n * dim, 0.3, 2.0);
        memcpy(b, a, sizeof(double) * n * dim);
        shuffle_points(&rng, b, n, dim);
        CHECK(wg_metric_w1(a, b, n, dim, &w));
        assert_true(w == 0.0);
    }
}

static void test_w1_1d_gaussians(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 gaussians"));
    const int n = 100000, nb = 70001;
    double d = uniform(&rng, 0.5, 2.0), w;
    double *a = nc_buf(n), *b = nc_buf(n);
    fill_gauss(&rng, a, n, 0.0, 1.0);
    fill_gauss(&rng, b, n, d, 1.0);
    CHECK(wg_metric_w1_1d(a, n, b, n, &w));
    expect_rel("W1(N(0,1), N(d,1)), equal sizes", w, d, 0, 0.02);
    CHECK(wg_metric_w1_1d(a, n, b, nb, &w));
    expect_rel("W1(N(0,1), N(d,1)), unequal sizes", w, d, 0, 0.02);
}

/* W1 in 1-D is also the integral of |Fa(x) - Fb(x)| over x: an independent formula. */
static double w1_by_cdf(const double *a, int na, const double *b, int nb) {
    double *sa = nc_buf(na), *sb = nc_buf(nb);
    memcpy(sa, a, sizeof(double) * na);
    memcpy(sb, b, sizeof(double) * nb);
    met_sort(sa, na);
    met_sort(sb, nb);
    int i = 0, j = 0;
    double w = 0.0, x = fmin(sa[0], sb[0]);
    while (i < na || j < nb) {
        double next = j >= nb || (i < na && sa[i] <= sb[j]) ? sa[i] : sb[j];
        w += fabs((double)i / na - (double)j / nb) * (next - x);
        x = next;
        while (i < na && sa[i] == x) i++;
        while (j < nb && sb[j] == x) j++;
    }
    return w;
}

static void test_w1_1d_unequal_sizes(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 unequal"));
    for (int trial = 0; trial < 40; trial++) {
        int na = 1 + (int)(nc_rng_next(&rng) % 60), nb = 1 + (int)(nc_rng_next(&rng) % 60);
        double *a = nc_buf(na), *b = nc_buf(nb), w;
        fill_gauss(&rng, a, na, 0.0, 1.0);
        fill_gauss(&rng, b, nb, uniform(&rng, -1, 1), uniform(&rng, 0.5, 2));
        /* Repeated values exercise the tie handling of both formulas. */
        if (trial % 4 == 0)
            for (int i = 0; i < na; i++) a[i] = round(a[i] * 2) / 2;
        CHECK(wg_metric_w1_1d(a, na, b, nb, &w));
        expect_rel("1-D W1 against the CDF formula", w, w1_by_cdf(a, na, b, nb), 1e-12, 1e-14);
    }
}

static void test_w1_brute_force(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("w1 brute force"));
    double cost[64];
    for (int dim = 1; dim <= 3; dim++)
        for (int n = 1; n <= 7; n++)
            for (int trial = 0; trial < 6; trial++) {
                double *a = nc_buf(n * dim), *b = nc_buf(n * dim), w;
                fill_gauss(&rng, a, n * dim, 0.0, 1.0);
                fill_gauss(&rng, b, n * dim, 0.5, 1.5);
                distance_matrix(a, b, n, dim, cost);
                CHECK(wg_metric_w1(a, b, n, dim, &w));
                expect_rel("W1 against all permutations", w, brute_force_assignment(cost, n) / n,
                           1e-12, 0);
            }
}

static void check_assignment(const double *cost, int n, double want) {
    int64_t cols[64];
    double total;
    CHECK(wg_metric_assignment(cost, n, cols, &total));
    expect_rel("assignment total", total, want, 1e-12, 1e-12);
    bool seen[64] = {false};
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        assert_true(cols[i] >= 0 && cols[i] < n && !seen[cols[i]]);
        seen[cols[i]] = true;
        sum += cost[i * n + cols[i]];
    }
    expect_rel("assignment total from its matching", sum, total, 1e-15, 0);
}

/* Many equal costs, negative costs and rows or columns of constants: the degenerate
 * cases where a floating-point assignment solver can cycle or pick a non-permutation. */
static void test_assignment_degenerate_brute_force(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("assignment ties"));
    double cost[64];
    for (int n = 1; n <= 7; n++)
        for (int trial = 0; trial < 30; trial++) {
            for (int k = 0; k < n * n; k++) {
                switch (trial % 3) {
                case 0: cost[k] = (double)(nc_rng_next(&rng) % 3); break;
                case 1: cost[k] = (double)(nc_rng_next(&rng) % 5) - 2.5; break;
                default: cost[k] = uniform(&rng, -1e3, 1e3); break;
                }
            }
            if (trial == 7 && n > 1)
                for (int j = 0; j < n; j++) cost[j] = 4.0; /* a constant row */
            check_assignment(cost, n, brute_force_assignment(cost, n));
        }
    for (int k = 0; k < 49; k++) cost[k] = 1.25;
    check_assignment(cost, 7, 7 * 1.25);
}

static void test_assignment_against_hungarian(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("assignment hungarian"));
    /* Random costs, then the structured case the metric meets: a clustered mixture
     * against a blob. */
    for (int trial = 0; trial < 3; trial++) {
        const int n = trial == 0 ? 150 : 300;
        double *cost = nc_buf(n * n), total;
        if (trial == 0) {
            for (int k = 0; k < n * n; k++) cost[k] = uniform(&rng, 0, 10);
        } else {
            double *a = nc_buf(2 * n), *b = nc_buf(2 * n);
            for (int i = 0; i < n; i++) {
                double ang = (double)(i % 8) * M_PI / 4;
                a[2 * i] = 2 * cos(ang) + 0.02 * gauss(&rng);
                a[2 * i + 1] = 2 * sin(ang) + 0.02 * gauss(&rng);
            }
            fill_gauss(&rng, b, 2 * n, 0.0, trial == 1 ? 1.0 : 0.01);
            distance_matrix(a, b, n, 2, cost);
        }
        CHECK(wg_metric_assignment(cost, n, NULL, &total));
        expect_rel("assignment against the Hungarian algorithm", total,
                   hungarian_reference(cost, n), 1e-11, 0);
    }
}

static void test_w1_bad_input(void **state) {
    (void)state;
    double a[4] = {0.5, 1, 2, 3}, b[4] = {1, 2, 3, 4}, w = 0;
    expect_status(wg_metric_w1(NULL, b, 2, 2, &w), WG_ERR_INVALID, "NULL points");
    expect_status(wg_metric_w1(a, b, 0, 2, &w), WG_ERR_INVALID, "n = 0");
    expect_status(wg_metric_w1(a, b, 2, 0, &w), WG_ERR_INVALID, "dim = 0");
    expect_status(wg_metric_w1_1d(a, 4, b, 0, &w), WG_ERR_INVALID, "empty second set");
    b[3] = NAN;
    expect_status(wg_metric_w1(a, b, 2, 2, &w), WG_ERR_NUMERIC, "NaN coordinate");
    expect_status(wg_metric_w1_1d(a, 4, b, 4, &w), WG_ERR_NUMERIC, "NaN value");
    double cost[4] = {1, 2, INFINITY, 0};
    expect_status(wg_metric_assignment(cost, 2, NULL, &w), WG_ERR_NUMERIC, "infinite cost");
    expect_status(wg_metric_assignment(cost, WG_METRIC_ASSIGNMENT_MAX_N + 1, NULL, &w),
                  WG_ERR_INVALID, "n too large");
    assert_true(w == 0);
}

/* ---- modes ---- */

static const double mode_std = 0.02 / 1.414;

static void eight_centers(double *c) {
    for (int m = 0; m < 8; m++) {
        c[2 * m] = 2.0 * cos(m * M_PI / 4) / 1.414;
        c[2 * m + 1] = 2.0 * sin(m * M_PI / 4) / 1.414;
    }
}

/* A point within `r` std of center m, uniform in angle. */
static void near_mode(nc_rng *rng, const double *centers, int m, double r, double *out) {
    double ang = uniform(rng, 0, 2 * M_PI), rad = uniform(rng, 0, r) * mode_std;
    out[0] = centers[2 * m] + rad * cos(ang);
    out[1] = centers[2 * m + 1] + rad * sin(ang);
}

static void test_modes_single_mode(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("modes single"));
    double centers[16];
    eight_centers(centers);
    const int n = 500;
    double *x = nc_buf(2 * n);
    for (int i = 0; i < n; i++) near_mode(&rng, centers, 3, 2.9, x + 2 * i);
    wg_mode_stats st;
    int64_t counts[8];
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, NULL, &st, counts));
    assert_int_equal(st.covered, 1);
    assert_int_equal(st.high_quality, n);
    assert_true(st.high_quality_share == 1.0);
    assert_int_equal(st.threshold, 5); /* 1% of 500 */
    for (int m = 0; m < 8; m++) assert_int_equal(counts[m], m == 3 ? n : 0);
}

static void test_modes_uniform_over_all(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("modes all"));
    double centers[16];
    eight_centers(centers);
    const int n = 800;
    double *x = nc_buf(2 * n);
    for (int i = 0; i < n; i++) near_mode(&rng, centers, i % 8, 2.9, x + 2 * i);
    wg_mode_stats st;
    int64_t counts[8];
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, NULL, &st, counts));
    assert_int_equal(st.covered, 8);
    assert_true(st.high_quality_share == 1.0);
    for (int m = 0; m < 8; m++) assert_int_equal(counts[m], n / 8);
    /* Between 3 and 4 std from their mode: near no mode with radius 3, near with 4. */
    for (int i = 0; i < n; i++) {
        double ang = uniform(&rng, 0, 2 * M_PI), rad = uniform(&rng, 3.05, 3.95) * mode_std;
        x[2 * i] = centers[2 * (i % 8)] + rad * cos(ang);
        x[2 * i + 1] = centers[2 * (i % 8) + 1] + rad * sin(ang);
    }
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, NULL, &st, NULL));
    assert_int_equal(st.covered, 0);
    assert_int_equal(st.high_quality, 0);
    wg_mode_options wide = wg_mode_options_default();
    wide.radius = 4.0;
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, &wide, &st, NULL));
    assert_int_equal(st.covered, 8);
}

static void test_modes_junk_fraction_and_threshold(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("modes junk"));
    double centers[16];
    eight_centers(centers);
    const int n = 1000, junk = 137;
    double *x = nc_buf(2 * n);
    int64_t want[8] = {0};
    /* Mode 5 gets 9 samples, under 1% of 1000; the rest share modes 0..4, 6, 7. */
    for (int i = 0; i < n - junk; i++) {
        int m = i < 9 ? 5 : (int)(nc_rng_next(&rng) % 7);
        if (i >= 9 && m == 5) m = 7;
        near_mode(&rng, centers, m, 2.9, x + 2 * i);
        want[m]++;
    }
    for (int i = n - junk; i < n; i++) {
        x[2 * i] = uniform(&rng, 3, 9) * (i % 2 ? 1 : -1);
        x[2 * i + 1] = uniform(&rng, -9, 9);
    }
    shuffle_points(&rng, x, n, 2);
    wg_mode_stats st;
    int64_t counts[8];
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, NULL, &st, counts));
    assert_true(st.high_quality_share == (double)(n - junk) / n);
    assert_int_equal(st.high_quality, n - junk);
    assert_int_equal(st.threshold, 10);
    assert_int_equal(st.covered, 7);
    for (int m = 0; m < 8; m++) assert_int_equal(counts[m], want[m]);
    wg_mode_options by_count = wg_mode_options_default();
    by_count.min_count = 9;
    CHECK(wg_metric_modes(x, n, 2, centers, 8, mode_std, &by_count, &st, NULL));
    assert_int_equal(st.covered, 8);
    assert_int_equal(st.threshold, 9);
    expect_status(wg_metric_modes(x, n, 2, centers, 8, 0.0, NULL, &st, NULL), WG_ERR_INVALID,
                  "std = 0");
    by_count.min_share = 1.5;
    expect_status(wg_metric_modes(x, n, 2, centers, 8, mode_std, &by_count, &st, NULL),
                  WG_ERR_INVALID, "min_share > 1");
}

/* ---- Lipschitz estimates ---- */

static void test_lipschitz_linear_critic(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("lipschitz"));
    const int n = 200, dim = 5;
    double wv[5], norm2 = 0.0;
    for (int k = 0; k < dim; k++) {
        wv[k] = uniform(&rng, -2, 2);
        norm2 += wv[k] * wv[k];
    }
    double *x = nc_buf(n * dim), *y = nc_buf(n * dim), *fx = nc_buf(n), *fy = nc_buf(n);
    fill_gauss(&rng, x, n * dim, 0.0, 1.0);
    fill_gauss(&rng, y, n * dim, 0.0, 1.0);
    /* Pair 17 differs along w, where a linear critic attains its constant |w|; pair 40
     * repeats a point and must be skipped. */
    double step = uniform(&rng, 0.1, 1.0);
    for (int k = 0; k < dim; k++) y[17 * dim + k] = x[17 * dim + k] + step * wv[k];
    for (int k = 0; k < dim; k++) y[40 * dim + k] = x[40 * dim + k];
    for (int i = 0; i < n; i++) {
        fx[i] = 0.3;
        fy[i] = 0.3;
        for (int k = 0; k < dim; k++)
            fx[i] += wv[k] * x[i * dim + k], fy[i] += wv[k] * y[i * dim + k];
    }
    wg_lipschitz_estimate e;
    CHECK(wg_metric_lipschitz_pairs(x, y, fx, fy, n, dim, &e));
    expect_rel("max ratio of a linear critic", e.max_ratio, sqrt(norm2), 1e-12, 0);
    assert_int_equal(e.argmax, 17);
    assert_int_equal(e.n_used, n - 1);
    assert_true(e.mean_ratio > 0 && e.mean_ratio <= e.max_ratio);
    expect_status(wg_metric_lipschitz_pairs(x, x, fx, fx, n, dim, &e), WG_ERR_INVALID,
                  "only equal pairs");
}

static void test_norm_stats(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("norm stats"));
    const int n = 1001;
    double *v = nc_buf(n), tol = 0.05;
    for (int i = 0; i < n; i++) v[i] = fabs(1.0 + 0.1 * gauss(&rng));
    wg_norm_stats st;
    CHECK(wg_metric_norm_stats(v, n, tol, &st));
    double sum = 0, sq = 0, mn = INFINITY, mx = 0;
    int above = 0, below = 0;
    for (int i = 0; i < n; i++) {
        sum += v[i];
        sq += v[i] * v[i];
        mn = fmin(mn, v[i]);
        mx = fmax(mx, v[i]);
        above += v[i] > 1 + tol;
        below += v[i] < 1 - tol;
    }
    double mean = sum / n;
    expect_rel("mean", st.mean, mean, 1e-13, 0);
    expect_rel("std", st.std, sqrt((sq - n * mean * mean) / (n - 1)), 1e-9, 0);
    assert_true(st.min == mn && st.max == mx);
    assert_true(st.share_above == (double)above / n && st.share_below == (double)below / n);
    CHECK(wg_metric_norm_stats(v, 1, 0, &st));
    assert_true(st.std == 0 && st.mean == v[0]);
    v[3] = -1;
    expect_status(wg_metric_norm_stats(v, n, tol, &st), WG_ERR_INVALID, "negative norm");
    v[3] = NAN;
    expect_status(wg_metric_norm_stats(v, n, tol, &st), WG_ERR_NUMERIC, "NaN norm");
}

/* ---- eigensolver, Frechet distance, KID ---- */

static void test_sym_eigen(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("eigen"));
    const int n = 40;
    double *a = nc_buf(n * n), *work = nc_buf(n * n), *vals = nc_buf(n), *vecs = nc_buf(n * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = gauss(&rng);
    memcpy(work, a, sizeof(double) * n * n);
    CHECK(met_sym_eigen(work, n, vals, vecs));
    for (int k = 1; k < n; k++) assert_true(vals[k - 1] <= vals[k]);
    double worst_res = 0, worst_orth = 0;
    for (int k = 0; k < n; k++) {
        const double *v = vecs + k * n;
        for (int i = 0; i < n; i++) {
            double av = 0;
            for (int j = 0; j < n; j++) av += a[i * n + j] * v[j];
            worst_res = fmax(worst_res, fabs(av - vals[k] * v[i]));
        }
        for (int l = 0; l < n; l++) {
            double d = 0;
            for (int i = 0; i < n; i++) d += v[i] * vecs[l * n + i];
            worst_orth = fmax(worst_orth, fabs(d - (k == l)));
        }
    }
    if (worst_res > 1e-12 * n || worst_orth > 1e-13 * n)
        fail_msg("eigen: residual %.3g, orthogonality error %.3g", worst_res, worst_orth);
    /* eigenvalues alone: the same values, summing to the trace */
    double *alone = nc_buf(n), trace = 0, sum = 0;
    memcpy(work, a, sizeof(double) * n * n);
    CHECK(met_sym_eigen(work, n, alone, NULL));
    for (int k = 0; k < n; k++) {
        trace += a[k * n + k];
        sum += alone[k];
        expect_rel("eigenvalue without vectors", alone[k], vals[k], 1e-12, 1e-12);
    }
    expect_rel("sum of eigenvalues", sum, trace, 1e-12, 1e-12 * n);
}

/* x = mean + z A (A dim x dim), rows of z standard normal. */
static void correlated(nc_rng *rng, double *x, int n, int dim, const double *mean,
                       const double *A) {
    double z[64];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < dim; k++) z[k] = gauss(rng);
        for (int c = 0; c < dim; c++) {
            double s = mean ? mean[c] : 0.0;
            for (int k = 0; k < dim; k++) s += z[k] * A[k * dim + c];
            x[i * dim + c] = s;
        }
    }
}

static void test_fid_of_a_set_with_itself(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("fid self"));
    const int dim = 32, n = 3000;
    double *A = nc_buf(dim * dim), *x = nc_buf(n * dim), fid;
    for (int k = 0; k < dim * dim; k++) A[k] = gauss(&rng) / sqrt(dim);
    for (int k = 0; k < dim; k++) A[k * dim + k] += uniform(&rng, 0.5, 2.0);
    correlated(&rng, x, n, dim, NULL, A);
    wg_gaussian g = {0};
    CHECK(wg_gaussian_fit(x, n, dim, &g));
    double trace = 0;
    for (int k = 0; k < dim; k++) trace += g.cov[k * dim + k];
    wg_gaussian_free(&g);
    assert_null(g.mean);
    CHECK(wg_metric_fid(x, n, x, n, dim, &fid));
    if (!(fid >= 0 && fid < 1e-6 * trace)) fail_msg("FID(x, x) = %.3g, trace %.3g", fid, trace);
    /* Fewer points than dimensions: a singular covariance. */
    CHECK(wg_metric_fid(x, 12, x, 12, dim, &fid));
    if (!(fid >= 0 && fid < 1e-6 * trace)) fail_msg("singular FID(x, x) = %.3g", fid);
}

static void test_fid_of_shifted_gaussians(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("fid shift"));
    const int dim = 8, n = 20000;
    double *a = nc_buf(n * dim), *b = nc_buf(n * dim), m2 = 0, fid;
    fill_gauss(&rng, a, n * dim, 0.0, 1.0);
    double m[8];
    for (int k = 0; k < dim; k++) {
        m[k] = uniform(&rng, -1, 1);
        m2 += m[k] * m[k];
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dim; k++) b[i * dim + k] = m[k] + gauss(&rng);
    CHECK(wg_metric_fid(a, n, b, n, dim, &fid));
    /* Sampling error: about 2 |m| sqrt(2/n) from the means, d^2/n from the covariances. */
    expect_rel("FID(N(0,I), N(m,I))", fid, m2, 0, 0.05 + 0.05 * m2);
}

static wg_gaussian exact_gaussian(int dim, double *mean, double *cov) {
    return (wg_gaussian){.dim = dim, .n = 0, .mean = mean, .cov = cov};
}

static void test_frechet_closed_forms(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("frechet closed"));
    const int dim = 12;
    double *m1 = nc_buf(dim), *m2 = nc_buf(dim), *c1 = nc_buf(dim * dim), *c2 = nc_buf(dim * dim);
    double s1[12], s2[12], want = 0, got;
    for (int k = 0; k < dim; k++) {
        m1[k] = gauss(&rng);
        m2[k] = gauss(&rng);
        s1[k] = uniform(&rng, 0.1, 3);
        s2[k] = uniform(&rng, 0.1, 3);
        c1[k * dim + k] = s1[k];
        c2[k * dim + k] = s2[k];
        want += (m1[k] - m2[k]) * (m1[k] - m2[k]) +
                (sqrt(s1[k]) - sqrt(s2[k])) * (sqrt(s1[k]) - sqrt(s2[k]));
    }
    wg_gaussian g1 = exact_gaussian(dim, m1, c1), g2 = exact_gaussian(dim, m2, c2);
    CHECK(wg_metric_frechet(&g1, &g2, &got));
    expect_rel("Frechet of diagonal gaussians", got, want, 1e-12, 0);
    /* The same spectra in a random orthonormal basis Q: C = Q diag Q^T commute. */
    double *q = nc_buf(dim * dim);
    for (int k = 0; k < dim * dim; k++) q[k] = gauss(&rng);
    for (int r = 0; r < dim; r++) { /* Gram-Schmidt on the rows */
        for (int p = 0; p < r; p++) {
            double d = 0;
            for (int k = 0; k < dim; k++) d += q[r * dim + k] * q[p * dim + k];
            for (int k = 0; k < dim; k++) q[r * dim + k] -= d * q[p * dim + k];
        }
        double len = 0;
        for (int k = 0; k < dim; k++) len += q[r * dim + k] * q[r * dim + k];
        for (int k = 0; k < dim; k++) q[r * dim + k] /= sqrt(len);
    }
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < dim; j++) {
            double a = 0, b = 0;
            for (int k = 0; k < dim; k++) {
                a += q[k * dim + i] * s1[k] * q[k * dim + j];
                b += q[k * dim + i] * s2[k] * q[k * dim + j];
            }
            c1[i * dim + j] = a;
            c2[i * dim + j] = b;
        }
    CHECK(wg_metric_frechet(&g1, &g2, &got));
    expect_rel("Frechet of rotated diagonal gaussians", got, want, 1e-11, 0);
    /* 2 x 2, not commuting: Tr (C1^1/2 C2 C1^1/2)^1/2 = sqrt(tr(C1 C2) + 2 sqrt(det C1 det C2)). */
    for (int trial = 0; trial < 20; trial++) {
        double p[4], r[4];
        for (int k = 0; k < 4; k++) p[k] = gauss(&rng), r[k] = gauss(&rng);
        double a[4] = {p[0] * p[0] + p[1] * p[1] + 0.1, p[0] * p[2] + p[1] * p[3], 0,
                       p[2] * p[2] + p[3] * p[3] + 0.1};
        double b[4] = {r[0] * r[0] + r[1] * r[1] + 0.1, r[0] * r[2] + r[1] * r[3], 0,
                       r[2] * r[2] + r[3] * r[3] + 0.1};
        a[2] = a[1];
        b[2] = b[1];
        double mu1[2] = {gauss(&rng), gauss(&rng)}, mu2[2] = {gauss(&rng), gauss(&rng)};
        double tr12 = a[0] * b[0] + a[1] * b[2] + a[2] * b[1] + a[3] * b[3];
        double det = (a[0] * a[3] - a[1] * a[2]) * (b[0] * b[3] - b[1] * b[2]);
        double ref = (mu1[0] - mu2[0]) * (mu1[0] - mu2[0]) + (mu1[1] - mu2[1]) * (mu1[1] - mu2[1]) +
                     a[0] + a[3] + b[0] + b[3] - 2 * sqrt(tr12 + 2 * sqrt(det));
        wg_gaussian h1 = exact_gaussian(2, mu1, a), h2 = exact_gaussian(2, mu2, b);
        CHECK(wg_metric_frechet(&h1, &h2, &got));
        expect_rel("Frechet of 2 x 2 gaussians", got, ref, 1e-10, 1e-12);
    }
    wg_gaussian bad = exact_gaussian(3, m1, c1);
    expect_status(wg_metric_frechet(&g1, &bad, &got), WG_ERR_INVALID, "dimension mismatch");
}

static void test_fid_of_diagonal_gaussian_samples(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("fid diagonal samples"));
    const int dim = 6, n = 40000;
    double *a = nc_buf(n * dim), *b = nc_buf(n * dim), want = 0, fid, s1[6], s2[6], d[6];
    for (int k = 0; k < dim; k++) {
        s1[k] = uniform(&rng, 0.3, 2);
        s2[k] = uniform(&rng, 0.3, 2);
        d[k] = uniform(&rng, -0.5, 0.5);
        want += d[k] * d[k] + (s1[k] - s2[k]) * (s1[k] - s2[k]); /* s are standard deviations */
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dim; k++) {
            a[i * dim + k] = s1[k] * gauss(&rng);
            b[i * dim + k] = d[k] + s2[k] * gauss(&rng);
        }
    CHECK(wg_metric_fid(a, n, b, n, dim, &fid));
    expect_rel("FID of diagonal gaussian samples", fid, want, 0.05, 0.01);
}

/* Unbiased MMD^2 of the whole sets, straight from the definition. */
static double mmd_reference(const double *x, const double *y, int m, int dim) {
    double kxx = 0, kyy = 0, kxy = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double dxx = 0, dyy = 0, dxy = 0;
            for (int k = 0; k < dim; k++) {
                dxx += x[i * dim + k] * x[j * dim + k];
                dyy += y[i * dim + k] * y[j * dim + k];
                dxy += x[i * dim + k] * y[j * dim + k];
            }
            if (i != j) kxx += pow(dxx / dim + 1, 3), kyy += pow(dyy / dim + 1, 3);
            kxy += pow(dxy / dim + 1, 3);
        }
    return (kxx + kyy) / ((double)m * (m - 1)) - 2 * kxy / ((double)m * m);
}

static void test_kid(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("kid"));
    const int dim = 16, n = 1200;
    double *a = nc_buf(n * dim), *b = nc_buf(n * dim);
    fill_gauss(&rng, a, n * dim, 0.0, 1.0);
    fill_gauss(&rng, b, n * dim, 0.0, 1.0);
    /* Every subset is the whole set when subset_size == n: the exact formula. */
    wg_kid_options o = {.subset_size = 150, .n_subsets = 3, .seed = 5};
    wg_kid_result r;
    CHECK(wg_metric_kid(a, 150, b + 7 * dim, 150, dim, &o, &r));
    expect_rel("KID of one full subset", r.mean, mmd_reference(a, b + 7 * dim, 150, dim), 1e-10,
               1e-13);
    assert_true(r.std <= 1e-12); /* only the summation order differs */
    /* Two samples of one distribution: zero in expectation. */
    o = (wg_kid_options){.subset_size = 300, .n_subsets = 30, .seed = nc_run_seed()};
    CHECK(wg_metric_kid(a, n, b, n, dim, &o, &r));
    if (!(fabs(r.mean) < 4 * r.std))
        fail_msg("KID of two samples of N(0, I) = %.3g +- %.3g is not near 0", r.mean, r.std);
    /* A set against itself. Subsets of one set never pair a point with itself inside a
     * subset but do across the two subsets, so the expectation over subset draws is
     * (2 / n) (mean of k(x, y) over x != y - mean of k(x, x)): near zero, negative. */
    double off = 0, diag = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double k = pow(met_dot(a + i * dim, a + j * dim, dim) / dim + 1, 3);
            if (i == j)
                diag += k;
            else
                off += k;
        }
    double expected = 2.0 / n * (off / ((double)n * (n - 1)) - diag / n);
    CHECK(wg_metric_kid(a, n, a, n, dim, &o, &r));
    wg_kid_result same = r;
    if (!(fabs(same.mean - expected) < 5 * same.std / sqrt(30) + 1e-12 && expected < 0))
        fail_msg("KID(a, a) = %.3g +- %.3g, expected %.3g", same.mean, same.std, expected);
    /* Same seed, same subsets, same numbers whatever the thread schedule. */
    CHECK(wg_metric_kid(a, n, a, n, dim, &o, &r));
    assert_true(r.mean == same.mean && r.std == same.std);
    /* Growing shifts give growing KID, each far above the noise of the self-KID. */
    double prev = same.mean;
    for (int s = 1; s <= 3; s++) {
        for (int i = 0; i < n * dim; i++) b[i] = a[i] + 0.25 * s;
        shuffle_points(&rng, b, n, dim);
        CHECK(wg_metric_kid(a, n, b, n, dim, &o, &r));
        if (!(r.mean > prev + 2 * r.std && r.mean > same.mean + 10 * same.std))
            fail_msg("KID with shift %.2f per coordinate: %.4g +- %.3g, previous %.4g, self %.4g "
                     "+- %.3g",
                     0.25 * s, r.mean, r.std, prev, same.mean, same.std);
        prev = r.mean;
    }
    o.subset_size = n + 1;
    expect_status(wg_metric_kid(a, n, b, n, dim, &o, &r), WG_ERR_INVALID, "subset too large");
    o.subset_size = 0;
    CHECK(wg_metric_kid(a, n, b, 900, dim, &o, &r));
    assert_int_equal(r.subset_size, 900);
}

/* ---- training health ---- */

#define MAX_POINTS 1000
static int64_t steps_buf[MAX_POINTS];

static wg_health_series make_series(int n, double *w, double *critic, double *gen) {
    assert_true(n <= MAX_POINTS);
    for (int i = 0; i < n; i++) steps_buf[i] = 100 + 25 * (int64_t)i;
    return (wg_health_series){
        .n = n, .steps = steps_buf, .w = w, .critic_loss = critic, .gen_loss = gen};
}

static void print_report(const wg_health_report *r) {
    for (int i = 0; i < WG_HEALTH_COUNT; i++)
        print_message("  %-20s %-7s %s\n", r->checks[i].name, wg_verdict_name(r->checks[i].verdict),
                      r->checks[i].reason);
}

static void expect_verdict(const wg_health_report *r, wg_health_kind kind, wg_verdict want,
                           const char *what) {
    if (r->checks[kind].verdict != want) {
        print_report(r);
        fail_msg("%s: %s is %s, want %s", what, r->checks[kind].name,
                 wg_verdict_name(r->checks[kind].verdict), wg_verdict_name(want));
    }
}

/* 2 exp(-3 t) + noise over t in [0, 1): still decaying in the second half. */
static void decaying(nc_rng *rng, double *w, int n, double noise) {
    for (int i = 0; i < n; i++) w[i] = 2.0 * exp(-3.0 * i / n) + noise * gauss(rng);
}

static void test_health_decay_passes_all(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health decay"));
    const int n = 400;
    double *w = nc_buf(n), *critic = nc_buf(n), *gen = nc_buf(n);
    decaying(&rng, w, n, 0.01);
    for (int i = 0; i < n; i++) critic[i] = -w[i] + 0.05 * gauss(&rng), gen[i] = gauss(&rng);
    wg_health_series s = make_series(n, w, critic, gen);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    for (int k = 0; k < WG_HEALTH_COUNT; k++) expect_verdict(&r, k, WG_VERDICT_PASS, "decay");
    assert_true(r.all_pass);
    assert_int_equal(r.n_points, n);
    assert_string_equal(r.checks[WG_HEALTH_W_DECREASING].name, "w_trend_decreasing");
    assert_string_equal(r.checks[WG_HEALTH_NO_EXPLOSION].name, "no_explosion");
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_W_DECREASING], "kendall_tau") < -0.5);
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_SMOOTH], "roughness") < 0.05);
    assert_true(isnan(wg_health_value_of(&r.checks[WG_HEALTH_SMOOTH], "no such value")));
    /* The reported numbers are the ones the verdicts were decided on. */
    const wg_health_check *c = &r.checks[WG_HEALTH_CONVERGING];
    assert_true(wg_health_value_of(c, "variance_ratio") <=
                wg_health_value_of(c, "max_variance_ratio"));
    assert_true(wg_health_value_of(c, "late_drift") <= wg_health_value_of(c, "max_late_drift"));
    assert_int_equal((int)wg_health_value_of(c, "early_points"), 100);
}

static void test_health_nan_fails_no_explosion(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health nan"));
    const int n = 400;
    double *w = nc_buf(n), *gen = nc_buf(n);
    decaying(&rng, w, n, 0.01);
    for (int i = 0; i < n; i++) gen[i] = gauss(&rng);
    w[250] = NAN;
    wg_health_series s = make_series(n, w, NULL, gen);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_NO_EXPLOSION, WG_VERDICT_FAIL, "NaN in W");
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_NO_EXPLOSION], "non_finite") == 1);
    /* The other checks look at the finite points. */
    expect_verdict(&r, WG_HEALTH_W_DECREASING, WG_VERDICT_PASS, "NaN in W");
    assert_false(r.all_pass);
    w[250] = 1.0;
    gen[10] = INFINITY;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_NO_EXPLOSION, WG_VERDICT_FAIL, "infinite generator loss");
}

static void test_health_growth_fails_no_explosion(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health growth"));
    const int n = 400;
    double *w = nc_buf(n);
    decaying(&rng, w, n, 0.01);
    for (int i = 300; i < n; i++) w[i] = 20.0 * exp((i - 300) / 20.0);
    wg_health_series s = make_series(n, w, NULL, NULL);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_NO_EXPLOSION, WG_VERDICT_FAIL, "growing W");
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_NO_EXPLOSION], "ratio") > 10);
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_NO_EXPLOSION], "non_finite") == 0);
}

static void test_health_random_walk_fails_converging(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health random walk"));
    const int n = 800;
    double *w = nc_buf(n), x = 0;
    for (int i = 0; i < n; i++) w[i] = (x += gauss(&rng));
    wg_health_series s = make_series(n, w, NULL, NULL);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_CONVERGING, WG_VERDICT_FAIL, "random walk");
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_CONVERGING], "late_von_neumann") < 1);
}

static void test_health_oscillation_fails_smooth(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health oscillation"));
    const int n = 400;
    double *w = nc_buf(n);
    decaying(&rng, w, n, 0.01);
    double amp = uniform(&rng, 0.3, 1.0);
    for (int i = 0; i < n; i++) w[i] += i % 2 ? amp : -amp;
    wg_health_series s = make_series(n, w, NULL, NULL);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_SMOOTH, WG_VERDICT_FAIL, "oscillation");
    assert_true(wg_health_value_of(&r.checks[WG_HEALTH_SMOOTH], "sign_flip_share") > 0.9);
}

/* Kendall's tau-b and the Mann-Kendall z by counting all pairs. */
static void test_health_kendall_against_pairs(void **state) {
    (void)state;
    nc_rng rng = nc_rng_for(nc_hash("health kendall"));
    const int n = 301;
    double *w = nc_buf(n);
    for (int i = 0; i < n; i++) w[i] = round(4 * (1.0 - 0.002 * i + 0.5 * gauss(&rng))) / 4;
    wg_health_series s = make_series(n, w, NULL, NULL);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    /* The second half starts at the middle step. */
    int lo = 0;
    while (steps_buf[lo] < steps_buf[0] + (steps_buf[n - 1] - steps_buf[0]) / 2.0) lo++;
    int m = n - lo;
    double S = 0, tied = 0, var = (double)m * (m - 1) * (2 * m + 5);
    for (int i = lo; i < n; i++) {
        int same = 0, first = 1;
        for (int j = lo; j < n; j++) {
            if (j > i) S += (w[j] > w[i]) - (w[j] < w[i]);
            if (w[j] == w[i]) {
                same++;
                if (j < i) first = 0;
            }
        }
        if (first) { /* one tie group, counted once */
            tied += same * (same - 1) / 2.0;
            var -= (double)same * (same - 1) * (2 * same + 5);
        }
    }
    double pairs = m * (m - 1) / 2.0;
    double tau = S / sqrt(pairs * (pairs - tied));
    double z = (S - (S > 0) + (S < 0)) / sqrt(var / 18);
    const wg_health_check *c = &r.checks[WG_HEALTH_W_DECREASING];
    assert_int_equal((int)wg_health_value_of(c, "points"), m);
    expect_rel("Kendall tau-b", wg_health_value_of(c, "kendall_tau"), tau, 1e-12, 1e-15);
    expect_rel("Mann-Kendall z", wg_health_value_of(c, "mann_kendall_z"), z, 1e-12, 1e-15);
}

static void test_health_edges(void **state) {
    (void)state;
    double w[6] = {3, 2, 1.5, 1.2, 1.1, 1.05};
    wg_health_series s = make_series(6, w, NULL, NULL);
    wg_health_report r;
    CHECK(wg_metric_health(&s, NULL, &r));
    expect_verdict(&r, WG_HEALTH_W_DECREASING, WG_VERDICT_SKIPPED, "6 points");
    expect_verdict(&r, WG_HEALTH_CONVERGING, WG_VERDICT_SKIPPED, "6 points");
    assert_false(r.all_pass);
    s.n = 0;
    CHECK(wg_metric_health(&s, NULL, &r));
    for (int k = 0; k < WG_HEALTH_COUNT; k++) expect_verdict(&r, k, WG_VERDICT_SKIPPED, "empty");
    s.n = 6;
    steps_buf[3] = steps_buf[2];
    expect_status(wg_metric_health(&s, NULL, &r), WG_ERR_INVALID, "repeated step");
    s = make_series(6, w, NULL, NULL);
    wg_health_options o = wg_health_options_default();
    o.explosion_factor = 0.5;
    expect_status(wg_metric_health(&s, &o, &r), WG_ERR_INVALID, "explosion factor < 1");
    s.w = NULL;
    expect_status(wg_metric_health(&s, NULL, &r), WG_ERR_INVALID, "no W");
    assert_string_equal(wg_verdict_name(WG_VERDICT_SKIPPED), "skipped");
}

int main(void) {
    nc_init("test_metrics");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_w1_point_masses, nc_teardown),
        cmocka_unit_test_teardown(test_w1_shifted_copy, nc_teardown),
        cmocka_unit_test_teardown(test_w1_permutation_is_zero, nc_teardown),
        cmocka_unit_test_teardown(test_w1_1d_gaussians, nc_teardown),
        cmocka_unit_test_teardown(test_w1_1d_unequal_sizes, nc_teardown),
        cmocka_unit_test_teardown(test_w1_brute_force, nc_teardown),
        cmocka_unit_test_teardown(test_assignment_degenerate_brute_force, nc_teardown),
        cmocka_unit_test_teardown(test_assignment_against_hungarian, nc_teardown),
        cmocka_unit_test_teardown(test_w1_bad_input, nc_teardown),
        cmocka_unit_test_teardown(test_modes_single_mode, nc_teardown),
        cmocka_unit_test_teardown(test_modes_uniform_over_all, nc_teardown),
        cmocka_unit_test_teardown(test_modes_junk_fraction_and_threshold, nc_teardown),
        cmocka_unit_test_teardown(test_lipschitz_linear_critic, nc_teardown),
        cmocka_unit_test_teardown(test_norm_stats, nc_teardown),
        cmocka_unit_test_teardown(test_sym_eigen, nc_teardown),
        cmocka_unit_test_teardown(test_fid_of_a_set_with_itself, nc_teardown),
        cmocka_unit_test_teardown(test_fid_of_shifted_gaussians, nc_teardown),
        cmocka_unit_test_teardown(test_frechet_closed_forms, nc_teardown),
        cmocka_unit_test_teardown(test_fid_of_diagonal_gaussian_samples, nc_teardown),
        cmocka_unit_test_teardown(test_kid, nc_teardown),
        cmocka_unit_test_teardown(test_health_decay_passes_all, nc_teardown),
        cmocka_unit_test_teardown(test_health_nan_fails_no_explosion, nc_teardown),
        cmocka_unit_test_teardown(test_health_growth_fails_no_explosion, nc_teardown),
        cmocka_unit_test_teardown(test_health_random_walk_fails_converging, nc_teardown),
        cmocka_unit_test_teardown(test_health_oscillation_fails_smooth, nc_teardown),
        cmocka_unit_test_teardown(test_health_kendall_against_pairs, nc_teardown),
        cmocka_unit_test_teardown(test_health_edges, nc_teardown),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, nc_group_teardown);
}
