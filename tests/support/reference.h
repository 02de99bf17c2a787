/* Naive double-precision references for the backend tests (test_cpu_backend,
 * test_opencl_backend), which call a backend's kernels directly and compare. */
#ifndef WGAN_TEST_REFERENCE_H
#define WGAN_TEST_REFERENCE_H

#include <stdint.h>

#include "ops.h"
#include "wgan/graph.h"

/* y = map(x) for a code of the op table, with scalars p0, p1; one formula per code,
 * written independently of the kernels (a missing one fails the build). */
double nc_ref_map(int code, double x, double p0, double p1);
/* a op b for a binary code. */
double nc_ref_binary(int code, double a, double b);
/* Whether map `code` needs positive inputs (sqrt, rsqrt, log). */
int nc_ref_map_positive(int code);

/* Flat index into `from` of element `flat` of `to`, numpy broadcasting (right-aligned,
 * extent-1 axes repeat). */
int64_t nc_broadcast_index(const wg_shape *from, const wg_shape *to, int64_t flat);
/* Row-major coordinates of flat index i in s, and back. */
void nc_unravel(const wg_shape *s, int64_t i, int64_t *coord);
int64_t nc_ravel(const wg_shape *s, const int64_t *coord);

#endif
