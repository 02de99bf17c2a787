/* kill -9 at random moments: the wgan program, killed again and again while it trains
 * (during start-up, steps, checkpoint writes) and restarted each time with --resume
 * (or afresh when it died before writing its config), ends with a checkpoint
 * byte-identical to that of an uninterrupted run. A cycle that completes is compared
 * and a new one starts, until at least MIN_KILLS kills have landed.
 *
 * The kill moments are fractions of the uninterrupted run's wall time drawn from a
 * fixed seed (WGAN_CRASH_SEED overrides it); the seed and every moment are printed, so
 * a failure can be replayed. SIGINT and SIGTERM at random moments are tested the same
 * way: each stops the run with exit status 130 and a resumable checkpoint (or, before
 * the handlers are installed, ends it as the default action does), and the resumed
 * runs end byte-identical too. Slow (the e2e tier): about fifteen short runs. */
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
#define MIN_SIGNALS 6
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

/* Waits up to `seconds` for pid, then sends it `sig` if still running. Returns true
 * when the signal landed; *code is the exit status (128 + signal for a death by one). */
static bool signal_after(pid_t pid, double seconds, int sig, int *code) {
    double deadline = wg_clock_seconds() + seconds;
    int status;
    bool sent = false;
    while (wg_clock_seconds() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) goto done;
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    kill(pid, sig);
    sent = true;
    assert_int_equal(waitpid(pid, &status, 0), pid);
done:
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* a run that finished just before the signal did not see it */
    return sent && *code != 0;
}

static char *read_all(const char *dir, const char *name, size_t *size) {
    char *path = td_join(dir, name), *data = NULL;
    if (wg_read_file(path, &data, size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return data;
}

/* What a stop by `sig` must leave: SIGKILL anything; SIGINT and SIGTERM exit status
 * 130 and a summary saying so, or the default action's death before the handlers. */
static void check_stopped(const char *out, int sig, int code, int cycle) {
    if (sig == SIGKILL) return;
    if (code == 128 + sig) return;
    if (code != 130) fail_msg("cycle %d: signal %d gave exit status %d", cycle, sig, code);
    size_t size;
    char *summary = read_all(out, "summary.json", &size);
    assert_non_null(strstr(summary, "\"state\": \"interrupted\""));
    char *checkpoint = td_join(out, "checkpoint.safetensors");
    assert_true(wg_file_exists(checkpoint));
    free(checkpoint);
    free(summary);
}

/* Runs the crash configuration into fresh folders, stopping it with `signals` in turn
 * at random moments of its `span` and resuming, until `min_stops` stops have landed;
 * every cycle's final checkpoint must equal `want`. */
static void stop_and_resume(const char *program, const char *config, const char *dir,
                            const int *signals, int n_signals, int min_stops, double span,
                            const char *want, size_t want_size, uint64_t *rng) {
    int stops = 0, cycles = 0, code = 0;
    while (stops < min_stops) {
        char name[32];
        snprintf(name, sizeof name, "stopped-%d-%d", signals[0], ++cycles);
        char *out = td_join(dir, name);
        int in_cycle = 0;
        for (;;) {
            *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
            double fraction = (double)(*rng >> 11) * 0x1.0p-53;
            int sig = signals[stops % n_signals];
            /* the last run of a cycle goes to the end once enough stops have landed */
            double wait = stops >= min_stops ? 600 : fraction * span;
            pid_t pid = start(program, config, out);
            if (!signal_after(pid, wait, sig, &code)) {
                if (code != 0) fail_msg("cycle %d: a restarted run exited with %d", cycles, code);
                break;
            }
            check_stopped(out, sig, code, cycles);
            stops++;
            in_cycle++;
            print_message("  cycle %d: signal %d (stop %d) at %.3f of the run's time: exit %d\n",
                          cycles, sig, stops, fraction, code);
        }
        size_t got_size;
        char *got = read_all(out, "checkpoint.safetensors", &got_size);
        assert_int_equal(got_size, want_size);
        assert_memory_equal(got, want, want_size);
        char *summary = read_all(out, "summary.json", &got_size);
        assert_non_null(strstr(summary, "\"state\": \"completed\""));
        print_message("  cycle %d: %d stops, final checkpoint identical (%zu bytes)\n", cycles,
                      in_cycle, want_size);
        free(summary);
        free(got);
        free(out);
    }
}

typedef struct crash_fixture {
    char *dir, *program, *config;
    char *want; /* the uninterrupted run's checkpoint */
    size_t want_size;
    double span; /* its wall time */
    uint64_t rng;
} crash_fixture;

static int crash_setup(void **state) {
    crash_fixture *f = calloc(1, sizeof *f);
    const char *seed_text = getenv("WGAN_CRASH_SEED");
    f->rng = seed_text ? strtoull(seed_text, NULL, 10) : DEFAULT_SEED;
    print_message("  stop moments from seed %llu (set WGAN_CRASH_SEED to replay another)\n",
                  (unsigned long long)f->rng);
    f->dir = td_make("wgan-crash");
    f->program = tp_wgan_program();
    if (!f->program) fail_msg("no wgan program next to this test");
    f->config = td_join(f->dir, "crash.yaml");
    td_write_text(f->config, config_yaml);
    char *whole = td_join(f->dir, "whole");
    double t0 = wg_clock_seconds();
    int code = 0;
    assert_false(signal_after(start(f->program, f->config, whole), 600, SIGKILL, &code));
    assert_int_equal(code, 0);
    f->span = wg_clock_seconds() - t0;
    f->want = read_all(whole, "checkpoint.safetensors", &f->want_size);
    print_message("  uninterrupted run: %.2f s\n", f->span);
    free(whole);
    *state = f;
    return 0;
}

static int crash_teardown(void **state) {
    crash_fixture *f = *state;
    td_remove(f->dir);
    free(f->program);
    free(f->config);
    free(f->want);
    free(f);
    return 0;
}

static void test_kill_9_resumes_bit_for_bit(void **state) {
    crash_fixture *f = *state;
    double t0 = wg_clock_seconds();
    const int kill9[] = {SIGKILL};
    stop_and_resume(f->program, f->config, f->dir, kill9, 1, MIN_KILLS, f->span, f->want,
                    f->want_size, &f->rng);
    print_message("  %d kills, %.1f s in all\n", MIN_KILLS, wg_clock_seconds() - t0);
}

static void test_sigint_and_sigterm_stop_resumably(void **state) {
    crash_fixture *f = *state;
    const int stops[] = {SIGINT, SIGTERM};
    stop_and_resume(f->program, f->config, f->dir, stops, 2, MIN_SIGNALS, f->span, f->want,
                    f->want_size, &f->rng);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_resumes_bit_for_bit),
        cmocka_unit_test(test_sigint_and_sigterm_stop_resumably),
    };
    return cmocka_run_group_tests(tests, crash_setup, crash_teardown);
}
