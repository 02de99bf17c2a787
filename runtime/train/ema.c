/* G-EMA: the moving average of the generator's weights, as graph variables updated in
 * the generator plan (one fused update per parameter, reading the parameter's updated
 * value), and the plans that initialise it and swap it with the weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"
#include "train_internal.h"

wg_status exp_ema_trace(wg_experiment *e, const wg_optimizer *generator, int count,
                        const wg_node *params) {
    exp_ema *a = &e->ema;
    wg_graph *g = e->steps.graph;
    a->params = malloc((size_t)count * sizeof *a->params);
    a->vars = malloc((size_t)count * sizeof *a->vars);
    a->updates = malloc((size_t)count * sizeof *a->updates);
    a->assign = malloc((size_t)(2 * count) * sizeof *a->assign);
    a->names = calloc((size_t)count, sizeof *a->names);
    if (!a->params || !a->vars || !a->updates || !a->assign || !a->names)
        return wg_fail(WG_ERR_NOMEM, "out of memory for the generator's average");
    a->count = count;
    a->decay = wg_input(g, wg_shape1(1), "ema/decay");
    wg_node keep = wg_add_scalar(g, wg_neg(g, a->decay), 1.0); /* 1 - d */
    for (int i = 0; i < count; i++) {
        const char *name = wg_node_name(g, params[i]);
        size_t size = strlen(name) + 5;
        if (!(a->names[i] = malloc(size)))
            return wg_fail(WG_ERR_NOMEM, "out of memory for the generator's average");
        snprintf(a->names[i], size, "ema/%s", name);
        a->params[i] = params[i];
        a->vars[i] = wg_variable(g, wg_node_shape(g, params[i]), a->names[i]);
        /* d ema + (1 - d) w: exactly w when d is 0 */
        wg_node w = wg_optimizer_updated(generator, i);
        wg_node value = wg_add(g, wg_mul(g, a->decay, a->vars[i]), wg_mul(g, keep, w));
        a->updates[i] = wg_assign(g, a->vars[i], value);
    }
    /* the copy and the swap; a value that is a variable is copied before any assignment
     * runs, so the swap is exact */
    for (int i = 0; i < count; i++) {
        a->assign[i] = wg_assign(g, a->vars[i], a->params[i]);
        a->assign[count + i] = wg_assign(g, a->params[i], a->vars[i]);
    }
    a->use = true;
    if (wg_graph_status(g) != WG_OK)
        return wg_fail(wg_graph_status(g), "the generator's average: %s", wg_graph_error(g));
    return WG_OK;
}

wg_status exp_ema_plan(wg_experiment *e) {
    exp_ema *a = &e->ema;
    if (!a->count) return WG_OK;
    wg_status s = wg_plan_new(e->steps.session, a->count, a->assign, &a->copy_plan);
    if (s == WG_OK) s = wg_plan_new(e->steps.session, 2 * a->count, a->assign, &a->swap_plan);
    return s;
}

wg_status exp_ema_set_decay(wg_experiment *e, int64_t g) {
    const exp_ema *a = &e->ema;
    if (!a->count) return WG_OK;
    float d = g >= e->cfg.ema_start ? (float)e->cfg.ema_decay : 0.0f;
    return wg_session_write(e->steps.session, a->decay, &d);
}

void exp_ema_free(wg_experiment *e) {
    exp_ema *a = &e->ema;
    wg_plan_free(a->copy_plan);
    wg_plan_free(a->swap_plan);
    for (int i = 0; a->names && i < a->count; i++) free(a->names[i]);
    free(a->names);
    free(a->params);
    free(a->vars);
    free(a->updates);
    free(a->assign);
    *a = (exp_ema){0};
}

wg_status wg_experiment_use_ema(wg_experiment *e, bool use) {
    if (use && !e->cfg.ema)
        return wg_fail(WG_ERR_CONFIG,
                       "run '%s' (%s) has no average of the generator's weights: its "
                       "configuration does not set train.ema",
                       e->cfg.name, e->run.dir);
    e->ema.use = use;
    return WG_OK;
}
