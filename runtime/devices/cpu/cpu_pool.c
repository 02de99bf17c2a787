/* The cpu backend's thread pool (cpu_pool.h).
 *
 * One job at a time. The job's chunks are claimed through one 64-bit word, the claim:
 * the job's generation, its chunk count and the next chunk. A worker claims a chunk
 * with a compare-and-swap that also checks the generation, so a worker that wakes late
 * can never take a chunk of a newer job for one of an older; and a job cannot finish
 * while a claimed chunk runs, so the job's function and context stay valid for whoever
 * holds a claim. Idle workers spin on the generation for SPIN_SECONDS, then sleep on a
 * condition variable; the submitter wakes sleepers only when there are any. The
 * submitter, done with the chunks it could claim, spins as long on the others, then
 * sleeps until the last one ends (its finisher signals only a sleeping submitter). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpu_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker keeps looking for the next job before it sleeps, and how
 * long the submitter spins on the last chunks before it yields its core: the gap
 * between two kernels of a step is a few microseconds, a time slice milliseconds. */
#define SPIN_SECONDS 50e-6
/* Chunks per thread: enough for a preempted thread to cost little, few enough that
 * handing them out costs nothing next to the work. */
#define CHUNKS_PER_THREAD 4
#define MAX_CHUNKS 0xffff

typedef struct pool {
    int threads; /* the caller included */
    pthread_mutex_t submit;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t finished; /* the submitter sleeps on it for the last chunks */
    atomic_int submitter_sleeps;
    atomic_uint generation;
    atomic_int sleepers;
    _Atomic uint64_t claim; /* generation << 32 | chunks << 16 | next chunk */
    atomic_int done;        /* chunks finished */
    /* the job, valid while a chunk of it is claimed */
    wg_cpu_range_fn fn;
    void *ctx;
    int64_t n, len;
} pool;

static pool *the_pool;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static _Thread_local bool in_chunk;

static uint64_t pack(uint32_t generation, uint32_t chunks, uint32_t next) {
    return (uint64_t)generation << 32 | (uint64_t)chunks << 16 | next;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs chunks of job `generation` until none is left to claim. */
static void run_chunks(pool *p, uint32_t generation, int worker) {
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        uint32_t chunks = (uint32_t)(v >> 16) & 0xffff, next = (uint32_t)v & 0xffff;
        if ((uint32_t)(v >> 32) != generation || next >= chunks) return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int64_t first = (int64_t)next * p->len, end = first + p->len < p->n ? first + p->len : p->n;
        in_chunk = true;
        p->fn(p->ctx, first, end, worker);
        in_chunk = false;
        /* sequentially consistent, against submitter_sleeps: see wg_cpu_parallel */
        if (atomic_fetch_add(&p->done, 1) + 1 == (int)chunks && atomic_load(&p->submitter_sleeps)) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->finished);
            pthread_mutex_unlock(&p->lock);
        }
        v = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

/* The generation after `seen`, spinning first and then sleeping. */
static uint32_t next_job(pool *p, uint32_t seen) {
    double deadline = now() + SPIN_SECONDS;
    for (int i = 0;; i++) {
        uint32_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((i & 63) == 63 && now() > deadline) break;
    }
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->sleepers, 1); /* before the check: see wg_cpu_parallel */
    uint32_t g;
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->lock);
    return g;
}

typedef struct worker_arg {
    pool *p;
    int index;
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    uint32_t seen = atomic_load(&a.p->generation);
    for (;;) {
        seen = next_job(a.p, seen);
        run_chunks(a.p, seen, a.index);
    }
    return NULL;
}

static int count_threads(void) {
    int cpus = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cpus = CPU_COUNT(&set);
    else if (sysconf(_SC_NPROCESSORS_ONLN) > 0)
        cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *text = getenv("OMP_NUM_THREADS");
    char *end;
    long asked = text ? strtol(text, &end, 10) : 0;
    if (text && *text && !*end && asked >= 1 && asked < cpus) cpus = (int)asked;
    return cpus < 1 ? 1 : cpus > 256 ? 256 : cpus;
}

/* A forked child has the pool's memory but none of its threads: it starts its own. */
static void forget_pool_in_child(void) {
    the_pool = NULL;
    started = (pthread_once_t)PTHREAD_ONCE_INIT;
}

static void start_pool(void) {
    pool *p = calloc(1, sizeof *p);
    if (!p) return; /* loops then run on the caller */
    p->threads = count_threads();
    pthread_mutex_init(&p->submit, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    for (int i = 1; i < p->threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        pthread_t id;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (a) *a = (worker_arg){p, i};
        if (!a || pthread_create(&id, &attr, worker_main, a) != 0) {
            free(a);
            p->threads = i; /* the ones that started */
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_atfork(NULL, NULL, forget_pool_in_child);
    the_pool = p;
}

static pool *get_pool(void) {
    pthread_once(&started, start_pool);
    return the_pool;
}

int wg_cpu_threads(void) {
    pool *p = get_pool();
    return p ? p->threads : 1;
}

void wg_cpu_parallel(int64_t n, int64_t grain, wg_cpu_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    pool *p = in_chunk ? NULL : get_pool();
    int64_t chunks = (n + grain - 1) / grain;
    if (p && chunks > (int64_t)p->threads * CHUNKS_PER_THREAD)
        chunks = (int64_t)p->threads * CHUNKS_PER_THREAD;
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    if (!p || p->threads == 1 || chunks <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->submit);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->len = (n + chunks - 1) / chunks;
    chunks = (n + p->len - 1) / p->len; /* no empty chunk at the end */
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t generation = atomic_load(&p->generation) + 1;
    atomic_store_explicit(&p->claim, pack(generation, (uint32_t)chunks, 0), memory_order_release);
    /* sequentially consistent, against the sleepers count: either a worker going to
     * sleep sees the new generation, or this sees it counted and wakes it */
    atomic_store(&p->generation, generation);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_chunks(p, generation, 0);
    /* The chunks other threads still run: spin a little, then sleep until the last one
     * ends. Sleeping, not yielding, leaves this core idle, so the scheduler moves a
     * worker that another process preempted onto it at once; a yielding thread keeps
     * its core busy and the worker waits for its own core (measured beside one busy
     * process: docs/performance.md, "Under load"). */
    double deadline = now() + SPIN_SECONDS;
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < chunks; i++) {
        cpu_relax();
        if ((i & 63) != 63 || now() <= deadline) continue;
        pthread_mutex_lock(&p->lock);
        atomic_store(&p->submitter_sleeps, 1); /* before the check, as in next_job */
        while (atomic_load(&p->done) < chunks) pthread_cond_wait(&p->finished, &p->lock);
        atomic_store(&p->submitter_sleeps, 0);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->submit);
}
