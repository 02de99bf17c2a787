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
 * (magic 00 00 08 03) with count * H * W pixel bytes, at most 4 GiB; only that much is
 * inflated from a .gz (wg_idx_read, shared with the FID classifier). */
#include <stdio.h>

#include "dataset.h"
#include "wgan/datafile.h"

#define IDX_MAX_SIDE 65536

static const char *const split_names[] = {"train", "test", NULL};
static const char *const split_files[] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"};

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
    wg_idx idx;
    if ((s = wg_idx_read(file, 3, WG_IDX_MAX_BYTES, &idx)) != WG_OK) return s;
    if (idx.dim[1] > IDX_MAX_SIDE || idx.dim[2] > IDX_MAX_SIDE) {
        wg_idx_free(&idx);
        return wg_fail(WG_ERR_IO, "%s: %lld x %lld images are larger than %d pixels a side", file,
                       (long long)idx.dim[1], (long long)idx.dim[2], IDX_MAX_SIDE);
    }
    uint8_t *pixels = idx.file + (idx.items - idx.file);
    return wgp_images_new(idx.file, pixels, idx.dim[0], 1, idx.dim[1], idx.dim[2], seed, state);
}

static const wg_data_vtable idx_vtable = WGP_IMAGES_VTABLE(idx_create);
static const wg_plugin_desc idx_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "idx", "MNIST-style IDX image files (Fashion-MNIST by default)", &idx_vtable);
WG_PLUGIN_EXPORT_ONE(idx_desc)
