/* Data movement and reductions over strided views of contiguous tensors. */

/* y[i] = x[offset(i)]: expand, permute, slice and layout changes. */
__kernel void wg_gather(__global REAL *y, ulong yo, __global const REAL *x, ulong xo, int n,
                        int4 dim, int4 stride) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[yo + i] = x[xo + wg_offset4(i, dim, stride)];
}

/* y has shape `dim`; x (contiguous strides x_stride) sits at `start` with extents
 * `extent`; everything else is zero. */
__kernel void wg_pad(__global REAL *y, ulong yo, __global const REAL *x, ulong xo, int n,
                     int4 dim, int4 start, int4 extent, int4 x_stride) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c;
    int t = i;
    c.w = t % dim.w;
    t /= dim.w;
    c.z = t % dim.z;
    t /= dim.z;
    c.y = t % dim.y;
    c.x = t / dim.y;
    int4 rel = c - start;
    REAL v = REAL_C(0.0);
    if (all(rel >= 0) && all(rel < extent))
        v = x[xo + rel.x * x_stride.x + rel.y * x_stride.y + rel.z * x_stride.z +
              rel.w * x_stride.w];
    y[yo + i] = v;
}

inline REAL wg_sum_run(__global const REAL *x, int base, int j0, int j1, int step,
                       int4 rdim, int4 rstride) {
    REAL acc = REAL_C(0.0);
    if (rdim.x == 1 && rdim.y == 1 && rdim.z == 1) {
        for (int j = j0; j < j1; j += step) acc += x[base + j * rstride.w];
    } else {
        for (int j = j0; j < j1; j += step) acc += x[base + wg_offset4(j, rdim, rstride)];
    }
    return acc;
}

/* y[i] = sum over the reduced index space (r elements, shape rdim) of x; the output's
 * own axes (odim) are read through ostride. One work item per output. */
__kernel void wg_sum_to(__global REAL *y, ulong yo, __global const REAL *x, ulong xo, int n,
                        int4 odim, int4 ostride, int r, int4 rdim, int4 rstride) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[yo + i] = wg_sum_run(x + xo, wg_offset4(i, odim, ostride), 0, r, 1, rdim, rstride);
}

/* As wg_sum_to with one work group per output, for few outputs and long sums; the
 * group size is a power of two. */
__kernel void wg_sum_to_group(__global REAL *y, ulong yo, __global const REAL *x, ulong xo,
                              int n, int4 odim, int4 ostride, int r, int4 rdim, int4 rstride,
                              __local REAL *part) {
    int i = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    part[lid] = wg_sum_run(x + xo, wg_offset4(i, odim, ostride), lid, r, size, rdim, rstride);
    for (int span = size / 2; span > 0; span /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < span) part[lid] += part[lid + span];
    }
    if (lid == 0) y[yo + i] = part[0];
}
