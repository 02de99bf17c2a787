/* The evaluation at log steps and at the end of a run: the data plugins' mixture modes
 * through the loader, the evaluation columns of a short 8-gaussians run, the health
 * verdict in summary.json, configuration errors, and that evaluating changes neither
 * training nor a resumed run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/experiment.h"
#include "io/fileio.h"
#include "plugin/loader.h"
#include "tmpdir.h"

/* ---- the modes hook ---- */

static const wg_plugin *find_data(const wg_plugins *plugins, const char *name) {
    const wg_plugin *p = NULL;
    if (wg_plugins_find(plugins, WG_PLUGIN_DATA, name, &p) != WG_OK)
        fail_msg("%s", wg_last_error());
    return p;
}

/* Creates the plugin with `yaml` and returns its modes. */
static void modes_of(const wg_plugin *p, const char *yaml, void **state, int *count,
                     const double **centers, int *dim, double *std) {
    wg_cfg *cfg;
    assert_int_equal(wg_cfg_load_string("test", yaml, &cfg), WG_OK);
    if (p->vt.data.create(cfg, 7, state) != WG_OK) fail_msg("%s", wg_last_error());
    wg_cfg_free(cfg);
    assert_non_null(p->vt.data.modes);
    assert_int_equal(p->vt.data.modes(*state, count, centers, dim, std), WG_OK);
}

/* Every point of a batch lies within 5 std of one of the centres, and each centre gets
 * points: the centres are the data's own. */
static void check_points_near(const wg_plugin *p, void *state, int count, const double *centers,
                              double std) {
    enum { N = 2000 };
    float *x = malloc(N * 2 * sizeof *x);
    assert_int_equal(p->vt.data.batch(state, 3, N, x), WG_OK);
    int64_t *hits = calloc((size_t)count, sizeof *hits);
    for (int i = 0; i < N; i++) {
        int best = -1;
        for (int m = 0; m < count; m++)
            if (hypot(x[2 * i] - centers[2 * m], x[2 * i + 1] - centers[2 * m + 1]) < 5 * std)
                best = m;
        if (best < 0) fail_msg("point (%g, %g) is near no centre", x[2 * i], x[2 * i + 1]);
        hits[best]++;
    }
    for (int m = 0; m < count; m++) assert_true(hits[m] > N / count / 3);
    free(hits);
    free(x);
}

static void test_modes_through_the_loader(void **state) {
    (void)state;
    wg_plugins *plugins;
    assert_int_equal(wg_plugins_load(&plugins), WG_OK);

    const wg_plugin *eight = find_data(plugins, "8gaussians");
    assert_int_equal(eight->abi_minor, WG_PLUGIN_ABI_MINOR);
    void *s;
    int count, dim;
    const double *centers;
    double std;
    modes_of(eight, "radius: 3\nstd: 0.05\n", &s, &count, &centers, &dim, &std);
    assert_int_equal(count, 8);
    assert_int_equal(dim, 2);
    assert_float_equal(std, 0.05 / 1.414, 1e-12);
    /* the reference's centres: 8 points on a circle of radius 3, scaled by 1 / 1.414 */
    for (int k = 0; k < 8; k++) {
        double a = M_PI / 4 * k, best = INFINITY;
        for (int m = 0; m < 8; m++)
            best = fmin(best, hypot(centers[2 * m] - 3 * cos(a) / 1.414,
                                    centers[2 * m + 1] - 3 * sin(a) / 1.414));
        assert_true(best < 1e-12);
    }
    check_points_near(eight, s, count, centers, std);
    eight->vt.data.destroy(s);

    const wg_plugin *grid = find_data(plugins, "25gaussians");
    modes_of(grid, "samples: 2500\n", &s, &count, &centers, &dim, &std);
    assert_int_equal(count, 25);
    assert_float_equal(std, 0.05 / 2.828, 1e-12);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            bool found = false;
            for (int m = 0; m < 25; m++)
                found |= fabs(centers[2 * m] - 2.0 * (i - 2) / 2.828) < 1e-12 &&
                         fabs(centers[2 * m + 1] - 2.0 * (j - 2) / 2.828) < 1e-12;
            assert_true(found);
        }
    check_points_near(grid, s, count, centers, std);
    grid->vt.data.destroy(s);

    const wg_plugin *roll = find_data(plugins, "swissroll");
    modes_of(roll, "", &s, &count, &centers, &dim, &std);
    assert_int_equal(count, 0);
    roll->vt.data.destroy(s);

    const wg_plugin *line = find_data(plugins, "gaussian1d");
    modes_of(line, "mean: 1.5\nstd: 0.5\n", &s, &count, &centers, &dim, &std);
    assert_int_equal(count, 1);
    assert_int_equal(dim, 1);
    assert_float_equal(centers[0], 1.5, 0);
    assert_float_equal(std, 0.5, 0);
    line->vt.data.destroy(s);

    /* image sets have no modes: the hook is absent */
    assert_null(find_data(plugins, "idx")->vt.data.modes);
    wg_plugins_free(plugins);
}

/* ---- runs ---- */

typedef td_fixture fixture;

static int setup(void **state) {
    return td_fixture_setup(state, "wgan-eval");
}

static const char *const run_yaml = "name: ev\n"
                                    "seed: 5\n"
                                    "device: cpu\n"
                                    "data: {plugin: 8gaussians}\n"
                                    "arch: {plugin: mlp, hidden: [64, 64]}\n"
                                    "loss: {plugin: wasserstein}\n"
                                    "lipschitz: {plugin: gradient_penalty, lambda: 0.1}\n"
                                    "train: {batch: 128, steps: 300, n_critic: 2, log_every: 50,\n"
                                    "        sample_every: 0, checkpoint_every: 100}\n"
                                    "eval: {samples: 500, critic_samples: 200}\n"
                                    "optimizer:\n"
                                    "  critic: {kind: adam, lr: 2e-3}\n"
                                    "  generator: {kind: adam, lr: 2e-3}\n";

static wg_status run(const char *config, const char *resume, const char *out,
                     const char *const *overrides, int n_overrides, int64_t stop_after) {
    wg_experiment_options o = {.config_path = config,
                               .resume_dir = resume,
                               .out_dir = out,
                               .overrides = overrides,
                               .n_overrides = n_overrides,
                               .progress = WG_PROGRESS_QUIET,
                               .stop_after = stop_after};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    wg_experiment_free(e);
    return s;
}

static void run_ok(const char *config, const char *resume, const char *out,
                   const char *const *overrides, int n_overrides, int64_t stop_after) {
    if (run(config, resume, out, overrides, n_overrides, stop_after) != WG_OK)
        fail_msg("run failed: %s", wg_last_error());
}

static char *read_text(const char *dir, const char *name) {
    char *path = td_join(dir, name), *text;
    size_t size;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return text;
}

/* Column `name` of metrics.csv: values[row], returns the number of rows. */
static int csv_column(const char *text, const char *name, double *values, int max) {
    const char *end = strchr(text, '\n');
    int column = -1, c = 0;
    size_t len = strlen(name);
    for (const char *p = text; p < end; c++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if ((size_t)(stop - p) == len && !strncmp(p, name, len)) column = c;
        p = stop + 1;
    }
    if (column < 0) fail_msg("no column '%s' in metrics.csv", name);
    int rows = 0;
    for (const char *line = end + 1; *line && rows < max; rows++) {
        const char *p = line;
        for (int k = 0; k < column; k++) p = strchr(p, ',') + 1;
        values[rows] = strtod(p, NULL);
        line = strchr(line, '\n') + 1;
    }
    return rows;
}

static char *write_config(const fixture *f, const char *text) {
    char *path = td_join(f->dir, "ev.yaml");
    td_write_text(path, text);
    return path;
}

static void test_evaluation_columns(void **state) {
    fixture *f = *state;
    char *config = write_config(f, run_yaml), *out = td_join(f->dir, "run");
    run_ok(config, NULL, out, NULL, 0, 0);
    char *csv = read_text(out, "metrics.csv");
    double w1[8], modes[8], hq[8], g[4][8], pair_max[8], pair_mean[8];
    assert_int_equal(csv_column(csv, "eval_w1", w1, 8), 6);
    csv_column(csv, "eval_modes", modes, 8);
    csv_column(csv, "eval_hq_share", hq, 8);
    csv_column(csv, "eval_grad_real", g[0], 8);
    csv_column(csv, "eval_grad_fake", g[1], 8);
    csv_column(csv, "eval_grad_interp", g[2], 8);
    csv_column(csv, "eval_grad_max", g[3], 8);
    csv_column(csv, "eval_pair_max", pair_max, 8);
    csv_column(csv, "eval_pair_mean", pair_mean, 8);
    for (int r = 0; r < 6; r++) {
        print_message("step %d: W1 %.4f, modes %.0f, hq %.3f, |grad| %.3f %.3f %.3f max %.3f, "
                      "quotients max %.3f mean %.3f\n",
                      50 * (r + 1), w1[r], modes[r], hq[r], g[0][r], g[1][r], g[2][r], g[3][r],
                      pair_max[r], pair_mean[r]);
        assert_true(w1[r] > 0 && isfinite(w1[r]));
        assert_true(modes[r] >= 0 && modes[r] <= 8 && modes[r] == floor(modes[r]));
        assert_true(hq[r] >= 0 && hq[r] <= 1);
        for (int k = 0; k < 3; k++) assert_true(g[k][r] > 0 && g[k][r] <= g[3][r]);
        assert_true(isfinite(g[3][r]));
        assert_true(pair_max[r] >= pair_mean[r] && pair_mean[r] > 0 && isfinite(pair_max[r]));
    }
    /* the generator moved towards the data; covering the modes takes longer (about
     * 2000 steps, tests/test_experiment.c), but it has found some */
    assert_true(w1[5] < 0.5 * w1[0]);
    assert_true(modes[5] >= 1);

    char *summary = read_text(out, "summary.json");
    const char *keys[] = {"\"evaluation\": {",  "\"w1_floor\": ",      "\"modes_covered\": ",
                          "\"mode_counts\": [", "\"interpolated\": {", "\"difference_quotients\"",
                          "\"health\": {",      "\"verdict\": \"",     "\"w_trend_decreasing\": {",
                          "\"no_explosion\": {"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strstr(summary, keys[i])) fail_msg("summary.json lacks %s", keys[i]);
    /* the floor of W1 between two real samples lies below what the generator reached */
    double floor_w1 = strtod(strstr(summary, "\"w1_floor\": ") + 12, NULL);
    assert_true(floor_w1 > 0 && floor_w1 < w1[5]);
    char *log = read_text(out, "log.txt");
    assert_non_null(strstr(log, "training health: "));
    assert_non_null(strstr(log, "evaluation at step 300: W1 "));
    free(log);
    free(summary);
    free(csv);
    free(out);
    free(config);
}

static char *checkpoint_bytes(const char *dir, size_t *size) {
    char *path = td_join(dir, "checkpoint.safetensors"), *data;
    if (wg_read_file(path, &data, size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return data;
}

/* With evaluation on, off, or resumed after a kill: the same final weights, to the bit;
 * and the resumed run logs the same evaluation numbers. */
static void test_evaluation_leaves_training_alone(void **state) {
    fixture *f = *state;
    char *config = write_config(f, run_yaml);
    char *a = td_join(f->dir, "a"), *b = td_join(f->dir, "b"), *c = td_join(f->dir, "c");
    const char *const shorter[] = {"train.steps=120", "train.log_every=20",
                                   "train.checkpoint_every=40", "eval.enabled=true"};
    const char *const off[] = {"train.steps=120", "train.log_every=20", "train.checkpoint_every=40",
                               "eval.enabled=false"};
    run_ok(config, NULL, a, shorter, 4, 0);
    run_ok(config, NULL, b, off, 4, 0);
    run_ok(config, NULL, c, shorter, 4, 100); /* killed; its checkpoint is at step 80 */
    run_ok(NULL, c, NULL, NULL, 0, 0);
    size_t na, nb, nc;
    char *ca = checkpoint_bytes(a, &na), *cb = checkpoint_bytes(b, &nb),
         *cc = checkpoint_bytes(c, &nc);
    assert_int_equal(na, nb);
    assert_memory_equal(ca, cb, na);
    assert_int_equal(na, nc);
    assert_memory_equal(ca, cc, na);
    char *ma = read_text(a, "metrics.csv"), *mc = read_text(c, "metrics.csv");
    double wa[8], wc[8], pa[8], pc[8];
    assert_int_equal(csv_column(ma, "eval_w1", wa, 8), 6);
    assert_int_equal(csv_column(mc, "eval_w1", wc, 8), 6);
    csv_column(ma, "eval_pair_max", pa, 8);
    csv_column(mc, "eval_pair_max", pc, 8);
    for (int r = 0; r < 6; r++) {
        assert_float_equal(wa[r], wc[r], 0);
        assert_float_equal(pa[r], pc[r], 0);
    }
    char *mb = read_text(b, "metrics.csv");
    assert_null(strstr(mb, "eval_"));
    char *summary = read_text(b, "summary.json");
    assert_non_null(strstr(summary, "\"enabled\": false"));
    assert_non_null(strstr(summary, "\"health\": {")); /* judged all the same */
    free(summary);
    free(ma);
    free(mb);
    free(mc);
    free(ca);
    free(cb);
    free(cc);
    free(a);
    free(b);
    free(c);
    free(config);
}

static void expect_config_error(const fixture *f, const char *override, const char *mention) {
    char *config = write_config(f, run_yaml), *out = td_join(f->dir, "bad");
    const char *const o[] = {override};
    assert_int_equal(run(config, NULL, out, o, 1, 0), WG_ERR_CONFIG);
    if (!strstr(wg_last_error(), mention))
        fail_msg("'%s' does not mention '%s'", wg_last_error(), mention);
    assert_false(wg_file_exists(out));
    free(out);
    free(config);
}

static void test_configuration_errors(void **state) {
    fixture *f = *state;
    expect_config_error(f, "eval.critic_samples=600", "eval.critic_samples");
    expect_config_error(f, "eval.fid=true", "1x28x28");
    expect_config_error(f, "eval.fid_every=70", "log_every");
    expect_config_error(f, "eval.samples=1", "eval.samples");
    expect_config_error(f, "eval.sampels=100", "did you mean 'samples'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_through_the_loader),
        cmocka_unit_test_setup_teardown(test_evaluation_columns, setup, td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_evaluation_leaves_training_alone, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_configuration_errors, setup, td_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
