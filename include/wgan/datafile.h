/* Reading data files with bounds, for wgan and for data plugins: only regular files
 * (a FIFO, a device or a folder is refused with a message naming the path, never
 * waited on), never more bytes than the caller's maximum or what a header announces,
 * decompression that stops there, and a failed allocation that ends the read at once.
 * Every failure is WG_ERR_IO (WG_ERR_NOMEM for memory) with a message naming the path. */
#ifndef WGAN_DATAFILE_H
#define WGAN_DATAFILE_H

#include <stddef.h>
#include <stdint.h>

#include "wgan/api.h"
#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest IDX payload wg_idx_read accepts whatever a header announces: 4 GiB. */
#define WG_IDX_MAX_BYTES ((uint64_t)1 << 32)

/* Opens a regular file for reading (close-on-exec) without blocking on a FIFO; its
 * size at opening in *size (may be NULL). */
WG_API wg_status wg_open_regular(const char *path, int *fd, uint64_t *size);

/* A whole regular file, plain or gzip-compressed (zlib tells them apart), of at most
 * `max` bytes after decompression; more is an error naming the cap. *data is
 * NUL-terminated (not counted in *size); free() it. */
WG_API wg_status wg_read_data_file(const char *path, uint64_t max, uint8_t **data, size_t *size);

/* An unsigned-byte IDX file (MNIST and its kin), plain or gzip: magic 00 00 08 <ndim>,
 * ndim big-endian 32-bit sizes, then exactly their product in bytes. Only the bytes the
 * header announces are inflated (one more, to see that nothing follows). */
typedef struct wg_idx {
    uint8_t *file;        /* the whole file: header and items (wg_idx_free) */
    const uint8_t *items; /* the first item, right after the header */
    int ndim;
    int64_t dim[3]; /* dim[0]: the item count */
} wg_idx;

/* Reads `path` as an IDX of `ndim` (1 to 3) dimensions holding at most `max_bytes`
 * item bytes (at most WG_IDX_MAX_BYTES). */
WG_API wg_status wg_idx_read(const char *path, int ndim, uint64_t max_bytes, wg_idx *out);
WG_API void wg_idx_free(wg_idx *idx);

#ifdef __cplusplus
}
#endif

#endif
