/* What the host knows of each op, expanded from the op table in ops.h. */
#include "ops.h"

#include <stdio.h>

#include "graph_internal.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define OP_NAME(NAME, name, ...) #name,
#define CODE_NAME(NAME, name, ...) #name,
static const char *const op_names[] = {WG_OP_LIST(OP_NAME)};
static const char *const map_names[] = {WG_MAP_LIST(CODE_NAME)};
static const char *const binary_names[] = {WG_BINARY_LIST(CODE_NAME)};
_Static_assert(COUNT_OF(op_names) == WG_OP_COUNT, "a name for every op");
_Static_assert(COUNT_OF(map_names) == WG_MAP_COUNT, "a name for every map code");
_Static_assert(COUNT_OF(binary_names) == WG_BIN_COUNT, "a name for every binary code");

#define MAP_SCALARS(NAME, name, scalars) scalars,
static const signed char map_scalars[] = {WG_MAP_LIST(MAP_SCALARS)};
_Static_assert(COUNT_OF(map_scalars) == WG_MAP_COUNT, "a scalar count for every map code");

#define OP_ARITY(NAME, name, arity, ...) arity,
static const signed char arities[] = {WG_OP_LIST(OP_ARITY)};
_Static_assert(COUNT_OF(arities) == WG_OP_COUNT, "an arity for every op");

#define OP_KERNEL(NAME, name, arity, kernel, ...) kernel,
static const bool kernels[] = {WG_OP_LIST(OP_KERNEL)};
_Static_assert(COUNT_OF(kernels) == WG_OP_COUNT, "a kernel flag for every op");

const char *wg_op_name(wg_op op) {
    return (unsigned)op < WG_OP_COUNT ? op_names[op] : "?";
}

const char *wg_map_name(int code) {
    return code >= 0 && code < WG_MAP_COUNT ? map_names[code] : "?";
}

const char *wg_binary_name(int code) {
    return code >= 0 && code < WG_BIN_COUNT ? binary_names[code] : "?";
}

const char *wg_op_label(wg_op op, int code, char *buf, size_t size) {
    if (op == WG_OP_MAP)
        snprintf(buf, size, "map.%s", wg_map_name(code));
    else if (op == WG_OP_BINARY)
        snprintf(buf, size, "binary.%s", wg_binary_name(code));
    else
        snprintf(buf, size, "%s", wg_op_name(op));
    return buf;
}

int wg_map_scalars(int code) {
    return code >= 0 && code < WG_MAP_COUNT ? map_scalars[code] : 0;
}

int wg_op_arity(wg_op op) {
    return (unsigned)op < WG_OP_COUNT ? arities[op] : -1;
}

bool wg_op_code_known(wg_op op, int code) {
    if (op == WG_OP_MAP) return code >= 0 && code < WG_MAP_COUNT;
    if (op == WG_OP_BINARY) return code >= 0 && code < WG_BIN_COUNT;
    return true;
}

bool wg_op_has_kernel(wg_op op) {
    return (unsigned)op < WG_OP_COUNT && kernels[op];
}

/* ---- FLOP rules: one function per rule named in the table ---- */

static const wg_shape *input_shape(const wg_graph *graph, const wg_node_data *d, int k) {
    return &graph->nodes[d->input[k]].shape;
}

static double flops_NONE(const wg_graph *graph, const wg_node_data *d) {
    (void)graph, (void)d;
    return 0;
}

static double flops_OUTPUT(const wg_graph *graph, const wg_node_data *d) {
    (void)graph;
    return (double)wg_shape_numel(&d->shape);
}

static double flops_INPUT(const wg_graph *graph, const wg_node_data *d) {
    return (double)wg_shape_numel(input_shape(graph, d, 0));
}

static double flops_MATMUL(const wg_graph *graph, const wg_node_data *d) {
    double k = (double)input_shape(graph, d, 0)->dim[d->ival[0] ? 0 : 1];
    return 2 * k * (double)wg_shape_numel(&d->shape);
}

/* Every role does one multiply-add per (output of the forward conv, C R S tap). */
static double flops_CONV(const wg_graph *graph, const wg_node_data *d) {
    const wg_shape *y = d->op == WG_OP_CONV2D      ? &d->shape
                        : d->op == WG_OP_CONV2D_DX ? input_shape(graph, d, 0)
                                                   : input_shape(graph, d, 1);
    const wg_shape *w = d->op == WG_OP_CONV2D_DW ? &d->shape : input_shape(graph, d, 1);
    return 2 * (double)wg_shape_numel(y) * (double)(w->dim[1] * w->dim[2] * w->dim[3]);
}

typedef double (*flops_rule)(const wg_graph *graph, const wg_node_data *d);
#define OP_FLOPS(NAME, name, arity, kernel, flops) flops_##flops,
static const flops_rule flops_rules[] = {WG_OP_LIST(OP_FLOPS)};
_Static_assert(COUNT_OF(flops_rules) == WG_OP_COUNT, "a FLOP rule for every op");

double wg_node_flops(const wg_graph *graph, const wg_node_data *node) {
    return (unsigned)node->op < WG_OP_COUNT ? flops_rules[node->op](graph, node) : 0;
}
