/* The OpenCL backend, op by op, against naive double-precision loops; plus its memory
 * operations and the on-disk program cache. Skips when no OpenCL device is present. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wgan/philox.h"
#include "backend.h"
#include "devices/opencl/opencl_cache.h"
#include "op_cases.h"
#include "reference.h"
#include "tiers.h"

static wg_device *device; /* shared by every test */
static wg_status open_status;
static char open_error[1024];

/* ---- random inputs ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(double lo, double hi) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    double u = (double)((rng_state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
    return lo + (hi - lo) * u;
}

/* Values in [lo, hi] whose magnitude is at least `away` (never zero for away > 0). */
static void fill_random(double *v, int64_t n, double lo, double hi, double away) {
    for (int64_t i = 0; i < n; i++) {
        double x;
        do x = uniform(lo, hi);
        while (fabs(x) < away);
        v[i] = x;
    }
}

/* ---- a hand-built graph: inputs first, the node under test last ---- */

#define MAX_NODES 4
#define PAD_ELEMS 7 /* every tensor sits at this element offset in its buffer */

typedef struct harness {
    wg_graph graph;
    wg_node_data nodes[MAX_NODES];
    double *host[MAX_NODES];
    void *mem[MAX_NODES];
    int count;
} harness;

static wg_shape shape_of(int ndim, const int64_t *dim) {
    wg_shape s = {.ndim = ndim};
    for (int k = 0; k < ndim; k++) s.dim[k] = dim[k];
    return s;
}
#define SHAPE(...)                                                                                 \
    shape_of((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void h_init(harness *h, wg_dtype dtype) {
    memset(h, 0, sizeof *h);
    h->graph.dtype = dtype;
    h->graph.nodes = h->nodes;
    h->graph.capacity = MAX_NODES;
}

static void h_free(harness *h) {
    for (int i = 0; i < h->count; i++) {
        free(h->host[i]);
        if (h->mem[i]) device->backend->release(device, h->mem[i]);
    }
}

/* An input with random values in [lo, hi], |v| >= away. */
static int h_input(harness *h, wg_shape shape, double lo, double hi, double away) {
    int i = h->count++;
    h->nodes[i].op = WG_OP_INPUT;
    h->nodes[i].shape = shape;
    h->host[i] = malloc(sizeof(double) * (size_t)wg_shape_numel(&shape));
    fill_random(h->host[i], wg_shape_numel(&shape), lo, hi, away);
    h->graph.count = h->count;
    return i;
}

static wg_node_data *h_op(harness *h, wg_op op, wg_shape shape, int n_inputs, ...) {
    int i = h->count++;
    wg_node_data *d = &h->nodes[i];
    d->op = op;
    d->shape = shape;
    d->n_inputs = n_inputs;
    va_list ap;
    va_start(ap, n_inputs);
    for (int k = 0; k < n_inputs; k++) d->input[k] = va_arg(ap, int);
    va_end(ap);
    h->graph.count = h->count;
    return d;
}

static size_t elem(wg_dtype dtype) {
    return dtype == WG_F64 ? 8 : 4;
}

static wg_ref ref_of(harness *h, int i) {
    wg_ref r = {h->mem[i], PAD_ELEMS * elem(h->graph.dtype)};
    return r;
}

static void upload(harness *h, int i) {
    int64_t n = wg_shape_numel(&h->nodes[i].shape);
    size_t es = elem(h->graph.dtype);
    assert_int_equal(device->backend->alloc(device, (size_t)(n + 2 * PAD_ELEMS) * es, &h->mem[i]),
                     WG_OK);
    void *buf = malloc((size_t)n * es + 1);
    for (int64_t k = 0; k < n; k++) {
        if (h->graph.dtype == WG_F64)
            ((double *)buf)[k] = h->host[i][k];
        else
            ((float *)buf)[k] = (float)h->host[i][k];
    }
    assert_int_equal(device->backend->write(device, ref_of(h, i), buf, (size_t)n * es), WG_OK);
    free(buf);
}

/* Uploads the inputs, poisons the output with NaN, runs the last node and returns its
 * output as doubles (the caller frees), or NULL with the status in *status. */
static double *h_run_status(harness *h, uint64_t seed, uint64_t step, wg_status *status) {
    int out = h->count - 1;
    for (int i = 0; i < out; i++)
        if (!h->mem[i]) upload(h, i);
    int64_t n = wg_shape_numel(&h->nodes[out].shape);
    size_t es = elem(h->graph.dtype);
    if (!h->mem[out])
        assert_int_equal(
            device->backend->alloc(device, (size_t)(n + 2 * PAD_ELEMS) * es, &h->mem[out]), WG_OK);
    assert_int_equal(device->backend->fill(device, ref_of(h, out), (size_t)n, h->graph.dtype, NAN),
                     WG_OK);
    wg_call call = {
        .graph = &h->graph, .node = out, .data = &h->nodes[out], .seed = seed, .step = step};
    call.out = ref_of(h, out);
    for (int k = 0; k < h->nodes[out].n_inputs; k++) call.in[k] = ref_of(h, h->nodes[out].input[k]);
    *status = device->backend->run(device, &call);
    if (*status != WG_OK) return NULL;
    void *buf = malloc((size_t)n * es + 1);
    assert_int_equal(device->backend->read(device, ref_of(h, out), buf, (size_t)n * es), WG_OK);
    double *result = malloc(sizeof(double) * (size_t)n + 1);
    for (int64_t k = 0; k < n; k++)
        result[k] = h->graph.dtype == WG_F64 ? ((double *)buf)[k] : ((float *)buf)[k];
    free(buf);
    return result;
}

static double *h_run(harness *h) {
    wg_status st;
    double *r = h_run_status(h, 0, 0, &st);
    if (!r) fail_msg("run failed: %s: %s", wg_status_name(st), wg_last_error());
    return r;
}

/* |got - want| <= tol (1 + |want|) everywhere, NaN never. */
static void expect_close(const char *what, const double *got, const double *want, int64_t n,
                         double tol) {
    for (int64_t i = 0; i < n; i++) {
        if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i]))))
            fail_msg("%s: element %lld is %.9g, expected %.9g", what, (long long)i, got[i],
                     want[i]);
    }
}

static double tolerance(wg_dtype dtype) {
    return dtype == WG_F64 ? 1e-11 : 2e-5;
}

static wg_dtype dtype_of(void **state) {
    return *(const wg_dtype *)*state;
}

/* Skips without OpenCL, and f64 tests on devices without double precision. */
static void require(wg_dtype dtype) {
    if (open_status == WG_ERR_UNSUPPORTED) {
        wg_test_skip("no OpenCL device: %s", open_error);
    }
    if (!device) fail_msg("opening opencl failed: %s", open_error);
    if (dtype == WG_F64) {
        harness h;
        h_init(&h, WG_F64);
        int x = h_input(&h, SHAPE(3), -1, 1, 0.1);
        wg_node_data *d = h_op(&h, WG_OP_MAP, SHAPE(3), 1, x);
        d->ival[0] = WG_MAP_SQUARE;
        wg_status st;
        double *r = h_run_status(&h, 0, 0, &st);
        free(r);
        h_free(&h);
        if (st == WG_ERR_UNSUPPORTED) {
            wg_test_skip("no double precision on this device: %s", wg_last_error());
        }
        assert_int_equal(st, WG_OK);
    }
}

/* ---- memory ---- */

static void test_write_read_fill(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    const wg_backend *b = device->backend;
    size_t es = elem(dtype);
    void *mem;
    assert_int_equal(b->alloc(device, 64 * es, &mem), WG_OK);
    double src[20], back[20];
    fill_random(src, 20, -5, 5, 0.1);
    unsigned char host[20 * 8], out[20 * 8];
    for (int i = 0; i < 20; i++) {
        if (dtype == WG_F64)
            ((double *)host)[i] = src[i];
        else
            ((float *)host)[i] = (float)src[i];
    }
    wg_ref at = {mem, 5 * es};
    assert_int_equal(b->write(device, at, host, 20 * es), WG_OK);
    wg_ref mid = {mem, 9 * es};
    assert_int_equal(b->fill(device, mid, 3, dtype, -2.5), WG_OK);
    assert_int_equal(b->read(device, at, out, 20 * es), WG_OK);
    for (int i = 0; i < 20; i++) {
        back[i] = dtype == WG_F64 ? ((double *)out)[i] : ((float *)out)[i];
        double want = (i >= 4 && i < 7) ? -2.5 : (dtype == WG_F64 ? src[i] : (float)src[i]);
        assert_true(back[i] == want);
    }
    assert_int_equal(b->finish(device), WG_OK);
    b->release(device, mem);
}

static void test_constant(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    harness h;
    h_init(&h, dtype);
    wg_node_data *d = h_op(&h, WG_OP_CONSTANT, SHAPE(3, 5, 7), 0);
    d->param[0] = 0.375;
    double *got = h_run(&h);
    for (int i = 0; i < 105; i++) assert_true(got[i] == 0.375);
    free(got);
    h_free(&h);
}

/* ---- random draws: philox.h evaluated on the host is the reference ---- */

static void test_random(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    const uint64_t seed = 0x1234abcd5678ef01ull, step = 0x100000003ull;
    for (int normal = 0; normal < 2; normal++) {
        harness h;
        h_init(&h, dtype);
        wg_node_data *d =
            h_op(&h, normal ? WG_OP_RANDOM_NORMAL : WG_OP_RANDOM_UNIFORM, SHAPE(17, 61), 0);
        d->lval[0] = 5;
        d->param[0] = normal ? 0.5 : -2.0;
        d->param[1] = normal ? 1.5 : 3.0;
        wg_status st;
        double *got = h_run_status(&h, seed, step, &st);
        assert_int_equal(st, WG_OK);
        double want[17 * 61];
        for (int i = 0; i < 17 * 61; i++) {
            wg_philox_block b = wg_philox_element((uint64_t)i, 5, step, seed);
            double u0 = wg_philox_unit(b.x[0]), u1 = wg_philox_unit(b.x[1]);
            if (normal)
                want[i] = 0.5 + 1.5 * sqrt(-2 * log(u0)) * cos(2 * M_PI * u1);
            else if (dtype == WG_F32) /* in float, in this order: the same bits as cpu */
                want[i] = -2.0f + (3.0f - -2.0f) * (float)u0;
            else
                want[i] = -2.0 + (3.0 - -2.0) * u0;
        }
        expect_close(normal ? "random_normal" : "random_uniform", got, want, 17 * 61,
                     !normal           ? 0
                     : dtype == WG_F64 ? 1e-12
                                       : 2e-5);
        /* a different step draws different numbers */
        double *next = h_run_status(&h, seed, step + 1, &st);
        int same = 0;
        for (int i = 0; i < 17 * 61; i++) same += next[i] == got[i];
        assert_true(same < 5);
        free(next);
        free(got);
        h_free(&h);
    }
}

/* ---- element-wise ---- */

static void test_map(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    for (int code = 0; code < WG_MAP_COUNT; code++) {
        int positive = nc_ref_map_positive(code);
        /* softplus and sigmoid also over a range wide enough to overflow a naive exp */
        double range = (code == WG_MAP_SIGMOID || code == WG_MAP_SOFTPLUS) ? 120 : 3;
        harness h;
        h_init(&h, dtype);
        wg_shape s = SHAPE(3, 37, 5);
        int x = positive ? h_input(&h, s, 0.05, 4, 0.05) : h_input(&h, s, -range, range, 0.01);
        wg_node_data *d = h_op(&h, WG_OP_MAP, s, 1, x);
        d->ival[0] = code;
        d->param[0] = code == WG_MAP_SCALE        ? 1.7
                      : code == WG_MAP_ADD_SCALAR ? -0.6
                      : code == WG_MAP_LEAKY_RELU ? 0.2
                                                  : -0.3; /* clamp, in_range */
        d->param[1] = 0.4;
        double *got = h_run(&h);
        int64_t n = wg_shape_numel(&s);
        double *want = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            /* the reference sees the value the device saw */
            double xi = dtype == WG_F64 ? h.host[x][i] : (float)h.host[x][i];
            want[i] = nc_ref_map(code, xi, d->param[0], d->param[1]);
        }
        char what[32];
        snprintf(what, sizeof what, "map code %d", code);
        expect_close(what, got, want, n, dtype == WG_F64 ? 1e-12 : 1e-5);
        free(want);
        free(got);
        h_free(&h);
    }
}

static void test_binary(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    struct {
        wg_shape a, b, out;
    } cases[] = {
        {SHAPE(3, 5, 7), SHAPE(3, 5, 7), SHAPE(3, 5, 7)},
        {SHAPE(2, 3, 4, 5), SHAPE(3, 1, 5), SHAPE(2, 3, 4, 5)},
        {SHAPE(4, 1), SHAPE(1, 6), SHAPE(4, 6)},
        {SHAPE(1), SHAPE(2, 3), SHAPE(2, 3)},
        {SHAPE(5, 1, 3), SHAPE(4, 1), SHAPE(5, 4, 3)},
        {SHAPE(7, 9, 11), SHAPE(11), SHAPE(7, 9, 11)},
        {SHAPE(2, 1, 4, 1), SHAPE(2, 3, 1, 5), SHAPE(2, 3, 4, 5)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int code = 0; code < WG_BIN_COUNT; code++) {
            for (int swap = 0; swap < 2; swap++) {
                harness h;
                h_init(&h, dtype);
                wg_shape sa = swap ? cases[c].b : cases[c].a, sb = swap ? cases[c].a : cases[c].b;
                int a = h_input(&h, sa, -2, 2, 0.3);
                int b = h_input(&h, sb, -2, 2, 0.3);
                wg_node_data *d = h_op(&h, WG_OP_BINARY, cases[c].out, 2, a, b);
                d->ival[0] = code;
                double *got = h_run(&h);
                int64_t n = wg_shape_numel(&cases[c].out);
                double *want = malloc(sizeof(double) * (size_t)n);
                for (int64_t i = 0; i < n; i++) {
                    double va = h.host[a][nc_broadcast_index(&sa, &cases[c].out, i)];
                    double vb = h.host[b][nc_broadcast_index(&sb, &cases[c].out, i)];
                    if (dtype == WG_F32) va = (float)va, vb = (float)vb;
                    want[i] = nc_ref_binary(code, va, vb);
                }
                char what[64];
                snprintf(what, sizeof what, "binary case %zu code %d swap %d", c, code, swap);
                expect_close(what, got, want, n, tolerance(dtype));
                free(want);
                free(got);
                h_free(&h);
            }
        }
    }
}

/* ---- layout and reductions ---- */

static void test_sum_to(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    struct {
        wg_shape in, out;
    } cases[] = {
        {SHAPE(2, 3, 4, 5), SHAPE(1, 3, 1, 5)},
        {SHAPE(2, 3, 4, 5), SHAPE(1, 1, 1, 1)},
        {SHAPE(2, 3, 4, 5), SHAPE(2, 1, 4, 1)},
        {SHAPE(7, 300), SHAPE(1, 300)},
        {SHAPE(3000, 5), SHAPE(1, 5)},
        {SHAPE(2, 3), SHAPE(2, 3)},
        {SHAPE(64, 33, 9), SHAPE(64, 1, 1)},
        {SHAPE(50, 64, 7, 7), SHAPE(1, 64, 1, 1)},
        {SHAPE(5000), SHAPE(1)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        harness h;
        h_init(&h, dtype);
        int x = h_input(&h, cases[c].in, -1, 1, 0.01);
        h_op(&h, WG_OP_SUM_TO, cases[c].out, 1, x);
        double *got = h_run(&h);
        int64_t n = wg_shape_numel(&cases[c].out), m = wg_shape_numel(&cases[c].in);
        double *want = calloc((size_t)n, sizeof(double));
        double *mag = calloc((size_t)n, sizeof(double));
        for (int64_t i = 0; i < m; i++) {
            int64_t co[WG_MAX_DIMS];
            nc_unravel(&cases[c].in, i, co);
            for (int k = 0; k < cases[c].in.ndim; k++)
                if (cases[c].out.dim[k] == 1) co[k] = 0;
            int64_t o = nc_ravel(&cases[c].out, co);
            double v = dtype == WG_F64 ? h.host[x][i] : (float)h.host[x][i];
            want[o] += v;
            mag[o] += fabs(v);
        }
        for (int64_t o = 0; o < n; o++) {
            double err = fabs(got[o] - want[o]);
            if (!(err <= tolerance(dtype) * (1 + mag[o])))
                fail_msg("sum_to case %zu: element %lld is %.9g, expected %.9g", c, (long long)o,
                         got[o], want[o]);
        }
        free(want);
        free(mag);
        free(got);
        h_free(&h);
    }
}

/* Reference for every gather-like op: output element -> input element or -1 (zero). */
typedef int64_t (*source_fn)(const wg_node_data *d, const wg_shape *in, const int64_t *co);

static int64_t src_expand(const wg_node_data *d, const wg_shape *in, const int64_t *co) {
    (void)d;
    int64_t ci[WG_MAX_DIMS];
    int lead = d->shape.ndim - in->ndim;
    for (int k = 0; k < in->ndim; k++) ci[k] = in->dim[k] == 1 ? 0 : co[k + lead];
    return nc_ravel(in, ci);
}

static int64_t src_permute(const wg_node_data *d, const wg_shape *in, const int64_t *co) {
    int64_t ci[WG_MAX_DIMS];
    for (int k = 0; k < in->ndim; k++) ci[d->ival[k]] = co[k];
    return nc_ravel(in, ci);
}

static int64_t src_slice(const wg_node_data *d, const wg_shape *in, const int64_t *co) {
    int64_t ci[WG_MAX_DIMS];
    for (int k = 0; k < in->ndim; k++) ci[k] = co[k] + d->lval[k];
    return nc_ravel(in, ci);
}

static int64_t src_pad(const wg_node_data *d, const wg_shape *in, const int64_t *co) {
    int64_t ci[WG_MAX_DIMS];
    for (int k = 0; k < in->ndim; k++) {
        ci[k] = co[k] - d->lval[k];
        if (ci[k] < 0 || ci[k] >= in->dim[k]) return -1;
    }
    return nc_ravel(in, ci);
}

static void check_gather(wg_dtype dtype, wg_op op, wg_shape in, wg_shape out, const int *ival,
                         const int64_t *lval, source_fn source) {
    harness h;
    h_init(&h, dtype);
    int x = h_input(&h, in, -3, 3, 0.01);
    wg_node_data *d = h_op(&h, op, out, 1, x);
    for (int k = 0; k < out.ndim; k++) {
        if (ival) d->ival[k] = ival[k];
        if (lval) d->lval[k] = lval[k];
    }
    double *got = h_run(&h);
    int64_t n = wg_shape_numel(&out);
    double *want = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t co[WG_MAX_DIMS];
        nc_unravel(&out, i, co);
        int64_t s = source(d, &in, co);
        double v = s < 0 ? 0 : h.host[x][s];
        want[i] = dtype == WG_F64 ? v : (float)v;
    }
    char what[32];
    snprintf(what, sizeof what, "op %d", (int)op);
    expect_close(what, got, want, n, 0);
    free(want);
    free(got);
    h_free(&h);
}

static void test_expand(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    check_gather(dtype, WG_OP_EXPAND, SHAPE(3, 1, 5), SHAPE(3, 4, 5), NULL, NULL, src_expand);
    check_gather(dtype, WG_OP_EXPAND, SHAPE(1, 1), SHAPE(6, 7), NULL, NULL, src_expand);
    check_gather(dtype, WG_OP_EXPAND, SHAPE(2, 1, 3, 1), SHAPE(2, 5, 3, 4), NULL, NULL, src_expand);
    check_gather(dtype, WG_OP_EXPAND, SHAPE(5), SHAPE(3, 5), NULL, NULL, src_expand);
}

static void test_permute(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    check_gather(dtype, WG_OP_PERMUTE, SHAPE(2, 3, 4, 5), SHAPE(5, 3, 2, 4), (int[]){3, 1, 0, 2},
                 NULL, src_permute);
    check_gather(dtype, WG_OP_PERMUTE, SHAPE(6, 7), SHAPE(7, 6), (int[]){1, 0}, NULL, src_permute);
    check_gather(dtype, WG_OP_PERMUTE, SHAPE(2, 3, 4), SHAPE(4, 2, 3), (int[]){2, 0, 1}, NULL,
                 src_permute);
    check_gather(dtype, WG_OP_PERMUTE, SHAPE(2, 3, 4, 5), SHAPE(2, 3, 4, 5), (int[]){0, 1, 2, 3},
                 NULL, src_permute);
}

static void test_slice(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    check_gather(dtype, WG_OP_SLICE, SHAPE(5, 6, 7), SHAPE(3, 2, 4), NULL, (int64_t[]){1, 2, 3},
                 src_slice);
    check_gather(dtype, WG_OP_SLICE, SHAPE(2, 3, 8, 9), SHAPE(1, 3, 5, 6), NULL,
                 (int64_t[]){1, 0, 2, 1}, src_slice);
    check_gather(dtype, WG_OP_SLICE, SHAPE(10), SHAPE(4), NULL, (int64_t[]){6}, src_slice);
}

static void test_pad(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    check_gather(dtype, WG_OP_PAD, SHAPE(3, 2, 4), SHAPE(5, 6, 7), NULL, (int64_t[]){1, 2, 3},
                 src_pad);
    check_gather(dtype, WG_OP_PAD, SHAPE(1, 3, 5, 6), SHAPE(2, 3, 8, 9), NULL,
                 (int64_t[]){1, 0, 2, 1}, src_pad);
    check_gather(dtype, WG_OP_PAD, SHAPE(4), SHAPE(10), NULL, (int64_t[]){0}, src_pad);
}

static void test_assign(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    harness h;
    h_init(&h, dtype);
    int var = h_input(&h, SHAPE(4, 9), -1, 1, 0.01);
    h.nodes[var].op = WG_OP_VARIABLE;
    int value = h_input(&h, SHAPE(4, 9), -1, 1, 0.01);
    h_op(&h, WG_OP_ASSIGN, SHAPE(4, 9), 2, var, value);
    double *got = h_run(&h);
    double want[36];
    for (int i = 0; i < 36; i++)
        want[i] = dtype == WG_F64 ? h.host[value][i] : (float)h.host[value][i];
    expect_close("assign", got, want, 36, 0);
    free(got);
    h_free(&h);
}

/* ---- matmul ---- */

static void test_matmul(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    /* the last two sum over enough terms to be split into batched chunks */
    const int sizes[][3] = {{37, 23, 51}, {1, 5, 3},      {300, 200, 260},
                            {64, 64, 64}, {16, 12, 9000}, {3, 70, 5003}};
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        for (int t = 0; t < 4; t++) {
            int m = sizes[c][0], n = sizes[c][1], k = sizes[c][2], ta = t & 1, tb = t >> 1;
            harness h;
            h_init(&h, dtype);
            int a = h_input(&h, ta ? SHAPE(k, m) : SHAPE(m, k), -1, 1, 0.01);
            int b = h_input(&h, tb ? SHAPE(n, k) : SHAPE(k, n), -1, 1, 0.01);
            wg_node_data *d = h_op(&h, WG_OP_MATMUL, SHAPE(m, n), 2, a, b);
            d->ival[0] = ta;
            d->ival[1] = tb;
            double *got = h_run(&h);
            double *want = calloc((size_t)m * n, sizeof(double));
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    for (int l = 0; l < k; l++) {
                        double va = h.host[a][ta ? l * m + i : i * k + l];
                        double vb = h.host[b][tb ? j * k + l : l * n + j];
                        if (dtype == WG_F32) va = (float)va, vb = (float)vb;
                        want[i * n + j] += va * vb;
                    }
            char what[64];
            snprintf(what, sizeof what, "matmul %dx%dx%d ta %d tb %d", m, n, k, ta, tb);
            expect_close(what, got, want, (int64_t)m * n, tolerance(dtype) * sqrt(k));
            free(want);
            free(got);
            h_free(&h);
        }
    }
}

/* ---- convolution ---- */

typedef struct conv_case {
    int n, c, h, w, k, r, s, sh, sw, ph, pw;
} conv_case;

static int conv_out(int size, int pad, int kernel, int stride) {
    return (size + 2 * pad - kernel) / stride + 1;
}

static double xval(const harness *h, int node, int64_t i, wg_dtype dtype) {
    double v = h->host[node][i];
    return dtype == WG_F64 ? v : (float)v;
}

/* Runs CONV2D, CONV2D_DX and CONV2D_DW for one geometry against direct loops. */
static void check_conv(wg_dtype dtype, conv_case cc) {
    int P = conv_out(cc.h, cc.ph, cc.r, cc.sh), Q = conv_out(cc.w, cc.pw, cc.s, cc.sw);
    wg_shape xs = SHAPE(cc.n, cc.c, cc.h, cc.w), ws = SHAPE(cc.k, cc.c, cc.r, cc.s),
             ys = SHAPE(cc.n, cc.k, P, Q);
    int conv[4] = {cc.sh, cc.sw, cc.ph, cc.pw};
    char what[128];
    snprintf(what, sizeof what, "conv x[%d,%d,%d,%d] w[%d,%d,%d,%d] stride %dx%d pad %dx%d", cc.n,
             cc.c, cc.h, cc.w, cc.k, cc.c, cc.r, cc.s, cc.sh, cc.sw, cc.ph, cc.pw);
    for (int which = 0; which < 3; which++) {
        harness h;
        h_init(&h, dtype);
        int x = -1, w = -1, gy = -1;
        wg_node_data *d;
        if (which == 0) {
            x = h_input(&h, xs, -1, 1, 0.01);
            w = h_input(&h, ws, -1, 1, 0.01);
            d = h_op(&h, WG_OP_CONV2D, ys, 2, x, w);
        } else if (which == 1) {
            gy = h_input(&h, ys, -1, 1, 0.01);
            w = h_input(&h, ws, -1, 1, 0.01);
            d = h_op(&h, WG_OP_CONV2D_DX, xs, 2, gy, w);
        } else {
            x = h_input(&h, xs, -1, 1, 0.01);
            gy = h_input(&h, ys, -1, 1, 0.01);
            d = h_op(&h, WG_OP_CONV2D_DW, ws, 2, x, gy);
        }
        memcpy(d->ival, conv, sizeof conv);
        double *got = h_run(&h);
        int64_t n_out = wg_shape_numel(&d->shape);
        double *want = calloc((size_t)n_out, sizeof(double));
        int64_t terms = 0;
        for (int n = 0; n < cc.n; n++)
            for (int k = 0; k < cc.k; k++)
                for (int p = 0; p < P; p++)
                    for (int q = 0; q < Q; q++)
                        for (int c = 0; c < cc.c; c++)
                            for (int r = 0; r < cc.r; r++)
                                for (int s = 0; s < cc.s; s++) {
                                    int hh = p * cc.sh - cc.ph + r, ww = q * cc.sw - cc.pw + s;
                                    if (hh < 0 || hh >= cc.h || ww < 0 || ww >= cc.w) continue;
                                    int64_t xi = (((int64_t)n * cc.c + c) * cc.h + hh) * cc.w + ww;
                                    int64_t wi = (((int64_t)k * cc.c + c) * cc.r + r) * cc.s + s;
                                    int64_t yi = (((int64_t)n * cc.k + k) * P + p) * Q + q;
                                    terms++;
                                    if (which == 0)
                                        want[yi] += xval(&h, x, xi, dtype) * xval(&h, w, wi, dtype);
                                    else if (which == 1)
                                        want[xi] +=
                                            xval(&h, gy, yi, dtype) * xval(&h, w, wi, dtype);
                                    else
                                        want[wi] +=
                                            xval(&h, x, xi, dtype) * xval(&h, gy, yi, dtype);
                                }
        char full[160];
        snprintf(full, sizeof full, "%s %s",
                 which == 0   ? "forward"
                 : which == 1 ? "dx"
                              : "dw",
                 what);
        double depth = (double)terms / (double)n_out + 1;
        expect_close(full, got, want, n_out, tolerance(dtype) * sqrt(depth));
        free(want);
        free(got);
        h_free(&h);
    }
}

static void test_conv(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    const conv_case cases[] = {
        {2, 3, 7, 6, 4, 3, 2, 2, 1, 1, 0},  /* non-square kernel, mixed stride and padding */
        {2, 3, 8, 6, 4, 3, 2, 2, 1, 1, 0},  /* a row that only dx's output padding reaches */
        {1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1},  /* batch of one */
        {3, 4, 9, 8, 5, 5, 5, 2, 2, 2, 2},  /* the MNIST critic's geometry, smaller */
        {2, 3, 4, 4, 6, 1, 1, 1, 1, 0, 0},  /* 1x1 */
        {2, 3, 10, 9, 2, 2, 4, 3, 2, 0, 2}, /* stride 3 with rows it never reaches */
        {4, 16, 14, 14, 8, 5, 5, 2, 2, 2, 2},
        {32, 2, 28, 28, 4, 3, 3, 1, 1, 1, 1}, /* dw sums over 25088 terms: split */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_conv(dtype, cases[i]);
}

/* ---- errors ---- */

static void test_nodes_without_kernel(void **state) {
    (void)state;
    require(WG_F32);
    const wg_op ops[] = {WG_OP_INPUT, WG_OP_VARIABLE, WG_OP_RESHAPE};
    for (size_t i = 0; i < 3; i++) {
        harness h;
        h_init(&h, WG_F32);
        int x = h_input(&h, SHAPE(2, 3), -1, 1, 0.1);
        h_op(&h, ops[i], SHAPE(2, 3), ops[i] == WG_OP_RESHAPE ? 1 : 0, x);
        wg_status st;
        double *r = h_run_status(&h, 0, 0, &st);
        assert_null(r);
        assert_int_equal(st, WG_ERR_INVALID);
        assert_true(strlen(wg_last_error()) > 0);
        h_free(&h);
    }
}

/* Every op of the table; not tensors of 2^31 elements, which its kernels cannot index. */
static void test_supports_every_op(void **state) {
    wg_dtype dtype = dtype_of(state);
    require(dtype);
    assert_int_equal(nc_unsupported_kinds(device, dtype), 0);
    const wg_shape huge = wg_shape2(1 << 16, 1 << 15);
    const char *why = NULL;
    wg_op_query map = {.op = WG_OP_MAP, .dtype = dtype, .out = huge, .n_inputs = 1, .in = {huge}};
    assert_false(device->backend->supports_op(device, &map, &why));
    assert_non_null(strstr(why, "2^31"));
    wg_op_query sum = {.op = WG_OP_SUM_TO,
                       .dtype = dtype,
                       .out = wg_shape2(1, 1 << 15),
                       .n_inputs = 1,
                       .in = {huge}};
    assert_false(device->backend->supports_op(device, &sum, NULL));
    wg_op_query input = {.op = WG_OP_INPUT, .dtype = dtype, .out = wg_shape1(4)};
    assert_false(device->backend->supports_op(device, &input, NULL));
}

/* ---- the program cache ---- */

static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strcmp(e->d_name, ".") != 0 &&
            strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1500];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Opens the same OpenCL device as the shared one, with the cache in `dir`. */
static wg_device *open_with_cache(const char *dir, wg_program_cache_stats *stats) {
    setenv("WGAN_PROGRAM_CACHE", dir, 1);
    wg_device *dev;
    wg_status st = wg_device_open("opencl", &dev);
    if (st != WG_OK) fail_msg("opening opencl: %s", wg_last_error());
    assert_int_equal(wg_opencl_cache_stats(dev, stats), WG_OK);
    return dev;
}

static void test_program_cache(void **state) {
    (void)state;
    require(WG_F32);
    char saved[1024];
    const char *old = getenv("WGAN_PROGRAM_CACHE");
    snprintf(saved, sizeof saved, "%s", old ? old : "");
    char dir[] = "/tmp/wgan-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/programs", dir); /* does not exist yet: created on store */

    wg_program_cache_stats s;
    wg_device *dev = open_with_cache(sub, &s);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.stored, 1);
    assert_int_equal(count_entries(sub, ""), 1);
    wg_device_close(dev);

    dev = open_with_cache(sub, &s);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 0);
    assert_int_equal(s.stored, 0);
    wg_device_close(dev);

    /* corrupt the entry: the next open rebuilds from source and rewrites it */
    DIR *d = opendir(sub);
    struct dirent *e;
    char path[1500] = "";
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
    closedir(d);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
    dev = open_with_cache(sub, &s);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.stored, 1);
    wg_device_close(dev);

    /* a truncated entry, too */
    f = fopen(path, "r+b");
    assert_int_equal(ftruncate(fileno(f), 30), 0);
    fclose(f);
    dev = open_with_cache(sub, &s);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.stored, 1);
    wg_device_close(dev);

    dev = open_with_cache(sub, &s);
    assert_int_equal(s.hits, 1);
    assert_int_equal(count_entries(sub, ".tmp"), 0);
    assert_int_equal(count_entries(sub, ""), 1);
    wg_device_close(dev);

    /* other build options are another entry */
    setenv("WGAN_OPENCL_BUILD_OPTIONS", "-DWG_UNUSED_OPTION=1", 1);
    dev = open_with_cache(sub, &s);
    unsetenv("WGAN_OPENCL_BUILD_OPTIONS");
    assert_int_equal(s.misses, 1);
    assert_int_equal(count_entries(sub, ""), 2);
    wg_device_close(dev);

    if (saved[0])
        setenv("WGAN_PROGRAM_CACHE", saved, 1);
    else
        unsetenv("WGAN_PROGRAM_CACHE");
    remove_dir(sub);
    rmdir(dir);
}

static void test_build_failure_has_log(void **state) {
    (void)state;
    require(WG_F32);
    char dir[] = "/tmp/wgan-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char saved[1024];
    const char *old = getenv("WGAN_PROGRAM_CACHE");
    snprintf(saved, sizeof saved, "%s", old ? old : "");
    setenv("WGAN_PROGRAM_CACHE", dir, 1);
    setenv("WGAN_OPENCL_BUILD_OPTIONS", "-DREAL=no_such_type", 1);
    wg_device *dev;
    wg_status st = wg_device_open("opencl", &dev);
    unsetenv("WGAN_OPENCL_BUILD_OPTIONS");
    if (saved[0])
        setenv("WGAN_PROGRAM_CACHE", saved, 1);
    else
        unsetenv("WGAN_PROGRAM_CACHE");
    assert_int_equal(st, WG_ERR_DEVICE);
    assert_null(dev);
    const char *msg = wg_last_error();
    print_message("build failure: %.200s...\n", msg);
    assert_non_null(strstr(msg, "build log"));
    assert_non_null(strstr(msg, "no_such_type"));
    remove_dir(dir);
}

static int open_device(void **state) {
    (void)state;
    open_status = wg_device_open("opencl", &device);
    if (open_status != WG_OK) {
        snprintf(open_error, sizeof open_error, "%s", wg_last_error());
        device = NULL;
    } else {
        print_message("device: %s\n", wg_device_description(device));
    }
    return 0;
}

static int close_device(void **state) {
    (void)state;
    wg_device_close(device);
    return 0;
}

static wg_dtype f32 = WG_F32, f64 = WG_F64;
#define BOTH(fn)                                                                                   \
    {#fn "_f32", fn, NULL, NULL, &f32}, {                                                          \
#fn "_f64", fn, NULL, NULL, &f64                                                           \
    }

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_write_read_fill),
        BOTH(test_constant),
        BOTH(test_random),
        BOTH(test_map),
        BOTH(test_binary),
        BOTH(test_sum_to),
        BOTH(test_expand),
        BOTH(test_permute),
        BOTH(test_slice),
        BOTH(test_pad),
        BOTH(test_assign),
        BOTH(test_matmul),
        BOTH(test_conv),
        cmocka_unit_test(test_nodes_without_kernel),
        {"test_supports_every_op_f32", test_supports_every_op, NULL, nc_teardown, &f32},
        {"test_supports_every_op_f64", test_supports_every_op, NULL, nc_teardown, &f64},
        cmocka_unit_test(test_program_cache),
        cmocka_unit_test(test_build_failure_has_log),
    };
    return wg_test_run_group("opencl_backend", tests, sizeof tests / sizeof *tests, open_device,
                             close_device);
}
