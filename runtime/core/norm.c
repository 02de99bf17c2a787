/* Batch and layer normalisation and the per-sample norm, composed of primitive ops so
 * that autodiff differentiates them to any order without special rules. */
#include "graph_internal.h"

#include <stddef.h>

/* Shape of `shape` with every axis in `axes_mask` set to 1. */
static wg_shape reduced_shape(wg_shape shape, unsigned axes_mask) {
    for (int k = 0; k < shape.ndim; k++)
        if (axes_mask & (1u << k)) shape.dim[k] = 1;
    return shape;
}

/* (x - mean) / sqrt(var + eps) over `axes_mask`, with the statistics returned too. */
static wg_node standardize(wg_graph *graph, wg_node x, unsigned axes_mask, double eps,
                           wg_node *mean_out, wg_node *var_out) {
    wg_node mean = wg_mean(graph, x, axes_mask, true);
    wg_node centered = wg_sub(graph, x, mean);
    wg_node var = wg_mean(graph, wg_square(graph, centered), axes_mask, true);
    if (mean_out) *mean_out = mean;
    if (var_out) *var_out = var;
    return wg_mul(graph, centered, wg_rsqrt(graph, wg_add_scalar(graph, var, eps)));
}

static wg_node affine(wg_graph *graph, wg_node y, wg_node gamma, wg_node beta,
                      wg_shape param_shape) {
    if (gamma != WG_NONE) y = wg_mul(graph, y, wg_reshape(graph, gamma, param_shape));
    if (beta != WG_NONE) y = wg_add(graph, y, wg_reshape(graph, beta, param_shape));
    return y;
}

wg_node wg_batch_norm(wg_graph *graph, wg_node x, wg_node gamma, wg_node beta, double eps,
                      wg_node running_mean, wg_node running_var, double momentum,
                      wg_node updates[2]) {
    if (x == WG_NONE || graph->status != WG_OK) return WG_NONE;
    wg_shape shape = wg_node_shape(graph, x);
    if (shape.ndim < 2)
        return wg_graph_fail(graph, WG_ERR_SHAPE, "batch_norm needs [N, C, ...], got %d-D",
                             shape.ndim);
    unsigned axes = ((1u << shape.ndim) - 1) & ~2u;
    wg_shape channel = reduced_shape(shape, axes);
    int64_t per_channel = wg_shape_numel(&shape) / shape.dim[1];
    wg_node mean, var;
    wg_node y = standardize(graph, x, axes, eps, &mean, &var);
    y = affine(graph, y, gamma, beta, channel);
    if (updates && running_mean != WG_NONE && running_var != WG_NONE) {
        if (per_channel < 2)
            return wg_graph_fail(graph, WG_ERR_SHAPE,
                                 "batch_norm: one value per channel has no unbiased variance");
        wg_shape flat = wg_shape1(shape.dim[1]);
        wg_node batch_mean = wg_reshape(graph, mean, flat);
        wg_node batch_var =
            wg_scale(graph, wg_reshape(graph, var, flat), (double)per_channel / (per_channel - 1));
        updates[0] = wg_assign(graph, running_mean,
                               wg_add(graph, wg_scale(graph, running_mean, 1 - momentum),
                                      wg_scale(graph, batch_mean, momentum)));
        updates[1] = wg_assign(graph, running_var,
                               wg_add(graph, wg_scale(graph, running_var, 1 - momentum),
                                      wg_scale(graph, batch_var, momentum)));
    }
    return y;
}

wg_node wg_layer_norm(wg_graph *graph, wg_node x, wg_node gamma, wg_node beta, double eps) {
    if (x == WG_NONE || graph->status != WG_OK) return WG_NONE;
    wg_shape shape = wg_node_shape(graph, x);
    if (shape.ndim < 2)
        return wg_graph_fail(graph, WG_ERR_SHAPE, "layer_norm needs [N, ...], got %d-D",
                             shape.ndim);
    unsigned axes = ((1u << shape.ndim) - 1) & ~1u;
    wg_node y = standardize(graph, x, axes, eps, NULL, NULL);
    wg_shape sample = shape;
    sample.dim[0] = 1;
    return affine(graph, y, gamma, beta, sample);
}

wg_node wg_norm_per_sample(wg_graph *graph, wg_node x, double eps) {
    if (x == WG_NONE || graph->status != WG_OK) return WG_NONE;
    if (!(eps >= 0))
        return wg_graph_fail(graph, WG_ERR_INVALID, "norm_per_sample needs eps >= 0, got %g", eps);
    int ndim = wg_node_shape(graph, x).ndim;
    wg_node sum = wg_sum(graph, wg_square(graph, x), ((1u << ndim) - 1) & ~1u, false);
    return wg_sqrt(graph, eps > 0 ? wg_add_scalar(graph, sum, eps) : sum);
}
