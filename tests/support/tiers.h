/* Test tiers and skips as ctest sees them.
 *
 * A program whose cases belong to several tiers lists them with WG_TEST_TIER in main;
 * CMake reads those names from the source and registers one ctest test per tier
 * (`test_x TIER`, labelled TIER). A program with one tier runs its group through
 * wg_test_run_group, and CMake labels it.
 *
 * CMocka 1.1 exits 0 when cases skip, so a skipped case is counted (wg_test_skip) and
 * a run in which every case skipped exits with WG_TEST_SKIPPED, ctest's
 * SKIP_RETURN_CODE. */
#ifndef WGAN_TEST_TIERS_H
#define WGAN_TEST_TIERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define WG_TEST_SKIPPED 77

/* Skips the running case, counted; `why` is printed (a resource that is absent). */
#define wg_test_skip(...)                                                                          \
    do {                                                                                           \
        wg_test_count_skip(__VA_ARGS__);                                                           \
        skip();                                                                                    \
    } while (0)
void wg_test_count_skip(const char *fmt, ...);

/* Runs one CMocka group: 1 when a case failed, else WG_TEST_SKIPPED when every case
 * skipped, else 0. */
int wg_test_run_group(const char *group, const struct CMUnitTest *tests, size_t count,
                      CMFixtureFunction setup, CMFixtureFunction teardown);

typedef struct wg_test_tier {
    const char *name; /* unit, backend, e2e or browser */
    const struct CMUnitTest *tests;
    size_t count;
} wg_test_tier;
#define WG_TEST_TIER(name, tests)                                                                  \
    { #name, tests, sizeof tests / sizeof *tests }

/* Runs the tier named by argv[1] as the group "<group>.<tier>", or every tier when
 * there is no argument; exit status 2 for a tier the program does not have. */
int wg_test_run_tiers(int argc, char **argv, const char *group, const wg_test_tier *tiers,
                      size_t n_tiers, CMFixtureFunction setup, CMFixtureFunction teardown);

#endif
