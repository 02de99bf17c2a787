/* Device selection: parses a device spec and opens the cpu or an OpenCL backend. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "devices/opencl/opencl_cache.h"
#include "dist/dist.h"

#ifndef WGAN_HAVE_OPENCL
/* A build without OpenCL: every OpenCL request reports why it cannot be met. */
wg_status wg_opencl_open(int index, const char *match, int gpu_only, wg_device **out) {
    (void)index, (void)match, (void)gpu_only;
    *out = NULL;
    return wg_fail(WG_ERR_UNSUPPORTED, "this build of wgan has no OpenCL support");
}

wg_status wg_opencl_list(FILE *out, int *count) {
    (void)out;
    if (count) *count = 0;
    return wg_fail(WG_ERR_UNSUPPORTED, "this build of wgan has no OpenCL support");
}

wg_status wg_opencl_cache_stats(const wg_device *device, wg_program_cache_stats *out) {
    (void)device, (void)out;
    return wg_fail(WG_ERR_UNSUPPORTED, "this build of wgan has no OpenCL support");
}

const char *wg_opencl_cache_dir(char *buf, int size) {
    if (size > 0) buf[0] = '\0';
    return buf;
}
#endif

/* "opencl:N" with N a plain decimal number; -1 when `spec` is not of that form. */
static int parse_index(const char *spec) {
    if (strncasecmp(spec, "opencl:", 7) != 0) return -1;
    const char *p = spec + 7;
    if (!*p) return -1;
    long value = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p) || value > 1000000) return -1;
        value = value * 10 + (*p - '0');
    }
    return (int)value;
}

static wg_status open_auto(wg_device **out) {
    wg_status st = wg_opencl_open(-1, NULL, 1, out);
    if (st == WG_OK) {
        if (wg_dist_local_rank() == 0)
            snprintf((*out)->note, sizeof(*out)->note, "auto: the first OpenCL GPU");
        else
            snprintf((*out)->note, sizeof(*out)->note,
                     "auto: OpenCL GPU number (local rank %d) mod (GPUs on this node)",
                     wg_dist_local_rank());
        return WG_OK;
    }
    char reason[sizeof(*out)->note];
    snprintf(reason, sizeof reason, "%s", wg_last_error());
    st = wg_cpu_open(out);
    if (st != WG_OK) return st;
    char cpu_note[sizeof(*out)->note];
    snprintf(cpu_note, sizeof cpu_note, "%s", (*out)->note);
    snprintf((*out)->note, sizeof(*out)->note, "auto: using cpu because %.*s%s%.*s", 220, reason,
             *cpu_note ? "; " : "", 220, cpu_note);
    wg_clear_error();
    return WG_OK;
}

wg_status wg_device_open(const char *spec, wg_device **out) {
    *out = NULL;
    if (!spec || !*spec)
        return wg_fail(WG_ERR_INVALID, "empty device spec (use auto, cpu, opencl, opencl:N or "
                                       "part of a device name)");
    if (strcasecmp(spec, "auto") == 0) return open_auto(out);
    if (strcasecmp(spec, "cpu") == 0) return wg_cpu_open(out);
    wg_status st;
    if (strcasecmp(spec, "opencl") == 0 || strncasecmp(spec, "opencl:", 7) == 0) {
        int index = -1;
        if (spec[6] == ':' && (index = parse_index(spec)) < 0)
            return wg_fail(WG_ERR_INVALID, "bad device spec \"%s\": expected opencl:N, N >= 0",
                           spec);
        st = wg_opencl_open(index, NULL, 0, out);
        if (st == WG_ERR_UNSUPPORTED) {
            char reason[900];
            snprintf(reason, sizeof reason, "%s", wg_last_error());
            return wg_fail(st, "device \"%s\": %s", spec, reason);
        }
        return st;
    }
    st = wg_opencl_open(-1, spec, 0, out);
    if (st == WG_ERR_UNSUPPORTED) {
        /* no OpenCL at all: the only device left is cpu */
        char reason[512];
        snprintf(reason, sizeof reason, "%s", wg_last_error());
        return wg_fail(WG_ERR_INVALID,
                       "unknown device \"%s\" (available: auto, cpu; no OpenCL device: %s)", spec,
                       reason);
    }
    if (st == WG_ERR_INVALID) {
        char reason[900];
        snprintf(reason, sizeof reason, "%s", wg_last_error());
        return wg_fail(WG_ERR_INVALID, "unknown device \"%s\": %s; also: auto, cpu", spec, reason);
    }
    return st;
}

void wg_device_close(wg_device *device) {
    if (device) device->backend->close(device);
}

const char *wg_device_kind(const wg_device *device) {
    return device->backend->kind;
}

const char *wg_device_description(const wg_device *device) {
    return device->description;
}

const char *wg_device_note(const wg_device *device) {
    return device->note;
}

wg_status wg_device_list(FILE *out) {
    wg_device *cpu;
    if (wg_cpu_open(&cpu) == WG_OK) {
        fprintf(out, "cpu        %s\n", wg_device_description(cpu));
        wg_device_close(cpu);
    } else {
        fprintf(out, "cpu        unavailable: %s\n", wg_last_error());
    }
    int count = 0;
    if (wg_opencl_list(out, &count) != WG_OK)
        fprintf(out, "opencl     none: %s\n", wg_last_error());
    wg_clear_error();
    return WG_OK;
}
