/* Learning-rate schedules: each kind's rate against a hand computation at many steps,
 * the rates a run logs, a rate of 0 that stops the generator, and configuration errors
 * at their keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exptext.h"
#include "io/fileio.h"
#include "tmpdir.h"
#include "train/train_internal.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t next(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return rng >> 11;
}

static double uniform(double low, double high) {
    return low + (high - low) * (double)next() * 0x1.0p-53;
}

static int64_t below(int64_t n) {
    return (int64_t)(next() % (uint64_t)n);
}

/* Within a few roundings of the initial rate `lr` (1 - g / steps cancels). */
static void expect_rate(const char *kind, int64_t g, double lr, double got, double want) {
    if (!(fabs(got - want) <= 1e-14 * lr))
        fail_msg("%s at step %lld: %.17g, want %.17g", kind, (long long)g, got, want);
}

/* Every kind at random steps of a random run, each against the definition written
 * another way: the linear rate as lr (steps - g) / steps, the step rate by repeated
 * multiplication. */
static void test_rates_against_hand_computation(void **state) {
    (void)state;
    for (int trial = 0; trial < 20; trial++) {
        double lr = uniform(1e-5, 1e-2), gamma = uniform(0.05, 1);
        int64_t steps = 1 + below(5000), every = 1 + below(300);
        exp_schedule constant = {EXP_SCHEDULE_CONSTANT, 0, 1};
        exp_schedule linear = {EXP_SCHEDULE_LINEAR, 0, 1};
        exp_schedule step = {EXP_SCHEDULE_STEP, every, gamma};
        for (int k = 0; k < 50; k++) {
            int64_t g = k == 0 ? 0 : k == 1 ? steps - 1 : below(steps);
            expect_rate("constant", g, lr, exp_schedule_lr(&constant, lr, g, steps), lr);
            expect_rate("linear", g, lr, exp_schedule_lr(&linear, lr, g, steps),
                        lr * (double)(steps - g) / (double)steps);
            double want = lr;
            for (int64_t done = every; done <= g; done += every) want *= gamma;
            expect_rate("step", g, lr, exp_schedule_lr(&step, lr, g, steps), want);
        }
        /* linear reaches 0 at the end of the run, never below */
        assert_true(exp_schedule_lr(&linear, lr, steps, steps) == 0);
        assert_true(exp_schedule_lr(&linear, lr, steps + 7, steps) == 0);
    }
    wg_optim_config c = wg_optim_defaults(WG_OPTIM_RMSPROP);
    c.rmsprop.lr = uniform(1e-5, 1e-3);
    assert_true(exp_optim_lr(&c) == c.rmsprop.lr);
}

/* ---- runs ---- */

#define BASE                                                                                       \
    "name: sched\ndevice: cpu\ndata: {plugin: 8gaussians}\n"                                       \
    "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"

/* BASE with `seed` and `rest`, loaded with --out <dir>/<name>. */
static wg_status load(const char *dir, const char *name, uint64_t seed, const char *rest,
                      wg_experiment **out) {
    char text[2048];
    snprintf(text, sizeof text, BASE "seed: %llu\n%s", (unsigned long long)seed, rest);
    return te_load(dir, name, text, false, 0, out);
}

/* The values of column `name` in <dir>/<run>/metrics.csv, one per row, into `out`; -1
 * when there is no such column. */
static int read_column(const char *dir, const char *run_name, const char *name, double *out,
                       int most) {
    char *run = td_join(dir, run_name), *path = td_join(run, "metrics.csv");
    char *text = NULL;
    size_t size = 0;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    int column = -1, rows = 0;
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (int c = 0, at = 0; line[at]; c++) {
        size_t len = strcspn(line + at, ",");
        if (len == strlen(name) && !strncmp(line + at, name, len)) column = c;
        at += (int)len + (line[at + len] == ',');
    }
    for (line = strtok_r(NULL, "\n", &save); line && column >= 0 && rows < most;
         line = strtok_r(NULL, "\n", &save)) {
        const char *field = line;
        for (int c = 0; c < column; c++) field = strchr(field, ',') + 1;
        out[rows++] = strtod(field, NULL);
    }
    free(text);
    free(path);
    free(run);
    return column < 0 ? -1 : rows;
}

/* metrics.csv logs the rate each logged step used, as the graph held it (float). */
static void test_logged_rates(void **state) {
    td_fixture *f = *state;
    double lr_c = uniform(1e-4, 1e-3), lr_g = uniform(1e-4, 1e-3), gamma = uniform(0.2, 0.9);
    int64_t steps = 6 + below(6), every = 1 + below(3);
    char rest[512];
    snprintf(rest, sizeof rest,
             "optimizer:\n  critic: {lr: %.17g, schedule: {kind: linear}}\n"
             "  generator: {kind: sgd, lr: %.17g, schedule: {kind: step, every: %lld, gamma: "
             "%.17g}}\n"
             "train: {batch: 16, steps: %lld, n_critic: 1, log_every: 1, sample_every: 0, "
             "checkpoint_every: 0, samples: 16}\neval: {enabled: false}\n",
             lr_c, lr_g, (long long)every, gamma, (long long)steps);
    wg_experiment *e;
    if (load(f->dir, "run", next(), rest, &e) != WG_OK || wg_experiment_run(e) != WG_OK)
        fail_msg("%s", wg_last_error());
    wg_experiment_free(e);
    double critic[64], generator[64];
    assert_int_equal(read_column(f->dir, "run", "lr_critic", critic, 64), steps);
    assert_int_equal(read_column(f->dir, "run", "lr_generator", generator, 64), steps);
    for (int64_t g = 0; g < steps; g++) {
        double want_g = lr_g;
        for (int64_t k = 0; k < g / every; k++) want_g *= gamma;
        float want_c = (float)(lr_c * (double)(steps - g) / (double)steps);
        if (fabs(critic[g] - want_c) > 1e-8 * want_c ||
            fabs(generator[g] - (float)want_g) > 1e-8 * want_g)
            fail_msg("step %lld: lr_critic %.9g, lr_generator %.9g; want %.9g, %.9g",
                     (long long)g + 1, critic[g], generator[g], (double)want_c, want_g);
    }
    /* constant rates are not logged */
    snprintf(rest, sizeof rest,
             "train: {batch: 16, steps: 2, n_critic: 1, log_every: 1, sample_every: 0, "
             "checkpoint_every: 0, samples: 16}\neval: {enabled: false}\n");
    if (load(f->dir, "constant", next(), rest, &e) != WG_OK || wg_experiment_run(e) != WG_OK)
        fail_msg("%s", wg_last_error());
    wg_experiment_free(e);
    assert_int_equal(read_column(f->dir, "constant", "w_estimate", critic, 64), 2);
    assert_int_equal(read_column(f->dir, "constant", "lr_critic", critic, 64), -1);
    assert_int_equal(read_column(f->dir, "constant", "lr_generator", critic, 64), -1);
}

/* The generator's trainable parameters, concatenated (a new array). */
static float *generator_weights(wg_experiment *e, int64_t *n) {
    const wg_registry *r = &e->steps.registry;
    *n = 0;
    for (int i = 0; i < r->count; i++)
        if (r->entries[i].trainable && !strncmp(r->entries[i].name, "generator.", 10))
            *n += wg_node_numel(e->steps.graph, r->entries[i].node);
    float *w = malloc((size_t)*n * sizeof *w);
    int64_t at = 0;
    for (int i = 0; i < r->count; i++)
        if (r->entries[i].trainable && !strncmp(r->entries[i].name, "generator.", 10)) {
            assert_int_equal(wg_session_read(e->steps.session, r->entries[i].node, w + at), WG_OK);
            at += wg_node_numel(e->steps.graph, r->entries[i].node);
        }
    return w;
}

/* The scheduled rate reaches the optimizer: a step schedule with gamma 0 stops the
 * generator after `every` steps, and with gamma 1 it keeps moving. */
static void test_zero_rate_stops_the_generator(void **state) {
    td_fixture *f = *state;
    for (int run = 0; run < 2; run++) {
        int64_t every = 1 + below(3);
        char rest[512];
        snprintf(rest, sizeof rest,
                 "optimizer:\n  generator: {lr: 1e-3, schedule: {kind: step, every: %lld, gamma: "
                 "%d}}\ntrain: {batch: 16, steps: 20, n_critic: 1}\neval: {enabled: false}\n",
                 (long long)every, run);
        wg_experiment *e;
        if (load(f->dir, "run", next(), rest, &e) != WG_OK || wg_experiment_prepare(e) != WG_OK)
            fail_msg("%s", wg_last_error());
        assert_int_equal(wg_experiment_steps(e, every), WG_OK);
        int64_t n, m;
        float *before = generator_weights(e, &n);
        assert_int_equal(wg_experiment_steps(e, 3), WG_OK);
        float *after = generator_weights(e, &m);
        assert_int_equal(n, m);
        bool same = memcmp(before, after, (size_t)n * sizeof *before) == 0;
        if (same != (run == 0))
            fail_msg("gamma %d: the generator %s after %lld steps", run,
                     same ? "stopped" : "kept moving", (long long)every);
        free(before);
        free(after);
        wg_experiment_free(e);
    }
}

/* A wrong schedule is a configuration error at its key, with the file's position. */
static void test_configuration_errors(void **state) {
    td_fixture *f = *state;
    static const struct {
        const char *schedule, *want;
    } cases[] = {
        {"{kind: cosine}", "cosine"},           {"{kind: step}", "every"},
        {"{kind: step, every: 0}", "every"},    {"{kind: step, every: 10, gamma: 1.5}", "gamma"},
        {"{kind: linear, every: 10}", "every"}, {"linear", "schedule"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char rest[512];
        snprintf(rest, sizeof rest,
                 "train: {batch: 16, steps: 4}\noptimizer:\n  critic:\n    schedule: %s\n",
                 cases[i].schedule);
        wg_experiment *e = NULL;
        wg_status s = load(f->dir, "run", 1, rest, &e);
        const char *msg = wg_last_error();
        if (s != WG_ERR_CONFIG || !strstr(msg, "exp.yaml:10:") || !strstr(msg, cases[i].want))
            fail_msg("schedule %s: %s '%s', want a configuration error at exp.yaml:10 naming '%s'",
                     cases[i].schedule, wg_status_name(s), msg, cases[i].want);
        print_message("  %s: %s\n", cases[i].schedule, msg);
        assert_null(e);
    }
}

static int setup(void **state) {
    return td_fixture_setup(state, "wgan-schedule");
}

int main(void) {
    rng ^= (uint64_t)time(NULL) * 0x2545F4914F6CDD1Dull;
    printf("test_schedule: random seed %llu\n", (unsigned long long)rng);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_against_hand_computation),
        cmocka_unit_test_setup_teardown(test_logged_rates, setup, td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_zero_rate_stops_the_generator, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_configuration_errors, setup, td_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
