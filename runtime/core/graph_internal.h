/* The node representation shared by the graph builders, autodiff, the planner and the
 * device backends. Not part of the public API. */
#ifndef WGAN_GRAPH_INTERNAL_H
#define WGAN_GRAPH_INTERNAL_H

#include "ops.h" /* wg_op, wg_map, wg_binary: the op table */
#include "wgan/graph.h"

#define WG_MAX_INPUTS 3

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
    char *random_scope;   /* prefix of the keys of random draws, NULL for none */
    int64_t random_block; /* draws are block `random_block` of a larger draw: 0 by default */
    wg_status status;     /* first build error */
    char error[512];
};

static inline const wg_node_data *wg_node_at(const wg_graph *graph, wg_node node) {
    return &graph->nodes[node];
}

/* The node whose storage `node` uses: reshapes alias their input. */
static inline wg_node wg_storage_root(const wg_graph *graph, wg_node node) {
    while (graph->nodes[node].op == WG_OP_RESHAPE) node = graph->nodes[node].input[0];
    return node;
}

/* Strides of a contiguous tensor of `shape` (elements). */
void wg_shape_strides(const wg_shape *shape, int64_t strides[WG_MAX_DIMS]);

/* Appends a node after checking inputs; returns WG_NONE when the graph already
 * failed or an input is WG_NONE. Used by builders and autodiff. */
wg_node wg_graph_push(wg_graph *graph, const wg_node_data *node);
/* Random draws made from now on are keyed "<scope>/<name>" (just "<name>" when scope
 * is NULL or empty); the runtime sets it to say who draws. Copied. */
wg_status wg_graph_set_random_scope(wg_graph *graph, const char *scope);
/* Draws made from now on are block `block` (0-based) of equal blocks of one larger draw
 * laid end to end: a draw of n elements takes elements [block * n, (block + 1) * n) of
 * its key's stream. For a draw whose first axis is the batch, block r is the rows of
 * shard r of a batch K times as large (data-parallel training, docs/scaling.md). */
void wg_graph_set_random_block(wg_graph *graph, int64_t block);
/* Records the first build error and returns WG_NONE. */
wg_node wg_graph_fail(wg_graph *graph, wg_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
