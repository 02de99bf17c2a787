#include "plot.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pixels ---- */

static void blend(wg_image *im, int x, int y, uint32_t color, double alpha) {
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) return;
    uint8_t *p = im->rgb + ((size_t)y * im->width + x) * 3;
    const int c[3] = {(int)(color >> 16) & 255, (int)(color >> 8) & 255, (int)color & 255};
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)lround(p[k] + alpha * (c[k] - p[k]));
}

static void fill_rect(wg_image *im, int x0, int y0, int x1, int y1, uint32_t color, double alpha) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) blend(im, x, y, color, alpha);
}

/* Outline of the box with corners (x0, y0) and (x1, y1), both inclusive. */
static void draw_box(wg_image *im, int x0, int y0, int x1, int y1, uint32_t color) {
    fill_rect(im, x0, y0, x1 + 1, y0 + 1, color, 1);
    fill_rect(im, x0, y1, x1 + 1, y1 + 1, color, 1);
    fill_rect(im, x0, y0, x0 + 1, y1 + 1, color, 1);
    fill_rect(im, x1, y0, x1 + 1, y1 + 1, color, 1);
}

/* ---- text ---- */

typedef struct glyph {
    char c;
    uint8_t rows[7]; /* 5 bits each, most significant bit leftmost */
} glyph;

static const glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'a', {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}},
    {'c', {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}},
    {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
    {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
    {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x00, 0x0F, 0x11, 0x0F, 0x01, 0x0E}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}},
    {'p', {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0F, 0x11, 0x0F, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
    {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}},
    {'x', {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
    {'z', {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {';', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
};

static const glyph *find_glyph(char c) {
    c = (char)tolower((unsigned char)c);
    for (size_t i = 0; i < sizeof font / sizeof *font; i++)
        if (font[i].c == c) return &font[i];
    return NULL; /* blank, like a space */
}

int wg_text_width(const char *text, int scale) {
    int n = (int)strlen(text);
    return n ? (6 * n - 1) * scale : 0;
}

void wg_draw_text(wg_image *image, int x, int y, const char *text, int scale, uint32_t color) {
    for (; *text; text++, x += 6 * scale) {
        const glyph *g = find_glyph(*text);
        if (!g) continue;
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 5; c++)
                if (g->rows[r] & (0x10 >> c))
                    fill_rect(image, x + c * scale, y + r * scale, x + (c + 1) * scale,
                              y + (r + 1) * scale, color, 1);
    }
}

/* ---- axes ---- */

#define PLOT_SIZE 560
#define TEXT_SCALE 2
#define CHAR_H (7 * TEXT_SCALE)
#define BLACK 0x000000u
#define GRID 0xe0e0e0u
#define WHITE 0xffffffu

typedef struct range {
    double lo, hi;
} range;

typedef struct axis_ticks {
    double first, step;
    int count;
    int decimals;
} axis_ticks;

/* Round steps (1, 2, 5 times a power of ten), about five per axis. */
static axis_ticks ticks_for(range r) {
    double raw = (r.hi - r.lo) / 5;
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    if (raw > 5 * mag)
        step = 10 * mag;
    else if (raw > 2 * mag)
        step = 5 * mag;
    else if (raw > mag)
        step = 2 * mag;
    axis_ticks t = {ceil(r.lo / step - 1e-9) * step, step, 0, 0};
    t.count = (int)floor((r.hi - t.first) / step + 1e-9) + 1;
    int d = -(int)floor(log10(step) + 1e-9);
    t.decimals = d > 0 ? d : 0;
    return t;
}

static void tick_label(char *buf, size_t size, const axis_ticks *t, int i) {
    double v = t->first + i * t->step;
    if (fabs(v) < t->step * 1e-6) v = 0;
    /* a diverging generator makes huge ranges: keep labels short */
    if (t->step >= 1e5 || t->step < 1e-4)
        snprintf(buf, size, "%.3g", v);
    else
        snprintf(buf, size, "%.*f", t->decimals, v);
}

static int label_width(const axis_ticks *t) {
    int width = 0;
    char buf[32];
    for (int i = 0; i < t->count; i++) {
        tick_label(buf, sizeof buf, t, i);
        int w = wg_text_width(buf, TEXT_SCALE);
        if (w > width) width = w;
    }
    return width;
}

typedef struct frame {
    int x0, y0, x1, y1; /* plot box, inclusive pixel corners */
    range x, y;
} frame;

static int to_px(const frame *f, double x) {
    return f->x0 + (int)lround((x - f->x.lo) / (f->x.hi - f->x.lo) * (f->x1 - f->x0));
}
static int to_py(const frame *f, double y) {
    return f->y1 - (int)lround((y - f->y.lo) / (f->y.hi - f->y.lo) * (f->y1 - f->y0));
}

static void draw_x_axis(wg_image *im, const frame *f, int labels) {
    axis_ticks t = ticks_for(f->x);
    char buf[32];
    for (int i = 0; i < t.count; i++) {
        int px = to_px(f, t.first + i * t.step);
        fill_rect(im, px, f->y0 + 1, px + 1, f->y1, GRID, 1);
        fill_rect(im, px, f->y1 - 5, px + 1, f->y1, BLACK, 1);
        if (!labels) continue;
        tick_label(buf, sizeof buf, &t, i);
        wg_draw_text(im, px - wg_text_width(buf, TEXT_SCALE) / 2, f->y1 + 6, buf, TEXT_SCALE,
                     BLACK);
    }
}

static void draw_y_axis(wg_image *im, const frame *f) {
    axis_ticks t = ticks_for(f->y);
    char buf[32];
    for (int i = 0; i < t.count; i++) {
        int py = to_py(f, t.first + i * t.step);
        fill_rect(im, f->x0 + 1, py, f->x1, py + 1, GRID, 1);
        fill_rect(im, f->x0, py, f->x0 + 5, py + 1, BLACK, 1);
        tick_label(buf, sizeof buf, &t, i);
        wg_draw_text(im, f->x0 - 6 - wg_text_width(buf, TEXT_SCALE), py - CHAR_H / 2, buf,
                     TEXT_SCALE, BLACK);
    }
}

static int legend_entry(wg_image *im, int x, int y, const char *text, uint32_t color) {
    fill_rect(im, x, y + 2, x + 10, y + 12, color, 1);
    wg_draw_text(im, x + 16, y, text, TEXT_SCALE, BLACK);
    return x + 16 + wg_text_width(text, TEXT_SCALE) + 20;
}

/* ---- data ranges ---- */

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Range of coordinate `k` of the finite rows, between the `q` and 1 - q quantiles. */
static int coordinate_range(const float *x, int64_t n, int dim, int k, double q, range *out) {
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return -1;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        int finite = 1;
        for (int j = 0; j < dim; j++) finite &= isfinite(x[i * dim + j]) != 0;
        if (finite) v[m++] = x[i * dim + k];
    }
    if (m == 0) {
        free(v);
        return 0;
    }
    qsort(v, (size_t)m, sizeof *v, compare_double);
    int64_t a = (int64_t)floor(q * (m - 1)), b = (int64_t)ceil((1 - q) * (m - 1));
    *out = (range){v[a], v[b]};
    free(v);
    return 1;
}

/* The real data's range widened to most generated points (a few stragglers may fall
 * outside), then padded. */
static int plot_range(const float *real, int64_t n_real, const float *gen, int64_t n_gen, int dim,
                      int k, range *out) {
    range r = {-1, 1}, g;
    int have_real = coordinate_range(real, n_real, dim, k, 0, &r);
    int have_gen = coordinate_range(gen, n_gen, dim, k, 0.01, &g);
    if (have_real < 0 || have_gen < 0) return -1;
    if (!have_real && have_gen) r = g;
    if (have_gen && have_real) {
        r.lo = fmin(r.lo, g.lo);
        r.hi = fmax(r.hi, g.hi);
    }
    double pad = 0.08 * (r.hi - r.lo);
    if (pad < 1e-6) pad = 0.5;
    *out = (range){r.lo - pad, r.hi + pad};
    return 0;
}

static void scatter(wg_image *im, const frame *f, const float *x, int64_t n, int dim,
                    uint32_t color) {
    for (int64_t i = 0; i < n; i++) {
        double a = x[i * dim], b = x[i * dim + 1];
        if (!isfinite(a) || !isfinite(b)) continue;
        if (a < f->x.lo || a > f->x.hi || b < f->y.lo || b > f->y.hi) continue;
        int px = to_px(f, a), py = to_py(f, b);
        fill_rect(im, px - 1, py - 1, px + 2, py + 2, color, 0.55);
    }
}

static void draw_header(wg_image *im, const char *title, int x0) {
    int x = legend_entry(im, x0, 8, "real", WG_PLOT_REAL_COLOR);
    x = legend_entry(im, x, 8, "generated", WG_PLOT_GENERATED_COLOR);
    if (title && *title)
        wg_draw_text(im, im->width - 12 - wg_text_width(title, TEXT_SCALE), 8, title, TEXT_SCALE,
                     BLACK);
}

static wg_status scatter_plot(const float *real, int64_t n_real, const float *gen, int64_t n_gen,
                              int dim, const char *title, wg_image *out) {
    range rx, ry;
    if (plot_range(real, n_real, gen, n_gen, dim, 0, &rx) ||
        plot_range(real, n_real, gen, n_gen, dim, 1, &ry))
        return wg_fail(WG_ERR_NOMEM, "out of memory plotting samples");
    /* equal scales, so circles look round */
    double half = fmax(rx.hi - rx.lo, ry.hi - ry.lo) / 2;
    double cx = (rx.lo + rx.hi) / 2, cy = (ry.lo + ry.hi) / 2;
    frame f = {0, 0, 0, 0, {cx - half, cx + half}, {cy - half, cy + half}};
    axis_ticks ty = ticks_for(f.y);
    int left = label_width(&ty) + 14, top = 32, bottom = 34, right = 16;
    int side = PLOT_SIZE - top - bottom;
    wg_status status = wg_image_new(out, left + side + right, PLOT_SIZE, WHITE);
    if (status != WG_OK) return status;
    f.x0 = left;
    f.y0 = top;
    f.x1 = left + side - 1;
    f.y1 = top + side - 1;
    draw_x_axis(out, &f, 1);
    draw_y_axis(out, &f);
    scatter(out, &f, real, n_real, dim, WG_PLOT_REAL_COLOR);
    scatter(out, &f, gen, n_gen, dim, WG_PLOT_GENERATED_COLOR);
    draw_box(out, f.x0, f.y0, f.x1, f.y1, BLACK);
    draw_header(out, title, left);
    return WG_OK;
}

#define HIST_BINS 60

static void histogram_panel(wg_image *im, const frame *f, const float *x, int64_t n,
                            uint32_t color) {
    int64_t counts[HIST_BINS] = {0}, peak = 1;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || x[i] < f->x.lo || x[i] > f->x.hi) continue;
        int b = (int)((x[i] - f->x.lo) / (f->x.hi - f->x.lo) * HIST_BINS);
        counts[b < HIST_BINS ? b : HIST_BINS - 1]++;
    }
    for (int b = 0; b < HIST_BINS; b++)
        if (counts[b] > peak) peak = counts[b];
    double width = (f->x.hi - f->x.lo) / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) {
        if (!counts[b]) continue;
        int x0 = to_px(f, f->x.lo + b * width), x1 = to_px(f, f->x.lo + (b + 1) * width);
        int top = f->y1 - (int)lround(0.92 * counts[b] / (double)peak * (f->y1 - f->y0));
        fill_rect(im, x0 + 1, top, x1, f->y1, color, 0.85);
    }
}

static wg_status histogram_plot(const float *real, int64_t n_real, const float *gen, int64_t n_gen,
                                const char *title, wg_image *out) {
    range rx;
    if (plot_range(real, n_real, gen, n_gen, 1, 0, &rx))
        return wg_fail(WG_ERR_NOMEM, "out of memory plotting samples");
    int left = 24, right = 16, top = 32, bottom = 34, gap = 12;
    int panel = (PLOT_SIZE - top - bottom - gap) / 2;
    wg_status status = wg_image_new(out, PLOT_SIZE, PLOT_SIZE, WHITE);
    if (status != WG_OK) return status;
    const float *sets[2] = {real, gen};
    const int64_t counts[2] = {n_real, n_gen};
    const uint32_t colors[2] = {WG_PLOT_REAL_COLOR, WG_PLOT_GENERATED_COLOR};
    for (int p = 0; p < 2; p++) {
        int y0 = top + p * (panel + gap);
        frame f = {left, y0, PLOT_SIZE - right - 1, y0 + panel - 1, rx, {0, 1}};
        draw_x_axis(out, &f, p == 1);
        histogram_panel(out, &f, sets[p], counts[p], colors[p]);
        draw_box(out, f.x0, f.y0, f.x1, f.y1, BLACK);
    }
    draw_header(out, title, left);
    return WG_OK;
}

wg_status wg_plot_points(const float *real, int64_t n_real, const float *generated,
                         int64_t n_generated, int dim, const char *title, wg_image *out) {
    *out = (wg_image){0};
    if (dim < 1) return wg_fail(WG_ERR_INVALID, "cannot plot %d-dimensional points", dim);
    if (dim == 1) return histogram_plot(real, n_real, generated, n_generated, title, out);
    return scatter_plot(real, n_real, generated, n_generated, dim, title, out);
}

static uint8_t to_byte(float v) {
    if (!isfinite(v)) return 0;
    double x = (v + 1) * 127.5;
    return (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : lround(x));
}

#define GRID_PAD 2

/* A near-square grid of `count` cells, scaled to about 512 pixels across. */
typedef struct grid {
    int cols, rows, scale, cell_w, cell_h, width, height;
} grid;

static wg_status images_grid(int64_t count, int64_t height, int64_t width, grid *g) {
    const int64_t most = WG_IMAGE_MAX_SIDE;
    if (count < 1 || height < 1 || width < 1 || count > most * most || height > most ||
        width > most)
        return wg_fail(WG_ERR_INVALID, "cannot plot %lld images of %lldx%lld", (long long)count,
                       (long long)height, (long long)width);
    int64_t cols = (int64_t)ceil(sqrt((double)count)), rows = (count + cols - 1) / cols;
    int64_t scale = 512 / (cols * (width + GRID_PAD));
    if (scale < 1) scale = 1;
    int64_t cell_w = width * scale + GRID_PAD, cell_h = height * scale + GRID_PAD;
    int64_t w = cols * cell_w + GRID_PAD, h = rows * cell_h + GRID_PAD;
    if (w > most || h > most)
        return wg_fail(WG_ERR_INVALID,
                       "%lld images of %lldx%lld make a %lldx%lld grid, more than %lld pixels a "
                       "side",
                       (long long)count, (long long)width, (long long)height, (long long)w,
                       (long long)h, (long long)most);
    *g = (grid){(int)cols, (int)rows, (int)scale, (int)cell_w, (int)cell_h, (int)w, (int)h};
    return WG_OK;
}

wg_status wg_plot_images_size(int64_t count, int64_t height, int64_t width, int *out_width,
                              int *out_height) {
    grid g;
    wg_status s = images_grid(count, height, width, &g);
    if (s == WG_OK) *out_width = g.width, *out_height = g.height;
    return s;
}

wg_status wg_plot_images(const float *images, int64_t count, int channels, int height, int width,
                         wg_image *out) {
    *out = (wg_image){0};
    if (channels < 1) return wg_fail(WG_ERR_INVALID, "cannot plot images of %d channels", channels);
    grid g;
    wg_status status = images_grid(count, height, width, &g);
    if (status == WG_OK) status = wg_image_new(out, g.width, g.height, 0x404040u);
    if (status != WG_OK) return status;
    int cols = g.cols, scale = g.scale, cell_w = g.cell_w, cell_h = g.cell_h;
    const int pad = GRID_PAD;
    size_t plane = (size_t)height * width;
    for (int64_t i = 0; i < count; i++) {
        const float *im = images + (size_t)i * channels * plane;
        int ox = pad + (int)(i % cols) * cell_w, oy = pad + (int)(i / cols) * cell_h;
        for (int y = 0; y < height * scale; y++)
            for (int x = 0; x < width * scale; x++) {
                size_t at = (size_t)(y / scale) * width + (size_t)(x / scale);
                uint8_t *p = out->rgb + ((size_t)(oy + y) * out->width + (ox + x)) * 3;
                for (int k = 0; k < 3; k++)
                    p[k] = to_byte(im[(channels == 3 ? (size_t)k : 0) * plane + at]);
            }
    }
    return WG_OK;
}

wg_status wg_plot_image(const float *image, int channels, int height, int width, wg_image *out) {
    *out = (wg_image){0};
    if (channels < 1)
        return wg_fail(WG_ERR_INVALID, "cannot draw an image of %d channels", channels);
    wg_status status = wg_image_new(out, width, height, 0);
    if (status != WG_OK) return status;
    size_t plane = (size_t)height * width;
    for (size_t at = 0; at < plane; at++)
        for (int k = 0; k < 3; k++)
            out->rgb[at * 3 + k] = to_byte(image[(channels == 3 ? (size_t)k : 0) * plane + at]);
    return WG_OK;
}

/* ---- line charts ---- */

#define DASH_ON 9.0
#define DASH_PERIOD 15.0

/* A 2-pixel-wide segment from (x0, y0) to (x1, y1); `travelled` carries the dash phase
 * from one segment to the next. */
static void draw_segment(wg_image *im, double x0, double y0, double x1, double y1, uint32_t color,
                         int dashed, double *travelled) {
    double length = hypot(x1 - x0, y1 - y0);
    int steps = (int)ceil(length * 2) + 1;
    for (int i = 0; i < steps; i++) {
        double t = steps > 1 ? (double)i / (steps - 1) : 0;
        double along = *travelled + t * length;
        if (dashed && fmod(along, DASH_PERIOD) >= DASH_ON) continue;
        int px = (int)lround(x0 + t * (x1 - x0)), py = (int)lround(y0 + t * (y1 - y0));
        fill_rect(im, px - 1, py - 1, px + 1, py + 1, color, 1);
    }
    *travelled += length;
}

static void draw_marker(wg_image *im, int px, int py, uint32_t color) {
    fill_rect(im, px - 4, py - 4, px + 5, py + 5, color, 1);
    fill_rect(im, px - 2, py - 2, px + 3, py + 3, WHITE, 1);
}

static void draw_series(wg_image *im, const frame *f, const wg_plot_series *s) {
    double travelled = 0;
    int have_last = 0;
    double lx = 0, ly = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
            have_last = 0;
            continue;
        }
        double px = f->x0 + (s->x[i] - f->x.lo) / (f->x.hi - f->x.lo) * (f->x1 - f->x0);
        double py = f->y1 - (s->y[i] - f->y.lo) / (f->y.hi - f->y.lo) * (f->y1 - f->y0);
        if (have_last) draw_segment(im, lx, ly, px, py, s->color, s->dashed, &travelled);
        lx = px;
        ly = py;
        have_last = 1;
    }
    for (int64_t i = 0; i < s->n && s->markers; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            draw_marker(im, to_px(f, s->x[i]), to_py(f, s->y[i]), s->color);
}

static void draw_legend(wg_image *im, const frame *f, const wg_plot_series *series, int count) {
    const int row = CHAR_H + 8, sample = 30;
    int width = 0;
    for (int i = 0; i < count; i++)
        if (wg_text_width(series[i].label, TEXT_SCALE) > width)
            width = wg_text_width(series[i].label, TEXT_SCALE);
    int x0 = f->x0 + 10, y0 = f->y0 + 10, x1 = x0 + sample + 18 + width + 10;
    int y1 = y0 + count * row + 6;
    fill_rect(im, x0, y0, x1, y1, WHITE, 0.9);
    draw_box(im, x0, y0, x1, y1, GRID);
    for (int i = 0; i < count; i++) {
        const wg_plot_series *s = &series[i];
        int y = y0 + 6 + i * row, mid = y + CHAR_H / 2;
        double travelled = 0;
        draw_segment(im, x0 + 8, mid, x0 + 8 + sample, mid, s->color, s->dashed, &travelled);
        if (s->markers) draw_marker(im, x0 + 8 + sample / 2, mid, s->color);
        wg_draw_text(im, x0 + 8 + sample + 10, y, s->label, TEXT_SCALE, BLACK);
    }
}

/* The finite range of one coordinate over every series; *found 0 when there is none. */
static range series_range(const wg_plot_series *series, int count, int use_y, int *found) {
    range r = {INFINITY, -INFINITY};
    for (int i = 0; i < count; i++)
        for (int64_t k = 0; k < series[i].n; k++) {
            double v = use_y ? series[i].y[k] : series[i].x[k];
            if (!isfinite(series[i].x[k]) || !isfinite(series[i].y[k])) continue;
            r.lo = fmin(r.lo, v);
            r.hi = fmax(r.hi, v);
        }
    *found = r.lo <= r.hi;
    return r;
}

wg_status wg_plot_lines(const wg_plot_series *series, int count, const char *title,
                        const char *x_label, wg_image *out) {
    *out = (wg_image){0};
    if (count < 1) return wg_fail(WG_ERR_INVALID, "a line chart needs a series");
    int found_x, found_y;
    range rx = series_range(series, count, 0, &found_x);
    range ry = series_range(series, count, 1, &found_y);
    if (!found_x || !found_y) rx = ry = (range){0, 1};
    if (rx.hi - rx.lo < 1e-12) rx = (range){rx.lo - 0.5, rx.hi + 0.5};
    ry.lo = fmin(ry.lo, 0);
    if (ry.hi - ry.lo < 1e-12) ry.hi = ry.lo + 1;
    double pad = 0.05 * (ry.hi - ry.lo);
    frame f = {0, 0, 0, 0, rx, {ry.lo < 0 ? ry.lo - pad : 0, ry.hi + pad}};
    axis_ticks ty = ticks_for(f.y);
    int left = label_width(&ty) + 14, top = 36, bottom = 56, right = 24;
    wg_status status = wg_image_new(out, 760, 520, WHITE);
    if (status != WG_OK) return status;
    f.x0 = left;
    f.y0 = top;
    f.x1 = out->width - right - 1;
    f.y1 = out->height - bottom - 1;
    draw_x_axis(out, &f, 1);
    draw_y_axis(out, &f);
    for (int i = 0; i < count; i++) draw_series(out, &f, &series[i]);
    draw_box(out, f.x0, f.y0, f.x1, f.y1, BLACK);
    draw_legend(out, &f, series, count);
    if (title && *title)
        wg_draw_text(out, (f.x0 + f.x1 - wg_text_width(title, TEXT_SCALE)) / 2, 12, title,
                     TEXT_SCALE, BLACK);
    if (x_label && *x_label)
        wg_draw_text(out, (f.x0 + f.x1 - wg_text_width(x_label, TEXT_SCALE)) / 2,
                     out->height - CHAR_H - 8, x_label, TEXT_SCALE, BLACK);
    return WG_OK;
}
