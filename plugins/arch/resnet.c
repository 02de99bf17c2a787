/* Residual generators and critics for images [C, S, S]: the CIFAR-10 ResNets of
 * WGAN-GP (Gulrajani et al. 2017, gan_cifar_resnet.py) and SNGAN (Miyato et al. 2018,
 * the 32x32 and 64x64 models of their chainer code, sngan_projection).
 *
 *   arch:
 *     plugin: resnet
 *     model: auto           # auto | wgan_gp (S = 32) | sngan (S = 32 or 64); auto picks
 *                           # wgan_gp for 32x32 and sngan for 64x64
 *     generator_width: 128  # default: wgan_gp 128, sngan 256 (32x32), 64 (64x64)
 *     critic_width: 128     # default: 128 (32x32), 64 (64x64)
 *     noise_dim: 128
 *     generator_norm: batch # none | batch | layer, before each activation of G
 *     critic_norm: none     # none | batch | layer, before each activation of the critic's
 *                           # residual blocks (not its first block), where the WGAN-GP
 *                           # code's Normalize puts it
 *     activation: relu      # relu | leaky_relu | tanh (and slope: 0.2 for leaky_relu)
 *     pooling: mean         # the critic's global pooling: mean (wgan_gp) | sum (sngan)
 *     init: reference       # reference | torch (PyTorch's layer defaults)
 *
 * Blocks (3x3 convolutions with padding 1, 1x1 shortcuts, biases everywhere):
 *   G up-block(in, out):   x -> norm, act, upsample, conv(in, out), norm, act,
 *                          conv(out, out); shortcut upsample(x) -> conv1x1(in, out)
 *   D first block(C, out): x -> conv(C, out), act, conv(out, out), meanpool;
 *                          shortcut meanpool(x) -> conv1x1(C, out)
 *   D block(in, out):      x -> norm, act, conv(in, in), norm, act, conv(in, out),
 *                          [meanpool]; shortcut conv1x1(in, out) [then meanpool] when the
 *                          block pools or changes width, else x
 * upsample is nearest-neighbour by 2, meanpool 2x2 average pooling.
 *
 * Networks, Wg / Wd the widths:
 *   G: Linear(noise, 4*4*W0), view [W0, 4, 4], up-blocks to S, norm, act,
 *      conv(Wlast, C), tanh
 *      32x32: three up-blocks Wg -> Wg;   64x64: W0 = 16 Wg, up-blocks halving to Wg
 *   D: first block, blocks, act, global pooling over H, W, Linear(Wlast, 1)
 *      32x32: first block (to 16x16), a pooling block (8x8), two plain blocks, all Wd
 *      64x64: first block to Wd (32x32), four pooling blocks doubling to 16 Wd (2x2)
 * wgan_gp and sngan differ at 32x32 in G's default width, the pooling (mean / sum) and
 * the critic's output bias (the SNGAN 32x32 critic has none).
 *
 * init reference, what both codes do: weights Glorot-uniform, U(-a, a) with a = gain
 * sqrt(6 / (fan_in + fan_out)), gain sqrt(2) for the residual 3x3 convolutions (the
 * WGAN-GP code's he_init) and 1 for shortcuts, G's input layer and output convolution
 * and the critic's output layer; biases 0; norm gains 1, shifts 0.
 *
 * Not modelled: the WGAN-GP code trains G on batches twice the critic's (the runtime
 * uses one batch size). Layer names: generator fc, block<i>.{norm1,conv1,norm2,conv2,
 * shortcut}, norm_out, out; critic block<i>.{conv1,norm1,...}, fc. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

typedef enum resnet_model { MODEL_WGAN_GP, MODEL_SNGAN } resnet_model;
/* index - 1 is the resnet_model; "auto" decides from the sample size */
static const char *const model_names[] = {"auto", "wgan_gp", "sngan", NULL};
static const char *const pooling_names[] = {"mean", "sum", NULL};
static const char *const init_names[] = {"reference", "torch", NULL};

#define MAX_BLOCKS 5
#define MAX_WIDTH (1 << 16)

typedef struct resnet {
    wg_shape sample;
    int64_t channels, size;
    int noise_dim;
    int g_blocks, d_blocks;
    int64_t g_width[MAX_BLOCKS + 1]; /* channels into G's block i; [g_blocks]: out of the last */
    int64_t d_width[MAX_BLOCKS + 1]; /* channels out of the critic's block i - 1; [0] = C */
    bool d_pool[MAX_BLOCKS];
    bool sum_pool, out_bias, torch_init;
    wgp_norm generator_norm, critic_norm;
    wgp_act activation;
    double slope;
} resnet;

static wg_status choose_model(const wg_cfg *config, const resnet *r, resnet_model *model) {
    char shape[64];
    wg_shape_str(&r->sample, shape, sizeof shape);
    bool square = r->sample.ndim == 3 && r->sample.dim[1] == r->sample.dim[2];
    int choice = 0;
    wg_status s = wg_cfg_enum(config, "model", model_names, 0, &choice);
    if (s != WG_OK) return s;
    if (!square || (r->size != 32 && r->size != 64))
        return wg_cfg_error(wg_cfg_get(config, "model") ? wg_cfg_get(config, "model") : config,
                            "resnet: no model for samples %s; the models are for images [C, 32, "
                            "32] (wgan_gp, sngan) and [C, 64, 64] (sngan)",
                            shape);
    *model = choice ? (resnet_model)(choice - 1) : r->size == 32 ? MODEL_WGAN_GP : MODEL_SNGAN;
    if (*model == MODEL_WGAN_GP && r->size != 32)
        return wg_cfg_error(wg_cfg_get(config, "model"),
                            "wgan_gp is the WGAN-GP CIFAR model for samples [C, 32, 32], the data "
                            "gives %s",
                            shape);
    return WG_OK;
}

/* The widths and pooling of each block, from the model, the size and the two widths. */
static void layout(resnet *r, int64_t wg, int64_t wd) {
    if (r->size == 32) {
        r->g_blocks = 3;
        r->d_blocks = 4;
        for (int i = 0; i <= 3; i++) r->g_width[i] = wg;
        r->d_width[0] = r->channels;
        for (int i = 1; i <= 4; i++) r->d_width[i] = wd;
        r->d_pool[0] = r->d_pool[1] = true;
        r->d_pool[2] = r->d_pool[3] = false;
        return;
    }
    r->g_blocks = 4;
    r->d_blocks = 5;
    for (int i = 0; i <= 4; i++) r->g_width[i] = wg << (4 - i);
    r->d_width[0] = r->channels;
    for (int i = 1; i <= 5; i++) {
        r->d_width[i] = wd << (i - 1);
        r->d_pool[i - 1] = true;
    }
}

static wg_status resnet_create(const wg_cfg *config, wg_shape sample_shape, void **state) {
    resnet r = {.sample = sample_shape};
    if (sample_shape.ndim == 3) {
        r.channels = sample_shape.dim[0];
        r.size = sample_shape.dim[1];
    }
    resnet_model model;
    wg_status s = choose_model(config, &r, &model);
    if (s != WG_OK) return s;
    bool small = r.size == 32;
    int wg = 0, wd = 0, pool = model == MODEL_SNGAN, init = 0;
    int g_default = !small ? 64 : model == MODEL_SNGAN ? 256 : 128;
    s = wg_cfg_int(config, "generator_width", g_default, 1, MAX_WIDTH, &wg);
    if (s == WG_OK) s = wg_cfg_int(config, "critic_width", small ? 128 : 64, 1, MAX_WIDTH, &wd);
    if (s == WG_OK) s = wg_cfg_int(config, "noise_dim", 128, 1, 1 << 16, &r.noise_dim);
    if (s == WG_OK) s = wgp_read_norm(config, "generator_norm", WGP_NORM_BATCH, &r.generator_norm);
    if (s == WG_OK) s = wgp_read_norm(config, "critic_norm", WGP_NORM_NONE, &r.critic_norm);
    if (s == WG_OK)
        s = wgp_read_activation(config, "activation", WGP_ACT_RELU, &r.activation, &r.slope);
    if (s == WG_OK) s = wg_cfg_enum(config, "pooling", pooling_names, pool, &pool);
    if (s == WG_OK) s = wg_cfg_enum(config, "init", init_names, 0, &init);
    if (s != WG_OK) return s;
    if (!small && ((int64_t)wg << 4 > MAX_WIDTH || (int64_t)wd << 4 > MAX_WIDTH))
        return wg_fail(WG_ERR_CONFIG,
                       "resnet: widths %d and %d are too large for 64x64 (16 "
                       "times each must stay within %d)",
                       wg, wd, MAX_WIDTH);
    r.sum_pool = pool == 1;
    r.torch_init = init == 1;
    r.out_bias = !(model == MODEL_SNGAN && small);
    layout(&r, wg, wd);
    resnet *p = malloc(sizeof *p);
    if (!p) return wg_fail(WG_ERR_NOMEM, "resnet: out of memory");
    *p = r;
    *state = p;
    return WG_OK;
}

static void resnet_destroy(void *state) {
    free(state);
}

static int64_t resnet_noise_dim(void *state) {
    return ((resnet *)state)->noise_dim;
}

/* ---- layers with the model's initialisation ---- */

static const wg_init zeros = {WG_INIT_ZEROS, 0, 0, 0};

/* k x k convolution, stride 1, padding k / 2, with a bias; `gain` for Glorot init. */
static wg_node conv(const resnet *r, wg_build *build, const char *block, const char *name,
                    wg_node x, int64_t in, int64_t out, int k, double gain) {
    char layer[48];
    snprintf(layer, sizeof layer, "%s%s%s", block, *block ? "." : "", name);
    int64_t fan_in = in * k * k, fan_out = out * k * k;
    if (r->torch_init) {
        wg_init bias = wgp_bias_init(fan_in);
        return wgp_conv2d_init(build, layer, x, in, out, k, 1, k / 2,
                               wgp_weight_init(WGP_INIT_TORCH, fan_in), &bias);
    }
    return wgp_conv2d_init(build, layer, x, in, out, k, 1, k / 2,
                           wgp_glorot_uniform(fan_in, fan_out, gain), &zeros);
}

static wg_node linear(const resnet *r, wg_build *build, const char *layer, wg_node x, int64_t in,
                      int64_t out, bool bias) {
    wg_init torch_bias = wgp_bias_init(in);
    if (r->torch_init)
        return wgp_linear_init(build, layer, x, in, out, wgp_weight_init(WGP_INIT_TORCH, in),
                               bias ? &torch_bias : NULL);
    return wgp_linear_init(build, layer, x, in, out, wgp_glorot_uniform(in, out, 1),
                           bias ? &zeros : NULL);
}

static wg_node norm_act(const resnet *r, wg_build *build, const char *block, const char *name,
                        wg_node x, wgp_norm norm) {
    char layer[48];
    snprintf(layer, sizeof layer, "%s.%s", block, name);
    x = wgp_normalize(build, layer, x, norm, WGP_INIT_TORCH);
    return wgp_activate(wg_build_graph(build), x, r->activation, r->slope);
}

/* ---- the networks ---- */

static wg_node up_block(const resnet *r, wg_build *build, int i, wg_node x) {
    wg_graph *graph = wg_build_graph(build);
    int64_t in = r->g_width[i], out = r->g_width[i + 1];
    char block[16];
    snprintf(block, sizeof block, "block%d", i + 1);
    wg_node h = norm_act(r, build, block, "norm1", x, r->generator_norm);
    h = conv(r, build, block, "conv1", wgp_upsample2(graph, h), in, out, 3, sqrt(2.0));
    h = norm_act(r, build, block, "norm2", h, r->generator_norm);
    h = conv(r, build, block, "conv2", h, out, out, 3, sqrt(2.0));
    wg_node shortcut = conv(r, build, block, "shortcut", wgp_upsample2(graph, x), in, out, 1, 1);
    return wg_add(graph, h, shortcut);
}

static wg_node resnet_generator_net(const resnet *r, wg_build *build, wg_node z) {
    wg_graph *graph = wg_build_graph(build);
    int64_t n = wg_node_shape(graph, z).dim[0], w0 = r->g_width[0];
    wg_node x = linear(r, build, "fc", z, r->noise_dim, 4 * 4 * w0, true);
    x = wg_reshape(graph, x, wg_shape4(n, w0, 4, 4));
    for (int i = 0; i < r->g_blocks; i++) x = up_block(r, build, i, x);
    int64_t last = r->g_width[r->g_blocks];
    x = wgp_activate(graph, wgp_normalize(build, "norm_out", x, r->generator_norm, WGP_INIT_TORCH),
                     r->activation, r->slope);
    return wg_tanh(graph, conv(r, build, "", "out", x, last, r->channels, 3, 1));
}

/* Block i of the critic; block 0 is the first ("optimized") block. */
static wg_node critic_block(const resnet *r, wg_build *build, int i, wg_node x) {
    wg_graph *graph = wg_build_graph(build);
    int64_t in = r->d_width[i], out = r->d_width[i + 1];
    bool pool = r->d_pool[i];
    char block[16];
    snprintf(block, sizeof block, "block%d", i + 1);
    wg_node h, shortcut = x;
    if (i == 0) {
        h = conv(r, build, block, "conv1", x, in, out, 3, sqrt(2.0));
        h = wgp_activate(graph, h, r->activation, r->slope);
        h = wgp_mean_pool2(graph, conv(r, build, block, "conv2", h, out, out, 3, sqrt(2.0)));
        shortcut = conv(r, build, block, "shortcut", wgp_mean_pool2(graph, x), in, out, 1, 1);
        return wg_add(graph, h, shortcut);
    }
    h = norm_act(r, build, block, "norm1", x, r->critic_norm);
    h = conv(r, build, block, "conv1", h, in, in, 3, sqrt(2.0));
    h = norm_act(r, build, block, "norm2", h, r->critic_norm);
    h = conv(r, build, block, "conv2", h, in, out, 3, sqrt(2.0));
    if (pool || in != out) shortcut = conv(r, build, block, "shortcut", x, in, out, 1, 1);
    if (pool) {
        h = wgp_mean_pool2(graph, h);
        shortcut = wgp_mean_pool2(graph, shortcut);
    }
    return wg_add(graph, h, shortcut);
}

static wg_node resnet_critic_net(const resnet *r, wg_build *build, wg_node x) {
    wg_graph *graph = wg_build_graph(build);
    /* dropout after each block when a penalty asks for it (ct), else nothing */
    for (int i = 0; i < r->d_blocks; i++) {
        char block[16];
        snprintf(block, sizeof block, "block%d", i + 1);
        x = wgp_dropout(build, block, critic_block(r, build, i, x));
    }
    x = wgp_activate(graph, x, r->activation, r->slope);
    unsigned spatial = (1u << 2) | (1u << 3);
    x = r->sum_pool ? wg_sum(graph, x, spatial, false) : wg_mean(graph, x, spatial, false);
    wg_build_critic_features(build, x);
    return linear(r, build, "fc", x, r->d_width[r->d_blocks], 1, r->out_bias);
}

static wg_status resnet_generator(void *state, wg_build *build, wg_node z, wg_node *x) {
    const resnet *r = state;
    wg_graph *graph = wg_build_graph(build);
    wg_shape noise = wg_shape1(r->noise_dim);
    wg_status s = wgp_check_input(graph, z, &noise, "resnet generator");
    if (s != WG_OK) return s;
    return wgp_result(graph, resnet_generator_net(r, build, z), x);
}

static wg_status resnet_critic(void *state, wg_build *build, wg_node x, wg_node *score) {
    const resnet *r = state;
    wg_graph *graph = wg_build_graph(build);
    wg_status s = wgp_check_input(graph, x, &r->sample, "resnet critic");
    if (s != WG_OK) return s;
    return wgp_result(graph, resnet_critic_net(r, build, x), score);
}

static int resnet_critic_uses_batch_norm(void *state) {
    return ((resnet *)state)->critic_norm == WGP_NORM_BATCH;
}

static const wg_arch_vtable resnet_vtable = {
    .struct_size = sizeof resnet_vtable,
    .create = resnet_create,
    .destroy = resnet_destroy,
    .noise_dim = resnet_noise_dim,
    .generator = resnet_generator,
    .critic = resnet_critic,
    .critic_uses_batch_norm = resnet_critic_uses_batch_norm,
};
static const wg_plugin_desc resnet_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_ARCH, "resnet",
    "residual models for 32x32 and 64x64 images: the WGAN-GP CIFAR and SNGAN ResNets",
    &resnet_vtable);
WG_PLUGIN_EXPORT_ONE(resnet_desc)
