#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "numcheck.h"
#include "tiers.h"

static uint64_t run_seed;

void nc_init(const char *program) {
    const char *env = getenv("WGAN_TEST_SEED");
    if (env && *env)
        run_seed = strtoull(env, NULL, 0);
    else
        run_seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
    printf("%s: seed %llu (set WGAN_TEST_SEED to repeat)\n", program, (unsigned long long)run_seed);
    fflush(stdout);
    const char *filter = getenv("WGAN_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    /* Plans read this when they are made, so constants evaluated at plan time are
     * poisoned too; nc_plan also sets it on each plan explicitly. */
    setenv("WGAN_POISON", "1", 1);
}

uint64_t nc_run_seed(void) {
    return run_seed;
}

/* ---- host random numbers ---- */

uint64_t nc_rng_next(nc_rng *rng) {
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

nc_rng nc_rng_for(uint64_t stream) {
    nc_rng rng = {run_seed ^ (stream * 0xD1B54A32D192ED03ull)};
    nc_rng_next(&rng);
    return rng;
}

uint64_t nc_hash(const char *name) {
    uint64_t h = 1469598103934665603ull;
    while (*name) h = (h ^ (unsigned char)*name++) * 1099511628211ull;
    return h;
}

double nc_rng_unit(nc_rng *rng) {
    return ((double)(nc_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static bool too_close(double v, const nc_range *range) {
    if (fabs(v) < range->gap) return true;
    for (int k = 0; k < range->n_avoid; k++)
        if (fabs(v - range->avoid[k]) < range->gap) return true;
    return false;
}

void nc_fill(nc_rng *rng, double *x, int64_t n, nc_range range) {
    for (int64_t i = 0; i < n; i++) {
        double v;
        int tries = 0;
        do {
            v = range.lo + (range.hi - range.lo) * nc_rng_unit(rng);
            assert_true(++tries < 10000); /* the range leaves no room outside the gaps */
        } while (too_close(v, &range));
        x[i] = v;
    }
}

/* ---- tracked resources ---- */

typedef enum tracked_kind { TRACK_BUF, TRACK_GRAPH, TRACK_SESSION, TRACK_PLAN } tracked_kind;

typedef struct tracked {
    tracked_kind kind;
    void *ptr;
    wg_graph *graph; /* of a plan, which does not expose it */
} tracked;

static tracked *track_list;
static int track_count, track_capacity;

static void *track_with(tracked_kind kind, void *ptr, wg_graph *graph) {
    assert_non_null(ptr);
    if (track_count == track_capacity) {
        track_capacity = track_capacity ? 2 * track_capacity : 64;
        track_list = realloc(track_list, (size_t)track_capacity * sizeof *track_list);
        assert_non_null(track_list);
    }
    track_list[track_count++] = (tracked){kind, ptr, graph};
    return ptr;
}

static void *track(tracked_kind kind, void *ptr) {
    return track_with(kind, ptr, NULL);
}

double *nc_buf(int64_t n) {
    return track(TRACK_BUF, calloc((size_t)(n > 0 ? n : 1), sizeof(double)));
}

wg_graph *nc_graph(wg_dtype dtype) {
    return track(TRACK_GRAPH, wg_graph_new(dtype));
}

int nc_teardown(void **state) {
    (void)state;
    /* Reverse order: plans before their sessions before their graphs. */
    for (int i = track_count - 1; i >= 0; i--) {
        void *p = track_list[i].ptr;
        switch (track_list[i].kind) {
        case TRACK_BUF: free(p); break;
        case TRACK_GRAPH: wg_graph_free(p); break;
        case TRACK_SESSION: wg_session_free(p); break;
        case TRACK_PLAN: wg_plan_free(p); break;
        }
    }
    track_count = 0;
    return 0;
}

#define MAX_DEVICES 4
static struct {
    char spec[64];
    wg_device *device; /* NULL when opening failed */
} devices[MAX_DEVICES];
static int device_count;

wg_device *nc_device(const char *spec) {
    for (int i = 0; i < device_count; i++)
        if (strcmp(devices[i].spec, spec) == 0) return devices[i].device;
    assert_true(device_count < MAX_DEVICES);
    wg_device *device = NULL;
    if (wg_device_open(spec, &device) != WG_OK) {
        printf("device \"%s\" unavailable: %s\n", spec, wg_last_error());
        device = NULL;
    } else {
        printf("device \"%s\": %s\n", spec, wg_device_description(device));
    }
    fflush(stdout);
    snprintf(devices[device_count].spec, sizeof devices[device_count].spec, "%s", spec);
    devices[device_count++].device = device;
    return device;
}

wg_device *nc_cpu(void) {
    wg_device *device = nc_device("cpu");
    if (!device) fail_msg("the cpu device must open");
    return device;
}

wg_device *nc_pocl_or_skip(void) {
    wg_device *device = nc_device("pocl");
    if (!device) wg_test_skip("no PoCL device"); /* nc_device said why, once */
    return device;
}

int nc_group_teardown(void **state) {
    nc_teardown(state);
    for (int i = 0; i < device_count; i++) wg_device_close(devices[i].device);
    device_count = 0;
    free(track_list);
    track_list = NULL;
    track_capacity = 0;
    return 0;
}

void nc_check(wg_status status, const char *what) {
    if (status != WG_OK) fail_msg("%s: %s: %s", what, wg_status_name(status), wg_last_error());
}

wg_status nc_try_session(wg_graph *graph, wg_device *device, uint64_t seed, wg_session **out) {
    wg_status status = wg_session_new(graph, device, seed, out);
    if (status == WG_OK) track(TRACK_SESSION, *out);
    return status;
}

wg_session *nc_session(wg_graph *graph, wg_device *device, uint64_t seed) {
    wg_session *session = NULL;
    nc_check(nc_try_session(graph, device, seed, &session), "wg_session_new");
    return session;
}

wg_status nc_try_plan(wg_session *session, int count, const wg_node *targets, wg_plan **out) {
    wg_status status = wg_plan_new(session, count, targets, out);
    if (status != WG_OK) return status;
    track_with(TRACK_PLAN, *out, wg_session_graph(session));
    wg_plan_set_poison(*out, 1);
    return WG_OK;
}

wg_plan *nc_plan(wg_session *session, int count, const wg_node *targets) {
    wg_plan *plan = NULL;
    nc_check(nc_try_plan(session, count, targets, &plan), "wg_plan_new");
    return plan;
}

/* ---- moving values ---- */

void nc_write(wg_session *session, wg_node node, const double *host) {
    wg_graph *graph = wg_session_graph(session);
    int64_t n = wg_node_numel(graph, node);
    if (wg_graph_dtype(graph) == WG_F64) {
        nc_check(wg_session_write(session, node, host), "wg_session_write");
        return;
    }
    float *tmp = malloc((size_t)n * sizeof *tmp);
    assert_non_null(tmp);
    for (int64_t i = 0; i < n; i++) tmp[i] = (float)host[i];
    wg_status status = wg_session_write(session, node, tmp);
    free(tmp);
    nc_check(status, "wg_session_write");
}

wg_status nc_try_run(wg_plan *plan) {
    return wg_plan_run(plan);
}

void nc_run(wg_plan *plan) {
    nc_check(wg_plan_run(plan), "wg_plan_run");
}

/* Only plans made by nc_plan are known here. */
static wg_graph *graph_of_plan(wg_plan *plan) {
    for (int i = track_count - 1; i >= 0; i--)
        if (track_list[i].kind == TRACK_PLAN && track_list[i].ptr == plan)
            return track_list[i].graph;
    fail_msg("nc_read: plan %p was not made by nc_plan", (void *)plan);
    return NULL;
}

void nc_read(wg_plan *plan, wg_node target, double *host) {
    wg_graph *graph = graph_of_plan(plan);
    int64_t n = wg_node_numel(graph, target);
    if (wg_graph_dtype(graph) == WG_F64) {
        nc_check(wg_plan_read(plan, target, host), "wg_plan_read");
        return;
    }
    float *tmp = malloc((size_t)n * sizeof *tmp);
    assert_non_null(tmp);
    wg_status status = wg_plan_read(plan, target, tmp);
    for (int64_t i = 0; status == WG_OK && i < n; i++) host[i] = tmp[i];
    free(tmp);
    nc_check(status, "wg_plan_read");
}

double nc_read_scalar(wg_plan *plan, wg_node target) {
    double v;
    nc_read(plan, target, &v);
    return v;
}

/* ---- finite differences ---- */

void nc_finite_diff(wg_session *session, wg_plan *plan, wg_node x, double *x_host, double h,
                    int n_out, const wg_node *outs, double **deriv) {
    static const double offset[4] = {-2, -1, 1, 2};
    static const double weight[4] = {1, -8, 8, -1};
    int64_t n = wg_node_numel(wg_session_graph(session), x);
    uint64_t step = wg_session_step(session); /* every evaluation sees the same draws */
    for (int64_t i = 0; i < n; i++) {
        double saved = x_host[i];
        for (int k = 0; k < n_out; k++) deriv[k][i] = 0;
        for (int s = 0; s < 4; s++) {
            x_host[i] = saved + offset[s] * h;
            nc_write(session, x, x_host);
            wg_session_set_step(session, step);
            nc_run(plan);
            for (int k = 0; k < n_out; k++)
                deriv[k][i] += weight[s] * nc_read_scalar(plan, outs[k]);
        }
        for (int k = 0; k < n_out; k++) deriv[k][i] /= 12 * h;
        x_host[i] = saved;
    }
    nc_write(session, x, x_host);
}

/* ---- comparison ---- */

static double max_abs(const double *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

/* Index of the worst element (NaNs first), how many fail, and the worst error
 * measured against the tolerance (>1 means failing). */
static int64_t worst_element(const double *got, const double *want, int64_t n, double rtol,
                             double atol, int64_t *n_bad, double *worst_ratio) {
    double floor_tol = atol * fmax(1.0, max_abs(want, n));
    int64_t worst = -1;
    *n_bad = 0;
    *worst_ratio = 0;
    for (int64_t i = 0; i < n; i++) {
        double tol = rtol * fabs(want[i]) + floor_tol;
        double err = fabs(got[i] - want[i]);
        double ratio = isnan(got[i]) || isnan(want[i]) ? INFINITY : err / tol;
        if (!(ratio <= 1)) ++*n_bad;
        if (worst < 0 || ratio > *worst_ratio) {
            worst = i;
            *worst_ratio = ratio;
        }
    }
    return worst;
}

bool nc_close(const double *got, const double *want, int64_t n, double rtol, double atol) {
    int64_t n_bad;
    double ratio;
    worst_element(got, want, n, rtol, atol, &n_bad, &ratio);
    return n_bad == 0;
}

static const char *index_str(const wg_shape *shape, int64_t flat, char *buf, int size) {
    int64_t idx[WG_MAX_DIMS];
    for (int k = shape->ndim - 1; k >= 0; k--) {
        idx[k] = flat % shape->dim[k];
        flat /= shape->dim[k];
    }
    int used = snprintf(buf, (size_t)size, "[");
    for (int k = 0; k < shape->ndim && used < size; k++)
        used +=
            snprintf(buf + used, (size_t)(size - used), "%s%lld", k ? ", " : "", (long long)idx[k]);
    if (used < size) snprintf(buf + used, (size_t)(size - used), "]");
    return buf;
}

bool nc_report_close(const char *what, const double *got, const double *want, const wg_shape *shape,
                     double rtol, double atol) {
    int64_t n = wg_shape_numel(shape), n_bad;
    double ratio;
    int64_t worst = worst_element(got, want, n, rtol, atol, &n_bad, &ratio);
    if (n_bad == 0) return true;
    char s[64], idx[64];
    print_error("%s: %lld of %lld elements of %s differ (rtol %g, atol %g x max %g); worst at "
                "%s: got %.12g, want %.12g (abs err %.3g, %.3g x tolerance)\n",
                what, (long long)n_bad, (long long)n, wg_shape_str(shape, s, sizeof s), rtol, atol,
                fmax(1.0, max_abs(want, n)), index_str(shape, worst, idx, sizeof idx), got[worst],
                want[worst], fabs(got[worst] - want[worst]), ratio);
    return false;
}

void nc_expect_close(const char *what, const double *got, const double *want, const wg_shape *shape,
                     double rtol, double atol) {
    if (!nc_report_close(what, got, want, shape, rtol, atol)) fail();
}

bool nc_report_identical(const char *what, const double *got, const double *want,
                         const wg_shape *shape) {
    int64_t n = wg_shape_numel(shape), n_bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0) {
            if (first < 0) first = i;
            n_bad++;
        }
    if (n_bad == 0) return true;
    char s[64], idx[64];
    print_error("%s: %lld of %lld elements of %s differ; first at %s: got %.9g, want %.9g\n", what,
                (long long)n_bad, (long long)n, wg_shape_str(shape, s, sizeof s),
                index_str(shape, first, idx, sizeof idx), got[first], want[first]);
    return false;
}

void nc_expect_identical(const char *what, const double *got, const double *want,
                         const wg_shape *shape) {
    if (!nc_report_identical(what, got, want, shape)) fail();
}
