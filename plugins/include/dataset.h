/* Helpers shared by the data plugins: random draws keyed by (seed, purpose, batch,
 * element), the order in which a finite data set is visited, paths, and 8-bit image
 * sets kept in memory. Files are read with wgan/datafile.h (bounded, regular only).
 *
 * Order of a finite set of n samples, for batches of `count`: an epoch is the
 * floor(n / count) batches that fit (the remainder is dropped, so every batch is full
 * and no sample repeats within an epoch); batch `index` is number index % per_epoch of
 * epoch index / per_epoch, and an epoch visits the samples in a permutation drawn from
 * (seed, epoch). So a batch depends on (seed, index, count) only. */
#ifndef WGAN_PLUGINS_DATASET_H
#define WGAN_PLUGINS_DATASET_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wgan/philox.h"
#include "wgan/plugin.h"

/* Keys of the data plugins' draws, each a purpose (docs/random.md): host draws under
 * the run's seed, at the step of the batch index, the epoch, or 0 for a fixed set.
 * Keys under "data/" are the data plugin's; no other draw of a run uses one. */
#define WGP_KEY_SHUFFLE "data/shuffle"
#define WGP_KEY_POINTS "data/points"
#define WGP_KEY_DATASET "data/set"

/* A 32-bit word as a double uniform in (0, 1). */
static inline double wgp_unit(uint32_t bits) {
    return ((double)bits + 0.5) * (1.0 / 4294967296.0);
}

/* Two independent standard normals from two uniform words (Box-Muller). */
static inline void wgp_normal2(uint32_t a, uint32_t b, double *n0, double *n1) {
    double r = sqrt(-2.0 * log(wgp_unit(a))), t = 6.283185307179586 * wgp_unit(b);
    *n0 = r * cos(t);
    *n1 = r * sin(t);
}

/* ---- visiting order ---- */

typedef struct wgp_order {
    uint64_t seed;
    int64_t n;
    bool reshuffle; /* false: every epoch repeats the first one's order */
    int64_t *perm;  /* the permutation of `epoch` */
    uint64_t epoch;
    bool valid;
} wgp_order;

static inline wg_status wgp_order_init(wgp_order *order, int64_t n, uint64_t seed, bool reshuffle) {
    *order = (wgp_order){.seed = seed, .n = n, .reshuffle = reshuffle};
    order->perm = malloc((size_t)n * sizeof *order->perm);
    return order->perm ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory for a data order");
}

static inline void wgp_order_free(wgp_order *order) {
    free(order->perm);
    order->perm = NULL;
}

/* Fisher-Yates with one Philox block per position. */
static inline void wgp_order_shuffle(wgp_order *order, uint64_t epoch) {
    int64_t *p = order->perm;
    const uint64_t stream = wg_philox_stream(WGP_KEY_SHUFFLE);
    for (int64_t i = 0; i < order->n; i++) p[i] = i;
    for (int64_t i = order->n - 1; i > 0; i--) {
        wg_philox_block b = wg_philox_element((uint64_t)i, stream, epoch, order->seed);
        uint64_t r = (uint64_t)b.x[0] | (uint64_t)b.x[1] << 32;
        int64_t j = (int64_t)(r % (uint64_t)(i + 1));
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    order->epoch = epoch;
    order->valid = true;
}

/* The samples of batch `index`: `count` positions starting at *rows (into the
 * permutation of its epoch). Not safe for concurrent calls on one order. */
static inline wg_status wgp_order_batch(wgp_order *order, uint64_t index, int64_t count,
                                        const int64_t **rows) {
    if (count < 1 || count > order->n)
        return wg_fail(WG_ERR_INVALID, "batch of %lld samples from a data set of %lld",
                       (long long)count, (long long)order->n);
    uint64_t per_epoch = (uint64_t)(order->n / count);
    uint64_t epoch = order->reshuffle ? index / per_epoch : 0;
    if (!order->valid || order->epoch != epoch) wgp_order_shuffle(order, epoch);
    *rows = order->perm + (int64_t)(index % per_epoch) * count;
    return WG_OK;
}

/* ---- files ---- */

/* dir/name into out[size]; WG_ERR_IO when it does not fit. */
static inline wg_status wgp_join(char *out, size_t size, const char *dir, const char *name) {
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) return wg_fail(WG_ERR_IO, "path too long: %s/%s", dir, name);
    return WG_OK;
}

static inline bool wgp_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static inline bool wgp_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- 8-bit image sets: [count, C, H, W] bytes, given to the trainer in [-1, 1] ---- */

typedef struct wgp_images {
    uint8_t *pixels; /* count * C * H * W, planar */
    void *owner;     /* what to free(): pixels may point into it */
    int64_t count, channels, height, width;
    wgp_order order;
} wgp_images;

/* Takes ownership of `owner` (freed on failure too). */
static inline wg_status wgp_images_new(void *owner, uint8_t *pixels, int64_t count, int64_t c,
                                       int64_t h, int64_t w, uint64_t seed, void **state) {
    wgp_images *s = calloc(1, sizeof *s);
    wg_status status = s ? wgp_order_init(&s->order, count, seed, true)
                         : wg_fail(WG_ERR_NOMEM, "out of memory for an image set");
    if (status != WG_OK) {
        free(s);
        free(owner);
        return status;
    }
    s->pixels = pixels;
    s->owner = owner;
    s->count = count;
    s->channels = c;
    s->height = h;
    s->width = w;
    *state = s;
    return WG_OK;
}

static inline void wgp_images_destroy(void *state) {
    wgp_images *s = state;
    if (!s) return;
    wgp_order_free(&s->order);
    free(s->owner);
    free(s);
}

static inline wg_status wgp_images_sample_shape(void *state, wg_shape *shape,
                                                wg_data_layout *layout) {
    const wgp_images *s = state;
    *shape = wg_shape3(s->channels, s->height, s->width);
    *layout = WG_DATA_IMAGES;
    return WG_OK;
}

static inline wg_status wgp_images_batch(void *state, uint64_t index, int64_t count, float *out) {
    wgp_images *s = state;
    const int64_t *rows = NULL;
    wg_status status = wgp_order_batch(&s->order, index, count, &rows);
    if (status != WG_OK) return status;
    int64_t size = s->channels * s->height * s->width;
    for (int64_t r = 0; r < count; r++) {
        const uint8_t *src = s->pixels + rows[r] * size;
        float *dst = out + r * size;
        for (int64_t i = 0; i < size; i++) dst[i] = (float)src[i] * (2.0f / 255.0f) - 1.0f;
    }
    return WG_OK;
}

#define WGP_IMAGES_VTABLE(create)                                                                  \
    {                                                                                              \
        sizeof(wg_data_vtable), (create), wgp_images_destroy, wgp_images_sample_shape,             \
            wgp_images_batch, NULL /* no mixture modes */                                          \
    }

#endif
