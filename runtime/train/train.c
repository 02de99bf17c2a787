/* The training loop: n_critic critic steps (each on the next data batch, each followed
 * by the projection when the strategy has one), then one generator step; metrics,
 * pictures and checkpoints at their intervals. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/clock.h"
#include "train_internal.h"

static volatile sig_atomic_t stop_requested;

void wg_experiment_request_stop(void) {
    stop_requested = 1;
}

bool wg_experiment_interrupted(const wg_experiment *e) {
    return e->loop.interrupted;
}

static bool due(int64_t step, int64_t every, bool last) {
    return last || (every > 0 && step % every == 0);
}

/* The step of network `which` (0 critic, 1 generator); with shards, then the sum of
 * the gradients over the ranks and the update, outside the random stream's count so
 * that every draw is keyed as one process's would be. */
static wg_status run_update(wg_experiment *e, int which, wg_plan *step) {
    wg_status s = wg_plan_run(step);
    if (s != WG_OK || e->shard.count == 1) return s;
    if ((s = exp_shard_sum(e, which, step, stop_requested)) != WG_OK) return s;
    return exp_run_aside(e, e->steps.update_plan[which]);
}

static wg_status critic_step(wg_experiment *e) {
    wg_status s = e->plugins.data.plugin->vt.data.batch(
        e->plugins.data.state, (uint64_t)e->loop.critic_step, e->cfg.batch, e->steps.real_host);
    if (s != WG_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", wg_last_error());
        return wg_fail(s, "data plugin '%s', batch %" PRId64 ": %s", e->plugins.data.plugin->name,
                       e->loop.critic_step, message);
    }
    /* a shard trains on its rows of the batch */
    const float *rows =
        e->steps.real_host + e->shard.index * e->shard.batch * e->plugins.sample_numel;
    if ((s = wg_session_write(e->steps.session, e->steps.real, rows)) != WG_OK) return s;
    if ((s = run_update(e, 0, e->steps.critic_plan)) != WG_OK) return s;
    if (e->steps.project_plan && (s = wg_plan_run(e->steps.project_plan)) != WG_OK) return s;
    e->loop.critic_step++;
    return WG_OK;
}

static wg_status generator_step(wg_experiment *e) {
    return run_update(e, 1, e->steps.gen_plan);
}

static void log_metrics(wg_experiment *e) {
    wg_buf line = {0};
    wg_buf_printf(&line, "step %" PRId64 "/%" PRId64, e->loop.gen_step, e->cfg.steps);
    for (int i = COL_W; i < e->steps.n_columns; i++)
        if (i != COL_SECONDS)
            wg_buf_printf(&line, " %s=%.6g", e->steps.columns[i].name, e->steps.columns[i].value);
    if (!line.failed) exp_log(e, "%s", line.data);
    wg_buf_free(&line);
}

/* One generator step with its critic steps, then whatever falls due after it. */
static wg_status train_step(wg_experiment *e) {
    int iterations = exp_critic_iterations(e, e->loop.gen_step);
    wg_status s = exp_steps_schedule(e, e->loop.gen_step);
    for (int i = 0; i < iterations && s == WG_OK; i++) s = critic_step(e);
    if (s == WG_OK) s = generator_step(e);
    if (s != WG_OK) return s;
    e->loop.gen_step++;
    bool last = e->loop.gen_step == e->cfg.steps;
    bool log = due(e->loop.gen_step, e->cfg.log_every, last);
    bool checkpoint = due(e->loop.gen_step, e->cfg.checkpoint_every, last);
    /* a checkpoint is written only after its losses were seen to be finite */
    if (log || checkpoint) s = exp_read_metrics(e, log);
    if (s == WG_OK && log) s = exp_eval_step(e);
    if (s == WG_OK && log) {
        s = exp_append_metrics(e);
        log_metrics(e);
    }
    if (s == WG_OK && due(e->loop.gen_step, e->cfg.sample_every, last)) s = exp_write_samples(e);
    if (s == WG_OK && checkpoint) s = exp_checkpoint_save(e);
    exp_progress(e, log);
    return s;
}

static wg_status start(wg_experiment *e) {
    wg_status s = exp_rundir_claim(e); /* first: one process per run folder */
    if (s == WG_OK) s = exp_steps_open(e);
    if (s == WG_OK) s = exp_eval_build(e);
    if (s != WG_OK) return s;
    bool restored = false;
    if (e->run.resuming && (s = exp_checkpoint_restore(e, &restored, &e->loop.gen_step,
                                                       &e->loop.critic_step)) != WG_OK)
        return s;
    /* without a checkpoint there is nothing to continue: a fresh start in the folder */
    if (!restored && (s = exp_steps_initialize(e)) != WG_OK) return s;
    if ((s = exp_rundir_open(e, restored)) != WG_OK) return s;
    if ((s = exp_record_plugins(e)) != WG_OK) return s;
    if (e->plugins.layout == WG_DATA_IMAGES && !restored && (s = exp_write_real_images(e)) != WG_OK)
        return s;
    exp_log(
        e, "wgan %s: %s, device %s, seed %" PRIu64 ", %s at generator step %" PRId64 " of %" PRId64,
        WGAN_VERSION, e->cfg.name, wg_device_description(e->steps.device), e->cfg.seed,
        restored ? "resuming" : "starting", e->loop.gen_step, e->cfg.steps);
    if (*wg_device_note(e->steps.device)) exp_log(e, "device: %s", wg_device_note(e->steps.device));
    if (e->plugins.batch_norm_warning)
        exp_warn(e,
                 "lipschitz plugin '%s' penalises per-sample input gradients, but arch '%s' "
                 "puts batch norm in the critic: each score then depends on the whole batch, "
                 "so the gradient at one sample is not that sample's own and the penalty "
                 "constrains the wrong function (WGAN-GP uses layer norm in the critic)",
                 e->plugins.lipschitz.plugin->name, e->plugins.arch.plugin->name);
    if (!restored && e->cfg.sample_every > 0) s = exp_write_samples(e);
    if (s == WG_OK) s = exp_eval_start(e);
    return s;
}

static wg_progress_mode resolve_progress(wg_progress_mode mode) {
    if (mode != WG_PROGRESS_AUTO) return mode;
    return isatty(STDERR_FILENO) ? WG_PROGRESS_BAR : WG_PROGRESS_LINES;
}

wg_status wg_experiment_run(wg_experiment *e) {
    if (e->steps.session) return wg_fail(WG_ERR_INVALID, "an experiment runs once");
    e->loop.progress = resolve_progress(e->cfg.options.progress);
    stop_requested = 0;
    wg_status s = start(e);
    e->loop.start_time = wg_clock_seconds();
    e->loop.start_step = e->loop.gen_step;
    while (s == WG_OK && e->loop.gen_step < e->cfg.steps) {
        s = train_step(e);
        if (s != WG_OK) break;
        if (e->cfg.options.stop_after > 0 && e->loop.gen_step == e->cfg.options.stop_after) {
            exp_progress_done(e);
            return WG_OK; /* as if killed here: nothing more is written */
        }
        /* shards stop together, at the step whose gradient sum first carried a request */
        if (e->shard.count > 1 ? e->shard.stop : stop_requested) {
            e->loop.interrupted = true;
            break;
        }
    }
    if (e->loop.progress == WG_PROGRESS_BAR && e->steps.session) exp_progress_done(e);
    if (!e->run.log) return s; /* failed before the run folder existed */
    char message[2048] = "";
    const char *state = "completed";
    if (s == WG_OK && e->loop.interrupted) {
        state = "interrupted";
        s = exp_checkpoint_save(e);
        if (s == WG_OK)
            exp_log(e, "interrupted at generator step %" PRId64 "; continue with --resume %s",
                    e->loop.gen_step, e->run.dir);
    }
    if (s != WG_OK) {
        snprintf(message, sizeof message, "%s", wg_last_error());
        state = s == WG_ERR_NUMERIC ? "diverged" : "failed";
        exp_log(e, "error: %s", message);
    } else if (!e->loop.interrupted) {
        exp_log(e, "finished %" PRId64 " generator steps in %.1f s", e->loop.gen_step,
                exp_seconds(e));
        if (e->shard.count > 1)
            exp_log(e,
                    "data-parallel over %d ranks: %" PRId64 " gradient sums, %.3f s in "
                    "MPI_Allreduce, %.3f s exchanging in all",
                    e->shard.count, e->shard.sums, e->shard.allreduce_seconds,
                    e->shard.exchange_seconds);
    }
    exp_eval_finish(e);
    wg_buf evaluation = {0};
    exp_eval_summary(e, &evaluation);
    exp_shard_summary(e, &evaluation);
    wg_status written = exp_write_summary(e, state, message, &evaluation);
    wg_buf_free(&evaluation);
    if (s != WG_OK) return wg_fail(s, "%s", message);
    return written;
}

wg_status wg_experiment_prepare(wg_experiment *e) {
    if (e->steps.session) return wg_fail(WG_ERR_INVALID, "the experiment is prepared already");
    wg_status s = exp_steps_open(e);
    return s == WG_OK ? exp_steps_initialize(e) : s;
}

wg_status wg_experiment_steps(wg_experiment *e, int64_t steps) {
    if (!e->steps.gen_plan) return wg_fail(WG_ERR_INVALID, "the experiment is not prepared");
    wg_status s = WG_OK;
    for (int64_t g = 0; g < steps && s == WG_OK; g++) {
        s = exp_steps_schedule(e, e->loop.gen_step);
        for (int i = 0; i < e->cfg.n_critic && s == WG_OK; i++) s = critic_step(e);
        if (s == WG_OK) s = generator_step(e);
        if (s == WG_OK) e->loop.gen_step++;
    }
    float loss = 0;
    if (s == WG_OK) s = wg_plan_read(e->steps.gen_plan, e->steps.columns[COL_GEN_LOSS].node, &loss);
    if (s == WG_OK && !isfinite(loss))
        s = wg_fail(WG_ERR_NUMERIC, "the generator loss is %g after generator step %" PRId64,
                    (double)loss, e->loop.gen_step);
    return s;
}
