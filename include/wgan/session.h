/* A session binds a graph to a device: it owns the persistent tensors (inputs and
 * variables) and compiles step plans that replay a fixed set of targets. */
#ifndef WGAN_SESSION_H
#define WGAN_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "wgan/device.h"
#include "wgan/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_session wg_session;
typedef struct wg_plan wg_plan;

/* The graph must stay alive and unchanged in the nodes plans use. `seed` keys every
 * random draw of the graph. */
WG_API wg_status wg_session_new(wg_graph *graph, wg_device *device, uint64_t seed,
                                wg_session **out);
WG_API void wg_session_free(wg_session *session);
WG_API wg_graph *wg_session_graph(wg_session *session);
WG_API wg_device *wg_session_device(wg_session *session);

/* Host <-> device copies of an input or variable; `host` holds numel elements of the
 * graph's dtype (float or double). Variables start as zeros. */
WG_API wg_status wg_session_write(wg_session *session, wg_node node, const void *host);
WG_API wg_status wg_session_read(wg_session *session, wg_node node, void *host);

/* The step counter that random draws use; it advances by one per wg_plan_run of any
 * plan. Saved and restored with checkpoints. */
WG_API uint64_t wg_session_step(const wg_session *session);
WG_API void wg_session_set_step(wg_session *session, uint64_t step);

/* Plans which nodes to compute for `targets` (values to read back and wg_assign
 * nodes), the order, and the device memory, once. Replaying it allocates nothing. */
WG_API wg_status wg_plan_new(wg_session *session, int count, const wg_node *targets, wg_plan **out);
WG_API void wg_plan_free(wg_plan *plan);
/* Runs one step. Returns once the device has accepted the work; it may still run. */
WG_API wg_status wg_plan_run(wg_plan *plan);
/* Reads a target's value after a run (waits for the device). */
WG_API wg_status wg_plan_read(wg_plan *plan, wg_node target, void *host);
/* Bytes of device memory the plan's temporaries use. */
WG_API size_t wg_plan_bytes(const wg_plan *plan);
/* Debugging aid: when on, every node's output is filled with NaN before its kernel
 * runs, so elements a kernel fails to write show up. Off by default. */
WG_API void wg_plan_set_poison(wg_plan *plan, int on);

/* Floating-point operations of one wg_plan_run, from the nodes' shapes: matmul 2mnk;
 * conv2d and both its gradients 2 N K C R S P Q; element-wise ops one per output
 * element; sum_to one per input element; random draws, constants and copies (expand,
 * permute, slice, pad, assign) none. */
WG_API double wg_plan_flops(const wg_plan *plan);

/* Profiling, a measuring aid: every plan created while it is on waits for each kernel
 * it runs and adds the time to a process-wide table with one entry per op and shapes.
 * On when wg_profile_enable(1) was called, or else when the environment variable
 * WGAN_PROFILE is set and not "0". Not for use from several threads at once. */
typedef struct wg_profile_entry {
    const char *op;     /* "matmul", "conv2d", "map.relu", "binary.mul", ... */
    const char *shapes; /* output <- inputs: "[256, 512] <- [256, 2] [512, 2]^T" */
    int64_t calls;
    double seconds;
    double flops; /* of all calls */
} wg_profile_entry;

WG_API void wg_profile_enable(int on);
WG_API int wg_profile_enabled(void);
WG_API int wg_profile_count(void);
WG_API wg_profile_entry wg_profile_get(int index);
/* Zeroes the counters; the entries stay, as plans refer to them. */
WG_API void wg_profile_reset(void);

#ifdef __cplusplus
}
#endif
#endif
