/* Sessions: a graph bound to a device, with the persistent tensors it owns. */
#include "session_internal.h"

#include <stdlib.h>

wg_status wg_session_new(wg_graph *graph, wg_device *device, uint64_t seed, wg_session **out) {
    *out = NULL;
    if (wg_graph_status(graph) != WG_OK)
        return wg_fail(wg_graph_status(graph), "graph has an error: %s", wg_graph_error(graph));
    if (graph->dtype == WG_F64 && !device->backend->fill)
        return wg_fail(WG_ERR_UNSUPPORTED, "device cannot hold f64 tensors");
    wg_session *session = calloc(1, sizeof *session);
    if (!session) return wg_fail(WG_ERR_NOMEM, "out of memory creating a session");
    session->graph = graph;
    session->device = device;
    session->seed = seed;
    wg_status status = wg_session_bind_persistent(session);
    if (status != WG_OK) {
        wg_session_free(session);
        return status;
    }
    *out = session;
    return WG_OK;
}

void wg_session_free(wg_session *session) {
    if (!session) return;
    for (int i = 0; i < session->persistent_capacity; i++)
        if (session->persistent[i].mem)
            session->device->backend->release(session->device, session->persistent[i].mem);
    free(session->persistent);
    free(session);
}

wg_graph *wg_session_graph(wg_session *session) {
    return session->graph;
}
wg_device *wg_session_device(wg_session *session) {
    return session->device;
}
uint64_t wg_session_step(const wg_session *session) {
    return session->step;
}
void wg_session_set_step(wg_session *session, uint64_t step) {
    session->step = step;
}

wg_status wg_session_bind_persistent(wg_session *session) {
    const wg_graph *graph = session->graph;
    const wg_backend *backend = session->device->backend;
    if (graph->count > session->persistent_capacity) {
        wg_ref *grown = realloc(session->persistent, (size_t)graph->count * sizeof *grown);
        if (!grown) return wg_fail(WG_ERR_NOMEM, "out of memory binding variables");
        for (int i = session->persistent_capacity; i < graph->count; i++)
            grown[i] = (wg_ref){NULL, 0};
        session->persistent = grown;
        session->persistent_capacity = graph->count;
    }
    for (int i = 0; i < graph->count; i++) {
        const wg_node_data *d = &graph->nodes[i];
        if (!wg_op_is_persistent(d->op) || session->persistent[i].mem) continue;
        size_t count = (size_t)wg_shape_numel(&d->shape);
        void *mem = NULL;
        wg_status status =
            backend->alloc(session->device, count * wg_dtype_size(graph->dtype), &mem);
        if (status != WG_OK) return status;
        session->persistent[i] = (wg_ref){mem, 0};
        status = backend->fill(session->device, session->persistent[i], count, graph->dtype, 0.0);
        if (status != WG_OK) return status;
    }
    return WG_OK;
}

static wg_status persistent_ref(wg_session *session, wg_node node, wg_ref *ref) {
    const wg_graph *graph = session->graph;
    if (node < 0 || node >= graph->count || !wg_op_is_persistent(graph->nodes[node].op))
        return wg_fail(WG_ERR_INVALID, "node %d is not an input or variable", node);
    wg_status status = wg_session_bind_persistent(session);
    if (status != WG_OK) return status;
    *ref = session->persistent[node];
    return WG_OK;
}

static size_t node_bytes(const wg_session *session, wg_node node) {
    return (size_t)wg_node_numel(session->graph, node) * wg_dtype_size(session->graph->dtype);
}

wg_status wg_session_write(wg_session *session, wg_node node, const void *host) {
    wg_ref ref;
    wg_status status = persistent_ref(session, node, &ref);
    if (status != WG_OK) return status;
    return session->device->backend->write(session->device, ref, host, node_bytes(session, node));
}

wg_status wg_session_read(wg_session *session, wg_node node, void *host) {
    wg_ref ref;
    wg_status status = persistent_ref(session, node, &ref);
    if (status != WG_OK) return status;
    return session->device->backend->read(session->device, ref, host, node_bytes(session, node));
}
