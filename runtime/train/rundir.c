/* The run folder's files: config.yaml, log.txt, plugins.tsv, metrics.csv, samples/,
 * summary.json.
 * Everything but the append-only log is rewritten whole and atomically. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train_internal.h"
#include "io/plot.h"

double exp_seconds(const wg_experiment *e) {
    return e->seconds_before + (e->start_time > 0 ? wg_clock_seconds() - e->start_time : 0);
}

static void log_line(wg_experiment *e, const char *prefix, const char *fmt, va_list args) {
    if (!e->log) return;
    fprintf(e->log, "[%10.1fs] %s", exp_seconds(e), prefix);
    vfprintf(e->log, fmt, args);
    fputc('\n', e->log);
    fflush(e->log);
}

void exp_log(wg_experiment *e, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    log_line(e, "", fmt, args);
    va_end(args);
}

void exp_note(wg_experiment *e, const char *fmt, ...) {
    if (e->progress == WG_PROGRESS_QUIET) return;
    fputs("wgan: ", stderr);
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

void exp_warn(wg_experiment *e, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    log_line(e, "warning: ", fmt, args);
    va_end(args);
    if (e->progress == WG_PROGRESS_BAR) fputc('\n', stderr);
    fputs("wgan: warning: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

/* ---- metrics.csv ---- */

static void csv_header(wg_experiment *e, wg_buf *b) {
    for (int i = 0; i < e->n_columns; i++)
        wg_buf_printf(b, "%s%s", i ? "," : "", e->columns[i].name);
    wg_buf_puts(b, "\n");
}

/* A resumed run keeps the rows up to its checkpoint; rows the killed run logged after
 * it are logged again as the steps are redone. */
static wg_status load_metrics(wg_experiment *e, const char *path) {
    wg_buf header = {0};
    csv_header(e, &header);
    wg_buf_append(&e->metrics_csv, header.data, header.len);
    char *text = NULL;
    size_t size = 0;
    wg_status s = WG_OK;
    if (e->resuming && wg_file_exists(path)) s = wg_read_file(path, &text, &size);
    if (s == WG_OK && text && !strncmp(text, header.data, header.len)) {
        for (char *line = text + header.len; *line;) {
            char *end = strchr(line, '\n');
            if (!end) break; /* a torn last line */
            int64_t step = strtoll(line, NULL, 10);
            if (step > e->gen_step) break;
            wg_buf_append(&e->metrics_csv, line, (size_t)(end - line + 1));
            /* the last kept row tells how long training had taken */
            const char *field = line;
            for (int i = 0; i < COL_SECONDS && field && field < end; i++)
                field = strchr(field, ',') ? strchr(field, ',') + 1 : NULL;
            if (field && field < end) e->seconds_before = strtod(field, NULL);
            line = end + 1;
        }
    }
    free(text);
    wg_buf_free(&header);
    if (s == WG_OK && e->metrics_csv.failed) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    return s;
}

wg_status exp_append_metrics(wg_experiment *e) {
    wg_buf *b = &e->metrics_csv;
    for (int i = 0; i < e->n_columns; i++) {
        const exp_column *c = &e->columns[i];
        if (i) wg_buf_puts(b, ",");
        if (i == COL_STEP || i == COL_CRITIC_STEP)
            wg_buf_printf(b, "%.0f", c->value);
        else if (i == COL_SECONDS)
            wg_buf_printf(b, "%.3f", c->value);
        else
            wg_buf_printf(b, "%.9g", c->value);
    }
    wg_buf_puts(b, "\n");
    if (b->failed) return wg_fail(WG_ERR_NOMEM, "out of memory logging metrics");
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", e->dir);
    return wg_write_file_atomic(path, b->data, b->len);
}

/* ---- reading the metrics back ---- */

static wg_status read_scalar(wg_plan *plan, wg_node node, double *out) {
    if (node == WG_NONE) {
        *out = 0;
        return WG_OK;
    }
    float v;
    wg_status s = wg_plan_read(plan, node, &v);
    *out = v;
    return s;
}

static wg_status read_diagnostics(wg_experiment *e) {
    float *norms = malloc((size_t)(2 * e->batch) * sizeof *norms);
    if (!norms) return wg_fail(WG_ERR_NOMEM, "out of memory reading gradient norms");
    wg_status s = exp_run_aside(e, e->diag_plan);
    if (s == WG_OK) s = wg_plan_read(e->diag_plan, e->diag_norm_real, norms);
    if (s == WG_OK) s = wg_plan_read(e->diag_plan, e->diag_norm_fake, norms + e->batch);
    if (s == WG_OK) {
        double sum[2] = {0, 0}, lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < 2 * e->batch; i++) {
            sum[i >= e->batch] += norms[i];
            lo = fmin(lo, norms[i]);
            hi = fmax(hi, norms[i]);
        }
        e->columns[COL_GNORM_REAL].value = sum[0] / (double)e->batch;
        e->columns[COL_GNORM_FAKE].value = sum[1] / (double)e->batch;
        e->columns[COL_GNORM_MIN].value = lo;
        e->columns[COL_GNORM_MAX].value = hi;
    }
    free(norms);
    return s;
}

wg_status exp_read_metrics(wg_experiment *e, bool diagnostics) {
    wg_status s = WG_OK;
    for (int i = 0; i < e->n_columns && s == WG_OK; i++) {
        exp_column *c = &e->columns[i];
        if (c->source == EXP_SRC_CRITIC) s = read_scalar(e->critic_plan, c->node, &c->value);
        if (c->source == EXP_SRC_GEN) s = read_scalar(e->gen_plan, c->node, &c->value);
    }
    if (s != WG_OK) return s;
    e->columns[COL_STEP].value = (double)e->gen_step;
    e->columns[COL_CRITIC_STEP].value = (double)e->critic_step;
    e->columns[COL_SECONDS].value = exp_seconds(e);
    static const int losses[] = {COL_W, COL_CRITIC_LOSS, COL_GEN_LOSS, COL_PENALTY};
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        const exp_column *c = &e->columns[losses[i]];
        if (!isfinite(c->value)) {
            /* promise a checkpoint only when there is one (written or resumed from) */
            char path[4200];
            snprintf(path, sizeof path, "%s/checkpoint.safetensors", e->dir);
            return wg_fail(WG_ERR_NUMERIC,
                           "training diverged: %s is %g at generator step %" PRId64
                           " (critic step %" PRId64 "); %s",
                           c->name, c->value, e->gen_step, e->critic_step,
                           wg_file_exists(path) ? "the run folder keeps the last good checkpoint"
                                                : "no checkpoint was written before it");
        }
    }
    e->last_w = e->columns[COL_W].value;
    e->have_w = true;
    return diagnostics ? read_diagnostics(e) : WG_OK;
}

/* ---- pictures ---- */

wg_status exp_write_samples(wg_experiment *e) {
    float *gen;
    int64_t count, numel;
    wg_status s = wg_experiment_generate(e, &gen, &count, &numel);
    if (s != WG_OK) return s;
    char title[64], path[4200];
    snprintf(title, sizeof title, "step %" PRId64, e->gen_step);
    wg_image image;
    if (e->layout == WG_DATA_IMAGES)
        s = wg_plot_images(gen, count, (int)e->sample_shape.dim[0], (int)e->sample_shape.dim[1],
                           (int)e->sample_shape.dim[2], &image);
    else
        s = wg_plot_points(e->real_plot, count, gen, count, (int)numel, title, &image);
    snprintf(path, sizeof path, "%s/samples/step_%06" PRId64 ".png", e->dir, e->gen_step);
    if (s == WG_OK) s = wg_png_write(path, &image);
    wg_image_free(&image);
    free(gen);
    return s;
}

static wg_status write_real_images(wg_experiment *e) {
    wg_image image;
    char path[4200];
    snprintf(path, sizeof path, "%s/samples/real.png", e->dir);
    wg_status s = wg_plot_images(e->real_plot, e->n_samples, (int)e->sample_shape.dim[0],
                                 (int)e->sample_shape.dim[1], (int)e->sample_shape.dim[2], &image);
    if (s == WG_OK) s = wg_png_write(path, &image);
    wg_image_free(&image);
    return s;
}

/* ---- summary.json ---- */

static void json_key(wg_buf *b, const char *key) {
    wg_buf_puts(b, "  ");
    wg_buf_json_string(b, key);
    wg_buf_puts(b, ": ");
}

wg_status exp_write_summary(wg_experiment *e, const char *state, const char *message) {
    wg_buf b = {0};
    double seconds = exp_seconds(e);
    wg_buf_puts(&b, "{\n");
    json_key(&b, "name");
    wg_buf_json_string(&b, e->name);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "state");
    wg_buf_json_string(&b, state);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "message");
    wg_buf_json_string(&b, message ? message : "");
    wg_buf_puts(&b, ",\n");
    json_key(&b, "generator_steps");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->gen_step);
    json_key(&b, "steps_planned");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->steps);
    json_key(&b, "critic_steps");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->critic_step);
    json_key(&b, "seconds");
    wg_buf_json_number(&b, seconds);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "seconds_per_generator_step");
    wg_buf_json_number(&b, e->gen_step ? seconds / (double)e->gen_step : NAN);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "seed");
    wg_buf_printf(&b, "%" PRIu64 ",\n", e->seed);
    json_key(&b, "device");
    wg_buf_json_string(&b, e->device ? wg_device_description(e->device) : "");
    wg_buf_puts(&b, ",\n");
    json_key(&b, "versions");
    wg_buf_puts(&b, "{\"wgan\": ");
    wg_buf_json_string(&b, WGAN_VERSION);
    wg_buf_printf(&b, ", \"plugin_abi\": \"%d.%d\"},\n", WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    json_key(&b, "plugins");
    const exp_plugin *plugins[] = {&e->data, &e->arch, &e->loss, &e->lipschitz};
    const char *kinds[] = {"data", "arch", "loss", "lipschitz"};
    wg_buf_puts(&b, "{");
    for (int i = 0; i < 4; i++) {
        wg_buf_printf(&b, "%s\"%s\": ", i ? ", " : "", kinds[i]);
        wg_buf_json_string(&b, plugins[i]->plugin ? plugins[i]->plugin->name : "none");
    }
    wg_buf_puts(&b, "},\n");
    exp_eval_summary(e, &b);
    json_key(&b, "final_metrics");
    wg_buf_puts(&b, "{");
    for (int i = 0; i < e->n_columns && e->have_w; i++) {
        wg_buf_printf(&b, "%s\n    ", i ? "," : "");
        wg_buf_json_string(&b, e->columns[i].name);
        wg_buf_puts(&b, ": ");
        wg_buf_json_number(&b, e->columns[i].value);
    }
    wg_buf_puts(&b, e->have_w ? "\n  }\n}\n" : "}\n}\n");
    wg_status s;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", e->dir);
    if (b.failed)
        s = wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path);
    else
        s = wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    return s;
}

/* ---- owning the folder ---- */

/* Whether `dir` holds (part of) a run: any of the files a run writes. */
static bool holds_run(const char *dir) {
    static const char *const files[] = {"config.yaml", "checkpoint.safetensors", "metrics.csv",
                                        "summary.json"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (wg_file_exists(path)) return true;
    }
    return false;
}

wg_status exp_rundir_check_free(const wg_experiment *e) {
    if (e->resuming || e->options.force || !holds_run(e->dir)) return WG_OK;
    return wg_fail(WG_ERR_CONFIG,
                   "--out %s: that folder holds a run already; continue it with "
                   "'wgan run --resume %s', or add --force to move it aside to %s.old-N "
                   "and start afresh",
                   e->dir, e->dir, e->dir);
}

/* --force: renames the run in e->dir to <dir>.old-<n>, the first n free; nothing is
 * deleted (rename only replaces an empty folder). Refused while the run is alive. */
static wg_status move_aside(wg_experiment *e) {
    int fd;
    wg_status s = wg_lock_folder(e->dir, &fd);
    if (s != WG_OK) return s;
    char old[4200];
    int err = EEXIST;
    for (int n = 1; n < 10000 && err; n++) {
        snprintf(old, sizeof old, "%s.old-%d", e->dir, n);
        err = wg_file_exists(old) ? EEXIST : rename(e->dir, old) == 0 ? 0 : errno;
        if (err && err != EEXIST && err != ENOTEMPTY && err != ENOTDIR) break;
    }
    wg_unlock_folder(&fd);
    if (err) return wg_fail(WG_ERR_IO, "--force: cannot move %s aside: %s", e->dir, strerror(err));
    exp_note(e, "moved the earlier run in %s to %s (--force)", e->dir, old);
    return WG_OK;
}

/* runs/<name>-<time>[-n]: the first name that mkdir can create, so two runs started
 * in the same second never share a folder. */
static wg_status claim_default(wg_experiment *e) {
    wg_status s = wg_make_dirs(EXP_RUNS_DIR);
    if (s != WG_OK) return s;
    for (int n = e->dir_suffix; n < 1000000; n++) {
        if (n > 1) snprintf(e->dir, sizeof e->dir, "%s-%d", e->dir_stem, n);
        if (mkdir(e->dir, 0755) == 0) {
            if (n != e->dir_suffix)
                exp_note(e, "the run folder is %s (the name was taken)", e->dir);
            return wg_lock_folder(e->dir, &e->lock_fd);
        }
        if (errno != EEXIST)
            return wg_fail(WG_ERR_IO, "cannot create folder %s: %s", e->dir, strerror(errno));
    }
    return wg_fail(WG_ERR_IO, "no free run folder name next to %s", e->dir_stem);
}

wg_status exp_rundir_claim(wg_experiment *e) {
    if (e->resuming) return wg_lock_folder(e->dir, &e->lock_fd);
    if (!e->options.out_dir) return claim_default(e);
    wg_status s;
    if (e->options.force && holds_run(e->dir) && (s = move_aside(e)) != WG_OK) return s;
    if ((s = wg_make_dirs(e->dir)) != WG_OK || (s = wg_lock_folder(e->dir, &e->lock_fd)) != WG_OK)
        return s;
    /* again under the lock: another process may have filled it meanwhile */
    if ((s = exp_rundir_check_free(e)) != WG_OK) wg_unlock_folder(&e->lock_fd);
    return s;
}

/* ---- the folder ---- */

wg_status exp_rundir_open(wg_experiment *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/samples", e->dir);
    wg_status s = wg_make_dirs(path);
    if (s != WG_OK) return s;
    snprintf(path, sizeof path, "%s/config.yaml", e->dir);
    if ((s = wg_cfg_save(e->config, path, WG_CFG_WRITE_DEFAULTS)) != WG_OK) return s;
    snprintf(path, sizeof path, "%s/log.txt", e->dir);
    e->log = fopen(path, "a");
    if (!e->log) return wg_fail(WG_ERR_IO, "cannot write %s", path);
    if ((s = exp_record_plugins(e)) != WG_OK) return s;
    snprintf(path, sizeof path, "%s/metrics.csv", e->dir);
    if ((s = load_metrics(e, path)) != WG_OK) return s;
    if (e->layout == WG_DATA_IMAGES && !e->resuming) s = write_real_images(e);
    return s;
}

void exp_rundir_close(wg_experiment *e) {
    if (e->log) fclose(e->log);
    e->log = NULL;
    wg_buf_free(&e->metrics_csv);
    wg_unlock_folder(&e->lock_fd);
}
