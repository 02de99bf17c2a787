/* Sample pictures for the run folder, rasterised here so nothing beyond libpng is
 * needed: scatter plots of real against generated points, histograms for 1-D data,
 * and image grids. */
#ifndef WGAN_PLOT_H
#define WGAN_PLOT_H

#include <stdint.h>

#include "image.h"

#define WG_PLOT_REAL_COLOR 0x1f77b4u      /* blue */
#define WG_PLOT_GENERATED_COLOR 0xff7f0eu /* orange */

/* Rows of `dim` floats. dim >= 2: scatter plot of the first two coordinates, real in
 * blue, generated in orange, same scale on both axes; dim == 1: a histogram of each
 * set, real above generated, on a shared x axis. Non-finite points are skipped. */
wg_status wg_plot_points(const float *real, int64_t n_real, const float *generated,
                         int64_t n_generated, int dim, const char *title, wg_image *out);

/* `count` images [channels, height, width] with values in [-1, 1], in a near-square
 * grid (1 channel: grey, 3: RGB, otherwise the first channel as grey). */
wg_status wg_plot_images(const float *images, int64_t count, int channels, int height, int width,
                         wg_image *out);
/* One image [channels, height, width] with values in [-1, 1] at its own size, without
 * a border (channels as in wg_plot_images). */
wg_status wg_plot_image(const float *image, int channels, int height, int width, wg_image *out);
/* The size of wg_plot_images' picture; WG_ERR_INVALID when it cannot be drawn. */
wg_status wg_plot_images_size(int64_t count, int64_t height, int64_t width, int *out_width,
                              int *out_height);

/* One line of a line chart: n points (x[i], y[i]) joined in order; non-finite points
 * break the line. */
typedef struct wg_plot_series {
    const char *label;
    const double *x, *y;
    int64_t n;
    uint32_t color;
    int dashed;  /* a dashed line instead of a solid one */
    int markers; /* a square at every point */
} wg_plot_series;

/* A line chart of `count` series on shared axes (y from 0 or below, to the largest
 * value), a legend in the top-left corner, `title` above and `x_label` below. */
wg_status wg_plot_lines(const wg_plot_series *series, int count, const char *title,
                        const char *x_label, wg_image *out);

/* Text in a 5x7 pixel font scaled by `scale`, top-left corner at (x, y). Digits,
 * letters (upper case drawn as lower case) and " .,:;-+=/()%". */
void wg_draw_text(wg_image *image, int x, int y, const char *text, int scale, uint32_t color);
int wg_text_width(const char *text, int scale);

#endif
