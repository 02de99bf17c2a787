/* What a running experiment shows on stderr: on a terminal, one line redrawn in place;
 * otherwise (or on request) a plain line per logged step. And the training time. */
#include <inttypes.h>
#include <stdio.h>

#include "io/clock.h"
#include "train_internal.h"

#define REDRAW_SECONDS 0.1
#define BAR_WIDTH 24

static void format_duration(char *buf, size_t size, double seconds) {
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static double rate(const wg_experiment *e) {
    double elapsed = wg_clock_seconds() - e->loop.start_time;
    int64_t done = e->loop.gen_step - e->loop.start_step;
    return elapsed > 0 && done > 0 ? (double)done / elapsed : 0;
}

static void draw_bar(wg_experiment *e) {
    double r = rate(e), frac = (double)e->loop.gen_step / (double)e->cfg.steps;
    char eta[32], w[32] = "";
    format_duration(eta, sizeof eta, r > 0 ? (double)(e->cfg.steps - e->loop.gen_step) / r : -1);
    if (e->steps.have_w) snprintf(w, sizeof w, "  W %.4g", e->steps.columns[COL_W].value);
    char bar[BAR_WIDTH + 1];
    int filled = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    fprintf(stderr, "\r%s [%s] %" PRId64 "/%" PRId64 " %3.0f%%  %.2f steps/s  ETA %s%s\033[K",
            e->cfg.name, bar, e->loop.gen_step, e->cfg.steps, 100 * frac, r, eta, w);
    fflush(stderr);
}

static void print_line(wg_experiment *e) {
    const exp_column *c = e->steps.columns;
    fprintf(stderr,
            "step %" PRId64 "/%" PRId64 "  W %.5g  critic_loss %.5g  generator_loss %.5g  "
            "penalty %.4g  grad_norm real %.3g fake %.3g  %.2f steps/s\n",
            e->loop.gen_step, e->cfg.steps, c[COL_W].value, c[COL_CRITIC_LOSS].value,
            c[COL_GEN_LOSS].value, c[COL_PENALTY].value, c[COL_GNORM_REAL].value,
            c[COL_GNORM_FAKE].value, rate(e));
}

double exp_seconds(const wg_experiment *e) {
    return e->run.seconds_before +
           (e->loop.start_time > 0 ? wg_clock_seconds() - e->loop.start_time : 0);
}

void exp_progress(wg_experiment *e, bool logged) {
    static double last_draw;
    switch (e->loop.progress) {
    case WG_PROGRESS_BAR: {
        double now = wg_clock_seconds();
        if (logged || e->loop.gen_step == e->cfg.steps || now - last_draw >= REDRAW_SECONDS) {
            draw_bar(e);
            last_draw = now;
        }
        break;
    }
    case WG_PROGRESS_LINES:
        if (logged) print_line(e);
        break;
    default: break;
    }
}

void exp_progress_done(wg_experiment *e) {
    if (e->loop.progress == WG_PROGRESS_BAR) {
        draw_bar(e);
        fputc('\n', stderr);
    }
}
