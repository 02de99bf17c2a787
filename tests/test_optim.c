/* Optimizer updates replayed by the executor on the cpu device, checked step by step
 * against textbook formulas evaluated here in doubles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"
#include "wgan/optim.h"
#include "wgan/session.h"

#define N_PARAMS 2
#define STEPS 6

static const char *const param_names[N_PARAMS] = {"fc.weight", "fc.bias"};

static wg_shape param_shape(int i) {
    return i == 0 ? wg_shape2(3, 4) : wg_shape1(5);
}

/* ---- random numbers (splitmix64) ---- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s, double low, double high) {
    return low + (high - low) * (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* Values representable in the graph's dtype, so the reference starts where the device
 * does. */
static double representable(wg_dtype dtype, double x) {
    return dtype == WG_F32 ? (double)(float)x : x;
}

/* ---- host <-> session in the graph's dtype ---- */

static void write_doubles(wg_session *s, wg_dtype dtype, wg_node node, const double *x, int n) {
    if (dtype == WG_F64) {
        assert_int_equal(wg_session_write(s, node, x), WG_OK);
        return;
    }
    float *f = malloc(sizeof *f * n);
    for (int i = 0; i < n; i++) f[i] = (float)x[i];
    assert_int_equal(wg_session_write(s, node, f), WG_OK);
    free(f);
}

static void read_doubles(wg_session *s, wg_dtype dtype, wg_node node, double *x, int n) {
    if (dtype == WG_F64) {
        assert_int_equal(wg_session_read(s, node, x), WG_OK);
        return;
    }
    float *f = malloc(sizeof *f * n);
    assert_int_equal(wg_session_read(s, node, f), WG_OK);
    for (int i = 0; i < n; i++) x[i] = f[i];
    free(f);
}

/* ---- reference: one step of each optimizer on flat arrays, in doubles ---- */

typedef struct ref_state {
    double *p, *buf, *sq, *ga, *m, *v, *vmax;
} ref_state;

static void ref_sgd(const wg_sgd_config *c, int t, int n, ref_state *r, const double *grad) {
    for (int i = 0; i < n; i++) {
        double g = c->maximize ? -grad[i] : grad[i];
        g += c->weight_decay * r->p[i];
        if (c->momentum != 0) {
            r->buf[i] = t == 1 ? g : c->momentum * r->buf[i] + (1 - c->dampening) * g;
            g = c->nesterov ? g + c->momentum * r->buf[i] : r->buf[i];
        }
        r->p[i] -= c->lr * g;
    }
}

static void ref_rmsprop(const wg_rmsprop_config *c, int n, ref_state *r, const double *grad) {
    for (int i = 0; i < n; i++) {
        double g = c->maximize ? -grad[i] : grad[i];
        g += c->weight_decay * r->p[i];
        r->sq[i] = c->alpha * r->sq[i] + (1 - c->alpha) * g * g;
        double var = r->sq[i];
        if (c->centered) {
            r->ga[i] = c->alpha * r->ga[i] + (1 - c->alpha) * g;
            var -= r->ga[i] * r->ga[i];
        }
        double denom = sqrt(var) + c->eps;
        if (c->momentum > 0) {
            r->buf[i] = c->momentum * r->buf[i] + g / denom;
            r->p[i] -= c->lr * r->buf[i];
        } else {
            r->p[i] -= c->lr * g / denom;
        }
    }
}

static void ref_adam(const wg_adam_config *c, int t, int n, ref_state *r, const double *grad) {
    double bias1 = 1 - pow(c->beta1, t), bias2 = 1 - pow(c->beta2, t);
    for (int i = 0; i < n; i++) {
        double g = c->maximize ? -grad[i] : grad[i];
        g += c->weight_decay * r->p[i];
        r->m[i] = c->beta1 * r->m[i] + (1 - c->beta1) * g;
        r->v[i] = c->beta2 * r->v[i] + (1 - c->beta2) * g * g;
        double v = r->v[i];
        if (c->amsgrad) {
            r->vmax[i] = fmax(r->vmax[i], r->v[i]);
            v = r->vmax[i];
        }
        double m_hat = r->m[i] / bias1, v_hat = v / bias2;
        r->p[i] -= c->lr * m_hat / (sqrt(v_hat) + c->eps);
    }
}

static void ref_step(const wg_optim_config *c, int t, int n, ref_state *r, const double *g) {
    switch (c->kind) {
    case WG_OPTIM_SGD: ref_sgd(&c->sgd, t, n, r, g); break;
    case WG_OPTIM_RMSPROP: ref_rmsprop(&c->rmsprop, n, r, g); break;
    case WG_OPTIM_ADAM: ref_adam(&c->adam, t, n, r, g); break;
    }
}

/* The reference array holding state `key` of every element. */
static double *ref_array(ref_state *r, const char *key) {
    if (!strcmp(key, "momentum_buffer")) return r->buf;
    if (!strcmp(key, "square_avg")) return r->sq;
    if (!strcmp(key, "grad_avg")) return r->ga;
    if (!strcmp(key, "exp_avg")) return r->m;
    if (!strcmp(key, "exp_avg_sq")) return r->v;
    if (!strcmp(key, "max_exp_avg_sq")) return r->vmax;
    fail_msg("unexpected state key %s", key);
    return NULL;
}

/* ---- comparison ---- */

static double max_abs(const double *x, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* Errors are measured against the largest reference magnitude, so an element that
 * cancels to nearly zero does not demand an impossible relative accuracy. */
static void expect_close(const char *what, int step, const double *got, const double *want, int n,
                         double tol) {
    double bound = tol * fmax(max_abs(want, n), 1e-30);
    for (int i = 0; i < n; i++) {
        if (!(fabs(got[i] - want[i]) <= bound))
            fail_msg("%s, step %d, element %d: got %.17g, want %.17g (bound %.3g)", what, step, i,
                     got[i], want[i], bound);
    }
}

/* ---- one optimizer on one dtype ---- */

typedef struct fixture {
    wg_graph *graph;
    wg_node params[N_PARAMS], grads[N_PARAMS];
    wg_node lr; /* the learning rate as an input, or WG_NONE for the constant */
    wg_optimizer *opt;
    int numel[N_PARAMS], offset[N_PARAMS], total;
} fixture;

static void fixture_build(fixture *f, wg_dtype dtype, const wg_optim_config *config,
                          bool lr_input) {
    memset(f, 0, sizeof *f);
    f->graph = wg_graph_new(dtype);
    assert_non_null(f->graph);
    f->lr = lr_input ? wg_input(f->graph, wg_shape1(1), "lr") : WG_NONE;
    for (int i = 0; i < N_PARAMS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.grad", param_names[i]);
        f->params[i] = wg_variable(f->graph, param_shape(i), param_names[i]);
        f->grads[i] = wg_input(f->graph, param_shape(i), name);
        f->numel[i] = (int)wg_node_numel(f->graph, f->params[i]);
        f->offset[i] = f->total;
        f->total += f->numel[i];
    }
    wg_status s =
        wg_optimizer_new_lr(f->graph, config, N_PARAMS, f->params, f->grads, "opt", f->lr, &f->opt);
    if (s != WG_OK) fail_msg("wg_optimizer_new: %s", wg_last_error());
}

static void fixture_free(fixture *f) {
    wg_optimizer_free(f->opt);
    wg_graph_free(f->graph);
}

static wg_session *open_session(fixture *f, wg_device **device) {
    wg_session *s = NULL;
    if (wg_device_open("cpu", device) != WG_OK) fail_msg("cpu device: %s", wg_last_error());
    if (wg_session_new(f->graph, *device, 1234, &s) != WG_OK)
        fail_msg("session: %s", wg_last_error());
    return s;
}

/* The updates, and the updated values of the parameters as targets to read. */
static wg_plan *open_plan(fixture *f, wg_session *s) {
    wg_plan *plan = NULL;
    int n = wg_optimizer_update_count(f->opt);
    wg_node targets[64];
    assert_true(n + N_PARAMS <= 64);
    memcpy(targets, wg_optimizer_updates(f->opt), (size_t)n * sizeof *targets);
    for (int i = 0; i < N_PARAMS; i++) targets[n + i] = wg_optimizer_updated(f->opt, i);
    assert_int_equal(wg_optimizer_updated(f->opt, N_PARAMS), WG_NONE);
    if (wg_plan_new(s, n + N_PARAMS, targets, &plan) != WG_OK)
        fail_msg("plan: %s", wg_last_error());
    return plan;
}

/* What wg_optimizer_updated gives is what the parameter holds after the step. */
static void check_updated(fixture *f, wg_session *s, wg_plan *plan, wg_dtype dtype) {
    double *stored = malloc(sizeof *stored * f->total),
           *updated = malloc(sizeof *stored * f->total);
    size_t size = dtype == WG_F64 ? sizeof(double) : sizeof(float);
    char *raw = malloc(size * (size_t)f->total);
    for (int i = 0; i < N_PARAMS; i++) {
        read_doubles(s, dtype, f->params[i], stored, f->numel[i]);
        assert_int_equal(wg_plan_read(plan, wg_optimizer_updated(f->opt, i), raw), WG_OK);
        for (int j = 0; j < f->numel[i]; j++)
            updated[j] = dtype == WG_F64 ? ((double *)raw)[j] : ((float *)raw)[j];
        assert_memory_equal(stored, updated, sizeof *stored * (size_t)f->numel[i]);
    }
    free(raw);
    free(stored);
    free(updated);
}

static double lr_of(const wg_optim_config *c) {
    return c->kind == WG_OPTIM_SGD       ? c->sgd.lr
           : c->kind == WG_OPTIM_RMSPROP ? c->rmsprop.lr
                                         : c->adam.lr;
}

/* The configuration with learning rate `lr`. */
static wg_optim_config with_lr(const wg_optim_config *c, double lr) {
    wg_optim_config out = *c;
    switch (c->kind) {
    case WG_OPTIM_SGD: out.sgd.lr = lr; break;
    case WG_OPTIM_RMSPROP: out.rmsprop.lr = lr; break;
    case WG_OPTIM_ADAM: out.adam.lr = lr; break;
    }
    return out;
}

static void write_params(fixture *f, wg_session *s, wg_dtype dtype, const double *p) {
    for (int i = 0; i < N_PARAMS; i++)
        write_doubles(s, dtype, f->params[i], p + f->offset[i], f->numel[i]);
}

static void write_grads(fixture *f, wg_session *s, wg_dtype dtype, const double *g) {
    for (int i = 0; i < N_PARAMS; i++)
        write_doubles(s, dtype, f->grads[i], g + f->offset[i], f->numel[i]);
}

/* Gradients of a different scale each step, from 1e-2 to 1e1, so that eps, momentum and
 * the moving averages all matter. */
static void random_grads(uint64_t *rng, wg_dtype dtype, double *g, int n) {
    double scale = pow(10.0, rng_uniform(rng, -2, 1));
    for (int i = 0; i < n; i++) g[i] = representable(dtype, scale * rng_uniform(rng, -1, 1));
}

static void check_states(fixture *f, wg_session *s, wg_dtype dtype, ref_state *r, int step,
                         double tol) {
    double *got = malloc(sizeof *got * f->total);
    for (int k = 0; k < wg_optimizer_state_count(f->opt); k++) {
        const wg_optim_state *st = wg_optimizer_state(f->opt, k);
        if (st->param < 0) {
            double t;
            read_doubles(s, dtype, st->node, &t, 1);
            assert_true(t == step);
            continue;
        }
        int n = f->numel[st->param];
        read_doubles(s, dtype, st->node, got, n);
        expect_close(st->name, step, got, ref_array(r, st->key) + f->offset[st->param], n, tol);
    }
    free(got);
}

static void check_params(fixture *f, wg_session *s, wg_dtype dtype, const double *p0,
                         const double *p_ref, int step, double tol) {
    double *got = malloc(sizeof *got * f->total), *d_got = malloc(sizeof *got * f->total),
           *d_ref = malloc(sizeof *got * f->total);
    for (int i = 0; i < N_PARAMS; i++)
        read_doubles(s, dtype, f->params[i], got + f->offset[i], f->numel[i]);
    /* Compare the accumulated change, not the parameter: with lr 5e-5 the change is far
     * below the parameter's own size. Storing p rounds once per step. */
    double unit = dtype == WG_F32 ? 0x1p-24 : 0x1p-53;
    double rounding = step * unit * (max_abs(p_ref, f->total) + max_abs(p0, f->total));
    for (int i = 0; i < f->total; i++) {
        d_got[i] = got[i] - p0[i];
        d_ref[i] = p_ref[i] - p0[i];
    }
    double bound = tol * max_abs(d_ref, f->total) + rounding;
    for (int i = 0; i < f->total; i++) {
        if (!(fabs(d_got[i] - d_ref[i]) <= bound))
            fail_msg("params, step %d, element %d: change %.17g, want %.17g (bound %.3g)", step, i,
                     d_got[i], d_ref[i], bound);
    }
    assert_true(max_abs(d_ref, f->total) > 0);
    free(got);
    free(d_got);
    free(d_ref);
}

static ref_state ref_alloc(int n) {
    ref_state r;
    double **arrays[] = {&r.p, &r.buf, &r.sq, &r.ga, &r.m, &r.v, &r.vmax};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++)
        *arrays[k] = calloc((size_t)n, sizeof(double));
    return r;
}

static void ref_free(ref_state *r) {
    double *arrays[] = {r->p, r->buf, r->sq, r->ga, r->m, r->v, r->vmax};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
}

/* With `scheduled`, the learning rate is an input given a random fraction of the
 * configured one at every step, as a schedule would. */
static void run_against_reference(const wg_optim_config *config, wg_dtype dtype, bool scheduled) {
    fixture f;
    fixture_build(&f, dtype, config, scheduled);
    wg_device *device = NULL;
    wg_session *s = open_session(&f, &device);
    wg_plan *plan = open_plan(&f, s);

    uint64_t rng = 42 + (uint64_t)config->kind;
    ref_state r = ref_alloc(f.total);
    double *p0 = malloc(sizeof *p0 * f.total), *g = malloc(sizeof *g * f.total);
    for (int i = 0; i < f.total; i++)
        p0[i] = r.p[i] = representable(dtype, rng_uniform(&rng, -1, 1));
    write_params(&f, s, dtype, p0);

    /* Float32 keeps about 7 digits; every update here is a few roundings deep. */
    double tol = dtype == WG_F32 ? 2e-6 : 1e-12;
    for (int t = 1; t <= STEPS; t++) {
        random_grads(&rng, dtype, g, f.total);
        write_grads(&f, s, dtype, g);
        wg_optim_config now = *config;
        if (scheduled) {
            /* the reference takes the lr the graph holds, rounded to its dtype */
            double lr = representable(dtype, lr_of(config) * rng_uniform(&rng, 0.05, 1));
            write_doubles(s, dtype, f.lr, &lr, 1);
            now = with_lr(config, lr);
        }
        if (wg_plan_run(plan) != WG_OK) fail_msg("run: %s", wg_last_error());
        check_updated(&f, s, plan, dtype);
        ref_step(&now, t, f.total, &r, g);
        check_states(&f, s, dtype, &r, t, tol);
        check_params(&f, s, dtype, p0, r.p, t, tol * 5);
    }

    free(p0);
    free(g);
    ref_free(&r);
    wg_plan_free(plan);
    wg_session_free(s);
    wg_device_close(device);
    fixture_free(&f);
}

static void test_against_reference(void **state) {
    const wg_optim_config *config = *state;
    run_against_reference(config, WG_F64, false);
    run_against_reference(config, WG_F32, false);
    run_against_reference(config, WG_F64, true);
    run_against_reference(config, WG_F32, true);
}

/* ---- the cases: defaults and the WGAN papers' settings, plus every option ---- */

static wg_optim_config sgd_case(double lr, double momentum, double dampening, double wd,
                                bool nesterov, bool maximize) {
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_SGD);
    c.sgd.lr = lr;
    c.sgd.momentum = momentum;
    c.sgd.dampening = dampening;
    c.sgd.weight_decay = wd;
    c.sgd.nesterov = nesterov;
    c.sgd.maximize = maximize;
    return c;
}

static wg_optim_config rmsprop_case(double lr, double alpha, double eps, double wd, double momentum,
                                    bool centered, bool maximize) {
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_RMSPROP);
    c.rmsprop.lr = lr;
    c.rmsprop.alpha = alpha;
    c.rmsprop.eps = eps;
    c.rmsprop.weight_decay = wd;
    c.rmsprop.momentum = momentum;
    c.rmsprop.centered = centered;
    c.rmsprop.maximize = maximize;
    return c;
}

static wg_optim_config adam_case(double lr, double beta1, double beta2, double eps, double wd,
                                 bool amsgrad, bool maximize) {
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_ADAM);
    c.adam.lr = lr;
    c.adam.beta1 = beta1;
    c.adam.beta2 = beta2;
    c.adam.eps = eps;
    c.adam.weight_decay = wd;
    c.adam.amsgrad = amsgrad;
    c.adam.maximize = maximize;
    return c;
}

static wg_optim_config cases[16];
static int n_cases;

static void make_cases(void) {
    wg_optim_config sgd = wg_optim_defaults(WG_OPTIM_SGD);
    wg_optim_config rms = wg_optim_defaults(WG_OPTIM_RMSPROP);
    wg_optim_config adam = wg_optim_defaults(WG_OPTIM_ADAM);
    wg_optim_config all[] = {
        sgd,
        sgd_case(0.05, 0.9, 0, 0, false, false),
        sgd_case(0.05, 0.8, 0.3, 0.01, false, false),
        sgd_case(0.02, 0.9, 0, 0.05, true, true),
        rms,
        rmsprop_case(5e-5, 0.99, 1e-8, 0, 0, false, false), /* WGAN, weight clipping */
        rmsprop_case(1e-3, 0.9, 1e-8, 0.1, 0.5, true, false),
        rmsprop_case(1e-3, 0.8, 1e-3, 0, 0.7, false, true),
        adam,
        adam_case(1e-4, 0.5, 0.9, 1e-8, 0, false, false), /* WGAN-GP code */
        adam_case(1e-4, 0.0, 0.9, 1e-8, 0, false, false), /* WGAN-GP paper */
        adam_case(2e-3, 0.8, 0.0, 1e-3, 0, false, false),
        adam_case(1e-3, 0.9, 0.999, 1e-8, 0.1, true, true),
    };
    n_cases = (int)(sizeof all / sizeof all[0]);
    memcpy(cases, all, sizeof all);
}

/* ---- the API around the updates ---- */

static void test_defaults(void **state) {
    (void)state;
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_SGD);
    assert_int_equal(c.kind, WG_OPTIM_SGD);
    assert_true(c.sgd.lr == 1e-3 && c.sgd.momentum == 0 && c.sgd.dampening == 0 &&
                c.sgd.weight_decay == 0 && !c.sgd.nesterov && !c.sgd.maximize);
    c = wg_optim_defaults(WG_OPTIM_RMSPROP);
    assert_true(c.rmsprop.lr == 1e-2 && c.rmsprop.alpha == 0.99 && c.rmsprop.eps == 1e-8 &&
                c.rmsprop.weight_decay == 0 && c.rmsprop.momentum == 0 && !c.rmsprop.centered);
    c = wg_optim_defaults(WG_OPTIM_ADAM);
    assert_true(c.adam.lr == 1e-3 && c.adam.beta1 == 0.9 && c.adam.beta2 == 0.999 &&
                c.adam.eps == 1e-8 && c.adam.weight_decay == 0 && !c.adam.amsgrad);

    wg_optim_kind kind;
    assert_int_equal(wg_optim_kind_parse("RMSprop", &kind), WG_OK);
    assert_int_equal(kind, WG_OPTIM_RMSPROP);
    assert_int_equal(wg_optim_kind_parse("adam", &kind), WG_OK);
    assert_int_equal(kind, WG_OPTIM_ADAM);
    assert_string_equal(wg_optim_kind_name(WG_OPTIM_SGD), "sgd");
    assert_int_equal(wg_optim_kind_parse("adamw", &kind), WG_ERR_INVALID);
    assert_non_null(strstr(wg_last_error(), "adamw"));
}

static void expect_invalid(wg_optim_config c, const char *field) {
    wg_clear_error();
    assert_int_equal(wg_optim_check(&c), WG_ERR_INVALID);
    if (!strstr(wg_last_error(), field))
        fail_msg("message '%s' does not name %s", wg_last_error(), field);
}

static void test_bad_hyperparameters(void **state) {
    (void)state;
    expect_invalid(sgd_case(-0.1, 0, 0, 0, false, false), "lr");
    expect_invalid(sgd_case(0.1, -0.5, 0, 0, false, false), "momentum");
    expect_invalid(sgd_case(0.1, 0.9, 0.1, 0, true, false), "nesterov");
    expect_invalid(sgd_case(0.1, 0, 0, 0, true, false), "nesterov");
    expect_invalid(sgd_case(0.1, 0, 0, -1, false, false), "weight_decay");
    expect_invalid(rmsprop_case(NAN, 0.99, 1e-8, 0, 0, false, false), "lr");
    expect_invalid(rmsprop_case(1e-3, 1.5, 1e-8, 0, 0, false, false), "alpha");
    expect_invalid(rmsprop_case(1e-3, 0.99, -1e-8, 0, 0, false, false), "eps");
    expect_invalid(adam_case(1e-3, 1.0, 0.999, 1e-8, 0, false, false), "beta1");
    expect_invalid(adam_case(1e-3, 0.9, -0.1, 1e-8, 0, false, false), "beta2");
    expect_invalid(adam_case(INFINITY, 0.9, 0.999, 1e-8, 0, false, false), "lr");
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_ADAM);
    c.kind = (wg_optim_kind)7;
    expect_invalid(c, "kind");

    /* wg_optimizer_new refuses them too, before touching the graph. */
    wg_graph *g = wg_graph_new(WG_F32);
    wg_node p = wg_variable(g, wg_shape1(3), "w"), grad = wg_input(g, wg_shape1(3), "gw");
    int size = wg_graph_size(g);
    wg_optimizer *opt = NULL;
    c = adam_case(1e-3, 1.0, 0.999, 1e-8, 0, false, false);
    assert_int_equal(wg_optimizer_new(g, &c, 1, &p, &grad, "o", &opt), WG_ERR_INVALID);
    assert_null(opt);
    assert_int_equal(wg_graph_size(g), size);
    wg_graph_free(g);
}

static void expect_param_error(wg_status want, int count, const wg_node *params,
                               const wg_node *grads, wg_graph *g, const char *text) {
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_ADAM);
    wg_optimizer *opt = NULL;
    assert_int_equal(wg_optimizer_new(g, &c, count, params, grads, NULL, &opt), want);
    assert_null(opt);
    if (!strstr(wg_last_error(), text))
        fail_msg("message '%s' does not mention '%s'", wg_last_error(), text);
}

static void test_bad_parameters(void **state) {
    (void)state;
    wg_graph *g = wg_graph_new(WG_F64);
    wg_node w = wg_variable(g, wg_shape2(2, 3), "w"), b = wg_variable(g, wg_shape1(3), "b");
    wg_node gw = wg_input(g, wg_shape2(2, 3), "gw"), gb = wg_input(g, wg_shape1(3), "gb");
    wg_node x = wg_input(g, wg_shape1(3), "x");

    expect_param_error(WG_ERR_INVALID, 0, (wg_node[]){w}, (wg_node[]){gw}, g, "parameter");
    expect_param_error(WG_ERR_INVALID, 1, (wg_node[]){x}, (wg_node[]){gb}, g, "not a variable");
    expect_param_error(WG_ERR_INVALID, 2, (wg_node[]){w, w}, (wg_node[]){gw, gw}, g, "twice");
    expect_param_error(WG_ERR_INVALID, 2, (wg_node[]){w, b}, (wg_node[]){gw, WG_NONE}, g,
                       "no gradient");
    expect_param_error(WG_ERR_SHAPE, 2, (wg_node[]){w, b}, (wg_node[]){gb, gw}, g, "[2, 3]");
    assert_int_equal(wg_graph_status(g), WG_OK);

    /* A graph that already failed is reported as such, not as a missing gradient. */
    wg_node bad = wg_add(g, gw, wg_input(g, wg_shape1(4), "y"));
    assert_int_equal(bad, WG_NONE);
    expect_param_error(WG_ERR_SHAPE, 2, (wg_node[]){w, b}, (wg_node[]){bad, gb}, g, "broadcast");
    wg_graph_free(g);
}

static void test_state_listing(void **state) {
    (void)state;
    wg_graph *g = wg_graph_new(WG_F32);
    wg_node params[2] = {wg_variable(g, wg_shape2(2, 2), "lin.w"),
                         wg_variable(g, wg_shape1(2), NULL)};
    wg_node grads[2] = {wg_input(g, wg_shape2(2, 2), NULL), wg_input(g, wg_shape1(2), NULL)};

    wg_optim_config c = adam_case(1e-3, 0.9, 0.999, 1e-8, 0, true, false);
    wg_optimizer *opt = NULL;
    assert_int_equal(wg_optimizer_new(g, &c, 2, params, grads, "opt_d", &opt), WG_OK);
    static const char *const want[] = {"opt_d.step",
                                       "opt_d.lin.w.exp_avg",
                                       "opt_d.lin.w.exp_avg_sq",
                                       "opt_d.lin.w.max_exp_avg_sq",
                                       "opt_d.param1.exp_avg",
                                       "opt_d.param1.exp_avg_sq",
                                       "opt_d.param1.max_exp_avg_sq"};
    static const int want_param[] = {-1, 0, 0, 0, 1, 1, 1};
    assert_int_equal(wg_optimizer_state_count(opt), 7);
    for (int k = 0; k < 7; k++) {
        const wg_optim_state *st = wg_optimizer_state(opt, k);
        assert_string_equal(st->name, want[k]);
        assert_string_equal(wg_node_name(g, st->node), want[k]);
        assert_int_equal(st->param, want_param[k]);
        assert_true(strstr(st->name, st->key) != NULL);
        wg_shape shape = wg_node_shape(g, st->node);
        wg_shape expect = st->param < 0 ? wg_shape1(1) : wg_node_shape(g, params[st->param]);
        assert_true(wg_shape_equal(&shape, &expect));
    }
    assert_null(wg_optimizer_state(opt, 7));
    assert_int_equal(wg_optimizer_step_variable(opt), wg_optimizer_state(opt, 0)->node);
    assert_int_equal(wg_optimizer_update_count(opt), 7 + 2);
    assert_int_equal(wg_optimizer_config(opt)->kind, WG_OPTIM_ADAM);
    wg_optimizer_free(opt);

    /* Plain SGD keeps no state at all; momentum adds one buffer per parameter. */
    c = wg_optim_defaults(WG_OPTIM_SGD);
    assert_int_equal(wg_optimizer_new(g, &c, 2, params, grads, NULL, &opt), WG_OK);
    assert_int_equal(wg_optimizer_state_count(opt), 0);
    assert_int_equal(wg_optimizer_update_count(opt), 2);
    assert_int_equal(wg_optimizer_step_variable(opt), WG_NONE);
    wg_optimizer_free(opt);
    c = sgd_case(0.1, 0.9, 0, 0, false, false);
    assert_int_equal(wg_optimizer_new(g, &c, 2, params, grads, "", &opt), WG_OK);
    assert_int_equal(wg_optimizer_state_count(opt), 2);
    assert_string_equal(wg_optimizer_state(opt, 0)->name, "lin.w.momentum_buffer");
    assert_string_equal(wg_optimizer_state(opt, 1)->key, "momentum_buffer");
    wg_optimizer_free(opt);

    c = rmsprop_case(1e-3, 0.9, 1e-8, 0, 0.5, true, false);
    assert_int_equal(wg_optimizer_new(g, &c, 1, params, grads, "r", &opt), WG_OK);
    assert_int_equal(wg_optimizer_state_count(opt), 4);
    assert_string_equal(wg_optimizer_state(opt, 0)->name, "r.step");
    assert_string_equal(wg_optimizer_state(opt, 1)->name, "r.lin.w.square_avg");
    assert_string_equal(wg_optimizer_state(opt, 2)->name, "r.lin.w.grad_avg");
    assert_string_equal(wg_optimizer_state(opt, 3)->name, "r.lin.w.momentum_buffer");
    wg_optimizer_free(opt);
    assert_int_equal(wg_graph_status(g), WG_OK);
    wg_graph_free(g);
}

/* Saving parameters and every listed state variable after k steps and loading them into
 * a fresh session continues bit for bit like the uninterrupted run. */
static void test_resume(void **state) {
    (void)state;
    wg_optim_config configs[] = {adam_case(1e-3, 0.5, 0.9, 1e-8, 0.01, true, false),
                                 sgd_case(0.05, 0.8, 0.3, 0, false, false),
                                 rmsprop_case(1e-3, 0.9, 1e-8, 0, 0.5, true, false)};
    for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++) {
        fixture f;
        fixture_build(&f, WG_F32, &configs[ci], false);
        uint64_t rng = 7;
        int n = f.total;
        double *p0 = malloc(sizeof(double) * n), *grads = malloc(sizeof(double) * n * STEPS);
        for (int i = 0; i < n; i++) p0[i] = representable(WG_F32, rng_uniform(&rng, -1, 1));
        for (int t = 0; t < STEPS; t++) random_grads(&rng, WG_F32, grads + t * n, n);

        wg_device *dev_a = NULL, *dev_b = NULL;
        wg_session *a = open_session(&f, &dev_a), *b = open_session(&f, &dev_b);
        wg_plan *plan_a = open_plan(&f, a), *plan_b = open_plan(&f, b);
        write_params(&f, a, WG_F32, p0);
        const int split = 3;
        for (int t = 0; t < split; t++) {
            write_grads(&f, a, WG_F32, grads + t * n);
            assert_int_equal(wg_plan_run(plan_a), WG_OK);
        }
        /* The checkpoint: parameters plus state, through host memory. */
        float buf[64];
        for (int i = 0; i < N_PARAMS; i++) {
            assert_int_equal(wg_session_read(a, f.params[i], buf), WG_OK);
            assert_int_equal(wg_session_write(b, f.params[i], buf), WG_OK);
        }
        for (int k = 0; k < wg_optimizer_state_count(f.opt); k++) {
            wg_node node = wg_optimizer_state(f.opt, k)->node;
            assert_int_equal(wg_session_read(a, node, buf), WG_OK);
            assert_int_equal(wg_session_write(b, node, buf), WG_OK);
        }
        for (int t = split; t < STEPS; t++) {
            write_grads(&f, a, WG_F32, grads + t * n);
            write_grads(&f, b, WG_F32, grads + t * n);
            assert_int_equal(wg_plan_run(plan_a), WG_OK);
            assert_int_equal(wg_plan_run(plan_b), WG_OK);
        }
        for (int i = 0; i < N_PARAMS; i++) {
            float va[64], vb[64];
            assert_int_equal(wg_session_read(a, f.params[i], va), WG_OK);
            assert_int_equal(wg_session_read(b, f.params[i], vb), WG_OK);
            assert_memory_equal(va, vb, sizeof(float) * f.numel[i]);
        }
        free(p0);
        free(grads);
        wg_plan_free(plan_a);
        wg_plan_free(plan_b);
        wg_session_free(a);
        wg_session_free(b);
        wg_device_close(dev_a);
        wg_device_close(dev_b);
        fixture_free(&f);
    }
}

/* With gradients from wg_grad: SGD on L = sum(w^2) / 2 scales w by (1 - lr) per step. */
static void test_with_autodiff(void **state) {
    (void)state;
    wg_graph *g = wg_graph_new(WG_F64);
    wg_node w = wg_variable(g, wg_shape2(2, 3), "w");
    wg_node loss = wg_scale(g, wg_sum_all(g, wg_square(g, w)), 0.5);
    wg_node grad;
    assert_int_equal(wg_grad(g, loss, 1, &w, &grad), WG_OK);
    wg_optim_config c = sgd_case(0.25, 0, 0, 0, false, false);
    wg_optimizer *opt = NULL;
    assert_int_equal(wg_optimizer_new(g, &c, 1, &w, &grad, "sgd", &opt), WG_OK);

    wg_device *dev = NULL;
    wg_session *s = NULL;
    wg_plan *plan = NULL;
    assert_int_equal(wg_device_open("cpu", &dev), WG_OK);
    assert_int_equal(wg_session_new(g, dev, 1, &s), WG_OK);
    assert_int_equal(
        wg_plan_new(s, wg_optimizer_update_count(opt), wg_optimizer_updates(opt), &plan), WG_OK);
    double w0[6] = {0.5, -1.25, 2.0, 0.75, -0.3, 1.1}, got[6];
    assert_int_equal(wg_session_write(s, w, w0), WG_OK);
    for (int t = 0; t < 3; t++) assert_int_equal(wg_plan_run(plan), WG_OK);
    assert_int_equal(wg_session_read(s, w, got), WG_OK);
    for (int i = 0; i < 6; i++) assert_true(fabs(got[i] - w0[i] * pow(0.75, 3)) <= 1e-15);
    wg_plan_free(plan);
    wg_session_free(s);
    wg_device_close(dev);
    wg_optimizer_free(opt);
    wg_graph_free(g);
}

int main(void) {
    make_cases();
    struct CMUnitTest tests[32];
    int n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_hyperparameters);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_parameters);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_state_listing);
    static char labels[16][192];
    for (int i = 0; i < n_cases; i++) {
        const wg_optim_config *c = &cases[i];
        switch (c->kind) {
        case WG_OPTIM_SGD:
            snprintf(labels[i], sizeof labels[i], "sgd lr=%g momentum=%g dampening=%g wd=%g%s%s",
                     c->sgd.lr, c->sgd.momentum, c->sgd.dampening, c->sgd.weight_decay,
                     c->sgd.nesterov ? " nesterov" : "", c->sgd.maximize ? " maximize" : "");
            break;
        case WG_OPTIM_RMSPROP:
            snprintf(labels[i], sizeof labels[i],
                     "rmsprop lr=%g alpha=%g eps=%g wd=%g momentum=%g%s%s", c->rmsprop.lr,
                     c->rmsprop.alpha, c->rmsprop.eps, c->rmsprop.weight_decay, c->rmsprop.momentum,
                     c->rmsprop.centered ? " centered" : "",
                     c->rmsprop.maximize ? " maximize" : "");
            break;
        case WG_OPTIM_ADAM:
            snprintf(labels[i], sizeof labels[i], "adam lr=%g betas=(%g, %g) eps=%g wd=%g%s%s",
                     c->adam.lr, c->adam.beta1, c->adam.beta2, c->adam.eps, c->adam.weight_decay,
                     c->adam.amsgrad ? " amsgrad" : "", c->adam.maximize ? " maximize" : "");
            break;
        }
        tests[n++] = (struct CMUnitTest){labels[i], test_against_reference, NULL, NULL, &cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_resume);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_with_autodiff);
    return _cmocka_run_group_tests("optim", tests, (size_t)n, NULL, NULL);
}
