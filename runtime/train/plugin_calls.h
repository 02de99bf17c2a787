/* The plugins' hooks as the step graphs call them (plugin_calls.c): a failure inside a
 * hook blamed on its plugin. The plugin blamed first is kept here, written by
 * plugin_calls.c only. */
#ifndef WGAN_TRAIN_PLUGIN_CALLS_H
#define WGAN_TRAIN_PLUGIN_CALLS_H

#include "plugin/build.h"
#include "plugins.h"

typedef struct exp_hooks {
    const exp_plugin *blamed; /* the plugin a tracing failure was blamed on */
} exp_hooks;

/* A hook's status `s` checked (the build, the graph, the metrics it added; with
 * `column`, `output` must be one element, the value of that column) and, on failure,
 * blamed on plugin `p` with its name, file and the hook. */
wg_status exp_hook_done(wg_experiment *e, wg_build *b, const exp_plugin *p, const char *hook,
                        wg_status s);
wg_status exp_hook_output(wg_experiment *e, wg_build *b, const exp_plugin *p, const char *hook,
                          wg_status s, wg_node output, const char *column);
/* WG_OK when `x` is a batch of samples; else a shape error blamed on the penalty (only
 * a penalty hands the critic batches of its own making). */
wg_status exp_check_batch(wg_experiment *e, wg_build *b, wg_node x);
/* Blames a failure on `p` unless an inner hook was blamed already. */
wg_status exp_blame(wg_experiment *e, const exp_plugin *p, const char *hook, wg_status s);

#endif
