/* Counter-based random draws: the generator against published known answers and an
 * independent host evaluation, their statistics, and how seed, stream and step key
 * them on every device. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "numcheck.h"
#include "tiers.h"
#include "wgan/philox.h"

#define SAMPLES 100000
/* Statistical bounds at 5 standard errors: a false alarm about once in 10^6 runs. */
#define Z 5.0

/* Random123's known-answer vectors for Philox4x32-10 (counter, key, result). */
static void test_philox_known_answers(void **state) {
    (void)state;
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        const uint32_t *v = kat[i];
        wg_philox_block b = wg_philox4x32(v[0], v[1], v[2], v[3], v[4], v[5]);
        for (int k = 0; k < 4; k++) assert_int_equal(b.x[k], v[6 + k]);
    }
}

/* One f32 or f64 graph with a uniform and a normal draw of `n` elements. */
typedef struct draws {
    wg_graph *graph;
    wg_node uniform, normal;
    wg_session *session;
    wg_plan *plan;
} draws;

static void make_draws(draws *d, wg_dtype dtype, wg_device *device, uint64_t seed, int64_t n,
                       double low, double high, double mean, double stddev) {
    d->graph = nc_graph(dtype);
    d->uniform = wg_random_uniform(d->graph, wg_shape1(n), low, high);
    d->normal = wg_random_normal(d->graph, wg_shape1(n), mean, stddev);
    d->session = nc_session(d->graph, device, seed);
    wg_node targets[2] = {d->uniform, d->normal};
    d->plan = nc_plan(d->session, 2, targets);
}

/* The documented construction evaluated on the host: element i of stream s at step t
 * uses Philox block (i, s, t) under the seed; uniform from word 0, normal by Box-Muller
 * from words 0 and 1 (cosine branch). */
static double host_unit(uint32_t bits) {
    return ((double)(bits >> 8) + 0.5) / 16777216.0;
}

static void test_draws_follow_the_documented_construction(void **state) {
    (void)state;
    const uint64_t seed = 0x0123456789abcdefull ^ nc_run_seed();
    const int64_t n = 4096;
    draws d;
    make_draws(&d, WG_F64, nc_cpu(), seed, n, -1.5, 2.5, 0.25, 1.5);
    double *u = nc_buf(n), *z = nc_buf(n), *want_u = nc_buf(n), *want_z = nc_buf(n);
    for (int step = 0; step < 3; step++) {
        nc_run(d.plan);
        nc_read(d.plan, d.uniform, u);
        nc_read(d.plan, d.normal, z);
        for (int64_t i = 0; i < n; i++) {
            wg_philox_block bu = wg_philox_element((uint64_t)i, 0, (uint64_t)step, seed);
            wg_philox_block bn = wg_philox_element((uint64_t)i, 1, (uint64_t)step, seed);
            want_u[i] = -1.5 + 4.0 * host_unit(bu.x[0]);
            double u0 = host_unit(bn.x[0]), u1 = host_unit(bn.x[1]);
            want_z[i] = 0.25 + 1.5 * sqrt(-2 * log(u0)) * cos(2 * M_PI * u1);
        }
        wg_shape shape = wg_shape1(n);
        /* the backends may evaluate in float; the construction must match to float */
        nc_expect_close("uniform draw vs host Philox", u, want_u, &shape, 1e-6, 1e-6);
        nc_expect_close("normal draw vs host Philox + Box-Muller", z, want_z, &shape, 1e-5, 1e-5);
    }
}

static void moments(const double *x, int64_t n, double *mean, double *var) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (double)(n - 1);
}

static void check_statistics(wg_device *device, wg_dtype dtype) {
    const double low = -2, high = 3, mu = 1.5, sigma = 0.7;
    draws d;
    make_draws(&d, dtype, device, nc_run_seed(), SAMPLES, low, high, mu, sigma);
    nc_run(d.plan);
    double *u = nc_buf(SAMPLES), *z = nc_buf(SAMPLES);
    nc_read(d.plan, d.uniform, u);
    nc_read(d.plan, d.normal, z);

    /* uniform: inside the open interval, moments, and every tenth of it equally full */
    int64_t bins[10] = {0};
    for (int64_t i = 0; i < SAMPLES; i++) {
        if (!(u[i] > low && u[i] < high))
            fail_msg("uniform draw %g outside (%g, %g)", u[i], low, high);
        int bin = (int)((u[i] - low) / (high - low) * 10);
        bins[bin < 10 ? bin : 9]++;
    }
    double mean, var, w = high - low;
    moments(u, SAMPLES, &mean, &var);
    double var_u = w * w / 12, se_mean = sqrt(var_u / SAMPLES);
    double se_var = sqrt((w * w * w * w / 80 - var_u * var_u) / SAMPLES);
    if (fabs(mean - (low + high) / 2) > Z * se_mean || fabs(var - var_u) > Z * se_var)
        fail_msg("uniform mean %g var %g, expected %g and %g", mean, var, (low + high) / 2, var_u);
    double p = 0.1, se_bin = sqrt(SAMPLES * p * (1 - p));
    for (int b = 0; b < 10; b++)
        if (fabs((double)bins[b] - SAMPLES * p) > Z * se_bin)
            fail_msg("uniform tenth %d holds %lld of %d draws", b, (long long)bins[b], SAMPLES);

    /* normal: mean, standard deviation, the share within one sigma, and the tails */
    moments(z, SAMPLES, &mean, &var);
    if (fabs(mean - mu) > Z * sigma / sqrt(SAMPLES))
        fail_msg("normal mean %g, expected %g", mean, mu);
    if (fabs(sqrt(var) - sigma) > Z * sigma / sqrt(2.0 * SAMPLES))
        fail_msg("normal std %g, expected %g", sqrt(var), sigma);
    int64_t inside = 0, beyond3 = 0;
    for (int64_t i = 0; i < SAMPLES; i++) {
        assert_true(isfinite(z[i]));
        double t = fabs(z[i] - mu) / sigma;
        inside += t < 1;
        beyond3 += t > 3;
    }
    double p1 = 0.682689492, p3 = 0.002699796;
    if (fabs((double)inside - SAMPLES * p1) > Z * sqrt(SAMPLES * p1 * (1 - p1)))
        fail_msg("%lld of %d normal draws within one sigma", (long long)inside, SAMPLES);
    if (fabs((double)beyond3 - SAMPLES * p3) > Z * sqrt(SAMPLES * p3 * (1 - p3)))
        fail_msg("%lld of %d normal draws beyond three sigma", (long long)beyond3, SAMPLES);
}

static void test_statistics_cpu_f32(void **state) {
    (void)state;
    check_statistics(nc_cpu(), WG_F32);
}

static void test_statistics_cpu_f64(void **state) {
    (void)state;
    check_statistics(nc_cpu(), WG_F64);
}

static void test_statistics_pocl_f32(void **state) {
    (void)state;
    check_statistics(nc_pocl_or_skip(), WG_F32);
}

static bool same(const double *a, const double *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* Streams, steps and seeds each give new numbers; the same (seed, stream, step) gives
 * the same numbers again, whatever the draw's shape and whichever session runs it. */
static void test_seed_stream_and_step(void **state) {
    (void)state;
    const int64_t n = 1000;
    wg_device *cpu = nc_cpu();
    wg_graph *g = nc_graph(WG_F32);
    wg_node a = wg_random_uniform(g, wg_shape1(n), 0, 1);
    wg_node b = wg_random_uniform(g, wg_shape1(n), 0, 1);
    wg_session *s = nc_session(g, cpu, 42);
    wg_node targets[2] = {a, b};
    wg_plan *plan = nc_plan(s, 2, targets);
    double *a0 = nc_buf(n), *b0 = nc_buf(n), *a1 = nc_buf(n), *again = nc_buf(n);
    nc_run(plan);
    nc_read(plan, a, a0);
    nc_read(plan, b, b0);
    assert_false(same(a0, b0, n)); /* two streams */
    assert_int_equal(wg_session_step(s), 1);
    nc_run(plan);
    nc_read(plan, a, a1);
    assert_false(same(a0, a1, n)); /* two steps */
    wg_session_set_step(s, 0);
    nc_run(plan);
    nc_read(plan, a, again);
    assert_true(same(a0, again, n)); /* rewound step */

    /* a second session with the same seed, a smaller draw of the same stream */
    wg_graph *g2 = nc_graph(WG_F32);
    wg_node small = wg_random_uniform(g2, wg_shape2(3, 7), 0, 1);
    wg_session *s2 = nc_session(g2, cpu, 42);
    wg_plan *p2 = nc_plan(s2, 1, &small);
    nc_run(p2);
    nc_read(p2, small, again);
    assert_true(same(a0, again, 21));
    /* another seed */
    wg_session *s3 = nc_session(g2, cpu, 43);
    wg_plan *p3 = nc_plan(s3, 1, &small);
    nc_run(p3);
    nc_read(p3, small, again);
    assert_false(same(a0, again, 21));
    /* step counters of sessions are their own; any plan of a session advances it */
    assert_int_equal(wg_session_step(s2), 1);
    assert_int_equal(wg_session_step(s3), 1);
}

/* Both devices, same seed, several steps: uniform bit for bit, normal to float
 * rounding of the transcendental functions. */
static void test_devices_agree(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    const int64_t n = 20000;
    draws on_cpu, on_pocl;
    make_draws(&on_cpu, WG_F32, nc_cpu(), 99, n, -2, 3, 0.5, 2);
    make_draws(&on_pocl, WG_F32, pocl, 99, n, -2, 3, 0.5, 2);
    double *a = nc_buf(n), *b = nc_buf(n);
    wg_shape shape = wg_shape1(n);
    bool ok = true;
    for (int step = 0; step < 4; step++) {
        nc_run(on_cpu.plan);
        nc_run(on_pocl.plan);
        char what[64];
        nc_read(on_cpu.plan, on_cpu.uniform, a);
        nc_read(on_pocl.plan, on_pocl.uniform, b);
        snprintf(what, sizeof what, "uniform step %d, pocl vs cpu", step);
        ok &= nc_report_identical(what, b, a, &shape);
        nc_read(on_cpu.plan, on_cpu.normal, a);
        nc_read(on_pocl.plan, on_pocl.normal, b);
        snprintf(what, sizeof what, "normal step %d, pocl vs cpu", step);
        ok &= nc_report_close(what, b, a, &shape, 1e-5, 1e-5);
    }
    if (!ok) fail_msg("the devices draw different random numbers");
}

int main(void) {
    nc_init("test_random");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_philox_known_answers, nc_teardown),
        cmocka_unit_test_teardown(test_draws_follow_the_documented_construction, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_cpu_f32, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_cpu_f64, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_pocl_f32, nc_teardown),
        cmocka_unit_test_teardown(test_seed_stream_and_step, nc_teardown),
        cmocka_unit_test_teardown(test_devices_agree, nc_teardown),
    };
    return wg_test_run_group("random", tests, sizeof tests / sizeof *tests, NULL,
                             nc_group_teardown);
}
