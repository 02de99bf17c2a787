/* A run folder read back as one record: summary.json, metrics.csv, config.yaml and the
 * sample pictures, plus the health verdicts recomputed from metrics.csv. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Names in summary.json (a dotted path, or a key found at any depth) and in
 * metrics.csv, in the order tried. */
static const char *const quantity_names[WG_Q_COUNT][6] = {
    [WG_Q_W_ESTIMATE] = {"w_estimate", NULL},
    [WG_Q_W1] = {"evaluation.final.w1", "w1", "eval_w1", NULL},
    [WG_Q_W1_FLOOR] = {"evaluation.w1_floor", "w1_floor", NULL},
    [WG_Q_MODES] = {"evaluation.final.modes_covered", "modes_covered", "eval_modes", NULL},
    [WG_Q_N_MODES] = {"evaluation.modes.count", "n_modes", NULL},
    [WG_Q_HIGH_QUALITY] = {"evaluation.final.high_quality_share", "high_quality_share",
                           "eval_hq_share", NULL},
    [WG_Q_FID] = {"fid.fid", "fid", "eval_fid", NULL},
    [WG_Q_KID] = {"fid.kid", "kid", "eval_kid", NULL},
    [WG_Q_LIPSCHITZ] = {"evaluation.final.difference_quotients.max", "eval_pair_max", NULL},
};

static const char *const quantity_labels[WG_Q_COUNT] = {
    [WG_Q_W_ESTIMATE] = "W estimate",
    [WG_Q_W1] = "exact W1",
    [WG_Q_W1_FLOOR] = "W1 floor",
    [WG_Q_MODES] = "modes",
    [WG_Q_N_MODES] = "of modes",
    [WG_Q_HIGH_QUALITY] = "high-quality share",
    [WG_Q_FID] = "FID",
    [WG_Q_KID] = "KID",
    [WG_Q_LIPSCHITZ] = "max ΔD/Δx",
};

const char *const *wg_quantity_names(wg_quantity q) {
    return quantity_names[q];
}

const char *wg_quantity_label(wg_quantity q) {
    return quantity_labels[q];
}

/* ---- small helpers ---- */

static char *dup_or_empty(const char *text) {
    return strdup(text ? text : "");
}

static void set_text(char **field, const char *text) {
    char *copy = dup_or_empty(text);
    if (!copy) return; /* keeps the old value; wg_run_load checks for NULLs at the end */
    free(*field);
    *field = copy;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* samples/step_*.png in step order (the numbers are zero-padded) and real.png. */
static wg_status list_samples(wg_run_info *run) {
    char path[4200];
    snprintf(path, sizeof path, "%s/samples", run->dir);
    DIR *d = opendir(path);
    if (!d) return WG_OK;
    struct dirent *entry;
    wg_status s = WG_OK;
    while ((entry = readdir(d)) && s == WG_OK) {
        const char *n = entry->d_name;
        size_t len = strlen(n);
        if (len < 4 || strcmp(n + len - 4, ".png")) continue;
        snprintf(path, sizeof path, "%s/samples/%s", run->dir, n);
        if (!strcmp(n, "real.png")) {
            free(run->real_sample);
            if (!(run->real_sample = strdup(path))) s = WG_ERR_NOMEM;
            continue;
        }
        if (strncmp(n, "step_", 5)) continue;
        char **grown = realloc(run->samples, (size_t)(run->n_samples + 1) * sizeof *grown);
        char *copy = strdup(path);
        if (grown) run->samples = grown;
        if (!grown || !copy) {
            free(copy);
            s = WG_ERR_NOMEM;
            break;
        }
        run->samples[run->n_samples++] = copy;
    }
    closedir(d);
    if (s != WG_OK) return wg_fail(s, "out of memory listing %s/samples", run->dir);
    qsort(run->samples, (size_t)run->n_samples, sizeof *run->samples, compare_names);
    return WG_OK;
}

/* What config.yaml says, for a run without a summary (killed, or still running). */
static void read_config(wg_run_info *run) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", run->dir);
    wg_cfg *cfg = NULL;
    if (!wg_file_exists(path) || wg_cfg_load_file(path, &cfg) != WG_OK) {
        wg_clear_error();
        return;
    }
    const char *text = NULL;
    if (wg_cfg_string(cfg, "name", NULL, &text) == WG_OK && text) set_text(&run->name, text);
    if (wg_cfg_string(cfg, "device", NULL, &text) == WG_OK && text && !*run->device_spec)
        set_text(&run->device_spec, text);
    static const char *const sections[] = {"data", "arch", "loss", "lipschitz"};
    char **fields[] = {&run->data, &run->arch, &run->loss, &run->lipschitz};
    for (int i = 0; i < 4; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s.plugin", sections[i]);
        text = NULL;
        if (wg_cfg_string(cfg, key, NULL, &text) != WG_OK) text = NULL;
        if (!**fields[i]) set_text(fields[i], text ? text : i == 3 ? "none" : "");
    }
    int64_t v;
    if (run->seed < 0 && wg_cfg_int64(cfg, "seed", 1, 0, INT64_MAX, &v) == WG_OK) run->seed = v;
    if (run->steps_planned < 0 && wg_cfg_int64(cfg, "train.steps", -1, -1, INT64_MAX, &v) == WG_OK)
        run->steps_planned = v;
    wg_cfg_free(cfg);
    wg_clear_error();
}

/* Whether a JSON number converts to int64_t (NaN does not). */
static bool fits_int64(double v) {
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}

static void read_summary(wg_run_info *run) {
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", run->dir);
    char *text = NULL;
    size_t size;
    if (!wg_file_exists(path) || wg_read_file(path, &text, &size) != WG_OK ||
        wg_json_parse(path, text, &run->summary) != WG_OK) {
        free(text);
        run->summary = NULL;
        wg_clear_error();
        return;
    }
    free(text);
    const wg_json *j = run->summary;
    const char *name = wg_json_string(wg_json_member(j, "name"));
    if (name && *name) set_text(&run->name, name);
    const char *state = wg_json_string(wg_json_member(j, "state"));
    if (state) set_text(&run->state, state);
    set_text(&run->message, wg_json_string(wg_json_member(j, "message")));
    set_text(&run->device, wg_json_string(wg_json_member(j, "device")));
    static const char *const kinds[] = {"plugins.data", "plugins.arch", "plugins.loss",
                                        "plugins.lipschitz"};
    char **fields[] = {&run->data, &run->arch, &run->loss, &run->lipschitz};
    for (int i = 0; i < 4; i++) {
        const char *plugin = wg_json_string(wg_json_path(j, kinds[i]));
        if (plugin) set_text(fields[i], plugin);
    }
    double v = wg_json_number(wg_json_member(j, "seed"));
    if (fits_int64(v)) run->seed = (int64_t)v;
    v = wg_json_number(wg_json_member(j, "generator_steps"));
    if (fits_int64(v)) run->steps = (int64_t)v;
    v = wg_json_number(wg_json_member(j, "steps_planned"));
    if (fits_int64(v)) run->steps_planned = (int64_t)v;
    /* training time only: the evaluation at log steps is not the method's cost */
    double seconds = wg_json_number(wg_json_member(j, "seconds"));
    double evals = wg_json_number(wg_json_path(j, "evaluation.evaluations"));
    double per_eval = wg_json_number(wg_json_path(j, "evaluation.seconds_per_evaluation"));
    double fid = wg_json_number(wg_json_path(j, "fid.seconds"));
    if (isfinite(evals) && isfinite(per_eval)) seconds -= evals * per_eval;
    if (isfinite(fid)) seconds -= fid;
    if (run->steps > 0 && isfinite(seconds)) run->ms_per_step = 1e3 * seconds / (double)run->steps;
    /* memory, wherever the runtime puts it */
    double plan = wg_json_find_number(j, "plan_bytes");
    double persistent = wg_json_find_number(j, "persistent_bytes");
    double total = wg_json_find_number(j, "memory_bytes");
    if (isfinite(plan) && isfinite(persistent))
        run->memory_bytes = plan + persistent;
    else if (isfinite(total))
        run->memory_bytes = total;
    double rss = wg_json_find_number(j, "peak_rss_bytes");
    if (isfinite(rss)) run->peak_rss_bytes = rss;
}

/* The verdicts from the logged W and losses (docs/metrics.md, "Training health"). */
static wg_status compute_health(wg_run_info *run) {
    const wg_table *t = &run->metrics;
    int c_step = wg_table_column(t, "step"), c_w = wg_table_column(t, "w_estimate");
    int c_cl = wg_table_column(t, "critic_loss"), c_gl = wg_table_column(t, "generator_loss");
    if (c_step < 0 || c_w < 0 || t->n_rows == 0) return WG_OK;
    int64_t n = 0, *steps = malloc((size_t)t->n_rows * sizeof *steps);
    double *w = malloc((size_t)t->n_rows * sizeof *w);
    double *cl = malloc((size_t)t->n_rows * sizeof *cl);
    double *gl = malloc((size_t)t->n_rows * sizeof *gl);
    wg_status s = WG_OK;
    if (!steps || !w || !cl || !gl) {
        s = wg_fail(WG_ERR_NOMEM, "out of memory reading %s/metrics.csv", run->dir);
    } else {
        for (int64_t r = 0; r < t->n_rows; r++) {
            double step = wg_table_number(t, r, c_step);
            /* rows must have strictly increasing steps; skip anything else */
            if (!fits_int64(step) || (n > 0 && (int64_t)step <= steps[n - 1])) continue;
            steps[n] = (int64_t)step;
            w[n] = wg_table_number(t, r, c_w);
            cl[n] = wg_table_number(t, r, c_cl);
            gl[n] = wg_table_number(t, r, c_gl);
            n++;
        }
        wg_health_series series = {n, steps, w, c_cl >= 0 ? cl : NULL, c_gl >= 0 ? gl : NULL};
        if (wg_metric_health(&series, NULL, &run->health) == WG_OK)
            run->have_health = true;
        else
            wg_clear_error();
    }
    free(steps);
    free(w);
    free(cl);
    free(gl);
    return s;
}

static const char *last_component(const char *path, char *buf, size_t size) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    snprintf(buf, size, "%.*s", (int)(len - start), path + start);
    return buf;
}

wg_status wg_run_load(const char *dir, wg_run_info *run) {
    *run = (wg_run_info){0};
    run->seed = run->steps = run->steps_planned = -1;
    run->ms_per_step = run->memory_bytes = run->peak_rss_bytes = NAN;
    char id[1024], path[4200];
    last_component(dir, id, sizeof id);
    run->dir = strdup(dir);
    run->id = strdup(id);
    run->name = strdup(id);
    char **texts[] = {&run->state, &run->message,   &run->data,   &run->arch,
                      &run->loss,  &run->lipschitz, &run->device, &run->device_spec};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) *texts[i] = strdup("");
    if (!run->dir || !run->id || !run->name) goto no_memory;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (!*texts[i]) goto no_memory;

    read_summary(run);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if (wg_file_exists(path)) {
        wg_status ts = wg_table_read(path, &run->metrics);
        if (ts == WG_ERR_NOMEM) {
            wg_run_free(run);
            return ts;
        }
        if (ts != WG_OK) wg_clear_error(); /* an unreadable table counts as none */
    }
    read_config(run);
    if (!*run->state) {
        snprintf(path, sizeof path, "%s/config.yaml", dir);
        set_text(&run->state, run->metrics.n_rows    ? "incomplete"
                              : wg_file_exists(path) ? "not finished"
                                                     : "missing");
    }
    if (run->steps < 0 && run->metrics.n_rows > 0) {
        double last = wg_table_number(&run->metrics, run->metrics.n_rows - 1,
                                      wg_table_column(&run->metrics, "step"));
        if (fits_int64(last)) run->steps = (int64_t)last;
    }
    wg_status s = list_samples(run);
    if (s == WG_OK) s = compute_health(run);
    if (s != WG_OK) {
        wg_run_free(run);
        return s;
    }
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (!*texts[i]) goto no_memory;
    return WG_OK;

no_memory:
    wg_run_free(run);
    return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", dir);
}

void wg_run_free(wg_run_info *run) {
    if (!run) return;
    char *texts[] = {run->dir,       run->id,     run->name,        run->state,
                     run->message,   run->data,   run->arch,        run->loss,
                     run->lipschitz, run->device, run->device_spec, run->real_sample};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) free(texts[i]);
    for (int i = 0; i < run->n_samples; i++) free(run->samples[i]);
    free(run->samples);
    wg_table_free(&run->metrics);
    wg_json_free(run->summary);
    *run = (wg_run_info){0};
}

int wg_run_quantity_column(const wg_run_info *run, wg_quantity q) {
    for (const char *const *n = quantity_names[q]; *n; n++) {
        int c = wg_table_column(&run->metrics, *n);
        if (c >= 0) return c;
    }
    return -1;
}

double wg_run_quantity(const wg_run_info *run, wg_quantity q) {
    for (const char *const *n = quantity_names[q]; *n && run->summary; n++) {
        double v = strchr(*n, '.') ? wg_json_number(wg_json_path(run->summary, *n))
                                   : wg_json_find_number(run->summary, *n);
        if (isfinite(v)) return v;
    }
    int c = wg_run_quantity_column(run, q);
    for (int64_t r = run->metrics.n_rows - 1; c >= 0 && r >= 0; r--) {
        double v = wg_table_number(&run->metrics, r, c);
        if (isfinite(v)) return v;
    }
    return NAN;
}

/* Ranks 1..n with ties given their mean rank. */
static void ranks(const double *v, int64_t n, int64_t *order, double *out) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = 1; i < n; i++) /* insertion sort: a few hundred logged rows */
        for (int64_t k = i; k > 0 && v[order[k - 1]] > v[order[k]]; k--) {
            int64_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && v[order[j + 1]] == v[order[i]]) j++;
        for (int64_t k = i; k <= j; k++) out[order[k]] = 0.5 * (double)(i + j) + 1;
        i = j + 1;
    }
}

double wg_run_w_correlation(const wg_run_info *run) {
    int cw = wg_run_quantity_column(run, WG_Q_W_ESTIMATE),
        c1 = wg_run_quantity_column(run, WG_Q_W1);
    int64_t rows = run->metrics.n_rows;
    if (cw < 0 || c1 < 0 || rows < 5) return NAN;
    double *a = malloc((size_t)rows * sizeof *a), *b = malloc((size_t)rows * sizeof *b);
    double *ra = malloc((size_t)rows * sizeof *ra), *rb = malloc((size_t)rows * sizeof *rb);
    int64_t *order = malloc((size_t)rows * sizeof *order);
    double rho = NAN;
    if (a && b && ra && rb && order) {
        int64_t n = 0;
        for (int64_t r = 0; r < rows; r++) {
            double x = wg_table_number(&run->metrics, r, cw),
                   y = wg_table_number(&run->metrics, r, c1);
            if (isfinite(x) && isfinite(y)) a[n] = x, b[n++] = y;
        }
        if (n >= 5) {
            ranks(a, n, order, ra);
            ranks(b, n, order, rb);
            double mean = 0.5 * (double)(n + 1), sab = 0, saa = 0, sbb = 0;
            for (int64_t i = 0; i < n; i++) {
                sab += (ra[i] - mean) * (rb[i] - mean);
                saa += (ra[i] - mean) * (ra[i] - mean);
                sbb += (rb[i] - mean) * (rb[i] - mean);
            }
            if (saa > 0 && sbb > 0) rho = sab / sqrt(saa * sbb);
        }
    }
    free(a);
    free(b);
    free(ra);
    free(rb);
    free(order);
    return rho;
}

const char *wg_run_method(const wg_run_info *run, char *buf, size_t size) {
    static const struct {
        const char *plugin, *label;
    } known[] = {{"weight_clip", "clip"}, {"gradient_penalty", "GP"}, {"spectral_norm", "SN"}};
    const char *lip = run->lipschitz;
    const char *label = NULL;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(lip, known[i].plugin)) label = known[i].label;
    bool unconstrained = !*lip || !strcmp(lip, "none");
    bool wasserstein = !strcmp(run->loss, "wasserstein");
    if (!*lip && !*run->loss)
        snprintf(buf, size, "?");
    else if (unconstrained && !strcmp(run->loss, "gan"))
        snprintf(buf, size, "JS baseline");
    else if (unconstrained)
        snprintf(buf, size, "%s, no constraint", *run->loss ? run->loss : "?");
    else if (wasserstein || !*run->loss)
        snprintf(buf, size, "%s", label ? label : lip);
    else
        snprintf(buf, size, "%s + %s loss", label ? label : lip, run->loss);
    return buf;
}

bool wg_run_failed(const wg_run_info *run) {
    return !strcmp(run->state, "failed") || !strcmp(run->state, "diverged") ||
           !strcmp(run->state, "crashed");
}

/* ---- compare.csv ---- */

static const char *verdict_text(const wg_run_info *run, int check) {
    return run->have_health ? wg_verdict_name(run->health.checks[check].verdict) : "";
}

static void csv_number(wg_buf *b, double v, const char *fmt) {
    if (isfinite(v)) wg_buf_printf(b, fmt, v);
}

void wg_compare_csv(const wg_run_info *runs, int n_runs, wg_buf *out) {
    wg_buf_puts(
        out, "run,experiment,data,method,lipschitz,loss,device,device_description,seed,"
             "state,generator_steps,ms_per_generator_step,memory_bytes,peak_rss_bytes,"
             "w_estimate,w1,w1_floor,modes_covered,n_modes,high_quality_share,fid,kid,"
             "lipschitz_estimate,w_w1_spearman,w_trend_decreasing,smooth,converging,no_explosion,"
             "health_all_pass,message,baseline\n");
    for (int i = 0; i < n_runs; i++) {
        const wg_run_info *r = &runs[i];
        char method[128];
        const char *texts[] = {
            r->id,        r->name, r->data,        wg_run_method(r, method, sizeof method),
            r->lipschitz, r->loss, r->device_spec, r->device};
        for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
            wg_buf_csv_field(out, texts[k]);
            wg_buf_puts(out, ",");
        }
        if (r->seed >= 0) wg_buf_printf(out, "%lld", (long long)r->seed);
        wg_buf_puts(out, ",");
        wg_buf_csv_field(out, r->state);
        wg_buf_puts(out, ",");
        if (r->steps >= 0) wg_buf_printf(out, "%lld", (long long)r->steps);
        wg_buf_puts(out, ",");
        csv_number(out, r->ms_per_step, "%.3f");
        wg_buf_puts(out, ",");
        csv_number(out, r->memory_bytes, "%.0f");
        wg_buf_puts(out, ",");
        csv_number(out, r->peak_rss_bytes, "%.0f");
        for (int q = 0; q < WG_Q_COUNT; q++) {
            wg_buf_puts(out, ",");
            csv_number(out, wg_run_quantity(r, (wg_quantity)q), "%.6g");
        }
        wg_buf_puts(out, ",");
        csv_number(out, wg_run_w_correlation(r), "%.4f");
        for (int c = 0; c < WG_HEALTH_COUNT; c++) wg_buf_printf(out, ",%s", verdict_text(r, c));
        wg_buf_printf(out, ",%s,", !r->have_health ? "" : r->health.all_pass ? "true" : "false");
        wg_buf_csv_field(out, r->message);
        wg_buf_puts(out, r->baseline ? ",true\n" : ",\n");
    }
}

wg_status wg_compare_load(const char *dir, wg_run_info **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.csv", dir);
    wg_table t;
    wg_status s = wg_table_read(path, &t);
    if (s != WG_OK) return s;
    int c_run = wg_table_column(&t, "run");
    if (c_run < 0) {
        wg_table_free(&t);
        return wg_fail(WG_ERR_INVALID, "%s has no 'run' column", path);
    }
    wg_run_info *runs = calloc((size_t)(t.n_rows ? t.n_rows : 1), sizeof *runs);
    if (!runs) {
        wg_table_free(&t);
        return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", path);
    }
    int n = 0;
    for (int64_t row = 0; row < t.n_rows && s == WG_OK; row++) {
        snprintf(path, sizeof path, "%s/%s", dir, wg_table_cell(&t, row, c_run));
        if ((s = wg_run_load(path, &runs[n])) != WG_OK) break;
        wg_run_info *r = &runs[n++];
        /* what only the comparison knows: the label, the asked-for device, the
         * measurements from outside the run, and why a run never started */
        const char *experiment = wg_table_cell(&t, row, wg_table_column(&t, "experiment"));
        if (*experiment) set_text(&r->name, experiment);
        const char *spec = wg_table_cell(&t, row, wg_table_column(&t, "device"));
        if (*spec) set_text(&r->device_spec, spec);
        static const char *const texts[] = {"data", "lipschitz", "loss", "device_description"};
        char **fields[] = {&r->data, &r->lipschitz, &r->loss, &r->device};
        for (int k = 0; k < 4; k++) {
            const char *v = wg_table_cell(&t, row, wg_table_column(&t, texts[k]));
            if (!**fields[k] && *v) set_text(fields[k], v);
        }
        double v = wg_table_number(&t, row, wg_table_column(&t, "seed"));
        if (r->seed < 0 && fits_int64(v)) r->seed = (int64_t)v;
        r->baseline = !strcmp(wg_table_cell(&t, row, wg_table_column(&t, "baseline")), "true");
        v = wg_table_number(&t, row, wg_table_column(&t, "memory_bytes"));
        if (!isfinite(r->memory_bytes)) r->memory_bytes = v;
        v = wg_table_number(&t, row, wg_table_column(&t, "peak_rss_bytes"));
        if (!isfinite(r->peak_rss_bytes)) r->peak_rss_bytes = v;
        if (!r->summary) {
            const char *state = wg_table_cell(&t, row, wg_table_column(&t, "state"));
            const char *message = wg_table_cell(&t, row, wg_table_column(&t, "message"));
            if (*state) set_text(&r->state, state);
            if (*message) set_text(&r->message, message);
        }
    }
    wg_table_free(&t);
    if (s != WG_OK) {
        for (int i = 0; i < n; i++) wg_run_free(&runs[i]);
        free(runs);
        return s;
    }
    *out = runs;
    *n_out = n;
    return WG_OK;
}
