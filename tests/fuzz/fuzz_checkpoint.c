/* The safetensors reader and the checkpoint loader: the input is a checkpoint file. It
 * is read and walked, then restored into a small experiment (the toy MLP WGAN-GP on 8
 * gaussians), prepared once, as `wgan run --resume` would restore it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "io/safetensors.h"
#include "train/experiment.h"
#include "train/train_internal.h"

static const char experiment_yaml[] = "name: fuzz\n"
                                      "seed: 7\n"
                                      "device: cpu\n"
                                      "data: {plugin: 8gaussians}\n"
                                      "arch: {plugin: mlp, hidden: [4]}\n"
                                      "loss: {plugin: wasserstein}\n"
                                      "lipschitz: {plugin: gradient_penalty}\n"
                                      "train: {batch: 8, steps: 100}\n";

static wg_experiment *experiment;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *config = fz_path("experiment.yaml");
    fz_write(config, experiment_yaml, strlen(experiment_yaml));
    wg_experiment_options options = {
        .config_path = config, .out_dir = fz_scratch(), .progress = WG_PROGRESS_QUIET};
    if (wg_experiment_load(&options, &experiment) != WG_OK ||
        wg_experiment_prepare(experiment) != WG_OK)
        fz_fail("the experiment a checkpoint is restored into");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_path("checkpoint.safetensors");
    fz_write(path, data, size);

    wg_safetensors *f = NULL;
    if (wg_safetensors_read(path, &f) == WG_OK) {
        for (int i = 0; i < wg_safetensors_count(f); i++) {
            const wg_st_tensor *t = wg_safetensors_at(f, i);
            FZ_CHECK(wg_safetensors_find(f, t->name) == t);
            /* every float of every tensor lies in the file */
            volatile float sum = 0;
            for (int64_t k = 0; k < wg_shape_numel(&t->shape); k++) sum += t->data[k];
        }
        (void)wg_safetensors_meta(f, "format");
        wg_safetensors_free(f);
    }

    bool found = false;
    int64_t gen_step, critic_step;
    (void)exp_checkpoint_restore(experiment, &found, &gen_step, &critic_step);
    FZ_CHECK(found);
    return 0;
}
