/* CIFAR-10 in its binary form (cifar-10-binary.tar.gz unpacked).
 *
 *   data:
 *     plugin: cifar10
 *     path: data/cifar-10-batches-bin   # the folder of the .bin files, or its parent
 *     split: train                      # train: data_batch_1..5.bin | test: test_batch.bin
 *
 * Each record is one label byte (0..9) then 3072 bytes: the 32x32 red, green and blue
 * planes. Samples are [3, 32, 32] in [-1, 1]; labels are checked, not used. A file must
 * hold whole records only, at most 2^18 of them (plain or gzip). */
#include <stdio.h>

#include "dataset.h"
#include "wgan/datafile.h"

#define CIFAR_SIDE 32
#define CIFAR_IMAGE (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_IMAGE)
#define CIFAR_SUBDIR "cifar-10-batches-bin"
/* The official files hold 10000 records; more than 2^18 in one file is refused. */
#define CIFAR_MAX_RECORDS (1 << 18)

static const char *const split_names[] = {"train", "test", NULL};

typedef struct cifar_files {
    char path[5][4096];
    int count;
} cifar_files;

static wg_status list_files(const char *dir, int split, cifar_files *files) {
    char probe[4096];
    wg_status s = wgp_join(probe, sizeof probe, dir, CIFAR_SUBDIR);
    if (s != WG_OK) return s;
    const char *base = wgp_is_dir(probe) ? probe : dir;
    files->count = split == 0 ? 5 : 1;
    for (int i = 0; i < files->count; i++) {
        char name[32];
        if (split == 0)
            snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        else
            snprintf(name, sizeof name, "test_batch.bin");
        s = wgp_join(files->path[i], sizeof files->path[i], base, name);
        if (s != WG_OK) return s;
        if (!wgp_exists(files->path[i]))
            return wg_fail(WG_ERR_IO, "cifar10: %s does not exist", files->path[i]);
    }
    return WG_OK;
}

/* Appends the images of one file to pixels[*count ...], growing it. */
static wg_status read_records(const char *path, uint8_t **pixels, int64_t *count) {
    uint8_t *data;
    size_t size;
    wg_status s = wg_read_data_file(path, (uint64_t)CIFAR_MAX_RECORDS * CIFAR_RECORD, &data, &size);
    if (s != WG_OK) return s;
    size_t records = size / CIFAR_RECORD, rest = size % CIFAR_RECORD;
    if (records == 0 || rest != 0) {
        s = rest ? wg_fail(WG_ERR_IO,
                           "%s: truncated: %zu bytes is %zu whole %d-byte records and %zu bytes "
                           "of the next (%zu missing)",
                           path, size, records, CIFAR_RECORD, rest, CIFAR_RECORD - rest)
                 : wg_fail(WG_ERR_IO, "%s: empty", path);
        free(data);
        return s;
    }
    uint8_t *grown = realloc(*pixels, (size_t)(*count + (int64_t)records) * CIFAR_IMAGE);
    if (!grown) {
        free(data);
        return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
    }
    *pixels = grown;
    for (size_t r = 0; r < records; r++) {
        const uint8_t *record = data + r * CIFAR_RECORD;
        if (record[0] > 9) {
            s = wg_fail(WG_ERR_IO,
                        "%s: record %zu has label %d; CIFAR-10 labels are 0..9 (not a "
                        "CIFAR-10 binary file?)",
                        path, r, record[0]);
            break;
        }
        memcpy(grown + (size_t)(*count + (int64_t)r) * CIFAR_IMAGE, record + 1, CIFAR_IMAGE);
    }
    free(data);
    if (s == WG_OK) *count += (int64_t)records;
    return s;
}

static wg_status cifar10_create(const wg_cfg *config, uint64_t seed, void **state) {
    const char *path;
    int split;
    wg_status s = wg_cfg_require(config, "path");
    if (s == WG_OK) s = wg_cfg_string(config, "path", NULL, &path);
    if (s == WG_OK) s = wg_cfg_enum(config, "split", split_names, 0, &split);
    if (s != WG_OK) return s;
    cifar_files *files = malloc(sizeof *files);
    if (!files) return wg_fail(WG_ERR_NOMEM, "cifar10: out of memory");
    s = list_files(path, split, files);
    uint8_t *pixels = NULL;
    int64_t count = 0;
    for (int i = 0; s == WG_OK && i < files->count; i++)
        s = read_records(files->path[i], &pixels, &count);
    free(files);
    if (s != WG_OK) {
        free(pixels);
        return s;
    }
    return wgp_images_new(pixels, pixels, count, 3, CIFAR_SIDE, CIFAR_SIDE, seed, state);
}

static const wg_data_vtable cifar10_vtable = WGP_IMAGES_VTABLE(cifar10_create);
static const wg_plugin_desc cifar10_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "cifar10", "CIFAR-10 binary batches (32x32 RGB)", &cifar10_vtable);
WG_PLUGIN_EXPORT_ONE(cifar10_desc)
