/* Node execution on OpenCL: element-wise, layout, reductions, random draws and matmul.
 * Everything is enqueued on the device's in-order queue; nothing here waits. */
#include <limits.h>

#include "opencl_internal.h"

/* ---- strided views ---- */

/* An index space walked by up to three operands; operand 0 is the (contiguous) output.
 * Strides in elements, 0 on broadcast axes. */
typedef struct view {
    int ndim;
    int64_t dim[WG_MAX_DIMS];
    int64_t stride[3][WG_MAX_DIMS];
} view;

static void contiguous_strides(int ndim, const int64_t *dim, int64_t *stride) {
    int64_t s = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        stride[k] = s;
        s *= dim[k];
    }
}

static void view_init(view *v, const wg_shape *shape) {
    v->ndim = shape->ndim;
    for (int k = 0; k < shape->ndim; k++) v->dim[k] = shape->dim[k];
    for (int o = 0; o < 3; o++)
        for (int k = 0; k < WG_MAX_DIMS; k++) v->stride[o][k] = 0;
    contiguous_strides(v->ndim, v->dim, v->stride[0]);
}

/* Strides that read `from` broadcast to the view's shape (numpy: right-aligned). */
static void view_broadcast(view *v, int operand, const wg_shape *from) {
    int64_t s[WG_MAX_DIMS];
    contiguous_strides(from->ndim, from->dim, s);
    int lead = v->ndim - from->ndim;
    for (int k = 0; k < v->ndim; k++) {
        int j = k - lead;
        v->stride[operand][k] = (j < 0 || from->dim[j] == 1) ? 0 : s[j];
    }
}

/* Drops extent-1 axes and merges neighbours that every operand steps through as one,
 * so kernels do fewer divisions. */
static void view_coalesce(view *v, int operands) {
    int m = 0;
    for (int k = 0; k < v->ndim; k++) {
        if (v->dim[k] == 1) continue;
        v->dim[m] = v->dim[k];
        for (int o = 0; o < operands; o++) v->stride[o][m] = v->stride[o][k];
        m++;
    }
    if (m == 0) {
        v->dim[0] = 1;
        for (int o = 0; o < operands; o++) v->stride[o][0] = 0;
        m = 1;
    }
    int out = 0;
    for (int k = 1; k < m; k++) {
        int merge = 1;
        for (int o = 0; o < operands; o++)
            if (v->stride[o][out] != v->stride[o][k] * v->dim[k]) merge = 0;
        if (merge) {
            v->dim[out] *= v->dim[k];
            for (int o = 0; o < operands; o++) v->stride[o][out] = v->stride[o][k];
        } else {
            out++;
            v->dim[out] = v->dim[k];
            for (int o = 0; o < operands; o++) v->stride[o][out] = v->stride[o][k];
        }
    }
    v->ndim = out + 1;
}

/* Left-pads to four axes for the kernels' int4 arguments. */
static void view_int4(const view *v, int operand, int dim[4], int stride[4]) {
    int lead = 4 - v->ndim;
    for (int k = 0; k < 4; k++) {
        dim[k] = k < lead ? 1 : (int)v->dim[k - lead];
        if (stride) stride[k] = k < lead ? 0 : (int)v->stride[operand][k - lead];
    }
}

static const wg_shape *input_shape(const wg_call *call, int i) {
    return &call->graph->nodes[call->data->input[i]].shape;
}

/* Kernels index with int: every tensor must have fewer than 2^31 elements. */
#define TOO_BIG "tensors of 2^31 or more elements"

static bool fits_int(const wg_shape *s) {
    return wg_shape_numel(s) <= INT_MAX;
}

static wg_status check_size(const wg_call *call) {
    for (int i = -1; i < call->data->n_inputs; i++)
        if (!fits_int(i < 0 ? &call->data->shape : input_shape(call, i)))
            return wg_fail(WG_ERR_UNSUPPORTED, "opencl: " TOO_BIG " are not supported");
    return WG_OK;
}

/* ---- building blocks shared with the convolutions ---- */

wg_status wg_ocl_gather(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_tensor y,
                        wg_ocl_tensor x, int ndim, const int64_t *dim, const int64_t *stride) {
    view v;
    wg_shape shape = {.ndim = ndim};
    for (int k = 0; k < ndim; k++) shape.dim[k] = dim[k];
    view_init(&v, &shape);
    for (int k = 0; k < ndim; k++) v.stride[1][k] = stride[k];
    int64_t n = wg_shape_numel(&shape);
    view_coalesce(&v, 2);
    int d4[4], s4[4];
    view_int4(&v, 1, d4, s4);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_GATHER], WG_F32);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_int4(&a, d4);
    wg_ocl_arg_int4(&a, s4);
    return wg_ocl_launch(dev, prog, WG_K_GATHER, &a, (size_t)n);
}

/* ---- ops ---- */

static wg_status run_constant(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                              wg_dtype dtype) {
    (void)prog;
    const wg_node_data *d = call->data;
    return dev->base.backend->fill(&dev->base, call->out, (size_t)wg_shape_numel(&d->shape), dtype,
                                   d->param[0]);
}

static wg_status run_random(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    const wg_node_data *d = call->data;
    wg_ocl_kernel k = d->op == WG_OP_RANDOM_UNIFORM ? WG_K_RANDOM_UNIFORM : WG_K_RANDOM_NORMAL;
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype);
    int64_t n = wg_shape_numel(&d->shape);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[k], dtype);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_ulong(&a, (uint64_t)d->lval[1]);
    wg_ocl_arg_ulong(&a, (uint64_t)d->lval[0]);
    wg_ocl_arg_ulong(&a, call->step);
    wg_ocl_arg_ulong(&a, call->seed);
    wg_ocl_arg_real(&a, d->param[0]);
    wg_ocl_arg_real(&a, d->param[1]);
    return wg_ocl_launch(dev, prog, k, &a, (size_t)n);
}

static wg_status run_map(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                         wg_dtype dtype) {
    const wg_node_data *d = call->data;
    if (d->ival[0] < 0 || d->ival[0] >= WG_MAP_COUNT)
        return wg_fail(WG_ERR_INVALID, "opencl: unknown map code %d", d->ival[0]);
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype), x = wg_ocl_tensor_of(call->in[0], dtype);
    int64_t n = wg_shape_numel(&d->shape);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_MAP], dtype);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_int(&a, d->ival[0]);
    wg_ocl_arg_real(&a, d->param[0]);
    wg_ocl_arg_real(&a, d->param[1]);
    return wg_ocl_launch(dev, prog, WG_K_MAP, &a, (size_t)n);
}

static wg_status run_binary(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    const wg_node_data *d = call->data;
    if (d->ival[0] < 0 || d->ival[0] >= WG_BIN_COUNT)
        return wg_fail(WG_ERR_INVALID, "opencl: unknown binary code %d", d->ival[0]);
    view v;
    view_init(&v, &d->shape);
    view_broadcast(&v, 1, input_shape(call, 0));
    view_broadcast(&v, 2, input_shape(call, 1));
    view_coalesce(&v, 3);
    int flat = v.ndim == 1 && v.stride[1][0] == 1 && v.stride[2][0] == 1;
    wg_ocl_kernel k = flat ? WG_K_BINARY_FLAT : WG_K_BINARY;
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype);
    wg_ocl_tensor x0 = wg_ocl_tensor_of(call->in[0], dtype);
    wg_ocl_tensor x1 = wg_ocl_tensor_of(call->in[1], dtype);
    int64_t n = wg_shape_numel(&d->shape);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[k], dtype);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_mem(&a, x0.mem);
    wg_ocl_arg_ulong(&a, x0.offset);
    wg_ocl_arg_mem(&a, x1.mem);
    wg_ocl_arg_ulong(&a, x1.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_int(&a, d->ival[0]);
    if (!flat) {
        int d4[4], s1[4], s2[4];
        view_int4(&v, 1, d4, s1);
        view_int4(&v, 2, d4, s2);
        wg_ocl_arg_int4(&a, d4);
        wg_ocl_arg_int4(&a, s1);
        wg_ocl_arg_int4(&a, s2);
    }
    return wg_ocl_launch(dev, prog, k, &a, (size_t)n);
}

static wg_status run_sum_to(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    const wg_shape *in = input_shape(call, 0), *out = &call->data->shape;
    if (in->ndim != out->ndim)
        return wg_fail(WG_ERR_SHAPE, "opencl: sum_to needs input and output of the same rank");
    int64_t in_stride[WG_MAX_DIMS];
    contiguous_strides(in->ndim, in->dim, in_stride);
    /* the output's own axes, and the reduced ones, both read through the input strides */
    view outer, red;
    view_init(&outer, out);
    wg_shape rshape = *in;
    for (int k = 0; k < in->ndim; k++) {
        int reduced = out->dim[k] == 1 && in->dim[k] != 1;
        if (!reduced && out->dim[k] != in->dim[k])
            return wg_fail(WG_ERR_SHAPE, "opencl: sum_to cannot reduce extent %lld to %lld",
                           (long long)in->dim[k], (long long)out->dim[k]);
        outer.stride[1][k] = reduced ? 0 : in_stride[k];
        rshape.dim[k] = reduced ? in->dim[k] : 1;
    }
    view_init(&red, &rshape);
    for (int k = 0; k < in->ndim; k++) red.stride[1][k] = in_stride[k];
    int64_t n = wg_shape_numel(out), r = wg_shape_numel(&rshape);
    view_coalesce(&outer, 2);
    /* operand 0 of `red` is not an output: only its strides of operand 1 matter */
    for (int k = 0; k < red.ndim; k++) red.stride[0][k] = red.stride[1][k];
    view_coalesce(&red, 1);
    int od[4], os[4], rd[4], rs[4];
    view_int4(&outer, 1, od, os);
    view_int4(&red, 0, rd, rs);

    /* few outputs with long sums: a work group per output keeps the device busy */
    size_t group = prog->group[WG_K_SUM_TO_GROUP];
    while (group > 1 && (int64_t)group / 2 >= r) group /= 2;
    int grouped = n < 2048 && r >= 32 && group > 1;
    wg_ocl_kernel k = grouped ? WG_K_SUM_TO_GROUP : WG_K_SUM_TO;
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype), x = wg_ocl_tensor_of(call->in[0], dtype);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[k], dtype);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_int4(&a, od);
    wg_ocl_arg_int4(&a, os);
    wg_ocl_arg_int(&a, (int)r);
    wg_ocl_arg_int4(&a, rd);
    wg_ocl_arg_int4(&a, rs);
    if (!grouped) return wg_ocl_launch(dev, prog, k, &a, (size_t)n);
    wg_ocl_arg_local(&a, group * wg_ocl_elem(dtype));
    return wg_ocl_launch_groups(dev, prog, k, &a, (size_t)n, group);
}

/* EXPAND, PERMUTE and SLICE are all gathers through input strides. */
static wg_status run_gather(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    const wg_node_data *d = call->data;
    const wg_shape *in = input_shape(call, 0);
    int64_t in_stride[WG_MAX_DIMS], stride[WG_MAX_DIMS];
    contiguous_strides(in->ndim, in->dim, in_stride);
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype), x = wg_ocl_tensor_of(call->in[0], dtype);
    int nd = d->shape.ndim;
    if (d->op == WG_OP_EXPAND) {
        view v;
        view_init(&v, &d->shape);
        view_broadcast(&v, 1, in);
        for (int k = 0; k < nd; k++) stride[k] = v.stride[1][k];
    } else if (d->op == WG_OP_PERMUTE) {
        if (in->ndim != nd) return wg_fail(WG_ERR_SHAPE, "opencl: permute changes the rank");
        for (int k = 0; k < nd; k++) {
            if (d->ival[k] < 0 || d->ival[k] >= nd)
                return wg_fail(WG_ERR_INVALID, "opencl: permute axis %d out of range", d->ival[k]);
            stride[k] = in_stride[d->ival[k]];
        }
    } else {
        if (in->ndim != nd) return wg_fail(WG_ERR_SHAPE, "opencl: slice changes the rank");
        for (int k = 0; k < nd; k++) {
            stride[k] = in_stride[k];
            x.offset += (uint64_t)(d->lval[k] * in_stride[k]);
        }
    }
    return wg_ocl_gather(dev, prog, y, x, nd, d->shape.dim, stride);
}

static wg_status run_pad(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                         wg_dtype dtype) {
    const wg_node_data *d = call->data;
    const wg_shape *in = input_shape(call, 0);
    if (in->ndim != d->shape.ndim) return wg_fail(WG_ERR_SHAPE, "opencl: pad changes the rank");
    int64_t in_stride[WG_MAX_DIMS];
    contiguous_strides(in->ndim, in->dim, in_stride);
    int dim[4], start[4], extent[4], xs[4];
    int lead = 4 - in->ndim;
    for (int k = 0; k < 4; k++) {
        int j = k - lead;
        dim[k] = j < 0 ? 1 : (int)d->shape.dim[j];
        start[k] = j < 0 ? 0 : (int)d->lval[j];
        extent[k] = j < 0 ? 1 : (int)in->dim[j];
        xs[k] = j < 0 ? 0 : (int)in_stride[j];
    }
    wg_ocl_tensor y = wg_ocl_tensor_of(call->out, dtype), x = wg_ocl_tensor_of(call->in[0], dtype);
    int64_t n = wg_shape_numel(&d->shape);
    wg_ocl_args a = wg_ocl_args_begin(prog->kernel[WG_K_PAD], dtype);
    wg_ocl_arg_mem(&a, y.mem);
    wg_ocl_arg_ulong(&a, y.offset);
    wg_ocl_arg_mem(&a, x.mem);
    wg_ocl_arg_ulong(&a, x.offset);
    wg_ocl_arg_int(&a, (int)n);
    wg_ocl_arg_int4(&a, dim);
    wg_ocl_arg_int4(&a, start);
    wg_ocl_arg_int4(&a, extent);
    wg_ocl_arg_int4(&a, xs);
    return wg_ocl_launch(dev, prog, WG_K_PAD, &a, (size_t)n);
}

static wg_status run_assign(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    (void)prog;
    size_t bytes = (size_t)wg_shape_numel(&call->data->shape) * wg_ocl_elem(dtype);
    wg_ref dst = call->out, src = call->in[1];
    if (bytes == 0 || (dst.mem == src.mem && dst.offset == src.offset)) return WG_OK;
    cl_int err = clEnqueueCopyBuffer(dev->queue, (cl_mem)src.mem, (cl_mem)dst.mem, src.offset,
                                     dst.offset, bytes, 0, NULL, NULL);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clEnqueueCopyBuffer (assign)");
}

static wg_status run_matmul(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype) {
    (void)prog;
    const wg_node_data *d = call->data;
    const wg_shape *as = input_shape(call, 0), *bs = input_shape(call, 1);
    int ta = d->ival[0] != 0, tb = d->ival[1] != 0;
    if (as->ndim != 2 || bs->ndim != 2 || d->shape.ndim != 2)
        return wg_fail(WG_ERR_SHAPE, "opencl: matmul needs 2-D operands");
    size_t m = (size_t)d->shape.dim[0], n = (size_t)d->shape.dim[1];
    size_t k = (size_t)(ta ? as->dim[0] : as->dim[1]);
    if ((size_t)(ta ? as->dim[1] : as->dim[0]) != m ||
        (size_t)(tb ? bs->dim[1] : bs->dim[0]) != k || (size_t)(tb ? bs->dim[0] : bs->dim[1]) != n)
        return wg_fail(WG_ERR_SHAPE, "opencl: matmul operand shapes do not fit the output");
    return wg_ocl_gemm(dev, dtype, ta, tb, m, n, k, wg_ocl_tensor_of(call->in[0], dtype),
                       (size_t)as->dim[1], wg_ocl_tensor_of(call->in[1], dtype), (size_t)bs->dim[1],
                       wg_ocl_tensor_of(call->out, dtype), n);
}

/* ---- the kernel of each op, and the table the backend runs and answers from ---- */

typedef wg_status (*ocl_op)(wg_ocl_device *dev, const wg_ocl_program *prog, const wg_call *call,
                            wg_dtype dtype);

/* Inputs, variables and reshapes have no entry: the planner maps them to storage. */
// clang-format off
static const ocl_op ocl_ops[WG_OP_COUNT] = {
    [WG_OP_CONSTANT] = run_constant,
    [WG_OP_RANDOM_UNIFORM] = run_random,
    [WG_OP_RANDOM_NORMAL] = run_random,
    [WG_OP_MAP] = run_map,
    [WG_OP_BINARY] = run_binary,
    [WG_OP_SUM_TO] = run_sum_to,
    [WG_OP_EXPAND] = run_gather,
    [WG_OP_PERMUTE] = run_gather,
    [WG_OP_SLICE] = run_gather,
    [WG_OP_PAD] = run_pad,
    [WG_OP_MATMUL] = run_matmul,
    [WG_OP_CONV2D] = wg_ocl_conv2d,
    [WG_OP_CONV2D_DX] = wg_ocl_conv2d_dx,
    [WG_OP_CONV2D_DW] = wg_ocl_conv2d_dw,
    [WG_OP_ASSIGN] = run_assign,
};
// clang-format on

bool wg_ocl_supports_op(wg_device *device, const wg_op_query *query, const char **why) {
    const wg_ocl_device *dev = (const wg_ocl_device *)device;
    const char *missing = NULL;
    if (query->dtype != WG_F32 && query->dtype != WG_F64)
        missing = "unknown dtype";
    else if (query->dtype == WG_F64 && !dev->has_fp64)
        missing = "no double precision on this device (cl_khr_fp64)";
    else if ((unsigned)query->op >= WG_OP_COUNT || !ocl_ops[query->op])
        missing = "no OpenCL kernel for this op";
    else if (!wg_op_code_known(query->op, query->code))
        missing = "a map or binary code outside the op table";
    for (int i = -1; i < query->n_inputs && !missing; i++)
        if (!fits_int(i < 0 ? &query->out : &query->in[i])) missing = TOO_BIG;
    if (missing && why) *why = missing;
    return missing == NULL;
}

wg_status wg_ocl_run(wg_device *device, const wg_call *call) {
    wg_ocl_device *dev = (wg_ocl_device *)device;
    if (call->fused) return wg_ocl_run_fused(dev, call);
    const wg_node_data *d = call->data;
    wg_dtype dtype = call->graph->dtype;
    if ((unsigned)d->op >= WG_OP_COUNT)
        return wg_fail(WG_ERR_INVALID, "opencl: unknown op %d", (int)d->op);
    if (!ocl_ops[d->op])
        return wg_fail(WG_ERR_INVALID, "opencl: %s nodes have no kernel and must not be run",
                       wg_op_name(d->op));
    wg_ocl_program *prog;
    wg_status st = wg_ocl_program_get(dev, dtype, &prog);
    if (st == WG_OK) st = check_size(call);
    if (st != WG_OK) return st;
    return ocl_ops[d->op](dev, prog, call, dtype);
}
