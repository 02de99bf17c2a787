/* The cpu backend's thread pool (runtime/devices/cpu/cpu_pool.c): every item of every
 * loop is run exactly once, by a thread numbered below wg_cpu_threads(), with the job's
 * own context, loop after loop (workers that sleep and wake between them); a loop run
 * inside a chunk runs inline; a forked child gets a pool of its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/cpu/cpu_pool.h"
#include "tiers.h"

typedef struct count_job {
    atomic_int *hits; /* per item */
    int64_t *stamp;   /* per item: the job's tag */
    int64_t tag;
    atomic_int bad_worker;
} count_job;

static void count_range(void *ctx, int64_t first, int64_t end, int worker) {
    count_job *j = ctx;
    if (worker < 0 || worker >= wg_cpu_threads()) atomic_fetch_add(&j->bad_worker, 1);
    for (int64_t i = first; i < end; i++) {
        atomic_fetch_add(&j->hits[i], 1);
        j->stamp[i] = j->tag;
    }
}

static void check_once(int64_t n, int64_t grain, int64_t tag, atomic_int *hits, int64_t *stamp) {
    for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
    count_job j = {hits, stamp, tag, 0};
    wg_cpu_parallel(n, grain, count_range, &j);
    for (int64_t i = 0; i < n; i++) {
        if (atomic_load(&hits[i]) != 1)
            fail_msg("loop %lld (n %lld, grain %lld): item %lld run %d times", (long long)tag,
                     (long long)n, (long long)grain, (long long)i, atomic_load(&hits[i]));
        if (stamp[i] != tag) fail_msg("item %lld holds another loop's tag", (long long)i);
    }
    assert_int_equal(atomic_load(&j.bad_worker), 0);
}

/* Thousands of loops of random sizes and grains in a row, some after a pause long
 * enough for the workers to fall asleep. */
static void test_every_item_once(void **state) {
    (void)state;
    enum { MAX_N = 100000 };
    atomic_int *hits = calloc(MAX_N, sizeof *hits);
    int64_t *stamp = calloc(MAX_N, sizeof *stamp);
    print_message("  %d threads\n", wg_cpu_threads());
    for (int64_t tag = 1; tag <= 3000; tag++) {
        int64_t n = 1 + rand() % (tag % 10 == 0 ? MAX_N : 2000);
        int64_t grain = 1 + rand() % 300;
        check_once(n, grain, tag, hits, stamp);
        if (tag % 500 == 0) {
            struct timespec nap = {0, 2000000}; /* past the workers' spinning */
            nanosleep(&nap, NULL);
        }
    }
    free(hits);
    free(stamp);
}

typedef struct nest_job {
    atomic_int *hits;
    int64_t inner;
} nest_job;

static void inner_range(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    atomic_int *hits = ctx;
    for (int64_t i = first; i < end; i++) atomic_fetch_add(&hits[i], 1);
}

/* each outer item runs a whole inner loop over its own row, inline */
static void outer_range(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    nest_job *j = ctx;
    for (int64_t i = first; i < end; i++)
        wg_cpu_parallel(j->inner, 1, inner_range, j->hits + i * j->inner);
}

static void test_nested_loops_run_inline(void **state) {
    (void)state;
    enum { OUTER = 64, INNER = 500 };
    atomic_int *hits = calloc(OUTER * INNER, sizeof *hits);
    nest_job j = {hits, INNER};
    wg_cpu_parallel(OUTER, 1, outer_range, &j);
    for (int i = 0; i < OUTER * INNER; i++) assert_int_equal(atomic_load(&hits[i]), 1);
    free(hits);
}

static void test_forked_child_has_a_pool(void **state) {
    (void)state;
    enum { N = 50000 };
    atomic_int *hits = calloc(N, sizeof *hits);
    int64_t *stamp = calloc(N, sizeof *stamp);
    check_once(N, 100, 1, hits, stamp); /* the parent's pool is running */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int64_t tag = 2; tag < 50; tag++) {
            for (int64_t i = 0; i < N; i++) atomic_store(&hits[i], 0);
            count_job j = {hits, stamp, tag, 0};
            wg_cpu_parallel(N, 100, count_range, &j);
            for (int64_t i = 0; i < N; i++)
                if (atomic_load(&hits[i]) != 1 || stamp[i] != tag) _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_once(N, 100, 99, hits, stamp); /* and the parent's still works */
    free(hits);
    free(stamp);
}

int main(void) {
    srand((unsigned)time(NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
        cmocka_unit_test(test_nested_loops_run_inline),
        cmocka_unit_test(test_forked_child_has_a_pool),
    };
    return wg_test_run_group("cpu_pool", tests, sizeof tests / sizeof *tests, NULL, NULL);
}
