/* Definitions every kernel file uses. The host builds all kernel files as one program,
 * this file first, with -DREAL=float or -DREAL=double -DWG_DOUBLE=1. */
#ifdef WG_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define REAL_C(x) x
#else
#define REAL_C(x) x##f
#endif
#ifndef REAL
#define REAL float
#endif
/* No fused multiply-add: random draws must round exactly as the C backends do. */
#pragma OPENCL FP_CONTRACT OFF

/* Element offset of flat index i of the row-major index space `dim`, read through
 * `stride` (0 on broadcast axes). Shapes are padded to four axes on the left. */
inline int wg_offset4(int i, int4 dim, int4 stride) {
    int off = (i % dim.w) * stride.w;
    i /= dim.w;
    off += (i % dim.z) * stride.z;
    i /= dim.z;
    off += (i % dim.y) * stride.y;
    i /= dim.y;
    return off + i * stride.x;
}
