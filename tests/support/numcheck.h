/* Helpers shared by the numerical tests: host random fills, device and session plumbing
 * in double precision whatever the graph's dtype, finite differences, and elementwise
 * comparison that reports the worst element.
 *
 * Everything created through nc_graph / nc_session / nc_plan / nc_buf is tracked and
 * released by nc_teardown, which the test programs use as the CMocka teardown of every
 * test, so a failing assertion (which longjmps out of the test) leaks nothing. */
#ifndef WGAN_TEST_NUMCHECK_H
#define WGAN_TEST_NUMCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "wgan/device.h"
#include "wgan/graph.h"
#include "wgan/session.h"

/* Call first in main: picks the run's seed (WGAN_TEST_SEED, else the clock), prints
 * it so a failure can be replayed, runs only the tests matching WGAN_TEST_FILTER (a
 * CMocka pattern such as "conv*") when set, and turns on output poisoning for every
 * plan. */
void nc_init(const char *program);
uint64_t nc_run_seed(void);

/* ---- host random numbers (splitmix64; independent of the library's Philox) ---- */
typedef struct nc_rng {
    uint64_t state;
} nc_rng;

/* A generator for one purpose, derived from the run's seed and `stream`. */
nc_rng nc_rng_for(uint64_t stream);
uint64_t nc_rng_next(nc_rng *rng);
/* A stream number from a name (FNV-1a), so each test draws its own values. */
uint64_t nc_hash(const char *name);
double nc_rng_unit(nc_rng *rng); /* in (0, 1) */

/* Where test values are drawn: uniform in [lo, hi], redrawn while closer than `gap`
 * to zero or to any of `avoid[0..n_avoid)` (kinks of relu, clamp, ...). */
typedef struct nc_range {
    double lo, hi, gap;
    int n_avoid;
    double avoid[3];
} nc_range;

#define NC_SIGNED ((nc_range){-1.0, 1.0, 0.1, 0, {0}})
#define NC_POSITIVE ((nc_range){0.5, 2.0, 0.1, 0, {0}})

void nc_fill(nc_rng *rng, double *x, int64_t n, nc_range range);

/* ---- tracked resources ---- */
/* Host buffer of n doubles (zeroed). */
double *nc_buf(int64_t n);
wg_graph *nc_graph(wg_dtype dtype);
/* NULL, with a message printed, when `spec` cannot be opened. Devices stay open for
 * the whole program (opening an OpenCL device compiles its kernels). */
wg_device *nc_device(const char *spec);
/* The cpu device; fails the test when it cannot be opened. */
wg_device *nc_cpu(void);
/* The OpenCL device PoCL; skips the test when it cannot be opened. */
wg_device *nc_pocl_or_skip(void);
/* Fails the test unless the session can be made. */
wg_session *nc_session(wg_graph *graph, wg_device *device, uint64_t seed);
/* As nc_session, but hands back the status (and NULL) instead of failing. */
wg_status nc_try_session(wg_graph *graph, wg_device *device, uint64_t seed, wg_session **out);
/* A plan with poisoning on; fails the test unless it can be made. */
wg_plan *nc_plan(wg_session *session, int count, const wg_node *targets);
wg_status nc_try_plan(wg_session *session, int count, const wg_node *targets, wg_plan **out);
/* CMocka teardown: frees everything tracked since the last call. */
int nc_teardown(void **state);
/* CMocka group teardown: nc_teardown plus closing the devices. */
int nc_group_teardown(void **state);

/* ---- moving values (host side is always double) ---- */
void nc_write(wg_session *session, wg_node node, const double *host);
void nc_run(wg_plan *plan);
wg_status nc_try_run(wg_plan *plan);
void nc_read(wg_plan *plan, wg_node target, double *host);
double nc_read_scalar(wg_plan *plan, wg_node target);
/* Fails the test with `what` and wg_last_error() unless status is WG_OK. */
void nc_check(wg_status status, const char *what);

/* ---- finite differences ---- */
/* Derivatives of the one-element targets outs[0..n_out) of `plan` with respect to
 * every element of the input or variable `x`, by the fourth-order central stencil
 * (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h, every evaluation at the session's step of
 * the call (the same random draws). `x_host` holds the current value of x
 * (it is perturbed and restored, and x is rewritten to it at the end); deriv[k] gets
 * numel(x) values for outs[k]. */
void nc_finite_diff(wg_session *session, wg_plan *plan, wg_node x, double *x_host, double h,
                    int n_out, const wg_node *outs, double **deriv);

/* ---- comparison ---- */
/* Passes when |got_i - want_i| <= rtol |want_i| + atol max(1, max_j |want_j|) for
 * every element (and neither holds a NaN). Otherwise prints `what`, the worst element
 * with its index in `shape`, the values there and the error counts, and fails. */
void nc_expect_close(const char *what, const double *got, const double *want, const wg_shape *shape,
                     double rtol, double atol);
/* Same comparison, printing the same report but returning false instead of failing. */
bool nc_report_close(const char *what, const double *got, const double *want, const wg_shape *shape,
                     double rtol, double atol);
/* Same comparison, returning the result and printing nothing. */
bool nc_close(const double *got, const double *want, int64_t n, double rtol, double atol);
/* Bit-for-bit equality of float values (as stored by an f32 graph). */
void nc_expect_identical(const char *what, const double *got, const double *want,
                         const wg_shape *shape);
bool nc_report_identical(const char *what, const double *got, const double *want,
                         const wg_shape *shape);

#endif
