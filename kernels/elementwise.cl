/* Element-wise kernels: unary maps, broadcast binary ops and Philox random draws.
 * Codes follow enum wg_map and enum wg_binary in graph_internal.h. */

inline REAL wg_map_apply(REAL x, int code, REAL p0, REAL p1) {
    switch (code) {
    case 0: return x * p0;
    case 1: return x + p0;
    case 2: return x * x;
    case 3: return sqrt(x);
    case 4: return rsqrt(x);
    case 5: return REAL_C(1.0) / x;
    case 6: return exp(x);
    case 7: return log(x);
    case 8: return tanh(x);
    case 9: {
        /* exp of a non-positive argument only, so neither branch overflows */
        REAL e = exp(-fabs(x));
        return x >= 0 ? REAL_C(1.0) / (REAL_C(1.0) + e) : e / (REAL_C(1.0) + e);
    }
    case 10: return fmax(x, REAL_C(0.0)) + log1p(exp(-fabs(x)));
    case 11: return x > 0 ? x : REAL_C(0.0);
    case 12: return x > 0 ? x : p0 * x;
    case 13: return fmin(fmax(x, p0), p1);
    case 14: return x > 0 ? REAL_C(1.0) : REAL_C(0.0);
    case 15: return (p0 < x && x < p1) ? REAL_C(1.0) : REAL_C(0.0);
    }
    return x;
}

inline REAL wg_binary_apply(REAL a, REAL b, int code) {
    switch (code) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}

__kernel void wg_map(__global REAL *y, ulong yo, __global const REAL *x, ulong xo, int n,
                     int code, REAL p0, REAL p1) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[yo + i] = wg_map_apply(x[xo + i], code, p0, p1);
}

/* a, b and y all contiguous with the same shape. */
__kernel void wg_binary_flat(__global REAL *y, ulong yo, __global const REAL *a, ulong ao,
                             __global const REAL *b, ulong bo, int n, int code) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[yo + i] = wg_binary_apply(a[ao + i], b[bo + i], code);
}

__kernel void wg_binary(__global REAL *y, ulong yo, __global const REAL *a, ulong ao,
                        __global const REAL *b, ulong bo, int n, int code, int4 dim,
                        int4 a_stride, int4 b_stride) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[yo + i] = wg_binary_apply(a[ao + wg_offset4(i, dim, a_stride)],
                                b[bo + wg_offset4(i, dim, b_stride)], code);
}

/* Element i of a draw: philox.h's block (i, stream, step, seed); see its header. */
__kernel void wg_random_uniform(__global REAL *y, ulong yo, int n, ulong stream, ulong step,
                                ulong seed, REAL low, REAL high) {
    int i = get_global_id(0);
    if (i >= n) return;
    wg_philox_block b = wg_philox_element((ulong)i, stream, step, seed);
    y[yo + i] = low + (high - low) * (REAL)wg_philox_unit(b.x[0]);
}

__kernel void wg_random_normal(__global REAL *y, ulong yo, int n, ulong stream, ulong step,
                               ulong seed, REAL mean, REAL stddev) {
    int i = get_global_id(0);
    if (i >= n) return;
    wg_philox_block b = wg_philox_element((ulong)i, stream, step, seed);
    REAL u0 = (REAL)wg_philox_unit(b.x[0]), u1 = (REAL)wg_philox_unit(b.x[1]);
    REAL two_pi = REAL_C(6.283185307179586476925286766559);
    /* the association of the C backends */
    y[yo + i] = mean + stddev * (sqrt(REAL_C(-2.0) * log(u0)) * cos(two_pi * u1));
}
