#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wg_build_begin(wg_build *build, wg_graph *graph, wg_registry *registry, int64_t batch,
                    const wg_lipschitz_vtable *lipschitz, void *lipschitz_state) {
    *build = (wg_build){.graph = graph,
                        .registry = registry,
                        .network = "generator",
                        .batch = batch,
                        .lipschitz = lipschitz,
                        .lipschitz_state = lipschitz_state};
}

void wg_build_set_network(wg_build *build, const char *network) {
    build->network = network;
}

void wg_build_end(wg_build *build) {
    free(build->used);
    free(build->updates);
    build->used = build->updates = NULL;
}

static void build_fail(wg_build *build, wg_status status) {
    if (build->status != WG_OK) return;
    build->status = status;
    snprintf(build->error, sizeof build->error, "%s", wg_last_error());
}

wg_status wg_build_check(const wg_build *build) {
    if (build->status != WG_OK) return wg_fail(build->status, "%s", build->error);
    if (wg_graph_status(build->graph) != WG_OK)
        return wg_fail(wg_graph_status(build->graph), "%s", wg_graph_error(build->graph));
    return WG_OK;
}

wg_graph *wg_build_graph(wg_build *build) {
    return build->graph;
}
const char *wg_build_network(const wg_build *build) {
    return build->network;
}
int64_t wg_build_batch(const wg_build *build) {
    return build->batch;
}

/* The registry entry "<network>.<name>", created with `shape` on first use. */
static int variable_entry(wg_build *build, const char *name, wg_shape shape, wg_init init,
                          wg_param_role role, int trainable) {
    char full[256];
    snprintf(full, sizeof full, "%s.%s", build->network, name);
    int index = wg_registry_find(build->registry, full);
    if (index >= 0) {
        wg_shape have = wg_node_shape(build->graph, build->registry->entries[index].node);
        if (!wg_shape_equal(&have, &shape)) {
            char a[64], b[64];
            build_fail(build, wg_fail(WG_ERR_SHAPE, "'%s' requested as %s but exists as %s", full,
                                      wg_shape_str(&shape, a, sizeof a),
                                      wg_shape_str(&have, b, sizeof b)));
            return -1;
        }
        return index;
    }
    wg_node node = wg_variable(build->graph, shape, full);
    if (node == WG_NONE) return -1;
    index = wg_registry_add(build->registry, full, node, init, role, trainable);
    if (index < 0) build_fail(build, WG_ERR_NOMEM);
    return index;
}

static wg_node reparametrized(wg_build *build, int index) {
    wg_variable_entry *e = &build->registry->entries[index];
    if (!build->lipschitz || !build->lipschitz->reparametrize || e->role != WG_PARAM_WEIGHT ||
        strcmp(build->network, "critic") != 0)
        return e->node;
    if (index >= build->used_capacity) {
        int capacity = index + 32;
        wg_node *grown = realloc(build->used, (size_t)capacity * sizeof *grown);
        if (!grown) {
            build_fail(build, wg_fail(WG_ERR_NOMEM, "out of memory building the critic"));
            return WG_NONE;
        }
        for (int i = build->used_capacity; i < capacity; i++) grown[i] = WG_NONE;
        build->used = grown;
        build->used_capacity = capacity;
    }
    if (build->used[index] != WG_NONE) return build->used[index];
    const char *short_name = e->name + strlen(build->network) + 1;
    wg_node used = WG_NONE;
    wg_status status =
        build->lipschitz->reparametrize(build->lipschitz_state, build, short_name, e->node, &used);
    if (status != WG_OK) {
        build_fail(build, status);
        return WG_NONE;
    }
    /* the hook may have grown the registry: re-read nothing through `e` after this */
    build->used[index] = used;
    return used;
}

wg_node wg_build_param(wg_build *build, const char *name, wg_shape shape, wg_init init,
                       wg_param_role role) {
    int index = variable_entry(build, name, shape, init, role, 1);
    return index < 0 ? WG_NONE : reparametrized(build, index);
}

wg_node wg_build_state(wg_build *build, const char *name, wg_shape shape, wg_init init) {
    int index = variable_entry(build, name, shape, init, WG_PARAM_BIAS, 0);
    return index < 0 ? WG_NONE : build->registry->entries[index].node;
}

void wg_build_add_update(wg_build *build, wg_node assign) {
    if (assign == WG_NONE) return;
    if (build->n_updates == build->updates_capacity) {
        int capacity = build->updates_capacity ? 2 * build->updates_capacity : 16;
        wg_node *grown = realloc(build->updates, (size_t)capacity * sizeof *grown);
        if (!grown) {
            build_fail(build, wg_fail(WG_ERR_NOMEM, "out of memory adding an update"));
            return;
        }
        build->updates = grown;
        build->updates_capacity = capacity;
    }
    build->updates[build->n_updates++] = assign;
}

void wg_build_add_metric(wg_build *build, const char *name, wg_node value) {
    if (value == WG_NONE) return;
    if (build->n_metrics == WG_BUILD_MAX_METRICS) {
        build_fail(build, wg_fail(WG_ERR_INVALID, "more than %d metrics in one step",
                                  WG_BUILD_MAX_METRICS));
        return;
    }
    wg_build_metric *m = &build->metrics[build->n_metrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->node = value;
}
