/* Line charts as inline SVG: nice ticks, axis labels, a legend that wraps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

#define FONT "font-family=\"system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\""
#define CHAR_WIDTH 6.2 /* average advance of the 11 px legend font */

void rep_escape(wg_buf *out, const char *text) {
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': wg_buf_puts(out, "&amp;"); break;
        case '<': wg_buf_puts(out, "&lt;"); break;
        case '>': wg_buf_puts(out, "&gt;"); break;
        case '"': wg_buf_puts(out, "&quot;"); break;
        case '\'': wg_buf_puts(out, "&#39;"); break;
        default: wg_buf_append(out, p, 1);
        }
    }
}

void rep_base64(wg_buf *out, const unsigned char *data, size_t size) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < size; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < size) v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < size) v |= data[i + 2];
        char quad[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                        i + 1 < size ? alphabet[v >> 6 & 63] : '=',
                        i + 2 < size ? alphabet[v & 63] : '='};
        wg_buf_append(out, quad, 4);
    }
}

/* ---- axes ---- */

typedef struct axis {
    double lo, hi, step; /* the drawn range, a multiple of step at both ends */
    int decimals;        /* for tick labels; -1: %g */
} axis;

/* A 1-2-2.5-5 step giving about `ticks` intervals over [lo, hi]. */
static axis nice_axis(double lo, double hi, int ticks) {
    if (!(hi > lo)) {
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / ticks;
    double mag = pow(10, floor(log10(raw)));
    double m = raw / mag, step;
    step = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
    step *= mag;
    axis a = {floor(lo / step) * step, ceil(hi / step) * step, step, 0};
    double big = fmax(fabs(a.lo), fabs(a.hi));
    if (big >= 1e5 || step < 1e-4)
        a.decimals = -1;
    else
        a.decimals = (int)fmax(0, -floor(log10(step) + 1e-9)) + (m > 2 && m <= 2.5);
    return a;
}

static void tick_label(char *buf, size_t size, const axis *a, double v) {
    if (fabs(v) < a->step * 1e-9) v = 0; /* no "-0" */
    if (a->decimals < 0)
        snprintf(buf, size, "%.3g", v);
    else
        snprintf(buf, size, "%.*f", a->decimals, v);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The range of the finite points. For y, a few wild values (a run blowing up) would
 * flatten everything else: when the full range is more than 5 times the 2nd-98th
 * percentile range, the axis shows the latter (padded) and *clipped is set. */
static void data_range(const rep_chart *c, bool y, double *lo, double *hi, bool *clipped) {
    *lo = INFINITY;
    *hi = -INFINITY;
    *clipped = false;
    int64_t total = 0;
    for (int s = 0; s < c->n_series; s++)
        for (int64_t i = 0; i < c->series[s].n; i++) {
            double xv = c->series[s].x[i], yv = c->series[s].y[i];
            if (!isfinite(xv) || !isfinite(yv)) continue;
            double v = y ? yv : xv;
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
            total++;
        }
    if (!y || total < 20) return;
    double *v = malloc((size_t)total * sizeof *v);
    if (!v) return;
    int64_t n = 0;
    for (int s = 0; s < c->n_series; s++)
        for (int64_t i = 0; i < c->series[s].n; i++)
            if (isfinite(c->series[s].x[i]) && isfinite(c->series[s].y[i]))
                v[n++] = c->series[s].y[i];
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    double q02 = v[(int64_t)(0.02 * (double)(n - 1))], q98 = v[(int64_t)(0.98 * (double)(n - 1))];
    free(v);
    double robust = q98 - q02;
    if (robust > 0 && *hi - *lo > 5 * robust) {
        *lo = fmax(*lo, q02 - 0.25 * robust);
        *hi = fmin(*hi, q98 + 0.25 * robust);
        *clipped = true;
    }
}

static const char *dash_attr(rep_dash dash) {
    return dash == REP_DASHED   ? " stroke-dasharray=\"6 4\""
           : dash == REP_DOTTED ? " stroke-dasharray=\"1.5 3\""
                                : "";
}

/* ---- the chart ---- */

void rep_line_chart(wg_buf *out, const rep_chart *c) {
    const double width = c->width ? c->width : 372, height = c->height ? c->height : 240;
    const double left = 58, right = 14;

    /* legend rows first: they decide where the plot starts */
    double legend_x[64], legend_row[64];
    int rows = c->n_series ? 1 : 0;
    double x = left;
    for (int s = 0; s < c->n_series && s < 64; s++) {
        legend_x[s] = -1; /* a series with the same label and look as an earlier one */
        bool repeat = false;
        for (int k = 0; k < s && !repeat; k++)
            repeat = !strcmp(c->series[k].label, c->series[s].label) &&
                     !strcmp(c->series[k].color, c->series[s].color) &&
                     c->series[k].dash == c->series[s].dash;
        if (repeat) continue;
        double w = 26 + CHAR_WIDTH * (double)strlen(c->series[s].label) + 14;
        if (x + w > width - right && x > left) {
            rows++;
            x = left;
        }
        legend_x[s] = x;
        legend_row[s] = rows - 1;
        x += w;
    }
    const double top = 26 + 15 * rows + 8, bottom = 42;
    const double pw = width - left - right, ph = height - top - bottom;

    wg_buf_printf(out,
                  "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
                  "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                  width, height, width, height);
    rep_escape(out, c->title ? c->title : "chart");
    wg_buf_printf(out, "\" %s font-size=\"11\">\n", FONT);
    wg_buf_printf(out, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width, height);
    if (c->title) {
        wg_buf_printf(out,
                      "<text x=\"%.0f\" y=\"17\" font-size=\"13\" font-weight=\"600\" "
                      "fill=\"#222\">",
                      left);
        rep_escape(out, c->title);
        wg_buf_puts(out, "</text>\n");
    }

    double xlo, xhi, ylo, yhi;
    bool unused, clipped;
    data_range(c, false, &xlo, &xhi, &unused);
    data_range(c, true, &ylo, &yhi, &clipped);
    if (!(xlo <= xhi) || !(ylo <= yhi)) {
        wg_buf_printf(out,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no "
                      "data</text>\n</svg>\n",
                      width / 2, height / 2);
        return;
    }
    if (isfinite(c->reference_y) && !clipped) {
        ylo = fmin(ylo, c->reference_y);
        yhi = fmax(yhi, c->reference_y);
    }
    axis ax = nice_axis(xlo, xhi, 5), ay = nice_axis(ylo, yhi, 5);
    /* steps start at 0 or a round number: no need to pad the x axis beyond the data */
    if (xlo >= 0 && ax.lo < 0) ax.lo = 0;
#define PX(v) (left + ((v)-ax.lo) / (ax.hi - ax.lo) * pw)
#define PY(v) (top + ph - (fmin(fmax((v), ay.lo), ay.hi) - ay.lo) / (ay.hi - ay.lo) * ph)

    /* grid and ticks */
    char label[64];
    for (int i = 0;; i++) {
        double v = ay.lo + i * ay.step;
        if (v > ay.hi + ay.step * 1e-6) break;
        double py = PY(v);
        wg_buf_printf(
            out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n",
            left, left + pw, py, py);
        tick_label(label, sizeof label, &ay, v);
        wg_buf_printf(out,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
                      left - 6, py + 3.5, label);
    }
    for (int i = 0;; i++) {
        double v = ax.lo + i * ax.step;
        if (v > ax.hi + ax.step * 1e-6) break;
        double px = PX(v);
        wg_buf_printf(
            out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>\n", px,
            px, top, top + ph);
        tick_label(label, sizeof label, &ax, v);
        wg_buf_printf(
            out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", px,
            top + ph + 15, label);
    }
    wg_buf_printf(out,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#999\"/>\n",
                  left, top, pw, ph);
    if (c->x_label) {
        wg_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">",
                      left + pw / 2, height - 8);
        rep_escape(out, c->x_label);
        wg_buf_puts(out, "</text>\n");
    }
    if (c->y_label) {
        wg_buf_printf(out,
                      "<text transform=\"translate(13 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                      "fill=\"#333\">",
                      top + ph / 2);
        rep_escape(out, c->y_label);
        wg_buf_puts(out, "</text>\n");
    }
    if (clipped) {
        wg_buf_printf(out,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#b3261e\" "
                      "font-size=\"10\">outliers drawn at the edge</text>\n",
                      left + pw - 4, top + 11);
    }

    /* the series */
    for (int s = 0; s < c->n_series; s++) {
        const rep_series *r = &c->series[s];
        wg_buf_printf(out,
                      "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" "
                      "stroke-linejoin=\"round\"%s d=\"",
                      r->color, r->width > 0 ? r->width : 1.6, dash_attr(r->dash));
        bool pen = false;
        int64_t drawn = 0, last = -1;
        for (int64_t i = 0; i < r->n; i++) {
            if (!isfinite(r->x[i]) || !isfinite(r->y[i])) {
                pen = false;
                continue;
            }
            wg_buf_printf(out, "%s%.1f %.1f ", pen ? "L" : "M", PX(r->x[i]), PY(r->y[i]));
            pen = true;
            drawn++;
            last = i;
        }
        wg_buf_puts(out, "\"/>\n");
        /* a lone point has no length to stroke */
        if (drawn == 1)
            wg_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                          PX(r->x[last]), PY(r->y[last]), r->color);
    }

    /* the reference line over the series, its label readable on a halo */
    if (isfinite(c->reference_y) && c->reference_y >= ay.lo && c->reference_y <= ay.hi) {
        double py = PY(c->reference_y);
        wg_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
                      "stroke-dasharray=\"3 3\"/>\n",
                      left, left + pw, py, py);
        if (c->reference_label) {
            wg_buf_printf(out,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#777\" "
                          "stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">",
                          left + pw - 4, py - 4);
            rep_escape(out, c->reference_label);
            wg_buf_puts(out, "</text>\n");
        }
    }

    /* legend */
    for (int s = 0; s < c->n_series && s < 64; s++) {
        const rep_series *r = &c->series[s];
        if (legend_x[s] < 0) continue;
        double ly = 32 + 15 * legend_row[s];
        wg_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"2.2\"%s/>\n",
                      legend_x[s], legend_x[s] + 20, ly - 3.5, ly - 3.5, r->color,
                      dash_attr(r->dash));
        wg_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">", legend_x[s] + 25, ly);
        rep_escape(out, r->label);
        wg_buf_puts(out, "</text>\n");
    }
    wg_buf_puts(out, "</svg>\n");
#undef PX
#undef PY
}
