/* The hinge loss (Lim & Ye 2017; Miyato et al. 2018): the critic pushes real scores
 * above 1 and fake scores below -1, the generator raises fake scores. */
#include "wgan/plugin.h"

static wg_status critic_loss(void *state, wg_build *build, wg_node real, wg_node fake,
                             wg_node *loss) {
    (void)state;
    wg_graph *g = wg_build_graph(build);
    wg_node real_term = wg_mean_all(g, wg_relu(g, wg_add_scalar(g, wg_neg(g, real), 1)));
    wg_node fake_term = wg_mean_all(g, wg_relu(g, wg_add_scalar(g, fake, 1)));
    *loss = wg_add(g, real_term, fake_term);
    return wg_graph_status(g);
}

static wg_status generator_loss(void *state, wg_build *build, wg_node fake, wg_node *loss) {
    (void)state;
    wg_graph *g = wg_build_graph(build);
    *loss = wg_neg(g, wg_mean_all(g, fake));
    return wg_graph_status(g);
}

static const wg_loss_vtable vtable = {
    .struct_size = sizeof vtable, .critic_loss = critic_loss, .generator_loss = generator_loss};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "hinge",
                   "hinge: critic mean(relu(1 - real)) + mean(relu(1 + fake)), generator "
                   "-mean(fake)",
                   &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
