/* The safetensors writer and reader, checked against the format's definition with a
 * header parser written here, and the atomic file writes checkpoints rely on; hostile
 * files (tests/fixtures/checkpoint) and tampered run checkpoints refused on resume. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "io/clock.h"
#include "io/fileio.h"
#include "io/safetensors.h"
#include "tmpdir.h"
#include "train/train_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float next_float(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 4.0 - 2.0);
}

static int random_index(int n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((rng >> 33) % (uint64_t)n);
}

#define N_TENSORS 4

typedef struct fixture {
    char *dir, *path;
    wg_st_tensor tensors[N_TENSORS];
    float *data[N_TENSORS];
} fixture;

static const char *const names[N_TENSORS] = {"critic.fc1.weight", "critic.fc1.bias",
                                             "generator.conv \"1\".weight", "step"};

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = td_make("wgan-ckpt");
    f->path = td_join(f->dir, "checkpoint.safetensors");
    const wg_shape shapes[N_TENSORS] = {wg_shape2(5, 3), wg_shape1(5), wg_shape4(2, 3, 5, 5),
                                        wg_shape1(1)};
    for (int i = 0; i < N_TENSORS; i++) {
        int64_t n = wg_shape_numel(&shapes[i]);
        f->data[i] = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j++) f->data[i][j] = next_float();
        f->tensors[i] = (wg_st_tensor){names[i], shapes[i], f->data[i]};
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    for (int i = 0; i < N_TENSORS; i++) free(f->data[i]);
    free(f->path);
    td_remove(f->dir);
    free(f);
    return 0;
}

static const wg_st_meta meta[] = {{"format", "test"}, {"note", "a \"quoted\" \\ value\n"}};

static void write_fixture(fixture *f) {
    assert_int_equal(wg_safetensors_write(f->path, N_TENSORS, f->tensors, 2, meta), WG_OK);
}

/* ---- an independent reading of the layout ---- */

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The JSON-escaped form of `name` as a key: "name": */
static void json_key(char *out, size_t size, const char *name) {
    size_t k = 0;
    out[k++] = '"';
    for (const char *p = name; *p && k + 3 < size; p++) {
        if (*p == '"' || *p == '\\') out[k++] = '\\';
        out[k++] = *p;
    }
    out[k++] = '"';
    out[k++] = ':';
    out[k] = 0;
}

static void test_layout_follows_the_format(void **state) {
    fixture *f = *state;
    write_fixture(f);
    char *bytes;
    size_t size;
    assert_int_equal(wg_read_file(f->path, &bytes, &size), WG_OK);
    assert_true(size > 8);
    uint64_t n = le64((const unsigned char *)bytes);
    assert_true(8 + n <= size);
    assert_int_equal((8 + n) % 8, 0); /* data starts aligned */
    char *header = strndup(bytes + 8, n);
    assert_int_equal(header[0], '{');
    assert_non_null(strstr(header, "\"__metadata__\":{"));
    assert_non_null(strstr(header, "\"note\":\"a \\\"quoted\\\" \\\\ value\\n\""));
    /* each tensor: dtype, shape and a byte range that holds exactly its data */
    uint64_t covered = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        char key[128];
        json_key(key, sizeof key, names[i]);
        const char *at = strstr(header, key);
        assert_non_null(at);
        assert_int_equal(strncmp(at + strlen(key), "{\"dtype\":\"F32\",\"shape\":[", 24), 0);
        const wg_shape *s = &f->tensors[i].shape;
        const char *p = at + strlen(key) + 24;
        for (int d = 0; d < s->ndim; d++) {
            char *end;
            assert_int_equal(strtoll(p, &end, 10), s->dim[d]);
            p = end + 1; /* ',' or ']' */
        }
        p = strstr(p, "\"data_offsets\":[");
        assert_non_null(p);
        unsigned long long begin, end;
        assert_int_equal(sscanf(p, "\"data_offsets\":[%llu,%llu]", &begin, &end), 2);
        size_t bytes_n = (size_t)wg_shape_numel(s) * sizeof(float);
        assert_int_equal(end - begin, bytes_n);
        assert_memory_equal(bytes + 8 + n + begin, f->data[i], bytes_n);
        covered += end - begin;
    }
    assert_int_equal(8 + n + covered, size); /* nothing else in the data */
    free(header);
    free(bytes);
}

static void test_round_trip(void **state) {
    fixture *f = *state;
    write_fixture(f);
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(f->path, &st), WG_OK);
    assert_int_equal(wg_safetensors_count(st), N_TENSORS);
    for (int i = 0; i < N_TENSORS; i++) {
        const wg_st_tensor *t = wg_safetensors_find(st, names[i]);
        assert_non_null(t);
        assert_true(wg_shape_equal(&t->shape, &f->tensors[i].shape));
        assert_memory_equal(t->data, f->data[i], (size_t)wg_shape_numel(&t->shape) * sizeof(float));
    }
    assert_null(wg_safetensors_find(st, "missing"));
    assert_string_equal(wg_safetensors_meta(st, "format"), "test");
    assert_string_equal(wg_safetensors_meta(st, "note"), meta[1].value);
    wg_safetensors_free(st);
}

static void test_duplicate_names_refused(void **state) {
    fixture *f = *state;
    wg_st_tensor twice[2] = {f->tensors[0], f->tensors[0]};
    assert_int_equal(wg_safetensors_write(f->path, 2, twice, 0, NULL), WG_ERR_INVALID);
}

/* Rewrites the fixture file with `header` (padded) and `data_bytes` of data. */
static void write_raw(const char *path, const char *header, size_t data_bytes) {
    size_t n = strlen(header);
    size_t total = 8 + n + data_bytes;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    assert_int_equal(wg_write_file_atomic(path, buf, total), WG_OK);
    free(buf);
}

static void expect_corrupt(const char *path) {
    wg_safetensors *st = NULL;
    assert_int_equal(wg_safetensors_read(path, &st), WG_ERR_IO);
    assert_null(st);
    assert_non_null(strstr(wg_last_error(), path));
}

static void test_corrupt_files_are_refused(void **state) {
    fixture *f = *state;
    write_raw(f->path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(f->path, &st), WG_OK); /* the control */
    wg_safetensors_free(st);
    /* data shorter than described */
    write_raw(f->path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
    expect_corrupt(f->path);
    /* a range that does not match the shape */
    write_raw(f->path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_corrupt(f->path);
    /* overlapping ranges */
    write_raw(f->path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8);
    expect_corrupt(f->path);
    /* another dtype */
    write_raw(f->path, "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8);
    expect_corrupt(f->path);
    /* broken JSON */
    write_raw(f->path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,\"data_offsets\":[0,8]}}", 8);
    expect_corrupt(f->path);
    /* a header length beyond the file */
    unsigned char tiny[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    assert_int_equal(wg_write_file_atomic(f->path, tiny, sizeof tiny), WG_OK);
    expect_corrupt(f->path);
}

/* A full disk, simulated with a file size limit: the write fails naming the file and
 * the previous checkpoint survives intact, with no temporary file left behind. */
static void test_failed_write_keeps_previous_file(void **state) {
    fixture *f = *state;
    write_fixture(f);
    char *before;
    size_t before_size;
    assert_int_equal(wg_read_file(f->path, &before, &before_size), WG_OK);

    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {256, saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    for (int i = 0; i < N_TENSORS; i++) f->data[i][0] += 1; /* different content */
    wg_status s = wg_safetensors_write(f->path, N_TENSORS, f->tensors, 2, meta);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(s, WG_ERR_IO);
    assert_non_null(strstr(wg_last_error(), f->path));
    char *after;
    size_t after_size;
    assert_int_equal(wg_read_file(f->path, &after, &after_size), WG_OK);
    assert_int_equal(after_size, before_size);
    assert_memory_equal(after, before, before_size);
    assert_int_equal(td_count_entries(f->dir), 1);
    free(before);
    free(after);
}

static void test_write_into_missing_folder(void **state) {
    fixture *f = *state;
    char *path = td_join(f->dir, "no/such/folder/file.bin");
    assert_int_equal(wg_write_file_atomic(path, "x", 1), WG_ERR_IO);
    assert_non_null(strstr(wg_last_error(), path));
    free(path);
}

/* ---- hostile files ---- */

/* tests/fixtures/checkpoint/<name> in the source tree (a new string). */
static char *fixture_file(const char *name) {
    const char *root = getenv("WGAN_SOURCE_DIR");
    char *dir = td_join(root ? root : ".", "tests/fixtures/checkpoint");
    char *path = td_join(dir, name);
    free(dir);
    return path;
}

/* A `{}` header (once a memcpy from NULL) is an empty file; shapes whose byte size
 * overflows 64 bits (once signed overflow, and a size that wrapped to match) are
 * refused. */
static void test_hostile_headers(void **state) {
    (void)state;
    char *path = fixture_file("empty-header.safetensors");
    wg_safetensors *st = NULL;
    if (wg_safetensors_read(path, &st) != WG_OK) fail_msg("%s", wg_last_error());
    assert_int_equal(wg_safetensors_count(st), 0);
    assert_null(wg_safetensors_find(st, "anything"));
    wg_safetensors_free(st);
    free(path);
    const char *const hostile[] = {"huge-shape.safetensors", "overflow-to-size.safetensors"};
    for (int i = 0; i < 2; i++) {
        path = fixture_file(hostile[i]);
        expect_corrupt(path);
        assert_non_null(strstr(wg_last_error(), "too large"));
        free(path);
    }
}

/* 60000 tensors took 25 s when names were compared pairwise; now n log n. No time is
 * asserted (machines are shared): at this count a quadratic check would take minutes and
 * run past the unit tier's timeout, an n log n one takes a fraction of a second. */
static void test_many_tensors_are_read_in_n_log_n(void **state) {
    fixture *f = *state;
    enum { COUNT = 150000 };
    char(*names)[24] = malloc(COUNT * sizeof *names);
    wg_st_tensor *tensors = malloc(COUNT * sizeof *tensors);
    float *values = malloc(COUNT * sizeof *values);
    uint64_t salt = rng;
    for (int i = 0; i < COUNT; i++) {
        snprintf(names[i], sizeof names[i], "t%llx.%d", (unsigned long long)(salt % 100000), i);
        values[i] = next_float();
        tensors[i] = (wg_st_tensor){names[i], wg_shape1(1), &values[i]};
    }
    double t0 = wg_clock_seconds();
    assert_int_equal(wg_safetensors_write(f->path, COUNT, tensors, 0, NULL), WG_OK);
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(f->path, &st), WG_OK);
    print_message("  %d tensors written and read in %.3f s\n", COUNT, wg_clock_seconds() - t0);
    for (int k = 0; k < 1000; k++) {
        int i = random_index(COUNT);
        const wg_st_tensor *t = wg_safetensors_find(st, names[i]);
        assert_non_null(t);
        assert_true(t->data[0] == values[i]);
    }
    wg_safetensors_free(st);
    /* one name twice, at a random place: refused by the writer and by the reader */
    int twice = 1 + random_index(COUNT - 1);
    tensors[twice].name = names[twice - 1];
    assert_int_equal(wg_safetensors_write(f->path, COUNT, tensors, 0, NULL), WG_ERR_INVALID);
    wg_buf header = {0};
    wg_buf_puts(&header, "{");
    for (int i = 0; i < COUNT; i++)
        wg_buf_printf(&header,
                      "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                      i ? "," : "", tensors[i].name, 4 * i, 4 * i + 4);
    wg_buf_puts(&header, "}");
    write_raw(f->path, header.data, 4 * COUNT);
    expect_corrupt(f->path);
    assert_non_null(strstr(wg_last_error(), "appears twice"));
    wg_buf_free(&header);
    free(names);
    free(tensors);
    free(values);
}

/* ---- the checkpoints of a run ---- */

/* A weight-clipped run (its projection plan moves the random step too) of 6 steps,
 * checkpointed every 3, in <dir>/<name>; stop_after 3 leaves it resumable at step 3. */
static wg_status train(const char *dir, const char *name, int64_t stop_after, bool resume) {
    char *config = td_join(dir, "ck.yaml"), *out = td_join(dir, name);
    td_write_text(config, "name: ck\nseed: 5\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
                          "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"
                          "lipschitz: {plugin: weight_clip}\n"
                          "train: {batch: 16, steps: 6, n_critic: 2, log_every: 3, "
                          "sample_every: 0, checkpoint_every: 3, samples: 16}\n");
    wg_experiment_options o = {.config_path = resume ? NULL : config,
                               .resume_dir = resume ? out : NULL,
                               .out_dir = resume ? NULL : out,
                               .progress = WG_PROGRESS_QUIET,
                               .stop_after = stop_after};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    wg_experiment_free(e);
    free(config);
    free(out);
    return s;
}

static const char *const meta_keys[] = {"format",     "name",     "generator_step", "critic_step",
                                        "data_index", "rng_step", "seed",           "wgan_version"};
enum { N_META = sizeof meta_keys / sizeof *meta_keys };

/* Rewrites <dir>/<name>/checkpoint.safetensors with metadata `key` set to `value`
 * (NULL: unchanged) and, when poison, a NaN in the middle of tensor `poisoned`. */
static void tamper(const char *dir, const char *name, const char *key, const char *value,
                   int poisoned) {
    char *run = td_join(dir, name), *path = td_join(run, "checkpoint.safetensors");
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(path, &st), WG_OK);
    int n = wg_safetensors_count(st);
    wg_st_tensor *t = malloc((size_t)n * sizeof *t);
    float *copy = NULL;
    for (int i = 0; i < n; i++) t[i] = *wg_safetensors_at(st, i);
    if (poisoned >= 0) {
        int64_t numel = wg_shape_numel(&t[poisoned].shape);
        copy = malloc((size_t)numel * sizeof *copy);
        memcpy(copy, t[poisoned].data, (size_t)numel * sizeof *copy);
        copy[numel / 2] = NAN;
        t[poisoned].data = copy;
    }
    wg_st_meta m[N_META];
    for (int i = 0; i < N_META; i++) {
        m[i] = (wg_st_meta){meta_keys[i], wg_safetensors_meta(st, meta_keys[i])};
        assert_non_null(m[i].value);
        if (key && !strcmp(key, meta_keys[i])) m[i].value = value;
    }
    char *saved = td_join(run, "checkpoint.good");
    assert_int_equal(rename(path, saved), 0);
    assert_int_equal(wg_safetensors_write(path, n, t, N_META, m), WG_OK);
    wg_safetensors_free(st);
    free(copy);
    free(t);
    free(saved);
    free(path);
    free(run);
}

static void restore_good(const char *dir, const char *name) {
    char *run = td_join(dir, name), *path = td_join(run, "checkpoint.safetensors"),
         *saved = td_join(run, "checkpoint.good");
    assert_int_equal(rename(saved, path), 0);
    free(saved);
    free(path);
    free(run);
}

static void expect_refused(const char *dir, const char *why, const char *detail) {
    wg_status s = train(dir, "run", 0, true);
    const char *msg = wg_last_error();
    if (s == WG_OK || !strstr(msg, why) || (detail && !strstr(msg, detail)))
        fail_msg("resume gave %s '%s', want a refusal mentioning '%s'", wg_status_name(s), msg,
                 why);
    print_message("  refused: %s\n", msg);
    restore_good(dir, "run");
}

/* Counters at or past 2^63, counters that disagree with the configuration or with each
 * other, and NaN weights are refused when resuming, naming what is wrong; the intact
 * checkpoint then resumes to the end. */
static void test_resume_checks_every_counter(void **state) {
    fixture *f = *state;
    if (train(f->dir, "run", 3, false) != WG_OK) fail_msg("%s", wg_last_error());
    tamper(f->dir, "run", "generator_step", "9223372036854775808", -1);
    expect_refused(f->dir, "past train.steps", NULL);
    tamper(f->dir, "run", "generator_step", "18446744073709551616", -1);
    expect_refused(f->dir, "generator_step", "not a number");
    tamper(f->dir, "run", "critic_step", "7", -1); /* 3 steps of n_critic 2 make 6 */
    expect_refused(f->dir, "critic step 7", "make 6");
    tamper(f->dir, "run", "data_index", "5", -1);
    expect_refused(f->dir, "data index 5", NULL);
    tamper(f->dir, "run", "rng_step", "9223372036854775807", -1);
    expect_refused(f->dir, "random step", NULL);
    char *run = td_join(f->dir, "run"), *path = td_join(run, "checkpoint.safetensors");
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(path, &st), WG_OK);
    int victim = random_index(wg_safetensors_count(st));
    char victim_name[256];
    snprintf(victim_name, sizeof victim_name, "'%s'", wg_safetensors_at(st, victim)->name);
    wg_safetensors_free(st);
    tamper(f->dir, "run", NULL, NULL, victim);
    expect_refused(f->dir, victim_name, "nan");
    if (train(f->dir, "run", 0, true) != WG_OK) fail_msg("%s", wg_last_error());
    assert_int_equal(wg_safetensors_read(path, &st), WG_OK);
    assert_string_equal(wg_safetensors_meta(st, "generator_step"), "6");
    wg_safetensors_free(st);
    free(path);
    free(run);
}

/* The closed form of the critic schedule that checkpoints are checked against. */
static void test_critic_steps_before_matches_the_schedule(void **state) {
    (void)state;
    for (int warmup = 0; warmup < 2; warmup++) {
        wg_experiment e = {.cfg = {.warmup = warmup, .n_critic = 1 + random_index(9)}};
        int64_t sum = 0, last = 1200 + random_index(2000);
        for (int64_t g = 0; g <= last; g++) {
            if (exp_critic_steps_before(&e, g) != sum)
                fail_msg("warmup %d n_critic %d: %lld critic steps before %lld, the schedule "
                         "makes %lld",
                         warmup, e.cfg.n_critic, (long long)exp_critic_steps_before(&e, g),
                         (long long)g, (long long)sum);
            sum += exp_critic_iterations(&e, g);
        }
    }
}

int main(void) {
    rng ^= (uint64_t)time(NULL) * 0x2545F4914F6CDD1Dull;
    printf("test_checkpoint: random seed %llu\n", (unsigned long long)rng);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout_follows_the_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_previous_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_into_missing_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_tensors_are_read_in_n_log_n, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_checks_every_counter, setup, teardown),
        cmocka_unit_test(test_critic_steps_before_matches_the_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
