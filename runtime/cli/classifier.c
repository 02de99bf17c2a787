/* wgan classifier: train (once) and cache the Fashion-MNIST classifier whose features
 * wgan's FID and KID use, or show the cached one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "eval/classifier.h"

static void usage(FILE *out) {
    wg_classifier_options d = wg_classifier_defaults();
    fprintf(out,
            "usage: wgan classifier [options]\n"
            "\n"
            "Trains the small Fashion-MNIST convnet whose 128 penultimate-layer features are\n"
            "the feature space of wgan's FID and KID (eval.fid in an experiment), reports its\n"
            "test accuracy and caches its weights; when the cache exists it is loaded and\n"
            "described instead. These FID/KID values compare wgan runs with each other; they\n"
            "are not Inception FID/KID.\n"
            "\n"
            "options:\n"
            "  --out PATH          the cache (default %s)\n"
            "  --data DIR          Fashion-MNIST IDX files (default %s)\n"
            "  --epochs N          training epochs (default %d)\n"
            "  --train-images N    train on the first N images only (default: all)\n"
            "  --test-images N     measure the accuracy on the first N test images (default: all)\n"
            "  --seed N            initialisation and batch order (default %llu)\n"
            "  --device SPEC       where to train (default cpu)\n"
            "  --retrain           train and overwrite the cache even when it exists\n"
            "\n"
            "Exit status: 0 done, 1 failed, 2 bad usage.\n",
            d.path, d.data, d.epochs, (unsigned long long)d.seed);
}

/* A whole non-negative number, or -1. */
static long long count_of(const char *text) {
    char *end;
    long long v = strtoll(text, &end, 10);
    return *text && !*end && v >= 0 ? v : -1;
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"retrain", no_argument, NULL, 'r'},
    {"out", required_argument, NULL, 'o'},
    {"data", required_argument, NULL, 'd'},
    {"device", required_argument, NULL, 'v'},
    {"epochs", required_argument, NULL, 'e'},
    {"train-images", required_argument, NULL, 'n'},
    {"test-images", required_argument, NULL, 't'},
    {"seed", required_argument, NULL, 's'},
    {0},
};

int wg_cmd_classifier(int argc, char **argv) {
    wg_classifier_options o = wg_classifier_defaults();
    o.verbose = true;
    const char *device_spec = "cpu";
    bool retrain = false;
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        long long n = args.arg ? count_of(args.arg) : -1;
        bool ok = true;
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'r': retrain = true; break;
        case 'o': o.path = args.arg; break;
        case 'd': o.data = args.arg; break;
        case 'v': device_spec = args.arg; break;
        case 'e':
            if ((ok = n >= 1 && n <= 1000)) o.epochs = (int)n;
            break;
        case 'n':
            if ((ok = n >= 0)) o.train_images = n;
            break;
        case 't':
            if ((ok = n >= 0)) o.test_images = n;
            break;
        case 's':
            if ((ok = n >= 0)) o.seed = (uint64_t)n;
            break;
        case WG_CLI_NO_VALUE:
            return wg_cli_usage_error("classifier", "option '%s' needs a value, or is unknown",
                                      args.arg);
        default: /* an unknown option, an argument */
            return wg_cli_usage_error("classifier", "bad option or value near '%s'", args.arg);
        }
        if (!ok)
            return wg_cli_usage_error("classifier", "bad option or value near '%s'", args.option);
    }
    wg_device *device = NULL;
    wg_classifier *c = NULL;
    wg_status s = wg_device_open(device_spec, &device);
    if (s == WG_OK) s = wg_classifier_open(device, &o, retrain, &c);
    if (s != WG_OK) {
        fprintf(stderr, "wgan classifier: %s\n", wg_last_error());
        if (device) wg_device_close(device);
        return 1;
    }
    wg_classifier_info info = wg_classifier_info_get(c);
    printf("%s %s\n", info.trained_now ? "trained and cached in" : "cached in", o.path);
    printf("test accuracy %.4f on %lld test images; trained %d epochs on %lld images in %.0f s\n",
           info.test_accuracy, (long long)info.test_images, info.epochs,
           (long long)info.train_images, info.train_seconds);
    wg_classifier_free(c);
    wg_device_close(device);
    return 0;
}
