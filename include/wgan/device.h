/* Compute devices: the native cpu backend and OpenCL devices. */
#ifndef WGAN_DEVICE_H
#define WGAN_DEVICE_H

#include <stdio.h>

#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_device wg_device;

/* Opens a device from a spec:
 *   "auto"      the first GPU OpenCL device, else cpu
 *   "cpu"       the native backend (OpenBLAS + threads)
 *   "opencl"    the first OpenCL device of any type; "opencl:N" the N-th one
 *   other text  the first OpenCL device whose vendor, platform or name contains it
 *               (case-insensitive), e.g. "nvidia", "pocl"
 * With "auto", an OpenCL failure falls back to cpu and the reason is kept in
 * wg_device_note(); an explicit OpenCL spec that cannot be met is an error. */
WG_API wg_status wg_device_open(const char *spec, wg_device **out);
WG_API void wg_device_close(wg_device *device);

/* "cpu" or "opencl". */
WG_API const char *wg_device_kind(const wg_device *device);
/* Human-readable, e.g. "cpu (2 threads, OpenBLAS 0.3.21)" or
 * "opencl:0 NVIDIA H100 (NVIDIA CUDA, OpenCL 3.0)". */
WG_API const char *wg_device_description(const wg_device *device);
/* Why "auto" chose what it chose, or "" . */
WG_API const char *wg_device_note(const wg_device *device);

/* Prints every device that wg_device_open can reach, one per line, with its spec. */
WG_API wg_status wg_device_list(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
