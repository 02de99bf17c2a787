/* Samples from a checkpoint for `wgan sample`: the run's own sampler plan fed with
 * noise that a seed names, as many of its batches as the count asks for. */
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "wgan/philox.h"

void exp_draw_sample_noise(const wg_experiment *e, uint64_t seed, int64_t first, int64_t rows,
                           float *z) {
    wg_init normal = {WG_INIT_NORMAL, 0, 1, 0};
    uint64_t stream = wg_philox_stream(WG_SAMPLE_NOISE_KEY);
    int64_t at = first * e->noise_dim, n = rows * e->noise_dim;
    for (int64_t i = 0; i < n; i++)
        z[i] = (float)wg_host_draw(&normal, stream, (uint64_t)(at + i), seed);
}

wg_status wg_experiment_restore(wg_experiment *e, const char *path) {
    if (!e->session) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    char own[4200];
    if (!path) {
        snprintf(own, sizeof own, "%s/checkpoint.safetensors", e->dir);
        path = own;
    }
    if (!wg_file_exists(path)) return wg_fail(WG_ERR_IO, "%s: no such checkpoint file", path);
    return exp_checkpoint_restore_file(e, path);
}

wg_status wg_experiment_sample(wg_experiment *e, uint64_t seed, int64_t n, float *out) {
    if (!e->sample_plan) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    int64_t chunk = e->n_samples;
    float *z = malloc((size_t)(chunk * e->noise_dim) * sizeof *z);
    float *x = malloc((size_t)(chunk * e->sample_numel) * sizeof *x);
    wg_status s = z && x ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory generating samples");
    for (int64_t first = 0; first < n && s == WG_OK; first += chunk) {
        /* a short last batch still runs whole: its rows past n are drawn and dropped */
        exp_draw_sample_noise(e, seed, first, chunk, z);
        s = wg_session_write(e->session, e->sample_noise, z);
        if (s == WG_OK) s = exp_run_aside(e, e->sample_plan);
        if (s == WG_OK) s = wg_plan_read(e->sample_plan, e->sample_out, x);
        int64_t rows = n - first < chunk ? n - first : chunk;
        if (s == WG_OK)
            memcpy(out + first * e->sample_numel, x, (size_t)(rows * e->sample_numel) * sizeof *x);
    }
    free(z);
    free(x);
    return s;
}

void wg_experiment_sample_shape(const wg_experiment *e, wg_shape *shape, bool *images) {
    *shape = e->sample_shape;
    *images = e->layout == WG_DATA_IMAGES;
}
