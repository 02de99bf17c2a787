/* Gradient penalty (Gulrajani et al. 2017, WGAN-GP): at points x_hat = alpha real +
 * (1 - alpha) fake, with one alpha ~ U(0, 1) per sample (the draw "alpha"), the
 * critic's input gradient g is pushed towards norm `target`:
 *
 *     penalty = lambda * mean_i (|g_i| - target)^2          mode: two_sided
 *     penalty = lambda * mean_i max(0, |g_i| - target)^2    mode: one_sided
 *     |g_i| = sqrt(sum of g_i^2 over all non-batch axes + epsilon)
 *
 * The gradient is itself graph nodes, so the runtime differentiates the penalty with
 * respect to the critic's parameters like any other term (a second derivative).
 *
 *     lipschitz: {plugin: gradient_penalty, lambda: 10, target: 1, mode: two_sided,
 *                 epsilon: 1e-12}
 */
#include <stdlib.h>

#include "wgan/plugin.h"

typedef struct gp_state {
    double lambda, target, epsilon;
    int one_sided;
} gp_state;

static const char *const modes[] = {"two_sided", "one_sided", NULL};

static wg_status create(const wg_cfg *config, void **state) {
    gp_state s;
    wg_status status;
    if ((status = wg_cfg_double(config, "lambda", 10, 0, 1e6, &s.lambda)) != WG_OK ||
        (status = wg_cfg_double(config, "target", 1, 0, 1e6, &s.target)) != WG_OK ||
        (status = wg_cfg_double(config, "epsilon", 1e-12, 0, 1, &s.epsilon)) != WG_OK ||
        (status = wg_cfg_enum(config, "mode", modes, 0, &s.one_sided)) != WG_OK)
        return status;
    gp_state *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "out of memory creating gradient_penalty");
    *copy = s;
    *state = copy;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

static wg_status penalty(void *state, wg_build *build, const wg_penalty_context *context,
                         wg_node *out) {
    const gp_state *s = state;
    wg_graph *g = wg_build_graph(build);
    wg_node real = context->real, fake = context->fake;
    wg_shape shape = wg_node_shape(g, real), fake_shape = wg_node_shape(g, fake);
    if (!wg_shape_equal(&shape, &fake_shape) || shape.ndim < 2) {
        char a[64], b[64];
        return wg_fail(WG_ERR_SHAPE,
                       "gradient_penalty: real %s and fake %s batches must have the same "
                       "shape, a batch axis and at least one more",
                       wg_shape_str(&shape, a, sizeof a), wg_shape_str(&fake_shape, b, sizeof b));
    }

    wg_shape per_sample = shape; /* [N, 1, ...]: one weight broadcast over each sample */
    for (int k = 1; k < shape.ndim; k++) per_sample.dim[k] = 1;
    wg_node alpha = wg_random_uniform(g, "alpha", per_sample, 0, 1);
    wg_node x_hat =
        wg_add(g, wg_mul(g, alpha, real), wg_mul(g, wg_add_scalar(g, wg_neg(g, alpha), 1), fake));
    wg_node_set_name(g, x_hat, "gradient_penalty.x_hat");

    wg_node score = WG_NONE;
    wg_status status = context->critic->apply(context->critic->self, build, x_hat, &score);
    if (status != WG_OK) return status;
    wg_node grad = WG_NONE;
    status = wg_grad(g, wg_sum_all(g, score), 1, &x_hat, &grad);
    if (status != WG_OK) return status;

    wg_node norm = wg_norm_per_sample(g, grad, s->epsilon);
    wg_node excess = wg_add_scalar(g, norm, -s->target);
    if (s->one_sided) excess = wg_relu(g, excess);
    *out = wg_scale(g, wg_mean_all(g, wg_square(g, excess)), s->lambda);
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
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "gradient_penalty",
                   "WGAN-GP: lambda * (|grad critic(x_hat)| - target)^2 at interpolates "
                   "(lambda 10)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
