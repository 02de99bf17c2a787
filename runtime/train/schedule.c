/* Learning-rate schedules: pure functions of the generator step. The critic steps of a
 * generator step use that step's rate, as the WGAN-GP code feeds one iteration counter
 * to both optimizers. */
#include "schedule.h"

#include <math.h>
#include <stddef.h>

const char *const exp_schedule_kinds[] = {"constant", "linear", "step", NULL};

double exp_schedule_lr(const exp_schedule *schedule, double lr, int64_t g, int64_t steps) {
    switch (schedule->kind) {
    case EXP_SCHEDULE_CONSTANT: break;
    case EXP_SCHEDULE_LINEAR: return lr * fmax(0.0, 1.0 - (double)g / (double)steps);
    case EXP_SCHEDULE_STEP: return lr * pow(schedule->gamma, (double)(g / schedule->every));
    }
    return lr;
}

double exp_optim_lr(const wg_optim_config *config) {
    switch (config->kind) {
    case WG_OPTIM_SGD: return config->sgd.lr;
    case WG_OPTIM_RMSPROP: return config->rmsprop.lr;
    case WG_OPTIM_ADAM: break;
    }
    return config->adam.lr;
}
