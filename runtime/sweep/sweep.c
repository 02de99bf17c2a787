/* Sweep files for `wgan compare`: experiments x devices x seeds, with overrides. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* ---- overrides from YAML nodes ---- */

/* A scalar as `wg_cfg_write` spells it (quoted when it was), without the newline. */
static void scalar_text(const wg_cfg *node, wg_buf *out) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f || wg_cfg_write(node, f, 0) != WG_OK) {
        if (f) fclose(f);
        free(text);
        wg_clear_error();
        wg_buf_puts(out, wg_cfg_text(node) ? wg_cfg_text(node) : "");
        return;
    }
    fclose(f);
    const char *start = text;
    if (!strncmp(start, "--- ", 4)) start += 4;
    size_t len = strlen(start);
    while (len > 0 && (start[len - 1] == '\n' || start[len - 1] == ' ')) len--;
    if (len >= 4 && !strncmp(start + len - 4, "\n...", 4)) len -= 4;
    wg_buf_append(out, start, len);
    free(text);
}

/* A node as a YAML flow value, the form `--set` takes. */
static void flow_text(const wg_cfg *node, wg_buf *out) {
    switch (wg_cfg_type_of(node)) {
    case WG_CFG_SCALAR: scalar_text(node, out); break;
    case WG_CFG_SEQUENCE:
        wg_buf_puts(out, "[");
        for (size_t i = 0; i < wg_cfg_len(node); i++) {
            if (i) wg_buf_puts(out, ", ");
            flow_text(wg_cfg_item(node, i), out);
        }
        wg_buf_puts(out, "]");
        break;
    case WG_CFG_MAPPING:
        wg_buf_puts(out, "{");
        for (size_t i = 0; i < wg_cfg_len(node); i++) {
            const wg_cfg *value;
            const char *key = wg_cfg_key(node, i, &value);
            wg_buf_printf(out, "%s%s: ", i ? ", " : "", key);
            flow_text(value, out);
        }
        wg_buf_puts(out, "}");
        break;
    }
}

/* "key=value" for one entry of a `set:` mapping. */
static char *override_text(const char *key, const wg_cfg *value) {
    wg_buf b = {0};
    wg_buf_printf(&b, "%s=", key);
    if (!wg_cfg_is_null(value)) flow_text(value, &b);
    if (b.failed) {
        wg_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- growing arrays ---- */

static int grow(void **array, int n, size_t item) {
    void *grown = realloc(*array, (size_t)(n + 1) * item);
    if (!grown) return 0;
    *array = grown;
    return 1;
}

static wg_status no_memory(void) {
    return wg_fail(WG_ERR_NOMEM, "out of memory reading a sweep file");
}

static wg_status push_override(char ***list, const wg_cfg ***nodes, int *n, char *text,
                               const wg_cfg *node) {
    if (!text) return no_memory();
    if (!grow((void **)list, *n, sizeof **list) ||
        (nodes && !grow((void **)nodes, *n, sizeof **nodes))) {
        free(text);
        return no_memory();
    }
    (*list)[*n] = text;
    if (nodes) (*nodes)[*n] = node;
    (*n)++;
    return WG_OK;
}

/* The entries of a `set:` mapping as overrides. */
static wg_status read_set(const wg_cfg *parent, char ***list, const wg_cfg ***nodes, int *n) {
    const wg_cfg *set = wg_cfg_get(parent, "set");
    if (!set || wg_cfg_is_null(set)) return WG_OK;
    if (wg_cfg_type_of(set) != WG_CFG_MAPPING)
        return wg_cfg_error(set, "must be a mapping of keys to values, e.g. {train.steps: 500}");
    for (size_t i = 0; i < wg_cfg_len(set); i++) {
        const wg_cfg *value;
        const char *key = wg_cfg_key(set, i, &value);
        wg_status s = push_override(list, nodes, n, override_text(key, value), value);
        if (s != WG_OK) return s;
    }
    return WG_OK;
}

static void free_experiment(wg_sweep_experiment *x) {
    free(x->label);
    free(x->path);
    for (int i = 0; i < x->n_overrides; i++) free(x->overrides[i]);
    free(x->overrides);
}

/* ---- names and files ---- */

static bool valid_name(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > 100 || name[0] == '.') return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i])) return false;
    return true;
}

static char *dirname_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* An experiment path as written: relative to the current folder, else to the sweep
 * file's folder. */
static wg_status resolve_path(const wg_sweep *sw, const wg_cfg *node, char **out) {
    const char *text = wg_cfg_text(node);
    if (!text || !*text) return wg_cfg_error(node, "must be the path of an experiment file");
    if (wg_file_exists(text)) return (*out = strdup(text)) ? WG_OK : no_memory();
    char *dir = dirname_of(sw->path);
    if (!dir) return no_memory();
    size_t size = strlen(dir) + strlen(text) + 2;
    char *joined = malloc(size);
    if (joined) snprintf(joined, size, "%s/%s", dir, text);
    wg_status s = WG_OK;
    if (!joined) {
        s = no_memory();
    } else if (text[0] == '/' || !wg_file_exists(joined)) {
        s = wg_cfg_error(node, "cannot find the experiment file '%s'%s%s", text,
                         text[0] == '/' ? "" : " (looked in the current folder and in ",
                         text[0] == '/' ? "" : dir);
        if (text[0] != '/') {
            /* close the parenthesis the message opened */
            char message[2048];
            snprintf(message, sizeof message, "%s)", wg_last_error());
            s = wg_fail(WG_ERR_CONFIG, "%s", message);
        }
        free(joined);
        joined = NULL;
    }
    free(dir);
    *out = joined;
    return s;
}

/* The experiment's own name: its `name:` key, else the file name without .yaml. */
static wg_status experiment_name(const wg_cfg *node, const char *path, char **out) {
    wg_cfg *cfg = NULL;
    wg_status s = wg_cfg_load_file(path, &cfg);
    if (s != WG_OK) {
        char message[2048];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_cfg_error(node, "%s", message);
    }
    const char *name = NULL;
    s = wg_cfg_string(cfg, "name", NULL, &name);
    if (s == WG_OK && name) {
        *out = strdup(name);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t len = strlen(base);
        if (len > 5 && !strcmp(base + len - 5, ".yaml"))
            len -= 5;
        else if (len > 4 && !strcmp(base + len - 4, ".yml"))
            len -= 4;
        *out = strndup(base, len);
    }
    wg_cfg_free(cfg);
    wg_clear_error();
    return *out ? WG_OK : no_memory();
}

/* ---- the file ---- */

/* An inline base's `name:`, else "base". */
static wg_status inline_base_name(const wg_sweep *sw, char **out) {
    const wg_cfg *n = wg_cfg_get(sw->inline_base, "name");
    const char *text = n ? wg_cfg_text(n) : NULL;
    *out = strdup(text && valid_name(text) ? text : "base");
    return *out ? WG_OK : no_memory();
}

static wg_status add_experiment(wg_sweep *sw, const wg_cfg *node, const char *base_path) {
    if (!grow((void **)&sw->experiments, sw->n_experiments, sizeof *sw->experiments))
        return no_memory();
    wg_sweep_experiment *x = &sw->experiments[sw->n_experiments++];
    *x = (wg_sweep_experiment){0};
    const wg_cfg *path_node = node, *name_node = NULL;
    wg_status s = WG_OK;
    if (wg_cfg_type_of(node) == WG_CFG_MAPPING) {
        path_node = wg_cfg_get(node, "file");
        name_node = wg_cfg_get(node, "name");
        if ((s = read_set(node, &x->overrides, NULL, &x->n_overrides)) != WG_OK) return s;
        if ((s = wg_cfg_check_unused(node)) != WG_OK) return s;
        if (path_node && wg_cfg_type_of(path_node) != WG_CFG_SCALAR)
            return wg_cfg_error(path_node, "must be the path of an experiment file");
    } else if (wg_cfg_type_of(node) != WG_CFG_SCALAR) {
        return wg_cfg_error(node, "must be an experiment file, or a mapping with file, name "
                                  "and set");
    }
    if (path_node) {
        if ((s = resolve_path(sw, path_node, &x->path)) != WG_OK) return s;
    } else if (base_path) {
        if (!(x->path = strdup(base_path))) return no_memory();
    } else {
        return wg_cfg_error(node, "names no file and the sweep has no base");
    }
    if (name_node && !wg_cfg_is_null(name_node)) {
        const char *name = wg_cfg_text(name_node);
        if (!name || !valid_name(name))
            return wg_cfg_error(name_node,
                                "got '%s', must be 1 to 100 letters, digits, '.', '_' "
                                "or '-' (it names the run folders)",
                                name ? name : "a collection");
        if (!(x->label = strdup(name))) return no_memory();
    } else if (!*x->path) {
        s = inline_base_name(sw, &x->label);
        if (s != WG_OK) return s;
    } else if ((s = experiment_name(path_node ? path_node : node, x->path, &x->label)) != WG_OK) {
        return s;
    }
    for (int i = 0; i + 1 < sw->n_experiments; i++)
        if (!strcmp(sw->experiments[i].label, x->label))
            return wg_cfg_error(name_node ? name_node : node,
                                "a second experiment called '%s' (give each a different name:)",
                                x->label);
    return WG_OK;
}

/* `vary:` multiplies every experiment by every combination of the listed values. */
static wg_status apply_vary(wg_sweep *sw, const wg_cfg *vary) {
    if (wg_cfg_type_of(vary) != WG_CFG_MAPPING)
        return wg_cfg_error(vary, "must map keys to lists of values, e.g. "
                                  "{lipschitz.lambda: [0.1, 10]}");
    for (size_t k = 0; k < wg_cfg_len(vary); k++) {
        const wg_cfg *values;
        const char *key = wg_cfg_key(vary, k, &values);
        if (wg_cfg_type_of(values) != WG_CFG_SEQUENCE || wg_cfg_len(values) == 0)
            return wg_cfg_error(values, "must be a non-empty list of values");
        const char *leaf = strrchr(key, '.');
        leaf = leaf ? leaf + 1 : key;
        int n_old = sw->n_experiments;
        wg_sweep_experiment *old = sw->experiments;
        size_t n_values = wg_cfg_len(values);
        wg_sweep_experiment *next = calloc((size_t)n_old * n_values, sizeof *next);
        if (!next) return no_memory();
        sw->experiments = next;
        sw->n_experiments = 0;
        wg_status s = WG_OK;
        for (int e = 0; e < n_old && s == WG_OK; e++)
            for (size_t v = 0; v < n_values && s == WG_OK; v++) {
                const wg_cfg *value = wg_cfg_item(values, v);
                wg_sweep_experiment *x = &next[sw->n_experiments++];
                wg_buf label = {0};
                wg_buf_printf(&label, "%s-%s-", old[e].label, leaf);
                wg_buf text = {0};
                flow_text(value, &text);
                /* the value in the folder name, reduced to the characters names allow */
                for (const char *p = text.data ? text.data : ""; *p; p++)
                    if (isalnum((unsigned char)*p) || strchr("._-", *p))
                        wg_buf_append(&label, p, 1);
                wg_buf_free(&text);
                x->label = label.data;
                x->path = strdup(old[e].path);
                if (!x->label || !x->path || label.failed) {
                    s = no_memory();
                    break;
                }
                for (int i = 0; i < old[e].n_overrides && s == WG_OK; i++)
                    s = push_override(&x->overrides, NULL, &x->n_overrides,
                                      strdup(old[e].overrides[i]), NULL);
                if (s == WG_OK)
                    s = push_override(&x->overrides, NULL, &x->n_overrides,
                                      override_text(key, value), NULL);
            }
        for (int e = 0; e < n_old; e++) free_experiment(&old[e]);
        free(old);
        if (s != WG_OK) return s;
    }
    return WG_OK;
}

static wg_status read_devices(wg_sweep *sw) {
    const wg_cfg *devices = wg_cfg_get(sw->root, "devices");
    if (!devices || wg_cfg_is_null(devices)) {
        if (!grow((void **)&sw->devices, 0, sizeof *sw->devices) ||
            !grow((void **)&sw->device_nodes, 0, sizeof *sw->device_nodes) ||
            !(sw->devices[0] = strdup("auto")))
            return no_memory();
        sw->device_nodes[0] = NULL;
        sw->n_devices = 1;
        return WG_OK;
    }
    if (wg_cfg_type_of(devices) != WG_CFG_SEQUENCE || wg_cfg_len(devices) == 0)
        return wg_cfg_error(devices, "must be a non-empty list of device specs, e.g. [cpu, pocl] "
                                     "or [all]");
    for (size_t i = 0; i < wg_cfg_len(devices); i++) {
        const wg_cfg *item = wg_cfg_item(devices, i);
        const char *spec = wg_cfg_text(item);
        if (!spec || !*spec)
            return wg_cfg_error(item, "must be a device spec: all, auto, cpu, opencl, opencl:N "
                                      "or a vendor or name substring");
        for (int k = 0; k < sw->n_devices; k++)
            if (!strcmp(sw->devices[k], spec))
                return wg_cfg_error(item, "device '%s' is listed twice", spec);
        if (!grow((void **)&sw->devices, sw->n_devices, sizeof *sw->devices) ||
            !grow((void **)&sw->device_nodes, sw->n_devices, sizeof *sw->device_nodes))
            return no_memory();
        if (!(sw->devices[sw->n_devices] = strdup(spec))) return no_memory();
        sw->device_nodes[sw->n_devices++] = item;
    }
    return WG_OK;
}

static wg_status read_seeds(wg_sweep *sw) {
    const wg_cfg *seeds = wg_cfg_get(sw->root, "seeds");
    if (!seeds || wg_cfg_is_null(seeds)) return WG_OK;
    if (wg_cfg_type_of(seeds) != WG_CFG_SEQUENCE || wg_cfg_len(seeds) == 0)
        return wg_cfg_error(seeds, "must be a non-empty list of integers >= 0, e.g. [1, 2, 3]");
    for (size_t i = 0; i < wg_cfg_len(seeds); i++) {
        const wg_cfg *item = wg_cfg_item(seeds, i);
        int64_t seed;
        wg_status s = wg_cfg_int64(item, NULL, 0, 0, INT64_MAX, &seed);
        if (s != WG_OK) return s;
        for (int k = 0; k < sw->n_seeds; k++)
            if (sw->seeds[k] == seed)
                return wg_cfg_error(item, "seed %lld is listed twice", (long long)seed);
        if (!grow((void **)&sw->seeds, sw->n_seeds, sizeof *sw->seeds)) return no_memory();
        sw->seeds[sw->n_seeds++] = seed;
    }
    return WG_OK;
}

/* Whether every comma-separated name of `list` is an experiment of the sweep; the
 * message names the first that is not. */
static bool is_experiment_label(const wg_sweep *sw, const char *name, size_t n) {
    for (int e = 0; e < sw->n_experiments; e++)
        if (strlen(sw->experiments[e].label) == n && !strncmp(sw->experiments[e].label, name, n))
            return true;
    return false;
}

static wg_status check_baseline(const wg_sweep *sw, const char *list, const wg_cfg *node) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (!is_experiment_label(sw, p, n)) {
            const char *why = "is not the name of one of the sweep's experiments";
            if (node) return wg_cfg_error(node, "'%.*s' %s", (int)n, p, why);
            return wg_fail(WG_ERR_CONFIG, "baseline '%.*s' %s%s", (int)n, p, why,
                           sw->n_experiments ? "" : " (none is left)");
        }
        p += n;
        if (*p) p++;
    }
    return WG_OK;
}

/* `baseline:` an experiment name, or a list of them (one per data set). */
static wg_status read_baseline(wg_sweep *sw) {
    const wg_cfg *node = wg_cfg_get(sw->root, "baseline");
    if (!node || wg_cfg_is_null(node)) return WG_OK;
    wg_buf list = {0};
    bool scalar = wg_cfg_type_of(node) == WG_CFG_SCALAR;
    size_t n = scalar ? 1 : wg_cfg_len(node);
    if (wg_cfg_type_of(node) == WG_CFG_MAPPING || n == 0)
        return wg_cfg_error(node, "must be an experiment's name or a list of them");
    for (size_t i = 0; i < n; i++) {
        const wg_cfg *item = scalar ? node : wg_cfg_item(node, i);
        const char *text = wg_cfg_text(item);
        if (!text || !*text || strchr(text, ',')) {
            wg_buf_free(&list);
            return wg_cfg_error(item, "must be an experiment's name");
        }
        wg_status s = check_baseline(sw, text, item);
        if (s != WG_OK) {
            wg_buf_free(&list);
            return s;
        }
        wg_buf_printf(&list, "%s%s", i ? "," : "", text);
    }
    if (list.failed) {
        wg_buf_free(&list);
        return no_memory();
    }
    sw->baseline = list.data;
    return WG_OK;
}

static wg_status read_sweep(wg_sweep *sw, const char *const *cli, int n_cli) {
    wg_status s;
    const char *name = NULL;
    char *stem = NULL;
    {
        const char *base = strrchr(sw->path, '/');
        base = base ? base + 1 : sw->path;
        size_t len = strlen(base);
        if (len > 5 && !strcmp(base + len - 5, ".yaml")) len -= 5;
        if (!(stem = strndup(base, len))) return no_memory();
    }
    s = wg_cfg_string(sw->root, "name", stem, &name);
    if (s == WG_OK && !valid_name(name))
        s = wg_cfg_error(wg_cfg_get(sw->root, "name"),
                         "got '%s', must be 1 to 100 letters, digits, '.', '_' or '-' (it "
                         "names the comparison folder)",
                         name);
    if (s == WG_OK && !(sw->name = strdup(name))) s = no_memory();
    free(stem);
    if (s != WG_OK) return s;

    /* base: a file, or an experiment written inline (checked when the sweep runs) */
    char *base_path = NULL;
    const wg_cfg *base = wg_cfg_get(sw->root, "base");
    if (base && !wg_cfg_is_null(base)) {
        if (wg_cfg_type_of(base) == WG_CFG_SCALAR) {
            if ((s = resolve_path(sw, base, &base_path)) != WG_OK) return s;
        } else if (wg_cfg_type_of(base) == WG_CFG_MAPPING) {
            wg_cfg_touch(base);
            sw->inline_base = base;
        } else {
            return wg_cfg_error(base, "must be an experiment file or an experiment written "
                                      "inline as a mapping");
        }
    }
    const wg_cfg *experiments = wg_cfg_get(sw->root, "experiments");
    if (experiments && !wg_cfg_is_null(experiments)) {
        if (wg_cfg_type_of(experiments) != WG_CFG_SEQUENCE || wg_cfg_len(experiments) == 0)
            s = wg_cfg_error(experiments, "must be a non-empty list of experiment files (or of "
                                          "mappings with file, name and set)");
        for (size_t i = 0; s == WG_OK && i < wg_cfg_len(experiments); i++)
            s = add_experiment(sw, wg_cfg_item(experiments, i),
                               base_path         ? base_path
                               : sw->inline_base ? ""
                                                 : NULL);
    } else if (base_path || sw->inline_base) {
        /* the base alone */
        if (!grow((void **)&sw->experiments, 0, sizeof *sw->experiments)) s = no_memory();
        if (s == WG_OK) {
            wg_sweep_experiment *x = &sw->experiments[sw->n_experiments++];
            *x = (wg_sweep_experiment){0};
            x->path = strdup(base_path ? base_path : "");
            if (!x->path)
                s = no_memory();
            else if (base_path)
                s = experiment_name(base, base_path, &x->label);
            else
                s = inline_base_name(sw, &x->label);
        }
    } else {
        s = wg_cfg_error(sw->root, "key 'experiments': missing (required unless there is a "
                                   "base): a list of experiment files");
    }
    free(base_path);
    if (s != WG_OK) return s;
    const wg_cfg *vary = wg_cfg_get(sw->root, "vary");
    if (vary && !wg_cfg_is_null(vary) && (s = apply_vary(sw, vary)) != WG_OK) return s;
    if ((s = read_devices(sw)) != WG_OK || (s = read_seeds(sw)) != WG_OK ||
        (s = read_baseline(sw)) != WG_OK)
        return s;
    if ((s = read_set(sw->root, &sw->overrides, &sw->override_nodes, &sw->n_overrides)) != WG_OK)
        return s;
    for (int i = 0; i < n_cli; i++)
        if ((s = push_override(&sw->overrides, &sw->override_nodes, &sw->n_overrides,
                               strdup(cli[i]), NULL)) != WG_OK)
            return s;
    return wg_cfg_check_unused(sw->root);
}

wg_status wg_sweep_load(const char *path, const char *const *cli_overrides, int n_cli,
                        wg_sweep **out) {
    *out = NULL;
    wg_sweep *sw = calloc(1, sizeof *sw);
    if (!sw || !(sw->path = strdup(path))) {
        free(sw);
        return no_memory();
    }
    wg_status s = wg_cfg_load_file(path, &sw->root);
    if (s == WG_ERR_IO) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        s = wg_fail(WG_ERR_CONFIG, "%s", message);
    }
    if (s == WG_OK) s = read_sweep(sw, cli_overrides, n_cli);
    if (s != WG_OK) {
        char message[2048];
        snprintf(message, sizeof message, "%s", wg_last_error());
        wg_sweep_free(sw);
        return wg_fail(s, "%s", message);
    }
    *out = sw;
    return WG_OK;
}

/* A baseline list names one experiment per data set, so `--only 8gaussians` keeps the
 * baselines of the data sets it keeps; only a selection without any of them fails. */
static wg_status keep_selected_baselines(wg_sweep *sw) {
    wg_buf kept = {0};
    for (const char *p = sw->baseline; *p;) {
        size_t n = strcspn(p, ",");
        if (is_experiment_label(sw, p, n))
            wg_buf_printf(&kept, "%s%.*s", kept.len ? "," : "", (int)n, p);
        p += n;
        if (*p) p++;
    }
    if (kept.failed) {
        wg_buf_free(&kept);
        return no_memory();
    }
    if (!kept.len) {
        wg_buf_free(&kept);
        return wg_fail(WG_ERR_CONFIG,
                       "%s: --only left out every baseline (%s): pass --baseline with one of "
                       "the selected experiments",
                       sw->path, sw->baseline);
    }
    free(sw->baseline);
    sw->baseline = kept.data;
    return WG_OK;
}

wg_status wg_sweep_select(wg_sweep *sw, const char *const *substrings, int n) {
    if (n == 0) return WG_OK;
    int kept = 0;
    for (int e = 0; e < sw->n_experiments; e++) {
        bool match = false;
        for (int k = 0; k < n && !match; k++)
            match = strstr(sw->experiments[e].label, substrings[k]);
        if (match)
            sw->experiments[kept++] = sw->experiments[e];
        else
            free_experiment(&sw->experiments[e]);
    }
    sw->n_experiments = kept;
    if (!kept)
        return wg_fail(WG_ERR_CONFIG, "%s: no experiment's name contains '%s'%s", sw->path,
                       substrings[0], n > 1 ? " or the other --only texts" : "");
    return sw->baseline ? keep_selected_baselines(sw) : WG_OK;
}

wg_status wg_sweep_set_baseline(wg_sweep *sw, const char *list) {
    if (!*list || list[strlen(list) - 1] == ',' || strstr(list, ",,"))
        return wg_fail(WG_ERR_CONFIG, "--baseline '%s': an empty experiment name", list);
    wg_status s = check_baseline(sw, list, NULL);
    if (s != WG_OK) return s;
    char *copy = strdup(list);
    if (!copy) return no_memory();
    free(sw->baseline);
    sw->baseline = copy;
    return WG_OK;
}

wg_status wg_sweep_set_devices(wg_sweep *sw, const char *list) {
    int n = 0;
    char **devices = NULL;
    wg_status s = WG_OK;
    for (const char *p = list; s == WG_OK;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            s = wg_fail(WG_ERR_CONFIG, "--devices %s: an empty device spec", list);
            break;
        }
        if (!grow((void **)&devices, n, sizeof *devices) || !(devices[n] = strndup(p, len))) {
            s = no_memory();
            break;
        }
        n++;
        if (!p[len]) break;
        p += len + 1;
    }
    const wg_cfg **nodes = s == WG_OK ? calloc((size_t)n, sizeof *nodes) : NULL;
    if (s == WG_OK && !nodes) s = no_memory();
    if (s != WG_OK) {
        for (int i = 0; i < n; i++) free(devices[i]);
        free(devices);
        return s;
    }
    for (int i = 0; i < sw->n_devices; i++) free(sw->devices[i]);
    free(sw->devices);
    free(sw->device_nodes);
    sw->devices = devices;
    sw->device_nodes = nodes;
    sw->n_devices = n;
    return WG_OK;
}

wg_status wg_sweep_set_seeds(wg_sweep *sw, const char *list) {
    int n = 0;
    int64_t *seeds = NULL;
    for (const char *p = list;;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || (*end && *end != ',')) {
            free(seeds);
            return wg_fail(WG_ERR_CONFIG, "--seeds %s: must be integers >= 0 separated by commas",
                           list);
        }
        for (int k = 0; k < n; k++)
            if (seeds[k] == v) {
                free(seeds);
                return wg_fail(WG_ERR_CONFIG, "--seeds %s: seed %lld is listed twice", list, v);
            }
        if (!grow((void **)&seeds, n, sizeof *seeds)) {
            free(seeds);
            return no_memory();
        }
        seeds[n++] = v;
        if (!*end) break;
        p = end + 1;
    }
    free(sw->seeds);
    sw->seeds = seeds;
    sw->n_seeds = n;
    return WG_OK;
}

void wg_sweep_free(wg_sweep *sw) {
    if (!sw) return;
    for (int e = 0; e < sw->n_experiments; e++) free_experiment(&sw->experiments[e]);
    free(sw->experiments);
    for (int i = 0; i < sw->n_devices; i++) free(sw->devices[i]);
    free(sw->devices);
    free(sw->device_nodes);
    free(sw->seeds);
    for (int i = 0; i < sw->n_overrides; i++) free(sw->overrides[i]);
    free(sw->overrides);
    free(sw->override_nodes);
    free(sw->name);
    free(sw->path);
    free(sw->baseline);
    wg_cfg_free(sw->root);
    free(sw);
}

void wg_sweep_locate_error(const wg_sweep *sw, const char *message, char *out, size_t size) {
    for (int i = 0; i < sw->n_overrides; i++) {
        const wg_cfg *node = sw->override_nodes[i];
        if (!node) continue;
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "--set %s: ", sw->overrides[i]);
        size_t len = strlen(prefix);
        if (!strncmp(message, prefix, len)) {
            snprintf(out, size, "%s:%d:%d: %s", wg_cfg_file(node), wg_cfg_line(node),
                     wg_cfg_col(node), message + len);
            return;
        }
    }
    snprintf(out, size, "%s", message);
}
