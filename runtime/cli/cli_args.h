/* Argument handling shared by the subcommands. */
#ifndef WGAN_CLI_ARGS_H
#define WGAN_CLI_ARGS_H

#include <stdbool.h>

#include "train/experiment.h"

/* Prints "wgan COMMAND: <fmt with arg>" and where the help is; returns exit status 2. */
int wg_cli_usage_error(const char *command, const char *fmt, const char *arg);

/* "bar", "lines" or "quiet" as a progress mode; false for anything else. */
bool wg_cli_progress_mode(const char *text, wg_progress_mode *out);

#endif
