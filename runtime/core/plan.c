/* Step plans: which nodes a set of targets needs, in what order, and where each
 * temporary lives in one device arena, decided once; replay is a loop of kernel
 * launches with no allocation and no host synchronisation. */
#include "fuse.h"
#include "session_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_ALIGN 256

struct wg_plan {
    wg_session *session;
    int n_calls;
    wg_call *calls; /* replayed in order; wg_assign calls come last */
    int n_targets;
    wg_node *targets;
    wg_ref *target_refs;
    void *arena;
    size_t arena_bytes;
    int poison;
    int *profile_slot; /* per call, when profiling; else NULL */
    wg_fusion fusion;  /* the regions fused calls run; empty when not fusing */
    bool prepared;     /* the backend's prepare_fused has the regions */
};

typedef struct block {
    size_t offset, size;
    int free_after; /* position in the schedule after which the block is dead */
} block;

/* Offsets in one arena by first fit over the blocks live at each position: simple,
 * and with a few hundred temporaries per step the quadratic scan costs nothing. */
typedef struct arena_planner {
    block *live;
    int n_live, capacity;
    size_t high_water;
} arena_planner;

static int block_order(const void *a, const void *b) {
    const block *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static wg_status arena_place(arena_planner *p, size_t size, int free_after, size_t *offset) {
    size = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (p->n_live > 1) qsort(p->live, (size_t)p->n_live, sizeof *p->live, block_order);
    size_t at = 0;
    for (int i = 0; i < p->n_live; i++) {
        if (p->live[i].offset >= at + size) break;
        size_t end = p->live[i].offset + p->live[i].size;
        if (end > at) at = end;
    }
    if (p->n_live == p->capacity) {
        int capacity = p->capacity ? 2 * p->capacity : 64;
        block *grown = realloc(p->live, (size_t)capacity * sizeof *grown);
        if (!grown) return wg_fail(WG_ERR_NOMEM, "out of memory planning a step");
        p->live = grown;
        p->capacity = capacity;
    }
    p->live[p->n_live++] = (block){at, size, free_after};
    if (at + size > p->high_water) p->high_water = at + size;
    *offset = at;
    return WG_OK;
}

static void arena_release_dead(arena_planner *p, int position) {
    int kept = 0;
    for (int i = 0; i < p->n_live; i++)
        if (p->live[i].free_after > position) p->live[kept++] = p->live[i];
    p->n_live = kept;
}

typedef struct schedule {
    wg_node *order; /* nodes with a kernel, in run order */
    int count;
    int *position;                /* node -> index in order, or -1 */
    int *last_use;                /* storage root -> last position that reads or writes it */
    unsigned char *constant_once; /* constants: computed at plan time, never freed */
    wg_fusion fusion;             /* regions, when fusing; moved into the plan */
} schedule;

static void schedule_free(schedule *s) {
    free(s->order);
    free(s->position);
    free(s->last_use);
    free(s->constant_once);
    wg_fusion_free(&s->fusion);
}

/* The region that runs at position p, or NULL. */
static const wg_fused *region_at(const schedule *s, int p) {
    if (!s->fusion.region_of || s->fusion.region_of[p] < 0) return NULL;
    int r = s->fusion.region_of[p];
    return s->fusion.runs_at[r] == p ? &s->fusion.regions[r] : NULL;
}

static bool skipped_at(const schedule *s, int p) {
    return s->fusion.skipped && s->fusion.skipped[p];
}

static wg_status build_schedule(const wg_graph *graph, int count, const wg_node *targets,
                                schedule *s) {
    int n = graph->count;
    unsigned char *reached = calloc((size_t)n, 1);
    s->order = malloc((size_t)n * sizeof *s->order);
    s->position = malloc((size_t)n * sizeof *s->position);
    s->last_use = malloc((size_t)n * sizeof *s->last_use);
    s->constant_once = calloc((size_t)n, 1);
    s->count = 0;
    if (!reached || !s->order || !s->position || !s->last_use || !s->constant_once) {
        free(reached);
        return wg_fail(WG_ERR_NOMEM, "out of memory planning a step");
    }
    for (int i = 0; i < count; i++) reached[targets[i]] = 1;
    for (int i = n - 1; i >= 0; i--)
        if (reached[i])
            for (int k = 0; k < graph->nodes[i].n_inputs; k++)
                reached[graph->nodes[i].input[k]] = 1;
    /* Assignments last, so every other node reads variables before they change. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            wg_op op = graph->nodes[i].op;
            if (!reached[i] || !wg_op_has_kernel(op)) continue;
            if ((op == WG_OP_ASSIGN) == (pass == 1)) s->order[s->count++] = i;
        }
    for (int i = 0; i < n; i++) s->position[i] = -1;
    for (int p = 0; p < s->count; p++) {
        s->position[s->order[p]] = p;
        s->constant_once[s->order[p]] = graph->nodes[s->order[p]].op == WG_OP_CONSTANT;
    }
    free(reached);
    return WG_OK;
}

static void use_until(schedule *s, wg_node root, int p) {
    if (s->last_use[root] < p) s->last_use[root] = p;
}

/* The last position that reads or writes each storage root. A region reads all its
 * inputs where it runs; its other members read nothing. */
static void schedule_lifetimes(const wg_graph *graph, int count, const wg_node *targets,
                               schedule *s) {
    for (int i = 0; i < graph->count; i++) s->last_use[i] = -1;
    for (int p = 0; p < s->count; p++) {
        if (skipped_at(s, p)) continue;
        const wg_fused *region = region_at(s, p);
        if (region) {
            for (int i = 0; i < region->n_inputs; i++) use_until(s, region->input[i].node, p);
            for (int i = 0; i < region->n_outputs; i++) use_until(s, region->output[i].node, p);
            continue;
        }
        const wg_node_data *d = &graph->nodes[s->order[p]];
        use_until(s, s->order[p], p);
        for (int k = 0; k < d->n_inputs; k++) use_until(s, wg_storage_root(graph, d->input[k]), p);
    }
    for (int i = 0; i < count; i++) s->last_use[wg_storage_root(graph, targets[i])] = s->count;
    for (int i = 0; i < graph->count; i++)
        if (s->constant_once[i]) s->last_use[i] = s->count;
}

static wg_ref node_ref(wg_plan *plan, const size_t *offsets, wg_node node) {
    const wg_graph *graph = plan->session->graph;
    wg_node root = wg_storage_root(graph, node);
    if (wg_op_is_persistent(graph->nodes[root].op)) return plan->session->persistent[root];
    return (wg_ref){plan->arena, offsets[root]};
}

/* "[4, 3] <- [4, 5] [5, 3]^T": output shape, then the inputs' (^T: read transposed);
 * for a fused region (`region` not NULL) its last member's shape, then its inputs'. */
static void node_shapes(const wg_graph *graph, const wg_node_data *d, const wg_fused *region,
                        char *shapes, size_t shapes_size) {
    char buf[64];
    int used = snprintf(shapes, shapes_size, "%s <-", wg_shape_str(&d->shape, buf, sizeof buf));
    int inputs = region ? region->n_inputs : d->n_inputs;
    for (int k = 0; k < inputs && used > 0 && (size_t)used < shapes_size; k++) {
        wg_node input = region ? region->input[k].node : d->input[k];
        const char *transposed =
            !region && d->op == WG_OP_MATMUL && k < 2 && d->ival[k] ? "^T" : "";
        used += snprintf(shapes + used, shapes_size - (size_t)used, " %s%s",
                         wg_shape_str(&graph->nodes[input].shape, buf, sizeof buf), transposed);
    }
}

/* ---- what the device can run ---- */

wg_op_query wg_op_query_of(const wg_graph *graph, wg_node node) {
    const wg_node_data *d = &graph->nodes[node];
    wg_op_query q = {.op = d->op, .dtype = graph->dtype, .out = d->shape, .n_inputs = d->n_inputs};
    if (d->op == WG_OP_MAP || d->op == WG_OP_BINARY) q.code = d->ival[0];
    for (int k = 0; k < d->n_inputs; k++) q.in[k] = graph->nodes[d->input[k]].shape;
    return q;
}

/* Every node of the schedule must be one the device can run: refusing the plan, with
 * the node named, beats failing in the middle of a step. There is no fallback to
 * another device. */
static wg_status check_support(const wg_session *session, const schedule *s) {
    wg_device *device = session->device;
    const wg_graph *graph = session->graph;
    assert(device->backend->supports_op);
    for (int p = 0; p < s->count; p++) {
        wg_node node = s->order[p];
        wg_op_query query = wg_op_query_of(graph, node);
        const char *why = "";
        if (device->backend->supports_op(device, &query, &why)) continue;
        const wg_node_data *d = &graph->nodes[node];
        const char *name = wg_node_name(graph, node);
        char label[48], shapes[160];
        wg_op_label(d->op, d->ival[0], label, sizeof label);
        node_shapes(graph, d, NULL, shapes, sizeof shapes);
        return wg_fail(WG_ERR_UNSUPPORTED,
                       "node %d (%s%s%s): the %s device \"%s\" cannot run it in %s on %s: %s; "
                       "the plan is refused",
                       node, label, *name ? " " : "", name, device->backend->kind,
                       device->description, graph->dtype == WG_F64 ? "f64" : "f32", shapes,
                       why && *why ? why : "no reason given");
    }
    return WG_OK;
}

/* "fused.7" or "map.tanh" and, when `shapes` is given, the shapes, for messages and
 * profiles. */
static void call_label(const wg_call *call, char *op, size_t op_size, char *shapes,
                       size_t shapes_size) {
    if (call->fused)
        snprintf(op, op_size, "fused.%d", call->fused->n_steps);
    else
        wg_op_label(call->data->op, call->data->ival[0], op, op_size);
    if (shapes) node_shapes(call->graph, call->data, call->fused, shapes, shapes_size);
}

/* Fills what a call writes with NaN: its output, or a region's outputs in the arena
 * (a variable a region writes in place holds what it reads). */
static wg_status poison_outputs(wg_plan *plan, const wg_call *call) {
    wg_device *device = plan->session->device;
    const wg_graph *graph = call->graph;
    if (!call->fused)
        return call->data->op == WG_OP_ASSIGN
                   ? WG_OK
                   : device->backend->fill(device, call->out,
                                           (size_t)wg_shape_numel(&call->data->shape), graph->dtype,
                                           NAN);
    for (int i = 0; i < call->fused->n_outputs; i++) {
        const wg_fused_output *out = &call->fused->output[i];
        if (wg_op_is_persistent(graph->nodes[out->node].op)) continue;
        wg_status status =
            device->backend->fill(device, out->ref, (size_t)call->fused->numel, graph->dtype, NAN);
        if (status != WG_OK) return status;
    }
    return WG_OK;
}

static wg_status run_call(wg_plan *plan, wg_call *call) {
    wg_device *device = plan->session->device;
    call->step = plan->session->step;
    /* the graph may have grown (and moved its node array) since the plan was made */
    call->data = &call->graph->nodes[call->node];
    if (plan->poison) {
        wg_status status = poison_outputs(plan, call);
        if (status != WG_OK) return status;
    }
    wg_status status = device->backend->run(device, call);
    if (status != WG_OK) {
        const char *name = wg_node_name(call->graph, call->node);
        char label[48];
        call_label(call, label, sizeof label, NULL, 0);
        return wg_fail(status, "node %d (%s%s%s): %s", call->node, label, *name ? " " : "", name,
                       wg_last_error());
    }
    return WG_OK;
}

static wg_status plan_layout(wg_plan *plan, const schedule *s) {
    wg_session *session = plan->session;
    const wg_graph *graph = session->graph;
    size_t elem = wg_dtype_size(graph->dtype);
    size_t *offsets = calloc((size_t)graph->count, sizeof *offsets);
    arena_planner arena = {0};
    wg_status status = offsets ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory planning a step");
    /* Constants are written once, at plan time, so their blocks are reserved before any
     * temporary is placed: a block freed early in the schedule must not hold one. */
    for (int p = 0; p < s->count && status == WG_OK; p++) {
        wg_node node = s->order[p];
        if (s->constant_once[node])
            status = arena_place(&arena, (size_t)wg_node_numel(graph, node) * elem,
                                 s->last_use[node], &offsets[node]);
    }
    for (int p = 0; p < s->count && status == WG_OK; p++) {
        wg_node node = s->order[p];
        const wg_fused *region = region_at(s, p);
        for (int i = 0; region && i < region->n_outputs && status == WG_OK; i++) {
            wg_node out = region->output[i].node;
            if (!wg_op_is_persistent(graph->nodes[out].op))
                status = arena_place(&arena, (size_t)region->numel * elem, s->last_use[out],
                                     &offsets[out]);
        }
        if (!region && !skipped_at(s, p) && graph->nodes[node].op != WG_OP_ASSIGN &&
            !s->constant_once[node])
            status = arena_place(&arena, (size_t)wg_node_numel(graph, node) * elem,
                                 s->last_use[node], &offsets[node]);
        arena_release_dead(&arena, p);
    }
    free(arena.live);
    if (status == WG_OK) {
        plan->arena_bytes = arena.high_water ? arena.high_water : ARENA_ALIGN;
        status = session->device->backend->alloc(session->device, plan->arena_bytes, &plan->arena);
    }
    plan->calls = status == WG_OK ? calloc((size_t)s->count, sizeof *plan->calls) : NULL;
    if (status == WG_OK && !plan->calls)
        status = wg_fail(WG_ERR_NOMEM, "out of memory planning a step");
    for (int p = 0; p < s->count && status == WG_OK; p++) {
        wg_node node = s->order[p];
        const wg_node_data *d = &graph->nodes[node];
        wg_call call = {.graph = graph, .node = node, .data = d, .seed = session->seed};
        if (skipped_at(s, p)) continue;
        wg_fused *region = (wg_fused *)region_at(s, p);
        if (region) {
            for (int i = 0; i < region->n_inputs; i++)
                region->input[i].ref = node_ref(plan, offsets, region->input[i].node);
            for (int i = 0; i < region->n_outputs; i++)
                region->output[i].ref = node_ref(plan, offsets, region->output[i].node);
            call.fused = region;
            plan->calls[plan->n_calls++] = call;
            continue;
        }
        call.out = d->op == WG_OP_ASSIGN ? node_ref(plan, offsets, d->input[0])
                                         : node_ref(plan, offsets, node);
        for (int k = 0; k < d->n_inputs; k++) call.in[k] = node_ref(plan, offsets, d->input[k]);
        if (s->constant_once[node]) {
            status = run_call(plan, &call); /* once, now; its block is never reused */
            continue;
        }
        if (d->op == WG_OP_ASSIGN && call.out.mem == call.in[1].mem &&
            call.out.offset == call.in[1].offset)
            continue; /* assigning a variable to itself */
        plan->calls[plan->n_calls++] = call;
    }
    for (int i = 0; i < plan->n_targets && status == WG_OK; i++)
        plan->target_refs[i] = node_ref(plan, offsets, plan->targets[i]);
    free(offsets);
    return status;
}

/* ---- FLOPs and profiling ---- */

static double call_flops(const wg_call *call) {
    if (!call->fused) return wg_node_flops(call->graph, call->data);
    double flops = 0;
    for (int i = 0; i < call->fused->n_steps; i++)
        flops += wg_node_flops(call->graph, &call->graph->nodes[call->fused->step[i].node]);
    return flops;
}

double wg_plan_flops(const wg_plan *plan) {
    double flops = 0;
    for (int i = 0; i < plan->n_calls; i++) flops += call_flops(&plan->calls[i]);
    return flops;
}

int wg_plan_kernel_calls(const wg_plan *plan) {
    return plan->n_calls;
}

#define PROFILE_MAX 4096

typedef struct profile_slot {
    char op[32], shapes[160];
    int64_t calls;
    double seconds, flops;
} profile_slot;

/* Process-wide, as the profile sums every plan of a program; -1: not decided yet. */
static int profile_on = -1;
static profile_slot *profile_table;
static int profile_count;

void wg_profile_enable(int on) {
    profile_on = on != 0;
}

int wg_profile_enabled(void) {
    if (profile_on < 0) {
        const char *env = getenv("WGAN_PROFILE");
        profile_on = env && *env && strcmp(env, "0") != 0;
    }
    return profile_on;
}

int wg_profile_count(void) {
    return profile_count;
}

wg_profile_entry wg_profile_get(int index) {
    if (index < 0 || index >= profile_count) return (wg_profile_entry){"", "", 0, 0, 0};
    const profile_slot *p = &profile_table[index];
    return (wg_profile_entry){p->op, p->shapes, p->calls, p->seconds, p->flops};
}

void wg_profile_reset(void) {
    for (int i = 0; i < profile_count; i++) {
        profile_table[i].calls = 0;
        profile_table[i].seconds = profile_table[i].flops = 0;
    }
}

/* Gives each call of the plan its entry of the table, shared with every call of the
 * same op and shapes. */
static wg_status profile_register(wg_plan *plan) {
    plan->profile_slot = malloc((size_t)(plan->n_calls ? plan->n_calls : 1) * sizeof(int));
    if (!profile_table) profile_table = calloc(PROFILE_MAX, sizeof *profile_table);
    if (!plan->profile_slot || !profile_table)
        return wg_fail(WG_ERR_NOMEM, "out of memory for the profile");
    for (int i = 0; i < plan->n_calls; i++) {
        profile_slot label = {0};
        call_label(&plan->calls[i], label.op, sizeof label.op, label.shapes, sizeof label.shapes);
        int at = 0;
        while (at < profile_count && (strcmp(profile_table[at].op, label.op) ||
                                      strcmp(profile_table[at].shapes, label.shapes)))
            at++;
        if (at == profile_count) {
            if (profile_count == PROFILE_MAX)
                return wg_fail(WG_ERR_NOMEM, "the profile holds at most %d op shapes", PROFILE_MAX);
            profile_table[profile_count++] = label;
        }
        plan->profile_slot[i] = at;
    }
    return WG_OK;
}

static double profile_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* wg_plan_run's loop, waiting for each kernel so that its time is its own. */
static wg_status run_profiled(wg_plan *plan) {
    wg_device *device = plan->session->device;
    for (int i = 0; i < plan->n_calls; i++) {
        double start = profile_now();
        wg_status status = run_call(plan, &plan->calls[i]);
        if (status == WG_OK) status = device->backend->finish(device);
        if (status != WG_OK) return status;
        profile_slot *slot = &profile_table[plan->profile_slot[i]];
        slot->seconds += profile_now() - start;
        slot->calls++;
        slot->flops += call_flops(&plan->calls[i]);
    }
    return WG_OK;
}

wg_status wg_plan_new(wg_session *session, int count, const wg_node *targets, wg_plan **out) {
    *out = NULL;
    wg_graph *graph = session->graph;
    if (graph->status != WG_OK)
        return wg_fail(graph->status, "graph has an error: %s", graph->error);
    for (int i = 0; i < count; i++)
        if (targets[i] < 0 || targets[i] >= graph->count)
            return wg_fail(WG_ERR_INVALID, "plan target %d is not a node of the graph", i);
    wg_status status = wg_session_bind_persistent(session);
    if (status != WG_OK) return status;
    wg_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return wg_fail(WG_ERR_NOMEM, "out of memory creating a plan");
    plan->session = session;
    plan->n_targets = count;
    plan->targets = malloc((size_t)(count ? count : 1) * sizeof *plan->targets);
    plan->target_refs = malloc((size_t)(count ? count : 1) * sizeof *plan->target_refs);
    if (!plan->targets || !plan->target_refs) {
        wg_plan_free(plan);
        return wg_fail(WG_ERR_NOMEM, "out of memory creating a plan");
    }
    memcpy(plan->targets, targets, (size_t)count * sizeof *targets);
    plan->poison = getenv("WGAN_POISON") != NULL;
    schedule s = {0};
    status = build_schedule(graph, count, targets, &s);
    if (status == WG_OK) status = check_support(session, &s);
    wg_device *device = session->device;
    if (status == WG_OK && device->backend->prepare_fused && wg_fusion_on())
        status = wg_fuse(graph, s.order, s.position, s.count, targets, count, &s.fusion);
    if (status == WG_OK) schedule_lifetimes(graph, count, targets, &s);
    if (status == WG_OK) status = plan_layout(plan, &s);
    if (status == WG_OK && s.fusion.n_regions > 0) {
        plan->fusion = s.fusion; /* the calls point into its regions */
        memset(&s.fusion, 0, sizeof s.fusion);
        status = device->backend->prepare_fused(device, graph->dtype, plan->fusion.n_regions,
                                                plan->fusion.regions);
        plan->prepared = status == WG_OK;
    }
    if (status == WG_OK && wg_profile_enabled()) status = profile_register(plan);
    schedule_free(&s);
    if (status != WG_OK) {
        wg_plan_free(plan);
        return status;
    }
    *out = plan;
    return WG_OK;
}

void wg_plan_free(wg_plan *plan) {
    if (!plan) return;
    wg_device *device = plan->session->device;
    if (plan->arena) {
        device->backend->finish(device);
        device->backend->release(device, plan->arena);
    }
    if (plan->prepared && device->backend->release_fused)
        device->backend->release_fused(device, plan->fusion.n_regions, plan->fusion.regions);
    wg_fusion_free(&plan->fusion);
    free(plan->calls);
    free(plan->profile_slot);
    free(plan->targets);
    free(plan->target_refs);
    free(plan);
}

wg_status wg_plan_run(wg_plan *plan) {
    if (plan->profile_slot) {
        wg_status status = run_profiled(plan);
        if (status != WG_OK) return status;
        plan->session->step++;
        return WG_OK;
    }
    for (int i = 0; i < plan->n_calls; i++) {
        wg_status status = run_call(plan, &plan->calls[i]);
        if (status != WG_OK) return status;
    }
    plan->session->step++;
    return WG_OK;
}

wg_status wg_plan_read(wg_plan *plan, wg_node target, void *host) {
    const wg_graph *graph = plan->session->graph;
    for (int i = 0; i < plan->n_targets; i++) {
        if (plan->targets[i] != target) continue;
        wg_device *device = plan->session->device;
        size_t bytes = (size_t)wg_node_numel(graph, target) * wg_dtype_size(graph->dtype);
        return device->backend->read(device, plan->target_refs[i], host, bytes);
    }
    return wg_fail(WG_ERR_INVALID, "node %d is not a target of this plan", target);
}

size_t wg_plan_bytes(const wg_plan *plan) {
    return plan->arena_bytes;
}

void wg_plan_set_poison(wg_plan *plan, int on) {
    plan->poison = on;
}
