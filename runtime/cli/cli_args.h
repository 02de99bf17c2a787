/* Argument handling shared by the subcommands. */
#ifndef WGAN_CLI_ARGS_H
#define WGAN_CLI_ARGS_H

#include <getopt.h>
#include <stdbool.h>

#include "train/experiment.h"

/* argv[1..] walked with getopt_long: the long options of a table (each one's `val` a
 * letter that is not 'h'; -h and --help are 'h'), the other arguments in their order. */
typedef struct wg_cli_args {
    int argc;
    char **argv;
    const struct option *options; /* ends with {0} */
    const char *arg;              /* the value, the argument, or what was typed when wrong */
    char option[64];              /* "--name" of the option found, for messages */
    bool started;
} wg_cli_args;

enum {
    WG_CLI_DONE = -1,
    WG_CLI_ARGUMENT = 1,   /* an argument that is not an option */
    WG_CLI_UNKNOWN = '?',  /* an option not in the table (or given a value it does not take) */
    WG_CLI_NO_VALUE = ':', /* an option that takes a value came last */
};

/* The next option's `val`, or one of the codes above; `arg` says what it was. */
int wg_cli_next(wg_cli_args *args);

/* Prints "wgan COMMAND: <fmt with arg>" and where the help is; returns exit status 2. */
int wg_cli_usage_error(const char *command, const char *fmt, const char *arg);

/* The usage error for WG_CLI_UNKNOWN ("unknown option '--x'") or WG_CLI_NO_VALUE
 * ("option '--x' needs a value"); returns exit status 2. */
int wg_cli_option_error(const char *command, int code, const char *arg);

/* "bar", "lines" or "quiet" as a progress mode; false for anything else. */
bool wg_cli_progress_mode(const char *text, wg_progress_mode *out);

#endif
