#include "jsw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/build.h"
#include "plugin/loader.h"
#include "io/clock.h"
#include "io/fileio.h"
#include "wgan/optim.h"
#include "wgan/session.h"
#include "plugin/instance.h"
#include "io/plot.h"

wg_jsw_options wg_jsw_defaults(void) {
    return (wg_jsw_options){.device = "cpu",
                            .std = 0.25,
                            .max_distance = 4,
                            .points = 17,
                            .steps = 1000,
                            .batch = 256,
                            .samples = 8192,
                            .hidden = 64,
                            .lr = 1e-3,
                            .lambda = 100,
                            .seed = 1};
}

/* ---- exact values ---- */

static double softplus(double z) {
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* With t = x / std and delta = d / std, both halves of JS are equal and
 * JS = log 2 - E_{t ~ N(0,1)} softplus(delta t - delta^2 / 2). */
double wg_jsw_js_gaussians(double distance, double std) {
    const double lo = -12, hi = 12;
    const int n = 24000; /* even */
    double delta = fabs(distance) / std, h = (hi - lo) / n, sum = 0;
    for (int i = 0; i <= n; i++) {
        double t = lo + i * h;
        double f = exp(-0.5 * t * t) / sqrt(2 * M_PI) * softplus(delta * t - 0.5 * delta * delta);
        sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    double js = log(2) - sum * h / 3;
    return js > 0 ? js : 0;
}

/* ---- a network trained to tell N(0, std^2) from N(d, std^2) ---- */

typedef struct net {
    const wg_plugin *arch, *loss, *lipschitz; /* lipschitz may be NULL */
    wg_cfg *configs[3];
    void *states[3]; /* arch, loss, lipschitz */
    wg_graph *graph;
    wg_registry registry;
    wg_session *session;
    wg_optimizer *optimizer;
    wg_plan *train, *estimate;
    wg_node shift, loss_value, w_value;
} net;

static wg_status apply_critic(void *self, wg_build *b, wg_node x, wg_node *score) {
    net *n = self;
    wg_build_enter_network(b, "critic");
    wg_status s = n->arch->vt.arch.critic(n->states[0], b, x, score);
    wg_build_leave(b);
    return s;
}

typedef struct node_list {
    wg_node v[256];
    int n;
} node_list;

static wg_status push(node_list *l, wg_node node) {
    if (l->n == (int)(sizeof l->v / sizeof *l->v))
        return wg_fail(WG_ERR_INVALID, "jsw: too many updates in one step");
    l->v[l->n++] = node;
    return WG_OK;
}

/* One trace: `batch` draws of each gaussian, the critic at both, the loss plugin's
 * critic loss; for training also the penalty and the optimizer, else the estimate. */
static wg_status trace(net *n, const wg_jsw_options *o, int64_t batch, bool training,
                       node_list *targets) {
    wg_graph *g = n->graph;
    wg_build b;
    wg_build_begin(&b, g, &n->registry, training ? "jsw_train" : "jsw_estimate", batch,
                   n->lipschitz, n->states[2]);
    wg_build_set_network(&b, "critic");
    wg_node real = wg_random_normal(g, "real", wg_shape2(batch, 1), 0, o->std);
    wg_node fake = wg_add(g, wg_random_normal(g, "fake", wg_shape2(batch, 1), 0, o->std), n->shift);
    wg_node s_real = WG_NONE, s_fake = WG_NONE, loss = WG_NONE, penalty = WG_NONE;
    wg_status s = apply_critic(n, &b, real, &s_real);
    if (s == WG_OK) s = apply_critic(n, &b, fake, &s_fake);
    if (s == WG_OK) s = wg_build_critic_loss(&b, n->loss, n->states[1], s_real, s_fake, &loss);
    wg_critic_fn fn = {apply_critic, n};
    if (s == WG_OK && training) s = wg_build_penalty(&b, &fn, real, fake, s_real, s_fake, &penalty);
    if (s == WG_OK) s = wg_build_check(&b);
    for (int i = 0; i < b.n_updates && s == WG_OK && training; i++) s = push(targets, b.updates[i]);
    wg_build_end(&b);
    if (s != WG_OK) return s;
    if (!training) {
        n->loss_value = loss;
        n->w_value = wg_sub(g, wg_mean_all(g, s_real), wg_mean_all(g, s_fake));
        s = push(targets, n->loss_value);
        return s == WG_OK ? push(targets, n->w_value) : s;
    }
    wg_node total = penalty == WG_NONE ? loss : wg_add(g, loss, penalty);
    int count = wg_registry_params(&n->registry, "critic", NULL, 0);
    wg_node params[64], grads[64];
    if (count < 1 || count > 64) return wg_fail(WG_ERR_PLUGIN, "jsw: %d critic parameters", count);
    wg_registry_params(&n->registry, "critic", params, count);
    s = wg_grad(g, total, count, params, grads);
    wg_optim_config adam = wg_optim_defaults(WG_OPTIM_ADAM);
    adam.adam.lr = o->lr;
    adam.adam.beta1 = 0.5;
    adam.adam.beta2 = 0.9;
    if (s == WG_OK)
        s = wg_optimizer_new(g, &adam, count, params, grads, "optimizer", &n->optimizer);
    for (int i = 0; s == WG_OK && i < wg_optimizer_update_count(n->optimizer); i++)
        s = push(targets, wg_optimizer_updates(n->optimizer)[i]);
    return s == WG_OK ? push(targets, total) : s;
}

static void net_free(net *n) {
    wg_plan_free(n->train);
    wg_plan_free(n->estimate);
    wg_optimizer_free(n->optimizer);
    wg_session_free(n->session);
    wg_registry_free(&n->registry);
    wg_graph_free(n->graph);
    if (n->arch) wg_plugin_destroy(n->arch, n->states[0]);
    if (n->loss) wg_plugin_destroy(n->loss, n->states[1]);
    if (n->lipschitz) wg_plugin_destroy(n->lipschitz, n->states[2]);
    for (int i = 0; i < 3; i++) wg_cfg_free(n->configs[i]);
    *n = (net){0};
}

/* Plugins by name, each created from a YAML text of its keys. */
static wg_status net_open(net *n, const wg_plugins *plugins, wg_device *device,
                          const wg_jsw_options *o, const char *loss, const char *lipschitz) {
    *n = (net){0};
    char arch_yaml[128], lip_yaml[96];
    snprintf(arch_yaml, sizeof arch_yaml, "hidden: [%d, %d]\n", o->hidden, o->hidden);
    snprintf(lip_yaml, sizeof lip_yaml, "lambda: %.17g\nmode: one_sided\n", o->lambda);
    wg_status s = wg_plugins_find(plugins, WG_PLUGIN_ARCH, "mlp", &n->arch);
    if (s == WG_OK) s = wg_plugins_find(plugins, WG_PLUGIN_LOSS, loss, &n->loss);
    if (s == WG_OK && lipschitz)
        s = wg_plugins_find(plugins, WG_PLUGIN_LIPSCHITZ, lipschitz, &n->lipschitz);
    if (s == WG_OK) s = wg_cfg_load_string("jsw arch", arch_yaml, &n->configs[0]);
    if (s == WG_OK) s = wg_cfg_load_string("jsw loss", "", &n->configs[1]);
    if (s == WG_OK) s = wg_cfg_load_string("jsw lipschitz", lip_yaml, &n->configs[2]);
    if (s == WG_OK)
        s = wg_plugin_create(n->arch, n->configs[0], o->seed, wg_shape1(1), &n->states[0]);
    if (s == WG_OK)
        s = wg_plugin_create(n->loss, n->configs[1], o->seed, wg_shape1(1), &n->states[1]);
    if (s == WG_OK && n->lipschitz)
        s = wg_plugin_create(n->lipschitz, n->configs[2], o->seed, wg_shape1(1), &n->states[2]);
    node_list train = {.n = 0}, estimate = {.n = 0};
    n->graph = s == WG_OK ? wg_graph_new(WG_F32) : NULL;
    if (s == WG_OK && !n->graph) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    if (s == WG_OK) n->shift = wg_input(n->graph, wg_shape1(1), "shift");
    if (s == WG_OK) s = trace(n, o, o->batch, true, &train);
    if (s == WG_OK) s = trace(n, o, o->samples, false, &estimate);
    if (s == WG_OK) s = wg_session_new(n->graph, device, o->seed, &n->session);
    if (s == WG_OK) s = wg_plan_new(n->session, train.n, train.v, &n->train);
    if (s == WG_OK) s = wg_plan_new(n->session, estimate.n, estimate.v, &n->estimate);
    return s;
}

/* Trains from the same initial weights and the same draws at every distance, so the
 * estimates differ by the distance only. */
static wg_status net_estimate(net *n, const wg_jsw_options *o, double d, double *loss, double *w) {
    float shift = (float)d;
    wg_status s = wg_registry_initialize(&n->registry, n->session, o->seed);
    for (int i = 0; s == WG_OK && i < wg_optimizer_state_count(n->optimizer); i++) {
        wg_node v = wg_optimizer_state(n->optimizer, i)->node;
        float *zeros = calloc((size_t)wg_node_numel(n->graph, v), sizeof *zeros);
        s = zeros ? wg_session_write(n->session, v, zeros) : wg_fail(WG_ERR_NOMEM, "out of memory");
        free(zeros);
    }
    wg_session_set_step(n->session, 0);
    if (s == WG_OK) s = wg_session_write(n->session, n->shift, &shift);
    for (int k = 0; k < o->steps && s == WG_OK; k++) s = wg_plan_run(n->train);
    if (s == WG_OK) s = wg_plan_run(n->estimate);
    float l = 0, v = 0;
    if (s == WG_OK) s = wg_plan_read(n->estimate, n->loss_value, &l);
    if (s == WG_OK) s = wg_plan_read(n->estimate, n->w_value, &v);
    *loss = l;
    *w = v;
    return s;
}

wg_status wg_jsw_run(const wg_jsw_options *o, wg_jsw_row *rows) {
    if (o->points < 2 || !(o->std > 0) || !(o->max_distance > 0) || o->steps < 1 || o->batch < 2 ||
        o->samples < 2 || o->hidden < 1)
        return wg_fail(WG_ERR_INVALID, "jsw: bad options");
    wg_plugins *plugins = NULL;
    wg_device *device = NULL;
    net gan = {0}, critic = {0};
    wg_status s = wg_plugins_load(&plugins);
    if (s == WG_OK) s = wg_device_open(o->device, &device);
    if (s == WG_OK) s = net_open(&gan, plugins, device, o, "gan", NULL);
    if (s == WG_OK) s = net_open(&critic, plugins, device, o, "wasserstein", "gradient_penalty");
    for (int i = 0; i < o->points && s == WG_OK; i++) {
        double t0 = wg_clock_seconds(), d = o->max_distance * i / (o->points - 1), loss = 0, w = 0,
               unused;
        wg_jsw_row *r = &rows[i];
        *r = (wg_jsw_row){.distance = d, .js_exact = wg_jsw_js_gaussians(d, o->std), .w1_exact = d};
        s = net_estimate(&gan, o, d, &loss, &unused);
        r->js_discriminator = log(2) - 0.5 * loss;
        if (s == WG_OK) s = net_estimate(&critic, o, d, &unused, &w);
        r->w1_critic = w;
        r->seconds = wg_clock_seconds() - t0;
        if (s == WG_OK && o->verbose)
            fprintf(stderr,
                    "jsw: d %.3f  JS exact %.4f, discriminator %.4f  W1 exact %.4f, critic %.4f  "
                    "(%.1f s)\n",
                    d, r->js_exact, r->js_discriminator, r->w1_exact, r->w1_critic, r->seconds);
    }
    net_free(&gan);
    net_free(&critic);
    if (device) wg_device_close(device);
    wg_plugins_free(plugins);
    return s;
}

/* ---- output ---- */

wg_status wg_jsw_write(const char *dir, const wg_jsw_options *o, const wg_jsw_row *rows) {
    char path[4200];
    wg_status s = wg_make_dirs(dir);
    if (s != WG_OK) return s;
    wg_buf csv = {0};
    wg_buf_puts(&csv, "distance,js_exact,js_discriminator,w1_exact,w1_critic,seconds\n");
    for (int i = 0; i < o->points; i++)
        wg_buf_printf(&csv, "%.9g,%.9g,%.9g,%.9g,%.9g,%.3f\n", rows[i].distance, rows[i].js_exact,
                      rows[i].js_discriminator, rows[i].w1_exact, rows[i].w1_critic,
                      rows[i].seconds);
    snprintf(path, sizeof path, "%s/js-vs-w.csv", dir);
    s = csv.failed ? wg_fail(WG_ERR_NOMEM, "out of memory")
                   : wg_write_file_atomic(path, csv.data, csv.len);
    wg_buf_free(&csv);
    if (s != WG_OK) return s;

    int n = o->points;
    double *v = malloc((size_t)(5 * n) * sizeof *v);
    if (!v) return wg_fail(WG_ERR_NOMEM, "out of memory");
    double *x = v, *js = v + n, *jsd = v + 2 * n, *w = v + 3 * n, *wc = v + 4 * n;
    for (int i = 0; i < n; i++) {
        x[i] = rows[i].distance;
        js[i] = rows[i].js_exact;
        jsd[i] = rows[i].js_discriminator;
        w[i] = rows[i].w1_exact;
        wc[i] = rows[i].w1_critic;
    }
    double log2_x[2] = {x[0], x[n - 1]}, log2_y[2] = {log(2), log(2)};
    const wg_plot_series series[] = {
        {"w1 exact (= d)", x, w, n, WG_PLOT_GENERATED_COLOR, 0, 0},
        {"w1 from a wgan-gp critic", x, wc, n, WG_PLOT_GENERATED_COLOR, 1, 1},
        {"js exact (nats)", x, js, n, WG_PLOT_REAL_COLOR, 0, 0},
        {"js from a gan discriminator", x, jsd, n, WG_PLOT_REAL_COLOR, 1, 1},
        {"log 2", log2_x, log2_y, 2, 0x7f7f7fu, 1, 0},
    };
    char title[128];
    snprintf(title, sizeof title, "two gaussians of std %g, d apart: js saturates, w1 grows",
             o->std);
    wg_image image;
    s = wg_plot_lines(series, (int)(sizeof series / sizeof *series), title, "distance d", &image);
    snprintf(path, sizeof path, "%s/js-vs-w.png", dir);
    if (s == WG_OK) s = wg_png_write(path, &image);
    wg_image_free(&image);
    free(v);
    return s;
}
