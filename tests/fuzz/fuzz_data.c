#include "fuzz_data.h"

#include <stdlib.h>

#include "fuzz_support.h"
#include "wgan/config.h"
#include "wgan/plugin.h"

/* the plugin's own entry point (its source is compiled into the target) */
const wg_plugin_desc *const *wg_plugin_entry(int *count);

/* Samples drawn per batch: at most this many values are written. */
#define FZ_MAX_NUMEL (1 << 24)

void fz_data_run(const char *section) {
    int count = 0;
    const wg_plugin_desc *desc = wg_plugin_entry(&count)[0];
    FZ_CHECK(count == 1 && desc->kind == WG_PLUGIN_DATA);
    const wg_data_vtable *vt = desc->vtable;
    wg_cfg *config = NULL;
    FZ_CHECK(wg_cfg_load_string("fuzz.yaml", section, &config) == WG_OK);
    void *state = NULL;
    if (vt->create(config, 1, &state) == WG_OK) {
        wg_shape shape;
        wg_data_layout layout;
        FZ_CHECK(vt->sample_shape(state, &shape, &layout) == WG_OK);
        int64_t numel = wg_shape_numel(&shape);
        FZ_CHECK(shape.ndim >= 1 && numel >= 1);
        /* a few batches of one and two samples, across an epoch boundary */
        if (numel <= FZ_MAX_NUMEL / 2) {
            float *out = malloc((size_t)numel * 2 * sizeof *out);
            FZ_CHECK(out != NULL);
            for (uint64_t index = 0; index < 3; index++)
                for (int64_t n = 1; n <= 2; n++) {
                    wg_status s = vt->batch(state, index, n, out);
                    if (s != WG_OK) continue; /* a set of one sample has no batch of two */
                    for (int64_t i = 0; i < numel * n; i++)
                        FZ_CHECK(out[i] >= -1.0f && out[i] <= 1.0f);
                }
            free(out);
        }
        vt->destroy(state);
    }
    wg_cfg_free(config);
}
