/* The Jensen-Shannon divergence against the Wasserstein-1 distance, measured: two 1-D
 * gaussians N(0, std^2) and N(d, std^2) moved apart over a grid of distances d. For each
 * d, the exact values (JS by numerical integration, W1 = d), and the estimates a trained
 * network gives: a GAN discriminator (loss plugin `gan`),
 *
 *     JS ~ log 2 + (E log D(real) + E log(1 - D(fake))) / 2 = log 2 - critic loss / 2,
 *
 * and a WGAN-GP critic (loss `wasserstein`, lipschitz `gradient_penalty`),
 *
 *     W1 ~ E f(real) - E f(fake),
 *
 * with the one-sided penalty lambda max(0, |f'| - 1)^2, the Kantorovich-Rubinstein
 * constraint |f'| <= 1 itself: in one dimension the two-sided penalty has a second
 * minimum at slope -1 (|f'| = 1 either way), where a critic that starts with the wrong
 * sign stays and reports W1 < 0. lambda 100 keeps the soft constraint's excess slope,
 * d / (2 lambda), at 2% or less for d <= 4. Both networks are MLPs of the `mlp` arch
 * plugin, trained by wgan's own step graphs. JS saturates
 * at log 2 once the gaussians stop overlapping; W1 keeps growing with d. `wgan jsw`
 * writes the table and a line chart. */
#ifndef WGAN_JSW_H
#define WGAN_JSW_H

#include <stdbool.h>
#include <stdint.h>

#include "wgan/status.h"

typedef struct wg_jsw_options {
    const char *device;  /* "cpu" */
    double std;          /* of both gaussians; 0.25 */
    double max_distance; /* the grid is d = 0, max/(points-1), ..., max; 4 */
    int points;          /* 17 */
    int steps;           /* training steps per network and distance; 1000 */
    int64_t batch;       /* samples of each distribution per step; 256 */
    int64_t samples;     /* fresh samples of each for the final estimate; 8192 */
    int hidden;          /* width of the two hidden layers; 64 */
    double lr;           /* Adam, betas (0.5, 0.9); 1e-3 */
    double lambda;       /* one-sided gradient penalty; 100 */
    uint64_t seed;       /* 1 */
    bool verbose;        /* a line per distance on stderr */
} wg_jsw_options;

wg_jsw_options wg_jsw_defaults(void);

typedef struct wg_jsw_row {
    double distance;
    double js_exact, js_discriminator; /* nats */
    double w1_exact, w1_critic;
    double seconds; /* training and estimating both networks */
} wg_jsw_row;

/* JS(N(0, std^2), N(d, std^2)) in nats, by Simpson's rule (absolute error < 1e-9). */
double wg_jsw_js_gaussians(double distance, double std);

/* Fills options->points rows. */
wg_status wg_jsw_run(const wg_jsw_options *options, wg_jsw_row *rows);

/* dir/js-vs-w.csv (columns distance, js_exact, js_discriminator, w1_exact, w1_critic,
 * seconds) and dir/js-vs-w.png; the folder is created. */
wg_status wg_jsw_write(const char *dir, const wg_jsw_options *options, const wg_jsw_row *rows);

#endif
