/* Tensors as graph nodes: every op builds a node, nothing is computed here.
 *
 * A graph holds f32 (or, for numerical checks on the cpu device, f64) tensors of up
 * to four dimensions, images in NCHW order. Builders never fail loudly: on bad
 * arguments they record the first error in the graph (see wg_graph_status) and return
 * WG_NONE, and every builder given WG_NONE returns WG_NONE, so a whole model can be
 * built and checked once at the end. */
#ifndef WGAN_GRAPH_H
#define WGAN_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WG_MAX_DIMS 4
#define WG_NONE (-1)

typedef int32_t wg_node; /* index of a node in its graph; WG_NONE when invalid */
typedef struct wg_graph wg_graph;

typedef enum wg_dtype { WG_F32 = 0, WG_F64 = 1 } wg_dtype;

typedef struct wg_shape {
    int ndim;
    int64_t dim[WG_MAX_DIMS];
} wg_shape;

wg_shape wg_shape1(int64_t d0);
wg_shape wg_shape2(int64_t d0, int64_t d1);
wg_shape wg_shape3(int64_t d0, int64_t d1, int64_t d2);
wg_shape wg_shape4(int64_t d0, int64_t d1, int64_t d2, int64_t d3);
int64_t wg_shape_numel(const wg_shape *shape);
bool wg_shape_equal(const wg_shape *a, const wg_shape *b);
/* "[2, 3, 4]" into buf; returns buf. */
const char *wg_shape_str(const wg_shape *shape, char *buf, int size);

/* ---- graph ---- */
wg_graph *wg_graph_new(wg_dtype dtype);
void wg_graph_free(wg_graph *graph);
wg_dtype wg_graph_dtype(const wg_graph *graph);
int wg_graph_size(const wg_graph *graph);
/* WG_OK, or the first error recorded while building (its message in wg_last_error()
 * right after the failing builder, and in wg_graph_error() at any time). */
wg_status wg_graph_status(const wg_graph *graph);
const char *wg_graph_error(const wg_graph *graph);

wg_shape wg_node_shape(const wg_graph *graph, wg_node node);
int64_t wg_node_numel(const wg_graph *graph, wg_node node);
/* Optional label, shown in errors and profiles; copied. */
void wg_node_set_name(wg_graph *graph, wg_node node, const char *name);
const char *wg_node_name(const wg_graph *graph, wg_node node);

/* ---- leaves ---- */
/* Fed from the host before a step (wg_session_write). */
wg_node wg_input(wg_graph *graph, wg_shape shape, const char *name);
/* Persistent state kept on the device between steps: weights, optimizer moments,
 * running statistics. Initialised by wg_session_write, changed by wg_assign. */
wg_node wg_variable(wg_graph *graph, wg_shape shape, const char *name);
wg_node wg_constant(wg_graph *graph, wg_shape shape, double value);
/* Counter-based (Philox4x32-10) draws: element i of a draw depends only on the
 * session seed, the draw's stream number and the step counter, so every device
 * produces the same numbers. New numbers each step. No gradient flows through. */
wg_node wg_random_uniform(wg_graph *graph, wg_shape shape, double low, double high);
wg_node wg_random_normal(wg_graph *graph, wg_shape shape, double mean, double stddev);

/* ---- element-wise, with numpy broadcasting for binary ops ---- */
wg_node wg_add(wg_graph *graph, wg_node a, wg_node b);
wg_node wg_sub(wg_graph *graph, wg_node a, wg_node b);
wg_node wg_mul(wg_graph *graph, wg_node a, wg_node b);
wg_node wg_div(wg_graph *graph, wg_node a, wg_node b);

wg_node wg_scale(wg_graph *graph, wg_node x, double factor);     /* x * factor */
wg_node wg_add_scalar(wg_graph *graph, wg_node x, double value); /* x + value */
wg_node wg_neg(wg_graph *graph, wg_node x);
wg_node wg_square(wg_graph *graph, wg_node x);
wg_node wg_sqrt(wg_graph *graph, wg_node x);
wg_node wg_rsqrt(wg_graph *graph, wg_node x);
wg_node wg_reciprocal(wg_graph *graph, wg_node x);
wg_node wg_exp(wg_graph *graph, wg_node x);
wg_node wg_log(wg_graph *graph, wg_node x);
wg_node wg_tanh(wg_graph *graph, wg_node x);
wg_node wg_sigmoid(wg_graph *graph, wg_node x);
wg_node wg_softplus(wg_graph *graph, wg_node x);
wg_node wg_relu(wg_graph *graph, wg_node x);
wg_node wg_leaky_relu(wg_graph *graph, wg_node x, double slope);
wg_node wg_clamp(wg_graph *graph, wg_node x, double low, double high);
/* 1 where x > 0, else 0. Derivative zero: used by backward rules. */
wg_node wg_step(wg_graph *graph, wg_node x);
/* 1 where low < x < high, else 0. Derivative zero. */
wg_node wg_in_range(wg_graph *graph, wg_node x, double low, double high);

/* ---- shape ---- */
/* Sum over the axes whose bit is set in axes_mask (bit k = axis k). */
wg_node wg_sum(wg_graph *graph, wg_node x, unsigned axes_mask, bool keepdim);
wg_node wg_mean(wg_graph *graph, wg_node x, unsigned axes_mask, bool keepdim);
wg_node wg_sum_all(wg_graph *graph, wg_node x);  /* shape [1] */
wg_node wg_mean_all(wg_graph *graph, wg_node x); /* shape [1] */
/* Broadcast x to `shape` (numpy rules), and its adjoint: sum x down to `shape`. */
wg_node wg_expand(wg_graph *graph, wg_node x, wg_shape shape);
wg_node wg_sum_to(wg_graph *graph, wg_node x, wg_shape shape);
wg_node wg_reshape(wg_graph *graph, wg_node x, wg_shape shape);
/* Output axis k is input axis perm[k]. */
wg_node wg_permute(wg_graph *graph, wg_node x, const int *perm);
/* Output = x[start[k] : start[k] + shape.dim[k]] along every axis (a crop). */
wg_node wg_slice(wg_graph *graph, wg_node x, const int64_t *start, wg_shape shape);
/* Zero tensor of `shape` with x placed at `start` (the adjoint of slice). */
wg_node wg_pad(wg_graph *graph, wg_node x, const int64_t *start, wg_shape shape);
wg_node wg_concat(wg_graph *graph, int count, const wg_node *parts, int axis);

/* ---- linear algebra ---- */
/* op(a) @ op(b) for 2-D a and b, op = transpose when the flag is set. */
wg_node wg_matmul(wg_graph *graph, wg_node a, wg_node b, bool transpose_a, bool transpose_b);

typedef struct wg_conv_params {
    int stride_h, stride_w;
    int pad_h, pad_w;
} wg_conv_params;

/* x [N,C,H,W], w [K,C,R,S] -> [N,K,P,Q], P = (H + 2 pad_h - R) / stride_h + 1. */
wg_node wg_conv2d(wg_graph *graph, wg_node x, wg_node w, wg_conv_params params);
/* PyTorch's ConvTranspose2d: x [N,Cin,H,W], w [Cin,Cout,R,S] -> [N,Cout,Ho,Wo],
 * Ho = (H - 1) stride_h - 2 pad_h + R + output_pad_h. */
wg_node wg_conv_transpose2d(wg_graph *graph, wg_node x, wg_node w, wg_conv_params params,
                            int output_pad_h, int output_pad_w);
/* The two adjoints of conv2d, exposed because backward rules need them and they are
 * differentiable in turn: for y = conv2d(x, w) and an upstream gradient gy,
 * dx = wg_conv2d_input_grad(gy, w, x's shape), dw = wg_conv2d_weight_grad(x, gy, w's shape). */
wg_node wg_conv2d_input_grad(wg_graph *graph, wg_node gy, wg_node w, wg_conv_params params,
                             wg_shape x_shape);
wg_node wg_conv2d_weight_grad(wg_graph *graph, wg_node x, wg_node gy, wg_conv_params params,
                              wg_shape w_shape);

/* ---- normalisation (composed of the ops above, so differentiable to any order) ---- */
/* Training-mode batch norm over all axes but 1 (channels), biased variance as PyTorch.
 * gamma, beta: [C] or WG_NONE. When running_mean / running_var (variables [C]) are
 * given, *updates receives two wg_assign nodes (momentum as PyTorch, unbiased variance)
 * to include in the step; pass updates NULL otherwise. */
wg_node wg_batch_norm(wg_graph *graph, wg_node x, wg_node gamma, wg_node beta, double eps,
                      wg_node running_mean, wg_node running_var, double momentum,
                      wg_node updates[2]);
/* Layer norm over all axes but 0 (the batch); gamma, beta shaped like one sample or
 * WG_NONE. */
wg_node wg_layer_norm(wg_graph *graph, wg_node x, wg_node gamma, wg_node beta, double eps);

/* ---- state ---- */
/* When the step runs, copy `value` into `variable` (after everything else in the step
 * has read the old value). Returns a node to include in the step's targets. */
wg_node wg_assign(wg_graph *graph, wg_node variable, wg_node value);

/* ---- autodiff ---- */
/* Appends to the graph the gradient of the one-element node `y` with respect to each of
 * wrt[0..count), written to grads[0..count). Backward rules are built from the ops of
 * this header, so the result can be differentiated again. A node that y does not
 * depend on gets a zero constant. */
wg_status wg_grad(wg_graph *graph, wg_node y, int count, const wg_node *wrt, wg_node *grads);

#ifdef __cplusplus
}
#endif
#endif
