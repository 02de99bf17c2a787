/* Where the built-in plugins are, found from where wgan's code actually lives, so an
 * installed tree works under any prefix and after being moved. */
#ifndef WGAN_PLUGIN_SEARCH_PATH_H
#define WGAN_PLUGIN_SEARCH_PATH_H

#include <stddef.h>

/* The name of the file that marks a build tree, beside its programs and libwgan.so. */
#define WG_BUILD_TREE_MARKER "wgan-build-tree"

/* The folder of built-in plugins into buf: `<dir>/plugins` when the object holding this
 * code (libwgan.so, or a program that embeds wgan) sits in a build tree (a folder with
 * the marker file), else the installed folder relative to it: `<libdir>/wgan/plugins`
 * from libwgan.so's folder or from a program's `<bindir>`. "" when the object's path is
 * unknown or does not fit. Returns buf. */
const char *wg_plugin_builtin_dir(char *buf, size_t size);

#endif
