/* What a device backend implements. The planner asks `supports_op` about every node
 * of a plan, then hands each one to `run` with the storage of its output and inputs;
 * everything a kernel needs is in the node. */
#ifndef WGAN_BACKEND_H
#define WGAN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "graph_internal.h"
#include "wgan/device.h"

/* A tensor's storage: a backend allocation plus a byte offset into it. For cpu the
 * allocation is host memory; for OpenCL a cl_mem. */
typedef struct wg_ref {
    void *mem;
    size_t offset;
} wg_ref;

struct wg_fused;

typedef struct wg_call {
    const wg_graph *graph;
    wg_node node; /* for a fused region, its last member */
    const wg_node_data *data;
    /* a region of element-wise nodes run as one (fuse.h), with its own storage
     * references; NULL for a single node */
    const struct wg_fused *fused;
    wg_ref out;
    wg_ref in[WG_MAX_INPUTS];
    uint64_t seed; /* session seed, for random draws */
    uint64_t step; /* session step counter, for random draws */
} wg_call;

/* What a backend is asked before a node is planned: the op (with its map or binary
 * code), the dtype and the shapes of the output and inputs. */
typedef struct wg_op_query {
    wg_op op;
    int code; /* ival[0] of map and binary nodes, else 0 */
    wg_dtype dtype;
    wg_shape out;
    int n_inputs;
    wg_shape in[WG_MAX_INPUTS];
} wg_op_query;

/* The query for node `node` of `graph`. */
wg_op_query wg_op_query_of(const wg_graph *graph, wg_node node);

typedef struct wg_backend {
    const char *kind; /* "cpu", "opencl" */
    wg_status (*alloc)(wg_device *device, size_t bytes, void **mem);
    void (*release)(wg_device *device, void *mem);
    wg_status (*write)(wg_device *device, wg_ref dst, const void *host, size_t bytes);
    wg_status (*read)(wg_device *device, wg_ref src, void *host, size_t bytes);
    /* Fill `count` elements of `dtype` at dst with `value` (used for poisoning). */
    wg_status (*fill)(wg_device *device, wg_ref dst, size_t count, wg_dtype dtype, double value);
    /* Whether `run` can execute a node like `query`. When it cannot, *why (unless `why`
     * is NULL) says what is missing in a few words. The planner asks about every node
     * it schedules and refuses the plan on the first "no". */
    bool (*supports_op)(wg_device *device, const wg_op_query *query, const char **why);
    /* Enqueue the node's kernel(s). Must not allocate on a replayed step beyond
     * first-use caches, and must not wait for the device. */
    wg_status (*run)(wg_device *device, const wg_call *call);
    /* Optional: fused regions (fuse.h). Without prepare_fused every node runs alone.
     * A new plan hands its regions (storage references set) to prepare_fused, which may
     * compile them and keep a handle in each region's `prepared`; `run` then gets calls
     * whose `fused` is set. release_fused undoes prepare_fused when the plan is freed. */
    wg_status (*prepare_fused)(wg_device *device, wg_dtype dtype, int count,
                               struct wg_fused *regions);
    void (*release_fused)(wg_device *device, int count, struct wg_fused *regions);
    /* Wait for everything enqueued. */
    wg_status (*finish)(wg_device *device);
    void (*close)(wg_device *device);
} wg_backend;

/* Every device starts with this header; backends extend it. */
struct wg_device {
    const wg_backend *backend;
    char description[256];
    char note[512];
};

/* Backend constructors (devices/cpu, devices/opencl). */
wg_status wg_cpu_open(wg_device **out);
/* index >= 0 picks the N-th OpenCL device; else the first whose vendor, platform or
 * name contains `match` (NULL = any); gpu_only restricts to GPU devices. */
wg_status wg_opencl_open(int index, const char *match, int gpu_only, wg_device **out);
wg_status wg_opencl_list(FILE *out, int *count);

#endif
