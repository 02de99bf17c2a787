#include "fileio.h"

#include "wgan/datafile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int buf_reserve(wg_buf *buf, size_t extra) {
    if (buf->failed) return 0;
    if (buf->len + extra + 1 <= buf->cap) return 1;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < buf->len + extra + 1) cap *= 2;
    char *grown = realloc(buf->data, cap);
    if (!grown) {
        buf->failed = 1;
        return 0;
    }
    buf->data = grown;
    buf->cap = cap;
    return 1;
}

void wg_buf_append(wg_buf *buf, const void *data, size_t size) {
    if (!buf_reserve(buf, size)) return;
    memcpy(buf->data + buf->len, data, size);
    buf->len += size;
    buf->data[buf->len] = 0;
}

void wg_buf_puts(wg_buf *buf, const char *text) {
    wg_buf_append(buf, text, strlen(text));
}

void wg_buf_printf(wg_buf *buf, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0 || !buf_reserve(buf, (size_t)n)) return;
    va_start(args, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, args);
    va_end(args);
    buf->len += (size_t)n;
}

void wg_buf_json_string(wg_buf *buf, const char *text) {
    wg_buf_puts(buf, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            wg_buf_printf(buf, "\\%c", *p);
        else if (*p == '\n')
            wg_buf_puts(buf, "\\n");
        else if (*p < 0x20)
            wg_buf_printf(buf, "\\u%04x", *p);
        else
            wg_buf_append(buf, p, 1);
    }
    wg_buf_puts(buf, "\"");
}

void wg_buf_json_number(wg_buf *buf, double value) {
    if (isfinite(value))
        wg_buf_printf(buf, "%.9g", value);
    else
        wg_buf_puts(buf, "null");
}

void wg_buf_free(wg_buf *buf) {
    free(buf->data);
    *buf = (wg_buf){0};
}

static wg_status io_error(const char *path, const char *what, int err) {
    return wg_fail(WG_ERR_IO, "cannot %s %s: %s", what, path, strerror(err));
}

/* The folder part of `path` ("." when none), for fsyncing the rename. */
static void parent_dir(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}

wg_status wg_write_file_atomic(const char *path, const void *data, size_t size) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return wg_fail(WG_ERR_IO, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error(path, "write", errno);
    const char *p = data;
    size_t left = size;
    int err = 0;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : ENOSPC;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return io_error(path, "write", err);
    }
    char dir[4096];
    parent_dir(path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse fsync on folders */
        close(dfd);
    }
    return WG_OK;
}

wg_status wg_read_file_max(const char *path, uint64_t max, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    int fd;
    uint64_t length;
    wg_status s = wg_open_regular(path, &fd, &length);
    if (s != WG_OK) return s;
    if (length > max || length >= SIZE_MAX) {
        close(fd);
        return wg_fail(WG_ERR_IO, "cannot read %s: %llu bytes, more than the %llu accepted", path,
                       (unsigned long long)length, (unsigned long long)max);
    }
    /* one allocation of the size the file has; a failure ends the read */
    char *buf = malloc((size_t)length + 1);
    if (!buf) {
        close(fd);
        return wg_fail(WG_ERR_NOMEM, "out of memory reading %s (%llu bytes)", path,
                       (unsigned long long)length);
    }
    size_t used = 0;
    int err = 0;
    while (used < (size_t)length) {
        ssize_t n = read(fd, buf + used, (size_t)length - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        used += (size_t)n;
    }
    close(fd);
    if (err) {
        free(buf);
        return err == EIO && used < (size_t)length
                   ? wg_fail(WG_ERR_IO, "cannot read %s: it shrank while being read", path)
                   : io_error(path, "read", err);
    }
    buf[used] = 0;
    *data = buf;
    *size = used;
    return WG_OK;
}

wg_status wg_read_file(const char *path, char **data, size_t *size) {
    return wg_read_file_max(path, WG_READ_FILE_MAX, data, size);
}

wg_status wg_make_dirs(const char *path) {
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return wg_fail(WG_ERR_IO, "path too long: %s", path);
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char saved = *p;
        *p = 0;
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            int err = errno;
            return wg_fail(WG_ERR_IO, "cannot create folder %s: %s", copy, strerror(err));
        }
        struct stat st;
        if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode))
            return wg_fail(WG_ERR_IO, "cannot create folder %s: not a folder", copy);
        *p = saved;
        if (!saved) break;
    }
    return WG_OK;
}

int wg_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
