/* The JS-vs-W demonstration: exact JS of two gaussians against an independent
 * integration, a tiny version of `wgan jsw` (JS saturates, the critic's W1 grows with
 * the distance), its CSV and chart, and the line-chart drawing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "eval/jsw.h"
#include "io/plot.h"
#include "tmpdir.h"

/* JS from the densities on an x grid (midpoint rule), as the seed's demonstration does
 * on a discretised axis, in nats. */
static double js_reference(double d, double std) {
    const int n = 400000;
    double lo = -10 * std, hi = d + 10 * std, h = (hi - lo) / n, js = 0;
    for (int i = 0; i < n; i++) {
        double x = lo + (i + 0.5) * h;
        double p = exp(-0.5 * x * x / (std * std)) / (std * sqrt(2 * M_PI));
        double q = exp(-0.5 * (x - d) * (x - d) / (std * std)) / (std * sqrt(2 * M_PI));
        double m = 0.5 * (p + q);
        if (p > 0) js += 0.5 * p * log(p / m) * h;
        if (q > 0) js += 0.5 * q * log(q / m) * h;
    }
    return js;
}

static void test_exact_js(void **state) {
    (void)state;
    assert_float_equal(wg_jsw_js_gaussians(0, 1), 0, 1e-12);
    const double cases[][2] = {{0.1, 1}, {0.5, 0.25}, {1, 0.25}, {2, 1}, {3, 0.5}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double got = wg_jsw_js_gaussians(cases[i][0], cases[i][1]);
        double want = js_reference(cases[i][0], cases[i][1]);
        if (fabs(got - want) > 1e-7)
            fail_msg("d %g std %g: %.10f, want %.10f", cases[i][0], cases[i][1], got, want);
    }
    /* far apart: log 2, the ceiling */
    assert_float_equal(wg_jsw_js_gaussians(4, 0.25), log(2), 1e-12);
    /* it depends on d / std only */
    assert_float_equal(wg_jsw_js_gaussians(1, 0.5), wg_jsw_js_gaussians(2, 1), 1e-12);
}

static void test_tiny_demonstration(void **state) {
    (void)state;
    wg_jsw_options o = wg_jsw_defaults();
    o.points = 3;
    o.max_distance = 2;
    o.steps = 300;
    o.samples = 4096;
    o.hidden = 32;
    wg_jsw_row rows[3];
    if (wg_jsw_run(&o, rows) != WG_OK) fail_msg("%s", wg_last_error());
    for (int i = 0; i < 3; i++)
        print_message("d %.1f: JS %.4f (discriminator %.4f), W1 %.4f (critic %.4f)\n",
                      rows[i].distance, rows[i].js_exact, rows[i].js_discriminator,
                      rows[i].w1_exact, rows[i].w1_critic);
    assert_float_equal(rows[0].js_exact, 0, 1e-12);
    assert_float_equal(rows[2].js_exact, log(2), 2e-4); /* 8 std apart */
    for (int i = 0; i < 3; i++) assert_float_equal(rows[i].w1_exact, rows[i].distance, 0);
    /* the discriminator's estimate: about 0 when the gaussians coincide, log 2 apart */
    assert_true(fabs(rows[0].js_discriminator) < 0.02);
    assert_true(fabs(rows[2].js_discriminator - log(2)) < 0.02);
    /* the critic's: grows with d, near the exact values */
    assert_true(fabs(rows[0].w1_critic) < 0.05);
    assert_true(fabs(rows[1].w1_critic - 1) < 0.2);
    assert_true(fabs(rows[2].w1_critic - 2) < 0.3);

    char *dir = td_make("wgan-jsw");
    char *out = td_join(dir, "out");
    assert_int_equal(wg_jsw_write(out, &o, rows), WG_OK);
    char *csv_path = td_join(out, "js-vs-w.csv"), *png_path = td_join(out, "js-vs-w.png");
    char *csv, *png;
    size_t size, png_size;
    assert_int_equal(wg_read_file(csv_path, &csv, &size), WG_OK);
    assert_int_equal(
        strncmp(csv, "distance,js_exact,js_discriminator,w1_exact,w1_critic,seconds\n", 62), 0);
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_int_equal(wg_read_file(png_path, &png, &png_size), WG_OK);
    assert_memory_equal(png, "\x89PNG", 4);
    free(csv);
    free(png);
    free(csv_path);
    free(png_path);
    free(out);
    td_remove(dir);
}

static int64_t pixels_of(const wg_image *im, uint32_t color) {
    int64_t n = 0;
    for (int64_t i = 0; i < (int64_t)im->width * im->height; i++) {
        const uint8_t *p = im->rgb + 3 * i;
        n += p[0] == (color >> 16 & 255) && p[1] == (color >> 8 & 255) && p[2] == (color & 255);
    }
    return n;
}

static void test_line_chart(void **state) {
    (void)state;
    double x[3] = {0, 1, 2}, up[3] = {0, 1, 2}, flat[3] = {0.5, NAN, 0.5};
    const wg_plot_series series[] = {{"up", x, up, 3, 0xff0000u, 0, 1},
                                     {"flat", x, flat, 3, 0x0000ffu, 1, 0}};
    wg_image im;
    assert_int_equal(wg_plot_lines(series, 2, "title", "x", &im), WG_OK);
    assert_true(im.width > 500 && im.height > 400);
    /* a solid line across the frame and a dashed one, broken at the NaN: the dashed one
     * has points only in the legend */
    int64_t red = pixels_of(&im, 0xff0000u), blue = pixels_of(&im, 0x0000ffu);
    print_message("red pixels %lld, blue %lld\n", (long long)red, (long long)blue);
    assert_true(red > 1000);
    assert_true(blue > 10 && blue < 200);
    wg_image_free(&im);
    assert_int_equal(wg_plot_lines(series, 0, NULL, NULL, &im), WG_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_js),
        cmocka_unit_test(test_tiny_demonstration),
        cmocka_unit_test(test_line_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
