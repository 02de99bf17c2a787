/* No Lipschitz constraint: the critic trains unconstrained (a baseline, or a loss such
 * as the standard GAN one that needs none). */
#include "wgan/plugin.h"

static wg_status create(const wg_cfg *config, void **state) {
    (void)config;
    *state = NULL;
    return WG_OK;
}

static void destroy(void *state) {
    (void)state;
}

static const wg_lipschitz_vtable vtable = {sizeof vtable, 0, create, destroy, NULL, NULL, NULL};
static const wg_plugin_desc desc =
    WG_PLUGIN_DESC(WG_PLUGIN_LIPSCHITZ, "none", "no constraint on the critic", &vtable);
WG_PLUGIN_EXPORT_ONE(desc)
