/* First and second derivatives of every op, built by wg_grad and run on the cpu device
 * in f64, against finite differences of the same graph's forward values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numcheck.h"
#include "op_cases.h"

/* The fourth-order stencil at this step errs by ~1e-12 relative in double, far below
 * the tolerance, while a wrong factor anywhere shows up as O(1). */
#define FD_STEP 1e-4
#define FD_RTOL 1e-6
#define FD_ATOL 1e-7

static void check_case(void **state) {
    const nc_op_case *c = *state;
    nc_deriv_graph d;
    nc_build_derivs(c, WG_F64, &d);
    nc_deriv_data data;
    nc_draw_derivs(&d, nc_hash(c->name), &data);
    wg_session *session = nc_session(d.graph, nc_cpu(), 1);
    nc_write_derivs(session, &d, &data);

    wg_node grads[2 * NC_MAX_OPERANDS];
    for (int i = 0; i < d.n; i++) grads[i] = d.dx[i], grads[d.n + i] = d.ddx[i];
    wg_plan *grad_plan = nc_plan(session, 2 * d.n, grads);
    nc_run(grad_plan);
    wg_node scalars[2] = {d.L, d.M};
    wg_plan *value_plan = nc_plan(session, 2, scalars);

    for (int i = 0; i < d.n; i++) {
        wg_shape shape = c->shape[i];
        int64_t n = wg_shape_numel(&shape);
        double *dx = nc_buf(n), *ddx = nc_buf(n), *fd_l = nc_buf(n), *fd_m = nc_buf(n);
        nc_read(grad_plan, d.dx[i], dx);
        nc_read(grad_plan, d.ddx[i], ddx);
        double *fd[2] = {fd_l, fd_m};
        nc_finite_diff(session, value_plan, d.x[i], data.x[i], FD_STEP, 2, scalars, fd);
        char what[128];
        snprintf(what, sizeof what, "%s: dL/dx%d (wg_grad vs finite differences)", c->name, i);
        nc_expect_close(what, dx, fd_l, &shape, FD_RTOL, FD_ATOL);
        snprintf(what, sizeof what, "%s: dM/dx%d, second order (wg_grad vs finite differences)",
                 c->name, i);
        nc_expect_close(what, ddx, fd_m, &shape, FD_RTOL, FD_ATOL);
    }
}

/* Nodes the output does not depend on, including ones added after it, get zeros; the
 * node itself gets ones. */
static void test_grad_of_independent_is_zero(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node x = wg_input(g, wg_shape2(3, 4), "x"), z = wg_input(g, wg_shape2(2, 2), "z");
    wg_node y = wg_sum_all(g, wg_tanh(g, x));
    wg_node later = wg_input(g, wg_shape1(5), "later");
    wg_node wrt[4] = {z, x, later, y}, grads[4];
    nc_check(wg_grad(g, y, 4, wrt, grads), "wg_grad");
    wg_session *session = nc_session(g, nc_cpu(), 1);
    double xv[12], zv[4];
    nc_rng rng = nc_rng_for(1);
    nc_fill(&rng, xv, 12, NC_SIGNED);
    nc_fill(&rng, zv, 4, NC_SIGNED);
    nc_write(session, x, xv);
    nc_write(session, z, zv);
    wg_plan *plan = nc_plan(session, 4, grads);
    nc_run(plan);
    double gz[4], gx[12], glater[5], gy;
    nc_read(plan, grads[0], gz);
    nc_read(plan, grads[1], gx);
    nc_read(plan, grads[2], glater);
    nc_read(plan, grads[3], &gy);
    for (int i = 0; i < 4; i++) assert_true(gz[i] == 0.0);
    for (int i = 0; i < 5; i++) assert_true(glater[i] == 0.0);
    assert_true(gy == 1.0);
    double want[12];
    for (int i = 0; i < 12; i++) want[i] = 1 - tanh(xv[i]) * tanh(xv[i]);
    wg_shape s = wg_shape2(3, 4);
    nc_expect_close("d sum(tanh x) / dx", gx, want, &s, 1e-14, 1e-15);
}

/* A random draw is a leaf: gradients stop there, and through y = x * u + x^2 n^2 the
 * gradient is u + 2 x n^2 with the values drawn in the same step. */
static void test_random_draws_have_no_gradient(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_shape s = wg_shape2(3, 4);
    wg_node x = wg_input(g, s, "x");
    wg_node u = wg_random_uniform(g, "u", s, -1, 1), nrm = wg_random_normal(g, "n", s, 0, 1);
    wg_node y =
        wg_sum_all(g, wg_add(g, wg_mul(g, x, u), wg_mul(g, wg_square(g, x), wg_square(g, nrm))));
    wg_node only_random = wg_sum_all(g, wg_add(g, u, nrm));
    wg_node gx, g_random;
    nc_check(wg_grad(g, y, 1, &x, &gx), "wg_grad(y)");
    nc_check(wg_grad(g, only_random, 1, &x, &g_random), "wg_grad(random)");
    wg_session *session = nc_session(g, nc_cpu(), 7);
    double xv[12];
    nc_rng rng = nc_rng_for(2);
    nc_fill(&rng, xv, 12, NC_SIGNED);
    nc_write(session, x, xv);
    wg_node targets[4] = {gx, u, nrm, g_random};
    wg_plan *plan = nc_plan(session, 4, targets);
    for (int step = 0; step < 2; step++) {
        nc_run(plan);
        double gv[12], uv[12], nv[12], zero[12], want[12];
        nc_read(plan, gx, gv);
        nc_read(plan, u, uv);
        nc_read(plan, nrm, nv);
        nc_read(plan, g_random, zero);
        for (int i = 0; i < 12; i++) {
            want[i] = uv[i] + 2 * xv[i] * nv[i] * nv[i];
            assert_true(zero[i] == 0.0);
        }
        nc_expect_close("d(x u + x^2 n^2)/dx", gv, want, &s, 1e-14, 1e-15);
    }
}

/* f(a, b) = sum(r * a * tanh(b) + s * (a * b)^2), a and b [3, 4]. */
static wg_node stop_f(wg_graph *g, wg_node a, wg_node b, wg_node r, wg_node s) {
    wg_node ab = wg_mul(g, a, b);
    return wg_sum_all(
        g, wg_add(g, wg_mul(g, r, wg_mul(g, a, wg_tanh(g, b))), wg_mul(g, s, wg_square(g, ab))));
}

/* y = f(x, stop_gradient(x)) has the value f(x, x), and its derivatives of first and
 * second order are those of f(x, c) in x with c held at x: finite differences of the
 * same graph with an input c in place of the stopped x. */
static void test_stop_gradient(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_shape sh = wg_shape2(3, 4);
    wg_node x = wg_input(g, sh, "x"), c = wg_input(g, sh, "c"), v = wg_input(g, sh, "v");
    wg_node r = wg_input(g, sh, "r"), s = wg_input(g, sh, "s");
    wg_node stopped = wg_stop_gradient(g, x);
    wg_shape stopped_shape = wg_node_shape(g, stopped);
    assert_true(stopped != x && wg_shape_equal(&stopped_shape, &sh));
    wg_node y = stop_f(g, x, stopped, r, s), held = stop_f(g, x, c, r, s),
            same = stop_f(g, x, x, r, s);
    wg_node dx, ddx, dheld;
    nc_check(wg_grad(g, y, 1, &x, &dx), "wg_grad(y)");
    wg_node m = wg_sum_all(g, wg_mul(g, v, dx));
    nc_check(wg_grad(g, m, 1, &x, &ddx), "wg_grad(sum(v * dy/dx))");
    nc_check(wg_grad(g, held, 1, &x, &dheld), "wg_grad(held)");
    wg_node m_held = wg_sum_all(g, wg_mul(g, v, dheld));
    /* only through the stop: nothing flows, at any order */
    wg_node only = wg_sum_all(g, wg_square(g, stopped)), donly;
    nc_check(wg_grad(g, only, 1, &x, &donly), "wg_grad(only the stopped path)");

    wg_session *session = nc_session(g, nc_cpu(), 1);
    nc_rng rng = nc_rng_for(nc_hash("stop_gradient"));
    double xv[12], vv[12], rv[12], sv[12];
    nc_fill(&rng, xv, 12, NC_SIGNED);
    nc_fill(&rng, vv, 12, NC_SIGNED);
    nc_fill(&rng, rv, 12, NC_SIGNED);
    nc_fill(&rng, sv, 12, NC_SIGNED);
    nc_write(session, x, xv);
    nc_write(session, c, xv);
    nc_write(session, v, vv);
    nc_write(session, r, rv);
    nc_write(session, s, sv);
    wg_node targets[5] = {y, same, dx, ddx, donly};
    wg_plan *plan = nc_plan(session, 5, targets);
    nc_run(plan);
    double got_dx[12], got_ddx[12], got_only[12];
    double value = nc_read_scalar(plan, y), want_value = nc_read_scalar(plan, same);
    assert_true(value == want_value); /* forward: the identity */
    nc_read(plan, dx, got_dx);
    nc_read(plan, ddx, got_ddx);
    nc_read(plan, donly, got_only);
    for (int i = 0; i < 12; i++) assert_true(got_only[i] == 0.0);

    /* finite differences in x with c fixed */
    wg_node scalars[2] = {held, m_held};
    wg_plan *value_plan = nc_plan(session, 2, scalars);
    double fd_l[12], fd_m[12], *fd[2] = {fd_l, fd_m};
    nc_finite_diff(session, value_plan, x, xv, FD_STEP, 2, scalars, fd);
    nc_expect_close("d f(x, stop(x)) / dx vs finite differences", got_dx, fd_l, &sh, FD_RTOL,
                    FD_ATOL);
    nc_expect_close("second derivative through stop_gradient vs finite differences", got_ddx, fd_m,
                    &sh, FD_RTOL, FD_ATOL);
    /* and the stop matters: the derivative of f(x, x) is another one */
    wg_node dsame;
    nc_check(wg_grad(g, same, 1, &x, &dsame), "wg_grad(f(x, x))");
    wg_plan *plan_same = nc_plan(session, 1, &dsame);
    nc_run(plan_same);
    double got_same[12];
    nc_read(plan_same, dsame, got_same);
    assert_false(nc_close(got_same, got_dx, 12, 1e-3, 1e-3));
}

/* The per-sample norm's values against the host: sqrt(sum of squares + eps) per
 * sample, so an all-zero sample gives sqrt(eps), with a finite gradient there when
 * eps > 0. */
static void test_norm_per_sample_values(void **state) {
    (void)state;
    enum { N = 4, C = 3, K = 5 };
    const double eps = 0.01;
    wg_graph *h = nc_graph(WG_F64);
    wg_node x = wg_input(h, wg_shape3(N, C, K), "x");
    wg_node norm = wg_norm_per_sample(h, x, eps), grad;
    wg_shape got_shape = wg_node_shape(h, norm), want_shape = wg_shape1(N);
    assert_true(wg_shape_equal(&got_shape, &want_shape));
    nc_check(wg_grad(h, wg_sum_all(h, norm), 1, &x, &grad), "wg_grad(norm)");
    double xv[N * C * K], got[N], g_got[N * C * K];
    nc_rng rng = nc_rng_for(nc_hash("norm_per_sample"));
    nc_fill(&rng, xv, N * C * K, NC_SIGNED);
    for (int k = 0; k < C * K; k++) xv[2 * C * K + k] = 0; /* sample 2 all zeros */
    wg_session *session = nc_session(h, nc_cpu(), 1);
    nc_write(session, x, xv);
    wg_node targets[2] = {norm, grad};
    wg_plan *plan = nc_plan(session, 2, targets);
    nc_run(plan);
    nc_read(plan, norm, got);
    nc_read(plan, grad, g_got);
    double want[N], g_want[N * C * K];
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int k = 0; k < C * K; k++) sum += xv[i * C * K + k] * xv[i * C * K + k];
        want[i] = sqrt(sum + eps);
        for (int k = 0; k < C * K; k++) g_want[i * C * K + k] = xv[i * C * K + k] / want[i];
    }
    wg_shape sn = wg_shape1(N), sx = wg_shape3(N, C, K);
    nc_expect_close("per-sample norm", got, want, &sn, 1e-14, 1e-15);
    assert_true(got[2] == sqrt(eps));
    nc_expect_close("d per-sample norm / dx", g_got, g_want, &sx, 1e-13, 1e-15);

    wg_graph *bad = nc_graph(WG_F64);
    assert_int_equal(wg_norm_per_sample(bad, wg_input(bad, wg_shape1(3), "y"), -1), WG_NONE);
    assert_int_equal(wg_graph_status(bad), WG_ERR_INVALID);
}

static void test_grad_rejects_bad_arguments(void **state) {
    (void)state;
    wg_graph *g = nc_graph(WG_F64);
    wg_node x = wg_input(g, wg_shape2(3, 4), "x");
    wg_node y = wg_tanh(g, x), grad = 0;
    assert_int_equal(wg_grad(g, y, 1, &x, &grad), WG_ERR_SHAPE);
    assert_non_null(strstr(wg_last_error(), "one element"));
    wg_node bogus = 12345;
    wg_node l = wg_sum_all(g, y);
    assert_int_equal(wg_grad(g, l, 1, &bogus, &grad), WG_ERR_INVALID);
    assert_true(strlen(wg_last_error()) > 0);
    assert_int_equal(wg_graph_status(g), WG_OK);
}

int main(void) {
    nc_init("test_autodiff");
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_teardown(test_grad_of_independent_is_zero, nc_teardown),
        cmocka_unit_test_teardown(test_random_draws_have_no_gradient, nc_teardown),
        cmocka_unit_test_teardown(test_stop_gradient, nc_teardown),
        cmocka_unit_test_teardown(test_norm_per_sample_values, nc_teardown),
        cmocka_unit_test_teardown(test_grad_rejects_bad_arguments, nc_teardown),
    };
    int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    struct CMUnitTest *tests = calloc((size_t)(n_fixed + nc_small_case_count), sizeof *tests);
    if (!tests) return 1;
    memcpy(tests, fixed, sizeof fixed);
    int count = nc_add_case_tests(tests, n_fixed, nc_small_cases, nc_small_case_count, check_case);
    int failed = _cmocka_run_group_tests("autodiff", tests, (size_t)count, NULL, nc_group_teardown);
    free(tests);
    return failed;
}
