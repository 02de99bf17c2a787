/* Tracing the lipschitz and loss plugins into step graphs for their numerical tests,
 * on top of plugin_fixture.h (plugins of this build, configurations as inline YAML):
 * plugin states created from YAML, and wg_build traces with registries of their own.
 *
 * Everything made here is released by pc_teardown, the CMocka teardown of every test
 * (it calls pf_teardown and nc_teardown too), so a failing assertion leaks nothing. */
#ifndef WGAN_TEST_PLUGINCHECK_H
#define WGAN_TEST_PLUGINCHECK_H

#include "plugin/build.h"
#include "plugin_fixture.h"

/* Creates a lipschitz or loss plugin from `yaml` and checks that it read every key;
 * fails the test otherwise. The state is destroyed by pc_teardown. */
void *pc_create(const wg_plugin *plugin, const char *yaml);
/* The status of creating it, or of the unused-key check after, message set; nothing
 * is kept. */
wg_status pc_try_create(const wg_plugin *plugin, const char *yaml);

/* A wg_build over a fresh graph of `dtype` and registry, network "critic", with the
 * lipschitz plugin's state (plugin NULL for none). */
wg_build *pc_build(wg_dtype dtype, int64_t batch, const wg_plugin *lipschitz, void *state);
/* Fails the test unless the trace so far is fine. */
void pc_build_check(const wg_build *build);
/* The node of the registry variable `full_name` ("critic.fc.weight"). */
wg_node pc_variable(const wg_build *build, const char *full_name);
/* The node of the metric `name` the trace added; fails when there is none. */
wg_node pc_metric(const wg_build *build, const char *name);

int pc_teardown(void **state);
/* pc_teardown, then the plugins and the devices. */
int pc_group_teardown(void **state);

#endif
