/* Optimizers built into the step graph.
 *
 * Given parameter variables and their gradient nodes (from wg_grad), an optimizer
 * creates its state variables (moments, momentum buffers, a step counter) and the
 * wg_assign nodes that apply one update each time a plan containing them runs. The
 * update formulas, their order of operations and the defaults are those of PyTorch's
 * torch.optim.SGD, RMSprop and Adam (single-tensor path, foreach=False, fused=False).
 *
 * State variables start at zero, as wg_session gives every variable, which matches a
 * freshly constructed PyTorch optimizer. Hyperparameters are baked into the graph. */
#ifndef WGAN_OPTIM_H
#define WGAN_OPTIM_H

#include <stdbool.h>

#include "wgan/graph.h"
#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wg_optim_kind { WG_OPTIM_SGD = 0, WG_OPTIM_RMSPROP, WG_OPTIM_ADAM } wg_optim_kind;

/* torch.optim.SGD. A nonzero dampening applies from the second step on (the first
 * step sets the buffer to the gradient), which costs a step counter. */
typedef struct wg_sgd_config {
    double lr;           /* 1e-3 */
    double momentum;     /* 0 */
    double dampening;    /* 0 */
    double weight_decay; /* 0, L2 penalty added to the gradient */
    bool nesterov;       /* false; needs momentum > 0 and dampening 0 */
    bool maximize;       /* false */
} wg_sgd_config;

/* torch.optim.RMSprop. */
typedef struct wg_rmsprop_config {
    double lr;           /* 1e-2 */
    double alpha;        /* 0.99 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
    double momentum;     /* 0 */
    bool centered;       /* false */
    bool maximize;       /* false */
} wg_rmsprop_config;

/* torch.optim.Adam. beta1 or beta2 may be 0 (WGAN-GP uses betas (0, 0.9)). */
typedef struct wg_adam_config {
    double lr;           /* 1e-3 */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0, L2 penalty added to the gradient (not AdamW) */
    bool amsgrad;        /* false */
    bool maximize;       /* false */
} wg_adam_config;

typedef struct wg_optim_config {
    wg_optim_kind kind;
    union {
        wg_sgd_config sgd;
        wg_rmsprop_config rmsprop;
        wg_adam_config adam;
    };
} wg_optim_config;

/* A configuration of `kind` holding PyTorch's defaults. */
WG_API wg_optim_config wg_optim_defaults(wg_optim_kind kind);
/* "sgd", "rmsprop", "adam". */
WG_API const char *wg_optim_kind_name(wg_optim_kind kind);
/* Parses a kind name (case-insensitive); WG_ERR_INVALID naming the accepted ones. */
WG_API wg_status wg_optim_kind_parse(const char *name, wg_optim_kind *out);
/* Checks the hyperparameters the way PyTorch's constructors do; WG_ERR_INVALID with a
 * message naming the field otherwise. wg_optimizer_new calls it too. */
WG_API wg_status wg_optim_check(const wg_optim_config *config);

/* One state variable of an optimizer. */
typedef struct wg_optim_state {
    const char *name; /* "<prefix>.<param name>.<key>", or "<prefix>.step" */
    const char *key;  /* PyTorch's state key: "step", "momentum_buffer", "square_avg",
                         "grad_avg", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" */
    int param;        /* index into the params given to wg_optimizer_new; -1 for the
                         step counter, shared by all parameters */
    wg_node node;     /* the variable */
} wg_optim_state;

typedef struct wg_optimizer wg_optimizer;

/* Builds the update of params[i] (variables) from grads[i] (same shapes) for every i.
 * `prefix` names the state variables (NULL or "" for none); parameters without a node
 * name are called "param<i>". The step counter, when the kind needs one, is a [1]
 * variable holding the number of completed steps, as PyTorch's state "step". Fails
 * with WG_ERR_INVALID on a bad configuration, a parameter that is not a variable or
 * appears twice, or a missing gradient; WG_ERR_SHAPE on mismatched shapes; or with the
 * graph's own error when building failed. */
WG_API wg_status wg_optimizer_new(wg_graph *graph, const wg_optim_config *config, int count,
                                  const wg_node *params, const wg_node *grads, const char *prefix,
                                  wg_optimizer **out);
WG_API void wg_optimizer_free(wg_optimizer *optimizer);

WG_API const wg_optim_config *wg_optimizer_config(const wg_optimizer *optimizer);
/* The wg_assign nodes to add to a plan's targets: one replay, one update. All of them
 * belong in the same plan. */
WG_API int wg_optimizer_update_count(const wg_optimizer *optimizer);
WG_API const wg_node *wg_optimizer_updates(const wg_optimizer *optimizer);
/* Every state variable, for checkpoints: save and restore these (with the parameters)
 * to resume exactly. */
WG_API int wg_optimizer_state_count(const wg_optimizer *optimizer);
WG_API const wg_optim_state *wg_optimizer_state(const wg_optimizer *optimizer, int index);
/* The step counter variable, or WG_NONE when the kind needs none (SGD without
 * dampening). */
WG_API wg_node wg_optimizer_step_variable(const wg_optimizer *optimizer);

#ifdef __cplusplus
}
#endif
#endif
