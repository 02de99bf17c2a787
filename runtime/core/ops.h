/* The op table: every op of the graph, every unary map code and every binary code,
 * listed once. The enums below, the names, arities, FLOP rules (ops.c), the backward
 * rules (autodiff.c) and the element-wise kernels of both backends (cpu_kernels_template.h,
 * kernels/elementwise.cl) are all expanded from these lists, so a code added here
 * fails the build wherever it lacks an entry. The OpenCL program is built with this
 * file in front of the kernels, so everything above the host section is plain
 * preprocessor and enum text that both C11 and OpenCL C accept.
 *
 * WG_OP_LIST(X):     X(NAME, name, arity, kernel, flops)
 *   NAME    the enum suffix (WG_OP_NAME); name: for messages and profiles
 *   arity   number of inputs
 *   kernel  1 when a backend runs it; 0 when the planner maps it to storage
 *   flops   how wg_plan_flops counts it (ops.c): NONE, OUTPUT (one per output
 *           element), INPUT (one per element of input 0), MATMUL, CONV
 * WG_MAP_LIST(X):    X(NAME, name, scalars), unary, element-wise: code in ival[0]; `scalars`
 *                    of p0, p1 (param[]) it reads: 0, 1 (p0) or 2
 * WG_BINARY_LIST(X): X(NAME, name), broadcast element-wise: code in ival[0] */
#ifndef WGAN_OPS_H
#define WGAN_OPS_H

// clang-format off
#define WG_OP_LIST(X)                                                                              \
    X(INPUT, input, 0, 0, NONE)       /* persistent, host-fed */                                   \
    X(VARIABLE, variable, 0, 0, NONE) /* persistent, device state */                               \
    X(CONSTANT, constant, 0, 1, NONE) /* fill with param[0] */                                     \
    /* param[0] low, param[1] high; param[0] mean, param[1] stddev; lval[0] the stream of */     \
    /* the draw's key (philox.h), its name the key; lval[1] the index of its first element */    \
    X(RANDOM_UNIFORM, random_uniform, 0, 1, NONE)                                                  \
    X(RANDOM_NORMAL, random_normal, 0, 1, NONE)                                                    \
    X(MAP, map, 1, 1, OUTPUT)       /* a WG_MAP_LIST code */                                       \
    X(BINARY, binary, 2, 1, OUTPUT) /* a WG_BINARY_LIST code */                                    \
    /* sum over the axes where the output has extent 1 and the input does not (same ndim) */     \
    X(SUM_TO, sum_to, 1, 1, INPUT)                                                                 \
    X(EXPAND, expand, 1, 1, NONE)   /* broadcast to the output shape (same ndim) */                \
    /* same elements, new shape: an alias of its input; ival[0] 1: stop_gradient */              \
    X(RESHAPE, reshape, 1, 0, NONE)                                                                \
    X(PERMUTE, permute, 1, 1, NONE) /* ival[k] = input axis of output axis k */                    \
    X(SLICE, slice, 1, 1, NONE)     /* lval[k] = start along axis k */                             \
    X(PAD, pad, 1, 1, NONE)         /* lval[k] = where the input starts along axis k; rest 0 */    \
    X(MATMUL, matmul, 2, 1, MATMUL) /* 2-D; ival[0] transpose a, ival[1] transpose b */            \
    X(CONV2D, conv2d, 2, 1, CONV)   /* in: x, w -> y; ival: stride_h, stride_w, pad_h, pad_w */    \
    X(CONV2D_DX, conv2d_input_grad, 2, 1, CONV)  /* in: gy, w -> dx; ival as conv2d */             \
    X(CONV2D_DW, conv2d_weight_grad, 2, 1, CONV) /* in: x, gy -> dw; ival as conv2d */             \
    X(ASSIGN, assign, 2, 1, NONE)   /* in: variable, value; writes value into the variable */

#define WG_MAP_LIST(X)                                                                             \
    X(SCALE, scale, 1)            /* x * p0 */                                                     \
    X(ADD_SCALAR, add_scalar, 1)  /* x + p0 */                                                     \
    X(SQUARE, square, 0)                                                                           \
    X(SQRT, sqrt, 0)                                                                               \
    X(RSQRT, rsqrt, 0)                                                                             \
    X(RECIPROCAL, reciprocal, 0)                                                                   \
    X(EXP, exp, 0)                                                                                 \
    X(LOG, log, 0)                                                                                 \
    X(TANH, tanh, 0)                                                                               \
    X(SIGMOID, sigmoid, 0)                                                                         \
    X(SOFTPLUS, softplus, 0)      /* log(1 + exp(x)), computed without overflow */                 \
    X(RELU, relu, 0)                                                                               \
    X(LEAKY_RELU, leaky_relu, 1)  /* x > 0 ? x : p0 * x */                                         \
    X(CLAMP, clamp, 2)            /* min(max(x, p0), p1) */                                        \
    X(STEP, step, 0)              /* x > 0 ? 1 : 0 */                                              \
    X(IN_RANGE, in_range, 2)      /* p0 < x < p1 ? 1 : 0 */

#define WG_BINARY_LIST(X) X(ADD, add) X(SUB, sub) X(MUL, mul) X(DIV, div)
// clang-format on

#define WG_OP_ENUM_(NAME, ...) WG_OP_##NAME,
#define WG_MAP_ENUM_(NAME, ...) WG_MAP_##NAME,
#define WG_BINARY_ENUM_(NAME, ...) WG_BIN_##NAME,
/* Tags only on the OpenCL side, where wg_map and wg_binary name kernels. */
enum wg_op { WG_OP_LIST(WG_OP_ENUM_) WG_OP_COUNT };
enum wg_map { WG_MAP_LIST(WG_MAP_ENUM_) WG_MAP_COUNT };
enum wg_binary { WG_BINARY_LIST(WG_BINARY_ENUM_) WG_BIN_COUNT };
#undef WG_OP_ENUM_
#undef WG_MAP_ENUM_
#undef WG_BINARY_ENUM_

#ifndef __OPENCL_VERSION__
/* ---- host side ---- */
#include <stdbool.h>
#include <stddef.h>

typedef enum wg_op wg_op;
typedef enum wg_map wg_map;
typedef enum wg_binary wg_binary;

struct wg_graph;
struct wg_node_data;

/* "matmul", "scale", "add"; "?" for a value outside the table. */
const char *wg_op_name(wg_op op);
const char *wg_map_name(int code);
const char *wg_binary_name(int code);
/* "map.tanh", "binary.add", else the op's name: what messages and profiles call a node. */
const char *wg_op_label(wg_op op, int code, char *buf, size_t size);
int wg_op_arity(wg_op op);
/* How many of a map code's scalars (p0, p1) it reads: 0, 1 or 2. */
int wg_map_scalars(int code);
/* Whether `code` is in the table for a map or binary op (always true for other ops). */
bool wg_op_code_known(wg_op op, int code);
/* Whether backends run the op (false: inputs, variables and reshapes, which the
 * planner maps to storage). */
bool wg_op_has_kernel(wg_op op);
/* Floating-point operations of one run of the node, by its op's FLOP rule. */
double wg_node_flops(const struct wg_graph *graph, const struct wg_node_data *node);
#endif

#endif
