/* The OpenCL backend: one device, one in-order queue, the kernels of kernels/ built once
 * per dtype and cached on disk, CLBlast for GEMM.
 *
 * Environment: WGAN_PROGRAM_CACHE (see opencl_cache.h); WGAN_OPENCL_BUILD_OPTIONS,
 * appended to the kernels' build options (and so to the cache key);
 * WGAN_OPENCL_SPLIT_GEMM=0 turns off split-K GEMMs, for comparisons. */
#ifndef WGAN_OPENCL_INTERNAL_H
#define WGAN_OPENCL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "backend.h"
#include "opencl_cache.h"

/* Kernels every program provides: X(NAME, kernel function in kernels/). */
#define WG_OCL_KERNEL_LIST(X)                                                                      \
    X(MAP, wg_map)                                                                                 \
    X(BINARY_FLAT, wg_binary_flat)                                                                 \
    X(BINARY, wg_binary)                                                                           \
    X(RANDOM_UNIFORM, wg_random_uniform)                                                           \
    X(RANDOM_NORMAL, wg_random_normal)                                                             \
    X(GATHER, wg_gather)                                                                           \
    X(PAD, wg_pad)                                                                                 \
    X(SUM_TO, wg_sum_to)                                                                           \
    X(SUM_TO_GROUP, wg_sum_to_group)                                                               \
    X(IM2COL, wg_im2col)                                                                           \
    X(COL2IM, wg_col2im)

#define WG_OCL_KERNEL_ENUM_(NAME, function) WG_K_##NAME,
typedef enum wg_ocl_kernel { WG_OCL_KERNEL_LIST(WG_OCL_KERNEL_ENUM_) WG_K_COUNT } wg_ocl_kernel;
#undef WG_OCL_KERNEL_ENUM_

/* The program built for one dtype and its kernels, created once. */
typedef struct wg_ocl_program {
    cl_program program;
    cl_kernel kernel[WG_K_COUNT];
    size_t group[WG_K_COUNT]; /* work-group size used to launch each kernel */
} wg_ocl_program;

/* A grow-only device buffer: allocated on first use, replaced only by a larger one. */
typedef struct wg_ocl_scratch {
    cl_mem mem;
    size_t bytes;
} wg_ocl_scratch;

typedef struct wg_ocl_device {
    wg_device base;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    int index;    /* position in the enumeration: "opencl:N" */
    int has_fp64; /* cl_khr_fp64 */
    size_t max_group;
    int split_gemm; /* split long GEMM sums into batches (off: WGAN_OPENCL_SPLIT_GEMM=0) */
    char name[128], platform_name[128], driver[64], platform_version[128];
    wg_ocl_program program[2]; /* by wg_dtype; f64 built on first use */
    wg_ocl_scratch scratch;    /* convolution columns and layouts */
    wg_ocl_scratch gemm_temp;  /* CLBlast's padded copies */
    wg_ocl_scratch gemm_split; /* partial products of split-K GEMMs */
    wg_program_cache_stats cache;
} wg_ocl_device;

/* "CL_OUT_OF_RESOURCES" etc. */
const char *wg_ocl_error_name(cl_int err);
/* wg_fail(WG_ERR_DEVICE or WG_ERR_NOMEM, "opencl: <what> failed: <error>"). */
wg_status wg_ocl_fail(cl_int err, const char *what);

/* Builds (or loads from the on-disk cache) the program for `dtype` and creates its
 * kernels. The build log goes into the error message on failure. */
wg_status wg_ocl_program_build(wg_ocl_device *dev, wg_dtype dtype);
/* Builds `src` with `options`, through the on-disk cache of program binaries. */
wg_status wg_ocl_build_cached(wg_ocl_device *dev, const char *src, const char *options,
                              cl_program *out);
/* The build options of dtype's programs (REAL, and WGAN_OPENCL_BUILD_OPTIONS). */
const char *wg_ocl_build_options(wg_dtype dtype, char *buf, size_t size);
/* The headers, common.cl and elementwise.cl as one string (malloc'd): what generated
 * kernels are built after. */
wg_status wg_ocl_elementwise_source(char **out);
/* The largest power of two work-group size up to `want` that the kernel allows. */
size_t wg_ocl_group_size(wg_ocl_device *dev, cl_kernel kernel, size_t want);
void wg_ocl_program_release(wg_ocl_program *program);
/* The program for dtype, built on first use; fails for f64 without cl_khr_fp64. */
wg_status wg_ocl_program_get(wg_ocl_device *dev, wg_dtype dtype, wg_ocl_program **out);

/* Ensures `scratch` holds at least `bytes`. */
wg_status wg_ocl_scratch_reserve(wg_ocl_device *dev, wg_ocl_scratch *scratch, size_t bytes);

/* Sequential kernel argument setter that keeps the first error; `dtype` sizes the REAL
 * arguments (kernels without any may pass either). */
typedef struct wg_ocl_args {
    cl_kernel kernel;
    cl_uint next;
    cl_int err;
    wg_dtype dtype;
} wg_ocl_args;

wg_ocl_args wg_ocl_args_begin(cl_kernel kernel, wg_dtype dtype);
void wg_ocl_arg_mem(wg_ocl_args *a, cl_mem mem);
void wg_ocl_arg_ulong(wg_ocl_args *a, uint64_t value);
void wg_ocl_arg_int(wg_ocl_args *a, int value);
void wg_ocl_arg_uint(wg_ocl_args *a, uint32_t value);
void wg_ocl_arg_int4(wg_ocl_args *a, const int value[4]);
/* A REAL: float or double by the dtype given to wg_ocl_args_begin. */
void wg_ocl_arg_real(wg_ocl_args *a, double value);
void wg_ocl_arg_local(wg_ocl_args *a, size_t bytes);

/* Enqueues kernel k of `prog` over `n` work items (1-D, rounded up to the kernel's
 * group size), or over n0 x n1 (2-D, dimension 1 exact). Reports an argument error
 * recorded in `args` first. */
wg_status wg_ocl_launch(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                        const wg_ocl_args *args, size_t n);
wg_status wg_ocl_launch2(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                         const wg_ocl_args *args, size_t n0, size_t n1);
/* Explicit global and local sizes (1-D). */
wg_status wg_ocl_launch_groups(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                               const wg_ocl_args *args, size_t groups, size_t group_size);

/* Element size of dtype. */
static inline size_t wg_ocl_elem(wg_dtype dtype) {
    return dtype == WG_F64 ? sizeof(double) : sizeof(float);
}

/* The tensor of a call as a buffer plus an element offset. */
typedef struct wg_ocl_tensor {
    cl_mem mem;
    uint64_t offset; /* elements */
} wg_ocl_tensor;

static inline wg_ocl_tensor wg_ocl_tensor_of(wg_ref ref, wg_dtype dtype) {
    wg_ocl_tensor t = {(cl_mem)ref.mem, ref.offset / wg_ocl_elem(dtype)};
    return t;
}

/* c = op(a) @ op(b), row-major, through CLBlast; lda etc. in elements. Long sums
 * over few outputs are split into chunks computed side by side and then added
 * (opencl_gemm.c). */
wg_status wg_ocl_gemm(wg_ocl_device *dev, wg_dtype dtype, int trans_a, int trans_b, size_t m,
                      size_t n, size_t k, wg_ocl_tensor a, size_t lda, wg_ocl_tensor b, size_t ldb,
                      wg_ocl_tensor c, size_t ldc);

/* A gather y[i] = x[offset(i)] over `dim` with input strides `stride` (ndim axes,
 * row-major, elements). Coalesces axes before launching. */
wg_status wg_ocl_gather(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_tensor y,
                        wg_ocl_tensor x, int ndim, const int64_t *dim, const int64_t *stride);

/* Per-op entry points (opencl_conv.c); dtype is the graph's. */
wg_status wg_ocl_conv2d(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                        wg_dtype dtype);
wg_status wg_ocl_conv2d_dx(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                           wg_dtype dtype);
wg_status wg_ocl_conv2d_dw(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                           wg_dtype dtype);

struct wg_fused;
/* Fused regions (opencl_fused.c): a plan's regions as kernels generated from their
 * steps, built as one program; run one region. */
wg_status wg_ocl_prepare_fused(wg_device *device, wg_dtype dtype, int count,
                               struct wg_fused *regions);
void wg_ocl_release_fused(wg_device *device, int count, struct wg_fused *regions);
wg_status wg_ocl_run_fused(wg_ocl_device *dev, const wg_call *call);

/* The backend's supports_op and run entries (opencl_ops.c). */
bool wg_ocl_supports_op(wg_device *device, const wg_op_query *query, const char **why);
wg_status wg_ocl_run(wg_device *device, const wg_call *call);

#endif
