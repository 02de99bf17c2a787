/* Kernel throughput on one device, through the public session API: GEMM at the sizes the
 * models use, and the convolutions of the WGAN-GP MNIST model (batch 50) with both of
 * their gradients. Each case is printed next to direct OpenBLAS cblas_sgemm at the GEMM
 * size the case amounts to (for a convolution, the im2col GEMM), measured in the same
 * run; times are medians of several repetitions after warm-up.
 *
 *   bench_kernels [device-spec] [repetitions]      defaults: cpu 11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "backend.h"
#include "wgan/device.h"
#include "wgan/graph.h"
#include "wgan/session.h"

#define WARMUP 3
#define MAX_REPS 101

typedef enum bench_kind {
    BENCH_GEMM,
    BENCH_CONV,    /* conv2d forward */
    BENCH_CONV_DX, /* conv2d input gradient = conv_transpose2d forward */
    BENCH_CONV_DW, /* conv2d weight gradient */
} bench_kind;

/* A GEMM op(A) [m, k] @ op(B) [k, n], or a convolution role on the conv2d geometry
 * x [n, c, h, w], w [k, c, r, s] -> y [n, k, p, q] (5x5 kernels throughout). */
typedef struct bench_case {
    const char *name;
    bench_kind kind;
    int ta, tb, m, k, n;                /* gemm */
    int batch, c, h, kout, stride, pad; /* square images and kernels of 5 */
} bench_case;

#define GEMM_CASE(name, ta, tb, m, k, n)                                                           \
    { name, BENCH_GEMM, ta, tb, m, k, n, 0, 0, 0, 0, 0, 0 }
#define CONV_CASE(name, kind, c, h, k)                                                             \
    { name, kind, 0, 0, 0, 0, 0, 50, c, h, k, 2, 2 }

static const bench_case cases[] = {
    GEMM_CASE("gemm 1024^3", 0, 0, 1024, 1024, 1024),
    GEMM_CASE("mlp forward 256x512x512", 0, 0, 256, 512, 512),
    GEMM_CASE("mlp weight grad (a^T b)", 1, 0, 512, 256, 512),
    GEMM_CASE("mlp input grad (a b^T)", 0, 1, 256, 512, 512),
    GEMM_CASE("G linear 50x128x4096", 0, 0, 50, 128, 4096),
    /* critic: conv 5x5 stride 2 pad 2 */
    CONV_CASE("D conv1 1->64 28x28 fwd", BENCH_CONV, 1, 28, 64),
    CONV_CASE("D conv1 input grad", BENCH_CONV_DX, 1, 28, 64),
    CONV_CASE("D conv1 weight grad", BENCH_CONV_DW, 1, 28, 64),
    CONV_CASE("D conv2 64->128 14x14 fwd", BENCH_CONV, 64, 14, 128),
    CONV_CASE("D conv2 input grad", BENCH_CONV_DX, 64, 14, 128),
    CONV_CASE("D conv2 weight grad", BENCH_CONV_DW, 64, 14, 128),
    CONV_CASE("D conv3 128->256 7x7 fwd", BENCH_CONV, 128, 7, 256),
    CONV_CASE("D conv3 input grad", BENCH_CONV_DX, 128, 7, 256),
    CONV_CASE("D conv3 weight grad", BENCH_CONV_DW, 128, 7, 256),
    /* generator: conv_transpose 5x5 stride 2 = the input gradient of a conv2d whose
     * input is the larger image; its own gradients are that conv2d and its weight grad */
    CONV_CASE("G deconv1 256->128 4->8 fwd", BENCH_CONV_DX, 128, 8, 256),
    CONV_CASE("G deconv1 input grad", BENCH_CONV, 128, 8, 256),
    CONV_CASE("G deconv1 weight grad", BENCH_CONV_DW, 128, 8, 256),
    CONV_CASE("G deconv2 128->64 7->14 fwd", BENCH_CONV_DX, 64, 14, 128),
    CONV_CASE("G deconv2 input grad", BENCH_CONV, 64, 14, 128),
    CONV_CASE("G deconv2 weight grad", BENCH_CONV_DW, 64, 14, 128),
    CONV_CASE("G deconv3 64->1 14->28 fwd", BENCH_CONV_DX, 1, 28, 64),
    CONV_CASE("G deconv3 input grad", BENCH_CONV, 1, 28, 64),
    CONV_CASE("G deconv3 weight grad", BENCH_CONV_DW, 1, 28, 64),
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, compare_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void fill_random(float *v, int64_t n, uint64_t *state) {
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(*state >> 40) / (double)(1ull << 24)) * 2 - 1;
    }
}

/* The GEMM a case amounts to, with its transposes: for convolutions the im2col GEMM over
 * the whole batch (columns [c r s, n p q]). */
static void equivalent_gemm(const bench_case *bc, int *ta, int *tb, int *m, int *n, int *k) {
    if (bc->kind == BENCH_GEMM) {
        *ta = bc->ta, *tb = bc->tb, *m = bc->m, *n = bc->n, *k = bc->k;
        return;
    }
    const int p = (bc->h + 2 * bc->pad - 5) / bc->stride + 1;
    const int crs = bc->c * 25, npq = bc->batch * p * p;
    switch (bc->kind) {
    case BENCH_CONV: *ta = 0, *tb = 0, *m = bc->kout, *n = npq, *k = crs; break;
    case BENCH_CONV_DX: *ta = 1, *tb = 0, *m = crs, *n = npq, *k = bc->kout; break;
    default: *ta = 0, *tb = 1, *m = bc->kout, *n = crs, *k = npq; break;
    }
}

/* Builds the case's graph: inputs [0], [1] and the op. */
static wg_node build_case(wg_graph *g, const bench_case *bc, wg_node in[2]) {
    if (bc->kind == BENCH_GEMM) {
        in[0] = wg_input(g, bc->ta ? wg_shape2(bc->k, bc->m) : wg_shape2(bc->m, bc->k), "a");
        in[1] = wg_input(g, bc->tb ? wg_shape2(bc->n, bc->k) : wg_shape2(bc->k, bc->n), "b");
        return wg_matmul(g, in[0], in[1], bc->ta, bc->tb);
    }
    const int p = (bc->h + 2 * bc->pad - 5) / bc->stride + 1;
    const wg_shape xs = wg_shape4(bc->batch, bc->c, bc->h, bc->h);
    const wg_shape ws = wg_shape4(bc->kout, bc->c, 5, 5);
    const wg_shape ys = wg_shape4(bc->batch, bc->kout, p, p);
    const wg_conv_params params = {bc->stride, bc->stride, bc->pad, bc->pad};
    switch (bc->kind) {
    case BENCH_CONV:
        in[0] = wg_input(g, xs, "x");
        in[1] = wg_input(g, ws, "w");
        return wg_conv2d(g, in[0], in[1], params);
    case BENCH_CONV_DX:
        in[0] = wg_input(g, ys, "gy");
        in[1] = wg_input(g, ws, "w");
        return wg_conv2d_input_grad(g, in[0], in[1], params, xs);
    default:
        in[0] = wg_input(g, xs, "x");
        in[1] = wg_input(g, ys, "gy");
        return wg_conv2d_weight_grad(g, in[0], in[1], params, ws);
    }
}

/* Median seconds of one step of a plan that computes only the case's op. */
static wg_status time_case(wg_device *device, const bench_case *bc, int reps, double *seconds) {
    wg_status status = WG_OK;
    wg_graph *g = wg_graph_new(WG_F32);
    wg_session *session = NULL;
    wg_plan *plan = NULL;
    float *host = NULL;
    if (!g) return wg_fail(WG_ERR_NOMEM, "cannot allocate a graph");
    wg_node in[2];
    wg_node op = build_case(g, bc, in);
    if ((status = wg_graph_status(g)) != WG_OK) goto done;
    if ((status = wg_session_new(g, device, 1, &session)) != WG_OK) goto done;
    uint64_t state = 12345;
    for (int i = 0; i < 2; i++) {
        int64_t n = wg_node_numel(g, in[i]);
        float *grown = realloc(host, (size_t)n * sizeof *host);
        if (!grown) {
            status = wg_fail(WG_ERR_NOMEM, "cannot allocate %lld floats", (long long)n);
            goto done;
        }
        host = grown;
        fill_random(host, n, &state);
        if ((status = wg_session_write(session, in[i], host)) != WG_OK) goto done;
    }
    if ((status = wg_plan_new(session, 1, &op, &plan)) != WG_OK) goto done;
    double t[MAX_REPS];
    for (int r = -WARMUP; r < reps; r++) {
        double start = now();
        if ((status = wg_plan_run(plan)) != WG_OK) goto done;
        if ((status = device->backend->finish(device)) != WG_OK) goto done;
        if (r >= 0) t[r] = now() - start;
    }
    *seconds = median(t, reps);
done:
    free(host);
    wg_plan_free(plan);
    wg_session_free(session);
    wg_graph_free(g);
    return status;
}

/* Median seconds of direct cblas_sgemm with OpenBLAS's own threading. */
static double time_sgemm(int ta, int tb, int m, int n, int k, int threads, int reps) {
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c = malloc((size_t)m * n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    uint64_t state = 777;
    fill_random(a, (int64_t)m * k, &state);
    fill_random(b, (int64_t)k * n, &state);
    /* the cpu device runs OpenBLAS single-threaded; the reference is OpenBLAS as shipped */
    openblas_set_num_threads(threads);
    double t[MAX_REPS];
    for (int r = -WARMUP; r < reps; r++) {
        double start = now();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0, c, n);
        if (r >= 0) t[r] = now() - start;
    }
    free(a), free(b), free(c);
    return median(t, reps);
}

int main(int argc, char **argv) {
    const char *spec = argc > 1 ? argv[1] : "cpu";
    int reps = argc > 2 ? atoi(argv[2]) : 11;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s [device-spec] [repetitions 1..%d]\n", argv[0], MAX_REPS);
        return 2;
    }
    /* before any device changes it */
    const int blas_threads = openblas_get_num_threads();
    wg_device *device = NULL;
    if (wg_device_open(spec, &device) != WG_OK) {
        fprintf(stderr, "cannot open device %s: %s\n", spec, wg_last_error());
        return 1;
    }
    printf("device: %s\n", wg_device_description(device));
    printf("reference: %s, %d threads\n", openblas_get_config(), blas_threads);
    printf("f32, median of %d after %d warm-up runs\n\n", reps, WARMUP);
    printf("%-30s %-16s %9s %9s %11s %7s\n", "case", "gemm m,n,k", "ms", "GFLOP/s", "sgemm GF/s",
           "ratio");

    /* Each case on the device, then its reference. OpenBLAS's own worker threads spin
     * for a while after a threaded sgemm, so they are given time to go to sleep before
     * the device runs again. */
    enum { CASES = sizeof cases / sizeof *cases };
    double seconds[CASES], sgemm[CASES];
    int failures = 0;
    for (int i = 0; i < CASES; i++) {
        const struct timespec pause = {0, 300000000};
        nanosleep(&pause, NULL);
        seconds[i] = 0;
        if (time_case(device, &cases[i], reps, &seconds[i]) != WG_OK) {
            printf("%-30s failed: %s\n", cases[i].name, wg_last_error());
            failures++;
        }
        int ta, tb, m, n, k;
        equivalent_gemm(&cases[i], &ta, &tb, &m, &n, &k);
        sgemm[i] = time_sgemm(ta, tb, m, n, k, blas_threads, reps);
    }

    double conv_flops = 0, conv_seconds = 0, conv_sgemm_seconds = 0, plain_rate = 0;
    for (int i = 0; i < CASES; i++) {
        const bench_case *bc = &cases[i];
        int ta, tb, m, n, k;
        equivalent_gemm(bc, &ta, &tb, &m, &n, &k);
        const double flops = 2.0 * m * n * k;
        if (i == 0 && sgemm[i] > 0) plain_rate = flops / sgemm[i];
        if (seconds[i] <= 0) continue;
        char size[32];
        snprintf(size, sizeof size, "%d,%d,%d", m, n, k);
        printf("%-30s %-16s %9.3f %9.1f %11.1f %7.2f\n", bc->name, size, 1e3 * seconds[i],
               1e-9 * flops / seconds[i], sgemm[i] > 0 ? 1e-9 * flops / sgemm[i] : 0,
               sgemm[i] > 0 ? sgemm[i] / seconds[i] : 0);
        if (bc->kind != BENCH_GEMM) {
            conv_flops += flops;
            conv_seconds += seconds[i];
            conv_sgemm_seconds += sgemm[i];
        }
    }
    if (conv_seconds > 0) {
        const double rate = conv_flops / conv_seconds;
        printf("\nMNIST convolutions, forward + both gradients: %.1f GFLOP/s (%.2f ms in all)\n",
               1e-9 * rate, 1e3 * conv_seconds);
        printf("  vs direct sgemm at the same sizes: %.2f\n", conv_sgemm_seconds / conv_seconds);
        if (plain_rate > 0)
            printf("  vs direct sgemm 1024^3 (%.1f GFLOP/s): %.2f\n", 1e-9 * plain_rate,
                   rate / plain_rate);
    }
    wg_device_close(device);
    return failures ? 1 : 0;
}
