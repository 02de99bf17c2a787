/* wgan bench: how fast the step graphs of experiments run on a device, against the
 * device's own GEMM rate. Each experiment is loaded and planned as `wgan run` does,
 * warmed up, then timed over a fixed number of steady-state generator steps (n_critic
 * critic steps with their projections, then the generator step, real batches fed from
 * the data plugin); nothing is written to disk. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "cli.h"
#include "devices/cpu/cpu_pool.h"
#include "cli_args.h"
#include "train/experiment.h"
#include "wgan/graph.h"
#include "wgan/session.h"

#define GEMM_SIZE 1024
#define GEMM_RUNS 5
#define PROFILE_TOP 15

typedef struct bench_options {
    const char **experiments;
    int n_experiments;
    const char **overrides;
    int n_overrides;
    const char *device;
    int64_t steps, warmup;
    int repeat;
    int profile, json;
} bench_options;

/* The GEMM rate a device reaches, measured once per device description. */
typedef struct gemm_rate {
    char device[256];
    double flops_per_s; /* what the floor divides by */
    char how[128];      /* what was measured */
    double plan_flops_per_s;
} gemm_rate;

static void usage(FILE *out) {
    fprintf(out,
            "usage: wgan bench EXPERIMENT.yaml... [options]\n"
            "\n"
            "Builds each experiment's step graphs as 'wgan run' does, runs warm-up steps, then\n"
            "times generator steps (n_critic critic steps, each followed by the projection,\n"
            "then one generator step, with real batches from the data plugin; no warm-up\n"
            "schedule, no metrics, nothing written). Prints per experiment: ms per generator\n"
            "step (median over the repeats, min, max), GFLOP/s, the floor (the step's FLOPs at\n"
            "the device's GEMM rate, best of 5 in the same run: cblas_sgemm %d^3 on cpu, a\n"
            "planned matmul on OpenCL), time / floor, and memory (device arenas and\n"
            "persistent tensors; the process's peak RSS).\n"
            "\n"
            "options:\n"
            "  --steps N        generator steps per timed repeat (default 10)\n"
            "  --warmup N       untimed generator steps first (default 2)\n"
            "  --repeat R       timed repeats (default 3)\n"
            "  --device SPEC    auto | cpu | opencl | opencl:N | a vendor or name substring\n"
            "  --set KEY=VALUE  override a key of every experiment (repeatable)\n"
            "  --profile        time every kernel (waiting for each) and print where a step's\n"
            "                   time goes, by op and by op shape (text output only);\n"
            "                   WGAN_PROFILE=1 does the same\n"
            "  --json           one JSON object per experiment on stdout instead of text\n"
            "\n"
            "Timings are of a machine that may be busy: compare medians of runs made side by\n"
            "side. Exit status: 0 done, 1 failed while running, 2 bad usage or configuration.\n",
            GEMM_SIZE);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place and returns its median. */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double smallest(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m) m = v[i];
    return m;
}

static double peak_rss_bytes(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss * 1024; /* Linux reports KiB */
}

/* ---- the device's GEMM rate ---- */

/* Threads the cpu device runs (its pool's count: the CPUs this process may use, or
 * OMP_NUM_THREADS when smaller). */
static int cpu_threads(void) {
    return wg_cpu_threads();
}

static void fill_random(float *v, size_t n) {
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = (float)(x >> 8) / (float)(1u << 24) - 0.5f;
    }
}

/* The GEMM rates are the best of GEMM_RUNS runs: on a shared machine other work only
 * ever slows a run down, and the floor should be what the device can do. */

/* FLOP/s of cblas_sgemm at GEMM_SIZE^3 with OpenBLAS on `threads` threads (the
 * cpu device sets OpenBLAS to one thread and splits GEMMs itself; restored after). */
static wg_status cblas_rate(int threads, double *flops_per_s) {
    const int n = GEMM_SIZE;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b);
    float *c = malloc((size_t)n * n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return wg_fail(WG_ERR_NOMEM, "out of memory measuring GEMM");
    }
    fill_random(a, (size_t)n * n);
    fill_random(b, (size_t)n * n);
    int before = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    double seconds[GEMM_RUNS];
    for (int r = -1; r < GEMM_RUNS; r++) { /* run -1 warms up */
        double start = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        if (r >= 0) seconds[r] = now() - start;
    }
    openblas_set_num_threads(before);
    free(a), free(b), free(c);
    *flops_per_s = 2.0 * n * n * n / smallest(seconds, GEMM_RUNS);
    return WG_OK;
}

/* FLOP/s of a planned GEMM_SIZE^3 matmul on the device, synchronised by reading
 * back a one-element sum of the product. */
static wg_status plan_rate(wg_device *device, double *flops_per_s) {
    const int n = GEMM_SIZE;
    wg_graph *g = wg_graph_new(WG_F32);
    if (!g) return wg_fail(WG_ERR_NOMEM, "out of memory measuring GEMM");
    wg_node a = wg_input(g, wg_shape2(n, n), "a"), b = wg_input(g, wg_shape2(n, n), "b");
    wg_node sum = wg_sum_all(g, wg_matmul(g, a, b, false, false));
    wg_session *session = NULL;
    wg_plan *plan = NULL;
    float *host = malloc((size_t)n * n * sizeof *host);
    wg_status s = host ? wg_session_new(g, device, 1, &session)
                       : wg_fail(WG_ERR_NOMEM, "out of memory measuring GEMM");
    if (s == WG_OK) {
        fill_random(host, (size_t)n * n);
        s = wg_session_write(session, a, host);
    }
    if (s == WG_OK) s = wg_session_write(session, b, host);
    if (s == WG_OK) s = wg_plan_new(session, 1, &sum, &plan);
    double seconds[GEMM_RUNS];
    float out;
    for (int r = -1; r < GEMM_RUNS && s == WG_OK; r++) {
        double start = now();
        s = wg_plan_run(plan);
        if (s == WG_OK) s = wg_plan_read(plan, sum, &out);
        if (r >= 0) seconds[r] = now() - start;
    }
    if (s == WG_OK) *flops_per_s = 2.0 * n * n * n / smallest(seconds, GEMM_RUNS);
    wg_plan_free(plan);
    wg_session_free(session);
    wg_graph_free(g);
    free(host);
    return s;
}

static wg_status measure_gemm(wg_device *device, gemm_rate *rate) {
    snprintf(rate->device, sizeof rate->device, "%s", wg_device_description(device));
    /* profiling would wait after each kernel of the measurement too: harmless */
    wg_status s = plan_rate(device, &rate->plan_flops_per_s);
    if (s != WG_OK) return s;
    if (strcmp(wg_device_kind(device), "cpu") == 0) {
        int threads = cpu_threads();
        s = cblas_rate(threads, &rate->flops_per_s);
        snprintf(rate->how, sizeof rate->how, "cblas_sgemm %d^3, %d thread%s", GEMM_SIZE, threads,
                 threads == 1 ? "" : "s");
    } else {
        rate->flops_per_s = rate->plan_flops_per_s;
        snprintf(rate->how, sizeof rate->how, "planned matmul %d^3", GEMM_SIZE);
    }
    return s;
}

/* ---- the profile ---- */

typedef struct op_total {
    const char *op;
    int index; /* of the profile entry, for shapes */
    int64_t calls;
    double seconds, flops;
} op_total;

static int by_seconds(const void *a, const void *b) {
    double x = ((const op_total *)a)->seconds, y = ((const op_total *)b)->seconds;
    return x > y ? -1 : x < y;
}

/* Time per op and per op shape, per generator step, over the `steps` profiled steps
 * that took `step_seconds` each on average. */
static void print_profile(FILE *out, int64_t steps, double step_seconds) {
    int count = wg_profile_count();
    op_total *ops = calloc((size_t)(count ? count : 1), sizeof *ops);
    op_total *shapes = calloc((size_t)(count ? count : 1), sizeof *shapes);
    if (!ops || !shapes) {
        free(ops), free(shapes);
        return;
    }
    int n_ops = 0;
    double total = 0;
    for (int i = 0; i < count; i++) {
        wg_profile_entry p = wg_profile_get(i);
        shapes[i] = (op_total){p.op, i, p.calls, p.seconds, p.flops};
        total += p.seconds;
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, p.op)) k++;
        if (k == n_ops) ops[n_ops++] = (op_total){p.op, -1, 0, 0, 0};
        ops[k].calls += p.calls, ops[k].seconds += p.seconds, ops[k].flops += p.flops;
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_seconds);
    qsort(shapes, (size_t)count, sizeof *shapes, by_seconds);
    double per = steps > 0 ? (double)steps : 1;
    fprintf(out,
            "  profile     per generator step, kernels waited for one by one: %.1f ms in "
            "kernels of the %.1f ms a profiled step took on average (%.0f%%)\n",
            1e3 * total / per, 1e3 * step_seconds,
            step_seconds > 0 ? 100 * total / per / step_seconds : 0);
    fprintf(out, "    %-24s %7s %9s %6s %9s\n", "op", "calls", "ms", "%", "GFLOP/s");
    for (int k = 0; k < n_ops && ops[k].calls > 0; k++)
        fprintf(out, "    %-24s %7.0f %9.2f %6.1f %9.2f\n", ops[k].op, ops[k].calls / per,
                1e3 * ops[k].seconds / per, total > 0 ? 100 * ops[k].seconds / total : 0,
                ops[k].seconds > 0 ? 1e-9 * ops[k].flops / ops[k].seconds : 0);
    fprintf(out, "    top %d op shapes (output <- inputs):\n", PROFILE_TOP);
    for (int k = 0; k < count && k < PROFILE_TOP && shapes[k].calls > 0; k++)
        fprintf(out, "    %-24s %7.0f %9.2f %6.1f %9.2f  %s\n", shapes[k].op, shapes[k].calls / per,
                1e3 * shapes[k].seconds / per, total > 0 ? 100 * shapes[k].seconds / total : 0,
                shapes[k].seconds > 0 ? 1e-9 * shapes[k].flops / shapes[k].seconds : 0,
                wg_profile_get(shapes[k].index).shapes);
    free(ops), free(shapes);
}

/* ---- one experiment ---- */

typedef struct bench_result {
    wg_experiment_info info;
    const char *device, *note;
    double ms_median, ms_min, ms_max, ms_mean;
    double peak_rss;
    double load; /* 1-minute load average when the experiment started, -1 if unknown */
} bench_result;

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        if ((unsigned char)*s >= 0x20) fputc(*s, out);
    }
    fputc('"', out);
}

static void print_result(FILE *out, const bench_options *o, const bench_result *r,
                         const gemm_rate *rate) {
    const wg_experiment_info *i = &r->info;
    double flops = i->step_flops, seconds = r->ms_median / 1e3;
    double floor_ms = 1e3 * flops / rate->flops_per_s;
    double device_bytes = (double)(i->plan_bytes + i->persistent_bytes);
    const double mib = 1024.0 * 1024.0;
    if (o->json) {
        fprintf(out, "{\"experiment\": ");
        json_string(out, i->name);
        fprintf(out, ", \"device\": ");
        json_string(out, r->device);
        fprintf(out,
                ", \"steps\": %lld, \"warmup\": %lld, \"repeat\": %d, \"ms_median\": %.4f, "
                "\"ms_min\": %.4f, \"ms_max\": %.4f, \"step_gflop\": %.6f, \"gflops\": %.3f, "
                "\"gemm_gflops\": %.3f, \"gemm\": ",
                (long long)o->steps, (long long)o->warmup, o->repeat, r->ms_median, r->ms_min,
                r->ms_max, 1e-9 * flops, 1e-9 * flops / seconds, 1e-9 * rate->flops_per_s);
        json_string(out, rate->how);
        fprintf(out,
                ", \"plan_gemm_gflops\": %.3f, \"floor_ms\": %.4f, \"floor_ratio\": %.3f, "
                "\"plan_bytes\": %zu, \"persistent_bytes\": %zu, \"peak_rss_kib\": %.0f, "
                "\"load_before\": %.2f, \"cpus\": %ld, \"kernel_calls\": %lld, \"fused\": %s}\n",
                1e-9 * rate->plan_flops_per_s, floor_ms, r->ms_median / floor_ms, i->plan_bytes,
                i->persistent_bytes, r->peak_rss / 1024, r->load, sysconf(_SC_NPROCESSORS_ONLN),
                (long long)i->step_calls, i->fused ? "true" : "false");
        return;
    }
    fprintf(out, "%s on %s\n", i->name, r->device);
    if (*r->note) fprintf(out, "  note        %s\n", r->note);
    fprintf(out, "  step        %d x (critic + projection) + generator, batch %lld\n", i->n_critic,
            (long long)i->batch);
    fprintf(out,
            "  time        %.2f ms per generator step (median of %d x %lld steps after %lld; "
            "min %.2f, max %.2f)\n",
            r->ms_median, o->repeat, (long long)o->steps, (long long)o->warmup, r->ms_min,
            r->ms_max);
    fprintf(out,
            "  work        %.3f GFLOP per step (critic %.3f, projection %.3f, generator %.3f), "
            "%.2f GFLOP/s\n",
            1e-9 * flops, 1e-9 * i->critic_flops, 1e-9 * i->projection_flops,
            1e-9 * i->generator_flops, 1e-9 * flops / seconds);
    fprintf(out, "  kernels     %lld calls per generator step (%s)\n", (long long)i->step_calls,
            i->fused ? "element-wise chains fused; WGAN_FUSE=0: one call per node"
                     : "WGAN_FUSE=0: one call per node");
    fprintf(out, "  floor       %.2f ms at %.1f GFLOP/s (%s", floor_ms, 1e-9 * rate->flops_per_s,
            rate->how);
    if (rate->plan_flops_per_s != rate->flops_per_s)
        fprintf(out, "; the device's planned matmul %.1f GFLOP/s", 1e-9 * rate->plan_flops_per_s);
    fprintf(out, "): time / floor %.2f\n", r->ms_median / floor_ms);
    fprintf(out,
            "  memory      device %.1f MiB (plans %.1f + persistent %.1f), process peak RSS "
            "%.1f MiB\n",
            device_bytes / mib, (double)i->plan_bytes / mib, (double)i->persistent_bytes / mib,
            r->peak_rss / mib);
    /* Other work on the same cores changes every figure above: say how busy the
     * machine was. */
    if (r->load >= 0)
        fprintf(out, "  machine     load average %.2f on %ld CPUs when this experiment started\n",
                r->load, sysconf(_SC_NPROCESSORS_ONLN));
}

static wg_status bench_one(const bench_options *o, const char *path, gemm_rate *rate,
                           bench_result *r) {
    wg_experiment_options eo = {
        .config_path = path,
        .overrides = o->overrides,
        .n_overrides = o->n_overrides,
        .device = o->device,
        .progress = WG_PROGRESS_QUIET,
    };
    double load;
    r->load = getloadavg(&load, 1) == 1 ? load : -1;
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&eo, &e);
    if (s == WG_OK) s = wg_experiment_prepare(e);
    if (s == WG_OK) s = wg_experiment_info_get(e, &r->info);
    if (s == WG_OK) {
        r->device = wg_device_description(wg_experiment_device(e));
        r->note = wg_device_note(wg_experiment_device(e));
        if (strcmp(rate->device, r->device) != 0) s = measure_gemm(wg_experiment_device(e), rate);
    }
    if (s == WG_OK) s = wg_experiment_steps(e, o->warmup);
    double *ms = calloc((size_t)o->repeat, sizeof *ms);
    if (s == WG_OK && !ms) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    wg_profile_reset();
    for (int k = 0; k < o->repeat && s == WG_OK; k++) {
        double start = now();
        s = wg_experiment_steps(e, o->steps);
        ms[k] = 1e3 * (now() - start) / (double)o->steps;
    }
    if (s == WG_OK) {
        r->ms_mean = 0;
        for (int k = 0; k < o->repeat; k++) r->ms_mean += ms[k] / o->repeat;
        r->ms_median = median(ms, o->repeat);
        r->ms_min = ms[0];
        r->ms_max = ms[o->repeat - 1];
        r->peak_rss = peak_rss_bytes();
        print_result(stdout, o, r, rate);
        if (wg_profile_enabled() && !o->json)
            print_profile(stdout, o->steps * o->repeat, r->ms_mean / 1e3);
        fflush(stdout);
    }
    free(ms);
    if (s != WG_OK) {
        char message[2048];
        snprintf(message, sizeof message, "%s", wg_last_error());
        wg_experiment_free(e);
        return wg_fail(s, "%s", message);
    }
    wg_experiment_free(e);
    return WG_OK;
}

/* ---- the command ---- */

static int count_arg(const char *option, const char *text, int64_t low, int64_t *out) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < low || v > 1000000) {
        fprintf(stderr, "wgan bench: %s takes an integer in [%lld, 1000000], not '%s'\n", option,
                (long long)low, text);
        return 2;
    }
    *out = v;
    return 0;
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"set", required_argument, NULL, 's'},
    {"device", required_argument, NULL, 'd'},
    {"steps", required_argument, NULL, 'n'},
    {"warmup", required_argument, NULL, 'w'},
    {"repeat", required_argument, NULL, 'r'},
    {"profile", no_argument, NULL, 'p'},
    {"json", no_argument, NULL, 'j'},
    {0},
};

static int parse(int argc, char **argv, bench_options *o) {
    int64_t repeat = 3;
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c, code = 0; (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        switch (c) {
        case 'h': usage(stdout); return -1;
        case 's': o->overrides[o->n_overrides++] = args.arg; break;
        case 'd': o->device = args.arg; break;
        case 'n': code = count_arg("--steps", args.arg, 1, &o->steps); break;
        case 'w': code = count_arg("--warmup", args.arg, 0, &o->warmup); break;
        case 'r': code = count_arg("--repeat", args.arg, 1, &repeat); break;
        case 'p': o->profile = 1; break;
        case 'j': o->json = 1; break;
        case WG_CLI_ARGUMENT: o->experiments[o->n_experiments++] = args.arg; break;
        default: code = wg_cli_option_error("bench", c, args.arg);
        }
        if (code) return code;
    }
    o->repeat = (int)repeat;
    if (o->n_experiments == 0) {
        usage(stderr);
        return 2;
    }
    return 0;
}

int wg_cmd_bench(int argc, char **argv) {
    bench_options o = {.steps = 10, .warmup = 2, .repeat = 3};
    o.experiments = calloc((size_t)argc + 1, sizeof *o.experiments);
    o.overrides = calloc((size_t)argc + 1, sizeof *o.overrides);
    if (!o.experiments || !o.overrides) {
        free(o.experiments), free(o.overrides);
        return 1;
    }
    int code = parse(argc, argv, &o);
    if (code < 0)
        code = 0; /* --help */
    else if (code == 0) {
        if (o.profile) wg_profile_enable(1);
        gemm_rate rate = {{0}, 0, {0}, 0};
        for (int i = 0; i < o.n_experiments && !code; i++) {
            bench_result r;
            wg_status s = bench_one(&o, o.experiments[i], &rate, &r);
            if (s != WG_OK) {
                fprintf(stderr, s == WG_ERR_CONFIG ? "%s\n" : "wgan bench: %s\n", wg_last_error());
                code = s == WG_ERR_CONFIG ? 2 : 1;
            } else if (!o.json && i + 1 < o.n_experiments) {
                printf("\n");
            }
        }
    }
    free(o.experiments);
    free(o.overrides);
    return code;
}
