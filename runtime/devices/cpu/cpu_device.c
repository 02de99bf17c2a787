/* The cpu device: host allocations and synchronous kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include "cpu_internal.h"

static size_t round_up(size_t bytes) {
    size_t rounded = (bytes + WG_CPU_ALIGN - 1) / WG_CPU_ALIGN * WG_CPU_ALIGN;
    return rounded > 0 ? rounded : WG_CPU_ALIGN;
}

static void *host(wg_ref ref) {
    return (char *)ref.mem + ref.offset;
}

static wg_status cpu_alloc(wg_device *device, size_t bytes, void **mem) {
    (void)device;
    *mem = aligned_alloc(WG_CPU_ALIGN, round_up(bytes));
    if (!*mem) return wg_fail(WG_ERR_NOMEM, "cpu: cannot allocate %zu bytes", bytes);
    return WG_OK;
}

static void cpu_release(wg_device *device, void *mem) {
    (void)device;
    free(mem);
}

static wg_status cpu_write(wg_device *device, wg_ref dst, const void *src, size_t bytes) {
    (void)device;
    memcpy(host(dst), src, bytes);
    return WG_OK;
}

static wg_status cpu_read(wg_device *device, wg_ref src, void *dst, size_t bytes) {
    (void)device;
    memcpy(dst, host(src), bytes);
    return WG_OK;
}

static wg_status cpu_fill(wg_device *device, wg_ref dst, size_t count, wg_dtype dtype,
                          double value) {
    (void)device;
    if (dtype == WG_F64)
        wg_cpu_fill_f64(host(dst), count, value);
    else
        wg_cpu_fill_f32(host(dst), count, value);
    return WG_OK;
}

static wg_status cpu_run(wg_device *device, const wg_call *call) {
    if (call->fused)
        return call->graph->dtype == WG_F64 ? wg_cpu_run_fused_f64(call->fused)
                                            : wg_cpu_run_fused_f32(call->fused);
    switch (call->data->op) {
    case WG_OP_INPUT:
    case WG_OP_VARIABLE:
    case WG_OP_RESHAPE:
        return wg_fail(WG_ERR_INVALID,
                       "cpu: node %d is an input, variable or reshape (op %d), which the "
                       "planner maps to storage; it has no kernel",
                       (int)call->node, (int)call->data->op);
    default: break;
    }
    wg_cpu_device *cpu = (wg_cpu_device *)device;
    return call->graph->dtype == WG_F64 ? wg_cpu_run_f64(cpu, call) : wg_cpu_run_f32(cpu, call);
}

/* Every f32 and f64 node whose op has a kernel in the table, with a known code. */
static bool cpu_supports_op(wg_device *device, const wg_op_query *query, const char **why) {
    (void)device;
    const char *missing = NULL;
    if (query->dtype != WG_F32 && query->dtype != WG_F64)
        missing = "unknown dtype";
    else if (!(query->dtype == WG_F64 ? wg_cpu_has_kernel_f64 : wg_cpu_has_kernel_f32)(query->op))
        missing = "no cpu kernel for this op";
    else if (!wg_op_code_known(query->op, query->code))
        missing = "a map or binary code outside the op table";
    if (missing && why) *why = missing;
    return missing == NULL;
}

/* Regions run from their description: nothing to compile. */
static wg_status cpu_prepare_fused(wg_device *device, wg_dtype dtype, int count,
                                   struct wg_fused *regions) {
    (void)device, (void)dtype, (void)count, (void)regions;
    return WG_OK;
}

/* Kernels run synchronously, so there is never anything to wait for. */
static wg_status cpu_finish(wg_device *device) {
    (void)device;
    return WG_OK;
}

static void cpu_close(wg_device *device) {
    if (!device) return;
    wg_cpu_device *cpu = (wg_cpu_device *)device;
    free(cpu->scratch);
    free(cpu);
}

static const wg_backend cpu_backend = {
    .kind = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .write = cpu_write,
    .read = cpu_read,
    .fill = cpu_fill,
    .supports_op = cpu_supports_op,
    .run = cpu_run,
    .prepare_fused = cpu_prepare_fused,
    .finish = cpu_finish,
    .close = cpu_close,
};

wg_status wg_cpu_scratch(wg_cpu_device *device, size_t bytes, void **out) {
    if (bytes > device->scratch_bytes) {
        void *grown = aligned_alloc(WG_CPU_ALIGN, round_up(bytes));
        if (!grown)
            return wg_fail(WG_ERR_NOMEM, "cpu: cannot allocate %zu bytes of scratch", bytes);
        free(device->scratch);
        device->scratch = grown;
        device->scratch_bytes = round_up(bytes);
    }
    *out = device->scratch;
    return WG_OK;
}

void wg_cpu_blas_single_thread(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

/* "OpenBLAS 0.3.21" from a config string like "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell". */
static void blas_version(char *buf, size_t size) {
    const char *config = openblas_get_config();
    if (!config) config = "OpenBLAS";
    int words = 0;
    size_t n = 0;
    for (; config[n] && n + 1 < size; n++) {
        if (config[n] == ' ' && ++words == 2) break;
        buf[n] = config[n];
    }
    buf[n] = '\0';
}

/* OpenBLAS picks its kernels for the CPU it runs on unless OPENBLAS_CORETYPE names a
 * core. Forcing AVX2 kernels on an AVX-512 CPU costs up to half the GEMM rate (measured:
 * sgemm 1024^3 on two Zen 5 cores, 250 GFLOP/s with Haswell kernels, 486 with SkylakeX),
 * so a user who inherited the variable should hear about it. */
static void blas_kernel_note(char *note, size_t size, const char *core) {
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (!forced || !*forced) return;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; i < sizeof avx512_cores / sizeof avx512_cores[0]; i++)
        if (strcasecmp(core, avx512_cores[i]) == 0) return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return;
    snprintf(note, size,
             "OPENBLAS_CORETYPE=%.40s makes OpenBLAS use its %.40s kernels on a CPU with "
             "AVX-512: unset it for up to twice the GEMM speed",
             forced, core);
#else
    (void)note, (void)size, (void)core;
#endif
}

wg_status wg_cpu_open(wg_device **out) {
    *out = NULL;
    wg_cpu_device *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return wg_fail(WG_ERR_NOMEM, "cpu: cannot allocate the device");
    cpu->base.backend = &cpu_backend;
    char blas[64];
    blas_version(blas, sizeof blas);
    /* GEMMs are split across the pool's threads instead (see the gemm kernel). This is
     * process-wide, and the cpu device assumes it owns the cores. */
    wg_cpu_blas_single_thread();
    int threads = wg_cpu_threads();
    const char *core = openblas_get_corename();
    if (!core) core = "unknown";
    snprintf(cpu->base.description, sizeof cpu->base.description,
             "cpu (%d thread%s, %s, %s kernels)", threads, threads == 1 ? "" : "s", blas, core);
    cpu->base.note[0] = '\0';
    blas_kernel_note(cpu->base.note, sizeof cpu->base.note, core);
    *out = &cpu->base;
    return WG_OK;
}
