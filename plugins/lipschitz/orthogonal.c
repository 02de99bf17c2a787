/* Orthogonal regularisation of the critic's weights: every critic weight W (biases and
 * norm gains excluded), reshaped to a matrix [out, rest] (a conv kernel [K, C, R, S] as
 * [K, C*R*S], a linear weight [out, in] as it is), is pushed towards orthonormal rows
 * through its Gram matrix G = W W^T [out, out]:
 *
 *     form: full          penalty = beta * sum_W |G - I|_F^2
 *                         (Brock, Lim, Ritchie and Weston 2017, "Neural photo editing
 *                         with introspective adversarial networks", beta |W^T W - I|^2
 *                         with the filters as W's columns, i.e. W W^T here)
 *     form: off_diagonal  penalty = beta * sum_W |G * (1 - I)|_F^2
 *                         (Brock, Donahue and Simonyan 2019, BigGAN: only the filters'
 *                         cosines, not their norms, are constrained)
 *
 * beta 1e-4 is BigGAN's value (its reference code applies the off-diagonal form to the
 * generator by default; here it is the critic's Lipschitz strategy). As a strategy it
 * replaces the others: one lipschitz plugin per experiment, so it cannot be combined
 * with a gradient penalty or spectral norm.
 *
 * How the weights reach the penalty: the runtime hands a strategy each critic weight
 * through `reparametrize` (here the identity: the forward pass uses W itself), always
 * before the critic step's penalty is built, since the loss applies the critic first.
 * The term of each weight is built there and kept by weight name; the penalty sums
 * the terms kept for the graph being built.
 *
 *     lipschitz: {plugin: orthogonal, beta: 1e-4, form: full}
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "wgan/plugin.h"

#define ORTHO_NAME 128

typedef struct ortho_term {
    char name[ORTHO_NAME];
    wg_node value;
} ortho_term;

typedef struct ortho_state {
    double beta;
    int off_diagonal;
    const wg_graph *graph; /* the graph the terms belong to */
    ortho_term *terms;
    int n, capacity;
} ortho_state;

static const char *const forms[] = {"full", "off_diagonal", NULL};

static wg_status create(const wg_cfg *config, void **state) {
    double beta;
    int form;
    wg_status status;
    if ((status = wg_cfg_double(config, "beta", 1e-4, 0, 1e6, &beta)) != WG_OK ||
        (status = wg_cfg_enum(config, "form", forms, 0, &form)) != WG_OK)
        return status;
    ortho_state *s = calloc(1, sizeof *s);
    if (!s) return wg_fail(WG_ERR_NOMEM, "out of memory creating orthogonal");
    s->beta = beta;
    s->off_diagonal = form == 1;
    *state = s;
    return WG_OK;
}

static void destroy(void *state) {
    ortho_state *s = state;
    free(s->terms);
    free(s);
}

/* |G * (1 - I)|_F^2 = |G|_F^2 - sum_i G_ii^2 for G = W W^T, W as [out, rest], and for
 * the full form + sum_i (G_ii - 1)^2, with G_ii = |w_i|^2 (row i): [1]. */
static wg_node weight_term(const ortho_state *s, wg_graph *g, wg_node weight) {
    wg_shape shape = wg_node_shape(g, weight);
    int64_t rows = shape.dim[0], cols = wg_shape_numel(&shape) / rows;
    wg_node w = wg_reshape(g, weight, wg_shape2(rows, cols));
    wg_node gram = wg_matmul(g, w, w, false, true);
    wg_node diagonal = wg_sum(g, wg_square(g, w), 0x2, false); /* G_ii, [rows] */
    wg_node term =
        wg_sub(g, wg_sum_all(g, wg_square(g, gram)), wg_sum_all(g, wg_square(g, diagonal)));
    if (!s->off_diagonal)
        term = wg_add(g, term, wg_sum_all(g, wg_square(g, wg_add_scalar(g, diagonal, -1))));
    return term;
}

static wg_status keep_term(ortho_state *s, const char *name, wg_node value) {
    if (strlen(name) >= ORTHO_NAME)
        return wg_fail(WG_ERR_INVALID, "orthogonal: weight name '%.60s...' is too long", name);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->terms[i].name, name) == 0) {
            s->terms[i].value = value;
            return WG_OK;
        }
    if (s->n == s->capacity) {
        int capacity = s->capacity ? 2 * s->capacity : 16;
        ortho_term *grown = realloc(s->terms, (size_t)capacity * sizeof *grown);
        if (!grown) return wg_fail(WG_ERR_NOMEM, "out of memory in orthogonal");
        s->terms = grown;
        s->capacity = capacity;
    }
    snprintf(s->terms[s->n].name, ORTHO_NAME, "%s", name);
    s->terms[s->n++].value = value;
    return WG_OK;
}

static wg_status reparametrize(void *state, wg_build *build, const char *name, wg_node weight,
                               wg_node *used) {
    ortho_state *s = state;
    wg_graph *g = wg_build_graph(build);
    wg_shape shape = wg_node_shape(g, weight);
    if (shape.ndim < 1 || wg_shape_numel(&shape) <= 0) {
        char buf[64];
        return wg_fail(WG_ERR_SHAPE, "orthogonal: weight '%s' has shape %s", name,
                       wg_shape_str(&shape, buf, sizeof buf));
    }
    if (s->graph != g) { /* a new experiment's graph: the old terms are gone with it */
        s->graph = g;
        s->n = 0;
    }
    *used = weight;
    wg_status status = keep_term(s, name, weight_term(s, g, weight));
    return status == WG_OK ? wg_graph_status(g) : status;
}

static wg_status penalty(void *state, wg_build *build, const wg_penalty_context *c, wg_node *out) {
    (void)c;
    ortho_state *s = state;
    wg_graph *g = wg_build_graph(build);
    if (s->graph != g || s->n == 0)
        return wg_fail(WG_ERR_INVALID,
                       "orthogonal: the critic has no weights in this graph (the penalty is "
                       "built after the critic is applied)");
    wg_node sum = s->terms[0].value;
    for (int i = 1; i < s->n; i++) sum = wg_add(g, sum, s->terms[i].value);
    *out = wg_scale(g, sum, s->beta);
    wg_build_add_metric(build, "penalty", *out);
    return wg_graph_status(g);
}

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable,
                                           .create = create,
                                           .destroy = destroy,
                                           .reparametrize = reparametrize,
                                           .penalty_ctx = penalty};
static const wg_plugin_desc desc = WG_PLUGIN_DESC(
    WG_PLUGIN_LIPSCHITZ, "orthogonal",
    "orthogonal regularisation: beta * |W W^T - I|_F^2 over the critic's weights (beta 1e-4)",
    &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
