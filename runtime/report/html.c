/* The report page: the comparison table of the methods with measured numbers, curves of
 * every run, and sample pictures, in one self-contained HTML file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_internal.h"

static void range_note(wg_buf *b, double lo, double hi, int count, double scale, const char *unit) {
    if (count < 2 || !(hi > lo)) return;
    wg_buf_puts(b, "<small>");
    rep_number(b, scale * lo);
    wg_buf_puts(b, "–");
    rep_number(b, scale * hi);
    wg_buf_printf(b, "%s</small>", unit);
}

/* A median cell of a quantity over the completed runs of a group. */
static void quantity_cell(wg_buf *b, const wg_run_info *runs, const rep_group *g, int q,
                          double *scratch) {
    double lo, hi;
    int count;
    double m = rep_group_median(runs, g, q, true, scratch, &lo, &hi, &count);
    wg_buf_puts(b, "<td class=\"num\">");
    if (q == WG_Q_HIGH_QUALITY && isfinite(m)) {
        wg_buf_printf(b, "%.0f%%", 100 * m);
        range_note(b, lo, hi, count, 100, "%");
    } else {
        rep_number(b, m);
        if (q == WG_Q_MODES && isfinite(m)) {
            double tlo, thi;
            int tcount;
            double total =
                rep_group_median(runs, g, WG_Q_N_MODES, false, scratch, &tlo, &thi, &tcount);
            if (isfinite(total)) wg_buf_printf(b, " / %.0f", total);
        }
        range_note(b, lo, hi, count, 1, "");
        if (q == WG_Q_W1 && isfinite(m)) {
            double floor_ =
                rep_group_median(runs, g, WG_Q_W1_FLOOR, true, scratch, &lo, &hi, &count);
            if (isfinite(floor_)) {
                wg_buf_puts(b, "<small>floor ");
                rep_number(b, floor_);
                wg_buf_puts(b, "</small>");
            }
        }
    }
    wg_buf_puts(b, "</td>");
}

static void verdict_cell(wg_buf *b, const wg_run_info *runs, const rep_group *g, int check,
                         double *scratch) {
    rep_verdicts v = rep_group_verdicts(runs, g, check, scratch);
    /* every run's reason, for hovering */
    wg_buf reasons = {0};
    for (int i = 0; i < g->n; i++) {
        const wg_run_info *r = &runs[g->runs[i]];
        if (!r->have_health) continue;
        const wg_health_check *c = &r->health.checks[check];
        wg_buf_printf(&reasons, "%sseed %lld: %s: %s", reasons.len ? "\n" : "", (long long)r->seed,
                      wg_verdict_name(c->verdict), c->reason);
    }
    const char *cls = !v.judged            ? "skip"
                      : v.pass == v.judged ? "pass"
                      : v.fail == v.judged ? "fail"
                                           : "mixed";
    wg_buf_printf(b, "<td class=\"verdict %s\" title=\"", cls);
    rep_escape(b, reasons.data ? reasons.data : "no metrics.csv");
    wg_buf_puts(b, "\">");
    if (!v.judged) {
        wg_buf_puts(b, v.skipped ? "skipped" : "—");
    } else {
        wg_buf_printf(b, "%s %d/%d", rep_verdicts_mark(&v), v.pass, v.judged);
        if (isfinite(v.value)) {
            wg_buf_printf(b, "<small>%s ", rep_check_value_names[check]);
            rep_number(b, v.value);
            wg_buf_puts(b, "</small>");
        }
    }
    wg_buf_puts(b, "</td>");
    wg_buf_free(&reasons);
}

static void swatch(wg_buf *b, const char *method) {
    wg_buf_printf(b, "<span class=\"swatch\" style=\"background:%s\"></span>",
                  rep_method_color(method));
}

/* A row's first cells: the method with its colour and experiment, and the device.
 * `cls` is the method cell's class. */
static void method_cells(wg_buf *b, const rep_group *gr, const char *cls) {
    wg_buf_printf(b, "<tr><td class=\"%s\">", cls);
    swatch(b, gr->method);
    wg_buf_puts(b, "<b>");
    rep_escape(b, gr->method);
    wg_buf_puts(b, "</b><small>");
    rep_escape(b, gr->name);
    wg_buf_puts(b, "</small></td><td>");
    rep_escape(b, gr->device);
    wg_buf_puts(b, "</td>");
}

static void comparison_table(wg_buf *b, const wg_run_info *runs, const rep_grouping *g, int first,
                             int end, double *scratch) {
    /* the seed table's claims about the methods in this table, for reading the rows */
    bool any_claim = false;
    for (int k = first; k < end; k++) {
        const rep_claim *claim = rep_method_claim(g->groups[k].method);
        bool repeat = false;
        for (int j = first; j < k && !repeat; j++)
            repeat = !strcmp(g->groups[j].method, g->groups[k].method);
        if (!claim || repeat) continue;
        wg_buf_puts(b, any_claim ? "; " : "<p class=\"claims\">The seed table claims: ");
        any_claim = true;
        swatch(b, g->groups[k].method);
        wg_buf_printf(b, "<b>%s</b> cost %s, stability %s, quality %s", g->groups[k].method,
                      claim->cost, claim->stability, claim->quality);
    }
    if (any_claim) wg_buf_puts(b, ".</p>\n");

    bool quality[REP_N_QUALITY], critic[REP_N_CRITIC];
    int n_quality = 0, n_critic = 0;
    /* the W1 floor is shown in the W1 cell rather than as a column of its own */
    for (int i = 0; i < REP_N_QUALITY; i++)
        n_quality += quality[i] = rep_quality_columns[i] != WG_Q_W1_FLOOR &&
                                  rep_any(runs, g, first, end, rep_quality_columns[i]);
    for (int i = 0; i < REP_N_CRITIC; i++)
        n_critic += critic[i] = rep_any(runs, g, first, end, rep_critic_columns[i]);
    wg_buf_puts(
        b, "<div class=\"wide\"><table class=\"compare\">\n<thead><tr><th rowspan=\"2\">Method</th>"
           "<th rowspan=\"2\">Device</th><th rowspan=\"2\">Runs</th>"
           "<th colspan=\"2\" class=\"group\">Cost</th>"
           "<th colspan=\"4\" class=\"group\">Stability</th>");
    if (n_quality) wg_buf_printf(b, "<th colspan=\"%d\" class=\"group\">Quality</th>", n_quality);
    if (n_critic) wg_buf_printf(b, "<th colspan=\"%d\" class=\"group\">Critic</th>", n_critic);
    wg_buf_puts(b, "</tr>\n<tr><th>ms / step</th><th>memory</th>");
    for (int c = 0; c < WG_HEALTH_COUNT; c++) wg_buf_printf(b, "<th>%s</th>", rep_check_titles[c]);
    for (int i = 0; i < REP_N_QUALITY; i++)
        if (quality[i]) wg_buf_printf(b, "<th>%s</th>", rep_label(rep_quality_columns[i]));
    for (int i = 0; i < REP_N_CRITIC; i++)
        if (critic[i]) wg_buf_printf(b, "<th>%s</th>", rep_label(rep_critic_columns[i]));
    wg_buf_puts(b, "</tr></thead>\n<tbody>\n");

    for (int k = first; k < end; k++) {
        const rep_group *gr = &g->groups[k];
        int done = 0, bad = 0;
        for (int i = 0; i < gr->n; i++) {
            done += rep_completed(&runs[gr->runs[i]]);
            bad += rep_failed(&runs[gr->runs[i]]);
        }
        method_cells(b, gr, "method");
        wg_buf_printf(b, "<td class=\"num\">%d", gr->n);
        if (gr->n > 1 || done != gr->n) {
            wg_buf_printf(b, "<small>seeds");
            for (int i = 0; i < gr->n; i++)
                wg_buf_printf(b, "%s%lld", i ? ", " : " ", (long long)runs[gr->runs[i]].seed);
            wg_buf_puts(b, "</small>");
        }
        if (bad) wg_buf_printf(b, "<small class=\"bad\">%d failed</small>", bad);
        wg_buf_puts(b, "</td>");

        /* cost: every run that measured it */
        int n = 0;
        for (int i = 0; i < gr->n; i++) scratch[n++] = runs[gr->runs[i]].ms_per_step;
        double lo, hi;
        int count;
        wg_buf_puts(b, "<td class=\"num\">");
        rep_number(b, rep_median(scratch, n, &lo, &hi, &count));
        wg_buf_puts(b, "</td><td class=\"num\">");
        n = 0;
        for (int i = 0; i < gr->n; i++) {
            const wg_run_info *r = &runs[gr->runs[i]];
            scratch[n++] = isfinite(r->memory_bytes) ? r->memory_bytes : NAN;
        }
        double memory = rep_median(scratch, n, &lo, &hi, &count);
        bool rss = false;
        if (!isfinite(memory)) { /* fall back to the process's peak */
            n = 0;
            for (int i = 0; i < gr->n; i++) scratch[n++] = runs[gr->runs[i]].peak_rss_bytes;
            memory = rep_median(scratch, n, &lo, &hi, &count);
            rss = isfinite(memory);
        }
        rep_bytes(b, memory);
        if (rss) wg_buf_puts(b, "<small>peak RSS</small>");
        wg_buf_puts(b, "</td>");
        for (int c = 0; c < WG_HEALTH_COUNT; c++) verdict_cell(b, runs, gr, c, scratch);
        for (int i = 0; i < REP_N_QUALITY; i++)
            if (quality[i]) quantity_cell(b, runs, gr, rep_quality_columns[i], scratch);
        for (int i = 0; i < REP_N_CRITIC; i++)
            if (critic[i]) quantity_cell(b, runs, gr, rep_critic_columns[i], scratch);
        wg_buf_puts(b, "</tr>\n");
    }
    wg_buf_puts(b, "</tbody></table></div>\n");
}

/* Each row against the baseline, paired by seed, under the data set's table. */
static wg_status paired_table(wg_buf *b, const wg_run_info *runs, const rep_grouping *g, int first,
                              int end) {
    rep_paired p;
    wg_status s = rep_paired_make(runs, g, first, end, &p);
    if (s != WG_OK || !p.n) {
        rep_paired_free(&p); /* rows are allocated even when none is paired */
        return s;
    }
    wg_buf_puts(b, "<p class=\"claims\">Paired by seed against <b>");
    rep_escape(b, p.baseline);
    wg_buf_printf(b,
                  "</b> on the same device: median difference (row − baseline), its "
                  "bootstrap 95%% interval (%d resamples) and the two-sided Wilcoxon "
                  "signed-rank p-value.</p>\n<div class=\"wide\"><table class=\"paired\">\n"
                  "<thead><tr><th>Method</th><th>Device</th><th>Pairs</th>",
                  WG_BOOTSTRAP_RESAMPLES);
    for (int c = 0; c < REP_N_PAIRED; c++)
        if (p.columns[c]) wg_buf_printf(b, "<th>Δ %s</th>", rep_label(rep_paired_columns[c]));
    wg_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < p.n; i++) {
        const rep_paired_row *row = &p.rows[i];
        const rep_group *gr = &g->groups[row->group];
        method_cells(b, gr, "method pair");
        wg_buf_printf(b, "<td class=\"num\">%d", row->pairs);
        if (row->baseline < 0) wg_buf_puts(b, "<small>no baseline run on this device</small>");
        wg_buf_puts(b, "</td>");
        for (int c = 0; c < REP_N_PAIRED; c++) {
            if (!p.columns[c]) continue;
            /* the interval and p under the median */
            static const char *const marks[3] = {"<small>", "</small><small>", "</small>"};
            wg_buf_puts(b, "<td class=\"num\">");
            rep_paired_cell(b, &row->stats[c], rep_paired_columns[c], marks);
            wg_buf_puts(b, "</td>");
        }
        wg_buf_puts(b, "</tr>\n");
    }
    wg_buf_puts(b, "</tbody></table></div>\n");
    rep_paired_free(&p);
    return WG_OK;
}

/* ---- charts ---- */

/* A column of metrics.csv as x (step) and y arrays; NULL arrays when absent. */
typedef struct column_data {
    double *x, *y;
    int64_t n;
} column_data;

static bool column(const wg_run_info *r, int col, column_data *out) {
    *out = (column_data){0};
    int c_step = wg_table_column(&r->metrics, "step");
    if (col < 0 || c_step < 0 || r->metrics.n_rows == 0) return false;
    out->x = malloc((size_t)r->metrics.n_rows * sizeof *out->x);
    out->y = malloc((size_t)r->metrics.n_rows * sizeof *out->y);
    if (!out->x || !out->y) {
        free(out->x);
        free(out->y);
        *out = (column_data){0};
        return false;
    }
    out->n = r->metrics.n_rows;
    for (int64_t i = 0; i < out->n; i++) {
        out->x[i] = wg_table_number(&r->metrics, i, c_step);
        out->y[i] = wg_table_number(&r->metrics, i, col);
    }
    return true;
}

static void free_column(column_data *c) {
    free(c->x);
    free(c->y);
}

/* Every run of the data set `data` as one series of `q`, coloured by method, dashed by
 * device. */
static void overlay_chart(wg_buf *b, const wg_run_info *runs, const rep_grouping *g, int first,
                          int end, wg_quantity q, const char *title) {
    int total = 0;
    for (int k = first; k < end; k++) total += g->groups[k].n;
    rep_series *series = calloc((size_t)total, sizeof *series);
    column_data *cols = calloc((size_t)total, sizeof *cols);
    char(*labels)[272] = calloc((size_t)total, sizeof *labels);
    char devices[8][128];
    int n_devices = 0, n = 0;
    if (!series || !cols || !labels) goto done;
    for (int k = first; k < end; k++) {
        const rep_group *gr = &g->groups[k];
        int d = 0;
        while (d < n_devices && strcmp(devices[d], gr->device)) d++;
        if (d == n_devices && n_devices < 8) snprintf(devices[n_devices++], 128, "%s", gr->device);
        for (int i = 0; i < gr->n; i++) {
            const wg_run_info *r = &runs[gr->runs[i]];
            if (!column(r, wg_run_quantity_column(r, q), &cols[n])) continue;
            snprintf(labels[n], sizeof labels[n], "%s · %s", gr->method, gr->device);
            series[n] = (rep_series){
                labels[n],         cols[n].x, cols[n].y, cols[n].n, rep_method_color(gr->method),
                (rep_dash)(d % 3), 1.4};
            n++;
        }
    }
    if (n) {
        rep_chart chart = {title, "generator step", wg_quantity_label(q), 600, 320, series, n, NAN,
                           NULL};
        rep_line_chart(b, &chart);
    }
done:
    for (int i = 0; i < n; i++) free_column(&cols[i]);
    free(series);
    free(cols);
    free(labels);
}

static void run_charts(wg_buf *b, const wg_run_info *r) {
    const char *method_col = NULL;
    char method[128];
    method_col = rep_method_color(wg_run_method(r, method, sizeof method));
    const wg_table *t = &r->metrics;

    /* W: the critic's estimate against the exact distance */
    column_data w, w1;
    column(r, wg_run_quantity_column(r, WG_Q_W_ESTIMATE), &w);
    column(r, wg_run_quantity_column(r, WG_Q_W1), &w1);
    rep_series ws[2];
    int nw = 0;
    if (w.n)
        ws[nw++] = (rep_series){"critic's W estimate", w.x, w.y, w.n, method_col, REP_SOLID, 0};
    if (w1.n) ws[nw++] = (rep_series){"exact W1", w1.x, w1.y, w1.n, "#222222", REP_DASHED, 0};
    /* W1 between two real samples: how close "zero" can get at this sample size */
    double floor_ = w1.n ? wg_run_quantity(r, WG_Q_W1_FLOOR) : NAN;
    rep_chart chart = {w1.n ? "W estimate and exact W1" : "W estimate",
                       "generator step",
                       "distance",
                       0,
                       0,
                       ws,
                       nw,
                       floor_,
                       "W1 floor (real vs real)"};
    rep_line_chart(b, &chart);
    free_column(&w);
    free_column(&w1);

    /* losses */
    static const struct {
        const char *column, *label, *color;
    } losses[] = {{"critic_loss", "critic loss", "#0072B2"},
                  {"generator_loss", "generator loss", "#D55E00"},
                  {"penalty", "penalty", "#009E73"}};
    column_data lc[3];
    rep_series ls[3];
    int nl = 0;
    for (int i = 0; i < 3; i++) {
        column(r, wg_table_column(t, losses[i].column), &lc[i]);
        bool useful = false; /* a penalty column of zeros (no penalty) is left out */
        for (int64_t k = 0; k < lc[i].n && !useful; k++)
            useful = isfinite(lc[i].y[k]) && lc[i].y[k] != 0;
        if (useful || (i < 2 && lc[i].n))
            ls[nl++] = (rep_series){losses[i].label, lc[i].x,   lc[i].y, lc[i].n,
                                    losses[i].color, REP_SOLID, 0};
    }
    chart = (rep_chart){"Losses", "generator step", "loss", 0, 0, ls, nl, NAN, NULL};
    rep_line_chart(b, &chart);
    for (int i = 0; i < 3; i++) free_column(&lc[i]);

    /* the critic's input-gradient norms: 1 is the target of a 1-Lipschitz critic */
    static const struct {
        const char *column, *label, *color;
        rep_dash dash;
    } norms[] = {{"grad_norm_real", "mean at real", "#0072B2", REP_SOLID},
                 {"grad_norm_fake", "mean at generated", "#D55E00", REP_SOLID},
                 {"eval_grad_interp", "mean at interpolates", "#009E73", REP_SOLID},
                 {"grad_norm_min", "min", "#888888", REP_DOTTED},
                 {"grad_norm_max", "max", "#888888", REP_DASHED}};
    enum { N_NORMS = sizeof norms / sizeof *norms };
    column_data nc[N_NORMS];
    rep_series ns[N_NORMS];
    int nn = 0;
    for (int i = 0; i < N_NORMS; i++) {
        column(r, wg_table_column(t, norms[i].column), &nc[i]);
        if (nc[i].n)
            ns[nn++] = (rep_series){norms[i].label,
                                    nc[i].x,
                                    nc[i].y,
                                    nc[i].n,
                                    norms[i].color,
                                    norms[i].dash,
                                    norms[i].dash == REP_SOLID ? 1.6 : 1.1};
    }
    chart = (rep_chart){"Critic gradient norm |∇ₓD(x)|",
                        "generator step",
                        "norm",
                        0,
                        0,
                        ns,
                        nn,
                        1.0,
                        "1-Lipschitz"};
    rep_line_chart(b, &chart);
    for (int i = 0; i < N_NORMS; i++) free_column(&nc[i]);
}

static void picture(wg_buf *b, const char *path, const char *caption) {
    char *data = NULL;
    size_t size = 0;
    if (wg_read_file(path, &data, &size) != WG_OK) {
        wg_clear_error();
        return;
    }
    wg_buf_puts(b, "<figure><img alt=\"");
    rep_escape(b, caption);
    wg_buf_puts(b, "\" src=\"data:image/png;base64,");
    rep_base64(b, (const unsigned char *)data, size);
    wg_buf_puts(b, "\"><figcaption>");
    rep_escape(b, caption);
    wg_buf_puts(b, "</figcaption></figure>\n");
    free(data);
}

static void sample_pictures(wg_buf *b, const wg_run_info *r) {
    if (!r->n_samples && !r->real_sample) return;
    wg_buf_puts(b, "<div class=\"samples\">\n");
    /* the first, the middle and the last picture tell the story */
    int picks[3] = {0, r->n_samples / 2, r->n_samples - 1}, last = -1;
    for (int i = 0; i < 3 && r->n_samples; i++) {
        if (picks[i] == last) continue;
        last = picks[i];
        const char *file = strrchr(r->samples[picks[i]], '/');
        long step = file ? strtol(file + 6, NULL, 10) : 0;
        char caption[64];
        snprintf(caption, sizeof caption, "step %ld", step);
        picture(b, r->samples[picks[i]], caption);
    }
    if (r->real_sample) picture(b, r->real_sample, "real data");
    wg_buf_puts(b, "</div>\n");
}

static void anchor(wg_buf *b, int index) {
    wg_buf_printf(b, "run-%d", index + 1);
}

static void state_cell(wg_buf *b, const wg_run_info *r) {
    wg_buf_printf(b, "<td class=\"state %s\"",
                  rep_completed(r) ? "ok"
                  : rep_failed(r)  ? "bad"
                                   : "warn");
    if (*r->message) {
        wg_buf_puts(b, " title=\"");
        rep_escape(b, r->message);
        wg_buf_puts(b, "\"");
    }
    wg_buf_puts(b, ">");
    rep_escape(b, r->state);
    wg_buf_puts(b, "</td>");
}

static void runs_table(wg_buf *b, const wg_run_info *runs, const rep_grouping *g) {
    wg_buf_puts(b, "<table class=\"runs\">\n<thead><tr><th>Run</th><th>Method</th><th>Device</th>"
                   "<th>Seed</th><th>State</th><th>Steps</th><th>ms / step</th>"
                   "<th>final W est.</th><th>exact W1</th><th>modes</th><th>FID</th>"
                   "<th>Health</th></tr></thead>\n<tbody>\n");
    for (int k = 0; k < g->n; k++)
        for (int i = 0; i < g->groups[k].n; i++) {
            int index = g->groups[k].runs[i];
            const wg_run_info *r = &runs[index];
            wg_buf_puts(b, "<tr><td><a href=\"#");
            anchor(b, index);
            wg_buf_puts(b, "\">");
            rep_escape(b, r->id);
            wg_buf_puts(b, "</a></td><td>");
            swatch(b, g->groups[k].method);
            rep_escape(b, g->groups[k].method);
            wg_buf_puts(b, "</td><td>");
            rep_escape(b, g->groups[k].device);
            wg_buf_puts(b, "</td><td class=\"num\">");
            if (r->seed >= 0) wg_buf_printf(b, "%lld", (long long)r->seed);
            wg_buf_puts(b, "</td>");
            state_cell(b, r);
            wg_buf_puts(b, "<td class=\"num\">");
            if (r->steps >= 0)
                wg_buf_printf(b, "%lld", (long long)r->steps);
            else
                wg_buf_puts(b, "—");
            if (r->steps_planned > 0 && r->steps != r->steps_planned)
                wg_buf_printf(b, " / %lld", (long long)r->steps_planned);
            wg_buf_puts(b, "</td><td class=\"num\">");
            rep_number(b, r->ms_per_step);
            static const wg_quantity shown[] = {WG_Q_W_ESTIMATE, WG_Q_W1, WG_Q_MODES, WG_Q_FID};
            for (int q = 0; q < 4; q++) {
                wg_buf_puts(b, "</td><td class=\"num\">");
                rep_number(b, wg_run_quantity(r, shown[q]));
            }
            wg_buf_puts(b, "</td><td class=\"health\">");
            for (int c = 0; c < WG_HEALTH_COUNT && r->have_health; c++) {
                wg_verdict v = r->health.checks[c].verdict;
                wg_buf_printf(b, "<span class=\"dot %s\" title=\"%s: ", wg_verdict_name(v),
                              rep_check_titles[c]);
                rep_escape(b, r->health.checks[c].reason);
                wg_buf_printf(b, "\">%s</span>",
                              v == WG_VERDICT_PASS   ? "✓"
                              : v == WG_VERDICT_FAIL ? "✗"
                                                     : "–");
            }
            if (!r->have_health) wg_buf_puts(b, "—");
            wg_buf_puts(b, "</td></tr>\n");
            if (*r->message && !rep_completed(r)) {
                wg_buf_puts(b, "<tr class=\"message\"><td colspan=\"12\">");
                rep_escape(b, r->message);
                wg_buf_puts(b, "</td></tr>\n");
            }
        }
    wg_buf_puts(b, "</tbody></table>\n");
}

static void run_details(wg_buf *b, const wg_run_info *runs, const rep_grouping *g) {
    for (int k = 0; k < g->n; k++)
        for (int i = 0; i < g->groups[k].n; i++) {
            int index = g->groups[k].runs[i];
            const wg_run_info *r = &runs[index];
            wg_buf_puts(b, "<article class=\"run\" id=\"");
            anchor(b, index);
            wg_buf_puts(b, "\"><h3>");
            swatch(b, g->groups[k].method);
            rep_escape(b, r->id);
            wg_buf_puts(b, "</h3>\n<p class=\"meta\">");
            rep_escape(b, g->groups[k].method);
            wg_buf_puts(b, " · ");
            rep_escape(b, r->name);
            wg_buf_puts(b, " · data ");
            rep_escape(b, *r->data ? r->data : "?");
            wg_buf_puts(b, ", arch ");
            rep_escape(b, *r->arch ? r->arch : "?");
            wg_buf_puts(b, ", loss ");
            rep_escape(b, *r->loss ? r->loss : "?");
            if (r->seed >= 0) wg_buf_printf(b, " · seed %lld", (long long)r->seed);
            wg_buf_puts(b, " · ");
            rep_escape(b, *r->device ? r->device : g->groups[k].device);
            wg_buf_puts(b, " · ");
            rep_escape(b, r->state);
            if (*r->message) {
                wg_buf_puts(b, ": ");
                rep_escape(b, r->message);
            }
            wg_buf_puts(b, "</p>\n<div class=\"charts\">\n");
            if (r->metrics.n_rows)
                run_charts(b, r);
            else
                wg_buf_puts(b, "<p class=\"none\">No metrics were logged.</p>\n");
            wg_buf_puts(b, "</div>\n");
            sample_pictures(b, r);
            wg_buf_puts(b, "</article>\n");
        }
}

static const char style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "color:#222;margin:0 auto;max-width:1440px;padding:24px 32px;background:#fff}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px "
    "solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}"
    ".meta{color:#666;margin:2px 0 10px}.note{color:#555;max-width:900px}"
    "code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f4f4f4;"
    "padding:1px 4px;border-radius:3px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:12.5px}"
    ".wide{overflow-x:auto}p.claims{color:#666;font-size:12.5px;margin:4px 0}"
    "th,td{padding:4px 7px;border-bottom:1px solid #e4e4e4;vertical-align:top;text-align:left}"
    "thead th{background:#f6f6f6;font-weight:600;border-bottom:1px solid #ccc}"
    "th.group{text-align:center;border-bottom:1px solid #bbb}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td small,td.num small{display:block;color:#777;font-size:11px}"
    "td.method{white-space:nowrap}"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}"
    "td.verdict{text-align:center;white-space:nowrap}"
    "td.pass{background:#e8f5e9}td.fail{background:#fdecea}td.mixed{background:#fff6e0}"
    "td.skip{color:#999}small.bad{color:#b3261e}"
    "td.state.ok{color:#1b5e20}td.state.bad{color:#b3261e;font-weight:600}td.state.warn{"
    "color:#8a6d00}"
    "tr.message td{color:#b3261e;font-size:12px;border-bottom:1px solid #e4e4e4;padding-top:0}"
    ".dot{display:inline-block;width:16px;text-align:center}.dot.pass{color:#1b5e20}"
    ".dot.fail{color:#b3261e}.dot.skipped{color:#aaa}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee;border-radius:4px}"
    ".samples{display:flex;flex-wrap:wrap;gap:12px;margin-top:10px}"
    "figure{margin:0}figure img{width:230px;height:auto;border:1px solid #eee;"
    "image-rendering:auto}figcaption{font-size:12px;color:#666;text-align:center}"
    "article.run{border-top:1px solid #eee;padding-top:4px;margin-top:18px}"
    "a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}"
    ".none{color:#888}";

wg_status wg_report_html(const wg_run_info *runs, int n_runs, const wg_report_options *options,
                         wg_buf *out) {
    wg_report_options o = options ? *options : (wg_report_options){0};
    const char *title = o.title ? o.title : "wgan report";
    rep_grouping g;
    wg_status s = rep_make_groups(runs, n_runs, &g);
    double *scratch = malloc((size_t)(n_runs ? n_runs : 1) * sizeof *scratch);
    if (s == WG_OK && !scratch) s = wg_fail(WG_ERR_NOMEM, "out of memory building the report");
    if (s != WG_OK) {
        free(scratch);
        rep_free_groups(&g);
        return s;
    }
    wg_buf *b = out;
    wg_buf_puts(b,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    rep_escape(b, title);
    wg_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>", style);
    rep_escape(b, title);
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M", &tm);
    wg_buf_printf(b, "</h1>\n<p class=\"meta\">%d run%s · wgan %s · %s", n_runs,
                  n_runs == 1 ? "" : "s", WGAN_VERSION, stamp);
    if (o.command) {
        wg_buf_puts(b, " · <code>");
        rep_escape(b, o.command);
        wg_buf_puts(b, "</code>");
    }
    wg_buf_puts(b, "</p></header>\n");

    wg_buf_puts(b, "<section id=\"comparison\"><h2>Comparison</h2>\n<p class=\"note\">One row per "
                   "method and device, medians over seeds (smallest–largest underneath). "
                   "<b>Cost</b>: training time per generator step (its critic steps included) and "
                   "device memory (plan arenas plus parameters and optimizer state; the process's "
                   "peak RSS where that is all there is). <b>Stability</b>: the training-health "
                   "checks on the logged W estimate (<code>docs/metrics.md</code>): runs passing / "
                   "runs judged, with the median deciding number; hover for each run's reason. "
                   "<b>Quality</b>: measured at the end of completed runs. A dash means the runs "
                   "did not record that quantity.</p>\n");
    for (int first = 0; first < g.n;) {
        int end = first + 1;
        while (end < g.n && !strcmp(g.groups[end].data, g.groups[first].data)) end++;
        wg_buf_puts(b, "<h3>");
        rep_escape(b, g.groups[first].data);
        wg_buf_puts(b, "</h3>\n");
        comparison_table(b, runs, &g, first, end, scratch);
        if (s == WG_OK) s = paired_table(b, runs, &g, first, end);
        wg_buf_puts(b, "<div class=\"charts\">\n");
        overlay_chart(b, runs, &g, first, end, WG_Q_W_ESTIMATE, "Critic's W estimate, every run");
        if (rep_any(runs, &g, first, end, WG_Q_W1))
            overlay_chart(b, runs, &g, first, end, WG_Q_W1, "Exact W1, every run");
        wg_buf_puts(b, "</div>\n");
        first = end;
    }
    if (!g.n) wg_buf_puts(b, "<p class=\"none\">No runs.</p>\n");
    wg_buf_puts(b, "</section>\n<section id=\"runs\"><h2>Runs</h2>\n");
    runs_table(b, runs, &g);
    wg_buf_puts(b, "</section>\n<section id=\"details\"><h2>Curves and samples</h2>\n");
    run_details(b, runs, &g);
    wg_buf_puts(b, "</section>\n</body>\n</html>\n");
    free(scratch);
    rep_free_groups(&g);
    if (s == WG_OK && b->failed) return wg_fail(WG_ERR_NOMEM, "out of memory building the report");
    return s;
}
