/* Every cpu kernel, written once for an element type. cpu_kernels.c includes this file
 * once per dtype after defining:
 *   REAL       the element type (float or double)
 *   FN(name)   `name` with the dtype's suffix
 *   RF(name)   the <math.h> function `name` for REAL (expf or exp)
 *   GEMM       cblas_sgemm or cblas_dgemm
 * so it deliberately has no include guard. */

/* Each parallel loop below is a range function over a job struct (cpu_pool.h). */

typedef struct FN(fill_job) {
    REAL *dst;
    REAL value;
} FN(fill_job);

static void FN(fill_range)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(fill_job) *j = ctx;
    for (int64_t i = first; i < end; i++) j->dst[i] = j->value;
}

static void FN(fill)(REAL *dst, int64_t n, REAL value) {
    FN(fill_job) j = {dst, value};
    wg_cpu_parallel(n, WG_CPU_ELEMENT_GRAIN(n), FN(fill_range), &j);
}

void FN(wg_cpu_fill)(void *dst, size_t count, double value) {
    FN(fill)(dst, (int64_t)count, (REAL)value);
}

typedef struct FN(copy_job) {
    REAL *dst;
    const REAL *src;
} FN(copy_job);

static void FN(copy_range)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(copy_job) *j = ctx;
    memcpy(j->dst + first, j->src + first, (size_t)(end - first) * sizeof(REAL));
}

static void FN(copy)(REAL *dst, const REAL *src, int64_t n) {
    if (dst == src) return;
    FN(copy_job) j = {dst, src};
    wg_cpu_parallel(n, WG_CPU_ELEMENT_GRAIN(n), FN(copy_range), &j);
}

/* The one strided copy behind expand, permute, slice, pad and the convolutions'
 * transposes: walk operand 0 is dst, operand 1 src. `threaded` is 0 when the caller is
 * already one thread of a parallel region. */
typedef struct FN(walk_job) {
    REAL *dst;
    const REAL *src;
    const wg_cpu_walk *walk;
} FN(walk_job);

static void FN(copy_walk_rows)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(walk_job) *j = ctx;
    const wg_cpu_walk *walk = j->walk;
    const int last = walk->ndim - 1;
    const int64_t inner = walk->dim[last];
    const int64_t ds = walk->stride[0][last], ss = walk->stride[1][last];
    wg_cpu_cursor at;
    wg_cpu_cursor_at(&at, walk, 2, first);
    for (int64_t row = first; row < end; row++, wg_cpu_cursor_next(&at, walk, 2)) {
        REAL *d = j->dst + at.offset[0];
        const REAL *s = j->src + at.offset[1];
        if (ds == 1 && ss == 1) {
            memcpy(d, s, (size_t)inner * sizeof(REAL));
        } else if (ss == 0) {
            const REAL v = s[0];
            for (int64_t i = 0; i < inner; i++) d[i * ds] = v;
        } else {
            for (int64_t i = 0; i < inner; i++) d[i * ds] = s[i * ss];
        }
    }
}

static void FN(copy_walk)(REAL *dst, const REAL *src, const wg_cpu_walk *walk, int threaded) {
    const int64_t rows = wg_cpu_walk_rows(walk), inner = walk->dim[walk->ndim - 1];
    const int par = threaded && rows > 1 && rows * inner >= WG_CPU_PARALLEL_MIN;
    FN(walk_job) j = {dst, src, walk};
    wg_cpu_parallel(rows, par ? WG_CPU_ROW_GRAIN(inner) : rows, FN(copy_walk_rows), &j);
}

/* [a, b, len] -> [b, a, len]: moves the batch axis past the channel axis and back,
 * around the GEMM that serves a whole batch (or a chunk of it) at once. */
static void FN(swap_outer)(REAL *dst, const REAL *src, int64_t a, int64_t b, int64_t len,
                           int threaded) {
    const wg_shape shape = {3, {b, a, len}};
    wg_cpu_walk walk;
    wg_cpu_walk_init(&walk, &shape);
    wg_cpu_strides(&shape, walk.stride[0]);
    walk.stride[1][0] = len;
    walk.stride[1][1] = b * len;
    walk.stride[1][2] = 1;
    wg_cpu_walk_coalesce(&walk, 2);
    FN(copy_walk)(dst, src, &walk, threaded);
}

static REAL FN(sigmoid)(REAL x) {
    if (x >= 0) return 1 / (1 + RF(exp)(-x));
    const REAL e = RF(exp)(x); /* exp(-x) would overflow */
    return e / (1 + e);
}

static REAL FN(softplus)(REAL x) {
    return x > 0 ? x + RF(log1p)(RF(exp)(-x)) : RF(log1p)(RF(exp)(x));
}

/* One function per map code of the op table (ops.h); each reads the scalars it needs. */
#define MAP_FN(name, expr)                                                                         \
    static inline REAL FN(map_##name)(REAL x, REAL p0, REAL p1) {                                  \
        (void)p0, (void)p1;                                                                        \
        return (expr);                                                                             \
    }
MAP_FN(scale, x *p0)
MAP_FN(add_scalar, x + p0)
MAP_FN(square, x *x)
MAP_FN(sqrt, RF(sqrt)(x))
MAP_FN(rsqrt, 1 / RF(sqrt)(x))
MAP_FN(reciprocal, 1 / x)
MAP_FN(exp, RF(exp)(x))
MAP_FN(log, RF(log)(x))
MAP_FN(tanh, RF(tanh)(x))
MAP_FN(sigmoid, FN(sigmoid)(x))
MAP_FN(softplus, FN(softplus)(x))
MAP_FN(relu, x > 0 ? x : (REAL)0)
MAP_FN(leaky_relu, x > 0 ? x : p0 * x)
/* min(max(x, p0), p1), written so that NaN stays NaN */
MAP_FN(clamp, x<p0 ? (p0 > p1 ? p1 : p0) : x> p1 ? p1 : x)
MAP_FN(step, x > 0 ? (REAL)1 : (REAL)0)
MAP_FN(in_range, p0 < x && x < p1 ? (REAL)1 : (REAL)0)
#undef MAP_FN

typedef struct FN(map_job) {
    REAL *out;
    const REAL *in;
    int code;
    REAL p0, p1;
} FN(map_job);

static void FN(map_range)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(map_job) *j = ctx;
    REAL *out = j->out;
    const REAL *in = j->in;
    const REAL p0 = j->p0, p1 = j->p1;
    /* One loop per code, so the switch is not inside the loop. Naming the function
     * before calling it makes a code without one a compile error, not an implicit
     * declaration. */
#define MAP_CASE(NAME, name, ...)                                                                       \
    case WG_MAP_##NAME:                                                                            \
        (void)FN(map_##name);                                                                      \
        for (int64_t i = first; i < end; i++) out[i] = FN(map_##name)(in[i], p0, p1);              \
        break;
    switch (j->code) {
        WG_MAP_LIST(MAP_CASE)
    default: break; /* codes are checked before the loop */
    }
#undef MAP_CASE
}

static wg_status FN(map)(REAL *out, const REAL *in, int64_t n, int code, const double *param) {
    if (code < 0 || code >= WG_MAP_COUNT)
        return wg_fail(WG_ERR_INVALID, "cpu: unknown map code %d", code);
    FN(map_job) j = {out, in, code, (REAL)param[0], (REAL)param[1]};
    wg_cpu_parallel(n, WG_CPU_ELEMENT_GRAIN(n), FN(map_range), &j);
    return WG_OK;
}

/* Element i of a draw comes from philox.h's block (first + i, stream, step, seed), and the
 * arithmetic is done in REAL in this exact order: the OpenCL kernels do the same, so
 * uniform draws agree bit for bit across devices. */
typedef struct FN(random_job) {
    REAL *out;
    REAL a, b;
    uint64_t first, stream, step, seed;
    int normal;
} FN(random_job);

static void FN(random_range)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(random_job) *j = ctx;
    const REAL a = j->a, b = j->b;
    REAL *out = j->out;
    if (!j->normal) {
        const REAL span = b - a;
        for (int64_t i = first; i < end; i++) {
            const wg_philox_block x =
                wg_philox_element(j->first + (uint64_t)i, j->stream, j->step, j->seed);
            out[i] = a + span * (REAL)wg_philox_unit(x.x[0]);
        }
    } else {
        for (int64_t i = first; i < end; i++) {
            const wg_philox_block x =
                wg_philox_element(j->first + (uint64_t)i, j->stream, j->step, j->seed);
            const REAL u0 = (REAL)wg_philox_unit(x.x[0]), u1 = (REAL)wg_philox_unit(x.x[1]);
            const REAL radius = RF(sqrt)(-2 * RF(log)(u0));
            out[i] = a + b * (radius * RF(cos)((REAL)6.283185307179586 * u1));
        }
    }
}

static void FN(random)(REAL *out, int64_t n, int normal, const wg_call *call) {
    FN(random_job)
    j = {out,
         (REAL)call->data->param[0],
         (REAL)call->data->param[1],
         (uint64_t)call->data->lval[1],
         (uint64_t)call->data->lval[0],
         call->step,
         call->seed,
         normal};
    /* Philox is ~100 ops an element: worth threads from a sixteenth of the usual size */
    const int64_t grain = n >= WG_CPU_PARALLEL_MIN / 16 ? WG_CPU_PARALLEL_MIN / 64 : n;
    wg_cpu_parallel(n, grain, FN(random_range), &j);
}

/* One function per binary code of the op table (ops.h). */
#define BINARY_FN(name, expr)                                                                      \
    static inline REAL FN(binary_##name)(REAL a, REAL b) {                                         \
        return (expr);                                                                             \
    }
BINARY_FN(add, a + b)
BINARY_FN(sub, a - b)
BINARY_FN(mul, a *b)
BINARY_FN(div, a / b)
#undef BINARY_FN

typedef struct FN(binary_job) {
    REAL *out;
    const REAL *a, *b;
    int code;
    wg_cpu_flat flat;
    const wg_cpu_walk *walk; /* rows of broadcast operands */
    int64_t inner, sa, sb;
} FN(binary_job);

/* Equal element counts, or one side a scalar. Each layout is a switch case per code, so
 * no switch is inside a loop. */
static void FN(binary_flat)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(binary_job) *j = ctx;
    REAL *out = j->out;
    const REAL *a = j->a, *b = j->b;
#define SAME(NAME, name)                                                                           \
    case WG_BIN_##NAME:                                                                            \
        (void)FN(binary_##name); /* a compile error when the code has no function */               \
        for (int64_t i = first; i < end; i++) out[i] = FN(binary_##name)(a[i], b[i]);              \
        break;
#define SCALAR_B(NAME, name)                                                                       \
    case WG_BIN_##NAME:                                                                            \
        for (int64_t i = first; i < end; i++) out[i] = FN(binary_##name)(a[i], b[0]);              \
        break;
#define SCALAR_A(NAME, name)                                                                       \
    case WG_BIN_##NAME:                                                                            \
        for (int64_t i = first; i < end; i++) out[i] = FN(binary_##name)(a[0], b[i]);              \
        break;
    switch (j->flat) {
    case WG_CPU_FLAT_SAME:
        switch (j->code) { WG_BINARY_LIST(SAME) }
        break;
    case WG_CPU_FLAT_SCALAR_B:
        switch (j->code) { WG_BINARY_LIST(SCALAR_B) }
        break;
    case WG_CPU_FLAT_SCALAR_A:
        switch (j->code) { WG_BINARY_LIST(SCALAR_A) }
        break;
    }
#undef SCALAR_A
#undef SCALAR_B
#undef SAME
}

/* Broadcast operands: rows of the coalesced walk, inner strides 1 or 0. */
static void FN(binary_rows)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(binary_job) *j = ctx;
    const wg_cpu_walk *walk = j->walk;
    const int64_t inner = j->inner, sa = j->sa, sb = j->sb;
    wg_cpu_cursor at;
    wg_cpu_cursor_at(&at, walk, 3, first);
#define ROWS(NAME, name)                                                                           \
    case WG_BIN_##NAME:                                                                            \
        for (int64_t r = first; r < end; r++, wg_cpu_cursor_next(&at, walk, 3)) {                  \
            REAL *o = j->out + at.offset[0];                                                       \
            const REAL *x = j->a + at.offset[1], *y = j->b + at.offset[2];                         \
            if (sa && sb) {                                                                        \
                for (int64_t i = 0; i < inner; i++) o[i] = FN(binary_##name)(x[i], y[i]);          \
            } else if (sa) {                                                                       \
                const REAL v = y[0];                                                               \
                for (int64_t i = 0; i < inner; i++) o[i] = FN(binary_##name)(x[i], v);             \
            } else if (sb) {                                                                       \
                const REAL u = x[0];                                                               \
                for (int64_t i = 0; i < inner; i++) o[i] = FN(binary_##name)(u, y[i]);             \
            } else {                                                                               \
                const REAL v = FN(binary_##name)(x[0], y[0]);                                      \
                for (int64_t i = 0; i < inner; i++) o[i] = v;                                      \
            }                                                                                      \
        }                                                                                          \
        break;
    switch (j->code) { WG_BINARY_LIST(ROWS) }
#undef ROWS
}

static wg_status FN(binary)(REAL *out, const wg_shape *shape, const REAL *a,
                            const wg_shape *a_shape, const REAL *b, const wg_shape *b_shape,
                            int code) {
    if (code < 0 || code >= WG_BIN_COUNT)
        return wg_fail(WG_ERR_INVALID, "cpu: unknown binary code %d", code);
    const int64_t n = wg_cpu_numel(shape), na = wg_cpu_numel(a_shape), nb = wg_cpu_numel(b_shape);
    FN(binary_job) j = {.out = out, .a = a, .b = b, .code = code};
    /* Equal element counts mean neither side broadcasts. */
    if ((na == n && nb == n) || (na == n && nb == 1) || (na == 1 && nb == n)) {
        j.flat = na == n && nb == n ? WG_CPU_FLAT_SAME
                 : na == n          ? WG_CPU_FLAT_SCALAR_B
                                    : WG_CPU_FLAT_SCALAR_A;
        wg_cpu_parallel(n, WG_CPU_ELEMENT_GRAIN(n), FN(binary_flat), &j);
        return WG_OK;
    }
    wg_cpu_walk walk;
    wg_cpu_walk_init(&walk, shape);
    wg_cpu_strides(shape, walk.stride[0]);
    wg_cpu_broadcast_strides(a_shape, shape, walk.stride[1]);
    wg_cpu_broadcast_strides(b_shape, shape, walk.stride[2]);
    wg_cpu_walk_coalesce(&walk, 3);
    const int last = walk.ndim - 1;
    const int64_t rows = wg_cpu_walk_rows(&walk);
    j.walk = &walk;
    j.inner = walk.dim[last];
    /* Inputs are contiguous, so an inner stride is 1 or 0 (broadcast). */
    j.sa = walk.stride[1][last];
    j.sb = walk.stride[2][last];
    const int par = n >= WG_CPU_PARALLEL_MIN && rows > 1;
    wg_cpu_parallel(rows, par ? WG_CPU_ROW_GRAIN(j.inner) : rows, FN(binary_rows), &j);
    return WG_OK;
}

/* Sum of a contiguous run in double. Eight running sums instead of one: a single
 * accumulator is a chain of dependent adds (4 cycles each), eight vectorise. */
static double FN(sum_run)(const REAL *in, int64_t n) {
    enum { LANES = 8 };
    double lane[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += in[i + j];
    double acc = 0;
    for (; i < n; i++) acc += in[i];
    for (int j = 0; j < LANES; j++) acc += lane[j];
    return acc;
}

/* Sum of a contiguous array in double, over a fixed number of chunks so the result does
 * not depend on the thread count. */
typedef struct FN(sum_all_job) {
    const REAL *in;
    int64_t n, len;
    double *partial;
} FN(sum_all_job);

static void FN(sum_all_parts)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(sum_all_job) *j = ctx;
    for (int64_t c = first; c < end; c++) {
        const int64_t from = c * j->len, to = from + j->len < j->n ? from + j->len : j->n;
        j->partial[c] = from < to ? FN(sum_run)(j->in + from, to - from) : 0;
    }
}

static double FN(sum_all)(const REAL *in, int64_t n) {
    enum { CHUNKS = 64 };
    if (n < WG_CPU_PARALLEL_MIN) return FN(sum_run)(in, n);
    double partial[CHUNKS];
    FN(sum_all_job) j = {in, n, (n + CHUNKS - 1) / CHUNKS, partial};
    wg_cpu_parallel(CHUNKS, 1, FN(sum_all_parts), &j);
    double total = 0;
    for (int c = 0; c < CHUNKS; c++) total += partial[c];
    return total;
}

typedef struct FN(sum_to_job) {
    REAL *out;
    const REAL *in;
    const wg_cpu_reduce *plan;
    int64_t runs, rows, blocks; /* summed runs per output; rows and blocks of the other path */
} FN(sum_to_job);

/* Each output sums contiguous runs of `inner`, one per outer summed index. */
static void FN(sum_to_runs)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(sum_to_job) *j = ctx;
    const wg_cpu_reduce *plan = j->plan;
    const int outer = plan->summed - 1;
    for (int64_t o = first; o < end; o++) {
        const REAL *base =
            j->in + wg_cpu_box_offset(o, plan->kept, plan->kept_dim, plan->kept_stride);
        double acc = 0;
        for (int64_t run = 0; run < j->runs; run++)
            acc += FN(sum_run)(
                base + wg_cpu_box_offset(run, outer, plan->summed_dim, plan->summed_stride),
                plan->inner);
        j->out[o] = (REAL)acc;
    }
}

enum { FN(SUM_BLOCK) = 256 };

/* The innermost axis is kept: add whole rows into a block of accumulators, which reads
 * the input in order instead of striding down columns. Task = (output row, block). */
static void FN(sum_to_blocks)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(sum_to_job) *j = ctx;
    const wg_cpu_reduce *plan = j->plan;
    const int outer = plan->kept - 1;
    const int64_t inner = plan->inner;
    for (int64_t task = first; task < end; task++) {
        const int64_t o = task / j->blocks, from = task % j->blocks * FN(SUM_BLOCK);
        const int64_t len = inner - from < FN(SUM_BLOCK) ? inner - from : FN(SUM_BLOCK);
        const REAL *base =
            j->in + from + wg_cpu_box_offset(o, outer, plan->kept_dim, plan->kept_stride);
        double acc[FN(SUM_BLOCK)] = {0};
        for (int64_t row = 0; row < j->rows; row++) {
            const REAL *p =
                base + wg_cpu_box_offset(row, plan->summed, plan->summed_dim, plan->summed_stride);
            for (int64_t k = 0; k < len; k++) acc[k] += p[k];
        }
        REAL *dst = j->out + o * inner + from;
        for (int64_t k = 0; k < len; k++) dst[k] = (REAL)acc[k];
    }
}

/* Accumulates in double whatever REAL is: f32 sums over a whole batch stay accurate. */
static void FN(sum_to)(REAL *out, const wg_shape *shape, const REAL *in, const wg_shape *in_shape) {
    const int64_t n_in = wg_cpu_numel(in_shape), n_out = wg_cpu_numel(shape);
    wg_cpu_reduce plan;
    wg_cpu_reduce_plan(&plan, in_shape, shape);
    if (plan.summed == 0) {
        FN(copy)(out, in, n_out);
        return;
    }
    if (plan.kept == 0) {
        out[0] = (REAL)FN(sum_all)(in, n_in);
        return;
    }
    const int par = n_in >= WG_CPU_PARALLEL_MIN;
    FN(sum_to_job) j = {.out = out, .in = in, .plan = &plan};
    if (plan.inner_summed) {
        j.runs = 1;
        for (int g = 0; g < plan.summed - 1; g++) j.runs *= plan.summed_dim[g];
        const int64_t per_output = n_in / n_out; /* elements summed into each */
        wg_cpu_parallel(n_out, par ? WG_CPU_ROW_GRAIN(per_output) : n_out, FN(sum_to_runs), &j);
        return;
    }
    j.blocks = (plan.inner + FN(SUM_BLOCK) - 1) / FN(SUM_BLOCK);
    j.rows = n_in / n_out;
    const int64_t tasks = n_out / plan.inner * j.blocks;
    const int64_t per_task = j.rows * (plan.inner < FN(SUM_BLOCK) ? plan.inner : FN(SUM_BLOCK));
    wg_cpu_parallel(tasks, par ? WG_CPU_ROW_GRAIN(per_task) : tasks, FN(sum_to_blocks), &j);
}

typedef struct FN(gemm_job) {
    enum CBLAS_TRANSPOSE ta, tb;
    int transpose_a, transpose_b, m, n, k, lda, ldb, ldc, split_n, slab, extent;
    const REAL *a, *b;
    REAL *c;
} FN(gemm_job);

static void FN(gemm_slabs)(void *ctx, int64_t first_slab, int64_t end_slab, int worker) {
    (void)worker;
    const FN(gemm_job) *j = ctx;
    for (int64_t i = first_slab; i < end_slab; i++) {
        const int first = (int)i * j->slab;
        const int len = j->extent - first < j->slab ? j->extent - first : j->slab;
        if (j->split_n)
            GEMM(CblasRowMajor, j->ta, j->tb, j->m, len, j->k, 1, j->a, j->lda,
                 j->b + (j->transpose_b ? (int64_t)first * j->ldb : first), j->ldb, 0, j->c + first,
                 j->ldc);
        else
            GEMM(CblasRowMajor, j->ta, j->tb, len, j->n, j->k, 1,
                 j->a + (j->transpose_a ? first : (int64_t)first * j->lda), j->lda, j->b, j->ldb, 0,
                 j->c + (int64_t)first * j->ldc, j->ldc);
    }
}

/* Row-major C [m, n] = op(A) op(B). OpenBLAS runs single-threaded inside each pool
 * thread, each slab of C's longer side a GEMM of its own: with one set of threads for
 * all work, OpenBLAS's idle workers and the pool's never spin against each other on the
 * same cores (measured: that contention halved convolution throughput). One slab per
 * thread: the slabs decide the results' last bits (OpenBLAS's kernels differ at the
 * edges), so they stay those of earlier versions. */
static void FN(gemm)(int transpose_a, int transpose_b, int m, int n, int k, const REAL *a, int lda,
                     const REAL *b, int ldb, REAL *c, int ldc) {
    const enum CBLAS_TRANSPOSE ta = transpose_a ? CblasTrans : CblasNoTrans;
    const enum CBLAS_TRANSPOSE tb = transpose_b ? CblasTrans : CblasNoTrans;
    wg_cpu_blas_single_thread();
    const int threads = wg_cpu_threads();
    if (threads == 1 || (int64_t)m * n * k < WG_CPU_GEMM_PARALLEL_MIN) {
        GEMM(CblasRowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, ldc);
        return;
    }
    const int split_n = n >= m, extent = split_n ? n : m;
    /* slabs of whole register tiles */
    const int slab = ((extent + threads - 1) / threads + 15) / 16 * 16;
    FN(gemm_job)
    j = {ta, tb, transpose_a, transpose_b, m, n, k, lda, ldb, ldc, split_n, slab, extent, a, b, c};
    wg_cpu_parallel((extent + slab - 1) / slab, 1, FN(gemm_slabs), &j);
}

static void FN(matmul)(REAL *c, const REAL *a, const wg_shape *a_shape, const REAL *b,
                       const wg_shape *b_shape, int transpose_a, int transpose_b) {
    const int m = (int)a_shape->dim[transpose_a ? 1 : 0];
    const int k = (int)a_shape->dim[transpose_a ? 0 : 1];
    const int n = (int)b_shape->dim[transpose_b ? 0 : 1];
    const int lda = (int)a_shape->dim[1], ldb = (int)b_shape->dim[1];
    FN(gemm)(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, n);
}

/* Rows [tap0, tap1) of the column matrix of samples [n0, n0 + nb):
 * col[(c, r, s), (n - n0, p, q)] = x[n, c, p stride_h - pad_h + r, q stride_w - pad_w + s],
 * zero outside the image. */
static void FN(im2col)(REAL *col, const REAL *x, const wg_cpu_conv *g, int64_t n0, int64_t nb,
                       int64_t tap0, int64_t tap1) {
    for (int64_t tap = tap0; tap < tap1; tap++) {
        const int64_t c = tap / (g->r * g->s), r = tap / g->s % g->r, s = tap % g->s;
        const int64_t shift = s - g->pad_w;
        int64_t q0, q1;
        wg_cpu_conv_span(g->q, g->stride_w, shift, g->w, &q0, &q1);
        REAL *dst = col + tap * nb * g->p * g->q;
        for (int64_t n = n0; n < n0 + nb; n++) {
            const REAL *plane = x + (n * g->c + c) * g->h * g->w;
            for (int64_t p = 0; p < g->p; p++, dst += g->q) {
                const int64_t h = p * g->stride_h - g->pad_h + r;
                if (h < 0 || h >= g->h) {
                    memset(dst, 0, (size_t)g->q * sizeof(REAL));
                    continue;
                }
                const REAL *src = plane + h * g->w;
                for (int64_t q = 0; q < q0; q++) dst[q] = 0;
                if (g->stride_w == 1) {
                    memcpy(dst + q0, src + q0 + shift, (size_t)(q1 - q0) * sizeof(REAL));
                } else {
                    for (int64_t q = q0; q < q1; q++) dst[q] = src[q * g->stride_w + shift];
                }
                for (int64_t q = q1; q < g->q; q++) dst[q] = 0;
            }
        }
    }
}

/* The adjoint of im2col for the image planes [plane0, plane1) (plane = n c + channel) of
 * dx: each sums the columns of every tap that read it. `col` holds the samples from
 * `first` on, in rows of `row` elements. */
static void FN(col2im)(REAL *dx, const REAL *col, const wg_cpu_conv *g, int64_t row, int64_t first,
                       int64_t plane0, int64_t plane1) {
    const int64_t pq = g->p * g->q;
    for (int64_t plane = plane0; plane < plane1; plane++) {
        const int64_t n = plane / g->c, c = plane % g->c;
        REAL *image = dx + plane * g->h * g->w;
        memset(image, 0, (size_t)(g->h * g->w) * sizeof(REAL));
        for (int64_t r = 0; r < g->r; r++) {
            for (int64_t s = 0; s < g->s; s++) {
                const int64_t shift = s - g->pad_w;
                int64_t q0, q1;
                wg_cpu_conv_span(g->q, g->stride_w, shift, g->w, &q0, &q1);
                const REAL *src = col + ((c * g->r + r) * g->s + s) * row + (n - first) * pq;
                for (int64_t p = 0; p < g->p; p++) {
                    const int64_t h = p * g->stride_h - g->pad_h + r;
                    if (h < 0 || h >= g->h) continue;
                    REAL *dst = image + h * g->w + shift;
                    const REAL *line = src + p * g->q;
                    for (int64_t q = q0; q < q1; q++) dst[q * g->stride_w] += line[q];
                }
            }
        }
    }
}

static size_t FN(aligned_bytes)(int64_t count) {
    return ((size_t)count * sizeof(REAL) + WG_CPU_ALIGN - 1) / WG_CPU_ALIGN * WG_CPU_ALIGN;
}

/* `copies` scratch slots of `*slot` elements from *base, one per thread: each a column
 * matrix of `samples` samples, then at `*moved` elements in an operand moved between
 * [n, k, pq] and [k, n pq]. */
static wg_status FN(conv_scratch)(wg_cpu_device *device, const wg_cpu_conv *g, int64_t samples,
                                  int copies, REAL **base, int64_t *slot, int64_t *moved) {
    const int64_t cols = samples * g->p * g->q;
    const size_t col_bytes = FN(aligned_bytes)(g->c * g->r * g->s * cols);
    const size_t slot_bytes = col_bytes + FN(aligned_bytes)(g->k * cols);
    void *mem;
    wg_status status = wg_cpu_scratch(device, slot_bytes * (size_t)copies, &mem);
    if (status != WG_OK) return status;
    *base = mem;
    *slot = (int64_t)(slot_bytes / sizeof(REAL));
    *moved = (int64_t)(col_bytes / sizeof(REAL));
    return WG_OK;
}

/* Forward and input gradient run on chunks of the batch, each chunk's whole chain
 * (im2col, GEMM, transpose) on one thread: no barrier between the steps, the chunk's
 * columns still in cache when the GEMM reads them, and dynamic scheduling that lets a
 * thread which is not preempted take over the work of one that is. Every output element
 * is still written by exactly one chunk, so results do not depend on scheduling. With
 * fewer samples than threads, the whole batch goes through one GEMM split by columns. */

typedef struct FN(conv_job) {
    const wg_cpu_conv *g;
    REAL *out;          /* y or dx */
    const REAL *in, *w; /* x or gy, and the kernel */
    REAL *col;          /* the whole batch's columns (the one-GEMM paths) */
    REAL *scratch;      /* per-thread slots (the chunked paths) */
    int64_t slot, moved, per, row;
} FN(conv_job);

/* im2col of the whole batch, rows (taps) [first, end) */
static void FN(im2col_taps)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(conv_job) *j = ctx;
    FN(im2col)(j->col, j->in, j->g, 0, j->g->n, first, end);
}

/* col2im of the whole batch's columns, image planes [first, end) */
static void FN(col2im_planes)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const FN(conv_job) *j = ctx;
    FN(col2im)(j->out, j->col, j->g, j->row, 0, first, end);
}

/* Chunks [first, end) of the batch, each chunk's forward chain on this thread's slot. */
static void FN(conv2d_chunks)(void *ctx, int64_t first, int64_t end, int worker) {
    const FN(conv_job) *j = ctx;
    const wg_cpu_conv *g = j->g;
    const int64_t crs = g->c * g->r * g->s, pq = g->p * g->q;
    REAL *col = j->scratch + worker * j->slot, *result = col + j->moved;
    for (int64_t chunk = first; chunk < end; chunk++) {
        const int64_t n0 = chunk * j->per, nb = g->n - n0 < j->per ? g->n - n0 : j->per;
        const int cols = (int)(nb * pq);
        FN(im2col)(col, j->in, g, n0, nb, 0, crs);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->k, cols, (int)crs, 1, j->w,
             (int)crs, col, cols, 0, result, cols);
        FN(swap_outer)(j->out + n0 * g->k * pq, result, g->k, nb, pq, 0);
    }
}

/* The same for the input gradient. */
static void FN(conv2d_dx_chunks)(void *ctx, int64_t first, int64_t end, int worker) {
    const FN(conv_job) *j = ctx;
    const wg_cpu_conv *g = j->g;
    const int64_t crs = g->c * g->r * g->s, pq = g->p * g->q;
    REAL *col = j->scratch + worker * j->slot, *gy_t = col + j->moved;
    for (int64_t chunk = first; chunk < end; chunk++) {
        const int64_t n0 = chunk * j->per, nb = g->n - n0 < j->per ? g->n - n0 : j->per;
        const int cols = (int)(nb * pq);
        FN(swap_outer)(gy_t, j->in + n0 * g->k * pq, nb, g->k, pq, 0);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)crs, cols, (int)g->k, 1, j->w, (int)crs,
             gy_t, cols, 0, col, cols);
        FN(col2im)(j->out, col, g, cols, n0, n0 * g->c, (n0 + nb) * g->c);
    }
}

/* y = w [k, crs] @ col [crs, n pq], then [k, n, pq] is moved to [n, k, pq]. */
static wg_status FN(conv2d)(wg_cpu_device *device, REAL *y, const REAL *x, const REAL *w,
                            const wg_cpu_conv *g) {
    const int threads = wg_cpu_threads();
    const int64_t crs = g->c * g->r * g->s, pq = g->p * g->q;
    int64_t per, chunks;
    wg_cpu_conv_chunks(g, threads, &per, &chunks);
    FN(conv_job) j = {.g = g, .out = y, .in = x, .w = w, .per = per};
    if (chunks < threads) {
        wg_status status = FN(conv_scratch)(device, g, g->n, 1, &j.col, &j.slot, &j.moved);
        if (status != WG_OK) return status;
        const int64_t npq = g->n * pq;
        REAL *result = g->n > 1 ? j.col + j.moved : y;
        const int par = crs > 1 && crs * npq >= WG_CPU_PARALLEL_MIN;
        wg_cpu_parallel(crs, par ? WG_CPU_ROW_GRAIN(npq) : crs, FN(im2col_taps), &j);
        FN(gemm)
        (0, 0, (int)g->k, (int)npq, (int)crs, w, (int)crs, j.col, (int)npq, result, (int)npq);
        if (g->n > 1) FN(swap_outer)(y, result, g->k, g->n, pq, 1);
        return WG_OK;
    }
    wg_status status = FN(conv_scratch)(device, g, per, threads, &j.scratch, &j.slot, &j.moved);
    if (status != WG_OK) return status;
    wg_cpu_blas_single_thread();
    wg_cpu_parallel(chunks, 1, FN(conv2d_chunks), &j);
    return WG_OK;
}

/* col [crs, n pq] = w^T @ gy moved to [k, n pq], then col2im. */
static wg_status FN(conv2d_dx)(wg_cpu_device *device, REAL *dx, const REAL *gy, const REAL *w,
                               const wg_cpu_conv *g) {
    const int threads = wg_cpu_threads();
    const int64_t crs = g->c * g->r * g->s, pq = g->p * g->q;
    int64_t per, chunks;
    wg_cpu_conv_chunks(g, threads, &per, &chunks);
    FN(conv_job) j = {.g = g, .out = dx, .in = gy, .w = w, .per = per};
    if (chunks < threads) {
        wg_status status = FN(conv_scratch)(device, g, g->n, 1, &j.col, &j.slot, &j.moved);
        if (status != WG_OK) return status;
        const int64_t npq = g->n * pq, planes = g->n * g->c;
        const REAL *gy_t = gy;
        if (g->n > 1) {
            FN(swap_outer)(j.col + j.moved, gy, g->n, g->k, pq, 1);
            gy_t = j.col + j.moved;
        }
        FN(gemm)(1, 0, (int)crs, (int)npq, (int)g->k, w, (int)crs, gy_t, (int)npq, j.col, (int)npq);
        const int par = planes > 1 && crs * npq >= WG_CPU_PARALLEL_MIN;
        j.row = npq;
        /* each plane sums the columns of every tap that read it: crs * pq each */
        wg_cpu_parallel(planes, par ? WG_CPU_ROW_GRAIN(crs * pq) : planes, FN(col2im_planes), &j);
        return WG_OK;
    }
    wg_status status = FN(conv_scratch)(device, g, per, threads, &j.scratch, &j.slot, &j.moved);
    if (status != WG_OK) return status;
    wg_cpu_blas_single_thread();
    wg_cpu_parallel(chunks, 1, FN(conv2d_dx_chunks), &j);
    return WG_OK;
}

/* dw [k, crs] = gy moved to [k, n pq] @ col^T: a sum over the whole batch, so one GEMM
 * split by output columns keeps the summation order fixed. */
static wg_status FN(conv2d_dw)(wg_cpu_device *device, REAL *dw, const REAL *x, const REAL *gy,
                               const wg_cpu_conv *g) {
    const int64_t crs = g->c * g->r * g->s, pq = g->p * g->q, npq = g->n * pq;
    FN(conv_job) j = {.g = g, .in = x};
    wg_status status = FN(conv_scratch)(device, g, g->n, 1, &j.col, &j.slot, &j.moved);
    if (status != WG_OK) return status;
    const REAL *gy_t = gy;
    if (g->n > 1) {
        FN(swap_outer)(j.col + j.moved, gy, g->n, g->k, pq, 1);
        gy_t = j.col + j.moved;
    }
    const int par = crs > 1 && crs * npq >= WG_CPU_PARALLEL_MIN;
    wg_cpu_parallel(crs, par ? WG_CPU_ROW_GRAIN(npq) : crs, FN(im2col_taps), &j);
    FN(gemm)(0, 1, (int)g->k, (int)crs, (int)npq, gy_t, (int)npq, j.col, (int)npq, dw, (int)crs);
    return WG_OK;
}

/* ---- the kernel of each op, and the table the backend runs and answers from ---- */

/* A node's operands as this dtype's pointers. */
typedef struct FN(operands) {
    wg_cpu_device *device;
    const wg_call *call;
    const wg_node_data *node;
    const wg_shape *shape;
    int64_t n; /* output elements */
    REAL *out;
    const REAL *in[WG_MAX_INPUTS];
    const wg_shape *in_shape[WG_MAX_INPUTS];
} FN(operands);
typedef wg_status (*FN(kernel))(const FN(operands) * x);

static wg_status FN(op_constant)(const FN(operands) * x) {
    FN(fill)(x->out, x->n, (REAL)x->node->param[0]);
    return WG_OK;
}
static wg_status FN(op_random_uniform)(const FN(operands) * x) {
    FN(random)(x->out, x->n, 0, x->call);
    return WG_OK;
}
static wg_status FN(op_random_normal)(const FN(operands) * x) {
    FN(random)(x->out, x->n, 1, x->call);
    return WG_OK;
}
static wg_status FN(op_map)(const FN(operands) * x) {
    return FN(map)(x->out, x->in[0], x->n, x->node->ival[0], x->node->param);
}
static wg_status FN(op_binary)(const FN(operands) * x) {
    return FN(binary)(x->out, x->shape, x->in[0], x->in_shape[0], x->in[1], x->in_shape[1],
                      x->node->ival[0]);
}
static wg_status FN(op_sum_to)(const FN(operands) * x) {
    FN(sum_to)(x->out, x->shape, x->in[0], x->in_shape[0]);
    return WG_OK;
}
static wg_status FN(op_expand)(const FN(operands) * x) {
    wg_cpu_walk walk;
    wg_cpu_walk_expand(&walk, x->in_shape[0], x->shape);
    FN(copy_walk)(x->out, x->in[0], &walk, 1);
    return WG_OK;
}
static wg_status FN(op_permute)(const FN(operands) * x) {
    wg_cpu_walk walk;
    wg_cpu_walk_permute(&walk, x->in_shape[0], x->shape, x->node->ival);
    FN(copy_walk)(x->out, x->in[0], &walk, 1);
    return WG_OK;
}
static wg_status FN(op_slice)(const FN(operands) * x) {
    wg_cpu_walk walk;
    const int64_t offset = wg_cpu_walk_window(&walk, x->in_shape[0], x->shape, x->node->lval, 1);
    FN(copy_walk)(x->out, x->in[0] + offset, &walk, 1);
    return WG_OK;
}
static wg_status FN(op_pad)(const FN(operands) * x) {
    wg_cpu_walk walk;
    const int64_t offset = wg_cpu_walk_window(&walk, x->shape, x->in_shape[0], x->node->lval, 0);
    FN(fill)(x->out, x->n, 0);
    FN(copy_walk)(x->out + offset, x->in[0], &walk, 1);
    return WG_OK;
}
static wg_status FN(op_matmul)(const FN(operands) * x) {
    FN(matmul)
    (x->out, x->in[0], x->in_shape[0], x->in[1], x->in_shape[1], x->node->ival[0],
     x->node->ival[1]);
    return WG_OK;
}
static wg_status FN(op_conv2d)(const FN(operands) * x) {
    wg_cpu_conv conv;
    wg_status status =
        wg_cpu_conv_geometry(&conv, x->in_shape[0], x->in_shape[1], x->shape, x->node->ival);
    return status != WG_OK ? status : FN(conv2d)(x->device, x->out, x->in[0], x->in[1], &conv);
}
static wg_status FN(op_conv2d_dx)(const FN(operands) * x) {
    wg_cpu_conv conv;
    wg_status status =
        wg_cpu_conv_geometry(&conv, x->shape, x->in_shape[1], x->in_shape[0], x->node->ival);
    return status != WG_OK ? status : FN(conv2d_dx)(x->device, x->out, x->in[0], x->in[1], &conv);
}
static wg_status FN(op_conv2d_dw)(const FN(operands) * x) {
    wg_cpu_conv conv;
    wg_status status =
        wg_cpu_conv_geometry(&conv, x->in_shape[0], x->shape, x->in_shape[1], x->node->ival);
    return status != WG_OK ? status : FN(conv2d_dw)(x->device, x->out, x->in[0], x->in[1], &conv);
}
static wg_status FN(op_assign)(const FN(operands) * x) {
    FN(copy)(x->out, x->in[1], x->n);
    return WG_OK;
}

/* Inputs, variables and reshapes have no entry: the planner maps them to storage. */
static const FN(kernel) FN(kernels)[WG_OP_COUNT] = {
    [WG_OP_CONSTANT] = FN(op_constant),
    [WG_OP_RANDOM_UNIFORM] = FN(op_random_uniform),
    [WG_OP_RANDOM_NORMAL] = FN(op_random_normal),
    [WG_OP_MAP] = FN(op_map),
    [WG_OP_BINARY] = FN(op_binary),
    [WG_OP_SUM_TO] = FN(op_sum_to),
    [WG_OP_EXPAND] = FN(op_expand),
    [WG_OP_PERMUTE] = FN(op_permute),
    [WG_OP_SLICE] = FN(op_slice),
    [WG_OP_PAD] = FN(op_pad),
    [WG_OP_MATMUL] = FN(op_matmul),
    [WG_OP_CONV2D] = FN(op_conv2d),
    [WG_OP_CONV2D_DX] = FN(op_conv2d_dx),
    [WG_OP_CONV2D_DW] = FN(op_conv2d_dw),
    [WG_OP_ASSIGN] = FN(op_assign),
};

bool FN(wg_cpu_has_kernel)(wg_op op) {
    return (unsigned)op < WG_OP_COUNT && FN(kernels)[op] != NULL;
}

wg_status FN(wg_cpu_run)(wg_cpu_device *device, const wg_call *call) {
    const wg_node_data *node = call->data;
    if (!FN(wg_cpu_has_kernel)(node->op))
        return wg_fail(WG_ERR_INVALID, "cpu: node %d: op %d has no kernel", (int)call->node,
                       (int)node->op);
    FN(operands)
    x = {.device = device,
         .call = call,
         .node = node,
         .shape = &node->shape,
         .n = wg_cpu_numel(&node->shape),
         .out = (REAL *)((char *)call->out.mem + call->out.offset)};
    for (int i = 0; i < node->n_inputs; i++) {
        x.in[i] = (const REAL *)((const char *)call->in[i].mem + call->in[i].offset);
        x.in_shape[i] = &call->graph->nodes[node->input[i]].shape;
    }
    return FN(kernels)[node->op](&x);
}
