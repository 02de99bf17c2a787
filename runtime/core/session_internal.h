/* Session state shared by session.c and plan.c. */
#ifndef WGAN_SESSION_INTERNAL_H
#define WGAN_SESSION_INTERNAL_H

#include "backend.h"
#include "wgan/session.h"

struct wg_session {
    wg_graph *graph;
    wg_device *device;
    uint64_t seed;
    uint64_t step;
    /* Storage of every input and variable, indexed by node; mem NULL when the node is
     * not persistent or not allocated yet. */
    wg_ref *persistent;
    int persistent_capacity;
};

/* Allocates (zero-filled) storage for every input and variable of the graph that has
 * none yet; plans call it because the graph may have grown since the session began. */
wg_status wg_session_bind_persistent(wg_session *session);

static inline size_t wg_dtype_size(wg_dtype dtype) {
    return dtype == WG_F64 ? sizeof(double) : sizeof(float);
}

static inline int wg_op_is_persistent(wg_op op) {
    return op == WG_OP_INPUT || op == WG_OP_VARIABLE;
}

#endif
