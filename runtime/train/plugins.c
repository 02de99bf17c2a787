/* The experiment's plugins: found by name (the run folder's recorded files first),
 * created with their sections, recorded in the run folder with their files' SHA-256,
 * destroyed at the end. */
#include "train_internal.h"
#include "plugin/instance.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A plugin's failure as a configuration error at its section, unless the plugin
 * already gave one with a position. */
wg_status exp_plugin_error(const exp_plugin *p, const char *section, wg_status status) {
    if (status == WG_ERR_CONFIG) return status;
    char message[1024];
    snprintf(message, sizeof message, "%s", wg_last_error());
    return wg_cfg_error(p->section, "%s plugin '%s': %s", section, p->plugin->name, message);
}

/* ---- which plugin files ---- */

#define PLUGIN_RECORD "plugins.tsv"

/* A warning about a plugin file: on stderr now, in the run's log once it is open. */
static void plugin_note(wg_experiment *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void plugin_note(wg_experiment *e, const char *fmt, ...) {
    char line[1536];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    exp_warn(e, "%s", line);
    wg_buf_printf(&e->plugins.notes, "%s\n", line);
}

/* The run folder whose plugin record applies: the one resumed, or the one holding the
 * experiment file being run again (a replay of runs/x/config.yaml). */
static bool record_dir(const wg_experiment *e, char *dir, size_t size) {
    if (e->cfg.options.resume_dir) {
        snprintf(dir, size, "%s", e->cfg.options.resume_dir);
    } else {
        snprintf(dir, size, "%s", e->cfg.options.config_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, size, ".");
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/" PLUGIN_RECORD, dir);
    return wg_file_exists(path);
}

/* The recorded file and hash of `kind` `name`; false when the record has none. */
static bool recorded(const wg_experiment *e, const char *kind, const char *name, char *path,
                     size_t path_size, char sha256[WG_PLUGIN_SHA256_HEX]) {
    char dir[4096], file[4200];
    if (!record_dir(e, dir, sizeof dir)) return false;
    snprintf(file, sizeof file, "%s/" PLUGIN_RECORD, dir);
    char *text = NULL;
    size_t size = 0;
    if (wg_read_file(file, &text, &size) != WG_OK) return false;
    bool found = false;
    for (char *line = text, *end; !found && line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (end) *end = 0;
        char *fields[4] = {line}, *save = NULL;
        int n = 0;
        for (char *f = strtok_r(line, "\t", &save); f && n < 4; f = strtok_r(NULL, "\t", &save))
            fields[n++] = f;
        if (n == 4 && !strcmp(fields[0], kind) && !strcmp(fields[1], name) &&
            strlen(fields[2]) == WG_PLUGIN_SHA256_HEX - 1) {
            snprintf(sha256, WG_PLUGIN_SHA256_HEX, "%s", fields[2]);
            snprintf(path, path_size, "%s", fields[3]);
            found = true;
        }
    }
    free(text);
    return found;
}

/* The plugin the run folder recorded, when its file is still there. */
static void from_record(wg_experiment *e, const char *section, wg_plugin_kind kind,
                        const char *name, exp_plugin *out, char sha256[WG_PLUGIN_SHA256_HEX]) {
    char path[4096];
    sha256[0] = 0;
    if (!recorded(e, section, name, path, sizeof path, sha256)) return;
    if (!wg_file_exists(path)) {
        plugin_note(e, "%s plugin '%s': the run used %s, which is gone; using the plugin path",
                    section, name, path);
        return;
    }
    if (wg_plugins_resolve_file(e->plugins.set, kind, name, path, &out->plugin) != WG_OK)
        plugin_note(e, "%s plugin '%s': %s; using the plugin path", section, name, wg_last_error());
}

static wg_status find_plugin(wg_experiment *e, const char *section, wg_plugin_kind kind,
                             bool required, exp_plugin *out) {
    *out = (exp_plugin){0};
    wg_status s = wg_cfg_map(e->cfg.config, section, &out->section);
    if (s != WG_OK) return s;
    if (!required && !wg_cfg_has(out->section, "plugin")) return WG_OK;
    const char *name = NULL;
    if ((s = wg_cfg_require(out->section, "plugin")) != WG_OK ||
        (s = wg_cfg_string(out->section, "plugin", NULL, &name)) != WG_OK)
        return s;
    char was[WG_PLUGIN_SHA256_HEX];
    from_record(e, section, kind, name, out, was);
    if (!out->plugin && wg_plugins_resolve(e->plugins.set, kind, name, &out->plugin) != WG_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_cfg_error(wg_cfg_get(out->section, "plugin"), "%s", message);
    }
    if (wg_plugin_file_sha256(out->plugin->path, out->sha256) != WG_OK)
        return wg_cfg_error(wg_cfg_get(out->section, "plugin"), "%s plugin '%s': %s", section, name,
                            wg_last_error());
    if (was[0] && strcmp(was, out->sha256))
        plugin_note(e,
                    "%s plugin '%s': %s has changed since the run folder recorded it (SHA-256 "
                    "%.12s..., was %.12s...): results may not match the run's",
                    section, name, out->plugin->path, out->sha256, was);
    return WG_OK;
}

wg_status exp_record_plugins(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    const exp_plugin *plugins[] = {&e->plugins.data, &e->plugins.arch, &e->plugins.loss,
                                   &e->plugins.lipschitz};
    const char *kinds[] = {"data", "arch", "loss", "lipschitz"};
    wg_buf b = {0};
    for (int i = 0; i < 4; i++) {
        const exp_plugin *p = plugins[i];
        if (!p->plugin) continue;
        wg_buf_printf(&b, "%s\t%s\t%s\t", kinds[i], p->plugin->name, p->sha256);
        char real[PATH_MAX];
        /* the absolute path: a resume from another working folder finds it too */
        wg_buf_printf(&b, "%s\n", realpath(p->plugin->path, real) ? real : p->plugin->path);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/" PLUGIN_RECORD, e->run.dir);
    wg_status s = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path)
                           : wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    for (const char *line = e->plugins.notes.data; s == WG_OK && line && *line;) {
        const char *end = strchr(line, '\n');
        exp_log(e, "warning: %.*s", (int)(end - line), line);
        line = end + 1;
    }
    return s;
}

wg_status exp_plugins_create(wg_experiment *e) {
    wg_status s;
    if ((s = wg_plugins_open(&e->plugins.set)) != WG_OK) return s;
    if ((s = find_plugin(e, "data", WG_PLUGIN_DATA, true, &e->plugins.data)) != WG_OK ||
        (s = find_plugin(e, "arch", WG_PLUGIN_ARCH, true, &e->plugins.arch)) != WG_OK ||
        (s = find_plugin(e, "loss", WG_PLUGIN_LOSS, true, &e->plugins.loss)) != WG_OK ||
        (s = find_plugin(e, "lipschitz", WG_PLUGIN_LIPSCHITZ, false, &e->plugins.lipschitz)) !=
            WG_OK)
        return s;
    for (int i = 0; i < wg_plugins_warning_count(e->plugins.set); i++)
        plugin_note(e, "%s", wg_plugins_warning(e->plugins.set, i));

    const wg_data_vtable *data = &e->plugins.data.plugin->vt.data;
    if ((s = wg_plugin_create(e->plugins.data.plugin, e->plugins.data.section, e->cfg.seed,
                              e->plugins.sample_shape, &e->plugins.data.state)) != WG_OK)
        return exp_plugin_error(&e->plugins.data, "data", s);
    if ((s = data->sample_shape(e->plugins.data.state, &e->plugins.sample_shape,
                                &e->plugins.layout)) != WG_OK)
        return exp_plugin_error(&e->plugins.data, "data", s);
    e->plugins.sample_numel = wg_shape_numel(&e->plugins.sample_shape);
    if (e->plugins.sample_shape.ndim < 1 || e->plugins.sample_shape.ndim > WG_MAX_DIMS - 1 ||
        e->plugins.sample_numel < 1)
        return wg_cfg_error(e->plugins.data.section,
                            "data plugin '%s' gave an unusable sample shape",
                            e->plugins.data.plugin->name);
    if (e->plugins.layout == WG_DATA_IMAGES && e->plugins.sample_shape.ndim != 3)
        return wg_cfg_error(e->plugins.data.section,
                            "data plugin '%s' gives images that are not [C, H, W]",
                            e->plugins.data.plugin->name);

    const wg_arch_vtable *arch = &e->plugins.arch.plugin->vt.arch;
    if ((s = wg_plugin_create(e->plugins.arch.plugin, e->plugins.arch.section, e->cfg.seed,
                              e->plugins.sample_shape, &e->plugins.arch.state)) != WG_OK)
        return exp_plugin_error(&e->plugins.arch, "arch", s);
    e->plugins.noise_dim = arch->noise_dim(e->plugins.arch.state);
    if (e->plugins.noise_dim < 1)
        return wg_cfg_error(e->plugins.arch.section, "arch plugin '%s' gave noise_dim %lld",
                            e->plugins.arch.plugin->name, (long long)e->plugins.noise_dim);

    if ((s = wg_plugin_create(e->plugins.loss.plugin, e->plugins.loss.section, e->cfg.seed,
                              e->plugins.sample_shape, &e->plugins.loss.state)) != WG_OK)
        return exp_plugin_error(&e->plugins.loss, "loss", s);

    if (e->plugins.lipschitz.plugin) {
        const wg_lipschitz_vtable *lip = &e->plugins.lipschitz.plugin->vt.lipschitz;
        if ((s = wg_plugin_create(e->plugins.lipschitz.plugin, e->plugins.lipschitz.section,
                                  e->cfg.seed, e->plugins.sample_shape,
                                  &e->plugins.lipschitz.state)) != WG_OK)
            return exp_plugin_error(&e->plugins.lipschitz, "lipschitz", s);
        e->plugins.batch_norm_warning = (lip->flags & WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS) &&
                                        arch->critic_uses_batch_norm &&
                                        arch->critic_uses_batch_norm(e->plugins.arch.state);
    }
    return WG_OK;
}

static void destroy_plugin(exp_plugin *p) {
    if (p->plugin) wg_plugin_destroy(p->plugin, p->state);
    p->state = NULL;
}

void exp_plugins_free(wg_experiment *e) {
    wg_buf_free(&e->plugins.notes);
    destroy_plugin(&e->plugins.data);
    destroy_plugin(&e->plugins.arch);
    destroy_plugin(&e->plugins.loss);
    destroy_plugin(&e->plugins.lipschitz);
    wg_plugins_free(e->plugins.set);
}

const char *exp_plugin_kind(const wg_experiment *e, const exp_plugin *p) {
    if (p == &e->plugins.data) return "data";
    if (p == &e->plugins.arch) return "arch";
    if (p == &e->plugins.loss) return "loss";
    return "lipschitz";
}

wg_shape exp_batch_shape(const wg_experiment *e, int64_t n) {
    wg_shape s = {e->plugins.sample_shape.ndim + 1, {n}};
    for (int k = 0; k < e->plugins.sample_shape.ndim; k++)
        s.dim[k + 1] = e->plugins.sample_shape.dim[k];
    return s;
}
