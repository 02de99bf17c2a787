/* The YAML configuration layer: the input is an experiment file. It is loaded, written
 * back and loaded again (what wg_cfg_write writes must always load), then validated as
 * an experiment: every plugin created and every key checked, nothing trained. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "train/experiment.h"
#include "train/train_internal.h"
#include "wgan/config.h"

static void round_trip(const wg_cfg *cfg, unsigned flags) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FZ_CHECK(f != NULL);
    wg_status s = wg_cfg_write(cfg, f, flags);
    fclose(f);
    if (s == WG_OK) {
        wg_cfg *back = NULL;
        if (wg_cfg_load_string("written.yaml", text, &back) != WG_OK) {
            fprintf(stderr, "--- written:\n%s", text);
            fz_fail("what wg_cfg_write wrote loads back");
        }
        FZ_CHECK(flags || wg_cfg_equal(cfg, back));
        wg_cfg_free(back);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_path("experiment.yaml");
    fz_write(path, data, size);

    wg_cfg *cfg = NULL;
    if (wg_cfg_load_file(path, &cfg) == WG_OK) {
        round_trip(cfg, 0);
        wg_cfg_free(cfg);
    }

    wg_experiment_options options = {
        .config_path = path, .out_dir = fz_path("run"), .progress = WG_PROGRESS_QUIET};
    wg_experiment *e = NULL;
    if (wg_experiment_load(&options, &e) == WG_OK) {
        /* the configuration as a run folder's config.yaml holds it, defaults included */
        round_trip(e->cfg.config, WG_CFG_WRITE_DEFAULTS);
        wg_experiment_free(e);
    }
    return 0;
}
