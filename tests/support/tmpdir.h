/* Scratch folders for tests that write files: created under $TMPDIR (or /tmp) and
 * removed with everything in them. */
#ifndef WGAN_TEST_TMPDIR_H
#define WGAN_TEST_TMPDIR_H

/* A new empty folder "<tmp>/<prefix>-XXXXXX"; fails the test when it cannot be made.
 * The returned string is owned by the caller (free()). */
char *td_make(const char *prefix);
/* Removes `path` and everything below it, then frees it; NULL is fine. */
void td_remove(char *path);
/* "<dir>/<name>" in a new string (free()). */
char *td_join(const char *dir, const char *name);
/* The entries of folder `dir` whose names do not start with '.'; fails the test when it
 * cannot be read. */
int td_count_entries(const char *dir);
/* Writes `text` to `path`, failing the test on error. */
void td_write_text(const char *path, const char *text);

/* A CMocka fixture holding one scratch folder per test: setup makes it (named after
 * `prefix`), teardown removes it. */
typedef struct td_fixture {
    char *dir;
} td_fixture;
int td_fixture_setup(void **state, const char *prefix);
int td_fixture_teardown(void **state);

#endif
