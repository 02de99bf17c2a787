/* Files the run folder is made of: growable text buffers, whole-file reads, and
 * writes that either replace a file completely or leave the old one untouched. */
#ifndef WGAN_FILEIO_H
#define WGAN_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "wgan/status.h"

/* A growable byte buffer; a failed allocation sets `failed` and later appends are
 * ignored, so a caller checks once at the end. Always NUL-terminated when non-empty. */
typedef struct wg_buf {
    char *data;
    size_t len, cap;
    int failed;
} wg_buf;

void wg_buf_append(wg_buf *buf, const void *data, size_t size);
void wg_buf_puts(wg_buf *buf, const char *text);
void wg_buf_printf(wg_buf *buf, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* `text` as a JSON string literal, quotes included. */
void wg_buf_json_string(wg_buf *buf, const char *text);
/* A JSON number, or null when `value` is NaN or infinite. */
void wg_buf_json_number(wg_buf *buf, double value);
void wg_buf_free(wg_buf *buf);

/* Writes `size` bytes to a temporary file next to `path`, fsyncs it, renames it over
 * `path` and fsyncs the folder. On any failure (a full disk included) the temporary
 * file is removed, `path` keeps its previous content, and WG_ERR_IO names `path`. */
wg_status wg_write_file_atomic(const char *path, const void *data, size_t size);
/* The most wg_read_file reads: 16 GiB, beyond any checkpoint or run-folder file. */
#define WG_READ_FILE_MAX ((uint64_t)1 << 34)

/* The whole of a regular file (anything else is refused, a FIFO is never waited on)
 * of at most `max` bytes, NUL-terminated (the terminator not counted in *size). Memory
 * is allocated once, for the size the file has; a failure ends the read. */
wg_status wg_read_file_max(const char *path, uint64_t max, char **data, size_t *size);
wg_status wg_read_file(const char *path, char **data, size_t *size);
/* The lock file inside a folder that wg_lock_folder takes. */
#define WG_LOCK_FILE ".lock"
/* Takes the exclusive lock of folder `dir` (an flock on dir/.lock, which records our
 * pid) for as long as *fd stays open; the kernel drops it when the process ends in any
 * way. WG_ERR_CONFIG naming the folder and the holder's pid when another process holds
 * it: nothing waits. */
wg_status wg_lock_folder(const char *dir, int *fd);
/* Closes *fd (dropping the lock) and sets it to -1; a no-op when it is -1. */
void wg_unlock_folder(int *fd);

/* mkdir -p. */
wg_status wg_make_dirs(const char *path);
int wg_file_exists(const char *path);

#endif
