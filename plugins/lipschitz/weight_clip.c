/* Weight clipping (Arjovsky et al. 2017): after every critic update, every critic
 * parameter, weights and biases alike as in the official WGAN code, is clamped to
 * [-clip, clip].
 *
 *     lipschitz: {plugin: weight_clip, clip: 0.01}
 */
#include <stdlib.h>

#include "wgan/plugin.h"

typedef struct clip_state {
    double clip;
} clip_state;

#define MAX_CLIP 1e6

static wg_status create(const wg_cfg *config, void **state) {
    double clip;
    wg_status status = wg_cfg_double(config, "clip", 0.01, 0, MAX_CLIP, &clip);
    if (status != WG_OK) return status;
    if (clip == 0) { /* the range check is inclusive; zero would freeze the critic */
        const wg_cfg *node = wg_cfg_get(config, "clip");
        return wg_cfg_error(node, "got '%s', must be a number in (0, %.15g]", wg_cfg_text(node),
                            MAX_CLIP);
    }
    clip_state *s = malloc(sizeof *s);
    if (!s) return wg_fail(WG_ERR_NOMEM, "out of memory creating weight_clip");
    s->clip = clip;
    *state = s;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

static wg_status project(void *state, wg_build *build, const char *name, wg_param_role role,
                         wg_node updated, wg_node *projected) {
    (void)name;
    (void)role;
    const clip_state *s = state;
    wg_graph *graph = wg_build_graph(build);
    *projected = wg_clamp(graph, updated, -s->clip, s->clip);
    return wg_graph_status(graph);
}

static const wg_lipschitz_vtable vtable = {
    .struct_size = sizeof vtable, .create = create, .destroy = destroy, .project = project};
static const wg_plugin_desc desc = WG_PLUGIN_DESC(
    WG_PLUGIN_LIPSCHITZ, "weight_clip",
    "WGAN weight clipping: critic parameters clamped to [-clip, clip] (clip 0.01)", &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
