#include "wgan/status.h"

#include "probe.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/clock.h"

/* The report is a few lines per descriptor; more is garbage and is cut. */
#define MAX_REPORT (256 * 1024)

double wg_probe_timeout(void) {
    const char *env = getenv(WG_PLUGIN_PROBE_TIMEOUT_ENV);
    char *end = NULL;
    double t = env ? strtod(env, &end) : 0;
    return env && end != env && !*end && t > 0 ? t : WG_PLUGIN_PROBE_TIMEOUT;
}

/* Reads the child's report until it closes the pipe or the deadline passes; false on
 * the deadline. */
static bool collect(int fd, double deadline, char **report, size_t *size) {
    size_t capacity = 0;
    for (;;) {
        double left = deadline - wg_clock_seconds();
        if (left <= 0) return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int ready = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue; /* re-checks the deadline */
        if (*size + 4096 + 1 > capacity && capacity < MAX_REPORT) {
            size_t wanted = capacity ? 2 * capacity : 8192;
            char *grown = realloc(*report, wanted);
            if (grown) {
                *report = grown;
                capacity = wanted;
            }
        }
        char sink[4096];
        bool keep = *report && *size + sizeof sink + 1 <= capacity;
        ssize_t n = read(fd, keep ? *report + *size : sink, sizeof sink);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return true;
        if (keep) *size += (size_t)n;
    }
}

wg_status wg_probe_run(const char *path, void (*inspect)(const char *path, int fd), wg_probe *out) {
    *out = (wg_probe){0};
    int fds[2];
    if (pipe(fds) != 0)
        return wg_fail(WG_ERR_PLUGIN, "%s: cannot probe: pipe: %s", path, strerror(errno));
    fflush(NULL); /* a child that calls exit() must not write our buffers a second time */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return wg_fail(WG_ERR_PLUGIN, "%s: cannot probe: fork: %s", path, strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}); /* a crash here is expected */
        /* the caller's handlers (a test framework's, a run's stop request) must not
         * catch what the plugin does in the child */
        const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGINT, SIGTERM};
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) signal(fatal[i], SIG_DFL);
        inspect(path, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    double timeout = wg_probe_timeout();
    char *report = NULL;
    size_t size = 0;
    bool finished = collect(fds[0], wg_clock_seconds() + timeout, &report, &size);
    close(fds[0]);
    int status = 0;
    pid_t waited = 0;
    /* the pipe may close before the child is gone: give it the rest of the time */
    for (double deadline = wg_clock_seconds() + timeout;
         finished && wg_clock_seconds() < deadline;) {
        waited = waitpid(pid, &status, WNOHANG);
        if (waited != 0) break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    if (waited == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(out->failure, sizeof out->failure,
                 "did not finish loading within %g s (hangs?); killed the probe", timeout);
    } else if (waited < 0) {
        snprintf(out->failure, sizeof out->failure, "probe lost: %s", strerror(errno));
    } else if (WIFSIGNALED(status)) {
        snprintf(out->failure, sizeof out->failure, "crashed while loading (signal %d, %s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status) && (WEXITSTATUS(status) != 0 || size < 2 || !report ||
                                     memcmp(report + size - 2, "E\n", 2) != 0)) {
        snprintf(out->failure, sizeof out->failure,
                 "ended the process while loading (exit status %d)", WEXITSTATUS(status));
    } else {
        out->completed = true;
    }
    if (!out->completed) {
        free(report);
        return WG_OK;
    }
    report[size] = 0;
    out->report = report;
    return WG_OK;
}
