/* The architecture plugins (mlp, dcgan, resnet), loaded through the plugin loader and traced
 * the way the runtime traces a step: shapes, parameter counts against the PyTorch
 * models, weight sharing between critic calls, initial values, and the forward pass on
 * the cpu device against a reference written here with plain loops in doubles (with
 * every parameter and running statistic set to fresh random values first). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/build.h"
#include "plugin/registry.h"
#include "numcheck.h"
#include "plugin_fixture.h"

/* ---- a traced generator and critic ---- */

typedef struct traced {
    const wg_arch_vtable *vt;
    void *state;
    wg_graph *graph;
    wg_registry registry;
    wg_build build;
    int64_t n, noise_dim;
    wg_shape sample;
    wg_node z, real, fake, score_real, score_fake, score_real_again;
    int critic_entries_after_one_call;
} traced;

static traced current; /* released by teardown */

static int teardown(void **state) {
    if (current.state) current.vt->destroy(current.state);
    wg_build_end(&current.build);
    wg_registry_free(&current.registry);
    current = (traced){0};
    pf_teardown();
    return nc_teardown(state);
}

static int group_teardown(void **state) {
    pf_group_teardown();
    return nc_group_teardown(state);
}

static wg_shape batch_shape(int64_t n, wg_shape sample) {
    wg_shape s = {sample.ndim + 1, {n}};
    for (int k = 0; k < sample.ndim; k++) s.dim[k + 1] = sample.dim[k];
    return s;
}

static void expect_shape(const traced *t, wg_node node, wg_shape want, const char *what) {
    wg_shape got = wg_node_shape(t->graph, node);
    char a[64], b[64];
    if (!wg_shape_equal(&got, &want))
        fail_msg("%s: shape %s, want %s", what, wg_shape_str(&got, a, sizeof a),
                 wg_shape_str(&want, b, sizeof b));
}

static int count_entries(const wg_registry *registry, const char *network) {
    return wg_registry_params(registry, network, NULL, 0);
}

/* Creates the plugin and traces G(z), then the critic on real, on G(z) and on real
 * again, as a critic step does. */
static traced *trace(const char *plugin, const char *yaml, wg_shape sample, wg_dtype dtype,
                     int64_t n) {
    traced *t = &current;
    *t = (traced){.vt = &pf_plugin(WG_PLUGIN_ARCH, plugin)->vt.arch, .n = n, .sample = sample};
    const wg_cfg *config = pf_config(yaml);
    nc_check(t->vt->create(config, sample, &t->state), "create");
    pf_expect_all_read(config);
    t->noise_dim = t->vt->noise_dim(t->state);
    t->graph = nc_graph(dtype);
    wg_build_begin(&t->build, t->graph, &t->registry, "test", n, NULL, NULL);
    wg_build_set_network(&t->build, "generator");
    t->z = wg_input(t->graph, wg_shape2(n, t->noise_dim), "z");
    nc_check(t->vt->generator(t->state, &t->build, t->z, &t->fake), "generator");
    wg_build_set_network(&t->build, "critic");
    t->real = wg_input(t->graph, batch_shape(n, sample), "real");
    nc_check(t->vt->critic(t->state, &t->build, t->real, &t->score_real), "critic(real)");
    t->critic_entries_after_one_call = count_entries(&t->registry, "critic");
    nc_check(t->vt->critic(t->state, &t->build, t->fake, &t->score_fake), "critic(fake)");
    nc_check(t->vt->critic(t->state, &t->build, t->real, &t->score_real_again), "critic(real)");
    nc_check(wg_build_check(&t->build), "tracing");
    expect_shape(t, t->fake, batch_shape(n, sample), "generator output");
    expect_shape(t, t->score_real, wg_shape2(n, 1), "critic(real)");
    expect_shape(t, t->score_fake, wg_shape2(n, 1), "critic(fake)");
    return t;
}

/* Trainable values of `network`, as PyTorch's sum(p.numel() for p in parameters()). */
static int64_t parameter_count(const traced *t, const char *network) {
    int64_t total = 0;
    size_t len = strlen(network);
    for (int i = 0; i < t->registry.count; i++) {
        const wg_variable_entry *e = &t->registry.entries[i];
        if (e->trainable && strncmp(e->name, network, len) == 0 && e->name[len] == '.')
            total += wg_node_numel(t->graph, e->node);
    }
    return total;
}

static const wg_variable_entry *entry(const traced *t, const char *name) {
    int i = wg_registry_find(&t->registry, name);
    if (i < 0) fail_msg("no variable '%s'", name);
    return &t->registry.entries[i];
}

/* ---- running a trace on the cpu device ---- */

typedef struct run {
    wg_session *session;
    wg_plan *plan;
    double *z, *real;
} run;

/* Session with every variable initialised by the registry, then (when `randomize`)
 * overwritten with fresh values so that gains, shifts and running statistics are not
 * their trivial defaults. Targets: outputs, scores, and the updates when asked. */
static run start(traced *t, bool randomize, bool with_updates) {
    run r = {0};
    r.session = nc_session(t->graph, nc_device("cpu"), nc_run_seed());
    nc_check(wg_registry_initialize(&t->registry, r.session, nc_run_seed() + 1), "initialize");
    nc_rng rng = nc_rng_for(1);
    if (randomize)
        for (int i = 0; i < t->registry.count; i++) {
            const wg_variable_entry *e = &t->registry.entries[i];
            int64_t numel = wg_node_numel(t->graph, e->node);
            double *v = nc_buf(numel);
            nc_fill(&rng, v, numel, strstr(e->name, "running_var") ? NC_POSITIVE : NC_SIGNED);
            nc_write(r.session, e->node, v);
        }
    r.z = nc_buf(wg_node_numel(t->graph, t->z));
    r.real = nc_buf(wg_node_numel(t->graph, t->real));
    nc_fill(&rng, r.z, wg_node_numel(t->graph, t->z), NC_SIGNED);
    nc_fill(&rng, r.real, wg_node_numel(t->graph, t->real), NC_SIGNED);
    nc_write(r.session, t->z, r.z);
    nc_write(r.session, t->real, r.real);
    wg_node targets[64] = {t->fake, t->score_real, t->score_fake, t->score_real_again};
    int count = 4;
    if (with_updates) {
        assert_true(t->build.n_updates <= 60);
        for (int i = 0; i < t->build.n_updates; i++) targets[count++] = t->build.updates[i];
    }
    r.plan = nc_plan(r.session, count, targets);
    nc_run(r.plan);
    return r;
}

static double *read_target(const traced *t, const run *r, wg_node node) {
    double *v = nc_buf(wg_node_numel(t->graph, node));
    nc_read(r->plan, node, v);
    return v;
}

/* A variable's current value (after the run: updated running statistics). */
static double *read_variable(const traced *t, const run *r, const char *name) {
    wg_node node = entry(t, name)->node;
    int64_t n = wg_node_numel(t->graph, node);
    double *v = nc_buf(n);
    if (wg_graph_dtype(t->graph) == WG_F64) {
        nc_check(wg_session_read(r->session, node, v), name);
        return v;
    }
    float *f = malloc((size_t)n * sizeof *f);
    wg_status s = wg_session_read(r->session, node, f);
    for (int64_t i = 0; i < n && s == WG_OK; i++) v[i] = f[i];
    free(f);
    nc_check(s, name);
    return v;
}

static void expect_finite(const double *v, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) fail_msg("%s[%lld] = %g", what, (long long)i, v[i]);
}

/* ---- the reference: tensors [n, c, h, w] in doubles, PyTorch's semantics ---- */

typedef struct tensor {
    double *v;
    int64_t n, c, h, w;
} tensor;

static tensor tensor_new(int64_t n, int64_t c, int64_t h, int64_t w) {
    return (tensor){nc_buf(n * c * h * w), n, c, h, w};
}

static double *at(tensor t, int64_t n, int64_t c, int64_t y, int64_t x) {
    return &t.v[((n * t.c + c) * t.h + y) * t.w + x];
}

/* x viewed as [n, features] -> [n, out], weight [out, features]. */
static tensor ref_linear(tensor x, const double *weight, const double *bias, int64_t out) {
    int64_t in = x.c * x.h * x.w;
    tensor y = tensor_new(x.n, out, 1, 1);
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t o = 0; o < out; o++) {
            double s = bias ? bias[o] : 0;
            for (int64_t i = 0; i < in; i++) s += x.v[n * in + i] * weight[o * in + i];
            y.v[n * out + o] = s;
        }
    return y;
}

/* weight [out, in, k, k] */
static tensor ref_conv(tensor x, const double *weight, const double *bias, int64_t out, int k,
                       int stride, int pad) {
    tensor y =
        tensor_new(x.n, out, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
    for (int64_t n = 0; n < y.n; n++)
        for (int64_t o = 0; o < out; o++)
            for (int64_t oy = 0; oy < y.h; oy++)
                for (int64_t ox = 0; ox < y.w; ox++) {
                    double s = bias ? bias[o] : 0;
                    for (int64_t i = 0; i < x.c; i++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
                                s += *at(x, n, i, iy, ix) *
                                     weight[((o * x.c + i) * k + ky) * k + kx];
                            }
                    *at(y, n, o, oy, ox) = s;
                }
    return y;
}

/* PyTorch's ConvTranspose2d, weight [in, out, k, k]: input pixel (iy, ix) adds into
 * output pixel (iy * stride - pad + ky, ix * stride - pad + kx). */
static tensor ref_conv_transpose(tensor x, const double *weight, const double *bias, int64_t out,
                                 int k, int stride, int pad, int output_pad) {
    tensor y = tensor_new(x.n, out, (x.h - 1) * stride - 2 * pad + k + output_pad,
                          (x.w - 1) * stride - 2 * pad + k + output_pad);
    for (int64_t n = 0; n < y.n; n++)
        for (int64_t o = 0; o < out; o++)
            for (int64_t oy = 0; oy < y.h; oy++)
                for (int64_t ox = 0; ox < y.w; ox++) *at(y, n, o, oy, ox) = bias ? bias[o] : 0;
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t i = 0; i < x.c; i++)
            for (int64_t iy = 0; iy < x.h; iy++)
                for (int64_t ix = 0; ix < x.w; ix++)
                    for (int64_t o = 0; o < out; o++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int64_t oy = iy * stride - pad + ky, ox = ix * stride - pad + kx;
                                if (oy < 0 || oy >= y.h || ox < 0 || ox >= y.w) continue;
                                *at(y, n, o, oy, ox) += *at(x, n, i, iy, ix) *
                                                        weight[((i * out + o) * k + ky) * k + kx];
                            }
    return y;
}

/* Training-mode batch norm; the batch mean and unbiased variance per channel go to
 * mean_out / var_out when given. */
static void ref_batch_norm(tensor x, const double *gamma, const double *beta, double *mean_out,
                           double *var_out) {
    int64_t m = x.n * x.h * x.w;
    for (int64_t c = 0; c < x.c; c++) {
        double mean = 0, var = 0;
        for (int64_t n = 0; n < x.n; n++)
            for (int64_t p = 0; p < x.h * x.w; p++) mean += x.v[(n * x.c + c) * x.h * x.w + p];
        mean /= m;
        for (int64_t n = 0; n < x.n; n++)
            for (int64_t p = 0; p < x.h * x.w; p++) {
                double d = x.v[(n * x.c + c) * x.h * x.w + p] - mean;
                var += d * d;
            }
        if (mean_out) mean_out[c] = mean;
        if (var_out) var_out[c] = var / (m - 1);
        var /= m;
        for (int64_t n = 0; n < x.n; n++)
            for (int64_t p = 0; p < x.h * x.w; p++) {
                double *v = &x.v[(n * x.c + c) * x.h * x.w + p];
                *v = (*v - mean) / sqrt(var + 1e-5) * gamma[c] + beta[c];
            }
    }
}

/* Statistics over each sample, gain and shift per channel. */
static void ref_layer_norm(tensor x, const double *gamma, const double *beta) {
    int64_t m = x.c * x.h * x.w, hw = x.h * x.w;
    for (int64_t n = 0; n < x.n; n++) {
        double *v = x.v + n * m, mean = 0, var = 0;
        for (int64_t i = 0; i < m; i++) mean += v[i];
        mean /= m;
        for (int64_t i = 0; i < m; i++) var += (v[i] - mean) * (v[i] - mean);
        var /= m;
        for (int64_t i = 0; i < m; i++)
            v[i] = (v[i] - mean) / sqrt(var + 1e-5) * gamma[i / hw] + beta[i / hw];
    }
}

typedef enum act { RELU, LEAKY, TANH, SIGMOID } act;

static void ref_act(tensor x, act a, double slope) {
    for (int64_t i = 0; i < x.n * x.c * x.h * x.w; i++) {
        double v = x.v[i];
        switch (a) {
        case RELU: x.v[i] = v > 0 ? v : 0; break;
        case LEAKY: x.v[i] = v > 0 ? v : slope * v; break;
        case TANH: x.v[i] = tanh(v); break;
        case SIGMOID: x.v[i] = 1 / (1 + exp(-v)); break;
        }
    }
}

static tensor ref_crop(tensor x, int64_t h, int64_t w) {
    tensor y = tensor_new(x.n, x.c, h, w);
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t c = 0; c < x.c; c++)
            for (int64_t yy = 0; yy < h; yy++)
                for (int64_t xx = 0; xx < w; xx++) *at(y, n, c, yy, xx) = *at(x, n, c, yy, xx);
    return y;
}

/* Reads variables of one network by short name ("fc1.weight"). */
typedef struct params {
    const traced *t;
    const run *r;
    const char *network;
} params;

static double *P(const params *p, const char *name) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", p->network, name);
    return read_variable(p->t, p->r, full);
}

static void compare(const traced *t, const run *r, wg_node node, tensor want, const char *what) {
    wg_shape shape = wg_node_shape(t->graph, node);
    assert_int_equal(wg_shape_numel(&shape), want.n * want.c * want.h * want.w);
    nc_expect_close(what, read_target(t, r, node), want.v, &shape, 1e-9, 1e-10);
}

static tensor input_tensor(const double *v, wg_shape shape) {
    tensor x = tensor_new(shape.dim[0], shape.ndim > 1 ? shape.dim[1] : 1,
                          shape.ndim > 2 ? shape.dim[2] : 1, shape.ndim > 3 ? shape.dim[3] : 1);
    memcpy(x.v, v, (size_t)wg_shape_numel(&shape) * sizeof *v);
    return x;
}

/* ---- mlp ---- */

static void test_mlp_toy_defaults(void **state) {
    (void)state;
    /* The WGAN-GP toy models: G 2-512-512-512-2, D 2-512-512-512-1, noise of the data's
     * dimension. PyTorch: G = 3*512 + 2*(512*512 + 512) + (512*2 + 2) = 527874,
     * D = 3*512 + 2*(512*512 + 512) + (512 + 1) = 527361. */
    traced *t = trace("mlp", "", wg_shape1(2), WG_F32, 8);
    assert_int_equal(t->noise_dim, 2);
    assert_int_equal(parameter_count(t, "generator"), 527874);
    assert_int_equal(parameter_count(t, "critic"), 527361);
    assert_int_equal(t->vt->critic_uses_batch_norm(t->state), 0);
    /* three critic calls, one set of weights */
    assert_int_equal(count_entries(&t->registry, "critic"), t->critic_entries_after_one_call);
    assert_int_equal(count_entries(&t->registry, "critic"), 8);
    expect_shape(t, entry(t, "critic.fc1.weight")->node, wg_shape2(512, 2), "fc1.weight [out, in]");
    expect_shape(t, entry(t, "generator.out.weight")->node, wg_shape2(2, 512), "out.weight");
    run r = start(t, false, false);
    double *real = read_target(t, &r, t->score_real),
           *again = read_target(t, &r, t->score_real_again);
    expect_finite(real, t->n, "critic(real)");
    nc_expect_identical("critic(real) twice", again, real, &(wg_shape){2, {t->n, 1}});
    expect_finite(read_target(t, &r, t->fake), t->n * 2, "G(z)");
    /* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 512 */
    double *w = read_variable(t, &r, "critic.fc2.weight"), bound = 1 / sqrt(512.0), max = 0;
    for (int i = 0; i < 512 * 512; i++) max = fmax(max, fabs(w[i]));
    assert_true(max <= bound * (1 + 1e-6) && max > 0.99 * bound);
}

/* Leaky ReLU, batch norm in G, layer norm in D, tanh output, samples [2, 3] flattened;
 * checked against the reference, running statistics included. */
static void test_mlp_against_reference(void **state) {
    (void)state;
    traced *t = trace("mlp",
                      "hidden: [5, 4]\nactivation: leaky_relu\nslope: 0.1\nnoise_dim: 3\n"
                      "output: tanh\ngenerator_norm: batch\ncritic_norm: layer\n",
                      wg_shape2(2, 3), WG_F64, 4);
    assert_int_equal(t->build.n_updates, 4); /* two batch norms, one G call */
    run r = start(t, true, true);
    params g = {t, &r, "generator"}, d = {t, &r, "critic"};
    tensor x = input_tensor(r.z, wg_shape2(t->n, 3));
    const int widths[2] = {5, 4};
    const char *fc[2] = {"fc1", "fc2"}, *norm[2] = {"norm1", "norm2"};
    char name[64];
    for (int l = 0; l < 2; l++) {
        snprintf(name, sizeof name, "%s.weight", fc[l]);
        double *w = P(&g, name);
        snprintf(name, sizeof name, "%s.bias", fc[l]);
        x = ref_linear(x, w, P(&g, name), widths[l]);
        snprintf(name, sizeof name, "%s.weight", norm[l]);
        double *gamma = P(&g, name);
        snprintf(name, sizeof name, "%s.bias", norm[l]);
        ref_batch_norm(x, gamma, P(&g, name), NULL, NULL);
        ref_act(x, LEAKY, 0.1);
    }
    x = ref_linear(x, P(&g, "out.weight"), P(&g, "out.bias"), 6);
    ref_act(x, TANH, 0);
    compare(t, &r, t->fake, x, "G(z)");
    tensor inputs[2] = {input_tensor(r.real, wg_shape3(t->n, 2, 3)), x};
    wg_node scores[2] = {t->score_real, t->score_fake};
    for (int k = 0; k < 2; k++) {
        tensor h = inputs[k];
        for (int l = 0; l < 2; l++) {
            snprintf(name, sizeof name, "%s.weight", fc[l]);
            double *w = P(&d, name);
            snprintf(name, sizeof name, "%s.bias", fc[l]);
            h = ref_linear(h, w, P(&d, name), widths[l]);
            snprintf(name, sizeof name, "%s.weight", norm[l]);
            double *gamma = P(&d, name);
            snprintf(name, sizeof name, "%s.bias", norm[l]);
            ref_layer_norm(h, gamma, P(&d, name));
            ref_act(h, LEAKY, 0.1);
        }
        h = ref_linear(h, P(&d, "out.weight"), P(&d, "out.bias"), 1);
        compare(t, &r, scores[k], h, k ? "D(G(z))" : "D(real)");
    }
}

/* The running statistics after one step: 0.9 old + 0.1 batch (unbiased variance). */
static void test_mlp_running_statistics(void **state) {
    (void)state;
    traced *t =
        trace("mlp", "hidden: [6]\nnoise_dim: 3\ngenerator_norm: batch\n", wg_shape1(2), WG_F64, 5);
    run r = start(t, true, false);
    double *old_mean = read_variable(t, &r, "generator.norm1.running_mean");
    double *old_var = read_variable(t, &r, "generator.norm1.running_var");
    wg_node targets[2] = {t->build.updates[0], t->build.updates[1]};
    assert_int_equal(t->build.n_updates, 2);
    nc_run(nc_plan(r.session, 2, targets));
    params g = {t, &r, "generator"};
    tensor h = ref_linear(input_tensor(r.z, wg_shape2(t->n, 3)), P(&g, "fc1.weight"),
                          P(&g, "fc1.bias"), 6);
    double mean[6], var[6], want_mean[6], want_var[6];
    ref_batch_norm(h, P(&g, "norm1.weight"), P(&g, "norm1.bias"), mean, var);
    for (int c = 0; c < 6; c++) {
        want_mean[c] = 0.9 * old_mean[c] + 0.1 * mean[c];
        want_var[c] = 0.9 * old_var[c] + 0.1 * var[c];
    }
    wg_shape s = wg_shape1(6);
    nc_expect_close("running_mean", read_variable(t, &r, "generator.norm1.running_mean"), want_mean,
                    &s, 1e-9, 1e-12);
    nc_expect_close("running_var", read_variable(t, &r, "generator.norm1.running_var"), want_var,
                    &s, 1e-9, 1e-12);
}

static void expect_create_error(const char *plugin, const char *yaml, wg_shape sample,
                                wg_status want, const char *text) {
    const wg_arch_vtable *vt = &pf_plugin(WG_PLUGIN_ARCH, plugin)->vt.arch;
    void *state = NULL;
    wg_clear_error();
    wg_status s = vt->create(pf_config(yaml), sample, &state);
    if (s == WG_OK) vt->destroy(state);
    if (s != want || !strstr(wg_last_error(), text))
        fail_msg("%s with '%s': %s '%s', want %s containing '%s'", plugin, yaml, wg_status_name(s),
                 wg_last_error(), wg_status_name(want), text);
}

static void test_configuration_errors(void **state) {
    (void)state;
    expect_create_error("mlp", "activation: swish\n", wg_shape1(2), WG_ERR_CONFIG, "activation");
    expect_create_error("mlp", "hidden: []\n", wg_shape1(2), WG_ERR_CONFIG, "hidden");
    expect_create_error("mlp", "hidden: [0]\n", wg_shape1(2), WG_ERR_CONFIG, "hidden");
    expect_create_error("mlp", "critic_norm: group\n", wg_shape1(2), WG_ERR_CONFIG, "critic_norm");
    expect_create_error("dcgan", "", wg_shape1(2), WG_ERR_CONFIG, "[2]");
    expect_create_error("dcgan", "", wg_shape3(1, 30, 30), WG_ERR_CONFIG, "[1, 30, 30]");
    expect_create_error("dcgan", "model: wgan_gp_mnist\n", wg_shape3(3, 64, 64), WG_ERR_CONFIG,
                        "test.yaml:1:8: key 'model'");
    expect_create_error("dcgan", "model: dcgan\n", wg_shape3(1, 28, 28), WG_ERR_CONFIG, "model");
    expect_create_error("dcgan", "output: relu\n", wg_shape3(1, 28, 28), WG_ERR_CONFIG, "output");
}

static void test_critic_rejects_wrong_shape(void **state) {
    (void)state;
    traced *t = trace("mlp", "hidden: [4]\n", wg_shape1(2), WG_F32, 3);
    wg_node bad = wg_input(t->graph, wg_shape2(3, 5), "bad"), score = WG_NONE;
    wg_status s = t->vt->critic(t->state, &t->build, bad, &score);
    assert_int_equal(s, WG_ERR_SHAPE);
    assert_non_null(strstr(wg_last_error(), "[3, 5]"));
}

/* ---- dcgan: the WGAN-GP MNIST model ---- */

static void test_mnist_model_full_size(void **state) {
    (void)state;
    /* PyTorch, DIM = 64:
     *   G: Linear(128, 4096) 128*4096 + 4096 = 528384; ConvT(256, 128, 5) 256*128*25 + 128
     *      = 819328; ConvT(128, 64, 5) 204800 + 64 = 204864; ConvT(64, 1, 5) 1600 + 1 = 1601;
     *      total 1554177
     *   D: Conv(1, 64, 5) 1600 + 64 = 1664; Conv(64, 128, 5) 204800 + 128 = 204928;
     *      Conv(128, 256, 5) 819200 + 256 = 819456; Linear(4096, 1) 4097; total 1030145 */
    traced *t = trace("dcgan", "output: sigmoid\n", wg_shape3(1, 28, 28), WG_F32, 2);
    assert_int_equal(t->noise_dim, 128);
    assert_int_equal(parameter_count(t, "generator"), 1554177);
    assert_int_equal(parameter_count(t, "critic"), 1030145);
    assert_int_equal(count_entries(&t->registry, "critic"), t->critic_entries_after_one_call);
    expect_shape(t, entry(t, "generator.deconv1.weight")->node, wg_shape4(256, 128, 5, 5),
                 "ConvTranspose2d weight [in, out, k, k]");
    expect_shape(t, entry(t, "critic.conv2.weight")->node, wg_shape4(128, 64, 5, 5),
                 "Conv2d weight [out, in, k, k]");
    run r = start(t, false, false);
    double *fake = read_target(t, &r, t->fake);
    for (int i = 0; i < 2 * 28 * 28; i++) assert_true(fake[i] > 0 && fake[i] < 1);
    double *real = read_target(t, &r, t->score_real);
    expect_finite(real, 2, "critic(real)");
    nc_expect_identical("critic(real) twice", read_target(t, &r, t->score_real_again), real,
                        &(wg_shape){2, {2, 1}});
    /* PyTorch's ConvTranspose2d bound uses weight.size(1) * k * k = 128 * 25 as fan_in */
    double *w = read_variable(t, &r, "generator.deconv1.weight"), bound = 1 / sqrt(128.0 * 25),
           max = 0;
    for (int i = 0; i < 256 * 128 * 25; i++) max = fmax(max, fabs(w[i]));
    assert_true(max <= bound * (1 + 1e-6) && max > 0.99 * bound);
}

/* Width 2, batch norm in G, layer norm in D, two channels, against the reference. */
static void test_mnist_model_against_reference(void **state) {
    (void)state;
    traced *t = trace("dcgan",
                      "model: wgan_gp_mnist\nwidth: 2\nnoise_dim: 5\noutput: sigmoid\n"
                      "generator_norm: batch\ncritic_norm: layer\n",
                      wg_shape3(2, 28, 28), WG_F64, 3);
    assert_int_equal(t->vt->critic_uses_batch_norm(t->state), 0);
    run r = start(t, true, false);
    params g = {t, &r, "generator"}, d = {t, &r, "critic"};
    tensor x = ref_linear(input_tensor(r.z, wg_shape2(3, 5)), P(&g, "fc.weight"), P(&g, "fc.bias"),
                          4 * 4 * 4 * 2);
    ref_batch_norm(x, P(&g, "norm1.weight"), P(&g, "norm1.bias"), NULL, NULL);
    ref_act(x, RELU, 0);
    x = (tensor){x.v, 3, 8, 4, 4};
    x = ref_conv_transpose(x, P(&g, "deconv1.weight"), P(&g, "deconv1.bias"), 4, 5, 2, 2, 1);
    assert_int_equal(x.h, 8);
    ref_batch_norm(x, P(&g, "norm2.weight"), P(&g, "norm2.bias"), NULL, NULL);
    ref_act(x, RELU, 0);
    x = ref_crop(x, 7, 7);
    x = ref_conv_transpose(x, P(&g, "deconv2.weight"), P(&g, "deconv2.bias"), 2, 5, 2, 2, 1);
    ref_batch_norm(x, P(&g, "norm3.weight"), P(&g, "norm3.bias"), NULL, NULL);
    ref_act(x, RELU, 0);
    x = ref_conv_transpose(x, P(&g, "deconv3.weight"), P(&g, "deconv3.bias"), 2, 5, 2, 2, 1);
    ref_act(x, SIGMOID, 0);
    assert_int_equal(x.h, 28);
    compare(t, &r, t->fake, x, "G(z)");
    tensor inputs[2] = {input_tensor(r.real, wg_shape4(3, 2, 28, 28)), x};
    wg_node scores[2] = {t->score_real, t->score_fake};
    for (int k = 0; k < 2; k++) {
        tensor h = ref_conv(inputs[k], P(&d, "conv1.weight"), P(&d, "conv1.bias"), 2, 5, 2, 2);
        ref_act(h, LEAKY, 0.2);
        h = ref_conv(h, P(&d, "conv2.weight"), P(&d, "conv2.bias"), 4, 5, 2, 2);
        ref_layer_norm(h, P(&d, "norm2.weight"), P(&d, "norm2.bias"));
        ref_act(h, LEAKY, 0.2);
        h = ref_conv(h, P(&d, "conv3.weight"), P(&d, "conv3.bias"), 8, 5, 2, 2);
        assert_int_equal(h.h, 4);
        ref_layer_norm(h, P(&d, "norm3.weight"), P(&d, "norm3.bias"));
        ref_act(h, LEAKY, 0.2);
        h = ref_linear(h, P(&d, "fc.weight"), P(&d, "fc.bias"), 1);
        compare(t, &r, scores[k], h, k ? "D(G(z))" : "D(real)");
    }
}

/* ---- dcgan: Radford et al.'s model ---- */

static void test_dcgan64_full_size(void **state) {
    (void)state;
    /* PyTorch's DCGAN example (nz 100, ngf = ndf = 64, nc 3, bias=False):
     *   G: ConvT(100, 512, 4) 819200, BN 1024, ConvT(512, 256, 4) 2097152, BN 512,
     *      ConvT(256, 128, 4) 524288, BN 256, ConvT(128, 64, 4) 131072, BN 128,
     *      ConvT(64, 3, 4) 3072; total 3576704
     *   D: Conv(3, 64, 4) 3072, Conv(64, 128, 4) 131072, BN 256, Conv(128, 256, 4) 524288,
     *      BN 512, Conv(256, 512, 4) 2097152, BN 1024, Conv(512, 1, 4) 8192; total 2765568 */
    traced *t = trace("dcgan", "critic_norm: batch\n", wg_shape3(3, 64, 64), WG_F32, 2);
    assert_int_equal(t->noise_dim, 100);
    assert_int_equal(parameter_count(t, "generator"), 3576704);
    assert_int_equal(parameter_count(t, "critic"), 2765568);
    assert_int_equal(t->vt->critic_uses_batch_norm(t->state), 1);
    assert_int_equal(count_entries(&t->registry, "critic"), t->critic_entries_after_one_call);
    /* 4 generator batch norms once, 3 critic batch norms three times, 2 updates each */
    assert_int_equal(t->build.n_updates, 2 * (4 + 3 * 3));
    run r = start(t, false, false);
    double *fake = read_target(t, &r, t->fake);
    for (int i = 0; i < 2 * 3 * 64 * 64; i++) assert_true(fake[i] > -1 && fake[i] < 1);
    expect_finite(read_target(t, &r, t->score_fake), 2, "critic(fake)");
    /* N(0, 0.02) weights, N(1, 0.02) gains */
    double *w = read_variable(t, &r, "generator.convt2.weight"), sum = 0, sq = 0;
    int64_t n = 512 * 256 * 16;
    for (int64_t i = 0; i < n; i++) sum += w[i], sq += w[i] * w[i];
    assert_true(fabs(sum / n) < 1e-3 && fabs(sqrt(sq / n) - 0.02) < 1e-3);
    double *gain = read_variable(t, &r, "generator.norm1.weight");
    sum = 0;
    for (int i = 0; i < 512; i++) sum += gain[i];
    assert_true(fabs(sum / 512 - 1) < 0.01);
}

/* Size 16 (two levels), three channels, layer norm in G, batch norm in D. */
static void test_dcgan_against_reference(void **state) {
    (void)state;
    traced *t =
        trace("dcgan", "width: 2\nnoise_dim: 5\ngenerator_norm: layer\ncritic_norm: batch\n",
              wg_shape3(3, 16, 16), WG_F64, 3);
    run r = start(t, true, false);
    params g = {t, &r, "generator"}, d = {t, &r, "critic"};
    tensor x = input_tensor(r.z, wg_shape4(3, 5, 1, 1));
    x = ref_conv_transpose(x, P(&g, "convt1.weight"), NULL, 4, 4, 1, 0, 0);
    ref_layer_norm(x, P(&g, "norm1.weight"), P(&g, "norm1.bias"));
    ref_act(x, RELU, 0);
    x = ref_conv_transpose(x, P(&g, "convt2.weight"), NULL, 2, 4, 2, 1, 0);
    ref_layer_norm(x, P(&g, "norm2.weight"), P(&g, "norm2.bias"));
    ref_act(x, RELU, 0);
    x = ref_conv_transpose(x, P(&g, "convt3.weight"), NULL, 3, 4, 2, 1, 0);
    ref_act(x, TANH, 0);
    assert_int_equal(x.h, 16);
    compare(t, &r, t->fake, x, "G(z)");
    tensor inputs[2] = {input_tensor(r.real, wg_shape4(3, 3, 16, 16)), x};
    wg_node scores[2] = {t->score_real, t->score_fake};
    for (int k = 0; k < 2; k++) {
        tensor h = ref_conv(inputs[k], P(&d, "conv1.weight"), NULL, 2, 4, 2, 1);
        ref_act(h, LEAKY, 0.2);
        h = ref_conv(h, P(&d, "conv2.weight"), NULL, 4, 4, 2, 1);
        ref_batch_norm(h, P(&d, "norm2.weight"), P(&d, "norm2.bias"), NULL, NULL);
        ref_act(h, LEAKY, 0.2);
        h = ref_conv(h, P(&d, "conv3.weight"), NULL, 1, 4, 1, 0);
        assert_int_equal(h.h, 1);
        compare(t, &r, scores[k], h, k ? "D(G(z))" : "D(real)");
    }
}

/* ---- resnet ---- */

/* Parameter counts of the PyTorch (or chainer) models of the references. Per block,
 * with 3x3 convolutions and biases: G up-block(i, o) = 2i + (9io + o) + 2o + (9oo + o) +
 * (io + o); critic first block(c, o) = (9co + o) + (9oo + o) + (co + o); critic
 * block(i, o) = (9ii + i) + (9io + o) + (io + o when it pools).
 *   WGAN-GP 32x32, DIM 128: G = Linear(128, 2048) 264192 + 3 up-blocks 312192 each +
 *     BN 256 + conv(128, 3) 3459 = 1204483; D = first block 151680 + pooling block 311680 +
 *     2 plain blocks 295168 each + Linear(128, 1) 129 = 1053825
 *   SNGAN 32x32, ch 256 / 128: G = 528384 + 3 x 1246976 + 512 + 6915 = 4276739; D as
 *     WGAN-GP's without the output bias, 1053824
 *   SNGAN 64x64, ch 64: G = Linear(128, 16384) 2113536 + up-blocks 1024-512 7606784,
 *     512-256 1902848, 256-128 476288, 128-64 119360 + BN 128 + conv(64, 3) 1731 =
 *     12220675; D = 38976 + 119104 + 475776 + 1901824 + 7604736 + 1025 = 10141441 */
static void test_resnet_full_size(void **state) {
    (void)state;
    static const struct {
        const char *yaml;
        int64_t size, generator, critic;
    } models[] = {{"", 32, 1204483, 1053825},
                  {"model: sngan\n", 32, 4276739, 1053824},
                  {"", 64, 12220675, 10141441}};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        traced *t = trace("resnet", models[i].yaml, wg_shape3(3, models[i].size, models[i].size),
                          WG_F32, 2);
        assert_int_equal(t->noise_dim, 128);
        assert_int_equal(parameter_count(t, "generator"), models[i].generator);
        assert_int_equal(parameter_count(t, "critic"), models[i].critic);
        assert_int_equal(count_entries(&t->registry, "critic"), t->critic_entries_after_one_call);
        assert_int_equal(t->vt->critic_uses_batch_norm(t->state), 0);
        teardown(NULL);
    }
}

/* Forward and backward shapes at 32x32 and 64x64 with small widths, run on the cpu
 * device: every gradient has its parameter's shape and is finite, G's output lies in
 * [-1, 1], and the critic's scores of one batch are the same on a second call. */
static void check_resnet_backward(const char *yaml, wg_shape sample) {
    traced *t = trace("resnet", yaml, sample, WG_F64, 3);
    wg_graph *g = t->graph;
    wg_node params[256], grads[256 + 1];
    int count = 0;
    for (int i = 0; i < t->registry.count && count < 256; i++)
        if (t->registry.entries[i].trainable) params[count++] = t->registry.entries[i].node;
    assert_true(count < 256);
    /* critic(real) - critic(G(z)): reaches every parameter of both networks */
    wg_node objective = wg_sub(g, wg_sum_all(g, t->score_real), wg_sum_all(g, t->score_fake));
    nc_check(wg_grad(g, objective, count, params, grads), "wg_grad(parameters)");
    nc_check(wg_grad(g, wg_sum_all(g, t->score_real), 1, &t->real, &grads[count]), "wg_grad(x)");
    for (int i = 0; i < count; i++)
        expect_shape(t, grads[i], wg_node_shape(g, params[i]), t->registry.entries[i].name);
    expect_shape(t, grads[count], batch_shape(t->n, sample), "d critic / d x");
    run r = start(t, true, false);
    wg_plan *plan = nc_plan(r.session, count + 1, grads);
    nc_run(plan);
    for (int i = 0; i <= count; i++) {
        int64_t n = wg_node_numel(g, grads[i]);
        double *v = nc_buf(n);
        nc_read(plan, grads[i], v);
        expect_finite(v, n, i < count ? t->registry.entries[i].name : "d critic / d x");
    }
    int64_t n = wg_node_numel(g, t->fake);
    double *fake = read_target(t, &r, t->fake);
    /* tanh rounds to +-1 for large inputs, which the random weights can give */
    for (int64_t i = 0; i < n; i++) assert_true(fabs(fake[i]) <= 1);
    nc_expect_identical("critic(real) twice", read_target(t, &r, t->score_real_again),
                        read_target(t, &r, t->score_real), &(wg_shape){2, {t->n, 1}});
}

static void test_resnet_backward_shapes(void **state) {
    (void)state;
    check_resnet_backward("generator_width: 3\ncritic_width: 2\nnoise_dim: 5\n",
                          wg_shape3(3, 32, 32));
    teardown(NULL);
    check_resnet_backward("model: sngan\ngenerator_width: 2\ncritic_width: 3\nnoise_dim: 4\n"
                          "critic_norm: layer\npooling: mean\n",
                          wg_shape3(1, 32, 32));
    teardown(NULL);
    check_resnet_backward("generator_width: 1\ncritic_width: 1\nnoise_dim: 3\n"
                          "generator_norm: layer\ncritic_norm: batch\n",
                          wg_shape3(3, 64, 64));
}

/* The gradient penalty's path through the critic: d/dtheta of mean ||d D / d x||^2
 * over a batch, for every critic weight, against fourth-order finite differences in
 * doubles. tanh activations keep the penalty smooth in the weights (ReLU makes it jump
 * where a unit changes sign, which finite differences cannot follow); upsampling,
 * pooling, the residual sums, layer norm and the convolutions are the ones above. */
static void test_resnet_double_backward(void **state) {
    (void)state;
    traced *t = trace("resnet",
                      "generator_width: 1\ncritic_width: 2\nnoise_dim: 2\nactivation: tanh\n"
                      "critic_norm: layer\n",
                      wg_shape3(2, 32, 32), WG_F64, 2);
    wg_graph *g = t->graph;
    wg_node grad_x, params[64], dparams[64];
    nc_check(wg_grad(g, wg_sum_all(g, t->score_real), 1, &t->real, &grad_x), "wg_grad(x)");
    wg_node penalty = wg_scale(g, wg_sum_all(g, wg_square(g, grad_x)), 1.0 / (double)t->n);
    int count = 0;
    const char *names[64];
    for (int i = 0; i < t->registry.count && count < 64; i++) {
        const wg_variable_entry *e = &t->registry.entries[i];
        if (e->trainable && strncmp(e->name, "critic.", 7) == 0) {
            names[count] = e->name;
            params[count++] = e->node;
        }
    }
    assert_true(count > 20 && count < 64);
    nc_check(wg_grad(g, penalty, count, params, dparams), "wg_grad(penalty)");
    run r = start(t, true, false);
    wg_plan *value = nc_plan(r.session, 1, &penalty);
    wg_plan *analytic = nc_plan(r.session, count, dparams);
    nc_run(analytic);
    for (int i = 0; i < count; i++) {
        int64_t n = wg_node_numel(g, params[i]);
        double *w = read_variable(t, &r, names[i]), *want = nc_buf(n), *got = nc_buf(n);
        nc_finite_diff(r.session, value, params[i], w, 1e-4, 1, &penalty, &want);
        nc_read(analytic, dparams[i], got);
        wg_shape shape = wg_node_shape(g, params[i]);
        nc_expect_close(names[i], got, want, &shape, 1e-6, 1e-8);
    }
}

/* ---- resnet against the reference ---- */

static tensor ref_copy(tensor x) {
    tensor y = tensor_new(x.n, x.c, x.h, x.w);
    memcpy(y.v, x.v, (size_t)(x.n * x.c * x.h * x.w) * sizeof *x.v);
    return y;
}

static tensor ref_sum(tensor a, tensor b) {
    tensor y = ref_copy(a);
    for (int64_t i = 0; i < a.n * a.c * a.h * a.w; i++) y.v[i] += b.v[i];
    return y;
}

/* nearest neighbour: output (y, x) reads input (y / 2, x / 2) */
static tensor ref_upsample(tensor x) {
    tensor y = tensor_new(x.n, x.c, 2 * x.h, 2 * x.w);
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t c = 0; c < x.c; c++)
            for (int64_t i = 0; i < y.h; i++)
                for (int64_t j = 0; j < y.w; j++) *at(y, n, c, i, j) = *at(x, n, c, i / 2, j / 2);
    return y;
}

static tensor ref_pool(tensor x) {
    tensor y = tensor_new(x.n, x.c, x.h / 2, x.w / 2);
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t c = 0; c < x.c; c++)
            for (int64_t i = 0; i < y.h; i++)
                for (int64_t j = 0; j < y.w; j++)
                    *at(y, n, c, i, j) =
                        (*at(x, n, c, 2 * i, 2 * j) + *at(x, n, c, 2 * i + 1, 2 * j) +
                         *at(x, n, c, 2 * i, 2 * j + 1) + *at(x, n, c, 2 * i + 1, 2 * j + 1)) /
                        4;
    return y;
}

/* What a test instance of the resnet plugin is, written out independently. */
typedef struct resnet_ref {
    const params *p;
    int norm_g, norm_d; /* 0 none, 1 batch, 2 layer */
    double slope;       /* leaky ReLU */
} resnet_ref;

static double *RP(const resnet_ref *r, const char *block, const char *what) {
    char name[96];
    snprintf(name, sizeof name, "%s%s%s", block, *block ? "." : "", what);
    return P(r->p, name);
}

static void ref_norm(const resnet_ref *r, tensor x, int norm, const char *block, const char *n) {
    char w[64], b[64];
    snprintf(w, sizeof w, "%s.weight", n);
    snprintf(b, sizeof b, "%s.bias", n);
    if (norm == 1) ref_batch_norm(x, RP(r, block, w), RP(r, block, b), NULL, NULL);
    if (norm == 2) ref_layer_norm(x, RP(r, block, w), RP(r, block, b));
}

static tensor ref_conv_named(const resnet_ref *r, tensor x, const char *block, const char *conv,
                             int64_t out, int k) {
    char w[64], b[64];
    snprintf(w, sizeof w, "%s.weight", conv);
    snprintf(b, sizeof b, "%s.bias", conv);
    return ref_conv(x, RP(r, block, w), RP(r, block, b), out, k, 1, k / 2);
}

static tensor ref_resnet_generator(const resnet_ref *r, tensor z, const int64_t *width, int blocks,
                                   int64_t channels) {
    tensor x = ref_linear(z, RP(r, "fc", "weight"), RP(r, "fc", "bias"), 16 * width[0]);
    x = (tensor){x.v, x.n, width[0], 4, 4};
    for (int b = 0; b < blocks; b++) {
        char block[16];
        snprintf(block, sizeof block, "block%d", b + 1);
        tensor h = ref_copy(x);
        ref_norm(r, h, r->norm_g, block, "norm1");
        ref_act(h, LEAKY, r->slope);
        h = ref_conv_named(r, ref_upsample(h), block, "conv1", width[b + 1], 3);
        ref_norm(r, h, r->norm_g, block, "norm2");
        ref_act(h, LEAKY, r->slope);
        h = ref_conv_named(r, h, block, "conv2", width[b + 1], 3);
        x = ref_sum(h, ref_conv_named(r, ref_upsample(x), block, "shortcut", width[b + 1], 1));
    }
    ref_norm(r, x, r->norm_g, "", "norm_out");
    ref_act(x, LEAKY, r->slope);
    x = ref_conv_named(r, x, "", "out", channels, 3);
    ref_act(x, TANH, 0);
    return x;
}

static tensor ref_resnet_critic(const resnet_ref *r, tensor x, const int64_t *width,
                                const bool *pool, int blocks, bool sum_pool, bool out_bias) {
    for (int b = 0; b < blocks; b++) {
        char block[16];
        snprintf(block, sizeof block, "block%d", b + 1);
        tensor h = ref_copy(x), shortcut = x;
        if (b == 0) {
            h = ref_conv_named(r, h, block, "conv1", width[1], 3);
            ref_act(h, LEAKY, r->slope);
            h = ref_pool(ref_conv_named(r, h, block, "conv2", width[1], 3));
            x = ref_sum(h, ref_conv_named(r, ref_pool(x), block, "shortcut", width[1], 1));
            continue;
        }
        ref_norm(r, h, r->norm_d, block, "norm1");
        ref_act(h, LEAKY, r->slope);
        h = ref_conv_named(r, h, block, "conv1", width[b], 3);
        ref_norm(r, h, r->norm_d, block, "norm2");
        ref_act(h, LEAKY, r->slope);
        h = ref_conv_named(r, h, block, "conv2", width[b + 1], 3);
        if (pool[b] || width[b] != width[b + 1])
            shortcut = ref_conv_named(r, x, block, "shortcut", width[b + 1], 1);
        if (pool[b]) {
            h = ref_pool(h);
            shortcut = ref_pool(shortcut);
        }
        x = ref_sum(h, shortcut);
    }
    ref_act(x, LEAKY, r->slope);
    tensor pooled = tensor_new(x.n, x.c, 1, 1);
    for (int64_t n = 0; n < x.n; n++)
        for (int64_t c = 0; c < x.c; c++) {
            double total = 0;
            for (int64_t i = 0; i < x.h * x.w; i++) total += x.v[(n * x.c + c) * x.h * x.w + i];
            pooled.v[n * x.c + c] = sum_pool ? total : total / (double)(x.h * x.w);
        }
    return ref_linear(pooled, RP(r, "fc", "weight"), out_bias ? RP(r, "fc", "bias") : NULL, 1);
}

/* Every parameter and running statistic random; G's output and the critic's scores of
 * real and generated images against the reference: the WGAN-GP layout at 32x32 with
 * batch norm in G and layer norm in the critic, and SNGAN's 64x64 layout (widths
 * doubling, sum pooling) with layer norm in G and batch norm in the critic. */
static void check_resnet_reference(const char *yaml, int64_t size, int norm_g, int norm_d,
                                   bool sum_pool, bool out_bias) {
    traced *t = trace("resnet", yaml, wg_shape3(2, size, size), WG_F64, 3);
    run r = start(t, true, false);
    params g = {t, &r, "generator"}, d = {t, &r, "critic"};
    resnet_ref rg = {&g, norm_g, norm_d, 0.1}, rd = {&d, norm_g, norm_d, 0.1};
    bool small = size == 32;
    int64_t gw[5], dw[6];
    bool pool[5] = {true, true, !small, !small, !small};
    for (int i = 0; i < 5; i++) gw[i] = small ? 2 : (int64_t)1 << (4 - i);
    dw[0] = 2;
    for (int i = 1; i < 6; i++) dw[i] = small ? 3 : (int64_t)1 << (i - 1);
    tensor x = ref_resnet_generator(&rg, input_tensor(r.z, wg_shape2(t->n, t->noise_dim)), gw,
                                    small ? 3 : 4, 2);
    assert_int_equal(x.h, size);
    compare(t, &r, t->fake, x, "G(z)");
    tensor inputs[2] = {input_tensor(r.real, wg_shape4(t->n, 2, size, size)), x};
    wg_node scores[2] = {t->score_real, t->score_fake};
    for (int k = 0; k < 2; k++)
        compare(t, &r, scores[k],
                ref_resnet_critic(&rd, inputs[k], dw, pool, small ? 4 : 5, sum_pool, out_bias),
                k ? "D(G(z))" : "D(real)");
}

static void test_resnet_against_reference(void **state) {
    (void)state;
    check_resnet_reference("generator_width: 2\ncritic_width: 3\nnoise_dim: 4\n"
                           "activation: leaky_relu\nslope: 0.1\ncritic_norm: layer\n",
                           32, 1, 2, false, true);
    teardown(NULL);
    check_resnet_reference("generator_width: 1\ncritic_width: 1\nnoise_dim: 3\n"
                           "activation: leaky_relu\nslope: 0.1\ngenerator_norm: layer\n"
                           "critic_norm: batch\n",
                           64, 2, 1, true, true);
}

/* The composed upsampling and pooling, the networks and the penalty's second
 * derivative on the OpenCL device (PoCL) give the cpu device's numbers. */
static void test_resnet_cpu_and_pocl_agree(void **state) {
    (void)state;
    wg_device *devices[2] = {nc_device("cpu"), nc_pocl_or_skip()};
    traced *t = trace("resnet",
                      "generator_width: 2\ncritic_width: 2\nnoise_dim: 3\n"
                      "critic_norm: layer\n",
                      wg_shape3(3, 32, 32), WG_F64, 2);
    wg_graph *g = t->graph;
    wg_node targets[64] = {t->fake, t->score_real, t->score_fake}, grad_x, params[56];
    int count = 0;
    for (int i = 0; i < t->registry.count && count < 56; i++) {
        const wg_variable_entry *e = &t->registry.entries[i];
        if (e->trainable && strncmp(e->name, "critic.", 7) == 0) params[count++] = e->node;
    }
    assert_true(count < 56);
    nc_check(wg_grad(g, wg_sum_all(g, t->score_real), 1, &t->real, &grad_x), "wg_grad(x)");
    targets[3] = wg_sum_all(g, wg_square(g, grad_x));
    nc_check(wg_grad(g, targets[3], count, params, targets + 4), "wg_grad(penalty)");
    int n_targets = 4 + count;
    nc_rng rng = nc_rng_for(nc_hash("resnet pocl"));
    double *z = nc_buf(wg_node_numel(g, t->z)), *real = nc_buf(wg_node_numel(g, t->real));
    nc_fill(&rng, z, wg_node_numel(g, t->z), NC_SIGNED);
    nc_fill(&rng, real, wg_node_numel(g, t->real), NC_SIGNED);
    double *values[2][64];
    for (int d = 0; d < 2; d++) {
        wg_session *session = nc_session(g, devices[d], nc_run_seed());
        nc_check(wg_registry_initialize(&t->registry, session, nc_run_seed() + 1), "initialize");
        nc_write(session, t->z, z);
        nc_write(session, t->real, real);
        wg_plan *plan = nc_plan(session, n_targets, targets);
        nc_run(plan);
        for (int i = 0; i < n_targets; i++) {
            values[d][i] = nc_buf(wg_node_numel(g, targets[i]));
            nc_read(plan, targets[i], values[d][i]);
        }
    }
    for (int i = 0; i < n_targets; i++) {
        wg_shape shape = wg_node_shape(g, targets[i]);
        nc_expect_close(i < 4 ? "outputs" : "d penalty / d critic weight", values[1][i],
                        values[0][i], &shape, 1e-9, 1e-11);
    }
}

static void test_resnet_configuration_errors(void **state) {
    (void)state;
    expect_create_error("resnet", "", wg_shape3(3, 28, 28), WG_ERR_CONFIG, "[3, 28, 28]");
    expect_create_error("resnet", "", wg_shape1(2), WG_ERR_CONFIG, "[2]");
    expect_create_error("resnet", "model: wgan_gp\n", wg_shape3(3, 64, 64), WG_ERR_CONFIG,
                        "test.yaml:1:8: key 'model'");
    expect_create_error("resnet", "pooling: max\n", wg_shape3(3, 32, 32), WG_ERR_CONFIG, "pooling");
    expect_create_error("resnet", "critic_norm: group\n", wg_shape3(3, 32, 32), WG_ERR_CONFIG,
                        "critic_norm");
    expect_create_error("resnet", "critic_width: 8192\n", wg_shape3(3, 64, 64), WG_ERR_CONFIG,
                        "too large");
}

int main(void) {
    nc_init("test_arch");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_mlp_toy_defaults, teardown),
        cmocka_unit_test_teardown(test_mlp_against_reference, teardown),
        cmocka_unit_test_teardown(test_mlp_running_statistics, teardown),
        cmocka_unit_test_teardown(test_configuration_errors, teardown),
        cmocka_unit_test_teardown(test_critic_rejects_wrong_shape, teardown),
        cmocka_unit_test_teardown(test_mnist_model_full_size, teardown),
        cmocka_unit_test_teardown(test_mnist_model_against_reference, teardown),
        cmocka_unit_test_teardown(test_dcgan64_full_size, teardown),
        cmocka_unit_test_teardown(test_dcgan_against_reference, teardown),
        cmocka_unit_test_teardown(test_resnet_full_size, teardown),
        cmocka_unit_test_teardown(test_resnet_backward_shapes, teardown),
        cmocka_unit_test_teardown(test_resnet_double_backward, teardown),
        cmocka_unit_test_teardown(test_resnet_against_reference, teardown),
        cmocka_unit_test_teardown(test_resnet_cpu_and_pocl_agree, teardown),
        cmocka_unit_test_teardown(test_resnet_configuration_errors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
