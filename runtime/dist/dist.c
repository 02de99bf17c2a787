/* The job's ranks through Open MPI when built with it (WGAN_HAVE_MPI), one rank
 * otherwise. Only what wgan needs: start, stop, a broadcast of rank 0's bytes, an
 * "all true", and a barrier that polls so a stopping signal is not stuck in MPI. */
#include "dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef WGAN_HAVE_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1;
static bool initialised;

/* Set by every launcher wgan knows: Open MPI's mpirun, PMIx (srun --mpi=pmix), MPICH. */
static bool launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

int wg_dist_local_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                       "MPI_LOCALRANKID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r = v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && r >= 0 && r < 1 << 20) return (int)r;
    }
    return 0;
}

int wg_dist_rank(void) {
    return rank_;
}

int wg_dist_size(void) {
    return size_;
}

#ifdef WGAN_HAVE_MPI

static wg_status mpi_failed(int code, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "code %d", code);
    return wg_fail(WG_ERR_IO, "MPI: %s failed on rank %d: %s", what, rank_, text);
}

wg_status wg_dist_init(int *argc, char ***argv) {
    if (initialised || !launched_by_mpi()) return WG_OK;
    int code = MPI_Init(argc, argv);
    if (code != MPI_SUCCESS) return wg_fail(WG_ERR_IO, "MPI: MPI_Init failed (code %d)", code);
    initialised = true;
    /* errors come back as codes, to be reported with the rank, not as an abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    return WG_OK;
}

void wg_dist_finalize(void) {
    if (initialised) MPI_Finalize();
    initialised = false;
    rank_ = 0;
    size_ = 1;
}

_Noreturn void wg_dist_abort(int code) {
    if (initialised) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

wg_status wg_dist_broadcast(wg_buf *text) {
    if (size_ == 1) return WG_OK;
    unsigned long long len = rank_ == 0 ? (unsigned long long)text->len : 0;
    int code = MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (code != MPI_SUCCESS) return mpi_failed(code, "broadcasting a length");
    if (len > (unsigned long long)INT32_MAX)
        return wg_fail(WG_ERR_INVALID, "MPI: %llu bytes is too much to broadcast", len);
    char *data = rank_ == 0 ? text->data : malloc(len + 1);
    if (!data && len) return wg_fail(WG_ERR_NOMEM, "out of memory receiving %llu bytes", len);
    code = len ? MPI_Bcast(data, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD) : MPI_SUCCESS;
    if (rank_ != 0) {
        if (code == MPI_SUCCESS) {
            wg_buf_free(text);
            wg_buf_append(text, data ? data : "", (size_t)len);
            wg_buf_append(text, "", 0);
        }
        free(data);
    }
    if (code != MPI_SUCCESS) return mpi_failed(code, "broadcasting");
    return text->failed ? wg_fail(WG_ERR_NOMEM, "out of memory receiving a broadcast") : WG_OK;
}

wg_status wg_dist_all(bool ok, bool *all) {
    int mine = ok, every = ok;
    int code = size_ == 1 ? MPI_SUCCESS
                          : MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (code != MPI_SUCCESS) return mpi_failed(code, "combining a check");
    *all = every != 0;
    return WG_OK;
}

wg_status wg_dist_sum_floats(float *values, size_t n) {
    if (size_ == 1 || n == 0) return WG_OK;
    /* MPI counts are ints: a buffer past 2^31 floats goes in pieces */
    for (size_t at = 0; at < n;) {
        int count = n - at > (size_t)INT32_MAX ? INT32_MAX : (int)(n - at);
        int code =
            MPI_Allreduce(MPI_IN_PLACE, values + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS) return mpi_failed(code, "summing the gradients");
        at += (size_t)count;
    }
    return WG_OK;
}

wg_status wg_dist_reduce_doubles(double *values, int n, wg_dist_op op) {
    if (size_ == 1 || n == 0) return WG_OK;
    MPI_Op mpi_op = op == WG_DIST_MIN ? MPI_MIN : op == WG_DIST_MAX ? MPI_MAX : MPI_SUM;
    int code = MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, mpi_op, MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? WG_OK : mpi_failed(code, "combining the metrics");
}

wg_status wg_dist_barrier(volatile sig_atomic_t *stop, bool *stopped) {
    if (stopped) *stopped = false;
    if (size_ == 1) return WG_OK;
    MPI_Request request;
    int code = MPI_Ibarrier(MPI_COMM_WORLD, &request);
    if (code != MPI_SUCCESS) return mpi_failed(code, "waiting for the other ranks");
    for (;;) {
        int done = 0;
        if ((code = MPI_Test(&request, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return mpi_failed(code, "waiting for the other ranks");
        if (done) return WG_OK;
        if (stop && *stop) {
            if (stopped) *stopped = true;
            return WG_OK; /* the request is left behind: the job is ending */
        }
        struct timespec nap = {0, 20000000}; /* runs take seconds or more: 20 ms is fine */
        nanosleep(&nap, NULL);
    }
}

#else /* one rank */

wg_status wg_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (launched_by_mpi() && !initialised)
        fprintf(stderr, "wgan: started by an MPI launcher, but this wgan was built without MPI "
                        "(-DWGAN_MPI=ON): every rank runs alone\n");
    initialised = true;
    return WG_OK;
}

void wg_dist_finalize(void) {}

_Noreturn void wg_dist_abort(int code) {
    exit(code);
}

wg_status wg_dist_broadcast(wg_buf *text) {
    (void)text;
    return WG_OK;
}

wg_status wg_dist_all(bool ok, bool *all) {
    *all = ok;
    return WG_OK;
}

wg_status wg_dist_sum_floats(float *values, size_t n) {
    (void)values, (void)n;
    return WG_OK;
}

wg_status wg_dist_reduce_doubles(double *values, int n, wg_dist_op op) {
    (void)values, (void)n, (void)op;
    return WG_OK;
}

wg_status wg_dist_barrier(volatile sig_atomic_t *stop, bool *stopped) {
    (void)stop;
    if (stopped) *stopped = false;
    return WG_OK;
}

#endif
