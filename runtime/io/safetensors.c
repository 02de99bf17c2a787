#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

_Static_assert(sizeof(float) == 4, "safetensors F32 needs 4-byte floats");

static void put_u64_le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A tensor name and where it is, sortable by name. */
typedef struct st_name {
    const char *name;
    int index;
} st_name;

static int by_name(const void *a, const void *b) {
    return strcmp(((const st_name *)a)->name, ((const st_name *)b)->name);
}

/* Sorts names[count] and gives a name that occurs twice, or NULL: n log n, so a
 * hostile file of many tensors costs no more than reading it. */
static const char *sort_names(st_name *names, int count) {
    if (count < 2) return NULL;
    qsort(names, (size_t)count, sizeof *names, by_name);
    for (int i = 1; i < count; i++)
        if (!strcmp(names[i - 1].name, names[i].name)) return names[i].name;
    return NULL;
}

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    return *(const unsigned char *)&one == 1;
}

wg_status wg_safetensors_write(const char *path, int count, const wg_st_tensor *tensors, int n_meta,
                               const wg_st_meta *meta) {
    if (!host_is_little_endian())
        return wg_fail(WG_ERR_UNSUPPORTED, "safetensors writing needs a little-endian host");
    st_name *names = malloc((size_t)(count > 0 ? count : 1) * sizeof *names);
    if (!names) return wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path);
    for (int i = 0; i < count; i++) names[i] = (st_name){tensors[i].name, i};
    const char *twice = sort_names(names, count);
    free(names);
    if (twice) return wg_fail(WG_ERR_INVALID, "tensor '%s' appears twice in %s", twice, path);
    wg_buf header = {0};
    wg_buf_puts(&header, "{");
    if (n_meta > 0) {
        wg_buf_puts(&header, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) wg_buf_puts(&header, ",");
            wg_buf_json_string(&header, meta[i].key);
            wg_buf_puts(&header, ":");
            wg_buf_json_string(&header, meta[i].value);
        }
        wg_buf_puts(&header, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        const wg_st_tensor *t = &tensors[i];
        uint64_t bytes = (uint64_t)wg_shape_numel(&t->shape) * sizeof(float);
        if (i || n_meta > 0) wg_buf_puts(&header, ",");
        wg_buf_json_string(&header, t->name);
        wg_buf_puts(&header, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->shape.ndim; d++)
            wg_buf_printf(&header, "%s%lld", d ? "," : "", (long long)t->shape.dim[d]);
        wg_buf_printf(&header, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                      (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    wg_buf_puts(&header, "}");
    /* spaces up to 8-byte alignment, as the reference writer does */
    while ((header.len + 8) % 8) wg_buf_puts(&header, " ");
    wg_buf file = {0};
    unsigned char len[8];
    put_u64_le(len, header.len);
    wg_buf_append(&file, len, 8);
    wg_buf_append(&file, header.data, header.len);
    for (int i = 0; i < count; i++)
        wg_buf_append(&file, tensors[i].data,
                      (size_t)wg_shape_numel(&tensors[i].shape) * sizeof(float));
    wg_status status;
    if (header.failed || file.failed)
        status = wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path);
    else
        status = wg_write_file_atomic(path, file.data, file.len);
    wg_buf_free(&header);
    wg_buf_free(&file);
    return status;
}

/* ---- reading ---- */

typedef struct st_entry {
    wg_st_tensor tensor;
    uint64_t begin, end;
    uint64_t bytes; /* what the shape needs, overflow-checked */
} st_entry;

struct wg_safetensors {
    char *bytes; /* the whole file */
    size_t size;
    st_entry *entries;
    int count, capacity;
    st_name *names; /* every tensor, sorted by name, for lookups */
    wg_st_meta *meta;
    int n_meta, meta_capacity;
};

/* A JSON reader for exactly the header's grammar; strings are unescaped into fresh
 * allocations. */
typedef struct reader {
    const char *p, *end;
    const char *path;
    wg_status status;
} reader;

static int bad(reader *r, const char *what) {
    if (r->status == WG_OK)
        r->status = wg_fail(WG_ERR_IO, "%s: corrupt safetensors header: %s", r->path, what);
    return 0;
}

static void skip_space(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int expect(reader *r, char c) {
    skip_space(r);
    if (r->p >= r->end || *r->p != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return bad(r, what);
    }
    r->p++;
    return 1;
}

static int peek(reader *r, char c) {
    skip_space(r);
    return r->p < r->end && *r->p == c;
}

static void put_utf8(wg_buf *b, unsigned cp) {
    unsigned char out[3];
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        wg_buf_append(b, out, 1);
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        wg_buf_append(b, out, 2);
    } else {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        wg_buf_append(b, out, 3);
    }
}

static char *read_string(reader *r) {
    if (!expect(r, '"')) return NULL;
    wg_buf b = {0};
    wg_buf_append(&b, "", 0);
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') {
            wg_buf_append(&b, &c, 1);
            continue;
        }
        if (r->p >= r->end) break;
        char e = *r->p++;
        const char *plain = strchr("\"\\/", e);
        if (plain) {
            wg_buf_append(&b, &e, 1);
        } else if (e == 'n' || e == 't' || e == 'r' || e == 'b' || e == 'f') {
            char v = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : '\f';
            wg_buf_append(&b, &v, 1);
        } else if (e == 'u' && r->end - r->p >= 4) {
            char hex[5] = {r->p[0], r->p[1], r->p[2], r->p[3], 0};
            char *stop;
            unsigned cp = (unsigned)strtoul(hex, &stop, 16);
            if (*stop) break;
            r->p += 4;
            put_utf8(&b, cp);
        } else {
            break;
        }
    }
    if (r->p >= r->end || *r->p != '"' || b.failed) {
        wg_buf_free(&b);
        bad(r, "bad string");
        return NULL;
    }
    r->p++;
    return b.data;
}

static int read_uint(reader *r, uint64_t *out) {
    skip_space(r);
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return bad(r, "expected a number");
    uint64_t v = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return bad(r, "number too large");
        v = v * 10 + (uint64_t)(*r->p++ - '0');
    }
    *out = v;
    return 1;
}

/* [n, n, ...] into out[0..max); the count in *n. */
static int read_uint_array(reader *r, uint64_t *out, int max, int *n) {
    *n = 0;
    if (!expect(r, '[')) return 0;
    if (peek(r, ']')) return expect(r, ']');
    do {
        if (*n == max) return bad(r, "array too long");
        if (!read_uint(r, &out[(*n)++])) return 0;
    } while (peek(r, ',') && expect(r, ','));
    return expect(r, ']');
}

static int read_metadata(reader *r, wg_safetensors *f) {
    if (!expect(r, '{')) return 0;
    if (peek(r, '}')) return expect(r, '}');
    do {
        char *key = read_string(r);
        if (!key) return 0;
        char *value = expect(r, ':') ? read_string(r) : NULL;
        if (!value) {
            free(key);
            return 0;
        }
        if (f->n_meta == f->meta_capacity) {
            int capacity = f->meta_capacity ? 2 * f->meta_capacity : 16;
            wg_st_meta *grown = realloc(f->meta, (size_t)capacity * sizeof *grown);
            if (!grown) {
                free(key);
                free(value);
                return bad(r, "out of memory");
            }
            f->meta = grown;
            f->meta_capacity = capacity;
        }
        f->meta[f->n_meta++] = (wg_st_meta){key, value};
    } while (peek(r, ',') && expect(r, ','));
    return expect(r, '}');
}

static int read_tensor(reader *r, st_entry *e) {
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (!expect(r, '{')) return 0;
    do {
        char *key = read_string(r);
        if (!key || !expect(r, ':')) {
            free(key);
            return 0;
        }
        int ok = 1;
        if (!strcmp(key, "dtype")) {
            char *dtype = read_string(r);
            ok = dtype != NULL;
            if (ok && strcmp(dtype, "F32") != 0) {
                char what[96];
                snprintf(what, sizeof what, "tensor '%s' has dtype %.16s, only F32 is supported",
                         e->tensor.name, dtype);
                ok = bad(r, what);
            }
            free(dtype);
            have_dtype = 1;
        } else if (!strcmp(key, "shape")) {
            uint64_t dims[WG_MAX_DIMS];
            int n;
            ok = read_uint_array(r, dims, WG_MAX_DIMS, &n);
            e->tensor.shape.ndim = ok ? n : 0;
            /* the size in bytes must fit in 64 bits (and so every numel in int64_t) */
            e->bytes = sizeof(float);
            for (int d = 0; ok && d < n; d++) {
                if (dims[d] && e->bytes > (UINT64_MAX >> 2) / dims[d])
                    ok = bad(r, "tensor shape too large");
                e->bytes *= dims[d];
                e->tensor.shape.dim[d] = (int64_t)dims[d];
            }
            have_shape = 1;
        } else if (!strcmp(key, "data_offsets")) {
            uint64_t off[2];
            int n;
            ok = read_uint_array(r, off, 2, &n) && (n == 2 || bad(r, "data_offsets needs two"));
            e->begin = off[0];
            e->end = off[1];
            have_offsets = 1;
        } else {
            ok = bad(r, "unknown tensor field");
        }
        free(key);
        if (!ok) return 0;
    } while (peek(r, ',') && expect(r, ','));
    if (!have_dtype || !have_shape || !have_offsets) return bad(r, "tensor field missing");
    return expect(r, '}');
}

static int read_header(reader *r, wg_safetensors *f) {
    if (!expect(r, '{')) return 0;
    if (peek(r, '}')) return expect(r, '}');
    do {
        char *key = read_string(r);
        if (!key || !expect(r, ':')) {
            free(key);
            return 0;
        }
        if (!strcmp(key, "__metadata__")) {
            free(key);
            if (!read_metadata(r, f)) return 0;
            continue;
        }
        if (f->count == f->capacity) {
            int capacity = f->capacity ? 2 * f->capacity : 64;
            st_entry *grown = realloc(f->entries, (size_t)capacity * sizeof *grown);
            if (!grown) {
                free(key);
                return bad(r, "out of memory");
            }
            f->entries = grown;
            f->capacity = capacity;
        }
        st_entry *e = &f->entries[f->count++];
        *e = (st_entry){.tensor.name = key};
        if (!read_tensor(r, e)) return 0;
    } while (peek(r, ',') && expect(r, ','));
    if (!expect(r, '}')) return 0;
    skip_space(r);
    return r->p == r->end || bad(r, "text after the header");
}

static int by_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* The byte ranges must tile the data exactly, each sized by its shape; names unique. */
static wg_status check_layout(wg_safetensors *f, const char *path, uint64_t data_size) {
    size_t n = (size_t)(f->count ? f->count : 1);
    st_entry *sorted = malloc(n * sizeof *sorted);
    f->names = malloc(n * sizeof *f->names);
    if (!sorted || !f->names) {
        free(sorted);
        return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (f->count) memcpy(sorted, f->entries, (size_t)f->count * sizeof *sorted);
    qsort(sorted, (size_t)f->count, sizeof *sorted, by_begin);
    uint64_t at = 0;
    wg_status status = WG_OK;
    for (int i = 0; i < f->count && status == WG_OK; i++) {
        const st_entry *e = &sorted[i];
        if (e->begin != at || e->end < e->begin || e->end - e->begin != e->bytes)
            status = wg_fail(WG_ERR_IO, "%s: corrupt safetensors file: tensor '%s' has bad offsets",
                             path, e->tensor.name);
        at = e->end;
    }
    free(sorted);
    if (status == WG_OK && at != data_size)
        status = wg_fail(WG_ERR_IO, "%s: corrupt safetensors file: %llu data bytes, %llu described",
                         path, (unsigned long long)data_size, (unsigned long long)at);
    if (status != WG_OK) return status;
    for (int i = 0; i < f->count; i++) f->names[i] = (st_name){f->entries[i].tensor.name, i};
    const char *twice = sort_names(f->names, f->count);
    if (twice) return wg_fail(WG_ERR_IO, "%s: tensor '%s' appears twice", path, twice);
    return WG_OK;
}

wg_status wg_safetensors_read(const char *path, wg_safetensors **out) {
    *out = NULL;
    if (!host_is_little_endian())
        return wg_fail(WG_ERR_UNSUPPORTED, "safetensors reading needs a little-endian host");
    wg_safetensors *f = calloc(1, sizeof *f);
    if (!f) return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
    wg_status status = wg_read_file(path, &f->bytes, &f->size);
    if (status != WG_OK) {
        free(f);
        return status;
    }
    uint64_t header_len = f->size >= 8 ? get_u64_le((const unsigned char *)f->bytes) : 0;
    if (f->size < 8 || header_len > f->size - 8) {
        wg_safetensors_free(f);
        return wg_fail(WG_ERR_IO, "%s: not a safetensors file (truncated header)", path);
    }
    reader r = {f->bytes + 8, f->bytes + 8 + header_len, path, WG_OK};
    if (!read_header(&r, f)) {
        wg_safetensors_free(f);
        return r.status;
    }
    size_t data_start = 8 + (size_t)header_len;
    status = check_layout(f, path, f->size - data_start);
    if (status != WG_OK) {
        wg_safetensors_free(f);
        return status;
    }
    /* float data must be aligned: the reference writer pads the header to 8 bytes, but
     * another writer may not, so move the data when needed */
    if (data_start % sizeof(float) != 0) {
        memmove(f->bytes, f->bytes + data_start, f->size - data_start);
        data_start = 0;
    }
    for (int i = 0; i < f->count; i++)
        f->entries[i].tensor.data =
            (const float *)(f->bytes + data_start + (size_t)f->entries[i].begin);
    *out = f;
    return WG_OK;
}

void wg_safetensors_free(wg_safetensors *f) {
    if (!f) return;
    for (int i = 0; i < f->count; i++) free((char *)f->entries[i].tensor.name);
    for (int i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->entries);
    free(f->names);
    free(f->meta);
    free(f->bytes);
    free(f);
}

int wg_safetensors_count(const wg_safetensors *f) {
    return f->count;
}

const wg_st_tensor *wg_safetensors_at(const wg_safetensors *f, int index) {
    return &f->entries[index].tensor;
}

const wg_st_tensor *wg_safetensors_find(const wg_safetensors *f, const char *name) {
    const st_name key = {name, 0};
    const st_name *hit = bsearch(&key, f->names, (size_t)f->count, sizeof *f->names, by_name);
    return hit ? &f->entries[hit->index].tensor : NULL;
}

const char *wg_safetensors_meta(const wg_safetensors *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}
