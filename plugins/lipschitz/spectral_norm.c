/* Spectral normalisation (Miyato et al. 2018): every critic weight W is used as
 * W / sigma(W), sigma estimated by power iteration from a vector u kept between steps.
 *
 * W is viewed as a matrix [rows, cols] with rows = its first axis: [out, in] for a
 * PyTorch-style linear weight, [K, C*R*S] for a conv kernel [K, C, R, S]. For
 * convolutions this is the variant of Miyato et al. and of their reference code (and
 * of torch.nn.utils.spectral_norm): the largest singular value of the reshaped kernel
 * matrix, by the same power iteration as for a linear weight. It is not the spectral
 * norm of the convolution as a linear map of the whole feature map (which depends on
 * stride, padding and input size, and which the reshaped matrix only approximates;
 * Gouk et al. 2018, Sedghi et al. 2019 compute that one); tests/test_lipschitz.c
 * checks both layouts against a host power iteration. A linear
 * weight stored [in, out] (for x @ W) gives the transposed matrix: the same sigma, with
 * u of length `in`. u is network state "<weight name>.sn_u", drawn N(0, 1) and
 * normalised when used.
 *
 * One step, with k = power_iterations and n(x) = x / max(|x|, eps):
 *
 *     v     = n(W^T u)            u as stored by the previous step
 *     sigma = |W^T u|             = u^T W v
 *     used  = W / sigma
 *     then k times: u = n(W v), v = n(W^T u)  (the last v is dropped)
 *     and u is stored for the next step.
 *
 * PyTorch (torch.nn.utils.spectral_norm) runs its power iteration under no_grad, so
 * sigma = u^T W v differentiates as if u and v were constants: d sigma / dW = u v^T.
 * Here the graph has no stop-gradient, and none is needed: sigma = |W^T u| with u a
 * stored value has exactly that derivative, u v^T, because v = n(W^T u) is unit and the
 * change of v is orthogonal to v. The vectors follow PyTorch's sequence exactly (each
 * step: v from W and the previous u, then u from W and v), so the stored u after each
 * step is PyTorch's weight_u for the same weights. The one difference is which u enters
 * sigma: PyTorch's step already used the new u (sigma = |W v|), this one the previous
 * u (sigma = |W^T u_prev|), half an iteration behind; both are lower bounds of the
 * largest singular value that converge to it as the power iteration does.
 *
 *     lipschitz: {plugin: spectral_norm, power_iterations: 1, eps: 1e-12}
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "wgan/plugin.h"

typedef struct sn_state {
    int iterations;
    double eps;
} sn_state;

static wg_status create(const wg_cfg *config, void **state) {
    sn_state s;
    wg_status status;
    if ((status = wg_cfg_int(config, "power_iterations", 1, 1, 100, &s.iterations)) != WG_OK ||
        (status = wg_cfg_double(config, "eps", 1e-12, 0, 1, &s.eps)) != WG_OK)
        return status;
    sn_state *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "out of memory creating spectral_norm");
    *copy = s;
    *state = copy;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

/* Euclidean norm of a [n, 1] column as a [1] node. */
static wg_node norm(wg_graph *g, wg_node x) {
    return wg_sqrt(g, wg_sum_all(g, wg_square(g, x)));
}

/* x / max(|x|, eps), as torch.nn.functional.normalize. */
static wg_node normalize(wg_graph *g, wg_node x, double eps) {
    return wg_div(g, x, wg_clamp(g, norm(g, x), eps, FLT_MAX));
}

static wg_status reparametrize(void *state, wg_build *build, const char *name, wg_node weight,
                               wg_node *used) {
    const sn_state *s = state;
    wg_graph *g = wg_build_graph(build);
    wg_shape shape = wg_node_shape(g, weight);
    if (shape.ndim < 1 || wg_shape_numel(&shape) <= 0) {
        char buf[64];
        return wg_fail(WG_ERR_SHAPE, "spectral_norm: weight '%s' has shape %s", name,
                       wg_shape_str(&shape, buf, sizeof buf));
    }
    int64_t rows = shape.dim[0], cols = wg_shape_numel(&shape) / rows;
    wg_node w = wg_reshape(g, weight, wg_shape2(rows, cols));

    char u_name[256];
    snprintf(u_name, sizeof u_name, "%s.sn_u", name);
    wg_node u_state =
        wg_build_state(build, u_name, wg_shape1(rows), (wg_init){.kind = WG_INIT_NORMAL, .b = 1});
    wg_node u = normalize(g, wg_reshape(g, u_state, wg_shape2(rows, 1)), s->eps);

    wg_node wt_u = wg_matmul(g, w, u, true, false); /* [cols, 1] */
    wg_node sigma = norm(g, wt_u);
    wg_node v = wg_div(g, wt_u, wg_clamp(g, sigma, s->eps, FLT_MAX));
    *used = wg_div(g, weight, sigma);

    for (int i = 0; i < s->iterations; i++) {
        u = normalize(g, wg_matmul(g, w, v, false, false), s->eps);
        if (i + 1 < s->iterations) v = normalize(g, wg_matmul(g, w, u, true, false), s->eps);
    }
    wg_build_add_update(build, wg_assign(g, u_state, wg_reshape(g, u, wg_shape1(rows))));
    return wg_graph_status(g);
}

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable,
                                           .create = create,
                                           .destroy = destroy,
                                           .reparametrize = reparametrize};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "spectral_norm",
                   "spectral normalisation: critic weights divided by their largest singular "
                   "value, by power iteration (1 per step)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
