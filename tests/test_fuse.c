/* Fusion of element-wise nodes (runtime/core/fuse.c and the backends' fused kernels).
 *
 * Every case builds a graph once and plans it twice, in two sessions with the same
 * inputs and variables: with fusion off (each node alone) and on. On the cpu the two
 * must agree bit for bit, targets and variables after several runs (assignments made in
 * place included); on PoCL the fused plan must agree with the cpu's unfused one to the
 * tolerance of the backend tests. Plans poison their outputs (nc_plan), so an element a
 * fused kernel fails to write shows as NaN. Random graphs mix maps of every code,
 * broadcast binary ops, barriers that must split regions (matmul, sum_to), reads of a
 * value between two members, targets in the middle of chains and variables assigned
 * from chains that read them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fuse.h"
#include "graph_internal.h"
#include "numcheck.h"
#include "tiers.h"
#include "wgan/optim.h"

#define MAX_TARGETS 64

/* A graph and what a case reads back. */
typedef struct fuse_case {
    wg_graph *graph;
    int n_targets;
    wg_node targets[MAX_TARGETS];
    int runs;
} fuse_case;

typedef struct planned {
    wg_session *session;
    wg_plan *plan;
    int calls;
    size_t bytes;
} planned;

/* Fills every input and variable of the graph with values from the case's stream,
 * the same in every session; optimizer state (named "opt.") starts at zero as it does
 * in training. */
static void fill_persistent(wg_session *s, const wg_graph *g, uint64_t stream) {
    for (int i = 0; i < g->count; i++) {
        wg_op op = g->nodes[i].op;
        if (op != WG_OP_INPUT && op != WG_OP_VARIABLE) continue;
        if (strncmp(wg_node_name(g, i), "opt.", 4) == 0) continue;
        int64_t n = wg_shape_numel(&g->nodes[i].shape);
        double *v = nc_buf(n);
        nc_rng rng = nc_rng_for(stream * 1000 + (uint64_t)i);
        nc_fill(&rng, v, n, (nc_range){-1.5, 1.5, 0.05, 0, {0}});
        nc_write(s, i, v);
    }
}

static planned plan_with(fuse_case *c, wg_device *device, int fuse, uint64_t stream) {
    planned p;
    p.session = nc_session(c->graph, device, 7);
    fill_persistent(p.session, c->graph, stream);
    wg_fusion_enable(fuse);
    p.plan = nc_plan(p.session, c->n_targets, c->targets);
    wg_fusion_enable(1);
    p.calls = wg_plan_kernel_calls(p.plan);
    p.bytes = wg_plan_bytes(p.plan);
    return p;
}

static int64_t numel_of(const wg_graph *g, wg_node n) {
    return wg_shape_numel(&g->nodes[n].shape);
}

/* Elements compared, and how many of them were finite in the reference: a comparison
 * of NaNs proves nothing, so the cases check that almost all are finite. */
static int64_t compared, finite_values;

static void count_finite(const double *v, int64_t n) {
    compared += n;
    for (int64_t i = 0; i < n; i++) finite_values += isfinite(v[i]) != 0;
}

/* Runs both plans c->runs times and compares every target after each run and every
 * variable at the end: bit for bit when exact, else to rtol. */
static void compare(fuse_case *c, planned *ref, planned *got, int exact, double rtol) {
    const wg_graph *g = c->graph;
    char what[96];
    for (int run = 0; run < c->runs; run++) {
        nc_run(ref->plan);
        nc_run(got->plan);
        for (int t = 0; t < c->n_targets; t++) {
            wg_node node = c->targets[t];
            if (g->nodes[node].op == WG_OP_ASSIGN) continue;
            int64_t n = numel_of(g, node);
            double *a = nc_buf(n), *b = nc_buf(n);
            nc_read(ref->plan, node, a);
            nc_read(got->plan, node, b);
            count_finite(a, n);
            snprintf(what, sizeof what, "run %d, target %d (node %d)", run, t, node);
            if (exact)
                nc_expect_identical(what, b, a, &g->nodes[node].shape);
            else
                nc_expect_close(what, b, a, &g->nodes[node].shape, rtol, rtol);
        }
    }
    for (int i = 0; i < g->count; i++) {
        if (g->nodes[i].op != WG_OP_VARIABLE) continue;
        int64_t n = numel_of(g, i);
        double *a = nc_buf(n), *b = nc_buf(n);
        nc_check(wg_session_read(ref->session, i, a), "reading a variable");
        nc_check(wg_session_read(got->session, i, b), "reading a variable");
        count_finite(a, n);
        snprintf(what, sizeof what, "variable %s after %d runs", wg_node_name(g, i), c->runs);
        if (exact)
            nc_expect_identical(what, b, a, &g->nodes[i].shape);
        else
            nc_expect_close(what, b, a, &g->nodes[i].shape, rtol, rtol);
    }
}

/* Fused against unfused on the cpu, bit for bit; returns the fused plan's call count
 * and, through *unfused, the unfused one's. A region reads its inputs where its last
 * member runs, which can keep an input alive longer than unfused, so the fused plan's
 * memory is not always smaller: *bytes gets fused minus unfused. */
static int check_cpu(fuse_case *c, uint64_t stream, int *unfused, long *bytes) {
    planned ref = plan_with(c, nc_cpu(), 0, stream);
    planned got = plan_with(c, nc_cpu(), 1, stream);
    compare(c, &ref, &got, 1, 0);
    if (unfused) *unfused = ref.calls;
    if (bytes) *bytes = (long)got.bytes - (long)ref.bytes;
    assert_true(got.calls <= ref.calls);
    return got.calls;
}

/* At least 99% of the values compared since the last call were finite_values. */
static void expect_finite(const char *what) {
    printf("%s: %lld of %lld values compared finite\n", what, (long long)finite_values,
           (long long)compared);
    assert_true(compared > 0 && (double)finite_values >= 0.99 * (double)compared);
    compared = finite_values = 0;
}

/* ---- hand-made cases ---- */

/* y = (tanh(2x + 1) * x - b) / (1 + x^2): one region, nothing stored in between. */
static void test_chain_is_one_call(void **state) {
    (void)state;
    for (int dtype = 0; dtype < 2; dtype++) {
        fuse_case c = {.graph = nc_graph(dtype ? WG_F64 : WG_F32), .runs = 2};
        wg_graph *g = c.graph;
        wg_node x = wg_input(g, wg_shape2(300, 257), "x"), b = wg_input(g, wg_shape1(257), "b");
        wg_node t = wg_tanh(g, wg_add_scalar(g, wg_scale(g, x, 2), 1));
        wg_node num = wg_sub(g, wg_mul(g, t, x), b);
        c.targets[c.n_targets++] = wg_div(g, num, wg_add_scalar(g, wg_square(g, x), 1));
        int unfused;
        long bytes;
        int calls = check_cpu(&c, 1, &unfused, &bytes);
        printf("chain: %d calls fused, %d unfused; temporaries fused minus unfused: %ld bytes\n",
               calls, unfused, bytes);
        assert_int_equal(unfused, 8);
        assert_int_equal(calls, 1);
        assert_true(bytes < 0); /* nothing stored between the steps */
    }
    expect_finite("chain");
}

/* A value read between two members (by a matmul) cannot be moved: the region stops. */
static void test_reader_between_splits(void **state) {
    (void)state;
    fuse_case c = {.graph = nc_graph(WG_F32), .runs = 1};
    wg_graph *g = c.graph;
    wg_node x = wg_input(g, wg_shape2(64, 32), "x"), w = wg_input(g, wg_shape2(32, 32), "w");
    wg_node a = wg_tanh(g, wg_scale(g, x, 0.5)); /* region 1 */
    wg_node m = wg_matmul(g, a, w, 0, 0);
    wg_node d = wg_add(g, wg_scale(g, a, 3), m); /* reads a after the matmul */
    c.targets[c.n_targets++] = d;
    int unfused, calls = check_cpu(&c, 2, &unfused, NULL);
    printf("split: %d calls fused, %d unfused\n", calls, unfused);
    assert_int_equal(unfused, 5);
    assert_int_equal(calls, 3); /* {scale, tanh}, matmul, {scale, add} */
    expect_finite("split");
}

/* A small network under Adam: loss and every update are the targets. */
static wg_optimizer *adam_case(fuse_case *c, wg_dtype dtype, double lr, int runs) {
    *c = (fuse_case){.graph = nc_graph(dtype), .runs = runs};
    wg_graph *g = c->graph;
    wg_node x = wg_input(g, wg_shape2(16, 24), "x");
    wg_node w = wg_variable(g, wg_shape2(24, 40), "w"), b = wg_variable(g, wg_shape1(40), "b");
    wg_node h = wg_tanh(g, wg_add(g, wg_matmul(g, x, w, 0, 0), b));
    wg_node loss = wg_mean_all(g, wg_square(g, h));
    wg_node params[2] = {w, b}, grads[2];
    nc_check(wg_grad(g, loss, 2, params, grads), "wg_grad");
    wg_optim_config config = wg_optim_defaults(WG_OPTIM_ADAM);
    config.adam.lr = lr;
    wg_optimizer *opt;
    nc_check(wg_optimizer_new(g, &config, 2, params, grads, "opt", &opt), "optimizer");
    c->targets[c->n_targets++] = loss;
    for (int i = 0; i < wg_optimizer_update_count(opt); i++)
        c->targets[c->n_targets++] = wg_optimizer_updates(opt)[i];
    return opt;
}

/* Adam on two parameters: each update (m, v, p) becomes one region writing all three
 * variables in place, and ten steps agree bit for bit with the unfused plan. */
static void test_adam_update_in_place(void **state) {
    (void)state;
    for (int dtype = 0; dtype < 2; dtype++) {
        fuse_case c;
        wg_optimizer *opt = adam_case(&c, dtype ? WG_F64 : WG_F32, 0.01, 10);
        int unfused, calls = check_cpu(&c, 3, &unfused, NULL);
        printf("adam: %d calls fused, %d unfused\n", calls, unfused);
        assert_true(calls * 2 < unfused);
        wg_optimizer_free(opt);
    }
    expect_finite("adam");
}

/* A variable read after the region that would write it in place keeps its assignment:
 * the later reader sees the old value. */
static void test_late_reader_keeps_assignment(void **state) {
    (void)state;
    fuse_case c = {.graph = nc_graph(WG_F64), .runs = 3};
    wg_graph *g = c.graph;
    wg_node v = wg_variable(g, wg_shape2(8, 9), "v"), x = wg_input(g, wg_shape2(8, 9), "x");
    wg_node next = wg_mul(g, wg_add_scalar(g, v, 1), x);
    wg_node assign = wg_assign(g, v, next);
    wg_node after = wg_matmul(g, v, x, 0, 1); /* reads v after the region's position */
    c.targets[c.n_targets++] = assign;
    c.targets[c.n_targets++] = after;
    check_cpu(&c, 4, NULL, NULL);
    expect_finite("late reader");
}

/* ---- random graphs ---- */

static const wg_shape *shape_of(const wg_graph *g, wg_node n) {
    return &g->nodes[n].shape;
}

/* An operand made safe for a code that needs a positive argument. */
static wg_node positive(wg_graph *g, wg_node x) {
    return wg_add_scalar(g, wg_square(g, x), 0.25);
}

static wg_node random_map(wg_graph *g, nc_rng *rng, wg_node x) {
    int code = (int)(nc_rng_next(rng) % WG_MAP_COUNT);
    double p0 = 2 * nc_rng_unit(rng) - 1, p1 = p0 + nc_rng_unit(rng);
    switch (code) {
    case WG_MAP_SQRT:
    case WG_MAP_RSQRT:
    case WG_MAP_LOG:
    case WG_MAP_RECIPROCAL: x = positive(g, x); break;
    case WG_MAP_EXP: x = wg_tanh(g, x); break;
    default: break;
    }
    wg_node_data d = {.op = WG_OP_MAP, .n_inputs = 1, .input = {x}, .shape = *shape_of(g, x)};
    d.ival[0] = code;
    d.param[0] = p0;
    d.param[1] = p1;
    return wg_graph_push(g, &d);
}

static wg_node random_binary(wg_graph *g, nc_rng *rng, wg_node a, wg_node b) {
    switch (nc_rng_next(rng) % 4) {
    case 0: return wg_add(g, a, b);
    case 1: return wg_sub(g, a, b);
    case 2: return wg_mul(g, a, b);
    default: return wg_div(g, a, positive(g, b));
    }
}

/* ~40 random nodes over [R, C], broadcasting [C], [R, 1] and [1] inputs, with matmul and
 * sum_to barriers, random targets and two variables assigned from chains. */
static void random_case(fuse_case *c, wg_dtype dtype, uint64_t seed) {
    enum { R = 33, C = 70, POOL = 64 };
    c->graph = nc_graph(dtype);
    c->runs = 3;
    c->n_targets = 0;
    wg_graph *g = c->graph;
    nc_rng rng = nc_rng_for(seed);
    wg_node pool[POOL];
    int n = 0;
    pool[n++] = wg_input(g, wg_shape2(R, C), "x");
    pool[n++] = wg_input(g, wg_shape1(C), "row");
    pool[n++] = wg_input(g, wg_shape2(R, 1), "column");
    pool[n++] = wg_input(g, wg_shape1(1), "scalar");
    wg_node v1 = wg_variable(g, wg_shape2(R, C), "v1"), v2 = wg_variable(g, wg_shape1(C), "v2");
    pool[n++] = v1;
    pool[n++] = v2;
    wg_node w = wg_input(g, wg_shape2(C, C), "w");
    while (n < POOL - 4) {
        wg_node a = pool[nc_rng_next(&rng) % (uint64_t)n];
        wg_node b = pool[nc_rng_next(&rng) % (uint64_t)n];
        uint64_t what = nc_rng_next(&rng) % 10;
        wg_node made;
        if (what < 4) {
            made = random_map(g, &rng, a);
        } else if (what < 8) {
            made = random_binary(g, &rng, a, b);
        } else if (what == 8 && shape_of(g, a)->ndim == 2 && shape_of(g, a)->dim[1] == C &&
                   shape_of(g, a)->dim[0] == R) {
            made = wg_scale(g, wg_matmul(g, a, w, 0, 0), 1.0 / C);
        } else if (wg_shape_numel(shape_of(g, a)) == R * C) {
            made = wg_sum_to(g, a, wg_shape2(1, C));
        } else {
            made = random_map(g, &rng, a);
        }
        nc_check(wg_graph_status(g), "building a random graph");
        pool[n++] = made;
        if (nc_rng_next(&rng) % 5 == 0 && c->n_targets < MAX_TARGETS - 4)
            c->targets[c->n_targets++] = made;
    }
    /* both variables updated from chains that read them: in place where allowed */
    wg_node grown = wg_add(g, wg_scale(g, v1, 0.9), wg_tanh(g, pool[n - 1]));
    c->targets[c->n_targets++] = wg_assign(g, v1, wg_clamp(g, grown, -3, 3));
    wg_node row = wg_sum_to(g, wg_add(g, pool[n - 2], pool[0]), wg_shape2(1, C));
    wg_node v2_new = wg_add(g, wg_scale(g, v2, 0.5), wg_reshape(g, row, wg_shape1(C)));
    c->targets[c->n_targets++] = wg_assign(g, v2, wg_tanh(g, v2_new));
    c->targets[c->n_targets++] = pool[n - 1];
    nc_check(wg_graph_status(g), "building a random graph");
}

static void test_random_graphs_cpu(void **state) {
    (void)state;
    int fused = 0, unfused = 0, bigger = 0;
    for (uint64_t k = 0; k < 40; k++) {
        fuse_case c;
        random_case(&c, k % 2 ? WG_F64 : WG_F32, 100 + k);
        int before;
        long bytes;
        fused += check_cpu(&c, 100 + k, &before, &bytes);
        unfused += before;
        bigger += bytes > 0;
        nc_teardown(NULL);
    }
    printf("40 random graphs: %d calls fused, %d unfused; %d of the fused plans need more "
           "memory\n",
           fused, unfused, bigger);
    assert_true(fused < unfused);
    expect_finite("random graphs");
}

/* ---- OpenCL ---- */

/* The fused plan on PoCL against the unfused plan on the cpu. */
static void check_pocl(fuse_case *c, wg_device *pocl, uint64_t stream, double rtol) {
    planned ref = plan_with(c, nc_cpu(), 0, stream);
    planned got = plan_with(c, pocl, 1, stream);
    compare(c, &ref, &got, 0, rtol);
}

static void test_random_graphs_opencl(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    for (uint64_t k = 0; k < 12; k++) {
        fuse_case c;
        wg_dtype dtype = k % 2 ? WG_F64 : WG_F32;
        random_case(&c, dtype, 200 + k);
        check_pocl(&c, pocl, 200 + k, dtype == WG_F64 ? 1e-9 : 2e-4);
        nc_teardown(NULL);
    }
    expect_finite("random graphs on OpenCL");
}

static void test_adam_opencl(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    fuse_case c;
    wg_optimizer *opt = adam_case(&c, WG_F32, 1e-3, 5);
    check_pocl(&c, pocl, 5, 1e-4);
    wg_optimizer_free(opt);
    expect_finite("adam on OpenCL");
}

int main(int argc, char **argv) {
    nc_init("test_fuse");
    const struct CMUnitTest unit[] = {
        cmocka_unit_test_teardown(test_chain_is_one_call, nc_teardown),
        cmocka_unit_test_teardown(test_reader_between_splits, nc_teardown),
        cmocka_unit_test_teardown(test_adam_update_in_place, nc_teardown),
        cmocka_unit_test_teardown(test_late_reader_keeps_assignment, nc_teardown),
        cmocka_unit_test_teardown(test_random_graphs_cpu, nc_teardown),
    };
    const struct CMUnitTest backend[] = {
        cmocka_unit_test_teardown(test_random_graphs_opencl, nc_teardown),
        cmocka_unit_test_teardown(test_adam_opencl, nc_teardown),
    };
    const wg_test_tier tiers[] = {WG_TEST_TIER(unit, unit), WG_TEST_TIER(backend, backend)};
    return wg_test_run_tiers(argc, argv, "fuse", tiers, 2, NULL, nc_group_teardown);
}
