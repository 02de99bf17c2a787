/* wgan sample: samples of a run's generator from its checkpoint, as files that other
 * evaluation tools read (PNG images, a .npy array, a CSV of points, a grid picture). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "io/plot.h"
#include "train/experiment.h"
#include "wgan/config.h"

#define MAX_SAMPLES 1000000

static void usage(FILE *out) {
    fprintf(out,
            "usage: wgan sample RUN_DIR [--n N] [--out DIR] [--format FORMAT] [--seed S]\n"
            "                   [--checkpoint FILE] [--ema] [--device SPEC]\n"
            "\n"
            "Generates N samples with the generator of a run's checkpoint, for evaluation\n"
            "tools. The run is rebuilt from RUN_DIR/config.yaml and plugins.tsv as --resume\n"
            "does, and nothing is trained or written in RUN_DIR (unless --out points there).\n"
            "The noise is drawn from the keyed stream of the seed, so the same seed gives\n"
            "the same files; with the run's own seed the first train.samples samples are\n"
            "those of its pictures.\n"
            "\n"
            "formats:\n"
            "  npy   DIR/samples.npy: float32 [N, C, H, W] (images) or [N, D] (points), the\n"
            "        generator's values in the data's range (default)\n"
            "  png   DIR/sample_000000.png ...: one picture per image at its own size, [-1, 1]\n"
            "        mapped to 0..255 (images only)\n"
            "  grid  DIR/grid.png: every image in one grid (images only)\n"
            "  csv   DIR/samples.csv: a header x0,x1,... and one row per point (points only)\n"
            "\n"
            "options:\n"
            "  --n N              how many (default 64 images or 1000 points, at most %d)\n"
            "  --out DIR          where (default RUN_DIR-samples-s<seed>, next to the run);\n"
            "                     files already there are never overwritten\n"
            "  --format FORMAT    npy | png | grid | csv\n"
            "  --seed S           the noise's seed (default the run's seed)\n"
            "  --checkpoint FILE  another checkpoint of the same run (default\n"
            "                     RUN_DIR/checkpoint.safetensors)\n"
            "  --ema              the generator's moving-average weights\n"
            "  --device SPEC      auto | cpu | opencl | opencl:N | a vendor or name substring\n"
            "\n"
            "Exit status: 0 done, 1 failed while generating or writing, 2 bad usage, a run\n"
            "folder or checkpoint that cannot be used, or files that are there already.\n",
            MAX_SAMPLES);
}

typedef enum format { FORMAT_NPY, FORMAT_PNG, FORMAT_GRID, FORMAT_CSV } format;
static const char *const format_names[] = {"npy", "png", "grid", "csv"};

/* ---- files ---- */

static wg_status refuse_existing(const char *path) {
    if (wg_file_exists(path))
        return wg_fail(WG_ERR_CONFIG, "%s exists already; remove it or choose another --out", path);
    return WG_OK;
}

/* NumPy's format 1.0: magic, header length, a dict padded with spaces to a multiple
 * of 64 bytes ending in a newline, then the little-endian float32 data. */
static wg_status write_npy(const char *path, const float *x, int64_t n, const wg_shape *shape) {
    char dims[256];
    int len = snprintf(dims, sizeof dims, "%" PRId64, n);
    for (int d = 0; d < shape->ndim; d++)
        len += snprintf(dims + len, sizeof dims - (size_t)len, ", %" PRId64, shape->dim[d]);
    wg_buf b = {0};
    wg_buf_append(&b, "\x93NUMPY\x01\x00\x00\x00", 10);
    wg_buf_printf(&b, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    while ((b.len + 1) % 64) wg_buf_puts(&b, " ");
    wg_buf_puts(&b, "\n");
    if (!b.failed) {
        size_t header = b.len - 10;
        b.data[8] = (char)(header & 0xff);
        b.data[9] = (char)(header >> 8);
    }
    wg_buf_append(&b, x, (size_t)(n * wg_shape_numel(shape)) * sizeof *x);
    wg_status s = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path)
                           : wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    return s;
}

static wg_status write_csv(const char *path, const float *x, int64_t n, int64_t dim) {
    wg_buf b = {0};
    for (int64_t d = 0; d < dim; d++) wg_buf_printf(&b, "%sx%" PRId64, d ? "," : "", d);
    wg_buf_puts(&b, "\n");
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++)
            wg_buf_printf(&b, "%.9g%s", (double)x[i * dim + d], d + 1 < dim ? "," : "\n");
    wg_status s = b.failed ? wg_fail(WG_ERR_NOMEM, "out of memory writing %s", path)
                           : wg_write_file_atomic(path, b.data, b.len);
    wg_buf_free(&b);
    return s;
}

static void file_path(char *out, size_t size, const char *dir, format f, int64_t i) {
    if (f == FORMAT_PNG)
        snprintf(out, size, "%s/sample_%06" PRId64 ".png", dir, i);
    else
        snprintf(out, size, "%s/%s", dir,
                 f == FORMAT_NPY    ? "samples.npy"
                 : f == FORMAT_GRID ? "grid.png"
                                    : "samples.csv");
}

/* Every file before the first is written: a refusal leaves nothing half done. */
static wg_status check_targets(const char *dir, format f, int64_t n) {
    char path[4300];
    for (int64_t i = 0; i < (f == FORMAT_PNG ? n : 1); i++) {
        file_path(path, sizeof path, dir, f, i);
        wg_status s = refuse_existing(path);
        if (s != WG_OK) return s;
    }
    return WG_OK;
}

static wg_status write_samples(const char *dir, format f, const float *x, int64_t n,
                               const wg_shape *shape) {
    char path[4300];
    file_path(path, sizeof path, dir, f, 0);
    int64_t numel = wg_shape_numel(shape);
    int c = shape->ndim == 3 ? (int)shape->dim[0] : 1;
    int h = shape->ndim == 3 ? (int)shape->dim[1] : 1,
        w = shape->ndim == 3 ? (int)shape->dim[2] : 1;
    wg_image image = {0};
    wg_status s = WG_OK;
    switch (f) {
    case FORMAT_NPY: return write_npy(path, x, n, shape);
    case FORMAT_CSV: return write_csv(path, x, n, numel);
    case FORMAT_GRID:
        s = wg_plot_images(x, n, c, h, w, &image);
        if (s == WG_OK) s = wg_png_write(path, &image);
        wg_image_free(&image);
        return s;
    case FORMAT_PNG:
        for (int64_t i = 0; i < n && s == WG_OK; i++) {
            file_path(path, sizeof path, dir, f, i);
            s = wg_plot_image(x + i * numel, c, h, w, &image);
            if (s == WG_OK) s = wg_png_write(path, &image);
            wg_image_free(&image);
        }
        return s;
    }
    return s;
}

/* ---- the command ---- */

typedef struct sample_args {
    const char *run_dir, *out_dir, *checkpoint, *device;
    int64_t n; /* 0: the default for the data */
    bool have_seed, ema, have_format;
    uint64_t seed;
    format format;
} sample_args;

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"n", required_argument, NULL, 'n'},
    {"out", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"checkpoint", required_argument, NULL, 'c'},
    {"seed", required_argument, NULL, 's'},
    {"ema", no_argument, NULL, 'e'},
    {"device", required_argument, NULL, 'd'},
    {0},
};

static bool parse_count(const char *text, int64_t low, int64_t high, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno == ERANGE || v < low || v > high) return false;
    *out = v;
    return true;
}

/* 0 to go on, else the exit status (-1: --help, which exits 0). */
static int parse(int argc, char **argv, sample_args *a) {
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        int64_t v = 0;
        switch (c) {
        case 'h': usage(stdout); return -1;
        case 'n':
            if (!parse_count(args.arg, 1, MAX_SAMPLES, &a->n))
                return wg_cli_usage_error("sample",
                                          "--n takes a whole number from 1 to 1000000, "
                                          "not '%s'",
                                          args.arg);
            break;
        case 'o': a->out_dir = args.arg; break;
        case 'c': a->checkpoint = args.arg; break;
        case 'd': a->device = args.arg; break;
        case 'e': a->ema = true; break;
        case 's':
            if (!parse_count(args.arg, 0, INT64_MAX, &v))
                return wg_cli_usage_error("sample", "--seed takes a whole number >= 0, not '%s'",
                                          args.arg);
            a->seed = (uint64_t)v;
            a->have_seed = true;
            break;
        case 'f': {
            int k = 0;
            while (k < 4 && strcmp(args.arg, format_names[k])) k++;
            if (k == 4)
                return wg_cli_usage_error(
                    "sample", "--format takes npy, png, grid or csv, not '%s'", args.arg);
            a->format = (format)k;
            a->have_format = true;
            break;
        }
        case WG_CLI_ARGUMENT:
            if (a->run_dir)
                return wg_cli_usage_error(
                    "sample", "one run folder at a time ('%s' is one too many)", args.arg);
            a->run_dir = args.arg;
            break;
        default: return wg_cli_option_error("sample", c, args.arg);
        }
    }
    if (!a->run_dir) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The run's seed as its config.yaml says (the default of --seed). */
static wg_status run_seed(const char *run_dir, uint64_t *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    wg_cfg *cfg = NULL;
    int64_t seed = 1;
    wg_status s = wg_cfg_load_file(path, &cfg);
    if (s == WG_OK) s = wg_cfg_int64(cfg, "seed", 1, 0, INT64_MAX, &seed);
    wg_cfg_free(cfg);
    *out = (uint64_t)seed;
    return s == WG_OK ? s : wg_fail(WG_ERR_CONFIG, "%s", wg_last_error());
}

/* Prints the error; `usage` when it is the caller's to fix (a run folder or checkpoint
 * that cannot be used), exit status 2, else 1 unless it is a configuration error. */
static int fail(wg_status s, bool usage) {
    fprintf(stderr, "wgan sample: %s\n", wg_last_error());
    return usage || s == WG_ERR_CONFIG ? 2 : 1;
}

int wg_cmd_sample(int argc, char **argv) {
    sample_args a = {0};
    int code = parse(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", a.run_dir);
    if (!wg_file_exists(path)) {
        fprintf(stderr, "wgan sample: %s is not a run folder (no config.yaml)\n", a.run_dir);
        return 2;
    }
    wg_status s = a.have_seed ? WG_OK : run_seed(a.run_dir, &a.seed);
    if (s != WG_OK) return fail(s, true);
    wg_experiment_options o = {
        .resume_dir = a.run_dir, .device = a.device, .progress = WG_PROGRESS_QUIET};
    wg_experiment *e = NULL;
    if ((s = wg_experiment_load(&o, &e)) != WG_OK) return fail(s, true);
    wg_shape shape;
    bool images;
    wg_experiment_sample_shape(e, &shape, &images);
    if (!a.n) a.n = images ? 64 : 1000;
    code = 0;
    if ((a.format == FORMAT_PNG || a.format == FORMAT_GRID) && !images)
        code = wg_cli_usage_error("sample",
                                  "--format %s is for images; this run's data are "
                                  "points (npy or csv)",
                                  format_names[a.format]);
    else if (a.format == FORMAT_CSV && images)
        code = wg_cli_usage_error("sample",
                                  "--format %s is for points; this run's data are "
                                  "images (npy, png or grid)",
                                  format_names[a.format]);
    char dir[4200];
    if (a.out_dir) {
        snprintf(dir, sizeof dir, "%s", a.out_dir);
    } else {
        /* next to the run: RUN_DIR without its trailing slashes, and a suffix */
        size_t len = strlen(a.run_dir);
        while (len > 1 && a.run_dir[len - 1] == '/') len--;
        snprintf(dir, sizeof dir, "%.*s-samples-s%" PRIu64, (int)len, a.run_dir, a.seed);
    }
    float *x = NULL;
    if (!code) {
        /* everything that can be refused, before the device and the work */
        s = check_targets(dir, a.format, a.n);
        if (s == WG_OK && (s = wg_experiment_prepare(e)) != WG_OK) code = fail(s, false);
        if (s == WG_OK) s = wg_experiment_restore(e, a.checkpoint);
        /* the run's weights unless --ema; refused when the run keeps no average */
        if (s == WG_OK) s = wg_experiment_use_ema(e, a.ema);
        if (s != WG_OK && !code) code = fail(s, true);
    }
    if (!code) {
        if (!(x = malloc((size_t)(a.n * wg_shape_numel(&shape)) * sizeof *x)))
            s = wg_fail(WG_ERR_NOMEM, "out of memory for %" PRId64 " samples", a.n);
        if (s == WG_OK) s = wg_experiment_sample(e, a.seed, a.n, x);
        if (s == WG_OK) s = wg_make_dirs(dir);
        if (s == WG_OK) s = write_samples(dir, a.format, x, a.n, &shape);
        if (s != WG_OK) code = fail(s, false);
    }
    if (!code) {
        char written[4300];
        file_path(written, sizeof written, dir, a.format, 0);
        fprintf(stderr, "wgan sample: %" PRId64 " samples, seed %" PRIu64 " -> %s\n", a.n, a.seed,
                a.format == FORMAT_PNG ? dir : written);
    }
    free(x);
    wg_experiment_free(e);
    return code;
}
