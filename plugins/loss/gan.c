/* The original GAN loss (Goodfellow et al. 2014) on logits: the critic is a
 * discriminator whose score s gives D = sigmoid(s), trained by binary cross-entropy,
 *
 *     critic     mean(softplus(-real)) + mean(softplus(fake))   (-log D(x) - log(1 - D(G(z))))
 *     generator  minimax:         -mean(softplus(fake))         (log(1 - D(G(z))))
 *                non_saturating:   mean(softplus(-fake))        (-log D(G(z)))
 *
 *     loss: {plugin: gan, mode: non_saturating}
 */
#include <stdlib.h>

#include "wgan/plugin.h"

typedef struct gan_state {
    int minimax;
} gan_state;

static const char *const modes[] = {"non_saturating", "minimax", NULL};

static wg_status create(const wg_cfg *config, void **state) {
    int mode;
    wg_status status = wg_cfg_enum(config, "mode", modes, 0, &mode);
    if (status != WG_OK) return status;
    gan_state *s = malloc(sizeof *s);
    if (!s) return wg_fail(WG_ERR_NOMEM, "out of memory creating the gan loss");
    s->minimax = mode == 1;
    *state = s;
    return WG_OK;
}

static void destroy(void *state) {
    free(state);
}

static wg_status critic_loss(void *state, wg_build *build, wg_node real, wg_node fake,
                             wg_node *loss) {
    (void)state;
    wg_graph *g = wg_build_graph(build);
    *loss = wg_add(g, wg_mean_all(g, wg_softplus(g, wg_neg(g, real))),
                   wg_mean_all(g, wg_softplus(g, fake)));
    return wg_graph_status(g);
}

static wg_status generator_loss(void *state, wg_build *build, wg_node fake, wg_node *loss) {
    const gan_state *s = state;
    wg_graph *g = wg_build_graph(build);
    *loss = s->minimax ? wg_neg(g, wg_mean_all(g, wg_softplus(g, fake)))
                       : wg_mean_all(g, wg_softplus(g, wg_neg(g, fake)));
    return wg_graph_status(g);
}

static const wg_loss_vtable vtable = {.struct_size = sizeof vtable,
                                      .create = create,
                                      .destroy = destroy,
                                      .critic_loss = critic_loss,
                                      .generator_loss = generator_loss};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "gan",
                   "standard GAN, binary cross-entropy on logits (mode non_saturating or "
                   "minimax)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
