/* Loading an experiment: the configuration, the plugins, and every check that can be
 * made before any work starts. */
#include "train_internal.h"

#include "io/plot.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration sections ---- */

/* optimizer.<network>.schedule, read only when present so that a run without one
 * records none in its config.yaml. */
static wg_status read_schedule(const wg_cfg *optimizer, exp_schedule *out) {
    *out = (exp_schedule){EXP_SCHEDULE_CONSTANT, 0, 1};
    if (!wg_cfg_has(optimizer, "schedule")) return WG_OK;
    const wg_cfg *sec;
    int kind = EXP_SCHEDULE_CONSTANT;
    wg_status s = wg_cfg_map(optimizer, "schedule", &sec);
    if (s == WG_OK) s = wg_cfg_enum(sec, "kind", exp_schedule_kinds, EXP_SCHEDULE_CONSTANT, &kind);
    if (s == WG_OK && kind == EXP_SCHEDULE_STEP) {
        s = wg_cfg_require(sec, "every");
        if (s == WG_OK) s = wg_cfg_int64(sec, "every", 1, 1, (int64_t)1 << 40, &out->every);
        if (s == WG_OK) s = wg_cfg_double(sec, "gamma", 0.1, 0, 1, &out->gamma);
    }
    out->kind = (exp_schedule_kind)kind;
    return s;
}

/* Learning rates default to the WGAN papers' (Adam 1e-4 as WGAN-GP, RMSprop 5e-5 as
 * WGAN); everything else to PyTorch's, except Adam's betas, WGAN-GP's (0.5, 0.9). */
static wg_status read_optimizer(const wg_cfg *root, const char *key, wg_optim_config *out,
                                exp_schedule *schedule) {
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
    return read_schedule(sec, schedule);
}

/* train.ema, off unless present (and then on unless `enabled: false`). */
static wg_status read_ema(wg_experiment *e, const wg_cfg *train) {
    if (!wg_cfg_has(train, "ema")) return WG_OK;
    const wg_cfg *sec;
    wg_status s = wg_cfg_map(train, "ema", &sec);
    if (s == WG_OK) s = wg_cfg_bool(sec, "enabled", true, &e->cfg.ema);
    if (s == WG_OK) s = wg_cfg_double(sec, "decay", 0.999, 0, 1, &e->cfg.ema_decay);
    if (s == WG_OK) s = wg_cfg_int64(sec, "start", 0, 0, (int64_t)1 << 40, &e->cfg.ema_start);
    return s;
}

static wg_status read_train(wg_experiment *e, const wg_cfg *root) {
    const wg_cfg *t;
    const int64_t most = (int64_t)1 << 40;
    wg_status s = wg_cfg_map(root, "train", &t);
    if (s == WG_OK) s = wg_cfg_int64(t, "batch", 64, 1, 1 << 20, &e->cfg.batch);
    if (s == WG_OK) s = wg_cfg_int64(t, "steps", 10000, 1, most, &e->cfg.steps);
    if (s == WG_OK) s = wg_cfg_int(t, "n_critic", 5, 1, 10000, &e->cfg.n_critic);
    if (s == WG_OK) s = wg_cfg_bool(t, "warmup", false, &e->cfg.warmup);
    if (s == WG_OK) s = wg_cfg_int64(t, "log_every", 100, 1, most, &e->cfg.log_every);
    if (s == WG_OK) s = wg_cfg_int64(t, "sample_every", 1000, 0, most, &e->cfg.sample_every);
    if (s == WG_OK)
        s = wg_cfg_int64(t, "checkpoint_every", 1000, 0, most, &e->cfg.checkpoint_every);
    if (s == WG_OK) s = read_ema(e, t);
    return s;
}

/* Images are shown 64 to a grid; points need enough to see the distribution. */
static wg_status read_sample_count(wg_experiment *e, const wg_cfg *root) {
    const wg_cfg *t;
    wg_status s = wg_cfg_map(root, "train", &t);
    int64_t def = e->plugins.layout == WG_DATA_IMAGES ? 64 : 1000;
    if (s == WG_OK) s = wg_cfg_int64(t, "samples", def, 1, 100000, &e->cfg.n_samples);
    return s;
}

/* ---- plugins ---- */

/* A data set too small for train.batch or train.samples fails its first batch: try
 * both now, so that it is a configuration error at the key, before any work. */
static wg_status check_data_size(wg_experiment *e) {
    const wg_cfg *train = wg_cfg_get(e->cfg.config, "train");
    const struct {
        const char *key;
        int64_t count;
    } uses[] = {{"batch", e->cfg.batch}, {"samples", e->cfg.n_samples}};
    int64_t most = e->cfg.batch > e->cfg.n_samples ? e->cfg.batch : e->cfg.n_samples;
    float *probe = malloc((size_t)(most * e->plugins.sample_numel) * sizeof *probe);
    if (!probe) return wg_fail(WG_ERR_NOMEM, "out of memory for a batch of %lld", (long long)most);
    wg_status s = WG_OK;
    for (int i = 0; i < 2 && s == WG_OK; i++) {
        s = e->plugins.data.plugin->vt.data.batch(e->plugins.data.state, 0, uses[i].count, probe);
        if (s == WG_ERR_INVALID) {
            char message[1024];
            snprintf(message, sizeof message, "%s", wg_last_error());
            const wg_cfg *at = train ? wg_cfg_get(train, uses[i].key) : NULL;
            s = wg_cfg_error(at      ? at
                             : train ? train
                                     : e->plugins.data.section,
                             "train.%s = %lld does not fit data plugin '%s': %s", uses[i].key,
                             (long long)uses[i].count, e->plugins.data.plugin->name, message);
        } else if (s != WG_OK) {
            s = exp_plugin_error(&e->plugins.data, "data", s);
        }
    }
    free(probe);
    /* the pictures of samples must be drawable, or the run would fail at its first */
    int width, height;
    if (s == WG_OK && e->plugins.layout == WG_DATA_IMAGES &&
        wg_plot_images_size(e->cfg.n_samples, e->plugins.sample_shape.dim[1],
                            e->plugins.sample_shape.dim[2], &width, &height) != WG_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", wg_last_error());
        const wg_cfg *at = train ? wg_cfg_get(train, "samples") : NULL;
        s = wg_cfg_error(at      ? at
                         : train ? train
                                 : e->plugins.data.section,
                         "train.samples = %lld cannot be shown: %s", (long long)e->cfg.n_samples,
                         message);
    }
    return s;
}

/* ---- the name ---- */

static wg_status read_name(wg_experiment *e) {
    char stem[128];
    const char *base = strrchr(e->cfg.config_source, '/');
    base = base ? base + 1 : e->cfg.config_source;
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    const char *name;
    wg_status s = wg_cfg_string(e->cfg.config, "name", stem, &name);
    if (s != WG_OK) return s;
    size_t len = strlen(name);
    bool ok = len > 0 && len < sizeof e->cfg.name && name[0] != '.';
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("._-", name[i]);
    if (!ok)
        return wg_cfg_error(wg_cfg_get(e->cfg.config, "name"),
                            "got '%s', must be 1 to %zu letters, digits, '.', '_' or '-' "
                            "(it names the run folder)",
                            name, sizeof e->cfg.name - 1);
    snprintf(e->cfg.name, sizeof e->cfg.name, "%s", name);
    return WG_OK;
}

/* ---- load ---- */

static wg_status load_config(wg_experiment *e) {
    const wg_experiment_options *o = &e->cfg.options;
    char path[4200];
    if (o->resume_dir) {
        snprintf(path, sizeof path, "%s/config.yaml", o->resume_dir);
        if (!wg_file_exists(path))
            return wg_fail(WG_ERR_CONFIG, "--resume %s: no config.yaml there (not a run folder?)",
                           o->resume_dir);
    } else {
        snprintf(path, sizeof path, "%s", o->config_path);
    }
    e->cfg.config_source = strdup(path);
    if (!e->cfg.config_source) return wg_fail(WG_ERR_NOMEM, "out of memory");
    wg_status s = wg_cfg_load_file(path, &e->cfg.config);
    if (s == WG_ERR_IO) {
        /* an experiment file that cannot be read is a usage error, like a bad key */
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_fail(WG_ERR_CONFIG, "%s", message);
    }
    if (s != WG_OK) return s;
    for (int i = 0; i < o->n_overrides; i++)
        if ((s = wg_cfg_set_arg(e->cfg.config, o->overrides[i])) != WG_OK) return s;
    if (o->device && (s = wg_cfg_set(e->cfg.config, "device", o->device)) != WG_OK) return s;
    return WG_OK;
}

/* The step graphs and the evaluation's, traced at load; a failure that tracing blamed
 * on a plugin is a configuration error at the plugin's `plugin:` key. */
static wg_status trace_checked(wg_experiment *e) {
    wg_status s = exp_trace(e);
    /* plans point into the graph's nodes: every node must exist before the first plan */
    if (s == WG_OK) s = exp_eval_trace(e);
    if (s == WG_OK || !e->hooks.blamed) return s;
    char message[1024];
    snprintf(message, sizeof message, "%s", wg_last_error());
    return wg_cfg_error(wg_cfg_get(e->hooks.blamed->section, "plugin"), "%s", message);
}

static wg_status load(wg_experiment *e) {
    const wg_experiment_options *o = &e->cfg.options;
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
        (s = wg_cfg_int64(e->cfg.config, "seed", 1, 0, INT64_MAX, &seed)) != WG_OK ||
        (s = wg_cfg_string(e->cfg.config, "device", "auto", &e->cfg.device_spec)) != WG_OK ||
        (s = read_train(e, e->cfg.config)) != WG_OK ||
        (s = read_optimizer(e->cfg.config, "optimizer.critic", &e->cfg.optim[0],
                            &e->cfg.schedule[0])) != WG_OK ||
        (s = read_optimizer(e->cfg.config, "optimizer.generator", &e->cfg.optim[1],
                            &e->cfg.schedule[1])) != WG_OK)
        return s;
    e->cfg.seed = (uint64_t)seed;
    if ((s = exp_shard_configure(e)) != WG_OK) return s;

    if ((s = exp_plugins_create(e)) != WG_OK) return s;
    if ((s = read_sample_count(e, e->cfg.config)) != WG_OK) return s;
    if ((s = check_data_size(e)) != WG_OK) return s;
    if ((s = exp_eval_configure(e)) != WG_OK) return s;
    if ((s = wg_cfg_check_unused(e->cfg.config)) != WG_OK) return s;
    /* the plugins' graph code runs now, so its errors come before any work */
    if ((s = trace_checked(e)) != WG_OK) return s;
    return exp_rundir_choose(e);
}

wg_status wg_experiment_load(const wg_experiment_options *options, wg_experiment **out) {
    *out = NULL;
    wg_experiment *e = calloc(1, sizeof *e);
    if (!e) return wg_fail(WG_ERR_NOMEM, "out of memory loading an experiment");
    e->cfg.options = *options;
    exp_rundir_init(e);
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

void wg_experiment_free(wg_experiment *e) {
    if (!e) return;
    exp_rundir_close(e);
    exp_eval_free(e);
    exp_steps_free(e);
    exp_shard_free(e);
    exp_plugins_free(e);
    wg_cfg_free(e->cfg.config);
    free(e->cfg.config_source);
    free(e);
}

const char *wg_experiment_dir(const wg_experiment *e) {
    return e->run.dir;
}

int64_t wg_experiment_step(const wg_experiment *e) {
    return e->loop.gen_step;
}
