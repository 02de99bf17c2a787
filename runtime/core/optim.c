/* Optimizer updates as graph nodes, mirroring torch.optim's single-tensor code paths
 * operation by operation, so a float32 run rounds (nearly) as PyTorch's does. */
#include "wgan/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph_internal.h"
#include "optim_internal.h"

/* At most three state variables per parameter (Adam with amsgrad, centered RMSprop with
 * momentum) plus the shared step counter. */
#define MAX_STATES_PER_PARAM 3

struct wg_optimizer {
    wg_optim_config config;
    int n_updates;
    wg_node *updates;
    int n_states;
    wg_optim_state *states;
    wg_node step;
    int n_params;
    wg_node *updated; /* per parameter: its value after the update */
};

static const char *const kind_names[] = {"sgd", "rmsprop", "adam"};

wg_optim_config wg_optim_defaults(wg_optim_kind kind) {
    wg_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    switch (kind) {
    case WG_OPTIM_SGD: c.sgd.lr = 1e-3; break;
    case WG_OPTIM_RMSPROP:
        c.rmsprop.lr = 1e-2;
        c.rmsprop.alpha = 0.99;
        c.rmsprop.eps = 1e-8;
        break;
    case WG_OPTIM_ADAM:
        c.adam.lr = 1e-3;
        c.adam.beta1 = 0.9;
        c.adam.beta2 = 0.999;
        c.adam.eps = 1e-8;
        break;
    }
    return c;
}

const char *wg_optim_kind_name(wg_optim_kind kind) {
    if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0]) return "unknown";
    return kind_names[kind];
}

wg_status wg_optim_kind_parse(const char *name, wg_optim_kind *out) {
    for (unsigned k = 0; k < sizeof kind_names / sizeof kind_names[0]; k++) {
        if (name && strcasecmp(name, kind_names[k]) == 0) {
            *out = (wg_optim_kind)k;
            return WG_OK;
        }
    }
    return wg_fail(WG_ERR_INVALID, "unknown optimizer '%s' (accepted: sgd, rmsprop, adam)",
                   name ? name : "(null)");
}

/* ---- configuration checks ---- */

/* `value` must be finite and within [low, high] (an open end when the flag says so). */
static wg_status check_range(const char *kind, const char *field, double value, double low,
                             double high, bool high_open) {
    bool ok = isfinite(value) && value >= low && (high_open ? value < high : value <= high);
    if (ok) return WG_OK;
    return wg_fail(WG_ERR_INVALID, "%s: %s = %g must be in [%g, %g%s", kind, field, value, low,
                   high, high_open ? ")" : "]");
}

#define CHECK(kind, field, value, low, high, open)                                                 \
    do {                                                                                           \
        wg_status s_ = check_range(kind, field, value, low, high, open);                           \
        if (s_ != WG_OK) return s_;                                                                \
    } while (0)

wg_status wg_optim_check(const wg_optim_config *config) {
    if (!config) return wg_fail(WG_ERR_INVALID, "optimizer: no configuration");
    switch (config->kind) {
    case WG_OPTIM_SGD: {
        const wg_sgd_config *c = &config->sgd;
        CHECK("sgd", "lr", c->lr, 0, INFINITY, true);
        CHECK("sgd", "momentum", c->momentum, 0, INFINITY, true);
        CHECK("sgd", "dampening", c->dampening, -INFINITY, INFINITY, true);
        CHECK("sgd", "weight_decay", c->weight_decay, 0, INFINITY, true);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return wg_fail(WG_ERR_INVALID,
                           "sgd: nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                           c->momentum, c->dampening);
        return WG_OK;
    }
    case WG_OPTIM_RMSPROP: {
        const wg_rmsprop_config *c = &config->rmsprop;
        CHECK("rmsprop", "lr", c->lr, 0, INFINITY, true);
        /* PyTorch only asks alpha >= 0; above 1 the average could turn negative. */
        CHECK("rmsprop", "alpha", c->alpha, 0, 1, false);
        CHECK("rmsprop", "eps", c->eps, 0, INFINITY, true);
        CHECK("rmsprop", "weight_decay", c->weight_decay, 0, INFINITY, true);
        CHECK("rmsprop", "momentum", c->momentum, 0, INFINITY, true);
        return WG_OK;
    }
    case WG_OPTIM_ADAM: {
        const wg_adam_config *c = &config->adam;
        CHECK("adam", "lr", c->lr, 0, INFINITY, true);
        CHECK("adam", "beta1", c->beta1, 0, 1, true);
        CHECK("adam", "beta2", c->beta2, 0, 1, true);
        CHECK("adam", "eps", c->eps, 0, INFINITY, true);
        CHECK("adam", "weight_decay", c->weight_decay, 0, INFINITY, true);
        return WG_OK;
    }
    }
    return wg_fail(WG_ERR_INVALID, "optimizer: unknown kind %d", (int)config->kind);
}

/* ---- building ---- */

typedef struct builder {
    wg_graph *graph;
    wg_optimizer *opt;
    const char *prefix;
    wg_node t_old, t_new; /* step counter before and after this step, [1] */
    wg_node neg_lr;       /* -lr as a [1] node, or WG_NONE for the constant */
} builder;

static wg_status add_state(builder *b, int param, const char *param_name, const char *key,
                           wg_shape shape, wg_node *out) {
    char name[512];
    const char *pre = b->prefix && *b->prefix ? b->prefix : NULL;
    if (param < 0)
        snprintf(name, sizeof name, "%s%s%s", pre ? pre : "", pre ? "." : "", key);
    else
        snprintf(name, sizeof name, "%s%s%s.%s", pre ? pre : "", pre ? "." : "", param_name, key);
    char *copy = strdup(name);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "optimizer: out of memory");
    *out = wg_variable(b->graph, shape, name);
    b->opt->states[b->opt->n_states++] =
        (wg_optim_state){.name = copy, .key = key, .param = param, .node = *out};
    return WG_OK;
}

static void add_update(builder *b, wg_node variable, wg_node value) {
    b->opt->updates[b->opt->n_updates++] = wg_assign(b->graph, variable, value);
}

/* The update of parameter i to p + x. */
static void update_param(builder *b, int i, wg_node p, wg_node x) {
    wg_node value = wg_add(b->graph, p, x);
    b->opt->updated[i] = value;
    add_update(b, p, value);
}

/* -lr * x, with the constant lr or the lr node. */
static wg_node times_neg_lr(builder *b, wg_node x, double lr) {
    if (b->neg_lr == WG_NONE) return wg_scale(b->graph, x, -lr);
    return wg_mul(b->graph, x, b->neg_lr);
}

/* torch.lerp(a, end, w) as ATen computes it: two forms, whichever rounds better. */
static wg_node lerp(wg_graph *g, wg_node a, wg_node end, double w) {
    if (w == 1.0) return end;
    wg_node diff = wg_sub(g, end, a);
    if (fabs(w) < 0.5) return wg_add(g, a, wg_scale(g, diff, w));
    return wg_sub(g, end, wg_scale(g, diff, 1.0 - w));
}

/* Gradient after maximize and weight decay: grad.add(param, alpha=weight_decay). */
static wg_node effective_grad(wg_graph *g, wg_node param, wg_node grad, bool maximize,
                              double weight_decay) {
    if (maximize) grad = wg_neg(g, grad);
    if (weight_decay != 0) grad = wg_add(g, grad, wg_scale(g, param, weight_decay));
    return grad;
}

/* v.mul_(decay).addcmul_(g, g, value=1 - decay) */
static wg_node square_average(wg_graph *g, wg_node v, wg_node grad, double decay) {
    return wg_add(g, wg_scale(g, v, decay), wg_mul(g, wg_scale(g, grad, 1.0 - decay), grad));
}

/* beta ** t for the [1] step count t >= 1, in the graph: exp(t log beta). NONE for 0. */
static wg_node power(wg_graph *g, wg_node t, double beta) {
    if (beta == 0) return WG_NONE;
    return wg_exp(g, wg_scale(g, t, log(beta)));
}

static wg_status build_sgd(builder *b, int i, const char *pname, wg_node p, wg_node grad) {
    const wg_sgd_config *c = &b->opt->config.sgd;
    wg_graph *g = b->graph;
    grad = effective_grad(g, p, grad, c->maximize, c->weight_decay);
    if (c->momentum != 0) {
        wg_node buf;
        wg_status s = add_state(b, i, pname, "momentum_buffer", wg_node_shape(g, p), &buf);
        if (s != WG_OK) return s;
        /* PyTorch sets buf = grad on the first step. The buffer starts at zero, so only
         * the gradient's coefficient differs: 1 on step one, then 1 - dampening. */
        wg_node scaled = grad;
        if (c->dampening != 0) {
            wg_node seen = wg_clamp(g, b->t_old, 0, 1);
            scaled = wg_mul(g, wg_add_scalar(g, wg_scale(g, seen, -c->dampening), 1.0), grad);
        }
        wg_node buf_new = wg_add(g, wg_scale(g, buf, c->momentum), scaled);
        add_update(b, buf, buf_new);
        grad = c->nesterov ? wg_add(g, grad, wg_scale(g, buf_new, c->momentum)) : buf_new;
    }
    update_param(b, i, p, times_neg_lr(b, grad, c->lr));
    return WG_OK;
}

static wg_status build_rmsprop(builder *b, int i, const char *pname, wg_node p, wg_node grad) {
    const wg_rmsprop_config *c = &b->opt->config.rmsprop;
    wg_graph *g = b->graph;
    wg_shape shape = wg_node_shape(g, p);
    grad = effective_grad(g, p, grad, c->maximize, c->weight_decay);

    wg_node sq;
    wg_status s = add_state(b, i, pname, "square_avg", shape, &sq);
    if (s != WG_OK) return s;
    wg_node sq_new = square_average(g, sq, grad, c->alpha);
    add_update(b, sq, sq_new);

    wg_node avg;
    if (c->centered) {
        wg_node ga;
        if ((s = add_state(b, i, pname, "grad_avg", shape, &ga)) != WG_OK) return s;
        wg_node ga_new = lerp(g, ga, grad, 1.0 - c->alpha);
        add_update(b, ga, ga_new);
        avg = wg_sqrt(g, wg_sub(g, sq_new, wg_mul(g, ga_new, ga_new)));
    } else {
        avg = wg_sqrt(g, sq_new);
    }
    avg = wg_add_scalar(g, avg, c->eps);

    if (c->momentum > 0) {
        wg_node buf;
        if ((s = add_state(b, i, pname, "momentum_buffer", shape, &buf)) != WG_OK) return s;
        wg_node buf_new = wg_add(g, wg_scale(g, buf, c->momentum), wg_div(g, grad, avg));
        add_update(b, buf, buf_new);
        update_param(b, i, p, times_neg_lr(b, buf_new, c->lr));
    } else {
        update_param(b, i, p, wg_div(g, times_neg_lr(b, grad, c->lr), avg));
    }
    return WG_OK;
}

/* The per-step scalars of Adam, shared by every parameter: -lr / (1 - beta1^t) and
 * sqrt(1 - beta2^t), as [1] nodes (WG_NONE for the latter when beta2 is 0). */
typedef struct adam_scalars {
    wg_node neg_step_size, bias2_sqrt;
} adam_scalars;

static adam_scalars adam_step_scalars(builder *b) {
    const wg_adam_config *c = &b->opt->config.adam;
    wg_graph *g = b->graph;
    adam_scalars out = {WG_NONE, WG_NONE};
    wg_node neg_lr = b->neg_lr != WG_NONE ? b->neg_lr : wg_constant(g, wg_shape1(1), -c->lr);
    wg_node pow1 = power(g, b->t_new, c->beta1);
    out.neg_step_size =
        pow1 == WG_NONE ? neg_lr : wg_div(g, neg_lr, wg_add_scalar(g, wg_neg(g, pow1), 1.0));
    wg_node pow2 = power(g, b->t_new, c->beta2);
    if (pow2 != WG_NONE) out.bias2_sqrt = wg_sqrt(g, wg_add_scalar(g, wg_neg(g, pow2), 1.0));
    return out;
}

/* torch.maximum(a, b), exact: the winner is selected, not recomputed. */
static wg_node maximum(wg_graph *g, wg_node a, wg_node b) {
    wg_node b_wins = wg_step(g, wg_sub(g, b, a));
    wg_node a_wins = wg_add_scalar(g, wg_neg(g, b_wins), 1.0);
    return wg_add(g, wg_mul(g, a_wins, a), wg_mul(g, b_wins, b));
}

static wg_status build_adam(builder *b, const adam_scalars *k, int i, const char *pname, wg_node p,
                            wg_node grad) {
    const wg_adam_config *c = &b->opt->config.adam;
    wg_graph *g = b->graph;
    wg_shape shape = wg_node_shape(g, p);
    grad = effective_grad(g, p, grad, c->maximize, c->weight_decay);

    wg_node m, v;
    wg_status s = add_state(b, i, pname, "exp_avg", shape, &m);
    if (s == WG_OK) s = add_state(b, i, pname, "exp_avg_sq", shape, &v);
    if (s != WG_OK) return s;
    wg_node m_new = lerp(g, m, grad, 1.0 - c->beta1);
    wg_node v_new = square_average(g, v, grad, c->beta2);
    add_update(b, m, m_new);
    add_update(b, v, v_new);

    if (c->amsgrad) {
        wg_node vmax;
        if ((s = add_state(b, i, pname, "max_exp_avg_sq", shape, &vmax)) != WG_OK) return s;
        wg_node vmax_new = maximum(g, vmax, v_new);
        add_update(b, vmax, vmax_new);
        v_new = vmax_new;
    }
    /* denom = (v.sqrt() / bias2_sqrt).add_(eps); param.addcdiv_(m, denom, -step_size) */
    wg_node denom = wg_sqrt(g, v_new);
    if (k->bias2_sqrt != WG_NONE) denom = wg_div(g, denom, k->bias2_sqrt);
    denom = wg_add_scalar(g, denom, c->eps);
    update_param(b, i, p, wg_div(g, wg_mul(g, k->neg_step_size, m_new), denom));
    return WG_OK;
}

static bool needs_step(const wg_optim_config *c) {
    return c->kind != WG_OPTIM_SGD || (c->sgd.momentum != 0 && c->sgd.dampening != 0);
}

static wg_status check_params(wg_graph *graph, int count, const wg_node *params,
                              const wg_node *grads) {
    int size = wg_graph_size(graph);
    for (int i = 0; i < count; i++) {
        wg_node p = params[i];
        if (p < 0 || p >= size || wg_node_at(graph, p)->op != WG_OP_VARIABLE)
            return wg_fail(WG_ERR_INVALID, "optimizer: parameter %d (node %d) is not a variable", i,
                           p);
        for (int j = 0; j < i; j++)
            if (params[j] == p)
                return wg_fail(WG_ERR_INVALID,
                               "optimizer: parameter '%s' is given twice (%d and %d)",
                               wg_node_name(graph, p), j, i);
        if (grads[i] < 0 || grads[i] >= size)
            return wg_fail(WG_ERR_INVALID, "optimizer: parameter '%s' has no gradient (node %d)",
                           wg_node_name(graph, p), grads[i]);
        wg_shape sp = wg_node_shape(graph, p), sg = wg_node_shape(graph, grads[i]);
        if (!wg_shape_equal(&sp, &sg)) {
            char a[64], c[64];
            return wg_fail(WG_ERR_SHAPE, "optimizer: parameter '%s' is %s but its gradient is %s",
                           wg_node_name(graph, p), wg_shape_str(&sp, a, sizeof a),
                           wg_shape_str(&sg, c, sizeof c));
        }
    }
    return WG_OK;
}

static wg_status build_all(builder *b, int count, const wg_node *params, const wg_node *grads) {
    wg_optimizer *opt = b->opt;
    wg_graph *g = b->graph;
    wg_status s = WG_OK;
    if (needs_step(&opt->config)) {
        s = add_state(b, -1, NULL, "step", wg_shape1(1), &opt->step);
        if (s != WG_OK) return s;
        b->t_old = opt->step;
        b->t_new = wg_add_scalar(g, opt->step, 1.0);
        add_update(b, opt->step, b->t_new);
    }
    adam_scalars k = {WG_NONE, WG_NONE};
    if (opt->config.kind == WG_OPTIM_ADAM) k = adam_step_scalars(b);
    for (int i = 0; i < count && s == WG_OK; i++) {
        char fallback[32];
        const char *pname = wg_node_name(g, params[i]);
        if (!*pname) {
            snprintf(fallback, sizeof fallback, "param%d", i);
            pname = fallback;
        }
        switch (opt->config.kind) {
        case WG_OPTIM_SGD: s = build_sgd(b, i, pname, params[i], grads[i]); break;
        case WG_OPTIM_RMSPROP: s = build_rmsprop(b, i, pname, params[i], grads[i]); break;
        case WG_OPTIM_ADAM: s = build_adam(b, &k, i, pname, params[i], grads[i]); break;
        }
    }
    if (s != WG_OK) return s;
    if (wg_graph_status(g) != WG_OK)
        return wg_fail(wg_graph_status(g), "optimizer: %s", wg_graph_error(g));
    return WG_OK;
}

wg_status wg_optimizer_new(wg_graph *graph, const wg_optim_config *config, int count,
                           const wg_node *params, const wg_node *grads, const char *prefix,
                           wg_optimizer **out) {
    return wg_optimizer_new_lr(graph, config, count, params, grads, prefix, WG_NONE, out);
}

wg_status wg_optimizer_new_lr(wg_graph *graph, const wg_optim_config *config, int count,
                              const wg_node *params, const wg_node *grads, const char *prefix,
                              wg_node lr, wg_optimizer **out) {
    *out = NULL;
    if (!graph) return wg_fail(WG_ERR_INVALID, "optimizer: no graph");
    wg_status s = wg_optim_check(config);
    if (s != WG_OK) return s;
    /* A failed graph leaves WG_NONE gradients behind: report the original error. */
    if (wg_graph_status(graph) != WG_OK)
        return wg_fail(wg_graph_status(graph), "optimizer: the graph already failed: %s",
                       wg_graph_error(graph));
    if (count <= 0 || !params || !grads)
        return wg_fail(WG_ERR_INVALID, "optimizer: needs at least one parameter (got %d)", count);
    if ((s = check_params(graph, count, params, grads)) != WG_OK) return s;
    if (lr != WG_NONE && (lr < 0 || lr >= wg_graph_size(graph) || wg_node_numel(graph, lr) != 1))
        return wg_fail(WG_ERR_INVALID, "optimizer: the learning rate (node %d) is not one value",
                       lr);

    wg_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return wg_fail(WG_ERR_NOMEM, "optimizer: out of memory");
    opt->config = *config;
    opt->step = WG_NONE;
    opt->n_params = count;
    size_t max_states = (size_t)count * MAX_STATES_PER_PARAM + 1;
    opt->states = calloc(max_states, sizeof *opt->states);
    opt->updates = calloc(max_states + (size_t)count, sizeof *opt->updates);
    opt->updated = calloc((size_t)count, sizeof *opt->updated);
    if (!opt->states || !opt->updates || !opt->updated) {
        wg_optimizer_free(opt);
        return wg_fail(WG_ERR_NOMEM, "optimizer: out of memory");
    }
    builder b = {.graph = graph,
                 .opt = opt,
                 .prefix = prefix,
                 .t_old = WG_NONE,
                 .t_new = WG_NONE,
                 .neg_lr = lr == WG_NONE ? WG_NONE : wg_neg(graph, lr)};
    if ((s = build_all(&b, count, params, grads)) != WG_OK) {
        wg_optimizer_free(opt);
        return s;
    }
    *out = opt;
    return WG_OK;
}

void wg_optimizer_free(wg_optimizer *optimizer) {
    if (!optimizer) return;
    for (int i = 0; i < optimizer->n_states; i++) free((char *)optimizer->states[i].name);
    free(optimizer->states);
    free(optimizer->updates);
    free(optimizer->updated);
    free(optimizer);
}

const wg_optim_config *wg_optimizer_config(const wg_optimizer *optimizer) {
    return &optimizer->config;
}

int wg_optimizer_update_count(const wg_optimizer *optimizer) {
    return optimizer->n_updates;
}

const wg_node *wg_optimizer_updates(const wg_optimizer *optimizer) {
    return optimizer->updates;
}

int wg_optimizer_state_count(const wg_optimizer *optimizer) {
    return optimizer->n_states;
}

const wg_optim_state *wg_optimizer_state(const wg_optimizer *optimizer, int index) {
    if (index < 0 || index >= optimizer->n_states) return NULL;
    return &optimizer->states[index];
}

wg_node wg_optimizer_step_variable(const wg_optimizer *optimizer) {
    return optimizer->step;
}

wg_node wg_optimizer_updated(const wg_optimizer *optimizer, int param) {
    if (param < 0 || param >= optimizer->n_params) return WG_NONE;
    return optimizer->updated[param];
}
