/* A folder of PNG images of one size.
 *
 *   data:
 *     plugin: png_folder
 *     path: data/faces     # every *.png (any case) directly in this folder, by name order
 *     color: auto          # auto | gray | rgb; auto: rgb when any image has color
 *
 * Samples are [1 or 3, H, W] in [-1, 1]. Images with alpha are composited on black;
 * 16-bit images are reduced to 8 bits (libpng's simplified API). An image of another
 * size than the first is an error naming both files. */
#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "dataset.h"
#include "wgan/datafile.h"

/* Samples are shown as a grid of 8 x 8 in one picture of at most 16384 pixels a side
 * (io/image.c), each cell with a 2-pixel border: 8 * (2040 + 2) + 2 fits. */
#define PNG_MAX_SIDE 2040

static const char *const color_names[] = {"auto", "gray", "rgb", NULL};
enum { COLOR_AUTO, COLOR_GRAY, COLOR_RGB };

static int is_png(const struct dirent *entry) {
    size_t len = strlen(entry->d_name);
    return len > 4 && strcasecmp(entry->d_name + len - 4, ".png") == 0;
}

/* Byte order, not the locale's collation: the same folder gives the same order. */
static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

typedef struct png_list {
    struct dirent **entries;
    int count;
    const char *dir;
    char path[4096];
} png_list;

/* The path of entry i, or NULL (message set) when it is too long. */
static const char *entry_path(png_list *list, int i) {
    return wgp_join(list->path, sizeof list->path, list->dir, list->entries[i]->d_name) == WG_OK
               ? list->path
               : NULL;
}

static void free_list(png_list *list) {
    for (int i = 0; i < list->count; i++) free(list->entries[i]);
    free(list->entries);
}

/* A regular file only (a FIFO named x.png would block a plain fopen); close_png ends
 * both the image and the stream. */
static wg_status open_png(const char *path, png_image *image, FILE **stream) {
    memset(image, 0, sizeof *image);
    image->version = PNG_IMAGE_VERSION;
    int fd;
    wg_status s = wg_open_regular(path, &fd, NULL);
    if (s != WG_OK) return s;
    *stream = fdopen(fd, "rb");
    if (!*stream) {
        close(fd);
        return wg_fail(WG_ERR_NOMEM, "out of memory opening %s", path);
    }
    if (!png_image_begin_read_from_stdio(image, *stream)) {
        s = wg_fail(WG_ERR_IO, "%s: %s", path, image->message);
        png_image_free(image);
        fclose(*stream);
        return s;
    }
    return WG_OK;
}

static void close_png(png_image *image, FILE *stream) {
    png_image_free(image);
    fclose(stream);
}

/* Pass one, headers only: equal sizes, and whether any image has color. */
static wg_status scan_headers(png_list *list, png_uint_32 *width, png_uint_32 *height,
                              bool *any_color) {
    char first[4096];
    *any_color = false;
    for (int i = 0; i < list->count; i++) {
        png_image image;
        FILE *stream;
        const char *path = entry_path(list, i);
        if (!path) return WG_ERR_IO;
        wg_status s = open_png(path, &image, &stream);
        if (s != WG_OK) return s;
        png_uint_32 w = image.width, h = image.height;
        *any_color |= (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
        close_png(&image, stream);
        if (i == 0) {
            if (w > PNG_MAX_SIDE || h > PNG_MAX_SIDE)
                return wg_fail(WG_ERR_IO, "%s: %ux%u is larger than %d pixels a side", path, w, h,
                               PNG_MAX_SIDE);
            *width = w;
            *height = h;
            snprintf(first, sizeof first, "%s", path);
        } else if (w != *width || h != *height) {
            return wg_fail(WG_ERR_IO, "%s is %ux%u but %s is %ux%u: all images must have one size",
                           path, w, h, first, *width, *height);
        }
    }
    return WG_OK;
}

/* Pass two: image i as planar bytes into `planes`, through the interleaved `rows`. */
static wg_status read_png(const char *path, int channels, png_uint_32 width, png_uint_32 height,
                          uint8_t *rows, uint8_t *planes) {
    png_image image;
    FILE *stream;
    wg_status s = open_png(path, &image, &stream);
    if (s != WG_OK) return s;
    if (image.width != width || image.height != height) {
        close_png(&image, stream);
        return wg_fail(WG_ERR_IO, "%s changed while being read", path);
    }
    image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_color black = {0, 0, 0};
    int ok = png_image_finish_read(&image, &black, rows, 0, NULL);
    if (!ok) s = wg_fail(WG_ERR_IO, "%s: %s", path, image.message);
    close_png(&image, stream);
    if (!ok) return s;
    size_t plane = (size_t)width * height;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < channels; c++) planes[c * plane + p] = rows[p * channels + c];
    return WG_OK;
}

static wg_status png_folder_create(const wg_cfg *config, uint64_t seed, void **state) {
    const char *dir;
    int color;
    wg_status s = wg_cfg_require(config, "path");
    if (s == WG_OK) s = wg_cfg_string(config, "path", NULL, &dir);
    if (s == WG_OK) s = wg_cfg_enum(config, "color", color_names, COLOR_AUTO, &color);
    if (s != WG_OK) return s;
    png_list list = {.dir = dir};
    errno = 0;
    list.count = scandir(dir, &list.entries, is_png, by_name);
    if (list.count < 0)
        return wg_fail(WG_ERR_IO, "png_folder: cannot list %s: %s", dir, strerror(errno));
    if (list.count == 0) {
        free_list(&list);
        return wg_fail(WG_ERR_IO, "png_folder: no *.png files in %s", dir);
    }
    png_uint_32 width = 0, height = 0;
    bool any_color;
    s = scan_headers(&list, &width, &height, &any_color);
    int channels = color == COLOR_RGB || (color == COLOR_AUTO && any_color) ? 3 : 1;
    size_t size = (size_t)channels * width * height;
    uint8_t *pixels = NULL, *rows = NULL;
    if (s == WG_OK) {
        pixels = malloc(size * (size_t)list.count);
        rows = malloc(size);
        if (!pixels || !rows) s = wg_fail(WG_ERR_NOMEM, "png_folder: out of memory for %s", dir);
    }
    for (int i = 0; s == WG_OK && i < list.count; i++) {
        const char *path = entry_path(&list, i);
        s = path ? read_png(path, channels, width, height, rows, pixels + (size_t)i * size)
                 : WG_ERR_IO;
    }
    int64_t count = list.count;
    free(rows);
    free_list(&list);
    if (s != WG_OK) {
        free(pixels);
        return s;
    }
    return wgp_images_new(pixels, pixels, count, channels, height, width, seed, state);
}

static const wg_data_vtable png_folder_vtable = WGP_IMAGES_VTABLE(png_folder_create);
static const wg_plugin_desc png_folder_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "png_folder", "a folder of equally sized PNG images", &png_folder_vtable);
WG_PLUGIN_EXPORT_ONE(png_folder_desc)
