/* wgan run: train an experiment, or continue one with --resume. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist/dist.h"
#include "cli_args.h"
#include "train/experiment.h"

static void usage(FILE *out) {
    fprintf(out, "usage: wgan run EXPERIMENT.yaml [options]\n"
                 "       wgan run --resume DIR [--set KEY=VALUE]... [--device SPEC]\n"
                 "\n"
                 "Trains the experiment and writes a run folder: config.yaml, metrics.csv,\n"
                 "samples/, checkpoint.safetensors, summary.json, log.txt, plugins.tsv (the\n"
                 "plugin files used and their SHA-256: --resume loads the same files, and\n"
                 "warns when one changed).\n"
                 "\n"
                 "Under mpirun -n K it trains one run data-parallel: each rank takes 1/K of\n"
                 "every batch, the gradients are summed over the ranks, rank 0 writes the\n"
                 "run folder (docs/scaling.md).\n"
                 "\n"
                 "options:\n"
                 "  --set KEY=VALUE  override a key of the file, e.g. --set train.steps=500\n"
                 "                   (repeatable; VALUE is YAML: 0.5, [0.5, 0.9], \"text\")\n"
                 "  --device SPEC    auto | cpu | opencl | opencl:N | a vendor or name substring\n"
                 "  --out DIR        run folder (default runs/<name>-<date>-<time>); a folder\n"
                 "                   that holds a run is refused\n"
                 "  --force          with --out: move a run found there aside to DIR.old-N\n"
                 "  --resume DIR     continue the run in DIR from its checkpoint\n"
                 "  --progress MODE  bar | lines | quiet (default: bar on a terminal, else lines)\n"
                 "\n"
                 "Exit status: 0 done, 1 failed while training (the message says why, the run\n"
                 "folder keeps the last good checkpoint), 2 bad usage or configuration,\n"
                 "130 interrupted (a checkpoint was written; continue with --resume).\n");
}

static void on_signal(int sig) {
    wg_experiment_request_stop();
    signal(sig, SIG_DFL); /* a second one stops at once */
}

static int fail(wg_status status) {
    const char *message = wg_last_error();
    /* configuration errors begin with file:line:col and read best unprefixed */
    if (status == WG_ERR_CONFIG)
        fprintf(stderr, "%s\n", message);
    else if (wg_dist_size() > 1)
        fprintf(stderr, "wgan run: rank %d: %s\n", wg_dist_rank(), message);
    else
        fprintf(stderr, "wgan run: %s\n", message);
    return status == WG_ERR_CONFIG ? 2 : 1;
}

/* Under K ranks every rank loads the experiment, and none starts before all have: a
 * configuration error is every rank's, printed once by rank 0; an error of some ranks
 * only (a file one node cannot read) is printed by them with their rank. */
static wg_status load_on_every_rank(const wg_experiment_options *options, wg_experiment **e,
                                    bool *print) {
    wg_status s = wg_experiment_load(options, e);
    bool all_ok = true;
    *print = true;
    if (wg_dist_size() == 1) return s;
    char message[2048];
    snprintf(message, sizeof message, "%s", wg_last_error());
    wg_status agreed = wg_dist_all(s == WG_OK, &all_ok);
    if (agreed != WG_OK) return agreed;
    if (s == WG_OK && !all_ok) {
        wg_experiment_free(*e);
        *e = NULL;
        *print = false; /* the failing ranks say why */
        return wg_fail(WG_ERR_CONFIG, "another rank could not load the experiment");
    }
    *print = s != WG_ERR_CONFIG || wg_dist_rank() == 0;
    return s == WG_OK ? s : wg_fail(s, "%s", message);
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},           {"set", required_argument, NULL, 's'},
    {"device", required_argument, NULL, 'd'},   {"out", required_argument, NULL, 'o'},
    {"force", no_argument, NULL, 'f'},          {"resume", required_argument, NULL, 'r'},
    {"progress", required_argument, NULL, 'p'}, {0},
};

int wg_cmd_run(int argc, char **argv) {
    wg_experiment_options options = {0};
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    if (!overrides) return 1;
    int code = 0;
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; !code && (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        switch (c) {
        case 'h':
            usage(stdout);
            free(overrides);
            return 0;
        case 's': overrides[options.n_overrides++] = args.arg; break;
        case 'd': options.device = args.arg; break;
        case 'o': options.out_dir = args.arg; break;
        case 'f': options.force = true; break;
        case 'r': options.resume_dir = args.arg; break;
        case 'p':
            if (!wg_cli_progress_mode(args.arg, &options.progress))
                code = wg_cli_usage_error("run", "--progress takes bar, lines or quiet, not '%s'",
                                          args.arg);
            break;
        case WG_CLI_ARGUMENT:
            if (!options.config_path)
                options.config_path = args.arg;
            else
                code = wg_cli_usage_error("run", "one experiment at a time ('%s' is one too many)",
                                          args.arg);
            break;
        default: code = wg_cli_option_error("run", c, args.arg);
        }
    }
    if (!code && !options.config_path && !options.resume_dir) {
        usage(stderr);
        code = 2;
    }
    if (code) {
        free(overrides);
        return code;
    }
    options.overrides = overrides;
    /* under mpirun: data-parallel, each rank a shard of every batch; rank 0 writes the
     * run folder and alone shows progress */
    options.shards = wg_dist_size();
    options.shard = wg_dist_rank();
    if (options.shard > 0) options.progress = WG_PROGRESS_QUIET;

    wg_experiment *e = NULL;
    bool print;
    wg_status status = load_on_every_rank(&options, &e, &print);
    if (status != WG_OK) {
        free(overrides);
        int exit_code = status == WG_ERR_CONFIG ? 2 : 1;
        return print ? fail(status) : exit_code;
    }
    if (options.progress != WG_PROGRESS_QUIET)
        fprintf(stderr, "wgan run: %s %s\n", options.resume_dir ? "continuing" : "run folder",
                wg_experiment_dir(e));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    status = wg_experiment_run(e);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (status != WG_OK)
        code = fail(status);
    else if (wg_experiment_interrupted(e))
        code = 130;
    bool speaks = wg_dist_rank() == 0; /* under mpirun, rank 0 says how it ended */
    if (speaks && code == 130)
        fprintf(stderr, "wgan run: interrupted at step %lld; continue with: wgan run --resume %s\n",
                (long long)wg_experiment_step(e), wg_experiment_dir(e));
    else if (speaks && code == 0 && options.progress != WG_PROGRESS_QUIET)
        fprintf(stderr, "wgan run: done, %lld generator steps; results in %s\n",
                (long long)wg_experiment_step(e), wg_experiment_dir(e));
    wg_experiment_free(e);
    free(overrides);
    return code;
}
