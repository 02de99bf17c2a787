/* One table of op cases that the autodiff test (finite differences in f64) and the
 * backend agreement test (cpu against OpenCL in f32) both run, so every op of graph.h
 * is checked the same way by both. */
#ifndef WGAN_TEST_OP_CASES_H
#define WGAN_TEST_OP_CASES_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "numcheck.h"

#define NC_MAX_OPERANDS 4

typedef struct nc_op_case nc_op_case;
typedef wg_node (*nc_build_fn)(wg_graph *graph, const wg_node *x, const nc_op_case *c);

struct nc_op_case {
    const char *name;
    nc_build_fn build;
    int n_operands;
    wg_shape shape[NC_MAX_OPERANDS];
    nc_range range[NC_MAX_OPERANDS];
    /* Op parameters, read by `build`: axes, transposes, strides, ... */
    int iv[8];
    int64_t lv[WG_MAX_DIMS];
    double dv[2];
    wg_shape aux; /* a target shape: expand, sum_to, reshape, slice, pad, conv grads */
};

/* Small shapes, cheap enough for finite differences over every element. */
extern const nc_op_case nc_small_cases[];
extern const int nc_small_case_count;
/* Realistic sizes (DCGAN-like layers), for the multi-work-group paths. */
extern const nc_op_case nc_large_cases[];
extern const int nc_large_case_count;

/* For y = case(x_0..x_n):
 *   L     = sum(r * y + s * y^2)
 *   dx_i  = wg_grad(L, x_i)
 *   M     = sum_i sum(v_i * dx_i)
 *   ddx_i = wg_grad(M, x_i)
 * The quadratic term keeps the second derivative non-zero for linear ops too, so the
 * backward rules of the backward ops are exercised. */
typedef struct nc_deriv_graph {
    wg_graph *graph;
    const nc_op_case *c;
    int n;
    wg_node x[NC_MAX_OPERANDS], v[NC_MAX_OPERANDS];
    wg_node dx[NC_MAX_OPERANDS], ddx[NC_MAX_OPERANDS];
    wg_node y, r, s, L, M;
} nc_deriv_graph;

/* Builds the graph (tracked, freed by nc_teardown); fails the test on a build error. */
void nc_build_derivs(const nc_op_case *c, wg_dtype dtype, nc_deriv_graph *d);

/* Host values for every input of a derivative graph. */
typedef struct nc_deriv_data {
    double *x[NC_MAX_OPERANDS], *v[NC_MAX_OPERANDS], *r, *s;
} nc_deriv_data;

void nc_draw_derivs(const nc_deriv_graph *d, uint64_t stream, nc_deriv_data *data);
void nc_write_derivs(wg_session *session, const nc_deriv_graph *d, const nc_deriv_data *data);

/* Appends one CMocka test per case to tests[count..), named after the case, with the
 * case as its state and nc_teardown as its teardown; returns the new count. */
struct CMUnitTest;
int nc_add_case_tests(struct CMUnitTest *tests, int count, const nc_op_case *cases, int n_cases,
                      void (*test)(void **state));

/* Every output of the derivative graph (y, dx_i, ddx_i), for plans and comparisons. */
int nc_deriv_targets(const nc_deriv_graph *d, wg_node *targets, const char **labels);

/* ---- op kinds: every op of the table, with map and binary ops split by code ---- */
#define NC_OP_KINDS (WG_OP_COUNT + WG_MAP_COUNT + WG_BIN_COUNT)
int nc_op_kind(wg_op op, int code);
/* "map.tanh", "matmul", ... */
const char *nc_op_kind_label(int kind, char *buf, size_t size);
/* Kinds a backend runs: not inputs, variables and reshapes, nor map and binary without
 * a code. */
bool nc_op_kind_runs(int kind);

/* For every kind that runs, the query of the first node of that kind in the small
 * cases' derivative graphs (or, for random draws and assignments, in a graph of
 * those), built in `dtype`; have[kind] is false where none has one. Graphs are
 * tracked, freed by nc_teardown. */
void nc_sample_queries(wg_dtype dtype, wg_op_query queries[NC_OP_KINDS], bool have[NC_OP_KINDS]);
/* Asks `device` about every kind that runs, at the sample queries' shapes in `dtype`;
 * prints each kind it refuses, or that has no sample, and returns how many. */
int nc_unsupported_kinds(wg_device *device, wg_dtype dtype);

#endif
