/* What the training runtime needs of an optimizer beyond the public API: a learning
 * rate that changes per step without planning again (a schedule), and each
 * parameter's updated value inside the step (an average of the weights). */
#ifndef WGAN_OPTIM_INTERNAL_H
#define WGAN_OPTIM_INTERNAL_H

#include "wgan/optim.h"

/* wg_optimizer_new with the learning rate read from `lr`, a [1] node of the graph (an
 * input the caller writes before each step), in place of the configuration's constant
 * lr; WG_NONE keeps the constant. */
wg_status wg_optimizer_new_lr(wg_graph *graph, const wg_optim_config *config, int count,
                              const wg_node *params, const wg_node *grads, const char *prefix,
                              wg_node lr, wg_optimizer **out);
/* The node holding params[param]'s value after the update, what its wg_assign writes:
 * other nodes of the same plan may read it (the plan's reads of the variable itself
 * see the value before the update). */
wg_node wg_optimizer_updated(const wg_optimizer *optimizer, int param);

#endif
