#include "loader.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sha2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

#include "search_path.h"

/* A plugin never legitimately hands back more descriptors than this; a larger count
 * is garbage from a broken entry point. */
#define MAX_DESCRIPTORS 256

/* ---- what the runtime knows about each kind's vtable ---- */

typedef struct required_fn {
    size_t offset;
    const char *name;
    size_t instead; /* offset of a function that may replace it (0: none) */
} required_fn;

typedef struct kind_info {
    wg_plugin_kind kind;
    const char *name;
    size_t size;     /* this runtime's sizeof the vtable */
    size_t first_fn; /* offset of its first function, `create`: fields before are data */
    int n_required;
    required_fn required[6];
} kind_info;

#define REQUIRED(type, field)                                                                      \
    { offsetof(type, field), #field, 0 }
#define REQUIRED_UNLESS(type, field, other)                                                        \
    { offsetof(type, field), #field, offsetof(type, other) }

/* create and destroy are optional for every kind (ABI 1.2): stateless plugins omit them. */
static const kind_info kinds[] = {
    {WG_PLUGIN_LIPSCHITZ,
     "lipschitz",
     sizeof(wg_lipschitz_vtable),
     offsetof(wg_lipschitz_vtable, create),
     0,
     {{0, NULL, 0}}},
    {WG_PLUGIN_LOSS,
     "loss",
     sizeof(wg_loss_vtable),
     offsetof(wg_loss_vtable, create),
     2,
     {REQUIRED(wg_loss_vtable, critic_loss),
      REQUIRED_UNLESS(wg_loss_vtable, generator_loss, generator_loss_ctx)}},
    {WG_PLUGIN_ARCH,
     "arch",
     sizeof(wg_arch_vtable),
     offsetof(wg_arch_vtable, create),
     3,
     {REQUIRED(wg_arch_vtable, noise_dim), REQUIRED(wg_arch_vtable, generator),
      REQUIRED(wg_arch_vtable, critic)}},
    {WG_PLUGIN_DATA,
     "data",
     sizeof(wg_data_vtable),
     offsetof(wg_data_vtable, create),
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

/* What a child process found in a file that was probed rather than looked up by name. */
typedef struct probed_file {
    char *path;
    bool builtin;
    bool usable;  /* the probe completed */
    char *report; /* "P <kind> <name>\n" per accepted descriptor, "D <diagnostic>\n" */
} probed_file;

struct wg_plugins {
    char **dirs;
    int n_dirs, n_user; /* the first n_user folders are the user's, the others built-in */
    loaded_file *files;
    int n_files, files_capacity;
    wg_plugin **plugins; /* each allocated alone: callers keep pointers while more load */
    int count, capacity;
    char **diagnostics;
    int n_diagnostics, diagnostics_capacity;
    char **warnings;
    int n_warnings, warnings_capacity;
    probed_file *probed;
    int n_probed, probed_capacity;
    bool all_probed; /* every folder's files were probed once */
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

static void add_line(wg_plugins *p, char ***lines, int *count, int *capacity, const char *text) {
    for (int i = 0; i < *count; i++)
        if (!strcmp((*lines)[i], text)) return; /* a file reached again says nothing new */
    char *copy = strdup(text);
    if (!copy || !grow((void **)lines, *count, capacity, sizeof **lines)) {
        free(copy);
        p->out_of_memory = true;
        return;
    }
    (*lines)[(*count)++] = copy;
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
    add_line(p, &p->diagnostics, &p->n_diagnostics, &p->diagnostics_capacity, line);
}

static const wg_plugin *find(const wg_plugins *p, wg_plugin_kind kind, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (p->plugins[i]->kind == kind && strcmp(p->plugins[i]->name, name) == 0)
            return p->plugins[i];
    return NULL;
}

/* Whether [p, p + size) lies inside one loaded object's mapped segments: what a
 * descriptor, a vtable, a name or a function of the plugin must satisfy before it is
 * read or called. Catches NULL, small integers and pointers into freed or unmapped
 * memory; not a pointer into another library's data. */
static bool in_object(const void *p, size_t size) {
    Dl_info first, last;
    if (!p || !size || !dladdr(p, &first)) return false;
    if (size == 1) return true;
    return dladdr((const char *)p + size - 1, &last) && last.dli_fbase == first.dli_fbase;
}

/* A descriptor or vtable bigger than this is garbage, whatever its version. */
#define MAX_STRUCT_SIZE 4096
#define MAX_SUMMARY 512

/* A NUL within the first `max` bytes, every one of them in a loaded object. */
static bool mapped_string(const char *s, size_t max) {
    for (size_t n = 0; n < max; n++) {
        if (!in_object(s + n, 1)) return false;
        if (!s[n]) return true;
    }
    return false;
}

/* A name usable as a YAML value and in a file name: 1 to 63 letters, digits, '_', '-'
 * or '.', not starting with '.'. */
static bool usable_name(const char *name) {
    if (!name || !*name || strlen(name) >= WG_PLUGIN_MAX_NAME) return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("_-.", *c)) return false;
    return name[0] != '.';
}

static bool valid_name(const char *name) {
    return mapped_string(name, WG_PLUGIN_MAX_NAME) && usable_name(name);
}

/* Checks one descriptor; on success fills *out (path not set). On failure returns
 * false with the reason in `why`. Every pointer is checked to lie in a loaded object
 * before it is followed. */
static bool validate(const wg_plugin_desc *raw, wg_plugin *out, char *why, size_t why_size) {
    if (!raw) {
        snprintf(why, why_size, "NULL descriptor");
        return false;
    }
    if (!in_object(raw, 8)) {
        snprintf(why, why_size, "descriptor pointer %p is not in the library", (const void *)raw);
        return false;
    }
    /* abi_major, abi_minor and struct_size lead every version of the descriptor */
    if (raw->abi_major != WG_PLUGIN_ABI_MAJOR || raw->abi_minor > WG_PLUGIN_ABI_MINOR) {
        /* the kind and name where ABI 1 has them, when they read as such, so that the
         * plugin is named whatever its file is called */
        char who[WG_PLUGIN_MAX_NAME + 32] = "";
        if (in_object(raw, MIN_DESC_SIZE) && kind_lookup(raw->kind) && valid_name(raw->name))
            snprintf(who, sizeof who, "%s plugin '%s': ", kind_lookup(raw->kind)->name, raw->name);
        snprintf(why, why_size, "%sbuilt for plugin ABI %u.%u, this wgan speaks %d.%d", who,
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
    if (raw->struct_size > MAX_STRUCT_SIZE || !in_object(raw, raw->struct_size)) {
        snprintf(why, why_size, "descriptor struct_size %u reaches beyond the library",
                 (unsigned)raw->struct_size);
        return false;
    }
    wg_plugin_desc desc = {0};
    memcpy(&desc, raw, raw->struct_size < sizeof desc ? raw->struct_size : sizeof desc);

    const kind_info *k = kind_lookup(desc.kind);
    if (!k) {
        snprintf(why, why_size, "unknown plugin kind %d", (int)desc.kind);
        return false;
    }
    if (!desc.name || (in_object(desc.name, 1) && !desc.name[0])) {
        snprintf(why, why_size, "%s plugin without a name", k->name);
        return false;
    }
    if (!valid_name(desc.name)) {
        snprintf(why, why_size,
                 "%s plugin name is not a string of 1 to %d letters, digits, '_', '-' or '.' "
                 "in the library",
                 k->name, WG_PLUGIN_MAX_NAME - 1);
        return false;
    }
    if (desc.summary && !mapped_string(desc.summary, MAX_SUMMARY)) {
        snprintf(why, why_size, "%s plugin '%s': summary is not a string in the library", k->name,
                 desc.name);
        return false;
    }
    if (!desc.vtable) {
        snprintf(why, why_size, "%s plugin '%s' has no vtable", k->name, desc.name);
        return false;
    }
    uint32_t vsize = 0;
    if (in_object(desc.vtable, sizeof vsize)) memcpy(&vsize, desc.vtable, sizeof vsize);
    if (!vsize || vsize > MAX_STRUCT_SIZE || !in_object(desc.vtable, vsize)) {
        snprintf(why, why_size, "%s plugin '%s': vtable pointer %p is not a vtable in the library",
                 k->name, desc.name, desc.vtable);
        return false;
    }
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
        if (!fn && k->required[i].instead)
            memcpy(&fn, (const char *)&out->vt + k->required[i].instead, sizeof fn);
        if (!fn) {
            snprintf(why, why_size, "%s plugin '%s': required function '%s' is NULL", k->name,
                     desc.name, k->required[i].name);
            return false;
        }
    }
    /* every function the copy holds, optional ones included, must be in a loaded object */
    size_t copied = vsize < k->size ? vsize : k->size;
    for (size_t at = k->first_fn; at + sizeof(any_fn) <= copied; at += sizeof(any_fn)) {
        any_fn fn;
        memcpy(&fn, (const char *)&out->vt + at, sizeof fn);
        void *address;
        memcpy(&address, &fn, sizeof address);
        if (fn && !in_object(address, 1)) {
            snprintf(why, why_size,
                     "%s plugin '%s': function pointer %p at vtable offset %zu "
                     "is not in a loaded library",
                     k->name, desc.name, address, at);
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

/* ---- overrides and file permissions ---- */

/* Whether WGAN_PLUGIN_OVERRIDE names this plugin ("name" or "kind.name", separated by
 * commas), allowing it to take the place of a built-in one. */
static bool override_allowed(wg_plugin_kind kind, const char *name) {
    const char *env = getenv(WG_PLUGIN_OVERRIDE_ENV);
    if (!env) return false;
    char qualified[WG_PLUGIN_MAX_NAME + 16];
    snprintf(qualified, sizeof qualified, "%s.%s", wg_plugin_kind_name(kind), name);
    for (const char *item = env; *item;) {
        size_t n = strcspn(item, ", ");
        if ((n == strlen(name) && !strncmp(item, name, n)) ||
            (n == strlen(qualified) && !strncmp(item, qualified, n)))
            return true;
        item += n;
        while (*item == ',' || *item == ' ') item++;
    }
    return false;
}

static void warn_if_writable(wg_plugins *p, const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & (S_IWGRP | S_IWOTH))) return;
    char line[1024];
    snprintf(line, sizeof line,
             "%s %s is writable by %s: whoever can write it can run code in wgan", what, path,
             st.st_mode & S_IWOTH ? "everyone" : "its group");
    add_line(p, &p->warnings, &p->n_warnings, &p->warnings_capacity, line);
}

static void check_permissions(wg_plugins *p, const char *path) {
    warn_if_writable(p, path, "plugin file");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    warn_if_writable(p, dir, "plugin folder");
}

/* ---- loading one file in this process ---- */

/* Adds one accepted descriptor, keeping the first of each kind and name, except that
 * a built-in one is kept over a user's of the same name unless WGAN_PLUGIN_OVERRIDE
 * allows the user's, whichever was found first. */
static void accept(wg_plugins *p, wg_plugin *plugin) {
    wg_plugin *earlier = (wg_plugin *)find(p, plugin->kind, plugin->name);
    const char *kind = wg_plugin_kind_name(plugin->kind);
    if (earlier && earlier->builtin != plugin->builtin) {
        wg_plugin *user = earlier->builtin ? plugin : earlier;
        wg_plugin *builtin = earlier->builtin ? earlier : plugin;
        bool allowed = override_allowed(plugin->kind, plugin->name);
        if (allowed)
            diagnose(p, "%s: %s plugin '%s' is shadowed by %s", builtin->path, kind, plugin->name,
                     user->path);
        else
            diagnose(p,
                     "%s: %s plugin '%s' has the name of a built-in one (%s) and is not used; "
                     "set %s=%s to use it instead",
                     user->path, kind, plugin->name, builtin->path, WG_PLUGIN_OVERRIDE_ENV,
                     plugin->name);
        *earlier = allowed ? *user : *builtin;
        return;
    }
    if (earlier) {
        diagnose(p, "%s: %s plugin '%s' is shadowed by %s", plugin->path, kind, plugin->name,
                 earlier->path);
        return;
    }
    wg_plugin *copy = malloc(sizeof *copy);
    if (!copy || !grow((void **)&p->plugins, p->count, &p->capacity, sizeof *p->plugins)) {
        free(copy);
        p->out_of_memory = true;
        return;
    }
    *copy = *plugin;
    p->plugins[p->count++] = copy;
}

/* Whether the file, under this name or another, is loaded already. */
static bool loaded_already(const wg_plugins *p, const char *path, char real[PATH_MAX]) {
    if (!realpath(path, real)) snprintf(real, PATH_MAX, "%s", path);
    for (int i = 0; i < p->n_files; i++)
        if (strcmp(p->files[i].real, real) == 0) return true;
    return false;
}

/* dlopens `path` and accepts its valid descriptors; the number accepted. */
static int load_file(wg_plugins *p, const char *path, bool builtin) {
    char real[PATH_MAX];
    if (loaded_already(p, path, real)) return 0; /* reached again through a link */

    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *err = dlerror();
        diagnose(p, "%s: dlopen: %s", path, err ? without_path(err, path) : "failed");
        return 0;
    }
    for (int i = 0; i < p->n_files; i++)
        if (p->files[i].handle == handle) { /* the same object under another name */
            dlclose(handle);
            return 0;
        }

    dlerror();
    void *symbol = dlsym(handle, WG_PLUGIN_ENTRY_NAME);
    if (!symbol) {
        diagnose(p, "%s: no %s symbol (not a wgan plugin?)", path, WG_PLUGIN_ENTRY_NAME);
        dlclose(handle);
        return 0;
    }
    wg_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry); /* object to function pointer, as POSIX allows */
    int n = 0;
    const wg_plugin_desc *const *list = entry(&n);
    if (!list || n <= 0 || n > MAX_DESCRIPTORS || !in_object(list, (size_t)n * sizeof *list)) {
        diagnose(p, "%s: %s returned %d descriptors%s", path, WG_PLUGIN_ENTRY_NAME, list ? n : 0,
                 list && n > 0 && n <= MAX_DESCRIPTORS ? " outside the library" : "");
        dlclose(handle);
        return 0;
    }

    loaded_file file = {strdup(path), strdup(real), handle};
    if (!file.path || !file.real ||
        !grow((void **)&p->files, p->n_files, &p->files_capacity, sizeof *p->files)) {
        free(file.path);
        free(file.real);
        dlclose(handle);
        p->out_of_memory = true;
        return 0;
    }

    int accepted = 0;
    for (int i = 0; i < n && !p->out_of_memory; i++) {
        wg_plugin plugin;
        char why[512];
        if (!validate(list[i], &plugin, why, sizeof why)) {
            diagnose(p, "%s: %s", path, why);
            continue;
        }
        plugin.path = file.path;
        plugin.builtin = builtin;
        accept(p, &plugin);
        accepted++;
    }
    if (!accepted) {
        free(file.path);
        free(file.real);
        dlclose(handle);
        return 0;
    }
    p->files[p->n_files++] = file;
    check_permissions(p, path);
    return accepted;
}

/* ---- probing in a child process ---- */

static void write_all(int fd, const char *text) {
    for (size_t left = strlen(text); left;) {
        ssize_t n = write(fd, text, left);
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

/* In the child: loads the file as this process would and writes what it found. */
static void inspect(const char *path, int fd) {
    wg_plugins scratch = {0};
    load_file(&scratch, path, false);
    char line[1200];
    for (int i = 0; i < scratch.count; i++) {
        snprintf(line, sizeof line, "P %d %s\n", (int)scratch.plugins[i]->kind,
                 scratch.plugins[i]->name);
        write_all(fd, line);
    }
    for (int i = 0; i < scratch.n_diagnostics; i++) {
        snprintf(line, sizeof line, "D %s\n", scratch.diagnostics[i]);
        write_all(fd, line);
    }
    write_all(fd, "E\n");
}

/* The probe of `path`, run once per registry. NULL when out of memory. */
static probed_file *probe(wg_plugins *p, const char *path, bool builtin) {
    for (int i = 0; i < p->n_probed; i++)
        if (!strcmp(p->probed[i].path, path)) return &p->probed[i];
    wg_probe result;
    if (wg_probe_run(path, inspect, &result) != WG_OK) {
        diagnose(p, "%s", wg_last_error());
        return NULL;
    }
    probed_file f = {strdup(path), builtin, result.completed, result.report};
    if (!f.path ||
        !grow((void **)&p->probed, p->n_probed, &p->probed_capacity, sizeof *p->probed)) {
        free(f.path);
        free(f.report);
        p->out_of_memory = true;
        return NULL;
    }
    if (!f.usable) diagnose(p, "%s: %s", path, result.failure);
    p->probed[p->n_probed++] = f;
    return &p->probed[p->n_probed - 1];
}

/* Whether a completed probe saw `kind` `name` accepted in the file. */
static bool probe_declares(const probed_file *f, wg_plugin_kind kind, const char *name) {
    char line[WG_PLUGIN_MAX_NAME + 16];
    snprintf(line, sizeof line, "P %d %s\n", (int)kind, name);
    if (!f->report) return false;
    for (const char *at = f->report; (at = strstr(at, line)); at++)
        if (at == f->report || at[-1] == '\n') return true;
    return false;
}

/* The child's diagnostics become the registry's (an unused file's reasons). */
static void adopt_diagnostics(wg_plugins *p, const probed_file *f) {
    for (const char *line = f->report; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end) break;
        if (!strncmp(line, "D ", 2)) diagnose(p, "%.*s", (int)(end - line - 2), line + 2);
        line = end + 1;
    }
}

/* ---- folders ---- */

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

/* The folder's `*.so` files in name order, as "<dir>/<file>" (free each and the list);
 * -1 when the folder cannot be read. A folder the user named that cannot be read is
 * worth a diagnostic; a default one (no install yet) is not. */
static int list_dir(wg_plugins *p, int index, char ***out) {
    const char *dir = p->dirs[index];
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (index < p->n_user)
            diagnose(p, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0, capacity = 0;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d))) {
        if (!is_plugin_file(dir, e->d_name, path, sizeof path)) continue;
        char *copy = strdup(path);
        if (!copy || !grow((void **)&names, n, &capacity, sizeof *names)) {
            free(copy);
            p->out_of_memory = true;
            break;
        }
        names[n++] = copy;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, compare_names);
    *out = names;
    return n;
}

static void free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Whether the file's name is an index entry, wgan_<kind>_<name>.so. */
static bool index_named(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char prefix[32];
    for (int k = 0; k < N_KINDS; k++) {
        int n = snprintf(prefix, sizeof prefix, "wgan_%s_", kinds[k].name);
        if (!strncmp(base, prefix, (size_t)n)) return true;
    }
    return false;
}

/* Every file of every folder: probed in a child, then loaded here when the probe
 * completed. The index-named files of all folders come first, as for a run. */
static void scan(wg_plugins *p) {
    for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < p->n_dirs && !p->out_of_memory; d++) {
            char **names;
            int n = list_dir(p, d, &names);
            for (int i = 0; i < n && !p->out_of_memory; i++) {
                char real[PATH_MAX];
                if (index_named(names[i]) != (pass == 0) || loaded_already(p, names[i], real))
                    continue;
                const probed_file *f = probe(p, names[i], d >= p->n_user);
                if (f && f->usable) load_file(p, names[i], d >= p->n_user);
            }
            free_list(names, n);
        }
    p->all_probed = true;
}

static int compare_plugins(const void *a, const void *b) {
    const wg_plugin *x = *(wg_plugin *const *)a, *y = *(wg_plugin *const *)b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return strcmp(x->name, y->name);
}

static wg_status open_registry(int count, const char *const *dirs, int n_user, bool full,
                               wg_plugins **out) {
    *out = NULL;
    wg_plugins *p = calloc(1, sizeof *p);
    if (!p || (count && !(p->dirs = calloc((size_t)count, sizeof *p->dirs)))) {
        free(p);
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    for (int i = 0; i < count; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        if (i < n_user) p->n_user++;
        if (!(p->dirs[p->n_dirs++] = strdup(dirs[i]))) p->out_of_memory = true;
    }
    if (full && !p->out_of_memory) scan(p);
    if (p->out_of_memory) {
        wg_plugins_free(p);
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    if (p->count) qsort(p->plugins, (size_t)p->count, sizeof *p->plugins, compare_plugins);
    *out = p;
    return WG_OK;
}

/* load() as the search path calls it: a registry that loads on demand. */
static wg_status load(int count, const char *const *dirs, int n_user, wg_plugins **out) {
    return open_registry(count, dirs, n_user, false, out);
}

wg_status wg_plugins_open_dirs(int count, const char *const *dirs, wg_plugins **out) {
    return open_registry(count, dirs, count, false, out);
}

wg_status wg_plugins_load_dirs(int count, const char *const *dirs, wg_plugins **out) {
    return open_registry(count, dirs, count, true, out);
}

wg_status wg_plugins_open(wg_plugins **out) {
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
    char builtin[PATH_MAX];
    dirs[count++] = wg_plugin_builtin_dir(builtin, sizeof builtin);
    wg_status status = load(count, dirs, n_user, out);
    free(dirs);
    free(list);
    return status;
}

wg_status wg_plugins_load(wg_plugins **out) {
    wg_status s = wg_plugins_open(out);
    if (s != WG_OK) return s;
    scan(*out);
    if ((*out)->out_of_memory) {
        wg_plugins_free(*out);
        *out = NULL;
        return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    }
    if ((*out)->count)
        qsort((*out)->plugins, (size_t)(*out)->count, sizeof *(*out)->plugins, compare_plugins);
    return WG_OK;
}

void wg_plugins_free(wg_plugins *p) {
    if (!p) return;
    for (int i = 0; i < p->n_files; i++) {
        dlclose(p->files[i].handle);
        free(p->files[i].path);
        free(p->files[i].real);
    }
    for (int i = 0; i < p->n_probed; i++) {
        free(p->probed[i].path);
        free(p->probed[i].report);
    }
    for (int i = 0; i < p->n_dirs; i++) free(p->dirs[i]);
    for (int i = 0; i < p->count; i++) free(p->plugins[i]);
    for (int i = 0; i < p->n_diagnostics; i++) free(p->diagnostics[i]);
    for (int i = 0; i < p->n_warnings; i++) free(p->warnings[i]);
    free(p->files);
    free(p->probed);
    free(p->dirs);
    free(p->plugins);
    free(p->diagnostics);
    free(p->warnings);
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
    return p->plugins[index];
}
int wg_plugins_diagnostic_count(const wg_plugins *p) {
    return p->n_diagnostics;
}
const char *wg_plugins_diagnostic(const wg_plugins *p, int index) {
    return p->diagnostics[index];
}
int wg_plugins_warning_count(const wg_plugins *p) {
    return p->n_warnings;
}
const char *wg_plugins_warning(const wg_plugins *p, int index) {
    return p->warnings[index];
}

/* The names of `kind` known so far (loaded, or seen by a probe), sorted, ", "-separated,
 * into `known`. */
static void known_names(const wg_plugins *p, wg_plugin_kind kind, char *known, size_t size) {
    enum { MAX_KNOWN = 256 };
    char names[MAX_KNOWN][WG_PLUGIN_MAX_NAME];
    int n = 0;
    for (int i = 0; i < p->count && n < MAX_KNOWN; i++)
        if (p->plugins[i]->kind == kind)
            snprintf(names[n++], sizeof names[0], "%s", p->plugins[i]->name);
    char prefix[16];
    int prefix_len = snprintf(prefix, sizeof prefix, "P %d ", (int)kind);
    for (int f = 0; f < p->n_probed; f++)
        for (const char *line = p->probed[f].report; line && *line && n < MAX_KNOWN;) {
            const char *end = strchr(line, '\n');
            if (!end) break;
            if (!strncmp(line, prefix, (size_t)prefix_len) &&
                end - line - prefix_len < WG_PLUGIN_MAX_NAME)
                snprintf(names[n++], sizeof names[0], "%.*s", (int)(end - line - prefix_len),
                         line + prefix_len);
            line = end + 1;
        }
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    size_t used = 0;
    known[0] = 0;
    for (int i = 0; i < n && used < size; i++)
        if (!i || strcmp(names[i], names[i - 1]))
            used += (size_t)snprintf(known + used, size - used, "%s%s", used ? ", " : "", names[i]);
}

wg_status wg_plugins_find(const wg_plugins *p, wg_plugin_kind kind, const char *name,
                          const wg_plugin **out) {
    *out = find(p, kind, name ? name : "");
    if (*out) return WG_OK;
    char known[768];
    known_names(p, kind, known, sizeof known);
    const char *kind_name = wg_plugin_kind_name(kind);
    if (!known[0])
        return wg_fail(WG_ERR_CONFIG,
                       "unknown %s plugin '%s'; no %s plugins were found on the plugin path "
                       "(see `wgan plugins`)",
                       kind_name, name ? name : "", kind_name);
    return wg_fail(WG_ERR_CONFIG, "unknown %s plugin '%s'; known: %s", kind_name, name ? name : "",
                   known);
}

/* ---- loading on demand ---- */

static void index_path(const char *dir, wg_plugin_kind kind, const char *name, char *path,
                       size_t size) {
    snprintf(path, size, "%s/wgan_%s_%s.so", dir, wg_plugin_kind_name(kind), name);
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The built-in file of that kind and name, if any. */
static bool builtin_file(const wg_plugins *p, wg_plugin_kind kind, const char *name, char *path,
                         size_t size) {
    for (int d = p->n_user; d < p->n_dirs; d++) {
        index_path(p->dirs[d], kind, name, path, size);
        if (is_file(path)) return true;
    }
    return false;
}

/* Finds the plugin by its file name in each folder, first folder first. */
static const wg_plugin *by_file_name(wg_plugins *p, wg_plugin_kind kind, const char *name) {
    char path[PATH_MAX];
    for (int d = 0; d < p->n_dirs && !p->out_of_memory; d++) {
        index_path(p->dirs[d], kind, name, path, sizeof path);
        if (!is_file(path)) continue;
        load_file(p, path, d >= p->n_user);
        const wg_plugin *found = find(p, kind, name);
        if (found) return found;
        diagnose(p, "%s: named like %s plugin '%s', but does not declare one", path,
                 wg_plugin_kind_name(kind), name);
    }
    return NULL;
}

/* Probes every other file (each in a child) for one that declares the plugin, and
 * loads that one. Files that cannot be probed or declare nothing usable end up in
 * the diagnostics. */
static const wg_plugin *by_probing(wg_plugins *p, wg_plugin_kind kind, const char *name) {
    const wg_plugin *found = NULL;
    for (int d = 0; d < p->n_dirs && !found && !p->out_of_memory; d++) {
        char **names;
        int n = list_dir(p, d, &names);
        for (int i = 0; i < n && !found && !p->out_of_memory; i++) {
            const probed_file *f = probe(p, names[i], d >= p->n_user);
            if (!f || !f->usable) continue;
            if (!probe_declares(f, kind, name)) {
                adopt_diagnostics(p, f);
                continue;
            }
            load_file(p, names[i], d >= p->n_user);
            found = find(p, kind, name);
        }
        free_list(names, n);
    }
    return found;
}

/* A user's plugin that has a built-in one's name is refused unless overridden. */
static wg_status check_clash(const wg_plugins *p, const wg_plugin *plugin) {
    char builtin[PATH_MAX];
    if (plugin->builtin || override_allowed(plugin->kind, plugin->name) ||
        !builtin_file(p, plugin->kind, plugin->name, builtin, sizeof builtin))
        return WG_OK;
    return wg_fail(WG_ERR_CONFIG,
                   "%s plugin '%s' from %s has the name of a built-in one (%s); set %s=%s to "
                   "use it instead",
                   wg_plugin_kind_name(plugin->kind), plugin->name, plugin->path, builtin,
                   WG_PLUGIN_OVERRIDE_ENV, plugin->name);
}

/* The unknown-plugin message, with every file that was turned down and why: one of
 * them may be the plugin, whatever it is called. */
static wg_status unknown(const wg_plugins *p, wg_plugin_kind kind, const char *name) {
    char message[1024];
    wg_plugins_find(p, kind, name, &(const wg_plugin *){NULL});
    int used = snprintf(message, sizeof message, "%s", wg_last_error());
    /* the ones that mention the name first: the message has room for a few only */
    int listed = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->n_diagnostics && used < (int)sizeof message; i++)
            if ((strstr(p->diagnostics[i], name) != NULL) == (pass == 0))
                used += snprintf(message + used, sizeof message - (size_t)used, "%s%s",
                                 listed++ ? "; " : "; files turned down: ", p->diagnostics[i]);
    return wg_fail(WG_ERR_CONFIG, "%s", message);
}

wg_status wg_plugins_resolve(wg_plugins *p, wg_plugin_kind kind, const char *name,
                             const wg_plugin **out) {
    *out = find(p, kind, name ? name : "");
    if (!*out && usable_name(name) && !p->all_probed) {
        *out = by_file_name(p, kind, name);
        if (!*out) *out = by_probing(p, kind, name);
    }
    if (p->out_of_memory) return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    if (!*out) return unknown(p, kind, name ? name : "");
    wg_status s = check_clash(p, *out);
    if (s != WG_OK) *out = NULL;
    return s;
}

wg_status wg_plugins_resolve_file(wg_plugins *p, wg_plugin_kind kind, const char *name,
                                  const char *path, const wg_plugin **out) {
    *out = NULL;
    for (int pass = 0; pass < 2 && !*out; pass++) {
        if (pass) load_file(p, path, false);
        for (int i = 0; i < p->count && !*out; i++)
            if (p->plugins[i]->kind == kind && !strcmp(p->plugins[i]->name, name) &&
                !strcmp(p->plugins[i]->path, path))
                *out = p->plugins[i];
    }
    if (p->out_of_memory) return wg_fail(WG_ERR_NOMEM, "out of memory loading plugins");
    if (*out) return WG_OK;
    return wg_fail(WG_ERR_CONFIG, "%s does not provide %s plugin '%s'", path,
                   wg_plugin_kind_name(kind), name);
}

wg_status wg_plugin_file_sha256(const char *path, char hex[WG_PLUGIN_SHA256_HEX]) {
    if (!SHA256File(path, hex))
        return wg_fail(WG_ERR_IO, "cannot read %s to hash it: %s", path, strerror(errno));
    return WG_OK;
}
