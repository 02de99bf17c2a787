/* Building the OpenCL sources of kernels/ into one program per dtype, the on-disk cache of
 * program binaries, and the helpers that set arguments and launch kernels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opencl_internal.h"

struct wg_embedded_kernel {
    const char *name;
    const char *source;
};
extern const struct wg_embedded_kernel wg_embedded_kernels[];

#define KERNEL_NAME(NAME, function) #function,
static const char *const kernel_names[] = {WG_OCL_KERNEL_LIST(KERNEL_NAME)};
_Static_assert(sizeof kernel_names / sizeof *kernel_names == WG_K_COUNT, "a name for every kernel");

/* Headers the kernels use, placed first (ops.h: the op table's codes); then common.cl;
 * then every other .cl file. */
static const char *const prelude_headers[] = {"ops.h", "philox.h"};
#define COMMON_SOURCE "common.cl"

#define GROUP_1D 128
#define GROUP_REDUCE 256

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *embedded(const char *name) {
    for (const struct wg_embedded_kernel *k = wg_embedded_kernels; k->name; k++)
        if (strcmp(k->name, name) == 0) return k->source;
    return NULL;
}

/* Headers and kernel files as one string (embedded sources cannot #include each other):
 * the prelude headers, common.cl, then every other .cl file, or only `only` when given. */
static wg_status assemble_source(const char *only, char **out) {
    size_t size = 1;
    for (const struct wg_embedded_kernel *k = wg_embedded_kernels; k->name; k++)
        size += strlen(k->source) + strlen(k->name) + 32;
    char *src = malloc(size);
    if (!src) return wg_fail(WG_ERR_NOMEM, "out of memory assembling OpenCL sources");
    size_t used = 0;
    const char *order[64];
    int n = 0;
    for (size_t i = 0; i < sizeof prelude_headers / sizeof *prelude_headers; i++)
        order[n++] = prelude_headers[i];
    order[n++] = COMMON_SOURCE;
    if (only)
        order[n++] = only;
    else
        for (const struct wg_embedded_kernel *k = wg_embedded_kernels; k->name && n < 64; k++)
            if (ends_with(k->name, ".cl") && strcmp(k->name, COMMON_SOURCE) != 0)
                order[n++] = k->name;
    for (int i = 0; i < n; i++) {
        const char *text = embedded(order[i]);
        if (!text) {
            free(src);
            return wg_fail(WG_ERR_DEVICE, "opencl: kernel source %s is not embedded", order[i]);
        }
        used += (size_t)snprintf(src + used, size - used, "/* %s */\n%s\n", order[i], text);
    }
    *out = src;
    return WG_OK;
}

wg_status wg_ocl_elementwise_source(char **out) {
    return assemble_source("elementwise.cl", out);
}

const char *wg_ocl_build_options(wg_dtype dtype, char *buf, size_t size) {
    const char *extra = getenv("WGAN_OPENCL_BUILD_OPTIONS");
    snprintf(buf, size, "%s%s%s", dtype == WG_F64 ? "-DREAL=double -DWG_DOUBLE=1" : "-DREAL=float",
             extra && *extra ? " " : "", extra ? extra : "");
    return buf;
}

/* ---- the on-disk cache ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t size) {
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Two independent 64-bit FNV-1a streams: 128 bits of key. */
static void hash128(const void *data, size_t size, uint64_t h[2]) {
    h[0] = fnv1a(0xcbf29ce484222325ull, data, size);
    h[1] = fnv1a(0x84222325cbf29ce4ull ^ size, data, size);
}

const char *wg_opencl_cache_dir(char *buf, int size) {
    const char *env = getenv("WGAN_PROGRAM_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(buf, (size_t)size, "%s", env);
    else if (xdg && *xdg)
        snprintf(buf, (size_t)size, "%s/wgan/programs", xdg);
    else if (home && *home)
        snprintf(buf, (size_t)size, "%s/.cache/wgan/programs", home);
    else
        buf[0] = '\0';
    return buf;
}

static int mkdir_p(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static const char magic[8] = {'W', 'G', 'C', 'L', 'P', 'R', 'G', '1'};

/* File layout: magic, u64 key length, key text, u64 binary length, u64 binary hash,
 * binary. The key text repeats everything the file name hashes, so a name collision
 * reads as a miss. */
static unsigned char *cache_load(const char *path, const char *key, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *bin = NULL;
    char head[8];
    uint64_t key_len, bin_len, bin_hash;
    size_t want = strlen(key);
    char *stored_key = NULL;
    if (fread(head, 1, 8, f) != 8 || memcmp(head, magic, 8) != 0) goto bad;
    if (fread(&key_len, sizeof key_len, 1, f) != 1 || key_len != want) goto bad;
    stored_key = malloc(want + 1);
    if (!stored_key || fread(stored_key, 1, want, f) != want || memcmp(stored_key, key, want) != 0)
        goto bad;
    if (fread(&bin_len, sizeof bin_len, 1, f) != 1 || fread(&bin_hash, sizeof bin_hash, 1, f) != 1)
        goto bad;
    if (bin_len == 0 || bin_len > ((uint64_t)1 << 31)) goto bad;
    bin = malloc(bin_len);
    if (!bin || fread(bin, 1, bin_len, f) != bin_len) goto bad;
    if (fnv1a(0xcbf29ce484222325ull, bin, bin_len) != bin_hash) goto bad;
    fclose(f);
    free(stored_key);
    *size = bin_len;
    return bin;
bad:
    fclose(f);
    free(stored_key);
    free(bin);
    return NULL;
}

static int cache_store(const char *dir, const char *path, const char *key, const unsigned char *bin,
                       size_t size) {
    if (mkdir_p(dir) != 0) return -1;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/.tmp.XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    uint64_t key_len = strlen(key), bin_len = size;
    uint64_t bin_hash = fnv1a(0xcbf29ce484222325ull, bin, size);
    int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(&key_len, sizeof key_len, 1, f) == 1 &&
             fwrite(key, 1, key_len, f) == key_len && fwrite(&bin_len, sizeof bin_len, 1, f) == 1 &&
             fwrite(&bin_hash, sizeof bin_hash, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    /* rename is atomic: readers see the old entry or the complete new one */
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static unsigned char *program_binary(cl_program program, size_t *size) {
    size_t bin_size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof bin_size, &bin_size, NULL) !=
            CL_SUCCESS ||
        bin_size == 0)
        return NULL;
    unsigned char *bin = malloc(bin_size);
    if (!bin) return NULL;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *size = bin_size;
    return bin;
}

/* ---- building ---- */

static wg_status build_failure(wg_ocl_device *dev, cl_program program, cl_int err,
                               const char *options) {
    /* the head of the log names the first error, which is what matters; the message
     * buffer holds about 1 KiB */
    char head[700] = "";
    size_t len = 0;
    if (clGetProgramBuildInfo(program, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) ==
            CL_SUCCESS &&
        len > 1) {
        char *log = malloc(len + 1);
        if (log && clGetProgramBuildInfo(program, dev->device, CL_PROGRAM_BUILD_LOG, len, log,
                                         NULL) == CL_SUCCESS) {
            log[len] = '\0';
            snprintf(head, sizeof head, "%s", log);
        }
        free(log);
    }
    return wg_fail(WG_ERR_DEVICE,
                   "opencl: building the kernels (options \"%s\") failed: %s (%d)%s%s", options,
                   wg_ocl_error_name(err), (int)err, head[0] ? "; build log: " : "", head);
}

static wg_status create_kernels(wg_ocl_device *dev, wg_ocl_program *prog) {
    for (int k = 0; k < WG_K_COUNT; k++) {
        cl_int err;
        prog->kernel[k] = clCreateKernel(prog->program, kernel_names[k], &err);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clCreateKernel(%s)", kernel_names[k]);
            return wg_ocl_fail(err, what);
        }
        prog->group[k] = wg_ocl_group_size(dev, prog->kernel[k],
                                           k == WG_K_SUM_TO_GROUP ? GROUP_REDUCE : GROUP_1D);
    }
    return WG_OK;
}

void wg_ocl_program_release(wg_ocl_program *prog) {
    for (int k = 0; k < WG_K_COUNT; k++)
        if (prog->kernel[k]) clReleaseKernel(prog->kernel[k]);
    if (prog->program) clReleaseProgram(prog->program);
    memset(prog, 0, sizeof *prog);
}

static cl_program from_binary(wg_ocl_device *dev, const unsigned char *bin, size_t size,
                              const char *options) {
    cl_int err, bin_status;
    cl_program program =
        clCreateProgramWithBinary(dev->context, 1, &dev->device, &size, &bin, &bin_status, &err);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (program) clReleaseProgram(program);
        return NULL;
    }
    if (clBuildProgram(program, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        return NULL;
    }
    return program;
}

wg_status wg_ocl_build_cached(wg_ocl_device *dev, const char *src, const char *options,
                              cl_program *out) {
    *out = NULL;
    uint64_t src_hash[2];
    hash128(src, strlen(src), src_hash);
    char key[1024];
    snprintf(key, sizeof key, "%s\n%s\n%s\n%s\n%016llx%016llx\n", dev->name, dev->driver,
             dev->platform_version, options, (unsigned long long)src_hash[0],
             (unsigned long long)src_hash[1]);
    uint64_t key_hash[2];
    hash128(key, strlen(key), key_hash);
    char dir[900], path[1024];
    wg_opencl_cache_dir(dir, sizeof dir);
    path[0] = '\0';
    if (dir[0])
        snprintf(path, sizeof path, "%s/%016llx%016llx.bin", dir, (unsigned long long)key_hash[0],
                 (unsigned long long)key_hash[1]);

    /* a cache entry that cannot be used is a miss, never an error */
    if (path[0] && access(path, F_OK) == 0) {
        size_t size;
        unsigned char *bin = cache_load(path, key, &size);
        *out = bin ? from_binary(dev, bin, size, options) : NULL;
        free(bin);
        if (*out) {
            dev->cache.hits++;
            return WG_OK;
        }
        dev->cache.rejected++;
    }

    cl_int err;
    const char *srcs[1] = {src};
    cl_program program = clCreateProgramWithSource(dev->context, 1, srcs, NULL, &err);
    if (err != CL_SUCCESS) return wg_ocl_fail(err, "clCreateProgramWithSource");
    dev->cache.misses++;
    err = clBuildProgram(program, 1, &dev->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        wg_status st = build_failure(dev, program, err, options);
        clReleaseProgram(program);
        return st;
    }
    if (path[0]) {
        size_t size;
        unsigned char *bin = program_binary(program, &size);
        if (bin && cache_store(dir, path, key, bin, size) == 0) dev->cache.stored++;
        free(bin);
    }
    *out = program;
    return WG_OK;
}

size_t wg_ocl_group_size(wg_ocl_device *dev, cl_kernel kernel, size_t want) {
    size_t limit = dev->max_group, kernel_limit;
    if (clGetKernelWorkGroupInfo(kernel, dev->device, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof kernel_limit, &kernel_limit, NULL) == CL_SUCCESS &&
        kernel_limit < limit)
        limit = kernel_limit;
    size_t g = 1;
    /* a power of two: the group reduction halves it */
    while (g * 2 <= want && g * 2 <= limit) g *= 2;
    return g;
}

wg_status wg_ocl_program_build(wg_ocl_device *dev, wg_dtype dtype) {
    wg_ocl_program *prog = &dev->program[dtype];
    char *src = NULL;
    wg_status st = assemble_source(NULL, &src);
    if (st != WG_OK) return st;
    char options[512];
    wg_ocl_build_options(dtype, options, sizeof options);
    st = wg_ocl_build_cached(dev, src, options, &prog->program);
    free(src);
    if (st == WG_OK) st = create_kernels(dev, prog);
    if (st != WG_OK) wg_ocl_program_release(prog);
    return st;
}

wg_status wg_ocl_program_get(wg_ocl_device *dev, wg_dtype dtype, wg_ocl_program **out) {
    if (dtype != WG_F32 && dtype != WG_F64)
        return wg_fail(WG_ERR_INVALID, "unknown dtype %d", dtype);
    if (dtype == WG_F64 && !dev->has_fp64)
        return wg_fail(WG_ERR_UNSUPPORTED, "%s has no double precision (cl_khr_fp64)", dev->name);
    if (!dev->program[dtype].program) {
        wg_status st = wg_ocl_program_build(dev, dtype);
        if (st != WG_OK) return st;
    }
    *out = &dev->program[dtype];
    return WG_OK;
}

/* ---- arguments and launches ---- */

wg_ocl_args wg_ocl_args_begin(cl_kernel kernel, wg_dtype dtype) {
    wg_ocl_args a = {kernel, 0, CL_SUCCESS, dtype};
    return a;
}

static void set_arg(wg_ocl_args *a, size_t size, const void *value) {
    cl_int err = clSetKernelArg(a->kernel, a->next++, size, value);
    if (a->err == CL_SUCCESS) a->err = err;
}

void wg_ocl_arg_mem(wg_ocl_args *a, cl_mem mem) {
    set_arg(a, sizeof mem, &mem);
}
void wg_ocl_arg_ulong(wg_ocl_args *a, uint64_t value) {
    cl_ulong v = value;
    set_arg(a, sizeof v, &v);
}
void wg_ocl_arg_int(wg_ocl_args *a, int value) {
    cl_int v = value;
    set_arg(a, sizeof v, &v);
}
void wg_ocl_arg_uint(wg_ocl_args *a, uint32_t value) {
    cl_uint v = value;
    set_arg(a, sizeof v, &v);
}
void wg_ocl_arg_int4(wg_ocl_args *a, const int value[4]) {
    cl_int4 v;
    for (int i = 0; i < 4; i++) v.s[i] = value[i];
    set_arg(a, sizeof v, &v);
}
void wg_ocl_arg_real(wg_ocl_args *a, double value) {
    if (a->dtype == WG_F64) {
        cl_double v = value;
        set_arg(a, sizeof v, &v);
    } else {
        cl_float v = (cl_float)value;
        set_arg(a, sizeof v, &v);
    }
}
void wg_ocl_arg_local(wg_ocl_args *a, size_t bytes) {
    set_arg(a, bytes, NULL);
}

static wg_status enqueue(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                         const wg_ocl_args *args, cl_uint dims, const size_t *global,
                         const size_t *local) {
    char what[96];
    if (args->err != CL_SUCCESS) {
        snprintf(what, sizeof what, "clSetKernelArg(%s, %u)", kernel_names[k], args->next - 1);
        return wg_ocl_fail(args->err, what);
    }
    cl_int err = clEnqueueNDRangeKernel(dev->queue, prog->kernel[k], dims, NULL, global, local, 0,
                                        NULL, NULL);
    if (err == CL_SUCCESS) return WG_OK;
    snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", kernel_names[k]);
    return wg_ocl_fail(err, what);
}

wg_status wg_ocl_launch(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                        const wg_ocl_args *args, size_t n) {
    if (n == 0) return WG_OK;
    size_t local = prog->group[k];
    size_t global = (n + local - 1) / local * local;
    return enqueue(dev, prog, k, args, 1, &global, &local);
}

wg_status wg_ocl_launch2(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                         const wg_ocl_args *args, size_t n0, size_t n1) {
    if (n0 == 0 || n1 == 0) return WG_OK;
    size_t local[2] = {prog->group[k], 1};
    size_t global[2] = {(n0 + local[0] - 1) / local[0] * local[0], n1};
    return enqueue(dev, prog, k, args, 2, global, local);
}

wg_status wg_ocl_launch_groups(wg_ocl_device *dev, const wg_ocl_program *prog, wg_ocl_kernel k,
                               const wg_ocl_args *args, size_t groups, size_t group_size) {
    if (groups == 0) return WG_OK;
    size_t global = groups * group_size;
    return enqueue(dev, prog, k, args, 1, &global, &group_size);
}
