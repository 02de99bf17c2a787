/* The least-squares GAN loss (Mao et al. 2017, LSGAN): the critic regresses real
 * scores to b and fake scores to a, the generator pulls fake scores to c,
 *
 *     critic     1/2 mean((real - b)^2) + 1/2 mean((fake - a)^2)
 *     generator  1/2 mean((fake - c)^2)
 *
 * The defaults are the 0-1 coding (a = 0, b = c = 1) the paper's experiments use; its
 * Pearson chi^2 choice is a = -1, b = 1, c = 0.
 *
 *     loss: {plugin: least_squares, a: 0, b: 1, c: 1}
 */
#include <stdlib.h>

#include "wgan/plugin.h"

typedef struct ls_state {
    double a, b, c;
} ls_state;

#define MAX_TARGET 1e6

static wg_status create(const wg_cfg *config, void **state) {
    ls_state s;
    wg_status status = wg_cfg_double(config, "a", 0, -MAX_TARGET, MAX_TARGET, &s.a);
    if (status == WG_OK) status = wg_cfg_double(config, "b", 1, -MAX_TARGET, MAX_TARGET, &s.b);
    if (status == WG_OK) status = wg_cfg_double(config, "c", 1, -MAX_TARGET, MAX_TARGET, &s.c);
    if (status != WG_OK) return status;
    if (s.a == s.b) /* the critic would have nothing to tell apart */
        return wg_cfg_error(wg_cfg_get(config, "b") ? wg_cfg_get(config, "b") : config,
                            "the targets a and b must differ (both %g)", s.a);
    ls_state *out = malloc(sizeof *out);
    if (!out) return wg_fail(WG_ERR_NOMEM, "out of memory creating the least_squares loss");
    *out = s;
    *state = out;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

/* 1/2 mean((scores - target)^2) */
static wg_node half_mean_square(wg_graph *g, wg_node scores, double target) {
    return wg_scale(g, wg_mean_all(g, wg_square(g, wg_add_scalar(g, scores, -target))), 0.5);
}

static wg_status critic_loss(void *state, wg_build *build, wg_node real, wg_node fake,
                             wg_node *loss) {
    const ls_state *s = state;
    wg_graph *g = wg_build_graph(build);
    *loss = wg_add(g, half_mean_square(g, real, s->b), half_mean_square(g, fake, s->a));
    return wg_graph_status(g);
}

static wg_status generator_loss(void *state, wg_build *build, wg_node fake, wg_node *loss) {
    const ls_state *s = state;
    wg_graph *g = wg_build_graph(build);
    *loss = half_mean_square(g, fake, s->c);
    return wg_graph_status(g);
}

static const wg_loss_vtable vtable = {.struct_size = sizeof vtable,
                                      .create = create,
                                      .destroy = destroy,
                                      .critic_loss = critic_loss,
                                      .generator_loss = generator_loss};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "least_squares",
                   "LSGAN: critic 1/2 mean((real-b)^2) + 1/2 mean((fake-a)^2), generator "
                   "1/2 mean((fake-c)^2); a 0, b 1, c 1",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
