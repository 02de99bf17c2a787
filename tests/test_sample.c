/* wgan sample, through the program: a tiny run of 8 gaussians and one of small PNG
 * images are trained once, then sampled. Exactly N rows or files, identical files for
 * the same seed and different ones for another, the .npy header, the refusals (a
 * missing or truncated checkpoint, a missing run folder, a bad N, files that are there
 * already, --ema without EMA weights) with exit status 2 and a message, a run
 * folder that sampling leaves as it was, and --ema drawing from a G-EMA run's
 * average. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "io/fileio.h"
#include "io/image.h"
#include "program.h"
#include "tiers.h"
#include "tmpdir.h"

typedef struct runs {
    char *dir, *program;
    char *points, *images, *averaged; /* run folders; `averaged` keeps a G-EMA */
    int seed;                         /* the points run's */
} runs;

static int image_w, image_h; /* the images run's sample size, drawn at random */

/* The program's exit status with `args`; its stderr in *err when err is not NULL. */
static int wgan(const runs *r, char **err, const char *fmt, ...) {
    char args[4096], command[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *err_path = td_join(r->dir, "stderr.txt");
    snprintf(command, sizeof command, "OMP_WAIT_POLICY=passive '%s' %s 2>'%s'", r->program, args,
             err_path);
    int status = system(command);
    if (err) {
        size_t size;
        assert_int_equal(wg_read_file(err_path, err, &size), WG_OK);
    }
    free(err_path);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static char *read_all(const char *path, size_t *size) {
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(wg_read_file(path, &text, &n), WG_OK);
    if (size) *size = n;
    return text;
}

static bool same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    bool same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static int setup(void **state) {
    runs *r = calloc(1, sizeof *r);
    r->program = tp_wgan_program();
    r->dir = td_make("wgan-sample");
    *state = r;
    if (!r->program) return 0;
    r->seed = 1 + rand() % 1000;
    char *yaml = td_join(r->dir, "points.yaml");
    td_write_text(yaml, "name: points\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
                        "arch: {plugin: mlp}\nloss: {plugin: wasserstein}\n"
                        "lipschitz: {plugin: weight_clip}\n");
    r->points = td_join(r->dir, "points-run");
    int code = wgan(r, NULL,
                    "run '%s' --out '%s' --progress quiet --set seed=%d --set arch.hidden=[8] "
                    "--set train.steps=3 --set train.batch=16 --set train.n_critic=1 "
                    "--set train.samples=16 --set train.sample_every=0 --set train.log_every=3",
                    yaml, r->points, r->seed);
    if (code != 0) return -1;
    /* the same with an average of the generator's weights, far from the weights */
    r->averaged = td_join(r->dir, "averaged-run");
    code = wgan(r, NULL,
                "run '%s' --out '%s' --progress quiet --set seed=%d --set arch.hidden=[8] "
                "--set train.steps=3 --set train.batch=16 --set train.n_critic=1 "
                "--set train.samples=16 --set train.sample_every=0 --set train.log_every=3 "
                "--set train.ema.decay=0.9 --set optimizer.generator.lr=0.05",
                yaml, r->averaged, r->seed);
    free(yaml);
    if (code != 0) return -1;

    /* a folder of random RGB pictures of a random small size */
    image_w = 3 + rand() % 6, image_h = 3 + rand() % 6;
    char *pictures = td_join(r->dir, "pictures");
    if (mkdir(pictures, 0755) != 0) return -1;
    for (int i = 0; i < 6; i++) {
        wg_image im;
        if (wg_image_new(&im, image_w, image_h, 0) != WG_OK) return -1;
        for (int k = 0; k < image_w * image_h * 3; k++) im.rgb[k] = (uint8_t)rand();
        char name[64];
        snprintf(name, sizeof name, "p%d.png", i);
        char *path = td_join(pictures, name);
        wg_status s = wg_png_write(path, &im);
        free(path);
        wg_image_free(&im);
        if (s != WG_OK) return -1;
    }
    yaml = td_join(r->dir, "images.yaml");
    char text[4600];
    snprintf(text, sizeof text,
             "name: images\nseed: 5\ndevice: cpu\ndata: {plugin: png_folder, path: '%s'}\n"
             "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"
             "lipschitz: {plugin: weight_clip}\n"
             "train: {batch: 4, steps: 2, n_critic: 1, samples: 4, sample_every: 0, "
             "log_every: 2}\n",
             pictures);
    td_write_text(yaml, text);
    free(pictures);
    r->images = td_join(r->dir, "images-run");
    code = wgan(r, NULL, "run '%s' --out '%s' --progress quiet", yaml, r->images);
    free(yaml);
    return code == 0 ? 0 : -1;
}

static int teardown(void **state) {
    runs *r = *state;
    td_remove(r->dir);
    free(r->program);
    free(r->points);
    free(r->images);
    free(r->averaged);
    free(r);
    return 0;
}

static runs *ready(void **state) {
    runs *r = *state;
    if (!r->program) wg_test_skip("wgan program not found next to the test");
    return r;
}

/* The NumPy header of `path`: checks magic, version, alignment and dtype, and returns
 * the shape text, e.g. "(20, 2)", and where the data begin. */
static void npy_header(const char *path, char *shape, size_t size, size_t *data_at) {
    size_t n;
    char *bytes = read_all(path, &n);
    assert_true(n >= 10);
    assert_memory_equal(bytes, "\x93NUMPY\x01\x00", 8);
    size_t len = (unsigned char)bytes[8] | (size_t)(unsigned char)bytes[9] << 8;
    assert_true(10 + len <= n);
    assert_int_equal((10 + len) % 64, 0);
    assert_int_equal(bytes[10 + len - 1], '\n');
    char *header = strndup(bytes + 10, len);
    assert_non_null(strstr(header, "'descr': '<f4'"));
    assert_non_null(strstr(header, "'fortran_order': False"));
    const char *at = strstr(header, "'shape': (");
    assert_non_null(at);
    at += strlen("'shape': ");
    snprintf(shape, size, "%.*s", (int)(strchr(at, ')') - at + 1), at);
    *data_at = 10 + len;
    free(header);
    free(bytes);
}

static void test_points(void **state) {
    runs *r = ready(state);
    int n = 5 + rand() % 60;
    int before = td_count_entries(r->points);
    char *a = td_join(r->dir, "a"), *b = td_join(r->dir, "b"), *c = td_join(r->dir, "c");
    assert_int_equal(
        wgan(r, NULL, "sample '%s' --n %d --format csv --seed 7 --out '%s'", r->points, n, a), 0);
    assert_int_equal(
        wgan(r, NULL, "sample '%s' --n %d --format csv --seed 7 --out '%s'", r->points, n, b), 0);
    assert_int_equal(
        wgan(r, NULL, "sample '%s' --n %d --format csv --seed 8 --out '%s'", r->points, n, c), 0);
    char *fa = td_join(a, "samples.csv"), *fb = td_join(b, "samples.csv"),
         *fc = td_join(c, "samples.csv");
    assert_true(same_file(fa, fb));
    assert_false(same_file(fa, fc));
    /* a header and exactly n rows of two numbers */
    char *text = read_all(fa, NULL);
    int lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, n + 1);
    assert_int_equal(strncmp(text, "x0,x1\n", 6), 0);
    float first[2];
    assert_int_equal(sscanf(text + 6, "%f,%f", &first[0], &first[1]), 2);
    free(text);

    /* the same samples as .npy: [n, 2] float32, the values of the CSV */
    assert_int_equal(wgan(r, NULL, "sample '%s' --n %d --seed 7 --out '%s'", r->points, n, a), 0);
    char *npy = td_join(a, "samples.npy");
    char shape[64], want[64];
    size_t data_at, size;
    npy_header(npy, shape, sizeof shape, &data_at);
    snprintf(want, sizeof want, "(%d, 2)", n);
    assert_string_equal(shape, want);
    char *bytes = read_all(npy, &size);
    assert_int_equal(size, data_at + (size_t)n * 2 * sizeof(float));
    float got[2];
    memcpy(got, bytes + data_at, sizeof got);
    assert_true(got[0] == first[0] && got[1] == first[1]);
    free(bytes);

    /* the default: the run's seed, next to the run folder, which is left as it was */
    assert_int_equal(wgan(r, NULL, "sample '%s' --n 3 --format csv", r->points), 0);
    char default_dir[4300];
    snprintf(default_dir, sizeof default_dir, "%s-samples-s%d/samples.csv", r->points, r->seed);
    assert_true(wg_file_exists(default_dir));
    assert_int_equal(td_count_entries(r->points), before);
    free(npy);
    free(fa);
    free(fb);
    free(fc);
    free(a);
    free(b);
    free(c);
}

static void test_images(void **state) {
    runs *r = ready(state);
    int n = 2 + rand() % 12;
    char *a = td_join(r->dir, "ia"), *b = td_join(r->dir, "ib");
    assert_int_equal(
        wgan(r, NULL, "sample '%s' --n %d --format png --seed 3 --out '%s'", r->images, n, a), 0);
    assert_int_equal(
        wgan(r, NULL, "sample '%s' --n %d --format png --seed 3 --out '%s'", r->images, n, b), 0);
    assert_int_equal(td_count_entries(a), n);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "sample_%06d.png", i);
        char *pa = td_join(a, name), *pb = td_join(b, name);
        assert_true(same_file(pa, pb));
        /* each picture at the data's own size: width and height in the IHDR chunk */
        size_t size;
        unsigned char *png = (unsigned char *)read_all(pa, &size);
        assert_true(size > 24);
        assert_int_equal(png[16] << 24 | png[17] << 16 | png[18] << 8 | png[19], image_w);
        assert_int_equal(png[20] << 24 | png[21] << 16 | png[22] << 8 | png[23], image_h);
        free(png);
        free(pa);
        free(pb);
    }
    /* one grid picture, and the array [n, 3, H, W] */
    assert_int_equal(wgan(r, NULL, "sample '%s' --n %d --format grid --out '%s'", r->images, n, a),
                     0);
    assert_int_equal(td_count_entries(a), n + 1);
    assert_int_equal(wgan(r, NULL, "sample '%s' --n %d --out '%s'", r->images, n, a), 0);
    char *npy = td_join(a, "samples.npy");
    char shape[64], want[64];
    size_t data_at;
    npy_header(npy, shape, sizeof shape, &data_at);
    snprintf(want, sizeof want, "(%d, 3, %d, %d)", n, image_h, image_w);
    assert_string_equal(shape, want);
    free(npy);
    free(a);
    free(b);
}

/* Exit status 2 and a message holding `what`, nothing written to `out`. */
static void refused(const runs *r, const char *out, const char *what, const char *fmt,
                    const char *run, const char *extra) {
    char *err = NULL;
    char args[4096];
    snprintf(args, sizeof args, fmt, run, extra);
    int code = wgan(r, &err, "sample %s --out '%s'", args, out);
    if (code != 2 || !strstr(err, what)) {
        print_error("wgan sample %s: exit %d, '%s'; want 2 and '%s'\n", args, code, err, what);
        fail();
    }
    assert_false(wg_file_exists(out));
    free(err);
}

/* --ema draws from the average, without it from the weights; each repeatable. */
static void test_generator_average(void **state) {
    runs *r = *state;
    if (!r->program) wg_test_skip("no wgan program next to this test");
    const char *const names[] = {"avg-1", "avg-2", "raw"};
    char *npy[3];
    for (int i = 0; i < 3; i++) {
        char *out = td_join(r->dir, names[i]);
        assert_int_equal(wgan(r, NULL, "sample '%s' --n 32 --seed 3 --out '%s'%s", r->averaged, out,
                              i < 2 ? " --ema" : ""),
                         0);
        npy[i] = td_join(out, "samples.npy");
        free(out);
    }
    assert_true(same_file(npy[0], npy[1]));
    assert_false(same_file(npy[0], npy[2]));
    for (int i = 0; i < 3; i++) free(npy[i]);
}

static void test_refusals(void **state) {
    runs *r = ready(state);
    char *out = td_join(r->dir, "nothing");
    char *missing = td_join(r->dir, "no-such.safetensors");
    refused(r, out, "no-such.safetensors: no such checkpoint file", "'%s' --checkpoint '%s'",
            r->points, missing);
    /* a checkpoint cut short at a random length */
    char *own = td_join(r->points, "checkpoint.safetensors");
    size_t size;
    char *bytes = read_all(own, &size);
    size_t cut = 1 + (size_t)rand() % (size - 1);
    char *truncated = td_join(r->dir, "truncated.safetensors");
    FILE *f = fopen(truncated, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, cut, f), cut);
    fclose(f);
    free(bytes);
    refused(r, out, "truncated.safetensors: ", "'%s' --checkpoint '%s'", r->points, truncated);
    /* a run folder whose own checkpoint is gone */
    char *copy = td_join(r->dir, "no-checkpoint");
    assert_int_equal(mkdir(copy, 0755), 0);
    static const char *const files[] = {"config.yaml", "plugins.tsv"};
    for (int i = 0; i < 2; i++) {
        char *from = td_join(r->points, files[i]), *to = td_join(copy, files[i]);
        char *text = read_all(from, NULL);
        td_write_text(to, text);
        free(text);
        free(from);
        free(to);
    }
    refused(r, out, "checkpoint.safetensors: no such checkpoint file", "'%s'%s", copy, "");
    char *gone = td_join(r->dir, "not-a-run");
    refused(r, out, "not a run folder", "'%s'%s", gone, "");
    static const char *const bad_n[] = {"0", "-4", "many", "1000001", "2.5"};
    for (int i = 0; i < 5; i++) refused(r, out, "--n takes", "'%s' --n %s", r->points, bad_n[i]);
    refused(r, out, "--format png is for images", "'%s' %s", r->points, "--format png");
    refused(r, out, "--format csv is for points", "'%s' %s", r->images, "--format csv");
    refused(r, out, "--format takes", "'%s' %s", r->points, "--format jpeg");
    refused(r, out, "has no average of the generator's weights", "'%s' %s", r->points, "--ema");
    /* files that are there already are kept */
    char *kept = td_join(r->dir, "kept");
    assert_int_equal(wgan(r, NULL, "sample '%s' --n 4 --out '%s'", r->points, kept), 0);
    char *npy = td_join(kept, "samples.npy");
    char *before = read_all(npy, &size);
    char *err = NULL;
    assert_int_equal(wgan(r, &err, "sample '%s' --n 9 --out '%s'", r->points, kept), 2);
    assert_non_null(strstr(err, "exists already"));
    size_t after_size;
    char *after = read_all(npy, &after_size);
    assert_true(after_size == size && !memcmp(before, after, size));
    free(before);
    free(after);
    free(err);
    free(npy);
    free(kept);
    free(gone);
    free(copy);
    free(truncated);
    free(own);
    free(missing);
    free(out);
}

int main(void) {
    unsigned seed = (unsigned)time(NULL);
    printf("test_sample: seed %u\n", seed);
    srand(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_generator_average),
        cmocka_unit_test(test_refusals),
    };
    return wg_test_run_group("sample", tests, sizeof tests / sizeof *tests, setup, teardown);
}
