/* Runs a fuzz target over files and folders of inputs, once each, without libFuzzer: the
 * regression test that ctest runs for every corpus under any compiler (ASan/UBSan with
 * -DWGAN_SANITIZE=ON). A crash, a sanitizer report or a failed check ends the process. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static long run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) abort();
    /* an exact-size copy, so that ASan sees reads past the input's end */
    uint8_t *input = malloc(len ? len : 1);
    if (!input) abort();
    memcpy(input, buf, len);
    free(buf);
    fprintf(stderr, "%s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(input, len);
    free(input);
    return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static long run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        perror(path);
        exit(2);
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            count += run_path(child);
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    long count = 0;
    for (int i = 1; i < argc; i++) count += run_path(argv[i]);
    printf("%ld inputs replayed\n", count);
    return 0;
}
