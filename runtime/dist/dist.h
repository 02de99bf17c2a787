/* The processes of one job: the K ranks an MPI launcher (mpirun, srun) started, or just
 * this process. Without an MPI build, or outside a launcher, there is one rank and every
 * call below is a no-op, so callers need no #ifdef. docs/scaling.md. */
#ifndef WGAN_DIST_H
#define WGAN_DIST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "io/fileio.h"
#include "wgan/status.h"

/* MPI_Init when the process was started by an MPI launcher (its environment says so),
 * nothing otherwise: a plain `wgan run` never pays for MPI. */
wg_status wg_dist_init(int *argc, char ***argv);
/* MPI_Finalize after a successful init; harmless otherwise. */
void wg_dist_finalize(void);
/* Ends every rank of the job at once (MPI_Abort), or exits this process. */
_Noreturn void wg_dist_abort(int code);

int wg_dist_rank(void); /* 0 .. size-1 */
int wg_dist_size(void); /* 1 without a launcher */
/* The rank among the job's processes on this node (OMPI_COMM_WORLD_LOCAL_RANK,
 * SLURM_LOCALID, MPI_LOCALRANKID), from the environment, so that device choice works
 * without initialising MPI; 0 when none is set. */
int wg_dist_local_rank(void);

/* Rank 0's `text` to every rank: on the others it replaces *text. */
wg_status wg_dist_broadcast(wg_buf *text);
/* true on every rank when `ok` is true on every rank. */
wg_status wg_dist_all(bool ok, bool *all);
/* In place on every rank: the element-wise sum of every rank's `n` floats. One call
 * for a whole fused buffer, so a step pays one latency, not one per tensor. */
wg_status wg_dist_sum_floats(float *values, size_t n);

typedef enum wg_dist_op { WG_DIST_SUM, WG_DIST_MIN, WG_DIST_MAX } wg_dist_op;
/* In place on every rank: `op` over the ranks of each of the `n` doubles. */
wg_status wg_dist_reduce_doubles(double *values, int n, wg_dist_op op);

/* Waits until every rank has reached this call. Polls, so that a signal which sets *stop
 * (may be NULL) ends the wait: *stopped (may be NULL) then says so and WG_OK returns. */
wg_status wg_dist_barrier(volatile sig_atomic_t *stop, bool *stopped);

#endif
