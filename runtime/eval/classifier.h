/* A small Fashion-MNIST classifier trained by wgan's own graph, autodiff and Adam. Its
 * penultimate layer is the feature space of wgan's FID and KID: numbers that compare
 * wgan runs with each other, not with published (Inception-v3) FID or KID values.
 *
 *   x [N, 1, 28, 28] in [-1, 1]
 *   conv1 5x5 stride 2 pad 2, 1 -> 32, ReLU   -> [N, 32, 14, 14]
 *   conv2 5x5 stride 2 pad 2, 32 -> 64, ReLU  -> [N, 64, 7, 7]
 *   fc1 3136 -> 128, ReLU                     -> the features
 *   fc2 128 -> 10                             -> logits, softmax cross-entropy
 *
 * Trained once and cached as safetensors (tensors "classifier.<layer>.<weight|bias>",
 * metadata "format" = WG_CLASSIFIER_FORMAT, "test_accuracy", ...); later uses load the
 * cache. */
#ifndef WGAN_CLASSIFIER_H
#define WGAN_CLASSIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "wgan/device.h"
#include "wgan/status.h"

#define WG_CLASSIFIER_FORMAT "wgan-fashion-classifier-1"
#define WG_CLASSIFIER_FEATURES 128
#define WG_CLASSIFIER_SIDE 28
#define WG_CLASSIFIER_DEFAULT_PATH "runs/.cache/fashion-classifier.safetensors"
#define WG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct wg_classifier_options {
    const char *path;     /* the cached weights */
    const char *data;     /* folder of the Fashion-MNIST IDX files (gzip or plain) */
    int epochs;           /* 2 */
    int64_t train_images; /* the first N training images; 0: all 60000 */
    int64_t test_images;  /* the first N test images measure the accuracy; 0: all 10000 */
    int64_t batch;        /* 64 */
    double lr;            /* Adam 1e-3, betas (0.9, 0.999) */
    uint64_t seed;        /* initialisation and visiting order; 1 */
    bool verbose;         /* a progress line per epoch on stderr */
} wg_classifier_options;

wg_classifier_options wg_classifier_defaults(void);

typedef struct wg_classifier_info {
    double test_accuracy;
    int64_t test_images, train_images;
    int epochs;
    double train_seconds;
    bool trained_now; /* false: loaded from the cache */
} wg_classifier_info;

typedef struct wg_classifier wg_classifier;

/* The classifier cached at options->path; when there is no file there (or `retrain`),
 * one trained now on `device` and written there (folders created). A file that exists
 * but is not a classifier of this format is an error naming it. */
wg_status wg_classifier_open(wg_device *device, const wg_classifier_options *options, bool retrain,
                             wg_classifier **out);
void wg_classifier_free(wg_classifier *classifier);
wg_classifier_info wg_classifier_info_get(const wg_classifier *classifier);

/* n images [1, 28, 28] in [-1, 1], row-major: their features (n x WG_CLASSIFIER_FEATURES)
 * and, when `labels` is not NULL, the predicted classes. */
wg_status wg_classifier_features(wg_classifier *classifier, const float *images, int64_t n,
                                 double *features, uint8_t *labels);

/* A Fashion-MNIST split read whole: images scaled from 0..255 to [-1, 1] as the idx data
 * plugin does, and their labels. */
typedef struct wg_fashion_set {
    int64_t count;
    float *images;   /* count x 28 x 28 */
    uint8_t *labels; /* count */
} wg_fashion_set;

/* The first `max_count` (0: all) images and labels of the train or test split in `dir`
 * (train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], or t10k-...).
 * WG_ERR_IO naming the file when one is missing, truncated or not IDX. */
wg_status wg_fashion_load(const char *dir, bool train, int64_t max_count, wg_fashion_set *out);
void wg_fashion_free(wg_fashion_set *set);

#endif
