/* Data-parallel training: the shard's rows, the fused gradient sum, the metrics over
 * the ranks (shard.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/clock.h"
#include "train_internal.h"

wg_status exp_shard_configure(wg_experiment *e) {
    exp_shard *sh = &e->shard;
    const wg_experiment_options *o = &e->cfg.options;
    sh->count = o->shards > 1 ? o->shards : 1;
    sh->index = sh->count > 1 ? o->shard : 0;
    sh->batch = e->cfg.batch / sh->count;
    if (sh->index < 0 || sh->index >= sh->count)
        return wg_fail(WG_ERR_INVALID, "shard %d of %d", sh->index, sh->count);
    if (e->cfg.batch % sh->count != 0)
        return wg_fail(WG_ERR_CONFIG,
                       "%s: train.batch %" PRId64 " does not split over %d ranks: use a "
                       "multiple of %d (each rank takes batch / ranks rows)",
                       e->cfg.config_source, e->cfg.batch, sh->count, sh->count);
    return WG_OK;
}

static wg_status no_memory(void) {
    return wg_fail(WG_ERR_NOMEM, "out of memory for the gradient sum");
}

wg_status exp_shard_trace(wg_experiment *e, int which, int count, wg_node *grads) {
    exp_grad_sum *sum = &e->shard.sum[which];
    wg_graph *g = e->steps.graph;
    sum->grads = malloc((size_t)count * sizeof *sum->grads);
    sum->inputs = malloc((size_t)count * sizeof *sum->inputs);
    sum->offset = malloc((size_t)count * sizeof *sum->offset);
    if (!sum->grads || !sum->inputs || !sum->offset) return no_memory();
    sum->count = count;
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        wg_shape shape = wg_node_shape(g, grads[i]);
        char name[160];
        snprintf(name, sizeof name, "allreduce/%s", wg_node_name(g, grads[i]));
        sum->grads[i] = grads[i];
        sum->inputs[i] = grads[i] = wg_input(g, shape, name);
        sum->offset[i] = at;
        at += (size_t)wg_shape_numel(&shape);
    }
    sum->floats = at + 1;
    if (!(sum->buffer = malloc(sum->floats * sizeof *sum->buffer))) return no_memory();
    if (wg_graph_status(g) != WG_OK)
        return wg_fail(wg_graph_status(g), "the gradient sum: %s", wg_graph_error(g));
    return WG_OK;
}

int exp_shard_outputs(const wg_experiment *e, int which, const wg_node **grads) {
    *grads = e->shard.sum[which].grads;
    return e->shard.sum[which].count;
}

wg_status exp_shard_sum(wg_experiment *e, int which, wg_plan *plan, bool stop_here) {
    exp_grad_sum *sum = &e->shard.sum[which];
    double start = wg_clock_seconds();
    wg_status s = WG_OK;
    for (int i = 0; i < sum->count && s == WG_OK; i++)
        s = wg_plan_read(plan, sum->grads[i], sum->buffer + sum->offset[i]);
    float *flag = &sum->buffer[sum->floats - 1];
    *flag = stop_here ? 1.0f : 0.0f;
    double reduce_start = wg_clock_seconds();
    if (s == WG_OK) s = wg_dist_sum_floats(sum->buffer, sum->floats);
    if (s != WG_OK) return s;
    e->shard.allreduce_seconds += wg_clock_seconds() - reduce_start;
    e->shard.stop = *flag > 0;
    /* the mean of equal shards' batch means is the batch mean */
    const float scale = 1.0f / (float)e->shard.count;
    for (size_t i = 0; i + 1 < sum->floats; i++) sum->buffer[i] *= scale;
    for (int i = 0; i < sum->count && s == WG_OK; i++)
        s = wg_session_write(e->steps.session, sum->inputs[i], sum->buffer + sum->offset[i]);
    e->shard.sums++;
    e->shard.floats_summed += (double)sum->floats;
    e->shard.exchange_seconds += wg_clock_seconds() - start;
    return s;
}

void exp_shard_summary(const wg_experiment *e, wg_buf *b) {
    const exp_shard *sh = &e->shard;
    if (sh->count == 1) return;
    double per_step = (double)(sh->sum[0].floats * (size_t)e->cfg.n_critic + sh->sum[1].floats);
    wg_buf_printf(b,
                  "  \"data_parallel\": {\"ranks\": %d, \"rows_per_rank\": %" PRId64
                  ", \"allreduce_calls\": %" PRId64 ", \"allreduce_bytes\": %.0f, "
                  "\"allreduce_bytes_per_generator_step\": %.0f, \"allreduce_seconds\": %.6f, "
                  "\"exchange_seconds\": %.6f},\n",
                  sh->count, sh->batch, sh->sums, 4 * sh->floats_summed, 4 * per_step,
                  sh->allreduce_seconds, sh->exchange_seconds);
}

wg_status exp_shard_reduce(const wg_experiment *e, double *values, int n, wg_dist_op op) {
    return e->shard.count > 1 ? wg_dist_reduce_doubles(values, n, op) : WG_OK;
}

bool exp_shard_writes(const wg_experiment *e) {
    return e->shard.index == 0;
}

void exp_shard_free(wg_experiment *e) {
    for (int k = 0; k < 2; k++) {
        exp_grad_sum *sum = &e->shard.sum[k];
        free(sum->grads);
        free(sum->inputs);
        free(sum->offset);
        free(sum->buffer);
        *sum = (exp_grad_sum){0};
    }
}
