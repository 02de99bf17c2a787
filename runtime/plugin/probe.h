/* Running untrusted plugin code in a child process: the child opens a plugin file and
 * reports what it declares through a pipe, so a constructor or entry point that
 * crashes, hangs or calls exit() costs the child, not the caller. */
#ifndef WGAN_PLUGIN_PROBE_H
#define WGAN_PLUGIN_PROBE_H

#include <stdbool.h>

#define WG_PLUGIN_PROBE_TIMEOUT_ENV "WGAN_PLUGIN_PROBE_TIMEOUT"
/* Seconds a probed file may take to load when the variable above is not set. */
#define WG_PLUGIN_PROBE_TIMEOUT 5.0

typedef struct wg_probe {
    bool completed;    /* the child ran `inspect` to its end and exited normally */
    char failure[256]; /* otherwise: "crashed (signal 11, ...)", "hung ...", "exited ..." */
    char *report;      /* what `inspect` wrote, NUL-terminated (completed only); free() */
} wg_probe;

/* Forks; the child runs inspect(path, fd), writing its report to fd, and ends with
 * _exit(0). The parent collects the report and the child's fate, killing it after the
 * timeout. Fails only when no child can be started (WG_ERR_PLUGIN) or out of memory. */
wg_status wg_probe_run(const char *path, void (*inspect)(const char *path, int fd), wg_probe *out);

/* The timeout in seconds: WGAN_PLUGIN_PROBE_TIMEOUT when it is a positive number. */
double wg_probe_timeout(void);

#endif
