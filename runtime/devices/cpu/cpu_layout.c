/* Index arithmetic shared by the strided kernels: strides, broadcasting, and walks
 * that visit several operands in step. */
#include <string.h>

#include "cpu_internal.h"

int64_t wg_cpu_numel(const wg_shape *shape) {
    int64_t n = 1;
    for (int k = 0; k < shape->ndim; k++) n *= shape->dim[k];
    return n;
}

void wg_cpu_strides(const wg_shape *shape, int64_t stride[WG_MAX_DIMS]) {
    int64_t s = 1;
    for (int k = shape->ndim - 1; k >= 0; k--) {
        stride[k] = s;
        s *= shape->dim[k];
    }
}

void wg_cpu_broadcast_strides(const wg_shape *from, const wg_shape *to,
                              int64_t stride[WG_MAX_DIMS]) {
    int64_t own[WG_MAX_DIMS];
    wg_cpu_strides(from, own);
    int lead = to->ndim - from->ndim;
    for (int k = 0; k < to->ndim; k++) {
        int j = k - lead;
        stride[k] = (j < 0 || from->dim[j] == 1) ? 0 : own[j];
    }
}

void wg_cpu_walk_init(wg_cpu_walk *walk, const wg_shape *shape) {
    *walk = (wg_cpu_walk){0};
    walk->ndim = shape->ndim > 0 ? shape->ndim : 1;
    for (int k = 0; k < walk->ndim; k++) walk->dim[k] = shape->ndim > 0 ? shape->dim[k] : 1;
}

static void walk_move_axis(wg_cpu_walk *walk, int operands, int to, int from) {
    walk->dim[to] = walk->dim[from];
    for (int o = 0; o < operands; o++) walk->stride[o][to] = walk->stride[o][from];
}

void wg_cpu_walk_coalesce(wg_cpu_walk *walk, int operands) {
    int n = 0;
    for (int k = 0; k < walk->ndim; k++) {
        if (walk->dim[k] == 1) continue;
        if (n > 0) {
            int mergeable = 1;
            for (int o = 0; o < operands; o++)
                if (walk->stride[o][n - 1] != walk->stride[o][k] * walk->dim[k]) mergeable = 0;
            if (mergeable) {
                walk->dim[n - 1] *= walk->dim[k];
                for (int o = 0; o < operands; o++) walk->stride[o][n - 1] = walk->stride[o][k];
                continue;
            }
        }
        walk_move_axis(walk, operands, n++, k);
    }
    if (n == 0) { /* every extent is 1: one element */
        walk->dim[0] = 1;
        for (int o = 0; o < operands; o++) walk->stride[o][0] = 0;
        n = 1;
    }
    walk->ndim = n;
}

int64_t wg_cpu_walk_rows(const wg_cpu_walk *walk) {
    int64_t rows = 1;
    for (int k = 0; k < walk->ndim - 1; k++) rows *= walk->dim[k];
    return rows;
}

void wg_cpu_cursor_at(wg_cpu_cursor *cursor, const wg_cpu_walk *walk, int operands, int64_t row) {
    memset(cursor, 0, sizeof *cursor);
    for (int k = walk->ndim - 2; k >= 0; k--) {
        cursor->index[k] = row % walk->dim[k];
        row /= walk->dim[k];
        for (int o = 0; o < operands; o++)
            cursor->offset[o] += cursor->index[k] * walk->stride[o][k];
    }
}

void wg_cpu_walk_expand(wg_cpu_walk *walk, const wg_shape *in, const wg_shape *out) {
    wg_cpu_walk_init(walk, out);
    if (out->ndim > 0) {
        wg_cpu_strides(out, walk->stride[0]);
        wg_cpu_broadcast_strides(in, out, walk->stride[1]);
    }
    wg_cpu_walk_coalesce(walk, 2);
}

void wg_cpu_walk_permute(wg_cpu_walk *walk, const wg_shape *in, const wg_shape *out,
                         const int *perm) {
    int64_t in_stride[WG_MAX_DIMS];
    wg_cpu_strides(in, in_stride);
    wg_cpu_walk_init(walk, out);
    wg_cpu_strides(out, walk->stride[0]);
    for (int k = 0; k < out->ndim; k++) walk->stride[1][k] = in_stride[perm[k]];
    wg_cpu_walk_coalesce(walk, 2);
}

int64_t wg_cpu_walk_window(wg_cpu_walk *walk, const wg_shape *big, const wg_shape *small,
                           const int64_t *start, int small_is_dst) {
    int64_t big_stride[WG_MAX_DIMS];
    wg_cpu_strides(big, big_stride);
    wg_cpu_walk_init(walk, small);
    wg_cpu_strides(small, walk->stride[small_is_dst ? 0 : 1]);
    int64_t offset = 0;
    for (int k = 0; k < small->ndim; k++) {
        walk->stride[small_is_dst ? 1 : 0][k] = big_stride[k];
        offset += start[k] * big_stride[k];
    }
    wg_cpu_walk_coalesce(walk, 2);
    return offset;
}

void wg_cpu_reduce_plan(wg_cpu_reduce *plan, const wg_shape *in, const wg_shape *out) {
    int64_t dim[WG_MAX_DIMS];
    int summed[WG_MAX_DIMS], groups = 0;
    for (int k = 0; k < in->ndim; k++) {
        if (in->dim[k] == 1) continue;
        int s = out->dim[k] == 1;
        if (groups > 0 && summed[groups - 1] == s) {
            dim[groups - 1] *= in->dim[k];
        } else {
            dim[groups] = in->dim[k];
            summed[groups++] = s;
        }
    }
    *plan = (wg_cpu_reduce){0};
    int64_t stride = 1;
    for (int g = groups - 1; g >= 0; g--) {
        if (summed[g])
            plan->summed++;
        else
            plan->kept++;
    }
    int ki = plan->kept, si = plan->summed;
    for (int g = groups - 1; g >= 0; g--) {
        if (summed[g]) {
            plan->summed_dim[--si] = dim[g];
            plan->summed_stride[si] = stride;
        } else {
            plan->kept_dim[--ki] = dim[g];
            plan->kept_stride[ki] = stride;
        }
        stride *= dim[g];
    }
    plan->inner_summed = groups > 0 && summed[groups - 1];
    plan->inner = groups > 0 ? dim[groups - 1] : 1;
}

int64_t wg_cpu_box_offset(int64_t index, int count, const int64_t *dim, const int64_t *stride) {
    int64_t offset = 0;
    for (int k = count - 1; k >= 0; k--) {
        offset += index % dim[k] * stride[k];
        index /= dim[k];
    }
    return offset;
}

wg_status wg_cpu_conv_geometry(wg_cpu_conv *conv, const wg_shape *x, const wg_shape *w,
                               const wg_shape *y, const int *ival) {
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return wg_fail(WG_ERR_SHAPE, "cpu: convolution tensors must be 4-D");
    *conv = (wg_cpu_conv){
        .n = x->dim[0],
        .c = x->dim[1],
        .h = x->dim[2],
        .w = x->dim[3],
        .k = w->dim[0],
        .r = w->dim[2],
        .s = w->dim[3],
        .p = y->dim[2],
        .q = y->dim[3],
        .stride_h = ival[0],
        .stride_w = ival[1],
        .pad_h = ival[2],
        .pad_w = ival[3],
    };
    if (w->dim[1] != conv->c || y->dim[0] != conv->n || y->dim[1] != conv->k ||
        conv->stride_h < 1 || conv->stride_w < 1 || conv->pad_h < 0 || conv->pad_w < 0)
        return wg_fail(WG_ERR_SHAPE, "cpu: inconsistent convolution shapes or parameters");
    return WG_OK;
}

void wg_cpu_conv_chunks(const wg_cpu_conv *conv, int threads, int64_t *per_chunk, int64_t *chunks) {
    const int64_t columns = conv->n * conv->p * conv->q;
    int64_t want = (columns + WG_CPU_CONV_COLUMNS - 1) / WG_CPU_CONV_COLUMNS;
    want = (want + threads - 1) / threads * threads; /* whole rounds of threads */
    if (want > conv->n) want = conv->n;
    if (want < 1) want = 1;
    *per_chunk = (conv->n + want - 1) / want;
    *chunks = (conv->n + *per_chunk - 1) / *per_chunk;
}

void wg_cpu_conv_span(int64_t count, int64_t stride, int64_t offset, int64_t limit, int64_t *first,
                      int64_t *end) {
    int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t hi = limit - offset > 0 ? (limit - offset - 1) / stride + 1 : 0;
    if (hi > count) hi = count;
    if (lo > hi) lo = hi;
    *first = lo;
    *end = hi;
}
