/* RGB images in memory and their PNG encoding (libpng). */
#ifndef WGAN_IMAGE_H
#define WGAN_IMAGE_H

#include <stdint.h>

#include "fileio.h"

typedef struct wg_image {
    int width, height;
    uint8_t *rgb; /* width * height * 3, rows top to bottom */
} wg_image;

/* An image filled with `color` (0xRRGGBB). */
/* The largest picture side wgan draws. */
#define WG_IMAGE_MAX_SIDE 16384

wg_status wg_image_new(wg_image *image, int width, int height, uint32_t color);
void wg_image_free(wg_image *image);

/* 8-bit RGB PNG appended to `out`. */
wg_status wg_png_encode(const wg_image *image, wg_buf *out);
/* Encodes and writes atomically (wg_write_file_atomic). */
wg_status wg_png_write(const char *path, const wg_image *image);

#endif
