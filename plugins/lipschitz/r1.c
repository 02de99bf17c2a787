/* R1 and R2 regularisation (Mescheder, Geiger and Nowozin 2018, "Which training methods
 * for GANs do actually converge?", eq. 9 and 10): the squared norm of the critic's input
 * gradient at the real (R1), resp. generated (R2), samples of the step,
 *
 *     r1: penalty = gamma / 2 * mean_i |grad_x D(x_i)|^2,   x_i the real batch
 *     r2: penalty = gamma / 2 * mean_i |grad_x D(x_i)|^2,   x_i the generated batch
 *     |g|^2 = sum of g^2 over all non-batch axes
 *
 * The gradient is taken of the very scores the loss sees (wg_penalty_context's
 * real_scores / fake_scores), so no second forward pass is made. The default gamma is
 * 10 (the value StyleGAN, Karras et al. 2019, trains its R1 with); the paper pairs the
 * penalty with the non-saturating GAN loss (`loss: {plugin: gan}`).
 *
 *     lipschitz: {plugin: r1, gamma: 10}
 *     lipschitz: {plugin: r2, gamma: 10}
 */
#include <stdlib.h>

#include "penalty.h"

typedef struct r_state {
    double gamma;
} r_state;

static wg_status create(const wg_cfg *config, void **state) {
    double gamma;
    wg_status status = wg_cfg_double(config, "gamma", 10, 0, 1e6, &gamma);
    if (status != WG_OK) return status;
    r_state *s = malloc(sizeof *s);
    if (!s) return wg_fail(WG_ERR_NOMEM, "out of memory creating r1/r2");
    s->gamma = gamma;
    *state = s;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

static wg_status penalty_at(const r_state *s, wg_build *build, wg_node x, wg_node scores,
                            wg_node *out) {
    wg_graph *g = wg_build_graph(build);
    wg_node grad = WG_NONE;
    wg_status status = wgp_input_gradient(g, scores, x, &grad);
    if (status != WG_OK) return status;
    *out = wg_scale(g, wgp_mean_square_norm(g, grad), s->gamma / 2);
    wg_build_add_metric(build, "penalty", *out);
    return wg_graph_status(g);
}

static wg_status r1_penalty(void *state, wg_build *build, const wg_penalty_context *c,
                            wg_node *out) {
    return penalty_at(state, build, c->real, c->real_scores, out);
}

static wg_status r2_penalty(void *state, wg_build *build, const wg_penalty_context *c,
                            wg_node *out) {
    return penalty_at(state, build, c->fake, c->fake_scores, out);
}

static const wg_lipschitz_vtable r1_vtable = {.struct_size = sizeof r1_vtable,
                                              .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                              .create = create,
                                              .destroy = destroy,
                                              .penalty_ctx = r1_penalty};
static const wg_lipschitz_vtable r2_vtable = {.struct_size = sizeof r2_vtable,
                                              .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                              .create = create,
                                              .destroy = destroy,
                                              .penalty_ctx = r2_penalty};
static const wg_plugin_desc r1_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_LIPSCHITZ, "r1",
    "R1 (Mescheder et al. 2018): gamma/2 * |grad critic(x)|^2 at real samples (gamma 10)",
    &r1_vtable);
static const wg_plugin_desc r2_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_LIPSCHITZ, "r2",
    "R2 (Mescheder et al. 2018): gamma/2 * |grad critic(x)|^2 at generated samples (gamma 10)",
    &r2_vtable);

WG_PLUGIN_EXPORT const wg_plugin_desc *const *wg_plugin_entry(int *count) {
    static const wg_plugin_desc *const list[] = {&r1_desc, &r2_desc};
    *count = (int)(sizeof list / sizeof list[0]);
    return list;
}
