/* MNIST-style IDX image files (MNIST, Fashion-MNIST, KMNIST, ...), plain or gzip.
 *
 *   data:
 *     plugin: idx
 *     path: /usr/share/datasets/fashion-mnist   # a folder, or an IDX image file
 *     split: train                              # train | test
 *
 * In a folder the images are train-images-idx3-ubyte or t10k-images-idx3-ubyte, with
 * or without .gz (Debian's dataset-fashion-mnist installs the .gz files in the default
 * path). Samples are [1, H, W], scaled from 0..255 to [-1, 1]; labels are not read.
 * The file must hold exactly what its header announces: an unsigned-byte, 3-D IDX
 * (magic 00 00 08 03) with count * H * W pixel bytes. */
#include <stdio.h>

#include "dataset.h"

#define IDX_HEADER 16
#define IDX_MAX_SIDE 65536

static const char *const split_names[] = {"train", "test", NULL};
static const char *const split_files[] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"};

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The image file for `split` in the folder `dir`, into file[size]. */
static wg_status find_images(const char *dir, int split, char *file, size_t size) {
    const char *base = split_files[split];
    char gz[64];
    snprintf(gz, sizeof gz, "%s.gz", base);
    wg_status s = wgp_join(file, size, dir, base);
    if (s != WG_OK || wgp_exists(file)) return s;
    s = wgp_join(file, size, dir, gz);
    if (s != WG_OK || wgp_exists(file)) return s;
    return wg_fail(WG_ERR_IO, "no %s or %s.gz in %s", base, base, dir);
}

/* Checks header and length; *count, *rows, *cols describe the images that follow. */
static wg_status check_idx(const char *path, const uint8_t *data, size_t size, int64_t *count,
                           int64_t *rows, int64_t *cols) {
    if (size < 4)
        return wg_fail(WG_ERR_IO, "%s: truncated: %zu bytes, not even an IDX magic number", path,
                       size);
    if (data[0] != 0 || data[1] != 0)
        return wg_fail(WG_ERR_IO, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, data[0],
                       data[1], data[2], data[3]);
    if (data[2] != 0x08)
        return wg_fail(WG_ERR_IO,
                       "%s: IDX element type 0x%02x; only unsigned bytes (0x08) are "
                       "supported",
                       path, data[2]);
    if (data[3] != 3)
        return wg_fail(WG_ERR_IO, "%s: IDX with %d dimensions%s; images need 3", path, data[3],
                       data[3] == 1 ? " (a label file?)" : "");
    if (size < IDX_HEADER)
        return wg_fail(WG_ERR_IO, "%s: truncated: the header needs %d bytes, the file has %zu",
                       path, IDX_HEADER, size);
    *count = be32(data + 4);
    *rows = be32(data + 8);
    *cols = be32(data + 12);
    if (*count < 1 || *rows < 1 || *cols < 1 || *rows > IDX_MAX_SIDE || *cols > IDX_MAX_SIDE)
        return wg_fail(WG_ERR_IO, "%s: unusable dimensions %lld x %lld x %lld", path,
                       (long long)*count, (long long)*rows, (long long)*cols);
    /* count < 2^32 and rows * cols <= 2^32: the product fits in 64 bits */
    uint64_t want = (uint64_t)*count * (uint64_t)(*rows * *cols);
    uint64_t have = size - IDX_HEADER;
    if (have < want)
        return wg_fail(WG_ERR_IO,
                       "%s: truncated: the header announces %lld images of %lldx%lld (%llu bytes) "
                       "but only %llu bytes follow (%llu missing)",
                       path, (long long)*count, (long long)*rows, (long long)*cols,
                       (unsigned long long)want, (unsigned long long)have,
                       (unsigned long long)(want - have));
    if (have > want)
        return wg_fail(WG_ERR_IO, "%s: %llu unexpected bytes after the %lld images of the header",
                       path, (unsigned long long)(have - want), (long long)*count);
    return WG_OK;
}

static wg_status idx_create(const wg_cfg *config, uint64_t seed, void **state) {
    const char *path;
    int split;
    wg_status s = wg_cfg_string(config, "path", "/usr/share/datasets/fashion-mnist", &path);
    if (s == WG_OK) s = wg_cfg_enum(config, "split", split_names, 0, &split);
    if (s != WG_OK) return s;
    char file[4096];
    if (wgp_is_dir(path)) {
        s = find_images(path, split, file, sizeof file);
        if (s != WG_OK) return s;
    } else if (snprintf(file, sizeof file, "%s", path) >= (int)sizeof file) {
        return wg_fail(WG_ERR_IO, "path too long: %s", path);
    }
    uint8_t *data;
    size_t size;
    s = wgp_read_file(file, &data, &size);
    if (s != WG_OK) return s;
    int64_t count = 0, rows = 0, cols = 0;
    s = check_idx(file, data, size, &count, &rows, &cols);
    if (s != WG_OK) {
        free(data);
        return s;
    }
    return wgp_images_new(data, data + IDX_HEADER, count, 1, rows, cols, seed, state);
}

static const wg_data_vtable idx_vtable = WGP_IMAGES_VTABLE(idx_create);
static const wg_plugin_desc idx_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "idx", "MNIST-style IDX image files (Fashion-MNIST by default)", &idx_vtable);
WG_PLUGIN_EXPORT_ONE(idx_desc)
