/* Loading YAML into a configuration tree with libyaml's document API, and overrides. */
#include "config/config_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct conv {
    yaml_document_t *doc;
    const char *file;
    bool marks;
    size_t nodes;
} conv;

static void position(const conv *cv, yaml_mark_t mark, int *line, int *col) {
    /* libyaml counts from 0 */
    *line = cv->marks ? (int)mark.line + 1 : 0;
    *col = cv->marks ? (int)mark.column + 1 : 0;
}

static cfg_style style_of(yaml_scalar_style_t style) {
    switch (style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: return CFG_SINGLE;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return CFG_DOUBLE;
    case YAML_LITERAL_SCALAR_STYLE: return CFG_LITERAL;
    case YAML_FOLDED_SCALAR_STYLE: return CFG_FOLDED;
    default: return CFG_PLAIN;
    }
}

static wg_status convert(conv *cv, yaml_node_t *yn, char *path, int depth, wg_cfg **out);

/* Open addressing over entry indices (+1, 0 is empty), so that a mapping with many keys
 * is still checked for duplicates in linear time. */
static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static wg_status convert_map(conv *cv, yaml_node_t *yn, wg_cfg *map, int depth) {
    size_t pairs = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
    size_t cap = 8;
    while (cap < 2 * pairs) cap *= 2;
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return cfg_nomem();
    wg_status status = WG_OK;
    for (yaml_node_pair_t *pair = yn->data.mapping.pairs.start;
         status == WG_OK && pair < yn->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = yaml_document_get_node(cv->doc, pair->key);
        yaml_node_t *vn = yaml_document_get_node(cv->doc, pair->value);
        int line, col;
        position(cv, kn->start_mark, &line, &col);
        if (kn->type != YAML_SCALAR_NODE) {
            status = cfg_fail(cv->file, line, col, map->path, "a key must be a scalar, not %s",
                              kn->type == YAML_MAPPING_NODE ? "a mapping" : "a sequence");
            break;
        }
        const char *key = (const char *)kn->data.scalar.value;
        size_t len = kn->data.scalar.length;
        char *path = cfg_path_key(map->path, key, len);
        if (!path) {
            status = cfg_nomem();
            break;
        }
        if (memchr(key, '\0', len)) {
            status =
                cfg_fail(cv->file, line, col, NULL, "key '%s': contains a NUL character", path);
            free(path);
            break;
        }
        size_t slot = hash_bytes(key, len) & (cap - 1);
        while (slots[slot]) {
            const char *other = map->entries[slots[slot] - 1].key;
            if (strncmp(other, key, len) == 0 && other[len] == '\0') break;
            slot = (slot + 1) & (cap - 1);
        }
        if (slots[slot]) {
            const cfg_entry *first = &map->entries[slots[slot] - 1];
            if (first->key_line > 0)
                status = cfg_fail(cv->file, line, col, NULL,
                                  "duplicate key '%s' (first at line %d)", path, first->key_line);
            else
                status = cfg_fail(cv->file, line, col, NULL, "duplicate key '%s'", path);
        } else {
            size_t index;
            status = cfg_entry_add(map, key, len, cv->file, line, col, &index);
            if (status == WG_OK) {
                slots[slot] = index + 1;
                status = convert(cv, vn, path, depth + 1, &map->entries[index].value);
                path = NULL;
            }
        }
        free(path);
    }
    free(slots);
    return status;
}

static wg_status convert(conv *cv, yaml_node_t *yn, char *path, int depth, wg_cfg **out) {
    *out = NULL;
    int line, col;
    position(cv, yn->start_mark, &line, &col);
    wg_status status = WG_OK;
    if (!path) return cfg_nomem();
    /* no key path in these: it is as long as the problem is big */
    if (depth > CFG_MAX_DEPTH)
        status = cfg_fail(cv->file, line, col, NULL,
                          "nested deeper than %d levels (a recursive alias?)", CFG_MAX_DEPTH);
    else if (++cv->nodes > CFG_MAX_NODES)
        status = cfg_fail(cv->file, line, col, NULL,
                          "the configuration has more than %d nodes (aliases expanding?)",
                          CFG_MAX_NODES);
    if (status != WG_OK) {
        free(path);
        return status;
    }

    if (yn->type == YAML_SCALAR_NODE) {
        const char *text = (const char *)yn->data.scalar.value;
        size_t len = yn->data.scalar.length;
        if (memchr(text, '\0', len)) {
            status = cfg_fail(cv->file, line, col, path, "contains a NUL character");
            free(path);
            return status;
        }
        *out =
            cfg_scalar_new(text, len, style_of(yn->data.scalar.style), cv->file, line, col, path);
        return *out ? WG_OK : cfg_nomem();
    }

    bool seq = yn->type == YAML_SEQUENCE_NODE;
    wg_cfg *node = cfg_node_new(seq ? WG_CFG_SEQUENCE : WG_CFG_MAPPING, cv->file, line, col, path);
    if (!node) return cfg_nomem();
    if (seq) {
        node->flow = yn->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE;
        for (yaml_node_item_t *it = yn->data.sequence.items.start;
             status == WG_OK && it < yn->data.sequence.items.top; it++) {
            wg_cfg *item;
            status = convert(cv, yaml_document_get_node(cv->doc, *it),
                             cfg_path_index(node->path, node->n_items), depth + 1, &item);
            if (status == WG_OK) {
                status = cfg_item_add(node, item);
                if (status != WG_OK) cfg_node_free(item);
            }
        }
    } else {
        node->flow = yn->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
        status = convert_map(cv, yn, node, depth);
    }
    if (status != WG_OK) {
        cfg_node_free(node);
        return status;
    }
    *out = node;
    return WG_OK;
}

/* Line and column of a byte offset, for reader errors, which carry only the offset. */
static void offset_position(const char *buf, size_t len, size_t offset, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static wg_status yaml_problem(const yaml_parser_t *parser, const char *file, const char *buf,
                              size_t len, bool marks) {
    if (parser->error == YAML_MEMORY_ERROR) return cfg_nomem();
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    int line, col;
    size_t offset;
    char detail[160] = "";
    if (parser->error == YAML_READER_ERROR) {
        offset = parser->problem_offset;
        offset_position(buf, len, offset, &line, &col);
        if (parser->problem_value != -1)
            snprintf(detail, sizeof detail, " (0x%X)", (unsigned)parser->problem_value);
    } else {
        offset = parser->problem_mark.index;
        line = (int)parser->problem_mark.line + 1;
        col = (int)parser->problem_mark.column + 1;
        if (parser->context && marks)
            snprintf(detail, sizeof detail, " (%s at line %d, column %d)", parser->context,
                     (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
        else if (parser->context)
            snprintf(detail, sizeof detail, " (%s)", parser->context);
    }
    if (marks) return cfg_fail(file, line, col, NULL, "%s%s", problem, detail);
    /* an override's value is one short line: a column says enough */
    char where[64];
    if (offset >= len)
        snprintf(where, sizeof where, "at the end");
    else if (line == 1)
        snprintf(where, sizeof where, "at column %d", col);
    else
        snprintf(where, sizeof where, "at line %d, column %d", line, col);
    return cfg_fail(file, 0, 0, NULL, "not valid YAML, %s: %s%s", where, problem, detail);
}

wg_status cfg_parse(const char *file, const char *buf, size_t len, bool marks,
                    const char *root_path, bool need_map, wg_cfg **out) {
    *out = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return cfg_nomem();
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        wg_status status = yaml_problem(&parser, file, buf, len, marks);
        yaml_parser_delete(&parser);
        return status;
    }
    conv cv = {&doc, file, marks, 0};
    wg_status status = WG_OK;
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    char *path = strdup(root_path);
    if (!top) {
        /* an empty document */
        *out = need_map ? cfg_node_new(WG_CFG_MAPPING, file, marks, marks, path)
                        : cfg_scalar_new("", 0, CFG_PLAIN, file, 0, 0, path);
        if (!*out) status = cfg_nomem();
    } else if (need_map && top->type != YAML_MAPPING_NODE) {
        int line, col;
        position(&cv, top->start_mark, &line, &col);
        status = cfg_fail(file, line, col, NULL, "the top level must be a mapping of keys, not %s",
                          top->type == YAML_SCALAR_NODE ? "a scalar" : "a sequence");
        free(path);
    } else {
        status = convert(&cv, top, path, 0, out);
    }
    yaml_document_delete(&doc);

    if (status == WG_OK) {
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            status = yaml_problem(&parser, file, buf, len, marks);
        } else {
            if (yaml_document_get_root_node(&next)) {
                int line, col;
                position(&cv, next.start_mark, &line, &col);
                status = cfg_fail(file, line, col, NULL,
                                  "a second YAML document; the configuration must be one");
            }
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    if (status != WG_OK) {
        cfg_node_free(*out);
        *out = NULL;
    }
    return status;
}

static wg_status load_buffer(const char *name, const char *buf, size_t len, wg_cfg **root) {
    cfg_names *names = calloc(1, sizeof *names);
    if (!names) return cfg_nomem();
    const char *file = cfg_names_add(names, name);
    wg_status status = file ? cfg_parse(file, buf, len, true, "", true, root) : cfg_nomem();
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
    else if (n > CFG_MAX_DEPTH) /* the loader would refuse the file written from it */
        status = cfg_fail(origin, 0, 0, NULL, "'%.64s...' has %zu key parts, more than %d",
                          path, n, CFG_MAX_DEPTH);
    else
        status = cfg_parse(origin, value, strlen(value), false, path, false, &node);
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
