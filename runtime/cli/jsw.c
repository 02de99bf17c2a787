/* wgan jsw: the JS divergence saturates at log 2 while W1 grows with the distance;
 * exact values and what trained networks estimate, as a table and a chart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "eval/jsw.h"

#define DEFAULT_OUT "runs/js-vs-w"

static void usage(FILE *out) {
    wg_jsw_options d = wg_jsw_defaults();
    fprintf(out,
            "usage: wgan jsw [options]\n"
            "\n"
            "Moves N(d, s^2) away from N(0, s^2) over a grid of distances d and, for each d,\n"
            "computes the Jensen-Shannon divergence (numerical integration) and W1 (= d)\n"
            "exactly, and estimates them with networks trained by wgan: a GAN discriminator\n"
            "(JS = log 2 - critic loss / 2) and a WGAN-GP critic (W1 = E f(real) - E f(fake),\n"
            "one-sided penalty, lambda %g), MLPs 1-%d-%d-1, Adam. Writes OUT/js-vs-w.csv and\n"
            "OUT/js-vs-w.png and prints the table. On a busy machine OMP_NUM_THREADS=1 is\n"
            "faster: the networks are tiny.\n"
            "\n"
            "options:\n"
            "  --out DIR           output folder (default %s)\n"
            "  --std S             standard deviation of both gaussians (default %g)\n"
            "  --max-distance D    the largest d (default %g)\n"
            "  --points N          distances from 0 to D (default %d)\n"
            "  --steps N           training steps per network and distance (default %d)\n"
            "  --seed N            (default %llu)\n"
            "  --device SPEC       (default %s)\n"
            "\n"
            "Exit status: 0 done, 1 failed, 2 bad usage.\n",
            d.lambda, d.hidden, d.hidden, DEFAULT_OUT, d.std, d.max_distance, d.points, d.steps,
            (unsigned long long)d.seed, d.device);
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"out", required_argument, NULL, 'o'},
    {"device", required_argument, NULL, 'd'},
    {"std", required_argument, NULL, 's'},
    {"max-distance", required_argument, NULL, 'm'},
    {"points", required_argument, NULL, 'p'},
    {"steps", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 'r'},
    {0},
};

int wg_cmd_jsw(int argc, char **argv) {
    wg_jsw_options o = wg_jsw_defaults();
    o.verbose = true;
    const char *out = DEFAULT_OUT;
    wg_cli_args args = {.argc = argc, .argv = argv, .options = long_options};
    for (int c; (c = wg_cli_next(&args)) != WG_CLI_DONE;) {
        char *end = NULL;
        double x = args.arg ? strtod(args.arg, &end) : 0;
        bool number = end && *args.arg && !*end, ok = true;
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'o': out = args.arg; break;
        case 'd': o.device = args.arg; break;
        case 's':
            if ((ok = number && x > 0)) o.std = x;
            break;
        case 'm':
            if ((ok = number && x > 0)) o.max_distance = x;
            break;
        case 'p':
            if ((ok = number && x >= 2 && x <= 1000 && x == (int)x)) o.points = (int)x;
            break;
        case 'n':
            if ((ok = number && x >= 1 && x <= 1e7 && x == (int)x)) o.steps = (int)x;
            break;
        case 'r':
            if ((ok = number && x >= 0 && x == (double)(long long)x)) o.seed = (uint64_t)x;
            break;
        default: /* an unknown option, one without its value, an argument */
            return wg_cli_usage_error("jsw", "bad option or value near '%s'", args.arg);
        }
        if (!ok) return wg_cli_usage_error("jsw", "bad option or value near '%s'", args.option);
    }
    wg_jsw_row *rows = calloc((size_t)o.points, sizeof *rows);
    if (!rows) return 1;
    wg_status s = wg_jsw_run(&o, rows);
    if (s == WG_OK) s = wg_jsw_write(out, &o, rows);
    if (s != WG_OK) {
        fprintf(stderr, "wgan jsw: %s\n", wg_last_error());
        free(rows);
        return 1;
    }
    printf("%10s %10s %17s %10s %10s\n", "distance", "JS exact", "JS discriminator", "W1 exact",
           "W1 critic");
    for (int i = 0; i < o.points; i++)
        printf("%10.4f %10.4f %17.4f %10.4f %10.4f\n", rows[i].distance, rows[i].js_exact,
               rows[i].js_discriminator, rows[i].w1_exact, rows[i].w1_critic);
    printf("log 2 = %.4f; wrote %s/js-vs-w.csv and %s/js-vs-w.png\n", 0.6931471805599453, out, out);
    free(rows);
    return 0;
}
