/* Subcommands of the wgan program. Each returns the process exit status:
 * 0 success, 1 a failure while working, 2 bad usage or configuration. */
#ifndef WGAN_CLI_H
#define WGAN_CLI_H

typedef struct wg_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} wg_command;

int wg_cmd_run(int argc, char **argv);
int wg_cmd_devices(int argc, char **argv);
int wg_cmd_plugins(int argc, char **argv);
int wg_cmd_bench(int argc, char **argv);
int wg_cmd_classifier(int argc, char **argv);
int wg_cmd_jsw(int argc, char **argv);
int wg_cmd_compare(int argc, char **argv);
int wg_cmd_report(int argc, char **argv);
int wg_cmd_sample(int argc, char **argv);

#endif
