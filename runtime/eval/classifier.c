#include "classifier.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/build.h"
#include "io/clock.h"
#include "io/fileio.h"
#include "wgan/optim.h"
#include "wgan/session.h"
#include "io/safetensors.h"
#include "wgan/datafile.h"

#define N_CLASSES 10
#define PIXELS (WG_CLASSIFIER_SIDE * WG_CLASSIFIER_SIDE)
#define CHUNK 250 /* images per run of the feature plan */
#define SHUFFLE_STREAM 0xC1A55000u

wg_classifier_options wg_classifier_defaults(void) {
    return (wg_classifier_options){.path = WG_CLASSIFIER_DEFAULT_PATH,
                                   .data = WG_FASHION_MNIST_DIR,
                                   .epochs = 2,
                                   .batch = 64,
                                   .lr = 1e-3,
                                   .seed = 1};
}

/* ---- IDX files ---- */

/* dir/base or dir/base.gz: an unsigned-byte IDX of `ndim` dimensions (28 x 28 images,
 * or labels), read by the reader the idx data plugin uses. */
static wg_status read_idx(const char *dir, const char *base, int ndim, wg_idx *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, base);
    if (!wg_file_exists(path)) snprintf(path, sizeof path, "%s/%s.gz", dir, base);
    if (!wg_file_exists(path))
        return wg_fail(WG_ERR_IO, "no %s or %s.gz in %s (Debian: dataset-fashion-mnist)", base,
                       base, dir);
    wg_status s = wg_idx_read(path, ndim, WG_IDX_MAX_BYTES, out);
    if (s == WG_OK && ndim == 3 &&
        (out->dim[1] != WG_CLASSIFIER_SIDE || out->dim[2] != WG_CLASSIFIER_SIDE)) {
        wg_idx_free(out);
        return wg_fail(WG_ERR_IO, "%s: images of %lldx%lld, the classifier needs %dx%d", path,
                       (long long)out->dim[1], (long long)out->dim[2], WG_CLASSIFIER_SIDE,
                       WG_CLASSIFIER_SIDE);
    }
    return s;
}

void wg_fashion_free(wg_fashion_set *set) {
    free(set->images);
    free(set->labels);
    *set = (wg_fashion_set){0};
}

wg_status wg_fashion_load(const char *dir, bool train, int64_t max_count, wg_fashion_set *out) {
    *out = (wg_fashion_set){0};
    const char *prefix = train ? "train" : "t10k";
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
    wg_idx image_file = {0}, label_file = {0};
    wg_status s = read_idx(dir, images_name, 3, &image_file);
    if (s == WG_OK) s = read_idx(dir, labels_name, 1, &label_file);
    int64_t n_images = image_file.dim[0], n_labels = label_file.dim[0];
    const uint8_t *pixels = image_file.items, *labels = label_file.items;
    if (s == WG_OK && n_images != n_labels)
        s = wg_fail(WG_ERR_IO, "%s: %" PRId64 " images but %" PRId64 " labels", dir, n_images,
                    n_labels);
    int64_t n = max_count > 0 && max_count < n_images ? max_count : n_images;
    if (s == WG_OK) {
        out->images = malloc((size_t)(n * PIXELS) * sizeof *out->images);
        out->labels = malloc((size_t)n);
        if (!out->images || !out->labels) s = wg_fail(WG_ERR_NOMEM, "out of memory for %s", dir);
    }
    if (s == WG_OK) {
        for (int64_t i = 0; i < n * PIXELS; i++)
            out->images[i] = (float)pixels[i] * (2.0f / 255.0f) - 1.0f;
        for (int64_t i = 0; i < n && s == WG_OK; i++)
            if (labels[i] >= N_CLASSES)
                s = wg_fail(WG_ERR_IO, "%s/%s: label %d out of range", dir, labels_name, labels[i]);
        if (s == WG_OK) memcpy(out->labels, labels, (size_t)n);
        out->count = n;
    }
    wg_idx_free(&image_file);
    wg_idx_free(&label_file);
    if (s != WG_OK) wg_fashion_free(out);
    return s;
}

/* ---- the network ---- */

struct wg_classifier {
    wg_graph *graph;
    wg_registry registry;
    wg_session *session;
    wg_optimizer *optimizer;
    wg_plan *train_plan, *eval_plan;
    wg_node train_x, train_onehot, loss;
    wg_node eval_x, features, logits;
    wg_classifier_info info;
};

static wg_node layer_param(wg_build *b, const char *layer, const char *what, wg_shape shape,
                           int64_t fan_in, wg_param_role role) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    return wg_build_param(b, name, shape, (wg_init){WG_INIT_TORCH_DEFAULT, 0, 0, fan_in}, role);
}

/* 5x5 stride-2 convolution with 'same' padding, bias, ReLU. */
static wg_node conv(wg_build *b, const char *layer, wg_node x, int64_t in, int64_t out) {
    wg_graph *g = wg_build_graph(b);
    wg_node w = layer_param(b, layer, "weight", wg_shape4(out, in, 5, 5), in * 25, WG_PARAM_WEIGHT);
    wg_node bias = layer_param(b, layer, "bias", wg_shape1(out), in * 25, WG_PARAM_BIAS);
    wg_node y = wg_conv2d(g, x, w, (wg_conv_params){2, 2, 2, 2});
    return wg_relu(g, wg_add(g, y, wg_reshape(g, bias, wg_shape4(1, out, 1, 1))));
}

static wg_node linear(wg_build *b, const char *layer, wg_node x, int64_t in, int64_t out) {
    wg_graph *g = wg_build_graph(b);
    wg_node w = layer_param(b, layer, "weight", wg_shape2(out, in), in, WG_PARAM_WEIGHT);
    wg_node bias = layer_param(b, layer, "bias", wg_shape1(out), in, WG_PARAM_BIAS);
    return wg_add(g, wg_matmul(g, x, w, false, true), bias);
}

static void forward(wg_build *b, wg_node x, wg_node *features, wg_node *logits) {
    wg_graph *g = wg_build_graph(b);
    int64_t n = wg_node_shape(g, x).dim[0];
    wg_node h = conv(b, "conv1", x, 1, 32);
    h = conv(b, "conv2", h, 32, 64);
    h = wg_reshape(g, h, wg_shape2(n, 64 * 7 * 7));
    *features = wg_relu(g, linear(b, "fc1", h, 64 * 7 * 7, WG_CLASSIFIER_FEATURES));
    *logits = linear(b, "fc2", *features, WG_CLASSIFIER_FEATURES, N_CLASSES);
}

/* Mean softmax cross-entropy, log-sum-exp composed of plain ops. Softmax is invariant
 * to a shift per row, so centring the logits keeps exp() in range without a max op. */
static wg_node cross_entropy(wg_graph *g, wg_node logits, wg_node onehot) {
    const unsigned classes = 1u << 1;
    wg_node z = wg_sub(g, logits, wg_mean(g, logits, classes, true));
    wg_node lse = wg_log(g, wg_sum(g, wg_exp(g, z), classes, true));
    wg_node picked = wg_sum(g, wg_mul(g, onehot, z), classes, true);
    return wg_mean_all(g, wg_sub(g, lse, picked));
}

static wg_status trace(wg_classifier *c, int64_t batch, bool training) {
    wg_build b;
    wg_build_begin(&b, c->graph, &c->registry, "classifier", batch, NULL, NULL);
    wg_build_set_network(&b, "classifier");
    wg_node x = wg_input(c->graph, wg_shape4(batch, 1, WG_CLASSIFIER_SIDE, WG_CLASSIFIER_SIDE),
                         training ? "classifier_train_x" : "classifier_x");
    wg_node features, logits;
    forward(&b, x, &features, &logits);
    if (training) {
        c->train_x = x;
        c->train_onehot = wg_input(c->graph, wg_shape2(batch, N_CLASSES), "classifier_onehot");
        c->loss = cross_entropy(c->graph, logits, c->train_onehot);
    } else {
        c->eval_x = x;
        c->features = features;
        c->logits = logits;
    }
    wg_status s = wg_build_check(&b);
    wg_build_end(&b);
    return s;
}

static wg_status build_training(wg_classifier *c, const wg_classifier_options *o) {
    wg_status s = trace(c, o->batch, true);
    int n = wg_registry_params(&c->registry, "classifier", NULL, 0);
    wg_node *params = malloc((size_t)n * sizeof *params),
            *grads = malloc((size_t)n * sizeof *grads);
    if (s == WG_OK && (!params || !grads)) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    if (s == WG_OK) {
        wg_registry_params(&c->registry, "classifier", params, n);
        s = wg_grad(c->graph, c->loss, n, params, grads);
    }
    wg_optim_config adam = wg_optim_defaults(WG_OPTIM_ADAM);
    adam.adam.lr = o->lr;
    if (s == WG_OK)
        s = wg_optimizer_new(c->graph, &adam, n, params, grads, "optimizer", &c->optimizer);
    free(params);
    free(grads);
    return s;
}

static wg_status plan_targets(wg_classifier *c, bool training) {
    wg_node eval[] = {c->features, c->logits};
    wg_status s = wg_plan_new(c->session, 2, eval, &c->eval_plan);
    if (s != WG_OK || !training) return s;
    int n = wg_optimizer_update_count(c->optimizer);
    wg_node *targets = malloc((size_t)(n + 1) * sizeof *targets);
    if (!targets) return wg_fail(WG_ERR_NOMEM, "out of memory");
    memcpy(targets, wg_optimizer_updates(c->optimizer), (size_t)n * sizeof *targets);
    targets[n] = c->loss;
    s = wg_plan_new(c->session, n + 1, targets, &c->train_plan);
    free(targets);
    return s;
}

/* ---- features and accuracy ---- */

wg_status wg_classifier_features(wg_classifier *c, const float *images, int64_t n, double *features,
                                 uint8_t *labels) {
    float *x = calloc((size_t)CHUNK * PIXELS, sizeof *x);
    float *f = malloc((size_t)CHUNK * WG_CLASSIFIER_FEATURES * sizeof *f);
    float *logits = malloc((size_t)CHUNK * N_CLASSES * sizeof *logits);
    wg_status s = x && f && logits ? WG_OK : wg_fail(WG_ERR_NOMEM, "out of memory");
    for (int64_t at = 0; at < n && s == WG_OK; at += CHUNK) {
        int64_t m = n - at < CHUNK ? n - at : CHUNK; /* a short last chunk: rows past m unused */
        memcpy(x, images + at * PIXELS, (size_t)(m * PIXELS) * sizeof *x);
        s = wg_session_write(c->session, c->eval_x, x);
        if (s == WG_OK) s = wg_plan_run(c->eval_plan);
        if (s == WG_OK && features) s = wg_plan_read(c->eval_plan, c->features, f);
        if (s == WG_OK && labels) s = wg_plan_read(c->eval_plan, c->logits, logits);
        for (int64_t i = 0; i < m && s == WG_OK; i++) {
            if (features)
                for (int k = 0; k < WG_CLASSIFIER_FEATURES; k++)
                    features[(at + i) * WG_CLASSIFIER_FEATURES + k] =
                        f[i * WG_CLASSIFIER_FEATURES + k];
            if (!labels) continue;
            int best = 0;
            for (int k = 1; k < N_CLASSES; k++)
                if (logits[i * N_CLASSES + k] > logits[i * N_CLASSES + best]) best = k;
            labels[at + i] = (uint8_t)best;
        }
    }
    free(x);
    free(f);
    free(logits);
    return s;
}

static wg_status accuracy(wg_classifier *c, const wg_fashion_set *test, double *out) {
    uint8_t *predicted = malloc((size_t)test->count);
    if (!predicted) return wg_fail(WG_ERR_NOMEM, "out of memory");
    wg_status s = wg_classifier_features(c, test->images, test->count, NULL, predicted);
    int64_t right = 0;
    for (int64_t i = 0; i < test->count && s == WG_OK; i++)
        right += predicted[i] == test->labels[i];
    *out = (double)right / (double)test->count;
    free(predicted);
    return s;
}

/* ---- training ---- */

static wg_status train(wg_classifier *c, const wg_classifier_options *o) {
    double t0 = wg_clock_seconds();
    wg_fashion_set data = {0}, test = {0};
    wg_status s = wg_fashion_load(o->data, true, o->train_images, &data);
    if (s == WG_OK) s = wg_fashion_load(o->data, false, o->test_images, &test);
    if (s == WG_OK && data.count < o->batch)
        s = wg_fail(WG_ERR_INVALID, "classifier: %" PRId64 " training images, fewer than a batch",
                    data.count);
    int64_t *order = s == WG_OK ? malloc((size_t)data.count * sizeof *order) : NULL;
    float *x = s == WG_OK ? malloc((size_t)(o->batch * PIXELS) * sizeof *x) : NULL;
    float *onehot = s == WG_OK ? malloc((size_t)(o->batch * N_CLASSES) * sizeof *onehot) : NULL;
    if (s == WG_OK && (!order || !x || !onehot)) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    const wg_init uniform = {WG_INIT_UNIFORM, 0, 1, 0};
    int64_t per_epoch = data.count / o->batch;
    for (int epoch = 0; epoch < o->epochs && s == WG_OK; epoch++) {
        for (int64_t i = 0; i < data.count; i++) order[i] = i;
        for (int64_t i = data.count - 1; i > 0; i--) { /* Fisher-Yates */
            double u =
                wg_host_draw(&uniform, SHUFFLE_STREAM + (uint32_t)epoch, (uint64_t)i, o->seed);
            int64_t j = (int64_t)(u * (double)(i + 1)), t = order[i];
            if (j > i) j = i;
            order[i] = order[j];
            order[j] = t;
        }
        double last_loss = 0;
        for (int64_t k = 0; k < per_epoch && s == WG_OK; k++) {
            memset(onehot, 0, (size_t)(o->batch * N_CLASSES) * sizeof *onehot);
            for (int64_t r = 0; r < o->batch; r++) {
                int64_t src = order[k * o->batch + r];
                memcpy(x + r * PIXELS, data.images + src * PIXELS, PIXELS * sizeof *x);
                onehot[r * N_CLASSES + data.labels[src]] = 1;
            }
            s = wg_session_write(c->session, c->train_x, x);
            if (s == WG_OK) s = wg_session_write(c->session, c->train_onehot, onehot);
            if (s == WG_OK) s = wg_plan_run(c->train_plan);
            float loss = 0;
            if (s == WG_OK && (k % 50 == 0 || k == per_epoch - 1))
                s = wg_plan_read(c->train_plan, c->loss, &loss);
            if (s == WG_OK && !isfinite(loss))
                s = wg_fail(WG_ERR_NUMERIC, "classifier: the loss is %g in epoch %d", (double)loss,
                            epoch + 1);
            if (k % 50 == 0 || k == per_epoch - 1) last_loss = loss;
        }
        if (s == WG_OK && o->verbose)
            fprintf(stderr, "classifier: epoch %d/%d done, batch loss %.3f, %.0f s\n", epoch + 1,
                    o->epochs, last_loss, wg_clock_seconds() - t0);
    }
    if (s == WG_OK) s = accuracy(c, &test, &c->info.test_accuracy);
    c->info = (wg_classifier_info){.test_accuracy = c->info.test_accuracy,
                                   .test_images = test.count,
                                   .train_images = data.count,
                                   .epochs = o->epochs,
                                   .train_seconds = wg_clock_seconds() - t0,
                                   .trained_now = true};
    free(order);
    free(x);
    free(onehot);
    wg_fashion_free(&data);
    wg_fashion_free(&test);
    return s;
}

/* ---- the cache ---- */

static wg_status save(wg_classifier *c, const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    wg_status s = WG_OK;
    if (slash && slash != dir) {
        *slash = 0;
        s = wg_make_dirs(dir);
    }
    int n = c->registry.count;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += wg_node_numel(c->graph, c->registry.entries[i].node);
    float *data = malloc((size_t)total * sizeof *data);
    wg_st_tensor *tensors = malloc((size_t)n * sizeof *tensors);
    if (s == WG_OK && (!data || !tensors)) s = wg_fail(WG_ERR_NOMEM, "out of memory");
    int64_t at = 0;
    for (int i = 0; i < n && s == WG_OK; i++) {
        const wg_variable_entry *v = &c->registry.entries[i];
        tensors[i] = (wg_st_tensor){v->name, wg_node_shape(c->graph, v->node), data + at};
        s = wg_session_read(c->session, v->node, data + at);
        at += wg_node_numel(c->graph, v->node);
    }
    char accuracy_text[32], test[32], train_n[32], epochs[32], seconds[32];
    snprintf(accuracy_text, sizeof accuracy_text, "%.6f", c->info.test_accuracy);
    snprintf(test, sizeof test, "%" PRId64, c->info.test_images);
    snprintf(train_n, sizeof train_n, "%" PRId64, c->info.train_images);
    snprintf(epochs, sizeof epochs, "%d", c->info.epochs);
    snprintf(seconds, sizeof seconds, "%.1f", c->info.train_seconds);
    const wg_st_meta meta[] = {{"format", WG_CLASSIFIER_FORMAT},
                               {"test_accuracy", accuracy_text},
                               {"test_images", test},
                               {"train_images", train_n},
                               {"epochs", epochs},
                               {"train_seconds", seconds},
                               {"wgan_version", WGAN_VERSION}};
    if (s == WG_OK)
        s = wg_safetensors_write(path, n, tensors, (int)(sizeof meta / sizeof *meta), meta);
    free(data);
    free(tensors);
    return s;
}

static double meta_number(const wg_safetensors *f, const char *key) {
    const char *text = wg_safetensors_meta(f, key);
    return text ? strtod(text, NULL) : NAN;
}

static wg_status load(wg_classifier *c, const char *path) {
    wg_safetensors *f;
    wg_status s = wg_safetensors_read(path, &f);
    if (s != WG_OK) return s;
    const char *format = wg_safetensors_meta(f, "format");
    if (!format || strcmp(format, WG_CLASSIFIER_FORMAT) != 0)
        s = wg_fail(WG_ERR_IO, "%s: not a %s file (format '%s'); delete it to train a new one",
                    path, WG_CLASSIFIER_FORMAT, format ? format : "none");
    for (int i = 0; i < c->registry.count && s == WG_OK; i++) {
        const wg_variable_entry *v = &c->registry.entries[i];
        const wg_st_tensor *t = wg_safetensors_find(f, v->name);
        wg_shape want = wg_node_shape(c->graph, v->node);
        if (!t || !wg_shape_equal(&t->shape, &want))
            s = wg_fail(WG_ERR_IO,
                        "%s: '%s' missing or of another shape; delete it to train a new one", path,
                        v->name);
        else
            s = wg_session_write(c->session, v->node, t->data);
    }
    c->info = (wg_classifier_info){.test_accuracy = meta_number(f, "test_accuracy"),
                                   .test_images = (int64_t)meta_number(f, "test_images"),
                                   .train_images = (int64_t)meta_number(f, "train_images"),
                                   .epochs = (int)meta_number(f, "epochs"),
                                   .train_seconds = meta_number(f, "train_seconds")};
    wg_safetensors_free(f);
    return s;
}

/* ---- open / free ---- */

wg_status wg_classifier_open(wg_device *device, const wg_classifier_options *o, bool retrain,
                             wg_classifier **out) {
    *out = NULL;
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->train_images < 0 || o->test_images < 0)
        return wg_fail(WG_ERR_INVALID, "classifier: bad training options");
    wg_classifier *c = calloc(1, sizeof *c);
    if (!c) return wg_fail(WG_ERR_NOMEM, "out of memory");
    bool training = retrain || !wg_file_exists(o->path);
    c->graph = wg_graph_new(WG_F32);
    wg_status s = c->graph ? trace(c, CHUNK, false) : wg_fail(WG_ERR_NOMEM, "out of memory");
    if (s == WG_OK && training) s = build_training(c, o);
    if (s == WG_OK) s = wg_session_new(c->graph, device, o->seed, &c->session);
    if (s == WG_OK) s = plan_targets(c, training);
    if (s == WG_OK && training) {
        s = wg_registry_initialize(&c->registry, c->session, o->seed);
        if (s == WG_OK) s = train(c, o);
        if (s == WG_OK) s = save(c, o->path);
    } else if (s == WG_OK) {
        s = load(c, o->path);
    }
    if (s != WG_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        wg_classifier_free(c);
        return wg_fail(s, "%s", message);
    }
    *out = c;
    return WG_OK;
}

void wg_classifier_free(wg_classifier *c) {
    if (!c) return;
    wg_plan_free(c->train_plan);
    wg_plan_free(c->eval_plan);
    wg_optimizer_free(c->optimizer);
    wg_session_free(c->session);
    wg_registry_free(&c->registry);
    wg_graph_free(c->graph);
    free(c);
}

wg_classifier_info wg_classifier_info_get(const wg_classifier *c) {
    return c->info;
}
