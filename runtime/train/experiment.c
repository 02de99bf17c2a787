/* Loading an experiment: the configuration, the plugins, and every check that can be
 * made before any work starts. */
#include "train_internal.h"
#include "plugin/instance.h"

#include <ctype.h>
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
    if (wg_plugins_find(e->plugins, kind, name, &out->plugin) == WG_OK) return WG_OK;
    char message[2048];
    int used = snprintf(message, sizeof message, "%s", wg_last_error());
    /* a file with that name that the loader turned down says why it is not known */
    for (int i = 0; i < wg_plugins_diagnostic_count(e->plugins); i++) {
        const char *d = wg_plugins_diagnostic(e->plugins, i);
        if (strstr(d, name) && used < (int)sizeof message)
            used += snprintf(message + used, sizeof message - (size_t)used, "; %s", d);
    }
    return wg_cfg_error(wg_cfg_get(out->section, "plugin"), "%s", message);
}

static wg_status create_plugins(wg_experiment *e) {
    wg_status s;
    if ((s = find_plugin(e, "data", WG_PLUGIN_DATA, true, &e->data)) != WG_OK ||
        (s = find_plugin(e, "arch", WG_PLUGIN_ARCH, true, &e->arch)) != WG_OK ||
        (s = find_plugin(e, "loss", WG_PLUGIN_LOSS, true, &e->loss)) != WG_OK ||
        (s = find_plugin(e, "lipschitz", WG_PLUGIN_LIPSCHITZ, false, &e->lipschitz)) != WG_OK)
        return s;

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

/* runs/<name>-<local time>, with a counter when that exists already. */
static void default_dir(wg_experiment *e) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(e->dir, sizeof e->dir, "runs/%s-%s", e->name, stamp);
    for (int n = 2; wg_file_exists(e->dir) && n < 1000; n++)
        snprintf(e->dir, sizeof e->dir, "runs/%s-%s-%d", e->name, stamp, n);
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

    if ((s = wg_plugins_load(&e->plugins)) != WG_OK) return s;
    if ((s = create_plugins(e)) != WG_OK) return s;
    if ((s = read_sample_count(e, e->config)) != WG_OK) return s;
    if ((s = exp_eval_configure(e)) != WG_OK) return s;
    if ((s = wg_cfg_check_unused(e->config)) != WG_OK) return s;

    if (o->resume_dir) {
        snprintf(e->dir, sizeof e->dir, "%s", o->resume_dir);
        e->resuming = true;
    } else if (o->out_dir) {
        snprintf(e->dir, sizeof e->dir, "%s", o->out_dir);
    } else {
        default_dir(e);
    }
    return WG_OK;
}

wg_status wg_experiment_load(const wg_experiment_options *options, wg_experiment **out) {
    *out = NULL;
    wg_experiment *e = calloc(1, sizeof *e);
    if (!e) return wg_fail(WG_ERR_NOMEM, "out of memory loading an experiment");
    e->options = *options;
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
