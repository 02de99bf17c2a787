/* GEMM through CLBlast. Handing CLBlast a kept temporary buffer means replayed steps
 * allocate nothing. A product with few outputs and a long sum (the weight gradient of
 * a convolution: [K] x [C R S] outputs summed over N P Q) leaves most of a GPU idle,
 * so it is split along k into a strided batch whose partial products are then added. */

#include <clblast_c.h>

#include "opencl_internal.h"

/* Split only when the output has fewer tiles than this (at CLBlast's usual 64 x 64)
 * and every chunk still sums over at least SPLIT_MIN_CHUNK terms. */
#define SPLIT_MAX_TILES 32
#define SPLIT_MIN_CHUNK 1024
#define SPLIT_MAX_CHUNKS 64

static wg_status clblast_fail(CLBlastStatusCode code, const char *what) {
    return wg_fail(code == CLBlastInsufficientMemoryTemp ? WG_ERR_NOMEM : WG_ERR_DEVICE,
                   "opencl: CLBlast %s failed with status %d", what, (int)code);
}

typedef struct gemm_args {
    CLBlastTranspose ta, tb;
    size_t m, n, k;
    wg_ocl_tensor a, b, c;
    size_t lda, ldb, ldc;
} gemm_args;

static CLBlastStatusCode temp_size(wg_ocl_device *dev, wg_dtype dtype, const gemm_args *g,
                                   size_t *bytes) {
    *bytes = 0;
    if (dtype == WG_F64)
        return CLBlastDGemmTempBufferSize(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, g->k,
                                          g->a.offset, g->lda, g->b.offset, g->ldb, g->c.offset,
                                          g->ldc, &dev->queue, bytes);
    return CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, g->k,
                                      g->a.offset, g->lda, g->b.offset, g->ldb, g->c.offset, g->ldc,
                                      &dev->queue, bytes);
}

static wg_status gemm_once(wg_ocl_device *dev, wg_dtype dtype, const gemm_args *g, double beta) {
    size_t temp;
    CLBlastStatusCode s = temp_size(dev, dtype, g, &temp);
    if (s != CLBlastSuccess) return clblast_fail(s, "GemmTempBufferSize");
    if (temp > 0) {
        wg_status st = wg_ocl_scratch_reserve(dev, &dev->gemm_temp, temp);
        if (st != WG_OK) return st;
    }
    cl_mem t = temp > 0 ? dev->gemm_temp.mem : NULL;
    if (dtype == WG_F64)
        s = CLBlastDgemmWithTempBuffer(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0,
                                       g->a.mem, g->a.offset, g->lda, g->b.mem, g->b.offset, g->ldb,
                                       beta, g->c.mem, g->c.offset, g->ldc, &dev->queue, NULL, t);
    else
        s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0f,
                                       g->a.mem, g->a.offset, g->lda, g->b.mem, g->b.offset, g->ldb,
                                       (float)beta, g->c.mem, g->c.offset, g->ldc, &dev->queue,
                                       NULL, t);
    return s == CLBlastSuccess ? WG_OK : clblast_fail(s, dtype == WG_F64 ? "Dgemm" : "Sgemm");
}

/* How many chunks to split k into; 1 = do not split. The strided batch is used only in
 * shapes where CLBlast needs no temporary (its batched routines would allocate one per
 * call). */
static size_t split_chunks(wg_ocl_device *dev, wg_dtype dtype, const gemm_args *g) {
    size_t tiles = ((g->m + 63) / 64) * ((g->n + 63) / 64);
    if (tiles >= SPLIT_MAX_TILES || g->k < 2 * SPLIT_MIN_CHUNK || g->ldc != g->n) return 1;
    size_t chunks = g->k / SPLIT_MIN_CHUNK;
    if (chunks * tiles > 4 * SPLIT_MAX_TILES) chunks = (4 * SPLIT_MAX_TILES + tiles - 1) / tiles;
    if (chunks > SPLIT_MAX_CHUNKS) chunks = SPLIT_MAX_CHUNKS;
    if (chunks < 2) return 1;
    gemm_args part = *g;
    part.k = g->k / chunks;
    part.c.offset = 0;
    part.ldc = g->n;
    size_t temp;
    if (temp_size(dev, dtype, &part, &temp) != CLBlastSuccess || temp != 0) return 1;
    return chunks;
}

static wg_status gemm_split(wg_ocl_device *dev, wg_dtype dtype, const gemm_args *g, size_t chunks) {
    size_t mn = g->m * g->n, len = g->k / chunks, rest = g->k - chunks * len;
    wg_status st = wg_ocl_scratch_reserve(dev, &dev->gemm_split, chunks * mn * wg_ocl_elem(dtype));
    if (st != WG_OK) return st;
    /* chunk j of op(a) is columns [j len, (j + 1) len); of op(b), the same rows */
    size_t a_step = g->ta == CLBlastTransposeYes ? len * g->lda : len;
    size_t b_step = g->tb == CLBlastTransposeYes ? len : len * g->ldb;
    cl_mem part = dev->gemm_split.mem;
    CLBlastStatusCode s;
    if (dtype == WG_F64)
        s = CLBlastDgemmStridedBatched(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, len, 1.0,
                                       g->a.mem, g->a.offset, g->lda, a_step, g->b.mem, g->b.offset,
                                       g->ldb, b_step, 0.0, part, 0, g->n, mn, chunks, &dev->queue,
                                       NULL);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, g->ta, g->tb, g->m, g->n, len, 1.0f,
                                       g->a.mem, g->a.offset, g->lda, a_step, g->b.mem, g->b.offset,
                                       g->ldb, b_step, 0.0f, part, 0, g->n, mn, chunks, &dev->queue,
                                       NULL);
    if (s != CLBlastSuccess) return clblast_fail(s, "GemmStridedBatched");
    if (rest > 0) {
        /* the last few terms go onto the first partial product */
        gemm_args tail = *g;
        tail.k = rest;
        tail.a.offset += chunks * a_step;
        tail.b.offset += chunks * b_step;
        tail.c = (wg_ocl_tensor){part, 0};
        st = gemm_once(dev, dtype, &tail, 1.0);
        if (st != WG_OK) return st;
    }
    /* c[i] = sum over chunks of part[chunk][i] */
    const wg_ocl_program *prog = &dev->program[dtype];
    int odim[4] = {1, 1, 1, (int)mn}, ostride[4] = {0, 0, 0, 1};
    int rdim[4] = {1, 1, 1, (int)chunks}, rstride[4] = {0, 0, 0, (int)mn};
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_SUM_TO], dtype);
    wg_ocl_arg_mem(&a, g->c.mem);
    wg_ocl_arg_ulong(&a, g->c.offset);
    wg_ocl_arg_mem(&a, part);
    wg_ocl_arg_ulong(&a, 0);
    wg_ocl_arg_int(&a, (int)mn);
    wg_ocl_arg_int4(&a, odim);
    wg_ocl_arg_int4(&a, ostride);
    wg_ocl_arg_int(&a, (int)chunks);
    wg_ocl_arg_int4(&a, rdim);
    wg_ocl_arg_int4(&a, rstride);
    return wg_ocl_launch(dev, prog, WG_K_SUM_TO, &a, mn);
}

wg_status wg_ocl_gemm(wg_ocl_device *dev, wg_dtype dtype, int trans_a, int trans_b, size_t m,
                      size_t n, size_t k, wg_ocl_tensor a, size_t lda, wg_ocl_tensor b, size_t ldb,
                      wg_ocl_tensor c, size_t ldc) {
    if (m == 0 || n == 0) return WG_OK;
    gemm_args g = {
        .ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        .tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
        .m = m,
        .n = n,
        .k = k,
        .a = a,
        .b = b,
        .c = c,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
    };
    size_t chunks = dev->split_gemm ? split_chunks(dev, dtype, &g) : 1;
    return chunks > 1 ? gemm_split(dev, dtype, &g, chunks) : gemm_once(dev, dtype, &g, 0.0);
}
