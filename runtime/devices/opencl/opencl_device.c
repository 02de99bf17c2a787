/* OpenCL device discovery, opening, listing and the memory half of the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"
#include "dist/dist.h"

typedef struct ocl_entry {
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    char name[128], vendor[128], version[128], driver[64];
    char platform_name[128], platform_vendor[128], platform_version[128];
} ocl_entry;

const char *wg_ocl_error_name(cl_int err) {
    switch (err) {
#define E(x)                                                                                       \
    case x: return #x;
        E(CL_SUCCESS)
        E(CL_DEVICE_NOT_FOUND)
        E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES)
        E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE)
        E(CL_MEM_COPY_OVERLAP)
        E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_MAP_FAILURE)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_INVALID_VALUE)
        E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM)
        E(CL_INVALID_DEVICE)
        E(CL_INVALID_CONTEXT)
        E(CL_INVALID_COMMAND_QUEUE)
        E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT)
        E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS)
        E(CL_INVALID_PROGRAM)
        E(CL_INVALID_PROGRAM_EXECUTABLE)
        E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL)
        E(CL_INVALID_ARG_INDEX)
        E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE)
        E(CL_INVALID_KERNEL_ARGS)
        E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE)
        E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET)
        E(CL_INVALID_EVENT_WAIT_LIST)
        E(CL_INVALID_OPERATION)
        E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_GLOBAL_WORK_SIZE)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}

wg_status wg_ocl_fail(cl_int err, const char *what) {
    int nomem = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
                err == CL_INVALID_BUFFER_SIZE;
    return wg_fail(nomem ? WG_ERR_NOMEM : WG_ERR_DEVICE, "opencl: %s failed: %s (%d)", what,
                   wg_ocl_error_name(err), (int)err);
}

/* ---- enumeration ---- */

static void device_string(cl_device_id device, cl_device_info what, char *buf, size_t size) {
    if (clGetDeviceInfo(device, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

static void platform_string(cl_platform_id platform, cl_platform_info what, char *buf,
                            size_t size) {
    if (clGetPlatformInfo(platform, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

/* Every device of every platform, in platform order: the numbering of "opencl:N". */
static wg_status ocl_enumerate(ocl_entry **out, int *count) {
    *out = NULL;
    *count = 0;
    cl_uint n_platforms = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n_platforms);
    if (err != CL_SUCCESS || n_platforms == 0)
        return wg_fail(WG_ERR_UNSUPPORTED, "no OpenCL platform found");
    cl_platform_id *platforms = calloc(n_platforms, sizeof *platforms);
    if (!platforms) return wg_fail(WG_ERR_NOMEM, "out of memory listing OpenCL platforms");
    clGetPlatformIDs(n_platforms, platforms, NULL);
    ocl_entry *list = NULL;
    int n = 0;
    for (cl_uint p = 0; p < n_platforms; p++) {
        cl_uint n_devices = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n_devices) != CL_SUCCESS ||
            n_devices == 0)
            continue;
        cl_device_id *devices = calloc(n_devices, sizeof *devices);
        ocl_entry *grown = realloc(list, (size_t)(n + (int)n_devices) * sizeof *list);
        if (!devices || !grown) {
            free(devices);
            free(grown ? grown : list);
            free(platforms);
            return wg_fail(WG_ERR_NOMEM, "out of memory listing OpenCL devices");
        }
        list = grown;
        clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n_devices, devices, NULL);
        for (cl_uint d = 0; d < n_devices; d++) {
            ocl_entry *e = &list[n++];
            memset(e, 0, sizeof *e);
            e->platform = platforms[p];
            e->device = devices[d];
            clGetDeviceInfo(devices[d], CL_DEVICE_TYPE, sizeof e->type, &e->type, NULL);
            device_string(devices[d], CL_DEVICE_NAME, e->name, sizeof e->name);
            device_string(devices[d], CL_DEVICE_VENDOR, e->vendor, sizeof e->vendor);
            device_string(devices[d], CL_DEVICE_VERSION, e->version, sizeof e->version);
            device_string(devices[d], CL_DRIVER_VERSION, e->driver, sizeof e->driver);
            platform_string(platforms[p], CL_PLATFORM_NAME, e->platform_name,
                            sizeof e->platform_name);
            platform_string(platforms[p], CL_PLATFORM_VENDOR, e->platform_vendor,
                            sizeof e->platform_vendor);
            platform_string(platforms[p], CL_PLATFORM_VERSION, e->platform_version,
                            sizeof e->platform_version);
        }
        free(devices);
    }
    free(platforms);
    if (n == 0) {
        free(list);
        return wg_fail(WG_ERR_UNSUPPORTED, "OpenCL platforms found, but no OpenCL device");
    }
    *out = list;
    *count = n;
    return WG_OK;
}

static const char *type_name(cl_device_type type) {
    if (type & CL_DEVICE_TYPE_GPU) return "GPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return "ACCELERATOR";
    if (type & CL_DEVICE_TYPE_CPU) return "CPU";
    return "OTHER";
}

/* "OpenCL 3.0" out of "OpenCL 3.0 <vendor details>". */
static void short_version(const char *version, char *buf, size_t size) {
    const char *sp = strchr(version, ' ');
    if (sp) sp = strchr(sp + 1, ' ');
    size_t len = sp ? (size_t)(sp - version) : strlen(version);
    if (len >= size) len = size - 1;
    memcpy(buf, version, len);
    buf[len] = '\0';
}

/* "opencl:0 GPU NAME (PLATFORM); ..." for error messages. */
static void summary(const ocl_entry *list, int count, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%sopencl:%d %s %s (%s)", i ? "; " : "", i,
                         type_name(list[i].type), list[i].name, list[i].platform_name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static int entry_matches(const ocl_entry *e, const char *match) {
    return strcasestr(e->name, match) || strcasestr(e->vendor, match) ||
           strcasestr(e->platform_name, match) || strcasestr(e->platform_vendor, match);
}

/* ---- the backend's memory operations ---- */

static wg_ocl_device *ocl(wg_device *device) {
    return (wg_ocl_device *)device;
}

static wg_status ocl_alloc(wg_device *device, size_t bytes, void **mem) {
    cl_int err;
    /* zero-size buffers are invalid in OpenCL; an empty tensor still gets a handle */
    cl_mem m =
        clCreateBuffer(ocl(device)->context, CL_MEM_READ_WRITE, bytes ? bytes : 16, NULL, &err);
    if (err != CL_SUCCESS) {
        *mem = NULL;
        char what[96];
        snprintf(what, sizeof what, "allocating %zu bytes", bytes);
        return wg_ocl_fail(err, what);
    }
    *mem = m;
    return WG_OK;
}

static void ocl_release(wg_device *device, void *mem) {
    (void)device;
    if (mem) clReleaseMemObject((cl_mem)mem);
}

static wg_status ocl_write(wg_device *device, wg_ref dst, const void *host, size_t bytes) {
    if (bytes == 0) return WG_OK;
    /* blocking: the caller may reuse `host` as soon as this returns */
    cl_int err = clEnqueueWriteBuffer(ocl(device)->queue, (cl_mem)dst.mem, CL_TRUE, dst.offset,
                                      bytes, host, 0, NULL, NULL);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clEnqueueWriteBuffer");
}

static wg_status ocl_read(wg_device *device, wg_ref src, void *host, size_t bytes) {
    if (bytes == 0) return WG_OK;
    cl_int err = clEnqueueReadBuffer(ocl(device)->queue, (cl_mem)src.mem, CL_TRUE, src.offset,
                                     bytes, host, 0, NULL, NULL);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clEnqueueReadBuffer");
}

static wg_status ocl_fill(wg_device *device, wg_ref dst, size_t count, wg_dtype dtype,
                          double value) {
    if (count == 0) return WG_OK;
    float f = (float)value;
    const void *pattern = dtype == WG_F64 ? (const void *)&value : (const void *)&f;
    size_t elem = wg_ocl_elem(dtype);
    cl_int err = clEnqueueFillBuffer(ocl(device)->queue, (cl_mem)dst.mem, pattern, elem, dst.offset,
                                     count * elem, 0, NULL, NULL);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clEnqueueFillBuffer");
}

static wg_status ocl_finish(wg_device *device) {
    cl_int err = clFinish(ocl(device)->queue);
    return err == CL_SUCCESS ? WG_OK : wg_ocl_fail(err, "clFinish");
}

static void ocl_close(wg_device *device) {
    if (!device) return;
    wg_ocl_device *dev = ocl(device);
    if (dev->queue) clFinish(dev->queue);
    for (int i = 0; i < 2; i++) wg_ocl_program_release(&dev->program[i]);
    if (dev->scratch.mem) clReleaseMemObject(dev->scratch.mem);
    if (dev->gemm_temp.mem) clReleaseMemObject(dev->gemm_temp.mem);
    if (dev->gemm_split.mem) clReleaseMemObject(dev->gemm_split.mem);
    if (dev->queue) clReleaseCommandQueue(dev->queue);
    if (dev->context) clReleaseContext(dev->context);
    free(dev);
}

static const wg_backend ocl_backend = {
    .kind = "opencl",
    .alloc = ocl_alloc,
    .release = ocl_release,
    .write = ocl_write,
    .read = ocl_read,
    .fill = ocl_fill,
    .supports_op = wg_ocl_supports_op,
    .run = wg_ocl_run,
    .prepare_fused = wg_ocl_prepare_fused,
    .release_fused = wg_ocl_release_fused,
    .finish = ocl_finish,
    .close = ocl_close,
};

wg_status wg_ocl_scratch_reserve(wg_ocl_device *dev, wg_ocl_scratch *scratch, size_t bytes) {
    if (scratch->bytes >= bytes) return WG_OK;
    cl_int err;
    cl_mem m = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "allocating %zu bytes of scratch", bytes);
        return wg_ocl_fail(err, what);
    }
    /* commands already enqueued keep the old buffer alive until they complete */
    if (scratch->mem) clReleaseMemObject(scratch->mem);
    scratch->mem = m;
    scratch->bytes = bytes;
    return WG_OK;
}

/* ---- opening ---- */

static wg_status open_entry(const ocl_entry *e, int index, wg_device **out) {
    wg_ocl_device *dev = calloc(1, sizeof *dev);
    if (!dev) return wg_fail(WG_ERR_NOMEM, "out of memory opening an OpenCL device");
    dev->base.backend = &ocl_backend;
    dev->platform = e->platform;
    dev->device = e->device;
    dev->index = index;
    snprintf(dev->name, sizeof dev->name, "%s", e->name);
    snprintf(dev->platform_name, sizeof dev->platform_name, "%s", e->platform_name);
    snprintf(dev->driver, sizeof dev->driver, "%s", e->driver);
    snprintf(dev->platform_version, sizeof dev->platform_version, "%s", e->platform_version);
    char version[64];
    short_version(e->version, version, sizeof version);
    snprintf(dev->base.description, sizeof dev->base.description, "opencl:%d %.100s (%.80s, %.40s)",
             index, e->name, e->platform_name, version);

    size_t ext_size = 0;
    if (clGetDeviceInfo(e->device, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS) {
        char *extensions = calloc(1, ext_size + 1);
        if (extensions && clGetDeviceInfo(e->device, CL_DEVICE_EXTENSIONS, ext_size, extensions,
                                          NULL) == CL_SUCCESS)
            dev->has_fp64 = strstr(extensions, "cl_khr_fp64") != NULL;
        free(extensions);
    }
    if (clGetDeviceInfo(e->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev->max_group,
                        &dev->max_group, NULL) != CL_SUCCESS)
        dev->max_group = 64;

    const char *split = getenv("WGAN_OPENCL_SPLIT_GEMM");
    dev->split_gemm = !(split && strcmp(split, "0") == 0);

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)e->platform, 0};
    cl_int err;
    dev->context = clCreateContext(props, 1, &e->device, NULL, NULL, &err);
    wg_status st = WG_OK;
    if (err != CL_SUCCESS) st = wg_ocl_fail(err, "clCreateContext");
    if (st == WG_OK) {
        dev->queue = clCreateCommandQueue(dev->context, e->device, 0, &err);
        if (err != CL_SUCCESS) st = wg_ocl_fail(err, "clCreateCommandQueue");
    }
    /* build now, so that a device whose compiler rejects the kernels fails here, where
     * "auto" can still fall back */
    if (st == WG_OK) st = wg_ocl_program_build(dev, WG_F32);
    if (st != WG_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", wg_last_error());
        ocl_close(&dev->base);
        return wg_fail(st, "opencl:%d %s: %s", index, e->name, msg);
    }
    *out = &dev->base;
    return WG_OK;
}

wg_status wg_opencl_open(int index, const char *match, int gpu_only, wg_device **out) {
    *out = NULL;
    ocl_entry *list;
    int count;
    wg_status st = ocl_enumerate(&list, &count);
    if (st != WG_OK) return st;
    char found[640];
    summary(list, count, found, sizeof found);
    int pick = -1;
    if (index >= 0) {
        if (index >= count) {
            free(list);
            return wg_fail(WG_ERR_INVALID, "opencl:%d: no such OpenCL device (there %s %d: %s)",
                           index, count == 1 ? "is" : "are", count, found);
        }
        pick = index;
    } else {
        /* the first GPU, or under an MPI launcher GPU (local rank mod GPUs on this node),
         * so that the ranks of a node share its GPUs out */
        int gpus = 0;
        for (int i = 0; i < count && gpu_only && !match; i++)
            gpus += (list[i].type & CL_DEVICE_TYPE_GPU) != 0;
        int skip = gpus ? wg_dist_local_rank() % gpus : 0;
        for (int i = 0; i < count && pick < 0; i++) {
            if (gpu_only && !(list[i].type & CL_DEVICE_TYPE_GPU)) continue;
            if (match && !entry_matches(&list[i], match)) continue;
            if (skip-- > 0) continue;
            pick = i;
        }
        if (pick < 0) {
            if (match)
                st = wg_fail(WG_ERR_INVALID, "no %sOpenCL device matches \"%s\" (available: %s)",
                             gpu_only ? "GPU " : "", match, found);
            else
                st = wg_fail(WG_ERR_UNSUPPORTED, "no OpenCL GPU device (found: %s)", found);
            free(list);
            return st;
        }
    }
    st = open_entry(&list[pick], pick, out);
    free(list);
    return st;
}

wg_status wg_opencl_list(FILE *out, int *count) {
    if (count) *count = 0;
    ocl_entry *list;
    int n;
    wg_status st = ocl_enumerate(&list, &n);
    if (st != WG_OK) return st;
    for (int i = 0; i < n; i++) {
        char version[64];
        short_version(list[i].version, version, sizeof version);
        fprintf(out, "opencl:%-3d %-4s %s (%s, %s, driver %s)\n", i, type_name(list[i].type),
                list[i].name, list[i].platform_name, version, list[i].driver);
    }
    free(list);
    if (count) *count = n;
    return WG_OK;
}

wg_status wg_opencl_cache_stats(const wg_device *device, wg_program_cache_stats *out) {
    if (!device || device->backend != &ocl_backend)
        return wg_fail(WG_ERR_INVALID, "program cache statistics: not an OpenCL device");
    *out = ((const wg_ocl_device *)device)->cache;
    return WG_OK;
}
