/* The loss plugins, loaded through the plugin loader and run on the cpu device: critic
 * and generator losses of random scores, and the generator losses' gradients, against
 * the formulas evaluated here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "numcheck.h"
#include "plugincheck.h"

enum { N = 7 };

typedef struct loss_case {
    const char *plugin, *yaml;
    /* per-sample terms: critic loss = mean(real_term) + mean(fake_term) */
    double (*real_term)(double s);
    double (*fake_term)(double s);
    double (*gen_term)(double s);  /* generator loss = mean(gen_term) */
    double (*gen_slope)(double s); /* its derivative */
} loss_case;

static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static double sigmoid(double x) {
    return 1 / (1 + exp(-x));
}

static double neg(double s) {
    return -s;
}
static double same(double s) {
    return s;
}
static double minus_one(double s) {
    (void)s;
    return -1;
}
static double bce_real(double s) {
    return softplus(-s); /* -log sigmoid(s) */
}
static double bce_fake(double s) {
    return softplus(s); /* -log(1 - sigmoid(s)) */
}
static double minimax_gen(double s) {
    return -softplus(s); /* log(1 - sigmoid(s)) */
}
static double minimax_slope(double s) {
    return -sigmoid(s);
}
static double non_saturating_gen(double s) {
    return softplus(-s); /* -log sigmoid(s) */
}
static double non_saturating_slope(double s) {
    return -sigmoid(-s);
}
static double hinge_real(double s) {
    return fmax(0, 1 - s);
}
static double hinge_fake(double s) {
    return fmax(0, 1 + s);
}

static double half_square_minus_one(double s) {
    return 0.5 * (s - 1) * (s - 1);
}
static double half_square(double s) {
    return 0.5 * s * s;
}
static double half_square_plus_one(double s) {
    return 0.5 * (s + 1) * (s + 1);
}
static double minus_one_slope(double s) {
    return s - 1;
}

static const loss_case cases[] = {
    {"wasserstein", "", neg, same, neg, minus_one},
    {"gan", "", bce_real, bce_fake, non_saturating_gen, non_saturating_slope},
    {"gan", "mode: non_saturating", bce_real, bce_fake, non_saturating_gen, non_saturating_slope},
    {"gan", "mode: minimax", bce_real, bce_fake, minimax_gen, minimax_slope},
    {"hinge", "", hinge_real, hinge_fake, neg, minus_one},
    /* LSGAN's 0-1 coding (a 0, b 1, c 1) and its Pearson chi^2 targets (a -1, b 1, c 0) */
    {"least_squares", "", half_square_minus_one, half_square, half_square_minus_one,
     minus_one_slope},
    {"least_squares", "{a: -1, b: 1, c: 0}", half_square_minus_one, half_square_plus_one,
     half_square, same},
};

static void check_loss(const loss_case *c, wg_dtype dtype) {
    const wg_plugin *p = pf_plugin(WG_PLUGIN_LOSS, c->plugin);
    void *state = pc_create(p, c->yaml);
    wg_build *build = pc_build(dtype, N, NULL, NULL);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_input(g, wg_shape2(N, 1), "real_scores");
    wg_node fake = wg_input(g, wg_shape2(N, 1), "fake_scores");
    wg_node critic_loss, gen_loss, gen_grad;
    nc_check(p->vt.loss.critic_loss(state, build, real, fake, &critic_loss), "critic_loss");
    nc_check(p->vt.loss.generator_loss(state, build, fake, &gen_loss), "generator_loss");
    pc_build_check(build);
    assert_int_equal(wg_node_numel(g, critic_loss), 1);
    assert_int_equal(wg_node_numel(g, gen_loss), 1);
    nc_check(wg_grad(g, gen_loss, 1, &fake, &gen_grad), "wg_grad");

    wg_node targets[] = {critic_loss, gen_loss, gen_grad};
    wg_session *session = nc_session(g, nc_device("cpu"), 1);
    wg_plan *plan = nc_plan(session, 3, targets);
    nc_rng rng = nc_rng_for(11);
    /* scores on both sides of zero and of the hinge's kinks at -1 and 1 */
    nc_range range = {-3, 3, 0.05, 2, {1, -1}};
    double r[N], f[N], want_grad[N], got_grad[N];
    for (int round = 0; round < 3; round++) {
        nc_fill(&rng, r, N, range);
        nc_fill(&rng, f, N, range);
        nc_write(session, real, r);
        nc_write(session, fake, f);
        nc_run(plan);
        double want[2] = {0, 0};
        for (int i = 0; i < N; i++) {
            want[0] += (c->real_term(r[i]) + c->fake_term(f[i])) / N;
            want[1] += c->gen_term(f[i]) / N;
            want_grad[i] = c->gen_slope(f[i]) / N;
        }
        double got[2] = {nc_read_scalar(plan, critic_loss), nc_read_scalar(plan, gen_loss)};
        nc_read(plan, gen_grad, got_grad);
        double rtol = dtype == WG_F64 ? 1e-12 : 1e-5;
        wg_shape two = wg_shape1(2), n = wg_shape2(N, 1);
        nc_expect_close(c->plugin, got, want, &two, rtol, rtol);
        nc_expect_close("d generator loss / d fake", got_grad, want_grad, &n, rtol, rtol);
    }
}

/* ---- relativistic: every base in both modes, against the formulas in doubles ---- */

typedef double (*phi_fn)(double y);

static double dphi_standard(double y) {
    return -sigmoid(-y);
}
static double dphi_wasserstein(double y) {
    (void)y;
    return -1;
}
static double dphi_hinge(double y) {
    return y < 1 ? -1 : 0;
}
static double dphi_least_squares(double y) {
    return 2 * (y - 1);
}

static double phi_standard(double y) {
    return softplus(-y);
}
static double phi_wasserstein(double y) {
    return -y;
}
static double phi_hinge(double y) {
    return fmax(0, 1 - y);
}
static double phi_least_squares(double y) {
    return (y - 1) * (y - 1);
}

typedef struct rel_base {
    const char *name;
    phi_fn phi, dphi;
} rel_base;

static const rel_base bases[] = {{"standard", phi_standard, dphi_standard},
                                 {"wasserstein", phi_wasserstein, dphi_wasserstein},
                                 {"hinge", phi_hinge, dphi_hinge},
                                 {"least_squares", phi_least_squares, dphi_least_squares}};

static double mean_of(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s / n;
}

/* RSGAN: mean phi(a_i - b_i); RaGAN: mean phi(a_i - mean b) + mean phi(mean a - b_i).
 * The critic's loss is this of (real, fake), the generator's of (fake, real). */
static double relativistic_want(phi_fn phi, bool average, const double *a, const double *b) {
    double total = 0, ma = mean_of(a, N), mb = mean_of(b, N);
    for (int i = 0; i < N; i++)
        total += average ? phi(a[i] - mb) + phi(ma - b[i]) : phi(a[i] - b[i]);
    return total / N;
}

/* d/da_j of relativistic_want(a, b): the generator loss's slope in the fake scores. */
static double relativistic_slope(phi_fn dphi, bool average, const double *a, const double *b,
                                 int j) {
    if (!average) return dphi(a[j] - b[j]) / N;
    double ma = mean_of(a, N), mb = mean_of(b, N), inner = 0;
    for (int i = 0; i < N; i++) inner += dphi(ma - b[i]) / N;
    return (dphi(a[j] - mb) + inner) / N;
}

static void check_relativistic(const char *yaml, const rel_base *base, bool average,
                               wg_dtype dtype) {
    const wg_plugin *p = pf_plugin(WG_PLUGIN_LOSS, "relativistic");
    assert_null(p->vt.loss.generator_loss); /* it cannot do without D(real) */
    void *state = pc_create(p, yaml);
    wg_build *build = pc_build(dtype, N, NULL, NULL);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_input(g, wg_shape2(N, 1), "real_scores");
    wg_node fake = wg_input(g, wg_shape2(N, 1), "fake_scores");
    const wg_generator_loss_context context = {sizeof context, real, fake};
    wg_node loss[2];
    nc_check(p->vt.loss.critic_loss(state, build, real, fake, &loss[0]), "critic_loss");
    nc_check(p->vt.loss.generator_loss_ctx(state, build, &context, &loss[1]), "generator_loss_ctx");
    pc_build_check(build);
    assert_int_equal(wg_node_numel(g, loss[0]), 1);
    assert_int_equal(wg_node_numel(g, loss[1]), 1);
    wg_node targets[3] = {loss[0], loss[1], WG_NONE};
    nc_check(wg_grad(g, loss[1], 1, &fake, &targets[2]), "wg_grad");
    wg_session *session = nc_session(g, nc_device("cpu"), 1);
    wg_plan *plan = nc_plan(session, 3, targets);
    nc_rng rng = nc_rng_for(nc_hash(yaml));
    nc_range range = {-3, 3, 0.05, 0, {0}};
    double r[N], f[N], got_grad[N], want_grad[N];
    for (int round = 0; round < 3; round++) {
        nc_fill(&rng, r, N, range);
        nc_fill(&rng, f, N, range);
        nc_write(session, real, r);
        nc_write(session, fake, f);
        nc_run(plan);
        double want[2] = {relativistic_want(base->phi, average, r, f),
                          relativistic_want(base->phi, average, f, r)};
        double got[2] = {nc_read_scalar(plan, loss[0]), nc_read_scalar(plan, loss[1])};
        for (int j = 0; j < N; j++) want_grad[j] = relativistic_slope(base->dphi, average, f, r, j);
        nc_read(plan, targets[2], got_grad);
        double rtol = dtype == WG_F64 ? 1e-12 : 1e-5;
        wg_shape two = wg_shape1(2), n = wg_shape2(N, 1);
        nc_expect_close(yaml, got, want, &two, rtol, rtol);
        nc_expect_close("d generator loss / d fake", got_grad, want_grad, &n, rtol, rtol);
    }
}

static void test_relativistic(void **state) {
    (void)state;
    if (!nc_device("cpu")) fail_msg("the cpu device must open");
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++)
        for (int average = 0; average <= 1; average++) {
            char yaml[96];
            snprintf(yaml, sizeof yaml, "{average: %s, base: %s}", average ? "true" : "false",
                     bases[i].name);
            check_relativistic(yaml, &bases[i], average, WG_F64);
            check_relativistic(yaml, &bases[i], average, WG_F32);
            pc_teardown(NULL);
        }
    /* the defaults: RaSGAN */
    check_relativistic("", &bases[0], true, WG_F64);
}

static void test_losses(void **state) {
    (void)state;
    if (!nc_device("cpu")) fail_msg("the cpu device must open");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_loss(&cases[i], WG_F64);
        check_loss(&cases[i], WG_F32);
        pc_teardown(NULL);
    }
}

/* The Wasserstein critic loss is the negated estimate of W1: for scores equal to the
 * samples of two point masses it is their distance. */
static void test_wasserstein_sign(void **state) {
    (void)state;
    const wg_plugin *p = pf_plugin(WG_PLUGIN_LOSS, "wasserstein");
    void *w = pc_create(p, "");
    wg_build *build = pc_build(WG_F64, 2, NULL, NULL);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_constant(g, wg_shape2(2, 1), 3);
    wg_node fake = wg_constant(g, wg_shape2(2, 1), 1);
    wg_node loss;
    nc_check(p->vt.loss.critic_loss(w, build, real, fake, &loss), "critic_loss");
    pc_build_check(build);
    wg_plan *plan = nc_plan(nc_session(g, nc_device("cpu"), 1), 1, &loss);
    nc_run(plan);
    assert_true(nc_read_scalar(plan, loss) == -2);
}

static void test_config_errors(void **state) {
    (void)state;
    const wg_plugin *gan = pf_plugin(WG_PLUGIN_LOSS, "gan");
    assert_int_equal(pc_try_create(gan, "mode: saturating"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "key 'mode'"));
    assert_non_null(strstr(wg_last_error(), "non_saturating"));
    assert_non_null(strstr(wg_last_error(), "minimax"));
    assert_int_equal(pc_try_create(pf_plugin(WG_PLUGIN_LOSS, "hinge"), "margin: 2"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "unknown key 'margin'"));
    assert_int_equal(pc_try_create(pf_plugin(WG_PLUGIN_LOSS, "wasserstein"), "mode: minimax"),
                     WG_ERR_CONFIG);
    const wg_plugin *ls = pf_plugin(WG_PLUGIN_LOSS, "least_squares");
    assert_int_equal(pc_try_create(ls, "{a: 1, b: 1}"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "must differ"));
    assert_int_equal(pc_try_create(ls, "c: yes"), WG_ERR_CONFIG);
    const wg_plugin *rel = pf_plugin(WG_PLUGIN_LOSS, "relativistic");
    assert_int_equal(pc_try_create(rel, "base: minimax"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "least_squares"));
    assert_int_equal(pc_try_create(rel, "average: 2"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "average"));
}

int main(void) {
    nc_init("test_loss");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_losses, pc_teardown),
        cmocka_unit_test_teardown(test_relativistic, pc_teardown),
        cmocka_unit_test_teardown(test_wasserstein_sign, pc_teardown),
        cmocka_unit_test_teardown(test_config_errors, pc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, pc_group_teardown);
}
