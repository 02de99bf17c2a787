/* The experiment's plugins (plugins.c): which files, their states and sections, and
 * what the data and arch plugins say about samples. Written by plugins.c only. */
#ifndef WGAN_TRAIN_PLUGINS_H
#define WGAN_TRAIN_PLUGINS_H

#include <stdbool.h>

#include "experiment.h"
#include "io/fileio.h"
#include "plugin/loader.h"
#include "wgan/config.h"

/* One plugin in use: which one, its state, and its section of the configuration. */
typedef struct exp_plugin {
    const wg_plugin *plugin;
    void *state;
    const wg_cfg *section;
    char sha256[WG_PLUGIN_SHA256_HEX]; /* of plugin->path, at load */
} exp_plugin;

typedef struct exp_plugins {
    wg_plugins *set;
    exp_plugin data, arch, loss, lipschitz; /* lipschitz.plugin NULL: unconstrained */
    wg_shape sample_shape;                  /* one sample */
    wg_data_layout layout;
    int64_t sample_numel, noise_dim;
    bool batch_norm_warning;
    wg_buf notes; /* warnings about the plugin files, logged in the run folder */
} exp_plugins;

/* Finds the four plugins (the run folder's recorded files first), creates them with
 * their sections and asks the data and arch plugins for the sample shape and noise
 * size. Errors are configuration errors at the plugin's section. */
wg_status exp_plugins_create(wg_experiment *e);
void exp_plugins_free(wg_experiment *e);
/* A plugin's failure as a configuration error at its section, unless the plugin
 * already gave one with a position. */
wg_status exp_plugin_error(const exp_plugin *p, const char *section, wg_status status);
/* "data", "arch", "loss" or "lipschitz". */
const char *exp_plugin_kind(const wg_experiment *e, const exp_plugin *p);
/* The run folder's plugins.tsv (kind, name, SHA-256, file), and the warnings about
 * plugin files into the log. */
wg_status exp_record_plugins(wg_experiment *e);
/* [n, sample...] */
wg_shape exp_batch_shape(const wg_experiment *e, int64_t n);

#endif
