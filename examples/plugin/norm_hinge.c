/* norm_hinge: a one-sided gradient-norm penalty at the data and generated samples
 * themselves (no interpolates, so no random draws):
 *
 *     penalty = lambda * mean over the 2N samples x of max(0, |grad critic(x)| - margin)^2
 *
 *     lipschitz: {plugin: norm_hinge, lambda: 10, margin: 1}
 *
 * Built out of tree against an installed wgan, see README.md beside it. */
#include <stdlib.h>

#include <wgan/plugin.h>

typedef struct hinge {
    double lambda, margin;
} hinge;

static wg_status create(const wg_cfg *config, void **state) {
    hinge h;
    wg_status s;
    if ((s = wg_cfg_double(config, "lambda", 10, 0, 1e6, &h.lambda)) != WG_OK ||
        (s = wg_cfg_double(config, "margin", 1, 0, 1e6, &h.margin)) != WG_OK)
        return s;
    hinge *copy = malloc(sizeof *copy);
    if (!copy) return wg_fail(WG_ERR_NOMEM, "norm_hinge: out of memory");
    *copy = h;
    *state = copy;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

static wg_status penalty(void *state, wg_build *build, const wg_critic_fn *critic, wg_node real,
                         wg_node fake, wg_node *out) {
    const hinge *h = state;
    wg_graph *g = wg_build_graph(build);
    wg_shape a = wg_node_shape(g, real), b = wg_node_shape(g, fake);
    if (!wg_shape_equal(&a, &b) || a.ndim < 2)
        return wg_fail(WG_ERR_SHAPE, "norm_hinge: real and fake batches differ in shape");
    wg_node both[2] = {real, fake}, score = WG_NONE, grad = WG_NONE;
    wg_node x = wg_concat(g, 2, both, 0);
    wg_status s = critic->apply(critic->self, build, x, &score);
    if (s == WG_OK) s = wg_grad(g, wg_sum_all(g, score), 1, &x, &grad);
    if (s != WG_OK) return s;
    unsigned non_batch = ((1u << a.ndim) - 1) & ~1u; /* every axis but 0 */
    wg_node norm = wg_sqrt(g, wg_add_scalar(g, wg_sum(g, wg_square(g, grad), non_batch, 0), 1e-12));
    wg_node excess = wg_relu(g, wg_add_scalar(g, norm, -h->margin));
    *out = wg_scale(g, wg_mean_all(g, wg_square(g, excess)), h->lambda);
    wg_build_add_metric(build, "hinge_norm_mean", wg_mean_all(g, norm));
    return wg_graph_status(g);
}

static const wg_lipschitz_vtable vtable = {
    sizeof vtable, WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS, create, destroy, NULL, penalty, NULL};
static const wg_plugin_desc desc = WG_PLUGIN_DESC(
    WG_PLUGIN_LIPSCHITZ, "norm_hinge",
    "one-sided penalty lambda * max(0, |grad critic(x)| - margin)^2 at real and fake x", &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
