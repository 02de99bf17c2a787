#include "cli_args.h"

#include <stdio.h>
#include <string.h>

int wg_cli_next(wg_cli_args *args) {
    if (!args->started) {
        optind = 0; /* glibc: start over (every subcommand parses its own argv) */
        opterr = 0; /* the subcommands word their own messages */
        args->started = true;
    }
    int before = optind ? optind : 1;
    /* '-': arguments come back in their order as 1; ':': a missing value is ':' */
    int index = -1;
    int c = getopt_long(args->argc, args->argv, "-:h", args->options, &index);
    snprintf(args->option, sizeof args->option, "--%s",
             index >= 0 ? args->options[index].name : "help");
    if (c == '?' || c == ':')
        /* optind has moved past the offending argument unless it stopped inside a
         * bundle of short options (-xy) */
        args->arg = args->argv[optind > before ? optind - 1 : optind];
    else
        args->arg = optarg;
    return c == -1 ? WG_CLI_DONE : c;
}

int wg_cli_usage_error(const char *command, const char *fmt, const char *arg) {
    fprintf(stderr, "wgan %s: ", command);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see wgan %s --help)\n", command);
    return 2;
}

int wg_cli_option_error(const char *command, int code, const char *arg) {
    return wg_cli_usage_error(
        command, code == WG_CLI_NO_VALUE ? "option '%s' needs a value" : "unknown option '%s'",
        arg);
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
