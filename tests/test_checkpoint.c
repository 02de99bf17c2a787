/* The safetensors writer and reader, checked against the format's definition with a
 * header parser written here, and the atomic file writes checkpoints rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "io/fileio.h"
#include "io/safetensors.h"
#include "tmpdir.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float next_float(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 4.0 - 2.0);
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

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
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
    assert_int_equal(count_entries(f->dir), 1);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout_follows_the_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_previous_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_into_missing_folder, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
