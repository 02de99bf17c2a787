/* The state behind wg_build while the runtime traces a step graph: which network is
 * being built, the registry that parameters come from, the Lipschitz strategy that may
 * reparametrise critic weights, and the updates and metrics the step collects. */
#ifndef WGAN_BUILD_H
#define WGAN_BUILD_H

#include "registry.h"
#include "wgan/plugin.h"

#define WG_BUILD_MAX_METRICS 16

typedef struct wg_build_metric {
    char name[48];
    wg_node node;
} wg_build_metric;

struct wg_build {
    wg_graph *graph;
    wg_registry *registry;
    const char *network; /* "generator" or "critic" */
    int64_t batch;
    /* Critic weights pass through the strategy's reparametrize hook, once per step
     * graph: the cache maps a registry index to the node the forward pass uses. */
    const wg_lipschitz_vtable *lipschitz;
    void *lipschitz_state;
    wg_node *used;
    int used_capacity;
    wg_node *updates;
    int n_updates, updates_capacity;
    wg_build_metric metrics[WG_BUILD_MAX_METRICS];
    int n_metrics;
    wg_status status; /* first failure inside a wg_build_* call, message in error */
    char error[512];
};

/* Starts tracing one step graph; `lipschitz` may be NULL. */
void wg_build_begin(wg_build *build, wg_graph *graph, wg_registry *registry, int64_t batch,
                    const wg_lipschitz_vtable *lipschitz, void *lipschitz_state);
void wg_build_set_network(wg_build *build, const char *network);
/* Frees the trace's bookkeeping (not the graph or the registry). */
void wg_build_end(wg_build *build);
/* WG_OK, or the first failure of a hook or of the graph, with its message set. */
wg_status wg_build_check(const wg_build *build);

#endif
