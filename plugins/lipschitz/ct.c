/* CT-GAN (Wei, Gong, Liu, Lu and Wang 2018, "Improving the improved training of
 * Wasserstein GANs: a consistency term and its dual effect"): WGAN-GP's gradient
 * penalty plus a consistency term that compares two passes of the critic over the
 * real batch, each with its own dropout masks (x' and x'' of the paper):
 *
 *     GP  = lambda * mean_i (|grad D(x_hat_i)| - 1)^2 at x_hat = alpha x + (1 - alpha)
 *           G(z), as plugins/lipschitz/gradient_penalty.c (draw "alpha", node
 *           "ct.x_hat")
 *     CT  = mean_i max(0, lambda_ct * (d_i + feature_weight * d__i) - margin)
 *           d_i  = (D(x_i') - D(x_i''))^2
 *           d__i = mean over k of (D_(x_i')_k - D_(x_i'')_k)^2, D_ the critic's
 *                  second-to-last layer (the input of its last linear map)
 *     penalty = GP + CT
 *
 * This is the reference code's form (CT_gan_mnist.py of the authors: LAMBDA = 10,
 * LAMBDA_2 = 2, Factor_M = 0, the D_ term weighted 0.1 and averaged over its units, the
 * margin taken after LAMBDA_2 is applied, dropout with keep probability 0.5 after every
 * hidden activation of the critic), and the paper's CT|x = E max(0, d(D(x'), D(x'')) +
 * 0.1 d(D_(x'), D_(x'')) - M') with d the squared distance. The paper uses M' = 0.2 for
 * CIFAR-10; set `margin` to it there.
 *
 * One difference from the reference code: there the critic always drops units, so the
 * loss and the gradient penalty see dropout too, and the loss's D(real) is one of the
 * two CT passes. Here the critic of the loss and of GP never drops anything; the two CT
 * passes are extra applications with dropout `dropout` (wg_build_apply_critic_dropout,
 * masks keyed by the application, "critic.<n>/<layer>.dropout"). The architecture
 * must support dropout and report its second-to-last layer (mlp and dcgan do);
 * `feature_weight: 0` drops the D_ term for one that reports none.
 *
 *     lipschitz: {plugin: ct, lambda: 10, lambda_ct: 2, margin: 0, dropout: 0.5,
 *                 feature_weight: 0.1}
 */
#include <stdlib.h>

#include "penalty.h"

typedef struct ct_state {
    double lambda, lambda_ct, margin, dropout, feature_weight;
} ct_state;

static wg_status create(const wg_cfg *config, void **state) {
    ct_state s;
    wg_status status;
    if ((status = wg_cfg_double(config, "lambda", 10, 0, 1e6, &s.lambda)) != WG_OK ||
        (status = wg_cfg_double(config, "lambda_ct", 2, 0, 1e6, &s.lambda_ct)) != WG_OK ||
        (status = wg_cfg_double(config, "margin", 0, 0, 1e6, &s.margin)) != WG_OK ||
        (status = wg_cfg_double(config, "dropout", 0.5, 0, 0.99, &s.dropout)) != WG_OK ||
        (status = wg_cfg_double(config, "feature_weight", 0.1, 0, 1e6, &s.feature_weight)) != WG_OK)
        return status;
    ct_state *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "out of memory creating ct");
    *copy = s;
    *state = copy;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

/* mean over every axis but the first of (a - b)^2, as [N, 1]. */
static wg_node mean_square_difference(wg_graph *g, wg_node a, wg_node b) {
    wg_node d = wg_square(g, wg_sub(g, a, b));
    wg_shape shape = wg_node_shape(g, d);
    int64_t n = shape.dim[0];
    d = wg_reshape(g, d, wg_shape2(n, wg_shape_numel(&shape) / n));
    return wg_mean(g, d, 0x2, true);
}

static wg_status consistency(const ct_state *s, wg_build *build, const wg_penalty_context *c,
                             wg_node *out) {
    wg_graph *g = wg_build_graph(build);
    wg_node score[2], features[2];
    for (int pass = 0; pass < 2; pass++) {
        wg_status status = wg_build_apply_critic_dropout(build, c->critic, s->dropout, c->real,
                                                         &score[pass], &features[pass]);
        if (status != WG_OK) return status;
    }
    wg_node d = mean_square_difference(g, score[0], score[1]);
    if (s->feature_weight > 0) {
        if (features[0] == WG_NONE || features[1] == WG_NONE)
            return wg_fail(WG_ERR_UNSUPPORTED,
                           "ct: the architecture does not report the critic's second-to-last "
                           "layer (wg_build_critic_features); set feature_weight: 0 to leave "
                           "out its term");
        wg_node d_ = mean_square_difference(g, features[0], features[1]);
        d = wg_add(g, d, wg_scale(g, d_, s->feature_weight));
    }
    wg_node excess = wg_add_scalar(g, wg_scale(g, d, s->lambda_ct), -s->margin);
    *out = wg_mean_all(g, wg_relu(g, excess));
    return wg_graph_status(g);
}

static wg_status penalty(void *state, wg_build *build, const wg_penalty_context *c, wg_node *out) {
    const ct_state *s = state;
    wg_graph *g = wg_build_graph(build);
    wg_node gp = WG_NONE, ct = WG_NONE;
    wg_status status = wgp_gradient_penalty(build, c, "ct", s->lambda, 1, 1e-12, 0, &gp);
    if (status == WG_OK) status = consistency(s, build, c, &ct);
    if (status != WG_OK) return status;
    *out = wg_add(g, gp, ct);
    wg_build_add_metric(build, "ct_gp", gp);
    wg_build_add_metric(build, "ct_consistency", ct);
    wg_build_add_metric(build, "penalty", *out);
    return wg_graph_status(g);
}

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable,
                                           .flags = WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS,
                                           .create = create,
                                           .destroy = destroy,
                                           .penalty_ctx = penalty};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "ct",
                   "CT-GAN (Wei et al. 2018): gradient penalty plus a consistency term between "
                   "two dropout passes of the critic on real data (lambda 10, lambda_ct 2)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
