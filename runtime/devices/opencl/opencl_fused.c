/* Fused regions (runtime/core/fuse.h) on OpenCL: each region becomes a kernel generated
 * from its steps, one work item per element: it loads every input, computes the steps
 * in private registers with the map and binary functions of kernels/elementwise.cl (so
 * each step rounds as its node's own kernel does), then stores the outputs, so a
 * variable written in place has been read before. The kernels of a plan are built as
 * one program after the element-wise sources, through the on-disk cache; the kernel text
 * depends only on the region's structure (scalars are arguments), so regions alike
 * share a kernel and plans alike share a cached binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "io/fileio.h"
#include "opencl_internal.h"

#define GROUP_FUSED 128

typedef struct fused_program {
    cl_program program;
    int n_kernels;
    cl_kernel *kernels;
    size_t *group;
} fused_program;

/* "(parameters) { body }" of a region's kernel, to follow "__kernel void name". */
static void kernel_text(const wg_fused *r, wg_buf *t) {
    wg_buf_printf(t, "(int n");
    for (int o = 0; o < r->n_outputs; o++)
        wg_buf_printf(t, ", __global REAL *y%d, ulong y%do", o, o);
    for (int i = 0; i < r->n_inputs; i++) {
        wg_buf_printf(t, ", __global const REAL *x%d, ulong x%do", i, i);
        if (r->input[i].read == WG_FUSED_STRIDED) wg_buf_printf(t, ", int4 x%dd, int4 x%ds", i, i);
    }
    for (int k = 0; k < r->n_steps; k++)
        if (r->step[k].op == WG_OP_MAP)
            for (int j = 0; j < wg_map_scalars(r->step[k].code); j++)
                wg_buf_printf(t, ", REAL c%d_%d", k, j);
    wg_buf_printf(t, ") {\n    const int i = get_global_id(0);\n    if (i >= n) return;\n");
    for (int i = 0; i < r->n_inputs; i++) {
        switch (r->input[i].read) {
        case WG_FUSED_CONTIGUOUS:
            wg_buf_printf(t, "    const REAL v%d = x%d[x%do + i];\n", i, i, i);
            break;
        case WG_FUSED_SCALAR: wg_buf_printf(t, "    const REAL v%d = x%d[x%do];\n", i, i, i); break;
        case WG_FUSED_STRIDED:
            wg_buf_printf(t, "    const REAL v%d = x%d[x%do + wg_offset4(i, x%dd, x%ds)];\n", i, i,
                          i, i, i);
            break;
        }
    }
    for (int k = 0; k < r->n_steps; k++) {
        const wg_fused_step *s = &r->step[k];
        int slot = r->n_inputs + k;
        if (s->op == WG_OP_BINARY) {
            wg_buf_printf(t, "    const REAL v%d = wg_binary_%s(v%d, v%d);\n", slot,
                          wg_binary_name(s->code), s->arg[0], s->arg[1]);
            continue;
        }
        int scalars = wg_map_scalars(s->code);
        char p0[32] = "REAL_C(0.0)", p1[32] = "REAL_C(0.0)";
        if (scalars > 0) snprintf(p0, sizeof p0, "c%d_0", k);
        if (scalars > 1) snprintf(p1, sizeof p1, "c%d_1", k);
        wg_buf_printf(t, "    const REAL v%d = wg_map_%s(v%d, %s, %s);\n", slot,
                      wg_map_name(s->code), s->arg[0], p0, p1);
    }
    for (int o = 0; o < r->n_outputs; o++)
        wg_buf_printf(t, "    y%d[y%do + i] = v%d;\n", o, o, r->n_inputs + r->output[o].step);
    wg_buf_printf(t, "}\n");
}

static void release_program(fused_program *p) {
    if (!p) return;
    for (int k = 0; k < p->n_kernels; k++)
        if (p->kernels[k]) clReleaseKernel(p->kernels[k]);
    if (p->program) clReleaseProgram(p->program);
    free(p->kernels);
    free(p->group);
    free(p);
}

wg_status wg_ocl_prepare_fused(wg_device *device, wg_dtype dtype, int count, wg_fused *regions) {
    wg_ocl_device *dev = (wg_ocl_device *)device;
    if (count <= 0) return WG_OK;
    if (dtype == WG_F64 && !dev->has_fp64)
        return wg_fail(WG_ERR_UNSUPPORTED, "%s has no double precision (cl_khr_fp64)", dev->name);
    fused_program *p = calloc(1, sizeof *p);
    char **bodies = calloc((size_t)count, sizeof *bodies);
    wg_buf program = {0};
    char *prelude = NULL;
    wg_status st = p && bodies ? wg_ocl_elementwise_source(&prelude) : WG_ERR_NOMEM;
    if (st == WG_OK) wg_buf_puts(&program, prelude);
    free(prelude);
    /* one kernel per distinct text */
    for (int r = 0; r < count && st == WG_OK; r++) {
        wg_buf body = {0};
        kernel_text(&regions[r], &body);
        if (body.failed) {
            wg_buf_free(&body);
            st = WG_ERR_NOMEM;
            break;
        }
        int same = 0;
        while (same < p->n_kernels && strcmp(bodies[same], body.data) != 0) same++;
        regions[r].prepared = p;
        regions[r].prepared_index = same;
        if (same < p->n_kernels) {
            wg_buf_free(&body);
            continue;
        }
        bodies[p->n_kernels++] = body.data; /* owned by bodies now */
        wg_buf_printf(&program, "\n__kernel void wg_fused_%d%s", same, body.data);
    }
    if (st == WG_OK && program.failed) st = WG_ERR_NOMEM;
    if (st == WG_ERR_NOMEM) st = wg_fail(WG_ERR_NOMEM, "opencl: out of memory generating kernels");
    char options[512];
    wg_ocl_build_options(dtype, options, sizeof options);
    if (st == WG_OK) st = wg_ocl_build_cached(dev, program.data, options, &p->program);
    if (st == WG_OK) {
        p->kernels = calloc((size_t)p->n_kernels, sizeof *p->kernels);
        p->group = calloc((size_t)p->n_kernels, sizeof *p->group);
        if (!p->kernels || !p->group)
            st = wg_fail(WG_ERR_NOMEM, "opencl: out of memory creating kernels");
    }
    for (int k = 0; k < p->n_kernels && st == WG_OK; k++) {
        char name[32];
        snprintf(name, sizeof name, "wg_fused_%d", k);
        cl_int err;
        p->kernels[k] = clCreateKernel(p->program, name, &err);
        if (err != CL_SUCCESS)
            st = wg_ocl_fail(err, "clCreateKernel (a fused region)");
        else
            p->group[k] = wg_ocl_group_size(dev, p->kernels[k], GROUP_FUSED);
    }
    for (int k = 0; bodies && k < count; k++) free(bodies[k]);
    free(bodies);
    wg_buf_free(&program);
    if (st != WG_OK) {
        release_program(p);
        for (int r = 0; r < count; r++) regions[r].prepared = NULL;
    }
    return st;
}

void wg_ocl_release_fused(wg_device *device, int count, wg_fused *regions) {
    (void)device;
    if (count > 0) release_program(regions[0].prepared);
    for (int r = 0; r < count; r++) regions[r].prepared = NULL;
}

/* Left-pads a strided read to the four axes of wg_offset4. */
static void read_int4(const wg_fused_input *in, int dim[4], int stride[4]) {
    int lead = 4 - in->ndim;
    for (int k = 0; k < 4; k++) {
        dim[k] = k < lead ? 1 : (int)in->dim[k - lead];
        stride[k] = k < lead ? 0 : (int)in->stride[k - lead];
    }
}

wg_status wg_ocl_run_fused(wg_ocl_device *dev, const wg_call *call) {
    const wg_fused *r = call->fused;
    const fused_program *p = r->prepared;
    if (!p)
        return wg_fail(WG_ERR_INVALID, "opencl: a fused region was not prepared for this device");
    wg_dtype dtype = call->graph->dtype;
    cl_kernel kernel = p->kernels[r->prepared_index];
    wg_ocl_args a = wg_ocl_args_begin(kernel, dtype);
    wg_ocl_arg_int(&a, (int)r->numel);
    for (int o = 0; o < r->n_outputs; o++) {
        wg_ocl_tensor y = wg_ocl_tensor_of(r->output[o].ref, dtype);
        wg_ocl_arg_mem(&a, y.mem);
        wg_ocl_arg_ulong(&a, y.offset);
    }
    for (int i = 0; i < r->n_inputs; i++) {
        wg_ocl_tensor x = wg_ocl_tensor_of(r->input[i].ref, dtype);
        wg_ocl_arg_mem(&a, x.mem);
        wg_ocl_arg_ulong(&a, x.offset);
        if (r->input[i].read != WG_FUSED_STRIDED) continue;
        int dim[4], stride[4];
        read_int4(&r->input[i], dim, stride);
        wg_ocl_arg_int4(&a, dim);
        wg_ocl_arg_int4(&a, stride);
    }
    for (int k = 0; k < r->n_steps; k++)
        if (r->step[k].op == WG_OP_MAP)
            for (int j = 0; j < wg_map_scalars(r->step[k].code); j++)
                wg_ocl_arg_real(&a, r->step[k].param[j]);
    if (a.err != CL_SUCCESS) return wg_ocl_fail(a.err, "clSetKernelArg (a fused region)");
    if (r->numel == 0) return WG_OK;
    size_t local = p->group[r->prepared_index];
    size_t global = ((size_t)r->numel + local - 1) / local * local;
    cl_int err =
        clEnqueueNDRangeKernel(dev->queue, kernel, 1, NULL, &global, &local, 0, NULL, NULL);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clEnqueueNDRangeKernel (a fused region)");
}
