/* The run folder: its name, its lock, and its files config.yaml, log.txt, metrics.csv
 * and summary.json (plugins.tsv is written by plugins.c, samples/ by pictures.c).
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

static void log_line(wg_experiment *e, const char *prefix, const char *fmt, va_list args) {
    if (!e->run.log) return;
    fprintf(e->run.log, "[%10.1fs] %s", exp_seconds(e), prefix);
    vfprintf(e->run.log, fmt, args);
    fputc('\n', e->run.log);
    fflush(e->run.log);
}

void exp_log(wg_experiment *e, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    log_line(e, "", fmt, args);
    va_end(args);
}

void exp_note(wg_experiment *e, const char *fmt, ...) {
    if (e->loop.progress == WG_PROGRESS_QUIET) return;
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
    if (e->loop.progress == WG_PROGRESS_BAR) fputc('\n', stderr);
    fputs("wgan: warning: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

/* ---- metrics.csv ---- */

static void csv_header(wg_experiment *e, wg_buf *b) {
    for (int i = 0; i < e->steps.n_columns; i++)
        wg_buf_printf(b, "%s%s", i ? "," : "", e->steps.columns[i].name);
    wg_buf_puts(b, "\n");
}

/* A resumed run keeps the rows up to its checkpoint; rows the killed run logged after
 * it are logged again as the steps are redone. */
static wg_status load_metrics(wg_experiment *e, const char *path, bool continuing) {
    wg_buf header = {0};
    csv_header(e, &header);
    wg_buf_append(&e->run.metrics_csv, header.data, header.len);
    char *text = NULL;
    size_t size = 0;
    wg_status s = WG_OK;
    if (continuing && wg_file_exists(path)) s = wg_read_file(path, &text, &size);
    if (s == WG_OK && text && !strncmp(text, header.data, header.len)) {
        for (char *line = text + header.len; *line;) {
            char *end = strchr(line, '\n');
            if (!end) break; /* a torn last line */
            int64_t step = strtoll(line, NULL, 10);
            if (step > e->loop.gen_step) break;
            wg_buf_append(&e->run.metrics_csv, line, (size_t)(end - line + 1));
            /* the last kept row tells how long training had taken */
            const char *field = line;
            for (int i = 0; i < COL_SECONDS && field && field < end; i++)
                field = strchr(field, ',') ? strchr(field, ',') + 1 : NULL;
            if (field && field < end) e->run.seconds_before = strtod(field, NULL);
            line = end + 1;
        }
    }
    free(text);
    wg_buf_free(&header);
    if (s == WG_OK && e->run.metrics_csv.failed) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    return s;
}

wg_status exp_append_metrics(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    wg_buf *b = &e->run.metrics_csv;
    for (int i = 0; i < e->steps.n_columns; i++) {
        const exp_column *c = &e->steps.columns[i];
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
    snprintf(path, sizeof path, "%s/metrics.csv", e->run.dir);
    return wg_write_file_atomic(path, b->data, b->len);
}

/* ---- summary.json ---- */

static void json_key(wg_buf *b, const char *key) {
    wg_buf_puts(b, "  ");
    wg_buf_json_string(b, key);
    wg_buf_puts(b, ": ");
}

wg_status exp_write_summary(wg_experiment *e, const char *state, const char *message,
                            const wg_buf *extra) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    wg_buf b = {0};
    double seconds = exp_seconds(e);
    wg_buf_puts(&b, "{\n");
    json_key(&b, "name");
    wg_buf_json_string(&b, e->cfg.name);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "state");
    wg_buf_json_string(&b, state);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "message");
    wg_buf_json_string(&b, message ? message : "");
    wg_buf_puts(&b, ",\n");
    json_key(&b, "generator_steps");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->loop.gen_step);
    json_key(&b, "steps_planned");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->cfg.steps);
    json_key(&b, "critic_steps");
    wg_buf_printf(&b, "%" PRId64 ",\n", e->loop.critic_step);
    json_key(&b, "seconds");
    wg_buf_json_number(&b, seconds);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "seconds_per_generator_step");
    wg_buf_json_number(&b, e->loop.gen_step ? seconds / (double)e->loop.gen_step : NAN);
    wg_buf_puts(&b, ",\n");
    json_key(&b, "seed");
    wg_buf_printf(&b, "%" PRIu64 ",\n", e->cfg.seed);
    json_key(&b, "device");
    wg_buf_json_string(&b, e->steps.device ? wg_device_description(e->steps.device) : "");
    wg_buf_puts(&b, ",\n");
    json_key(&b, "versions");
    wg_buf_puts(&b, "{\"wgan\": ");
    wg_buf_json_string(&b, WGAN_VERSION);
    wg_buf_printf(&b, ", \"plugin_abi\": \"%d.%d\"},\n", WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    json_key(&b, "plugins");
    const exp_plugin *plugins[] = {&e->plugins.data, &e->plugins.arch, &e->plugins.loss,
                                   &e->plugins.lipschitz};
    const char *kinds[] = {"data", "arch", "loss", "lipschitz"};
    wg_buf_puts(&b, "{");
    for (int i = 0; i < 4; i++) {
        wg_buf_printf(&b, "%s\"%s\": ", i ? ", " : "", kinds[i]);
        wg_buf_json_string(&b, plugins[i]->plugin ? plugins[i]->plugin->name : "none");
    }
    wg_buf_puts(&b, "},\n");
    if (extra->len) wg_buf_append(&b, extra->data, extra->len);
    b.failed |= extra->failed;
    json_key(&b, "final_metrics");
    wg_buf_puts(&b, "{");
    for (int i = 0; i < e->steps.n_columns && e->steps.have_w; i++) {
        wg_buf_printf(&b, "%s\n    ", i ? "," : "");
        wg_buf_json_string(&b, e->steps.columns[i].name);
        wg_buf_puts(&b, ": ");
        wg_buf_json_number(&b, e->steps.columns[i].value);
    }
    wg_buf_puts(&b, e->steps.have_w ? "\n  }\n}\n" : "}\n}\n");
    wg_status s;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", e->run.dir);
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

static wg_status check_free(const wg_experiment *e) {
    if (e->run.resuming || e->cfg.options.force || !holds_run(e->run.dir)) return WG_OK;
    return wg_fail(WG_ERR_CONFIG,
                   "--out %s: that folder holds a run already; continue it with "
                   "'wgan run --resume %s', or add --force to move it aside to %s.old-N "
                   "and start afresh",
                   e->run.dir, e->run.dir, e->run.dir);
}

/* --force: renames the run in e->run.dir to <dir>.old-<n>, the first n free; nothing is
 * deleted (rename only replaces an empty folder). Refused while the run is alive. */
static wg_status move_aside(wg_experiment *e) {
    int fd;
    wg_status s = wg_lock_folder(e->run.dir, &fd);
    if (s != WG_OK) return s;
    char old[4200];
    int err = EEXIST;
    for (int n = 1; n < 10000 && err; n++) {
        snprintf(old, sizeof old, "%s.old-%d", e->run.dir, n);
        err = wg_file_exists(old) ? EEXIST : rename(e->run.dir, old) == 0 ? 0 : errno;
        if (err && err != EEXIST && err != ENOTEMPTY && err != ENOTDIR) break;
    }
    wg_unlock_folder(&fd);
    if (err)
        return wg_fail(WG_ERR_IO, "--force: cannot move %s aside: %s", e->run.dir, strerror(err));
    exp_note(e, "moved the earlier run in %s to %s (--force)", e->run.dir, old);
    return WG_OK;
}

/* runs/<name>-<time>[-n]: the first name that mkdir can create, so two runs started
 * in the same second never share a folder. */
static wg_status claim_default(wg_experiment *e) {
    wg_status s = wg_make_dirs(EXP_RUNS_DIR);
    if (s != WG_OK) return s;
    for (int n = e->run.dir_suffix; n < 1000000; n++) {
        if (n > 1) snprintf(e->run.dir, sizeof e->run.dir, "%s-%d", e->run.dir_stem, n);
        if (mkdir(e->run.dir, 0755) == 0) {
            if (n != e->run.dir_suffix)
                exp_note(e, "the run folder is %s (the name was taken)", e->run.dir);
            return wg_lock_folder(e->run.dir, &e->run.lock_fd);
        }
        if (errno != EEXIST)
            return wg_fail(WG_ERR_IO, "cannot create folder %s: %s", e->run.dir, strerror(errno));
    }
    return wg_fail(WG_ERR_IO, "no free run folder name next to %s", e->run.dir_stem);
}

wg_status exp_rundir_claim(wg_experiment *e) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    if (e->run.resuming) return wg_lock_folder(e->run.dir, &e->run.lock_fd);
    if (!e->cfg.options.out_dir) return claim_default(e);
    wg_status s;
    if (e->cfg.options.force && holds_run(e->run.dir) && (s = move_aside(e)) != WG_OK) return s;
    if ((s = wg_make_dirs(e->run.dir)) != WG_OK ||
        (s = wg_lock_folder(e->run.dir, &e->run.lock_fd)) != WG_OK)
        return s;
    /* again under the lock: another process may have filled it meanwhile */
    if ((s = check_free(e)) != WG_OK) wg_unlock_folder(&e->run.lock_fd);
    return s;
}

/* runs/<name>-<local time>, with a counter when that exists already; the folder is
 * created (under the next free name if this one is taken meanwhile) when the run
 * starts (exp_rundir_claim). */
static void default_dir(wg_experiment *e) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(e->run.dir_stem, sizeof e->run.dir_stem, EXP_RUNS_DIR "/%s-%s", e->cfg.name, stamp);
    snprintf(e->run.dir, sizeof e->run.dir, "%s", e->run.dir_stem);
    e->run.dir_suffix = 1;
    while (wg_file_exists(e->run.dir) && e->run.dir_suffix < 1000)
        snprintf(e->run.dir, sizeof e->run.dir, "%s-%d", e->run.dir_stem, ++e->run.dir_suffix);
}

void exp_rundir_init(wg_experiment *e) {
    e->run.lock_fd = -1;
}

wg_status exp_rundir_choose(wg_experiment *e) {
    const wg_experiment_options *o = &e->cfg.options;
    if (o->resume_dir) {
        snprintf(e->run.dir, sizeof e->run.dir, "%s", o->resume_dir);
        e->run.resuming = true;
    } else if (o->out_dir) {
        snprintf(e->run.dir, sizeof e->run.dir, "%s", o->out_dir);
    } else {
        default_dir(e);
    }
    return check_free(e);
}

/* ---- the folder ---- */

wg_status exp_rundir_open(wg_experiment *e, bool continuing) {
    if (!exp_shard_writes(e)) return WG_OK; /* shard 0 writes the run folder */
    char path[4200];
    snprintf(path, sizeof path, "%s/samples", e->run.dir);
    wg_status s = wg_make_dirs(path);
    if (s != WG_OK) return s;
    snprintf(path, sizeof path, "%s/config.yaml", e->run.dir);
    if ((s = wg_cfg_save(e->cfg.config, path, WG_CFG_WRITE_DEFAULTS)) != WG_OK) return s;
    snprintf(path, sizeof path, "%s/log.txt", e->run.dir);
    e->run.log = fopen(path, "a");
    if (!e->run.log) return wg_fail(WG_ERR_IO, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/metrics.csv", e->run.dir);
    return load_metrics(e, path, continuing);
}

void exp_rundir_close(wg_experiment *e) {
    if (e->run.log) fclose(e->run.log);
    e->run.log = NULL;
    wg_buf_free(&e->run.metrics_csv);
    wg_unlock_folder(&e->run.lock_fd);
}
