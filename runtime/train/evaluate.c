/* What training does, measured: at every logged step, sample quality on fixed sets (exact
 * W1 and mode coverage on low-dimensional points) and the critic's empirical Lipschitz
 * constant (input-gradient norms at real, generated and interpolated points, and
 * difference quotients over pairs); for images, FID and KID in the feature space of
 * wgan's own Fashion-MNIST classifier; at the end, the training-health verdict over the
 * logged W series.
 *
 * The evaluation graph reads the training's variables and draws nothing: its noise, real
 * samples and interpolation weights are fixed host data drawn once from the seed, and
 * its plans run aside (the session's random step is restored), so evaluating changes
 * neither training nor a resumed run, and equal weights give equal numbers. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgan/philox.h"
#include "plugin/build.h"
#include "eval/classifier.h"
#include "io/clock.h"
#include "train_internal.h"
#include "wgan/metrics.h"

/* Keys of the evaluation's host draws (docs/random.md). */
#define NOISE_KEY "eval/z"
#define EPS_KEY "eval/eps"
#define FID_NOISE_KEY "eval/fid_z"
/* Real samples come from data batches no training step reads. */
#define DATA_INDEX ((uint64_t)1 << 40)
#define NORM_TOL 0.1
#define FID_CHUNK 250
#define KID_SUBSETS 20
#define MAX_SAMPLES 5000 /* exact W1 needs 8 n^2 bytes and O(n^3) time */

enum {
    EV_W1,
    EV_MODES,
    EV_HQ,
    EV_GRAD_REAL,
    EV_GRAD_FAKE,
    EV_GRAD_INTERP,
    EV_GRAD_MAX,
    EV_PAIR_MAX,
    EV_PAIR_MEAN,
    EV_FID,
    EV_KID,
    EV_COUNT
};

static const char *const column_names[EV_COUNT] = {
    [EV_W1] = "eval_w1",
    [EV_MODES] = "eval_modes",
    [EV_HQ] = "eval_hq_share",
    [EV_GRAD_REAL] = "eval_grad_real",
    [EV_GRAD_FAKE] = "eval_grad_fake",
    [EV_GRAD_INTERP] = "eval_grad_interp",
    [EV_GRAD_MAX] = "eval_grad_max",
    [EV_PAIR_MAX] = "eval_pair_max",
    [EV_PAIR_MEAN] = "eval_pair_mean",
    [EV_FID] = "eval_fid",
    [EV_KID] = "eval_kid",
};

static const char *const norm_sets[3] = {"real", "generated", "interpolated"};

typedef struct exp_eval {
    /* ---- configuration ---- */
    bool enabled, fid;
    int64_t samples, critic_samples, fid_every, fid_samples;
    wg_classifier_options classifier_options;

    /* ---- what applies to this run ---- */
    bool has_w1; /* points of dimension 1 or 2 */
    int n_modes; /* the data plugin's mixture modes, 0 when none */
    const double *centers;
    double mode_std;
    int column[EV_COUNT]; /* index into e->steps.columns, -1 when not logged */
    int64_t n_gen, n_critic;

    /* ---- the evaluation plan and its fixed inputs ---- */
    wg_plan *plan;
    wg_node noise, real, eps, eps2, fake;
    wg_node score[4], norm[3]; /* real, generated, interpolated (and a second one) */
    float *fake_host, *real_host, *eps_host, *out_host;
    double *real_points, *fake_points; /* samples x dim, for W1 and modes */
    double w1_floor;

    /* ---- FID ---- */
    wg_device *cpu;
    wg_classifier *classifier;
    wg_plan *fid_plan;
    wg_node fid_noise, fid_out;
    int64_t fid_chunk;
    float *fid_noise_host;
    double *real_features;
    wg_gaussian real_gaussian;
    double fid_floor;

    /* ---- the last results ---- */
    int64_t step;
    double w1_value;
    wg_mode_stats modes;
    int64_t *mode_counts;
    wg_norm_stats norms[3];
    wg_lipschitz_estimate pairs;
    bool have_step, have_fid;
    int64_t fid_step;
    double fid_value, fid_seconds;
    wg_kid_result kid;
    int64_t evaluations;
    double seconds;
    bool have_health;
    wg_health_report health;
} exp_eval;

/* ---- configuration ---- */

static wg_status read_classifier(exp_eval *v, const wg_cfg *section) {
    const wg_cfg *c;
    wg_classifier_options *o = &v->classifier_options;
    *o = wg_classifier_defaults();
    wg_status s = wg_cfg_map(section, "classifier", &c);
    if (s == WG_OK) s = wg_cfg_string(c, "path", WG_CLASSIFIER_DEFAULT_PATH, &o->path);
    if (s == WG_OK) s = wg_cfg_string(c, "data", WG_FASHION_MNIST_DIR, &o->data);
    if (s == WG_OK) s = wg_cfg_int(c, "epochs", o->epochs, 1, 1000, &o->epochs);
    if (s == WG_OK) s = wg_cfg_int64(c, "train_images", 0, 0, 1 << 30, &o->train_images);
    if (s == WG_OK) s = wg_cfg_int64(c, "test_images", 0, 0, 1 << 30, &o->test_images);
    return s;
}

wg_status exp_eval_configure(wg_experiment *e) {
    exp_eval *v = calloc(1, sizeof *v);
    if (!v) return wg_fail(WG_ERR_NOMEM, "out of memory");
    e->eval = v;
    for (int i = 0; i < EV_COUNT; i++) v->column[i] = -1;
    v->noise = v->real = v->eps = v->eps2 = v->fake = v->fid_noise = v->fid_out = WG_NONE;
    const wg_cfg *sec;
    bool images = e->plugins.layout == WG_DATA_IMAGES;
    wg_status s = wg_cfg_map(e->cfg.config, "eval", &sec);
    if (s == WG_OK) s = wg_cfg_bool(sec, "enabled", true, &v->enabled);
    if (s == WG_OK) s = wg_cfg_int64(sec, "samples", 1000, 2, MAX_SAMPLES, &v->samples);
    if (s == WG_OK)
        s = wg_cfg_int64(sec, "critic_samples", images ? e->cfg.batch : v->samples, 1, MAX_SAMPLES,
                         &v->critic_samples);
    if (s == WG_OK) s = wg_cfg_bool(sec, "fid", false, &v->fid);
    if (s == WG_OK) s = wg_cfg_int64(sec, "fid_every", 0, 0, (int64_t)1 << 40, &v->fid_every);
    if (s == WG_OK) s = wg_cfg_int64(sec, "fid_samples", 2000, 2, 10000, &v->fid_samples);
    if (s == WG_OK && v->fid) s = read_classifier(v, sec);
    if (s != WG_OK) return s;
    if (!images && v->critic_samples > v->samples)
        return wg_cfg_error(wg_cfg_get(sec, "critic_samples"),
                            "key 'eval.critic_samples': %" PRId64
                            " is more than eval.samples (%" PRId64
                            "): the critic is measured on the evaluation's own samples",
                            v->critic_samples, v->samples);
    const wg_shape *x = &e->plugins.sample_shape;
    if (v->fid && !(images && x->ndim == 3 && x->dim[0] == 1 && x->dim[1] == WG_CLASSIFIER_SIDE &&
                    x->dim[2] == WG_CLASSIFIER_SIDE))
        return wg_cfg_error(wg_cfg_get(sec, "fid"),
                            "key 'eval.fid': FID and KID use a Fashion-MNIST classifier and need "
                            "1x28x28 images; data plugin '%s' gives other samples",
                            e->plugins.data.plugin->name);
    if (v->fid_every % e->cfg.log_every != 0)
        return wg_cfg_error(wg_cfg_get(sec, "fid_every"),
                            "key 'eval.fid_every': %" PRId64
                            " is not a multiple of train.log_every "
                            "(%" PRId64 "); FID is computed at logged steps",
                            v->fid_every, e->cfg.log_every);
    return WG_OK;
}

/* ---- building ---- */

static wg_status add_columns(wg_experiment *e, exp_eval *v) {
    bool want[EV_COUNT] = {false};
    want[EV_W1] = v->enabled && v->has_w1;
    want[EV_MODES] = want[EV_HQ] = v->enabled && v->n_modes > 0;
    for (int i = EV_GRAD_REAL; i <= EV_PAIR_MEAN; i++) want[i] = v->enabled;
    want[EV_FID] = want[EV_KID] = v->fid && v->fid_every > 0;
    for (int i = 0; i < EV_COUNT; i++) {
        if (!want[i]) continue;
        v->column[i] = e->steps.n_columns;
        if (!exp_add_column(e, column_names[i], EXP_SRC_EVAL, WG_NONE))
            return wg_fail(WG_ERR_INVALID, "more than %d metrics columns", WG_EXP_MAX_COLUMNS);
    }
    return WG_OK;
}

static wg_status data_batch(wg_experiment *e, uint64_t index, int64_t count, float *out) {
    wg_status s = e->plugins.data.plugin->vt.data.batch(e->plugins.data.state, index, count, out);
    if (s == WG_OK) return WG_OK;
    char message[1024];
    snprintf(message, sizeof message, "%s", wg_last_error());
    return wg_fail(s, "data plugin '%s' (evaluation samples): %s", e->plugins.data.plugin->name,
                   message);
}

static void draw(float *out, int64_t n, wg_init init, const char *key, uint64_t seed) {
    uint64_t stream = wg_philox_stream(key);
    for (int64_t i = 0; i < n; i++) out[i] = (float)wg_host_draw(&init, stream, (uint64_t)i, seed);
}

static void to_double(const float *x, int64_t n, double *out) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i];
}

static wg_status w1_of(const double *a, const double *b, int64_t n, int dim, double *w1) {
    return dim == 1 ? wg_metric_w1_1d(a, n, b, n, w1) : wg_metric_w1(a, b, n, dim, w1);
}

static wg_status plan_of(wg_experiment *e, int count, const wg_node *targets, wg_plan **out) {
    for (int i = 0; i < count; i++)
        if (targets[i] == WG_NONE)
            return wg_fail(WG_ERR_INVALID, "evaluation: a target was not built");
    return wg_plan_new(e->steps.session, count, targets, out);
}

/* G at the fixed noise, then the critic at n_critic real, generated and interpolated
 * points (and a second interpolate on each line, for difference quotients). */
static wg_status trace_plan(wg_experiment *e, exp_eval *v) {
    wg_graph *g = e->steps.graph;
    wg_build b;
    exp_begin_build(e, &b, "eval_generator", v->n_gen);
    v->noise = wg_input(g, wg_shape2(v->n_gen, e->plugins.noise_dim), "eval_noise");
    wg_status s = exp_traced(&b, exp_apply_generator(e, &b, v->noise, &v->fake), "evaluation");
    wg_build_end(&b);
    if (s != WG_OK) return s;
    wg_node fake = v->fake;
    if (v->n_gen > v->n_critic) {
        const int64_t start[WG_MAX_DIMS] = {0};
        fake = wg_slice(g, v->fake, start, exp_batch_shape(e, v->n_critic));
    }
    exp_begin_build(e, &b, "eval_critic", v->n_critic);
    wg_shape per_sample = exp_batch_shape(e, v->n_critic);
    for (int k = 1; k < per_sample.ndim; k++) per_sample.dim[k] = 1;
    v->real = wg_input(g, exp_batch_shape(e, v->n_critic), "eval_real");
    v->eps = wg_input(g, per_sample, "eval_eps");
    v->eps2 = wg_input(g, per_sample, "eval_eps2");
    wg_node line = wg_sub(g, v->real, fake);
    wg_node at[3] = {v->real, fake, wg_add(g, fake, wg_mul(g, v->eps, line))};
    for (int i = 0; i < 3 && s == WG_OK; i++)
        s = exp_input_grad_norm(e, &b, at[i], &v->score[i], &v->norm[i]);
    if (s == WG_OK)
        s = exp_apply_critic(e, &b, wg_add(g, fake, wg_mul(g, v->eps2, line)), &v->score[3]);
    s = exp_traced(&b, s, "evaluation");
    wg_build_end(&b);
    return s;
}

/* The fixed inputs, and W1 between two independent real sets: the floor that W1
 * between generated and real samples of this size can reach. */
static wg_status write_inputs(wg_experiment *e, exp_eval *v) {
    int64_t numel = e->plugins.sample_numel,
            n_real = v->has_w1 || v->n_modes ? v->samples : v->n_critic;
    int64_t nc = v->n_critic;
    v->fake_host = malloc((size_t)(v->n_gen * numel) * sizeof(float));
    v->real_host = malloc((size_t)(n_real * numel) * sizeof(float));
    v->eps_host = malloc((size_t)(2 * nc) * sizeof(float));
    v->out_host = malloc((size_t)(7 * nc) * sizeof(float));
    float *noise = malloc((size_t)(v->n_gen * e->plugins.noise_dim) * sizeof(float));
    if (!v->fake_host || !v->real_host || !v->eps_host || !v->out_host || !noise) {
        free(noise);
        return wg_fail(WG_ERR_NOMEM, "out of memory for the evaluation");
    }
    draw(noise, v->n_gen * e->plugins.noise_dim, (wg_init){WG_INIT_NORMAL, 0, 1, 0}, NOISE_KEY,
         e->cfg.seed);
    draw(v->eps_host, 2 * nc, (wg_init){WG_INIT_UNIFORM, 0, 1, 0}, EPS_KEY, e->cfg.seed);
    wg_status s = wg_session_write(e->steps.session, v->noise, noise);
    free(noise);
    if (s == WG_OK) s = data_batch(e, DATA_INDEX, n_real, v->real_host);
    if (s == WG_OK) s = wg_session_write(e->steps.session, v->real, v->real_host);
    if (s == WG_OK) s = wg_session_write(e->steps.session, v->eps, v->eps_host);
    if (s == WG_OK) s = wg_session_write(e->steps.session, v->eps2, v->eps_host + nc);
    if (s != WG_OK || !(v->has_w1 || v->n_modes)) return s;

    v->real_points = malloc((size_t)(v->samples * numel) * sizeof(double));
    v->fake_points = malloc((size_t)(v->samples * numel) * sizeof(double));
    v->mode_counts = malloc((size_t)(v->n_modes ? v->n_modes : 1) * sizeof(int64_t));
    float *other = malloc((size_t)(v->samples * numel) * sizeof(float));
    double *other_points = malloc((size_t)(v->samples * numel) * sizeof(double));
    if (!v->real_points || !v->fake_points || !v->mode_counts || !other || !other_points)
        s = wg_fail(WG_ERR_NOMEM, "out of memory for the evaluation");
    if (s == WG_OK) {
        to_double(v->real_host, v->samples * numel, v->real_points);
        v->w1_floor = NAN;
        if (v->has_w1) s = data_batch(e, DATA_INDEX + 1, v->samples, other);
        if (s == WG_OK && v->has_w1) {
            to_double(other, v->samples * numel, other_points);
            s = w1_of(v->real_points, other_points, v->samples, (int)numel, &v->w1_floor);
        }
    }
    free(other);
    free(other_points);
    return s;
}

static wg_status trace_fid(wg_experiment *e, exp_eval *v) {
    v->fid_chunk = v->fid_samples < FID_CHUNK ? v->fid_samples : FID_CHUNK;
    wg_build b;
    exp_begin_build(e, &b, "eval_fid", v->fid_chunk);
    v->fid_noise =
        wg_input(e->steps.graph, wg_shape2(v->fid_chunk, e->plugins.noise_dim), "fid_noise");
    wg_status s =
        exp_traced(&b, exp_apply_generator(e, &b, v->fid_noise, &v->fid_out), "FID sampler");
    wg_build_end(&b);
    return s;
}

static wg_status build_fid(wg_experiment *e, exp_eval *v) {
    wg_status s = plan_of(e, 1, &v->fid_out, &v->fid_plan);
    if (s != WG_OK) return s;
    int64_t n = v->fid_samples * e->plugins.noise_dim;
    v->fid_noise_host = malloc((size_t)n * sizeof(float));
    if (!v->fid_noise_host) return wg_fail(WG_ERR_NOMEM, "out of memory for FID noise");
    draw(v->fid_noise_host, n, (wg_init){WG_INIT_NORMAL, 0, 1, 0}, FID_NOISE_KEY, e->cfg.seed);
    return WG_OK;
}

wg_status exp_eval_trace(wg_experiment *e) {
    exp_eval *v = e->eval;
    if (!v) return WG_OK;
    bool points = e->plugins.layout == WG_DATA_POINTS;
    int dim = (int)e->plugins.sample_numel;
    v->has_w1 = points && dim <= 2;
    const wg_data_vtable *data = &e->plugins.data.plugin->vt.data;
    if (points && data->modes) {
        int count = 0, mode_dim = 0;
        const double *centers = NULL;
        double std = 0;
        wg_status s = data->modes(e->plugins.data.state, &count, &centers, &mode_dim, &std);
        if (s != WG_OK) return s;
        if (count > 0 && centers && mode_dim == dim && std > 0) {
            v->n_modes = count;
            v->centers = centers;
            v->mode_std = std;
        }
    }
    v->n_critic = v->critic_samples;
    v->n_gen = v->has_w1 || v->n_modes ? v->samples : v->n_critic;
    wg_status s = add_columns(e, v);
    if (s == WG_OK && v->enabled) s = trace_plan(e, v);
    if (s == WG_OK && v->fid) s = trace_fid(e, v);
    return s;
}

wg_status exp_eval_build(wg_experiment *e) {
    exp_eval *v = e->eval;
    if (!v) return WG_OK;
    wg_status s = WG_OK;
    if (v->enabled) {
        const wg_node targets[] = {v->fake,     v->score[0], v->score[1], v->score[2],
                                   v->score[3], v->norm[0],  v->norm[1],  v->norm[2]};
        s = plan_of(e, (int)(sizeof targets / sizeof *targets), targets, &v->plan);
        if (s == WG_OK) s = write_inputs(e, v);
    }
    if (s == WG_OK && v->fid) s = build_fid(e, v);
    return s;
}

/* ---- FID ---- */

/* Features of n images, into a new array. */
static wg_status features_of(exp_eval *v, const float *images, int64_t n, double **out) {
    *out = malloc((size_t)(n * WG_CLASSIFIER_FEATURES) * sizeof **out);
    if (!*out) return wg_fail(WG_ERR_NOMEM, "out of memory for features");
    return wg_classifier_features(v->classifier, images, n, *out, NULL);
}

/* The classifier (trained now when there is no cache), the features of the first
 * fid_samples test images, and the FID between them and as many training images. */
static wg_status start_fid(wg_experiment *e, exp_eval *v) {
    double t0 = wg_clock_seconds();
    wg_classifier_options o = v->classifier_options;
    o.verbose = e->loop.progress != WG_PROGRESS_QUIET;
    bool cached = wg_file_exists(o.path);
    if (!cached) exp_log(e, "FID: no classifier at %s; training one on %s (once)", o.path, o.data);
    wg_status s = wg_device_open("cpu", &v->cpu);
    if (s == WG_OK) s = wg_classifier_open(v->cpu, &o, false, &v->classifier);
    if (s != WG_OK) return s;
    wg_classifier_info info = wg_classifier_info_get(v->classifier);
    if (info.trained_now)
        exp_log(e,
                "FID classifier: %d epochs on %" PRId64 " images in %.0f s, test accuracy %.4f on "
                "%" PRId64 " images; cached in %s",
                info.epochs, info.train_images, info.train_seconds, info.test_accuracy,
                info.test_images, o.path);
    else
        exp_log(e, "FID classifier: %s, test accuracy %.4f", o.path, info.test_accuracy);
    wg_fashion_set test = {0}, train = {0};
    double *train_features = NULL;
    wg_gaussian train_gaussian = {0};
    s = wg_fashion_load(o.data, false, v->fid_samples, &test);
    if (s == WG_OK && test.count < v->fid_samples)
        s = wg_fail(WG_ERR_CONFIG, "eval.fid_samples is %" PRId64 ", the test set has %" PRId64,
                    v->fid_samples, test.count);
    if (s == WG_OK) s = wg_fashion_load(o.data, true, v->fid_samples, &train);
    if (s == WG_OK) s = features_of(v, test.images, test.count, &v->real_features);
    if (s == WG_OK)
        s = wg_gaussian_fit(v->real_features, test.count, WG_CLASSIFIER_FEATURES,
                            &v->real_gaussian);
    if (s == WG_OK) s = features_of(v, train.images, train.count, &train_features);
    if (s == WG_OK)
        s = wg_gaussian_fit(train_features, train.count, WG_CLASSIFIER_FEATURES, &train_gaussian);
    if (s == WG_OK) s = wg_metric_frechet(&v->real_gaussian, &train_gaussian, &v->fid_floor);
    if (s == WG_OK)
        exp_log(e, "FID between %" PRId64 " training and test images: %.4g (FID set-up %.1f s)",
                v->fid_samples, v->fid_floor, wg_clock_seconds() - t0);
    wg_gaussian_free(&train_gaussian);
    free(train_features);
    wg_fashion_free(&test);
    wg_fashion_free(&train);
    return s;
}

static wg_status compute_fid(wg_experiment *e, exp_eval *v) {
    double t0 = wg_clock_seconds();
    int64_t n = v->fid_samples, numel = e->plugins.sample_numel;
    float *images = malloc((size_t)(n * numel) * sizeof *images);
    float *chunk = malloc((size_t)(v->fid_chunk * numel) * sizeof *chunk);
    double *features = NULL;
    wg_gaussian generated = {0};
    wg_status s = images && chunk ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory for FID");
    for (int64_t at = 0; at < n && s == WG_OK; at += v->fid_chunk) {
        /* a short last chunk is the last fid_chunk noise rows; only its new rows count */
        int64_t m = n - at < v->fid_chunk ? n - at : v->fid_chunk;
        int64_t from = at + v->fid_chunk <= n ? at : n - v->fid_chunk;
        s = wg_session_write(e->steps.session, v->fid_noise,
                             v->fid_noise_host + from * e->plugins.noise_dim);
        if (s == WG_OK) s = exp_run_aside(e, v->fid_plan);
        if (s == WG_OK) s = wg_plan_read(v->fid_plan, v->fid_out, chunk);
        if (s == WG_OK)
            memcpy(images + at * numel, chunk + (at - from) * numel, (size_t)(m * numel) * 4);
    }
    if (s == WG_OK) s = features_of(v, images, n, &features);
    v->fid_value = v->kid.mean = v->kid.std = NAN;
    wg_status m = s == WG_OK ? wg_gaussian_fit(features, n, WG_CLASSIFIER_FEATURES, &generated) : s;
    if (m == WG_OK) m = wg_metric_frechet(&v->real_gaussian, &generated, &v->fid_value);
    wg_kid_options kid = wg_kid_options_default();
    kid.n_subsets = KID_SUBSETS;
    kid.seed = e->cfg.seed;
    if (m == WG_OK)
        m = wg_metric_kid(v->real_features, n, features, n, WG_CLASSIFIER_FEATURES, &kid, &v->kid);
    /* generated images that are not finite have no FID; the run goes on */
    if (s == WG_OK && m != WG_OK && m != WG_ERR_NUMERIC) s = m;
    wg_gaussian_free(&generated);
    free(features);
    free(images);
    free(chunk);
    v->have_fid = s == WG_OK;
    v->fid_step = e->loop.gen_step;
    v->fid_seconds = wg_clock_seconds() - t0;
    return s;
}

/* ---- at log steps ---- */

static void set_column(wg_experiment *e, const exp_eval *v, int which, double value) {
    if (v->column[which] >= 0) exp_set_value(e, v->column[which], value);
}

/* NaN in place of a metric whose inputs were not finite (a diverging generator). */
static wg_status metric(wg_status s, double *value) {
    if (s == WG_ERR_NUMERIC || s == WG_ERR_INVALID) {
        *value = NAN;
        return WG_OK;
    }
    return s;
}

static wg_status sample_quality(wg_experiment *e, exp_eval *v) {
    int dim = (int)e->plugins.sample_numel;
    to_double(v->fake_host, v->samples * dim, v->fake_points);
    wg_status s = WG_OK;
    if (v->has_w1) {
        double w1 = NAN;
        s = metric(w1_of(v->fake_points, v->real_points, v->samples, dim, &w1), &w1);
        v->w1_value = w1;
        set_column(e, v, EV_W1, w1);
    }
    if (s == WG_OK && v->n_modes) {
        double hq = 0;
        wg_status m = wg_metric_modes(v->fake_points, v->samples, dim, v->centers, v->n_modes,
                                      v->mode_std, NULL, &v->modes, v->mode_counts);
        if (m != WG_OK) v->modes = (wg_mode_stats){.n_modes = v->n_modes, .covered = -1};
        s = metric(m, &hq);
        set_column(e, v, EV_MODES, m == WG_OK ? v->modes.covered : NAN);
        set_column(e, v, EV_HQ, m == WG_OK ? v->modes.high_quality_share : NAN);
    }
    return s;
}

static wg_status lipschitz(wg_experiment *e, exp_eval *v) {
    int64_t nc = v->n_critic, numel = e->plugins.sample_numel;
    const float *scores = v->out_host, *norms = v->out_host + 4 * nc;
    double *buf = malloc((size_t)nc * sizeof *buf);
    double *x = malloc((size_t)(4 * nc * numel) * sizeof *x), *y = x + 2 * nc * numel;
    double *f = malloc((size_t)(4 * nc) * sizeof *f);
    wg_status s = buf && x && f ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory");
    double top = 0;
    for (int k = 0; k < 3 && s == WG_OK; k++) {
        to_double(norms + k * nc, nc, buf);
        double mean = NAN;
        wg_status m = wg_metric_norm_stats(buf, nc, NORM_TOL, &v->norms[k]);
        if (m == WG_OK) mean = v->norms[k].mean;
        top = m == WG_OK ? fmax(top, v->norms[k].max) : NAN;
        s = metric(m, &mean);
        set_column(e, v, EV_GRAD_REAL + k, mean);
    }
    set_column(e, v, EV_GRAD_MAX, top);
    /* pairs (real_i, generated_i), then two points on the line between them */
    for (int64_t i = 0; i < nc && s == WG_OK; i++) {
        const float *r = v->real_host + i * numel, *g = v->fake_host + i * numel;
        double e1 = v->eps_host[i], e2 = v->eps_host[nc + i];
        for (int64_t j = 0; j < numel; j++) {
            x[i * numel + j] = r[j];
            y[i * numel + j] = g[j];
            x[(nc + i) * numel + j] = g[j] + e1 * ((double)r[j] - g[j]);
            y[(nc + i) * numel + j] = g[j] + e2 * ((double)r[j] - g[j]);
        }
        f[i] = scores[i];
        f[2 * nc + i] = scores[nc + i];
        f[nc + i] = scores[2 * nc + i];
        f[3 * nc + i] = scores[3 * nc + i];
    }
    double pair_max = NAN, pair_mean = NAN;
    if (s == WG_OK) {
        wg_status m = wg_metric_lipschitz_pairs(x, y, f, f + 2 * nc, 2 * nc, (int)numel, &v->pairs);
        if (m == WG_OK) {
            pair_max = v->pairs.max_ratio;
            pair_mean = v->pairs.mean_ratio;
        } else {
            v->pairs = (wg_lipschitz_estimate){NAN, NAN, -1, 0};
        }
        s = metric(m, &pair_max);
    }
    set_column(e, v, EV_PAIR_MAX, pair_max);
    set_column(e, v, EV_PAIR_MEAN, pair_mean);
    free(buf);
    free(x);
    free(f);
    return s;
}

static wg_status evaluate(wg_experiment *e, exp_eval *v) {
    double t0 = wg_clock_seconds();
    wg_status s = WG_OK;
    if (v->enabled) {
        int64_t nc = v->n_critic;
        s = exp_run_aside(e, v->plan);
        if (s == WG_OK) s = wg_plan_read(v->plan, v->fake, v->fake_host);
        for (int k = 0; k < 4 && s == WG_OK; k++)
            s = wg_plan_read(v->plan, v->score[k], v->out_host + k * nc);
        for (int k = 0; k < 3 && s == WG_OK; k++)
            s = wg_plan_read(v->plan, v->norm[k], v->out_host + (4 + k) * nc);
        if (s == WG_OK && (v->has_w1 || v->n_modes)) s = sample_quality(e, v);
        if (s == WG_OK) s = lipschitz(e, v);
        v->step = e->loop.gen_step;
        v->have_step = s == WG_OK;
        v->evaluations++;
        v->seconds += wg_clock_seconds() - t0;
    }
    bool last = e->loop.gen_step == e->cfg.steps;
    if (s == WG_OK && v->fid &&
        (last || (v->fid_every > 0 && e->loop.gen_step % v->fid_every == 0))) {
        s = compute_fid(e, v);
        set_column(e, v, EV_FID, v->have_fid ? v->fid_value : NAN);
        set_column(e, v, EV_KID, v->have_fid ? v->kid.mean : NAN);
    }
    return s;
}

/* With the generator's average swapped in when samples come from it. */
wg_status exp_eval_step(wg_experiment *e) {
    exp_eval *v = e->eval;
    if (!v) return WG_OK;
    wg_status s = exp_swap_ema(e);
    if (s != WG_OK) return s;
    s = evaluate(e, v);
    wg_status back = exp_swap_ema(e);
    return s == WG_OK ? back : s;
}

wg_status exp_eval_start(wg_experiment *e) {
    exp_eval *v = e->eval;
    return v && v->fid ? start_fid(e, v) : WG_OK;
}

/* ---- at the end ---- */

/* The logged series of metrics.csv as the health check takes it. */
static wg_status health_of(const wg_experiment *e, wg_health_report *report) {
    const char *text = e->run.metrics_csv.data ? e->run.metrics_csv.data : "";
    static const char *const wanted[4] = {"step", "w_estimate", "critic_loss", "generator_loss"};
    int at[4] = {-1, -1, -1, -1}, column = 0;
    const char *end = strchr(text, '\n');
    for (const char *p = text; end && p < end; column++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = (size_t)((comma ? comma : end) - p);
        for (int k = 0; k < 4; k++)
            if (strlen(wanted[k]) == len && !strncmp(p, wanted[k], len)) at[k] = column;
        p = comma ? comma + 1 : end;
    }
    int64_t rows = 0;
    for (const char *p = end ? end + 1 : text; *p; p++) rows += *p == '\n';
    int64_t *steps = malloc((size_t)(rows + 1) * sizeof *steps);
    double *values = malloc((size_t)(3 * rows + 1) * sizeof *values);
    if (!steps || !values) {
        free(steps);
        free(values);
        return wg_fail(WG_ERR_NOMEM, "out of memory");
    }
    double *w = values, *critic = values + rows, *gen = values + 2 * rows;
    int64_t n = 0;
    for (const char *line = end ? end + 1 : text; at[0] >= 0 && at[1] >= 0 && *line;) {
        const char *stop = strchr(line, '\n');
        if (!stop) break;
        double field[4] = {NAN, NAN, NAN, NAN};
        const char *p = line;
        for (int c = 0; p && p < stop; c++) {
            for (int k = 0; k < 4; k++)
                if (at[k] == c) field[k] = strtod(p, NULL);
            p = memchr(p, ',', (size_t)(stop - p));
            if (p) p++;
        }
        if (n == 0 || (int64_t)field[0] > steps[n - 1]) {
            steps[n] = (int64_t)field[0];
            w[n] = field[1];
            critic[n] = field[2];
            gen[n] = field[3];
            n++;
        }
        line = stop + 1;
    }
    wg_health_series series = {n, steps, w, at[2] >= 0 ? critic : NULL, at[3] >= 0 ? gen : NULL};
    wg_status s = wg_metric_health(&series, NULL, report);
    free(steps);
    free(values);
    return s;
}

/* A line in the log and, unless quiet, on stderr. */
static void say(wg_experiment *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(wg_experiment *e, const char *fmt, ...) {
    char line[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    exp_log(e, "%s", line);
    if (e->loop.progress != WG_PROGRESS_QUIET) fprintf(stderr, "%s\n", line);
}

void exp_eval_finish(wg_experiment *e) {
    exp_eval *v = e->eval;
    if (!v) return;
    if (v->have_step) {
        char quality[256] = "";
        if (v->has_w1)
            snprintf(quality, sizeof quality, "W1 %.4g (two real sets: %.4g)", v->w1_value,
                     v->w1_floor);
        if (v->n_modes && v->modes.covered >= 0)
            snprintf(quality + strlen(quality), sizeof quality - strlen(quality),
                     "%smodes %d of %d, high-quality share %.3f", *quality ? ", " : "",
                     v->modes.covered, v->n_modes, v->modes.high_quality_share);
        say(e,
            "evaluation at step %" PRId64 ": %s%scritic |grad| mean %.3g real, %.3g generated, "
            "%.3g interpolated, max %.3g; difference quotient max %.3g",
            v->step, quality, *quality ? "; " : "", v->norms[0].mean, v->norms[1].mean,
            v->norms[2].mean, fmax(v->norms[0].max, fmax(v->norms[1].max, v->norms[2].max)),
            v->pairs.max_ratio);
    }
    if (v->have_fid)
        say(e,
            "FID %.4g, KID %.4g +- %.2g at step %" PRId64 " (%" PRId64 " samples; features of "
            "wgan's Fashion-MNIST classifier, not Inception; training vs test images: FID %.4g)",
            v->fid_value, v->kid.mean, v->kid.std, v->fid_step, v->fid_samples, v->fid_floor);
    v->have_health = health_of(e, &v->health) == WG_OK;
    if (!v->have_health) return;
    int pass = 0, skipped = 0;
    for (int i = 0; i < WG_HEALTH_COUNT; i++) {
        pass += v->health.checks[i].verdict == WG_VERDICT_PASS;
        skipped += v->health.checks[i].verdict == WG_VERDICT_SKIPPED;
    }
    say(e, "training health: %s (%d of %d checks pass, %d skipped, over %" PRId64 " logged rows)",
        v->health.all_pass ? "pass" : "fail", pass, WG_HEALTH_COUNT, skipped, v->health.n_points);
    for (int i = 0; i < WG_HEALTH_COUNT; i++) {
        const wg_health_check *c = &v->health.checks[i];
        say(e, "  %-20s %-8s %s", c->name, wg_verdict_name(c->verdict), c->reason);
    }
}

/* ---- summary.json ---- */

static void json_key(wg_buf *b, const char *indent, const char *key) {
    wg_buf_puts(b, indent);
    wg_buf_json_string(b, key);
    wg_buf_puts(b, ": ");
}

static void json_norms(wg_buf *b, const wg_norm_stats *n) {
    wg_buf_printf(b, "{\"n\": %" PRId64 ", \"mean\": ", n->n);
    wg_buf_json_number(b, n->mean);
    wg_buf_puts(b, ", \"std\": ");
    wg_buf_json_number(b, n->std);
    wg_buf_puts(b, ", \"min\": ");
    wg_buf_json_number(b, n->min);
    wg_buf_puts(b, ", \"max\": ");
    wg_buf_json_number(b, n->max);
    wg_buf_puts(b, ", \"share_above\": ");
    wg_buf_json_number(b, n->share_above);
    wg_buf_puts(b, ", \"share_below\": ");
    wg_buf_json_number(b, n->share_below);
    wg_buf_puts(b, "}");
}

static void summary_evaluation(const exp_eval *v, wg_buf *b) {
    json_key(b, "  ", "evaluation");
    wg_buf_printf(b, "{\n    \"enabled\": %s,\n", v->enabled ? "true" : "false");
    if (!v->enabled) {
        wg_buf_puts(b, "    \"evaluations\": 0\n  },\n");
        return;
    }
    json_key(b, "    ", "samples");
    if (v->has_w1 || v->n_modes)
        wg_buf_printf(b, "%" PRId64, v->samples);
    else
        wg_buf_puts(b, "null");
    wg_buf_printf(b,
                  ",\n    \"critic_samples\": %" PRId64 ",\n    \"evaluations\": %" PRId64
                  ",\n    \"seconds_per_evaluation\": ",
                  v->n_critic, v->evaluations);
    wg_buf_json_number(b, v->evaluations ? v->seconds / (double)v->evaluations : NAN);
    wg_buf_puts(b, ",\n");
    if (v->has_w1) {
        json_key(b, "    ", "w1_floor");
        wg_buf_json_number(b, v->w1_floor);
        wg_buf_puts(b, ",\n");
    }
    if (v->n_modes) {
        wg_mode_options o = wg_mode_options_default();
        wg_buf_printf(b, "    \"modes\": {\"count\": %d, \"std\": ", v->n_modes);
        wg_buf_json_number(b, v->mode_std);
        wg_buf_printf(b, ", \"radius\": %g, \"min_share\": %g},\n", o.radius, o.min_share);
    }
    json_key(b, "    ", "final");
    if (!v->have_step) {
        wg_buf_puts(b, "null\n  },\n");
        return;
    }
    wg_buf_printf(b, "{\n      \"step\": %" PRId64 ",\n", v->step);
    if (v->has_w1) {
        json_key(b, "      ", "w1");
        wg_buf_json_number(b, v->w1_value);
        wg_buf_puts(b, ",\n");
    }
    if (v->n_modes && v->modes.covered >= 0) {
        wg_buf_printf(b,
                      "      \"modes_covered\": %d,\n      \"mode_threshold\": %" PRId64
                      ",\n      \"high_quality_share\": ",
                      v->modes.covered, v->modes.threshold);
        wg_buf_json_number(b, v->modes.high_quality_share);
        wg_buf_puts(b, ",\n      \"mode_counts\": [");
        for (int m = 0; m < v->n_modes; m++)
            wg_buf_printf(b, "%s%" PRId64, m ? ", " : "", v->mode_counts[m]);
        wg_buf_puts(b, "],\n");
    }
    wg_buf_printf(b, "      \"grad_norm\": {\"tol\": %g", NORM_TOL);
    for (int k = 0; k < 3; k++) {
        wg_buf_printf(b, ",\n        \"%s\": ", norm_sets[k]);
        json_norms(b, &v->norms[k]);
    }
    wg_buf_puts(b, "},\n      \"difference_quotients\": {\"max\": ");
    wg_buf_json_number(b, v->pairs.max_ratio);
    wg_buf_puts(b, ", \"mean\": ");
    wg_buf_json_number(b, v->pairs.mean_ratio);
    wg_buf_printf(b, ", \"pairs\": %" PRId64 "}\n    }\n  },\n", v->pairs.n_used);
}

static void summary_fid(const exp_eval *v, wg_buf *b) {
    json_key(b, "  ", "fid");
    wg_buf_puts(b, "{\n    \"feature_space\": ");
    wg_buf_json_string(b, "the 128 penultimate-layer features of wgan's own Fashion-MNIST "
                          "classifier: not Inception-v3, not comparable to published FID or KID");
    wg_buf_printf(b, ",\n    \"samples\": %" PRId64 ",\n    \"step\": ", v->fid_samples);
    if (v->have_fid)
        wg_buf_printf(b, "%" PRId64, v->fid_step);
    else
        wg_buf_puts(b, "null");
    wg_buf_puts(b, ",\n    \"fid\": ");
    wg_buf_json_number(b, v->have_fid ? v->fid_value : NAN);
    wg_buf_puts(b, ",\n    \"kid\": ");
    wg_buf_json_number(b, v->have_fid ? v->kid.mean : NAN);
    wg_buf_puts(b, ",\n    \"kid_std\": ");
    wg_buf_json_number(b, v->have_fid ? v->kid.std : NAN);
    wg_buf_printf(b,
                  ",\n    \"kid_subsets\": %d,\n    \"kid_subset_size\": %" PRId64
                  ",\n    \"fid_train_vs_test\": ",
                  KID_SUBSETS, v->fid_samples < 1000 ? v->fid_samples : 1000);
    wg_buf_json_number(b, v->classifier ? v->fid_floor : NAN);
    wg_buf_puts(b, ",\n    \"seconds\": ");
    wg_buf_json_number(b, v->have_fid ? v->fid_seconds : NAN);
    wg_buf_puts(b, ",\n    \"classifier\": {\"path\": ");
    wg_buf_json_string(b, v->classifier_options.path);
    wg_classifier_info info = v->classifier ? wg_classifier_info_get(v->classifier)
                                            : (wg_classifier_info){.test_accuracy = NAN};
    wg_buf_puts(b, ", \"test_accuracy\": ");
    wg_buf_json_number(b, info.test_accuracy);
    wg_buf_printf(
        b, ", \"test_images\": %" PRId64 ", \"train_images\": %" PRId64 ", \"epochs\": %d}\n  },\n",
        info.test_images, info.train_images, info.epochs);
}

static void summary_health(const exp_eval *v, wg_buf *b) {
    json_key(b, "  ", "health");
    if (!v->have_health) {
        wg_buf_puts(b, "null,\n");
        return;
    }
    const wg_health_report *h = &v->health;
    wg_buf_printf(b,
                  "{\n    \"verdict\": \"%s\",\n    \"all_pass\": %s,\n    \"points\": %" PRId64
                  ",\n    \"checks\": {",
                  h->all_pass ? "pass" : "fail", h->all_pass ? "true" : "false", h->n_points);
    for (int i = 0; i < WG_HEALTH_COUNT; i++) {
        const wg_health_check *c = &h->checks[i];
        wg_buf_printf(b, "%s\n      ", i ? "," : "");
        wg_buf_json_string(b, c->name);
        wg_buf_printf(b, ": {\"verdict\": \"%s\", \"reason\": ", wg_verdict_name(c->verdict));
        wg_buf_json_string(b, c->reason);
        wg_buf_puts(b, ", \"values\": {");
        for (int k = 0; k < c->n_values; k++) {
            wg_buf_puts(b, k ? ", " : "");
            wg_buf_json_string(b, c->values[k].name);
            wg_buf_puts(b, ": ");
            wg_buf_json_number(b, c->values[k].value);
        }
        wg_buf_puts(b, "}}");
    }
    wg_buf_puts(b, "\n    }\n  },\n");
}

void exp_eval_summary(const wg_experiment *e, wg_buf *b) {
    const exp_eval *v = e->eval;
    if (!v) return;
    summary_evaluation(v, b);
    if (v->fid) summary_fid(v, b);
    summary_health(v, b);
}

void exp_eval_free(wg_experiment *e) {
    exp_eval *v = e->eval;
    if (!v) return;
    wg_plan_free(v->plan);
    wg_plan_free(v->fid_plan);
    wg_classifier_free(v->classifier);
    if (v->cpu) wg_device_close(v->cpu);
    wg_gaussian_free(&v->real_gaussian);
    free(v->real_features);
    free(v->fid_noise_host);
    free(v->fake_host);
    free(v->real_host);
    free(v->eps_host);
    free(v->out_host);
    free(v->real_points);
    free(v->fake_points);
    free(v->mode_counts);
    free(v);
    e->eval = NULL;
}
