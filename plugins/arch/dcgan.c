/* Convolutional generators and critics for images [C, H, W].
 *
 *   arch:
 *     plugin: dcgan
 *     model: auto          # auto | wgan_gp_mnist | dcgan; auto picks wgan_gp_mnist for
 *                          # 28x28 samples and dcgan for square sizes 8, 16, 32, 64, ...
 *     width: 64            # channels of the widest generator layer / 8 (dcgan), DIM (mnist)
 *     noise_dim: 128       # default 128 (wgan_gp_mnist), 100 (dcgan)
 *     output: tanh         # generator output: tanh (data in [-1, 1], what the data
 *                          # plugins give) | sigmoid ([0, 1], the reference MNIST model) |
 *                          # linear
 *     generator_norm: none # none | batch | layer; default none (mnist), batch (dcgan)
 *     critic_norm: none    # none | batch | layer
 *     init: torch          # torch | dcgan (N(0, 0.02)); default torch (mnist), dcgan (dcgan)
 *
 * wgan_gp_mnist is the WGAN-GP reference MNIST model (DIM = width):
 *   G: Linear(noise, 4*4*4*DIM), ReLU, view [4*DIM, 4, 4],
 *      ConvT(4*DIM, 2*DIM, 5, s2, p2, op1) -> 8x8, ReLU, crop to 7x7,
 *      ConvT(2*DIM, DIM, 5, s2, p2, op1) -> 14x14, ReLU,
 *      ConvT(DIM, C, 5, s2, p2, op1) -> 28x28, output activation
 *   D: Conv(C, DIM, 5, s2, p2) -> 14x14, LReLU(0.2), Conv(DIM, 2*DIM) -> 7x7, LReLU,
 *      Conv(2*DIM, 4*DIM) -> 4x4, LReLU, Linear(4*4*4*DIM, 1)
 *   with biases everywhere; norms (when asked for) where the reference's WGAN mode puts
 *   its batch norms: after G's first three layers and D's second and third convs.
 *   The reference uses TensorFlow 'SAME' padding, which for these sizes gives the same
 *   shapes as the symmetric padding here.
 *
 * dcgan is Radford et al.'s DCGAN as in the WGAN reference code, for size S = 4 * 2^k:
 *   G: ConvT(noise, width * 2^(k-1), 4, s1, p0) -> 4x4, norm, ReLU, then halving the
 *      channels ConvT(.., 4, s2, p1), norm, ReLU up to S/2, ConvT(.., C, 4, s2, p1) -> S
 *   D: Conv(C, width, 4, s2, p1), LReLU(0.2), then doubling the channels
 *      Conv(.., 4, s2, p1), norm, LReLU down to 4x4, Conv(.., 1, 4, s1, p0)
 *   without biases.
 *
 * A penalty may apply either critic with dropout after each LeakyReLU
 * (wg_build_apply_critic_dropout), where CT-GAN's reference MNIST critic has it; the
 * input of the last layer is the critic's second-to-last layer. */
#include <stdlib.h>
#include <string.h>

#include "layers.h"

typedef enum dcgan_model { MODEL_MNIST, MODEL_DCGAN } dcgan_model;

/* index - 1 is the dcgan_model; "auto" decides from the sample shape */
static const char *const model_names[] = {"auto", "wgan_gp_mnist", "dcgan", NULL};
static const char *const output_names[] = {"tanh", "sigmoid", "linear", NULL};
static const wgp_act outputs[] = {WGP_ACT_TANH, WGP_ACT_SIGMOID, WGP_ACT_LINEAR};
#define LRELU_SLOPE 0.2

typedef struct dcgan {
    dcgan_model model;
    wg_shape sample;
    int64_t channels, size;
    int levels; /* dcgan: size = 4 * 2^levels */
    int width, noise_dim;
    wgp_act output;
    wgp_norm generator_norm, critic_norm;
    wgp_init_scheme init;
} dcgan;

/* log2(size / 4) when size is 4 * 2^k with k >= 1, else -1. */
static int dcgan_levels(int64_t size) {
    int k = 0;
    if (size < 8 || size % 4) return -1;
    for (int64_t s = size / 4; s > 1; s /= 2, k++)
        if (s % 2) return -1;
    return k;
}

static wg_status choose_model(const wg_cfg *config, dcgan *d) {
    char shape[64];
    wg_shape_str(&d->sample, shape, sizeof shape);
    bool square = d->sample.ndim == 3 && d->sample.dim[1] == d->sample.dim[2];
    int fits_mnist = square && d->size == 28;
    int fits_dcgan = square && d->levels > 0;
    int choice = 0;
    wg_status s = wg_cfg_enum(config, "model", model_names, 0, &choice);
    if (s != WG_OK) return s;
    int model = choice - 1;
    if (model < 0) {
        if (!fits_mnist && !fits_dcgan)
            return wg_cfg_error(config,
                                "dcgan: no model for samples %s; images [C, 28, 28] use "
                                "wgan_gp_mnist, [C, S, S] with S = 8, 16, 32, 64, ... use dcgan",
                                shape);
        model = fits_mnist ? MODEL_MNIST : MODEL_DCGAN;
    }
    d->model = (dcgan_model)model;
    if (d->model == MODEL_MNIST && !fits_mnist)
        return wg_cfg_error(wg_cfg_get(config, "model"),
                            "wgan_gp_mnist needs samples [C, 28, 28], the data gives %s", shape);
    if (d->model == MODEL_DCGAN && !fits_dcgan)
        return wg_cfg_error(wg_cfg_get(config, "model"),
                            "dcgan needs samples [C, S, S] with S = 8, 16, 32, 64, ..., the data "
                            "gives %s",
                            shape);
    return WG_OK;
}

static wg_status dcgan_create(const wg_cfg *config, wg_shape sample_shape, void **state) {
    dcgan d = {.sample = sample_shape};
    if (sample_shape.ndim == 3) {
        d.channels = sample_shape.dim[0];
        d.size = sample_shape.dim[1];
        d.levels = dcgan_levels(d.size);
    }
    wg_status s = choose_model(config, &d);
    if (s != WG_OK) return s;
    bool mnist = d.model == MODEL_MNIST;
    int out = 0, init = mnist ? WGP_INIT_TORCH : WGP_INIT_DCGAN;
    s = wg_cfg_int(config, "width", 64, 1, 4096, &d.width);
    if (s == WG_OK)
        s = wg_cfg_int(config, "noise_dim", mnist ? 128 : 100, 1, 1 << 16, &d.noise_dim);
    if (s == WG_OK) s = wg_cfg_enum(config, "output", output_names, 0, &out);
    if (s == WG_OK)
        s = wgp_read_norm(config, "generator_norm", mnist ? WGP_NORM_NONE : WGP_NORM_BATCH,
                          &d.generator_norm);
    if (s == WG_OK) s = wgp_read_norm(config, "critic_norm", WGP_NORM_NONE, &d.critic_norm);
    if (s == WG_OK) s = wg_cfg_enum(config, "init", wgp_init_names, init, &init);
    if (s != WG_OK) return s;
    if (!mnist && (d.levels > 16 || ((int64_t)d.width << (d.levels - 1)) > (1 << 16)))
        return wg_fail(WG_ERR_CONFIG, "dcgan: width %d is too large for size %lld", d.width,
                       (long long)d.size);
    d.output = outputs[out];
    d.init = (wgp_init_scheme)init;
    dcgan *p = malloc(sizeof *p);
    if (!p) return wg_fail(WG_ERR_NOMEM, "dcgan: out of memory");
    *p = d;
    *state = p;
    return WG_OK;
}

static void dcgan_destroy(void *state) {
    free(state);
}

static int64_t dcgan_noise_dim(void *state) {
    return ((dcgan *)state)->noise_dim;
}

static wg_node mnist_generator(const dcgan *d, wg_build *build, wg_node z) {
    wg_graph *graph = wg_build_graph(build);
    int64_t n = wg_node_shape(graph, z).dim[0], dim = d->width;
    wg_node x = wgp_linear(build, "fc", z, d->noise_dim, 4 * 4 * 4 * dim, true, d->init);
    x = wg_relu(graph, wgp_normalize(build, "norm1", x, d->generator_norm, d->init));
    x = wg_reshape(graph, x, wg_shape4(n, 4 * dim, 4, 4));
    x = wgp_conv_transpose2d(build, "deconv1", x, 4 * dim, 2 * dim, 5, 2, 2, 1, true, d->init);
    x = wg_relu(graph, wgp_normalize(build, "norm2", x, d->generator_norm, d->init));
    static const int64_t origin[4] = {0, 0, 0, 0};
    x = wg_slice(graph, x, origin, wg_shape4(n, 2 * dim, 7, 7));
    x = wgp_conv_transpose2d(build, "deconv2", x, 2 * dim, dim, 5, 2, 2, 1, true, d->init);
    x = wg_relu(graph, wgp_normalize(build, "norm3", x, d->generator_norm, d->init));
    return wgp_conv_transpose2d(build, "deconv3", x, dim, d->channels, 5, 2, 2, 1, true, d->init);
}

static wg_node mnist_critic(const dcgan *d, wg_build *build, wg_node x) {
    wg_graph *graph = wg_build_graph(build);
    int64_t dim = d->width;
    x = wgp_conv2d(build, "conv1", x, d->channels, dim, 5, 2, 2, true, d->init);
    x = wgp_dropout(build, "conv1", wg_leaky_relu(graph, x, LRELU_SLOPE));
    x = wgp_conv2d(build, "conv2", x, dim, 2 * dim, 5, 2, 2, true, d->init);
    x = wg_leaky_relu(graph, wgp_normalize(build, "norm2", x, d->critic_norm, d->init),
                      LRELU_SLOPE);
    x = wgp_dropout(build, "conv2", x);
    x = wgp_conv2d(build, "conv3", x, 2 * dim, 4 * dim, 5, 2, 2, true, d->init);
    x = wg_leaky_relu(graph, wgp_normalize(build, "norm3", x, d->critic_norm, d->init),
                      LRELU_SLOPE);
    x = wgp_flatten(graph, wgp_dropout(build, "conv3", x));
    wg_build_critic_features(build, x);
    return wgp_linear(build, "fc", x, 4 * 4 * 4 * dim, 1, true, d->init);
}

static wg_node dcgan_generator_net(const dcgan *d, wg_build *build, wg_node z) {
    wg_graph *graph = wg_build_graph(build);
    int64_t n = wg_node_shape(graph, z).dim[0];
    int64_t c = (int64_t)d->width << (d->levels - 1);
    char layer[32], norm[32];
    wg_node x = wg_reshape(graph, z, wg_shape4(n, d->noise_dim, 1, 1));
    x = wgp_conv_transpose2d(build, "convt1", x, d->noise_dim, c, 4, 1, 0, 0, false, d->init);
    x = wg_relu(graph, wgp_normalize(build, "norm1", x, d->generator_norm, d->init));
    for (int i = 2; i <= d->levels; i++, c /= 2) {
        snprintf(layer, sizeof layer, "convt%d", i);
        snprintf(norm, sizeof norm, "norm%d", i);
        x = wgp_conv_transpose2d(build, layer, x, c, c / 2, 4, 2, 1, 0, false, d->init);
        x = wg_relu(graph, wgp_normalize(build, norm, x, d->generator_norm, d->init));
    }
    snprintf(layer, sizeof layer, "convt%d", d->levels + 1);
    return wgp_conv_transpose2d(build, layer, x, c, d->channels, 4, 2, 1, 0, false, d->init);
}

static wg_node dcgan_critic_net(const dcgan *d, wg_build *build, wg_node x) {
    wg_graph *graph = wg_build_graph(build);
    int64_t c = d->width;
    char layer[32], norm[32];
    x = wgp_conv2d(build, "conv1", x, d->channels, c, 4, 2, 1, false, d->init);
    x = wgp_dropout(build, "conv1", wg_leaky_relu(graph, x, LRELU_SLOPE));
    for (int i = 2; i <= d->levels; i++, c *= 2) {
        snprintf(layer, sizeof layer, "conv%d", i);
        snprintf(norm, sizeof norm, "norm%d", i);
        x = wgp_conv2d(build, layer, x, c, 2 * c, 4, 2, 1, false, d->init);
        x = wg_leaky_relu(graph, wgp_normalize(build, norm, x, d->critic_norm, d->init),
                          LRELU_SLOPE);
        x = wgp_dropout(build, layer, x);
    }
    wg_build_critic_features(build, wgp_flatten(graph, x));
    snprintf(layer, sizeof layer, "conv%d", d->levels + 1);
    x = wgp_conv2d(build, layer, x, c, 1, 4, 1, 0, false, d->init);
    return wgp_flatten(graph, x);
}

static wg_status dcgan_generator(void *state, wg_build *build, wg_node z, wg_node *x) {
    const dcgan *d = state;
    wg_graph *graph = wg_build_graph(build);
    wg_shape noise = wg_shape1(d->noise_dim);
    wg_status s = wgp_check_input(graph, z, &noise, "dcgan generator");
    if (s != WG_OK) return s;
    wg_node y =
        d->model == MODEL_MNIST ? mnist_generator(d, build, z) : dcgan_generator_net(d, build, z);
    return wgp_result(graph, wgp_activate(graph, y, d->output, 0), x);
}

static wg_status dcgan_critic(void *state, wg_build *build, wg_node x, wg_node *score) {
    const dcgan *d = state;
    wg_graph *graph = wg_build_graph(build);
    wg_status s = wgp_check_input(graph, x, &d->sample, "dcgan critic");
    if (s != WG_OK) return s;
    wg_node y = d->model == MODEL_MNIST ? mnist_critic(d, build, x) : dcgan_critic_net(d, build, x);
    return wgp_result(graph, y, score);
}

static int dcgan_critic_uses_batch_norm(void *state) {
    return ((dcgan *)state)->critic_norm == WGP_NORM_BATCH;
}

static const wg_arch_vtable dcgan_vtable = {
    sizeof dcgan_vtable,
    dcgan_create,
    dcgan_destroy,
    dcgan_noise_dim,
    dcgan_generator,
    dcgan_critic,
    dcgan_critic_uses_batch_norm,
};
static const wg_plugin_desc dcgan_desc =
    WG_PLUGIN_DESC(WG_PLUGIN_ARCH, "dcgan", "convolutional models: WGAN-GP's MNIST model and DCGAN",
                   &dcgan_vtable);
WG_PLUGIN_EXPORT_ONE(dcgan_desc)
