/* Graph storage and the builders of primitive ops, with shape inference. */
#include "graph_internal.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgan/philox.h"

/* ---- shapes ---- */

wg_shape wg_shape1(int64_t d0) {
    return (wg_shape){1, {d0, 1, 1, 1}};
}
wg_shape wg_shape2(int64_t d0, int64_t d1) {
    return (wg_shape){2, {d0, d1, 1, 1}};
}
wg_shape wg_shape3(int64_t d0, int64_t d1, int64_t d2) {
    return (wg_shape){3, {d0, d1, d2, 1}};
}
wg_shape wg_shape4(int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return (wg_shape){4, {d0, d1, d2, d3}};
}

int64_t wg_shape_numel(const wg_shape *shape) {
    int64_t n = 1;
    for (int k = 0; k < shape->ndim; k++) n *= shape->dim[k];
    return n;
}

bool wg_shape_equal(const wg_shape *a, const wg_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int k = 0; k < a->ndim; k++)
        if (a->dim[k] != b->dim[k]) return false;
    return true;
}

const char *wg_shape_str(const wg_shape *shape, char *buf, int size) {
    int used = snprintf(buf, size, "[");
    for (int k = 0; k < shape->ndim && used < size; k++)
        used +=
            snprintf(buf + used, size - used, "%s%lld", k ? ", " : "", (long long)shape->dim[k]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

void wg_shape_strides(const wg_shape *shape, int64_t strides[WG_MAX_DIMS]) {
    int64_t s = 1;
    for (int k = WG_MAX_DIMS - 1; k >= 0; k--) {
        strides[k] = k < shape->ndim ? s : 0;
        if (k < shape->ndim) s *= shape->dim[k];
    }
}

/* Canonical form: unused trailing extents are 1, so shapes compare by value. */
static wg_shape shape_canonical(wg_shape s) {
    for (int k = s.ndim; k < WG_MAX_DIMS; k++) s.dim[k] = 1;
    return s;
}

/* ---- graph ---- */

wg_graph *wg_graph_new(wg_dtype dtype) {
    wg_graph *graph = calloc(1, sizeof *graph);
    if (graph) graph->dtype = dtype;
    return graph;
}

void wg_graph_free(wg_graph *graph) {
    if (!graph) return;
    for (int i = 0; i < graph->count; i++) free(graph->nodes[i].name);
    free(graph->nodes);
    free(graph->random_scope);
    free(graph);
}

wg_dtype wg_graph_dtype(const wg_graph *graph) {
    return graph->dtype;
}
int wg_graph_size(const wg_graph *graph) {
    return graph->count;
}
wg_status wg_graph_status(const wg_graph *graph) {
    return graph->status;
}
const char *wg_graph_error(const wg_graph *graph) {
    return graph->error;
}

wg_node wg_graph_fail(wg_graph *graph, wg_status status, const char *fmt, ...) {
    if (graph->status == WG_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(graph->error, sizeof graph->error, fmt, ap);
        va_end(ap);
        graph->status = status;
    }
    wg_fail(graph->status, "%s", graph->error);
    return WG_NONE;
}

static bool valid_node(const wg_graph *graph, wg_node node) {
    return node >= 0 && node < graph->count;
}

wg_node wg_graph_push(wg_graph *graph, const wg_node_data *node) {
    assert(node->n_inputs == wg_op_arity(node->op));
    if (graph->status != WG_OK) return WG_NONE;
    for (int i = 0; i < node->n_inputs; i++)
        if (!valid_node(graph, node->input[i]))
            return wg_graph_fail(graph, WG_ERR_INVALID, "op input %d is not a node of this graph",
                                 i);
    for (int k = 0; k < node->shape.ndim; k++)
        if (node->shape.dim[k] <= 0)
            return wg_graph_fail(graph, WG_ERR_SHAPE, "extent %lld on axis %d is not positive",
                                 (long long)node->shape.dim[k], k);
    if (node->shape.ndim < 1 || node->shape.ndim > WG_MAX_DIMS)
        return wg_graph_fail(graph, WG_ERR_SHAPE, "%d dimensions (1 to %d supported)",
                             node->shape.ndim, WG_MAX_DIMS);
    if (graph->count == graph->capacity) {
        int capacity = graph->capacity ? 2 * graph->capacity : 256;
        wg_node_data *nodes = realloc(graph->nodes, (size_t)capacity * sizeof *nodes);
        if (!nodes) return wg_graph_fail(graph, WG_ERR_NOMEM, "out of memory growing the graph");
        graph->nodes = nodes;
        graph->capacity = capacity;
    }
    wg_node_data *slot = &graph->nodes[graph->count];
    *slot = *node;
    slot->shape = shape_canonical(node->shape);
    slot->name = NULL;
    return graph->count++;
}

wg_shape wg_node_shape(const wg_graph *graph, wg_node node) {
    if (!valid_node(graph, node)) return (wg_shape){0, {0, 0, 0, 0}};
    return graph->nodes[node].shape;
}

int64_t wg_node_numel(const wg_graph *graph, wg_node node) {
    wg_shape shape = wg_node_shape(graph, node);
    return shape.ndim ? wg_shape_numel(&shape) : 0;
}

void wg_node_set_name(wg_graph *graph, wg_node node, const char *name) {
    if (!valid_node(graph, node) || !name) return;
    free(graph->nodes[node].name);
    graph->nodes[node].name = strdup(name);
}

const char *wg_node_name(const wg_graph *graph, wg_node node) {
    if (!valid_node(graph, node)) return "";
    return graph->nodes[node].name ? graph->nodes[node].name : "";
}

/* Checks the inputs of a builder: false (and nothing else) when the graph already
 * failed or one of them is WG_NONE, so errors propagate silently to the first one. */
static bool inputs_ok(wg_graph *graph, int count, const wg_node *inputs) {
    if (graph->status != WG_OK) return false;
    for (int i = 0; i < count; i++) {
        if (inputs[i] == WG_NONE) return false;
        if (!valid_node(graph, inputs[i])) {
            wg_graph_fail(graph, WG_ERR_INVALID, "node %d is not in this graph", inputs[i]);
            return false;
        }
    }
    return true;
}

static const wg_shape *shape_of(const wg_graph *graph, wg_node node) {
    return &graph->nodes[node].shape;
}

static wg_node push_op(wg_graph *graph, wg_op op, wg_shape shape, int n_inputs, wg_node a,
                       wg_node b) {
    wg_node_data node = {.op = op, .n_inputs = n_inputs, .input = {a, b, WG_NONE}, .shape = shape};
    return wg_graph_push(graph, &node);
}

/* ---- leaves ---- */

static wg_node leaf(wg_graph *graph, wg_op op, wg_shape shape, const char *name) {
    wg_node node = push_op(graph, op, shape, 0, WG_NONE, WG_NONE);
    if (node != WG_NONE && name) wg_node_set_name(graph, node, name);
    return node;
}

wg_node wg_input(wg_graph *graph, wg_shape shape, const char *name) {
    return leaf(graph, WG_OP_INPUT, shape, name);
}

wg_node wg_variable(wg_graph *graph, wg_shape shape, const char *name) {
    return leaf(graph, WG_OP_VARIABLE, shape, name);
}

wg_node wg_constant(wg_graph *graph, wg_shape shape, double value) {
    wg_node_data node = {.op = WG_OP_CONSTANT, .shape = shape, .param = {value, 0}};
    return wg_graph_push(graph, &node);
}

wg_status wg_graph_set_random_scope(wg_graph *graph, const char *scope) {
    char *copy = NULL;
    if (scope && *scope && !(copy = strdup(scope)))
        return wg_fail(WG_ERR_NOMEM, "out of memory naming random draws");
    free(graph->random_scope);
    graph->random_scope = copy;
    return WG_OK;
}

void wg_graph_set_random_block(wg_graph *graph, int64_t block) {
    assert(block >= 0);
    graph->random_block = block;
}

static bool is_random(wg_op op) {
    return op == WG_OP_RANDOM_UNIFORM || op == WG_OP_RANDOM_NORMAL;
}

/* A draw's stream comes from its key alone (philox.h); a second draw of the same
 * stream in this graph would repeat the first one's numbers, so it is refused, naming
 * both draws. The node's name is its key. */
static wg_node random_draw(wg_graph *graph, wg_op op, const char *name, wg_shape shape, double a,
                           double b) {
    if (graph->status != WG_OK) return WG_NONE;
    if (!name || !*name)
        return wg_graph_fail(graph, WG_ERR_INVALID, "a random draw needs a name (its key)");
    const char *scope = graph->random_scope ? graph->random_scope : "";
    size_t size = strlen(scope) + 1 + strlen(name) + 1;
    char *key = malloc(size);
    if (!key) return wg_graph_fail(graph, WG_ERR_NOMEM, "out of memory naming a random draw");
    snprintf(key, size, "%s%s%s", scope, *scope ? "/" : "", name);
    uint64_t stream = wg_philox_stream(key);
    for (int i = 0; i < graph->count; i++) {
        const wg_node_data *other = &graph->nodes[i];
        if (!is_random(other->op) || (uint64_t)other->lval[0] != stream) continue;
        const char *other_key = other->name ? other->name : "";
        if (strcmp(other_key, key) == 0)
            wg_graph_fail(graph, WG_ERR_INVALID,
                          "random draw '%s' (node %d) is drawn again by node %d: every draw "
                          "needs its own name (use one node to use the same numbers twice)",
                          key, i, graph->count);
        else
            wg_graph_fail(graph, WG_ERR_INVALID,
                          "random draws '%s' (node %d) and '%s' (node %d) have the same "
                          "stream 0x%016llx (a renamed node of that key, or two keys whose "
                          "hashes collide): rename one",
                          other_key, i, key, graph->count, (unsigned long long)stream);
        free(key);
        return WG_NONE;
    }
    wg_node_data node = {.op = op, .shape = shape, .param = {a, b}};
    node.lval[0] = (int64_t)stream;
    node.lval[1] = graph->random_block * wg_shape_numel(&shape);
    wg_node out = wg_graph_push(graph, &node);
    if (out != WG_NONE)
        graph->nodes[out].name = key;
    else
        free(key);
    return out;
}

wg_node wg_random_uniform(wg_graph *graph, const char *name, wg_shape shape, double low,
                          double high) {
    if (!(low < high))
        return wg_graph_fail(graph, WG_ERR_INVALID, "uniform draw needs low < high, got %g, %g",
                             low, high);
    return random_draw(graph, WG_OP_RANDOM_UNIFORM, name, shape, low, high);
}

wg_node wg_random_normal(wg_graph *graph, const char *name, wg_shape shape, double mean,
                         double stddev) {
    if (!(stddev >= 0))
        return wg_graph_fail(graph, WG_ERR_INVALID, "normal draw needs stddev >= 0, got %g",
                             stddev);
    return random_draw(graph, WG_OP_RANDOM_NORMAL, name, shape, mean, stddev);
}

/* ---- element-wise ---- */

/* numpy broadcasting: right-aligned, extents equal or 1. */
static bool broadcast_shape(const wg_shape *a, const wg_shape *b, wg_shape *out) {
    int ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = ndim;
    for (int k = 0; k < ndim; k++) {
        int ka = k - (ndim - a->ndim), kb = k - (ndim - b->ndim);
        int64_t da = ka >= 0 ? a->dim[ka] : 1, db = kb >= 0 ? b->dim[kb] : 1;
        if (da != db && da != 1 && db != 1) return false;
        out->dim[k] = da == 1 ? db : da;
    }
    return true;
}

static wg_node binary(wg_graph *graph, wg_binary code, wg_node a, wg_node b) {
    wg_node in[2] = {a, b};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    wg_shape out;
    if (!broadcast_shape(shape_of(graph, a), shape_of(graph, b), &out)) {
        char sa[64], sb[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast",
                             wg_binary_name(code), wg_shape_str(shape_of(graph, a), sa, sizeof sa),
                             wg_shape_str(shape_of(graph, b), sb, sizeof sb));
    }
    wg_node_data node = {.op = WG_OP_BINARY, .n_inputs = 2, .input = {a, b, WG_NONE}, .shape = out};
    node.ival[0] = code;
    return wg_graph_push(graph, &node);
}

wg_node wg_add(wg_graph *graph, wg_node a, wg_node b) {
    return binary(graph, WG_BIN_ADD, a, b);
}
wg_node wg_sub(wg_graph *graph, wg_node a, wg_node b) {
    return binary(graph, WG_BIN_SUB, a, b);
}
wg_node wg_mul(wg_graph *graph, wg_node a, wg_node b) {
    return binary(graph, WG_BIN_MUL, a, b);
}
wg_node wg_div(wg_graph *graph, wg_node a, wg_node b) {
    return binary(graph, WG_BIN_DIV, a, b);
}

static wg_node map(wg_graph *graph, wg_map code, wg_node x, double p0, double p1) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    wg_node_data node = {.op = WG_OP_MAP,
                         .n_inputs = 1,
                         .input = {x, WG_NONE, WG_NONE},
                         .shape = *shape_of(graph, x),
                         .param = {p0, p1}};
    node.ival[0] = code;
    return wg_graph_push(graph, &node);
}

wg_node wg_scale(wg_graph *graph, wg_node x, double factor) {
    return map(graph, WG_MAP_SCALE, x, factor, 0);
}
wg_node wg_add_scalar(wg_graph *graph, wg_node x, double value) {
    return map(graph, WG_MAP_ADD_SCALAR, x, value, 0);
}
wg_node wg_neg(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_SCALE, x, -1, 0);
}
wg_node wg_square(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_SQUARE, x, 0, 0);
}
wg_node wg_sqrt(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_SQRT, x, 0, 0);
}
wg_node wg_rsqrt(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_RSQRT, x, 0, 0);
}
wg_node wg_reciprocal(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_RECIPROCAL, x, 0, 0);
}
wg_node wg_exp(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_EXP, x, 0, 0);
}
wg_node wg_log(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_LOG, x, 0, 0);
}
wg_node wg_tanh(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_TANH, x, 0, 0);
}
wg_node wg_sigmoid(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_SIGMOID, x, 0, 0);
}
wg_node wg_softplus(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_SOFTPLUS, x, 0, 0);
}
wg_node wg_relu(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_RELU, x, 0, 0);
}
wg_node wg_leaky_relu(wg_graph *graph, wg_node x, double slope) {
    return map(graph, WG_MAP_LEAKY_RELU, x, slope, 0);
}
wg_node wg_clamp(wg_graph *graph, wg_node x, double low, double high) {
    if (!(low <= high))
        return wg_graph_fail(graph, WG_ERR_INVALID, "clamp needs low <= high, got %g, %g", low,
                             high);
    return map(graph, WG_MAP_CLAMP, x, low, high);
}
wg_node wg_step(wg_graph *graph, wg_node x) {
    return map(graph, WG_MAP_STEP, x, 0, 0);
}
wg_node wg_in_range(wg_graph *graph, wg_node x, double low, double high) {
    return map(graph, WG_MAP_IN_RANGE, x, low, high);
}

/* ---- shape ops ---- */

wg_node wg_reshape(wg_graph *graph, wg_node x, wg_shape shape) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    if (wg_shape_numel(&shape) != wg_shape_numel(shape_of(graph, x))) {
        char sa[64], sb[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "reshape: %s and %s differ in size",
                             wg_shape_str(shape_of(graph, x), sa, sizeof sa),
                             wg_shape_str(&shape, sb, sizeof sb));
    }
    if (wg_shape_equal(&shape, shape_of(graph, x))) return x;
    return push_op(graph, WG_OP_RESHAPE, shape, 1, x, WG_NONE);
}

/* A reshape to the same shape, flagged so that autodiff passes nothing back: the
 * planner aliases it like any reshape, so it has no kernel. */
wg_node wg_stop_gradient(wg_graph *graph, wg_node x) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    wg_node_data node = {.op = WG_OP_RESHAPE,
                         .n_inputs = 1,
                         .input = {x, WG_NONE, WG_NONE},
                         .shape = *shape_of(graph, x)};
    node.ival[0] = 1;
    return wg_graph_push(graph, &node);
}

/* `shape` padded with leading 1s to `ndim` dimensions. */
static wg_shape shape_with_ndim(const wg_shape *shape, int ndim) {
    wg_shape out = {ndim, {1, 1, 1, 1}};
    int lead = ndim - shape->ndim;
    for (int k = 0; k < shape->ndim; k++) out.dim[lead + k] = shape->dim[k];
    return out;
}

wg_node wg_expand(wg_graph *graph, wg_node x, wg_shape shape) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    const wg_shape *from = shape_of(graph, x);
    wg_shape joint;
    if (from->ndim > shape.ndim || !broadcast_shape(from, &shape, &joint) ||
        !wg_shape_equal(&joint, &shape)) {
        char sa[64], sb[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "expand: %s does not broadcast to %s",
                             wg_shape_str(from, sa, sizeof sa),
                             wg_shape_str(&shape, sb, sizeof sb));
    }
    if (wg_shape_equal(from, &shape)) return x;
    x = wg_reshape(graph, x, shape_with_ndim(from, shape.ndim));
    if (wg_shape_equal(shape_of(graph, x), &shape)) return x;
    return push_op(graph, WG_OP_EXPAND, shape, 1, x, WG_NONE);
}

wg_node wg_sum_to(wg_graph *graph, wg_node x, wg_shape shape) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    const wg_shape *from = shape_of(graph, x);
    wg_shape joint;
    if (shape.ndim > from->ndim || !broadcast_shape(from, &shape, &joint) ||
        !wg_shape_equal(&joint, from)) {
        char sa[64], sb[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "sum_to: %s cannot be summed to %s",
                             wg_shape_str(from, sa, sizeof sa),
                             wg_shape_str(&shape, sb, sizeof sb));
    }
    if (wg_shape_equal(from, &shape)) return x;
    wg_shape kept = shape_with_ndim(&shape, from->ndim);
    wg_node out = x;
    if (!wg_shape_equal(&kept, from)) out = push_op(graph, WG_OP_SUM_TO, kept, 1, x, WG_NONE);
    return wg_reshape(graph, out, shape);
}

wg_node wg_sum(wg_graph *graph, wg_node x, unsigned axes_mask, bool keepdim) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    const wg_shape *from = shape_of(graph, x);
    if (axes_mask >> from->ndim)
        return wg_graph_fail(graph, WG_ERR_INVALID, "sum: axis mask 0x%x names axes beyond %d",
                             axes_mask, from->ndim);
    wg_shape kept = *from, dropped = {0, {1, 1, 1, 1}};
    for (int k = 0; k < from->ndim; k++) {
        if (axes_mask & (1u << k))
            kept.dim[k] = 1;
        else
            dropped.dim[dropped.ndim++] = from->dim[k];
    }
    wg_node out = x;
    if (!wg_shape_equal(&kept, from)) out = push_op(graph, WG_OP_SUM_TO, kept, 1, x, WG_NONE);
    if (keepdim) return out;
    if (dropped.ndim == 0) dropped.ndim = 1;
    return wg_reshape(graph, out, dropped);
}

wg_node wg_mean(wg_graph *graph, wg_node x, unsigned axes_mask, bool keepdim) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    const wg_shape *from = shape_of(graph, x);
    int64_t count = 1;
    for (int k = 0; k < from->ndim; k++)
        if (axes_mask & (1u << k)) count *= from->dim[k];
    return wg_scale(graph, wg_sum(graph, x, axes_mask, keepdim), 1.0 / (double)count);
}

wg_node wg_sum_all(wg_graph *graph, wg_node x) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    return wg_reshape(graph, wg_sum(graph, x, (1u << shape_of(graph, x)->ndim) - 1, true),
                      wg_shape1(1));
}

wg_node wg_mean_all(wg_graph *graph, wg_node x) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    return wg_scale(graph, wg_sum_all(graph, x), 1.0 / (double)wg_node_numel(graph, x));
}

wg_node wg_permute(wg_graph *graph, wg_node x, const int *perm) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    const wg_shape *from = shape_of(graph, x);
    wg_node_data node = {.op = WG_OP_PERMUTE, .n_inputs = 1, .input = {x, WG_NONE, WG_NONE}};
    node.shape.ndim = from->ndim;
    unsigned seen = 0;
    bool identity = true;
    for (int k = 0; k < from->ndim; k++) {
        if (perm[k] < 0 || perm[k] >= from->ndim || (seen & (1u << perm[k])))
            return wg_graph_fail(graph, WG_ERR_INVALID, "permute: not a permutation of %d axes",
                                 from->ndim);
        seen |= 1u << perm[k];
        node.ival[k] = perm[k];
        node.shape.dim[k] = from->dim[perm[k]];
        identity = identity && perm[k] == k;
    }
    if (identity) return x;
    return wg_graph_push(graph, &node);
}

/* Shared by slice and pad: `inner` must fit inside `outer` at `start`. */
static wg_node window_op(wg_graph *graph, wg_op op, wg_node x, const int64_t *start,
                         const wg_shape *inner, const wg_shape *outer, wg_shape out_shape) {
    if (inner->ndim != outer->ndim)
        return wg_graph_fail(graph, WG_ERR_SHAPE, "%s: %d axes given for a %d-axis tensor",
                             wg_op_name(op), inner->ndim, outer->ndim);
    wg_node_data node = {
        .op = op, .n_inputs = 1, .input = {x, WG_NONE, WG_NONE}, .shape = out_shape};
    for (int k = 0; k < inner->ndim; k++) {
        if (start[k] < 0 || start[k] + inner->dim[k] > outer->dim[k])
            return wg_graph_fail(graph, WG_ERR_SHAPE,
                                 "%s: axis %d window [%lld, %lld) outside extent %lld",
                                 wg_op_name(op), k, (long long)start[k],
                                 (long long)(start[k] + inner->dim[k]), (long long)outer->dim[k]);
        node.lval[k] = start[k];
    }
    if (wg_shape_equal(inner, outer)) return x;
    return wg_graph_push(graph, &node);
}

wg_node wg_slice(wg_graph *graph, wg_node x, const int64_t *start, wg_shape shape) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    return window_op(graph, WG_OP_SLICE, x, start, &shape, shape_of(graph, x), shape);
}

wg_node wg_pad(wg_graph *graph, wg_node x, const int64_t *start, wg_shape shape) {
    if (!inputs_ok(graph, 1, &x)) return WG_NONE;
    return window_op(graph, WG_OP_PAD, x, start, shape_of(graph, x), &shape, shape);
}

/* Concatenation as a sum of zero-padded parts: one rule serves every derivative order. */
wg_node wg_concat(wg_graph *graph, int count, const wg_node *parts, int axis) {
    if (count < 1 || !inputs_ok(graph, count, parts)) return WG_NONE;
    wg_shape total = *shape_of(graph, parts[0]);
    if (axis < 0 || axis >= total.ndim)
        return wg_graph_fail(graph, WG_ERR_INVALID, "concat: axis %d of a %d-axis tensor", axis,
                             total.ndim);
    total.dim[axis] = 0;
    for (int i = 0; i < count; i++) {
        const wg_shape *part = shape_of(graph, parts[i]);
        for (int k = 0; k < total.ndim; k++)
            if (part->ndim != total.ndim || (k != axis && part->dim[k] != total.dim[k]))
                return wg_graph_fail(graph, WG_ERR_SHAPE, "concat: part %d does not match part 0",
                                     i);
        total.dim[axis] += part->dim[axis];
    }
    wg_node sum = WG_NONE;
    int64_t start[WG_MAX_DIMS] = {0};
    for (int i = 0; i < count; i++) {
        wg_node placed = wg_pad(graph, parts[i], start, total);
        sum = sum == WG_NONE ? placed : wg_add(graph, sum, placed);
        start[axis] += shape_of(graph, parts[i])->dim[axis];
    }
    return sum;
}

/* ---- linear algebra ---- */

wg_node wg_matmul(wg_graph *graph, wg_node a, wg_node b, bool transpose_a, bool transpose_b) {
    wg_node in[2] = {a, b};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    const wg_shape *sa = shape_of(graph, a), *sb = shape_of(graph, b);
    if (sa->ndim != 2 || sb->ndim != 2)
        return wg_graph_fail(graph, WG_ERR_SHAPE, "matmul needs 2-D operands, got %d-D and %d-D",
                             sa->ndim, sb->ndim);
    int64_t m = sa->dim[transpose_a], ka = sa->dim[!transpose_a];
    int64_t kb = sb->dim[transpose_b], n = sb->dim[!transpose_b];
    if (ka != kb) {
        char s1[64], s2[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "matmul: %s%s @ %s%s: inner extents %lld != %lld",
                             wg_shape_str(sa, s1, sizeof s1), transpose_a ? "^T" : "",
                             wg_shape_str(sb, s2, sizeof s2), transpose_b ? "^T" : "",
                             (long long)ka, (long long)kb);
    }
    wg_node_data node = {
        .op = WG_OP_MATMUL, .n_inputs = 2, .input = {a, b, WG_NONE}, .shape = wg_shape2(m, n)};
    node.ival[0] = transpose_a;
    node.ival[1] = transpose_b;
    return wg_graph_push(graph, &node);
}

static int64_t conv_out_extent(int64_t in, int64_t kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}

/* Checks `x` against `w` (N,C,H,W vs K,C,R,S) and that (x, w) map onto an output of
 * extents (P, Q); used by all three convolution ops, which relate the same three
 * tensors. */
static bool conv_shapes_ok(wg_graph *graph, const char *op, const wg_shape *x, const wg_shape *w,
                           const wg_shape *y, wg_conv_params p) {
    char s1[64], s2[64], s3[64];
    if (p.stride_h < 1 || p.stride_w < 1 || p.pad_h < 0 || p.pad_w < 0) {
        wg_graph_fail(graph, WG_ERR_INVALID, "%s: stride %dx%d / padding %dx%d out of range", op,
                      p.stride_h, p.stride_w, p.pad_h, p.pad_w);
        return false;
    }
    bool ok = x->ndim == 4 && w->ndim == 4 && y->ndim == 4 && x->dim[1] == w->dim[1] &&
              y->dim[0] == x->dim[0] && y->dim[1] == w->dim[0] &&
              x->dim[2] + 2 * p.pad_h >= w->dim[2] && x->dim[3] + 2 * p.pad_w >= w->dim[3] &&
              y->dim[2] == conv_out_extent(x->dim[2], w->dim[2], p.stride_h, p.pad_h) &&
              y->dim[3] == conv_out_extent(x->dim[3], w->dim[3], p.stride_w, p.pad_w);
    if (!ok)
        wg_graph_fail(graph, WG_ERR_SHAPE,
                      "%s: input %s, weight %s and output %s do not fit stride %dx%d padding %dx%d",
                      op, wg_shape_str(x, s1, sizeof s1), wg_shape_str(w, s2, sizeof s2),
                      wg_shape_str(y, s3, sizeof s3), p.stride_h, p.stride_w, p.pad_h, p.pad_w);
    return ok;
}

static wg_node conv_node(wg_graph *graph, wg_op op, wg_node a, wg_node b, wg_shape out,
                         wg_conv_params p) {
    wg_node_data node = {.op = op, .n_inputs = 2, .input = {a, b, WG_NONE}, .shape = out};
    node.ival[0] = p.stride_h;
    node.ival[1] = p.stride_w;
    node.ival[2] = p.pad_h;
    node.ival[3] = p.pad_w;
    return wg_graph_push(graph, &node);
}

wg_node wg_conv2d(wg_graph *graph, wg_node x, wg_node w, wg_conv_params p) {
    wg_node in[2] = {x, w};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    const wg_shape *sx = shape_of(graph, x), *sw = shape_of(graph, w);
    wg_shape y = {0, {0, 0, 0, 0}};
    if (sx->ndim == 4 && sw->ndim == 4 && p.stride_h > 0 && p.stride_w > 0)
        y = wg_shape4(sx->dim[0], sw->dim[0],
                      conv_out_extent(sx->dim[2], sw->dim[2], p.stride_h, p.pad_h),
                      conv_out_extent(sx->dim[3], sw->dim[3], p.stride_w, p.pad_w));
    if (!conv_shapes_ok(graph, "conv2d", sx, sw, &y, p)) return WG_NONE;
    return conv_node(graph, WG_OP_CONV2D, x, w, y, p);
}

wg_node wg_conv2d_input_grad(wg_graph *graph, wg_node gy, wg_node w, wg_conv_params p,
                             wg_shape x_shape) {
    wg_node in[2] = {gy, w};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    if (!conv_shapes_ok(graph, "conv2d_input_grad", &x_shape, shape_of(graph, w),
                        shape_of(graph, gy), p))
        return WG_NONE;
    return conv_node(graph, WG_OP_CONV2D_DX, gy, w, x_shape, p);
}

wg_node wg_conv2d_weight_grad(wg_graph *graph, wg_node x, wg_node gy, wg_conv_params p,
                              wg_shape w_shape) {
    wg_node in[2] = {x, gy};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    if (!conv_shapes_ok(graph, "conv2d_weight_grad", shape_of(graph, x), &w_shape,
                        shape_of(graph, gy), p))
        return WG_NONE;
    return conv_node(graph, WG_OP_CONV2D_DW, x, gy, w_shape, p);
}

wg_node wg_conv_transpose2d(wg_graph *graph, wg_node x, wg_node w, wg_conv_params p,
                            int output_pad_h, int output_pad_w) {
    wg_node in[2] = {x, w};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    const wg_shape *sx = shape_of(graph, x), *sw = shape_of(graph, w);
    if (sx->ndim != 4 || sw->ndim != 4 || sx->dim[1] != sw->dim[0])
        return wg_graph_fail(graph, WG_ERR_SHAPE,
                             "conv_transpose2d: input channels of x and w[0] differ");
    if (output_pad_h < 0 || output_pad_w < 0 || output_pad_h >= p.stride_h ||
        output_pad_w >= p.stride_w)
        return wg_graph_fail(graph, WG_ERR_INVALID,
                             "conv_transpose2d: output padding %dx%d must be below the stride",
                             output_pad_h, output_pad_w);
    wg_shape out =
        wg_shape4(sx->dim[0], sw->dim[1],
                  (sx->dim[2] - 1) * p.stride_h - 2 * p.pad_h + sw->dim[2] + output_pad_h,
                  (sx->dim[3] - 1) * p.stride_w - 2 * p.pad_w + sw->dim[3] + output_pad_w);
    return wg_conv2d_input_grad(graph, x, w, p, out);
}

/* ---- state ---- */

wg_node wg_assign(wg_graph *graph, wg_node variable, wg_node value) {
    wg_node in[2] = {variable, value};
    if (!inputs_ok(graph, 2, in)) return WG_NONE;
    if (graph->nodes[variable].op != WG_OP_VARIABLE)
        return wg_graph_fail(graph, WG_ERR_INVALID, "assign: target is not a variable");
    if (!wg_shape_equal(shape_of(graph, variable), shape_of(graph, value))) {
        char s1[64], s2[64];
        return wg_graph_fail(graph, WG_ERR_SHAPE, "assign: variable %s '%s' given a value of %s",
                             wg_shape_str(shape_of(graph, variable), s1, sizeof s1),
                             wg_node_name(graph, variable),
                             wg_shape_str(shape_of(graph, value), s2, sizeof s2));
    }
    /* Assignments run last, one after another, so one that reads (a reshape of) a variable
     * could see it already changed by another (swapping two variables): such a
     * value is copied to a temporary, computed before any assignment runs. */
    wg_node root = value;
    while (graph->nodes[root].op == WG_OP_RESHAPE) root = graph->nodes[root].input[0];
    if (root != variable && graph->nodes[root].op == WG_OP_VARIABLE)
        value = wg_scale(graph, value, 1.0);
    return push_op(graph, WG_OP_ASSIGN, *shape_of(graph, variable), 2, variable, value);
}
