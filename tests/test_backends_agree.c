/* Every op, with its first- and second-derivative graphs, on the cpu device and on
 * every OpenCL device present in f32 from identical inputs; which ops each device
 * supports; and the random draws of the cpu and PoCL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numcheck.h"
#include "op_cases.h"
#include "tiers.h"

/* Float results of the two devices differ by rounding: reductions are summed in other
 * orders, GEMMs are blocked differently. */
#define F32_RTOL 1e-4
#define F32_ATOL 1e-5

#define MAX_TARGETS (1 + 2 * NC_MAX_OPERANDS)

typedef struct outputs {
    int count;
    wg_node node[MAX_TARGETS];
    const char *label[MAX_TARGETS];
    double *value[MAX_TARGETS];
} outputs;

/* Runs the derivative graph `d` from `data` on `device`, reading every output. */
static void run_on(wg_device *device, const nc_deriv_graph *d, const nc_deriv_data *data,
                   outputs *out) {
    out->count = nc_deriv_targets(d, out->node, out->label);
    wg_session *session = nc_session(d->graph, device, 1);
    nc_write_derivs(session, d, data);
    wg_plan *plan = nc_plan(session, out->count, out->node);
    nc_run(plan);
    for (int k = 0; k < out->count; k++) {
        out->value[k] = nc_buf(wg_node_numel(d->graph, out->node[k]));
        nc_read(plan, out->node[k], out->value[k]);
    }
}

/* When the devices disagree, says which of them is off by comparing both with the
 * same graph in f64 on the cpu. */
static void explain_disagreement(const nc_op_case *c, const nc_deriv_data *data, int k,
                                 const double *on_cpu, const double *on_dev, const char *spec) {
    nc_deriv_graph d64;
    nc_build_derivs(c, WG_F64, &d64);
    outputs ref;
    run_on(nc_cpu(), &d64, data, &ref);
    int64_t n = wg_node_numel(d64.graph, ref.node[k]);
    double err_cpu = 0, err_dev = 0, scale = 1;
    for (int64_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(ref.value[k][i]));
        err_cpu = fmax(err_cpu, fabs(on_cpu[i] - ref.value[k][i]));
        err_dev = fmax(err_dev, fabs(on_dev[i] - ref.value[k][i]));
    }
    printf("%s %s: largest error against f64 on cpu (scale %g): cpu f32 %.3g, %s f32 %.3g\n",
           c->name, ref.label[k], scale, err_cpu, spec, err_dev);
}

/* ---- the devices present: the cpu (the reference) and every OpenCL device ---- */

#define MAX_DEVICES 8

static int device_count; /* 0 until listed */
static char device_spec[MAX_DEVICES][24];

static void list_devices(void) {
    if (device_count) return;
    snprintf(device_spec[device_count++], sizeof device_spec[0], "cpu");
    int opencl = 0;
    if (wg_opencl_list(stdout, &opencl) != WG_OK) printf("no OpenCL: %s\n", wg_last_error());
    for (int i = 0; i < opencl && device_count < MAX_DEVICES; i++)
        snprintf(device_spec[device_count++], sizeof device_spec[0], "opencl:%d", i);
}

/* The first node of `graph` the device cannot run, or -1; *why says what is missing. */
static wg_node unsupported_node(wg_device *device, const wg_graph *graph, const char **why) {
    for (wg_node i = 0; i < wg_graph_size(graph); i++) {
        wg_op_query q = wg_op_query_of(graph, i);
        if (wg_op_has_kernel(q.op) && !device->backend->supports_op(device, &q, why)) return i;
    }
    return -1;
}

/* Every device present against the cpu, on the nodes it supports: a device that lacks
 * one of the case's ops is reported and passed over. */
static void check_case(void **state) {
    const nc_op_case *c = *state;
    list_devices();
    if (device_count < 2) skip();
    nc_deriv_graph d;
    nc_build_derivs(c, WG_F32, &d);
    nc_deriv_data data;
    nc_draw_derivs(&d, nc_hash(c->name), &data);
    outputs on_cpu;
    run_on(nc_cpu(), &d, &data, &on_cpu);
    for (int dev = 1; dev < device_count; dev++) {
        wg_device *device = nc_device(device_spec[dev]);
        if (!device) continue;
        const char *why = "";
        wg_node node = unsupported_node(device, d.graph, &why);
        if (node >= 0) {
            char label[48];
            wg_op_query q = wg_op_query_of(d.graph, node);
            printf("%s: not run on %s, which does not support %s (%s)\n", c->name, device_spec[dev],
                   wg_op_label(q.op, q.code, label, sizeof label), why);
            continue;
        }
        outputs on_dev;
        run_on(device, &d, &data, &on_dev);
        for (int k = 0; k < on_cpu.count; k++) {
            wg_shape shape = wg_node_shape(d.graph, on_cpu.node[k]);
            int64_t n = wg_shape_numel(&shape);
            if (nc_close(on_dev.value[k], on_cpu.value[k], n, F32_RTOL, F32_ATOL)) continue;
            explain_disagreement(c, &data, k, on_cpu.value[k], on_dev.value[k], device_spec[dev]);
            char what[128];
            snprintf(what, sizeof what, "%s: %s, %s (got) vs cpu (want), f32", c->name,
                     on_cpu.label[k], device_spec[dev]);
            nc_expect_close(what, on_dev.value[k], on_cpu.value[k], &shape, F32_RTOL, F32_ATOL);
        }
    }
}

/* Which kinds of op each device present supports, at the shapes of the op cases, in
 * both dtypes. Every kind in the op table must have a case, and the cpu, the
 * reference of every comparison, must support all of them. */
static void test_support_table(void **state) {
    (void)state;
    list_devices();
    static const wg_dtype dtypes[] = {WG_F32, WG_F64};
    wg_op_query queries[2][NC_OP_KINDS];
    bool have[2][NC_OP_KINDS];
    for (int t = 0; t < 2; t++) nc_sample_queries(dtypes[t], queries[t], have[t]);
    for (int dev = 0; dev < device_count; dev++) nc_device(device_spec[dev]); /* says what it is */
    printf("%-22s", "op (f32 / f64)");
    for (int dev = 0; dev < device_count; dev++) printf(" %-12s", device_spec[dev]);
    printf("\n");
    int missing_cases = 0, cpu_gaps = 0;
    for (int kind = 0; kind < NC_OP_KINDS; kind++) {
        if (!nc_op_kind_runs(kind)) continue;
        char label[48];
        nc_op_kind_label(kind, label, sizeof label);
        if (!have[0][kind]) {
            printf("%-22s no case in tests/support/op_cases.c\n", label);
            missing_cases++;
            continue;
        }
        printf("%-22s", label);
        for (int dev = 0; dev < device_count; dev++) {
            wg_device *device = nc_device(device_spec[dev]);
            const char *why = "", *mark[2];
            for (int t = 0; t < 2; t++)
                mark[t] = !device                                                         ? "-"
                          : device->backend->supports_op(device, &queries[t][kind], &why) ? "yes"
                                                                                          : "no";
            if (dev == 0 && (strcmp(mark[0], "yes") || strcmp(mark[1], "yes"))) cpu_gaps++;
            char cell[16];
            snprintf(cell, sizeof cell, "%s/%s", mark[0], mark[1]);
            printf(" %-12s", cell);
        }
        printf("\n");
    }
    if (missing_cases) fail_msg("%d kinds of op have no case in the op cases", missing_cases);
    if (cpu_gaps) fail_msg("the cpu does not support %d kinds of op", cpu_gaps);
}

/* Uniform draws are the same bits on both devices; normal draws go through log, sqrt
 * and cos, whose last bits may differ between libm and OpenCL builtins. */
static void test_random_draws_agree(void **state) {
    (void)state;
    wg_device *pocl = nc_pocl_or_skip();
    wg_graph *g = nc_graph(WG_F32);
    wg_shape small = wg_shape2(7, 13), big = wg_shape4(50, 64, 14, 14);
    wg_node draws[4] = {
        wg_random_uniform(g, "small_uniform", small, -2, 3),
        wg_random_normal(g, "small_normal", small, 0.5, 2),
        wg_random_uniform(g, "big_uniform", big, 0, 1),
        wg_random_normal(g, "big_normal", big, 0, 1),
    };
    const bool is_uniform[4] = {true, false, true, false};
    wg_session *s_cpu = nc_session(g, nc_cpu(), 0x1234567890abcdefull);
    wg_session *s_pocl = nc_session(g, pocl, 0x1234567890abcdefull);
    wg_plan *p_cpu = nc_plan(s_cpu, 4, draws), *p_pocl = nc_plan(s_pocl, 4, draws);
    int64_t n_big = wg_shape_numel(&big);
    double *a = nc_buf(n_big), *b = nc_buf(n_big), *previous = nc_buf(n_big);
    bool ok = true;
    for (int step = 0; step < 3; step++) {
        assert_int_equal(wg_session_step(s_cpu), step);
        assert_int_equal(wg_session_step(s_pocl), step);
        nc_run(p_cpu);
        nc_run(p_pocl);
        for (int k = 0; k < 4; k++) {
            wg_shape shape = wg_node_shape(g, draws[k]);
            nc_read(p_cpu, draws[k], a);
            nc_read(p_pocl, draws[k], b);
            char what[96];
            snprintf(what, sizeof what, "random %s draw %d at step %d, pocl vs cpu",
                     is_uniform[k] ? "uniform" : "normal", k, step);
            ok &= is_uniform[k] ? nc_report_identical(what, b, a, &shape)
                                : nc_report_close(what, b, a, &shape, 1e-5, 1e-5);
            if (k == 3) {
                /* the step counter moves the stream on */
                if (step > 0) assert_false(memcmp(a, previous, 64 * sizeof *a) == 0);
                memcpy(previous, a, (size_t)n_big * sizeof *a);
            }
        }
    }
    if (!ok) fail_msg("the devices draw different random numbers");
}

int main(void) {
    nc_init("test_backends_agree");
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_teardown(test_support_table, nc_teardown),
        cmocka_unit_test_teardown(test_random_draws_agree, nc_teardown),
    };
    int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    struct CMUnitTest *tests =
        calloc((size_t)(n_fixed + nc_small_case_count + nc_large_case_count), sizeof *tests);
    if (!tests) return 1;
    memcpy(tests, fixed, sizeof fixed);
    int count = nc_add_case_tests(tests, n_fixed, nc_small_cases, nc_small_case_count, check_case);
    count = nc_add_case_tests(tests, count, nc_large_cases, nc_large_case_count, check_case);
    int failed = wg_test_run_group("backends_agree", tests, (size_t)count, NULL, nc_group_teardown);
    free(tests);
    return failed;
}
