/* Bounded reads of data files (include/wgan/datafile.h). gzip goes through zlib's
 * gzread, which reads plain files as they are, so one path serves both; its output is
 * never allowed past the limit the caller or the header sets. */
#include "wgan/datafile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

wg_status wg_open_regular(const char *path, int *fd_out, uint64_t *size) {
    *fd_out = -1;
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return wg_fail(WG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return wg_fail(WG_ERR_IO, "cannot read %s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return wg_fail(WG_ERR_IO, "cannot read %s: it is %s, only regular files are read", path,
                       file_kind(st.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (size) *size = (uint64_t)st.st_size;
    *fd_out = fd;
    return WG_OK;
}

/* ---- gzip or plain, through zlib ---- */

typedef struct grown {
    uint8_t *data;
    size_t used, cap; /* cap excludes the byte kept for a terminating NUL */
} grown;

static wg_status gz_failure(gzFile f, const char *path) {
    int code;
    const char *msg = gzerror(f, &code);
    if (code == Z_MEM_ERROR) return wg_fail(WG_ERR_NOMEM, "out of memory inflating %s", path);
    if (code == Z_ERRNO) msg = strerror(errno);
    return wg_fail(WG_ERR_IO, "%s: %s%s", path, msg,
                   code == Z_DATA_ERROR || code == Z_BUF_ERROR
                       ? " (truncated or corrupt compressed data)"
                       : "");
}

/* Reads on until g holds `limit` bytes or the stream ends; the buffer doubles, never
 * past limit, so memory follows what is really there, not what a header claims. */
static wg_status read_upto(gzFile f, const char *path, grown *g, size_t limit) {
    while (g->used < limit) {
        if (g->used == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : (size_t)1 << 16;
            if (cap > limit || cap < g->cap) cap = limit;
            uint8_t *bigger = realloc(g->data, cap + 1);
            if (!bigger) return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
            g->data = bigger;
            g->cap = cap;
        }
        size_t want = g->cap - g->used;
        if (want > (size_t)1 << 30) want = (size_t)1 << 30;
        int got = gzread(f, g->data + g->used, (unsigned)want);
        if (got < 0) return gz_failure(f, path);
        if (got == 0) {
            /* a gzip stream cut short ends like a file, with the error kept aside */
            int code;
            gzerror(f, &code);
            return code == Z_OK ? WG_OK : gz_failure(f, path);
        }
        g->used += (size_t)got;
    }
    return WG_OK;
}

static wg_status gz_open(const char *path, gzFile *out, uint64_t *size) {
    int fd;
    wg_status s = wg_open_regular(path, &fd, size);
    if (s != WG_OK) return s;
    *out = gzdopen(fd, "rb");
    if (!*out) {
        close(fd);
        return wg_fail(WG_ERR_NOMEM, "out of memory opening %s", path);
    }
    return WG_OK;
}

static uint64_t clamp_limit(uint64_t max) {
    const uint64_t most = SIZE_MAX / 2;
    return max > most ? most : max;
}

wg_status wg_read_data_file(const char *path, uint64_t max, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    max = clamp_limit(max);
    gzFile f;
    wg_status s = gz_open(path, &f, NULL);
    if (s != WG_OK) return s;
    grown g = {0};
    s = read_upto(f, path, &g, (size_t)max + 1);
    gzclose(f);
    if (s == WG_OK && g.used > max)
        s = wg_fail(WG_ERR_IO, "%s: more than %llu bytes, the most this reader accepts", path,
                    (unsigned long long)max);
    if (s == WG_OK && !g.data) { /* an empty file */
        g.data = malloc(1);
        if (!g.data) s = wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (s != WG_OK) {
        free(g.data);
        return s;
    }
    g.data[g.used] = 0;
    *data = g.data;
    *size = g.used;
    return WG_OK;
}

/* ---- IDX ---- */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *dims_hint(int have, int want) {
    if (have == 1 && want != 1) return " (a label file?)";
    if (have == 3 && want != 3) return " (an image file?)";
    return "";
}

/* Header checks on the bytes read so far; *payload is what the dimensions announce. */
static wg_status check_idx_header(const char *path, const grown *g, int ndim, uint64_t max,
                                  wg_idx *out, uint64_t *payload) {
    const uint8_t *d = g->data;
    if (g->used < 4)
        return wg_fail(WG_ERR_IO, "%s: truncated: %zu bytes, not even an IDX magic number", path,
                       g->used);
    if (d[0] != 0 || d[1] != 0)
        return wg_fail(WG_ERR_IO, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, d[0],
                       d[1], d[2], d[3]);
    if (d[2] != 0x08)
        return wg_fail(WG_ERR_IO,
                       "%s: IDX element type 0x%02x; only unsigned bytes (0x08) are supported",
                       path, d[2]);
    if (d[3] != ndim)
        return wg_fail(WG_ERR_IO, "%s: IDX with %d dimensions%s; %d expected", path, d[3],
                       dims_hint(d[3], ndim), ndim);
    size_t header = 4 + 4 * (size_t)ndim;
    if (g->used < header)
        return wg_fail(WG_ERR_IO, "%s: truncated: the header needs %zu bytes, the file has %zu",
                       path, header, g->used);
    uint64_t bytes = 1;
    out->ndim = ndim;
    for (int k = 0; k < ndim; k++) {
        out->dim[k] = be32(d + 4 + 4 * k);
        /* each factor < 2^32 and the product so far <= max < 2^33: no overflow */
        if (out->dim[k] < 1 || (bytes *= (uint64_t)out->dim[k]) > max)
            return out->dim[k] < 1
                       ? wg_fail(WG_ERR_IO, "%s: IDX dimension %d is 0", path, k)
                       : wg_fail(WG_ERR_IO,
                                 "%s: the IDX header announces more than %llu bytes, the most "
                                 "accepted",
                                 path, (unsigned long long)max);
    }
    *payload = bytes;
    return WG_OK;
}

static void describe_dims(const wg_idx *x, char *out, size_t size) {
    int used = 0;
    for (int k = 0; k < x->ndim && used < (int)size; k++)
        used += snprintf(out + used, size - (size_t)used, "%s%lld", k ? " x " : "",
                         (long long)x->dim[k]);
}

/* `extra` bytes follow the items; at_least when only the first of them was inflated. */
static wg_status check_idx_length(const char *path, const wg_idx *x, uint64_t have, uint64_t want,
                                  uint64_t extra, bool at_least) {
    char dims[96];
    describe_dims(x, dims, sizeof dims);
    if (have < want)
        return wg_fail(WG_ERR_IO,
                       "%s: truncated: the header announces %s (%llu bytes) but only %llu bytes "
                       "follow (%llu missing)",
                       path, dims, (unsigned long long)want, (unsigned long long)have,
                       (unsigned long long)(want - have));
    if (extra)
        return wg_fail(WG_ERR_IO, "%s: %s%llu unexpected bytes after the %s items of the header",
                       path, at_least ? "at least " : "", (unsigned long long)extra, dims);
    return WG_OK;
}

wg_status wg_idx_read(const char *path, int ndim, uint64_t max_bytes, wg_idx *out) {
    *out = (wg_idx){0};
    if (ndim < 1 || ndim > 3) return wg_fail(WG_ERR_INVALID, "IDX files of 1 to 3 dimensions");
    if (max_bytes > WG_IDX_MAX_BYTES) max_bytes = WG_IDX_MAX_BYTES;
    gzFile f;
    uint64_t file_size;
    wg_status s = gz_open(path, &f, &file_size);
    if (s != WG_OK) return s;
    const size_t header = 4 + 4 * (size_t)ndim;
    grown g = {0};
    uint64_t want = 0;
    if ((s = read_upto(f, path, &g, 4)) == WG_OK && (s = read_upto(f, path, &g, header)) == WG_OK)
        s = check_idx_header(path, &g, ndim, max_bytes, out, &want);
    if (s == WG_OK && gzdirect(f)) {
        /* plain: the size is known, so a wrong length is told before any allocation */
        uint64_t have = file_size > header ? file_size - header : 0;
        s = check_idx_length(path, out, have, want, have > want ? have - want : 0, false);
    }
    /* one byte past the announced end tells whether anything follows */
    if (s == WG_OK) s = read_upto(f, path, &g, header + (size_t)want + 1);
    if (s == WG_OK) {
        uint64_t have = g.used - header;
        s = check_idx_length(path, out, have, want, have > want, true);
    }
    gzclose(f);
    if (s != WG_OK) {
        free(g.data);
        *out = (wg_idx){0};
        return s;
    }
    out->file = g.data;
    out->items = g.data + header;
    return WG_OK;
}

void wg_idx_free(wg_idx *idx) {
    free(idx->file);
    *idx = (wg_idx){0};
}
