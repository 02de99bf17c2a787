/* wgan plugins: every plugin on the search path by kind, then the files that could not
 * be used and why, and the plugin files others can write. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plugin/loader.h"
#include "plugin/probe.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: wgan plugins\n\n"
            "Lists the plugins found on the search path by kind, with the name an experiment\n"
            "uses (plugin: NAME), a summary and the file, then every plugin file that was\n"
            "rejected or shadowed. Folders searched, first match wins: each folder of\n"
            "$%s (colon-separated), the build's plugin folder, the installed one.\n"
            "Each file is first opened in a child process, so one that crashes, hangs\n"
            "(more than $%s seconds, default %g) or exits\n"
            "while loading is listed as a problem. A plugin with a built-in one's name\n"
            "is not used unless $%s names it (e.g. weight_clip).\n"
            "Exits 1 when no plugin at all could be loaded.\n",
            WG_PLUGIN_PATH_ENV, WG_PLUGIN_PROBE_TIMEOUT_ENV, WG_PLUGIN_PROBE_TIMEOUT,
            WG_PLUGIN_OVERRIDE_ENV);
}

int wg_cmd_plugins(int argc, char **argv) {
    if (argc > 1) {
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "wgan plugins: unexpected argument '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    wg_plugins *plugins = NULL;
    if (wg_plugins_load(&plugins) != WG_OK) {
        fprintf(stderr, "wgan plugins: %s\n", wg_last_error());
        return 1;
    }
    int count = wg_plugins_count(plugins);
    int width = 0;
    for (int i = 0; i < count; i++) {
        int len = (int)strlen(wg_plugins_at(plugins, i)->name);
        if (len > width) width = len;
    }
    wg_plugin_kind kind = 0;
    for (int i = 0; i < count; i++) {
        const wg_plugin *p = wg_plugins_at(plugins, i);
        if (p->kind != kind) { /* sorted by kind */
            kind = p->kind;
            printf("%s%s:\n", i ? "\n" : "", wg_plugin_kind_name(kind));
        }
        printf("  %-*s  %s\n  %-*s  %s\n", width, p->name, p->summary, width, "", p->path);
    }
    if (!count) {
        printf("no plugins found; searched:\n");
        for (int i = 0; i < wg_plugins_dir_count(plugins); i++)
            printf("  %s\n", wg_plugins_dir(plugins, i));
    }
    int n_diag = wg_plugins_diagnostic_count(plugins);
    if (n_diag) {
        printf("\nproblems:\n");
        for (int i = 0; i < n_diag; i++) printf("  %s\n", wg_plugins_diagnostic(plugins, i));
    }
    int n_warn = wg_plugins_warning_count(plugins);
    if (n_warn) {
        printf("\nwarnings:\n");
        for (int i = 0; i < n_warn; i++) printf("  %s\n", wg_plugins_warning(plugins, i));
    }
    wg_plugins_free(plugins);
    return count ? 0 : 1;
}
