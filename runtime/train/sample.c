/* Samples from a checkpoint for `wgan sample`: the run's own sampler plan fed with
 * noise that a seed names, as many of its batches as the count asks for. */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "steps.h"
#include "train_internal.h"

wg_status wg_experiment_restore(wg_experiment *e, const char *path) {
    if (!e->steps.session) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    char own[4200];
    if (!path) {
        snprintf(own, sizeof own, "%s/checkpoint.safetensors", e->run.dir);
        path = own;
    }
    if (!wg_file_exists(path)) return wg_fail(WG_ERR_IO, "%s: no such checkpoint file", path);
    int64_t gen_step, critic_step; /* sampling does not train on */
    return exp_checkpoint_restore_file(e, path, &gen_step, &critic_step);
}

wg_status wg_experiment_sample(wg_experiment *e, uint64_t seed, int64_t n, float *out) {
    if (!e->steps.sample_plan) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    const int64_t chunk = e->cfg.n_samples, numel = e->plugins.sample_numel;
    float *z = malloc((size_t)(chunk * e->plugins.noise_dim) * sizeof *z);
    float *x = malloc((size_t)(chunk * numel) * sizeof *x);
    wg_status s = z && x ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory generating samples");
    /* the average's weights in place of the generator's while drawing, when chosen */
    if (s == WG_OK) s = exp_swap_ema(e);
    bool swapped = s == WG_OK;
    for (int64_t first = 0; first < n && s == WG_OK; first += chunk) {
        /* a short last batch still runs whole: its rows past n are drawn and dropped */
        exp_draw_sample_noise(e, seed, first, chunk, z);
        s = wg_session_write(e->steps.session, e->steps.sample_noise, z);
        if (s == WG_OK) s = exp_run_aside(e, e->steps.sample_plan);
        if (s == WG_OK) s = wg_plan_read(e->steps.sample_plan, e->steps.sample_out, x);
        int64_t rows = n - first < chunk ? n - first : chunk;
        if (s == WG_OK) memcpy(out + first * numel, x, (size_t)(rows * numel) * sizeof *x);
    }
    if (swapped) {
        wg_status back = exp_swap_ema(e);
        if (s == WG_OK) s = back;
    }
    free(z);
    free(x);
    return s;
}

void wg_experiment_sample_shape(const wg_experiment *e, wg_shape *shape, bool *images) {
    *shape = e->plugins.sample_shape;
    *images = e->plugins.layout == WG_DATA_IMAGES;
}
