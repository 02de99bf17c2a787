/* Running a sweep: every run in a child process of its own, so that a crash is one
 * failed run, each run's peak RSS is its own, and the parent never initialises OpenMP
 * or OpenCL (neither survives a fork). Then compare.csv and report.html.
 *
 * Under an MPI launcher with K ranks (docs/scaling.md), rank 0 checks the sweep and
 * hands the result to every rank, run i goes to rank i mod K, each rank leaves a line
 * about each of its runs in the comparison folder (which every rank must share), and
 * rank 0 writes the reports once all have finished, as one process would. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep.h"
#include "dist/dist.h"

/* ---- child processes ---- */

static volatile sig_atomic_t stop_requested;
static volatile pid_t current_child;

static void forward_signal(int sig) {
    stop_requested = 1;
    if (current_child > 0) kill(current_child, sig);
}

typedef int (*child_fn)(void *arg, int fd);

typedef struct child_outcome {
    int code;   /* exit status, or -1 when killed by a signal */
    int signal; /* the signal that killed it */
    double peak_rss_bytes;
    wg_buf output; /* what the child wrote to its pipe */
} child_outcome;

static wg_status run_in_child(child_fn fn, void *arg, child_outcome *out) {
    *out = (child_outcome){0};
    int fds[2];
    if (pipe(fds) != 0) return wg_fail(WG_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return wg_fail(WG_ERR_IO, "cannot start a process: %s", strerror(errno));
    }
    if (pid == 0) {
        /* its own process group: a terminal's Ctrl-C reaches the parent, which passes
         * it on once (a second one would stop the run without its checkpoint) */
        setpgid(0, 0);
#ifdef __linux__
        /* a run must not outlive the sweep that started it (a killed rank): it stops
         * with a checkpoint as on SIGTERM, and the next comparison continues it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        close(fds[0]);
        int code = fn(arg, fds[1]);
        close(fds[1]);
        fflush(NULL);
        _exit(code);
    }
    setpgid(pid, pid);
    current_child = pid;
    close(fds[1]);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        wg_buf_append(&out->output, chunk, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    struct rusage usage = {0};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    current_child = 0;
    out->peak_rss_bytes = 1024.0 * (double)usage.ru_maxrss; /* Linux reports KiB */
    if (WIFEXITED(status)) {
        out->code = WEXITSTATUS(status);
    } else {
        out->code = -1;
        out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    wg_buf_append(&out->output, "", 0);
    if (out->output.failed) {
        wg_buf_free(&out->output);
        return wg_fail(WG_ERR_NOMEM, "out of memory reading a run's result");
    }
    return WG_OK;
}

static void write_all(int fd, const char *text) {
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

/* ---- what each run is ---- */

typedef struct job {
    const wg_sweep *sweep;
    const wg_sweep_options *options;
    const wg_sweep_experiment *x;
    const char *path; /* the experiment file */
    const char *device;
    int64_t seed; /* -1: the file's own */
    char id[512], dir[4200];
    const char **overrides;
    int n_overrides;
    bool resume;
    /* results */
    char state[32];
    char *message;
    double memory_bytes, peak_rss_bytes, seconds;
} job;

/* Sweep `set:`, then the experiment's own `set:`, then the command line's, then the
 * seed and the name: the more specific wins. */
static wg_status job_overrides(job *j, char *seed_text, char *name_text) {
    const wg_sweep *sw = j->sweep;
    int n = sw->n_overrides + j->x->n_overrides + 2;
    j->overrides = calloc((size_t)n, sizeof *j->overrides);
    if (!j->overrides) return wg_fail(WG_ERR_NOMEM, "out of memory planning the sweep");
    j->n_overrides = 0;
    for (int i = 0; i < sw->n_overrides; i++)
        if (sw->override_nodes[i]) j->overrides[j->n_overrides++] = sw->overrides[i];
    for (int i = 0; i < j->x->n_overrides; i++) j->overrides[j->n_overrides++] = j->x->overrides[i];
    for (int i = 0; i < sw->n_overrides; i++)
        if (!sw->override_nodes[i]) j->overrides[j->n_overrides++] = sw->overrides[i];
    if (j->seed >= 0) {
        snprintf(seed_text, 32, "seed=%lld", (long long)j->seed);
        j->overrides[j->n_overrides++] = seed_text;
    }
    snprintf(name_text, 160, "name=%s", j->x->label);
    j->overrides[j->n_overrides++] = name_text;
    return WG_OK;
}

static void device_folder_name(const char *spec, char *out, size_t size) {
    size_t k = 0;
    for (const char *p = spec; *p && k + 1 < size; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-' || *p == '.')
            out[k++] = *p;
    out[k] = 0;
    if (!k) snprintf(out, size, "device");
}

/* ---- the check before any training ---- */

typedef struct precheck {
    job *jobs; /* one per experiment, first device and seed */
    int n_jobs;
    const wg_sweep *sweep;
} precheck;

static int fail_to_pipe(int fd, wg_status s) {
    char header[64];
    snprintf(header, sizeof header, "E %d\n", (int)s);
    write_all(fd, header);
    write_all(fd, wg_last_error());
    return s == WG_ERR_CONFIG ? 2 : 1;
}

static int precheck_child(void *arg, int fd) {
    precheck *p = arg;
    const wg_sweep *sw = p->sweep;
    for (int d = 0; d < sw->n_devices; d++) {
        if (!strcmp(sw->devices[d], "all")) {
            char *list = NULL;
            size_t size = 0;
            FILE *f = open_memstream(&list, &size);
            wg_status s = f ? wg_device_list(f) : wg_fail(WG_ERR_NOMEM, "out of memory");
            if (f) fclose(f);
            if (s != WG_OK) {
                free(list);
                return fail_to_pipe(fd, s);
            }
            /* "SPEC   description" per line */
            for (char *line = list; line && *line;) {
                char *end = strchr(line, '\n');
                size_t len = strcspn(line, " \t\n");
                if (len) {
                    char spec[128];
                    snprintf(spec, sizeof spec, "D %.*s\n", (int)len, line);
                    write_all(fd, spec);
                }
                line = end ? end + 1 : NULL;
            }
            free(list);
            continue;
        }
        wg_device *device = NULL;
        wg_status s = wg_device_open(sw->devices[d], &device);
        if (s != WG_OK) {
            char message[2048];
            snprintf(message, sizeof message, "%s", wg_last_error());
            if (sw->device_nodes[d])
                s = wg_cfg_error(sw->device_nodes[d], "device '%s': %s", sw->devices[d], message);
            else
                s = wg_fail(WG_ERR_CONFIG, "device '%s': %s", sw->devices[d], message);
            return fail_to_pipe(fd, s);
        }
        wg_device_close(device);
        char line[300];
        snprintf(line, sizeof line, "D %s\n", sw->devices[d]);
        write_all(fd, line);
    }
    for (int i = 0; i < p->n_jobs; i++) {
        job *j = &p->jobs[i];
        wg_experiment_options o = {.config_path = j->path,
                                   .overrides = j->overrides,
                                   .n_overrides = j->n_overrides,
                                   .out_dir = j->dir,
                                   .progress = WG_PROGRESS_QUIET};
        wg_experiment *e = NULL;
        wg_status s = wg_experiment_load(&o, &e);
        wg_experiment_free(e);
        if (s != WG_OK) {
            char message[4096];
            wg_sweep_locate_error(sw, wg_last_error(), message, sizeof message);
            wg_fail(s, "%s", message);
            return fail_to_pipe(fd, s == WG_ERR_CONFIG ? s : WG_ERR_CONFIG);
        }
    }
    write_all(fd, "OK\n");
    return 0;
}

/* ---- one run ---- */

static void request_stop(int sig) {
    (void)sig;
    wg_experiment_request_stop();
    signal(sig, SIG_DFL); /* a second one stops at once, as in `wgan run` */
}

static int run_child(void *arg, int fd) {
    job *j = arg;
    signal(SIGINT, request_stop);
    signal(SIGTERM, request_stop);
    wg_experiment_options o = {.config_path = j->resume ? NULL : j->path,
                               .resume_dir = j->resume ? j->dir : NULL,
                               .overrides = j->overrides,
                               .n_overrides = j->n_overrides,
                               .device = j->device,
                               .out_dir = j->resume ? NULL : j->dir,
                               .progress = j->options->progress};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    char *message = strdup(s == WG_OK ? "" : wg_last_error());
    int code = s == WG_OK ? (wg_experiment_interrupted(e) ? 130 : 0) : s == WG_ERR_CONFIG ? 2 : 1;
    wg_experiment_info info;
    double plan = NAN, persistent = NAN;
    if (e && wg_experiment_info_get(e, &info) == WG_OK) {
        plan = (double)info.plan_bytes;
        persistent = (double)info.persistent_bytes;
    }
    char header[128];
    snprintf(header, sizeof header, "%.0f %.0f\n", plan, persistent);
    write_all(fd, header);
    write_all(fd, message ? message : "out of memory");
    free(message);
    wg_experiment_free(e);
    return code;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void set_message(job *j, const char *text) {
    free(j->message);
    j->message = strdup(text ? text : "");
}

/* "wgan compare", or "wgan compare: rank r" in a job of several ranks */
static const char *who(void) {
    static char text[64];
    if (wg_dist_size() == 1) return "wgan compare";
    snprintf(text, sizeof text, "wgan compare: rank %d", wg_dist_rank());
    return text;
}

static void execute_job(job *j, int index, int total, bool quiet) {
    if (!quiet)
        fprintf(stderr, "%s: [%d/%d] %s on %s%s -> %s\n", who(), index + 1, total, j->x->label,
                j->device, j->resume ? " (continuing)" : "", j->dir);
    double t0 = now_seconds();
    child_outcome out;
    wg_status s = run_in_child(run_child, j, &out);
    j->seconds = now_seconds() - t0;
    if (s != WG_OK) {
        snprintf(j->state, sizeof j->state, "failed");
        set_message(j, wg_last_error());
        return;
    }
    j->peak_rss_bytes = out.peak_rss_bytes;
    const char *text = out.output.data ? out.output.data : "";
    char *rest = NULL;
    double plan = strtod(text, &rest);
    double persistent = strtod(rest, &rest);
    if (rest && *rest == '\n') rest++;
    /* zero: the run failed before its graphs were planned */
    if (isfinite(plan) && isfinite(persistent) && plan + persistent > 0)
        j->memory_bytes = plan + persistent;
    if (out.code == 0) {
        snprintf(j->state, sizeof j->state, "completed");
    } else if (out.code == 130) {
        snprintf(j->state, sizeof j->state, "interrupted");
    } else if (out.code < 0) {
        char message[256];
        snprintf(message, sizeof message, "the run's process was killed by signal %d (%s)",
                 out.signal, strsignal(out.signal));
        snprintf(j->state, sizeof j->state, "crashed");
        set_message(j, message);
    } else {
        snprintf(j->state, sizeof j->state, "failed");
        set_message(j, rest && *rest ? rest : "failed without a message");
    }
    if (!quiet) {
        fprintf(stderr, "%s: [%d/%d] %s after %.1f s", who(), index + 1, total, j->state,
                j->seconds);
        if (j->message && *j->message) fprintf(stderr, ": %s", j->message);
        fputc('\n', stderr);
    }
    wg_buf_free(&out.output);
}

/* A run folder from an earlier, interrupted comparison in the same folder: a
 * finished run (completed, diverged or failed) is kept, an unfinished one continues
 * from its checkpoint. */
static void earlier_run(job *j) {
    char path[4300];
    snprintf(path, sizeof path, "%s/config.yaml", j->dir);
    if (!wg_file_exists(path)) return;
    wg_run_info r;
    if (wg_run_load(j->dir, &r) != WG_OK) {
        wg_clear_error();
        return;
    }
    if (r.summary && strcmp(r.state, "interrupted"))
        snprintf(j->state, sizeof j->state, "kept");
    else
        j->resume = true;
    wg_run_free(&r);
}

/* ---- the reports ---- */

/* The plugins a run would have used, from its experiment file and overrides: for a run
 * that never started, so that it still lands in its method's row. */
static void plugins_of(const job *j, wg_run_info *r) {
    wg_cfg *cfg = NULL;
    if (wg_cfg_load_file(j->path, &cfg) == WG_OK) {
        for (int i = 0; i < j->n_overrides; i++) wg_cfg_set_arg(cfg, j->overrides[i]);
        static const char *const keys[] = {"data.plugin", "loss.plugin", "lipschitz.plugin"};
        char **fields[] = {&r->data, &r->loss, &r->lipschitz};
        for (int k = 0; k < 3; k++) {
            const char *name = NULL;
            if (wg_cfg_string(cfg, keys[k], k == 2 ? "none" : "", &name) != WG_OK) continue;
            char *copy = strdup(name ? name : "");
            if (!copy) continue;
            free(*fields[k]);
            *fields[k] = copy;
        }
    }
    wg_cfg_free(cfg);
    wg_clear_error();
}

static wg_status write_reports(const wg_sweep_options *o, job *jobs, int n, int *n_failed) {
    char path[4300];
    wg_table old = {0};
    snprintf(path, sizeof path, "%s/compare.csv", o->out_dir);
    if (wg_file_exists(path) && wg_table_read(path, &old) != WG_OK) wg_clear_error();
    wg_run_info *runs = calloc((size_t)(n ? n : 1), sizeof *runs);
    if (!runs) {
        wg_table_free(&old);
        return wg_fail(WG_ERR_NOMEM, "out of memory writing the comparison");
    }
    wg_status s = WG_OK;
    int loaded = 0;
    for (int i = 0; i < n && s == WG_OK; i++) {
        job *j = &jobs[i];
        if ((s = wg_run_load(j->dir, &runs[i])) != WG_OK) break;
        loaded++;
        wg_run_info *r = &runs[i];
        free(r->id);
        free(r->name);
        free(r->device_spec);
        r->id = strdup(j->id);
        r->name = strdup(j->x->label);
        r->device_spec = strdup(j->device);
        if (r->seed < 0) r->seed = j->seed;
        if (!strcmp(j->state, "kept")) {
            /* measured by the comparison that ran it */
            for (int64_t row = 0; row < old.n_rows; row++)
                if (!strcmp(wg_table_cell(&old, row, wg_table_column(&old, "run")), j->id)) {
                    j->memory_bytes =
                        wg_table_number(&old, row, wg_table_column(&old, "memory_bytes"));
                    j->peak_rss_bytes =
                        wg_table_number(&old, row, wg_table_column(&old, "peak_rss_bytes"));
                }
        }
        if (isfinite(j->memory_bytes)) r->memory_bytes = j->memory_bytes;
        if (isfinite(j->peak_rss_bytes)) r->peak_rss_bytes = j->peak_rss_bytes;
        if (!*r->data) plugins_of(j, r);
        /* the child's word where the folder has none (it never started, or crashed) */
        if (!r->summary && *j->state && strcmp(j->state, "kept")) {
            free(r->state);
            r->state = strdup(j->state);
        }
        if (!r->summary && j->message && *j->message) {
            free(r->message);
            r->message = strdup(j->message);
        }
        if (!r->id || !r->name || !r->device_spec || !r->state || !r->message)
            s = wg_fail(WG_ERR_NOMEM, "out of memory writing the comparison");
    }
    wg_table_free(&old);
    const char *baseline = n ? jobs[0].sweep->baseline : NULL;
    if (s == WG_OK && baseline) s = wg_mark_baseline(runs, n, baseline);
    wg_buf csv = {0};
    if (s == WG_OK) {
        wg_compare_csv(runs, n, &csv);
        s = csv.failed ? wg_fail(WG_ERR_NOMEM, "out of memory writing the comparison")
                       : wg_write_file_atomic(path, csv.data, csv.len);
    }
    wg_buf_free(&csv);
    for (int i = 0; i < loaded; i++) wg_run_free(&runs[i]);
    free(runs);
    if (s != WG_OK) return s;

    /* the page from what compare.csv says, so `wgan report DIR` gives the same */
    int n_runs = 0;
    if ((s = wg_compare_load(o->out_dir, &runs, &n_runs)) != WG_OK) return s;
    for (int i = 0; i < n_runs; i++) *n_failed += wg_run_failed(&runs[i]);
    wg_buf html = {0}, md = {0};
    s = wg_compare_markdown(runs, n_runs, &md);
    snprintf(path, sizeof path, "%s/compare.md", o->out_dir);
    if (s == WG_OK) s = wg_write_file_atomic(path, md.data ? md.data : "", md.len);
    if (s == WG_OK && !o->quiet && md.data) fputs(md.data, stdout);
    wg_buf_free(&md);
    char title[256];
    snprintf(title, sizeof title, "wgan compare: %s", jobs && n ? jobs[0].sweep->name : "");
    wg_report_options ro = {title, o->command};
    if (s == WG_OK) s = wg_report_html(runs, n_runs, &ro, &html);
    snprintf(path, sizeof path, "%s/report.html", o->out_dir);
    if (s == WG_OK) s = wg_write_file_atomic(path, html.data, html.len);
    wg_buf_free(&html);
    for (int i = 0; i < n_runs; i++) wg_run_free(&runs[i]);
    free(runs);
    return s;
}

/* ---- several ranks ---- */

/* Rank 0's check, handed to every rank: "<status> <code> <signal> <nonce>\n" then the
 * check's output or the error message. The nonce names this comparison, in the token
 * file every rank must see and in each rank's result lines. */
static wg_status share_check(wg_status *s, child_outcome *check, char *nonce, size_t size) {
    wg_buf b = {0};
    if (wg_dist_rank() == 0)
        wg_buf_printf(&b, "%d %d %d %s\n%s", (int)*s, check->code, check->signal, nonce,
                      *s != WG_OK          ? wg_last_error()
                      : check->output.data ? check->output.data
                                           : "");
    wg_status shared = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory") : wg_dist_broadcast(&b);
    if (shared == WG_OK && wg_dist_rank() != 0) {
        int status = 0, used = 0;
        char word[64] = "";
        if (!b.data || sscanf(b.data, "%d %d %d %63s %n", &status, &check->code, &check->signal,
                              word, &used) < 4) {
            shared =
                wg_fail(WG_ERR_IO, "rank %d: a garbled check came from rank 0", wg_dist_rank());
        } else {
            snprintf(nonce, size, "%s", word);
            const char *rest = strchr(b.data, '\n') + 1;
            *s = (wg_status)status;
            if (*s != WG_OK) wg_fail(*s, "%s", rest);
            wg_buf_free(&check->output);
            wg_buf_puts(&check->output, rest);
            wg_buf_append(&check->output, "", 0);
        }
    }
    wg_buf_free(&b);
    return shared;
}

static void token_path(const wg_sweep_options *o, char *path, size_t size) {
    snprintf(path, size, "%s/.ranks/comparison", o->out_dir);
}

/* Rank 0 writes the nonce where every rank must read it back: the run folders and the
 * result lines only meet if the comparison folder is one folder for all. */
static wg_status check_shared_folder(const wg_sweep_options *o, const char *nonce) {
    char path[4400];
    snprintf(path, sizeof path, "%s/.ranks", o->out_dir);
    wg_status s = WG_OK;
    if (wg_dist_rank() == 0) {
        if ((s = wg_make_dirs(path)) == WG_OK) {
            token_path(o, path, sizeof path);
            s = wg_write_file_atomic(path, nonce, strlen(nonce));
        }
    }
    bool ok = s == WG_OK, all = false;
    /* rank 0's failure, if any, is what everyone reports */
    wg_status first = wg_dist_all(ok, &all);
    if (first != WG_OK || !ok) return first != WG_OK ? first : s;
    if (!all) return WG_OK; /* left to rank 0 */
    char *text = NULL;
    size_t size = 0;
    token_path(o, path, sizeof path);
    ok = wg_read_file(path, &text, &size) == WG_OK && size == strlen(nonce) &&
         !memcmp(text, nonce, size);
    free(text);
    wg_clear_error();
    if ((s = wg_dist_all(ok, &all)) != WG_OK) return s;
    if (all) return WG_OK;
    return wg_fail(WG_ERR_CONFIG,
                   "%s: %s is not the same folder on every rank%s: put the comparison on a "
                   "file system all the job's machines share (docs/scaling.md)",
                   who(), o->out_dir, ok ? "" : " (this rank does not see rank 0's files)");
}

static void result_path(const job *j, char *path, size_t size) {
    snprintf(path, size, "%s/.ranks/%s", j->options->out_dir, j->id);
}

/* What the rank that ran a job knows of it and its folder does not (the state a child
 * ended in, time, memory, peak RSS, a message), for rank 0's reports. */
static wg_status write_result(const job *j, const char *nonce) {
    char path[4400];
    wg_buf b = {0};
    wg_buf_printf(&b, "%s\t%s\t%.17g\t%.17g\t%.17g\n%s", nonce, *j->state ? j->state : "not run",
                  j->seconds, j->memory_bytes, j->peak_rss_bytes, j->message ? j->message : "");
    result_path(j, path, sizeof path);
    wg_status s = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory") : WG_OK;
    if (s == WG_OK) s = wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    return s;
}

/* Fills a job that another rank ran from its result line of this comparison. */
static bool read_result(job *j, const char *nonce) {
    char path[4400], word[64] = "", state[32] = "";
    result_path(j, path, sizeof path);
    char *text = NULL;
    size_t size = 0;
    double seconds = NAN, memory = NAN, rss = NAN;
    bool ok = wg_file_exists(path) && wg_read_file(path, &text, &size) == WG_OK &&
              sscanf(text, "%63[^\t]\t%31[^\t]\t%lf\t%lf\t%lf", word, state, &seconds, &memory,
                     &rss) == 5 &&
              !strcmp(word, nonce);
    wg_clear_error();
    if (ok) {
        snprintf(j->state, sizeof j->state, "%s", state);
        j->seconds = seconds;
        j->memory_bytes = memory;
        j->peak_rss_bytes = rss;
        const char *message = strchr(text, '\n');
        set_message(j, message ? message + 1 : "");
    }
    free(text);
    return ok;
}

/* ---- the sweep ---- */

static bool alloc_jobs(int n, job **jobs, char (**seeds)[32], char (**names)[160]) {
    size_t count = (size_t)(n > 0 ? n : 1);
    *jobs = calloc(count, sizeof **jobs);
    *seeds = calloc(count, sizeof **seeds);
    *names = calloc(count, sizeof **names);
    return *jobs && *seeds && *names;
}

wg_status wg_sweep_execute(const wg_sweep *sw, const wg_sweep_options *o, int *n_failed,
                           bool *interrupted) {
    *n_failed = 0;
    *interrupted = false;
    wg_status s = WG_OK;
    /* the folder is made before the check only when the check needs a file in it */
    const int rank = wg_dist_rank(), ranks = wg_dist_size();
    char base_path[4300] = "";
    if (sw->inline_base) {
        snprintf(base_path, sizeof base_path, "%s/base.yaml", o->out_dir);
        if (rank == 0 && ((s = wg_make_dirs(o->out_dir)) != WG_OK ||
                          (s = wg_cfg_save(sw->inline_base, base_path, 0)) != WG_OK))
            if (ranks == 1) return s; /* else shared with the check below */
    }

    /* seed and name texts live as long as the jobs that point to them */
    int n_seeds = sw->n_seeds ? sw->n_seeds : 1;
    job *jobs = NULL;
    char(*seed_texts)[32] = NULL;
    char(*name_texts)[160] = NULL;
    char **devices = NULL;
    int n_devices = 0, n_jobs = 0;
    child_outcome check = {0};
    int lock = -1;
    bool same_on_every_rank = false;
    if (!alloc_jobs(sw->n_experiments, &jobs, &seed_texts, &name_texts)) {
        s = wg_fail(WG_ERR_NOMEM, "out of memory planning the sweep");
        goto done;
    }

    /* 1. every configuration, and the devices, checked in a child */
    precheck p = {jobs, sw->n_experiments, sw};
    for (int e = 0; e < sw->n_experiments && s == WG_OK; e++) {
        job *j = &jobs[e];
        *j = (job){.sweep = sw,
                   .options = o,
                   .x = &sw->experiments[e],
                   .device = sw->devices[0],
                   .seed = sw->n_seeds ? sw->seeds[0] : -1};
        j->path = *j->x->path ? j->x->path : base_path;
        snprintf(j->dir, sizeof j->dir, "%s/.check", o->out_dir);
        s = job_overrides(j, seed_texts[e], name_texts[e]);
    }
    if (s == WG_OK && rank == 0) s = run_in_child(precheck_child, &p, &check);
    for (int e = 0; e < sw->n_experiments; e++) free(jobs[e].overrides);
    memset(jobs, 0, (size_t)sw->n_experiments * sizeof *jobs);
    /* one comparison per folder at a time (each run also locks its own folder) */
    const char *text = check.output.data ? check.output.data : "";
    if (s == WG_OK && rank == 0 && check.code == 0 && strstr(text, "OK\n") &&
        (s = wg_make_dirs(o->out_dir)) == WG_OK)
        s = wg_lock_folder(o->out_dir, &lock);
    char nonce[64];
    snprintf(nonce, sizeof nonce, "%lx-%llx", (unsigned long)getpid(),
             (unsigned long long)(now_seconds() * 1e9));
    if (ranks > 1) {
        wg_status shared = share_check(&s, &check, nonce, sizeof nonce);
        if (shared != WG_OK)
            s = shared;
        else if (s == WG_OK)
            s = check_shared_folder(o, nonce);
        /* what every rank now knows alike (the check, the folder) rank 0 reports */
        same_on_every_rank = shared == WG_OK;
    }
    if (s != WG_OK) goto done;
    text = check.output.data ? check.output.data : "";
    if (check.code != 0 || !strstr(text, "OK\n")) {
        const char *error = strstr(text, "E ");
        if (error) {
            int status = atoi(error + 2);
            const char *message = strchr(error, '\n');
            s = wg_fail(status == WG_ERR_CONFIG ? WG_ERR_CONFIG : (wg_status)status, "%s",
                        message ? message + 1 : "the check failed");
        } else if (stop_requested) {
            *interrupted = true;
            s = WG_OK;
        } else {
            s = wg_fail(WG_ERR_DEVICE, "checking the sweep's configuration failed (%s %d)",
                        check.code < 0 ? "signal" : "exit status",
                        check.code < 0 ? check.signal : check.code);
        }
        goto done;
    }
    same_on_every_rank = false;
    for (const char *line = text; (line = strstr(line, "D ")); line++) {
        if (line != text && line[-1] != '\n') continue;
        size_t len = strcspn(line + 2, "\n");
        char **grown = realloc(devices, (size_t)(n_devices + 1) * sizeof *grown);
        if (!grown) {
            s = wg_fail(WG_ERR_NOMEM, "out of memory planning the sweep");
            goto done;
        }
        devices = grown;
        devices[n_devices] = strndup(line + 2, len);
        if (!devices[n_devices]) {
            s = wg_fail(WG_ERR_NOMEM, "out of memory planning the sweep");
            goto done;
        }
        bool repeat = false; /* `all` next to a device it includes */
        for (int k = 0; k < n_devices && !repeat; k++)
            repeat = !strcmp(devices[k], devices[n_devices]);
        if (repeat)
            free(devices[n_devices]);
        else
            n_devices++;
    }

    /* 2. the matrix, experiment by experiment so that one method's runs sit together */
    free(jobs);
    free(seed_texts);
    free(name_texts);
    if (!alloc_jobs(sw->n_experiments * n_devices * n_seeds, &jobs, &seed_texts, &name_texts)) {
        s = wg_fail(WG_ERR_NOMEM, "out of memory planning the sweep");
        goto done;
    }
    for (int e = 0; e < sw->n_experiments; e++)
        for (int d = 0; d < n_devices; d++)
            for (int k = 0; k < n_seeds; k++) {
                job *j = &jobs[n_jobs];
                *j = (job){.sweep = sw,
                           .options = o,
                           .x = &sw->experiments[e],
                           .device = devices[d],
                           .seed = sw->n_seeds ? sw->seeds[k] : -1,
                           .memory_bytes = NAN,
                           .peak_rss_bytes = NAN};
                j->path = *j->x->path ? j->x->path : base_path;
                char dev[128];
                device_folder_name(devices[d], dev, sizeof dev);
                if (j->seed >= 0)
                    snprintf(j->id, sizeof j->id, "%s-%s-s%lld", j->x->label, dev,
                             (long long)j->seed);
                else
                    snprintf(j->id, sizeof j->id, "%s-%s", j->x->label, dev);
                snprintf(j->dir, sizeof j->dir, "%s/%s", o->out_dir, j->id);
                if ((s = job_overrides(j, seed_texts[n_jobs], name_texts[n_jobs])) != WG_OK)
                    goto done;
                n_jobs++;
            }

    struct sigaction forward = {0}, old_int, old_term;
    forward.sa_handler = forward_signal;
    sigemptyset(&forward.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &forward, &old_int);
    sigaction(SIGTERM, &forward, &old_term);
    for (int i = rank; i < n_jobs && !stop_requested; i += ranks) {
        earlier_run(&jobs[i]);
        if (!strcmp(jobs[i].state, "kept")) {
            if (!o->quiet)
                fprintf(stderr, "%s: [%d/%d] %s: kept from an earlier comparison\n", who(), i + 1,
                        n_jobs, jobs[i].dir);
        } else {
            execute_job(&jobs[i], i, n_jobs, o->quiet);
        }
        if (ranks > 1 && write_result(&jobs[i], nonce) != WG_OK)
            fprintf(stderr, "%s: %s\n", who(), wg_last_error());
    }
    /* rank 0 reports once every rank is done, or at once when it is stopped */
    if (ranks > 1) s = wg_dist_barrier(&stop_requested, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    *interrupted = stop_requested != 0;
    if (s != WG_OK || rank != 0) goto done;
    for (int i = 0; i < n_jobs; i++)
        if (i % ranks != 0 && !read_result(&jobs[i], nonce) && !*interrupted) {
            snprintf(jobs[i].state, sizeof jobs[i].state, "failed");
            char message[128];
            snprintf(message, sizeof message, "rank %d ended without a word about this run",
                     i % ranks);
            set_message(&jobs[i], message);
        }
    for (int i = 0; i < n_jobs; i++)
        if (!*jobs[i].state && *interrupted)
            snprintf(jobs[i].state, sizeof jobs[i].state, "not run");

    /* 3. the reports */
    s = write_reports(o, jobs, n_jobs, n_failed);

done:
    if (same_on_every_rank && rank != 0 && s != WG_OK) {
        wg_clear_error();
        s = WG_OK;
    }
    wg_unlock_folder(&lock);
    for (int i = 0; i < n_jobs; i++) {
        free(jobs[i].overrides);
        free(jobs[i].message);
    }
    for (int i = 0; i < n_devices; i++) free(devices[i]);
    free(devices);
    free(jobs);
    free(seed_texts);
    free(name_texts);
    wg_buf_free(&check.output);
    return s;
}
