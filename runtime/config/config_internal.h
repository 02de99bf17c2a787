/* The configuration tree's representation, shared by loading, reading and writing.
 * Not part of the public API. */
#ifndef WGAN_CONFIG_INTERNAL_H
#define WGAN_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgan/config.h"

/* Limits against hostile input, checked while the file is parsed: aliases can make a
 * small file expand into a huge (or, with a recursive alias, endless) tree, and every
 * node keeps its key path, which long keys nested deep make long. wg_cfg_set and
 * wg_cfg_write keep within them, so that what is written can be loaded. */
#define CFG_MAX_DEPTH 128
#define CFG_MAX_NODES 100000
#define CFG_MAX_PATH_BYTES (64 << 20) /* all nodes' key paths together */
#define CFG_MAX_FILE_BYTES (16u << 20)

/* A key of a mapping: one in the document or set by an override (value != NULL), or
 * one a reader asked for that is absent (value == NULL), kept so that unknown-key
 * reports can list it and the default can be written out. */
typedef struct cfg_entry {
    char *key;
    const char *key_file; /* where the key was written: a file, or an override */
    int key_line, key_col;
    wg_cfg *value;
    /* For an absent or null value: the default a reader used, or the implicit mapping
     * readers went through. Never read back; written with WG_CFG_WRITE_DEFAULTS. */
    wg_cfg *dflt;
    bool read;
} cfg_entry;

typedef enum cfg_style { CFG_PLAIN, CFG_SINGLE, CFG_DOUBLE, CFG_LITERAL, CFG_FOLDED } cfg_style;

/* Strings that the nodes of one tree point to: file names and override origins. */
typedef struct cfg_names {
    char **v;
    size_t n, cap;
} cfg_names;

struct wg_cfg {
    wg_cfg_type type;
    cfg_style style; /* scalars: anything but CFG_PLAIN makes a string */
    bool flow;       /* collections: written as [...] or {...} */
    bool implicit;   /* a mapping made for readers of an absent key */
    const char *file;
    int line, col; /* 1-based; 0 when made by an override or a reader */
    char *path;    /* "a.b[2].c"; "" for the root */
    char *text;    /* scalars */
    wg_cfg **items;
    size_t n_items, cap_items;
    cfg_entry *entries;
    size_t n_entries, cap_entries;
    cfg_names *names; /* the root only */
};

/* What a plain scalar means under the YAML 1.2 core schema. */
typedef enum cfg_kind {
    CFG_KIND_STRING,
    CFG_KIND_NULL,
    CFG_KIND_BOOL,
    CFG_KIND_INT,
    CFG_KIND_FLOAT
} cfg_kind;

/* ---- nodes (config_node.c) ---- */

/* Takes ownership of `path` (freed on failure); NULL when out of memory. */
wg_cfg *cfg_node_new(wg_cfg_type type, const char *file, int line, int col, char *path);
/* A plain or quoted scalar holding a copy of `text`; NULL when out of memory. */
wg_cfg *cfg_scalar_new(const char *text, size_t len, cfg_style style, const char *file, int line,
                       int col, char *path);
void cfg_node_free(wg_cfg *node);
char *cfg_path_key(const char *parent, const char *key, size_t len);
char *cfg_path_index(const char *parent, size_t index);
/* Index of `key` (explicit or only asked for) in a mapping, or -1. */
ptrdiff_t cfg_entry_find(const wg_cfg *map, const char *key, size_t len);
/* Appends an entry without a value; entry pointers taken before are invalidated. */
wg_status cfg_entry_add(wg_cfg *map, const char *key, size_t len, const char *file, int line,
                        int col, size_t *index);
wg_status cfg_item_add(wg_cfg *seq, wg_cfg *item);
/* Keeps a copy of `name` for the tree's lifetime. */
const char *cfg_names_add(cfg_names *names, const char *name);
void cfg_names_free(cfg_names *names);

/* ---- scalars (config_node.c) ---- */

cfg_kind cfg_plain_kind(const char *text);
/* "a scalar", "a sequence", "a mapping". */
const char *cfg_type_name(const wg_cfg *node);
bool cfg_is_null(const wg_cfg *node);
bool cfg_parse_bool(const char *text, bool *out);
/* Integer syntax, or a float syntax with an integral value. *overflow is set when the
 * text is an integer too large for int64_t (the result is then false). */
bool cfg_parse_int64(const char *text, int64_t *out, bool *overflow);
bool cfg_parse_double(const char *text, double *out);
/* The shortest text that reads back as exactly `x` (".inf" for infinity). */
void cfg_format_double(double x, char *buf, size_t size);

/* ---- messages (config_node.c) ---- */

/* `file:line:col: key 'path': <message>` (the key part only when path is not empty;
 * the position part only when line > 0). */
wg_status cfg_fail(const char *file, int line, int col, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* "file:line:col" or, without a position, "file". */
void cfg_where(char *buf, size_t size, const char *file, int line, int col);
wg_status cfg_nomem(void);

/* ---- parsing (config_parse.c) ---- */

/* Parses `len` bytes of YAML into a tree. With `marks`, nodes get the positions libyaml
 * reports; without (override values), only `file`. `root_path` is the path of the
 * document's top node and `depth` its depth in the whole tree (0 for a file). With
 * `need_map` the top must be a mapping. */
wg_status cfg_parse(const char *file, const char *buf, size_t len, bool marks,
                    const char *root_path, int depth, bool need_map, wg_cfg **out);

#endif
