/* The comparison table as Markdown (compare.md, and what `wgan compare` prints): the
 * same rows and medians as the HTML page, and the same paired statistics, for pasting
 * into documents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

/* Text that cannot break the table: pipes and line breaks become spaces. */
static void cell_text(wg_buf *b, const char *text) {
    for (const char *p = text; *p; p++) wg_buf_append(b, strchr("|\n\r", *p) ? " " : p, 1);
}

/* "method (experiment)", the experiment left out where it is the method's name. */
static void row_name(wg_buf *b, const rep_group *gr) {
    cell_text(b, gr->method);
    if (strcmp(gr->method, gr->name)) {
        wg_buf_puts(b, " (");
        cell_text(b, gr->name);
        wg_buf_puts(b, ")");
    }
}

static void median_cell(wg_buf *b, const wg_run_info *runs, const rep_group *g, int q,
                        double *scratch) {
    double lo, hi;
    int count;
    bool share = q == WG_Q_HIGH_QUALITY;
    double m = rep_group_median(runs, g, q, true, scratch, &lo, &hi, &count);
    double scale = share ? 100 : 1;
    wg_buf_puts(b, " ");
    rep_number(b, scale * m);
    if (share && isfinite(m)) wg_buf_puts(b, "%");
    if (q == WG_Q_MODES && isfinite(m)) {
        double tlo, thi;
        int tcount;
        double total = rep_group_median(runs, g, WG_Q_N_MODES, false, scratch, &tlo, &thi, &tcount);
        if (isfinite(total)) wg_buf_printf(b, "/%.0f", total);
    }
    if (count > 1 && hi > lo) {
        wg_buf_puts(b, " (");
        rep_number(b, scale * lo);
        wg_buf_puts(b, "–");
        rep_number(b, scale * hi);
        wg_buf_puts(b, ")");
    }
    wg_buf_puts(b, " |");
}

static void table(wg_buf *b, const wg_run_info *runs, const rep_grouping *g, int first, int end,
                  double *scratch) {
    bool quality[REP_N_QUALITY], critic[REP_N_CRITIC];
    for (int i = 0; i < REP_N_QUALITY; i++)
        quality[i] = rep_any(runs, g, first, end, rep_quality_columns[i]);
    for (int i = 0; i < REP_N_CRITIC; i++)
        critic[i] = rep_any(runs, g, first, end, rep_critic_columns[i]);
    wg_buf_puts(b, "| method | device | runs | ms / step | memory |");
    int columns = 5;
    const char *titles[WG_HEALTH_COUNT + REP_N_QUALITY + REP_N_CRITIC];
    int n_titles = 0;
    for (int c = 0; c < WG_HEALTH_COUNT; c++) titles[n_titles++] = rep_check_titles[c];
    for (int i = 0; i < REP_N_QUALITY; i++)
        if (quality[i]) titles[n_titles++] = rep_label(rep_quality_columns[i]);
    for (int i = 0; i < REP_N_CRITIC; i++)
        if (critic[i]) titles[n_titles++] = rep_label(rep_critic_columns[i]);
    for (int i = 0; i < n_titles; i++, columns++) {
        wg_buf_puts(b, " ");
        cell_text(b, titles[i]);
        wg_buf_puts(b, " |");
    }
    wg_buf_puts(b, "\n|");
    for (int c = 0; c < columns; c++) wg_buf_puts(b, c < 2 ? " --- |" : " ---: |");
    wg_buf_puts(b, "\n");

    for (int k = first; k < end; k++) {
        const rep_group *gr = &g->groups[k];
        int bad = 0;
        for (int i = 0; i < gr->n; i++) bad += rep_failed(&runs[gr->runs[i]]);
        wg_buf_puts(b, "| ");
        row_name(b, gr);
        wg_buf_puts(b, " | ");
        cell_text(b, gr->device);
        wg_buf_printf(b, " | %d", gr->n);
        if (bad) wg_buf_printf(b, ", %d failed", bad);
        wg_buf_puts(b, " |");

        int n = 0;
        for (int i = 0; i < gr->n; i++) scratch[n++] = runs[gr->runs[i]].ms_per_step;
        double lo, hi;
        int count;
        wg_buf_puts(b, " ");
        rep_number(b, rep_median(scratch, n, &lo, &hi, &count));
        wg_buf_puts(b, " | ");
        n = 0;
        for (int i = 0; i < gr->n; i++) scratch[n++] = runs[gr->runs[i]].memory_bytes;
        double memory = rep_median(scratch, n, &lo, &hi, &count);
        if (!isfinite(memory)) {
            n = 0;
            for (int i = 0; i < gr->n; i++) scratch[n++] = runs[gr->runs[i]].peak_rss_bytes;
            memory = rep_median(scratch, n, &lo, &hi, &count);
            rep_bytes(b, memory);
            if (isfinite(memory)) wg_buf_puts(b, " RSS");
        } else {
            rep_bytes(b, memory);
        }
        wg_buf_puts(b, " |");
        for (int c = 0; c < WG_HEALTH_COUNT; c++) {
            rep_verdicts v = rep_group_verdicts(runs, gr, c, scratch);
            if (!v.judged) {
                wg_buf_puts(b, v.skipped ? " skipped |" : " — |");
                continue;
            }
            wg_buf_printf(b, " %s %d/%d", rep_verdicts_mark(&v), v.pass, v.judged);
            if (isfinite(v.value)) {
                wg_buf_printf(b, " (%s ", rep_check_value_names[c]);
                rep_number(b, v.value);
                wg_buf_puts(b, ")");
            }
            wg_buf_puts(b, " |");
        }
        for (int i = 0; i < REP_N_QUALITY; i++)
            if (quality[i]) median_cell(b, runs, gr, rep_quality_columns[i], scratch);
        for (int i = 0; i < REP_N_CRITIC; i++)
            if (critic[i]) median_cell(b, runs, gr, rep_critic_columns[i], scratch);
        wg_buf_puts(b, "\n");
    }
}

/* The rows against the baseline, paired by seed, under the data set's table. */
static wg_status paired_table(wg_buf *b, const wg_run_info *runs, const rep_grouping *g, int first,
                              int end) {
    rep_paired p;
    wg_status s = rep_paired_make(runs, g, first, end, &p);
    if (s != WG_OK || !p.n) {
        rep_paired_free(&p); /* rows are allocated even when none is paired */
        return s;
    }
    wg_buf_puts(b, "\nPaired by seed against `");
    cell_text(b, p.baseline);
    wg_buf_printf(b,
                  "` on the same device: the median of the differences (row − baseline) "
                  "with its bootstrap 95%% interval (%d resamples), and the two-sided "
                  "Wilcoxon signed-rank p-value.\n\n| method | device | pairs |",
                  WG_BOOTSTRAP_RESAMPLES);
    int columns = 3;
    for (int c = 0; c < REP_N_PAIRED; c++)
        if (p.columns[c]) {
            wg_buf_puts(b, " Δ ");
            cell_text(b, rep_label(rep_paired_columns[c]));
            wg_buf_puts(b, " |");
            columns++;
        }
    wg_buf_puts(b, "\n|");
    for (int c = 0; c < columns; c++) wg_buf_puts(b, c < 2 ? " --- |" : " ---: |");
    wg_buf_puts(b, "\n");
    for (int i = 0; i < p.n; i++) {
        const rep_paired_row *row = &p.rows[i];
        const rep_group *gr = &g->groups[row->group];
        wg_buf_puts(b, "| ");
        row_name(b, gr);
        wg_buf_puts(b, " | ");
        cell_text(b, gr->device);
        if (row->baseline < 0)
            wg_buf_puts(b, " | 0, no baseline run on this device |");
        else
            wg_buf_printf(b, " | %d |", row->pairs);
        for (int c = 0; c < REP_N_PAIRED; c++)
            if (p.columns[c]) {
                wg_buf_puts(b, " ");
                static const char *const marks[3] = {" ", ", ", ""};
                rep_paired_cell(b, &row->stats[c], rep_paired_columns[c], marks);
                wg_buf_puts(b, " |");
            }
        wg_buf_puts(b, "\n");
    }
    rep_paired_free(&p);
    return WG_OK;
}

wg_status wg_compare_markdown(const wg_run_info *runs, int n_runs, wg_buf *out) {
    rep_grouping g;
    wg_status s = rep_make_groups(runs, n_runs, &g);
    double *scratch = malloc((size_t)(n_runs ? n_runs : 1) * sizeof *scratch);
    if (s == WG_OK && !scratch) s = wg_fail(WG_ERR_NOMEM, "out of memory writing the table");
    for (int first = 0; s == WG_OK && first < g.n;) {
        int end = first + 1;
        while (end < g.n && !strcmp(g.groups[end].data, g.groups[first].data)) end++;
        wg_buf_printf(out, "%s%s\n\n", first ? "\n" : "", g.groups[first].data);
        table(out, runs, &g, first, end, scratch);
        s = paired_table(out, runs, &g, first, end);
        first = end;
    }
    free(scratch);
    rep_free_groups(&g);
    if (s == WG_OK && out->failed) s = wg_fail(WG_ERR_NOMEM, "out of memory writing the table");
    return s;
}
