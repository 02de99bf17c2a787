/* The run folder's pictures: the generator's samples at the fixed noise
 * (samples/step_N.png; points over the real ones for 2-D data, a grid for images) and,
 * for images, the real ones (samples/real.png). */
#include <inttypes.h>
#include <stdlib.h>

#include "train_internal.h"
#include "io/plot.h"

wg_status exp_write_samples(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    float *gen;
    int64_t count, numel;
    wg_status s = wg_experiment_generate(e, &gen, &count, &numel);
    if (s != WG_OK) return s;
    char title[64], path[4200];
    snprintf(title, sizeof title, "step %" PRId64, e->loop.gen_step);
    wg_image image;
    if (e->plugins.layout == WG_DATA_IMAGES)
        s = wg_plot_images(gen, count, (int)e->plugins.sample_shape.dim[0],
                           (int)e->plugins.sample_shape.dim[1], (int)e->plugins.sample_shape.dim[2],
                           &image);
    else
        s = wg_plot_points(e->steps.real_plot, count, gen, count, (int)numel, title, &image);
    snprintf(path, sizeof path, "%s/samples/step_%06" PRId64 ".png", e->run.dir, e->loop.gen_step);
    if (s == WG_OK) s = wg_png_write(path, &image);
    wg_image_free(&image);
    free(gen);
    return s;
}

wg_status exp_write_real_images(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    wg_image image;
    char path[4200];
    snprintf(path, sizeof path, "%s/samples/real.png", e->run.dir);
    wg_status s = wg_plot_images(
        e->steps.real_plot, e->cfg.n_samples, (int)e->plugins.sample_shape.dim[0],
        (int)e->plugins.sample_shape.dim[1], (int)e->plugins.sample_shape.dim[2], &image);
    if (s == WG_OK) s = wg_png_write(path, &image);
    wg_image_free(&image);
    return s;
}
