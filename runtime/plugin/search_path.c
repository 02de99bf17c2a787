#include "search_path.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set by CMake from GNUInstallDirs: relative, so the prefix can move. */
#ifndef WGAN_PLUGINS_FROM_LIBDIR
#define WGAN_PLUGINS_FROM_LIBDIR "wgan/plugins"
#endif
#ifndef WGAN_PLUGINS_FROM_BINDIR
#define WGAN_PLUGINS_FROM_BINDIR "../lib/wgan/plugins"
#endif

/* The file this function's code was loaded from, and whether it is the main program
 * (whose link map has no name: its path comes from /proc). */
static int self_path(char *path, size_t size, int *is_program) {
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1((void *)wg_plugin_builtin_dir, &info, (void **)&map, RTLD_DL_LINKMAP) || !map)
        return -1;
    *is_program = !map->l_name || !map->l_name[0];
    if (*is_program) {
        ssize_t n = readlink("/proc/self/exe", path, size - 1);
        if (n <= 0 || (size_t)n >= size - 1) return -1;
        path[n] = '\0';
        return 0;
    }
    if (!realpath(map->l_name, path)) return -1;
    return 0;
}

const char *wg_plugin_builtin_dir(char *buf, size_t size) {
    char self[PATH_MAX];
    int is_program = 0;
    buf[0] = '\0';
    if (self_path(self, sizeof self, &is_program) != 0) return buf;
    char *slash = strrchr(self, '/');
    if (!slash) return buf;
    *slash = '\0'; /* self is now the folder */
    char marker[PATH_MAX + sizeof WG_BUILD_TREE_MARKER + 1];
    snprintf(marker, sizeof marker, "%s/%s", self, WG_BUILD_TREE_MARKER);
    const char *rel = access(marker, F_OK) == 0 ? "plugins"
                      : is_program              ? WGAN_PLUGINS_FROM_BINDIR
                                                : WGAN_PLUGINS_FROM_LIBDIR;
    char dir[2 * PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", self, rel);
    const char *shown = realpath(dir, real) ? real : dir; /* without "bin/../" if it exists */
    if ((size_t)snprintf(buf, size, "%s", shown) >= size) buf[0] = '\0';
    return buf;
}
