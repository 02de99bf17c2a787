/* The lipschitz plugins, loaded through the plugin loader and traced with wg_build into
 * small step graphs that run on the cpu device, checked against values computed here:
 * weight clipping's projection, the gradient penalty of critics whose input gradient is
 * known in closed form, and spectral normalisation's power iteration step by step. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "numcheck.h"
#include "plugincheck.h"

static wg_device *cpu(void) {
    wg_device *device = nc_device("cpu");
    if (!device) fail_msg("the cpu device must open");
    return device;
}

static const wg_plugin *lipschitz(const char *name) {
    return pf_plugin(WG_PLUGIN_LIPSCHITZ, name);
}

static double norm2(const double *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

/* ---- weight_clip ---- */

static void check_clip(const char *yaml, double clip) {
    const wg_plugin *p = lipschitz("weight_clip");
    void *state = pc_create(p, yaml);
    wg_build *build = pc_build(WG_F64, 4, p, state);
    wg_graph *g = wg_build_graph(build);
    wg_shape shapes[2] = {wg_shape2(6, 5), wg_shape1(5)};
    wg_param_role roles[2] = {WG_PARAM_WEIGHT, WG_PARAM_BIAS};
    wg_node updated[2], projected[2];
    for (int i = 0; i < 2; i++) {
        updated[i] = wg_input(g, shapes[i], i ? "updated.bias" : "updated.weight");
        nc_check(p->vt.lipschitz.project(state, build, i ? "fc.bias" : "fc.weight", roles[i],
                                         updated[i], &projected[i]),
                 "project");
    }
    pc_build_check(build);
    wg_session *session = nc_session(g, cpu(), 1);
    wg_plan *plan = nc_plan(session, 2, projected);
    nc_rng rng = nc_rng_for(1);
    for (int i = 0; i < 2; i++) {
        int64_t n = wg_shape_numel(&shapes[i]);
        double *x = nc_buf(n), *want = nc_buf(n), *got = nc_buf(n);
        /* about half the values beyond the clip, none at its edges */
        nc_fill(&rng, x, n, (nc_range){-3 * clip, 3 * clip, 0.05 * clip, 2, {clip, -clip}});
        for (int64_t k = 0; k < n; k++) want[k] = fmin(fmax(x[k], -clip), clip);
        nc_write(session, updated[i], x);
        nc_run(plan);
        nc_read(plan, projected[i], got);
        nc_expect_identical("clipped", got, want, &shapes[i]);
    }
}

static void test_weight_clip(void **state) {
    (void)state;
    check_clip("", 0.01);
    check_clip("clip: 0.25", 0.25);
}

static void test_weight_clip_config_errors(void **state) {
    (void)state;
    const wg_plugin *p = lipschitz("weight_clip");
    assert_int_equal(pc_try_create(p, "clip: 0"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "test.yaml:1:7: key 'clip'"));
    assert_non_null(strstr(wg_last_error(), "got '0', must be a number in (0, 1000000]"));
    assert_int_equal(pc_try_create(p, "clip: -0.5"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "key 'clip'"));
    assert_int_equal(pc_try_create(p, "clip: wide"), WG_ERR_CONFIG);
    assert_int_equal(pc_try_create(p, "clp: 0.1"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "unknown key 'clp'"));
}

/* ---- gradient_penalty ---- */

/* The critic f(x) = x a, a [D, 1] a critic weight: its input gradient is a for every
 * sample, so the penalty is lambda (sqrt(|a|^2 + epsilon) - target)^2 exactly. */
static wg_status linear_critic(void *self, wg_build *build, wg_node x, wg_node *score) {
    int64_t d = *(const int64_t *)self;
    wg_node a = wg_build_param(build, "a", wg_shape2(d, 1),
                               (wg_init){.kind = WG_INIT_NORMAL, .b = 1}, WG_PARAM_WEIGHT);
    *score = wg_matmul(wg_build_graph(build), x, a, false, false);
    return WG_OK;
}

typedef struct gp_case {
    const char *yaml;
    double lambda, target, epsilon;
    bool one_sided;
    double a_norm; /* |a| */
} gp_case;

static void check_linear_gp(const gp_case *c, wg_dtype dtype) {
    enum { N = 5, D = 3 };
    int64_t d = D;
    const wg_plugin *p = lipschitz("gradient_penalty");
    void *state = pc_create(p, c->yaml);
    wg_build *build = pc_build(dtype, N, p, state);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_input(g, wg_shape2(N, D), "real");
    wg_node fake = wg_input(g, wg_shape2(N, D), "fake");
    wg_critic_fn critic = {linear_critic, &d};
    wg_node penalty = WG_NONE;
    nc_check(wg_build_penalty(build, &critic, real, fake, WG_NONE, WG_NONE, &penalty), "penalty");
    pc_build_check(build);
    wg_node a = pc_variable(build, "critic.a");
    wg_node grad_a;
    nc_check(wg_grad(g, penalty, 1, &a, &grad_a), "wg_grad of the penalty");
    wg_node targets[] = {penalty, pc_metric(build, "penalty"), pc_metric(build, "gp_norm_mean"),
                         grad_a};

    wg_session *session = nc_session(g, cpu(), nc_run_seed());
    wg_plan *plan = nc_plan(session, 4, targets);
    nc_rng rng = nc_rng_for(2);
    double *x = nc_buf(N * D), av[D], got_grad[D], want_grad[D];
    nc_fill(&rng, x, N * D, NC_SIGNED);
    nc_write(session, real, x);
    nc_fill(&rng, x, N * D, NC_SIGNED);
    nc_write(session, fake, x);
    nc_fill(&rng, av, D, NC_SIGNED);
    double scale = c->a_norm / norm2(av, D);
    for (int k = 0; k < D; k++) av[k] *= scale;
    nc_write(session, a, av);

    double norm = sqrt(c->a_norm * c->a_norm + c->epsilon);
    double excess = norm - c->target;
    if (c->one_sided && excess < 0) excess = 0;
    double want = c->lambda * excess * excess;
    /* d/da lambda (|g| - target)^2 = 2 lambda excess a / |g| */
    for (int k = 0; k < D; k++) want_grad[k] = 2 * c->lambda * excess * av[k] / norm;

    for (int step = 0; step < 2; step++) { /* new interpolation weights each step */
        nc_run(plan);
        double got[3];
        for (int t = 0; t < 3; t++) got[t] = nc_read_scalar(plan, targets[t]);
        nc_read(plan, grad_a, got_grad);
        wg_shape one = wg_shape1(1), three = wg_shape1(D);
        double rtol = dtype == WG_F64 ? 1e-12 : 2e-5, atol = dtype == WG_F64 ? 1e-14 : 1e-6;
        nc_expect_close("penalty", &got[0], &want, &one, rtol, atol);
        nc_expect_close("penalty metric", &got[1], &want, &one, rtol, atol);
        nc_expect_close("gp_norm_mean", &got[2], &norm, &one, rtol, atol);
        nc_expect_close("d penalty / d a", got_grad, want_grad, &three, 100 * rtol, atol);
    }
}

static void test_gp_linear_critic(void **state) {
    (void)state;
    const gp_case cases[] = {
        {"", 10, 1, 1e-12, false, 1.7},
        {"", 10, 1, 1e-12, false, 0.4},
        {"lambda: 3\ntarget: 0.5\nepsilon: 0.25", 3, 0.5, 0.25, false, 1.3},
        {"mode: one_sided", 10, 1, 1e-12, true, 1.7},
        {"mode: one_sided", 10, 1, 1e-12, true, 0.4}, /* inside the ball: no penalty */
        {"mode: two_sided\nlambda: 0.1", 0.1, 1, 1e-12, false, 0.4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_linear_gp(&cases[i], WG_F64);
        check_linear_gp(&cases[i], WG_F32);
        pc_teardown(NULL);
    }
}

/* f(x) = 1/2 sum of x^2 over one sample: the input gradient at x_hat is x_hat itself. */
static wg_status quadratic_critic(void *self, wg_build *build, wg_node x, wg_node *score) {
    (void)self;
    wg_graph *g = wg_build_graph(build);
    *score = wg_reshape(g, wg_scale(g, wg_sum(g, wg_square(g, x), 0xe, false), 0.5),
                        wg_shape2(wg_build_batch(build), 1));
    return WG_OK;
}

static wg_node find_node(wg_graph *g, const char *name) {
    for (int i = 0; i < wg_graph_size(g); i++) {
        const char *n = wg_node_name(g, i);
        if (n && strcmp(n, name) == 0) return i;
    }
    fail_msg("no node named '%s'", name);
    return WG_NONE;
}

/* Images [N, C, H, W]: one interpolation weight per sample, in [0, 1], broadcast over
 * the sample; the norm taken over all of C, H, W. */
static void test_gp_interpolates(void **state) {
    (void)state;
    enum { N = 6, C = 2, H = 3, W = 2, S = C * H * W };
    const wg_plugin *p = lipschitz("gradient_penalty");
    void *gp = pc_create(p, "lambda: 2");
    wg_build *build = pc_build(WG_F64, N, p, gp);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_input(g, wg_shape4(N, C, H, W), "real");
    wg_node fake = wg_input(g, wg_shape4(N, C, H, W), "fake");
    wg_critic_fn critic = {quadratic_critic, NULL};
    wg_node penalty;
    nc_check(wg_build_penalty(build, &critic, real, fake, WG_NONE, WG_NONE, &penalty), "penalty");
    pc_build_check(build);
    assert_true(p->vt.lipschitz.flags & WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS);
    wg_node x_hat = find_node(g, "gradient_penalty.x_hat");
    wg_node targets[] = {penalty, x_hat, pc_metric(build, "gp_norm_mean")};
    wg_session *session = nc_session(g, cpu(), nc_run_seed());
    wg_plan *plan = nc_plan(session, 3, targets);

    nc_rng rng = nc_rng_for(3);
    double *r = nc_buf(N * S), *f = nc_buf(N * S), *xh = nc_buf(N * S);
    nc_fill(&rng, r, N * S, NC_SIGNED);
    nc_fill(&rng, f, N * S, NC_SIGNED);
    nc_write(session, real, r);
    nc_write(session, fake, f);
    double first_e[N];
    for (int step = 0; step < 2; step++) {
        nc_run(plan);
        nc_read(plan, x_hat, xh);
        double sum = 0, norm_sum = 0, changed = 0;
        for (int i = 0; i < N; i++) {
            /* x_hat = e real + (1 - e) fake: recover e from the first element */
            const double *ri = r + i * S, *fi = f + i * S, *xi = xh + i * S;
            double e = (xi[0] - fi[0]) / (ri[0] - fi[0]);
            assert_true(e >= 0 && e <= 1);
            for (int k = 0; k < S; k++)
                assert_true(fabs(xi[k] - (e * ri[k] + (1 - e) * fi[k])) < 1e-9);
            if (step == 0) first_e[i] = e;
            changed = fmax(changed, fabs(e - first_e[i]));
            double norm = sqrt(norm2(xi, S) * norm2(xi, S) + 1e-12);
            sum += (norm - 1) * (norm - 1);
            norm_sum += norm;
        }
        if (step == 1) assert_true(changed > 1e-6); /* fresh draws each step */
        double want = 2 * sum / N, want_norm = norm_sum / N;
        double got = nc_read_scalar(plan, penalty), got_norm = nc_read_scalar(plan, targets[2]);
        wg_shape one = wg_shape1(1);
        nc_expect_close("penalty", &got, &want, &one, 1e-12, 1e-14);
        nc_expect_close("gp_norm_mean", &got_norm, &want_norm, &one, 1e-12, 1e-14);
    }
    /* different weights for different samples */
    double spread = 0;
    for (int i = 1; i < N; i++) spread = fmax(spread, fabs(first_e[i] - first_e[0]));
    assert_true(spread > 1e-6);
}

static void test_gp_config_errors(void **state) {
    (void)state;
    const wg_plugin *p = lipschitz("gradient_penalty");
    assert_int_equal(pc_try_create(p, "mode: sideways"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "key 'mode'"));
    assert_int_equal(pc_try_create(p, "lambda: -1"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "key 'lambda'"));
    assert_int_equal(pc_try_create(p, "lamda: 10"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "did you mean 'lambda'"));
}

/* ---- spectral_norm ---- */

/* Host reference of the plugin's step (see plugins/lipschitz/spectral_norm.c): from the
 * stored u, sigma = |W^T u| and v = W^T u / sigma, then `iterations` times u = n(W v),
 * v = n(W^T u). W is [rows, cols] row-major. Returns sigma; u is updated in place. */
static double sn_step(const double *w, int64_t rows, int64_t cols, double *u, int iterations,
                      double eps) {
    double v[64], t[64];
    assert_true(rows <= 64 && cols <= 64);
    double un = fmax(norm2(u, rows), eps);
    for (int64_t i = 0; i < rows; i++) u[i] /= un;
    double sigma = 0;
    for (int it = 0; it <= iterations; it++) {
        if (it > 0) { /* u = n(W v) */
            for (int64_t i = 0; i < rows; i++) {
                t[i] = 0;
                for (int64_t j = 0; j < cols; j++) t[i] += w[i * cols + j] * v[j];
            }
            double n = fmax(norm2(t, rows), eps);
            for (int64_t i = 0; i < rows; i++) u[i] = t[i] / n;
            if (it == iterations) break;
        }
        for (int64_t j = 0; j < cols; j++) { /* v = n(W^T u) */
            t[j] = 0;
            for (int64_t i = 0; i < rows; i++) t[j] += w[i * cols + j] * u[i];
        }
        double n = norm2(t, cols);
        if (it == 0) sigma = n;
        for (int64_t j = 0; j < cols; j++) v[j] = t[j] / fmax(n, eps);
    }
    return sigma;
}

/* The largest singular value, by many power iterations on W^T W. */
static double largest_singular_value(const double *w, int64_t rows, int64_t cols) {
    double u[64];
    for (int64_t i = 0; i < rows; i++) u[i] = 1 + 0.1 * (double)i;
    double sigma = 0;
    for (int k = 0; k < 20000; k++) sigma = sn_step(w, rows, cols, u, 1, 1e-300);
    return sigma;
}

typedef struct sn_weight {
    const char *name; /* in the critic */
    wg_shape shape;
    wg_node used, variable, u;
    int64_t rows, cols;
} sn_weight;

static void check_spectral_norm(const char *yaml, int iterations) {
    const wg_plugin *p = lipschitz("spectral_norm");
    void *sn = pc_create(p, yaml);
    wg_build *build = pc_build(WG_F64, 4, p, sn);
    wg_graph *g = wg_build_graph(build);
    sn_weight weights[] = {
        {"fc.weight", wg_shape2(6, 4), 0, 0, 0, 6, 4},         /* [out, in] */
        {"conv.weight", wg_shape4(3, 2, 2, 2), 0, 0, 0, 3, 8}, /* [K, C*R*S] */
    };
    enum { NW = 2 };
    for (int i = 0; i < NW; i++) {
        sn_weight *w = &weights[i];
        w->used = wg_build_param(build, w->name, w->shape,
                                 (wg_init){.kind = WG_INIT_NORMAL, .b = 1}, WG_PARAM_WEIGHT);
        /* asked again in the same trace: the same reparametrised node */
        assert_int_equal(wg_build_param(build, w->name, w->shape,
                                        (wg_init){.kind = WG_INIT_NORMAL, .b = 1}, WG_PARAM_WEIGHT),
                         w->used);
    }
    /* biases are not reparametrised */
    wg_node bias = wg_build_param(build, "fc.bias", wg_shape1(6), (wg_init){0}, WG_PARAM_BIAS);
    pc_build_check(build);
    char name[64];
    for (int i = 0; i < NW; i++) {
        snprintf(name, sizeof name, "critic.%s", weights[i].name);
        weights[i].variable = pc_variable(build, name);
        assert_int_not_equal(weights[i].used, weights[i].variable);
        snprintf(name, sizeof name, "critic.%s.sn_u", weights[i].name);
        weights[i].u = pc_variable(build, name);
        assert_int_equal(wg_node_numel(g, weights[i].u), weights[i].rows);
    }
    assert_int_equal(bias, pc_variable(build, "critic.fc.bias"));
    assert_int_equal(build->n_updates, NW); /* one u per weight */
    /* PyTorch's gradient: sigma differentiated as if u and v were constants */
    wg_node r = wg_input(g, weights[0].shape, "r");
    wg_node loss = wg_sum_all(g, wg_mul(g, weights[0].used, r));
    wg_node grad;
    nc_check(wg_grad(g, loss, 1, &weights[0].variable, &grad), "wg_grad");

    wg_node targets[NW + 1 + 8];
    int n_targets = 0;
    for (int i = 0; i < NW; i++) targets[n_targets++] = weights[i].used;
    targets[n_targets++] = grad;
    for (int i = 0; i < build->n_updates; i++) targets[n_targets++] = build->updates[i];
    wg_session *session = nc_session(g, cpu(), 7);
    nc_check(wg_registry_initialize(build->registry, session, nc_run_seed()), "initialise");
    wg_plan *plan = nc_plan(session, n_targets, targets);

    nc_rng rng = nc_rng_for(4);
    double *wv[NW], *u[NW], *got = nc_buf(64), *want = nc_buf(64), rv[24];
    for (int i = 0; i < NW; i++) {
        int64_t n = weights[i].rows * weights[i].cols;
        wv[i] = nc_buf(n);
        u[i] = nc_buf(weights[i].rows);
        /* random, plus a rank-one part that keeps the two largest singular values
         * apart, so that the power iteration converges in a few dozen steps */
        double a[8], b[8];
        nc_fill(&rng, wv[i], n, NC_SIGNED);
        nc_fill(&rng, a, weights[i].rows, NC_SIGNED);
        nc_fill(&rng, b, weights[i].cols, NC_SIGNED);
        for (int64_t k = 0; k < n; k++)
            wv[i][k] += 4 * a[k / weights[i].cols] * b[k % weights[i].cols] /
                        (norm2(a, weights[i].rows) * norm2(b, weights[i].cols));
        nc_write(session, weights[i].variable, wv[i]);
        /* the initial u, as the registry drew it: N(0, 1), not normalised */
        nc_check(wg_session_read(session, weights[i].u, u[i]), "reading u");
    }
    nc_fill(&rng, rv, 24, NC_SIGNED);
    nc_write(session, r, rv);

    enum { STEPS = 60 };
    double sigma[NW];
    for (int step = 0; step < STEPS; step++) {
        double u_before[64];
        memcpy(u_before, u[0], sizeof(double) * (size_t)weights[0].rows);
        nc_run(plan);
        for (int i = 0; i < NW; i++) {
            sn_weight *w = &weights[i];
            int64_t n = w->rows * w->cols;
            sigma[i] = sn_step(wv[i], w->rows, w->cols, u[i], iterations, 1e-12);
            /* the forward pass used W / sigma from the u stored by the previous step */
            for (int64_t k = 0; k < n; k++) want[k] = wv[i][k] / sigma[i];
            nc_read(plan, w->used, got);
            nc_expect_close("W / sigma", got, want, &w->shape, 1e-9, 1e-12);
            /* and the step stored the next u */
            nc_check(wg_session_read(session, w->u, got), "reading u");
            wg_shape us = wg_shape1(w->rows);
            nc_expect_close("stored u", got, u[i], &us, 1e-9, 1e-12);
        }
        if (step == 0) {
            /* d/dW sum(R * W / sigma) = R / sigma - <R, W> / sigma^2 u v^T, with u the
             * normalised stored u and v = W^T u / sigma */
            int64_t rows = weights[0].rows, cols = weights[0].cols;
            double un = norm2(u_before, rows), rw = 0, v[8];
            for (int64_t k = 0; k < rows * cols; k++) rw += rv[k] * wv[0][k];
            for (int64_t j = 0; j < cols; j++) {
                v[j] = 0;
                for (int64_t i = 0; i < rows; i++) v[j] += wv[0][i * cols + j] * u_before[i] / un;
                v[j] /= sigma[0];
            }
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < cols; j++)
                    want[i * cols + j] = rv[i * cols + j] / sigma[0] -
                                         rw / (sigma[0] * sigma[0]) * (u_before[i] / un) * v[j];
            nc_read(plan, grad, got);
            nc_expect_close("d loss / d W", got, want, &weights[0].shape, 1e-9, 1e-12);
        }
    }
    /* converged: the used weight has largest singular value 1 */
    for (int i = 0; i < NW; i++) {
        sn_weight *w = &weights[i];
        double s = largest_singular_value(wv[i], w->rows, w->cols);
        printf("  power_iterations %d, %s: sigma after %d steps %.12f, largest singular value "
               "%.12f\n",
               iterations, w->name, STEPS, sigma[i], s);
        nc_read(plan, w->used, got);
        double s_used = largest_singular_value(got, w->rows, w->cols), one = 1;
        wg_shape scalar = wg_shape1(1);
        nc_expect_close("sigma(W / sigma)", &s_used, &one, &scalar, 1e-8, 0);
    }
}

static void test_spectral_norm(void **state) {
    (void)state;
    check_spectral_norm("", 1);
    pc_teardown(NULL);
    check_spectral_norm("power_iterations: 3", 3);
}

static void test_spectral_norm_config_errors(void **state) {
    (void)state;
    const wg_plugin *p = lipschitz("spectral_norm");
    assert_int_equal(pc_try_create(p, "power_iterations: 0"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "key 'power_iterations'"));
    assert_int_equal(pc_try_create(p, "power_iterations: 1.5"), WG_ERR_CONFIG);
    assert_int_equal(pc_try_create(p, "eps: -1"), WG_ERR_CONFIG);
}

/* The generator's weights and the critic's biases pass through untouched. */
static void test_spectral_norm_only_critic_weights(void **state) {
    (void)state;
    const wg_plugin *p = lipschitz("spectral_norm");
    void *sn = pc_create(p, "");
    wg_build *build = pc_build(WG_F64, 4, p, sn);
    wg_build_set_network(build, "generator");
    wg_node w = wg_build_param(build, "fc.weight", wg_shape2(3, 3), (wg_init){0}, WG_PARAM_WEIGHT);
    pc_build_check(build);
    assert_int_equal(w, pc_variable(build, "generator.fc.weight"));
    assert_int_equal(build->n_updates, 0);
}

/* ---- the penalty hooks, as the runtime calls them ---- */

/* What a fake strategy's hooks saw. */
static struct {
    int ctx_calls, old_calls;
    wg_penalty_context context;
    wg_node real, fake, draw;
    char network[16];
} seen;

static wg_status fake_penalty_ctx(void *state, wg_build *build, const wg_penalty_context *c,
                                  wg_node *penalty) {
    (void)state;
    seen.ctx_calls++;
    seen.context = *c;
    snprintf(seen.network, sizeof seen.network, "%s", wg_build_network(build));
    wg_graph *g = wg_build_graph(build);
    seen.draw = wg_random_uniform(g, "noise", wg_shape1(2), 0, 1);
    /* R1's square gradient norm at the real batch, from the step's own D(real) */
    wg_node grad;
    wg_status s = wg_grad(g, wg_sum_all(g, c->real_scores), 1, &c->real, &grad);
    if (s == WG_OK) *penalty = wg_mean_all(g, wg_square(g, wg_norm_per_sample(g, grad, 0)));
    return s;
}

static wg_status fake_penalty(void *state, wg_build *build, const wg_critic_fn *critic,
                              wg_node real, wg_node fake, wg_node *penalty) {
    (void)state, (void)critic;
    seen.old_calls++;
    seen.real = real;
    seen.fake = fake;
    *penalty = wg_mean_all(wg_build_graph(build), real);
    return WG_OK;
}

/* The linear critic of D = 3 as the runtime applies a network, counting the calls. */
static wg_status counting_critic(void *self, wg_build *build, wg_node x, wg_node *score) {
    (*(int *)self)++;
    wg_build_enter_network(build, "critic");
    wg_status s = linear_critic(&(int64_t){3}, build, x, score);
    wg_build_leave(build);
    return s;
}

/* penalty_ctx gets the step's batches and scores in a context of its size, with the
 * critic as the network and its draws keyed by the strategy; `penalty` alone (ABI
 * 1.0) still works; with both, penalty_ctx wins; with neither there is no penalty.
 * R1 from the context needs no critic call of its own. */
static void test_penalty_hooks(void **state) {
    (void)state;
    enum { N = 4, D = 3 };
    wg_plugin fake = {.kind = WG_PLUGIN_LIPSCHITZ, .name = "fake"};
    const wg_lipschitz_vtable both = {
        .struct_size = sizeof both, .penalty = fake_penalty, .penalty_ctx = fake_penalty_ctx};
    const wg_lipschitz_vtable old = {.struct_size = sizeof old, .penalty = fake_penalty};
    const wg_lipschitz_vtable none = {.struct_size = sizeof none};
    const wg_lipschitz_vtable *vts[3] = {&both, &old, &none};
    for (int k = 0; k < 3; k++) {
        memset(&seen, 0, sizeof seen);
        fake.vt.lipschitz = *vts[k];
        wg_build *build = pc_build(WG_F64, N, &fake, NULL);
        wg_build_set_network(build, "generator");
        wg_graph *g = wg_build_graph(build);
        int calls = 0;
        wg_critic_fn critic = {counting_critic, &calls};
        wg_node real = wg_input(g, wg_shape2(N, D), "real"),
                fake_x = wg_input(g, wg_shape2(N, D), "f");
        wg_node s_real, s_fake, penalty = 12345;
        nc_check(critic.apply(critic.self, build, real, &s_real), "critic(real)");
        nc_check(critic.apply(critic.self, build, fake_x, &s_fake), "critic(fake)");
        nc_check(wg_build_penalty(build, &critic, real, fake_x, s_real, s_fake, &penalty),
                 "penalty");
        pc_build_check(build);
        assert_int_equal(calls, 2); /* none of the hooks ran the critic again */
        assert_string_equal(wg_build_network(build), "generator"); /* restored */
        if (k == 0) {
            assert_int_equal(seen.ctx_calls, 1);
            assert_int_equal(seen.old_calls, 0);
            assert_int_equal(seen.context.struct_size, sizeof(wg_penalty_context));
            assert_true(seen.context.critic == &critic);
            assert_int_equal(seen.context.real, real);
            assert_int_equal(seen.context.fake, fake_x);
            assert_int_equal(seen.context.real_scores, s_real);
            assert_int_equal(seen.context.fake_scores, s_fake);
            assert_string_equal(seen.network, "critic");
            assert_string_equal(wg_node_name(g, seen.draw), "test/lipschitz.fake/noise");
            /* R1 of the linear critic x a: |a|^2 for every sample */
            wg_node a = pc_variable(build, "critic.a");
            wg_session *session = nc_session(g, cpu(), nc_run_seed());
            wg_plan *plan = nc_plan(session, 1, &penalty);
            double av[D], xv[N * D];
            nc_rng rng = nc_rng_for(nc_hash("penalty_hooks"));
            nc_fill(&rng, av, D, NC_SIGNED);
            nc_fill(&rng, xv, N * D, NC_SIGNED);
            nc_write(session, a, av);
            nc_write(session, real, xv);
            nc_write(session, fake_x, xv);
            nc_run(plan);
            double got = nc_read_scalar(plan, penalty), want = norm2(av, D) * norm2(av, D);
            wg_shape one = wg_shape1(1);
            nc_expect_close("R1 from the context's scores", &got, &want, &one, 1e-12, 1e-14);
        } else if (k == 1) {
            assert_int_equal(seen.old_calls, 1);
            assert_int_equal(seen.real, real);
            assert_int_equal(seen.fake, fake_x);
            assert_true(penalty != WG_NONE);
        } else {
            assert_int_equal(seen.ctx_calls + seen.old_calls, 0);
            assert_int_equal(penalty, WG_NONE);
        }
        pc_teardown(NULL);
    }
}

/* ---- none ---- */

static void test_none(void **state) {
    (void)state;
    const wg_plugin *p = lipschitz("none");
    void *none = pc_create(p, "");
    assert_null(p->vt.lipschitz.reparametrize);
    assert_null(p->vt.lipschitz.penalty);
    assert_null(p->vt.lipschitz.penalty_ctx);
    assert_null(p->vt.lipschitz.project);
    assert_null(p->vt.lipschitz.create); /* stateless */
    assert_null(p->vt.lipschitz.destroy);
    assert_int_equal(p->vt.lipschitz.flags, 0);
    wg_build *build = pc_build(WG_F64, 4, p, none);
    wg_node w = wg_build_param(build, "fc.weight", wg_shape2(3, 3), (wg_init){0}, WG_PARAM_WEIGHT);
    pc_build_check(build);
    assert_int_equal(w, pc_variable(build, "critic.fc.weight"));
    assert_int_equal(pc_try_create(p, "clip: 1"), WG_ERR_CONFIG);
}

int main(void) {
    nc_init("test_lipschitz");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_weight_clip, pc_teardown),
        cmocka_unit_test_teardown(test_weight_clip_config_errors, pc_teardown),
        cmocka_unit_test_teardown(test_gp_linear_critic, pc_teardown),
        cmocka_unit_test_teardown(test_gp_interpolates, pc_teardown),
        cmocka_unit_test_teardown(test_gp_config_errors, pc_teardown),
        cmocka_unit_test_teardown(test_spectral_norm, pc_teardown),
        cmocka_unit_test_teardown(test_spectral_norm_config_errors, pc_teardown),
        cmocka_unit_test_teardown(test_spectral_norm_only_critic_weights, pc_teardown),
        cmocka_unit_test_teardown(test_penalty_hooks, pc_teardown),
        cmocka_unit_test_teardown(test_none, pc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, pc_group_teardown);
}
