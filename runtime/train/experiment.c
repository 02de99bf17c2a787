/* Loading an experiment: the configuration, the plugins, and every check that can be
 * made before any work starts. */
#include "train_internal.h"
#include "plugin/instance.h"

#include "io/plot.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- configuration sections ---- */

/* Learning rates default to the WGAN papers' (Adam 1e-4 as WGAN-GP, RMSprop 5e-5 as
 * WGAN); everything else to PyTorch's, except Adam's betas, WGAN-GP's (0.5, 0.9). */
static wg_status read_optimizer(const wg_cfg *root, const char *key, wg_optim_config *out) {
    static const char *const kinds[] = {"sgd", "rmsprop", "adam", NULL};
    const wg_cfg *sec;
    wg_status s = wg_cfg_map(root, key, &sec);
    int kind = WG_OPTIM_ADAM;
    if (s == WG_OK) s = wg_cfg_enum(sec, "kind", kinds, WG_OPTIM_ADAM, &kind);
    if (s != WG_OK) return s;
    wg_optim_config c = wg_optim_defaults((wg_optim_kind)kind);
    const double big = 1e6;
    switch (c.kind) {
    case WG_OPTIM_ADAM: {
        double betas[2] = {0.5, 0.9};
        s = wg_cfg_double(sec, "lr", 1e-4, 0, big, &c.adam.lr);
        if (s == WG_OK) s = wg_cfg_doubles(sec, "betas", 0, 1, 2, 2, betas, NULL);
        if (s == WG_OK) s = wg_cfg_double(sec, "eps", c.adam.eps, 0, 1, &c.adam.eps);
        if (s == WG_OK) s = wg_cfg_double(sec, "weight_decay", 0, 0, big, &c.adam.weight_decay);
        if (s == WG_OK) s = wg_cfg_bool(sec, "amsgrad", false, &c.adam.amsgrad);
        if (s == WG_OK) s = wg_cfg_bool(sec, "maximize", false, &c.adam.maximize);
        c.adam.beta1 = betas[0];
        c.adam.beta2 = betas[1];
        break;
    }
    case WG_OPTIM_RMSPROP:
        s = wg_cfg_double(sec, "lr", 5e-5, 0, big, &c.rmsprop.lr);
        if (s == WG_OK) s = wg_cfg_double(sec, "alpha", c.rmsprop.alpha, 0, 1, &c.rmsprop.alpha);
        if (s == WG_OK) s = wg_cfg_double(sec, "eps", c.rmsprop.eps, 0, 1, &c.rmsprop.eps);
        if (s == WG_OK) s = wg_cfg_double(sec, "weight_decay", 0, 0, big, &c.rmsprop.weight_decay);
        if (s == WG_OK) s = wg_cfg_double(sec, "momentum", 0, 0, big, &c.rmsprop.momentum);
        if (s == WG_OK) s = wg_cfg_bool(sec, "centered", false, &c.rmsprop.centered);
        if (s == WG_OK) s = wg_cfg_bool(sec, "maximize", false, &c.rmsprop.maximize);
        break;
    case WG_OPTIM_SGD:
        s = wg_cfg_double(sec, "lr", c.sgd.lr, 0, big, &c.sgd.lr);
        if (s == WG_OK) s = wg_cfg_double(sec, "momentum", 0, 0, big, &c.sgd.momentum);
        if (s == WG_OK) s = wg_cfg_double(sec, "dampening", 0, 0, big, &c.sgd.dampening);
        if (s == WG_OK) s = wg_cfg_double(sec, "weight_decay", 0, 0, big, &c.sgd.weight_decay);
        if (s == WG_OK) s = wg_cfg_bool(sec, "nesterov", false, &c.sgd.nesterov);
        if (s == WG_OK) s = wg_cfg_bool(sec, "maximize", false, &c.sgd.maximize);
        break;
    }
    if (s != WG_OK) return s;
    if (wg_optim_check(&c) != WG_OK) return wg_cfg_error(sec, "%s", wg_last_error());
    *out = c;
    return WG_OK;
}

static wg_status read_train(wg_experiment *e, const wg_cfg *root) {
    const wg_cfg *t;
    const int64_t most = (int64_t)1 << 40;
    wg_status s = wg_cfg_map(root, "train", &t);
    if (s == WG_OK) s = wg_cfg_int64(t, "batch", 64, 1, 1 << 20, &e->batch);
    if (s == WG_OK) s = wg_cfg_int64(t, "steps", 10000, 1, most, &e->steps);
    if (s == WG_OK) s = wg_cfg_int(t, "n_critic", 5, 1, 10000, &e->n_critic);
    if (s == WG_OK) s = wg_cfg_bool(t, "warmup", false, &e->warmup);
    if (s == WG_OK) s = wg_cfg_int64(t, "log_every", 100, 1, most, &e->log_every);
    if (s == WG_OK) s = wg_cfg_int64(t, "sample_every", 1000, 0, most, &e->sample_every);
    if (s == WG_OK) s = wg_cfg_int64(t, "checkpoint_every", 1000, 0, most, &e->checkpoint_every);
    return s;
}

/* Images are shown 64 to a grid; points need enough to see the distribution. */
static wg_status read_sample_count(wg_experiment *e, const wg_cfg *root) {
    const wg_cfg *t;
    wg_status s = wg_cfg_map(root, "train", &t);
    int64_t def = e->layout == WG_DATA_IMAGES ? 64 : 1000;
    if (s == WG_OK) s = wg_cfg_int64(t, "samples", def, 1, 100000, &e->n_samples);
    return s;
}

/* ---- plugins ---- */

/* A plugin's failure as a configuration error at its section, unless the plugin
 * already gave one with a position. */
static wg_status plugin_error(const exp_plugin *p, const char *section, wg_status status) {
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
    wg_buf_printf(&e->plugin_notes, "%s\n", line);
}

/* The run folder whose plugin record applies: the one resumed, or the one holding the
 * experiment file being run again (a replay of runs/x/config.yaml). */
static bool record_dir(const wg_experiment *e, char *dir, size_t size) {
    if (e->options.resume_dir) {
        snprintf(dir, size, "%s", e->options.resume_dir);
    } else {
        snprintf(dir, size, "%s", e->options.config_path);
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
    if (wg_plugins_resolve_file(e->plugins, kind, name, path, &out->plugin) != WG_OK)
        plugin_note(e, "%s plugin '%s': %s; using the plugin path", section, name, wg_last_error());
}

static wg_status find_plugin(wg_experiment *e, const char *section, wg_plugin_kind kind,
                             bool required, exp_plugin *out) {
    *out = (exp_plugin){0};
    wg_status s = wg_cfg_map(e->config, section, &out->section);
    if (s != WG_OK) return s;
    if (!required && !wg_cfg_has(out->section, "plugin")) return WG_OK;
    const char *name = NULL;
    if ((s = wg_cfg_require(out->section, "plugin")) != WG_OK ||
        (s = wg_cfg_string(out->section, "plugin", NULL, &name)) != WG_OK)
        return s;
    char was[WG_PLUGIN_SHA256_HEX];
    from_record(e, section, kind, name, out, was);
    if (!out->plugin && wg_plugins_resolve(e->plugins, kind, name, &out->plugin) != WG_OK) {
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
    const exp_plugin *plugins[] = {&e->data, &e->arch, &e->loss, &e->lipschitz};
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
    snprintf(path, sizeof path, "%s/" PLUGIN_RECORD, e->dir);
    wg_status s = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path)
                           : wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    for (const char *line = e->plugin_notes.data; s == WG_OK && line && *line;) {
        const char *end = strchr(line, '\n');
        exp_log(e, "warning: %.*s", (int)(end - line), line);
        line = end + 1;
    }
    return s;
}

static wg_status create_plugins(wg_experiment *e) {
    wg_status s;
    if ((s = find_plugin(e, "data", WG_PLUGIN_DATA, true, &e->data)) != WG_OK ||
        (s = find_plugin(e, "arch", WG_PLUGIN_ARCH, true, &e->arch)) != WG_OK ||
        (s = find_plugin(e, "loss", WG_PLUGIN_LOSS, true, &e->loss)) != WG_OK ||
        (s = find_plugin(e, "lipschitz", WG_PLUGIN_LIPSCHITZ, false, &e->lipschitz)) != WG_OK)
        return s;
    for (int i = 0; i < wg_plugins_warning_count(e->plugins); i++)
        plugin_note(e, "%s", wg_plugins_warning(e->plugins, i));

    const wg_data_vtable *data = &e->data.plugin->vt.data;
    if ((s = wg_plugin_create(e->data.plugin, e->data.section, e->seed, e->sample_shape,
                              &e->data.state)) != WG_OK)
        return plugin_error(&e->data, "data", s);
    if ((s = data->sample_shape(e->data.state, &e->sample_shape, &e->layout)) != WG_OK)
        return plugin_error(&e->data, "data", s);
    e->sample_numel = wg_shape_numel(&e->sample_shape);
    if (e->sample_shape.ndim < 1 || e->sample_shape.ndim > WG_MAX_DIMS - 1 || e->sample_numel < 1)
        return wg_cfg_error(e->data.section, "data plugin '%s' gave an unusable sample shape",
                            e->data.plugin->name);
    if (e->layout == WG_DATA_IMAGES && e->sample_shape.ndim != 3)
        return wg_cfg_error(e->data.section, "data plugin '%s' gives images that are not [C, H, W]",
                            e->data.plugin->name);

    const wg_arch_vtable *arch = &e->arch.plugin->vt.arch;
    if ((s = wg_plugin_create(e->arch.plugin, e->arch.section, e->seed, e->sample_shape,
                              &e->arch.state)) != WG_OK)
        return plugin_error(&e->arch, "arch", s);
    e->noise_dim = arch->noise_dim(e->arch.state);
    if (e->noise_dim < 1)
        return wg_cfg_error(e->arch.section, "arch plugin '%s' gave noise_dim %lld",
                            e->arch.plugin->name, (long long)e->noise_dim);

    if ((s = wg_plugin_create(e->loss.plugin, e->loss.section, e->seed, e->sample_shape,
                              &e->loss.state)) != WG_OK)
        return plugin_error(&e->loss, "loss", s);

    if (e->lipschitz.plugin) {
        const wg_lipschitz_vtable *lip = &e->lipschitz.plugin->vt.lipschitz;
        if ((s = wg_plugin_create(e->lipschitz.plugin, e->lipschitz.section, e->seed,
                                  e->sample_shape, &e->lipschitz.state)) != WG_OK)
            return plugin_error(&e->lipschitz, "lipschitz", s);
        e->batch_norm_warning = (lip->flags & WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS) &&
                                arch->critic_uses_batch_norm &&
                                arch->critic_uses_batch_norm(e->arch.state);
    }
    return WG_OK;
}

/* A data set too small for train.batch or train.samples fails its first batch: try
 * both now, so that it is a configuration error at the key, before any work. */
static wg_status check_data_size(wg_experiment *e) {
    const wg_cfg *train = wg_cfg_get(e->config, "train");
    const struct {
        const char *key;
        int64_t count;
    } uses[] = {{"batch", e->batch}, {"samples", e->n_samples}};
    int64_t most = e->batch > e->n_samples ? e->batch : e->n_samples;
    float *probe = malloc((size_t)(most * e->sample_numel) * sizeof *probe);
    if (!probe) return wg_fail(WG_ERR_NOMEM, "out of memory for a batch of %lld", (long long)most);
    wg_status s = WG_OK;
    for (int i = 0; i < 2 && s == WG_OK; i++) {
        s = e->data.plugin->vt.data.batch(e->data.state, 0, uses[i].count, probe);
        if (s == WG_ERR_INVALID) {
            char message[1024];
            snprintf(message, sizeof message, "%s", wg_last_error());
            const wg_cfg *at = train ? wg_cfg_get(train, uses[i].key) : NULL;
            s = wg_cfg_error(at      ? at
                             : train ? train
                                     : e->data.section,
                             "train.%s = %lld does not fit data plugin '%s': %s", uses[i].key,
                             (long long)uses[i].count, e->data.plugin->name, message);
        } else if (s != WG_OK) {
            s = plugin_error(&e->data, "data", s);
        }
    }
    free(probe);
    /* the pictures of samples must be drawable, or the run would fail at its first */
    int width, height;
    if (s == WG_OK && e->layout == WG_DATA_IMAGES &&
        wg_plot_images_size(e->n_samples, e->sample_shape.dim[1], e->sample_shape.dim[2], &width,
                            &height) != WG_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", wg_last_error());
        const wg_cfg *at = train ? wg_cfg_get(train, "samples") : NULL;
        s = wg_cfg_error(at      ? at
                         : train ? train
                                 : e->data.section,
                         "train.samples = %lld cannot be shown: %s", (long long)e->n_samples,
                         message);
    }
    return s;
}

/* ---- names and folders ---- */

static wg_status read_name(wg_experiment *e) {
    char stem[128];
    const char *base = strrchr(e->config_source, '/');
    base = base ? base + 1 : e->config_source;
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    const char *name;
    wg_status s = wg_cfg_string(e->config, "name", stem, &name);
    if (s != WG_OK) return s;
    size_t len = strlen(name);
    bool ok = len > 0 && len < sizeof e->name && name[0] != '.';
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("._-", name[i]);
    if (!ok)
        return wg_cfg_error(wg_cfg_get(e->config, "name"),
                            "got '%s', must be 1 to %zu letters, digits, '.', '_' or '-' "
                            "(it names the run folder)",
                            name, sizeof e->name - 1);
    snprintf(e->name, sizeof e->name, "%s", name);
    return WG_OK;
}

/* runs/<name>-<local time>, with a counter when that exists already; the folder is
 * created (under the next free name if this one is taken meanwhile) when the run
 * starts (exp_rundir_claim). */
static void default_dir(wg_experiment *e) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(e->dir_stem, sizeof e->dir_stem, EXP_RUNS_DIR "/%s-%s", e->name, stamp);
    snprintf(e->dir, sizeof e->dir, "%s", e->dir_stem);
    e->dir_suffix = 1;
    while (wg_file_exists(e->dir) && e->dir_suffix < 1000)
        snprintf(e->dir, sizeof e->dir, "%s-%d", e->dir_stem, ++e->dir_suffix);
}

/* ---- load ---- */

static wg_status load_config(wg_experiment *e) {
    const wg_experiment_options *o = &e->options;
    char path[4200];
    if (o->resume_dir) {
        snprintf(path, sizeof path, "%s/config.yaml", o->resume_dir);
        if (!wg_file_exists(path))
            return wg_fail(WG_ERR_CONFIG, "--resume %s: no config.yaml there (not a run folder?)",
                           o->resume_dir);
    } else {
        snprintf(path, sizeof path, "%s", o->config_path);
    }
    e->config_source = strdup(path);
    if (!e->config_source) return wg_fail(WG_ERR_NOMEM, "out of memory");
    wg_status s = wg_cfg_load_file(path, &e->config);
    if (s == WG_ERR_IO) {
        /* an experiment file that cannot be read is a usage error, like a bad key */
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_fail(WG_ERR_CONFIG, "%s", message);
    }
    if (s != WG_OK) return s;
    for (int i = 0; i < o->n_overrides; i++)
        if ((s = wg_cfg_set_arg(e->config, o->overrides[i])) != WG_OK) return s;
    if (o->device && (s = wg_cfg_set(e->config, "device", o->device)) != WG_OK) return s;
    return WG_OK;
}

static wg_status load(wg_experiment *e) {
    const wg_experiment_options *o = &e->options;
    if (!o->config_path == !o->resume_dir)
        return wg_fail(WG_ERR_CONFIG, "give either an experiment file or --resume DIR");
    if (o->resume_dir && o->out_dir)
        return wg_fail(WG_ERR_CONFIG, "--out cannot be combined with --resume (the run "
                                      "continues in its own folder)");
    if (o->force && !o->out_dir)
        return wg_fail(WG_ERR_CONFIG, "--force goes with --out DIR (it moves an earlier run "
                                      "there aside)");
    wg_status s = load_config(e);
    if (s != WG_OK) return s;

    int64_t seed = 0;
    if ((s = read_name(e)) != WG_OK ||
        (s = wg_cfg_int64(e->config, "seed", 1, 0, INT64_MAX, &seed)) != WG_OK ||
        (s = wg_cfg_string(e->config, "device", "auto", &e->device_spec)) != WG_OK ||
        (s = read_train(e, e->config)) != WG_OK ||
        (s = read_optimizer(e->config, "optimizer.critic", &e->optim[0])) != WG_OK ||
        (s = read_optimizer(e->config, "optimizer.generator", &e->optim[1])) != WG_OK)
        return s;
    e->seed = (uint64_t)seed;

    if ((s = wg_plugins_open(&e->plugins)) != WG_OK) return s;
    if ((s = create_plugins(e)) != WG_OK) return s;
    if ((s = read_sample_count(e, e->config)) != WG_OK) return s;
    if ((s = check_data_size(e)) != WG_OK) return s;
    if ((s = exp_eval_configure(e)) != WG_OK) return s;
    if ((s = wg_cfg_check_unused(e->config)) != WG_OK) return s;
    /* the plugins' graph code runs now, so its errors come before any work */
    if ((s = exp_trace_checked(e)) != WG_OK) return s;

    if (o->resume_dir) {
        snprintf(e->dir, sizeof e->dir, "%s", o->resume_dir);
        e->resuming = true;
    } else if (o->out_dir) {
        snprintf(e->dir, sizeof e->dir, "%s", o->out_dir);
    } else {
        default_dir(e);
    }
    return exp_rundir_check_free(e);
}

wg_status wg_experiment_load(const wg_experiment_options *options, wg_experiment **out) {
    *out = NULL;
    wg_experiment *e = calloc(1, sizeof *e);
    if (!e) return wg_fail(WG_ERR_NOMEM, "out of memory loading an experiment");
    e->options = *options;
    e->lock_fd = -1;
    e->real = e->sample_noise = e->sample_out = WG_NONE;
    e->diag_norm_real = e->diag_norm_fake = WG_NONE;
    wg_status s = load(e);
    if (s != WG_OK) {
        /* keep the message across the cleanup */
        char message[2048];
        snprintf(message, sizeof message, "%s", wg_last_error());
        wg_experiment_free(e);
        return wg_fail(s, "%s", message);
    }
    *out = e;
    return WG_OK;
}

static void destroy_plugin(exp_plugin *p) {
    if (p->plugin) wg_plugin_destroy(p->plugin, p->state);
    p->state = NULL;
}

void wg_experiment_free(wg_experiment *e) {
    if (!e) return;
    exp_rundir_close(e);
    exp_eval_free(e);
    wg_plan_free(e->critic_plan);
    wg_plan_free(e->gen_plan);
    wg_plan_free(e->project_plan);
    wg_plan_free(e->diag_plan);
    wg_plan_free(e->sample_plan);
    for (int i = 0; i < 2; i++) wg_optimizer_free(e->optimizer[i]);
    wg_session_free(e->session);
    exp_targets_free(e);
    wg_buf_free(&e->plugin_notes);
    wg_registry_free(&e->registry);
    wg_graph_free(e->graph);
    if (e->device) wg_device_close(e->device);
    destroy_plugin(&e->data);
    destroy_plugin(&e->arch);
    destroy_plugin(&e->loss);
    destroy_plugin(&e->lipschitz);
    wg_plugins_free(e->plugins);
    wg_cfg_free(e->config);
    free(e->config_source);
    free(e->real_host);
    free(e->real_plot);
    free(e);
}

const char *wg_experiment_dir(const wg_experiment *e) {
    return e->dir;
}

int64_t wg_experiment_step(const wg_experiment *e) {
    return e->gen_step;
}
