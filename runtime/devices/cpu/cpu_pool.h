/* The cpu backend's threads (cpu_pool.c): one pool per process, started on first use.
 *
 * A parallel loop is cut into more chunks than there are threads and the chunks are
 * handed out one at a time to whichever thread asks, the caller included, so a thread
 * that the kernel preempts (another job on the machine) holds up at most the chunk it
 * has, not a fixed share of the loop. Idle workers spin for a few tens of microseconds,
 * which catches the next kernel of a step, then sleep, so they do not take cores from
 * other processes between steps; the caller waiting for the last chunks does the same,
 * so that a core left idle lets the scheduler move a preempted worker there.
 * docs/performance.md, "Under load". */
#ifndef WGAN_CPU_POOL_H
#define WGAN_CPU_POOL_H

#include <stdint.h>

/* One chunk of a loop: items [first, end) on the thread numbered `worker` (0 is the
 * caller; workers are numbered below wg_cpu_threads(), for per-thread scratch). */
typedef void (*wg_cpu_range_fn)(void *ctx, int64_t first, int64_t end, int worker);

/* Runs fn over [0, n) in chunks of at least `grain` items (grain >= 1) and returns when
 * every chunk is done. Which thread runs which chunk varies; what a chunk computes must
 * not depend on it. Runs on the calling thread alone when there is one chunk, one
 * thread, or when called from inside a chunk. */
void wg_cpu_parallel(int64_t n, int64_t grain, wg_cpu_range_fn fn, void *ctx);

/* Threads a loop can use, the caller included: the CPUs this process may run on
 * (its affinity mask), or OMP_NUM_THREADS when that is set and smaller. */
int wg_cpu_threads(void);

#endif
