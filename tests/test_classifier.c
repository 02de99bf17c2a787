/* wgan's Fashion-MNIST classifier and the FID/KID plumbing on its features: reading the
 * IDX files, a classifier trained briefly on a small subset (well above chance),
 * caching and reloading, FID of real against real (small) and against noise (large),
 * and FID and KID in summary.json and metrics.csv of a tiny image run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eval/classifier.h"
#include "train/experiment.h"
#include "io/fileio.h"
#include "tmpdir.h"
#include "wgan/metrics.h"
#include "tiers.h"

#define PIXELS (28 * 28)

typedef struct fixture {
    char *dir;
    char *cache;
    wg_device *cpu;
    wg_classifier *classifier;
} fixture;

static bool have_data(void) {
    return wg_file_exists(WG_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz") ||
           wg_file_exists(WG_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte");
}

/* One classifier for every test: 1 epoch on the first 3000 training images. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = td_make("wgan-classifier");
    f->cache = td_join(f->dir, "cache/classifier.safetensors");
    *state = f;
    if (!have_data()) return 0;
    wg_classifier_options o = wg_classifier_defaults();
    o.path = f->cache;
    o.epochs = 1;
    o.train_images = 3000;
    o.test_images = 1000;
    if (wg_device_open("cpu", &f->cpu) != WG_OK ||
        wg_classifier_open(f->cpu, &o, false, &f->classifier) != WG_OK) {
        fprintf(stderr, "setup: %s\n", wg_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    wg_classifier_free(f->classifier);
    if (f->cpu) wg_device_close(f->cpu);
    td_remove(f->dir);
    free(f->cache);
    free(f);
    return 0;
}

static void need_data(void) {
    if (!have_data()) {
        wg_test_skip("no Fashion-MNIST in %s (Debian: dataset-fashion-mnist)",
                     WG_FASHION_MNIST_DIR);
    }
}

/* The raw bytes of a gzip file, read here with zlib as an independent reference. */
static uint8_t *gunzip(const char *path, size_t *size) {
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    size_t cap = 1 << 24;
    uint8_t *data = malloc(cap);
    int n = gzread(g, data, (unsigned)cap);
    gzclose(g);
    assert_true(n > 0);
    *size = (size_t)n;
    return data;
}

static void test_reads_fashion_mnist(void **state) {
    (void)state;
    need_data();
    wg_fashion_set set;
    assert_int_equal(wg_fashion_load(WG_FASHION_MNIST_DIR, false, 500, &set), WG_OK);
    assert_int_equal(set.count, 500);
    size_t n_images, n_labels;
    uint8_t *images = gunzip(WG_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &n_images);
    uint8_t *labels = gunzip(WG_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz", &n_labels);
    assert_int_equal(n_images, 16 + 10000 * PIXELS);
    assert_int_equal(n_labels, 8 + 10000);
    for (int i = 0; i < 500; i++) assert_int_equal(set.labels[i], labels[8 + i]);
    for (int i = 0; i < 500 * PIXELS; i++)
        assert_float_equal(set.images[i], images[16 + i] / 127.5 - 1, 1e-6);
    free(images);
    free(labels);
    wg_fashion_free(&set);

    assert_int_equal(wg_fashion_load("/nonexistent-fashion", true, 0, &set), WG_ERR_IO);
    assert_non_null(strstr(wg_last_error(), "/nonexistent-fashion"));
}

static void test_classifier_learns_and_is_cached(void **state) {
    fixture *f = *state;
    need_data();
    wg_classifier_info info = wg_classifier_info_get(f->classifier);
    print_message("1 epoch on %lld images: test accuracy %.3f on %lld images, %.1f s\n",
                  (long long)info.train_images, info.test_accuracy, (long long)info.test_images,
                  info.train_seconds);
    assert_true(info.trained_now);
    assert_int_equal(info.train_images, 3000);
    assert_int_equal(info.test_images, 1000);
    assert_true(info.test_accuracy > 0.6); /* chance is 0.1 */

    /* reopened: loaded from the cache, the same numbers */
    wg_classifier_options o = wg_classifier_defaults();
    o.path = f->cache;
    wg_classifier *again;
    assert_int_equal(wg_classifier_open(f->cpu, &o, false, &again), WG_OK);
    wg_classifier_info loaded = wg_classifier_info_get(again);
    assert_false(loaded.trained_now);
    assert_float_equal(loaded.test_accuracy, info.test_accuracy, 1e-6);
    wg_fashion_set set;
    assert_int_equal(wg_fashion_load(WG_FASHION_MNIST_DIR, false, 300, &set), WG_OK);
    double *a = malloc(300 * WG_CLASSIFIER_FEATURES * sizeof *a);
    double *b = malloc(300 * WG_CLASSIFIER_FEATURES * sizeof *b);
    uint8_t la[300], lb[300];
    assert_int_equal(wg_classifier_features(f->classifier, set.images, 300, a, la), WG_OK);
    assert_int_equal(wg_classifier_features(again, set.images, 300, b, lb), WG_OK);
    assert_memory_equal(a, b, 300 * WG_CLASSIFIER_FEATURES * sizeof *a);
    assert_memory_equal(la, lb, 300);
    int right = 0;
    for (int i = 0; i < 300; i++) right += la[i] == set.labels[i];
    assert_true(right > 0.6 * 300);
    free(a);
    free(b);
    wg_fashion_free(&set);
    wg_classifier_free(again);

    /* a file that is not a classifier is an error naming it */
    char *bogus = td_join(f->dir, "bogus.safetensors");
    td_write_text(bogus, "not a safetensors file");
    o.path = bogus;
    assert_int_not_equal(wg_classifier_open(f->cpu, &o, false, &again), WG_OK);
    assert_non_null(strstr(wg_last_error(), bogus));
    free(bogus);
}

static double fid_of(wg_classifier *c, const float *x, const float *y, int64_t n) {
    double *fx = malloc((size_t)n * WG_CLASSIFIER_FEATURES * sizeof *fx);
    double *fy = malloc((size_t)n * WG_CLASSIFIER_FEATURES * sizeof *fy);
    assert_int_equal(wg_classifier_features(c, x, n, fx, NULL), WG_OK);
    assert_int_equal(wg_classifier_features(c, y, n, fy, NULL), WG_OK);
    double fid;
    assert_int_equal(wg_metric_fid(fx, n, fy, n, WG_CLASSIFIER_FEATURES, &fid), WG_OK);
    free(fx);
    free(fy);
    return fid;
}

static void test_fid_real_against_real_and_noise(void **state) {
    fixture *f = *state;
    need_data();
    enum { N = 1000 };
    wg_fashion_set test, train;
    assert_int_equal(wg_fashion_load(WG_FASHION_MNIST_DIR, false, N, &test), WG_OK);
    assert_int_equal(wg_fashion_load(WG_FASHION_MNIST_DIR, true, N, &train), WG_OK);
    float *noise = malloc(N * PIXELS * sizeof *noise);
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (int i = 0; i < N * PIXELS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (float)((x >> 11) * 0x1.0p-53 * 2 - 1);
    }
    double real = fid_of(f->classifier, test.images, train.images, N);
    double fake = fid_of(f->classifier, test.images, noise, N);
    print_message("FID test vs train %.3f, test vs uniform noise %.3f\n", real, fake);
    assert_true(real >= 0 && fake > 20 * real);
    free(noise);
    wg_fashion_free(&test);
    wg_fashion_free(&train);
}

/* A tiny WGAN-GP on Fashion-MNIST with FID at every logged step. */
static void test_fid_in_an_image_run(void **state) {
    fixture *f = *state;
    need_data();
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "name: fid\n"
             "device: cpu\n"
             "data: {plugin: idx, path: %s}\n"
             "arch: {plugin: dcgan, model: wgan_gp_mnist, width: 4}\n"
             "loss: {plugin: wasserstein}\n"
             "lipschitz: {plugin: gradient_penalty}\n"
             "train: {batch: 16, steps: 4, n_critic: 1, log_every: 2, sample_every: 0,\n"
             "        checkpoint_every: 0}\n"
             "eval: {fid: true, fid_every: 2, fid_samples: 300,\n"
             "       classifier: {path: %s}}\n",
             WG_FASHION_MNIST_DIR, f->cache);
    char *config = td_join(f->dir, "fid.yaml"), *out = td_join(f->dir, "run");
    td_write_text(config, yaml);
    wg_experiment_options o = {
        .config_path = config, .out_dir = out, .progress = WG_PROGRESS_QUIET};
    wg_experiment *e;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    wg_experiment_free(e);
    if (s != WG_OK) fail_msg("%s", wg_last_error());

    char *path = td_join(out, "metrics.csv"), *csv;
    size_t size;
    assert_int_equal(wg_read_file(path, &csv, &size), WG_OK);
    assert_non_null(strstr(csv, ",eval_fid,eval_kid\n"));
    /* the last two fields of the two rows */
    int rows = 0;
    for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1, rows++) {
        char *end = strchr(line, '\n'), *kid = end, *fid;
        while (kid[-1] != ',') kid--;
        for (fid = kid - 1; fid[-1] != ','; fid--) {
        }
        double v_fid = strtod(fid, NULL), v_kid = strtod(kid, NULL);
        print_message("row %d: FID %.2f, KID %.4f\n", rows + 1, v_fid, v_kid);
        assert_true(isfinite(v_fid) && v_fid > 0);
        assert_true(isfinite(v_kid));
    }
    assert_int_equal(rows, 2);
    free(csv);
    free(path);
    path = td_join(out, "summary.json");
    char *summary;
    assert_int_equal(wg_read_file(path, &summary, &size), WG_OK);
    assert_non_null(strstr(summary, "\"fid\": {"));
    assert_non_null(strstr(summary, "not Inception"));
    assert_non_null(strstr(summary, "\"fid_train_vs_test\": "));
    assert_non_null(strstr(summary, "\"test_accuracy\": "));
    free(summary);
    free(path);
    free(config);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_fashion_mnist),
        cmocka_unit_test(test_classifier_learns_and_is_cached),
        cmocka_unit_test(test_fid_real_against_real_and_noise),
        cmocka_unit_test(test_fid_in_an_image_run),
    };
    return wg_test_run_group("classifier", tests, sizeof tests / sizeof *tests, setup, teardown);
}
