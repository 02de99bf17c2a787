#include "build.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph_internal.h"

static void build_fail(wg_build *build, wg_status status) {
    if (build->status != WG_OK) return;
    build->status = status;
    snprintf(build->error, sizeof build->error, "%s", wg_last_error());
}

static void publish_scope(wg_build *build) {
    wg_status s = wg_graph_set_random_scope(build->graph, build->scope);
    if (s != WG_OK) build_fail(build, s);
}

void wg_build_begin(wg_build *build, wg_graph *graph, wg_registry *registry, const char *trace,
                    int64_t batch, const wg_plugin *lipschitz, void *lipschitz_state) {
    *build = (wg_build){.graph = graph,
                        .registry = registry,
                        .network = "generator",
                        .batch = batch,
                        .depth = 1,
                        .features = WG_NONE,
                        .lipschitz_plugin = lipschitz,
                        .lipschitz = lipschitz ? &lipschitz->vt.lipschitz : NULL,
                        .lipschitz_state = lipschitz_state};
    build->levels[0].network = build->network;
    if (snprintf(build->scope, sizeof build->scope, "%s", trace) >= (int)sizeof build->scope)
        build_fail(build, wg_fail(WG_ERR_INVALID, "trace name '%.40s...' is too long", trace));
    publish_scope(build);
}

void wg_build_set_network(wg_build *build, const char *network) {
    build->network = network;
}

void wg_build_end(wg_build *build) {
    free(build->used);
    free(build->updates);
    build->used = build->updates = NULL;
    if (build->graph) wg_graph_set_random_scope(build->graph, NULL);
}

wg_status wg_build_check(const wg_build *build) {
    if (build->status != WG_OK) return wg_fail(build->status, "%s", build->error);
    if (wg_graph_status(build->graph) != WG_OK)
        return wg_fail(wg_graph_status(build->graph), "%s", wg_graph_error(build->graph));
    return WG_OK;
}

/* ---- who draws: the key scope ---- */

void wg_build_enter(wg_build *build, const char *owner) {
    size_t length = strlen(build->scope);
    if (build->depth < WG_BUILD_MAX_DEPTH) {
        build->levels[build->depth] =
            (wg_build_level){.scope_length = length, .network = build->network};
    } else {
        build_fail(build, wg_fail(WG_ERR_INVALID, "plugin calls nested more than %d deep at '%s'",
                                  WG_BUILD_MAX_DEPTH, build->scope));
    }
    build->depth++;
    int room = (int)(sizeof build->scope - length);
    if (snprintf(build->scope + length, (size_t)room, "%s%s", length ? "/" : "", owner) >= room) {
        build->scope[length] = 0;
        build_fail(build, wg_fail(WG_ERR_INVALID, "random draw scope too long at '%s/%s'",
                                  build->scope, owner));
    }
    publish_scope(build);
}

void wg_build_enter_plugin(wg_build *build, const wg_plugin *plugin) {
    char owner[160];
    snprintf(owner, sizeof owner, "%s.%s", wg_plugin_kind_name(plugin->kind), plugin->name);
    wg_build_enter(build, owner);
}

void wg_build_enter_network(wg_build *build, const char *network) {
    int n = 0;
    if (build->depth <= WG_BUILD_MAX_DEPTH) {
        wg_build_level *level = &build->levels[build->depth - 1];
        n = strcmp(network, "critic") == 0 ? ++level->critics : ++level->generators;
    }
    char owner[64];
    snprintf(owner, sizeof owner, "%s.%d", network, n);
    wg_build_enter(build, owner);
    build->network = network;
}

void wg_build_leave(wg_build *build) {
    assert(build->depth > 1 && "wg_build_leave without its wg_build_enter");
    if (build->depth <= 1) return;
    build->depth--;
    if (build->depth >= WG_BUILD_MAX_DEPTH) return;
    const wg_build_level *level = &build->levels[build->depth];
    build->scope[level->scope_length] = 0;
    build->network = level->network;
    publish_scope(build);
}

wg_status wg_build_penalty(wg_build *build, const wg_critic_fn *critic, wg_node real, wg_node fake,
                           wg_node real_scores, wg_node fake_scores, wg_node *penalty) {
    *penalty = WG_NONE;
    const wg_lipschitz_vtable *lip = build->lipschitz;
    if (!lip || (!lip->penalty_ctx && !lip->penalty)) return WG_OK;
    wg_build_enter_plugin(build, build->lipschitz_plugin);
    build->network = "critic";
    wg_status s;
    if (lip->penalty_ctx) {
        const wg_penalty_context context = {.struct_size = sizeof context,
                                            .critic = critic,
                                            .real = real,
                                            .fake = fake,
                                            .real_scores = real_scores,
                                            .fake_scores = fake_scores};
        s = lip->penalty_ctx(build->lipschitz_state, build, &context, penalty);
    } else {
        s = lip->penalty(build->lipschitz_state, build, critic, real, fake, penalty);
    }
    wg_build_leave(build);
    return s;
}

wg_status wg_build_critic_loss(wg_build *build, const wg_plugin *loss, void *state,
                               wg_node real_scores, wg_node fake_scores, wg_node *out) {
    wg_build_enter_plugin(build, loss);
    wg_status s = loss->vt.loss.critic_loss(state, build, real_scores, fake_scores, out);
    wg_build_leave(build);
    return s;
}

wg_status wg_build_generator_loss(wg_build *build, const wg_plugin *loss, void *state,
                                  wg_node real_scores, wg_node fake_scores, wg_node *out) {
    const wg_loss_vtable *vt = &loss->vt.loss;
    wg_build_enter_plugin(build, loss);
    wg_status s;
    if (vt->generator_loss_ctx) {
        const wg_generator_loss_context context = {
            .struct_size = sizeof context, .real_scores = real_scores, .fake_scores = fake_scores};
        s = vt->generator_loss_ctx(state, build, &context, out);
    } else {
        s = vt->generator_loss(state, build, fake_scores, out);
    }
    wg_build_leave(build);
    return s;
}

/* ---- what plugins call ---- */

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
    if (!name || !*name ||
        snprintf(full, sizeof full, "%s.%s", build->network, name) >= (int)sizeof full) {
        build_fail(build, wg_fail(WG_ERR_INVALID, "%s variable name '%.60s' is %s", build->network,
                                  name ? name : "(null)", name && *name ? "too long" : "empty"));
        return -1;
    }
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
    wg_node weight = e->node, used = WG_NONE;
    /* draws of the hook are keyed by the weight: "<...>/lipschitz.<name>/<weight>/<draw>" */
    wg_build_enter_plugin(build, build->lipschitz_plugin);
    wg_build_enter(build, short_name);
    wg_status status =
        build->lipschitz->reparametrize(build->lipschitz_state, build, short_name, weight, &used);
    wg_build_leave(build);
    wg_build_leave(build);
    /* the hook may have grown the registry: re-read nothing through `e` */
    if (status != WG_OK) {
        build_fail(build, status);
        return WG_NONE;
    }
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
    if (!name || !*name || strlen(name) >= WG_BUILD_METRIC_NAME) {
        build_fail(build, wg_fail(WG_ERR_INVALID, "metric name '%.60s' is %s (1 to %d characters)",
                                  name ? name : "(null)", name && *name ? "too long" : "empty",
                                  WG_BUILD_METRIC_NAME - 1));
        return;
    }
    if (build->n_metrics == WG_BUILD_MAX_METRICS) {
        build_fail(build, wg_fail(WG_ERR_INVALID, "more than %d metrics in one step",
                                  WG_BUILD_MAX_METRICS));
        return;
    }
    wg_build_metric *m = &build->metrics[build->n_metrics++];
    memcpy(m->name, name, strlen(name) + 1);
    m->node = value;
}

/* ---- dropout in the critic (ABI 2.1) ---- */

wg_status wg_build_apply_critic_dropout(wg_build *build, const wg_critic_fn *critic, double rate,
                                        wg_node x, wg_node *score, wg_node *features) {
    if (features) *features = WG_NONE;
    if (!(rate >= 0 && rate < 1))
        return wg_fail(WG_ERR_INVALID, "dropout rate %g is not in [0, 1)", rate);
    double outer_rate = build->dropout;
    wg_node outer_features = build->features;
    build->dropout = rate;
    build->features = WG_NONE;
    wg_status s = critic->apply(critic->self, build, x, score);
    if (features) *features = build->features;
    build->dropout = outer_rate;
    build->features = outer_features;
    return s;
}

wg_node wg_build_dropout(wg_build *build, const char *name, wg_node x) {
    if (build->dropout <= 0 || x == WG_NONE) return x;
    wg_graph *g = build->graph;
    wg_node u = wg_random_uniform(g, name, wg_node_shape(g, x), 0, 1);
    wg_node keep = wg_step(g, wg_add_scalar(g, u, -build->dropout));
    return wg_mul(g, x, wg_scale(g, keep, 1 / (1 - build->dropout)));
}

void wg_build_critic_features(wg_build *build, wg_node h) {
    build->features = h;
}
