/* Two-dimensional toy distributions of the WGAN-GP reference code (gan_toy.py), and a
 * one-dimensional Gaussian. Each is its own data plugin:
 *
 *   data: {plugin: 8gaussians}    # radius: 2, std: 0.02
 *       centers (+-1, 0), (0, +-1), (+-1/sqrt2, +-1/sqrt2) times radius, one chosen
 *       uniformly per point, plus N(0, std^2) noise, all divided by 1.414
 *   data: {plugin: 25gaussians}   # spacing: 2, std: 0.05, samples: 100000
 *       a fixed set of samples/25 points around each of the centers spacing * (i, j),
 *       i, j in -2..2, with N(0, std^2) noise, divided by 2.828, shuffled once and
 *       visited in that order epoch after epoch (whole batches only), as the reference
 *   data: {plugin: swissroll}     # noise: 0.25
 *       scikit-learn's make_swiss_roll: t = 1.5 pi (1 + 2u), point (t cos t, t sin t)
 *       (its columns 0 and 2) plus N(0, noise^2) per coordinate, divided by 7.5
 *   data: {plugin: gaussian1d}    # mean: 0, std: 1
 *
 * The mixtures' modes, for metrics (the `modes` hook): 8gaussians has modes
 * radius * c / 1.414 with standard deviation std / 1.414 per coordinate; 25gaussians
 * spacing * (i, j) / 2.828 with std / 2.828; gaussian1d one mode, its mean, with its
 * std. The swiss roll has none.
 *
 * Except for 25gaussians' fixed set (key "data/set"), point r of batch b is drawn from
 * the Philox block (r, stream of "data/points", b, seed): the same (seed, b) always
 * gives the same batch. */
#include "dataset.h"

#define SQRT1_2 0.70710678118654752440

typedef enum toy_set { SET_8GAUSSIANS, SET_25GAUSSIANS, SET_SWISSROLL, SET_GAUSSIAN1D } toy_set;

typedef struct toy {
    toy_set set;
    uint64_t seed;
    double scale, std, noise, mean;
    float *points; /* 25gaussians: the fixed set, [n, 2] */
    wgp_order order;
    int n_modes, mode_dim;
    double centers[25 * 2], mode_std; /* in data space, after the scaling */
} toy;

static const double eight_centers[8][2] = {
    {1, 0},
    {-1, 0},
    {0, 1},
    {0, -1},
    {SQRT1_2, SQRT1_2},
    {SQRT1_2, -SQRT1_2},
    {-SQRT1_2, SQRT1_2},
    {-SQRT1_2, -SQRT1_2},
};

static wg_status toy_new(toy t, void **state) {
    toy *p = malloc(sizeof *p);
    if (!p) return wg_fail(WG_ERR_NOMEM, "toy data: out of memory");
    *p = t;
    *state = p;
    return WG_OK;
}

static wg_status eight_create(const wg_cfg *config, uint64_t seed, void **state) {
    toy t = {.set = SET_8GAUSSIANS, .seed = seed};
    wg_status s = wg_cfg_double(config, "radius", 2.0, 0.0, 1e6, &t.scale);
    if (s == WG_OK) s = wg_cfg_double(config, "std", 0.02, 0.0, 1e6, &t.std);
    t.n_modes = 8;
    t.mode_dim = 2;
    t.mode_std = t.std / 1.414;
    for (int m = 0; m < 8; m++)
        for (int k = 0; k < 2; k++) t.centers[2 * m + k] = t.scale * eight_centers[m][k] / 1.414;
    return s == WG_OK ? toy_new(t, state) : s;
}

static wg_status twentyfive_create(const wg_cfg *config, uint64_t seed, void **state) {
    toy t = {.set = SET_25GAUSSIANS, .seed = seed};
    int64_t samples;
    wg_status s = wg_cfg_double(config, "spacing", 2.0, 0.0, 1e6, &t.scale);
    if (s == WG_OK) s = wg_cfg_double(config, "std", 0.05, 0.0, 1e6, &t.std);
    if (s == WG_OK) s = wg_cfg_int64(config, "samples", 100000, 25, (int64_t)1 << 28, &samples);
    if (s != WG_OK) return s;
    t.n_modes = 25;
    t.mode_dim = 2;
    t.mode_std = t.std / 2.828;
    for (int cell = 0; cell < 25; cell++) {
        t.centers[2 * cell] = t.scale * (cell / 5 - 2) / 2.828;
        t.centers[2 * cell + 1] = t.scale * (cell % 5 - 2) / 2.828;
    }
    int64_t n = samples / 25 * 25;
    t.points = malloc((size_t)n * 2 * sizeof *t.points);
    if (!t.points)
        return wg_fail(WG_ERR_NOMEM, "25gaussians: out of memory for %lld points", (long long)n);
    /* the reference's loop order: for each repetition, x in -2..2, y in -2..2 */
    const uint64_t stream = wg_philox_stream(WGP_KEY_DATASET);
    for (int64_t k = 0; k < n; k++) {
        wg_philox_block b = wg_philox_element((uint64_t)k, stream, 0, seed);
        double n0, n1;
        wgp_normal2(b.x[0], b.x[1], &n0, &n1);
        int cell = (int)(k % 25);
        t.points[2 * k] = (float)((t.scale * (cell / 5 - 2) + t.std * n0) / 2.828);
        t.points[2 * k + 1] = (float)((t.scale * (cell % 5 - 2) + t.std * n1) / 2.828);
    }
    s = wgp_order_init(&t.order, n, seed, false);
    if (s == WG_OK) s = toy_new(t, state);
    if (s != WG_OK) {
        wgp_order_free(&t.order);
        free(t.points);
    }
    return s;
}

static wg_status swissroll_create(const wg_cfg *config, uint64_t seed, void **state) {
    toy t = {.set = SET_SWISSROLL, .seed = seed};
    wg_status s = wg_cfg_double(config, "noise", 0.25, 0.0, 1e6, &t.noise);
    return s == WG_OK ? toy_new(t, state) : s;
}

static wg_status gaussian1d_create(const wg_cfg *config, uint64_t seed, void **state) {
    toy t = {.set = SET_GAUSSIAN1D, .seed = seed};
    wg_status s = wg_cfg_double(config, "mean", 0.0, -1e6, 1e6, &t.mean);
    if (s == WG_OK) s = wg_cfg_double(config, "std", 1.0, 0.0, 1e6, &t.std);
    t.n_modes = 1;
    t.mode_dim = 1;
    t.mode_std = t.std;
    t.centers[0] = t.mean;
    return s == WG_OK ? toy_new(t, state) : s;
}

static void toy_destroy(void *state) {
    toy *t = state;
    if (!t) return;
    wgp_order_free(&t->order);
    free(t->points);
    free(t);
}

static wg_status toy_sample_shape(void *state, wg_shape *shape, wg_data_layout *layout) {
    const toy *t = state;
    *shape = wg_shape1(t->set == SET_GAUSSIAN1D ? 1 : 2);
    *layout = WG_DATA_POINTS;
    return WG_OK;
}

static wg_status toy_batch(void *state, uint64_t index, int64_t count, float *out) {
    toy *t = state;
    if (t->set == SET_25GAUSSIANS) {
        const int64_t *rows = NULL;
        wg_status s = wgp_order_batch(&t->order, index, count, &rows);
        if (s != WG_OK) return s;
        for (int64_t r = 0; r < count; r++) {
            out[2 * r] = t->points[2 * rows[r]];
            out[2 * r + 1] = t->points[2 * rows[r] + 1];
        }
        return WG_OK;
    }
    if (count < 1) return wg_fail(WG_ERR_INVALID, "toy data: batch of %lld", (long long)count);
    const uint64_t stream = wg_philox_stream(WGP_KEY_POINTS);
    for (int64_t r = 0; r < count; r++) {
        wg_philox_block b = wg_philox_element((uint64_t)r, stream, index, t->seed);
        double n0, n1;
        wgp_normal2(b.x[1], b.x[2], &n0, &n1);
        switch (t->set) {
        case SET_8GAUSSIANS: {
            const double *c = eight_centers[(int)(wgp_unit(b.x[0]) * 8)];
            out[2 * r] = (float)((t->scale * c[0] + t->std * n0) / 1.414);
            out[2 * r + 1] = (float)((t->scale * c[1] + t->std * n1) / 1.414);
            break;
        }
        case SET_SWISSROLL: {
            double u = wgp_unit(b.x[0]), a = 1.5 * M_PI * (1 + 2 * u);
            out[2 * r] = (float)((a * cos(a) + t->noise * n0) / 7.5);
            out[2 * r + 1] = (float)((a * sin(a) + t->noise * n1) / 7.5);
            break;
        }
        case SET_GAUSSIAN1D: out[r] = (float)(t->mean + t->std * n0); break;
        case SET_25GAUSSIANS: break;
        }
    }
    return WG_OK;
}

static wg_status toy_modes(void *state, int *count, const double **centers, int *dim, double *std) {
    const toy *t = state;
    *count = t->n_modes;
    *centers = t->centers;
    *dim = t->mode_dim;
    *std = t->mode_std;
    return WG_OK;
}

#define TOY_VTABLE(create)                                                                         \
    { sizeof(wg_data_vtable), (create), toy_destroy, toy_sample_shape, toy_batch, toy_modes }

static const wg_data_vtable eight_vt = TOY_VTABLE(eight_create);
static const wg_data_vtable twentyfive_vt = TOY_VTABLE(twentyfive_create);
static const wg_data_vtable swissroll_vt = TOY_VTABLE(swissroll_create);
static const wg_data_vtable gaussian1d_vt = TOY_VTABLE(gaussian1d_create);

static const wg_plugin_desc eight_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "8gaussians", "8 Gaussians on a circle (WGAN-GP toy data)", &eight_vt);
static const wg_plugin_desc twentyfive_desc = WG_PLUGIN_DESC(
    WG_PLUGIN_DATA, "25gaussians", "5x5 grid of Gaussians (WGAN-GP toy data)", &twentyfive_vt);
static const wg_plugin_desc swissroll_desc =
    WG_PLUGIN_DESC(WG_PLUGIN_DATA, "swissroll", "2-D swiss roll (WGAN-GP toy data)", &swissroll_vt);
static const wg_plugin_desc gaussian1d_desc =
    WG_PLUGIN_DESC(WG_PLUGIN_DATA, "gaussian1d", "one-dimensional Gaussian", &gaussian1d_vt);

WG_PLUGIN_EXPORT const wg_plugin_desc *const *wg_plugin_entry(int *count) {
    static const wg_plugin_desc *const list[] = {&eight_desc, &twentyfive_desc, &swissroll_desc,
                                                 &gaussian1d_desc};
    *count = (int)(sizeof list / sizeof list[0]);
    return list;
}
