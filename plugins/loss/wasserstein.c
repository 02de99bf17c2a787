/* The Wasserstein loss (Arjovsky et al. 2017): the critic maximises
 * mean(real) - mean(fake), the generator maximises mean(fake). */
#include "wgan/plugin.h"

static wg_status critic_loss(void *state, wg_build *build, wg_node real, wg_node fake,
                             wg_node *loss) {
    (void)state;
    wg_graph *g = wg_build_graph(build);
    *loss = wg_sub(g, wg_mean_all(g, fake), wg_mean_all(g, real));
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
    WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "wasserstein",
                   "WGAN: critic mean(fake) - mean(real), generator -mean(fake)", &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
