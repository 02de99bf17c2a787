/* Helpers for the tests of the built-in plugins: the plugins of this build, loaded once
 * per program, and configuration sections written inline as YAML.
 *
 * Configurations made by pf_config are freed by pf_teardown, which the test programs
 * call from their CMocka teardown, so a failing assertion leaks nothing. */
#ifndef WGAN_TEST_PLUGIN_FIXTURE_H
#define WGAN_TEST_PLUGIN_FIXTURE_H

#include "plugin/loader.h"
#include "wgan/config.h"

/* The plugin of `kind` called `name` from the build's plugin folder (and
 * WGAN_PLUGIN_PATH); fails the test when it is missing. */
const wg_plugin *pf_plugin(wg_plugin_kind kind, const char *name);
/* A plugin's configuration section from YAML text ("" for an empty one). */
const wg_cfg *pf_config(const char *yaml);
/* Fails the test unless wg_cfg_check_unused passes: the plugin read every key. */
void pf_expect_all_read(const wg_cfg *config);
/* Frees the configurations made since the last call. */
void pf_teardown(void);
/* pf_teardown, then unloads the plugins. */
void pf_group_teardown(void);

#endif
