#include "image.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

wg_status wg_image_new(wg_image *image, int width, int height, uint32_t color) {
    *image = (wg_image){0};
    if (width <= 0 || height <= 0 || width > WG_IMAGE_MAX_SIDE || height > WG_IMAGE_MAX_SIDE)
        return wg_fail(WG_ERR_INVALID, "image size %dx%d out of range", width, height);
    image->rgb = malloc((size_t)width * height * 3);
    if (!image->rgb) return wg_fail(WG_ERR_NOMEM, "out of memory for a %dx%d image", width, height);
    image->width = width;
    image->height = height;
    for (size_t i = 0; i < (size_t)width * height; i++) {
        image->rgb[3 * i] = (uint8_t)(color >> 16);
        image->rgb[3 * i + 1] = (uint8_t)(color >> 8);
        image->rgb[3 * i + 2] = (uint8_t)color;
    }
    return WG_OK;
}

void wg_image_free(wg_image *image) {
    free(image->rgb);
    *image = (wg_image){0};
}

static void write_to_buf(png_structp png, png_bytep data, size_t size) {
    wg_buf_append(png_get_io_ptr(png), data, size);
}

static void flush_nothing(png_structp png) {
    (void)png;
}

static void png_error_message(png_structp png, png_const_charp message) {
    wg_fail(WG_ERR_IO, "PNG encoding failed: %s", message);
    png_longjmp(png, 1);
}

static void png_warning_ignored(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

wg_status wg_png_encode(const wg_image *image, wg_buf *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_message,
                                              png_warning_ignored);
    if (!png) return wg_fail(WG_ERR_NOMEM, "out of memory encoding a PNG");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return wg_fail(WG_ERR_NOMEM, "out of memory encoding a PNG");
    }
    /* volatile: read after a longjmp back here */
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return WG_ERR_IO; /* message set by png_error_message */
    }
    rows = malloc((size_t)image->height * sizeof *rows);
    if (!rows) {
        png_destroy_write_struct(&png, &info);
        return wg_fail(WG_ERR_NOMEM, "out of memory encoding a PNG");
    }
    for (int y = 0; y < image->height; y++) rows[y] = image->rgb + (size_t)y * image->width * 3;
    png_set_write_fn(png, out, write_to_buf, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)image->width, (png_uint_32)image->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (out->failed) return wg_fail(WG_ERR_NOMEM, "out of memory encoding a PNG");
    return WG_OK;
}

wg_status wg_png_write(const char *path, const wg_image *image) {
    wg_buf buf = {0};
    wg_status status = wg_png_encode(image, &buf);
    if (status == WG_OK) status = wg_write_file_atomic(path, buf.data, buf.len);
    wg_buf_free(&buf);
    return status;
}
