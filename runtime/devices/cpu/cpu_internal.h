/* The native cpu backend: host memory, OpenBLAS for GEMM, its own threads (cpu_pool.h)
 * for the loops.
 * Kernels are written once in cpu_kernels_template.h and instantiated per dtype. */
#ifndef WGAN_CPU_INTERNAL_H
#define WGAN_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "cpu_pool.h"

/* Allocation alignment (a cache line, and enough for any vector load). */
#define WG_CPU_ALIGN 64
/* Below this many elements a loop stays on one thread: waking the others costs more. */
#define WG_CPU_PARALLEL_MIN 32768
/* Items per chunk of a parallel loop (wg_cpu_parallel's grain) over `n` elements, and
 * over rows of `per_row` elements: a quarter of WG_CPU_PARALLEL_MIN, so a loop that is
 * parallel at all has several chunks per thread to hand out. */
#define WG_CPU_ELEMENT_GRAIN(n) ((n) >= WG_CPU_PARALLEL_MIN ? WG_CPU_PARALLEL_MIN / 4 : (n))
#define WG_CPU_ROW_GRAIN(per_row)                                                                  \
    ((per_row) >= WG_CPU_PARALLEL_MIN / 4 ? 1 : (WG_CPU_PARALLEL_MIN / 4) / (per_row))
/* GEMMs with fewer multiply-adds (m n k) than this run on one thread, as OpenBLAS's
 * own threshold does. */
#define WG_CPU_GEMM_PARALLEL_MIN (1 << 18)
/* GEMM columns per convolution chunk: enough to amortise OpenBLAS's packing of the
 * weights, small enough for a chunk's column matrix to stay near the cache. */
#define WG_CPU_CONV_COLUMNS 512

typedef struct wg_cpu_device {
    wg_device base;
    /* Grow-only scratch for im2col columns and transposed operands: allocated on first
     * use and kept, so replayed steps do not allocate. */
    void *scratch;
    size_t scratch_bytes;
} wg_cpu_device;

/* Scratch of at least `bytes`, 64-byte aligned; contents undefined. */
wg_status wg_cpu_scratch(wg_cpu_device *device, size_t bytes, void **out);

/* Up to three operands walked together over one index space: operand 0 is what is
 * written. Strides are in elements; a stride of 0 broadcasts. */
#define WG_CPU_WALK_OPERANDS 3
typedef struct wg_cpu_walk {
    int ndim; /* >= 1 */
    int64_t dim[WG_MAX_DIMS];
    int64_t stride[WG_CPU_WALK_OPERANDS][WG_MAX_DIMS];
} wg_cpu_walk;

int64_t wg_cpu_numel(const wg_shape *shape);
/* Row-major strides of a contiguous tensor. */
void wg_cpu_strides(const wg_shape *shape, int64_t stride[WG_MAX_DIMS]);
/* Strides that read `from` broadcast to `to` (numpy rules: right-aligned, extent-1 axes
 * repeat): one per axis of `to`, 0 on broadcast axes. */
void wg_cpu_broadcast_strides(const wg_shape *from, const wg_shape *to,
                              int64_t stride[WG_MAX_DIMS]);
/* A walk over `shape` with all operand strides zero, for the caller to fill in. */
void wg_cpu_walk_init(wg_cpu_walk *walk, const wg_shape *shape);
/* Drops extent-1 axes and merges adjacent axes that every operand steps through
 * contiguously, so the innermost loop is as long as possible. */
void wg_cpu_walk_coalesce(wg_cpu_walk *walk, int operands);
/* Rows are all axes but the innermost. */
int64_t wg_cpu_walk_rows(const wg_cpu_walk *walk);
/* A row of a walk and each operand's offset there, stepped row by row so that only a
 * thread's first row pays for divisions. */
typedef struct wg_cpu_cursor {
    int64_t index[WG_MAX_DIMS];
    int64_t offset[WG_CPU_WALK_OPERANDS];
} wg_cpu_cursor;

void wg_cpu_cursor_at(wg_cpu_cursor *cursor, const wg_cpu_walk *walk, int operands, int64_t row);

static inline void wg_cpu_cursor_next(wg_cpu_cursor *cursor, const wg_cpu_walk *walk,
                                      int operands) {
    for (int k = walk->ndim - 2; k >= 0; k--) {
        for (int o = 0; o < operands; o++) cursor->offset[o] += walk->stride[o][k];
        if (++cursor->index[k] < walk->dim[k]) return;
        for (int o = 0; o < operands; o++) cursor->offset[o] -= walk->stride[o][k] * walk->dim[k];
        cursor->index[k] = 0;
    }
}

/* The element-wise layouts of a binary op without broadcast strides. */
typedef enum wg_cpu_flat {
    WG_CPU_FLAT_SAME,     /* a and b of the output's size */
    WG_CPU_FLAT_SCALAR_B, /* b one element */
    WG_CPU_FLAT_SCALAR_A, /* a one element */
} wg_cpu_flat;

/* Walks that copy operand 1 into operand 0 for the data-movement ops. Expand and permute
 * read the input at `in`-shaped strides while writing `out` contiguously. */
void wg_cpu_walk_expand(wg_cpu_walk *walk, const wg_shape *in, const wg_shape *out);
void wg_cpu_walk_permute(wg_cpu_walk *walk, const wg_shape *in, const wg_shape *out,
                         const int *perm);
/* A box of `small`'s shape inside `big` at `start`: slice reads it (small_is_dst),
 * pad writes it. Returns the element offset of the box in `big`. */
int64_t wg_cpu_walk_window(wg_cpu_walk *walk, const wg_shape *big, const wg_shape *small,
                           const int64_t *start, int small_is_dst);

/* How sum_to visits its input: axes with extent 1 in the input are dropped and runs of
 * adjacent kept (or summed) axes merged into groups, so the kernel sees at most four
 * alternating groups. Strides are those of the contiguous input. */
typedef struct wg_cpu_reduce {
    int kept, summed; /* group counts */
    int64_t kept_dim[WG_MAX_DIMS], kept_stride[WG_MAX_DIMS];
    int64_t summed_dim[WG_MAX_DIMS], summed_stride[WG_MAX_DIMS];
    int inner_summed; /* whether the innermost group is summed (else kept) */
    int64_t inner;    /* extent of the innermost group */
} wg_cpu_reduce;

void wg_cpu_reduce_plan(wg_cpu_reduce *plan, const wg_shape *in, const wg_shape *out);
/* Offset of the index-th element of a box of `count` axes (row-major enumeration). */
int64_t wg_cpu_box_offset(int64_t index, int count, const int64_t *dim, const int64_t *stride);

/* Convolution geometry: x [n,c,h,w], w [k,c,r,s], y [n,k,p,q]. */
typedef struct wg_cpu_conv {
    int64_t n, c, h, w;
    int64_t k, r, s;
    int64_t p, q;
    int64_t stride_h, stride_w, pad_h, pad_w;
} wg_cpu_conv;

/* Checks that the three shapes form a convolution with the node's ival parameters. */
wg_status wg_cpu_conv_geometry(wg_cpu_conv *conv, const wg_shape *x, const wg_shape *w,
                               const wg_shape *y, const int *ival);
/* Splits the batch into `*chunks` chunks of `*per_chunk` samples (the last may be short)
 * for the per-chunk convolution paths: about WG_CPU_CONV_COLUMNS GEMM columns each, and
 * at least `threads` chunks when there are that many samples. */
void wg_cpu_conv_chunks(const wg_cpu_conv *conv, int threads, int64_t *per_chunk, int64_t *chunks);
/* Output positions i in [*first, *end) whose tap i * stride + offset falls in [0, limit). */
void wg_cpu_conv_span(int64_t count, int64_t stride, int64_t offset, int64_t limit, int64_t *first,
                      int64_t *end);

/* Kernels call OpenBLAS from several pool threads at once, each single-threaded;
 * wg_cpu_open sets that, and this restores it if other code in the process changed it. */
void wg_cpu_blas_single_thread(void);

/* Per-dtype entry points, from cpu_kernels.c. */
wg_status wg_cpu_run_f32(wg_cpu_device *device, const wg_call *call);
wg_status wg_cpu_run_f64(wg_cpu_device *device, const wg_call *call);
/* Whether the dtype's kernel table has an entry for `op`. */
bool wg_cpu_has_kernel_f32(wg_op op);
bool wg_cpu_has_kernel_f64(wg_op op);
struct wg_fused;
/* A fused region of element-wise nodes (cpu_fused_template.h). */
wg_status wg_cpu_run_fused_f32(const struct wg_fused *region);
wg_status wg_cpu_run_fused_f64(const struct wg_fused *region);
void wg_cpu_fill_f32(void *dst, size_t count, double value);
void wg_cpu_fill_f64(void *dst, size_t count, double value);

#endif
