#include "cli_args.h"

#include <stdio.h>
#include <string.h>

int wg_cli_usage_error(const char *command, const char *fmt, const char *arg) {
    fprintf(stderr, "wgan %s: ", command);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see wgan %s --help)\n", command);
    return 2;
}

bool wg_cli_progress_mode(const char *text, wg_progress_mode *out) {
    static const struct {
        const char *name;
        wg_progress_mode mode;
    } modes[] = {
        {"bar", WG_PROGRESS_BAR}, {"lines", WG_PROGRESS_LINES}, {"quiet", WG_PROGRESS_QUIET}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(text, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    return false;
}
