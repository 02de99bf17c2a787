/* A plugin's state, made and released the same way for every kind: `create` and
 * `destroy` are optional (stateless plugins have neither), and a failed `create`
 * leaves no state, so `destroy` never sees what a failing `create` made. */
#ifndef WGAN_PLUGIN_INSTANCE_H
#define WGAN_PLUGIN_INSTANCE_H

#include "loader.h"

/* *state: the plugin's state, NULL without `create` and after a failure. `seed` is
 * for data plugins, `sample_shape` for arch plugins; the others ignore them. */
wg_status wg_plugin_create(const wg_plugin *plugin, const wg_cfg *config, uint64_t seed,
                           wg_shape sample_shape, void **state);
/* Calls `destroy` when the plugin has one and `state` is not NULL. */
void wg_plugin_destroy(const wg_plugin *plugin, void *state);

#endif
