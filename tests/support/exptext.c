#include "exptext.h"

#include <stdlib.h>

#include "tmpdir.h"

wg_status te_load(const char *dir, const char *run, const char *text, bool resume,
                  int64_t stop_after, wg_experiment **out) {
    char *config = td_join(dir, "exp.yaml"), *folder = td_join(dir, run);
    td_write_text(config, text);
    wg_experiment_options o = {.config_path = resume ? NULL : config,
                               .resume_dir = resume ? folder : NULL,
                               .out_dir = resume ? NULL : folder,
                               .progress = WG_PROGRESS_QUIET,
                               .stop_after = stop_after};
    wg_status s = wg_experiment_load(&o, out);
    free(config);
    free(folder);
    return s;
}
