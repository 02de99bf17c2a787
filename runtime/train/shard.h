/* Data-parallel training (shard.c): K processes (MPI ranks) train one run. Each takes
 * rows [k b, (k + 1) b) of every global batch of K b rows and draws the same rows of
 * every random draw of the steps (wg_graph_set_random_block), so the K shards together
 * are the batch one process would see. After the backward pass the gradients of all
 * the network's parameters go through one fused sum over the ranks, are divided by K
 * (every loss and penalty is a batch mean) and fed to the same optimizer update on
 * every rank. Process 0 alone writes the run folder. docs/scaling.md. Written by shard.c
 * only. */
#ifndef WGAN_TRAIN_SHARD_H
#define WGAN_TRAIN_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "dist/dist.h"
#include "experiment.h"
#include "wgan/session.h"

/* The gradients of one network: plan outputs, summed on the host, written back as the
 * inputs the optimizer reads. */
typedef struct exp_grad_sum {
    int count;
    wg_node *grads;  /* outputs of the step's plan */
    wg_node *inputs; /* what the optimizer reads: the mean over the ranks */
    size_t *offset;  /* where each starts in buffer (floats) */
    size_t floats;   /* the gradients' floats, then one for the stop flag */
    float *buffer;
} exp_grad_sum;

typedef struct exp_shard {
    int count, index;    /* shards (1: one process) and this process's */
    int64_t batch;       /* rows per shard: train.batch / count */
    exp_grad_sum sum[2]; /* critic, generator */
    bool stop;           /* some rank asked to stop, as of the last generator step */
    /* what the exchange cost in this session: sums, the floats they carried, the time
     * in MPI_Allreduce and in the whole exchange (device reads and writes too) */
    int64_t sums;
    double floats_summed, allreduce_seconds, exchange_seconds;
} exp_shard;

/* At load, after train.batch is known: the options' shards; WG_ERR_CONFIG when the
 * batch does not split evenly. */
wg_status exp_shard_configure(wg_experiment *e);
/* While tracing network `which`'s update (0 critic, 1 generator): each of its `count`
 * gradients becomes an input of the same shape, which replaces it in grads[]; the
 * original gradients are recorded as outputs for exp_shard_targets. */
wg_status exp_shard_trace(wg_experiment *e, int which, int count, wg_node *grads);
/* The gradients the step plan of network `which` must output. */
int exp_shard_outputs(const wg_experiment *e, int which, const wg_node **grads);
/* After `plan` (the step of network `which`) ran: reads its gradients, sums them over
 * the ranks with `stop_here` (this rank was asked to stop) in the same call, and writes
 * the mean into the optimizer's inputs. */
wg_status exp_shard_sum(wg_experiment *e, int which, wg_plan *plan, bool stop_here);
/* `op` of n doubles over the ranks, in place; nothing with one shard. */
wg_status exp_shard_reduce(const wg_experiment *e, double *values, int n, wg_dist_op op);
/* This process writes the run folder: always with one shard, process 0 of several. */
bool exp_shard_writes(const wg_experiment *e);
/* With shards: summary.json's "data_parallel" entry, one line "  \"key\": value,\n". */
void exp_shard_summary(const wg_experiment *e, wg_buf *b);
void exp_shard_free(wg_experiment *e);

#endif
