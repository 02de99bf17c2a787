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
 *
 * `lipschitz_penalty` is the name users know for the one-sided form (Petzka et al.
 * 2018, "On the regularization of Wasserstein GANs", WGAN-LP: lambda E max(0,
 * |grad D(x_hat)| - 1)^2): this very plugin, with `mode: one_sided` as its default
 * and the other defaults unchanged (lambda 10, WGAN-GP's). The paper also discusses
 * sampling x_hat by perturbing real and generated points; the alias keeps WGAN-GP's
 * interpolates between them.
 *
 *     lipschitz: {plugin: lipschitz_penalty, lambda: 10}
 */
#include <stdlib.h>

#include "penalty.h"

typedef struct gp_state {
    double lambda, target, epsilon;
    int one_sided;
} gp_state;

static const char *const modes[] = {"two_sided", "one_sided", NULL};

static wg_status create_mode(const wg_cfg *config, int default_mode, void **state) {
    gp_state s;
    wg_status status;
    if ((status = wg_cfg_double(config, "lambda", 10, 0, 1e6, &s.lambda)) != WG_OK ||
        (status = wg_cfg_double(config, "target", 1, 0, 1e6, &s.target)) != WG_OK ||
        (status = wg_cfg_double(config, "epsilon", 1e-12, 0, 1, &s.epsilon)) != WG_OK ||
        (status = wg_cfg_enum(config, "mode", modes, default_mode, &s.one_sided)) != WG_OK)
        return status;
    gp_state *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "out of memory creating gradient_penalty");
    *copy = s;
    *state = copy;
    return WG_OK;
}

static wg_status create(const wg_cfg *config, void **state) {
    return create_mode(config, 0, state);
}

static wg_status create_one_sided(const wg_cfg *config, void **state) {
    return create_mode(config, 1, state);
}

static void destroy(void *state) {
    free(state);
}

static wg_status penalty(void *state, wg_build *build, const wg_penalty_context *context,
                         wg_node *out) {
    const gp_state *s = state;
    wg_status status = wgp_gradient_penalty(build, context, "gradient_penalty", s->lambda,
                                            s->target, s->epsilon, s->one_sided, out);
    if (status == WG_OK) wg_build_add_metric(build, "penalty", *out);
    return status;
}

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable,
                                           .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                           .create = create,
                                           .destroy = destroy,
                                           .penalty_ctx = penalty};
static const wg_lipschitz_vtable one_sided_vtable = {.struct_size = sizeof one_sided_vtable,
                                                     .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                                     .create = create_one_sided,
                                                     .destroy = destroy,
                                                     .penalty_ctx = penalty};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "gradient_penalty",
                   "WGAN-GP: lambda * (|grad critic(x_hat)| - target)^2 at interpolates "
                   "(lambda 10)",
                   &vtable);
static const wg_plugin_desc lp_desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "lipschitz_penalty",
                   "Petzka et al.'s LP: gradient_penalty with mode one_sided, "
                   "lambda * max(0, |grad| - 1)^2 (lambda 10)",
                   &one_sided_vtable);

WG_PLUGIN_EXPORT const wg_plugin_desc *const *wg_plugin_entry(int *count) {
    static const wg_plugin_desc *const list[] = {&desc, &lp_desc};
    *count = (int)(sizeof list / sizeof list[0]);
    return list;
}
