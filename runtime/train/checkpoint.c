/* checkpoint.safetensors: every registry variable, optimizer state and average of the
 * generator's weights ("ema/<parameter>") under its own name, and in "__metadata__"
 * the counters that make a resumed run continue exactly (generator and critic steps,
 * the data index, the session's random step, the seed).
 * Nothing time-dependent is stored, so two runs that trained the same way write the
 * same bytes. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "io/safetensors.h"

#define CHECKPOINT_FORMAT "wgan-checkpoint-1"

/* Every persistent variable of the run, in a fixed order. */
typedef struct var_list {
    const char **names;
    wg_node *nodes;
    int count;
} var_list;

static wg_status list_variables(const wg_experiment *e, var_list *out) {
    int count = e->steps.registry.count + e->ema.count;
    for (int k = 0; k < 2; k++) count += wg_optimizer_state_count(e->steps.optimizer[k]);
    out->names = malloc((size_t)(count ? count : 1) * sizeof *out->names);
    out->nodes = malloc((size_t)(count ? count : 1) * sizeof *out->nodes);
    if (!out->names || !out->nodes) {
        free(out->names);
        free(out->nodes);
        return wg_fail(WG_ERR_NOMEM, "out of memory listing variables");
    }
    out->count = 0;
    for (int i = 0; i < e->steps.registry.count; i++) {
        out->names[out->count] = e->steps.registry.entries[i].name;
        out->nodes[out->count++] = e->steps.registry.entries[i].node;
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < wg_optimizer_state_count(e->steps.optimizer[k]); i++) {
            const wg_optim_state *st = wg_optimizer_state(e->steps.optimizer[k], i);
            out->names[out->count] = st->name;
            out->nodes[out->count++] = st->node;
        }
    for (int i = 0; i < e->ema.count; i++) {
        out->names[out->count] = e->ema.names[i];
        out->nodes[out->count++] = e->ema.vars[i];
    }
    return WG_OK;
}

static void free_variables(var_list *v) {
    free(v->names);
    free(v->nodes);
}

static wg_status check_counters(const wg_experiment *e, const char *path, uint64_t gen,
                                uint64_t critic, uint64_t data, uint64_t rng);

static char *checkpoint_path(const wg_experiment *e, char *buf, size_t size) {
    snprintf(buf, size, "%s/checkpoint.safetensors", e->run.dir);
    return buf;
}

wg_status exp_checkpoint_save(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    char path[4200];
    checkpoint_path(e, path, sizeof path);
    uint64_t critic = (uint64_t)e->loop.critic_step;
    wg_status s = check_counters(e, path, (uint64_t)e->loop.gen_step, critic, critic,
                                 wg_session_step(e->steps.session));
    if (s != WG_OK) return wg_fail(WG_ERR_INVALID, "not writing a checkpoint: %s", wg_last_error());
    var_list v;
    if ((s = list_variables(e, &v)) != WG_OK) return s;
    size_t total = 1;
    for (int i = 0; i < v.count; i++) total += (size_t)wg_node_numel(e->steps.graph, v.nodes[i]);
    float *data = malloc(total * sizeof *data);
    wg_st_tensor *tensors = malloc((size_t)(v.count ? v.count : 1) * sizeof *tensors);
    if (!data || !tensors) s = wg_fail(WG_ERR_NOMEM, "out of memory writing a checkpoint");
    int64_t at = 0;
    for (int i = 0; i < v.count && s == WG_OK; i++) {
        int64_t n = wg_node_numel(e->steps.graph, v.nodes[i]);
        s = wg_session_read(e->steps.session, v.nodes[i], data + at);
        for (int64_t j = 0; j < n && s == WG_OK; j++)
            if (!isfinite(data[at + j]))
                s = wg_fail(WG_ERR_NUMERIC,
                            "step %" PRId64 ": '%s' is not finite; the checkpoint of step %" PRId64
                            " was not written (training diverged)",
                            e->loop.gen_step, v.names[i], e->loop.gen_step);
        tensors[i] =
            (wg_st_tensor){v.names[i], wg_node_shape(e->steps.graph, v.nodes[i]), data + at};
        at += n;
    }
    if (s == WG_OK) {
        char gen[32], critic[32], rng[32], seed[32];
        snprintf(gen, sizeof gen, "%" PRId64, e->loop.gen_step);
        snprintf(critic, sizeof critic, "%" PRId64, e->loop.critic_step);
        snprintf(rng, sizeof rng, "%" PRIu64, wg_session_step(e->steps.session));
        snprintf(seed, sizeof seed, "%" PRIu64, e->cfg.seed);
        const wg_st_meta meta[] = {
            {"format", CHECKPOINT_FORMAT},
            {"name", e->cfg.name},
            {"generator_step", gen},
            {"critic_step", critic},
            {"data_index", critic},
            {"rng_step", rng},
            {"seed", seed},
            {"wgan_version", WGAN_VERSION},
        };
        s = wg_safetensors_write(path, v.count, tensors, (int)(sizeof meta / sizeof *meta), meta);
    }
    free(data);
    free(tensors);
    free_variables(&v);
    return s;
}

static wg_status meta_u64(const wg_safetensors *f, const char *path, const char *key,
                          uint64_t *out) {
    const char *text = wg_safetensors_meta(f, key);
    char *end = NULL;
    errno = 0;
    if (text && *text >= '0' && *text <= '9') *out = strtoull(text, &end, 10);
    if (!end || *end || errno == ERANGE)
        return wg_fail(WG_ERR_IO, "%s: metadata '%s' missing or not a number below 2^64", path,
                       key);
    return WG_OK;
}

/* The counters a checkpoint may hold for this configuration: the generator step within
 * train.steps, the critic steps its schedule makes, the data index equal to them, and
 * the random step the plan runs advanced to (one per critic, projection and generator
 * run, plus the first projection). Checked on save too, so a run never writes a
 * checkpoint that it would refuse to resume from. */
static wg_status check_counters(const wg_experiment *e, const char *path, uint64_t gen,
                                uint64_t critic, uint64_t data, uint64_t rng) {
    if (gen > (uint64_t)e->cfg.steps)
        return wg_fail(WG_ERR_CONFIG, "%s is at step %" PRIu64 ", past train.steps = %" PRId64,
                       path, gen, e->cfg.steps);
    /* gen <= 2^40 and at most 10000 critic steps each: no overflow below */
    uint64_t want_critic = (uint64_t)exp_critic_steps_before(e, (int64_t)gen);
    if (critic != want_critic)
        return wg_fail(WG_ERR_CONFIG,
                       "%s: critic step %" PRIu64 ", but %" PRIu64 " generator steps make %" PRIu64
                       " with this configuration's n_critic and warmup",
                       path, critic, gen, want_critic);
    if (data != critic)
        return wg_fail(WG_ERR_IO, "%s: data index %" PRIu64 " differs from critic step %" PRIu64,
                       path, data, critic);
    uint64_t project = e->steps.project_plan ? 1 : 0;
    uint64_t want_rng = project + critic * (1 + project) + gen;
    if (rng != want_rng)
        return wg_fail(WG_ERR_IO,
                       "%s: random step %" PRIu64 ", but %" PRIu64 " critic and %" PRIu64
                       " generator steps make %" PRIu64,
                       path, rng, critic, gen, want_rng);
    return WG_OK;
}

/* A NaN or infinity in a checkpoint would be blamed on training later ("diverged"). */
static wg_status check_finite(const char *path, const wg_st_tensor *t) {
    int64_t n = wg_shape_numel(&t->shape);
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(t->data[j]))
            return wg_fail(WG_ERR_IO,
                           "%s: '%s' holds %g at element %" PRId64
                           " (a checkpoint holds finite values only)",
                           path, t->name, (double)t->data[j], j);
    return WG_OK;
}

static wg_status restore(wg_experiment *e, const wg_safetensors *f, const char *path,
                         int64_t *gen_step, int64_t *critic_step) {
    const char *format = wg_safetensors_meta(f, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        return wg_fail(WG_ERR_IO, "%s: not a wgan checkpoint (format '%s')", path,
                       format ? format : "none");
    uint64_t gen, critic, data, rng, seed;
    wg_status s;
    if ((s = meta_u64(f, path, "generator_step", &gen)) != WG_OK ||
        (s = meta_u64(f, path, "critic_step", &critic)) != WG_OK ||
        (s = meta_u64(f, path, "data_index", &data)) != WG_OK ||
        (s = meta_u64(f, path, "rng_step", &rng)) != WG_OK ||
        (s = meta_u64(f, path, "seed", &seed)) != WG_OK)
        return s;
    if (seed != e->cfg.seed)
        return wg_fail(WG_ERR_CONFIG,
                       "%s was written with seed %" PRIu64 ", the configuration "
                       "says %" PRIu64,
                       path, seed, e->cfg.seed);
    if ((s = check_counters(e, path, gen, critic, data, rng)) != WG_OK) return s;
    var_list v;
    if ((s = list_variables(e, &v)) != WG_OK) return s;
    if (wg_safetensors_count(f) != v.count)
        s = wg_fail(WG_ERR_CONFIG, "%s holds %d tensors, the configuration makes %d", path,
                    wg_safetensors_count(f), v.count);
    for (int i = 0; i < v.count && s == WG_OK; i++) {
        const wg_st_tensor *t = wg_safetensors_find(f, v.names[i]);
        wg_shape want = wg_node_shape(e->steps.graph, v.nodes[i]);
        char a[64], b[64];
        if (!t)
            s = wg_fail(WG_ERR_CONFIG,
                        "%s lacks '%s': the configuration differs from the "
                        "one the checkpoint was written with",
                        path, v.names[i]);
        else if (!wg_shape_equal(&t->shape, &want))
            s = wg_fail(WG_ERR_CONFIG, "%s holds '%s' as %s, the configuration makes it %s", path,
                        v.names[i], wg_shape_str(&t->shape, a, sizeof a),
                        wg_shape_str(&want, b, sizeof b));
        else if ((s = check_finite(path, t)) == WG_OK)
            s = wg_session_write(e->steps.session, v.nodes[i], t->data);
    }
    free_variables(&v);
    if (s != WG_OK) return s;
    *gen_step = (int64_t)gen;
    *critic_step = (int64_t)critic;
    wg_session_set_step(e->steps.session, rng);
    return WG_OK;
}

wg_status exp_checkpoint_restore_file(wg_experiment *e, const char *path, int64_t *gen_step,
                                      int64_t *critic_step) {
    wg_safetensors *f;
    wg_status s = wg_safetensors_read(path, &f);
    if (s != WG_OK) return s;
    s = restore(e, f, path, gen_step, critic_step);
    wg_safetensors_free(f);
    return s;
}

wg_status exp_checkpoint_restore(wg_experiment *e, bool *found, int64_t *gen_step,
                                 int64_t *critic_step) {
    char path[4200];
    checkpoint_path(e, path, sizeof path);
    *found = wg_file_exists(path);
    if (!*found) return WG_OK;
    return exp_checkpoint_restore_file(e, path, gen_step, critic_step);
}
