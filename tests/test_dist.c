/* wgan under mpirun (runtime/dist, runtime/sweep/runner.c, runtime/train/shard.c): a
 * data-parallel `wgan run` on two ranks gives one process's losses to 1e-5; a sweep
 * spread over two ranks gives the rows one process gives; a rank killed mid-sweep loses
 * nothing that was finished, and the next comparison continues; `wgan devices` under
 * two ranks. Skipped, visibly, without mpirun or in a build without MPI. Slow (e2e):
 * a dozen short runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/clock.h"
#include "io/fileio.h"
#include "program.h"
#include "report/report.h"
#include "tiers.h"
#include "tmpdir.h"

static const char *const tiny_yaml =
    "name: tiny\nseed: 1\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
    "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"
    "lipschitz: {plugin: weight_clip}\n"
    "train: {batch: 16, steps: 20, n_critic: 1, log_every: 10, sample_every: 10, "
    "checkpoint_every: 10, samples: 16}\n";

typedef struct fixture {
    char *dir, *program, *mpirun;
} fixture;

/* `name` on $PATH, or NULL */
static char *find_tool(const char *name) {
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        char candidate[4200];
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, p, name);
        if (len && access(candidate, X_OK) == 0) return strdup(candidate);
        p += len + (p[len] == ':');
    }
    return NULL;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = td_make("wgan-dist");
    f->program = tp_wgan_program();
    f->mpirun = find_tool("mpirun");
    /* containers and CI machines run as root, which Open MPI refuses unless told */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    char *tiny = td_join(f->dir, "tiny.yaml");
    td_write_text(tiny, tiny_yaml);
    free(tiny);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    td_remove(f->dir);
    free(f->program);
    free(f->mpirun);
    free(f);
    return 0;
}

static void need_mpi(const fixture *f) {
#ifndef WGAN_HAVE_MPI
    (void)f;
    wg_test_skip("this build has no MPI (-DWGAN_MPI=ON needs libopenmpi-dev)");
#else
    if (!f->mpirun) wg_test_skip("no mpirun on PATH (apt-get install openmpi-bin)");
    if (!f->program) fail_msg("no wgan program next to this test");
#endif
}

/* Runs a shell command in the fixture's folder; its exit status. */
static int run(const fixture *f, const char *fmt, ...) {
    char command[8192];
    int at = snprintf(command, sizeof command, "cd '%s' && ", f->dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(command + at, sizeof command - (size_t)at, fmt, ap);
    va_end(ap);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *read_text(const fixture *f, const char *name) {
    char *path = td_join(f->dir, name), *text = NULL;
    size_t size = 0;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return text;
}

static void write_file(const fixture *f, const char *name, const char *text) {
    char *path = td_join(f->dir, name);
    td_write_text(path, text);
    free(path);
}

/* `wgan ARGS` alone, then on two ranks; ARGS ends in "--out P", which gets "one" and
 * "two" (the folders Pone and Ptwo, the logs Pone.log and Ptwo.log). */
static void alone_and_on_two_ranks(const fixture *f, const char *args) {
    const char *prefix = strrchr(args, ' ') + 1;
    assert_int_equal(run(f, "'%s' %sone >%sone.log 2>&1", f->program, args, prefix), 0);
    assert_int_equal(run(f, "'%s' --oversubscribe -n 2 '%s' %stwo >%stwo.log 2>&1", f->mpirun,
                         f->program, args, prefix),
                     0);
}

/* Columns that measure the machine, not the run: the cpu's description counts the
 * threads of the cores mpirun bound the rank to. */
static bool machine_column(const char *name) {
    static const char *const names[] = {"ms_per_generator_step", "peak_rss_bytes",
                                        "device_description"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return true;
    return false;
}

static void test_sweep_over_two_ranks_matches_one_process(void **state) {
    fixture *f = *state;
    need_mpi(f);
    write_file(f, "sweep.yaml",
               "name: pair\nexperiments:\n  - tiny.yaml\n"
               "  - {file: tiny.yaml, name: tiny-gp, "
               "set: {lipschitz: {plugin: gradient_penalty}}}\n"
               "devices: [cpu]\nseeds: [1, 2]\n");
    alone_and_on_two_ranks(f, "compare sweep.yaml --out ");
    char *log = read_text(f, "two.log");
    /* both ranks trained: rank 1 took runs 2 and 4 */
    assert_non_null(strstr(log, "rank 1: [2/4]"));
    assert_non_null(strstr(log, "rank 1: [4/4] completed"));
    assert_non_null(strstr(log, "rank 0: [3/4] completed"));
    free(log);
    wg_table one = {0}, two = {0};
    char *path = td_join(f->dir, "one/compare.csv");
    assert_int_equal(wg_table_read(path, &one), WG_OK);
    free(path);
    path = td_join(f->dir, "two/compare.csv");
    assert_int_equal(wg_table_read(path, &two), WG_OK);
    free(path);
    assert_int_equal(one.n_rows, 4);
    assert_int_equal(two.n_rows, one.n_rows);
    assert_int_equal(two.n_cols, one.n_cols);
    int compared = 0;
    for (int c = 0; c < one.n_cols; c++) {
        if (machine_column(one.header[c])) continue;
        assert_string_equal(two.header[c], one.header[c]);
        for (int64_t r = 0; r < one.n_rows; r++) {
            const char *a = wg_table_cell(&one, r, c), *b = wg_table_cell(&two, r, c);
            if (strcmp(a, b))
                fail_msg("row %lld, %s: %s alone, %s on two ranks", (long long)r, one.header[c], a,
                         b);
            compared++;
        }
    }
    assert_true(compared > 20 * 4);
    wg_table_free(&one);
    wg_table_free(&two);
}

/* The pid recorded in a run folder's lock: the run's own process, a child of its rank. */
static pid_t lock_holder(const fixture *f, const char *run_dir) {
    char name[256];
    snprintf(name, sizeof name, "%s/.lock", run_dir);
    char *path = td_join(f->dir, name), *text = NULL;
    size_t size = 0;
    pid_t pid = 0;
    if (wg_file_exists(path) && wg_read_file(path, &text, &size) == WG_OK)
        pid = (pid_t)strtol(text, NULL, 10);
    wg_clear_error();
    free(text);
    free(path);
    return pid;
}

static pid_t parent_of(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    int ppid = 0;
    /* pid (comm) state ppid: comm is "wgan" here, without spaces */
    if (fscanf(file, "%*d %*s %*c %d", &ppid) != 1) ppid = 0;
    fclose(file);
    return (pid_t)ppid;
}

static bool completed(const fixture *f, const char *run_dir) {
    char name[256];
    snprintf(name, sizeof name, "%s/summary.json", run_dir);
    char *path = td_join(f->dir, name), *text = NULL;
    size_t size = 0;
    bool done = wg_file_exists(path) && wg_read_file(path, &text, &size) == WG_OK &&
                strstr(text, "\"state\": \"completed\"");
    wg_clear_error();
    free(text);
    free(path);
    return done;
}

/* Runs a, c (rank 0) and b, d (rank 1); b is long. Rank 1 is killed while b trains,
 * after rank 0 finished a: mpirun ends the job, a stays finished, b keeps a checkpoint
 * (its process got SIGTERM when its rank died), and the same command then keeps a,
 * continues b and whatever else was cut short, and runs the rest. */
static void test_killed_rank_loses_only_its_run(void **state) {
    fixture *f = *state;
    need_mpi(f);
    char *sweep = td_join(f->dir, "kill.yaml");
    td_write_text(sweep, "name: kill\nexperiments:\n  - {file: tiny.yaml, name: a}\n"
                         "  - {file: tiny.yaml, name: b, set: {train.steps: 30000, "
                         "train.log_every: 10000, train.sample_every: 0, "
                         "train.checkpoint_every: 5}}\n"
                         "  - {file: tiny.yaml, name: c}\n  - {file: tiny.yaml, name: d}\n"
                         "devices: [cpu]\n");
    free(sweep);
    char command[8192];
    snprintf(command, sizeof command,
             "cd '%s' && exec '%s' --oversubscribe -n 2 '%s' compare kill.yaml --out k "
             ">k1.log 2>&1",
             f->dir, f->mpirun, f->program);
    pid_t job = fork();
    assert_true(job >= 0);
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    double deadline = wg_clock_seconds() + 240;
    pid_t run_pid = 0, rank1 = 0;
    while (wg_clock_seconds() < deadline && !completed(f, "k/b-cpu")) {
        /* b's process, alive, with its rank as parent (the lock file outlives it) */
        run_pid = lock_holder(f, "k/b-cpu");
        rank1 = run_pid > 0 ? parent_of(run_pid) : 0;
        if (rank1 > 1 && completed(f, "k/a-cpu")) break;
        rank1 = 0;
        struct timespec nap = {0, 50000000};
        nanosleep(&nap, NULL);
    }
    if (rank1 <= 1) fail_msg("run b was not training once a had finished");
    print_message("  killing rank 1 (pid %d) while run b (pid %d) trains\n", (int)rank1,
                  (int)run_pid);
    kill(rank1, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(job, &status, 0), job);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(completed(f, "k/a-cpu"));
    assert_false(completed(f, "k/b-cpu"));
    char *checkpoint = td_join(f->dir, "k/b-cpu/checkpoint.safetensors");
    assert_true(wg_file_exists(checkpoint));
    free(checkpoint);

    assert_int_equal(run(f, "'%s' --oversubscribe -n 2 '%s' compare kill.yaml --out k >k2.log 2>&1",
                         f->mpirun, f->program),
                     0);
    char *log = read_text(f, "k2.log");
    assert_non_null(strstr(log, "k/a-cpu: kept from an earlier comparison"));
    assert_non_null(strstr(log, "b on cpu (continuing)"));
    free(log);
    wg_table table = {0};
    char *path = td_join(f->dir, "k/compare.csv");
    assert_int_equal(wg_table_read(path, &table), WG_OK);
    free(path);
    assert_int_equal(table.n_rows, 4);
    int state_col = wg_table_column(&table, "state"),
        steps = wg_table_column(&table, "generator_steps");
    for (int64_t r = 0; r < table.n_rows; r++) {
        assert_string_equal(wg_table_cell(&table, r, state_col), "completed");
        assert_true(wg_table_number(&table, r, steps) == (r == 1 ? 30000 : 20));
    }
    wg_table_free(&table);
}

static wg_table read_table(const fixture *f, const char *name) {
    wg_table table = {0};
    char *path = td_join(f->dir, name);
    if (wg_table_read(path, &table) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return table;
}

/* WGAN-GP on 8 gaussians with five critic steps: every draw of the step (noise, the
 * penalty's interpolation weights) and every data batch is split between the ranks. */
static const char *const gp_yaml =
    "name: gp\nseed: 3\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
    "arch: {plugin: mlp, hidden: [64, 64]}\nloss: {plugin: wasserstein}\n"
    "lipschitz: {plugin: gradient_penalty, lambda: 0.1}\n"
    "optimizer: {critic: {kind: adam, lr: 1e-3, betas: [0.5, 0.9]}, "
    "generator: {kind: adam, lr: 1e-3, betas: [0.5, 0.9]}}\n"
    "train: {batch: 64, steps: 20, n_critic: 5, log_every: 1, sample_every: 0, "
    "checkpoint_every: 10}\neval: {enabled: false}\n";

static void test_data_parallel_run_matches_one_process(void **state) {
    fixture *f = *state;
    need_mpi(f);
    write_file(f, "gp.yaml", gp_yaml);
    alone_and_on_two_ranks(f, "run gp.yaml --progress lines --out dp-");
    /* rank 0 alone reports and writes */
    char *log = read_text(f, "dp-two.log");
    const char *done = strstr(log, "wgan run: done, 20 generator steps");
    assert_non_null(done);
    assert_null(strstr(done + 1, "wgan run: done"));
    free(log);
    wg_table one = read_table(f, "dp-one/metrics.csv"), two = read_table(f, "dp-two/metrics.csv");
    assert_int_equal(one.n_rows, 20);
    assert_int_equal(two.n_rows, one.n_rows);
    assert_int_equal(two.n_cols, one.n_cols);
    static const char *const losses[] = {"w_estimate", "critic_loss", "generator_loss", "penalty"};
    double worst = 0;
    for (size_t k = 0; k < sizeof losses / sizeof *losses; k++) {
        int c = wg_table_column(&one, losses[k]);
        assert_true(c >= 0);
        assert_int_equal(wg_table_column(&two, losses[k]), c);
        for (int64_t r = 0; r < one.n_rows; r++) {
            double a = wg_table_number(&one, r, c), b = wg_table_number(&two, r, c);
            double rel = fabs(a - b) / fmax(fabs(a), 1e-30);
            if (!(rel <= 1e-5))
                fail_msg("step %lld, %s: %.9g alone, %.9g on two ranks (relative %.3g)",
                         (long long)r + 1, losses[k], a, b, rel);
            worst = fmax(worst, rel);
        }
    }
    /* the shards did not draw the same rows: then the losses would not agree this well
     * with one process, but the runs would not be identical either */
    print_message("[ info     ] largest relative difference of a loss: %.3g\n", worst);
    /* the counters the checkpoint keeps: a resumed run continues either way */
    int step = wg_table_column(&one, "critic_step");
    assert_true(wg_table_number(&two, 19, step) == 100);
    wg_table_free(&one);
    wg_table_free(&two);
    char *checkpoint = td_join(f->dir, "dp-two/checkpoint.safetensors");
    assert_int_equal(access(checkpoint, F_OK), 0);
    free(checkpoint);
}

static void test_batch_must_split_over_the_ranks(void **state) {
    fixture *f = *state;
    need_mpi(f);
    assert_int_equal(run(f, "'%s' --oversubscribe -n 3 '%s' run tiny.yaml --out r >r.log 2>&1",
                         f->mpirun, f->program),
                     2);
    char *log = read_text(f, "r.log");
    static const char expected[] = "train.batch 16 does not split over 3 ranks";
    const char *message = strstr(log, expected);
    assert_non_null(message);
    /* one message, from rank 0, and no run folder */
    assert_null(strstr(message + sizeof expected - 1, expected));
    free(log);
    char *folder = td_join(f->dir, "r");
    assert_int_equal(access(folder, F_OK), -1);
    free(folder);
}

static void test_devices_under_two_ranks(void **state) {
    fixture *f = *state;
    need_mpi(f);
    assert_int_equal(
        run(f, "'%s' --oversubscribe -n 2 '%s' devices >d.log 2>&1", f->mpirun, f->program), 0);
    char *log = read_text(f, "d.log");
    assert_non_null(strstr(log, "rank 0 (local rank 0): auto -> "));
    assert_non_null(strstr(log, "rank 1 (local rank 1): auto -> "));
    free(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_parallel_run_matches_one_process),
        cmocka_unit_test(test_batch_must_split_over_the_ranks),
        cmocka_unit_test(test_devices_under_two_ranks),
        cmocka_unit_test(test_sweep_over_two_ranks_matches_one_process),
        cmocka_unit_test(test_killed_rank_loses_only_its_run),
    };
    return wg_test_run_group("dist", tests, sizeof tests / sizeof *tests, setup, teardown);
}
