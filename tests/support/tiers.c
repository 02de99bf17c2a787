#include "tiers.h"

#include <stdio.h>
#include <string.h>

static size_t skipped;

void wg_test_count_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char why[512];
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    print_message("skipped: %s\n", why);
    skipped++;
}

int wg_test_run_group(const char *group, const struct CMUnitTest *tests, size_t count,
                      CMFixtureFunction setup, CMFixtureFunction teardown) {
    skipped = 0;
    /* 1, not the count of failures: an exit status of 77 or 256 would not read as failed */
    if (_cmocka_run_group_tests(group, tests, count, setup, teardown)) return 1;
    return count > 0 && skipped == count ? WG_TEST_SKIPPED : 0;
}

int wg_test_run_tiers(int argc, char **argv, const char *group, const wg_test_tier *tiers,
                      size_t n_tiers, CMFixtureFunction setup, CMFixtureFunction teardown) {
    const char *only = argc > 1 ? argv[1] : NULL;
    int failed = 0, ran = 0, all_skipped = 1;
    for (size_t i = 0; i < n_tiers; i++) {
        if (only && strcmp(only, tiers[i].name)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s.%s", group, tiers[i].name);
        int r = wg_test_run_group(name, tiers[i].tests, tiers[i].count, setup, teardown);
        ran++;
        if (r == WG_TEST_SKIPPED) continue;
        all_skipped = 0;
        failed |= r;
    }
    if (!ran) {
        fprintf(stderr, "%s: no tier '%s'\n", argv[0], only);
        return 2;
    }
    return failed ? failed : all_skipped ? WG_TEST_SKIPPED : 0;
}
