/* A monotonic clock for timing steps, runs and evaluations. */
#ifndef WGAN_CLOCK_H
#define WGAN_CLOCK_H

/* Seconds since an arbitrary fixed point; never goes back. */
double wg_clock_seconds(void);

#endif
