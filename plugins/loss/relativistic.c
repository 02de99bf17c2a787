/* Relativistic GAN losses (Jolicoeur-Martineau 2018, "The relativistic discriminator: a
 * key element missing from standard GAN"): the critic judges how much more realistic
 * real data is than generated data, and the generator's loss is the same with the
 * roles swapped, so it also needs the critic's scores on real data. With r = D(real),
 * f = D(G(z)) (scores on logits, [N, 1]) and a base function phi,
 *
 *   RSGAN (average: false), real and generated samples paired by batch position:
 *     critic     mean_i phi(r_i - f_i)
 *     generator  mean_i phi(f_i - r_i)
 *   RaGAN (average: true), against the other batch's mean:
 *     critic     mean_i phi(r_i - mean(f)) + mean_i phi(mean(r) - f_i)
 *     generator  mean_i phi(f_i - mean(r)) + mean_i phi(mean(f) - r_i)
 *
 *   base           phi(y)              the paper's name
 *   standard       softplus(-y)        RSGAN / RaSGAN (-log sigmoid(y), non-saturating)
 *   wasserstein    -y                  RSGAN = the WGAN loss, RaGAN = twice it
 *   hinge          relu(1 - y)         RaHingeGAN
 *   least_squares  (y - 1)^2           RaLSGAN
 *
 * (phi(-y) is the paper's second function f2 for each base, hence one function.) These
 * are the paper's equations; its reference code halves the two RaGAN terms, a constant
 * factor. Defaults: RaSGAN, the paper's main method.
 *
 *     loss: {plugin: relativistic, average: true, base: standard}
 *
 * The runtime evaluates the generator loss's D(real) on the real batch of the
 * generator step's last critic step (docs/experiments.md). */
#include <stdbool.h>
#include <stdlib.h>

#include "wgan/plugin.h"

typedef enum rel_base { BASE_STANDARD, BASE_WASSERSTEIN, BASE_HINGE, BASE_LEAST_SQUARES } rel_base;
static const char *const base_names[] = {"standard", "wasserstein", "hinge", "least_squares", NULL};

typedef struct rel_state {
    rel_base base;
    bool average;
} rel_state;

static wg_status create(const wg_cfg *config, void **state) {
    rel_state s;
    int base;
    wg_status status = wg_cfg_bool(config, "average", true, &s.average);
    if (status == WG_OK) status = wg_cfg_enum(config, "base", base_names, BASE_STANDARD, &base);
    if (status != WG_OK) return status;
    s.base = (rel_base)base;
    rel_state *out = malloc(sizeof *out);
    if (!out) return wg_fail(WG_ERR_NOMEM, "out of memory creating the relativistic loss");
    *out = s;
    *state = out;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

/* mean(phi(y)) */
static wg_node mean_phi(wg_graph *g, rel_base base, wg_node y) {
    wg_node v = WG_NONE;
    switch (base) {
    case BASE_STANDARD: v = wg_softplus(g, wg_neg(g, y)); break;
    case BASE_WASSERSTEIN: v = wg_neg(g, y); break;
    case BASE_HINGE: v = wg_relu(g, wg_add_scalar(g, wg_neg(g, y), 1)); break;
    case BASE_LEAST_SQUARES: v = wg_square(g, wg_add_scalar(g, y, -1)); break;
    }
    return wg_mean_all(g, v);
}

/* The loss of the side whose scores `a` should exceed the other side's `b`: the critic's
 * with (real, fake), the generator's with (fake, real). */
static wg_node relativistic(const rel_state *s, wg_graph *g, wg_node a, wg_node b) {
    if (!s->average) return mean_phi(g, s->base, wg_sub(g, a, b));
    wg_node mean_a = wg_reshape(g, wg_mean_all(g, a), wg_shape2(1, 1));
    wg_node mean_b = wg_reshape(g, wg_mean_all(g, b), wg_shape2(1, 1));
    return wg_add(g, mean_phi(g, s->base, wg_sub(g, a, mean_b)),
                  mean_phi(g, s->base, wg_sub(g, mean_a, b)));
}

static wg_status critic_loss(void *state, wg_build *build, wg_node real, wg_node fake,
                             wg_node *loss) {
    wg_graph *g = wg_build_graph(build);
    *loss = relativistic(state, g, real, fake);
    return wg_graph_status(g);
}

static wg_status generator_loss_ctx(void *state, wg_build *build,
                                    const wg_generator_loss_context *context, wg_node *loss) {
    wg_graph *g = wg_build_graph(build);
    *loss = relativistic(state, g, context->fake_scores, context->real_scores);
    return wg_graph_status(g);
}

static const wg_loss_vtable vtable = {.struct_size = sizeof vtable,
                                      .create = create,
                                      .destroy = destroy,
                                      .critic_loss = critic_loss,
                                      .generator_loss_ctx = generator_loss_ctx};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "relativistic",
                   "relativistic GAN: RaGAN (average true) or RSGAN, base standard, "
                   "wasserstein, hinge or least_squares; RaSGAN by default",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
