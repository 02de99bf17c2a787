/* The WGAN-GP term of a small convolutional critic, differentiated with respect to every
 * weight (a gradient of a gradient norm), against finite differences of the penalty. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "numcheck.h"
#include "tiers.h"

#define N 3
#define N_WEIGHTS 8
#define FD_STEP 1e-4
/* Pre-activations of the leaky ReLU stay this far from 0, so no finite-difference probe
 * (weights moved by up to 2 FD_STEP) crosses the kink. */
#define KINK_MARGIN 0.02

static const char *const weight_names[N_WEIGHTS] = {"w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4"};

/* x [N,1,8,8] -> conv 3x3 s2 p1 -> [N,4,4,4] + b1 -> leaky 0.2 -> conv 3x3 -> [N,6,2,2]
 *   + b2 -> [N,24] -> @ w3 + b3 -> tanh -> @ w4 + b4 -> score [N,1] */
static const wg_shape weight_shapes[N_WEIGHTS] = {
    {4, {4, 1, 3, 3}},  {3, {4, 1, 1, 1}}, {4, {6, 4, 3, 3}}, {3, {6, 1, 1, 1}},
    {2, {24, 8, 1, 1}}, {1, {8, 1, 1, 1}}, {2, {8, 1, 1, 1}}, {1, {1, 1, 1, 1}},
};

typedef struct gp_graph {
    wg_graph *graph;
    wg_node real, fake, eps, weight[N_WEIGHTS];
    wg_node pre_activation, norm, penalty, dweight[N_WEIGHTS];
} gp_graph;

typedef struct gp_data {
    double *real, *fake, *eps, *weight[N_WEIGHTS];
} gp_data;

static wg_node critic(wg_graph *g, const wg_node *w, wg_node x, wg_node *pre_activation) {
    wg_conv_params s2p1 = {2, 2, 1, 1}, s1p0 = {1, 1, 0, 0};
    wg_node h = wg_add(g, wg_conv2d(g, x, w[0], s2p1), w[1]);
    *pre_activation = h;
    h = wg_leaky_relu(g, h, 0.2);
    h = wg_add(g, wg_conv2d(g, h, w[2], s1p0), w[3]);
    h = wg_reshape(g, h, wg_shape2(N, 24));
    h = wg_tanh(g, wg_add(g, wg_matmul(g, h, w[4], false, false), w[5]));
    return wg_add(g, wg_matmul(g, h, w[6], false, false), w[7]);
}

static void build(wg_dtype dtype, gp_graph *gp) {
    wg_graph *g = nc_graph(dtype);
    gp->graph = g;
    wg_shape image = wg_shape4(N, 1, 8, 8);
    gp->real = wg_input(g, image, "real");
    gp->fake = wg_input(g, image, "fake");
    gp->eps = wg_input(g, wg_shape4(N, 1, 1, 1), "eps");
    for (int i = 0; i < N_WEIGHTS; i++)
        gp->weight[i] = wg_variable(g, weight_shapes[i], weight_names[i]);
    /* x_hat = eps real + (1 - eps) fake, one eps per sample */
    wg_node x_hat = wg_add(g, wg_mul(g, gp->eps, gp->real),
                           wg_mul(g, wg_add_scalar(g, wg_neg(g, gp->eps), 1), gp->fake));
    wg_node score = wg_sum_all(g, critic(g, gp->weight, x_hat, &gp->pre_activation));
    wg_node grad;
    nc_check(wg_grad(g, score, 1, &x_hat, &grad), "wg_grad(score, x_hat)");
    gp->norm = wg_sqrt(g, wg_add_scalar(g, wg_sum(g, wg_square(g, grad), 0xe, false), 1e-12));
    gp->penalty = wg_mean_all(g, wg_square(g, wg_add_scalar(g, gp->norm, -1)));
    nc_check(wg_grad(g, gp->penalty, N_WEIGHTS, gp->weight, gp->dweight), "wg_grad(penalty)");
    if (wg_graph_status(g) != WG_OK) fail_msg("building the critic: %s", wg_graph_error(g));
}

static void write_data(wg_session *session, const gp_graph *gp, const gp_data *data) {
    nc_write(session, gp->real, data->real);
    nc_write(session, gp->fake, data->fake);
    nc_write(session, gp->eps, data->eps);
    for (int i = 0; i < N_WEIGHTS; i++) nc_write(session, gp->weight[i], data->weight[i]);
}

static double min_abs(const double *x, int64_t n) {
    double m = INFINITY;
    for (int64_t i = 0; i < n; i++) m = fmin(m, fabs(x[i]));
    return m;
}

/* Random inputs and weights whose leaky ReLU pre-activations keep clear of zero,
 * checked on the cpu in f64; the same values for every test of a run. */
static void draw_data(gp_data *data) {
    gp_graph gp;
    build(WG_F64, &gp);
    wg_session *session = nc_session(gp.graph, nc_cpu(), 1);
    wg_plan *plan = nc_plan(session, 1, &gp.pre_activation);
    int64_t n_image = N * 64, n_pre = wg_node_numel(gp.graph, gp.pre_activation);
    double *pre = nc_buf(n_pre);
    nc_rng rng = nc_rng_for(nc_hash("gradient penalty"));
    data->real = nc_buf(n_image);
    data->fake = nc_buf(n_image);
    data->eps = nc_buf(N);
    for (int i = 0; i < N_WEIGHTS; i++) data->weight[i] = nc_buf(wg_shape_numel(&weight_shapes[i]));
    for (int attempt = 0; attempt < 1000; attempt++) {
        nc_fill(&rng, data->real, n_image, NC_SIGNED);
        nc_fill(&rng, data->fake, n_image, NC_SIGNED);
        nc_fill(&rng, data->eps, N, (nc_range){0.1, 0.9, 0, 0, {0}});
        for (int i = 0; i < N_WEIGHTS; i++)
            nc_fill(&rng, data->weight[i], wg_shape_numel(&weight_shapes[i]),
                    (nc_range){-0.6, 0.6, 0.05, 0, {0}});
        write_data(session, &gp, data);
        nc_run(plan);
        nc_read(plan, gp.pre_activation, pre);
        if (min_abs(pre, n_pre) > KINK_MARGIN) return;
    }
    fail_msg("no draw kept the leaky ReLU inputs %g away from 0", KINK_MARGIN);
}

/* The penalty's value and its gradient with respect to every weight. */
typedef struct gp_result {
    double penalty, norm[N];
    double *dweight[N_WEIGHTS];
} gp_result;

static void evaluate(wg_session *session, const gp_graph *gp, gp_result *out) {
    wg_node targets[N_WEIGHTS + 2];
    for (int i = 0; i < N_WEIGHTS; i++) targets[i] = gp->dweight[i];
    targets[N_WEIGHTS] = gp->penalty;
    targets[N_WEIGHTS + 1] = gp->norm;
    wg_plan *plan = nc_plan(session, N_WEIGHTS + 2, targets);
    nc_run(plan);
    for (int i = 0; i < N_WEIGHTS; i++) {
        out->dweight[i] = nc_buf(wg_shape_numel(&weight_shapes[i]));
        nc_read(plan, gp->dweight[i], out->dweight[i]);
    }
    out->penalty = nc_read_scalar(plan, gp->penalty);
    nc_read(plan, gp->norm, out->norm);
}

/* Analytic gradients against finite differences of the penalty on the same device. */
static void check_against_finite_differences(wg_session *session, const gp_graph *gp, gp_data *data,
                                             const gp_result *result, const char *label) {
    wg_plan *plan = nc_plan(session, 1, &gp->penalty);
    for (int i = 0; i < N_WEIGHTS; i++) {
        double *fd = nc_buf(wg_shape_numel(&weight_shapes[i]));
        nc_finite_diff(session, plan, gp->weight[i], data->weight[i], FD_STEP, 1, &gp->penalty,
                       &fd);
        char what[96];
        snprintf(what, sizeof what, "%s: d penalty / d %s (wg_grad vs finite differences)", label,
                 weight_names[i]);
        nc_expect_close(what, result->dweight[i], fd, &weight_shapes[i], 1e-6, 1e-7);
    }
}

/* The f64 cpu result that the other variants are compared with. */
static void reference(gp_data *data, gp_result *ref) {
    draw_data(data);
    gp_graph gp;
    build(WG_F64, &gp);
    wg_session *session = nc_session(gp.graph, nc_cpu(), 1);
    write_data(session, &gp, data);
    evaluate(session, &gp, ref);
}

static void test_penalty_f64_cpu(void **state) {
    (void)state;
    gp_data data;
    gp_result ref;
    reference(&data, &ref);
    printf("penalty %.6g, gradient norms %.4g %.4g %.4g\n", ref.penalty, ref.norm[0], ref.norm[1],
           ref.norm[2]);
    gp_graph gp;
    build(WG_F64, &gp);
    wg_session *session = nc_session(gp.graph, nc_cpu(), 1);
    write_data(session, &gp, &data);
    check_against_finite_differences(session, &gp, &data, &ref, "cpu f64");
}

static void test_penalty_f64_pocl(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    gp_data data;
    gp_result ref, got;
    reference(&data, &ref);
    gp_graph gp;
    build(WG_F64, &gp);
    wg_session *session = NULL;
    wg_status status = nc_try_session(gp.graph, pocl, 1, &session);
    wg_plan *probe = NULL;
    if (status == WG_OK) status = nc_try_plan(session, 1, &gp.penalty, &probe);
    if (status == WG_OK) status = nc_try_run(probe);
    if (status == WG_ERR_UNSUPPORTED) {
        wg_test_skip("pocl does not run f64 graphs: %s", wg_last_error());
    }
    nc_check(status, "f64 on pocl");
    write_data(session, &gp, &data);
    evaluate(session, &gp, &got);
    char what[64];
    for (int i = 0; i < N_WEIGHTS; i++) {
        snprintf(what, sizeof what, "pocl f64 vs cpu f64: d penalty / d %s", weight_names[i]);
        nc_expect_close(what, got.dweight[i], ref.dweight[i], &weight_shapes[i], 1e-9, 1e-10);
    }
    check_against_finite_differences(session, &gp, &data, &got, "pocl f64");
}

static void check_f32(wg_device *device, const char *label) {
    gp_data data;
    gp_result ref, got;
    reference(&data, &ref);
    gp_graph gp;
    build(WG_F32, &gp);
    wg_session *session = nc_session(gp.graph, device, 1);
    write_data(session, &gp, &data);
    evaluate(session, &gp, &got);
    wg_shape one = wg_shape1(1);
    char what[96];
    snprintf(what, sizeof what, "%s f32 vs cpu f64: penalty", label);
    nc_expect_close(what, &got.penalty, &ref.penalty, &one, 1e-4, 1e-5);
    for (int i = 0; i < N_WEIGHTS; i++) {
        snprintf(what, sizeof what, "%s f32 vs cpu f64: d penalty / d %s", label, weight_names[i]);
        nc_expect_close(what, got.dweight[i], ref.dweight[i], &weight_shapes[i], 3e-4, 3e-5);
    }
}

static void test_penalty_f32_cpu(void **state) {
    (void)state;
    check_f32(nc_cpu(), "cpu");
}

static void test_penalty_f32_pocl(void **state) {
    (void)state;
    check_f32(nc_pocl_or_skip(), "pocl");
}

int main(void) {
    nc_init("test_gradient_penalty");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_penalty_f64_cpu, nc_teardown),
        cmocka_unit_test_teardown(test_penalty_f64_pocl, nc_teardown),
        cmocka_unit_test_teardown(test_penalty_f32_cpu, nc_teardown),
        cmocka_unit_test_teardown(test_penalty_f32_pocl, nc_teardown),
    };
    return wg_test_run_group("gradient_penalty", tests, sizeof tests / sizeof *tests, NULL,
                             nc_group_teardown);
}
