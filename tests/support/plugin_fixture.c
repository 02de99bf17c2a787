#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "plugin_fixture.h"

#define PF_MAX_CONFIGS 64

static wg_plugins *loaded;
static wg_cfg *configs[PF_MAX_CONFIGS];
static int n_configs;

const wg_plugin *pf_plugin(wg_plugin_kind kind, const char *name) {
    if (!loaded && wg_plugins_load(&loaded) != WG_OK)
        fail_msg("loading plugins: %s", wg_last_error());
    const wg_plugin *plugin = NULL;
    if (wg_plugins_find(loaded, kind, name, &plugin) != WG_OK) {
        for (int i = 0; i < wg_plugins_diagnostic_count(loaded); i++)
            print_message("  plugin diagnostic: %s\n", wg_plugins_diagnostic(loaded, i));
        fail_msg("%s", wg_last_error());
    }
    return plugin;
}

const wg_cfg *pf_config(const char *yaml) {
    if (n_configs == PF_MAX_CONFIGS)
        fail_msg("more than %d configurations in one test", PF_MAX_CONFIGS);
    wg_cfg *root = NULL;
    if (wg_cfg_load_string("test.yaml", yaml, &root) != WG_OK)
        fail_msg("test configuration: %s", wg_last_error());
    configs[n_configs++] = root;
    return root;
}

void pf_expect_all_read(const wg_cfg *config) {
    if (wg_cfg_check_unused(config) != WG_OK) fail_msg("%s", wg_last_error());
}

void pf_teardown(void) {
    for (int i = 0; i < n_configs; i++) wg_cfg_free(configs[i]);
    n_configs = 0;
}

void pf_group_teardown(void) {
    pf_teardown();
    wg_plugins_free(loaded);
    loaded = NULL;
}
