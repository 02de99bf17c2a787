/* Parsing YAML into a configuration tree straight from libyaml's event stream.
 *
 * The tree is built from events, not from a libyaml document, so that the depth, node and
 * key-path limits stop a hostile file as soon as it crosses them: libyaml's scanner slows
 * down quadratically with flow nesting, and its document loader holds every node of the
 * file (and looks anchors up linearly) before any check could run.
 *
 * Errors come in the order libyaml's document loader gave them: syntax and alias errors of
 * the document first, then the tree's own errors (duplicate keys, limits, a top level that
 * is not a mapping, ...) in document order, then anything in a second document. So after
 * the tree's first error the rest of the document is still parsed, without building, for
 * a syntax error to report instead; that scan stops where the nesting passes the limit. */
#include "config/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- name -> index, in linear time ---- */

/* Open addressing over indices (+1, 0 is empty) into an array whose names `name_of`
 * gives: keys of one mapping, anchors of a document. */
typedef const char *(*name_fn)(const void *array, size_t index);
typedef struct name_index {
    size_t *slots;
    size_t cap, n;
} name_index;

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* index + 1 of `name`, or 0. */
static size_t index_find(const name_index *ix, const char *name, size_t len, name_fn name_of,
                         const void *array) {
    if (!ix->cap) return 0;
    for (size_t slot = hash_bytes(name, len) & (ix->cap - 1); ix->slots[slot];
         slot = (slot + 1) & (ix->cap - 1)) {
        const char *other = name_of(array, ix->slots[slot] - 1);
        if (strncmp(other, name, len) == 0 && other[len] == '\0') return ix->slots[slot];
    }
    return 0;
}

static void index_place(size_t *slots, size_t cap, size_t value, const char *name) {
    size_t slot = hash_bytes(name, strlen(name)) & (cap - 1);
    while (slots[slot]) slot = (slot + 1) & (cap - 1);
    slots[slot] = value;
}

static wg_status index_add(name_index *ix, size_t index, name_fn name_of, const void *array) {
    if (2 * (ix->n + 1) > ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 16;
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return cfg_nomem();
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i])
                index_place(slots, cap, ix->slots[i], name_of(array, ix->slots[i] - 1));
        free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
    }
    index_place(ix->slots, ix->cap, index + 1, name_of(array, index));
    ix->n++;
    return WG_OK;
}

static const char *entry_key(const void *entries, size_t index) {
    return ((const cfg_entry *)entries)[index].key;
}

/* ---- the builder ---- */

typedef struct anchor {
    char *name;
    wg_cfg *node;     /* NULL while only scanning */
    bool open;        /* a collection whose end has not come yet */
    bool owned;       /* a key's scalar, kept here for aliases to it */
    yaml_mark_t mark; /* for libyaml's duplicate-anchor message */
} anchor;

static const char *anchor_name(const void *anchors, size_t index) {
    return ((const anchor *)anchors)[index].name;
}

/* A collection being built. */
typedef struct frame {
    wg_cfg *node;
    size_t anchor;    /* index + 1 of the anchor naming it, or 0 */
    name_index keys;  /* mappings: their keys so far */
    char *value_path; /* mappings: set when a key was read and its value comes next */
} frame;

typedef struct builder {
    yaml_parser_t parser;
    const char *file, *buf, *root_path;
    size_t len;
    bool marks, need_map;
    int base_depth;
    wg_cfg *root;
    frame *frames;
    size_t n_frames, cap_frames;
    size_t open; /* collections open, while building or scanning */
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    name_index anchor_index;
    size_t nodes, path_bytes;
    wg_status deferred; /* the tree's first error: building stopped */
    int documents;
    yaml_mark_t second; /* where a second document starts */
} builder;

static void position(const builder *b, yaml_mark_t mark, int *line, int *col) {
    /* libyaml counts from 0 */
    *line = b->marks ? (int)mark.line + 1 : 0;
    *col = b->marks ? (int)mark.column + 1 : 0;
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

/* ---- messages ---- */

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

/* The parser's error (libyaml's or a composer error set by compose_error). */
static wg_status yaml_problem(const builder *b) {
    const yaml_parser_t *parser = &b->parser;
    if (parser->error == YAML_MEMORY_ERROR) return cfg_nomem();
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    int line, col;
    size_t offset;
    char detail[160] = "";
    if (parser->error == YAML_READER_ERROR) {
        offset = parser->problem_offset;
        offset_position(b->buf, b->len, offset, &line, &col);
        if (parser->problem_value != -1)
            snprintf(detail, sizeof detail, " (0x%X)", (unsigned)parser->problem_value);
    } else {
        offset = parser->problem_mark.index;
        line = (int)parser->problem_mark.line + 1;
        col = (int)parser->problem_mark.column + 1;
        if (parser->context && b->marks)
            snprintf(detail, sizeof detail, " (%s at line %d, column %d)", parser->context,
                     (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
        else if (parser->context)
            snprintf(detail, sizeof detail, " (%s)", parser->context);
    }
    if (b->marks) return cfg_fail(b->file, line, col, NULL, "%s%s", problem, detail);
    /* an override's value is one short line: a column says enough */
    char where[64];
    if (offset >= b->len)
        snprintf(where, sizeof where, "at the end");
    else if (line == 1)
        snprintf(where, sizeof where, "at column %d", col);
    else
        snprintf(where, sizeof where, "at line %d, column %d", line, col);
    return cfg_fail(b->file, 0, 0, NULL, "not valid YAML, %s: %s%s", where, problem, detail);
}

/* libyaml's loader's own errors (undefined alias, duplicate anchor), worded as it does. */
static wg_status compose_error(builder *b, const char *context, yaml_mark_t context_mark,
                               const char *problem, yaml_mark_t problem_mark) {
    b->parser.error = YAML_COMPOSER_ERROR;
    b->parser.context = context;
    b->parser.context_mark = context_mark;
    b->parser.problem = problem;
    b->parser.problem_mark = problem_mark;
    return yaml_problem(b);
}

/* What stops a scan: the tree's error, or the second document. */
static wg_status scan_result(builder *b) {
    if (b->deferred != WG_OK) return b->deferred;
    int line, col;
    position(b, b->second, &line, &col);
    return cfg_fail(b->file, line, col, NULL,
                    "a second YAML document; the configuration must be one");
}

/* ---- anchors ---- */

static anchor *anchor_get(builder *b, const char *name) {
    size_t k = index_find(&b->anchor_index, name, strlen(name), anchor_name, b->anchors);
    return k ? &b->anchors[k - 1] : NULL;
}

/* Registers `name` (may be NULL) for a node starting at `mark`; *index is its index + 1,
 * or 0 without a name. */
static wg_status anchor_add(builder *b, const char *name, yaml_mark_t mark, size_t *index) {
    *index = 0;
    if (!name) return WG_OK;
    const anchor *first = anchor_get(b, name);
    if (first)
        return compose_error(b, "found duplicate anchor; first occurrence", first->mark,
                             "second occurrence", mark);
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? 2 * b->cap_anchors : 16;
        anchor *grown = realloc(b->anchors, cap * sizeof *grown);
        if (!grown) return cfg_nomem();
        b->anchors = grown;
        b->cap_anchors = cap;
    }
    char *copy = strdup(name);
    if (!copy) return cfg_nomem();
    b->anchors[b->n_anchors] = (anchor){.name = copy, .mark = mark};
    wg_status s = index_add(&b->anchor_index, b->n_anchors, anchor_name, b->anchors);
    if (s != WG_OK) {
        free(copy);
        return s;
    }
    *index = ++b->n_anchors;
    return WG_OK;
}

/* Anchors are per document, as in libyaml's loader. */
static void anchors_clear(builder *b) {
    for (size_t i = 0; i < b->n_anchors; i++) {
        free(b->anchors[i].name);
        if (b->anchors[i].owned) cfg_node_free(b->anchors[i].node);
    }
    b->n_anchors = 0;
    free(b->anchor_index.slots);
    b->anchor_index = (name_index){0};
}

/* ---- nodes ---- */

/* The limits against hostile input, checked for every node of the tree in document
 * order (aliases expanded); takes `path` for the node. */
static wg_status check_limits(builder *b, const char *path, int depth, int line, int col) {
    /* no key path in these: it is as long as the problem is big */
    if (depth > CFG_MAX_DEPTH)
        return cfg_fail(b->file, line, col, NULL,
                        "nested deeper than %d levels (a recursive alias?)", CFG_MAX_DEPTH);
    if (++b->nodes > CFG_MAX_NODES)
        return cfg_fail(b->file, line, col, NULL,
                        "the configuration has more than %d nodes (aliases expanding?)",
                        CFG_MAX_NODES);
    b->path_bytes += strlen(path) + 1;
    if (b->path_bytes > CFG_MAX_PATH_BYTES)
        return cfg_fail(b->file, line, col, NULL,
                        "the key paths of the configuration are longer than %d MiB in total "
                        "(keys that long?)",
                        CFG_MAX_PATH_BYTES >> 20);
    return WG_OK;
}

/* A copy of an anchored node for an alias to it, at `path`; the copy keeps the anchored
 * node's positions. Takes `path`. */
static wg_status clone(builder *b, const wg_cfg *src, char *path, int depth, wg_cfg **out) {
    *out = NULL;
    if (!path) return cfg_nomem();
    wg_status s = check_limits(b, path, depth, src->line, src->col);
    if (s != WG_OK) {
        free(path);
        return s;
    }
    if (src->type == WG_CFG_SCALAR) {
        *out = cfg_scalar_new(src->text, strlen(src->text), src->style, src->file, src->line,
                              src->col, path);
        return *out ? WG_OK : cfg_nomem();
    }
    wg_cfg *node = cfg_node_new(src->type, src->file, src->line, src->col, path);
    if (!node) return cfg_nomem();
    node->flow = src->flow;
    for (size_t i = 0; s == WG_OK && i < src->n_items; i++) {
        wg_cfg *item;
        s = clone(b, src->items[i], cfg_path_index(node->path, i), depth + 1, &item);
        if (s == WG_OK && (s = cfg_item_add(node, item)) != WG_OK) cfg_node_free(item);
    }
    for (size_t i = 0; s == WG_OK && i < src->n_entries; i++) {
        const cfg_entry *e = &src->entries[i];
        size_t len = strlen(e->key), index;
        s = cfg_entry_add(node, e->key, len, e->key_file, e->key_line, e->key_col, &index);
        if (s == WG_OK)
            s = clone(b, e->value, cfg_path_key(node->path, e->key, len), depth + 1,
                      &node->entries[index].value);
    }
    if (s != WG_OK) {
        cfg_node_free(node);
        return s;
    }
    *out = node;
    return WG_OK;
}

static const char *event_anchor(const yaml_event_t *ev) {
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return (const char *)ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT: return (const char *)ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT: return (const char *)ev->data.mapping_start.anchor;
    default: return NULL;
    }
}

static const char *collection_name(wg_cfg_type type) {
    return type == WG_CFG_MAPPING ? "a mapping" : "a sequence";
}

/* A key of the mapping `f`: a scalar, or an alias to one. */
static wg_status read_key(builder *b, frame *f, const yaml_event_t *ev, size_t anchor_index) {
    wg_cfg *map = f->node;
    const char *key;
    size_t len;
    int line, col;
    if (ev->type == YAML_ALIAS_EVENT) {
        const anchor *a = anchor_get(b, (const char *)ev->data.alias.anchor);
        if (a->node->type != WG_CFG_SCALAR)
            return cfg_fail(b->file, a->node->line, a->node->col, map->path,
                            "a key must be a scalar, not %s", collection_name(a->node->type));
        key = a->node->text;
        len = strlen(key);
        line = a->node->line;
        col = a->node->col;
    } else if (ev->type != YAML_SCALAR_EVENT) {
        position(b, ev->start_mark, &line, &col);
        return cfg_fail(b->file, line, col, map->path, "a key must be a scalar, not %s",
                        ev->type == YAML_MAPPING_START_EVENT ? "a mapping" : "a sequence");
    } else {
        key = (const char *)ev->data.scalar.value;
        len = ev->data.scalar.length;
        position(b, ev->start_mark, &line, &col);
    }
    char *path = cfg_path_key(map->path, key, len);
    if (!path) return cfg_nomem();
    wg_status s = WG_OK;
    size_t first;
    if (memchr(key, '\0', len)) {
        s = cfg_fail(b->file, line, col, NULL, "key '%s': contains a NUL character", path);
    } else if ((first = index_find(&f->keys, key, len, entry_key, map->entries))) {
        int first_line = map->entries[first - 1].key_line;
        if (first_line > 0)
            s = cfg_fail(b->file, line, col, NULL, "duplicate key '%s' (first at line %d)", path,
                         first_line);
        else
            s = cfg_fail(b->file, line, col, NULL, "duplicate key '%s'", path);
    } else {
        size_t index;
        s = cfg_entry_add(map, key, len, b->file, line, col, &index);
        if (s == WG_OK) s = index_add(&f->keys, index, entry_key, map->entries);
    }
    if (s == WG_OK && anchor_index) {
        /* a later alias to this key reads it as a scalar node */
        anchor *a = &b->anchors[anchor_index - 1];
        a->node = cfg_scalar_new(key, len, style_of(ev->data.scalar.style), b->file, line, col,
                                 strdup(""));
        a->owned = true;
        if (!a->node) s = cfg_nomem();
    }
    if (s != WG_OK) {
        free(path);
        return s;
    }
    f->value_path = path;
    return WG_OK;
}

/* Puts a new node where the open collection (or the document) expects it. */
static wg_status attach(builder *b, wg_cfg *node) {
    if (!b->n_frames) {
        b->root = node;
        return WG_OK;
    }
    frame *f = &b->frames[b->n_frames - 1];
    if (f->node->type == WG_CFG_SEQUENCE) {
        wg_status s = cfg_item_add(f->node, node);
        if (s != WG_OK) cfg_node_free(node);
        return s;
    }
    f->node->entries[f->node->n_entries - 1].value = node;
    return WG_OK;
}

static wg_status push_frame(builder *b, wg_cfg *node, size_t anchor_index) {
    if (b->n_frames == b->cap_frames) {
        size_t cap = b->cap_frames ? 2 * b->cap_frames : 16;
        frame *grown = realloc(b->frames, cap * sizeof *grown);
        if (!grown) return cfg_nomem();
        b->frames = grown;
        b->cap_frames = cap;
    }
    b->frames[b->n_frames++] = (frame){.node = node, .anchor = anchor_index};
    return WG_OK;
}

static void frame_free(frame *f) {
    free(f->keys.slots);
    free(f->value_path);
}

/* A node (or a key) while building; a tree error returned here is deferred. */
static wg_status build_node(builder *b, const yaml_event_t *ev, size_t anchor_index) {
    frame *f = b->n_frames ? &b->frames[b->n_frames - 1] : NULL;
    if (f && f->node->type == WG_CFG_MAPPING && !f->value_path)
        return read_key(b, f, ev, anchor_index);

    int line, col;
    position(b, ev->start_mark, &line, &col);
    if (!f && b->need_map && ev->type != YAML_MAPPING_START_EVENT)
        return cfg_fail(b->file, line, col, NULL, "the top level must be a mapping of keys, not %s",
                        ev->type == YAML_SCALAR_EVENT ? "a scalar" : "a sequence");
    char *path;
    if (!f) {
        path = strdup(b->root_path);
    } else if (f->node->type == WG_CFG_SEQUENCE) {
        path = cfg_path_index(f->node->path, f->node->n_items);
    } else {
        path = f->value_path;
        f->value_path = NULL;
    }
    if (!path) return cfg_nomem();
    int depth = b->base_depth + (int)b->n_frames;

    wg_cfg *node;
    wg_status s;
    if (ev->type == YAML_ALIAS_EVENT) {
        const anchor *a = anchor_get(b, (const char *)ev->data.alias.anchor);
        if (a->open) {
            /* an alias inside the node it names would expand without end */
            free(path);
            return cfg_fail(b->file, a->node->line, a->node->col, NULL,
                            "nested deeper than %d levels (a recursive alias?)", CFG_MAX_DEPTH);
        }
        s = clone(b, a->node, path, depth, &node);
        return s == WG_OK ? attach(b, node) : s;
    }
    if ((s = check_limits(b, path, depth, line, col)) != WG_OK) {
        free(path);
        return s;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        const char *text = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (memchr(text, '\0', len)) {
            s = cfg_fail(b->file, line, col, path, "contains a NUL character");
            free(path);
            return s;
        }
        node = cfg_scalar_new(text, len, style_of(ev->data.scalar.style), b->file, line, col, path);
    } else {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        node = cfg_node_new(seq ? WG_CFG_SEQUENCE : WG_CFG_MAPPING, b->file, line, col, path);
        if (node)
            node->flow = seq ? ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                             : ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
    }
    if (!node) return cfg_nomem();
    if ((s = attach(b, node)) != WG_OK) return s;
    if (anchor_index) {
        b->anchors[anchor_index - 1].node = node;
        b->anchors[anchor_index - 1].open = node->type != WG_CFG_SCALAR;
    }
    return node->type == WG_CFG_SCALAR ? WG_OK : push_frame(b, node, anchor_index);
}

static bool building(const builder *b) {
    return b->deferred == WG_OK && b->documents == 1;
}

/* A node event: registers its anchor, builds it when building, and counts nesting. */
static wg_status on_node(builder *b, const yaml_event_t *ev, bool *stop) {
    if (ev->type == YAML_ALIAS_EVENT && !anchor_get(b, (const char *)ev->data.alias.anchor))
        return compose_error(b, NULL, ev->start_mark, "found undefined alias", ev->start_mark);
    size_t anchor_index;
    wg_status s = anchor_add(b, event_anchor(ev), ev->start_mark, &anchor_index);
    if (s != WG_OK) return s;
    if (building(b)) {
        s = build_node(b, ev, anchor_index);
        if (s == WG_ERR_NOMEM) return s;
        b->deferred = s;
    }
    bool collection = ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT;
    if (collection && ++b->open + (size_t)b->base_depth > CFG_MAX_DEPTH && !building(b)) {
        /* parsing deeper would only cost time: the error is known */
        *stop = true;
        return scan_result(b);
    }
    return WG_OK;
}

static void on_end(builder *b) {
    b->open--;
    if (!building(b)) return;
    frame *f = &b->frames[--b->n_frames];
    if (f->anchor) b->anchors[f->anchor - 1].open = false;
    frame_free(f);
}

/* Handles one event; sets *stop with the result once there is one. */
static wg_status on_event(builder *b, const yaml_event_t *ev, bool *stop) {
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *stop = true;
        if (!b->documents) {
            /* an empty document */
            char *path = strdup(b->root_path);
            b->root = b->need_map ? cfg_node_new(WG_CFG_MAPPING, b->file, b->marks, b->marks, path)
                                  : cfg_scalar_new("", 0, CFG_PLAIN, b->file, 0, 0, path);
            if (!b->root) return cfg_nomem();
        }
        return WG_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents == 2) b->second = ev->start_mark;
        return WG_OK;
    case YAML_DOCUMENT_END_EVENT:
        anchors_clear(b);
        if (b->documents == 1 && b->deferred == WG_OK) return WG_OK;
        *stop = true;
        return scan_result(b);
    case YAML_ALIAS_EVENT:
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: return on_node(b, ev, stop);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: on_end(b); return WG_OK;
    default: return WG_OK;
    }
}

wg_status cfg_parse(const char *file, const char *buf, size_t len, bool marks,
                    const char *root_path, int depth, bool need_map, wg_cfg **out) {
    *out = NULL;
    builder b = {.file = file,
                 .buf = buf,
                 .len = len,
                 .root_path = root_path,
                 .marks = marks,
                 .need_map = need_map,
                 .base_depth = depth};
    if (!yaml_parser_initialize(&b.parser)) return cfg_nomem();
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);
    wg_status status = WG_OK;
    for (bool stop = false; !stop && status == WG_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&b.parser, &ev)) {
            status = yaml_problem(&b);
            break;
        }
        status = on_event(&b, &ev, &stop);
        yaml_event_delete(&ev);
    }
    for (size_t i = 0; i < b.n_frames; i++) frame_free(&b.frames[i]);
    free(b.frames);
    anchors_clear(&b);
    free(b.anchors);
    yaml_parser_delete(&b.parser);
    if (status != WG_OK) {
        cfg_node_free(b.root);
        return status;
    }
    *out = b.root;
    return WG_OK;
}
