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
/* Writes every variable's initial value into the session, drawn on the host from a
 * Philox stream keyed by `seed` and the variable's position, so it does not depend on
 * the device. */
wg_status wg_registry_initialize(const wg_registry *registry, wg_session *session, uint64_t seed);
/* Element i of a host-side draw from `init`, with the same Philox mapping as the
 * devices' random ops; streams below WG_SAMPLE_NOISE_STREAM are the variables'. */
double wg_host_draw(const wg_init *init, uint32_t stream, uint64_t i, uint64_t seed);
#define WG_SAMPLE_NOISE_STREAM 0xFFFFFFFFu

/* Nodes of the trainable parameters whose name starts with "<network>.". */
int wg_registry_params(const wg_registry *registry, const char *network, wg_node *out, int max);

#endif
