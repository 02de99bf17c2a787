#include "instance.h"

#include <stddef.h>

wg_status wg_plugin_create(const wg_plugin *plugin, const wg_cfg *config, uint64_t seed,
                           wg_shape sample_shape, void **state) {
    *state = NULL;
    wg_status s = WG_OK;
    switch (plugin->kind) {
    case WG_PLUGIN_LIPSCHITZ:
        if (plugin->vt.lipschitz.create) s = plugin->vt.lipschitz.create(config, state);
        break;
    case WG_PLUGIN_LOSS:
        if (plugin->vt.loss.create) s = plugin->vt.loss.create(config, state);
        break;
    case WG_PLUGIN_ARCH:
        if (plugin->vt.arch.create) s = plugin->vt.arch.create(config, sample_shape, state);
        break;
    case WG_PLUGIN_DATA:
        if (plugin->vt.data.create) s = plugin->vt.data.create(config, seed, state);
        break;
    }
    if (s != WG_OK) *state = NULL;
    return s;
}

void wg_plugin_destroy(const wg_plugin *plugin, void *state) {
    void (*destroy)(void *) = NULL;
    switch (plugin->kind) {
    case WG_PLUGIN_LIPSCHITZ: destroy = plugin->vt.lipschitz.destroy; break;
    case WG_PLUGIN_LOSS: destroy = plugin->vt.loss.destroy; break;
    case WG_PLUGIN_ARCH: destroy = plugin->vt.arch.destroy; break;
    case WG_PLUGIN_DATA: destroy = plugin->vt.data.destroy; break;
    }
    if (destroy && state) destroy(state);
}
