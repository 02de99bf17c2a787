/* Counter-based random draws: the generator against published known answers and an
 * independent host evaluation, their statistics, and how seed, key and step name
 * them on every device: a draw's numbers depend on its key, never on the other draws
 * of the graph or their order, and the runtime's key scopes say who draws. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/graph_internal.h"
#include "numcheck.h"
#include "plugin/build.h"
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

/* The graph's draws "uniform" and "normal"; `extra` other draws of the same size are
 * made before them (and as many after), so their numbers must not move. */
static void make_draws_among(draws *d, wg_dtype dtype, wg_device *device, uint64_t seed, int64_t n,
                             double low, double high, double mean, double stddev, int extra) {
    d->graph = nc_graph(dtype);
    char name[32];
    for (int i = 0; i < extra; i++) {
        snprintf(name, sizeof name, "before%d", i);
        wg_random_normal(d->graph, name, wg_shape1(n), 0, 1);
    }
    /* the normal first when there are others: the order must not matter either */
    if (extra) d->normal = wg_random_normal(d->graph, "normal", wg_shape1(n), mean, stddev);
    d->uniform = wg_random_uniform(d->graph, "uniform", wg_shape1(n), low, high);
    if (!extra) d->normal = wg_random_normal(d->graph, "normal", wg_shape1(n), mean, stddev);
    for (int i = 0; i < extra; i++) {
        snprintf(name, sizeof name, "after%d", i);
        wg_random_uniform(d->graph, name, wg_shape1(n), 0, 1);
    }
    nc_check(wg_graph_status(d->graph), "building the draws");
    d->session = nc_session(d->graph, device, seed);
    wg_node targets[2] = {d->uniform, d->normal};
    d->plan = nc_plan(d->session, 2, targets);
}

static void make_draws(draws *d, wg_dtype dtype, wg_device *device, uint64_t seed, int64_t n,
                       double low, double high, double mean, double stddev) {
    make_draws_among(d, dtype, device, seed, n, low, high, mean, stddev, 0);
}

/* The documented stream of a key, written out again: FNV-1a 64 over its bytes, then
 * MurmurHash3's fmix64. */
static uint64_t fnv1a64(const char *key) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* Element i of a draw of stream s at step t under seed S: the Philox4x32-10 block of
 * counter (i_lo, i_hi, t_lo, t_hi) and key S ^ s, by the raw generator. */
static wg_philox_block host_block(uint64_t i, uint64_t stream, uint64_t step, uint64_t seed) {
    uint64_t key = seed ^ stream;
    return wg_philox4x32((uint32_t)i, (uint32_t)(i >> 32), (uint32_t)step, (uint32_t)(step >> 32),
                         (uint32_t)key, (uint32_t)(key >> 32));
}

/* FNV-1a's published test vectors, and the streams of a few keys against them. */
static void test_stream_of_a_key(void **state) {
    (void)state;
    assert_true(fnv1a64("") == 0xcbf29ce484222325ull);
    assert_true(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    assert_true(fnv1a64("foobar") == 0x85944171f73967e8ull);
    char fresh[40];
    snprintf(fresh, sizeof fresh, "run/%016llx", (unsigned long long)nc_run_seed());
    const char *keys[] = {"", "a", "critic_step/z", "critic_step/lipschitz.dragan/alpha", fresh};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        assert_true(wg_philox_stream(keys[k]) == fmix64(fnv1a64(keys[k])));
    /* one changed character moves about half of the 64 bits */
    uint64_t a = wg_philox_stream("critic_step/z"), b = wg_philox_stream("critic_step/y");
    int flipped = __builtin_popcountll(a ^ b);
    assert_true(flipped > 16 && flipped < 48);
    /* the whole element index counts: element 2^32 is not element 0 */
    wg_philox_block lo = wg_philox_element(0, a, 3, 9), hi = wg_philox_element(1ull << 32, a, 3, 9);
    assert_true(memcmp(&lo, &hi, sizeof lo) != 0);
    wg_philox_block want = host_block(1ull << 32, a, 3, 9);
    assert_memory_equal(&hi, &want, sizeof hi);
}

/* The documented construction evaluated on the host: uniform from word 0, normal by
 * Box-Muller from words 0 and 1 (cosine branch). */
static double host_unit(uint32_t bits) {
    return ((double)(bits >> 8) + 0.5) / 16777216.0;
}

static void test_draws_follow_the_documented_construction(void **state) {
    (void)state;
    const uint64_t seed = 0x0123456789abcdefull ^ nc_run_seed();
    const int64_t n = 4096;
    draws d;
    make_draws(&d, WG_F64, nc_cpu(), seed, n, -1.5, 2.5, 0.25, 1.5);
    const uint64_t su = fmix64(fnv1a64("uniform")), sn = fmix64(fnv1a64("normal"));
    double *u = nc_buf(n), *z = nc_buf(n), *want_u = nc_buf(n), *want_z = nc_buf(n);
    for (int step = 0; step < 3; step++) {
        nc_run(d.plan);
        nc_read(d.plan, d.uniform, u);
        nc_read(d.plan, d.normal, z);
        for (int64_t i = 0; i < n; i++) {
            wg_philox_block bu = host_block((uint64_t)i, su, (uint64_t)step, seed);
            wg_philox_block bn = host_block((uint64_t)i, sn, (uint64_t)step, seed);
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

/* Keys, steps and seeds each give new numbers; the same (seed, key, step) gives the
 * same numbers again, whatever the draw's shape and whichever session runs it. */
static void test_seed_key_and_step(void **state) {
    (void)state;
    const int64_t n = 1000;
    wg_device *cpu = nc_cpu();
    wg_graph *g = nc_graph(WG_F32);
    wg_node a = wg_random_uniform(g, "a", wg_shape1(n), 0, 1);
    wg_node b = wg_random_uniform(g, "b", wg_shape1(n), 0, 1);
    wg_session *s = nc_session(g, cpu, 42);
    wg_node targets[2] = {a, b};
    wg_plan *plan = nc_plan(s, 2, targets);
    double *a0 = nc_buf(n), *b0 = nc_buf(n), *a1 = nc_buf(n), *again = nc_buf(n);
    nc_run(plan);
    nc_read(plan, a, a0);
    nc_read(plan, b, b0);
    assert_false(same(a0, b0, n)); /* two keys */
    assert_int_equal(wg_session_step(s), 1);
    nc_run(plan);
    nc_read(plan, a, a1);
    assert_false(same(a0, a1, n)); /* two steps */
    wg_session_set_step(s, 0);
    nc_run(plan);
    nc_read(plan, a, again);
    assert_true(same(a0, again, n)); /* rewound step */

    /* a second session with the same seed, a smaller draw of the same key */
    wg_graph *g2 = nc_graph(WG_F32);
    wg_node small = wg_random_uniform(g2, "a", wg_shape2(3, 7), 0, 1);
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

/* The property the keys exist for: adding draws before and after a draw, or making
 * them in another order, leaves its numbers bit for bit as they were. */
static void test_other_draws_change_nothing(void **state) {
    (void)state;
    const int64_t n = 3000;
    const uint64_t seed = nc_run_seed();
    draws alone, among;
    make_draws(&alone, WG_F32, nc_cpu(), seed, n, -1, 2, 0, 3);
    make_draws_among(&among, WG_F32, nc_cpu(), seed, n, -1, 2, 0, 3, 3);
    assert_true(wg_graph_size(among.graph) > wg_graph_size(alone.graph));
    double *a = nc_buf(n), *b = nc_buf(n);
    wg_shape shape = wg_shape1(n);
    for (int step = 0; step < 3; step++) {
        nc_run(alone.plan);
        nc_run(among.plan);
        nc_read(alone.plan, alone.uniform, a);
        nc_read(among.plan, among.uniform, b);
        nc_expect_identical("uniform among other draws", b, a, &shape);
        nc_read(alone.plan, alone.normal, a);
        nc_read(among.plan, among.normal, b);
        nc_expect_identical("normal among other draws", b, a, &shape);
    }
}

/* A second draw of a key would repeat the first one's numbers: refused, naming both. */
static void test_a_key_is_drawn_once(void **state) {
    (void)state;
    char key[40];
    snprintf(key, sizeof key, "x%llx", (unsigned long long)(nc_run_seed() & 0xffffff));
    wg_graph *g = nc_graph(WG_F32);
    wg_node first = wg_random_uniform(g, key, wg_shape1(4), 0, 1);
    wg_node other = wg_random_normal(g, "other", wg_shape1(4), 0, 1);
    assert_true(first >= 0 && other >= 0);
    assert_string_equal(wg_node_name(g, first), key); /* a draw is named by its key */
    assert_int_equal(wg_random_normal(g, key, wg_shape2(2, 3), 0, 1), WG_NONE);
    assert_int_equal(wg_graph_status(g), WG_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want, "random draw '%s' (node %d) is drawn again by node %d", key,
             (int)first, wg_graph_size(g));
    if (!strstr(wg_graph_error(g), want)) fail_msg("message: %s", wg_graph_error(g));

    /* a renamed node keeps its stream: the message names both labels */
    g = nc_graph(WG_F32);
    first = wg_random_uniform(g, "a", wg_shape1(4), 0, 1);
    wg_node_set_name(g, first, "relabelled");
    assert_int_equal(wg_random_uniform(g, "a", wg_shape1(4), 0, 1), WG_NONE);
    assert_non_null(strstr(wg_graph_error(g), "random draws 'relabelled' (node 0) and 'a'"));
    assert_non_null(strstr(wg_graph_error(g), "have the same stream"));

    /* a draw needs a name */
    g = nc_graph(WG_F32);
    assert_int_equal(wg_random_uniform(g, "", wg_shape1(4), 0, 1), WG_NONE);
    assert_non_null(strstr(wg_graph_error(g), "needs a name"));
    g = nc_graph(WG_F32);
    assert_int_equal(wg_random_normal(g, NULL, wg_shape1(4), 0, 1), WG_NONE);
    assert_int_equal(wg_graph_status(g), WG_ERR_INVALID);
}

/* While the runtime traces, a draw's key is "<trace>/<who>/<name>": each call into a
 * plugin or a network is a level, applications of a network are numbered per level,
 * and leaving restores the level before. Numbers follow the key alone: an unscoped
 * draw of the full key draws the same ones. */
static void test_keys_say_who_draws(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_registry registry = {0};
    const wg_plugin lip = {.kind = WG_PLUGIN_LIPSCHITZ, .name = "dragan"};
    wg_build b;
    wg_build_begin(&b, g, &registry, "critic_step", 8, &lip, NULL);
    wg_node z = wg_random_normal(g, "z", wg_shape1(8), 0, 1);
    wg_build_enter_network(&b, "critic");
    assert_string_equal(wg_build_network(&b), "critic");
    wg_node c1 = wg_random_uniform(g, "dropout", wg_shape1(8), 0, 1);
    wg_build_leave(&b);
    assert_string_equal(wg_build_network(&b), "generator");
    wg_build_enter_network(&b, "critic");
    wg_node c2 = wg_random_uniform(g, "dropout", wg_shape1(8), 0, 1);
    wg_build_leave(&b);
    wg_build_enter_plugin(&b, &lip);
    wg_node alpha = wg_random_uniform(g, "alpha", wg_shape1(8), 0, 1);
    wg_build_enter_network(&b, "critic"); /* the penalty's own first critic call */
    wg_node c3 = wg_random_uniform(g, "dropout", wg_shape1(8), 0, 1);
    wg_build_leave(&b);
    wg_build_leave(&b);
    nc_check(wg_build_check(&b), "the trace");
    wg_build_end(&b);
    wg_node bare = wg_random_uniform(g, "critic_step/lipschitz.dragan/alpha2", wg_shape1(8), 0, 1);
    nc_check(wg_graph_status(g), "the draws");

    assert_string_equal(wg_node_name(g, z), "critic_step/z");
    assert_string_equal(wg_node_name(g, c1), "critic_step/critic.1/dropout");
    assert_string_equal(wg_node_name(g, c2), "critic_step/critic.2/dropout");
    assert_string_equal(wg_node_name(g, alpha), "critic_step/lipschitz.dragan/alpha");
    assert_string_equal(wg_node_name(g, c3), "critic_step/lipschitz.dragan/critic.1/dropout");
    assert_string_equal(wg_node_name(g, bare), "critic_step/lipschitz.dragan/alpha2");

    /* the scoped "alpha" and an unscoped draw of its full key: the same numbers */
    wg_graph *g2 = nc_graph(WG_F32);
    wg_node full = wg_random_uniform(g2, "critic_step/lipschitz.dragan/alpha", wg_shape1(8), 0, 1);
    double x[8], y[8];
    wg_plan *p1 = nc_plan(nc_session(g, nc_cpu(), 5), 1, &alpha);
    wg_plan *p2 = nc_plan(nc_session(g2, nc_cpu(), 5), 1, &full);
    nc_run(p1);
    nc_run(p2);
    nc_read(p1, alpha, x);
    nc_read(p2, full, y);
    assert_memory_equal(x, y, sizeof x);
    wg_registry_free(&registry);
}

/* Both devices, same seed and keys, several steps: uniform bit for bit, normal to
 * float rounding of the transcendental functions; PoCL's graph makes other draws
 * around them, in another order. */
static void test_devices_agree(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    const int64_t n = 20000;
    const uint64_t seed = nc_run_seed();
    draws on_cpu, on_pocl;
    make_draws(&on_cpu, WG_F32, nc_cpu(), seed, n, -2, 3, 0.5, 2);
    make_draws_among(&on_pocl, WG_F32, pocl, seed, n, -2, 3, 0.5, 2, 2);
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
        cmocka_unit_test_teardown(test_stream_of_a_key, nc_teardown),
        cmocka_unit_test_teardown(test_draws_follow_the_documented_construction, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_cpu_f32, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_cpu_f64, nc_teardown),
        cmocka_unit_test_teardown(test_statistics_pocl_f32, nc_teardown),
        cmocka_unit_test_teardown(test_seed_key_and_step, nc_teardown),
        cmocka_unit_test_teardown(test_other_draws_change_nothing, nc_teardown),
        cmocka_unit_test_teardown(test_a_key_is_drawn_once, nc_teardown),
        cmocka_unit_test_teardown(test_keys_say_who_draws, nc_teardown),
        cmocka_unit_test_teardown(test_devices_agree, nc_teardown),
    };
    return wg_test_run_group("random", tests, sizeof tests / sizeof *tests, NULL,
                             nc_group_teardown);
}
