#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "numcheck.h"
#include "plugin/instance.h"
#include "plugincheck.h"

#define MAX_TRACKED 32

static struct {
    const wg_plugin *plugin;
    void *state;
} created[MAX_TRACKED];
static int n_created;

static struct {
    wg_build build;
    wg_registry registry;
} builds[MAX_TRACKED];
static int n_builds;

static void destroy(const wg_plugin *plugin, void *state) {
    wg_plugin_destroy(plugin, state);
}

/* Creates the plugin; *state is NULL on failure. */
static wg_status create(const wg_plugin *plugin, const char *yaml, void **state) {
    *state = NULL;
    const wg_cfg *config = pf_config(yaml);
    if (plugin->kind != WG_PLUGIN_LIPSCHITZ && plugin->kind != WG_PLUGIN_LOSS)
        fail_msg("pc_create: %s plugins are not handled here", wg_plugin_kind_name(plugin->kind));
    wg_status status = wg_plugin_create(plugin, config, 0, wg_shape1(1), state);
    if (status == WG_OK) status = wg_cfg_check_unused(config);
    if (status != WG_OK && *state) {
        destroy(plugin, *state);
        *state = NULL;
    }
    return status;
}

void *pc_create(const wg_plugin *plugin, const char *yaml) {
    assert_true(n_created < MAX_TRACKED);
    void *state = NULL;
    nc_check(create(plugin, yaml, &state), plugin->name);
    created[n_created].plugin = plugin;
    created[n_created++].state = state;
    return state;
}

wg_status pc_try_create(const wg_plugin *plugin, const char *yaml) {
    void *state = NULL;
    wg_status status = create(plugin, yaml, &state);
    if (state) destroy(plugin, state);
    return status;
}

wg_build *pc_build(wg_dtype dtype, int64_t batch, const wg_plugin *lipschitz, void *state) {
    assert_true(n_builds < MAX_TRACKED);
    wg_build *build = &builds[n_builds].build;
    wg_registry *registry = &builds[n_builds++].registry;
    *registry = (wg_registry){0};
    wg_build_begin(build, nc_graph(dtype), registry, "test", batch, lipschitz, state);
    wg_build_set_network(build, "critic");
    return build;
}

void pc_build_check(const wg_build *build) {
    nc_check(wg_build_check(build), "building the step graph");
}

wg_node pc_variable(const wg_build *build, const char *full_name) {
    int index = wg_registry_find(build->registry, full_name);
    if (index < 0) fail_msg("no variable '%s' in the registry", full_name);
    return build->registry->entries[index].node;
}

wg_node pc_metric(const wg_build *build, const char *name) {
    for (int i = 0; i < build->n_metrics; i++)
        if (strcmp(build->metrics[i].name, name) == 0) return build->metrics[i].node;
    fail_msg("no metric '%s'", name);
    return WG_NONE;
}

int pc_teardown(void **state) {
    for (int i = n_created - 1; i >= 0; i--) destroy(created[i].plugin, created[i].state);
    n_created = 0;
    for (int i = n_builds - 1; i >= 0; i--) {
        wg_build_end(&builds[i].build);
        wg_registry_free(&builds[i].registry);
    }
    n_builds = 0;
    pf_teardown();
    return nc_teardown(state); /* the graphs, after the builds that point at them */
}

int pc_group_teardown(void **state) {
    pc_teardown(state);
    pf_group_teardown();
    return nc_group_teardown(state);
}
