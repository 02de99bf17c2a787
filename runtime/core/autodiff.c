/* Reverse-mode autodiff that appends gradient nodes to the graph. Every rule below is
 * written with the public, differentiable builders, so wg_grad can be applied to its
 * own output (gradient penalties need the gradient of a gradient norm). */
#include "graph_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- backward rules of the element-wise codes, one per entry of the op table ---- */

/* Gradient of y = map(x) with respect to x, given the upstream gradient gy; WG_NONE for
 * a zero derivative. Each rule uses only what it needs. */
#define MAP_GRAD(name, expr)                                                                       \
    static wg_node map_grad_##name(wg_graph *g, wg_node x, wg_node y, wg_node gy, double p0,       \
                                   double p1) {                                                    \
        (void)g, (void)x, (void)y, (void)gy, (void)p0, (void)p1;                                   \
        return (expr);                                                                             \
    }
MAP_GRAD(scale, wg_scale(g, gy, p0))
MAP_GRAD(add_scalar, gy)
MAP_GRAD(square, wg_mul(g, gy, wg_scale(g, x, 2)))
MAP_GRAD(sqrt, wg_div(g, wg_scale(g, gy, 0.5), y))
/* d/dx x^-1/2 = -y^3 / 2 */
MAP_GRAD(rsqrt, wg_mul(g, gy, wg_scale(g, wg_mul(g, y, wg_square(g, y)), -0.5)))
MAP_GRAD(reciprocal, wg_mul(g, gy, wg_scale(g, wg_square(g, y), -1)))
MAP_GRAD(exp, wg_mul(g, gy, y))
MAP_GRAD(log, wg_div(g, gy, x))
MAP_GRAD(tanh, wg_mul(g, gy, wg_add_scalar(g, wg_scale(g, wg_square(g, y), -1), 1)))
MAP_GRAD(sigmoid, wg_mul(g, gy, wg_mul(g, y, wg_add_scalar(g, wg_scale(g, y, -1), 1))))
MAP_GRAD(softplus, wg_mul(g, gy, wg_sigmoid(g, x)))
MAP_GRAD(relu, wg_mul(g, gy, wg_step(g, x)))
MAP_GRAD(leaky_relu, wg_mul(g, gy, wg_add_scalar(g, wg_scale(g, wg_step(g, x), 1 - p0), p0)))
MAP_GRAD(clamp, wg_mul(g, gy, wg_in_range(g, x, p0, p1)))
/* piecewise constant: zero derivative */
MAP_GRAD(step, WG_NONE)
MAP_GRAD(in_range, WG_NONE)
#undef MAP_GRAD

typedef wg_node (*map_grad_fn)(wg_graph *g, wg_node x, wg_node y, wg_node gy, double p0, double p1);
#define MAP_GRAD_ENTRY(NAME, name, ...) map_grad_##name,
static const map_grad_fn map_grads[] = {WG_MAP_LIST(MAP_GRAD_ENTRY)};
_Static_assert(sizeof map_grads / sizeof *map_grads == WG_MAP_COUNT,
               "a backward rule for every map code");

/* Gradients of y = a op b with respect to a and b before they are summed back to the
 * operands' shapes. */
#define BINARY_GRAD(name, expr_a, expr_b)                                                          \
    static void binary_grad_##name(wg_graph *g, wg_node a, wg_node b, wg_node y, wg_node gy,       \
                                   wg_node *ga, wg_node *gb) {                                     \
        (void)g, (void)a, (void)b, (void)y;                                                        \
        *ga = (expr_a);                                                                            \
        *gb = (expr_b);                                                                            \
    }
BINARY_GRAD(add, gy, gy)
BINARY_GRAD(sub, gy, wg_neg(g, gy))
BINARY_GRAD(mul, wg_mul(g, gy, b), wg_mul(g, gy, a))
/* y = a / b: dy/db = -y / b */
BINARY_GRAD(div, wg_div(g, gy, b), wg_neg(g, wg_div(g, wg_mul(g, gy, y), b)))
#undef BINARY_GRAD

typedef void (*binary_grad_fn)(wg_graph *g, wg_node a, wg_node b, wg_node y, wg_node gy,
                               wg_node *ga, wg_node *gb);
#define BINARY_GRAD_ENTRY(NAME, name) binary_grad_##name,
static const binary_grad_fn binary_grads[] = {WG_BINARY_LIST(BINARY_GRAD_ENTRY)};
_Static_assert(sizeof binary_grads / sizeof *binary_grads == WG_BIN_COUNT,
               "a backward rule for every binary code");

/* Upstream gradient `gy` of node `node` (a copy of its data: building new nodes may
 * move the node array) to the gradient of each input. Inputs that need no gradient
 * get WG_NONE. */
static void map_backward(wg_graph *g, wg_node y, const wg_node_data *d, wg_node gy, wg_node *gx) {
    int code = d->ival[0];
    if (code >= 0 && code < WG_MAP_COUNT)
        gx[0] = map_grads[code](g, d->input[0], y, gy, d->param[0], d->param[1]);
}

static void binary_backward(wg_graph *g, wg_node y, const wg_node_data *d, wg_node gy,
                            wg_node *gx) {
    wg_node a = d->input[0], b = d->input[1];
    wg_shape sa = wg_node_shape(g, a), sb = wg_node_shape(g, b);
    wg_node ga = WG_NONE, gb = WG_NONE;
    int code = d->ival[0];
    if (code >= 0 && code < WG_BIN_COUNT) binary_grads[code](g, a, b, y, gy, &ga, &gb);
    gx[0] = wg_sum_to(g, ga, sa);
    gx[1] = wg_sum_to(g, gb, sb);
}

static void matmul_backward(wg_graph *g, const wg_node_data *d, wg_node gy, wg_node *gx) {
    wg_node a = d->input[0], b = d->input[1];
    bool ta = d->ival[0], tb = d->ival[1];
    if (!ta && !tb) { /* C = A B */
        gx[0] = wg_matmul(g, gy, b, false, true);
        gx[1] = wg_matmul(g, a, gy, true, false);
    } else if (ta && !tb) { /* C = A^T B */
        gx[0] = wg_matmul(g, b, gy, false, true);
        gx[1] = wg_matmul(g, a, gy, false, false);
    } else if (!ta && tb) { /* C = A B^T */
        gx[0] = wg_matmul(g, gy, b, false, false);
        gx[1] = wg_matmul(g, gy, a, true, false);
    } else { /* C = A^T B^T */
        gx[0] = wg_matmul(g, b, gy, true, true);
        gx[1] = wg_matmul(g, gy, a, true, true);
    }
}

/* The three convolution ops are the partial derivatives of one trilinear form
 * T(x, w, y) = <conv2d(x, w), y>, so each one's adjoints are the other two. */
static void conv_backward(wg_graph *g, const wg_node_data *d, wg_node gy, wg_node *gx) {
    wg_conv_params p = {d->ival[0], d->ival[1], d->ival[2], d->ival[3]};
    wg_node in0 = d->input[0], in1 = d->input[1];
    wg_shape s0 = wg_node_shape(g, in0), s1 = wg_node_shape(g, in1);
    switch (d->op) {
    case WG_OP_CONV2D: /* in: x, w */
        gx[0] = wg_conv2d_input_grad(g, gy, in1, p, s0);
        gx[1] = wg_conv2d_weight_grad(g, in0, gy, p, s1);
        break;
    case WG_OP_CONV2D_DX: /* in: y-shaped gradient, w; output x-shaped */
        gx[0] = wg_conv2d(g, gy, in1, p);
        gx[1] = wg_conv2d_weight_grad(g, gy, in0, p, s1);
        break;
    case WG_OP_CONV2D_DW: /* in: x, y-shaped gradient; output w-shaped */
        gx[0] = wg_conv2d_input_grad(g, in1, gy, p, s0);
        gx[1] = wg_conv2d(g, in0, gy, p);
        break;
    default: break;
    }
}

static void node_backward(wg_graph *g, wg_node y, const wg_node_data *d, wg_node gy, wg_node *gx) {
    wg_node x = d->input[0];
    switch (d->op) {
    case WG_OP_MAP: map_backward(g, y, d, gy, gx); break;
    case WG_OP_BINARY: binary_backward(g, y, d, gy, gx); break;
    case WG_OP_SUM_TO: gx[0] = wg_expand(g, gy, wg_node_shape(g, x)); break;
    case WG_OP_EXPAND: gx[0] = wg_sum_to(g, gy, wg_node_shape(g, x)); break;
    case WG_OP_RESHAPE:
        if (!d->ival[0]) gx[0] = wg_reshape(g, gy, wg_node_shape(g, x)); /* else stop_gradient */
        break;
    case WG_OP_PERMUTE: {
        int inverse[WG_MAX_DIMS];
        for (int k = 0; k < d->shape.ndim; k++) inverse[d->ival[k]] = k;
        gx[0] = wg_permute(g, gy, inverse);
        break;
    }
    case WG_OP_SLICE: gx[0] = wg_pad(g, gy, d->lval, wg_node_shape(g, x)); break;
    case WG_OP_PAD: gx[0] = wg_slice(g, gy, d->lval, wg_node_shape(g, x)); break;
    case WG_OP_MATMUL: matmul_backward(g, d, gy, gx); break;
    case WG_OP_CONV2D:
    case WG_OP_CONV2D_DX:
    case WG_OP_CONV2D_DW: conv_backward(g, d, gy, gx); break;
    default: break; /* leaves, random draws and assignments pass no gradient */
    }
}

wg_status wg_grad(wg_graph *g, wg_node y, int count, const wg_node *wrt, wg_node *grads) {
    if (g->status != WG_OK) return wg_fail(g->status, "%s", g->error);
    if (y < 0 || y >= g->count)
        return wg_fail(WG_ERR_INVALID, "wg_grad: y is not a node of this graph");
    if (wg_node_numel(g, y) != 1) {
        char s[64];
        return wg_fail(WG_ERR_SHAPE, "wg_grad: y must have one element, has shape %s",
                       wg_shape_str(&g->nodes[y].shape, s, sizeof s));
    }
    int n = y + 1;
    /* needed[i]: node i depends on one of wrt, so gradient must flow through it */
    unsigned char *needed = calloc((size_t)n, 1);
    wg_node *adjoint = malloc((size_t)n * sizeof *adjoint);
    if (!needed || !adjoint) {
        free(needed);
        free(adjoint);
        return wg_fail(WG_ERR_NOMEM, "wg_grad: out of memory");
    }
    for (int i = 0; i < count; i++) {
        if (wrt[i] < 0 || wrt[i] >= g->count) {
            free(needed);
            free(adjoint);
            return wg_fail(WG_ERR_INVALID, "wg_grad: wrt[%d] is not a node of this graph", i);
        }
        if (wrt[i] < n) needed[wrt[i]] = 1;
    }
    for (int i = 0; i < n; i++) {
        adjoint[i] = WG_NONE;
        const wg_node_data *d = &g->nodes[i];
        if (d->op == WG_OP_ASSIGN || (d->op == WG_OP_RESHAPE && d->ival[0])) continue;
        for (int k = 0; k < d->n_inputs && !needed[i]; k++) needed[i] = needed[d->input[k]];
    }
    if (needed[y]) adjoint[y] = wg_constant(g, g->nodes[y].shape, 1.0);
    for (int i = y; i >= 0 && g->status == WG_OK; i--) {
        if (adjoint[i] == WG_NONE || g->nodes[i].n_inputs == 0) continue;
        wg_node_data d = g->nodes[i];
        wg_node gx[WG_MAX_INPUTS] = {WG_NONE, WG_NONE, WG_NONE};
        node_backward(g, i, &d, adjoint[i], gx);
        for (int k = 0; k < d.n_inputs; k++) {
            wg_node in = d.input[k];
            if (gx[k] == WG_NONE || !needed[in]) continue;
            adjoint[in] = adjoint[in] == WG_NONE ? gx[k] : wg_add(g, adjoint[in], gx[k]);
        }
    }
    for (int i = 0; i < count; i++) {
        wg_node a = wrt[i] < n ? adjoint[wrt[i]] : WG_NONE;
        grads[i] = a != WG_NONE ? a : wg_constant(g, g->nodes[wrt[i]].shape, 0.0);
    }
    free(needed);
    free(adjoint);
    if (g->status != WG_OK) return wg_fail(g->status, "wg_grad: %s", g->error);
    return WG_OK;
}
