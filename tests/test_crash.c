/* kill -9 at random moments: the wgan program, killed again and again while it trains
 * (during start-up, steps, checkpoint writes) and restarted each time with --resume
 * (or afresh when it died before writing its config), ends with a checkpoint
 * byte-identical to that of an uninterrupted run. A cycle that completes is compared
 * and a new one starts, until at least MIN_KILLS kills have landed.
 *
 * The kill moments are fractions of the uninterrupted run's wall time drawn from a
 * fixed seed (WGAN_CRASH_SEED overrides it); the seed and every moment are printed, so
 * a failure can be replayed. Slow (the e2e tier): about ten short runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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
#include "tmpdir.h"

#define MIN_KILLS 12
#define DEFAULT_SEED 20261202u

static const char *const config_yaml =
    "name: crash\nseed: 11\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
    "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"
    "lipschitz: {plugin: weight_clip}\n"
    "train: {batch: 16, steps: 30, n_critic: 1, log_every: 10, sample_every: 10, "
    "checkpoint_every: 2, samples: 16}\n";

/* Starts `wgan run` on the run folder `out`: --resume once it holds a config. */
static pid_t start(const char *program, const char *config, const char *out) {
    char *written = td_join(out, "config.yaml");
    bool resume = wg_file_exists(written);
    free(written);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        if (resume)
            execl(program, program, "run", "--resume", out, "--progress", "quiet", (char *)NULL);
        else
            execl(program, program, "run", config, "--out", out, "--progress", "quiet",
                  (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits up to `seconds` for pid; kills it with SIGKILL if still running. Returns
 * true when it was killed, else its exit status in *code. */
static bool kill_after(pid_t pid, double seconds, int *code) {
    double deadline = wg_clock_seconds() + seconds;
    int status;
    while (wg_clock_seconds() < deadline) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return false;
        }
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) { /* it finished just before the signal */
        *code = WEXITSTATUS(status);
        return false;
    }
    return true;
}

static char *read_all(const char *dir, const char *name, size_t *size) {
    char *path = td_join(dir, name), *data = NULL;
    if (wg_read_file(path, &data, size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return data;
}

static void test_kill_9_resumes_bit_for_bit(void **state) {
    (void)state;
    const char *seed_text = getenv("WGAN_CRASH_SEED");
    uint64_t rng = seed_text ? strtoull(seed_text, NULL, 10) : DEFAULT_SEED;
    print_message("  kill moments from seed %llu (set WGAN_CRASH_SEED to replay another)\n",
                  (unsigned long long)rng);
    char *dir = td_make("wgan-crash"), *program = tp_wgan_program();
    if (!program) fail_msg("no wgan program next to this test");
    char *config = td_join(dir, "crash.yaml"), *whole = td_join(dir, "whole");
    td_write_text(config, config_yaml);

    double t0 = wg_clock_seconds();
    int code = 0;
    pid_t pid = start(program, config, whole);
    assert_false(kill_after(pid, 600, &code));
    assert_int_equal(code, 0);
    double span = wg_clock_seconds() - t0;
    size_t want_size;
    char *want = read_all(whole, "checkpoint.safetensors", &want_size);
    print_message("  uninterrupted run: %.2f s\n", span);

    int kills = 0, cycles = 0;
    while (kills < MIN_KILLS) {
        char name[32];
        snprintf(name, sizeof name, "killed-%d", ++cycles);
        char *out = td_join(dir, name);
        int in_cycle = 0;
        for (;;) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            double fraction = (double)(rng >> 11) * 0x1.0p-53;
            /* the last run of a cycle goes to the end once enough kills have landed */
            double wait = kills >= MIN_KILLS ? 600 : fraction * span;
            pid = start(program, config, out);
            if (!kill_after(pid, wait, &code)) {
                if (code != 0) fail_msg("cycle %d: a restarted run exited with %d", cycles, code);
                break;
            }
            kills++;
            in_cycle++;
            print_message("  cycle %d: kill %d at %.3f of the run's time\n", cycles, kills,
                          fraction);
        }
        size_t got_size;
        char *got = read_all(out, "checkpoint.safetensors", &got_size);
        assert_int_equal(got_size, want_size);
        assert_memory_equal(got, want, want_size);
        char *summary = read_all(out, "summary.json", &got_size);
        assert_non_null(strstr(summary, "\"state\": \"completed\""));
        print_message("  cycle %d: %d kills, final checkpoint identical (%zu bytes)\n", cycles,
                      in_cycle, want_size);
        free(summary);
        free(got);
        free(out);
    }
    print_message("  %d kills in %d cycles, %.1f s in all\n", kills, cycles,
                  wg_clock_seconds() - t0);
    free(want);
    free(whole);
    free(config);
    free(program);
    td_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_resumes_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
