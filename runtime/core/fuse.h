/* Fusion of element-wise nodes (fuse.c): the planner's pass that turns chains of map and
 * binary nodes of one element count into regions, each run as one pass over memory on
 * the cpu and as one kernel on OpenCL.
 *
 * A region is a small program over one flat index i in [0, numel): its inputs are
 * tensors read at element i (contiguous), element 0 (a scalar) or through broadcast
 * strides; its steps are the member nodes in schedule order, each reading inputs and
 * earlier steps; its outputs are the steps whose values are needed outside the region
 * (by a later node, as a plan target, or as the new value of a variable, written in
 * place). Values used only inside a region are never stored.
 *
 * A region runs at the position of its last member. Merging is refused when a value of
 * an earlier member is read outside the region before that position, so moving the
 * members later never changes what anything reads. docs/architecture.md, "Fusion". */
#ifndef WGAN_FUSE_H
#define WGAN_FUSE_H

#include <stdbool.h>

#include "backend.h"
#include "wgan/session.h"

/* Limits that keep a region's kernel arguments under OpenCL's guaranteed 1024 bytes
 * (CL_DEVICE_MAX_PARAMETER_SIZE) in double precision. */
#define WG_FUSED_MAX_INPUTS 8
#define WG_FUSED_MAX_OUTPUTS 4
#define WG_FUSED_MAX_STEPS 32
#define WG_FUSED_MAX_SCALARS 24
/* Value buffers a region may need at once on the cpu (inputs read through strides, and
 * step results that are not written straight to an output). */
#define WG_FUSED_MAX_REGS 16

typedef enum wg_fused_read {
    WG_FUSED_CONTIGUOUS, /* element i */
    WG_FUSED_SCALAR,     /* element 0 for every i */
    WG_FUSED_STRIDED,    /* element offset(i) of the index space dim, through stride */
} wg_fused_read;

typedef struct wg_fused_input {
    wg_node node; /* the storage root read */
    wg_fused_read read;
    /* WG_FUSED_STRIDED: the reader's row-major index space and the input's strides
     * (0 on broadcast axes), coalesced */
    int ndim;
    int64_t dim[WG_MAX_DIMS];
    int64_t stride[WG_MAX_DIMS];
    int reg; /* cpu value buffer for a scalar or strided input, else -1 */
    wg_ref ref;
} wg_fused_input;

/* Operand slots: [0, n_inputs) are the inputs, n_inputs + k the result of step k. */
typedef struct wg_fused_step {
    wg_node node;
    wg_op op; /* WG_OP_MAP or WG_OP_BINARY */
    int code;
    int arg[2];
    double param[2];
    int output; /* index in output[] when the value leaves the region, else -1 */
    int reg;    /* cpu value buffer of the result, or -1 when written straight to the output */
} wg_fused_step;

typedef struct wg_fused_output {
    int step;
    wg_node node;  /* what the planner stores: the step's node, or the assigned variable */
    bool in_place; /* a variable the region also reads: write only after every read */
    wg_ref ref;
} wg_fused_output;

typedef struct wg_fused {
    int64_t numel;
    int n_inputs, n_steps, n_outputs, n_regs;
    wg_fused_input input[WG_FUSED_MAX_INPUTS];
    wg_fused_step step[WG_FUSED_MAX_STEPS];
    wg_fused_output output[WG_FUSED_MAX_OUTPUTS];
    /* set by the backend's prepare_fused: its compiled form of the region */
    void *prepared;
    int prepared_index;
} wg_fused;

/* Regions of one schedule. Positions index `order` of wg_fuse. */
typedef struct wg_fusion {
    int n_regions;
    wg_fused *regions;
    int *region_of; /* per position: its region, or -1 */
    int *runs_at;   /* per region: the position it runs at (its last member) */
    bool *skipped;  /* per position: nothing runs there (a member before the last, or an
                       assignment a region makes in place) */
} wg_fusion;

/* Finds the regions of `order` (the nodes with kernels in run order, assignments last;
 * count of them; `position` maps every node of the graph to its index there, or -1).
 * Values in `targets` leave their regions. Regions of a single node are not made:
 * those nodes run alone. */
wg_status wg_fuse(const wg_graph *graph, const wg_node *order, const int *position, int count,
                  const wg_node *targets, int n_targets, wg_fusion *out);
void wg_fusion_free(wg_fusion *fusion);

/* Whether plans made from now on fuse: on unless turned off with wg_fusion_enable(0) or
 * the environment variable WGAN_FUSE=0 (for comparisons). The results are the same
 * either way, on the cpu bit for bit. Process-wide, as profiling is. */
bool wg_fusion_on(void);
void wg_fusion_enable(int on);

/* Kernel calls one wg_plan_run makes: one per node with a kernel, a fused region
 * counting once (a call may still launch several device kernels, as a convolution's
 * im2col and GEMM do). */
int wg_plan_kernel_calls(const wg_plan *plan);

#endif
