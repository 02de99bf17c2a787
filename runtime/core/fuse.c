/* Fusion of element-wise nodes into regions (fuse.h). */
#include "fuse.h"

#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

/* Process-wide like profiling; -1: not decided yet. */
static int fusion_on = -1;

void wg_fusion_enable(int on) {
    fusion_on = on != 0;
}

bool wg_fusion_on(void) {
    if (fusion_on < 0) {
        const char *env = getenv("WGAN_FUSE");
        fusion_on = !(env && strcmp(env, "0") == 0);
    }
    return fusion_on;
}

static bool elementwise(wg_op op) {
    return op == WG_OP_MAP || op == WG_OP_BINARY;
}

typedef struct fuser {
    const wg_graph *graph;
    const wg_node *order;
    int count;
    const int *position; /* node -> position, or -1 (the planner's) */
    int *first_reader;   /* node -> index into readers of its first reading position */
    int *readers;        /* positions reading each storage root, grouped by root */
    int *n_readers;      /* node -> count */
    bool *target;        /* node -> a target's storage root */
    int *group;          /* position -> representative position of its group, or -1 */
    int *next;           /* position -> next member of its group (ascending), or -1 */
    wg_node *assigned;   /* node -> the variable it is assigned to in place, or WG_NONE */
} fuser;

static bool in_set(const int *members, int n, int position) {
    for (int i = 0; i < n; i++)
        if (members[i] == position) return true;
    return false;
}

static int64_t numel(const wg_graph *graph, wg_node node) {
    return wg_shape_numel(&graph->nodes[node].shape);
}

/* How a member of shape `to` reads operand `from` (right-aligned broadcast). */
static void read_of(const wg_shape *from, const wg_shape *to, wg_fused_input *in) {
    int64_t contiguous[WG_MAX_DIMS];
    wg_shape_strides(from, contiguous);
    int lead = to->ndim - from->ndim, m = 0;
    for (int k = 0; k < to->ndim; k++) {
        if (to->dim[k] == 1) continue;
        int j = k - lead;
        int64_t stride = (j < 0 || from->dim[j] == 1) ? 0 : contiguous[j];
        if (m > 0 && in->stride[m - 1] == stride * to->dim[k]) {
            in->dim[m - 1] *= to->dim[k];
            in->stride[m - 1] = stride;
            continue;
        }
        in->dim[m] = to->dim[k];
        in->stride[m++] = stride;
    }
    in->ndim = m;
    int64_t n_from = wg_shape_numel(from), n_to = wg_shape_numel(to);
    in->read = n_from == n_to ? WG_FUSED_CONTIGUOUS
               : n_from == 1  ? WG_FUSED_SCALAR
                              : WG_FUSED_STRIDED;
}

static bool same_read(const wg_fused_input *a, const wg_fused_input *b) {
    if (a->node != b->node || a->read != b->read) return false;
    if (a->read != WG_FUSED_STRIDED) return true;
    if (a->ndim != b->ndim) return false;
    for (int k = 0; k < a->ndim; k++)
        if (a->dim[k] != b->dim[k] || a->stride[k] != b->stride[k]) return false;
    return true;
}

/* While a region is described, step k's slot is STEP_SLOT + k, as inputs are still being
 * added; describe renumbers them to n_inputs + k at the end. */
#define STEP_SLOT 1000

/* The slot of operand `k` of member `node`, adding an input when it is not a member. */
static int operand_slot(const fuser *f, const int *members, int n, wg_node node, int k,
                        wg_fused *r) {
    const wg_graph *graph = f->graph;
    wg_node operand = graph->nodes[node].input[k];
    wg_node root = wg_storage_root(graph, operand);
    int at = f->position[root];
    if (at >= 0 && in_set(members, n, at))
        for (int s = 0; s < r->n_steps; s++)
            if (r->step[s].node == root) return STEP_SLOT + s;
    wg_fused_input in = {.node = root, .reg = -1};
    read_of(&graph->nodes[operand].shape, &graph->nodes[node].shape, &in);
    for (int i = 0; i < r->n_inputs; i++)
        if (same_read(&r->input[i], &in)) return i;
    if (r->n_inputs == WG_FUSED_MAX_INPUTS) return -1;
    r->input[r->n_inputs] = in;
    return r->n_inputs++;
}

/* Whether member `position`'s value is needed outside the members. */
static bool leaves(const fuser *f, const int *members, int n, int position) {
    wg_node node = f->order[position];
    if (f->target[node] || f->assigned[node] != WG_NONE) return true;
    const int *readers = f->readers + f->first_reader[node];
    for (int i = 0; i < f->n_readers[node]; i++)
        if (!in_set(members, n, readers[i])) return true;
    return false;
}

/* Gives value buffers to strided and scalar inputs and to results that are not written
 * straight to an output; false when more than WG_FUSED_MAX_REGS would be live at once. */
static bool allocate_regs(wg_fused *r) {
    enum { FREE = -1, KEPT = WG_FUSED_MAX_STEPS };
    int release_after[WG_FUSED_MAX_REGS]; /* step after which a buffer is free, FREE or KEPT */
    int last_read[WG_FUSED_MAX_STEPS];
    for (int s = 0; s < r->n_steps; s++) last_read[s] = s;
    for (int s = 0; s < r->n_steps; s++)
        for (int k = 0; k < (r->step[s].op == WG_OP_BINARY ? 2 : 1); k++)
            if (r->step[s].arg[k] >= r->n_inputs) last_read[r->step[s].arg[k] - r->n_inputs] = s;
    for (int i = 0; i < WG_FUSED_MAX_REGS; i++) release_after[i] = FREE;
    int high = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        r->input[i].reg = -1;
        if (r->input[i].read == WG_FUSED_CONTIGUOUS) continue;
        if (high == WG_FUSED_MAX_REGS) return false;
        release_after[high] = KEPT;
        r->input[i].reg = high++;
    }
    for (int s = 0; s < r->n_steps; s++) {
        wg_fused_step *step = &r->step[s];
        step->reg = -1;
        bool in_place = step->output >= 0 && r->output[step->output].in_place;
        if (step->output < 0 || in_place) {
            int reg = 0;
            while (reg < WG_FUSED_MAX_REGS && release_after[reg] != FREE) reg++;
            if (reg == WG_FUSED_MAX_REGS) return false;
            /* in-place results are stored when the tile ends */
            release_after[reg] = in_place ? KEPT : last_read[s];
            step->reg = reg;
            if (reg + 1 > high) high = reg + 1;
        }
        for (int i = 0; i < WG_FUSED_MAX_REGS; i++)
            if (release_after[i] == s && step->reg != i) release_after[i] = FREE;
    }
    r->n_regs = high;
    return true;
}

/* The region of `members` (ascending positions), or false when it exceeds a limit. */
static bool describe(const fuser *f, const int *members, int n, wg_fused *r) {
    const wg_graph *graph = f->graph;
    memset(r, 0, sizeof *r);
    if (n > WG_FUSED_MAX_STEPS) return false;
    r->numel = numel(graph, f->order[members[0]]);
    int scalars = 0;
    for (int m = 0; m < n; m++) {
        wg_node node = f->order[members[m]];
        const wg_node_data *d = &graph->nodes[node];
        wg_fused_step *step = &r->step[r->n_steps];
        *step = (wg_fused_step){.node = node, .op = d->op, .code = d->ival[0], .output = -1};
        step->param[0] = d->param[0];
        step->param[1] = d->param[1];
        if (d->op == WG_OP_MAP) scalars += wg_map_scalars(d->ival[0]);
        for (int k = 0; k < d->n_inputs; k++)
            if ((step->arg[k] = operand_slot(f, members, n, node, k, r)) < 0) return false;
        r->n_steps++;
        if (!leaves(f, members, n, members[m])) continue;
        if (r->n_outputs == WG_FUSED_MAX_OUTPUTS) return false;
        wg_node variable = f->assigned[node];
        wg_fused_output *out = &r->output[r->n_outputs];
        *out = (wg_fused_output){.step = r->n_steps - 1, .node = node};
        if (variable != WG_NONE) {
            out->node = variable;
            for (int i = 0; i < r->n_inputs; i++) out->in_place |= r->input[i].node == variable;
        }
        step->output = r->n_outputs++;
    }
    /* an operand member always comes before its reader, so it was among the steps made */
    for (int k = 0; k < r->n_steps; k++)
        for (int j = 0; j < 2; j++)
            if (r->step[k].arg[j] >= STEP_SLOT) r->step[k].arg[j] += r->n_inputs - STEP_SLOT;
    if (scalars > WG_FUSED_MAX_SCALARS) return false;
    return allocate_regs(r);
}

/* The members of the group of `position`, ascending; returns their count. */
static int members_of(const fuser *f, int position, int *members) {
    int n = 0;
    for (int p = f->group[position]; p >= 0; p = f->next[p]) members[n++] = p;
    return n;
}

/* Joins group `other` into the group of `position` (the newest member), when no value of
 * `other` is read outside the union before `position` and the union fits the limits. */
static void try_merge(fuser *f, int position, int other) {
    int members[2 * WG_FUSED_MAX_STEPS + 2];
    int na = members_of(f, position, members);
    int nb = members_of(f, other, members + na);
    if (na + nb > WG_FUSED_MAX_STEPS) return;
    int n = na + nb;
    for (int i = na; i < n; i++) {
        wg_node node = f->order[members[i]];
        const int *readers = f->readers + f->first_reader[node];
        for (int j = 0; j < f->n_readers[node]; j++)
            if (readers[j] <= position && !in_set(members, n, readers[j])) return;
    }
    /* ascending order for describe */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && members[j - 1] > members[j]; j--) {
            int t = members[j];
            members[j] = members[j - 1];
            members[j - 1] = t;
        }
    wg_fused trial;
    if (!describe(f, members, n, &trial)) return;
    for (int i = 0; i < n; i++) {
        f->group[members[i]] = members[0];
        f->next[members[i]] = i + 1 < n ? members[i + 1] : -1;
    }
}

/* Where the node at `position` runs: its group's last member's position. */
static int runs_at_of(const fuser *f, int position) {
    int last = position;
    if (f->group[position] >= 0)
        for (int p = f->group[position]; p >= 0; p = f->next[p]) last = p;
    return last;
}

/* Makes the region write `value` straight into `variable` (dropping the assignment at
 * `position`) when nothing else reads the value, nothing outside the region reads the
 * variable after the region runs, and the region reads the variable only at element i. */
static void try_in_place(fuser *f, int position) {
    const wg_graph *graph = f->graph;
    const wg_node_data *a = &graph->nodes[f->order[position]];
    wg_node variable = wg_storage_root(graph, a->input[0]);
    wg_node value = wg_storage_root(graph, a->input[1]);
    int at = f->position[value];
    if (at < 0 || f->group[at] < 0 || f->target[value] || f->assigned[value] != WG_NONE) return;
    int members[WG_FUSED_MAX_STEPS];
    int n = members_of(f, at, members);
    if (n < 2) return;
    int runs_at = members[n - 1];
    const int *readers = f->readers + f->first_reader[value];
    for (int j = 0; j < f->n_readers[value]; j++)
        if (readers[j] != position && !in_set(members, n, readers[j])) return;
    readers = f->readers + f->first_reader[variable];
    for (int j = 0; j < f->n_readers[variable]; j++) {
        int reader = readers[j];
        if (reader == position || in_set(members, n, reader)) continue;
        const wg_node_data *d = &graph->nodes[f->order[reader]];
        bool assigns_it = d->op == WG_OP_ASSIGN && wg_storage_root(graph, d->input[0]) == variable;
        if (assigns_it || runs_at_of(f, reader) > runs_at) return;
    }
    f->assigned[value] = variable;
    wg_fused trial;
    bool fits = describe(f, members, n, &trial);
    for (int i = 0; fits && i < trial.n_inputs; i++)
        if (trial.input[i].node == variable && trial.input[i].read != WG_FUSED_CONTIGUOUS)
            fits = false;
    if (!fits) f->assigned[value] = WG_NONE;
}

static wg_status fuser_init(fuser *f, const wg_graph *graph, const wg_node *order,
                            const int *position, int count, const wg_node *targets, int n_targets) {
    int n = graph->count;
    *f = (fuser){.graph = graph, .order = order, .position = position, .count = count};
    f->first_reader = calloc((size_t)n + 1, sizeof *f->first_reader);
    f->n_readers = calloc((size_t)n, sizeof *f->n_readers);
    f->target = calloc((size_t)n, sizeof *f->target);
    f->assigned = malloc((size_t)n * sizeof *f->assigned);
    f->group = malloc((size_t)(count ? count : 1) * sizeof *f->group);
    f->next = malloc((size_t)(count ? count : 1) * sizeof *f->next);
    int reads = 0;
    for (int p = 0; p < count; p++) reads += graph->nodes[order[p]].n_inputs;
    f->readers = malloc((size_t)(reads ? reads : 1) * sizeof *f->readers);
    if (!f->first_reader || !f->n_readers || !f->target || !f->assigned || !f->group || !f->next ||
        !f->readers)
        return wg_fail(WG_ERR_NOMEM, "out of memory fusing a step");
    for (int i = 0; i < n; i++) f->assigned[i] = WG_NONE;
    for (int p = 0; p < count; p++) f->group[p] = -1, f->next[p] = -1;
    for (int i = 0; i < n_targets; i++) f->target[wg_storage_root(graph, targets[i])] = true;
    /* readers grouped by storage root, each group in ascending positions */
    for (int p = 0; p < count; p++)
        for (int k = 0; k < graph->nodes[order[p]].n_inputs; k++)
            f->n_readers[wg_storage_root(graph, graph->nodes[order[p]].input[k])]++;
    for (int i = 0; i < n; i++) f->first_reader[i + 1] = f->first_reader[i] + f->n_readers[i];
    for (int i = 0; i < n; i++) f->n_readers[i] = 0;
    for (int p = 0; p < count; p++)
        for (int k = 0; k < graph->nodes[order[p]].n_inputs; k++) {
            wg_node root = wg_storage_root(graph, graph->nodes[order[p]].input[k]);
            int *group = f->readers + f->first_reader[root];
            /* a node reading one root twice is one reader */
            if (f->n_readers[root] > 0 && group[f->n_readers[root] - 1] == p) continue;
            group[f->n_readers[root]++] = p;
        }
    return WG_OK;
}

static void fuser_free(fuser *f) {
    free(f->first_reader);
    free(f->readers);
    free(f->n_readers);
    free(f->target);
    free(f->assigned);
    free(f->group);
    free(f->next);
}

/* Writes the regions of groups with two or more members into `out`. */
static wg_status collect(const fuser *f, wg_fusion *out) {
    int count = f->count;
    out->region_of = malloc((size_t)(count ? count : 1) * sizeof *out->region_of);
    out->skipped = calloc((size_t)(count ? count : 1), sizeof *out->skipped);
    int groups = 0;
    for (int p = 0; p < count; p++)
        if (f->group[p] == p && f->next[p] >= 0) groups++;
    out->regions = calloc((size_t)(groups ? groups : 1), sizeof *out->regions);
    out->runs_at = malloc((size_t)(groups ? groups : 1) * sizeof *out->runs_at);
    if (!out->region_of || !out->skipped || !out->regions || !out->runs_at)
        return wg_fail(WG_ERR_NOMEM, "out of memory fusing a step");
    for (int p = 0; p < count; p++) out->region_of[p] = -1;
    int members[WG_FUSED_MAX_STEPS];
    for (int p = 0; p < count; p++) {
        if (f->group[p] != p || f->next[p] < 0) continue;
        int n = members_of(f, p, members), r = out->n_regions++;
        if (!describe(f, members, n, &out->regions[r]))
            return wg_fail(WG_ERR_INVALID, "fusion: a region that fitted no longer does");
        out->runs_at[r] = members[n - 1];
        for (int i = 0; i < n; i++) {
            out->region_of[members[i]] = r;
            out->skipped[members[i]] = i + 1 < n;
        }
    }
    for (int p = 0; p < count; p++) {
        const wg_node_data *d = &f->graph->nodes[f->order[p]];
        if (d->op == WG_OP_ASSIGN && f->assigned[wg_storage_root(f->graph, d->input[1])] != WG_NONE)
            out->skipped[p] = true;
    }
    return WG_OK;
}

wg_status wg_fuse(const wg_graph *graph, const wg_node *order, const int *position, int count,
                  const wg_node *targets, int n_targets, wg_fusion *out) {
    memset(out, 0, sizeof *out);
    fuser f;
    wg_status status = fuser_init(&f, graph, order, position, count, targets, n_targets);
    if (status != WG_OK) {
        fuser_free(&f);
        return status;
    }
    for (int p = 0; p < count; p++) {
        wg_node node = order[p];
        const wg_node_data *d = &graph->nodes[node];
        if (!elementwise(d->op)) continue;
        f.group[p] = p;
        for (int k = 0; k < d->n_inputs; k++) {
            int at = f.position[wg_storage_root(graph, d->input[k])];
            if (at < 0 || f.group[at] < 0 || f.group[at] == f.group[p]) continue;
            if (numel(graph, order[at]) != numel(graph, node)) continue;
            try_merge(&f, p, at);
        }
    }
    for (int p = 0; p < count; p++)
        if (graph->nodes[order[p]].op == WG_OP_ASSIGN) try_in_place(&f, p);
    status = collect(&f, out);
    fuser_free(&f);
    if (status != WG_OK) wg_fusion_free(out);
    return status;
}

void wg_fusion_free(wg_fusion *fusion) {
    free(fusion->regions);
    free(fusion->region_of);
    free(fusion->runs_at);
    free(fusion->skipped);
    memset(fusion, 0, sizeof *fusion);
}
