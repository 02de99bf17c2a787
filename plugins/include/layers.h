/* Layers shared by the architecture plugins, with PyTorch's parameter layouts, names
 * and default initialisation, so a checkpoint maps onto a PyTorch state_dict.
 *
 * Weight layouts (dimension 0 is always the layer's output, as in PyTorch, so a
 * Lipschitz strategy can view any weight as a matrix [rows = dim 0, cols = the rest]):
 *   linear            weight [out, in], y = x W^T + b
 *   conv2d            weight [out, in, kh, kw]
 *   conv_transpose2d  weight [in, out, kh, kw] (PyTorch's ConvTranspose2d layout; only
 *                     generators use it here)
 * Parameter names are "<layer>.weight", "<layer>.bias", and for normalisation layers
 * also "<layer>.running_mean" / "<layer>.running_var" (state, not trained). */
#ifndef WGAN_PLUGINS_LAYERS_H
#define WGAN_PLUGINS_LAYERS_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "wgan/config.h"
#include "wgan/plugin.h"

typedef enum wgp_norm { WGP_NORM_NONE, WGP_NORM_BATCH, WGP_NORM_LAYER } wgp_norm;
static const char *const wgp_norm_names[] = {"none", "batch", "layer", NULL};

typedef enum wgp_act {
    WGP_ACT_LINEAR,
    WGP_ACT_RELU,
    WGP_ACT_LEAKY_RELU,
    WGP_ACT_TANH,
    WGP_ACT_SIGMOID,
} wgp_act;

/* The hidden activations the architectures offer, as `activation` (with `slope` for
 * leaky_relu) reads them. */
static const char *const wgp_act_names[] = {"relu", "leaky_relu", "tanh", NULL};
static const wgp_act wgp_acts[] = {WGP_ACT_RELU, WGP_ACT_LEAKY_RELU, WGP_ACT_TANH};

/* How weights start: PyTorch's layer defaults, or N(0, 0.02) weights and N(1, 0.02)
 * norm gains as in Radford et al.'s DCGAN. Biases and shifts start at PyTorch's
 * default (linear/conv) or zero (norm shifts) either way. */
typedef enum wgp_init_scheme { WGP_INIT_TORCH, WGP_INIT_DCGAN } wgp_init_scheme;
static const char *const wgp_init_names[] = {"torch", "dcgan", NULL};

#define WGP_NORM_EPS 1e-5   /* PyTorch's BatchNorm/LayerNorm default */
#define WGP_BN_MOMENTUM 0.1 /* PyTorch's BatchNorm default */
#define WGP_NAME_MAX 96

static inline wg_node wgp_activate(wg_graph *graph, wg_node x, wgp_act act, double slope) {
    switch (act) {
    case WGP_ACT_LINEAR: return x;
    case WGP_ACT_RELU: return wg_relu(graph, x);
    case WGP_ACT_LEAKY_RELU: return wg_leaky_relu(graph, x, slope);
    case WGP_ACT_TANH: return wg_tanh(graph, x);
    case WGP_ACT_SIGMOID: return wg_sigmoid(graph, x);
    }
    return x;
}

static inline wg_node wgp_param(wg_build *build, const char *layer, const char *what,
                                wg_shape shape, wg_init init, wg_param_role role) {
    char name[WGP_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    return wg_build_param(build, name, shape, init, role);
}

static inline wg_init wgp_weight_init(wgp_init_scheme scheme, int64_t fan_in) {
    if (scheme == WGP_INIT_DCGAN) return (wg_init){WG_INIT_NORMAL, 0.0, 0.02, 0};
    return (wg_init){WG_INIT_TORCH_DEFAULT, 0, 0, fan_in};
}

static inline wg_init wgp_bias_init(int64_t fan_in) {
    return (wg_init){WG_INIT_TORCH_DEFAULT, 0, 0, fan_in};
}

/* Glorot & Bengio's uniform initialisation scaled by `gain`:
 * U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)). */
static inline wg_init wgp_glorot_uniform(int64_t fan_in, int64_t fan_out, double gain) {
    double a = gain * sqrt(6.0 / (double)(fan_in + fan_out));
    return (wg_init){WG_INIT_UNIFORM, -a, a, 0};
}

/* x [N, in] -> [N, out], with the given initialisations (no bias when `bias` is NULL). */
static inline wg_node wgp_linear_init(wg_build *build, const char *layer, wg_node x, int64_t in,
                                      int64_t out, wg_init weight, const wg_init *bias) {
    wg_graph *graph = wg_build_graph(build);
    wg_node w = wgp_param(build, layer, "weight", wg_shape2(out, in), weight, WG_PARAM_WEIGHT);
    wg_node y = wg_matmul(graph, x, w, false, true);
    if (bias)
        y = wg_add(graph, y, wgp_param(build, layer, "bias", wg_shape1(out), *bias, WG_PARAM_BIAS));
    return y;
}

/* x [N, in] -> [N, out]. */
static inline wg_node wgp_linear(wg_build *build, const char *layer, wg_node x, int64_t in,
                                 int64_t out, bool bias, wgp_init_scheme init) {
    wg_init b = wgp_bias_init(in);
    return wgp_linear_init(build, layer, x, in, out, wgp_weight_init(init, in), bias ? &b : NULL);
}

/* Adds a per-channel bias b [C], initialised by `init`, to x [N, C, H, W]. */
static inline wg_node wgp_channel_bias_init(wg_build *build, const char *layer, wg_node x,
                                            int64_t c, wg_init init) {
    wg_graph *graph = wg_build_graph(build);
    wg_node b = wgp_param(build, layer, "bias", wg_shape1(c), init, WG_PARAM_BIAS);
    return wg_add(graph, x, wg_reshape(graph, b, wg_shape4(1, c, 1, 1)));
}

/* Adds a per-channel bias b [C] to x [N, C, H, W]. */
static inline wg_node wgp_channel_bias(wg_build *build, const char *layer, wg_node x, int64_t c,
                                       int64_t fan_in) {
    return wgp_channel_bias_init(build, layer, x, c, wgp_bias_init(fan_in));
}

/* Square kernel k, symmetric padding, the given initialisations (no bias when `bias` is
 * NULL). */
static inline wg_node wgp_conv2d_init(wg_build *build, const char *layer, wg_node x, int64_t in,
                                      int64_t out, int k, int stride, int pad, wg_init weight,
                                      const wg_init *bias) {
    wg_node w =
        wgp_param(build, layer, "weight", wg_shape4(out, in, k, k), weight, WG_PARAM_WEIGHT);
    wg_node y = wg_conv2d(wg_build_graph(build), x, w, (wg_conv_params){stride, stride, pad, pad});
    return bias ? wgp_channel_bias_init(build, layer, y, out, *bias) : y;
}

/* Square kernel k, symmetric padding. */
static inline wg_node wgp_conv2d(wg_build *build, const char *layer, wg_node x, int64_t in,
                                 int64_t out, int k, int stride, int pad, bool bias,
                                 wgp_init_scheme init) {
    int64_t fan_in = in * k * k;
    wg_init b = wgp_bias_init(fan_in);
    return wgp_conv2d_init(build, layer, x, in, out, k, stride, pad, wgp_weight_init(init, fan_in),
                           bias ? &b : NULL);
}

/* Nearest-neighbour upsampling by 2, x [N, C, H, W] -> [N, C, 2H, 2W] (PyTorch's
 * Upsample(scale_factor=2), the WGAN-GP code's depth_to_space of four copies): each
 * value broadcast along a new axis of 2, first beside itself, then under its row. Four
 * dimensions suffice, and the adjoint (a sum over each 2x2 block) comes from expand's. */
static inline wg_node wgp_upsample2(wg_graph *graph, wg_node x) {
    if (x == WG_NONE) return WG_NONE;
    wg_shape s = wg_node_shape(graph, x);
    int64_t n = s.dim[0], c = s.dim[1], h = s.dim[2], w = s.dim[3];
    wg_node y = wg_reshape(graph, x, wg_shape3(n * c * h, w, 1));
    y = wg_expand(graph, y, wg_shape3(n * c * h, w, 2));
    y = wg_reshape(graph, y, wg_shape4(n * c, h, 1, 2 * w));
    y = wg_expand(graph, y, wg_shape4(n * c, h, 2, 2 * w));
    return wg_reshape(graph, y, wg_shape4(n, c, 2 * h, 2 * w));
}

/* 2x2 mean pooling with stride 2, x [N, C, H, W] (H, W even) -> [N, C, H/2, W/2]
 * (PyTorch's AvgPool2d(2)): the mean of pairs along the width, then along the height. */
static inline wg_node wgp_mean_pool2(wg_graph *graph, wg_node x) {
    if (x == WG_NONE) return WG_NONE;
    wg_shape s = wg_node_shape(graph, x);
    int64_t n = s.dim[0], c = s.dim[1], h = s.dim[2], w = s.dim[3];
    wg_node y = wg_reshape(graph, x, wg_shape3(n * c * h, w / 2, 2));
    y = wg_mean(graph, y, 1u << 2, false); /* [n c h, w/2] */
    y = wg_reshape(graph, y, wg_shape4(n * c, h / 2, 2, w / 2));
    y = wg_mean(graph, y, 1u << 2, false); /* [n c, h/2, w/2] */
    return wg_reshape(graph, y, wg_shape4(n, c, h / 2, w / 2));
}

/* PyTorch's ConvTranspose2d. PyTorch computes its default bound from the weight's
 * dimension 1, which for this layout is the output channels: fan_in = out * k * k. */
static inline wg_node wgp_conv_transpose2d(wg_build *build, const char *layer, wg_node x,
                                           int64_t in, int64_t out, int k, int stride, int pad,
                                           int output_pad, bool bias, wgp_init_scheme init) {
    int64_t fan_in = out * k * k;
    wg_node w = wgp_param(build, layer, "weight", wg_shape4(in, out, k, k),
                          wgp_weight_init(init, fan_in), WG_PARAM_WEIGHT);
    wg_node y =
        wg_conv_transpose2d(wg_build_graph(build), x, w, (wg_conv_params){stride, stride, pad, pad},
                            output_pad, output_pad);
    return bias ? wgp_channel_bias(build, layer, y, out, fan_in) : y;
}

/* Normalisation of x [N, C] or [N, C, H, W] with a learned gain and shift per channel
 * (feature, for 2-D input).
 *   batch: PyTorch's BatchNorm1d/2d in training mode; running statistics are state and
 *          every application adds their update to the step.
 *   layer: statistics over all of a sample's values with a per-channel gain and shift,
 *          as the WGAN-GP reference code's Layernorm (for 2-D input this is
 *          PyTorch's LayerNorm(C)). */
static inline wg_node wgp_normalize(wg_build *build, const char *layer, wg_node x, wgp_norm norm,
                                    wgp_init_scheme init) {
    if (norm == WGP_NORM_NONE) return x;
    wg_graph *graph = wg_build_graph(build);
    if (x == WG_NONE) return WG_NONE;
    wg_shape shape = wg_node_shape(graph, x);
    int64_t c = shape.dim[1];
    wg_init gain_init = init == WGP_INIT_DCGAN ? (wg_init){WG_INIT_NORMAL, 1.0, 0.02, 0}
                                               : (wg_init){WG_INIT_CONSTANT, 1.0, 0, 0};
    wg_node gamma = wgp_param(build, layer, "weight", wg_shape1(c), gain_init, WG_PARAM_BIAS);
    wg_node beta = wgp_param(build, layer, "bias", wg_shape1(c), (wg_init){WG_INIT_ZEROS, 0, 0, 0},
                             WG_PARAM_BIAS);
    if (norm == WGP_NORM_BATCH) {
        char name[WGP_NAME_MAX];
        snprintf(name, sizeof name, "%s.running_mean", layer);
        wg_node mean = wg_build_state(build, name, wg_shape1(c), (wg_init){WG_INIT_ZEROS, 0, 0, 0});
        snprintf(name, sizeof name, "%s.running_var", layer);
        wg_node var =
            wg_build_state(build, name, wg_shape1(c), (wg_init){WG_INIT_CONSTANT, 1, 0, 0});
        wg_node updates[2] = {WG_NONE, WG_NONE};
        wg_node y =
            wg_batch_norm(graph, x, gamma, beta, WGP_NORM_EPS, mean, var, WGP_BN_MOMENTUM, updates);
        wg_build_add_update(build, updates[0]);
        wg_build_add_update(build, updates[1]);
        return y;
    }
    wg_shape channel = shape;
    for (int k = 0; k < channel.ndim; k++) channel.dim[k] = k == 1 ? c : 1;
    wg_node y = wg_layer_norm(graph, x, WG_NONE, WG_NONE, WGP_NORM_EPS);
    y = wg_mul(graph, y, wg_reshape(graph, gamma, channel));
    return wg_add(graph, y, wg_reshape(graph, beta, channel));
}

/* The critic's dropout after layer `layer` ("<layer>.dropout"): x itself unless a
 * penalty applies the critic with dropout (wg_build_apply_critic_dropout). */
static inline wg_node wgp_dropout(wg_build *build, const char *layer, wg_node x) {
    char name[WGP_NAME_MAX];
    snprintf(name, sizeof name, "%s.dropout", layer);
    return wg_build_dropout(build, name, x);
}

/* Reads `key` as one of wgp_norm_names. */
static inline wg_status wgp_read_norm(const wg_cfg *config, const char *key, wgp_norm def,
                                      wgp_norm *out) {
    int v;
    wg_status s = wg_cfg_enum(config, key, wgp_norm_names, (int)def, &v);
    if (s == WG_OK) *out = (wgp_norm)v;
    return s;
}

/* Reads `key` as one of wgp_act_names (default `def`), and for leaky_relu the negative
 * slope from "slope" (default 0.2). */
static inline wg_status wgp_read_activation(const wg_cfg *config, const char *key, wgp_act def,
                                            wgp_act *act, double *slope) {
    int v = 0;
    while (wgp_acts[v] != def) v++;
    wg_status s = wg_cfg_enum(config, key, wgp_act_names, v, &v);
    *slope = 0;
    if (s == WG_OK) *act = wgp_acts[v];
    if (s == WG_OK && *act == WGP_ACT_LEAKY_RELU)
        s = wg_cfg_double(config, "slope", 0.2, 0.0, 1.0, slope);
    return s;
}

/* [N, ...] -> [N, numel / N]. */
static inline wg_node wgp_flatten(wg_graph *graph, wg_node x) {
    if (x == WG_NONE) return WG_NONE;
    wg_shape s = wg_node_shape(graph, x);
    return wg_reshape(graph, x, wg_shape2(s.dim[0], wg_shape_numel(&s) / s.dim[0]));
}

/* [N, ...] -> [N, sample...]. */
static inline wg_node wgp_unflatten(wg_graph *graph, wg_node x, const wg_shape *sample) {
    if (x == WG_NONE) return WG_NONE;
    wg_shape s = wg_node_shape(graph, x);
    wg_shape out = {sample->ndim + 1, {s.dim[0]}};
    for (int k = 0; k < sample->ndim; k++) out.dim[k + 1] = sample->dim[k];
    return wg_reshape(graph, x, out);
}

/* The status of a finished network: the graph's first error, else WG_OK. */
static inline wg_status wgp_result(wg_graph *graph, wg_node y, wg_node *out) {
    wg_status s = wg_graph_status(graph);
    if (s != WG_OK) return wg_fail(s, "%s", wg_graph_error(graph));
    /* a failed wg_build_param leaves the graph clean and its message in wg_last_error() */
    if (y == WG_NONE) return WG_ERR_INVALID;
    *out = y;
    return WG_OK;
}

/* A critic input of the wrong shape is a programming error of the caller, but it is
 * reported, not asserted: plugins never abort. */
static inline wg_status wgp_check_input(wg_graph *graph, wg_node x, const wg_shape *sample,
                                        const char *what) {
    if (x == WG_NONE) return wgp_result(graph, x, &x);
    wg_shape s = wg_node_shape(graph, x);
    bool ok = s.ndim == sample->ndim + 1;
    for (int k = 0; ok && k < sample->ndim; k++) ok = s.dim[k + 1] == sample->dim[k];
    if (ok) return WG_OK;
    char got[64], want[64];
    return wg_fail(WG_ERR_SHAPE, "%s: input %s does not hold samples of shape %s", what,
                   wg_shape_str(&s, got, sizeof got), wg_shape_str(sample, want, sizeof want));
}

#endif
