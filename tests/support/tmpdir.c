#include "tmpdir.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *td_make(const char *prefix) {
    const char *tmp = getenv("TMPDIR");
    char *path = td_join(tmp && *tmp ? tmp : "/tmp", prefix);
    size_t len = strlen(path);
    path = realloc(path, len + 8);
    assert_non_null(path);
    memcpy(path + len, "-XXXXXX", 8);
    assert_non_null(mkdtemp(path));
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void td_remove(char *path) {
    if (!path) return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

char *td_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s/%s", dir, name);
    return out;
}

void td_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

int td_fixture_setup(void **state, const char *prefix) {
    td_fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->dir = td_make(prefix);
    *state = f;
    return 0;
}

int td_fixture_teardown(void **state) {
    td_fixture *f = *state;
    td_remove(f->dir);
    free(f);
    return 0;
}

int td_count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
