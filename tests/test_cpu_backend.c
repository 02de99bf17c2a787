/* The cpu backend, called directly: every op on hand-built nodes, for both dtypes,
 * against naive double-precision reference loops written here. Outputs are poisoned
 * with NaN before each run and surrounded by guard elements that must survive. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wgan/philox.h"
#include "backend.h"
#include "devices/cpu/cpu_internal.h"
#include "op_cases.h"
#include "reference.h"
#include "wgan/session.h"

#define GUARD 16 /* elements either side of every tensor */
#define SENTINEL 7.25

static wg_device *device;
static uint64_t rng_state;

/* ---- helpers ---- */

static double uniform01(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Magnitudes in [lo, hi] with random signs: never zero. */
static double *random_values(int64_t n, double lo, double hi) {
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) {
        double m = lo + (hi - lo) * uniform01();
        v[i] = uniform01() < 0.5 ? -m : m;
    }
    return v;
}

static size_t elem_size(wg_dtype dtype) {
    return dtype == WG_F64 ? sizeof(double) : sizeof(float);
}

/* Rounds values to what the device stores, so references see the same inputs. */
static void round_to(wg_dtype dtype, double *v, int64_t n) {
    if (dtype == WG_F32)
        for (int64_t i = 0; i < n; i++) v[i] = (float)v[i];
}

static void *to_dtype(wg_dtype dtype, const double *v, int64_t n) {
    void *buf = malloc((size_t)(n > 0 ? n : 1) * elem_size(dtype));
    assert_non_null(buf);
    for (int64_t i = 0; i < n; i++) {
        if (dtype == WG_F64)
            ((double *)buf)[i] = v[i];
        else
            ((float *)buf)[i] = (float)v[i];
    }
    return buf;
}

static double element(wg_dtype dtype, const void *buf, int64_t i) {
    return dtype == WG_F64 ? ((const double *)buf)[i] : ((const float *)buf)[i];
}

/* One node and its inputs; run_op builds the graph around it. */
typedef struct op_run {
    wg_dtype dtype;
    wg_node_data node; /* op, output shape and parameters */
    int n_inputs;
    wg_shape in_shape[WG_MAX_INPUTS];
    double *in[WG_MAX_INPUTS];
    uint64_t seed, step;
} op_run;

/* Allocates a tensor of n elements between guards, filled with the sentinel. */
static wg_ref alloc_tensor(wg_dtype dtype, int64_t n) {
    const size_t es = elem_size(dtype);
    void *mem = NULL;
    assert_int_equal(device->backend->alloc(device, (size_t)(n + 2 * GUARD) * es, &mem), WG_OK);
    assert_non_null(mem);
    assert_int_equal((uintptr_t)mem % WG_CPU_ALIGN, 0);
    wg_ref whole = {mem, 0};
    assert_int_equal(device->backend->fill(device, whole, (size_t)(n + 2 * GUARD), dtype, SENTINEL),
                     WG_OK);
    return (wg_ref){mem, GUARD * es};
}

static void check_guards(wg_dtype dtype, wg_ref ref, int64_t n) {
    const size_t es = elem_size(dtype);
    void *host = malloc((size_t)(n + 2 * GUARD) * es);
    assert_non_null(host);
    assert_int_equal(
        device->backend->read(device, (wg_ref){ref.mem, 0}, host, (size_t)(n + 2 * GUARD) * es),
        WG_OK);
    for (int64_t i = 0; i < GUARD; i++) {
        assert_true(element(dtype, host, i) == SENTINEL);
        assert_true(element(dtype, host, n + GUARD + i) == SENTINEL);
    }
    free(host);
}

/* Runs the node on the device and returns its output as doubles in `out`. Inputs are
 * rounded to the dtype in place first. */
static wg_status run_op(op_run *r, double *out) {
    wg_node_data nodes[WG_MAX_INPUTS + 1];
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < r->n_inputs; i++) {
        nodes[i].op = WG_OP_INPUT;
        nodes[i].shape = r->in_shape[i];
    }
    nodes[r->n_inputs] = r->node;
    nodes[r->n_inputs].n_inputs = r->n_inputs;
    for (int i = 0; i < r->n_inputs; i++) nodes[r->n_inputs].input[i] = i;
    wg_graph graph = {.dtype = r->dtype, .count = r->n_inputs + 1, .nodes = nodes};

    wg_call call = {.graph = &graph,
                    .node = r->n_inputs,
                    .data = &nodes[r->n_inputs],
                    .seed = r->seed,
                    .step = r->step};
    const size_t es = elem_size(r->dtype);
    for (int i = 0; i < r->n_inputs; i++) {
        int64_t n = wg_shape_numel(&r->in_shape[i]);
        round_to(r->dtype, r->in[i], n);
        call.in[i] = alloc_tensor(r->dtype, n);
        void *host = to_dtype(r->dtype, r->in[i], n);
        assert_int_equal(device->backend->write(device, call.in[i], host, (size_t)n * es), WG_OK);
        free(host);
    }
    const int64_t n = wg_shape_numel(&r->node.shape);
    call.out = alloc_tensor(r->dtype, n);
    assert_int_equal(device->backend->fill(device, call.out, (size_t)n, r->dtype, NAN), WG_OK);

    wg_status status = device->backend->run(device, &call);
    if (status == WG_OK) {
        assert_int_equal(device->backend->finish(device), WG_OK);
        void *host = malloc((size_t)(n > 0 ? n : 1) * es);
        assert_non_null(host);
        assert_int_equal(device->backend->read(device, call.out, host, (size_t)n * es), WG_OK);
        for (int64_t i = 0; i < n; i++) out[i] = element(r->dtype, host, i);
        free(host);
        check_guards(r->dtype, call.out, n);
        for (int i = 0; i < r->n_inputs; i++)
            check_guards(r->dtype, call.in[i], wg_shape_numel(&r->in_shape[i]));
    }
    for (int i = 0; i < r->n_inputs; i++) device->backend->release(device, call.in[i].mem);
    device->backend->release(device, call.out.mem);
    return status;
}

/* |got - ref| <= tol * scale, scale = mag[i] when given (the sum of absolute terms),
 * else max(1, |ref|). NaN never passes. */
static void check_close(const char *what, wg_dtype dtype, const double *got, const double *ref,
                        const double *mag, int64_t n, double tol32, double tol64) {
    const double tol = dtype == WG_F64 ? tol64 : tol32;
    for (int64_t i = 0; i < n; i++) {
        double scale = mag ? mag[i] : fmax(1.0, fabs(ref[i]));
        double err = fabs(got[i] - ref[i]);
        if (!(err <= tol * scale)) {
            print_error("%s (%s): element %" PRId64 " of %" PRId64 ": got %.17g, want %.17g\n",
                        what, dtype == WG_F64 ? "f64" : "f32", i, n, got[i], ref[i]);
            fail();
        }
    }
}

static const wg_dtype dtypes[] = {WG_F32, WG_F64};

/* ---- device basics ---- */

static void test_device_basics(void **state) {
    (void)state;
    assert_string_equal(device->backend->kind, "cpu");
    assert_true(strncmp(device->description, "cpu (", 5) == 0);
    assert_non_null(strstr(device->description, "OpenBLAS"));
    assert_non_null(strstr(device->description, "thread"));

    size_t sizes[] = {0, 1, 3, 64, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *mem = NULL;
        assert_int_equal(device->backend->alloc(device, sizes[i], &mem), WG_OK);
        assert_non_null(mem);
        assert_int_equal((uintptr_t)mem % WG_CPU_ALIGN, 0);
        device->backend->release(device, mem);
    }

    /* write/read honour the offset, fill handles both dtypes */
    void *mem = NULL;
    assert_int_equal(device->backend->alloc(device, 256, &mem), WG_OK);
    memset(mem, 0, 256);
    const double values[3] = {1.5, -2.25, 3.125};
    assert_int_equal(device->backend->write(device, (wg_ref){mem, 40}, values, sizeof values),
                     WG_OK);
    double back[3];
    assert_int_equal(device->backend->read(device, (wg_ref){mem, 40}, back, sizeof back), WG_OK);
    assert_memory_equal(back, values, sizeof values);
    assert_true(((double *)mem)[4] == 0 && ((double *)mem)[5] == 1.5);

    assert_int_equal(device->backend->fill(device, (wg_ref){mem, 8}, 3, WG_F64, NAN), WG_OK);
    assert_true(((double *)mem)[0] == 0 && isnan(((double *)mem)[1]) && isnan(((double *)mem)[3]) &&
                ((double *)mem)[4] == 0);
    assert_int_equal(device->backend->fill(device, (wg_ref){mem, 4}, 5, WG_F32, -0.5), WG_OK);
    assert_true(((float *)mem)[0] == 0 && ((float *)mem)[1] == -0.5f && ((float *)mem)[5] == -0.5f);
    assert_int_equal(device->backend->finish(device), WG_OK);
    device->backend->release(device, mem);
}

static void test_planned_ops_rejected(void **state) {
    (void)state;
    const wg_op ops[] = {WG_OP_INPUT, WG_OP_VARIABLE, WG_OP_RESHAPE};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        double in[6] = {1, 2, 3, 4, 5, 6}, out[6];
        op_run r = {.dtype = WG_F32, .n_inputs = ops[i] == WG_OP_RESHAPE ? 1 : 0};
        r.node.op = ops[i];
        r.node.shape = (wg_shape){2, {2, 3}};
        r.in_shape[0] = (wg_shape){1, {6}};
        r.in[0] = in;
        wg_clear_error();
        assert_int_equal(run_op(&r, out), WG_ERR_INVALID);
        assert_true(strlen(wg_last_error()) > 0);
    }
    /* unknown element-wise codes */
    double in[4] = {1, 2, 3, 4}, out[4];
    op_run r = {.dtype = WG_F64, .n_inputs = 1};
    r.node.op = WG_OP_MAP;
    r.node.ival[0] = WG_MAP_COUNT;
    r.node.shape = r.in_shape[0] = (wg_shape){1, {4}};
    r.in[0] = in;
    assert_int_equal(run_op(&r, out), WG_ERR_INVALID);
    r.node.op = WG_OP_BINARY;
    r.node.ival[0] = WG_BIN_COUNT;
    r.n_inputs = 2;
    r.in_shape[1] = r.in_shape[0];
    r.in[1] = in;
    assert_int_equal(run_op(&r, out), WG_ERR_INVALID);
}

/* Every op of the table in both dtypes; not nodes without a kernel, nor unknown codes. */
static void test_supports_every_op(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) assert_int_equal(nc_unsupported_kinds(device, dtypes[d]), 0);
    const wg_op storage[] = {WG_OP_INPUT, WG_OP_VARIABLE, WG_OP_RESHAPE};
    for (size_t i = 0; i < sizeof storage / sizeof *storage; i++) {
        wg_op_query q = {.op = storage[i], .dtype = WG_F32, .out = wg_shape1(4)};
        assert_false(device->backend->supports_op(device, &q, NULL));
    }
    const char *why = NULL;
    wg_op_query map = {.op = WG_OP_MAP, .code = WG_MAP_COUNT, .dtype = WG_F64, .n_inputs = 1};
    assert_false(device->backend->supports_op(device, &map, &why));
    assert_non_null(strstr(why, "code"));
    wg_op_query binary = {.op = WG_OP_BINARY, .code = -1, .dtype = WG_F32, .n_inputs = 2};
    assert_false(device->backend->supports_op(device, &binary, NULL));
}

/* ---- element-wise ---- */

static void test_constant(void **state) {
    (void)state;
    const wg_shape shapes[] = {{1, {1}}, {3, {3, 5, 7}}, {2, {300, 211}}};
    for (int d = 0; d < 2; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int64_t n = wg_shape_numel(&shapes[s]);
            double *out = malloc((size_t)n * sizeof *out);
            op_run r = {.dtype = dtypes[d]};
            r.node.op = WG_OP_CONSTANT;
            r.node.shape = shapes[s];
            r.node.param[0] = -0.3;
            assert_int_equal(run_op(&r, out), WG_OK);
            double want = dtypes[d] == WG_F32 ? (double)(float)-0.3 : -0.3;
            for (int64_t i = 0; i < n; i++) assert_true(out[i] == want);
            free(out);
        }
    }
}

static void test_map_every_code(void **state) {
    (void)state;
    const int64_t sizes[] = {1001, 70007}; /* below and above the threading threshold */
    const double extremes[] = {-1000, -100, -30, 30, 100, 1000};
    for (int d = 0; d < 2; d++) {
        for (int code = 0; code < WG_MAP_COUNT; code++) {
            for (int z = 0; z < 2; z++) {
                const int64_t n = sizes[z];
                const int positive = nc_ref_map_positive(code);
                double *x = random_values(n, 0.05, 4);
                if (positive)
                    for (int64_t i = 0; i < n; i++) x[i] = fabs(x[i]);
                if (code == WG_MAP_SIGMOID || code == WG_MAP_SOFTPLUS || code == WG_MAP_TANH)
                    for (int i = 0; i < 6; i++) x[i * 7] = extremes[i];
                op_run r = {.dtype = dtypes[d], .n_inputs = 1};
                r.node.op = WG_OP_MAP;
                r.node.ival[0] = code;
                r.node.param[0] = code == WG_MAP_CLAMP      ? -0.5
                                  : code == WG_MAP_IN_RANGE ? -0.3
                                                            : 0.2;
                r.node.param[1] = code == WG_MAP_CLAMP ? 0.4 : 0.6;
                r.node.shape = r.in_shape[0] = (wg_shape){2, {n / 7, 7}};
                r.in[0] = x;
                double *got = malloc((size_t)n * sizeof *got),
                       *ref = malloc((size_t)n * sizeof *ref);
                assert_int_equal(run_op(&r, got), WG_OK);
                double p[2] = {r.node.param[0], r.node.param[1]};
                round_to(dtypes[d], p, 2);
                for (int64_t i = 0; i < n; i++) ref[i] = nc_ref_map(code, x[i], p[0], p[1]);
                char what[64];
                snprintf(what, sizeof what, "map code %d, n %" PRId64, code, n);
                check_close(what, dtypes[d], got, ref, NULL, n, 2e-6, 1e-13);
                free(x);
                free(got);
                free(ref);
            }
        }
    }
}

typedef struct broadcast_case {
    wg_shape a, b, out;
} broadcast_case;

static void test_binary_broadcast(void **state) {
    (void)state;
    const broadcast_case cases[] = {
        {{3, {3, 5, 7}}, {3, {3, 5, 7}}, {3, {3, 5, 7}}},
        {{4, {2, 3, 4, 5}}, {1, {5}}, {4, {2, 3, 4, 5}}},
        {{3, {4, 1, 3}}, {2, {2, 1}}, {3, {4, 2, 3}}},
        {{1, {1}}, {2, {3, 4}}, {2, {3, 4}}},
        {{2, {3, 4}}, {1, {1}}, {2, {3, 4}}},
        {{4, {2, 1, 4, 1}}, {3, {3, 1, 5}}, {4, {2, 3, 4, 5}}},
        {{2, {5, 1}}, {2, {1, 6}}, {2, {5, 6}}},
        {{4, {50, 64, 14, 14}}, {4, {1, 64, 1, 1}}, {4, {50, 64, 14, 14}}}, /* bias */
        {{2, {1, 513}}, {2, {257, 513}}, {2, {257, 513}}},
        {{2, {300, 211}}, {2, {300, 211}}, {2, {300, 211}}},
        {{2, {70000, 1}}, {1, {1}}, {2, {70000, 1}}},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            for (int code = 0; code < WG_BIN_COUNT; code++) {
                const broadcast_case *bc = &cases[c];
                const int64_t n = wg_shape_numel(&bc->out);
                double *a = random_values(wg_shape_numel(&bc->a), 0.1, 2);
                double *b = random_values(wg_shape_numel(&bc->b), 0.5, 1.5);
                op_run r = {.dtype = dtypes[d], .n_inputs = 2};
                r.node.op = WG_OP_BINARY;
                r.node.ival[0] = code;
                r.node.shape = bc->out;
                r.in_shape[0] = bc->a;
                r.in_shape[1] = bc->b;
                r.in[0] = a;
                r.in[1] = b;
                double *got = malloc((size_t)n * sizeof *got),
                       *ref = malloc((size_t)n * sizeof *ref);
                assert_int_equal(run_op(&r, got), WG_OK);
                for (int64_t i = 0; i < n; i++) {
                    double x = a[nc_broadcast_index(&bc->a, &bc->out, i)];
                    double y = b[nc_broadcast_index(&bc->b, &bc->out, i)];
                    ref[i] = nc_ref_binary(code, x, y);
                }
                char what[64];
                snprintf(what, sizeof what, "binary case %zu code %d", c, code);
                check_close(what, dtypes[d], got, ref, NULL, n, 2e-7, 1e-15);
                free(a);
                free(b);
                free(got);
                free(ref);
            }
        }
    }
}

/* ---- reductions and data movement ---- */

typedef struct shape_pair {
    wg_shape in, out;
} shape_pair;

static void test_sum_to(void **state) {
    (void)state;
    const shape_pair cases[] = {
        {{4, {5, 7, 3, 4}}, {4, {1, 7, 1, 1}}},
        {{4, {5, 7, 3, 4}}, {4, {5, 1, 1, 1}}},
        {{4, {5, 7, 3, 4}}, {4, {1, 1, 1, 1}}},
        {{4, {5, 7, 3, 4}}, {4, {1, 7, 3, 1}}},
        {{4, {5, 7, 3, 4}}, {4, {5, 1, 3, 1}}},
        {{4, {5, 7, 3, 4}}, {4, {5, 7, 3, 4}}},
        {{4, {5, 7, 3, 4}}, {4, {1, 1, 3, 4}}},
        {{2, {50, 513}}, {2, {1, 513}}},
        {{2, {3, 1000}}, {2, {3, 1}}},
        {{4, {1, 9, 1, 5}}, {4, {1, 1, 1, 5}}},
        {{4, {50, 64, 14, 14}}, {4, {1, 64, 1, 1}}},
        {{2, {301, 300}}, {2, {1, 1}}},
        {{3, {64, 600, 3}}, {3, {1, 600, 1}}},
        {{1, {7}}, {1, {1}}},
        {{3, {40, 30, 70}}, {3, {40, 1, 70}}},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const shape_pair *sp = &cases[c];
            const int64_t n_in = wg_shape_numel(&sp->in), n = wg_shape_numel(&sp->out);
            double *x = random_values(n_in, 0.1, 1);
            op_run r = {.dtype = dtypes[d], .n_inputs = 1};
            r.node.op = WG_OP_SUM_TO;
            r.node.shape = sp->out;
            r.in_shape[0] = sp->in;
            r.in[0] = x;
            double *got = malloc((size_t)n * sizeof *got);
            double *ref = calloc((size_t)n, sizeof *ref), *mag = calloc((size_t)n, sizeof *mag);
            assert_int_equal(run_op(&r, got), WG_OK);
            for (int64_t i = 0; i < n_in; i++) {
                /* the output index of input element i: coordinates on summed axes drop */
                int64_t flat = i, o = 0, stride = 1;
                for (int k = sp->in.ndim - 1; k >= 0; k--) {
                    int64_t coord = flat % sp->in.dim[k];
                    flat /= sp->in.dim[k];
                    if (sp->out.dim[k] != 1) o += coord * stride;
                    stride *= sp->out.dim[k];
                }
                ref[o] += x[i];
                mag[o] += fabs(x[i]);
            }
            char what[64];
            snprintf(what, sizeof what, "sum_to case %zu", c);
            /* accumulated in double, so f32 is only off by the final rounding */
            check_close(what, dtypes[d], got, ref, mag, n, 1e-7, 1e-14);
            free(x);
            free(got);
            free(ref);
            free(mag);
        }
    }
}

static void test_expand(void **state) {
    (void)state;
    const shape_pair cases[] = {
        {{4, {1, 7, 1, 4}}, {4, {5, 7, 3, 4}}},
        {{2, {3, 1}}, {2, {3, 1000}}},
        {{2, {1, 1}}, {2, {9, 11}}},
        {{3, {1, 64, 1}}, {3, {50, 64, 196}}},
        {{2, {4, 6}}, {2, {4, 6}}},
        {{3, {2, 1, 3}}, {3, {2, 5, 3}}},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const shape_pair *sp = &cases[c];
            const int64_t n = wg_shape_numel(&sp->out);
            double *x = random_values(wg_shape_numel(&sp->in), 0.1, 1);
            op_run r = {.dtype = dtypes[d], .n_inputs = 1};
            r.node.op = WG_OP_EXPAND;
            r.node.shape = sp->out;
            r.in_shape[0] = sp->in;
            r.in[0] = x;
            double *got = malloc((size_t)n * sizeof *got), *ref = malloc((size_t)n * sizeof *ref);
            assert_int_equal(run_op(&r, got), WG_OK);
            for (int64_t i = 0; i < n; i++) ref[i] = x[nc_broadcast_index(&sp->in, &sp->out, i)];
            check_close("expand", dtypes[d], got, ref, NULL, n, 0, 0);
            free(x);
            free(got);
            free(ref);
        }
    }
}

static void test_permute(void **state) {
    (void)state;
    const struct {
        wg_shape in;
        int perm[4];
    } cases[] = {
        {{2, {13, 7}}, {1, 0}},
        {{3, {4, 5, 6}}, {2, 0, 1}},
        {{3, {4, 5, 6}}, {0, 2, 1}},
        {{4, {2, 3, 4, 5}}, {3, 1, 0, 2}},
        {{4, {2, 3, 4, 5}}, {0, 1, 2, 3}},
        {{4, {50, 64, 7, 7}}, {1, 0, 2, 3}},
        {{2, {300, 257}}, {1, 0}},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const wg_shape *in = &cases[c].in;
            wg_shape out = {in->ndim, {0}};
            for (int k = 0; k < in->ndim; k++) out.dim[k] = in->dim[cases[c].perm[k]];
            const int64_t n = wg_shape_numel(&out);
            double *x = random_values(n, 0.1, 1);
            op_run r = {.dtype = dtypes[d], .n_inputs = 1};
            r.node.op = WG_OP_PERMUTE;
            r.node.shape = out;
            memcpy(r.node.ival, cases[c].perm, sizeof cases[c].perm);
            r.in_shape[0] = *in;
            r.in[0] = x;
            double *got = malloc((size_t)n * sizeof *got), *ref = malloc((size_t)n * sizeof *ref);
            assert_int_equal(run_op(&r, got), WG_OK);
            for (int64_t i = 0; i < n; i++) {
                int64_t oc[WG_MAX_DIMS], ic[WG_MAX_DIMS];
                nc_unravel(&out, i, oc);
                for (int k = 0; k < in->ndim; k++) ic[cases[c].perm[k]] = oc[k];
                ref[i] = x[nc_ravel(in, ic)];
            }
            check_close("permute", dtypes[d], got, ref, NULL, n, 0, 0);
            free(x);
            free(got);
            free(ref);
        }
    }
}

static void test_slice_and_pad(void **state) {
    (void)state;
    const struct {
        wg_shape big, small;
        int64_t start[4];
    } cases[] = {
        {{4, {6, 7, 8, 9}}, {4, {4, 3, 5, 9}}, {1, 2, 3, 0}},
        {{4, {50, 128, 8, 8}}, {4, {50, 128, 7, 7}}, {0, 0, 0, 0}}, /* the generator crop */
        {{2, {10, 11}}, {2, {1, 11}}, {9, 0}},
        {{3, {5, 6, 7}}, {3, {5, 6, 7}}, {0, 0, 0}},
        {{1, {100}}, {1, {37}}, {50}},
    };
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const wg_shape *big = &cases[c].big, *small = &cases[c].small;
            const int64_t nb = wg_shape_numel(big), ns = wg_shape_numel(small);
            /* slice: big -> small */
            double *x = random_values(nb, 0.1, 1);
            op_run r = {.dtype = dtypes[d], .n_inputs = 1};
            r.node.op = WG_OP_SLICE;
            r.node.shape = *small;
            memcpy(r.node.lval, cases[c].start, sizeof cases[c].start);
            r.in_shape[0] = *big;
            r.in[0] = x;
            double *got = malloc((size_t)nb * sizeof *got), *ref = calloc((size_t)nb, sizeof *ref);
            assert_int_equal(run_op(&r, got), WG_OK);
            for (int64_t i = 0; i < ns; i++) {
                int64_t sc[WG_MAX_DIMS];
                nc_unravel(small, i, sc);
                for (int k = 0; k < small->ndim; k++) sc[k] += cases[c].start[k];
                ref[i] = x[nc_ravel(big, sc)];
            }
            check_close("slice", dtypes[d], got, ref, NULL, ns, 0, 0);
            free(x);

            /* pad: small -> big, zero elsewhere */
            double *y = random_values(ns, 0.1, 1);
            r.node.op = WG_OP_PAD;
            r.node.shape = *big;
            r.in_shape[0] = *small;
            r.in[0] = y;
            assert_int_equal(run_op(&r, got), WG_OK);
            memset(ref, 0, (size_t)nb * sizeof *ref);
            for (int64_t i = 0; i < ns; i++) {
                int64_t sc[WG_MAX_DIMS];
                nc_unravel(small, i, sc);
                for (int k = 0; k < small->ndim; k++) sc[k] += cases[c].start[k];
                ref[nc_ravel(big, sc)] = y[i];
            }
            check_close("pad", dtypes[d], got, ref, NULL, nb, 0, 0);
            free(y);
            free(got);
            free(ref);
        }
    }
}

static void test_assign(void **state) {
    (void)state;
    const wg_shape shapes[] = {{1, {3}}, {4, {256, 128, 5, 5}}};
    for (int d = 0; d < 2; d++) {
        for (int s = 0; s < 2; s++) {
            const int64_t n = wg_shape_numel(&shapes[s]);
            double *old = random_values(n, 0.1, 1), *value = random_values(n, 0.1, 1);
            op_run r = {.dtype = dtypes[d], .n_inputs = 2};
            r.node.op = WG_OP_ASSIGN;
            r.node.shape = r.in_shape[0] = r.in_shape[1] = shapes[s];
            r.in[0] = old;
            r.in[1] = value;
            double *got = malloc((size_t)n * sizeof *got);
            assert_int_equal(run_op(&r, got), WG_OK);
            check_close("assign", dtypes[d], got, value, NULL, n, 0, 0);
            free(old);
            free(value);
            free(got);
        }
    }
}

/* ---- matmul ---- */

static void test_matmul(void **state) {
    (void)state;
    const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {130, 70, 90}};
    for (int d = 0; d < 2; d++) {
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            for (int t = 0; t < 4; t++) {
                const int m = sizes[z][0], k = sizes[z][1], n = sizes[z][2];
                const int ta = t & 1, tb = t >> 1;
                double *a = random_values((int64_t)m * k, 0.1, 1);
                double *b = random_values((int64_t)k * n, 0.1, 1);
                op_run r = {.dtype = dtypes[d], .n_inputs = 2};
                r.node.op = WG_OP_MATMUL;
                r.node.ival[0] = ta;
                r.node.ival[1] = tb;
                r.node.shape = (wg_shape){2, {m, n}};
                r.in_shape[0] = ta ? (wg_shape){2, {k, m}} : (wg_shape){2, {m, k}};
                r.in_shape[1] = tb ? (wg_shape){2, {n, k}} : (wg_shape){2, {k, n}};
                r.in[0] = a;
                r.in[1] = b;
                double *got = malloc((size_t)m * n * sizeof *got);
                double *ref = calloc((size_t)m * n, sizeof *ref),
                       *mag = calloc((size_t)m * n, sizeof *mag);
                assert_int_equal(run_op(&r, got), WG_OK);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                        for (int l = 0; l < k; l++) {
                            double x = ta ? a[l * m + i] : a[i * k + l];
                            double y = tb ? b[j * k + l] : b[l * n + j];
                            ref[i * n + j] += x * y;
                            mag[i * n + j] += fabs(x * y);
                        }
                char what[64];
                snprintf(what, sizeof what, "matmul %dx%dx%d ta %d tb %d", m, k, n, ta, tb);
                check_close(what, dtypes[d], got, ref, mag, (int64_t)m * n, 1e-6, 1e-14);
                free(a);
                free(b);
                free(got);
                free(ref);
                free(mag);
            }
        }
    }
}

/* ---- convolutions ---- */

typedef struct conv_case {
    int n, c, h, w, k, r, s, sh, sw, ph, pw;
} conv_case;

static const conv_case conv_cases[] = {
    {2, 3, 9, 8, 4, 3, 2, 2, 1, 1, 0},    /* non-square kernel, mixed strides */
    {3, 2, 7, 7, 5, 5, 5, 2, 2, 2, 2},    /* the MNIST critic's 5x5 stride 2 pad 2 */
    {1, 4, 6, 5, 3, 1, 1, 1, 1, 0, 0},    /* one image, 1x1 */
    {2, 2, 11, 10, 3, 4, 3, 3, 2, 2, 1},  /* stride 3, uneven padding */
    {4, 3, 8, 8, 2, 5, 5, 2, 2, 2, 2},    /* input rows the last output never reaches */
    {5, 8, 14, 14, 16, 5, 5, 2, 2, 2, 2}, /* big enough for the threaded paths */
    {2, 1, 12, 9, 6, 3, 5, 1, 3, 0, 2},
    {7, 2, 16, 16, 3, 3, 3, 1, 1, 1, 1}, /* batch chunks with a short last one */
    /* 800 taps and 784 columns a sample: column matrices of several MiB */
    {4, 32, 28, 28, 16, 5, 5, 1, 1, 2, 2},
};

/* y[n,k,p,q] = sum x[n,c,h,w] w[k,c,r,s] over taps h = p sh - ph + r, w = q sw - pw + s:
 * one loop nest visits every (x, w, y) triple, and each op picks its accumulation. */
typedef enum conv_role { CONV_Y, CONV_DX, CONV_DW } conv_role;

static void ref_conv(conv_role role, const conv_case *g, int h, int w, int p, int q,
                     const double *a, const double *b, double *ref, double *mag) {
    for (int n = 0; n < g->n; n++)
        for (int k = 0; k < g->k; k++)
            for (int c = 0; c < g->c; c++)
                for (int r = 0; r < g->r; r++)
                    for (int s = 0; s < g->s; s++)
                        for (int pp = 0; pp < p; pp++)
                            for (int qq = 0; qq < q; qq++) {
                                int hh = pp * g->sh - g->ph + r, ww = qq * g->sw - g->pw + s;
                                if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
                                int64_t xi = (((int64_t)n * g->c + c) * h + hh) * w + ww;
                                int64_t wi = (((int64_t)k * g->c + c) * g->r + r) * g->s + s;
                                int64_t yi = (((int64_t)n * g->k + k) * p + pp) * q + qq;
                                double term;
                                int64_t o;
                                if (role == CONV_Y) { /* a = x, b = w */
                                    term = a[xi] * b[wi];
                                    o = yi;
                                } else if (role == CONV_DX) { /* a = gy, b = w */
                                    term = a[yi] * b[wi];
                                    o = xi;
                                } else { /* a = x, b = gy */
                                    term = a[xi] * b[yi];
                                    o = wi;
                                }
                                ref[o] += term;
                                mag[o] += fabs(term);
                            }
}

static void run_conv_case(conv_role role, wg_dtype dtype, const conv_case *g, int h, int w) {
    const int p = (g->h + 2 * g->ph - g->r) / g->sh + 1, q = (g->w + 2 * g->pw - g->s) / g->sw + 1;
    const wg_shape xs = {4, {g->n, g->c, h, w}}, ws = {4, {g->k, g->c, g->r, g->s}},
                   ys = {4, {g->n, g->k, p, q}};
    op_run r = {.dtype = dtype, .n_inputs = 2};
    r.node.ival[0] = g->sh;
    r.node.ival[1] = g->sw;
    r.node.ival[2] = g->ph;
    r.node.ival[3] = g->pw;
    if (role == CONV_Y) {
        r.node.op = WG_OP_CONV2D;
        r.in_shape[0] = xs;
        r.in_shape[1] = ws;
        r.node.shape = ys;
    } else if (role == CONV_DX) {
        r.node.op = WG_OP_CONV2D_DX;
        r.in_shape[0] = ys;
        r.in_shape[1] = ws;
        r.node.shape = xs;
    } else {
        r.node.op = WG_OP_CONV2D_DW;
        r.in_shape[0] = xs;
        r.in_shape[1] = ys;
        r.node.shape = ws;
    }
    r.in[0] = random_values(wg_shape_numel(&r.in_shape[0]), 0.1, 1);
    r.in[1] = random_values(wg_shape_numel(&r.in_shape[1]), 0.1, 1);
    const int64_t n = wg_shape_numel(&r.node.shape);
    double *got = malloc((size_t)n * sizeof *got);
    double *ref = calloc((size_t)n, sizeof *ref), *mag = calloc((size_t)n, sizeof *mag);
    assert_int_equal(run_op(&r, got), WG_OK);
    ref_conv(role, g, h, w, p, q, r.in[0], r.in[1], ref, mag);
    /* an element no tap reaches must be exactly zero */
    for (int64_t i = 0; i < n; i++) mag[i] = mag[i] > 0 ? mag[i] : 1e-300;
    char what[128];
    snprintf(what, sizeof what, "%s n%d c%d %dx%d k%d %dx%d stride %d,%d pad %d,%d",
             role == CONV_Y    ? "conv2d"
             : role == CONV_DX ? "conv2d_dx"
                               : "conv2d_dw",
             g->n, g->c, h, w, g->k, g->r, g->s, g->sh, g->sw, g->ph, g->pw);
    check_close(what, dtype, got, ref, mag, n, 1e-6, 1e-14);
    /* a replay gives the same bits, whichever thread took which batch chunk */
    double *again = malloc((size_t)n * sizeof *again);
    assert_int_equal(run_op(&r, again), WG_OK);
    assert_memory_equal(got, again, (size_t)n * sizeof *got);
    free(again);
    free(r.in[0]);
    free(r.in[1]);
    free(got);
    free(ref);
    free(mag);
}

static void test_conv2d(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++)
        for (size_t c = 0; c < sizeof conv_cases / sizeof *conv_cases; c++)
            run_conv_case(CONV_Y, dtypes[d], &conv_cases[c], conv_cases[c].h, conv_cases[c].w);
}

/* The input gradient is conv_transpose2d, whose output size is chosen by the node: the
 * smallest one that covers every tap, and that plus output padding up to stride - 1. */
static void test_conv2d_dx(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof conv_cases / sizeof *conv_cases; c++) {
            const conv_case *g = &conv_cases[c];
            const int p = (g->h + 2 * g->ph - g->r) / g->sh + 1;
            const int q = (g->w + 2 * g->pw - g->s) / g->sw + 1;
            const int h0 = (p - 1) * g->sh - 2 * g->ph + g->r,
                      w0 = (q - 1) * g->sw - 2 * g->pw + g->s;
            run_conv_case(CONV_DX, dtypes[d], g, h0, w0);
            run_conv_case(CONV_DX, dtypes[d], g, h0 + g->sh - 1, w0 + g->sw - 1);
            run_conv_case(CONV_DX, dtypes[d], g, g->h, g->w);
        }
    }
}

static void test_conv2d_dw(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) {
        for (size_t c = 0; c < sizeof conv_cases / sizeof *conv_cases; c++) {
            const conv_case *g = &conv_cases[c];
            run_conv_case(CONV_DW, dtypes[d], g, g->h, g->w);
            /* an image with rows and columns beyond what the last output reads */
            run_conv_case(CONV_DW, dtypes[d], g, g->h + g->sh - 1, g->w + g->sw - 1);
        }
    }
}

/* Replayed steps must not allocate: the scratch buffer only grows. */
static void test_scratch_reused(void **state) {
    (void)state;
    wg_cpu_device *cpu = (wg_cpu_device *)device;
    run_conv_case(CONV_Y, WG_F32, &conv_cases[5], conv_cases[5].h, conv_cases[5].w);
    void *scratch = cpu->scratch;
    size_t bytes = cpu->scratch_bytes;
    assert_non_null(scratch);
    run_conv_case(CONV_DW, WG_F32, &conv_cases[5], conv_cases[5].h, conv_cases[5].w);
    run_conv_case(CONV_Y, WG_F32, &conv_cases[0], conv_cases[0].h, conv_cases[0].w);
    run_conv_case(CONV_Y, WG_F32, &conv_cases[5], conv_cases[5].h, conv_cases[5].w);
    assert_ptr_equal(cpu->scratch, scratch);
    assert_int_equal(cpu->scratch_bytes, bytes);
}

/* PyTorch's ConvTranspose2d through the public builders and a session, so the layout the
 * builders lower it to (an input gradient with w read as [Cin, Cout, R, S]) is the one
 * the kernel implements. */
static void test_conv_transpose_through_session(void **state) {
    (void)state;
    const int n = 2, cin = 5, h = 4, w = 3, cout = 3, r = 5, s = 4, sh = 2, sw = 3, ph = 2, pw = 1,
              oph = 1, opw = 2;
    const int ho = (h - 1) * sh - 2 * ph + r + oph, wo = (w - 1) * sw - 2 * pw + s + opw;
    for (int d = 0; d < 2; d++) {
        wg_graph *g = wg_graph_new(dtypes[d]);
        wg_node x = wg_input(g, wg_shape4(n, cin, h, w), "x");
        wg_node k = wg_input(g, wg_shape4(cin, cout, r, s), "w");
        wg_node y = wg_conv_transpose2d(g, x, k, (wg_conv_params){sh, sw, ph, pw}, oph, opw);
        assert_int_equal(wg_graph_status(g), WG_OK);
        assert_int_equal(wg_node_numel(g, y), (int64_t)n * cout * ho * wo);
        wg_session *session = NULL;
        assert_int_equal(wg_session_new(g, device, 1, &session), WG_OK);
        const int64_t nx = (int64_t)n * cin * h * w, nk = (int64_t)cin * cout * r * s,
                      ny = (int64_t)n * cout * ho * wo;
        double *xv = random_values(nx, 0.1, 1), *kv = random_values(nk, 0.1, 1);
        round_to(dtypes[d], xv, nx);
        round_to(dtypes[d], kv, nk);
        void *xh = to_dtype(dtypes[d], xv, nx), *kh = to_dtype(dtypes[d], kv, nk);
        assert_int_equal(wg_session_write(session, x, xh), WG_OK);
        assert_int_equal(wg_session_write(session, k, kh), WG_OK);
        wg_plan *plan = NULL;
        assert_int_equal(wg_plan_new(session, 1, &y, &plan), WG_OK);
        wg_plan_set_poison(plan, 1);
        assert_int_equal(wg_plan_run(plan), WG_OK);
        void *yh = malloc((size_t)ny * elem_size(dtypes[d]));
        assert_int_equal(wg_plan_read(plan, y, yh), WG_OK);

        double *ref = calloc((size_t)ny, sizeof *ref), *mag = calloc((size_t)ny, sizeof *mag);
        double *got = malloc((size_t)ny * sizeof *got);
        for (int b = 0; b < n; b++)
            for (int ci = 0; ci < cin; ci++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        for (int co = 0; co < cout; co++)
                            for (int a = 0; a < r; a++)
                                for (int c = 0; c < s; c++) {
                                    int oi = i * sh - ph + a, oj = j * sw - pw + c;
                                    if (oi < 0 || oi >= ho || oj < 0 || oj >= wo) continue;
                                    double term = xv[((b * cin + ci) * h + i) * w + j] *
                                                  kv[((ci * cout + co) * r + a) * s + c];
                                    int64_t o = ((b * cout + co) * (int64_t)ho + oi) * wo + oj;
                                    ref[o] += term;
                                    mag[o] += fabs(term);
                                }
        for (int64_t i = 0; i < ny; i++) {
            got[i] = element(dtypes[d], yh, i);
            mag[i] = mag[i] > 0 ? mag[i] : 1e-300;
        }
        check_close("conv_transpose2d via session", dtypes[d], got, ref, mag, ny, 1e-6, 1e-14);
        free(xv), free(kv), free(xh), free(kh), free(yh), free(ref), free(mag), free(got);
        wg_plan_free(plan);
        wg_session_free(session);
        wg_graph_free(g);
    }
}

/* ---- random draws ---- */

/* Known-answer vectors of Philox4x32-10 from the Random123 distribution. */
static void test_philox_known_answers(void **state) {
    (void)state;
    const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        wg_philox_block b =
            wg_philox4x32(kat[i][0], kat[i][1], kat[i][2], kat[i][3], kat[i][4], kat[i][5]);
        for (int w = 0; w < 4; w++) assert_int_equal(b.x[w], kat[i][6 + w]);
    }
}

static void run_random(op_run *r, wg_op op, wg_dtype dtype, int64_t n, uint64_t seed, uint64_t step,
                       int stream, double a, double b, double *out) {
    *r = (op_run){.dtype = dtype, .seed = seed, .step = step};
    r->node.op = op;
    r->node.shape = (wg_shape){2, {n / 10, 10}};
    r->node.lval[0] = stream;
    r->node.param[0] = a;
    r->node.param[1] = b;
    assert_int_equal(run_op(r, out), WG_OK);
}

static void test_random_uniform(void **state) {
    (void)state;
    const int64_t n = 100000;
    const uint64_t seed = 0x123456789abcdefull, step = (1ull << 33) + 5;
    double *got = malloc(n * sizeof *got), *other = malloc(n * sizeof *other);
    for (int d = 0; d < 2; d++) {
        op_run r;
        run_random(&r, WG_OP_RANDOM_UNIFORM, dtypes[d], n, seed, step, 3, -1.5, 2.5, got);
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            wg_philox_block x = wg_philox_element((uint64_t)i, 3, step, seed);
            double want;
            if (dtypes[d] == WG_F32) {
                const float lo = -1.5f, hi = 2.5f, span = hi - lo;
                want = lo + span * wg_philox_unit(x.x[0]);
            } else {
                want = -1.5 + 4.0 * (double)wg_philox_unit(x.x[0]);
            }
            if (got[i] != want) {
                print_error("uniform element %" PRId64 ": got %.17g want %.17g\n", i, got[i], want);
                fail();
            }
            assert_true(got[i] > -1.5 && got[i] < 2.5);
            sum += got[i];
        }
        assert_true(fabs(sum / n - 0.5) < 0.02);

        /* every key part matters, and the same key repeats */
        const struct {
            uint64_t seed, step;
            int stream, same;
        } variants[] = {{seed, step, 3, 1},
                        {seed + 1, step, 3, 0},
                        {seed ^ (1ull << 40), step, 3, 0},
                        {seed, step + 1, 3, 0},
                        {seed, step ^ (1ull << 33), 3, 0},
                        {seed, step, 4, 0}};
        for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
            run_random(&r, WG_OP_RANDOM_UNIFORM, dtypes[d], n, variants[v].seed, variants[v].step,
                       variants[v].stream, -1.5, 2.5, other);
            int64_t equal = 0;
            for (int64_t i = 0; i < n; i++) equal += got[i] == other[i];
            if (variants[v].same)
                assert_int_equal(equal, n);
            else
                assert_true(equal < n / 100);
        }
    }
    free(got);
    free(other);
}

static void test_random_normal(void **state) {
    (void)state;
    const int64_t n = 200000;
    const uint64_t seed = 42, step = 7;
    const double mean = 0.5, std = 2.0;
    double *got = malloc(n * sizeof *got);
    for (int d = 0; d < 2; d++) {
        op_run r;
        run_random(&r, WG_OP_RANDOM_NORMAL, dtypes[d], n, seed, step, 11, mean, std, got);
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n; i++) {
            wg_philox_block x = wg_philox_element((uint64_t)i, 11, step, seed);
            double u0 = wg_philox_unit(x.x[0]), u1 = wg_philox_unit(x.x[1]);
            double z = sqrt(-2 * log(u0)) * cos(2 * M_PI * u1);
            double want = mean + std * z;
            double tol = (dtypes[d] == WG_F32 ? 2e-6 : 1e-13) * (1 + std * (1 + fabs(z)));
            if (!(fabs(got[i] - want) <= tol)) {
                print_error("normal element %" PRId64 ": got %.17g want %.17g\n", i, got[i], want);
                fail();
            }
            sum += got[i];
            sq += (got[i] - mean) * (got[i] - mean);
        }
        assert_true(fabs(sum / n - mean) < 0.02);
        assert_true(fabs(sqrt(sq / n) - std) < 0.02);
    }
    free(got);
}

static int group_setup(void **state) {
    (void)state;
    const char *env = getenv("WGAN_TEST_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    print_message("test_cpu_backend: WGAN_TEST_SEED=%" PRIu64 "\n", rng_state);
    return wg_cpu_open(&device) == WG_OK ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    device->backend->close(device);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_basics),
        cmocka_unit_test(test_planned_ops_rejected),
        cmocka_unit_test_teardown(test_supports_every_op, nc_teardown),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_map_every_code),
        cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_sum_to),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_permute),
        cmocka_unit_test(test_slice_and_pad),
        cmocka_unit_test(test_assign),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_dx),
        cmocka_unit_test(test_conv2d_dw),
        cmocka_unit_test(test_scratch_reused),
        cmocka_unit_test(test_conv_transpose_through_session),
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_random_uniform),
        cmocka_unit_test(test_random_normal),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
