/* Experiment configuration: a YAML document loaded into a tree of nodes that remember
 * where they were written, read through typed accessors that check the type and the
 * range and name the key in every error:
 *
 *     exp.yaml:12:10: key 'critic.lambda': got '-1', must be a number >= 0
 *
 * There is no separate schema: the schema is what the program reads ("schema by use").
 * Every read is recorded, so once the runtime and the plugins have read their settings,
 * wg_cfg_check_unused() reports the keys nobody asked for (typos, stale settings):
 *
 *     exp.yaml:7:3: unknown key 'critic.lamda' (known keys here: lambda, plugin); did
 *     you mean 'lambda'?
 *
 * A plugin reads its section like this:
 *
 *     double clip;
 *     wg_status s = wg_cfg_double(config, "clip", 0.01, 0.0, 1e3, &clip);
 *     if (s != WG_OK) return s;
 *
 * Keys. `key` names a key of the mapping `node`, or a dotted path through nested
 * mappings ("optimizer.lr"); NULL reads `node` itself (a sequence item). A key that
 * itself contains '.' is reachable only through wg_cfg_key. An absent key and a null
 * value (`lr:`, `lr: ~`, `lr: null`) both give the default. A quoted scalar is a
 * string: `lr: "0.1"` is not a number.
 *
 * Scalars follow the YAML 1.2 core schema: true/false (also True, TRUE, ...),
 * integers (42, -7, 0x2a, 0o52; an integral float such as 1e5 is accepted where an
 * integer is wanted), floats (0.5, 1e-4, .5, .inf, -.inf; .nan is never in range).
 * Numbers are parsed in the C locale's format.
 *
 * Ownership. A tree belongs to its root; wg_cfg_free(root) frees every node. Strings
 * and nodes handed out stay valid until then, except those that wg_cfg_set replaces,
 * so apply overrides before reading. Reading records what was read (through a const
 * pointer: the bookkeeping is not part of the value), so one tree must not be read
 * from two threads at once; separate trees are independent. */
#ifndef WGAN_CONFIG_H
#define WGAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A node: a scalar, a sequence or a mapping. The root of a loaded tree is a mapping. */
typedef struct wg_cfg wg_cfg;

typedef enum wg_cfg_type { WG_CFG_SCALAR, WG_CFG_SEQUENCE, WG_CFG_MAPPING } wg_cfg_type;

/* ---- loading ---- */

/* Loads a YAML file whose top level is a mapping (an empty file is an empty mapping).
 * A file that cannot be read is WG_ERR_IO naming the path; YAML syntax errors,
 * duplicate keys and a second document are WG_ERR_CONFIG at `file:line:col`. */
WG_API wg_status wg_cfg_load_file(const char *path, wg_cfg **root);
/* The same from a string; `name` stands for the file name in messages. */
WG_API wg_status wg_cfg_load_string(const char *name, const char *text, wg_cfg **root);
/* Frees a tree; `root` must be what a load function returned (or NULL). */
WG_API void wg_cfg_free(wg_cfg *root);

/* ---- overrides (`--set a.b=c`) ---- */

/* Sets the key `path` ("train.steps", "optimizer.betas[1]") to `value`, parsed as YAML:
 * a scalar or a flow collection ("[0.5, 0.9]", "{lr: 1e-4}"); "" is null. Missing (or
 * null) mappings along the path are created; an existing value is replaced. Errors
 * name the override: `--set a.b=1: 'a' is a scalar (exp.yaml:3:4), not a mapping`.
 * Values set here report their errors at `--set a.b=1` instead of a file position. */
WG_API wg_status wg_cfg_set(wg_cfg *root, const char *path, const char *value);
/* The same for one "path=value" argument as written on the command line. */
WG_API wg_status wg_cfg_set_arg(wg_cfg *root, const char *assignment);

/* ---- typed reads ----
 * Each returns WG_OK, or WG_ERR_CONFIG with a message
 * `file:line:col: key 'a.b.c': got X, must be Y`, leaving *out unchanged. When the key
 * is absent (or null), *out is the default, and the default is remembered for
 * wg_cfg_write(..., WG_CFG_WRITE_DEFAULTS). Ranges are inclusive. */

WG_API wg_status wg_cfg_int(const wg_cfg *node, const char *key, int def, int min, int max,
                            int *out);
WG_API wg_status wg_cfg_int64(const wg_cfg *node, const char *key, int64_t def, int64_t min,
                              int64_t max, int64_t *out);
WG_API wg_status wg_cfg_double(const wg_cfg *node, const char *key, double def, double min,
                               double max, double *out);
WG_API wg_status wg_cfg_bool(const wg_cfg *node, const char *key, bool def, bool *out);
/* Any scalar, quoted or not. *out points into the tree (or is `def`, which may be NULL). */
WG_API wg_status wg_cfg_string(const wg_cfg *node, const char *key, const char *def,
                               const char **out);
/* One of the NULL-terminated `allowed` strings; *out is its index. `def` is returned
 * as is when the key is absent (-1 is fine for "none"). */
WG_API wg_status wg_cfg_enum(const wg_cfg *node, const char *key, const char *const allowed[],
                             int def, int *out);

/* Sequences of numbers, e.g. `betas: [0.5, 0.9]` or `hidden: [512, 512, 512]`.
 * `out` has room for max_count values and holds the defaults on entry: *count of them
 * (all max_count when count is NULL, which requires min_count == max_count). When the
 * key is present, between min_count and max_count values in [min, max] are read into
 * out and *count; when absent, out and *count are left as they are. */
WG_API wg_status wg_cfg_ints(const wg_cfg *node, const char *key, int min, int max,
                             size_t min_count, size_t max_count, int *out, size_t *count);
WG_API wg_status wg_cfg_doubles(const wg_cfg *node, const char *key, double min, double max,
                                size_t min_count, size_t max_count, double *out, size_t *count);

/* A nested mapping. When absent (or null) *out is an empty mapping that records what
 * is read from it, so readers need no special case: every read gives its default. */
WG_API wg_status wg_cfg_map(const wg_cfg *node, const char *key, const wg_cfg **out);
/* A sequence of anything (iterate with wg_cfg_len / wg_cfg_item); *out is NULL when
 * absent (or null). */
WG_API wg_status wg_cfg_seq(const wg_cfg *node, const char *key, const wg_cfg **out);
/* Fails with `key 'a.b': missing (required)` unless the key is present and not null. */
WG_API wg_status wg_cfg_require(const wg_cfg *node, const char *key);
/* Whether the key is present and not null. Counts as a read of the key. */
WG_API bool wg_cfg_has(const wg_cfg *node, const char *key);
/* The raw value (a null value included), or NULL when absent or when the path runs
 * through something that is not a mapping. Counts as a read of the key. */
WG_API const wg_cfg *wg_cfg_get(const wg_cfg *node, const char *key);

/* ---- looking at nodes ---- */

WG_API wg_cfg_type wg_cfg_type_of(const wg_cfg *node);
/* A plain ~, null, Null, NULL or empty scalar. */
WG_API bool wg_cfg_is_null(const wg_cfg *node);
/* A scalar's text (NULL for collections). */
WG_API const char *wg_cfg_text(const wg_cfg *node);
/* Items of a sequence, keys of a mapping (those in the document), 0 for a scalar or
 * NULL. */
WG_API size_t wg_cfg_len(const wg_cfg *node);
/* Item i of a sequence. */
WG_API const wg_cfg *wg_cfg_item(const wg_cfg *node, size_t i);
/* Key i of a mapping, in document order, and its value; counts as a read of the key,
 * for mappings whose keys are data (names of runs, say) rather than settings. */
WG_API const char *wg_cfg_key(const wg_cfg *node, size_t i, const wg_cfg **value);
/* Where the node comes from: its key path ("critic.betas[1]", "" for the root), its
 * file (or the `--set ...` override that made it), and its 1-based line and column
 * (0 for overrides). */
WG_API const char *wg_cfg_path(const wg_cfg *node);
WG_API const char *wg_cfg_file(const wg_cfg *node);
WG_API int wg_cfg_line(const wg_cfg *node);
WG_API int wg_cfg_col(const wg_cfg *node);

/* Reports a problem with a node found by a reader's own checks, in the same shape as
 * every other error: `file:line:col: key 'path': <message>`. Returns WG_ERR_CONFIG. */
WG_API wg_status wg_cfg_error(const wg_cfg *node, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- after reading ---- */

/* Marks every key under `node` as read: for a section handed on as a whole. */
WG_API void wg_cfg_touch(const wg_cfg *node);
/* Fails at the first key, in document order, that nobody read:
 * `file:line:col: unknown key 'a.b.typo' (known keys here: x, y); did you mean 'x'?`
 * The known keys are those that were read or asked for in that mapping. */
WG_API wg_status wg_cfg_check_unused(const wg_cfg *node);

/* Same content: same structure, keys and scalars, in any key order. Scalars compare as
 * YAML values: `"abc"` equals `abc`, `"5"` does not equal `5`, all nulls are equal. */
WG_API bool wg_cfg_equal(const wg_cfg *a, const wg_cfg *b);

/* ---- writing ---- */

enum {
    /* Also write the defaults readers used for absent or null keys, so the file
     * records every value the run used. */
    WG_CFG_WRITE_DEFAULTS = 1u << 0,
};

/* Writes `node` (normally the root, overrides applied) as a YAML document. Loading
 * the output gives a tree equal to `node` (with defaults, one that also holds them).
 * Comments and anchors are not kept. Write failures are WG_ERR_IO. */
WG_API wg_status wg_cfg_write(const wg_cfg *node, FILE *f, unsigned flags);
/* The same into `path`, atomically: a temporary file in the same folder, then rename. */
WG_API wg_status wg_cfg_save(const wg_cfg *node, const char *path, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
