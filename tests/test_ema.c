/* G-EMA, the moving average of the generator's weights: the averages against a
 * computation in double after each step, the exact resume of a run with an average
 * and learning-rate schedules, and the choice between the average and the weights for
 * samples. */
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

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return rng >> 11;
}

static double uniform(double low, double high) {
    return low + (high - low) * (double)next() * 0x1.0p-53;
}

#define BASE                                                                                       \
    "name: ema\ndevice: cpu\ndata: {plugin: 8gaussians}\n"                                         \
    "arch: {plugin: mlp, hidden: [8]}\nloss: {plugin: wasserstein}\n"

/* BASE with `seed` and `rest`, loaded with --out <dir>/<name> (or resumed there). */
static wg_status load(const char *dir, const char *name, uint64_t seed, const char *rest,
                      bool resume, int64_t stop_after, wg_experiment **out) {
    char text[2048];
    snprintf(text, sizeof text, BASE "seed: %llu\n%s", (unsigned long long)seed, rest);
    return te_load(dir, name, text, resume, stop_after, out);
}

/* The values of `count` nodes, concatenated, as doubles (a new array). */
static double *read_all(wg_experiment *e, int count, const wg_node *nodes, int64_t *n) {
    *n = 0;
    for (int i = 0; i < count; i++) *n += wg_node_numel(e->steps.graph, nodes[i]);
    double *out = malloc((size_t)*n * sizeof *out);
    float *buf = malloc((size_t)*n * sizeof *buf);
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        assert_int_equal(wg_session_read(e->steps.session, nodes[i], buf + at), WG_OK);
        at += wg_node_numel(e->steps.graph, nodes[i]);
    }
    for (int64_t j = 0; j < *n; j++) out[j] = buf[j];
    free(buf);
    return out;
}

/* After each generator step the averages equal d ema + (1 - d) w computed here in
 * double from the weights the step left (d = 0 before `start`: the average is then the
 * weights themselves, bit for bit). */
static void test_average_against_hand_computation(void **state) {
    td_fixture *f = *state;
    double decay = uniform(0.5, 0.95);
    int64_t start = (int64_t)(next() % 4);
    char rest[512];
    snprintf(rest, sizeof rest,
             "train: {batch: 16, steps: 20, n_critic: 1, ema: {decay: %.17g, start: %lld}}\n"
             "eval: {enabled: false}\n",
             decay, (long long)start);
    wg_experiment *e;
    if (load(f->dir, "run", next(), rest, false, 0, &e) != WG_OK ||
        wg_experiment_prepare(e) != WG_OK)
        fail_msg("%s", wg_last_error());
    const exp_ema *a = &e->ema;
    assert_true(a->count >= 4); /* two layers' weights and biases */
    int64_t n, m;
    double *hand = read_all(e, a->count, a->params, &n);
    double *avg = read_all(e, a->count, a->vars, &m);
    assert_int_equal(n, m);
    assert_memory_equal(hand, avg, (size_t)n * sizeof *hand); /* starts at the weights */
    free(avg);
    double d = (double)(float)decay; /* the graph holds it in float */
    double apart = 0;
    for (int64_t g = 0; g < start + 5; g++) {
        assert_int_equal(wg_experiment_steps(e, 1), WG_OK);
        double *w = read_all(e, a->count, a->params, &n);
        avg = read_all(e, a->count, a->vars, &m);
        double scale = 0;
        for (int64_t j = 0; j < n; j++) {
            hand[j] = g >= start ? d * hand[j] + (1 - d) * w[j] : w[j];
            scale = fmax(scale, fabs(hand[j]));
        }
        for (int64_t j = 0; j < n; j++) {
            /* a few float roundings per step, carried on (and shrunk) by d */
            double tol = 4 * 0x1p-24 * (double)(g - start + 1) * scale;
            if (g < start ? avg[j] != w[j] : !(fabs(avg[j] - hand[j]) <= tol))
                fail_msg("step %lld (decay %g, start %lld), element %lld: average %.9g, want "
                         "%.9g (weight %.9g)",
                         (long long)g, decay, (long long)start, (long long)j, avg[j], hand[j],
                         w[j]);
            apart = fmax(apart, fabs(avg[j] - w[j]));
        }
        free(w);
        free(avg);
    }
    assert_true(apart > 0); /* the average does lag the weights */
    free(hand);
    wg_experiment_free(e);
}

/* A run of 6 steps with an average and schedules on both optimizers, stopped after 3
 * and resumed, writes the checkpoint of the run that went through, byte for byte. */
static void test_resume_is_exact(void **state) {
    td_fixture *f = *state;
    uint64_t seed = next();
    char rest[768];
    snprintf(rest, sizeof rest,
             "lipschitz: {plugin: weight_clip}\n"
             "optimizer:\n  critic: {kind: rmsprop, schedule: {kind: linear}}\n"
             "  generator: {schedule: {kind: step, every: 2, gamma: %.17g}}\n"
             "train: {batch: 16, steps: 6, n_critic: 2, log_every: 3, sample_every: 3, "
             "checkpoint_every: 3, samples: 16, ema: {decay: %.17g, start: 1}}\n",
             uniform(0.3, 0.9), uniform(0.5, 0.99));
    wg_experiment *e;
    const char *names[2] = {"through", "resumed"};
    for (int k = 0; k < 2; k++) {
        if (load(f->dir, names[k], seed, rest, false, k ? 3 : 0, &e) != WG_OK ||
            wg_experiment_run(e) != WG_OK)
            fail_msg("%s", wg_last_error());
        wg_experiment_free(e);
    }
    if (load(f->dir, names[1], seed, rest, true, 0, &e) != WG_OK || wg_experiment_run(e) != WG_OK)
        fail_msg("resume: %s", wg_last_error());
    wg_experiment_free(e);
    char *bytes[2];
    size_t size[2];
    for (int k = 0; k < 2; k++) {
        char *run = td_join(f->dir, names[k]), *path = td_join(run, "checkpoint.safetensors");
        assert_int_equal(wg_read_file(path, &bytes[k], &size[k]), WG_OK);
        free(path);
        free(run);
    }
    assert_non_null(strstr(bytes[0] + 8, "\"ema/generator."));
    assert_int_equal(size[0], size[1]);
    assert_memory_equal(bytes[0], bytes[1], size[0]);
    free(bytes[0]);
    free(bytes[1]);
}

/* Samples come from the average by default and from the weights on request, each
 * request leaving the weights as they were; a run without an average refuses it,
 * naming the run. */
static void test_samples_from_average_or_weights(void **state) {
    td_fixture *f = *state;
    const char *rest = "train: {batch: 16, steps: 4, n_critic: 1, log_every: 4, sample_every: 0, "
                       "checkpoint_every: 0, samples: 32, ema: {decay: 0.9}}\n"
                       "eval: {enabled: false}\n";
    wg_experiment *e;
    if (load(f->dir, "run", next(), rest, false, 0, &e) != WG_OK || wg_experiment_run(e) != WG_OK)
        fail_msg("%s", wg_last_error());
    int64_t n, count, numel;
    double *w0 = read_all(e, e->ema.count, e->ema.params, &n);
    float *samples[3];
    for (int k = 0; k < 3; k++) {
        assert_int_equal(wg_experiment_use_ema(e, k != 1), WG_OK);
        assert_int_equal(wg_experiment_generate(e, &samples[k], &count, &numel), WG_OK);
    }
    size_t bytes = (size_t)(count * numel) * sizeof(float);
    assert_memory_equal(samples[0], samples[2], bytes);
    assert_memory_not_equal(samples[0], samples[1], bytes);
    double *w1 = read_all(e, e->ema.count, e->ema.params, &n);
    assert_memory_equal(w0, w1, (size_t)n * sizeof *w0);
    for (int k = 0; k < 3; k++) free(samples[k]);
    free(w0);
    free(w1);
    wg_experiment_free(e);

    const char *plain = "train: {batch: 16, steps: 4}\n";
    if (load(f->dir, "plain", next(), plain, false, 0, &e) != WG_OK)
        fail_msg("%s", wg_last_error());
    assert_int_equal(wg_experiment_use_ema(e, false), WG_OK);
    assert_int_equal(wg_experiment_use_ema(e, true), WG_ERR_CONFIG);
    const char *msg = wg_last_error();
    if (!strstr(msg, "'ema'") || !strstr(msg, "plain") || !strstr(msg, "train.ema"))
        fail_msg("refusal names neither the run nor train.ema: %s", msg);
    print_message("  %s\n", msg);
    assert_int_equal(e->ema.count, 0);
    wg_experiment_free(e);
}

static int setup(void **state) {
    return td_fixture_setup(state, "wgan-ema");
}

int main(void) {
    rng ^= (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    printf("test_ema: random seed %llu\n", (unsigned long long)rng);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_average_against_hand_computation, setup,
                                        td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_resume_is_exact, setup, td_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_samples_from_average_or_weights, setup,
                                        td_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
