/* The state behind wg_build while the runtime traces a step graph: which trace and
 * network is being built, who is drawing random numbers (the key scope), the registry
 * that parameters come from, the Lipschitz strategy that may reparametrise critic
 * weights, and the updates and metrics the step collects. */
#ifndef WGAN_BUILD_H
#define WGAN_BUILD_H

#include "loader.h"
#include "registry.h"
#include "wgan/plugin.h"

#define WG_BUILD_MAX_METRICS 16
#define WG_BUILD_METRIC_NAME 48
#define WG_BUILD_MAX_DEPTH 16
#define WG_BUILD_MAX_SCOPE 512

typedef struct wg_build_metric {
    char name[WG_BUILD_METRIC_NAME];
    wg_node node;
} wg_build_metric;

/* One level of the key scope: entered for each call into a plugin or network. */
typedef struct wg_build_level {
    size_t scope_length;     /* of the scope before this level was entered */
    const char *network;     /* the network being built before it */
    int generators, critics; /* applications of each network made directly inside it */
} wg_build_level;

struct wg_build {
    wg_graph *graph;
    wg_registry *registry;
    const char *network; /* "generator" or "critic" */
    int64_t batch;
    /* Random draws are keyed "<scope>/<name>": the trace ("critic_step"), then one
     * component per call the runtime makes into a plugin ("lipschitz.gradient_penalty")
     * or a network ("critic.2": its second application at that level). */
    char scope[WG_BUILD_MAX_SCOPE];
    wg_build_level levels[WG_BUILD_MAX_DEPTH];
    int depth;
    /* Critic weights pass through the strategy's reparametrize hook, once per step
     * graph: the cache maps a registry index to the node the forward pass uses. */
    const wg_plugin *lipschitz_plugin;
    const wg_lipschitz_vtable *lipschitz;
    void *lipschitz_state;
    wg_node *used;
    int used_capacity;
    wg_node *updates;
    int n_updates, updates_capacity;
    /* wg_build_apply_critic_dropout: the rate the critic being applied drops with (0
     * otherwise) and the second-to-last layer it reported */
    double dropout;
    wg_node features;
    wg_build_metric metrics[WG_BUILD_MAX_METRICS];
    int n_metrics;
    wg_status status; /* first failure inside a wg_build_* call, message in error */
    char error[512];
};

/* Starts tracing one step graph. `trace` names it and prefixes the keys of its random
 * draws ("critic_step"): every trace into one graph needs its own. `lipschitz` (the
 * strategy whose hooks the trace calls) may be NULL. */
void wg_build_begin(wg_build *build, wg_graph *graph, wg_registry *registry, const char *trace,
                    int64_t batch, const wg_plugin *lipschitz, void *lipschitz_state);
void wg_build_set_network(wg_build *build, const char *network);
/* Frees the trace's bookkeeping (not the graph or the registry) and clears the graph's
 * key scope. */
void wg_build_end(wg_build *build);
/* WG_OK, or the first failure of a hook or of the graph, with its message set. */
wg_status wg_build_check(const wg_build *build);

/* Enters a level of the key scope named `owner` ("loss.wasserstein", a weight's
 * name); every enter needs its wg_build_leave. */
void wg_build_enter(wg_build *build, const char *owner);
/* Enters "<kind>.<name>" of a plugin. */
void wg_build_enter_plugin(wg_build *build, const wg_plugin *plugin);
/* Enters "<network>.<n>", the n-th application (from 1) of "generator" or "critic"
 * at the current level, and makes it the network being built. */
void wg_build_enter_network(wg_build *build, const char *network);
/* Back to the level (and network) before the matching enter. */
void wg_build_leave(wg_build *build);

/* The loss plugin's hooks, each inside the plugin's key scope. The generator loss goes
 * through generator_loss_ctx when the plugin has it (wg_loss_wants_real_scores), else
 * through generator_loss, which never sees `real_scores` (WG_NONE is fine then). */
wg_status wg_build_critic_loss(wg_build *build, const wg_plugin *loss, void *state,
                               wg_node real_scores, wg_node fake_scores, wg_node *out);
wg_status wg_build_generator_loss(wg_build *build, const wg_plugin *loss, void *state,
                                  wg_node real_scores, wg_node fake_scores, wg_node *out);
/* Whether the loss's generator loss reads the critic's scores on real data. */
static inline bool wg_loss_wants_real_scores(const wg_plugin *loss) {
    return loss->vt.loss.generator_loss_ctx != NULL;
}
/* The strategy's penalty for the critic step being traced, through whichever penalty
 * hook it has (NULL *penalty when it has none), inside its own key scope and with
 * "critic" as the network. */
wg_status wg_build_penalty(wg_build *build, const wg_critic_fn *critic, wg_node real, wg_node fake,
                           wg_node real_scores, wg_node fake_scores, wg_node *penalty);

#endif
