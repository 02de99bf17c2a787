/* Fully connected generator and critic, as in the WGAN-GP toy experiments
 * (2-512-512-512-{2,1}, ReLU, linear outputs).
 *
 *   arch:
 *     plugin: mlp
 *     hidden: [512, 512, 512]     # widths of the hidden layers, both networks
 *     activation: relu            # relu | leaky_relu | tanh
 *     slope: 0.2                  # leaky_relu only
 *     noise_dim: 2                # default: the number of values in one sample
 *     output: linear              # generator output: linear | tanh | sigmoid
 *     generator_norm: none        # none | batch | layer, after every hidden layer
 *     critic_norm: none           # none | batch | layer
 *
 * Samples of any shape are flattened to vectors; the critic returns [N, 1] with no
 * sigmoid. A penalty may apply the critic with dropout after every hidden activation
 * (wg_build_apply_critic_dropout, as CT-GAN's reference critic). Layers are fc1, fc2, ... and out,
 * each "weight" [out, in] and "bias". */
#include <stdlib.h>
#include <string.h>

#include "layers.h"

#define MLP_MAX_LAYERS 16

static const char *const output_names[] = {"linear", "tanh", "sigmoid", NULL};
static const wgp_act outputs[] = {WGP_ACT_LINEAR, WGP_ACT_TANH, WGP_ACT_SIGMOID};

typedef struct mlp {
    wg_shape sample;
    int64_t sample_numel;
    int hidden[MLP_MAX_LAYERS];
    size_t n_hidden;
    wgp_act activation, output;
    double slope;
    int noise_dim;
    wgp_norm generator_norm, critic_norm;
} mlp;

static wg_status mlp_create(const wg_cfg *config, wg_shape sample_shape, void **state) {
    mlp m = {.sample = sample_shape, .sample_numel = wg_shape_numel(&sample_shape)};
    if (sample_shape.ndim < 1 || m.sample_numel < 1 || m.sample_numel > (1 << 24))
        return wg_fail(WG_ERR_INVALID, "mlp: unusable sample shape");
    m.hidden[0] = m.hidden[1] = m.hidden[2] = 512;
    m.n_hidden = 3;
    int out = 0;
    wg_status s =
        wg_cfg_ints(config, "hidden", 1, 1 << 16, 1, MLP_MAX_LAYERS, m.hidden, &m.n_hidden);
    if (s == WG_OK)
        s = wgp_read_activation(config, "activation", WGP_ACT_RELU, &m.activation, &m.slope);
    int default_noise = m.sample_numel < (1 << 16) ? (int)m.sample_numel : 128;
    if (s == WG_OK) s = wg_cfg_int(config, "noise_dim", default_noise, 1, 1 << 16, &m.noise_dim);
    if (s == WG_OK) s = wg_cfg_enum(config, "output", output_names, 0, &out);
    if (s == WG_OK) s = wgp_read_norm(config, "generator_norm", WGP_NORM_NONE, &m.generator_norm);
    if (s == WG_OK) s = wgp_read_norm(config, "critic_norm", WGP_NORM_NONE, &m.critic_norm);
    if (s != WG_OK) return s;
    m.output = outputs[out];
    mlp *p = malloc(sizeof *p);
    if (!p) return wg_fail(WG_ERR_NOMEM, "mlp: out of memory");
    *p = m;
    *state = p;
    return WG_OK;
}

static void mlp_destroy(void *state) {
    free(state);
}

static int64_t mlp_noise_dim(void *state) {
    return ((mlp *)state)->noise_dim;
}

/* Hidden layers then a linear output layer of `out` units. The critic's hidden layers
 * end in dropout ("fc<i>.dropout", a no-op unless a penalty asks for it), and the
 * output layer's input is its second-to-last layer. */
static wg_node mlp_forward(const mlp *m, wg_build *build, wg_node x, int64_t in, int64_t out,
                           wgp_norm norm, bool critic) {
    wg_graph *graph = wg_build_graph(build);
    char layer[32], norm_layer[32];
    for (size_t i = 0; i < m->n_hidden; i++) {
        snprintf(layer, sizeof layer, "fc%zu", i + 1);
        x = wgp_linear(build, layer, x, in, m->hidden[i], true, WGP_INIT_TORCH);
        snprintf(norm_layer, sizeof norm_layer, "norm%zu", i + 1);
        x = wgp_normalize(build, norm_layer, x, norm, WGP_INIT_TORCH);
        x = wgp_activate(graph, x, m->activation, m->slope);
        if (critic) x = wgp_dropout(build, layer, x);
        in = m->hidden[i];
    }
    if (critic) wg_build_critic_features(build, x);
    return wgp_linear(build, "out", x, in, out, true, WGP_INIT_TORCH);
}

static wg_status mlp_generator(void *state, wg_build *build, wg_node z, wg_node *x) {
    const mlp *m = state;
    wg_graph *graph = wg_build_graph(build);
    wg_shape noise = wg_shape1(m->noise_dim);
    wg_status s = wgp_check_input(graph, z, &noise, "mlp generator");
    if (s != WG_OK) return s;
    wg_node y = mlp_forward(m, build, z, m->noise_dim, m->sample_numel, m->generator_norm, false);
    y = wgp_activate(graph, y, m->output, 0);
    return wgp_result(graph, wgp_unflatten(graph, y, &m->sample), x);
}

static wg_status mlp_critic(void *state, wg_build *build, wg_node x, wg_node *score) {
    const mlp *m = state;
    wg_graph *graph = wg_build_graph(build);
    wg_status s = wgp_check_input(graph, x, &m->sample, "mlp critic");
    if (s != WG_OK) return s;
    wg_node y =
        mlp_forward(m, build, wgp_flatten(graph, x), m->sample_numel, 1, m->critic_norm, true);
    return wgp_result(graph, y, score);
}

static int mlp_critic_uses_batch_norm(void *state) {
    return ((mlp *)state)->critic_norm == WGP_NORM_BATCH;
}

static const wg_arch_vtable mlp_vtable = {
    sizeof mlp_vtable,          mlp_create, mlp_destroy, mlp_noise_dim, mlp_generator, mlp_critic,
    mlp_critic_uses_batch_norm,
};
static const wg_plugin_desc mlp_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_ARCH, "mlp", "fully connected generator and critic (toy data)", &mlp_vtable);
WG_PLUGIN_EXPORT_ONE(mlp_desc)
