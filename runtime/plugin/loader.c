#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef WGAN_BUILD_PLUGIN_DIR
#define WGAN_BUILD_PLUGIN_DIR ""
#endif
#ifndef WGAN_INSTALL_PLUGIN_DIR
#define WGAN_INSTALL_PLUGIN_DIR ""
#endif

/* A plugin never legitimately hands back more descriptors than this; a larger count
 * is garbage from a broken entry point. */
#define MAX_DESCRIPTORS 256

/* ---- what the runtime knows about each kind's vtable ---- */

typedef struct required_fn {
    size_t offset;
    const char *name;
} required_fn;

typedef struct kind_info {
    wg_plugin_kind kind;
    const char *name;
    size_t size; /* this runtime's sizeof the vtable */
    int n_required;
    required_fn required[6];
} kind_info;

#define REQUIRED(type, field)                                                                      \
    { offsetof(type, field), #field }

/* create and destroy are optional for every kind (ABI 1.2): stateless plugins omit them. */
static const kind_info kinds[] = {
    {WG_PLUGIN_LIPSCHITZ, "lipschitz", sizeof(wg_lipschitz_vtable), 0, {{0, NULL}}},
    {WG_PLUGIN_LOSS,
     "loss",
     sizeof(wg_loss_vtable),
     2,
     {REQUIRED(wg_loss_vtable, critic_loss), REQUIRED(wg_loss_vtable, generator_loss)}},
    {WG_PLUGIN_ARCH,
     "arch",
     sizeof(wg_arch_vtable),
     3,
     {REQUIRED(wg_arch_vtable, noise_dim), REQUIRED(wg_arch_vtable, generator),
      REQUIRED(wg_arch_vtable, critic)}},
    {WG_PLUGIN_DATA,
     "data",
     sizeof(wg_data_vtable),
     2,
     {REQUIRED(wg_data_vtable, sample_shape), REQUIRED(wg_data_vtable, batch)}},
};
#define N_KINDS ((int)(sizeof kinds / sizeof *kinds))

typedef void (*any_fn)(void);

static const kind_info *kind_lookup(wg_plugin_kind kind) {
    for (int i = 0; i < N_KINDS; i++)
        if (kinds[i].kind == kind) return &kinds[i];
    return NULL;
}

/* The smallest vtable that holds every required function. */
static size_t min_vtable_size(const kind_info *k) {
    size_t size = 0;
    for (int i = 0; i < k->n_required; i++)
        if (k->required[i].offset + sizeof(any_fn) > size)
            size = k->required[i].offset + sizeof(any_fn);
    return size;
}

/* Every field of ABI 1.0's descriptor is needed, the vtable pointer last. */
#define MIN_DESC_SIZE (offsetof(wg_plugin_desc, vtable) + sizeof(const void *))

const char *wg_plugin_kind_name(wg_plugin_kind kind) {
    const kind_info *k = kind_lookup(kind);
    return k ? k->name : "?";
}

wg_status wg_plugin_kind_parse(const char *name, wg_plugin_kind *out) {
    for (int i = 0; i < N_KINDS; i++)
        if (name && strcmp(name, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return WG_OK;
        }
    return wg_fail(WG_ERR_INVALID, "unknown plugin kind '%s'; known: lipschitz, loss, arch, data",
                   name ? name : "(null)");
}

/* ---- the registry ---- */

typedef struct loaded_file {
    char *path;
    char *real; /* realpath, to load a file reached twice only once */
    void *handle;
} loaded_file;

struct wg_plugins {
    char **dirs;
    int n_dirs;
    loaded_file *files;
    int n_files, files_capacity;
    wg_plugin *plugins;
    int count, capacity;
    char **diagnostics;
    int n_diagnostics, diagnostics_capacity;
    bool out_of_memory;
};

/* Grows *items (of `size` bytes each) to hold one more; false when out of memory. */
static bool grow(void **items, int count, int *capacity, size_t size) {
    if (count < *capacity) return true;
    int wanted = *capacity ? 2 * *capacity : 16;
    void *grown = realloc(*items, (size_t)wanted * size);
    if (!grown) return false;
    *items = grown;
    *capacity = wanted;
    return true;
}

static void diagnose(wg_plugins *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void diagnose(wg_plugins *p, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *copy = strdup(line);
    if (!copy || !grow((void **)&p->diagnostics, p->n_diagnostics, &p->diagnostics_capacity,
                       sizeof *p->diagnostics)) {
        free(copy);
        p->out_of_memory = true;
        return;
    }
    p->diagnostics[p->n_diagnostics++] = copy;
}

static const wg_plugin *find(const wg_plugins *p, wg_plugin_kind kind, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (p->plugins[i].kind == kind && strcmp(p->plugins[i].name, name) == 0)
            return &p->plugins[i];
    return NULL;
}

/* Checks one descriptor; on success fills *out (path not set). On failure returns
 * false with the reason in `why`. */
static bool validate(const wg_plugin_desc *raw, wg_plugin *out, char *why, size_t why_size) {
    if (!raw) {
        snprintf(why, why_size, "NULL descriptor");
        return false;
    }
    /* abi_major, abi_minor and struct_size lead every version of the descriptor */
    if (raw->abi_major != WG_PLUGIN_ABI_MAJOR || raw->abi_minor > WG_PLUGIN_ABI_MINOR) {
        snprintf(why, why_size, "built for plugin ABI %u.%u, this wgan speaks %d.%d",
                 (unsigned)raw->abi_major, (unsigned)raw->abi_minor, WG_PLUGIN_ABI_MAJOR,
                 WG_PLUGIN_ABI_MINOR);
        return false;
    }
    if (raw->struct_size < MIN_DESC_SIZE) {
        snprintf(why, why_size,
                 "descriptor struct_size %u is smaller than the %zu bytes plugin ABI %u.%u "
                 "needs",
                 (unsigned)raw->struct_size, MIN_DESC_SIZE, (unsigned)raw->abi_major,
                 (unsigned)raw->abi_minor);
        return false;
    }
    wg_plugin_desc desc = {0};
    memcpy(&desc, raw, raw->struct_size < sizeof desc ? raw->struct_size : sizeof desc);

    const kind_info *k = kind_lookup(desc.kind);
    if (!k) {
        snprintf(why, why_size, "unknown plugin kind %d", (int)desc.kind);
        return false;
    }
    if (!desc.name || !desc.name[0]) {
        snprintf(why, why_size, "%s plugin without a name", k->name);
        return false;
    }
    if (!desc.vtable) {
        snprintf(why, why_size, "%s plugin '%s' has no vtable", k->name, desc.name);
        return false;
    }
    uint32_t vsize;
    memcpy(&vsize, desc.vtable, sizeof vsize);
    if (vsize < min_vtable_size(k)) {
        snprintf(why, why_size,
                 "%s plugin '%s': vtable struct_size %u is smaller than the %zu bytes its "
                 "required functions need",
                 k->name, desc.name, (unsigned)vsize, min_vtable_size(k));
        return false;
    }
    memset(out, 0, sizeof *out); /* the whole union, not only its first member */
    out->kind = desc.kind;
    out->name = desc.name;
    out->summary = desc.summary ? desc.summary : "";
    out->abi_major = desc.abi_major;
    out->abi_minor = desc.abi_minor;
    memcpy(&out->vt, desc.vtable, vsize < k->size ? vsize : k->size);
    for (int i = 0; i < k->n_required; i++) {
        any_fn fn;
        memcpy(&fn, (const char *)&out->vt + k->required[i].offset, sizeof fn);
        if (!fn) {
            snprintf(why, why_size, "%s plugin '%s': required function '%s' is NULL", k->name,
                     desc.name, k->required[i].name);
            return false;
        }
    }
    return true;
}

/* dlerror() usually starts with the path, which the diagnostic already names. */
static const char *without_path(const char *message, const char *path) {
    size_t n = strlen(path);
    if (strncmp(message, path, n) == 0 && message[n] == ':') {
        message += n + 1;
        while (*message == ' ') message++;
    }
    return message;
}

static void load_file(wg_plugins *p, const char *path) {
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    for (int i = 0; i < p->n_files; i++)
        if (strcmp(p->files[i].real, real) == 0) return; /* reached again through a link */

    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *err = dlerror();
        diagnose(p, "%s: dlopen: %s", path, err ? without_path(err, path) : "failed");
        return;
    }
    for (int i = 0; i < p->n_files; i++)
        if (p->files[i].handle == handle) { /* the same object under another name */
            dlclose(handle);
            return;
        }

    dlerror();
    void *symbol = dlsym(handle, WG_PLUGIN_ENTRY_NAME);
    if (!symbol) {
        diagnose(p, "%s: no %s symbol (not a wgan plugin?)", path, WG_PLUGIN_ENTRY_NAME);
        dlclose(handle);
        return;
    }
    wg_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry); /* object to function pointer, as POSIX allows */
    int n = 0;
    const wg_plugin_desc *const *list = entry(&n);
    if (!list || n <= 0 || n > MAX_DESCRIPTORS) {
        diagnose(p, "%s: %s returned %d descriptors", path, WG_PLUGIN_ENTRY_NAME, list ? n : 0);
        dlclose(handle);
        return;
    }

    loaded_file file = {strdup(path), strdup(real), handle};
    if (!file.path || !file.real ||
        !grow((void **)&p->files, p->n_files, &p->files_capacity, sizeof *p->files)) {
        free(file.path);
        free(file.real);
        dlclose(handle);
        p->out_of_memory = true;
        return;
    }

    int accepted = 0;
    for (int i = 0; i < n; i++) {
        wg_plugin plugin;
        char why[512];
        if (!validate(list[i], &plugin, why, sizeof why)) {
            diagnose(p, "%s: %s", path, why);
            continue;
        }
        const wg_plugin *earlier = find(p, plugin.kind, plugin.name);
        if (earlier) {
            diagnose(p, "%s: %s plugin '%s' is shadowed by %s", path,
                     wg_plugin_kind_name(plugin.kind), plugin.name, earlier->path);
            continue;
        }
        if (!grow((void **)&p->plugins, p->count, &p->capacity, sizeof *p->plugins)) {
            p->out_of_memory = true;
            break;
        }
        plugin.path = file.path;
        p->plugins[p->count++] = plugin;
        accepted++;
    }
    if (!accepted) {
        free(file.path);
        free(file.real);
        dlclose(handle);
        return;
    }
    p->files[p->n_files++] = file;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_plugin_file(const char *dir, const char *name, char *path, size_t size) {
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 3, ".so") != 0) return false;
    if ((size_t)snprintf(path, size, "%s/%s", dir, name) >= size) return false;
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Loads the folder's `*.so` files in name order. A folder the user named that cannot
 * be read is worth a diagnostic; a default one (no install yet) is not. */
static void load_dir(wg_plugins *p, const char *dir, bool named_by_user) {
    DIR *d = opendir(dir);
    if (!d) {
        if (named_by_user) diagnose(p, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    int n = 0, capacity = 0;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d))) {
        if (!is_plugin_file(dir, e->d_name, path, sizeof path)) continue;
        char *copy = strdup(e->d_name);
        if (!copy || !grow((void **)&names, n, &capacity, sizeof *names)) {
            free(copy);
            p->out_of_memory = true;
            break;
        }
        names[n++] = copy;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_file(p, path);
        free(names[i]);
    }
    free(names);
}

static int compare_plugins(const void *a, const void *b) {
    const wg_plugin *x = a, *y = b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return strcmp(x->name, y->name);
}

static wg_status load(int count, const char *const *dirs, int n_user, wg_plugins **out) {
    *out = NULL;
    wg_plugins *p = calloc(1, sizeof *p);
    if (!p || (count && !(p->dirs = calloc((size_t)count, sizeof *p->dirs)))) {
        free(p);
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    for (int i = 0; i < count; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        if (!(p->dirs[p->n_dirs++] = strdup(dirs[i]))) p->out_of_memory = true;
    }
    for (int i = 0; i < p->n_dirs && !p->out_of_memory; i++) load_dir(p, p->dirs[i], i < n_user);
    if (p->out_of_memory) {
        wg_plugins_free(p);
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    if (p->count) qsort(p->plugins, (size_t)p->count, sizeof *p->plugins, compare_plugins);
    *out = p;
    return WG_OK;
}

wg_status wg_plugins_load_dirs(int count, const char *const *dirs, wg_plugins **out) {
    return load(count, dirs, count, out);
}

wg_status wg_plugins_load(wg_plugins **out) {
    const char *env = getenv(WG_PLUGIN_PATH_ENV);
    char *list = strdup(env ? env : "");
    if (!list) return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    int n = 2;
    for (const char *c = list; *c; c++) n += *c == ':';
    const char **dirs = calloc((size_t)n + 1, sizeof *dirs);
    if (!dirs) {
        free(list);
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    int count = 0;
    if (list[0]) {
        char *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
            dirs[count++] = dir;
    }
    int n_user = count;
    dirs[count++] = WGAN_BUILD_PLUGIN_DIR;
    dirs[count++] = WGAN_INSTALL_PLUGIN_DIR;
    wg_status status = load(count, dirs, n_user, out);
    free(dirs);
    free(list);
    return status;
}

void wg_plugins_free(wg_plugins *p) {
    if (!p) return;
    for (int i = 0; i < p->n_files; i++) {
        dlclose(p->files[i].handle);
        free(p->files[i].path);
        free(p->files[i].real);
    }
    for (int i = 0; i < p->n_dirs; i++) free(p->dirs[i]);
    for (int i = 0; i < p->n_diagnostics; i++) free(p->diagnostics[i]);
    free(p->files);
    free(p->dirs);
    free(p->plugins);
    free(p->diagnostics);
    free(p);
}

int wg_plugins_dir_count(const wg_plugins *p) {
    return p->n_dirs;
}
const char *wg_plugins_dir(const wg_plugins *p, int index) {
    return p->dirs[index];
}
int wg_plugins_count(const wg_plugins *p) {
    return p->count;
}
const wg_plugin *wg_plugins_at(const wg_plugins *p, int index) {
    return &p->plugins[index];
}
int wg_plugins_diagnostic_count(const wg_plugins *p) {
    return p->n_diagnostics;
}
const char *wg_plugins_diagnostic(const wg_plugins *p, int index) {
    return p->diagnostics[index];
}

wg_status wg_plugins_find(const wg_plugins *p, wg_plugin_kind kind, const char *name,
                          const wg_plugin **out) {
    *out = find(p, kind, name ? name : "");
    if (*out) return WG_OK;
    char known[768] = "";
    size_t used = 0;
    for (int i = 0; i < p->count && used < sizeof known; i++) {
        if (p->plugins[i].kind != kind) continue;
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                 p->plugins[i].name);
    }
    const char *kind_name = wg_plugin_kind_name(kind);
    if (!known[0])
        return wg_fail(WG_ERR_CONFIG,
                       "unknown %s plugin '%s'; no %s plugins were found on the plugin path "
                       "(see `wgan plugins`)",
                       kind_name, name ? name : "", kind_name);
    return wg_fail(WG_ERR_CONFIG, "unknown %s plugin '%s'; known: %s", kind_name, name ? name : "",
                   known);
}
