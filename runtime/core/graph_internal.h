/* The node representation shared by the graph builders, autodiff, the planner and the
 * device backends. Not part of the public API. */
#ifndef WGAN_GRAPH_INTERNAL_H
#define WGAN_GRAPH_INTERNAL_H

#include "wgan/graph.h"

#define WG_MAX_INPUTS 3

typedef enum wg_op {
    WG_OP_INPUT,          /* persistent, host-fed */
    WG_OP_VARIABLE,       /* persistent, device state */
    WG_OP_CONSTANT,       /* fill with param[0] */
    WG_OP_RANDOM_UNIFORM, /* param[0] low, param[1] high, lval[0] stream (philox.h), name key */
    WG_OP_RANDOM_NORMAL,  /* param[0] mean, param[1] stddev, lval[0] stream, name key */
    WG_OP_MAP,            /* unary element-wise, map code in ival[0], scalars in param[] */
    WG_OP_BINARY,         /* broadcast element-wise, binary code in ival[0] */
    WG_OP_SUM_TO,         /* sum over the axes where the output has extent 1 and the input
                             does not; input and output have the same ndim */
    WG_OP_EXPAND,         /* broadcast to the output shape (same ndim, input extents 1 or equal) */
    WG_OP_RESHAPE,        /* same elements, new shape: planned as an alias, no kernel;
                             ival[0] 1: stop_gradient (no gradient flows back) */
    WG_OP_PERMUTE,        /* ival[k] = input axis of output axis k */
    WG_OP_SLICE,          /* lval[k] = start along axis k */
    WG_OP_PAD,            /* lval[k] = where the input starts along axis k; rest zero */
    WG_OP_MATMUL,         /* 2-D; ival[0] transpose a, ival[1] transpose b */
    WG_OP_CONV2D,         /* in: x, w -> y; ival: stride_h, stride_w, pad_h, pad_w */
    WG_OP_CONV2D_DX,      /* in: gy, w -> dx (conv_transpose2d); ival as conv2d */
    WG_OP_CONV2D_DW,      /* in: x, gy -> dw; ival as conv2d */
    WG_OP_ASSIGN,         /* in: variable, value; writes value into the variable's storage */
    WG_OP_COUNT
} wg_op;

typedef enum wg_map {
    WG_MAP_SCALE,      /* x * p0 */
    WG_MAP_ADD_SCALAR, /* x + p0 */
    WG_MAP_SQUARE,
    WG_MAP_SQRT,
    WG_MAP_RSQRT,
    WG_MAP_RECIPROCAL,
    WG_MAP_EXP,
    WG_MAP_LOG,
    WG_MAP_TANH,
    WG_MAP_SIGMOID,
    WG_MAP_SOFTPLUS, /* log(1 + exp(x)), computed without overflow */
    WG_MAP_RELU,
    WG_MAP_LEAKY_RELU, /* x > 0 ? x : p0 * x */
    WG_MAP_CLAMP,      /* min(max(x, p0), p1) */
    WG_MAP_STEP,       /* x > 0 ? 1 : 0 */
    WG_MAP_IN_RANGE,   /* p0 < x < p1 ? 1 : 0 */
    WG_MAP_COUNT
} wg_map;

typedef enum wg_binary { WG_BIN_ADD, WG_BIN_SUB, WG_BIN_MUL, WG_BIN_DIV, WG_BIN_COUNT } wg_binary;

typedef struct wg_node_data {
    wg_op op;
    int n_inputs;
    wg_node input[WG_MAX_INPUTS];
    wg_shape shape;
    int ival[WG_MAX_DIMS];
    int64_t lval[WG_MAX_DIMS];
    double param[2];
    char *name;
} wg_node_data;

struct wg_graph {
    wg_dtype dtype;
    int count, capacity;
    wg_node_data *nodes;
    char *random_scope; /* prefix of the keys of random draws, NULL for none */
    wg_status status;   /* first build error */
    char error[512];
};

static inline const wg_node_data *wg_node_at(const wg_graph *graph, wg_node node) {
    return &graph->nodes[node];
}

/* Strides of a contiguous tensor of `shape` (elements). */
void wg_shape_strides(const wg_shape *shape, int64_t strides[WG_MAX_DIMS]);

/* Appends a node after checking inputs; returns WG_NONE when the graph already
 * failed or an input is WG_NONE. Used by builders and autodiff. */
wg_node wg_graph_push(wg_graph *graph, const wg_node_data *node);
/* Random draws made from now on are keyed "<scope>/<name>" (just "<name>" when scope
 * is NULL or empty); the runtime sets it to say who draws. Copied. */
wg_status wg_graph_set_random_scope(wg_graph *graph, const char *scope);
/* Records the first build error and returns WG_NONE. */
wg_node wg_graph_fail(wg_graph *graph, wg_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
