/* The data plugins, loaded through the plugin loader: the toy distributions against
 * their definitions (modes, noise, the swiss roll's curve), determinism in (seed,
 * batch), the epoch order of finite sets, and the file readers (IDX plain and gzip,
 * CIFAR-10 binary batches, PNG folders) on fixtures written here with zlib and libpng,
 * including truncated and malformed files, which must fail with a message naming the
 * file; FIFOs, devices, gzip bombs and oversized headers (fixtures in
 * tests/fixtures/data) refused without waiting or inflating. When Debian's dataset-fashion-mnist is
 * installed, the real training set is loaded too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "numcheck.h"
#include "plugin_fixture.h"
#include "tmpdir.h"
#include "tiers.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- tracked resources: open data sets, float buffers, the temporary folder ---- */

typedef struct opened {
    const wg_data_vtable *vt;
    void *state;
} opened;

static opened open_sets[16];
static int n_open;
static float *buffers[64];
static int n_buffers;
static char *tmp_dir;

static int setup(void **state) {
    (void)state;
    tmp_dir = td_make("wgan-test-data");
    return 0;
}

static int teardown(void **state) {
    for (int i = 0; i < n_open; i++) open_sets[i].vt->destroy(open_sets[i].state);
    n_open = 0;
    for (int i = 0; i < n_buffers; i++) free(buffers[i]);
    n_buffers = 0;
    td_remove(tmp_dir);
    tmp_dir = NULL;
    pf_teardown();
    return nc_teardown(state);
}

static int group_teardown(void **state) {
    pf_group_teardown();
    return nc_group_teardown(state);
}

static float *floats(int64_t n) {
    assert_true(n_buffers < 64);
    float *p = calloc((size_t)n, sizeof *p);
    assert_non_null(p);
    return buffers[n_buffers++] = p;
}

/* "<tmp>/<name>" in a static buffer of four, so a few can be alive at once. */
static const char *tmp_path(const char *name) {
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    return p;
}

static wg_status try_open(const char *plugin, const char *yaml, uint64_t seed, opened *out) {
    out->vt = &pf_plugin(WG_PLUGIN_DATA, plugin)->vt.data;
    out->state = NULL;
    const wg_cfg *config = pf_config(yaml);
    wg_clear_error();
    wg_status s = out->vt->create(config, seed, &out->state);
    if (s == WG_OK) {
        assert_true(n_open < 16);
        open_sets[n_open++] = *out;
        pf_expect_all_read(config);
    }
    return s;
}

static opened open_set(const char *plugin, const char *yaml, uint64_t seed) {
    opened d;
    wg_status s = try_open(plugin, yaml, seed, &d);
    if (s != WG_OK)
        fail_msg("%s with '%s': %s: %s", plugin, yaml, wg_status_name(s), wg_last_error());
    return d;
}

/* Fails unless opening fails with `want` and a message containing every text given. */
static void expect_open_error(const char *plugin, const char *yaml, wg_status want,
                              const char *text1, const char *text2) {
    opened d;
    wg_status s = try_open(plugin, yaml, 1, &d);
    const char *msg = wg_last_error();
    if (s != want || !strstr(msg, text1) || (text2 && !strstr(msg, text2)))
        fail_msg("%s with '%s': %s '%s', want %s mentioning '%s' and '%s'", plugin, yaml,
                 wg_status_name(s), msg, wg_status_name(want), text1, text2 ? text2 : "");
    print_message("  expected error: %s\n", msg);
}

static int64_t sample_numel(const opened *d, wg_data_layout *layout) {
    wg_shape shape;
    wg_data_layout l;
    nc_check(d->vt->sample_shape(d->state, &shape, &l), "sample_shape");
    if (layout) *layout = l;
    return wg_shape_numel(&shape);
}

static void expect_sample_shape(const opened *d, wg_shape want, wg_data_layout want_layout) {
    wg_shape shape;
    wg_data_layout layout;
    nc_check(d->vt->sample_shape(d->state, &shape, &layout), "sample_shape");
    char a[64], b[64];
    if (!wg_shape_equal(&shape, &want) || layout != want_layout)
        fail_msg("sample shape %s layout %d, want %s layout %d", wg_shape_str(&shape, a, sizeof a),
                 layout, wg_shape_str(&want, b, sizeof b), want_layout);
}

static float *batch(const opened *d, uint64_t index, int64_t count) {
    float *out = floats(count * sample_numel(d, NULL));
    nc_check(d->vt->batch(d->state, index, count, out), "batch");
    return out;
}

static bool same(const float *a, const float *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* ---- toy sets ---- */

/* Data seeds differ from run to run; `k` tells apart the seeds of one test. */
static uint64_t seed(uint64_t k) {
    return nc_run_seed() * 31 + k;
}

/* Distance from p to the nearest of `count` centers; its index in *which. */
static double nearest(const float *p, const double (*centers)[2], int count, int *which) {
    double best = INFINITY;
    for (int m = 0; m < count; m++) {
        double d = hypot(p[0] - centers[m][0], p[1] - centers[m][1]);
        if (d < best) best = d, *which = m;
    }
    return best;
}

/* Points near their modes: the mean distance to the nearest mode is a Rayleigh mean
 * sigma sqrt(pi / 2), no point is beyond 7 sigma, and (when `balanced`) every mode
 * gets its share. */
static void expect_mixture(const float *points, int64_t n, const double (*centers)[2], int count,
                           double sigma) {
    int hits[32] = {0}, which = 0;
    double sum = 0, max = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = nearest(points + 2 * i, centers, count, &which);
        sum += d;
        max = fmax(max, d);
        hits[which]++;
    }
    double mean = sum / n, want = sigma * sqrt(M_PI / 2);
    print_message("  mean distance to the nearest mode %.5f (Rayleigh mean %.5f), max %.5f\n", mean,
                  want, max);
    assert_true(fabs(mean - want) < 0.05 * want);
    assert_true(max < 7 * sigma);
    double share = (double)n / count, spread = 6 * sqrt(share);
    for (int m = 0; m < count; m++)
        if (fabs(hits[m] - share) > spread)
            fail_msg("mode %d has %d of %lld points, expected about %.0f", m, hits[m], (long long)n,
                     share);
}

static void test_8gaussians(void **state) {
    (void)state;
    opened d = open_set("8gaussians", "", seed(7));
    expect_sample_shape(&d, wg_shape1(2), WG_DATA_POINTS);
    double centers[8][2];
    const double r = 2 / 1.414, s = 1 / sqrt(2.0);
    const double unit[8][2] = {{1, 0}, {-1, 0}, {0, 1},  {0, -1},
                               {s, s}, {s, -s}, {-s, s}, {-s, -s}};
    for (int m = 0; m < 8; m++) centers[m][0] = r * unit[m][0], centers[m][1] = r * unit[m][1];
    const int64_t n = 8000;
    float *b0 = batch(&d, 0, n);
    expect_mixture(b0, n, centers, 8, 0.02 / 1.414);
    /* a function of (seed, index) only */
    opened again = open_set("8gaussians", "", seed(7)), other = open_set("8gaussians", "", seed(8));
    assert_true(same(batch(&again, 0, n), b0, 2 * n));
    assert_true(same(batch(&again, 5, 64), batch(&d, 5, 64), 128));
    assert_false(same(batch(&d, 1, 64), batch(&d, 2, 64), 128));
    assert_false(same(batch(&other, 0, 64), b0, 128));
    /* other settings */
    opened wide = open_set("8gaussians", "radius: 4\nstd: 0.1\n", seed(7));
    for (int m = 0; m < 8; m++) centers[m][0] *= 2, centers[m][1] *= 2;
    expect_mixture(batch(&wide, 0, n), n, centers, 8, 0.1 / 1.414);
}

static void test_25gaussians(void **state) {
    (void)state;
    double centers[25][2];
    for (int m = 0; m < 25; m++)
        centers[m][0] = 2.0 * (m / 5 - 2) / 2.828, centers[m][1] = 2.0 * (m % 5 - 2) / 2.828;
    opened d = open_set("25gaussians", "", seed(3));
    expect_sample_shape(&d, wg_shape1(2), WG_DATA_POINTS);
    expect_mixture(batch(&d, 0, 10000), 10000, centers, 25, 0.05 / 2.828);
    /* A fixed set of 100 points, 4 per mode, visited in one shuffled order: ten batches
     * of 10 see every point once, and the eleventh starts over with the first. */
    opened small = open_set("25gaussians", "samples: 100\n", seed(3));
    float *all = floats(200);
    for (int b = 0; b < 10; b++) memcpy(all + 20 * b, batch(&small, (uint64_t)b, 10), 80);
    int per_mode[25] = {0}, which = 0;
    for (int i = 0; i < 100; i++) {
        nearest(all + 2 * i, centers, 25, &which);
        per_mode[which]++;
        for (int j = 0; j < i; j++) assert_false(same(all + 2 * i, all + 2 * j, 2));
    }
    for (int m = 0; m < 25; m++) assert_int_equal(per_mode[m], 4);
    assert_true(same(batch(&small, 10, 10), all, 20));
    assert_true(same(batch(&small, 13, 10), all + 60, 20));
    assert_int_equal(small.vt->batch(small.state, 0, 101, floats(202)), WG_ERR_INVALID);
}

static void test_swissroll(void **state) {
    (void)state;
    /* Without noise every point is (t cos t, t sin t) / 7.5, t = 7.5 |p| in [1.5 pi, 4.5 pi],
     * and t is uniform there. */
    opened exact = open_set("swissroll", "noise: 0\n", seed(11));
    expect_sample_shape(&exact, wg_shape1(2), WG_DATA_POINTS);
    const int64_t n = 20000;
    float *p = batch(&exact, 0, n);
    int below_middle = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = 7.5 * hypot(p[2 * i], p[2 * i + 1]);
        assert_true(t >= 1.5 * M_PI * (1 - 1e-6) && t <= 4.5 * M_PI * (1 + 1e-6));
        assert_true(fabs(7.5 * p[2 * i] - t * cos(t)) < 1e-4 * t);
        assert_true(fabs(7.5 * p[2 * i + 1] - t * sin(t)) < 1e-4 * t);
        below_middle += t < 3 * M_PI;
    }
    assert_true(fabs(below_middle - n / 2.0) < 6 * sqrt(n / 4.0));
    /* with the default noise 0.25 the offsets from the noiseless curve have std 0.25 per
     * coordinate: the same draws, so the same t */
    opened noisy = open_set("swissroll", "", seed(11));
    float *q = batch(&noisy, 0, n);
    double sq = 0;
    for (int64_t i = 0; i < 2 * n; i++) sq += (7.5 * (q[i] - p[i])) * (7.5 * (q[i] - p[i]));
    double std = sqrt(sq / (2 * n));
    print_message("  swiss roll noise std %.4f (want 0.25)\n", std);
    assert_true(fabs(std - 0.25) < 0.01);
}

static void test_gaussian1d(void **state) {
    (void)state;
    opened d = open_set("gaussian1d", "mean: 3\nstd: 0.5\n", seed(5));
    expect_sample_shape(&d, wg_shape1(1), WG_DATA_POINTS);
    const int64_t n = 40000;
    float *x = batch(&d, 2, n);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    double mean = sum / n;
    for (int64_t i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    double std = sqrt(sq / (n - 1));
    assert_true(fabs(mean - 3) < 6 * 0.5 / sqrt((double)n));
    assert_true(fabs(std - 0.5) < 0.01);
    expect_open_error("gaussian1d", "std: -1\n", WG_ERR_CONFIG, "std", NULL);
}

/* ---- fixtures ---- */

static uint8_t *bytes(int64_t n) {
    return (uint8_t *)floats((n + 3) / 4);
}

/* Random bytes, image i's first byte = i so a batch can be traced back. */
static uint8_t *random_images(int count, int size, uint64_t stream) {
    uint8_t *p = bytes((int64_t)count * size);
    nc_rng rng = nc_rng_for(stream);
    for (int i = 0; i < count * size; i++) p[i] = (uint8_t)(nc_rng_next(&rng) >> 56);
    for (int i = 0; i < count; i++) p[i * size] = (uint8_t)i;
    return p;
}

static void write_bytes(const char *path, bool gz, const void *data, size_t size) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, data, (unsigned)size), (int)size);
        assert_int_equal(gzclose(f), Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* An IDX file: magic 00 00 08 <ndim>, big-endian dimensions, `payload` bytes of data. */
static void write_idx(const char *path, bool gz, int ndim, const uint32_t *dims,
                      const uint8_t *data, size_t payload) {
    size_t header = 4 + 4 * (size_t)ndim;
    uint8_t *file = malloc(header + payload);
    file[0] = file[1] = 0;
    file[2] = 0x08;
    file[3] = (uint8_t)ndim;
    for (int k = 0; k < ndim; k++)
        for (int b = 0; b < 4; b++) file[4 + 4 * k + b] = (uint8_t)(dims[k] >> (24 - 8 * b));
    memcpy(file + header, data, payload);
    write_bytes(path, gz, file, header + payload);
    free(file);
}

/* Which of `count` source images (bytes) `got` (floats in [-1, 1]) is, or fails. */
static int find_image(const float *got, const uint8_t *images, int count, int size) {
    for (int i = 0; i < count; i++) {
        int k = 0;
        while (k < size && fabs(got[k] - (images[i * size + k] / 127.5 - 1)) < 1e-6) k++;
        if (k == size) return i;
    }
    fail_msg("a batch image matches none of the source images");
    return -1;
}

/* A batch of `count` holds each source image exactly once. */
static void expect_all_images(const float *got, const uint8_t *images, int count, int size) {
    bool seen[256] = {false};
    for (int i = 0; i < count; i++) {
        int which = find_image(got + (int64_t)i * size, images, count, size);
        assert_false(seen[which]);
        seen[which] = true;
    }
}

/* ---- idx ---- */

static void test_idx_plain_and_gzip(void **state) {
    (void)state;
    enum { COUNT = 7, ROWS = 3, COLS = 4, SIZE = ROWS * COLS };
    const uint32_t dims[3] = {COUNT, ROWS, COLS};
    uint8_t *images = random_images(COUNT, SIZE, 1);
    char yaml[600];
    for (int gz = 0; gz < 2; gz++) {
        const char *path = tmp_path(gz ? "images.gz" : "images");
        write_idx(path, gz, 3, dims, images, COUNT * SIZE);
        snprintf(yaml, sizeof yaml, "path: %s\n", path);
        opened d = open_set("idx", yaml, 9);
        expect_sample_shape(&d, wg_shape3(1, ROWS, COLS), WG_DATA_IMAGES);
        expect_all_images(batch(&d, 0, COUNT), images, COUNT, SIZE);
    }
    /* a folder: split picks train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] */
    const uint32_t test_dims[3] = {5, ROWS, COLS};
    write_idx(tmp_path("train-images-idx3-ubyte.gz"), true, 3, dims, images, COUNT * SIZE);
    write_idx(tmp_path("t10k-images-idx3-ubyte"), false, 3, test_dims, images, 5 * SIZE);
    snprintf(yaml, sizeof yaml, "path: %s\nsplit: train\n", tmp_dir);
    opened train = open_set("idx", yaml, 9);
    expect_all_images(batch(&train, 0, COUNT), images, COUNT, SIZE);
    snprintf(yaml, sizeof yaml, "path: %s\nsplit: test\n", tmp_dir);
    opened test = open_set("idx", yaml, 9);
    expect_all_images(batch(&test, 0, 5), images, 5, SIZE);
    assert_int_equal(test.vt->batch(test.state, 0, 6, floats(6 * SIZE)), WG_ERR_INVALID);
}

/* Epochs of whole batches, each a fresh permutation of (seed, epoch). */
static void test_idx_epoch_order(void **state) {
    (void)state;
    enum { COUNT = 50, SIZE = 4, BATCH = 8, PER_EPOCH = COUNT / BATCH };
    const uint32_t dims[3] = {COUNT, 2, 2};
    uint8_t *images = random_images(COUNT, SIZE, 2);
    write_idx(tmp_path("images"), false, 3, dims, images, COUNT * SIZE);
    char yaml[600];
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("images"));
    opened d = open_set("idx", yaml, 21), same_seed = open_set("idx", yaml, 21),
           other_seed = open_set("idx", yaml, 22);
    int order[2][PER_EPOCH * BATCH];
    for (int epoch = 0; epoch < 2; epoch++) {
        bool seen[COUNT] = {false};
        for (int b = 0; b < PER_EPOCH; b++) {
            uint64_t index = (uint64_t)(epoch * PER_EPOCH + b);
            float *x = batch(&d, index, BATCH);
            assert_true(same(x, batch(&same_seed, index, BATCH), BATCH * SIZE));
            for (int i = 0; i < BATCH; i++) {
                int which = find_image(x + i * SIZE, images, COUNT, SIZE);
                assert_false(seen[which]); /* no repeats within an epoch */
                seen[which] = true;
                order[epoch][b * BATCH + i] = which;
            }
        }
    }
    assert_false(memcmp(order[0], order[1], sizeof order[0]) == 0);
    assert_false(same(batch(&d, 0, BATCH), batch(&other_seed, 0, BATCH), BATCH * SIZE));
    /* out of order access gives the same batches */
    opened fresh = open_set("idx", yaml, 21);
    float *late = batch(&fresh, PER_EPOCH + 3, BATCH);
    assert_true(same(late, batch(&d, PER_EPOCH + 3, BATCH), BATCH * SIZE));
}

static void test_idx_errors(void **state) {
    (void)state;
    enum { COUNT = 7, SIZE = 12 };
    const uint32_t dims[3] = {COUNT, 3, 4};
    uint8_t *images = random_images(COUNT, SIZE, 3);
    char yaml[600];
    const char *path;

    path = tmp_path("short");
    write_idx(path, false, 3, dims, images, COUNT * SIZE - 5);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "truncated");
    expect_open_error("idx", yaml, WG_ERR_IO, "84 bytes", "5 missing");

    path = tmp_path("long");
    write_idx(path, false, 3, dims, images, COUNT * SIZE);
    FILE *f = fopen(path, "ab");
    fputs("xyz", f);
    fclose(f);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "3 unexpected bytes");

    /* a gzip stream cut short */
    path = tmp_path("cut.gz");
    write_idx(path, true, 3, dims, images, COUNT * SIZE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "compressed");

    path = tmp_path("labels");
    const uint32_t label_dims[1] = {COUNT};
    write_idx(path, false, 1, label_dims, images, COUNT);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "label");

    path = tmp_path("text");
    write_bytes(path, false, "hello world, not idx", 20);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "not an IDX file");

    path = tmp_path("tiny");
    write_bytes(path, false, "\0\0\x08\x03\0\0", 6);
    snprintf(yaml, sizeof yaml, "path: %s\n", path);
    expect_open_error("idx", yaml, WG_ERR_IO, path, "header");

    snprintf(yaml, sizeof yaml, "path: %s\nsplit: test\n", tmp_dir);
    expect_open_error("idx", yaml, WG_ERR_IO, "t10k-images-idx3-ubyte", tmp_dir);
    snprintf(yaml, sizeof yaml, "path: %s/missing\n", tmp_dir);
    expect_open_error("idx", yaml, WG_ERR_IO, "missing", NULL);
    expect_open_error("idx", "split: validation\n", WG_ERR_CONFIG, "split", NULL);
}

/* Debian's dataset-fashion-mnist: 60000 training and 10000 test images of 28x28 whose
 * mean pixel is 0.2860 and 0.2868 of full scale. */
static void test_fashion_mnist(void **state) {
    (void)state;
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        wg_test_skip("%s not installed", FASHION_DIR);
    }
    const char *splits[2] = {"split: train", "split: test"};
    const int64_t counts[2] = {60000, 10000};
    const double means[2] = {0.2860, 0.2868};
    for (int s = 0; s < 2; s++) {
        char yaml[32];
        snprintf(yaml, sizeof yaml, "%s\n", splits[s]);
        opened d = open_set("idx", yaml, 1);
        expect_sample_shape(&d, wg_shape3(1, 28, 28), WG_DATA_IMAGES);
        int64_t n = counts[s] * 784;
        float *x = floats(n);
        nc_check(d.vt->batch(d.state, 0, counts[s], x), "the whole set as one batch");
        assert_int_equal(d.vt->batch(d.state, 0, counts[s] + 1, floats(784 * 2)), WG_ERR_INVALID);
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
            sum += x[i];
        }
        double mean = (sum / n + 1) / 2;
        print_message("  %s mean pixel %.4f of full scale\n", splits[s], mean);
        assert_true(fabs(mean - means[s]) < 0.001);
    }
}

/* ---- cifar10 ---- */

enum { CIFAR_IMAGE = 3072, CIFAR_RECORD = 3073 };

/* `count` records of the images from `first` on, labels i % 10. */
static void write_cifar(const char *path, const uint8_t *images, int first, int count) {
    uint8_t *file = malloc((size_t)count * CIFAR_RECORD);
    for (int i = 0; i < count; i++) {
        file[i * CIFAR_RECORD] = (uint8_t)((first + i) % 10);
        memcpy(file + i * CIFAR_RECORD + 1, images + (size_t)(first + i) * CIFAR_IMAGE,
               CIFAR_IMAGE);
    }
    write_bytes(path, false, file, (size_t)count * CIFAR_RECORD);
    free(file);
}

static void test_cifar10(void **state) {
    (void)state;
    enum { TRAIN = 10, TEST = 3 };
    uint8_t *images = random_images(TRAIN + TEST, CIFAR_IMAGE, 4);
    char name[64], yaml[600];
    assert_int_equal(mkdir(tmp_path("cifar-10-batches-bin"), 0700), 0);
    for (int b = 0; b < 5; b++) {
        snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", b + 1);
        write_cifar(tmp_path(name), images, 2 * b, 2);
    }
    write_cifar(tmp_path("cifar-10-batches-bin/test_batch.bin"), images, TRAIN, TEST);
    /* the parent of cifar-10-batches-bin works as well as the folder itself */
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_dir);
    opened train = open_set("cifar10", yaml, 4);
    expect_sample_shape(&train, wg_shape3(3, 32, 32), WG_DATA_IMAGES);
    expect_all_images(batch(&train, 0, TRAIN), images, TRAIN, CIFAR_IMAGE);
    snprintf(yaml, sizeof yaml, "path: %s\nsplit: test\n", tmp_path("cifar-10-batches-bin"));
    opened test = open_set("cifar10", yaml, 4);
    expect_all_images(batch(&test, 0, TEST), images + TRAIN * CIFAR_IMAGE, TEST, CIFAR_IMAGE);

    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_dir);
    const char *third = tmp_path("cifar-10-batches-bin/data_batch_3.bin");
    assert_int_equal(truncate(third, 2 * CIFAR_RECORD - 5), 0);
    expect_open_error("cifar10", yaml, WG_ERR_IO, third, "truncated");
    expect_open_error("cifar10", yaml, WG_ERR_IO, "5 missing", NULL);
    write_cifar(third, images, 4, 2);

    const char *first = tmp_path("cifar-10-batches-bin/data_batch_1.bin");
    FILE *f = fopen(first, "r+b");
    fputc(12, f);
    fclose(f);
    expect_open_error("cifar10", yaml, WG_ERR_IO, first, "label 12");
    write_cifar(first, images, 0, 2);

    const char *fifth = tmp_path("cifar-10-batches-bin/data_batch_5.bin");
    assert_int_equal(remove(fifth), 0);
    expect_open_error("cifar10", yaml, WG_ERR_IO, fifth, NULL);
    expect_open_error("cifar10", "split: test\n", WG_ERR_CONFIG, "'path'", "missing");
}

/* ---- png_folder ---- */

static void write_png(const char *name, int width, int height, bool color, const uint8_t *rows) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&image, tmp_path(name), 0, rows, 0, NULL))
        fail_msg("writing %s: %s", name, image.message);
}

/* Interleaved rows -> planar, the layout samples have. */
static void planar(const uint8_t *rows, int channels, int pixels, uint8_t *out) {
    for (int p = 0; p < pixels; p++)
        for (int c = 0; c < channels; c++) out[c * pixels + p] = rows[p * channels + c];
}

static void test_png_folder(void **state) {
    (void)state;
    enum { W = 5, H = 4, PIXELS = W * H };
    uint8_t *gray = random_images(3, PIXELS, 5), *rgb_rows = random_images(2, 3 * PIXELS, 6);
    char yaml[600];
    assert_int_equal(mkdir(tmp_path("gray"), 0700), 0);
    write_png("gray/b.png", W, H, false, gray);
    write_png("gray/a.PNG", W, H, false, gray + PIXELS);
    write_png("gray/c.png", W, H, false, gray + 2 * PIXELS);
    write_bytes(tmp_path("gray/notes.txt"), false, "not an image", 12);
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("gray"));
    opened g = open_set("png_folder", yaml, 1);
    expect_sample_shape(&g, wg_shape3(1, H, W), WG_DATA_IMAGES);
    expect_all_images(batch(&g, 0, 3), gray, 3, PIXELS);
    /* asked for rgb, gray images come as three equal planes */
    snprintf(yaml, sizeof yaml, "path: %s\ncolor: rgb\n", tmp_path("gray"));
    opened g3 = open_set("png_folder", yaml, 1);
    expect_sample_shape(&g3, wg_shape3(3, H, W), WG_DATA_IMAGES);
    uint8_t replicated[3 * 3 * PIXELS];
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
            memcpy(replicated + (i * 3 + c) * PIXELS, gray + i * PIXELS, PIXELS);
    expect_all_images(batch(&g3, 0, 3), replicated, 3, 3 * PIXELS);

    /* one RGB image among gray ones makes the set RGB */
    assert_int_equal(mkdir(tmp_path("mixed"), 0700), 0);
    write_png("mixed/1.png", W, H, true, rgb_rows);
    write_png("mixed/2.png", W, H, true, rgb_rows + 3 * PIXELS);
    write_png("mixed/3.png", W, H, false, gray);
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("mixed"));
    opened m = open_set("png_folder", yaml, 1);
    expect_sample_shape(&m, wg_shape3(3, H, W), WG_DATA_IMAGES);
    uint8_t want[3 * 3 * PIXELS];
    planar(rgb_rows, 3, PIXELS, want);
    planar(rgb_rows + 3 * PIXELS, 3, PIXELS, want + 3 * PIXELS);
    memcpy(want + 6 * PIXELS, replicated, 3 * PIXELS);
    expect_all_images(batch(&m, 0, 3), want, 3, 3 * PIXELS);

    /* a different size, named with the first image's */
    write_png("mixed/4.png", W + 1, H, false, gray);
    expect_open_error("png_folder", yaml, WG_ERR_IO, "mixed/4.png is 6x4", "mixed/1.png is 5x4");
    remove(tmp_path("mixed/4.png"));
    /* a truncated file */
    const char *cut = tmp_path("mixed/2.png");
    struct stat st;
    assert_int_equal(stat(cut, &st), 0);
    assert_int_equal(truncate(cut, st.st_size - 20), 0);
    expect_open_error("png_folder", yaml, WG_ERR_IO, cut, NULL);

    assert_int_equal(mkdir(tmp_path("empty"), 0700), 0);
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("empty"));
    expect_open_error("png_folder", yaml, WG_ERR_IO, "no *.png files", tmp_path("empty"));
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("nowhere"));
    expect_open_error("png_folder", yaml, WG_ERR_IO, tmp_path("nowhere"), NULL);
    expect_open_error("png_folder", "color: cmyk\n", WG_ERR_CONFIG, "path", NULL);
}

/* ---- hostile inputs ---- */

/* tests/fixtures/data/<name> in the source tree. */
static const char *fixture(const char *name) {
    static char path[1024];
    const char *root = getenv("WGAN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", root ? root : ".", name);
    if (access(path, R_OK) != 0) fail_msg("fixture %s missing", path);
    return path;
}

static long peak_rss_kib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* A FIFO, a device or a folder as a data file is refused at once, naming it: opening a
 * FIFO used to wait forever, /dev/zero used to be read until memory ran out. */
static void test_only_regular_files_are_read(void **state) {
    (void)state;
    char yaml[600];
    const char *fifo = tmp_path("images.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(yaml, sizeof yaml, "path: %s\n", fifo);
    expect_open_error("idx", yaml, WG_ERR_IO, fifo, "FIFO");
    expect_open_error("idx", "path: /dev/zero\n", WG_ERR_IO, "/dev/zero", "device");

    /* the same in a CIFAR folder and a PNG folder */
    assert_int_equal(mkdir(tmp_path("cifar"), 0700), 0);
    for (int b = 1; b <= 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "cifar/data_batch_%d.bin", b);
        uint8_t record[3073] = {0};
        if (b == 3)
            assert_int_equal(mkfifo(tmp_path(name), 0600), 0);
        else
            write_bytes(tmp_path(name), false, record, sizeof record);
    }
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("cifar"));
    expect_open_error("cifar10", yaml, WG_ERR_IO, "data_batch_3.bin", "FIFO");
    assert_int_equal(mkdir(tmp_path("pngs"), 0700), 0);
    assert_int_equal(mkfifo(tmp_path("pngs/a.png"), 0600), 0);
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("pngs"));
    expect_open_error("png_folder", yaml, WG_ERR_IO, "a.png", "FIFO");
    assert_int_equal(mkdir(tmp_path("pngs2"), 0700), 0);
    assert_int_equal(mkdir(tmp_path("pngs2/b.png"), 0700), 0);
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("pngs2"));
    expect_open_error("png_folder", yaml, WG_ERR_IO, "b.png", "folder");
}

/* Decompression stops at what the header announces: a gzip whose header announces one
 * image is refused after inflating that image and one byte more, not all of it. */
static void test_idx_inflates_only_what_the_header_announces(void **state) {
    (void)state;
    char yaml[600];
    /* the checked-in reproducer: one 28x28 image, then 1 MiB more */
    snprintf(yaml, sizeof yaml, "path: %s\n", fixture("one-image-then-more.idx3.gz"));
    expect_open_error("idx", yaml, WG_ERR_IO, "one-image-then-more", "unexpected bytes");
    /* the same at a size that shows in memory: 256 MiB of zeros behind the image */
    const char *bomb = tmp_path("bomb.gz");
    gzFile f = gzopen(bomb, "wb9");
    assert_non_null(f);
    uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
    assert_int_equal(gzwrite(f, header, sizeof header), (int)sizeof header);
    enum { CHUNK = 1 << 20 };
    uint8_t *zeros = calloc(CHUNK, 1);
    for (int i = 0; i < 256; i++) assert_int_equal(gzwrite(f, zeros, CHUNK), CHUNK);
    free(zeros);
    assert_int_equal(gzclose(f), Z_OK);
    long before = peak_rss_kib();
    snprintf(yaml, sizeof yaml, "path: %s\n", bomb);
    expect_open_error("idx", yaml, WG_ERR_IO, bomb, "unexpected bytes");
    long grown = peak_rss_kib() - before;
    print_message("  peak memory grew by %ld KiB reading a 256 MiB bomb\n", grown);
    assert_true(grown < 16 * 1024);
    /* a header announcing 2^32 - 1 images of 65535 x 65535 is refused from the header */
    snprintf(yaml, sizeof yaml, "path: %s\n", fixture("huge-header.idx3"));
    expect_open_error("idx", yaml, WG_ERR_IO, "huge-header.idx3", "announces more than");
}

/* A 16384x1 image used to pass the per-side check and fail mid-run, when the 8 x 8
 * grid of samples could not be drawn. */
static void test_png_size_check_covers_the_sample_grid(void **state) {
    (void)state;
    assert_int_equal(mkdir(tmp_path("wide"), 0700), 0);
    char *copy = NULL;
    size_t size = 0;
    FILE *in = fopen(fixture("wide-16384x1.png"), "rb");
    assert_non_null(in);
    copy = malloc(4096);
    size = fread(copy, 1, 4096, in);
    fclose(in);
    write_bytes(tmp_path("wide/wide.png"), false, copy, size);
    free(copy);
    char yaml[600];
    snprintf(yaml, sizeof yaml, "path: %s\n", tmp_path("wide"));
    expect_open_error("png_folder", yaml, WG_ERR_IO, "wide.png", "16384x1");
}

int main(void) {
    nc_init("test_data");
    const struct CMUnitTest tests[] = {
        /* first: it watches the peak memory, which later tests raise */
        cmocka_unit_test_setup_teardown(test_idx_inflates_only_what_the_header_announces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_8gaussians, setup, teardown),
        cmocka_unit_test_setup_teardown(test_25gaussians, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swissroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gaussian1d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_plain_and_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_epoch_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fashion_mnist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cifar10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_png_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_regular_files_are_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_png_size_check_covers_the_sample_grid, setup,
                                        teardown),
    };
    return wg_test_run_group("data", tests, sizeof tests / sizeof *tests, NULL, group_teardown);
}
