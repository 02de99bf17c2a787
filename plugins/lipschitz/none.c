/* No Lipschitz constraint: the critic trains unconstrained (a baseline, or a loss such
 * as the standard GAN one that needs none). */
#include "wgan/plugin.h"

static const wg_lipschitz_vtable vtable = {.struct_size = sizeof vtable};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "none", "no constraint on the critic", &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
