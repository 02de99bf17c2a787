#include "fuzz_support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgan/status.h"

static char scratch[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_scratch(void) {
    if (scratch[0]) nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_scratch(void) {
    if (!scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/wgan-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            perror(scratch);
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch;
}

const char *fz_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_scratch(), name);
    return path;
}

void fz_write(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fz_fail(const char *what) {
    fprintf(stderr, "fuzz check failed: %s\nlast error: %s\n", what, wg_last_error());
    abort();
}

int fz_split(const uint8_t *data, size_t size, char **parts, int max) {
    int n = 0;
    size_t start = 0;
    while (n < max) {
        const uint8_t *nul = n + 1 < max ? memchr(data + start, 0, size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        parts[n] = malloc(end - start + 1);
        if (!parts[n]) abort();
        memcpy(parts[n], data + start, end - start);
        parts[n][end - start] = '\0';
        n++;
        if (!nul) break;
        start = end + 1;
    }
    return n;
}
