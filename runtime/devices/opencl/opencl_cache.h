/* Counters of the on-disk OpenCL program cache, for tests and diagnostics. Free of
 * OpenCL types so that code built without OpenCL headers can include it. */
#ifndef WGAN_OPENCL_CACHE_H
#define WGAN_OPENCL_CACHE_H

#include "wgan/device.h"

typedef struct wg_program_cache_stats {
    int hits;     /* programs created from a cached binary */
    int misses;   /* programs built from source */
    int rejected; /* cache entries that were unreadable, corrupt or failed to load */
    int stored;   /* binaries written to the cache */
} wg_program_cache_stats;

/* Counters since the device was opened; WG_ERR_INVALID for a device that is not
 * OpenCL, WG_ERR_UNSUPPORTED in a build without OpenCL. */
wg_status wg_opencl_cache_stats(const wg_device *device, wg_program_cache_stats *out);

/* The folder holding cached program binaries: $WGAN_PROGRAM_CACHE, else
 * $XDG_CACHE_HOME/wgan/programs, else ~/.cache/wgan/programs. Writes "" when none can
 * be named (no HOME); returns buf. */
const char *wg_opencl_cache_dir(char *buf, int size);

#endif
