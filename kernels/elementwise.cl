/* Element-wise kernels: unary maps, broadcast binary ops and Philox random draws.
 * The codes are those of the op table (runtime/core/ops.h, placed before this file);
 * every code needs its function here, or the program does not build. */

/* One function per map code; each reads the scalars it needs. */
#define WG_MAP_FN(name, expr)                                                                      \
    inline REAL wg_map_##name(REAL x, REAL p0, REAL p1) {                                          \
        return (expr);                                                                             \
    }

/* exp of a non-positive argument only, so neither branch overflows */
inline REAL wg_sigmoid(REAL x) {
    REAL e = exp(-fabs(x));
    return x >= 0 ? REAL_C(1.0) / (REAL_C(1.0) + e) : e / (REAL_C(1.0) + e);
}

WG_MAP_FN(scale, x * p0)
WG_MAP_FN(add_scalar, x + p0)
WG_MAP_FN(square, x * x)
WG_MAP_FN(sqrt, sqrt(x))
WG_MAP_FN(rsqrt, rsqrt(x))
WG_MAP_FN(reciprocal, REAL_C(1.0) / x)
WG_MAP_FN(exp, exp(x))
WG_MAP_FN(log, log(x))
WG_MAP_FN(tanh, tanh(x))
WG_MAP_FN(sigmoid, wg_sigmoid(x))
WG_MAP_FN(softplus, fmax(x, REAL_C(0.0)) + log1p(exp(-fabs(x))))
WG_MAP_FN(relu, x > 0 ? x : REAL_C(0.0))
WG_MAP_FN(leaky_relu, x > 0 ? x : p0 * x)
WG_MAP_FN(clamp, fmin(fmax(x, p0), p1))
WG_MAP_FN(step, x > 0 ? REAL_C(1.0) : REAL_C(0.0))
WG_MAP_FN(in_range, (p0 < x && x < p1) ? REAL_C(1.0) : REAL_C(0.0))

#define WG_MAP_CASE(NAME, name, ...)                                                                    \
    case WG_MAP_##NAME: return wg_map_##name(x, p0, p1);
inline REAL wg_map_apply(REAL x, int code, REAL p0, REAL p1) {
    switch (code) { WG_MAP_LIST(WG_MAP_CASE) }
    return x;
}

/* One function per binary code. */
#define WG_BINARY_FN(name, expr)                                                                   \
    inline REAL wg_binary_##name(REAL a, REAL b) {                                                 \
        return (expr);                                                                             \
    }
WG_BINARY_FN(add, a + b)
WG_BINARY_FN(sub, a - b)
WG_BINARY_FN(mul, a * b)
WG_BINARY_FN(div, a / b)

#define WG_BINARY_CASE(NAME, name)                                                                 \
    case WG_BIN_##NAME: return wg_binary_##name(a, b);
inline REAL wg_binary_apply(REAL a, REAL b, int code) {
    switch (code) { WG_BINARY_LIST(WG_BINARY_CASE) }
    return a / b;
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

/* Element i of a draw: philox.h's block (first + i, stream, step, seed); see its header. */
__kernel void wg_random_uniform(__global REAL *y, ulong yo, int n, ulong first, ulong stream,
                                ulong step, ulong seed, REAL low, REAL high) {
    int i = get_global_id(0);
    if (i >= n) return;
    wg_philox_block b = wg_philox_element(first + (ulong)i, stream, step, seed);
    y[yo + i] = low + (high - low) * (REAL)wg_philox_unit(b.x[0]);
}

__kernel void wg_random_normal(__global REAL *y, ulong yo, int n, ulong first, ulong stream,
                               ulong step, ulong seed, REAL mean, REAL stddev) {
    int i = get_global_id(0);
    if (i >= n) return;
    wg_philox_block b = wg_philox_element(first + (ulong)i, stream, step, seed);
    REAL u0 = (REAL)wg_philox_unit(b.x[0]), u1 = (REAL)wg_philox_unit(b.x[1]);
    REAL two_pi = REAL_C(6.283185307179586476925286766559);
    /* the association of the C backends */
    y[yo + i] = mean + stddev * (sqrt(REAL_C(-2.0) * log(u0)) * cos(two_pi * u1));
}
