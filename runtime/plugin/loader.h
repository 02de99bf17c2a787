/* The plugin registry: finds plugin shared objects on the search path, loads them,
 * validates every descriptor against the ABI this runtime speaks, and looks plugins up
 * by kind and name.
 *
 * Search path, first match wins: every folder of WGAN_PLUGIN_PATH (colon-separated, the
 * user's folders), then the built-in plugins' folder: the build tree's when running from
 * one, else the installed one (search_path.h).
 *
 * A run loads only what it names (wg_plugins_resolve): file names are the index, so
 * `loss` plugin `hinge` is wgan_loss_hinge.so in the first folder that has one. Only
 * when no folder has that file are the other `*.so` files probed, each in a child
 * process (probe.h), and the one that declares the plugin is loaded. `wgan plugins`
 * lists everything (wg_plugins_load): every file is probed in a child first, so one
 * that crashes, hangs or exits while loading becomes a diagnostic instead of the end
 * of the process.
 *
 * Every pointer a descriptor holds is checked to lie in a loaded library before it is
 * followed. A file that cannot be used (not loadable, no entry point, another ABI, a
 * malformed descriptor) becomes a diagnostic naming the file and the reason, and
 * loading goes on; so does a plugin whose kind and name an earlier one already took
 * (shadowed). A user's plugin with the name of a built-in one is refused unless
 * WGAN_PLUGIN_OVERRIDE names it. Plugin files or folders that others can write are
 * reported as warnings. */
#ifndef WGAN_PLUGIN_LOADER_H
#define WGAN_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stdio.h>

#include "wgan/plugin.h"

#define WG_PLUGIN_PATH_ENV "WGAN_PLUGIN_PATH"
/* Plugin names ("weight_clip" or "lipschitz.weight_clip", comma-separated) that may
 * replace the built-in plugin of the same name. */
#define WG_PLUGIN_OVERRIDE_ENV "WGAN_PLUGIN_OVERRIDE"
/* Longest plugin name, its NUL included. */
#define WG_PLUGIN_MAX_NAME 64
/* A SHA-256 in hex, its NUL included. */
#define WG_PLUGIN_SHA256_HEX 65

/* One accepted plugin. The vtable is the runtime's own copy: the bytes the plugin
 * declared through its struct_size, zeros after, so a plugin built against an older
 * minor version reads as having none of the optional hooks it did not know about. */
typedef struct wg_plugin {
    wg_plugin_kind kind;
    const char *name;
    const char *summary; /* "" when the plugin gave none */
    const char *path;    /* the shared object it came from */
    bool builtin;        /* from one of the built-in folders */
    unsigned abi_major, abi_minor;
    union {
        wg_lipschitz_vtable lipschitz;
        wg_loss_vtable loss;
        wg_arch_vtable arch;
        wg_data_vtable data;
    } vt;
} wg_plugin;

typedef struct wg_plugins wg_plugins;

/* A registry over the search path described above that loads nothing yet: plugins are
 * loaded as wg_plugins_resolve asks for them. Fails only when out of memory. */
wg_status wg_plugins_open(wg_plugins **out);
/* Same, from exactly these folders in this order (NULL entries are skipped), all of
 * them the user's. */
wg_status wg_plugins_open_dirs(int count, const char *const *dirs, wg_plugins **out);
/* Probes and loads every plugin on the search path. Fails only when out of memory:
 * unusable files end up in the diagnostics. */
wg_status wg_plugins_load(wg_plugins **out);
/* Same, from exactly these folders (all of them the user's). */
wg_status wg_plugins_load_dirs(int count, const char *const *dirs, wg_plugins **out);
void wg_plugins_free(wg_plugins *plugins);

/* The folders searched, in order, as given (missing ones included). */
int wg_plugins_dir_count(const wg_plugins *plugins);
const char *wg_plugins_dir(const wg_plugins *plugins, int index);

/* Accepted plugins; after wg_plugins_load sorted by kind, then name. */
int wg_plugins_count(const wg_plugins *plugins);
const wg_plugin *wg_plugins_at(const wg_plugins *plugins, int index);

/* "path: reason" for every file or descriptor that was rejected or shadowed, in the
 * order found. */
int wg_plugins_diagnostic_count(const wg_plugins *plugins);
const char *wg_plugins_diagnostic(const wg_plugins *plugins, int index);
/* Plugin files and folders of loaded plugins that others can write to. */
int wg_plugins_warning_count(const wg_plugins *plugins);
const char *wg_plugins_warning(const wg_plugins *plugins, int index);

/* The plugin of `kind` called `name`, or NULL with WG_ERR_CONFIG and a message that
 * lists the known names of that kind. */
wg_status wg_plugins_find(const wg_plugins *plugins, wg_plugin_kind kind, const char *name,
                          const wg_plugin **out);

/* The plugin of `kind` called `name`, loading it when needed (see above): by file name,
 * else by probing the other files. WG_ERR_CONFIG when there is none, listing the known
 * names and every file that was turned down with its reason; also when a user's plugin
 * has a built-in one's name and WGAN_PLUGIN_OVERRIDE does not name it. The pointer
 * stays valid until wg_plugins_free. */
wg_status wg_plugins_resolve(wg_plugins *plugins, wg_plugin_kind kind, const char *name,
                             const wg_plugin **out);
/* The plugin of `kind` called `name` from exactly the file `path` (a run folder's
 * record), loaded when needed; WG_ERR_CONFIG when the file does not provide it. */
wg_status wg_plugins_resolve_file(wg_plugins *plugins, wg_plugin_kind kind, const char *name,
                                  const char *path, const wg_plugin **out);

/* The SHA-256 of a file, in lower-case hex. */
wg_status wg_plugin_file_sha256(const char *path, char hex[WG_PLUGIN_SHA256_HEX]);

/* "lipschitz", "loss", "arch", "data"; "?" for anything else. */
const char *wg_plugin_kind_name(wg_plugin_kind kind);
/* Parses a kind name; WG_ERR_INVALID naming the accepted ones otherwise. */
wg_status wg_plugin_kind_parse(const char *name, wg_plugin_kind *out);

#endif
