/* Learning-rate schedules (schedule.c): the rate of each optimizer as a function of the
 * generator step, so a resumed run computes the same rates from its counter. */
#ifndef WGAN_TRAIN_SCHEDULE_H
#define WGAN_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "wgan/optim.h"

typedef enum exp_schedule_kind {
    EXP_SCHEDULE_CONSTANT, /* the configured lr throughout */
    EXP_SCHEDULE_LINEAR,   /* lr (1 - g / steps): to 0 over the run, as the WGAN-GP code */
    EXP_SCHEDULE_STEP,     /* lr gamma^floor(g / every), as torch.optim.lr_scheduler.StepLR */
} exp_schedule_kind;

typedef struct exp_schedule {
    exp_schedule_kind kind;
    int64_t every; /* step: generator steps between two decays */
    double gamma;  /* step: the factor of each decay */
} exp_schedule;

/* The kinds' names in the order of the enum, NULL-terminated (for wg_cfg_enum). */
extern const char *const exp_schedule_kinds[];

/* The learning rate of generator step g (0-based) of a run of `steps`, the configured
 * one being `lr`. */
double exp_schedule_lr(const exp_schedule *schedule, double lr, int64_t g, int64_t steps);
/* The configured learning rate of an optimizer of any kind. */
double exp_optim_lr(const wg_optim_config *config);

#endif
