/* The experiment runtime end to end: configuration errors through the library and the
 * wgan program, exact resumption, checkpoint contents, divergence handling, learning
 * on 8 gaussians with each Lipschitz strategy, and cpu against PoCL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/experiment.h"
#include "io/fileio.h"
#include "io/safetensors.h"
#include "program.h"
#include "tmpdir.h"
#include "wgan/device.h"
#include "tiers.h"

/* Line numbers below refer to this text. */
static const char *const base_yaml = "name: t\n"                              /* 1 */
                                     "seed: 3\n"                              /* 2 */
                                     "device: cpu\n"                          /* 3 */
                                     "data:\n"                                /* 4 */
                                     "  plugin: 8gaussians\n"                 /* 5 */
                                     "arch:\n"                                /* 6 */
                                     "  plugin: mlp\n"                        /* 7 */
                                     "  hidden: [16, 16]\n"                   /* 8 */
                                     "loss:\n"                                /* 9 */
                                     "  plugin: wasserstein\n"                /* 10 */
                                     "lipschitz:\n"                           /* 11 */
                                     "  plugin: gradient_penalty\n"           /* 12 */
                                     "  lambda: 0.1\n"                        /* 13 */
                                     "train:\n"                               /* 14 */
                                     "  batch: 32\n"                          /* 15 */
                                     "  steps: 12\n"                          /* 16 */
                                     "  n_critic: 2\n"                        /* 17 */
                                     "  log_every: 2\n"                       /* 18 */
                                     "  sample_every: 6\n"                    /* 19 */
                                     "  checkpoint_every: 4\n"                /* 20 */
                                     "optimizer:\n"                           /* 21 */
                                     "  critic: {kind: adam, lr: 1e-3}\n"     /* 22 */
                                     "  generator: {kind: adam, lr: 1e-3}\n"; /* 23 */

typedef td_fixture fixture;

static int setup(void **state) {
    return td_fixture_setup(state, "wgan-exp");
}

/* base_yaml with line `line` (1-based) replaced by `replacement` (may hold several
 * lines, or be "" to drop it). */
static char *edit(int line, const char *replacement) {
    wg_buf b = {0};
    const char *p = base_yaml;
    for (int n = 1; *p; n++) {
        const char *end = strchr(p, '\n') + 1;
        if (n == line)
            wg_buf_puts(&b, replacement);
        else
            wg_buf_append(&b, p, (size_t)(end - p));
        p = end;
    }
    assert_false(b.failed);
    return b.data;
}

static char *write_config(const fixture *f, const char *name, const char *text) {
    char *path = td_join(f->dir, name);
    td_write_text(path, text);
    return path;
}

/* ---- running ---- */

typedef struct run_spec {
    const char *config; /* a path, or NULL with resume */
    const char *resume;
    const char *out;
    const char *const *overrides;
    int n_overrides;
    int64_t stop_after;
} run_spec;

static wg_status run(const run_spec *r, wg_experiment **keep) {
    wg_experiment_options o = {.config_path = r->config,
                               .resume_dir = r->resume,
                               .out_dir = r->out,
                               .overrides = r->overrides,
                               .n_overrides = r->n_overrides,
                               .progress = WG_PROGRESS_QUIET,
                               .stop_after = r->stop_after};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    if (keep)
        *keep = e;
    else
        wg_experiment_free(e);
    return s;
}

static void run_ok(const run_spec *r) {
    wg_status s = run(r, NULL);
    if (s != WG_OK) fail_msg("run failed: %s", wg_last_error());
}

/* ---- configuration errors ---- */

typedef struct config_case {
    int line;                /* of base_yaml to replace */
    const char *replacement; /* "%s" stands for the fixture folder */
    int error_line;
    const char *mentions[3];
} config_case;

static const config_case config_cases[] = {
    /* unknown key, with a suggestion */
    {13, "  lambda: 0.1\n  lamda: 2\n", 14, {"lamda", "did you mean 'lambda'"}},
    /* duplicate key */
    {15, "  batch: 32\n  batch: 64\n", 16, {"duplicate", "batch"}},
    /* wrong type */
    {15, "  batch: many\n", 15, {"train.batch", "many"}},
    /* out of range */
    {17, "  n_critic: 0\n", 17, {"train.n_critic", "0"}},
    /* unknown plugin, listing the known ones */
    {5, "  plugin: 9gaussians\n", 5, {"9gaussians", "8gaussians", "25gaussians"}},
    /* a data file that is not there */
    {5, "  plugin: idx\n  path: %s/no-such-dataset\n", -1, {"no-such-dataset"}},
    /* a key the optimizer kind does not have */
    {22, "  critic: {kind: adam, lr: 1e-3, momentum: 0.9}\n", 22, {"momentum"}},
    /* an unknown optimizer kind */
    {22, "  critic: {kind: adamw}\n", 22, {"adamw", "rmsprop"}},
    /* a run name that cannot name a folder */
    {1, "name: a/b\n", 1, {"name"}},
};

static char *case_text(const fixture *f, const config_case *c) {
    char replacement[512];
    snprintf(replacement, sizeof replacement, c->replacement, f->dir);
    return edit(c->line, replacement);
}

static void check_message(const char *message, const char *path, const config_case *c) {
    /* a plugin reports a missing file at the data section or at its key: any line */
    if (c->error_line > 0)
        tp_expect_position(message, path, c->error_line);
    else
        tp_expect_position(message, path, atoi(message + strlen(path) + 1));
    for (int k = 0; k < 3 && c->mentions[k]; k++)
        if (!strstr(message, c->mentions[k]))
            fail_msg("'%s' does not mention '%s'", message, c->mentions[k]);
}

static void test_config_errors_through_the_library(void **state) {
    fixture *f = *state;
    for (size_t i = 0; i < sizeof config_cases / sizeof *config_cases; i++) {
        char *text = case_text(f, &config_cases[i]);
        char *path = write_config(f, "bad.yaml", text);
        char *out = td_join(f->dir, "out");
        wg_experiment *e = NULL;
        wg_experiment_options o = {
            .config_path = path, .out_dir = out, .progress = WG_PROGRESS_QUIET};
        wg_status s = wg_experiment_load(&o, &e);
        if (s != WG_ERR_CONFIG)
            fail_msg("case %zu: status %s (%s)", i, wg_status_name(s), wg_last_error());
        assert_null(e);
        check_message(wg_last_error(), path, &config_cases[i]);
        assert_false(wg_file_exists(out)); /* nothing written */
        free(out);
        free(path);
        free(text);
    }
}

static void test_override_errors(void **state) {
    fixture *f = *state;
    char *path = write_config(f, "good.yaml", base_yaml);
    const char *const typo[] = {"train.stepz=5"};
    run_spec r = {.config = path, .overrides = typo, .n_overrides = 1};
    assert_int_equal(run(&r, NULL), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "train.stepz"));
    const char *const range[] = {"train.batch=0"};
    r.overrides = range;
    assert_int_equal(run(&r, NULL), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "train.batch"));
    free(path);
}

/* The folder of the fixture plugins (tests/fixtures/plugins), when `file` is there;
 * skips the test otherwise. */
static const char *fixture_plugins_with(const char *file) {
    const char *fixtures = getenv("WGAN_TEST_PLUGIN_DIR");
    char *so = fixtures ? td_join(fixtures, file) : NULL;
    int have = so && access(so, R_OK) == 0;
    free(so);
    if (!have) {
        wg_test_skip("no %s in WGAN_TEST_PLUGIN_DIR (run through ctest)", file);
    }
    return fixtures;
}

/* A plugin built for another ABI is not loaded: naming it is an unknown plugin, and
 * the message says why the file was turned down. */
static void test_plugin_with_another_abi(void **state) {
    fixture *f = *state;
    const char *fixtures = fixture_plugins_with("abi_major2.so");
    char *text = edit(10, "  plugin: abi_major2\n");
    char *path = write_config(f, "abi.yaml", text);
    setenv("WGAN_PLUGIN_PATH", fixtures, 1);
    wg_status s = run(&(run_spec){.config = path}, NULL);
    unsetenv("WGAN_PLUGIN_PATH");
    assert_int_equal(s, WG_ERR_CONFIG);
    tp_expect_position(wg_last_error(), path, 10);
    assert_non_null(strstr(wg_last_error(), "abi_major2.so"));
    assert_non_null(strstr(wg_last_error(), "ABI"));
    free(path);
    free(text);
}

static void test_config_errors_through_the_program(void **state) {
    fixture *f = *state;
    char *program = tp_wgan_program();
    if (!program) {
        wg_test_skip("wgan program not found next to the test");
    }
    for (size_t i = 0; i < sizeof config_cases / sizeof *config_cases; i++) {
        char *text = case_text(f, &config_cases[i]);
        char *path = write_config(f, "bad.yaml", text);
        char *out = td_join(f->dir, "out");
        char *err = td_join(f->dir, "stderr.txt");
        char command[8192];
        snprintf(command, sizeof command, "'%s' run '%s' --out '%s' 2>'%s'", program, path, out,
                 err);
        int status = system(command);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        char *message;
        size_t size;
        assert_int_equal(wg_read_file(err, &message, &size), WG_OK);
        check_message(message, path, &config_cases[i]);
        assert_false(wg_file_exists(out));
        free(message);
        free(err);
        free(out);
        free(path);
        free(text);
    }
    free(program);
}

/* ---- resumption ---- */

static char *read_text(const char *dir, const char *name) {
    char *path = td_join(dir, name);
    char *text;
    size_t size;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return text;
}

/* metrics.csv without its `seconds` column. */
static char *metrics_without_time(const char *dir) {
    char *text = read_text(dir, "metrics.csv");
    const char *header_end = strchr(text, '\n');
    int column = 0, seconds = -1;
    for (const char *p = text; p < header_end; p++) {
        if (!strncmp(p, "seconds", 7) && (p == text || p[-1] == ',')) seconds = column;
        column += *p == ',';
    }
    assert_true(seconds >= 0);
    wg_buf b = {0};
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        int c = 0;
        for (const char *p = line; p <= end; p++) {
            if (c != seconds && *p != ',' && p < end) wg_buf_append(&b, p, 1);
            if (*p == ',' || p == end) {
                if (c != seconds) wg_buf_puts(&b, p == end ? "\n" : ",");
                c++;
            }
        }
        line = end + 1;
    }
    free(text);
    return b.data;
}

static char *checkpoint_meta(const char *dir, const char *key) {
    char *path = td_join(dir, "checkpoint.safetensors");
    wg_safetensors *st;
    if (wg_safetensors_read(path, &st) != WG_OK) fail_msg("%s", wg_last_error());
    const char *v = wg_safetensors_meta(st, key);
    char *copy = strdup(v ? v : "");
    wg_safetensors_free(st);
    free(path);
    return copy;
}

/* A run killed after step 6 (its last checkpoint at step 4, its metrics up to step 6)
 * and resumed ends bit for bit where an uninterrupted run does. */
static void resume_case(fixture *f, const char *const *overrides, int n_overrides) {
    char *config = write_config(f, "resume.yaml", base_yaml);
    char *a = td_join(f->dir, "uninterrupted"), *b = td_join(f->dir, "killed");
    run_ok(&(run_spec){
        .config = config, .out = a, .overrides = overrides, .n_overrides = n_overrides});
    run_ok(&(run_spec){.config = config,
                       .out = b,
                       .overrides = overrides,
                       .n_overrides = n_overrides,
                       .stop_after = 6});
    char *step = checkpoint_meta(b, "generator_step");
    assert_string_equal(step, "4");
    free(step);
    run_ok(&(run_spec){.resume = b});

    char *ca = read_text(a, "checkpoint.safetensors"), *cb = read_text(b, "checkpoint.safetensors");
    free(ca);
    free(cb);
    char *pa = td_join(a, "checkpoint.safetensors"), *pb = td_join(b, "checkpoint.safetensors");
    size_t size_a, size_b;
    assert_int_equal(wg_read_file(pa, &ca, &size_a), WG_OK);
    assert_int_equal(wg_read_file(pb, &cb, &size_b), WG_OK);
    assert_int_equal(size_a, size_b);
    assert_memory_equal(ca, cb, size_a); /* bit for bit */
    char *ma = metrics_without_time(a), *mb = metrics_without_time(b);
    assert_string_equal(ma, mb);
    char *summary = read_text(b, "summary.json");
    assert_non_null(strstr(summary, "\"state\": \"completed\""));
    free(summary);
    free(ma);
    free(mb);
    free(ca);
    free(cb);
    free(pa);
    free(pb);
    free(a);
    free(b);
    free(config);
}

static void test_resume_gradient_penalty(void **state) {
    resume_case(*state, NULL, 0);
}

/* Weight clipping: a projection plan after each critic step, RMSprop, and the
 * official code's warm-up of 100 critic steps per generator step. */
static void test_resume_weight_clip(void **state) {
    const char *const o[] = {"lipschitz={plugin: weight_clip, clip: 0.05}", "train.warmup=true",
                             "optimizer.critic={kind: rmsprop}",
                             "optimizer.generator={kind: rmsprop}"};
    resume_case(*state, o, 4);
}

/* Spectral norm keeps power-iteration vectors as state, batch norm in the generator
 * running statistics: both must come back. */
static void test_resume_spectral_norm(void **state) {
    const char *const o[] = {"lipschitz={plugin: spectral_norm}", "arch.generator_norm=batch"};
    resume_case(*state, o, 2);
}

/* A relativistic loss reads D(real) in the generator step: the last critic step's real
 * batch, still in the `real` input, so a resumed run sees the same batches. */
static void test_resume_relativistic(void **state) {
    const char *const o[] = {"loss={plugin: relativistic, base: hinge}"};
    resume_case(*state, o, 1);
}

/* The generator step applies the critic to the real batch only for a loss that reads
 * D(real): its work grows by about one critic forward pass, and no more. */
static void test_generator_step_reads_real_scores_only_when_asked(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "flops.yaml", base_yaml);
    const char *const losses[3] = {"loss={plugin: wasserstein}", "loss={plugin: hinge}",
                                   "loss={plugin: relativistic}"};
    wg_experiment_info info[3];
    for (int i = 0; i < 3; i++) {
        wg_experiment_options o = {.config_path = config,
                                   .overrides = &losses[i],
                                   .n_overrides = 1,
                                   .progress = WG_PROGRESS_QUIET};
        wg_experiment *e = NULL;
        wg_status s = wg_experiment_load(&o, &e);
        if (s == WG_OK) s = wg_experiment_prepare(e);
        if (s == WG_OK) s = wg_experiment_info_get(e, &info[i]);
        wg_experiment_free(e);
        if (s != WG_OK) fail_msg("%s: %s", losses[i], wg_last_error());
    }
    assert_true(info[1].generator_flops == info[0].generator_flops);
    assert_true(info[2].generator_flops > info[0].generator_flops);
    /* a critic step is two forward passes, their backward passes and a penalty */
    assert_true(info[2].generator_flops - info[0].generator_flops < info[0].critic_flops / 2);
    free(config);
}

/* ---- what a run writes ---- */

static void test_run_folder_contents(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "c.yaml", base_yaml);
    char *out = td_join(f->dir, "run");
    wg_experiment *e;
    wg_status s = run(&(run_spec){.config = config, .out = out}, &e);
    if (s != WG_OK) fail_msg("%s", wg_last_error());
    wg_experiment_free(e);

    /* every variable and every optimizer state, and the counters */
    char *path = td_join(out, "checkpoint.safetensors");
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(path, &st), WG_OK);
    const char *expected[] = {"generator.fc1.weight",
                              "generator.out.bias",
                              "critic.fc2.weight",
                              "critic.out.weight",
                              "optimizer.critic.critic.fc1.weight.exp_avg",
                              "optimizer.critic.critic.out.bias.exp_avg_sq",
                              "optimizer.generator.generator.fc2.bias.exp_avg",
                              "optimizer.critic.step",
                              "optimizer.generator.step"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        if (!wg_safetensors_find(st, expected[i]))
            fail_msg("no '%s' in the checkpoint", expected[i]);
    /* 2 linear layers + output in each network, weight and bias: 12 parameters; Adam:
     * two moments each and a step counter per optimizer */
    assert_int_equal(wg_safetensors_count(st), 12 + 2 * 12 + 2);
    assert_string_equal(wg_safetensors_meta(st, "generator_step"), "12");
    assert_string_equal(wg_safetensors_meta(st, "critic_step"), "24");
    assert_string_equal(wg_safetensors_meta(st, "data_index"), "24");
    assert_string_equal(wg_safetensors_meta(st, "rng_step"), "36"); /* one per plan run */
    assert_string_equal(wg_safetensors_meta(st, "seed"), "3");
    const wg_st_tensor *step = wg_safetensors_find(st, "optimizer.critic.step");
    assert_float_equal(step->data[0], 24, 0);
    wg_safetensors_free(st);
    free(path);

    /* metrics: a header and a row per logged step */
    char *metrics = read_text(out, "metrics.csv");
    assert_int_equal(strncmp(metrics,
                             "step,critic_step,w_estimate,critic_loss,generator_loss,"
                             "penalty,",
                             56),
                     0);
    int rows = 0;
    for (char *p = metrics; *p; p++) rows += *p == '\n';
    assert_int_equal(rows, 1 + 6);
    free(metrics);

    /* the resolved configuration loads and runs again */
    char *resolved = td_join(out, "config.yaml");
    char *again = td_join(f->dir, "again");
    const char *const shorter[] = {"train.steps=2"};
    run_ok(&(run_spec){.config = resolved, .out = again, .overrides = shorter, .n_overrides = 1});
    free(again);
    free(resolved);

    /* pictures at steps 0, 6, 12; a summary */
    const char *files[] = {"samples/step_000000.png", "samples/step_000006.png",
                           "samples/step_000012.png", "summary.json", "log.txt"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = td_join(out, files[i]);
        if (!wg_file_exists(p)) fail_msg("no %s", p);
        free(p);
    }
    char *summary = read_text(out, "summary.json");
    assert_non_null(strstr(summary, "\"generator_steps\": 12"));
    assert_non_null(strstr(summary, "\"device\": \"cpu"));
    free(summary);
    free(out);
    free(config);
}

static void test_batch_norm_warning(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "bn.yaml", base_yaml);
    char *out = td_join(f->dir, "bn");
    const char *const o[] = {"train.steps=1", "arch.critic_norm=batch"};
    run_ok(&(run_spec){.config = config, .out = out, .overrides = o, .n_overrides = 2});
    char *log = read_text(out, "log.txt");
    assert_non_null(strstr(log, "warning:"));
    assert_non_null(strstr(log, "batch norm"));
    free(log);
    free(out);
    free(config);
}

/* An unconstrained critic trained by SGD with a huge learning rate overflows within a
 * few steps: the run stops with a message naming the step, and the last checkpoint
 * written is still a good one. */
static void test_divergence_stops_the_run(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "nan.yaml", base_yaml);
    char *out = td_join(f->dir, "nan");
    const char *const o[] = {"lipschitz=",        "optimizer.critic={kind: sgd, lr: 3}",
                             "train.n_critic=1",  "train.steps=200",
                             "train.log_every=1", "train.checkpoint_every=1"};
    wg_status s =
        run(&(run_spec){.config = config, .out = out, .overrides = o, .n_overrides = 6}, NULL);
    assert_int_equal(s, WG_ERR_NUMERIC);
    assert_non_null(strstr(wg_last_error(), "step"));
    char *summary = read_text(out, "summary.json");
    assert_non_null(strstr(summary, "\"state\": \"diverged\""));
    free(summary);
    char *path = td_join(out, "checkpoint.safetensors");
    wg_safetensors *st;
    assert_int_equal(wg_safetensors_read(path, &st), WG_OK);
    assert_true(atoi(wg_safetensors_meta(st, "generator_step")) >= 1);
    for (int i = 0; i < wg_safetensors_count(st); i++) {
        const wg_st_tensor *t = wg_safetensors_at(st, i);
        for (int64_t j = 0; j < wg_shape_numel(&t->shape); j++) assert_true(isfinite(t->data[j]));
    }
    wg_safetensors_free(st);
    free(path);
    free(out);
    free(config);
}

/* Diverging before any checkpoint: the message must not promise one. */
static void test_divergence_without_a_checkpoint(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "nan0.yaml", base_yaml);
    char *out = td_join(f->dir, "nan0");
    const char *const o[] = {"lipschitz=",        "optimizer.critic={kind: sgd, lr: 3}",
                             "train.n_critic=1",  "train.steps=200",
                             "train.log_every=1", "train.checkpoint_every=0"};
    wg_status s =
        run(&(run_spec){.config = config, .out = out, .overrides = o, .n_overrides = 6}, NULL);
    assert_int_equal(s, WG_ERR_NUMERIC);
    print_message("  %s\n", wg_last_error());
    assert_null(strstr(wg_last_error(), "last good checkpoint"));
    assert_non_null(strstr(wg_last_error(), "no checkpoint was written"));
    char *path = td_join(out, "checkpoint.safetensors");
    assert_false(wg_file_exists(path));
    free(path);
    free(out);
    free(config);
}

/* ---- learning ---- */

/* Modes of the 8 gaussians (radius 2, divided by 1.414) holding at least 2% of the
 * points within 0.1 of their centre (the modes' own std is 0.014), and the mean
 * distance from a point to its nearest mode. */
static int modes_covered(const float *x, int64_t n, double *mean_distance) {
    int64_t counts[8] = {0};
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double nearest = INFINITY;
        for (int k = 0; k < 8; k++) {
            double a = M_PI / 4 * k;
            double d = hypot(x[2 * i] - 2 * cos(a) / 1.414, x[2 * i + 1] - 2 * sin(a) / 1.414);
            if (d < 0.1) counts[k]++;
            nearest = fmin(nearest, d);
        }
        total += nearest;
    }
    *mean_distance = total / (double)n;
    int modes = 0;
    for (int k = 0; k < 8; k++) modes += counts[k] >= 0.02 * (double)n;
    return modes;
}

/* The experiments' toy setting with 2-128-128-128 networks instead of 512 wide ones,
 * so that a CI machine with two cores trains each in well under a minute. */
static const char *const learn_yaml = "name: learn\n"
                                      "seed: 1\n"
                                      "device: cpu\n"
                                      "data: {plugin: 8gaussians}\n"
                                      "arch: {plugin: mlp, hidden: [128, 128, 128]}\n"
                                      "loss: {plugin: %s}\n"
                                      "lipschitz: %s\n"
                                      "train: {batch: 256, steps: %d, n_critic: 5, log_every: "
                                      "500, sample_every: 0, checkpoint_every: 0, samples: 2000}\n"
                                      "optimizer:\n"
                                      "  critic: %s\n"
                                      "  generator: %s\n";

static int learn(fixture *f, const char *loss, const char *lipschitz, int steps,
                 const char *optimizer, double *mean_distance) {
    char text[2048];
    snprintf(text, sizeof text, learn_yaml, loss, lipschitz, steps, optimizer, optimizer);
    char *config = write_config(f, "learn.yaml", text);
    char *out = td_join(f->dir, "learn");
    wg_experiment *e;
    wg_status s = run(&(run_spec){.config = config, .out = out}, &e);
    if (s != WG_OK) fail_msg("%s", wg_last_error());
    float *x;
    int64_t n, numel;
    assert_int_equal(wg_experiment_generate(e, &x, &n, &numel), WG_OK);
    assert_int_equal(n, 2000);
    assert_int_equal(numel, 2);
    int modes = modes_covered(x, n, mean_distance);
    print_message("%s, %d steps: %d of 8 modes, mean distance to the nearest mode %.3f\n",
                  lipschitz, steps, modes, *mean_distance);
    free(x);
    wg_experiment_free(e);
    free(out);
    free(config);
    return modes;
}

static const char *const adam = "{kind: adam, lr: 1e-4, betas: [0.5, 0.9]}";

static void test_learns_8_gaussians_gradient_penalty(void **state) {
    double distance;
    int modes = learn(*state, "wasserstein", "{plugin: gradient_penalty, lambda: 0.1}", 2000, adam,
                      &distance);
    assert_true(modes >= 7);
}

static void test_learns_8_gaussians_spectral_norm(void **state) {
    double distance;
    int modes = learn(*state, "wasserstein", "{plugin: spectral_norm}", 2000, adam, &distance);
    assert_true(modes >= 6);
}

/* Clipping learns slowly (the WGAN-GP paper's point) and which modes it has found
 * after 2000 steps varies; the clear progress is in the distance: the untrained
 * generator's points lie 1.3 from the modes on average. */
static void test_learns_8_gaussians_weight_clip(void **state) {
    double distance;
    int modes = learn(*state, "wasserstein", "{plugin: weight_clip, clip: 0.01}", 2000,
                      "{kind: rmsprop, lr: 5e-5}", &distance);
    assert_true(modes >= 1);
    assert_true(distance < 0.5);
}

/* ---- devices ---- */

/* Row `row` (1-based, after the header) of metrics.csv as numbers. */
static int csv_row(const char *text, int row, double *values, int max) {
    const char *line = text;
    for (int i = 0; i < row && line; i++) line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    if (!line || !*line) return 0;
    int n = 0;
    for (const char *p = line; n < max;) {
        char *end;
        values[n++] = strtod(p, &end);
        if (*end != ',') break;
        p = end + 1;
    }
    return n;
}

/* One seed, the same losses on the cpu backend and on PoCL: random draws, data and
 * initialisation do not depend on the device. */
static void test_cpu_and_pocl_agree(void **state) {
    fixture *f = *state;
    wg_device *pocl = NULL;
    if (wg_device_open("pocl", &pocl) != WG_OK) {
        wg_test_skip("no PoCL device (%s)", wg_last_error());
    }
    wg_device_close(pocl);
    char *config = write_config(f, "dev.yaml", base_yaml);
    char *dirs[2] = {td_join(f->dir, "cpu"), td_join(f->dir, "pocl")};
    const char *specs[2] = {"device=cpu", "device=pocl"};
    for (int d = 0; d < 2; d++) {
        const char *const o[] = {specs[d], "train.steps=5", "train.log_every=1"};
        run_ok(&(run_spec){.config = config, .out = dirs[d], .overrides = o, .n_overrides = 3});
    }
    char *cpu = read_text(dirs[0], "metrics.csv"), *cl = read_text(dirs[1], "metrics.csv");
    for (int row = 1; row <= 5; row++) {
        double a[16], b[16];
        int n = csv_row(cpu, row, a, 16);
        assert_int_equal(csv_row(cl, row, b, 16), n);
        assert_true(n > 6);
        for (int k = 2; k <= 5; k++) /* W estimate, critic loss, generator loss, penalty */
            if (fabs(a[k] - b[k]) > 1e-4 * fabs(a[k]) + 1e-6)
                fail_msg("step %d, column %d: cpu %.9g, pocl %.9g", row, k, a[k], b[k]);
    }
    free(cpu);
    free(cl);
    free(dirs[0]);
    free(dirs[1]);
    free(config);
}

/* ---- one process per run folder ---- */

static wg_status run_short(const char *config, const char *out, bool force, wg_experiment **keep) {
    static const char *const short_run[] = {"train.steps=2", "train.sample_every=0",
                                            "train.checkpoint_every=2"};
    wg_experiment_options o = {.config_path = config,
                               .out_dir = out,
                               .force = force,
                               .overrides = short_run,
                               .n_overrides = 3,
                               .progress = WG_PROGRESS_QUIET};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK) s = wg_experiment_run(e);
    if (keep)
        *keep = e;
    else
        wg_experiment_free(e);
    return s;
}

static void expect_refusal(wg_status s, const char *text1, const char *text2) {
    const char *msg = wg_last_error();
    if (s != WG_ERR_CONFIG || !strstr(msg, text1) || (text2 && !strstr(msg, text2)))
        fail_msg("%s '%s', want a refusal mentioning '%s' and '%s'", wg_status_name(s), msg, text1,
                 text2 ? text2 : "");
    print_message("  refused: %s\n", msg);
}

/* A folder locked by another process is refused with its pid; an existing run is
 * neither resumed nor replaced by --out, and --force moves it aside intact. */
static void test_run_folder_is_owned(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "own.yaml", base_yaml);
    char *out = td_join(f->dir, "own"), *old1 = td_join(f->dir, "own.old-1"),
         *old2 = td_join(f->dir, "own.old-2");
    assert_int_equal(wg_make_dirs(out), WG_OK);
    int fd;
    assert_int_equal(wg_lock_folder(out, &fd), WG_OK); /* as another run would */
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    expect_refusal(run_short(config, out, false, NULL), out, pid);
    wg_unlock_folder(&fd);

    if (run_short(config, out, false, NULL) != WG_OK) fail_msg("%s", wg_last_error());
    char *first = read_text(out, "checkpoint.safetensors");
    expect_refusal(run_short(config, out, false, NULL), out, "--resume");
    char *unchanged = read_text(out, "checkpoint.safetensors");
    assert_string_equal(first, unchanged);
    /* --force: the earlier run is moved, not deleted, and a fresh one starts */
    if (run_short(config, out, true, NULL) != WG_OK) fail_msg("%s", wg_last_error());
    char *moved = read_text(old1, "checkpoint.safetensors");
    assert_string_equal(moved, first);
    if (run_short(config, out, true, NULL) != WG_OK) fail_msg("%s", wg_last_error());
    assert_true(wg_file_exists(old2) && wg_file_exists(old1) && wg_file_exists(out));
    free(first);
    free(unchanged);
    free(moved);
    free(old1);
    free(old2);
    free(out);
    free(config);
}

/* Two runs loaded in the same second pick the same default name; the second to start
 * creates the next one instead of sharing the folder. */
static void test_default_folders_are_never_shared(void **state) {
    fixture *f = *state;
    char *config = write_config(f, "same.yaml", base_yaml);
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(f->dir), 0);
    static const char *const short_run[] = {"train.steps=2", "train.sample_every=0"};
    wg_experiment_options o = {.config_path = config,
                               .overrides = short_run,
                               .n_overrides = 2,
                               .progress = WG_PROGRESS_QUIET};
    wg_experiment *a = NULL, *b = NULL;
    assert_int_equal(wg_experiment_load(&o, &a), WG_OK);
    assert_int_equal(wg_experiment_load(&o, &b), WG_OK);
    bool same_name = !strcmp(wg_experiment_dir(a), wg_experiment_dir(b));
    wg_status sa = wg_experiment_run(a), sb = wg_experiment_run(b);
    print_message("  loaded under %s, ran in %s and %s\n", same_name ? "one name" : "two names",
                  wg_experiment_dir(a), wg_experiment_dir(b));
    assert_int_equal(sa, WG_OK);
    assert_int_equal(sb, WG_OK);
    assert_string_not_equal(wg_experiment_dir(a), wg_experiment_dir(b));
    char *ca = read_text(wg_experiment_dir(a), "config.yaml");
    char *cb = read_text(wg_experiment_dir(b), "config.yaml");
    free(ca);
    free(cb);
    wg_experiment_free(a);
    wg_experiment_free(b);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    free(config);
}

/* A data set smaller than train.batch or train.samples is a configuration error at the
 * key, before any work: no run folder. */
static void test_data_smaller_than_a_batch(void **state) {
    fixture *f = *state;
    enum { COUNT = 10 };
    char *images = td_join(f->dir, "ten.idx3");
    FILE *file = fopen(images, "wb");
    const unsigned char header[16] = {0, 0, 8, 3, 0, 0, 0, COUNT, 0, 0, 0, 2, 0, 0, 0, 2};
    unsigned char pixels[COUNT * 4] = {0};
    fwrite(header, 1, sizeof header, file);
    fwrite(pixels, 1, sizeof pixels, file);
    fclose(file);
    char data[600];
    snprintf(data, sizeof data, "  plugin: idx\n  path: %s\n", images);
    char *text = edit(5, data); /* line 5 becomes two: batch moves to line 16 */
    char *config = write_config(f, "small.yaml", text);
    char *out = td_join(f->dir, "small");
    wg_status s = run_short(config, out, false, NULL);
    assert_int_equal(s, WG_ERR_CONFIG);
    tp_expect_position(wg_last_error(), config, 16);
    assert_non_null(strstr(wg_last_error(), "train.batch = 32"));
    print_message("  %s\n", wg_last_error());
    assert_false(wg_file_exists(out));
    free(text);
    free(config);
    free(out);
    free(images);
}

/* ---- paired seeds ---- */

/* Field `column` of line `row` (0: the header) of a CSV text, in a new string. */
static char *csv_field(const char *text, int row, int column) {
    const char *p = text;
    for (int r = 0; r < row && p; r++) p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    if (!p || !*p) return NULL;
    for (int c = 0; c < column; c++) {
        const char *comma = strchr(p, ','), *end = strchr(p, '\n');
        if (!comma || (end && comma > end)) return NULL;
        p = comma + 1;
    }
    size_t n = strcspn(p, ",\n");
    char *field = malloc(n + 1);
    memcpy(field, p, n);
    field[n] = 0;
    return field;
}

/* Index of the header column `name`, or -1. */
static int csv_column(const char *text, const char *name) {
    for (int c = 0;; c++) {
        char *field = csv_field(text, 0, c);
        if (!field) return -1;
        int found = strcmp(field, name) == 0;
        free(field);
        if (found) return c;
    }
}

/* Every value of metrics.csv column `name` of run b against column `name_a` of run a;
 * the number of rows that differ. */
static int csv_rows_differing(const char *a, const char *name_a, const char *b, const char *name) {
    int ca = csv_column(a, name_a), cb = csv_column(b, name), differing = 0;
    if (ca < 0 || cb < 0) fail_msg("no column %s / %s", name_a, name);
    for (int row = 1;; row++) {
        char *x = csv_field(a, row, ca), *y = csv_field(b, row, cb);
        if (!x || !y) {
            if (x || y) fail_msg("the runs logged different numbers of rows");
            return differing;
        }
        differing += strcmp(x, y) != 0;
        free(x);
        free(y);
    }
}

static bool same_file(const char *dir_a, const char *dir_b, const char *name) {
    char *pa = td_join(dir_a, name), *pb = td_join(dir_b, name), *a, *b;
    size_t na, nb;
    if (wg_read_file(pa, &a, &na) != WG_OK || wg_read_file(pb, &b, &nb) != WG_OK)
        fail_msg("%s", wg_last_error());
    bool same = na == nb && memcmp(a, b, na) == 0;
    free(a);
    free(b);
    free(pa);
    free(pb);
    return same;
}

/* Tensors of run b's checkpoint that differ from run a's (both have the same ones). */
static int tensors_differing(const char *dir_a, const char *dir_b) {
    char *pa = td_join(dir_a, "checkpoint.safetensors"),
         *pb = td_join(dir_b, "checkpoint.safetensors");
    wg_safetensors *a, *b;
    if (wg_safetensors_read(pa, &a) != WG_OK || wg_safetensors_read(pb, &b) != WG_OK)
        fail_msg("%s", wg_last_error());
    assert_int_equal(wg_safetensors_count(a), wg_safetensors_count(b));
    int differing = 0;
    for (int i = 0; i < wg_safetensors_count(a); i++) {
        const wg_st_tensor *x = wg_safetensors_at(a, i), *y = wg_safetensors_find(b, x->name);
        if (!y) fail_msg("no '%s' in %s", x->name, pb);
        assert_true(wg_shape_equal(&x->shape, &y->shape));
        differing += memcmp(x->data, y->data, (size_t)wg_shape_numel(&x->shape) * 4) != 0;
    }
    wg_safetensors_free(a);
    wg_safetensors_free(b);
    free(pa);
    free(pb);
    return differing;
}

/* A penalty that draws random numbers and is multiplied by 0 (the fixture
 * zero_dragan) against no constraint (`none`), one seed: the same run bit for bit,
 * every metric but the penalty's own, every weight and optimizer state, every picture,
 * because draws are keyed by who draws, not by their order. With lambda 1e-3 instead
 * the runs differ: the comparison sees a change when there is one. */
static void paired_case(fixture *f, const char *device) {
    const char *fixtures = fixture_plugins_with("zero_dragan.so");
    char *config = write_config(f, "paired.yaml", base_yaml);
    const char *lipschitz[3] = {"lipschitz={plugin: none}",
                                "lipschitz={plugin: zero_dragan, lambda: 0, gamma: 0}",
                                "lipschitz={plugin: zero_dragan, lambda: 1e-3, gamma: 0}"};
    char *dirs[3] = {td_join(f->dir, "none"), td_join(f->dir, "zero"), td_join(f->dir, "small")};
    char device_set[32];
    snprintf(device_set, sizeof device_set, "device=%s", device);
    setenv("WGAN_PLUGIN_PATH", fixtures, 1);
    for (int i = 0; i < 3; i++) {
        const char *const o[] = {device_set,
                                 lipschitz[i],
                                 "train.steps=4",
                                 "train.log_every=1",
                                 "train.sample_every=2",
                                 "eval.samples=200",
                                 "train.checkpoint_every=4"};
        run_ok(&(run_spec){.config = config, .out = dirs[i], .overrides = o, .n_overrides = 7});
    }
    unsetenv("WGAN_PLUGIN_PATH");

    char *none = read_text(dirs[0], "metrics.csv"), *zero = read_text(dirs[1], "metrics.csv");
    char *small = read_text(dirs[2], "metrics.csv");
    int compared = 0, moved = 0;
    for (int c = 0;; c++) {
        char *name = csv_field(none, 0, c);
        if (!name) break;
        if (strcmp(name, "seconds") != 0 && strcmp(name, "penalty") != 0) {
            int differing = csv_rows_differing(none, name, zero, name);
            if (differing) fail_msg("%s: column %s differs in %d rows", device, name, differing);
            moved += csv_rows_differing(none, name, small, name) > 0;
            compared++;
        }
        free(name);
    }
    assert_true(compared >= 8); /* losses, W, gradient norms, evaluation */
    assert_int_equal(csv_rows_differing(zero, "w_estimate", zero, "zero_dragan_w"), 0);
    char *penalty = csv_field(zero, 1, csv_column(zero, "penalty"));
    assert_string_equal(penalty, "0");
    free(penalty);
    assert_int_equal(tensors_differing(dirs[0], dirs[1]), 0);
    const char *pictures[] = {"samples/step_000000.png", "samples/step_000002.png",
                              "samples/step_000004.png"};
    for (int i = 0; i < 3; i++)
        if (!same_file(dirs[0], dirs[1], pictures[i]))
            fail_msg("%s: %s differs", device, pictures[i]);
    /* the control: a penalty that counts changes the losses and the weights (the
     * pictures' pixels may not move in four steps) */
    assert_true(moved >= 3);
    assert_true(tensors_differing(dirs[0], dirs[2]) > 0);
    free(none);
    free(zero);
    free(small);
    for (int i = 0; i < 3; i++) free(dirs[i]);
    free(config);
}

static void test_random_penalty_times_zero_changes_nothing_cpu(void **state) {
    paired_case(*state, "cpu");
}

static void test_random_penalty_times_zero_changes_nothing_pocl(void **state) {
    wg_device *pocl = NULL;
    if (wg_device_open("pocl", &pocl) != WG_OK)
        wg_test_skip("no PoCL device (%s)", wg_last_error());
    wg_device_close(pocl);
    paired_case(*state, "pocl");
}

int main(int argc, char **argv) {
    /* WGAN_TEST_FILTER="*paired*" runs the tests matching a CMocka pattern */
    if (getenv("WGAN_TEST_FILTER")) cmocka_set_test_filter(getenv("WGAN_TEST_FILTER"));
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, td_fixture_teardown)
    /* configuration and what a run refuses: seconds */
    const struct CMUnitTest unit[] = {
        CASE(test_config_errors_through_the_library),
        CASE(test_override_errors),
        CASE(test_config_errors_through_the_program),
        CASE(test_plugin_with_another_abi),
        CASE(test_batch_norm_warning),
        CASE(test_run_folder_is_owned),
        CASE(test_default_folders_are_never_shared),
        CASE(test_data_smaller_than_a_batch),
        CASE(test_divergence_without_a_checkpoint),
        CASE(test_generator_step_reads_real_scores_only_when_asked),
    };
    /* runs that train: minutes */
    const struct CMUnitTest e2e[] = {
        CASE(test_resume_gradient_penalty),
        CASE(test_resume_weight_clip),
        CASE(test_resume_spectral_norm),
        CASE(test_resume_relativistic),
        CASE(test_run_folder_contents),
        CASE(test_divergence_stops_the_run),
        CASE(test_cpu_and_pocl_agree),
        CASE(test_random_penalty_times_zero_changes_nothing_cpu),
        CASE(test_random_penalty_times_zero_changes_nothing_pocl),
        CASE(test_learns_8_gaussians_gradient_penalty),
        CASE(test_learns_8_gaussians_spectral_norm),
        CASE(test_learns_8_gaussians_weight_clip),
    };
#undef CASE
    const wg_test_tier tiers[] = {WG_TEST_TIER(unit, unit), WG_TEST_TIER(e2e, e2e)};
    return wg_test_run_tiers(argc, argv, "experiment", tiers, sizeof tiers / sizeof *tiers, NULL,
                             NULL);
}
