/* Convolution and its two adjoints as im2col/col2im over the whole batch plus one
 * CLBlast GEMM each. With columns col[C R S][N P Q]:
 *   y   [K][N P Q] = w [K][C R S] . col                 (then to [N][K][P Q])
 *   dw  [K][C R S] = gy[K][N P Q] . col^T               (gy first to [K][N][P Q])
 *   dcol[C R S][N P Q] = w^T . gy[K][N P Q],  dx = col2im(dcol)
 * The columns and the [K][N P Q] layout live in the device's grow-only scratch.
 * CLBlast's own Xconvgemm was measured against this: 2-3x slower on PoCL and no faster
 * on an NVIDIA H100, and it has no adjoints. */

#include "opencl_internal.h"

typedef struct conv_dims {
    int n, c, h, w; /* image */
    int k, r, s;    /* filters */
    int p, q;       /* output */
    int stride_h, stride_w, pad_h, pad_w;
    size_t crs, npq, pq;
} conv_dims;

static const wg_shape *shape_of(const wg_call *call, int i) {
    return i < 0 ? &call->data->shape : &call->graph->nodes[call->data->input[i]].shape;
}

/* Reads the shapes of image, filter and output (input indices, -1 = the node's output)
 * and checks that they describe one convolution. */
static wg_status conv_dims_of(const wg_call *call, int image, int filter, int output,
                              conv_dims *cd) {
    const wg_shape *x = shape_of(call, image), *w = shape_of(call, filter),
                   *y = shape_of(call, output);
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return wg_fail(WG_ERR_SHAPE, "opencl: convolution tensors must be 4-D");
    const int *iv = call->data->ival;
    *cd = (conv_dims){
        .n = (int)x->dim[0],
        .c = (int)x->dim[1],
        .h = (int)x->dim[2],
        .w = (int)x->dim[3],
        .k = (int)w->dim[0],
        .r = (int)w->dim[2],
        .s = (int)w->dim[3],
        .p = (int)y->dim[2],
        .q = (int)y->dim[3],
        .stride_h = iv[0],
        .stride_w = iv[1],
        .pad_h = iv[2],
        .pad_w = iv[3],
    };
    if (cd->stride_h < 1 || cd->stride_w < 1 || cd->pad_h < 0 || cd->pad_w < 0)
        return wg_fail(WG_ERR_INVALID, "opencl: bad convolution stride %dx%d or padding %dx%d",
                       cd->stride_h, cd->stride_w, cd->pad_h, cd->pad_w);
    int p = (cd->h + 2 * cd->pad_h - cd->r) / cd->stride_h + 1;
    int q = (cd->w + 2 * cd->pad_w - cd->s) / cd->stride_w + 1;
    if (w->dim[1] != cd->c || y->dim[0] != cd->n || y->dim[1] != cd->k || p != cd->p || q != cd->q)
        return wg_fail(WG_ERR_SHAPE, "opencl: convolution shapes do not fit each other");
    cd->crs = (size_t)cd->c * cd->r * cd->s;
    cd->pq = (size_t)cd->p * cd->q;
    cd->npq = cd->pq * cd->n;
    return WG_OK;
}

static void conv_int4(const conv_dims *cd, int out[4]) {
    out[0] = cd->stride_h;
    out[1] = cd->stride_w;
    out[2] = cd->pad_h;
    out[3] = cd->pad_w;
}

/* Scratch for the columns ([crs][npq]) followed by a [k][npq] matrix. */
static wg_status conv_scratch(wg_ocl_device *dev, const conv_dims *cd, wg_dtype dtype,
                              wg_ocl_tensor *col, wg_ocl_tensor *kmat) {
    size_t cols = cd->crs * cd->npq;
    wg_status st = wg_ocl_scratch_reserve(dev, &dev->scratch,
                                          (cols + (size_t)cd->k * cd->npq) * wg_ocl_elem(dtype));
    if (st != WG_OK) return st;
    *col = (wg_ocl_tensor){dev->scratch.mem, 0};
    *kmat = (wg_ocl_tensor){dev->scratch.mem, cols};
    return WG_OK;
}

static wg_status im2col(wg_ocl_device *dev, const wg_ocl_program *prog, const conv_dims *cd,
                        wg_ocl_tensor col, wg_ocl_tensor x) {
    int conv[4];
    conv_int4(cd, conv);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_IM2COL], WG_F32);
    wg_ocl_arg_mem(&a, col.mem);
    wg_ocl_arg_ulong(&a, col.offset);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    int args[] = {cd->c, cd->h, cd->w, cd->r, cd->s, cd->p, cd->q, (int)cd->npq};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) wg_ocl_arg_int(&a, args[i]);
    wg_ocl_arg_int4(&a, conv);
    return wg_ocl_launch2(dev, prog, WG_K_IM2COL, &a, cd->npq, cd->crs);
}

static wg_status col2im(wg_ocl_device *dev, const wg_ocl_program *prog, const conv_dims *cd,
                        wg_ocl_tensor x, wg_ocl_tensor col) {
    int conv[4];
    conv_int4(cd, conv);
    size_t n_x = (size_t)cd->n * cd->c * cd->h * cd->w;
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_COL2IM], WG_F32);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    wg_ocl_arg_mem(&a, col.mem);
    wg_ocl_arg_ulong(&a, col.offset);
    int args[] = {(int)n_x, cd->c, cd->h, cd->w, cd->r, cd->s, cd->p, cd->q, (int)cd->npq};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) wg_ocl_arg_int(&a, args[i]);
    wg_ocl_arg_int4(&a, conv);
    return wg_ocl_launch(dev, prog, WG_K_COL2IM, &a, n_x);
}

/* gy [N][K][PQ] -> [K][N][PQ] (or the tensor itself when N is 1). */
static wg_status k_major(wg_ocl_device *dev, const wg_ocl_program *prog, const conv_dims *cd,
                         wg_ocl_tensor gy, wg_ocl_tensor kmat, wg_ocl_tensor *out) {
    if (cd->n == 1) {
        *out = gy;
        return WG_OK;
    }
    int64_t dim[3] = {cd->k, cd->n, (int64_t)cd->pq};
    int64_t stride[3] = {(int64_t)cd->pq, (int64_t)cd->k * (int64_t)cd->pq, 1};
    *out = kmat;
    return wg_ocl_gather(dev, prog, kmat, gy, 3, dim, stride);
}

wg_status wg_ocl_conv2d(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                        wg_dtype dtype) {
    conv_dims cd;
    wg_ocl_tensor col, kmat;
    wg_status st = conv_dims_of(call, 0, 1, -1, &cd);
    if (st == WG_OK) st = conv_scratch(dev, &cd, dtype, &col, &kmat);
    if (st != WG_OK) return st;
    wg_ocl_tensor x = wg_ocl_tensor_of(call->in[0], dtype);
    wg_ocl_tensor w = wg_ocl_tensor_of(call->in[1], dtype);
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype);
    st = im2col(dev, prog, &cd, col, x);
    if (st != WG_OK) return st;
    wg_ocl_tensor prod = cd.n == 1 ? y : kmat;
    st = wg_ocl_gemm(dev, dtype, 0, 0, (size_t)cd.k, cd.npq, cd.crs, w, cd.crs, col, cd.npq, prod,
                     cd.npq);
    if (st != WG_OK || cd.n == 1) return st;
    /* [K][N][PQ] -> [N][K][PQ] */
    int64_t dim[3] = {cd.n, cd.k, (int64_t)cd.pq};
    int64_t stride[3] = {(int64_t)cd.pq, (int64_t)cd.npq, 1};
    return wg_ocl_gather(dev, prog, y, kmat, 3, dim, stride);
}

wg_status wg_ocl_conv2d_dx(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                           wg_dtype dtype) {
    conv_dims cd;
    wg_ocl_tensor col, kmat, gy_k;
    /* the image is the node's output here; the upstream gradient plays y */
    wg_status st = conv_dims_of(call, -1, 1, 0, &cd);
    if (st == WG_OK) st = conv_scratch(dev, &cd, dtype, &col, &kmat);
    if (st != WG_OK) return st;
    wg_ocl_tensor gy = wg_ocl_tensor_of(call->in[0], dtype);
    wg_ocl_tensor w = wg_ocl_tensor_of(call->in[1], dtype);
    wg_ocl_tensor dx = wg_ocl_tensor_of(call->out, dtype);
    st = k_major(dev, prog, &cd, gy, kmat, &gy_k);
    if (st == WG_OK)
        st = wg_ocl_gemm(dev, dtype, 1, 0, cd.crs, cd.npq, (size_t)cd.k, w, cd.crs, gy_k, cd.npq,
                         col, cd.npq);
    if (st == WG_OK) st = col2im(dev, prog, &cd, dx, col);
    return st;
}

wg_status wg_ocl_conv2d_dw(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                           wg_dtype dtype) {
    conv_dims cd;
    wg_ocl_tensor col, kmat, gy_k;
    wg_status st = conv_dims_of(call, 0, -1, 1, &cd);
    if (st == WG_OK) st = conv_scratch(dev, &cd, dtype, &col, &kmat);
    if (st != WG_OK) return st;
    wg_ocl_tensor x = wg_ocl_tensor_of(call->in[0], dtype);
    wg_ocl_tensor gy = wg_ocl_tensor_of(call->in[1], dtype);
    wg_ocl_tensor dw = wg_ocl_tensor_of(call->out, dtype);
    st = im2col(dev, prog, &cd, col, x);
    if (st == WG_OK) st = k_major(dev, prog, &cd, gy, kmat, &gy_k);
    if (st == WG_OK)
        st = wg_ocl_gemm(dev, dtype, 0, 1, (size_t)cd.k, cd.crs, cd.npq, gy_k, cd.npq, col, cd.npq,
                         dw, cd.crs);
    return st;
}
