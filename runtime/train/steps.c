/* The step graphs: critic step, generator step, projection, diagnostics and samples,
 * all in one f32 graph, each traced once and planned once. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fuse.h"
#include "core/graph_internal.h"
#include "wgan/philox.h"
#include "optim_internal.h"
#include "plugin/build.h"
#include "train_internal.h"

static const char *const fixed_names[COL_FIXED_COUNT] = {
    [COL_STEP] = "step",
    [COL_CRITIC_STEP] = "critic_step",
    [COL_W] = "w_estimate",
    [COL_CRITIC_LOSS] = "critic_loss",
    [COL_GEN_LOSS] = "generator_loss",
    [COL_PENALTY] = "penalty",
    [COL_GNORM_REAL] = "grad_norm_real",
    [COL_GNORM_FAKE] = "grad_norm_fake",
    [COL_GNORM_MIN] = "grad_norm_min",
    [COL_GNORM_MAX] = "grad_norm_max",
    [COL_SECONDS] = "seconds",
};

int exp_critic_iterations(const wg_experiment *e, int64_t g) {
    /* the official WGAN code's schedule: a well-trained critic before the generator
     * moves, and again every 500 generator steps */
    if (e->cfg.warmup && (g < 25 || g % 500 == 0)) return 100;
    return e->cfg.n_critic;
}

int64_t exp_critic_steps_before(const wg_experiment *e, int64_t gen) {
    if (!e->cfg.warmup) return gen * e->cfg.n_critic;
    /* warm-up steps: g < 25, and the multiples of 500 from 500 on */
    int64_t warm = (gen < 25 ? gen : 25) + (gen > 500 ? (gen - 1) / 500 : 0);
    return warm * 100 + (gen - warm) * e->cfg.n_critic;
}

wg_status exp_run_aside(wg_experiment *e, wg_plan *plan) {
    uint64_t step = wg_session_step(e->steps.session);
    wg_status s = wg_plan_run(plan);
    wg_session_set_step(e->steps.session, step);
    return s;
}

/* ---- networks as the plugins build them ---- */

/* Each call into a plugin or a network enters its own level of the key scope, so the
 * draws it makes are named after it, whatever else the trace draws. */
wg_status exp_apply_critic(void *self, wg_build *build, wg_node x, wg_node *score) {
    wg_experiment *e = self;
    /* what went wrong before, or a batch that is not of samples, is the caller's: only
     * a penalty hands the critic batches of its own making */
    wg_status s = wg_build_check(build);
    if (s == WG_OK) s = exp_check_batch(e, build, x);
    if (s != WG_OK) return s;
    wg_build_enter_network(build, "critic");
    s = e->plugins.arch.plugin->vt.arch.critic(e->plugins.arch.state, build, x, score);
    wg_build_leave(build);
    return exp_hook_done(e, build, &e->plugins.arch, "critic", s);
}

wg_status exp_apply_generator(wg_experiment *e, wg_build *build, wg_node z, wg_node *x) {
    wg_build_enter_network(build, "generator");
    wg_status s = e->plugins.arch.plugin->vt.arch.generator(e->plugins.arch.state, build, z, x);
    wg_build_leave(build);
    return exp_hook_done(e, build, &e->plugins.arch, "generator", s);
}

void exp_begin_build(wg_experiment *e, wg_build *b, const char *trace, int64_t batch) {
    wg_build_begin(b, e->steps.graph, &e->steps.registry, trace, batch, e->plugins.lipschitz.plugin,
                   e->plugins.lipschitz.state);
}

/* A plugin's failure while tracing, with the step it happened in. */
wg_status exp_traced(wg_build *b, wg_status s, const char *what) {
    if (s == WG_OK) s = wg_build_check(b);
    if (s == WG_OK) return WG_OK;
    char message[1024];
    snprintf(message, sizeof message, "%s", wg_last_error());
    return wg_fail(s, "building the %s: %s", what, message);
}

/* ---- targets ---- */

typedef struct targets {
    wg_node *v;
    int n, cap;
} targets;

static int push(targets *t, wg_node node) {
    if (node == WG_NONE) return 1;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        wg_node *grown = realloc(t->v, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        t->v = grown;
        t->cap = cap;
    }
    t->v[t->n++] = node;
    return 1;
}

/* The build's own state updates and metrics. */
static wg_status push_all(targets *t, const wg_build *b) {
    int ok = 1;
    for (int i = 0; i < b->n_updates; i++) ok &= push(t, b->updates[i]);
    for (int i = 0; i < b->n_metrics; i++) ok &= push(t, b->metrics[i].node);
    return ok ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory building the step");
}

/* Network `which`'s updates (its optimizer's, and the generator's average): in the
 * step's own plan, or, when the gradients are summed over shards, in a plan of their
 * own that runs after the sum while the step's plan outputs the gradients. */
static wg_status push_updates(wg_experiment *e, int which, targets *step, targets *update) {
    const wg_optimizer *opt = e->steps.optimizer[which];
    targets *to = e->shard.count > 1 ? update : step;
    int ok = 1;
    for (int i = 0; i < wg_optimizer_update_count(opt); i++)
        ok &= push(to, wg_optimizer_updates(opt)[i]);
    for (int i = 0; which == 1 && i < e->ema.count; i++) ok &= push(to, e->ema.updates[i]);
    const wg_node *grads;
    int n = e->shard.count > 1 ? exp_shard_outputs(e, which, &grads) : 0;
    for (int i = 0; i < n; i++) ok &= push(step, grads[i]);
    return ok ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory building the step");
}

/* A trace of the training steps: each shard traces its rows of the batch and of every
 * random draw. */
static void begin_sharded(wg_experiment *e, wg_build *b, const char *trace) {
    exp_begin_build(e, b, trace, e->shard.batch);
    wg_graph_set_random_block(e->steps.graph, e->shard.index);
}

static void end_sharded(wg_experiment *e, wg_build *b) {
    wg_build_end(b);
    wg_graph_set_random_block(e->steps.graph, 0);
}

static int find_column(const wg_experiment *e, const char *name) {
    for (int i = 0; i < e->steps.n_columns; i++)
        if (!strcmp(e->steps.columns[i].name, name)) return i;
    return -1;
}

bool exp_add_column(wg_experiment *e, const char *name, exp_source source, wg_node node) {
    if (e->steps.n_columns == WG_EXP_MAX_COLUMNS) return false;
    exp_column *c = &e->steps.columns[e->steps.n_columns++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->source = source;
    c->node = node;
    c->value = 0;
    return true;
}

void exp_set_value(wg_experiment *e, int column, double value) {
    e->steps.columns[column].value = value;
}

/* Metrics a plugin added, as extra columns; a name already taken by the runtime's
 * own columns is the same quantity (the gradient penalty reports "penalty"). */
static void add_plugin_columns(wg_experiment *e, const wg_build *b, exp_source source) {
    for (int i = 0; i < b->n_metrics; i++) {
        char name[48];
        snprintf(name, sizeof name, "%s", b->metrics[i].name);
        int at = find_column(e, name);
        if (at >= 0 && at < COL_FIXED_COUNT) continue;
        if (at >= 0) snprintf(name, sizeof name, "gen_%s", b->metrics[i].name);
        if (find_column(e, name) < 0) exp_add_column(e, name, source, b->metrics[i].node);
    }
}

/* Trainable parameters of `network`, in registry order. */
static wg_status network_params(wg_experiment *e, const char *network, wg_node **params,
                                int *count) {
    *count = wg_registry_params(&e->steps.registry, network, NULL, 0);
    *params = malloc((size_t)(*count ? *count : 1) * sizeof **params);
    if (!*params) return wg_fail(WG_ERR_NOMEM, "out of memory building the step");
    wg_registry_params(&e->steps.registry, network, *params, *count);
    if (*count == 0) return wg_fail(WG_ERR_PLUGIN, "the %s has no trainable parameters", network);
    return WG_OK;
}

/* Gradients of `loss` with respect to the network's parameters and the optimizer
 * that applies them, at the rate of a [1] input when a schedule changes it; the
 * generator's average of its weights when there is one. */
static wg_status optimize(wg_experiment *e, const char *network, int which, wg_node loss) {
    wg_node *params, *grads = NULL;
    int count;
    wg_status s = network_params(e, network, &params, &count);
    if (s == WG_OK) {
        grads = malloc((size_t)count * sizeof *grads);
        if (!grads) s = wg_fail(WG_ERR_NOMEM, "out of memory building the step");
    }
    if (s == WG_OK) s = wg_grad(e->steps.graph, loss, count, params, grads);
    if (s == WG_OK && e->shard.count > 1) s = exp_shard_trace(e, which, count, grads);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "optimizer.%s", network);
    wg_node lr = WG_NONE;
    if (s == WG_OK && e->cfg.schedule[which].kind != EXP_SCHEDULE_CONSTANT) {
        char name[80];
        snprintf(name, sizeof name, "%s.lr", prefix);
        lr = e->steps.lr[which] = wg_input(e->steps.graph, wg_shape1(1), name);
    }
    if (s == WG_OK)
        s = wg_optimizer_new_lr(e->steps.graph, &e->cfg.optim[which], count, params, grads, prefix,
                                lr, &e->steps.optimizer[which]);
    if (s == WG_OK && which == 1 && e->cfg.ema)
        s = exp_ema_trace(e, e->steps.optimizer[1], count, params);
    free(params);
    free(grads);
    return s;
}

/* ---- the step graphs ---- */

static wg_status build_critic_step(wg_experiment *e, targets *t, targets *update) {
    wg_build b;
    begin_sharded(e, &b, "critic_step");
    wg_graph *g = e->steps.graph;
    e->steps.real = wg_input(g, exp_batch_shape(e, e->shard.batch), "real");
    wg_node z = wg_random_normal(g, "z", wg_shape2(e->shard.batch, e->plugins.noise_dim), 0, 1);
    wg_node fake = WG_NONE, s_real = WG_NONE, s_fake = WG_NONE, loss = WG_NONE;
    wg_node penalty = WG_NONE;
    wg_status s = exp_apply_generator(e, &b, z, &fake);
    if (s == WG_OK) s = exp_apply_critic(e, &b, e->steps.real, &s_real);
    if (s == WG_OK) s = exp_apply_critic(e, &b, fake, &s_fake);
    if (s == WG_OK) {
        s = wg_build_critic_loss(&b, e->plugins.loss.plugin, e->plugins.loss.state, s_real, s_fake,
                                 &loss);
        s = exp_hook_output(e, &b, &e->plugins.loss, "critic_loss", s, loss,
                            fixed_names[COL_CRITIC_LOSS]);
    }
    const wg_lipschitz_vtable *lip = b.lipschitz;
    if (s == WG_OK && lip && (lip->penalty || lip->penalty_ctx)) {
        wg_critic_fn fn = {exp_apply_critic, e};
        s = wg_build_penalty(&b, &fn, e->steps.real, fake, s_real, s_fake, &penalty);
        s = exp_hook_output(e, &b, &e->plugins.lipschitz, "penalty", s, penalty,
                            fixed_names[COL_PENALTY]);
    }
    s = exp_traced(&b, s, "critic step");
    wg_node total = penalty == WG_NONE ? loss : wg_add(g, loss, penalty);
    wg_node w = wg_sub(g, wg_mean_all(g, s_real), wg_mean_all(g, s_fake));
    if (s == WG_OK) s = exp_traced(&b, optimize(e, "critic", 0, total), "critic step");
    if (s == WG_OK) {
        e->steps.columns[COL_W].node = w;
        e->steps.columns[COL_CRITIC_LOSS].node = loss;
        e->steps.columns[COL_PENALTY].node = penalty;
        add_plugin_columns(e, &b, EXP_SRC_CRITIC);
        s = push_all(t, &b);
        if (s == WG_OK) s = push_updates(e, 0, t, update);
        if (s == WG_OK && !(push(t, w) && push(t, loss) && push(t, penalty)))
            s = wg_fail(WG_ERR_NOMEM, "out of memory building the step");
    }
    end_sharded(e, &b);
    return s;
}

static wg_status build_generator_step(wg_experiment *e, targets *t, targets *update) {
    wg_build b;
    begin_sharded(e, &b, "generator_step");
    wg_graph *g = e->steps.graph;
    wg_node z = wg_random_normal(g, "z", wg_shape2(e->shard.batch, e->plugins.noise_dim), 0, 1);
    wg_node fake = WG_NONE, score = WG_NONE, real_score = WG_NONE, loss = WG_NONE;
    wg_status s = exp_apply_generator(e, &b, z, &fake);
    if (s == WG_OK) s = exp_apply_critic(e, &b, fake, &score);
    /* D(real) only for a loss that reads it (relativistic): on the real input, which
     * still holds the batch of this generator step's last critic step, so no data
     * index is drawn and a resumed run sees what an uninterrupted one does */
    if (s == WG_OK && wg_loss_wants_real_scores(e->plugins.loss.plugin))
        s = exp_apply_critic(e, &b, e->steps.real, &real_score);
    if (s == WG_OK) {
        s = wg_build_generator_loss(&b, e->plugins.loss.plugin, e->plugins.loss.state, real_score,
                                    score, &loss);
        s = exp_hook_output(e, &b, &e->plugins.loss, "generator_loss", s, loss,
                            fixed_names[COL_GEN_LOSS]);
    }
    s = exp_traced(&b, s, "generator step");
    if (s == WG_OK) s = exp_traced(&b, optimize(e, "generator", 1, loss), "generator step");
    if (s == WG_OK) {
        e->steps.columns[COL_GEN_LOSS].node = loss;
        add_plugin_columns(e, &b, EXP_SRC_GEN);
        s = push_all(t, &b);
        if (s == WG_OK) s = push_updates(e, 1, t, update);
        if (s == WG_OK && !push(t, loss))
            s = wg_fail(WG_ERR_NOMEM, "out of memory building the step");
    }
    end_sharded(e, &b);
    return s;
}

/* assign(p, project(p)) for every critic parameter, when the strategy projects. */
static wg_status build_projection(wg_experiment *e, targets *t) {
    const wg_lipschitz_vtable *lip =
        e->plugins.lipschitz.plugin ? &e->plugins.lipschitz.plugin->vt.lipschitz : NULL;
    if (!lip || !lip->project) return WG_OK;
    wg_build b;
    exp_begin_build(e, &b, "projection", e->cfg.batch);
    wg_build_set_network(&b, "critic");
    wg_status s = WG_OK;
    int count = e->steps.registry.count; /* the hook may add state; project what existed */
    for (int i = 0; i < count && s == WG_OK; i++) {
        const wg_variable_entry *v = &e->steps.registry.entries[i];
        if (!v->trainable || strncmp(v->name, "critic.", 7) != 0) continue;
        wg_node node = v->node, projected = WG_NONE;
        const char *name = v->name + 7; /* the string stays put when the hook adds entries */
        wg_param_role role = v->role;
        wg_build_enter_plugin(&b, e->plugins.lipschitz.plugin);
        wg_build_enter(&b, name);
        s = lip->project(e->plugins.lipschitz.state, &b, name, role, node, &projected);
        wg_build_leave(&b);
        wg_build_leave(&b);
        s = exp_hook_done(e, &b, &e->plugins.lipschitz, "project", s);
        if (s == WG_OK && projected != WG_NONE && projected != node &&
            !push(t, wg_assign(e->steps.graph, node, projected)))
            s = wg_fail(WG_ERR_NOMEM, "out of memory building the projection");
    }
    s = exp_traced(&b, s, "projection");
    if (s == WG_OK) s = push_all(t, &b);
    wg_build_end(&b);
    return s;
}

wg_status exp_input_grad_norm(wg_experiment *e, wg_build *b, wg_node x, wg_node *score_out,
                              wg_node *norm) {
    wg_graph *g = e->steps.graph;
    wg_node score = WG_NONE, grad = WG_NONE;
    wg_status s = exp_apply_critic(e, b, x, &score);
    if (s == WG_OK) s = wg_grad(g, wg_sum_all(g, score), 1, &x, &grad);
    if (s != WG_OK) return s;
    if (score_out) *score_out = score;
    *norm = wg_norm_per_sample(g, grad, 0);
    return WG_OK;
}

/* Gradient norms at real and generated points, read only at log steps: its own plan,
 * so the training steps never compute them. */
static wg_status build_diagnostics(wg_experiment *e, targets *t) {
    wg_build b;
    begin_sharded(e, &b, "diagnostics");
    wg_node z = wg_random_normal(e->steps.graph, "z",
                                 wg_shape2(e->shard.batch, e->plugins.noise_dim), 0, 1);
    wg_node fake = WG_NONE;
    wg_status s = exp_input_grad_norm(e, &b, e->steps.real, NULL, &e->steps.diag_norm_real);
    if (s == WG_OK) s = exp_apply_generator(e, &b, z, &fake);
    if (s == WG_OK) s = exp_input_grad_norm(e, &b, fake, NULL, &e->steps.diag_norm_fake);
    s = exp_traced(&b, s, "diagnostics");
    if (s == WG_OK && !(push(t, e->steps.diag_norm_real) && push(t, e->steps.diag_norm_fake)))
        s = wg_fail(WG_ERR_NOMEM, "out of memory building the diagnostics");
    end_sharded(e, &b);
    return s;
}

static wg_status build_samples(wg_experiment *e, targets *t) {
    wg_build b;
    exp_begin_build(e, &b, "samples", e->cfg.n_samples);
    e->steps.sample_noise =
        wg_input(e->steps.graph, wg_shape2(e->cfg.n_samples, e->plugins.noise_dim), "sample_noise");
    wg_status s = exp_traced(
        &b, exp_apply_generator(e, &b, e->steps.sample_noise, &e->steps.sample_out), "sampler");
    if (s == WG_OK && !push(t, e->steps.sample_out))
        s = wg_fail(WG_ERR_NOMEM, "out of memory building the sampler");
    wg_build_end(&b);
    return s;
}

/* ---- host data that never changes ---- */

void exp_draw_sample_noise(const wg_experiment *e, uint64_t seed, int64_t first, int64_t rows,
                           float *z) {
    wg_init normal = {WG_INIT_NORMAL, 0, 1, 0};
    uint64_t stream = wg_philox_stream(WG_SAMPLE_NOISE_KEY);
    int64_t at = first * e->plugins.noise_dim, n = rows * e->plugins.noise_dim;
    for (int64_t i = 0; i < n; i++)
        z[i] = (float)wg_host_draw(&normal, stream, (uint64_t)(at + i), seed);
}

/* Fixed N(0, 1) noise for the pictures, a host draw of its own key, so the pictures
 * of one run show the same latent points at every step. */
static wg_status write_sample_noise(wg_experiment *e) {
    int64_t n = e->cfg.n_samples * e->plugins.noise_dim;
    float *z = malloc((size_t)n * sizeof *z);
    if (!z) return wg_fail(WG_ERR_NOMEM, "out of memory drawing sample noise");
    exp_draw_sample_noise(e, e->cfg.seed, 0, e->cfg.n_samples, z);
    wg_status s = wg_session_write(e->steps.session, e->steps.sample_noise, z);
    free(z);
    return s;
}

static wg_status read_real_samples(wg_experiment *e) {
    e->steps.real_host = malloc((size_t)(e->cfg.batch * e->plugins.sample_numel) * sizeof(float));
    e->steps.real_plot =
        malloc((size_t)(e->cfg.n_samples * e->plugins.sample_numel) * sizeof(float));
    if (!e->steps.real_host || !e->steps.real_plot)
        return wg_fail(WG_ERR_NOMEM, "out of memory for data batches");
    wg_status s = e->plugins.data.plugin->vt.data.batch(e->plugins.data.state, 0, e->cfg.n_samples,
                                                        e->steps.real_plot);
    if (s != WG_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_fail(s, "data plugin '%s': %s", e->plugins.data.plugin->name, message);
    }
    return WG_OK;
}

static wg_status plan(wg_experiment *e, targets *t, wg_plan **out) {
    wg_status s = t->n ? wg_plan_new(e->steps.session, t->n, t->v, out) : WG_OK;
    free(t->v);
    *t = (targets){0};
    return s;
}

/* The targets of each plan, from tracing (at load) to planning (after the device). */
struct exp_targets {
    targets critic, gen, project, diag, samples;
    targets critic_update, gen_update; /* with shards: after the gradient sum */
};

static void targets_free(wg_experiment *e) {
    if (!e->steps.targets) return;
    free(e->steps.targets->critic.v);
    free(e->steps.targets->gen.v);
    free(e->steps.targets->project.v);
    free(e->steps.targets->diag.v);
    free(e->steps.targets->samples.v);
    free(e->steps.targets->critic_update.v);
    free(e->steps.targets->gen_update.v);
    free(e->steps.targets);
    e->steps.targets = NULL;
}

wg_status exp_trace(wg_experiment *e) {
    e->steps.real = e->steps.sample_noise = e->steps.sample_out = WG_NONE;
    e->steps.diag_norm_real = e->steps.diag_norm_fake = WG_NONE;
    e->steps.lr[0] = e->steps.lr[1] = WG_NONE;
    e->steps.lr_column[0] = e->steps.lr_column[1] = -1;
    e->steps.graph = wg_graph_new(WG_F32);
    if (!e->steps.graph) return wg_fail(WG_ERR_NOMEM, "out of memory creating the step graph");
    e->steps.n_columns = 0;
    for (int i = 0; i < COL_FIXED_COUNT; i++)
        exp_add_column(e, fixed_names[i], EXP_SRC_COUNTER, WG_NONE);
    e->steps.columns[COL_W].source = e->steps.columns[COL_CRITIC_LOSS].source = EXP_SRC_CRITIC;
    e->steps.columns[COL_PENALTY].source = EXP_SRC_CRITIC;
    e->steps.columns[COL_GEN_LOSS].source = EXP_SRC_GEN;
    for (int i = COL_GNORM_REAL; i <= COL_GNORM_MAX; i++) e->steps.columns[i].source = EXP_SRC_DIAG;

    struct exp_targets *t = e->steps.targets = calloc(1, sizeof *e->steps.targets);
    if (!t) return wg_fail(WG_ERR_NOMEM, "out of memory tracing the step graphs");
    wg_status s = build_critic_step(e, &t->critic, &t->critic_update);
    if (s == WG_OK) s = build_generator_step(e, &t->gen, &t->gen_update);
    if (s == WG_OK) s = build_projection(e, &t->project);
    if (s == WG_OK) s = build_diagnostics(e, &t->diag);
    if (s == WG_OK) s = build_samples(e, &t->samples);
    /* the learning rates a schedule changes, as the logged step used them */
    static const char *const lr_names[2] = {"lr_critic", "lr_generator"};
    for (int k = 0; k < 2 && s == WG_OK; k++) {
        if (e->steps.lr[k] == WG_NONE) continue;
        e->steps.lr_column[k] = e->steps.n_columns;
        if (!exp_add_column(e, lr_names[k], EXP_SRC_COUNTER, WG_NONE))
            s = wg_fail(WG_ERR_INVALID, "more than %d metrics columns", WG_EXP_MAX_COLUMNS);
    }
    return s;
}

wg_status exp_steps_open(wg_experiment *e) {
    struct exp_targets *t = e->steps.targets;
    if (!t) return wg_fail(WG_ERR_INVALID, "the step graphs were not traced");
    wg_status s = wg_device_open(e->cfg.device_spec, &e->steps.device);
    if (s != WG_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_fail(s, "device '%s': %s", e->cfg.device_spec, message);
    }
    s = wg_session_new(e->steps.graph, e->steps.device, e->cfg.seed, &e->steps.session);
    if (s == WG_OK) s = plan(e, &t->critic, &e->steps.critic_plan);
    if (s == WG_OK) s = plan(e, &t->gen, &e->steps.gen_plan);
    if (s == WG_OK) s = plan(e, &t->critic_update, &e->steps.update_plan[0]);
    if (s == WG_OK) s = plan(e, &t->gen_update, &e->steps.update_plan[1]);
    if (s == WG_OK) s = plan(e, &t->project, &e->steps.project_plan);
    if (s == WG_OK) s = plan(e, &t->diag, &e->steps.diag_plan);
    if (s == WG_OK) s = plan(e, &t->samples, &e->steps.sample_plan);
    targets_free(e);
    if (s == WG_OK) s = exp_ema_plan(e);
    if (s == WG_OK) s = write_sample_noise(e);
    if (s == WG_OK) s = read_real_samples(e);
    return s;
}

wg_status exp_steps_initialize(wg_experiment *e) {
    wg_status s = wg_registry_initialize(&e->steps.registry, e->steps.session, e->cfg.seed);
    /* the critic starts inside the constraint set, as the official clipping code
     * clamps before its first update */
    if (s == WG_OK && e->steps.project_plan) s = wg_plan_run(e->steps.project_plan);
    if (s == WG_OK && e->ema.copy_plan) s = exp_run_aside(e, e->ema.copy_plan);
    return s;
}

/* Optimizer k's learning rate in generator step g, as the graph holds it. */
static float lr_at(const wg_experiment *e, int k, int64_t g) {
    return (float)exp_schedule_lr(&e->cfg.schedule[k], exp_optim_lr(&e->cfg.optim[k]), g,
                                  e->cfg.steps);
}

wg_status exp_steps_schedule(wg_experiment *e, int64_t g) {
    wg_status s = WG_OK;
    for (int k = 0; k < 2 && s == WG_OK; k++) {
        if (e->steps.lr[k] == WG_NONE) continue;
        float lr = lr_at(e, k, g);
        s = wg_session_write(e->steps.session, e->steps.lr[k], &lr);
    }
    return s == WG_OK ? exp_ema_set_decay(e, g) : s;
}

wg_status exp_swap_ema(wg_experiment *e) {
    return e->ema.use && e->ema.swap_plan ? exp_run_aside(e, e->ema.swap_plan) : WG_OK;
}

void exp_steps_free(wg_experiment *e) {
    exp_ema_free(e);
    wg_plan_free(e->steps.critic_plan);
    wg_plan_free(e->steps.gen_plan);
    for (int i = 0; i < 2; i++) wg_plan_free(e->steps.update_plan[i]);
    wg_plan_free(e->steps.project_plan);
    wg_plan_free(e->steps.diag_plan);
    wg_plan_free(e->steps.sample_plan);
    for (int i = 0; i < 2; i++) wg_optimizer_free(e->steps.optimizer[i]);
    wg_session_free(e->steps.session);
    targets_free(e);
    wg_registry_free(&e->steps.registry);
    wg_graph_free(e->steps.graph);
    if (e->steps.device) wg_device_close(e->steps.device);
    free(e->steps.real_host);
    free(e->steps.real_plot);
}

/* ---- reading the metrics back ---- */

static wg_status read_scalar(wg_plan *plan, wg_node node, double *out) {
    if (node == WG_NONE) {
        *out = 0;
        return WG_OK;
    }
    float v;
    wg_status s = wg_plan_read(plan, node, &v);
    *out = v;
    return s;
}

static wg_status read_diagnostics(wg_experiment *e) {
    const int64_t rows = e->shard.batch;
    float *norms = malloc((size_t)(2 * rows) * sizeof *norms);
    if (!norms) return wg_fail(WG_ERR_NOMEM, "out of memory reading gradient norms");
    wg_status s = exp_run_aside(e, e->steps.diag_plan);
    if (s == WG_OK) s = wg_plan_read(e->steps.diag_plan, e->steps.diag_norm_real, norms);
    if (s == WG_OK) s = wg_plan_read(e->steps.diag_plan, e->steps.diag_norm_fake, norms + rows);
    double sum[2] = {0, 0}, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; s == WG_OK && i < 2 * rows; i++) {
        sum[i >= rows] += norms[i];
        lo = fmin(lo, norms[i]);
        hi = fmax(hi, norms[i]);
    }
    /* over every shard's rows: the whole batch's */
    if (s == WG_OK) s = exp_shard_reduce(e, sum, 2, WG_DIST_SUM);
    if (s == WG_OK) s = exp_shard_reduce(e, &lo, 1, WG_DIST_MIN);
    if (s == WG_OK) s = exp_shard_reduce(e, &hi, 1, WG_DIST_MAX);
    if (s == WG_OK) {
        e->steps.columns[COL_GNORM_REAL].value = sum[0] / (double)e->cfg.batch;
        e->steps.columns[COL_GNORM_FAKE].value = sum[1] / (double)e->cfg.batch;
        e->steps.columns[COL_GNORM_MIN].value = lo;
        e->steps.columns[COL_GNORM_MAX].value = hi;
    }
    free(norms);
    return s;
}

/* The step's losses and the plugins' metrics are batch means: over shards, their mean. */
static wg_status mean_over_shards(wg_experiment *e) {
    double values[WG_EXP_MAX_COLUMNS];
    int n = 0;
    for (int i = 0; i < e->steps.n_columns; i++) {
        exp_source from = e->steps.columns[i].source;
        if (from == EXP_SRC_CRITIC || from == EXP_SRC_GEN) values[n++] = e->steps.columns[i].value;
    }
    wg_status s = exp_shard_reduce(e, values, n, WG_DIST_SUM);
    n = 0;
    for (int i = 0; s == WG_OK && i < e->steps.n_columns; i++) {
        exp_source from = e->steps.columns[i].source;
        if (from == EXP_SRC_CRITIC || from == EXP_SRC_GEN)
            e->steps.columns[i].value = values[n++] / e->shard.count;
    }
    return s;
}

wg_status exp_read_metrics(wg_experiment *e, bool diagnostics) {
    wg_status s = WG_OK;
    for (int i = 0; i < e->steps.n_columns && s == WG_OK; i++) {
        exp_column *c = &e->steps.columns[i];
        if (c->source == EXP_SRC_CRITIC) s = read_scalar(e->steps.critic_plan, c->node, &c->value);
        if (c->source == EXP_SRC_GEN) s = read_scalar(e->steps.gen_plan, c->node, &c->value);
    }
    if (s == WG_OK && e->shard.count > 1) s = mean_over_shards(e);
    if (s != WG_OK) return s;
    e->steps.columns[COL_STEP].value = (double)e->loop.gen_step;
    e->steps.columns[COL_CRITIC_STEP].value = (double)e->loop.critic_step;
    e->steps.columns[COL_SECONDS].value = exp_seconds(e);
    for (int k = 0; k < 2; k++)
        if (e->steps.lr_column[k] >= 0)
            e->steps.columns[e->steps.lr_column[k]].value = lr_at(e, k, e->loop.gen_step - 1);
    static const int losses[] = {COL_W, COL_CRITIC_LOSS, COL_GEN_LOSS, COL_PENALTY};
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        const exp_column *c = &e->steps.columns[losses[i]];
        if (!isfinite(c->value)) {
            /* promise a checkpoint only when there is one (written or resumed from) */
            char path[4200];
            snprintf(path, sizeof path, "%s/checkpoint.safetensors", e->run.dir);
            return wg_fail(WG_ERR_NUMERIC,
                           "training diverged: %s is %g at generator step %" PRId64
                           " (critic step %" PRId64 "); %s",
                           c->name, c->value, e->loop.gen_step, e->loop.critic_step,
                           wg_file_exists(path) ? "the run folder keeps the last good checkpoint"
                                                : "no checkpoint was written before it");
        }
    }
    e->steps.have_w = true;
    return diagnostics ? read_diagnostics(e) : WG_OK;
}

wg_status wg_experiment_generate(wg_experiment *e, float **samples, int64_t *count,
                                 int64_t *numel) {
    *samples = NULL;
    if (!e->steps.sample_plan) return wg_fail(WG_ERR_INVALID, "the experiment has not been run");
    float *out = malloc((size_t)(e->cfg.n_samples * e->plugins.sample_numel) * sizeof *out);
    if (!out) return wg_fail(WG_ERR_NOMEM, "out of memory generating samples");
    wg_status s = exp_swap_ema(e);
    if (s == WG_OK) {
        s = exp_run_aside(e, e->steps.sample_plan);
        if (s == WG_OK) s = wg_plan_read(e->steps.sample_plan, e->steps.sample_out, out);
        wg_status back = exp_swap_ema(e);
        if (s == WG_OK) s = back;
    }
    if (s != WG_OK) {
        free(out);
        return s;
    }
    *samples = out;
    *count = e->cfg.n_samples;
    *numel = e->plugins.sample_numel;
    return WG_OK;
}

/* ---- sizes and work, for wgan bench ---- */

static size_t node_bytes(const wg_experiment *e, wg_node node) {
    return node == WG_NONE ? 0 : (size_t)wg_node_numel(e->steps.graph, node) * sizeof(float);
}

wg_status wg_experiment_info_get(const wg_experiment *e, wg_experiment_info *out) {
    if (!e->steps.gen_plan) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    wg_experiment_info info = {
        .name = e->cfg.name, .batch = e->cfg.batch, .n_critic = e->cfg.n_critic};
    info.critic_flops = wg_plan_flops(e->steps.critic_plan);
    info.projection_flops = e->steps.project_plan ? wg_plan_flops(e->steps.project_plan) : 0;
    info.generator_flops = wg_plan_flops(e->steps.gen_plan);
    info.step_flops =
        e->cfg.n_critic * (info.critic_flops + info.projection_flops) + info.generator_flops;
    int64_t projection_calls =
        e->steps.project_plan ? wg_plan_kernel_calls(e->steps.project_plan) : 0;
    info.step_calls =
        e->cfg.n_critic * (wg_plan_kernel_calls(e->steps.critic_plan) + projection_calls) +
        wg_plan_kernel_calls(e->steps.gen_plan);
    info.fused = wg_fusion_on();
    wg_plan *plans[] = {e->steps.critic_plan, e->steps.gen_plan, e->steps.project_plan,
                        e->steps.diag_plan, e->steps.sample_plan};
    for (size_t i = 0; i < sizeof plans / sizeof *plans; i++)
        if (plans[i]) info.plan_bytes += wg_plan_bytes(plans[i]);
    for (int i = 0; i < e->steps.registry.count; i++)
        info.persistent_bytes += node_bytes(e, e->steps.registry.entries[i].node);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < wg_optimizer_state_count(e->steps.optimizer[k]); i++)
            info.persistent_bytes +=
                node_bytes(e, wg_optimizer_state(e->steps.optimizer[k], i)->node);
    for (int i = 0; i < e->ema.count; i++) info.persistent_bytes += node_bytes(e, e->ema.vars[i]);
    info.persistent_bytes += node_bytes(e, e->steps.real) + node_bytes(e, e->steps.sample_noise);
    *out = info;
    return WG_OK;
}

wg_device *wg_experiment_device(const wg_experiment *e) {
    return e->steps.device;
}
