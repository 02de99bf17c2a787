/* Loading a configuration file or string, and overrides (`--set`). */
#include "config/config_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wg_status load_buffer(const char *name, const char *buf, size_t len, wg_cfg **root) {
    cfg_names *names = calloc(1, sizeof *names);
    if (!names) return cfg_nomem();
    const char *file = cfg_names_add(names, name);
    wg_status status = file ? cfg_parse(file, buf, len, true, "", 0, true, root) : cfg_nomem();
    if (status != WG_OK) {
        cfg_names_free(names);
        return status;
    }
    (*root)->names = names;
    return WG_OK;
}

wg_status wg_cfg_load_string(const char *name, const char *text, wg_cfg **root) {
    *root = NULL;
    return load_buffer(name ? name : "<string>", text, strlen(text), root);
}

wg_status wg_cfg_load_file(const char *path, wg_cfg **root) {
    *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return wg_fail(WG_ERR_IO, "cannot open configuration '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int error = 0;
    while (len <= CFG_MAX_FILE_BYTES) {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > CFG_MAX_FILE_BYTES + 1) cap = CFG_MAX_FILE_BYTES + 1;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return cfg_nomem();
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) error = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    wg_status status;
    if (error)
        status = wg_fail(WG_ERR_IO, "cannot read configuration '%s': %s", path, strerror(error));
    else if (len > CFG_MAX_FILE_BYTES)
        status = wg_fail(WG_ERR_IO, "configuration '%s' is larger than %u MiB", path,
                         CFG_MAX_FILE_BYTES >> 20);
    else
        status = load_buffer(path, buf ? buf : "", len, root);
    free(buf);
    return status;
}

void wg_cfg_free(wg_cfg *root) {
    assert(!root || root->names); /* only whole trees are freed */
    cfg_node_free(root);
}

/* ---- overrides ---- */

typedef struct segment {
    const char *name; /* NULL for an index */
    size_t len, index;
} segment;

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* name ( [index] )* ( . name ( [index] )* )* */
static bool split_path(const char *path, segment *segs, size_t *count) {
    const char *p = path;
    size_t n = 0;
    for (;;) {
        const char *start = p;
        while (*p && *p != '.' && *p != '[' && *p != ']') p++;
        if (p == start) return false;
        segs[n++] = (segment){start, (size_t)(p - start), 0};
        while (*p == '[') {
            p++;
            if (!is_digit(*p)) return false;
            size_t index = 0;
            for (; is_digit(*p); p++) {
                if (index > (SIZE_MAX - 9) / 10) return false;
                index = index * 10 + (size_t)(*p - '0');
            }
            if (*p++ != ']') return false;
            segs[n++] = (segment){NULL, 0, index};
        }
        if (!*p) break;
        if (*p++ != '.') return false;
    }
    *count = n;
    return true;
}

static wg_status not_a(const char *origin, const wg_cfg *node, const char *wanted) {
    char where[512];
    cfg_where(where, sizeof where, node->file, node->line, node->col);
    return cfg_fail(origin, 0, 0, NULL, "'%s' is %s (%s), not %s", node->path, cfg_type_name(node),
                    where, wanted);
}

/* Puts `value` at the path; fails before changing anything, unless out of memory. */
static wg_status place(wg_cfg *root, const char *origin, const segment *segs, size_t n,
                       wg_cfg *value) {
    wg_cfg *cur = root;
    for (size_t i = 0; i < n; i++) {
        const segment *s = &segs[i];
        wg_cfg **slot;
        char *child_path;
        if (!s->name) {
            if (s->index >= cur->n_items)
                return cfg_fail(origin, 0, 0, NULL, "'%s' has %zu items, so no item [%zu]",
                                cur->path, cur->n_items, s->index);
            slot = &cur->items[s->index];
            child_path = cfg_path_index(cur->path, s->index);
        } else {
            ptrdiff_t k = cfg_entry_find(cur, s->name, s->len);
            cfg_entry *e = k >= 0 ? &cur->entries[k] : NULL;
            wg_cfg *existing = e ? e->value : NULL;
            bool absent = !existing || cfg_is_null(existing);
            if (absent && i + 1 < n) {
                for (size_t j = i + 1; j < n; j++)
                    if (!segs[j].name) {
                        char *missing = cfg_path_key(cur->path, s->name, s->len);
                        wg_status status =
                            missing ? cfg_fail(origin, 0, 0, NULL,
                                               "'%s' does not exist, so it has no items to set",
                                               missing)
                                    : cfg_nomem();
                        free(missing);
                        return status;
                    }
            }
            if (!e) {
                size_t index;
                wg_status status = cfg_entry_add(cur, s->name, s->len, origin, 0, 0, &index);
                if (status != WG_OK) return status;
                e = &cur->entries[index];
            }
            if (!e->value) {
                e->key_file = origin;
                e->key_line = e->key_col = 0;
            }
            slot = &e->value;
            child_path = cfg_path_key(cur->path, s->name, s->len);
            if (absent || i + 1 == n) {
                /* a default recorded by an earlier read no longer applies */
                cfg_node_free(e->dflt);
                e->dflt = NULL;
            }
        }
        if (!child_path) return cfg_nomem();

        if (i + 1 == n) {
            free(child_path);
            cfg_node_free(*slot);
            *slot = value;
            return WG_OK;
        }
        bool want_seq = !segs[i + 1].name;
        wg_cfg *child = *slot;
        if (!child || cfg_is_null(child)) {
            wg_cfg *map = cfg_node_new(WG_CFG_MAPPING, origin, 0, 0, child_path);
            if (!map) return cfg_nomem();
            cfg_node_free(child);
            *slot = child = map;
        } else {
            free(child_path);
            if (want_seq ? child->type != WG_CFG_SEQUENCE : child->type != WG_CFG_MAPPING)
                return not_a(origin, child, want_seq ? "a sequence" : "a mapping");
        }
        cur = child;
    }
    return WG_OK;
}

wg_status wg_cfg_set(wg_cfg *root, const char *path, const char *value) {
    assert(root && root->names && path && value);
    size_t size = strlen(path) + strlen(value) + 8;
    char *text = malloc(size);
    if (!text) return cfg_nomem();
    snprintf(text, size, "--set %s=%s", path, value);
    const char *origin = cfg_names_add(root->names, text);
    free(text);
    if (!origin) return cfg_nomem();

    segment *segs = malloc((strlen(path) + 1) * sizeof *segs);
    if (!segs) return cfg_nomem();
    size_t n = 0;
    wg_cfg *node = NULL;
    wg_status status;
    if (!split_path(path, segs, &n))
        status = cfg_fail(origin, 0, 0, NULL,
                          "'%s' is not a key path (keys joined by '.', each optionally followed "
                          "by [index])",
                          path);
    else if (n > CFG_MAX_DEPTH)
        /* the file written from the tree could not be loaded */
        status = cfg_fail(origin, 0, 0, NULL,
                          "%zu key parts, more than the %d levels a configuration may nest", n,
                          CFG_MAX_DEPTH);
    else
        status = cfg_parse(origin, value, strlen(value), false, path, (int)n, false, &node);
    if (status == WG_OK && node->type != WG_CFG_SCALAR && !node->flow)
        status = cfg_fail(origin, 0, 0, NULL,
                          "the value must be a scalar or a flow collection ([...] or {...}); "
                          "quote it to set a string");
    if (status == WG_OK) status = place(root, origin, segs, n, node);
    if (status != WG_OK) cfg_node_free(node);
    free(segs);
    return status;
}

wg_status wg_cfg_set_arg(wg_cfg *root, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return wg_fail(WG_ERR_CONFIG, "--set %s: expected key=value", assignment);
    char *path = strndup(assignment, (size_t)(eq - assignment));
    if (!path) return cfg_nomem();
    wg_status status = wg_cfg_set(root, path, eq + 1);
    free(path);
    return status;
}
