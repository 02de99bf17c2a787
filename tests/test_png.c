/* PNG encoding and the sample pictures: images written here are read back with libpng
 * and compared pixel by pixel; plots are checked for where their colours land. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "io/plot.h"
#include "tmpdir.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* The file at `path` decoded to 8-bit RGB by libpng's simplified API. */
static uint8_t *read_png(const char *path, int *width, int *height) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&im, path));
    im.format = PNG_FORMAT_RGB;
    uint8_t *rgb = malloc(PNG_IMAGE_SIZE(im));
    assert_non_null(rgb);
    assert_true(png_image_finish_read(&im, NULL, rgb, 0, NULL));
    *width = (int)im.width;
    *height = (int)im.height;
    return rgb;
}

static void test_png_round_trip(void **state) {
    (void)state;
    char *dir = td_make("wgan-png");
    char *path = td_join(dir, "noise.png");
    const int w = 37, h = 23; /* odd sizes: no row padding assumptions */
    wg_image image;
    assert_int_equal(wg_image_new(&image, w, h, 0), WG_OK);
    for (int i = 0; i < w * h * 3; i++) image.rgb[i] = (uint8_t)next_u32();
    assert_int_equal(wg_png_write(path, &image), WG_OK);
    int rw, rh;
    uint8_t *back = read_png(path, &rw, &rh);
    assert_int_equal(rw, w);
    assert_int_equal(rh, h);
    assert_memory_equal(back, image.rgb, (size_t)w * h * 3);
    free(back);
    wg_image_free(&image);
    free(path);
    td_remove(dir);
}

static void test_png_write_failure_names_path(void **state) {
    (void)state;
    wg_image image;
    assert_int_equal(wg_image_new(&image, 4, 4, 0xffffffu), WG_OK);
    const char *path = "/nonexistent-folder/x/sample.png";
    assert_int_equal(wg_png_write(path, &image), WG_ERR_IO);
    assert_non_null(strstr(wg_last_error(), path));
    wg_image_free(&image);
}

/* Mean column and row of the plot pixels (below the legend) that are clearly blue
 * (want_blue) or clearly orange; the count in *n. Points are blended, so colours are
 * recognised by their dominant channel. */
static void centroid(const wg_image *im, int want_blue, double *x, double *y, long *n) {
    double sx = 0, sy = 0;
    *n = 0;
    for (int r = 30; r < im->height; r++)
        for (int c = 0; c < im->width; c++) {
            const uint8_t *p = im->rgb + ((size_t)r * im->width + c) * 3;
            int blue = p[2] > 150 && p[0]<150, orange = p[0]> 200 && p[2] < 150;
            if (want_blue ? !blue : !orange) continue;
            sx += c;
            sy += r;
            (*n)++;
        }
    *x = *n ? sx / (double)*n : -1;
    *y = *n ? sy / (double)*n : -1;
}

static void cluster(float *x, int n, int dim, double cx, double cy, double spread) {
    for (int i = 0; i < n; i++) {
        x[i * dim] = (float)(cx + spread * ((int)(next_u32() % 200) - 100) / 100.0);
        if (dim > 1)
            x[i * dim + 1] = (float)(cy + spread * ((int)(next_u32() % 200) - 100) / 100.0);
    }
}

static void test_scatter_puts_sets_where_they_are(void **state) {
    (void)state;
    enum { N = 400 };
    float real[2 * N], gen[2 * N];
    cluster(real, N, 2, 1.0, 1.0, 0.3);  /* upper right */
    cluster(gen, N, 2, -1.0, -1.0, 0.3); /* lower left */
    gen[0] = NAN;                        /* skipped, not drawn */
    wg_image im;
    assert_int_equal(wg_plot_points(real, N, gen, N, 2, "step 7", &im), WG_OK);
    double rx, ry, gx, gy;
    long rn, gn;
    centroid(&im, 1, &rx, &ry, &rn);
    centroid(&im, 0, &gx, &gy, &gn);
    assert_true(rn > 50 && gn > 50);
    assert_true(rx > gx + im.width / 4);  /* real to the right */
    assert_true(ry < gy - im.height / 4); /* and above: y grows upwards */
    wg_image_free(&im);
}

static void test_histograms_for_1d(void **state) {
    (void)state;
    enum { N = 2000 };
    float real[N], gen[N];
    cluster(real, N, 1, -2.0, 0, 0.01);
    cluster(gen, N, 1, 3.0, 0, 0.01);
    wg_image im;
    assert_int_equal(wg_plot_points(real, N, gen, N, 1, "", &im), WG_OK);
    /* real's histogram is in the upper panel, generated's in the lower one: find
     * strongly blue and strongly orange pixels by channel dominance */
    long blue_top = 0, blue_bottom = 0, orange_top = 0, orange_bottom = 0;
    for (int r = 40; r < im.height; r++)
        for (int c = 0; c < im.width; c++) {
            const uint8_t *p = im.rgb + ((size_t)r * im.width + c) * 3;
            int top = r < im.height / 2;
            if (p[2] > 150 && p[0] < 100) top ? blue_top++ : blue_bottom++;
            if (p[0] > 200 && p[2] < 100) top ? orange_top++ : orange_bottom++;
        }
    assert_true(blue_top > 100 && blue_bottom == 0);
    assert_true(orange_bottom > 100 && orange_top == 0);
    wg_image_free(&im);
}

static void test_image_grid(void **state) {
    (void)state;
    enum { COUNT = 5, H = 6, W = 4 };
    float images[COUNT * H * W];
    for (int i = 0; i < COUNT * H * W; i++) images[i] = i % 2 ? 1.0f : -1.0f;
    wg_image im;
    assert_int_equal(wg_plot_images(images, COUNT, 1, H, W, &im), WG_OK);
    /* 3 x 2 grid of cells, each image scaled up by the same integer factor */
    int scale = (im.width - 2) / 3 - 2;
    assert_true(scale >= W);
    assert_int_equal(scale % W, 0);
    scale /= W;
    assert_int_equal(im.width, 3 * (W * scale + 2) + 2);
    assert_int_equal(im.height, 2 * (H * scale + 2) + 2);
    /* first image, first row: -1 (black) then +1 (white) */
    const uint8_t *p0 = im.rgb + ((size_t)2 * im.width + 2) * 3;
    const uint8_t *p1 = im.rgb + ((size_t)2 * im.width + 2 + scale) * 3;
    assert_int_equal(p0[0], 0);
    assert_int_equal(p1[0], 255);
    assert_int_equal(p1[1], 255);
    wg_image_free(&im);
    assert_int_equal(wg_plot_images(images, 0, 1, H, W, &im), WG_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_png_write_failure_names_path),
        cmocka_unit_test(test_scatter_puts_sets_where_they_are),
        cmocka_unit_test(test_histograms_for_1d),
        cmocka_unit_test(test_image_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
