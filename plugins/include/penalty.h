/* Pieces the built-in gradient penalties share (gradient_penalty, dragan, r1/r2, ct):
 * the critic's input gradient at a batch, per-sample norms and the WGAN-GP term. */
#ifndef WGAN_PLUGINS_PENALTY_H
#define WGAN_PLUGINS_PENALTY_H

#include <stdio.h>

#include "wgan/plugin.h"

/* [N, 1, ...]: one value per sample, broadcast over it. */
static inline wg_shape wgp_per_sample(wg_shape shape) {
    for (int k = 1; k < shape.ndim; k++) shape.dim[k] = 1;
    return shape;
}

/* The step's real and fake batches have one shape, a batch axis and at least one more. */
static inline wg_status wgp_check_batches(wg_graph *g, const wg_penalty_context *c,
                                          const char *who) {
    wg_shape real = wg_node_shape(g, c->real), fake = wg_node_shape(g, c->fake);
    if (wg_shape_equal(&real, &fake) && real.ndim >= 2) return WG_OK;
    char a[64], b[64];
    return wg_fail(WG_ERR_SHAPE,
                   "%s: real %s and fake %s batches must have the same shape, a batch axis and "
                   "at least one more",
                   who, wg_shape_str(&real, a, sizeof a), wg_shape_str(&fake, b, sizeof b));
}

/* d sum(scores) / d x: each sample's input gradient (the critic treats samples
 * independently unless it has batch norm). */
static inline wg_status wgp_input_gradient(wg_graph *g, wg_node scores, wg_node x, wg_node *grad) {
    return wg_grad(g, wg_sum_all(g, scores), 1, &x, grad);
}

/* mean_i |g_i|^2, as a sum of squares: sqrt has no derivative at 0. */
static inline wg_node wgp_mean_square_norm(wg_graph *g, wg_node grad) {
    return wg_scale(g, wg_sum_all(g, wg_square(g, grad)),
                    1.0 / (double)wg_node_shape(g, grad).dim[0]);
}

/* lambda * mean_i (|g_i| - target)^2 (one-sided: only the excess over target) of the
 * critic's input gradient at x_hat; *norm gets the per-sample norms [N]. */
static inline wg_status wgp_norm_penalty(wg_build *build, const wg_critic_fn *critic, wg_node x_hat,
                                         double lambda, double target, double epsilon,
                                         int one_sided, wg_node *norm, wg_node *out) {
    wg_graph *g = wg_build_graph(build);
    wg_node score = WG_NONE, grad = WG_NONE;
    wg_status status = critic->apply(critic->self, build, x_hat, &score);
    if (status == WG_OK) status = wgp_input_gradient(g, score, x_hat, &grad);
    if (status != WG_OK) return status;
    *norm = wg_norm_per_sample(g, grad, epsilon);
    wg_node excess = wg_add_scalar(g, *norm, -target);
    if (one_sided) excess = wg_relu(g, excess);
    *out = wg_scale(g, wg_mean_all(g, wg_square(g, excess)), lambda);
    return wg_graph_status(g);
}

/* WGAN-GP's term at x_hat = alpha real + (1 - alpha) fake, alpha ~ U(0, 1) per sample
 * (the draw "alpha"); x_hat is named "<who>.x_hat" and the mean norm logged as
 * "gp_norm_mean". */
static inline wg_status wgp_gradient_penalty(wg_build *build, const wg_penalty_context *c,
                                             const char *who, double lambda, double target,
                                             double epsilon, int one_sided, wg_node *out) {
    wg_graph *g = wg_build_graph(build);
    wg_status status = wgp_check_batches(g, c, who);
    if (status != WG_OK) return status;
    wg_node alpha = wg_random_uniform(g, "alpha", wgp_per_sample(wg_node_shape(g, c->real)), 0, 1);
    wg_node x_hat = wg_add(g, wg_mul(g, alpha, c->real),
                           wg_mul(g, wg_add_scalar(g, wg_neg(g, alpha), 1), c->fake));
    char name[64];
    snprintf(name, sizeof name, "%s.x_hat", who);
    wg_node_set_name(g, x_hat, name);
    wg_node norm = WG_NONE;
    status =
        wgp_norm_penalty(build, c->critic, x_hat, lambda, target, epsilon, one_sided, &norm, out);
    if (status == WG_OK) wg_build_add_metric(build, "gp_norm_mean", wg_mean_all(g, norm));
    return status;
}

#endif
