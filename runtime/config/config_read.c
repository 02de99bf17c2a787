/* Typed reads with schema-by-use checking, unknown-key reports and comparison.
 *
 * Readers get const pointers, yet reading records which keys were read and the
 * defaults used: that bookkeeping is not part of the configuration's value, and every
 * node is heap-allocated, so the casts below are well-defined. */
#include "config/config_internal.h"

#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- finding keys ---- */

typedef struct lookup {
    wg_cfg *map;   /* the mapping that holds the key; NULL when reading a node itself */
    size_t entry;  /* its index there */
    wg_cfg *value; /* NULL when absent or null */
} lookup;

static void append(char *buf, size_t size, const char *text) {
    size_t len = strlen(buf);
    if (len + 1 < size) snprintf(buf + len, size - len, "%s", text);
}

/* How a value shows in "got ..." */
static void describe(const wg_cfg *node, char *buf, size_t size) {
    if (node->type != WG_CFG_SCALAR) {
        snprintf(buf, size, "%s", cfg_type_name(node));
        return;
    }
    enum { SHOWN = 48 };
    size_t len = strcspn(node->text, "\n");
    bool cut = len > SHOWN || node->text[len];
    if (len > SHOWN) len = SHOWN;
    if (node->style == CFG_PLAIN)
        snprintf(buf, size, "'%.*s%s'", (int)len, node->text, cut ? "..." : "");
    else
        snprintf(buf, size, "\"%.*s%s\" (a quoted string)", (int)len, node->text, cut ? "..." : "");
}

/* `key 'path': got <value>, must be <what>` at the value. */
static wg_status wrong(const wg_cfg *value, const char *what) {
    char got[128];
    describe(value, got, sizeof got);
    return cfg_fail(value->file, value->line, value->col, value->path, "got %s, must be %s", got,
                    what);
}

/* The mapping readers see for an absent or null key, made on first use. */
static wg_status implicit_map(wg_cfg *map, size_t index, wg_cfg **out) {
    cfg_entry *e = &map->entries[index];
    if (e->dflt && e->dflt->type == WG_CFG_MAPPING) {
        *out = e->dflt;
        return WG_OK;
    }
    const wg_cfg *at = e->value ? e->value : map;
    wg_cfg *node = cfg_node_new(WG_CFG_MAPPING, at->file, at->line, at->col,
                                cfg_path_key(map->path, e->key, strlen(e->key)));
    if (!node) return cfg_nomem();
    node->implicit = true;
    cfg_node_free(e->dflt);
    e->dflt = node;
    *out = node;
    return WG_OK;
}

/* Finds `key` below `node`, recording the read in every mapping on the way, absent keys
 * included (they are "known keys" for unknown-key reports). */
static wg_status resolve(const wg_cfg *node, const char *key, bool quiet, lookup *lk) {
    wg_cfg *cur = (wg_cfg *)node;
    *lk = (lookup){0};
    if (!key) {
        lk->value = cfg_is_null(cur) ? NULL : cur;
        return WG_OK;
    }
    for (;;) {
        const char *dot = strchr(key, '.');
        size_t len = dot ? (size_t)(dot - key) : strlen(key);
        assert(len > 0 && "empty key in a configuration path");
        if (cur->type != WG_CFG_MAPPING) return quiet ? WG_ERR_CONFIG : wrong(cur, "a mapping");
        ptrdiff_t found = cfg_entry_find(cur, key, len);
        size_t index = (size_t)found;
        if (found < 0) {
            wg_status status = cfg_entry_add(cur, key, len, cur->file, 0, 0, &index);
            if (status != WG_OK) return status;
        }
        cfg_entry *e = &cur->entries[index];
        e->read = true;
        wg_cfg *value = e->value && !cfg_is_null(e->value) ? e->value : NULL;
        if (!dot) {
            lk->map = cur;
            lk->entry = index;
            lk->value = value;
            return WG_OK;
        }
        if (!value) {
            wg_status status = implicit_map(cur, index, &value);
            if (status != WG_OK) return status;
        }
        cur = value;
        key = dot + 1;
    }
}

/* Remembers the default used for an absent key, for WG_CFG_WRITE_DEFAULTS. Takes
 * ownership of `dflt` (NULL: out of memory). */
static wg_status remember(const lookup *lk, wg_cfg *dflt) {
    if (!dflt) return cfg_nomem();
    if (!lk->map) {
        cfg_node_free(dflt);
        return WG_OK;
    }
    cfg_entry *e = &lk->map->entries[lk->entry];
    cfg_node_free(e->dflt);
    e->dflt = dflt;
    return WG_OK;
}

static wg_cfg *default_node(const lookup *lk, wg_cfg_type type) {
    if (!lk->map) return cfg_node_new(type, "", 0, 0, strdup(""));
    const char *key = lk->map->entries[lk->entry].key;
    return cfg_node_new(type, lk->map->file, 0, 0, cfg_path_key(lk->map->path, key, strlen(key)));
}

static wg_cfg *default_scalar(const lookup *lk, const char *text, bool string) {
    wg_cfg *node = default_node(lk, WG_CFG_SCALAR);
    if (!node) return NULL;
    node->text = strdup(text);
    if (!node->text) {
        cfg_node_free(node);
        return NULL;
    }
    /* a string default that reads as something else when plain is written in quotes */
    node->style = string && cfg_plain_kind(text) != CFG_KIND_STRING ? CFG_DOUBLE : CFG_PLAIN;
    return node;
}

/* ---- numbers ---- */

typedef struct number_spec {
    bool integer;
    int64_t imin, imax, ilow, ihigh; /* range, and the type's own limits */
    double dmin, dmax;
} number_spec;

enum noun_form { NOUN_ONE, NOUN_MANY, NOUN_BARE }; /* "an integer", "integers", "integer" */

/* "an integer in [1, 10]", "numbers >= 0", ... */
static void number_noun(const number_spec *spec, enum noun_form form, char *buf, size_t size) {
    static const char *const nouns[3][2] = {
        {"a number", "an integer"}, {"numbers", "integers"}, {"number", "integer"}};
    const char *noun = nouns[form][spec->integer];
    char lo[40], hi[40];
    bool has_lo, has_hi;
    if (spec->integer) {
        has_lo = spec->imin > spec->ilow;
        has_hi = spec->imax < spec->ihigh;
        snprintf(lo, sizeof lo, "%" PRId64, spec->imin);
        snprintf(hi, sizeof hi, "%" PRId64, spec->imax);
    } else {
        has_lo = spec->dmin > -DBL_MAX;
        has_hi = spec->dmax < DBL_MAX;
        cfg_format_double(spec->dmin, lo, sizeof lo);
        cfg_format_double(spec->dmax, hi, sizeof hi);
    }
    if (has_lo && has_hi)
        snprintf(buf, size, "%s in [%s, %s]", noun, lo, hi);
    else if (has_lo)
        snprintf(buf, size, "%s >= %s", noun, lo);
    else if (has_hi)
        snprintf(buf, size, "%s <= %s", noun, hi);
    else
        snprintf(buf, size, "%s", noun);
}

/* Parses a scalar as the spec's number; false when it is not one or out of range. */
static bool parse_number(const wg_cfg *node, const number_spec *spec, int64_t *i, double *d) {
    if (node->type != WG_CFG_SCALAR || node->style != CFG_PLAIN) return false;
    if (spec->integer) {
        bool overflow;
        return cfg_parse_int64(node->text, i, &overflow) && *i >= spec->imin && *i <= spec->imax;
    }
    return cfg_parse_double(node->text, d) && *d >= spec->dmin && *d <= spec->dmax;
}

static wg_status read_number(const wg_cfg *node, const char *key, const number_spec *spec,
                             int64_t idef, double ddef, int64_t *iout, double *dout) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    if (!lk.value) {
        char text[40];
        if (spec->integer) {
            snprintf(text, sizeof text, "%" PRId64, idef);
            *iout = idef;
        } else {
            cfg_format_double(ddef, text, sizeof text);
            *dout = ddef;
        }
        return remember(&lk, default_scalar(&lk, text, false));
    }
    int64_t i;
    double d;
    if (!parse_number(lk.value, spec, &i, &d)) {
        char what[128];
        number_noun(spec, NOUN_ONE, what, sizeof what);
        return wrong(lk.value, what);
    }
    if (spec->integer)
        *iout = i;
    else
        *dout = d;
    return WG_OK;
}

static number_spec int_spec(int64_t min, int64_t max, int64_t low, int64_t high) {
    assert(min <= max);
    return (number_spec){.integer = true, .imin = min, .imax = max, .ilow = low, .ihigh = high};
}

static number_spec double_spec(double min, double max) {
    assert(min <= max);
    return (number_spec){.dmin = min, .dmax = max};
}

wg_status wg_cfg_int(const wg_cfg *node, const char *key, int def, int min, int max, int *out) {
    number_spec spec = int_spec(min, max, INT_MIN, INT_MAX);
    int64_t value;
    wg_status status = read_number(node, key, &spec, def, 0, &value, NULL);
    if (status == WG_OK) *out = (int)value;
    return status;
}

wg_status wg_cfg_int64(const wg_cfg *node, const char *key, int64_t def, int64_t min, int64_t max,
                       int64_t *out) {
    number_spec spec = int_spec(min, max, INT64_MIN, INT64_MAX);
    return read_number(node, key, &spec, def, 0, out, NULL);
}

wg_status wg_cfg_double(const wg_cfg *node, const char *key, double def, double min, double max,
                        double *out) {
    number_spec spec = double_spec(min, max);
    return read_number(node, key, &spec, 0, def, NULL, out);
}

/* Sequences: `out` is int[] or double[] after the spec. */
static wg_status read_numbers(const wg_cfg *node, const char *key, const number_spec *spec,
                              size_t min_count, size_t max_count, void *out, size_t *count) {
    assert(count || min_count == max_count);
    assert(min_count <= max_count);
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    int *iout = out;
    double *dout = out;
    if (!lk.value) {
        size_t n = count ? *count : max_count;
        wg_cfg *seq = default_node(&lk, WG_CFG_SEQUENCE);
        if (!seq) return cfg_nomem();
        seq->flow = true;
        for (size_t i = 0; i < n && status == WG_OK; i++) {
            char text[40];
            if (spec->integer)
                snprintf(text, sizeof text, "%d", iout[i]);
            else
                cfg_format_double(dout[i], text, sizeof text);
            wg_cfg *item = cfg_scalar_new(text, strlen(text), CFG_PLAIN, seq->file, 0, 0,
                                          cfg_path_index(seq->path, i));
            status = item ? cfg_item_add(seq, item) : cfg_nomem();
            if (status != WG_OK) cfg_node_free(item);
        }
        if (status != WG_OK) {
            cfg_node_free(seq);
            return status;
        }
        return remember(&lk, seq);
    }

    const wg_cfg *seq = lk.value;
    char noun[128], what[200];
    number_noun(spec, min_count == 1 && max_count == 1 ? NOUN_BARE : NOUN_MANY, noun, sizeof noun);
    if (min_count == max_count)
        snprintf(what, sizeof what, "a sequence of %zu %s", min_count, noun);
    else if (max_count == SIZE_MAX)
        snprintf(what, sizeof what, "a sequence of at least %zu %s", min_count, noun);
    else
        snprintf(what, sizeof what, "a sequence of %zu to %zu %s", min_count, max_count, noun);
    if (seq->type != WG_CFG_SEQUENCE) return wrong(seq, what);
    if (seq->n_items < min_count || seq->n_items > max_count)
        return cfg_fail(seq->file, seq->line, seq->col, seq->path, "got %zu items, must be %s",
                        seq->n_items, what);
    /* check every item before writing any, so a failure leaves out as it was */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < seq->n_items; i++) {
            int64_t iv;
            double dv;
            if (!parse_number(seq->items[i], spec, &iv, &dv)) {
                number_noun(spec, NOUN_ONE, noun, sizeof noun);
                return wrong(seq->items[i], noun);
            }
            if (pass == 0) continue;
            if (spec->integer)
                iout[i] = (int)iv;
            else
                dout[i] = dv;
        }
    }
    if (count) *count = seq->n_items;
    return WG_OK;
}

wg_status wg_cfg_ints(const wg_cfg *node, const char *key, int min, int max, size_t min_count,
                      size_t max_count, int *out, size_t *count) {
    number_spec spec = int_spec(min, max, INT_MIN, INT_MAX);
    return read_numbers(node, key, &spec, min_count, max_count, out, count);
}

wg_status wg_cfg_doubles(const wg_cfg *node, const char *key, double min, double max,
                         size_t min_count, size_t max_count, double *out, size_t *count) {
    number_spec spec = double_spec(min, max);
    return read_numbers(node, key, &spec, min_count, max_count, out, count);
}

/* ---- other scalars ---- */

wg_status wg_cfg_bool(const wg_cfg *node, const char *key, bool def, bool *out) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    if (!lk.value) {
        *out = def;
        return remember(&lk, default_scalar(&lk, def ? "true" : "false", false));
    }
    bool value;
    if (lk.value->type != WG_CFG_SCALAR || lk.value->style != CFG_PLAIN ||
        !cfg_parse_bool(lk.value->text, &value))
        return wrong(lk.value, "true or false");
    *out = value;
    return WG_OK;
}

wg_status wg_cfg_string(const wg_cfg *node, const char *key, const char *def, const char **out) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    if (!lk.value) {
        *out = def;
        return def ? remember(&lk, default_scalar(&lk, def, true)) : WG_OK;
    }
    if (lk.value->type != WG_CFG_SCALAR) return wrong(lk.value, "a string");
    *out = lk.value->text;
    return WG_OK;
}

/* Optimal string alignment distance (edits, with transpositions), capped for long
 * strings, which are never suggested. */
static size_t distance(const char *a, const char *b) {
    enum { MAX = 64 };
    size_t n = strlen(a), m = strlen(b);
    if (n > MAX || m > MAX) return SIZE_MAX;
    unsigned char d[MAX + 1][MAX + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1u < best) best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best) best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    return d[n][m];
}

/* The closest of `names` within two edits (and fewer than the text's length, so that
 * "x" does not suggest "y"), or NULL. */
static const char *closest(const char *text, const char *const *names, size_t count) {
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < count; i++) {
        size_t d = distance(text, names[i]);
        if (d < best_d && d < strlen(text)) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

static void suggestion(const char *text, const char *const *names, size_t count, char *buf,
                       size_t size) {
    const char *best = closest(text, names, count);
    if (best)
        snprintf(buf, size, "; did you mean '%s'?", best);
    else
        buf[0] = '\0';
}

wg_status wg_cfg_enum(const wg_cfg *node, const char *key, const char *const allowed[], int def,
                      int *out) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    size_t count = 0;
    while (allowed[count]) count++;
    if (!lk.value) {
        *out = def;
        if (def < 0 || (size_t)def >= count) return WG_OK;
        return remember(&lk, default_scalar(&lk, allowed[def], true));
    }
    if (lk.value->type == WG_CFG_SCALAR)
        for (size_t i = 0; i < count; i++)
            if (strcmp(lk.value->text, allowed[i]) == 0) {
                *out = (int)i;
                return WG_OK;
            }
    char what[768] = "one of: ", hint[128] = "";
    for (size_t i = 0; i < count; i++) {
        if (i) append(what, sizeof what, ", ");
        append(what, sizeof what, allowed[i]);
    }
    if (lk.value->type == WG_CFG_SCALAR)
        suggestion(lk.value->text, allowed, count, hint, sizeof hint);
    append(what, sizeof what, hint);
    return wrong(lk.value, what);
}

/* ---- collections ---- */

wg_status wg_cfg_map(const wg_cfg *node, const char *key, const wg_cfg **out) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    if (lk.value) {
        if (lk.value->type != WG_CFG_MAPPING) return wrong(lk.value, "a mapping");
        *out = lk.value;
        return WG_OK;
    }
    /* a null node read as itself has no key to keep an implicit mapping under */
    if (!lk.map) return wrong(node, "a mapping");
    wg_cfg *map;
    status = implicit_map(lk.map, lk.entry, &map);
    if (status == WG_OK) *out = map;
    return status;
}

wg_status wg_cfg_seq(const wg_cfg *node, const char *key, const wg_cfg **out) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK) return status;
    if (lk.value && lk.value->type != WG_CFG_SEQUENCE) return wrong(lk.value, "a sequence");
    *out = lk.value;
    return WG_OK;
}

wg_status wg_cfg_require(const wg_cfg *node, const char *key) {
    lookup lk;
    wg_status status = resolve(node, key, false, &lk);
    if (status != WG_OK || lk.value) return status;
    const wg_cfg *at = node;
    if (lk.map) {
        const cfg_entry *e = &lk.map->entries[lk.entry];
        at = e->value ? e->value : lk.map; /* the null value, or the mapping it is missing from */
    }
    if (!lk.map) return cfg_fail(at->file, at->line, at->col, at->path, "missing (required)");
    const char *name = lk.map->entries[lk.entry].key;
    char *path = cfg_path_key(lk.map->path, name, strlen(name));
    if (!path) return cfg_nomem();
    status = cfg_fail(at->file, at->line, at->col, path, "missing (required)");
    free(path);
    return status;
}

bool wg_cfg_has(const wg_cfg *node, const char *key) {
    lookup lk;
    return resolve(node, key, true, &lk) == WG_OK && lk.value;
}

const wg_cfg *wg_cfg_get(const wg_cfg *node, const char *key) {
    lookup lk;
    if (resolve(node, key, true, &lk) != WG_OK) return NULL;
    return lk.map ? lk.map->entries[lk.entry].value : node;
}

size_t wg_cfg_len(const wg_cfg *node) {
    if (!node) return 0;
    if (node->type == WG_CFG_SEQUENCE) return node->n_items;
    size_t count = 0;
    if (node->type == WG_CFG_MAPPING)
        for (size_t i = 0; i < node->n_entries; i++) count += node->entries[i].value != NULL;
    return count;
}

const wg_cfg *wg_cfg_item(const wg_cfg *node, size_t i) {
    assert(node->type == WG_CFG_SEQUENCE && i < node->n_items);
    return node->items[i];
}

const char *wg_cfg_key(const wg_cfg *node, size_t i, const wg_cfg **value) {
    assert(node->type == WG_CFG_MAPPING);
    for (size_t k = 0; k < node->n_entries; k++) {
        cfg_entry *e = &node->entries[k];
        if (!e->value) continue;
        if (i-- == 0) {
            e->read = true;
            if (value) *value = e->value;
            return e->key;
        }
    }
    assert(!"wg_cfg_key: index out of range");
    return NULL;
}

/* ---- after reading ---- */

void wg_cfg_touch(const wg_cfg *node) {
    for (size_t i = 0; i < node->n_items; i++) wg_cfg_touch(node->items[i]);
    for (size_t i = 0; i < node->n_entries; i++) {
        cfg_entry *e = &node->entries[i];
        if (!e->value) continue;
        e->read = true;
        wg_cfg_touch(e->value);
    }
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static wg_status report_unknown(const wg_cfg *map, const cfg_entry *unknown) {
    const char **known = malloc((map->n_entries + 1) * sizeof *known);
    char *path = cfg_path_key(map->path, unknown->key, strlen(unknown->key));
    if (!known || !path) {
        free(known);
        free(path);
        return cfg_nomem();
    }
    size_t count = 0;
    for (size_t i = 0; i < map->n_entries; i++)
        if (map->entries[i].read) known[count++] = map->entries[i].key;
    qsort(known, count, sizeof *known, compare_names);
    char list[600] = "", hint[128];
    for (size_t i = 0; i < count; i++) {
        if (i) append(list, sizeof list, ", ");
        append(list, sizeof list, known[i]);
    }
    suggestion(unknown->key, known, count, hint, sizeof hint);
    wg_status status;
    if (count)
        status = cfg_fail(unknown->key_file, unknown->key_line, unknown->key_col, NULL,
                          "unknown key '%s' (known keys here: %s)%s", path, list, hint);
    else
        status = cfg_fail(unknown->key_file, unknown->key_line, unknown->key_col, NULL,
                          "unknown key '%s' (no keys are read here)", path);
    free(known);
    free(path);
    return status;
}

wg_status wg_cfg_check_unused(const wg_cfg *node) {
    for (size_t i = 0; i < node->n_items; i++) {
        wg_status status = wg_cfg_check_unused(node->items[i]);
        if (status != WG_OK) return status;
    }
    for (size_t i = 0; i < node->n_entries; i++) {
        const cfg_entry *e = &node->entries[i];
        if (!e->value) continue;
        if (!e->read) return report_unknown(node, e);
        wg_status status = wg_cfg_check_unused(e->value);
        if (status != WG_OK) return status;
    }
    return WG_OK;
}

/* ---- comparing ---- */

static bool scalar_equal(const wg_cfg *a, const wg_cfg *b) {
    bool a_null = cfg_is_null(a), b_null = cfg_is_null(b);
    if (a_null || b_null) return a_null && b_null;
    if (strcmp(a->text, b->text) != 0) return false;
    /* quotes matter only where the plain text would be a number, bool or null */
    return (a->style == CFG_PLAIN) == (b->style == CFG_PLAIN) ||
           cfg_plain_kind(a->text) == CFG_KIND_STRING;
}

bool wg_cfg_equal(const wg_cfg *a, const wg_cfg *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case WG_CFG_SCALAR: return scalar_equal(a, b);
    case WG_CFG_SEQUENCE:
        if (a->n_items != b->n_items) return false;
        for (size_t i = 0; i < a->n_items; i++)
            if (!wg_cfg_equal(a->items[i], b->items[i])) return false;
        return true;
    case WG_CFG_MAPPING:
        if (wg_cfg_len(a) != wg_cfg_len(b)) return false;
        for (size_t i = 0; i < a->n_entries; i++) {
            const cfg_entry *e = &a->entries[i];
            if (!e->value) continue;
            ptrdiff_t k = cfg_entry_find(b, e->key, strlen(e->key));
            if (k < 0 || !b->entries[k].value || !wg_cfg_equal(e->value, b->entries[k].value))
                return false;
        }
        return true;
    }
    return false;
}
