#include "reference.h"

#include <math.h>

/* ---- element-wise: one reference per code of the op table ---- */

#define REF_MAP(name, expr)                                                                        \
    static double ref_map_##name(double x, double p0, double p1) {                                 \
        (void)p0, (void)p1;                                                                        \
        return (expr);                                                                             \
    }
REF_MAP(scale, x *p0)
REF_MAP(add_scalar, x + p0)
REF_MAP(square, x *x)
REF_MAP(sqrt, sqrt(x))
REF_MAP(rsqrt, 1 / sqrt(x))
REF_MAP(reciprocal, 1 / x)
REF_MAP(exp, exp(x))
REF_MAP(log, log(x))
REF_MAP(tanh, tanh(x))
REF_MAP(sigmoid, 0.5 * (1 + tanh(0.5 * x))) /* a different formula from the kernels' */
REF_MAP(softplus, x > 30 ? x : log1p(exp(x)))
REF_MAP(relu, x > 0 ? x : 0)
REF_MAP(leaky_relu, x > 0 ? x : p0 * x)
REF_MAP(clamp, x<p0 ? p0 : x> p1 ? p1 : x)
REF_MAP(step, x > 0)
REF_MAP(in_range, p0 < x && x < p1)
#undef REF_MAP

typedef double (*ref_map_fn)(double x, double p0, double p1);
#define REF_MAP_ENTRY(NAME, name, ...) ref_map_##name,
static const ref_map_fn ref_maps[] = {WG_MAP_LIST(REF_MAP_ENTRY)};
_Static_assert(sizeof ref_maps / sizeof *ref_maps == WG_MAP_COUNT, "a reference for every map");

double nc_ref_map(int code, double x, double p0, double p1) {
    return code >= 0 && code < WG_MAP_COUNT ? ref_maps[code](x, p0, p1) : NAN;
}

int nc_ref_map_positive(int code) {
    return code == WG_MAP_SQRT || code == WG_MAP_RSQRT || code == WG_MAP_LOG;
}

#define REF_BINARY(name, expr)                                                                     \
    static double ref_binary_##name(double a, double b) {                                          \
        return (expr);                                                                             \
    }
REF_BINARY(add, a + b)
REF_BINARY(sub, a - b)
REF_BINARY(mul, a *b)
REF_BINARY(div, a / b)
#undef REF_BINARY

typedef double (*ref_binary_fn)(double a, double b);
#define REF_BINARY_ENTRY(NAME, name) ref_binary_##name,
static const ref_binary_fn ref_binaries[] = {WG_BINARY_LIST(REF_BINARY_ENTRY)};
_Static_assert(sizeof ref_binaries / sizeof *ref_binaries == WG_BIN_COUNT,
               "a reference for every binary code");

double nc_ref_binary(int code, double a, double b) {
    return code >= 0 && code < WG_BIN_COUNT ? ref_binaries[code](a, b) : NAN;
}

/* ---- indexing ---- */

int64_t nc_broadcast_index(const wg_shape *from, const wg_shape *to, int64_t flat) {
    int64_t index = 0, stride = 1;
    for (int k = to->ndim - 1, j = from->ndim - 1; k >= 0; k--, j--) {
        int64_t coord = flat % to->dim[k];
        flat /= to->dim[k];
        if (j < 0) continue;
        if (from->dim[j] != 1) index += coord * stride;
        stride *= from->dim[j];
    }
    return index;
}

void nc_unravel(const wg_shape *s, int64_t i, int64_t *coord) {
    for (int k = s->ndim - 1; k >= 0; k--) {
        coord[k] = i % s->dim[k];
        i /= s->dim[k];
    }
}

int64_t nc_ravel(const wg_shape *s, const int64_t *coord) {
    int64_t i = 0;
    for (int k = 0; k < s->ndim; k++) i = i * s->dim[k] + coord[k];
    return i;
}
