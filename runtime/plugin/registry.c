#include "registry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wgan/philox.h"

void wg_registry_free(wg_registry *registry) {
    for (int i = 0; i < registry->count; i++) free(registry->entries[i].name);
    free(registry->entries);
    *registry = (wg_registry){0};
}

int wg_registry_find(const wg_registry *registry, const char *name) {
    for (int i = 0; i < registry->count; i++)
        if (strcmp(registry->entries[i].name, name) == 0) return i;
    return -1;
}

int wg_registry_add(wg_registry *registry, const char *name, wg_node node, wg_init init,
                    wg_param_role role, int trainable) {
    if (registry->count == registry->capacity) {
        int capacity = registry->capacity ? 2 * registry->capacity : 32;
        wg_variable_entry *grown = realloc(registry->entries, (size_t)capacity * sizeof *grown);
        if (!grown) {
            wg_fail(WG_ERR_NOMEM, "out of memory registering '%s'", name);
            return -1;
        }
        registry->entries = grown;
        registry->capacity = capacity;
    }
    char *copy = strdup(name);
    if (!copy) {
        wg_fail(WG_ERR_NOMEM, "out of memory registering '%s'", name);
        return -1;
    }
    registry->entries[registry->count] = (wg_variable_entry){copy, node, init, role, trainable};
    return registry->count++;
}

double wg_host_draw(const wg_init *init, uint64_t stream, uint64_t i, uint64_t seed) {
    wg_philox_block b = wg_philox_element(i, stream, WG_PHILOX_HOST_STEP, seed);
    double u0 = wg_philox_unit(b.x[0]), u1 = wg_philox_unit(b.x[1]);
    switch (init->kind) {
    case WG_INIT_ZEROS: return 0;
    case WG_INIT_CONSTANT: return init->a;
    case WG_INIT_UNIFORM: return init->a + (init->b - init->a) * u0;
    case WG_INIT_NORMAL: return init->a + init->b * sqrt(-2 * log(u0)) * cos(2 * M_PI * u1);
    case WG_INIT_TORCH_DEFAULT: {
        double bound = init->fan_in > 0 ? 1 / sqrt((double)init->fan_in) : 0;
        return -bound + 2 * bound * u0;
    }
    }
    return 0;
}

wg_status wg_registry_initialize(const wg_registry *registry, wg_session *session, uint64_t seed) {
    wg_graph *graph = wg_session_graph(session);
    int f64 = wg_graph_dtype(graph) == WG_F64;
    for (int v = 0; v < registry->count; v++) {
        const wg_variable_entry *e = &registry->entries[v];
        int64_t n = wg_node_numel(graph, e->node);
        void *host = malloc((size_t)n * (f64 ? sizeof(double) : sizeof(float)));
        if (!host) return wg_fail(WG_ERR_NOMEM, "out of memory initialising '%s'", e->name);
        uint64_t stream = wg_philox_stream(e->name);
        for (int64_t i = 0; i < n; i++) {
            double x = wg_host_draw(&e->init, stream, (uint64_t)i, seed);
            if (f64)
                ((double *)host)[i] = x;
            else
                ((float *)host)[i] = (float)x;
        }
        wg_status status = wg_session_write(session, e->node, host);
        free(host);
        if (status != WG_OK) return status;
    }
    return WG_OK;
}

int wg_registry_params(const wg_registry *registry, const char *network, wg_node *out, int max) {
    size_t len = strlen(network);
    int count = 0;
    for (int i = 0; i < registry->count; i++) {
        const wg_variable_entry *e = &registry->entries[i];
        if (!e->trainable || strncmp(e->name, network, len) != 0 || e->name[len] != '.') continue;
        if (count < max) out[count] = e->node;
        count++;
    }
    return count;
}
