/* The plugins' hooks as the step graphs call them: every failure inside a hook (its
 * status, a wg_build call that failed, a graph error, an output of the wrong shape, a
 * metric that takes a built-in column's name) becomes that plugin's, with its name and
 * file; the first one is kept (e->hooks.blamed) so that loading can report it at the
 * plugin's `plugin:` key. */
#include <stdlib.h>
#include <string.h>

#include "plugin/build.h"
#include "train_internal.h"

wg_status exp_blame(wg_experiment *e, const exp_plugin *p, const char *hook, wg_status s) {
    char message[1024];
    snprintf(message, sizeof message, "%s", wg_last_error());
    if (e->hooks.blamed) return wg_fail(s, "%s", message); /* an inner hook already said whose */
    e->hooks.blamed = p;
    return wg_fail(s, "%s plugin '%s' (%s), %s: %s", exp_plugin_kind(e, p), p->plugin->name,
                   p->plugin->path, hook, message);
}

wg_status exp_check_batch(wg_experiment *e, wg_build *b, wg_node x) {
    wg_shape have = {0};
    if (x != WG_NONE) {
        have = wg_node_shape(b->graph, x);
        wg_shape want = exp_batch_shape(e, have.ndim ? have.dim[0] : 0);
        if (have.ndim && wg_shape_equal(&have, &want)) return WG_OK;
    }
    char a[64], w[64];
    wg_status s = wg_fail(WG_ERR_SHAPE, "the critic was applied to %s, not a batch of samples %s",
                          x == WG_NONE ? "no node" : wg_shape_str(&have, a, sizeof a),
                          wg_shape_str(&e->plugins.sample_shape, w, sizeof w));
    return e->plugins.lipschitz.plugin ? exp_blame(e, &e->plugins.lipschitz, "penalty", s) : s;
}

/* A metric the plugin added that takes a built-in column's name; allowed only when it
 * is the very value that column logs (gradient_penalty reports its "penalty"). */
static const char *taken_metric(const wg_experiment *e, const wg_build *b, wg_node output,
                                const char *column) {
    for (int i = 0; i < b->n_metrics; i++)
        for (int c = 0; c < COL_FIXED_COUNT; c++)
            if (!strcmp(b->metrics[i].name, e->steps.columns[c].name) &&
                !(column && !strcmp(column, e->steps.columns[c].name) &&
                  b->metrics[i].node == output))
                return b->metrics[i].name;
    return NULL;
}

wg_status exp_hook_done(wg_experiment *e, wg_build *b, const exp_plugin *p, const char *hook,
                        wg_status s) {
    return exp_hook_output(e, b, p, hook, s, WG_NONE, NULL);
}

wg_status exp_hook_output(wg_experiment *e, wg_build *b, const exp_plugin *p, const char *hook,
                          wg_status s, wg_node output, const char *column) {
    if (s == WG_OK) s = wg_build_check(b);
    if (s != WG_OK) return exp_blame(e, p, hook, s);
    if (column && output == WG_NONE)
        return exp_blame(e, p, hook, wg_fail(WG_ERR_PLUGIN, "returned no node"));
    if (column && wg_node_numel(b->graph, output) != 1) {
        char shape[64];
        wg_shape have = wg_node_shape(b->graph, output);
        return exp_blame(e, p, hook,
                         wg_fail(WG_ERR_SHAPE,
                                 "must return a value of one element (the %s), returned "
                                 "shape %s",
                                 column, wg_shape_str(&have, shape, sizeof shape)));
    }
    const char *taken = taken_metric(e, b, output, column);
    if (taken)
        return exp_blame(e, p, hook,
                         wg_fail(WG_ERR_PLUGIN,
                                 "metric '%s' has the name of a built-in column of "
                                 "metrics.csv; give it another name",
                                 taken));
    return WG_OK;
}
