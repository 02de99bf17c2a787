/* Nodes of the configuration tree, scalar syntax, and error messages. */
#include "config/config_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nodes ---- */

wg_cfg *cfg_node_new(wg_cfg_type type, const char *file, int line, int col, char *path) {
    if (!path) return NULL;
    wg_cfg *node = calloc(1, sizeof *node);
    if (!node) {
        free(path);
        return NULL;
    }
    node->type = type;
    node->file = file;
    node->line = line;
    node->col = col;
    node->path = path;
    return node;
}

wg_cfg *cfg_scalar_new(const char *text, size_t len, cfg_style style, const char *file, int line,
                       int col, char *path) {
    wg_cfg *node = cfg_node_new(WG_CFG_SCALAR, file, line, col, path);
    if (!node) return NULL;
    node->style = style;
    node->text = malloc(len + 1);
    if (!node->text) {
        cfg_node_free(node);
        return NULL;
    }
    memcpy(node->text, text, len);
    node->text[len] = '\0';
    return node;
}

void cfg_node_free(wg_cfg *node) {
    if (!node) return;
    for (size_t i = 0; i < node->n_items; i++) cfg_node_free(node->items[i]);
    for (size_t i = 0; i < node->n_entries; i++) {
        free(node->entries[i].key);
        cfg_node_free(node->entries[i].value);
        cfg_node_free(node->entries[i].dflt);
    }
    free(node->items);
    free(node->entries);
    free(node->path);
    free(node->text);
    if (node->names) cfg_names_free(node->names);
    free(node);
}

char *cfg_path_key(const char *parent, const char *key, size_t len) {
    size_t plen = strlen(parent);
    char *path = malloc(plen + len + 2);
    if (!path) return NULL;
    if (plen) {
        memcpy(path, parent, plen);
        path[plen++] = '.';
    }
    memcpy(path + plen, key, len);
    path[plen + len] = '\0';
    return path;
}

char *cfg_path_index(const char *parent, size_t index) {
    size_t size = strlen(parent) + 24;
    char *path = malloc(size);
    if (path) snprintf(path, size, "%s[%zu]", parent, index);
    return path;
}

ptrdiff_t cfg_entry_find(const wg_cfg *map, const char *key, size_t len) {
    for (size_t i = 0; i < map->n_entries; i++) {
        const char *k = map->entries[i].key;
        if (strncmp(k, key, len) == 0 && k[len] == '\0') return (ptrdiff_t)i;
    }
    return -1;
}

/* Grows an array of `size`-byte elements to hold one more. */
static bool grow(void **array, size_t *cap, size_t count, size_t size) {
    if (count < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *grown = realloc(*array, ncap * size);
    if (!grown) return false;
    *array = grown;
    *cap = ncap;
    return true;
}

wg_status cfg_entry_add(wg_cfg *map, const char *key, size_t len, const char *file, int line,
                        int col, size_t *index) {
    if (!grow((void **)&map->entries, &map->cap_entries, map->n_entries, sizeof(cfg_entry)))
        return cfg_nomem();
    char *copy = malloc(len + 1);
    if (!copy) return cfg_nomem();
    memcpy(copy, key, len);
    copy[len] = '\0';
    map->entries[map->n_entries] =
        (cfg_entry){.key = copy, .key_file = file, .key_line = line, .key_col = col};
    *index = map->n_entries++;
    return WG_OK;
}

wg_status cfg_item_add(wg_cfg *seq, wg_cfg *item) {
    if (!grow((void **)&seq->items, &seq->cap_items, seq->n_items, sizeof(wg_cfg *)))
        return cfg_nomem();
    seq->items[seq->n_items++] = item;
    return WG_OK;
}

const char *cfg_names_add(cfg_names *names, const char *name) {
    if (!grow((void **)&names->v, &names->cap, names->n, sizeof(char *))) return NULL;
    char *copy = strdup(name);
    if (copy) names->v[names->n++] = copy;
    return copy;
}

void cfg_names_free(cfg_names *names) {
    for (size_t i = 0; i < names->n; i++) free(names->v[i]);
    free(names->v);
    free(names);
}

/* ---- scalars ---- */

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool one_of(const char *text, const char *const words[]) {
    for (; *words; words++)
        if (strcmp(text, *words) == 0) return true;
    return false;
}

/* [-+]? then 0x[0-9a-fA-F]+, 0o[0-7]+ or [0-9]+, as a magnitude. `ok` is false for
 * anything else; `overflow` when the magnitude exceeds 2^64 - 1. */
static void scan_integer(const char *text, bool *negative, uint64_t *magnitude, bool *ok,
                         bool *overflow) {
    const char *p = text;
    *negative = false;
    *ok = false;
    *overflow = false;
    *magnitude = 0;
    if (*p == '-' || *p == '+') *negative = *p++ == '-';
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
        /* YAML 1.2 spells these without a sign */
        if (p != text) return;
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    }
    if (!*p) return;
    uint64_t value = 0;
    for (; *p; p++) {
        int d = hex_value(*p);
        if (d < 0 || d >= base) return;
        if (value > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) *overflow = true;
        value = value * (uint64_t)base + (uint64_t)d;
    }
    *magnitude = value;
    *ok = true;
}

/* [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )? */
static bool float_syntax(const char *p) {
    if (*p == '-' || *p == '+') p++;
    size_t digits = 0;
    while (is_digit(*p)) p++, digits++;
    if (*p == '.') {
        p++;
        size_t frac = 0;
        while (is_digit(*p)) p++, frac++;
        if (!digits && !frac) return false;
    } else if (!digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!is_digit(*p)) return false;
        while (is_digit(*p)) p++;
    }
    return *p == '\0';
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

static bool special_float(const char *text, double *out) {
    const char *p = text;
    bool negative = false;
    if (*p == '-' || *p == '+') negative = *p++ == '-';
    if (one_of(p, inf_words)) {
        *out = negative ? -INFINITY : INFINITY;
        return true;
    }
    if (p == text && one_of(p, nan_words)) {
        *out = NAN;
        return true;
    }
    return false;
}

cfg_kind cfg_plain_kind(const char *text) {
    if (one_of(text, null_words)) return CFG_KIND_NULL;
    bool b;
    if (cfg_parse_bool(text, &b)) return CFG_KIND_BOOL;
    bool negative, ok, overflow;
    uint64_t magnitude;
    scan_integer(text, &negative, &magnitude, &ok, &overflow);
    if (ok) return CFG_KIND_INT;
    double d;
    if (float_syntax(text) || special_float(text, &d)) return CFG_KIND_FLOAT;
    return CFG_KIND_STRING;
}

const char *cfg_type_name(const wg_cfg *node) {
    switch (node->type) {
    case WG_CFG_SCALAR: return "a scalar";
    case WG_CFG_SEQUENCE: return "a sequence";
    case WG_CFG_MAPPING: return "a mapping";
    }
    return "a node";
}

bool cfg_is_null(const wg_cfg *node) {
    return node->type == WG_CFG_SCALAR && node->style == CFG_PLAIN &&
           one_of(node->text, null_words);
}

bool cfg_parse_bool(const char *text, bool *out) {
    if (one_of(text, true_words))
        *out = true;
    else if (one_of(text, false_words))
        *out = false;
    else
        return false;
    return true;
}

bool cfg_parse_int64(const char *text, int64_t *out, bool *overflow) {
    bool negative, ok;
    uint64_t magnitude;
    scan_integer(text, &negative, &magnitude, &ok, overflow);
    if (ok) {
        uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (*overflow || magnitude > limit) {
            *overflow = true;
            return false;
        }
        *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
        return true;
    }
    /* 1e5 and 100.0 are integers too; 2.5 is not */
    double d;
    if (!float_syntax(text) || !cfg_parse_double(text, &d) || d != floor(d)) return false;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        *overflow = true;
        return false;
    }
    *out = (int64_t)d;
    return true;
}

bool cfg_parse_double(const char *text, double *out) {
    if (special_float(text, out)) return true;
    bool negative, ok, overflow;
    uint64_t magnitude;
    scan_integer(text, &negative, &magnitude, &ok, &overflow);
    if (ok && !float_syntax(text)) {
        /* 0x and 0o forms */
        double d = overflow ? INFINITY : (double)magnitude;
        *out = negative ? -d : d;
        return true;
    }
    if (!float_syntax(text)) return false;
    *out = strtod(text, NULL); /* overflow gives +-HUGE_VAL: out of any finite range */
    return true;
}

void cfg_format_double(double x, char *buf, size_t size) {
    if (isnan(x)) {
        snprintf(buf, size, ".nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x < 0 ? "-.inf" : ".inf");
        return;
    }
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, size, "%.0f", x); /* 1000, not 1e+03 */
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* ---- messages ---- */

void cfg_where(char *buf, size_t size, const char *file, int line, int col) {
    if (line > 0)
        snprintf(buf, size, "%s:%d:%d", file, line, col);
    else
        snprintf(buf, size, "%s", file);
}

static wg_status vfail(const char *file, int line, int col, const char *path, const char *fmt,
                       va_list ap) {
    char where[512], message[768];
    cfg_where(where, sizeof where, file, line, col);
    vsnprintf(message, sizeof message, fmt, ap);
    if (path && *path) return wg_fail(WG_ERR_CONFIG, "%s: key '%s': %s", where, path, message);
    return wg_fail(WG_ERR_CONFIG, "%s: %s", where, message);
}

wg_status cfg_fail(const char *file, int line, int col, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    wg_status status = vfail(file, line, col, path, fmt, ap);
    va_end(ap);
    return status;
}

wg_status wg_cfg_error(const wg_cfg *node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    wg_status status = vfail(node->file, node->line, node->col, node->path, fmt, ap);
    va_end(ap);
    return status;
}

wg_status cfg_nomem(void) {
    return wg_fail(WG_ERR_NOMEM, "out of memory while handling the configuration");
}

/* ---- looking at nodes ---- */

wg_cfg_type wg_cfg_type_of(const wg_cfg *node) {
    return node->type;
}

bool wg_cfg_is_null(const wg_cfg *node) {
    return node && cfg_is_null(node);
}

const char *wg_cfg_text(const wg_cfg *node) {
    return node && node->type == WG_CFG_SCALAR ? node->text : NULL;
}

const char *wg_cfg_path(const wg_cfg *node) {
    return node->path;
}

const char *wg_cfg_file(const wg_cfg *node) {
    return node->file;
}

int wg_cfg_line(const wg_cfg *node) {
    return node->line;
}

int wg_cfg_col(const wg_cfg *node) {
    return node->col;
}
