/* The planner and executor: memory reuse, targets, assignments, constants, aliases,
 * errors. A counting device wraps the cpu backend to see which kernels a plan runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "numcheck.h"

/* ---- a device that counts what the planner asks of the cpu backend ---- */

typedef struct counting_device {
    wg_device base;
    wg_device *inner;
    int allocs;
    int runs[WG_OP_COUNT];
    int skip_op;   /* an op whose kernels are dropped, or -1 */
    int fail_op;   /* an op whose kernels fail with a message, or -1 */
    int refuse_op; /* an op the device says it does not support, or -1 */
} counting_device;

static counting_device *counting(wg_device *device) {
    return (counting_device *)device;
}
static wg_device *inner(wg_device *device) {
    return counting(device)->inner;
}

static wg_status count_alloc(wg_device *device, size_t bytes, void **mem) {
    counting(device)->allocs++;
    return inner(device)->backend->alloc(inner(device), bytes, mem);
}
static void count_release(wg_device *device, void *mem) {
    inner(device)->backend->release(inner(device), mem);
}
static wg_status count_write(wg_device *device, wg_ref dst, const void *host, size_t bytes) {
    return inner(device)->backend->write(inner(device), dst, host, bytes);
}
static wg_status count_read(wg_device *device, wg_ref src, void *host, size_t bytes) {
    return inner(device)->backend->read(inner(device), src, host, bytes);
}
static wg_status count_fill(wg_device *device, wg_ref dst, size_t count, wg_dtype dtype,
                            double value) {
    return inner(device)->backend->fill(inner(device), dst, count, dtype, value);
}
static bool count_supports_op(wg_device *device, const wg_op_query *query, const char **why) {
    if ((int)query->op == counting(device)->refuse_op) {
        *why = "refused on purpose";
        return false;
    }
    return inner(device)->backend->supports_op(inner(device), query, why);
}
static wg_status count_run(wg_device *device, const wg_call *call) {
    counting_device *c = counting(device);
    c->runs[call->data->op]++;
    if ((int)call->data->op == c->skip_op) return WG_OK;
    if ((int)call->data->op == c->fail_op)
        return wg_fail(WG_ERR_DEVICE, "counting: the kernel of node %d failed on purpose",
                       (int)call->node);
    return inner(device)->backend->run(inner(device), call);
}
static wg_status count_finish(wg_device *device) {
    return inner(device)->backend->finish(inner(device));
}
static void count_close(wg_device *device) {
    (void)device; /* the wrapped cpu device belongs to numcheck */
}

static const wg_backend counting_backend = {
    .kind = "cpu",
    .alloc = count_alloc,
    .release = count_release,
    .write = count_write,
    .read = count_read,
    .fill = count_fill,
    .supports_op = count_supports_op,
    .run = count_run,
    .finish = count_finish,
    .close = count_close,
};

static counting_device counter;

static wg_device *counting_cpu(void) {
    memset(&counter, 0, sizeof counter);
    counter.base.backend = &counting_backend;
    counter.inner = nc_cpu();
    counter.skip_op = -1;
    counter.fail_op = -1;
    counter.refuse_op = -1;
    snprintf(counter.base.description, sizeof counter.base.description, "counting %s",
             wg_device_description(counter.inner));
    return &counter.base;
}

static int kernel_runs(void) {
    int total = 0;
    for (int op = 0; op < WG_OP_COUNT; op++) total += counter.runs[op];
    return total;
}

/* ---- tests ---- */

#define SIDE 256
#define CHAIN 100

/* x -> tanh -> tanh -> ... (CHAIN times); link[k] is after k + 1 tanh. */
static wg_node tanh_chain(wg_graph *g, wg_node x, wg_node *link) {
    wg_node h = x;
    for (int k = 0; k < CHAIN; k++) link[k] = h = wg_tanh(g, h);
    return h;
}

static double host_tanh_chain(double v, int times) {
    for (int k = 0; k < times; k++) v = tanh(v);
    return v;
}

static void test_memory_is_reused(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node x = wg_input(g, wg_shape2(SIDE, SIDE), "x"), link[CHAIN];
    wg_node out = tanh_chain(g, x, link);
    wg_session *s = nc_session(g, nc_cpu(), 1);
    int64_t n = SIDE * SIDE;
    double *xv = nc_buf(n), *got = nc_buf(n), *want = nc_buf(n);
    nc_rng rng = nc_rng_for(1);
    nc_fill(&rng, xv, n, (nc_range){-3, 3, 0.1, 0, {0}});
    nc_write(s, x, xv);
    wg_plan *plan = nc_plan(s, 1, &out);
    size_t one = (size_t)n * sizeof(float), all = CHAIN * one;
    printf("plan bytes %zu for %d temporaries of %zu bytes\n", wg_plan_bytes(plan), CHAIN, one);
    /* a link can be freed once the next one is computed: two live at a time */
    assert_true(wg_plan_bytes(plan) <= 2 * one + 1024);
    assert_true(wg_plan_bytes(plan) < all / 10);
    nc_run(plan);
    nc_read(plan, out, got);
    for (int64_t i = 0; i < n; i++) want[i] = host_tanh_chain(xv[i], CHAIN);
    wg_shape shape = wg_shape2(SIDE, SIDE);
    nc_expect_close("tanh chain", got, want, &shape, 1e-4, 1e-6);
}

/* Intermediate targets keep their storage to the end of the step, and stay readable
 * after further runs. */
static void test_targets_readable_after_run(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node x = wg_input(g, wg_shape2(16, 16), "x"), link[CHAIN];
    tanh_chain(g, x, link);
    wg_node flat = wg_reshape(g, link[29], wg_shape1(256));
    wg_node targets[4] = {link[9], flat, link[CHAIN - 1], link[0]};
    const int depth[4] = {10, 30, CHAIN, 1};
    wg_session *s = nc_session(g, nc_cpu(), 1);
    double xv[256], got[256];
    nc_rng rng = nc_rng_for(2);
    nc_fill(&rng, xv, 256, (nc_range){-3, 3, 0.1, 0, {0}});
    nc_write(s, x, xv);
    wg_plan *plan = nc_plan(s, 4, targets);
    for (int run = 0; run < 2; run++) {
        nc_run(plan);
        for (int t = 0; t < 4; t++) {
            nc_read(plan, targets[t], got);
            for (int i = 0; i < 256; i++)
                if (fabs(got[i] - host_tanh_chain(xv[i], depth[t])) > 1e-12)
                    fail_msg("target %d (depth %d), element %d: got %.15g, want %.15g", t, depth[t],
                             i, got[i], host_tanh_chain(xv[i], depth[t]));
        }
    }
    /* an input can be a target too */
    wg_plan *identity = nc_plan(s, 1, &x);
    nc_run(identity);
    nc_read(identity, x, got);
    assert_memory_equal(got, xv, sizeof xv);
}

/* v' = v + 1 while other targets read v, built before and after the assignment: all
 * of them see the old value, and v advances exactly once per run. */
static void test_assign_after_reads(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node v = wg_variable(g, wg_shape1(5), "v");
    wg_node before = wg_scale(g, v, 2);
    wg_node update = wg_assign(g, v, wg_add_scalar(g, v, 1));
    wg_node after = wg_scale(g, v, 3);
    wg_session *s = nc_session(g, counting_cpu(), 1);
    double v0[5], got[5];
    nc_rng rng = nc_rng_for(3);
    nc_fill(&rng, v0, 5, NC_SIGNED);
    nc_write(s, v, v0);
    wg_node targets[3] = {update, before, after};
    wg_plan *plan = nc_plan(s, 3, targets);
    for (int run = 0; run < 3; run++) {
        nc_run(plan);
        nc_read(plan, before, got);
        for (int i = 0; i < 5; i++) assert_true(fabs(got[i] - 2 * (v0[i] + run)) < 1e-12);
        nc_read(plan, after, got);
        for (int i = 0; i < 5; i++) assert_true(fabs(got[i] - 3 * (v0[i] + run)) < 1e-12);
        nc_check(wg_session_read(s, v, got), "wg_session_read");
        for (int i = 0; i < 5; i++) assert_true(fabs(got[i] - (v0[i] + run + 1)) < 1e-12);
    }
    assert_int_equal(counter.runs[WG_OP_ASSIGN], 3);
}

/* Two assignments that exchange two variables: each must copy the other's old value. */
static void test_assign_swap(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node a = wg_variable(g, wg_shape1(3), "a"), b = wg_variable(g, wg_shape1(3), "b");
    wg_node targets[2] = {wg_assign(g, a, b), wg_assign(g, b, a)};
    wg_session *s = nc_session(g, nc_cpu(), 1);
    const double av[3] = {1, 2, 3}, bv[3] = {4, 5, 6};
    nc_write(s, a, av);
    nc_write(s, b, bv);
    wg_plan *plan = nc_plan(s, 2, targets);
    nc_run(plan);
    double got_a[3], got_b[3];
    nc_check(wg_session_read(s, a, got_a), "read a");
    nc_check(wg_session_read(s, b, got_b), "read b");
    assert_memory_equal(got_a, bv, sizeof bv);
    assert_memory_equal(got_b, av, sizeof av);
}

/* Constants are filled when the plan is made, not on every run; reshapes are aliases
 * with no kernel; replaying allocates nothing. */
static void test_constants_once_reshapes_free_no_allocation(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node x = wg_input(g, wg_shape3(2, 3, 4), "x");
    wg_node c = wg_constant(g, wg_shape2(6, 4), 2.5);
    wg_node r = wg_reshape(g, x, wg_shape2(6, 4));
    wg_node y = wg_add(g, wg_mul(g, r, c), wg_constant(g, wg_shape1(4), -1));
    wg_node flat = wg_reshape(g, y, wg_shape1(24));
    wg_session *s = nc_session(g, counting_cpu(), 1);
    double xv[24], got[24];
    nc_rng rng = nc_rng_for(4);
    nc_fill(&rng, xv, 24, NC_SIGNED);
    nc_write(s, x, xv);
    wg_node targets[3] = {flat, r, c};
    wg_plan *plan = nc_plan(s, 3, targets);
    int allocs = counter.allocs, made = kernel_runs();
    assert_int_equal(counter.runs[WG_OP_CONSTANT], 2);
    for (int run = 0; run < 4; run++) {
        nc_run(plan);
        nc_read(plan, flat, got);
        for (int i = 0; i < 24; i++) assert_true(fabs(got[i] - (2.5 * xv[i] - 1)) < 1e-12);
        nc_read(plan, r, got);
        assert_memory_equal(got, xv, sizeof xv);
        nc_read(plan, c, got);
        for (int i = 0; i < 24; i++) assert_true(got[i] == 2.5);
    }
    assert_int_equal(counter.runs[WG_OP_CONSTANT], 2);
    assert_int_equal(counter.runs[WG_OP_RESHAPE], 0);
    assert_int_equal(kernel_runs() - made, 4 * 2); /* mul and add, each run */
    assert_int_equal(counter.allocs, allocs);
}

/* A kernel that writes nothing leaves NaN behind when poisoning is on. */
static void test_poison_shows_unwritten_outputs(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node x = wg_input(g, wg_shape1(8), "x");
    wg_node y = wg_tanh(g, x), z = wg_add(g, x, x);
    wg_session *s = nc_session(g, counting_cpu(), 1);
    counter.skip_op = WG_OP_MAP;
    wg_node targets[2] = {y, z};
    wg_plan *plan = nc_plan(s, 2, targets);
    double xv[8], got[8];
    nc_rng rng = nc_rng_for(5);
    nc_fill(&rng, xv, 8, NC_SIGNED);
    nc_write(s, x, xv);
    nc_run(plan);
    nc_read(plan, y, got);
    for (int i = 0; i < 8; i++) assert_true(isnan(got[i]));
    nc_read(plan, z, got);
    for (int i = 0; i < 8; i++) assert_true(fabs(got[i] - 2 * xv[i]) < 1e-6);
}

/* A kernel's own message reaches the caller whole, behind the node it came from. */
static void test_kernel_failure_message_intact(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node x = wg_input(g, wg_shape1(8), "x");
    wg_node y = wg_exp(g, wg_add(g, x, x));
    wg_node_set_name(g, y, "relu1");
    wg_session *s = nc_session(g, counting_cpu(), 1);
    counter.fail_op = WG_OP_MAP;
    wg_plan *plan = nc_plan(s, 1, &y);
    assert_int_equal(wg_plan_run(plan), WG_ERR_DEVICE);
    char want[256];
    snprintf(want, sizeof want,
             "node %d (map.exp relu1): counting: the kernel of node %d failed on purpose", y, y);
    assert_string_equal(wg_last_error(), want);
}

/* A node the device cannot run stops the plan before anything is allocated or run,
 * with a message that names the node, the device, the dtype and the shapes. */
static void test_unsupported_node_refused(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node x = wg_input(g, wg_shape2(3, 4), "x");
    wg_node h = wg_add(g, x, wg_constant(g, wg_shape1(4), 0.5));
    wg_node y = wg_tanh(g, h);
    wg_node_set_name(g, y, "act1");
    wg_session *s = nc_session(g, counting_cpu(), 1);
    counter.refuse_op = WG_OP_MAP;
    int allocs = counter.allocs;
    wg_plan *plan = (wg_plan *)&plan;
    assert_int_equal(wg_plan_new(s, 1, &y, &plan), WG_ERR_UNSUPPORTED);
    assert_null(plan);
    char want[512];
    snprintf(want, sizeof want,
             "node %d (map.tanh act1): the cpu device \"%s\" cannot run it in f64 on "
             "[3, 4] <- [3, 4]: refused on purpose; the plan is refused",
             y, counter.base.description);
    assert_string_equal(wg_last_error(), want);
    assert_int_equal(kernel_runs(), 0);
    assert_int_equal(counter.allocs, allocs);
    /* the rest of the graph still plans */
    nc_run(nc_plan(s, 1, &h));
}

static void test_graph_with_error_cannot_be_planned(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node a = wg_input(g, wg_shape2(2, 3), "a");
    wg_node ok = wg_tanh(g, a);
    wg_session *s = nc_session(g, nc_cpu(), 1);
    wg_node bad = wg_add(g, ok, wg_input(g, wg_shape1(4), "b"));
    assert_int_equal(bad, WG_NONE);
    assert_int_equal(wg_graph_status(g), WG_ERR_SHAPE);
    wg_plan *plan = (wg_plan *)&plan;
    assert_int_equal(wg_plan_new(s, 1, &ok, &plan), WG_ERR_SHAPE);
    assert_null(plan);
    assert_non_null(strstr(wg_last_error(), "broadcast"));
    /* nor can a session be made for it */
    wg_session *s2 = (wg_session *)&s2;
    assert_int_equal(wg_session_new(g, nc_cpu(), 1, &s2), WG_ERR_SHAPE);
    assert_null(s2);
    assert_non_null(strstr(wg_last_error(), "broadcast"));
}

static void test_bad_targets_and_reads(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node x = wg_input(g, wg_shape1(4), "x");
    wg_node y = wg_tanh(g, x), other = wg_exp(g, x);
    wg_session *s = nc_session(g, nc_cpu(), 1);
    wg_plan *plan = NULL;
    wg_node bogus = 999;
    assert_int_equal(wg_plan_new(s, 1, &bogus, &plan), WG_ERR_INVALID);
    assert_null(plan);
    assert_true(strlen(wg_last_error()) > 0);
    plan = nc_plan(s, 1, &y);
    nc_run(plan);
    float buf[4];
    wg_clear_error();
    assert_int_equal(wg_plan_read(plan, other, buf), WG_ERR_INVALID);
    assert_non_null(strstr(wg_last_error(), "not a target"));
    assert_int_equal(wg_plan_read(plan, x, buf), WG_ERR_INVALID);
    /* writing something that is not an input or variable */
    assert_int_equal(wg_session_write(s, y, buf), WG_ERR_INVALID);
    assert_true(strlen(wg_last_error()) > 0);
}

static void test_step_counter(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F32);
    wg_node x = wg_input(g, wg_shape1(4), "x");
    wg_node y = wg_tanh(g, x), z = wg_exp(g, x);
    wg_session *s = nc_session(g, nc_cpu(), 1);
    wg_plan *p1 = nc_plan(s, 1, &y), *p2 = nc_plan(s, 1, &z);
    assert_int_equal(wg_session_step(s), 0);
    nc_run(p1);
    nc_run(p2);
    nc_run(p1);
    assert_int_equal(wg_session_step(s), 3);
    wg_session_set_step(s, 100);
    nc_run(p2);
    assert_int_equal(wg_session_step(s), 101);
}

int main(void) {
    nc_init("test_plan");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_memory_is_reused, nc_teardown),
        cmocka_unit_test_teardown(test_targets_readable_after_run, nc_teardown),
        cmocka_unit_test_teardown(test_assign_after_reads, nc_teardown),
        cmocka_unit_test_teardown(test_assign_swap, nc_teardown),
        cmocka_unit_test_teardown(test_constants_once_reshapes_free_no_allocation, nc_teardown),
        cmocka_unit_test_teardown(test_poison_shows_unwritten_outputs, nc_teardown),
        cmocka_unit_test_teardown(test_kernel_failure_message_intact, nc_teardown),
        cmocka_unit_test_teardown(test_unsupported_node_refused, nc_teardown),
        cmocka_unit_test_teardown(test_graph_with_error_cannot_be_planned, nc_teardown),
        cmocka_unit_test_teardown(test_bad_targets_and_reads, nc_teardown),
        cmocka_unit_test_teardown(test_step_counter, nc_teardown),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, nc_group_teardown);
}
