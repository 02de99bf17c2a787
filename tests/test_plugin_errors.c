/* Plugin errors are the plugin's: a penalty of the wrong shape, a metric with a built-in
 * column's name, a graph error inside a hook, a plugin built for another ABI under any
 * file name, a garbage descriptor, a crashing, hanging or exiting file on the path, a
 * user's plugin with a built-in's name; and the run folder's record of the plugin files,
 * which a resume uses and checks. Each error exits 2 before any run folder exists and
 * names the plugin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/fileio.h"
#include "program.h"
#include "tmpdir.h"
#include "train/experiment.h"

/* Line numbers below refer to this text; %s are the loss and the lipschitz plugin. */
static const char *const yaml = "name: t\n"                /* 1 */
                                "seed: 5\n"                /* 2 */
                                "device: cpu\n"            /* 3 */
                                "data:\n"                  /* 4 */
                                "  plugin: 8gaussians\n"   /* 5 */
                                "arch:\n"                  /* 6 */
                                "  plugin: mlp\n"          /* 7 */
                                "  hidden: [8]\n"          /* 8 */
                                "loss:\n"                  /* 9 */
                                "  plugin: %s\n"           /* 10 */
                                "lipschitz:\n"             /* 11 */
                                "  plugin: %s\n"           /* 12 */
                                "train:\n"                 /* 13 */
                                "  batch: 16\n"            /* 14 */
                                "  steps: 6\n"             /* 15 */
                                "  n_critic: 1\n"          /* 16 */
                                "  log_every: 2\n"         /* 17 */
                                "  sample_every: 0\n"      /* 18 */
                                "  checkpoint_every: 2\n"; /* 19 */
enum { LOSS_LINE = 10, LIPSCHITZ_LINE = 12 };

typedef td_fixture fixture;

static int setup(void **state) {
    unsetenv("WGAN_PLUGIN_PATH");
    unsetenv("WGAN_PLUGIN_OVERRIDE");
    return td_fixture_setup(state, "wgan-plugerr");
}

static const char *fixtures(void) {
    const char *dir = getenv("WGAN_TEST_PLUGIN_DIR");
    if (!dir || !*dir) fail_msg("WGAN_TEST_PLUGIN_DIR is not set (run through ctest)");
    return dir;
}

static char *config(const fixture *f, const char *loss, const char *lipschitz) {
    char text[2048];
    snprintf(text, sizeof text, yaml, loss, lipschitz);
    char *path = td_join(f->dir, "exp.yaml");
    td_write_text(path, text);
    return path;
}

static void expect_mentions(const char *message, const char *const *words) {
    for (int i = 0; words[i]; i++)
        if (!strstr(message, words[i])) fail_msg("'%s' does not mention '%s'", message, words[i]);
}

/* `wgan ARGS`, its exit status and its output, stderr and stdout (free()). */
static int wgan(const fixture *f, const char *args, char **err) {
    char *program = tp_wgan_program();
    if (!program) fail_msg("the wgan program is not next to the test");
    char *err_path = td_join(f->dir, "stderr.txt");
    char command[8192];
    snprintf(command, sizeof command, "'%s' %s >'%s' 2>&1", program, args, err_path);
    int status = system(command);
    assert_true(WIFEXITED(status));
    size_t size;
    assert_int_equal(wg_read_file(err_path, err, &size), WG_OK);
    free(err_path);
    free(program);
    return WEXITSTATUS(status);
}

static wg_status load(const char *path, const char *out, const char *resume, int64_t stop_after,
                      bool run) {
    wg_experiment_options o = {.config_path = resume ? NULL : path,
                               .resume_dir = resume,
                               .out_dir = out,
                               .progress = WG_PROGRESS_QUIET,
                               .stop_after = stop_after};
    wg_experiment *e = NULL;
    wg_status s = wg_experiment_load(&o, &e);
    if (s == WG_OK && run) s = wg_experiment_run(e);
    wg_experiment_free(e);
    return s;
}

/* ---- errors inside the plugins' graph code ---- */

typedef struct hook_case {
    const char *loss, *lipschitz;
    int line;
    const char *mentions[5];
} hook_case;

static const hook_case hook_cases[] = {
    {"wasserstein",
     "wide_penalty",
     LIPSCHITZ_LINE,
     {"lipschitz plugin 'wide_penalty'", "/wgan_lipschitz_wide_penalty.so", "penalty",
      "shape [16, 1]"}},
    {"wasserstein",
     "penalty_metric",
     LIPSCHITZ_LINE,
     {"lipschitz plugin 'penalty_metric'", "/wgan_lipschitz_penalty_metric.so", "metric 'penalty'",
      "built-in column"}},
    {"graph_error",
     "none",
     LOSS_LINE,
     {"loss plugin 'graph_error'", "/wgan_loss_graph_error.so", "critic_loss", "matmul"}},
};

static void test_hook_errors_through_the_library(void **state) {
    fixture *f = *state;
    setenv("WGAN_PLUGIN_PATH", fixtures(), 1);
    for (size_t i = 0; i < sizeof hook_cases / sizeof *hook_cases; i++) {
        const hook_case *c = &hook_cases[i];
        char *path = config(f, c->loss, c->lipschitz);
        char *out = td_join(f->dir, "out");
        assert_int_equal(load(path, out, NULL, 0, false), WG_ERR_CONFIG);
        tp_expect_position(wg_last_error(), path, c->line);
        expect_mentions(wg_last_error(), c->mentions);
        assert_false(wg_file_exists(out));
        free(out);
        free(path);
    }
}

static void test_hook_errors_through_the_program(void **state) {
    fixture *f = *state;
    setenv("WGAN_PLUGIN_PATH", fixtures(), 1);
    for (size_t i = 0; i < sizeof hook_cases / sizeof *hook_cases; i++) {
        const hook_case *c = &hook_cases[i];
        char *path = config(f, c->loss, c->lipschitz);
        char *out = td_join(f->dir, "out");
        char args[4096], *err;
        snprintf(args, sizeof args, "run '%s' --out '%s'", path, out);
        assert_int_equal(wgan(f, args, &err), 2);
        tp_expect_position(err, path, c->line);
        expect_mentions(err, c->mentions);
        assert_null(strstr(err, "run folder")); /* nothing announced */
        assert_false(wg_file_exists(out));
        free(err);
        free(out);
        free(path);
    }
}

/* ---- files that are not usable plugins ---- */

static void test_abi_reason_under_any_file_name(void **state) {
    fixture *f = *state;
    setenv("WGAN_PLUGIN_PATH", fixtures(), 1);
    char *path = config(f, "fancy_loss", "none");
    char args[4096], *err;
    snprintf(args, sizeof args, "run '%s' --out '%s/out'", path, f->dir);
    assert_int_equal(wgan(f, args, &err), 2);
    tp_expect_position(err, path, LOSS_LINE);
    expect_mentions(err, (const char *const[]){"/renamed_abi.so", "loss plugin 'fancy_loss'",
                                               "built for plugin ABI", NULL});
    free(err);
    free(path);
}

/* Found by its file name, loaded in this process: a garbage vtable pointer is refused
 * with the reason, not followed. */
static void test_garbage_descriptor_found_by_name(void **state) {
    fixture *f = *state;
    setenv("WGAN_PLUGIN_PATH", fixtures(), 1);
    char *path = config(f, "garbage", "none");
    assert_int_equal(load(path, NULL, NULL, 0, false), WG_ERR_CONFIG);
    tp_expect_position(wg_last_error(), path, LOSS_LINE);
    expect_mentions(wg_last_error(),
                    (const char *const[]){"/wgan_loss_garbage.so", "vtable pointer", NULL});
    free(path);
}

static void test_hostile_files_on_the_path(void **state) {
    fixture *f = *state;
    char *hostile = td_join(fixtures(), "hostile");
    setenv("WGAN_PLUGIN_PATH", hostile, 1);
    setenv("WGAN_PLUGIN_PROBE_TIMEOUT", "0.5", 1);
    /* a run that names built-in plugins never opens them */
    char *path = config(f, "wasserstein", "none");
    char *out = td_join(f->dir, "run");
    char args[4096], *err;
    snprintf(args, sizeof args, "run '%s' --out '%s' --progress quiet", path, out);
    assert_int_equal(wgan(f, args, &err), 0);
    assert_true(wg_file_exists(out));
    free(err);
    /* one that names an unknown plugin probes them, each in a child, and says what each did */
    free(path);
    path = config(f, "no_such_loss", "none");
    assert_int_equal(load(path, NULL, NULL, 0, false), WG_ERR_CONFIG);
    expect_mentions(wg_last_error(), (const char *const[]){
                                         "unknown loss plugin 'no_such_loss'", "/crash.so: crashed",
                                         "/hang.so: did not finish loading within 0.5 s",
                                         "/quits.so: ended the process", NULL});
    /* wgan plugins lists them as problems and still lists the built-ins */
    assert_int_equal(wgan(f, "plugins", &err), 0);
    expect_mentions(err, (const char *const[]){"problems:", "crash.so: crashed while loading",
                                               "hang.so: did not finish", "quits.so: ended",
                                               "wasserstein", NULL});
    free(err);
    unsetenv("WGAN_PLUGIN_PROBE_TIMEOUT");
    free(out);
    free(path);
    free(hostile);
}

static void test_builtin_name_clash(void **state) {
    fixture *f = *state;
    char *dir = td_join(f->dir, "plugins");
    assert_int_equal(wg_make_dirs(dir), WG_OK);
    char *link = td_join(dir, "wgan_lipschitz_weight_clip.so");
    char *target = td_join(fixtures(), "twin_a.so");
    assert_int_equal(symlink(target, link), 0);
    setenv("WGAN_PLUGIN_PATH", dir, 1);
    char *path = config(f, "wasserstein", "weight_clip");
    char *out = td_join(f->dir, "out");
    char args[4096], *err;
    snprintf(args, sizeof args, "run '%s' --out '%s'", path, out);
    assert_int_equal(wgan(f, args, &err), 2);
    tp_expect_position(err, path, LIPSCHITZ_LINE);
    expect_mentions(err, (const char *const[]){"lipschitz plugin 'weight_clip'", link, "built-in",
                                               "WGAN_PLUGIN_OVERRIDE=weight_clip", NULL});
    assert_false(wg_file_exists(out));
    free(err);
    /* asked for, the user's one is used: the run records its file */
    setenv("WGAN_PLUGIN_OVERRIDE", "weight_clip", 1);
    assert_int_equal(load(path, out, NULL, 2, true), WG_OK);
    unsetenv("WGAN_PLUGIN_OVERRIDE");
    char *record = td_join(out, "plugins.tsv"), *text;
    size_t size;
    assert_int_equal(wg_read_file(record, &text, &size), WG_OK);
    char line[4096];
    snprintf(line, sizeof line, "\t%s\n", target);
    expect_mentions(text, (const char *const[]){"lipschitz\tweight_clip\t", line, NULL});
    free(text);
    free(record);
    free(out);
    free(path);
    free(target);
    free(link);
    free(dir);
}

/* ---- the run folder's record ---- */

static void copy_file(const char *from, const char *to) {
    char *data;
    size_t size;
    assert_int_equal(wg_read_file(from, &data, &size), WG_OK);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, size, out), size);
    assert_int_equal(fclose(out), 0);
    free(data);
}

/* sha256sum's answer for the file. */
static void sha256_of(const char *path, char hex[65]) {
    char command[4200];
    snprintf(command, sizeof command, "sha256sum '%s'", path);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%64s", hex), 1);
    pclose(p);
}

static void test_record_and_resume(void **state) {
    fixture *f = *state;
    char *dir = td_join(f->dir, "plugins");
    assert_int_equal(wg_make_dirs(dir), WG_OK);
    char *so = td_join(dir, "wgan_loss_plain.so");
    char *original = td_join(fixtures(), "wgan_loss_plain.so");
    copy_file(original, so);
    char *path = config(f, "plain", "none");
    char *out = td_join(f->dir, "run");

    setenv("WGAN_PLUGIN_PATH", dir, 1);
    assert_int_equal(load(path, out, NULL, 2, true), WG_OK);
    unsetenv("WGAN_PLUGIN_PATH");
    char *record = td_join(out, "plugins.tsv"), *text;
    size_t size;
    assert_int_equal(wg_read_file(record, &text, &size), WG_OK);
    char hex[65], line[4200];
    sha256_of(so, hex);
    snprintf(line, sizeof line, "loss\tplain\t%s\t%s\n", hex, so);
    expect_mentions(text, (const char *const[]){line, "data\t8gaussians\t", NULL});
    free(text);

    /* the plugin path no longer has it: the resume finds it through the record */
    assert_int_equal(load(NULL, NULL, out, 4, true), WG_OK);

    /* the file changed since: the resume goes on, with a warning on stderr and in the log */
    char *rebuilt = td_join(fixtures(), "plain_rebuilt.so");
    copy_file(rebuilt, so);
    char args[4200], *err;
    snprintf(args, sizeof args, "run --resume '%s' --progress quiet", out);
    assert_int_equal(wgan(f, args, &err), 0);
    expect_mentions(err,
                    (const char *const[]){"warning", "loss plugin 'plain'", so,
                                          "has changed since the run folder recorded it", NULL});
    free(err);
    char *log = td_join(out, "log.txt");
    assert_int_equal(wg_read_file(log, &text, &size), WG_OK);
    expect_mentions(text,
                    (const char *const[]){"has changed since the run folder recorded it", NULL});
    free(text);
    /* and records the file as it is now */
    assert_int_equal(wg_read_file(record, &text, &size), WG_OK);
    sha256_of(so, hex);
    expect_mentions(text, (const char *const[]){hex, NULL});
    free(text);

    /* without the record, nothing says where the plugin was */
    assert_int_equal(unlink(record), 0);
    assert_int_equal(load(NULL, NULL, out, 0, false), WG_ERR_CONFIG);
    expect_mentions(wg_last_error(), (const char *const[]){"unknown loss plugin 'plain'", NULL});

    free(log);
    free(rebuilt);
    free(record);
    free(out);
    free(path);
    free(original);
    free(so);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hook_errors_through_the_library, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hook_errors_through_the_program, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_abi_reason_under_any_file_name, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_descriptor_found_by_name, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_files_on_the_path, setup, td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_builtin_name_clash, setup, td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_record_and_resume, setup, td_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
