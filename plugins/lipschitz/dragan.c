/* DRAGAN (Kodali, Abernethy, Hays and Kira 2017, "On convergence and stability of
 * GANs"): a gradient penalty at points near the real data, where the paper locates the
 * sharp gradients of mode collapse. This is the variant of the authors' reference code
 * (their TensorFlow notebook), not the paper's Gaussian noise: a one-sided
 * uniform perturbation scaled by the batch's spread, then a point on the segment to it,
 *
 *     u      ~ U(0, 1) per element                     (draw "perturbation")
 *     x_p    = x + 0.5 * std(x) * u                    std over every element of the real
 *                                                      batch, population form (numpy's
 *                                                      x.std()), `spread` 0.5
 *     alpha  ~ U(0, 1) per sample                      (draw "alpha")
 *     x_hat  = x + alpha * (x_p - x)                   (node "dragan.x_hat")
 *     penalty = lambda * mean_i (|grad D(x_hat_i)| - 1)^2
 *     |g| = sqrt(sum of g^2 over all non-batch axes + epsilon)
 *
 * lambda 10 as the reference code, which uses the standard GAN loss
 * (`loss: {plugin: gan}`). On the 8-gaussians toy the perturbations reach about half
 * the distance between modes; experiments/wgan-dragan-8gaussians.yaml scales lambda to
 * 0.1 there.
 *
 *     lipschitz: {plugin: dragan, lambda: 10, spread: 0.5, epsilon: 1e-12}
 */
#include <stdlib.h>

#include "penalty.h"

typedef struct dragan_state {
    double lambda, spread, epsilon;
} dragan_state;

static wg_status create(const wg_cfg *config, void **state) {
    dragan_state s;
    wg_status status;
    if ((status = wg_cfg_double(config, "lambda", 10, 0, 1e6, &s.lambda)) != WG_OK ||
        (status = wg_cfg_double(config, "spread", 0.5, 0, 1e6, &s.spread)) != WG_OK ||
        (status = wg_cfg_double(config, "epsilon", 1e-12, 0, 1, &s.epsilon)) != WG_OK)
        return status;
    dragan_state *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "out of memory creating dragan");
    *copy = s;
    *state = copy;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

/* Standard deviation of all elements of x, population form: [1]. */
static wg_node std_all(wg_graph *g, wg_node x) {
    wg_node centered = wg_sub(g, x, wg_mean_all(g, x));
    return wg_sqrt(g, wg_mean_all(g, wg_square(g, centered)));
}

static wg_status penalty(void *state, wg_build *build, const wg_penalty_context *c, wg_node *out) {
    const dragan_state *s = state;
    wg_graph *g = wg_build_graph(build);
    wg_status status = wgp_check_batches(g, c, "dragan");
    if (status != WG_OK) return status;
    wg_shape shape = wg_node_shape(g, c->real);
    wg_node u = wg_random_uniform(g, "perturbation", shape, 0, 1);
    wg_node scale = wg_scale(g, std_all(g, c->real), s->spread);
    wg_node difference = wg_mul(g, scale, u); /* x_p - x */
    wg_node alpha = wg_random_uniform(g, "alpha", wgp_per_sample(shape), 0, 1);
    wg_node x_hat = wg_add(g, c->real, wg_mul(g, alpha, difference));
    wg_node_set_name(g, x_hat, "dragan.x_hat");
    wg_node norm = WG_NONE;
    status = wgp_norm_penalty(build, c->critic, x_hat, s->lambda, 1, s->epsilon, 0, &norm, out);
    if (status != WG_OK) return status;
    wg_build_add_metric(build, "gp_norm_mean", wg_mean_all(g, norm));
    wg_build_add_metric(build, "penalty", *out);
    return wg_graph_status(g);
}

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable,
                                           .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                           .create = create,
                                           .destroy = destroy,
                                           .penalty_ctx = penalty};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "dragan",
                   "DRAGAN (Kodali et al. 2017): lambda * (|grad critic(x_hat)| - 1)^2 near the "
                   "real data, as the reference code (lambda 10)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
