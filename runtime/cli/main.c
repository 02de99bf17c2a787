/* The wgan command: one subcommand per file in this folder, dispatched here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dist/dist.h"

static const wg_command commands[] = {
    {"run", "train an experiment described by a YAML file", wg_cmd_run},
    {"devices", "list the compute devices wgan can use", wg_cmd_devices},
    {"plugins", "list the plugins found on the search path", wg_cmd_plugins},
    {"bench", "time the training steps of experiments on a device", wg_cmd_bench},
    {"classifier", "train or show the Fashion-MNIST classifier behind FID and KID",
     wg_cmd_classifier},
    {"jsw", "JS divergence against W1 for two 1-D gaussians moved apart", wg_cmd_jsw},
    {"compare", "train experiments x devices x seeds from a sweep file and tabulate them",
     wg_cmd_compare},
    {"report", "write an HTML page of charts and tables about run folders", wg_cmd_report},
    {"sample", "generate samples from a run's checkpoint as PNG, .npy or CSV files", wg_cmd_sample},
};

static void usage(FILE *out) {
    fprintf(out, "usage: wgan <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'wgan <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("wgan %s\n", WGAN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        /* under mpirun or srun: every rank runs the command (docs/scaling.md) */
        if (wg_dist_init(&argc, &argv) != WG_OK) {
            fprintf(stderr, "wgan: %s\n", wg_last_error());
            return 1;
        }
        int code = commands[i].run(argc - 1, argv + 1);
        wg_dist_finalize();
        return code;
    }
    fprintf(stderr, "wgan: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
