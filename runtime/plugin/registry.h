/* Every variable an experiment creates (parameters, optimizer-free network state),
 * with its full name, role and initialiser, so the runtime can initialise, train,
 * checkpoint and restore them by name. */
#ifndef WGAN_REGISTRY_H
#define WGAN_REGISTRY_H

#include <stdint.h>

#include "wgan/plugin.h"
#include "wgan/session.h"

typedef struct wg_variable_entry {
    char *name; /* "<network>.<name>", e.g. "critic.fc1.weight" */
    wg_node node;
    wg_init init;
    wg_param_role role;
    int trainable; /* parameters: 1; state (running stats, u vectors): 0 */
} wg_variable_entry;

typedef struct wg_registry {
    wg_variable_entry *entries;
    int count, capacity;
} wg_registry;

void wg_registry_free(wg_registry *registry);
/* Index of the entry with `name`, or -1. */
int wg_registry_find(const wg_registry *registry, const char *name);
/* Adds an entry; returns its index or -1 (message set) when out of memory. */
int wg_registry_add(wg_registry *registry, const char *name, wg_node node, wg_init init,
                    wg_param_role role, int trainable);
/* Writes every variable's initial value into the session, drawn on the host with the
 * variable's full name as key ("critic.fc1.weight"), so it depends neither on the
 * device nor on which other variables exist or in what order they were made. */
wg_status wg_registry_initialize(const wg_registry *registry, wg_session *session, uint64_t seed);
/* Element i of a host-side draw from `init`, with the same Philox mapping as the
 * devices' random ops, from `stream` (wg_philox_stream of the draw's key) at
 * WG_PHILOX_HOST_STEP. */
double wg_host_draw(const wg_init *init, uint64_t stream, uint64_t i, uint64_t seed);
/* The key of the fixed noise behind the pictures of a run. */
#define WG_SAMPLE_NOISE_KEY "samples/z"

/* Nodes of the trainable parameters whose name starts with "<network>.". */
int wg_registry_params(const wg_registry *registry, const char *network, wg_node *out, int max);

#endif
