/* The plugin registry: finds plugin shared objects on the search path, loads them,
 * validates every descriptor against the ABI this runtime speaks, and looks plugins up
 * by kind and name.
 *
 * Search path, first match wins: every folder of WGAN_PLUGIN_PATH (colon-separated),
 * then the built-in plugins' folder: the build tree's when running from one, else the
 * installed one (search_path.h). Every `*.so` of a folder is loaded, in name order. A file that cannot be used (not loadable, no entry point,
 * another ABI, a malformed descriptor) becomes a diagnostic naming the file and the
 * reason, and loading goes on with the next one; so does a plugin whose kind and name
 * an earlier one already took (reported as shadowed). */
#ifndef WGAN_PLUGIN_LOADER_H
#define WGAN_PLUGIN_LOADER_H

#include <stdio.h>

#include "wgan/plugin.h"

#define WG_PLUGIN_PATH_ENV "WGAN_PLUGIN_PATH"

/* One accepted plugin. The vtable is the runtime's own copy: the bytes the plugin
 * declared through its struct_size, zeros after, so a plugin built against an older
 * minor version reads as having none of the optional hooks it did not know about. */
typedef struct wg_plugin {
    wg_plugin_kind kind;
    const char *name;
    const char *summary; /* "" when the plugin gave none */
    const char *path;    /* the shared object it came from */
    unsigned abi_major, abi_minor;
    union {
        wg_lipschitz_vtable lipschitz;
        wg_loss_vtable loss;
        wg_arch_vtable arch;
        wg_data_vtable data;
    } vt;
} wg_plugin;

typedef struct wg_plugins wg_plugins;

/* Loads every plugin on the search path described above. Fails only when out of
 * memory: unusable files end up in the diagnostics. */
wg_status wg_plugins_load(wg_plugins **out);
/* Same, from exactly these folders in this order (NULL entries are skipped). */
wg_status wg_plugins_load_dirs(int count, const char *const *dirs, wg_plugins **out);
void wg_plugins_free(wg_plugins *plugins);

/* The folders searched, in order, as given (missing ones included). */
int wg_plugins_dir_count(const wg_plugins *plugins);
const char *wg_plugins_dir(const wg_plugins *plugins, int index);

/* Accepted plugins, sorted by kind, then name. */
int wg_plugins_count(const wg_plugins *plugins);
const wg_plugin *wg_plugins_at(const wg_plugins *plugins, int index);

/* "path: reason" for every file or descriptor that was rejected or shadowed, in the
 * order found. */
int wg_plugins_diagnostic_count(const wg_plugins *plugins);
const char *wg_plugins_diagnostic(const wg_plugins *plugins, int index);

/* The plugin of `kind` called `name`, or NULL with WG_ERR_CONFIG and a message that
 * lists the known names of that kind. */
wg_status wg_plugins_find(const wg_plugins *plugins, wg_plugin_kind kind, const char *name,
                          const wg_plugin **out);

/* "lipschitz", "loss", "arch", "data"; "?" for anything else. */
const char *wg_plugin_kind_name(wg_plugin_kind kind);
/* Parses a kind name; WG_ERR_INVALID naming the accepted ones otherwise. */
wg_status wg_plugin_kind_parse(const char *name, wg_plugin_kind *out);

#endif
