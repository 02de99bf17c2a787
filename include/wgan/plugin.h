/* The plugin ABI: how Lipschitz strategies, losses, architectures and data sets are
 * written as shared objects that the runtime loads with dlopen.
 *
 * A plugin exports one function, WG_PLUGIN_ENTRY_NAME, that hands back an array of
 * descriptors. Each descriptor states the ABI it was compiled against (major, minor,
 * its own size), its kind, the name a YAML file uses (`plugin: gradient_penalty`), and
 * a kind-specific vtable that starts with its own size. The runtime refuses another
 * major version or a newer minor, and never reads a field beyond a struct's size, so
 * fields are only ever appended.
 *
 * Plugins build graph nodes through include/wgan/graph.h and the wg_build functions
 * below; they never see a device. Errors are returned as wg_status with a message set
 * through wg_fail(); a plugin never aborts the process on bad configuration.
 *
 * A minimal plugin (stateless: no create, no destroy):
 *
 *     static const wg_loss_vtable vt = {.struct_size = sizeof vt, .critic_loss = critic_loss,
 *                                       .generator_loss = gen_loss};
 *     static const wg_plugin_desc desc = WG_PLUGIN_DESC(WG_PLUGIN_LOSS, "hinge",
 *                                                       "hinge loss", &vt);
 *     WG_PLUGIN_EXPORT_ONE(desc)
 *
 * Lifetime. `create` runs once per plugin and experiment (a `wgan run`, each run of a
 * `wgan compare`), after the configuration is read and before anything is traced; its
 * state goes to every other hook and, when not NULL, once to `destroy` as the
 * experiment ends. Both may be NULL (ABI 2.0): the state is then NULL, and since the
 * runtime refuses keys that `create` did not read, such a plugin accepts no keys. When
 * `create` fails, `destroy` is not called and *state is ignored: free what was made
 * before returning the error.
 *
 * Step graphs are traced once and replayed every step, so the hooks that build nodes
 * run while tracing, a few times per experiment, never once per step:
 *   - lipschitz `penalty` / `penalty_ctx`: once, in the critic step (never for the
 *     generator step, the diagnostics or the evaluation);
 *   - loss `critic_loss`: once (critic step); `generator_loss` or `generator_loss_ctx`:
 *     once (generator step);
 *   - lipschitz `reparametrize`: once per critic weight in every trace that applies the
 *     critic (critic step, generator step, diagnostics, evaluation), so several times;
 *   - lipschitz `project`: once per critic parameter, in the projection trace;
 *   - arch `generator` / `critic`: once per application; the critic is applied several
 *     times in one trace (real batch, generated batch, each wg_critic_fn call of a
 *     penalty), sharing its parameters through wg_build_param's names.
 *
 * Strings a plugin passes to the runtime (parameter, state and metric names, node
 * names, random draw names) are copied: they need not outlive the call. The strings of
 * a wg_plugin_desc must live as long as the library (string literals).
 *
 * Metrics: the `critic_loss` column of metrics.csv is the loss plugin's critic loss
 * alone; the penalty is the `penalty` column, and the critic minimises their sum.
 *
 * Gradients: wg_grad accepts computed nodes as `wrt` (the gradient penalty takes the
 * critic's gradient at its interpolates), and its result can be differentiated again;
 * wg_stop_gradient cuts a path.
 *
 * Random numbers: name every draw (wg_random_uniform's `name`); the runtime prefixes
 * the key with who draws ("critic_step/lipschitz.<plugin>/<name>"), so a plugin's draws
 * never move anyone else's numbers. The rule and the key layout: docs/random.md.
 */
#ifndef WGAN_PLUGIN_H
#define WGAN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "wgan/config.h"
#include "wgan/graph.h"
#include "wgan/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WG_PLUGIN_ABI_MAJOR 2
#define WG_PLUGIN_ABI_MINOR 1
#define WG_PLUGIN_ENTRY_NAME "wg_plugin_entry"

typedef enum wg_plugin_kind {
    WG_PLUGIN_LIPSCHITZ = 1,
    WG_PLUGIN_LOSS = 2,
    WG_PLUGIN_ARCH = 3,
    WG_PLUGIN_DATA = 4,
} wg_plugin_kind;

typedef struct wg_plugin_desc {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size; /* sizeof(wg_plugin_desc) where the plugin was compiled */
    wg_plugin_kind kind;
    const char *name;    /* the YAML `plugin:` value */
    const char *summary; /* one line for `wgan plugins` */
    const void *vtable;  /* wg_<kind>_vtable, starting with its uint32_t struct_size */
} wg_plugin_desc;

#define WG_PLUGIN_DESC(kind, name, summary, vtable)                                                \
    {                                                                                              \
        WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR, sizeof(wg_plugin_desc), (kind), (name),          \
            (summary), (vtable)                                                                    \
    }

/* The entry point: returns `*count` descriptors that live as long as the library. */
typedef const wg_plugin_desc *const *(*wg_plugin_entry_fn)(int *count);

#define WG_PLUGIN_EXPORT __attribute__((visibility("default")))
#define WG_PLUGIN_EXPORT_ONE(desc)                                                                 \
    WG_PLUGIN_EXPORT const wg_plugin_desc *const *wg_plugin_entry(int *count) {                    \
        static const wg_plugin_desc *const list[] = {&(desc)};                                     \
        *count = 1;                                                                                \
        return list;                                                                               \
    }

/* ---- what the runtime offers plugins while a step graph is being built ---- */

typedef struct wg_build wg_build;

typedef enum wg_init_kind {
    WG_INIT_ZEROS,
    WG_INIT_CONSTANT,      /* a */
    WG_INIT_UNIFORM,       /* U(a, b) */
    WG_INIT_NORMAL,        /* N(a, b^2) */
    WG_INIT_TORCH_DEFAULT, /* PyTorch's Linear/Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} wg_init_kind;

typedef struct wg_init {
    wg_init_kind kind;
    double a, b;
    int64_t fan_in; /* for WG_INIT_TORCH_DEFAULT */
} wg_init;

typedef enum wg_param_role {
    WG_PARAM_WEIGHT, /* a matrix or kernel: the Lipschitz strategy may reparametrise it */
    WG_PARAM_BIAS,   /* biases, norm gains and shifts: trained, not reparametrised */
} wg_param_role;

WG_API wg_graph *wg_build_graph(wg_build *build);
/* Which network is being built: "generator" or "critic". */
WG_API const char *wg_build_network(const wg_build *build);
/* A trainable parameter of the current network, created on first use and returned
 * again for the same name, so a network applied several times (the critic on real,
 * fake and interpolated batches) shares its weights. For critic weights this returns
 * the node to use in the forward pass: the Lipschitz strategy's reparametrisation
 * (spectral norm's W / sigma) when it has one, else the variable itself. */
WG_API wg_node wg_build_param(wg_build *build, const char *name, wg_shape shape, wg_init init,
                              wg_param_role role);
/* Non-trainable state of the current network (running statistics, power-iteration
 * vectors), saved in checkpoints like parameters. Returned again for the same name. */
WG_API wg_node wg_build_state(wg_build *build, const char *name, wg_shape shape, wg_init init);
/* Adds a wg_assign node to the step being built (running statistics, u vectors). */
WG_API void wg_build_add_update(wg_build *build, wg_node assign);
/* Number of samples in the batch being built. */
WG_API int64_t wg_build_batch(const wg_build *build);
/* Adds a named scalar (a [1] node) to the metrics logged for the step; the name has
 * 1 to 47 characters. */
WG_API void wg_build_add_metric(wg_build *build, const char *name, wg_node value);

/* ---- lipschitz ---- */

/* The critic as a function the strategy can call (gradient penalty evaluates it at
 * interpolated points). */
typedef struct wg_critic_fn {
    wg_status (*apply)(void *self, wg_build *build, wg_node x, wg_node *score);
    void *self;
} wg_critic_fn;

enum {
    /* The strategy's penalty needs per-sample input gradients, which batch norm in the
     * critic makes depend on the whole batch: the runtime warns about the pair. */
    WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS = 1u << 0,
};

/* What the penalty of a critic step is built from (ABI 2.0). The runtime fills
 * struct_size with its own sizeof; fields are only ever appended, and the loader never
 * gives a plugin a context older than the headers it was built with. */
typedef struct wg_penalty_context {
    uint32_t struct_size;
    const wg_critic_fn *critic;
    wg_node real, fake; /* the step's batches, [N, sample...] */
    /* critic(real) and critic(fake) of this step, [N, 1]: the very nodes the loss
     * sees, so a penalty on them (R1 at the real batch) needs no second forward pass */
    wg_node real_scores, fake_scores;
} wg_penalty_context;

/* Dropout in the critic (ABI 2.1), for penalties that compare perturbed passes of the
 * critic (the consistency term of CT-GAN). The critic of the step's loss never drops
 * anything: only a penalty asks for it, one application at a time. */

/* critic(x) with dropout of probability `rate` (in [0, 1)) on the hidden layers of an
 * architecture that supports it (mlp, dcgan: wg_build_dropout after each hidden
 * activation), *score [N, 1]. `features`, when not NULL, gets the critic's
 * second-to-last layer as the architecture reported it (wg_build_critic_features),
 * [N, ...], or WG_NONE when it reports none. Each call is a new application of the
 * critic, so its dropout masks are drawn afresh (keyed "critic.<n>/<name>"). */
WG_API wg_status wg_build_apply_critic_dropout(wg_build *build, const wg_critic_fn *critic,
                                               double rate, wg_node x, wg_node *score,
                                               wg_node *features);
/* For architecture plugins: x itself when no dropout was asked for (the usual case),
 * else inverted dropout, x * (u > rate) / (1 - rate) with u ~ U(0, 1) per element,
 * drawn as wg_random_uniform(graph, name, ...): name each call site ("fc1.dropout"). */
WG_API wg_node wg_build_dropout(wg_build *build, const char *name, wg_node x);
/* For architecture plugins: h, [N, ...], is the critic's second-to-last layer (the
 * input of its last linear map) in the application being built. */
WG_API void wg_build_critic_features(wg_build *build, wg_node h);

typedef struct wg_lipschitz_vtable {
    uint32_t struct_size;
    unsigned flags;
    wg_status (*create)(const wg_cfg *config, void **state); /* optional */
    void (*destroy)(void *state);                            /* optional */
    /* Optional. The weight the critic's forward pass uses in place of `weight`. Called
     * once per weight per step graph; may create state and add updates. */
    wg_status (*reparametrize)(void *state, wg_build *build, const char *name, wg_node weight,
                               wg_node *used);
    /* Optional. A term added to the critic loss; `real` and `fake` are batches. ABI 1.0's
     * form of penalty_ctx, which is used instead when a plugin sets both. */
    wg_status (*penalty)(void *state, wg_build *build, const wg_critic_fn *critic, wg_node real,
                         wg_node fake, wg_node *penalty);
    /* Optional. The value a critic weight takes after an optimizer update: given the
     * updated value, return the projected one (weight clipping). */
    wg_status (*project)(void *state, wg_build *build, const char *name, wg_param_role role,
                         wg_node updated, wg_node *projected);
    /* Optional (ABI 2.0). A term added to the critic loss, a [1] node, built from the
     * step's batches and the critic's scores on them. */
    wg_status (*penalty_ctx)(void *state, wg_build *build, const wg_penalty_context *context,
                             wg_node *penalty);
} wg_lipschitz_vtable;

/* ---- loss ---- */

/* What a generator loss is built from (ABI 2.1); struct_size and append-only as for
 * wg_penalty_context. */
typedef struct wg_generator_loss_context {
    uint32_t struct_size;
    /* critic(real) on the real batch of the generator step's last critic step, and
     * critic(G(z)) on this step's generated batch, [N, 1] each */
    wg_node real_scores, fake_scores;
} wg_generator_loss_context;

typedef struct wg_loss_vtable {
    uint32_t struct_size;
    wg_status (*create)(const wg_cfg *config, void **state); /* optional */
    void (*destroy)(void *state);                            /* optional */
    /* Scores are [N, 1] critic outputs; losses are [1] nodes to minimise. */
    wg_status (*critic_loss)(void *state, wg_build *build, wg_node real_scores, wg_node fake_scores,
                             wg_node *loss);
    /* Required unless generator_loss_ctx is set, which is then used instead. */
    wg_status (*generator_loss)(void *state, wg_build *build, wg_node fake_scores, wg_node *loss);
    /* Optional (ABI 2.1). The generator loss of losses that also need the critic's scores
     * on real data (relativistic GANs); the runtime applies the critic to the real batch
     * in the generator step only for a loss that sets this hook. */
    wg_status (*generator_loss_ctx)(void *state, wg_build *build,
                                    const wg_generator_loss_context *context, wg_node *loss);
} wg_loss_vtable;

/* ---- arch ---- */

typedef struct wg_arch_vtable {
    uint32_t struct_size;
    /* sample_shape: one sample of the data, e.g. [2] or [1, 28, 28]. Optional. */
    wg_status (*create)(const wg_cfg *config, wg_shape sample_shape, void **state);
    void (*destroy)(void *state); /* optional */
    /* Length of the generator's noise vector. */
    int64_t (*noise_dim)(void *state);
    /* z [N, noise_dim] -> samples [N, sample_shape...]. */
    wg_status (*generator)(void *state, wg_build *build, wg_node z, wg_node *x);
    /* x [N, sample_shape...] -> scores [N, 1]. */
    wg_status (*critic)(void *state, wg_build *build, wg_node x, wg_node *score);
    /* Optional: whether the critic uses batch norm (see WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS). */
    int (*critic_uses_batch_norm)(void *state);
} wg_arch_vtable;

/* ---- data ---- */

typedef enum wg_data_layout {
    WG_DATA_POINTS, /* [N, D] vectors: scatter plots, exact W1 */
    WG_DATA_IMAGES, /* [N, C, H, W] in [-1, 1]: image grids */
} wg_data_layout;

typedef struct wg_data_vtable {
    uint32_t struct_size;
    /* `seed` fixes the data order and any sampling (the run's seed; key the draws as
     * docs/random.md says). Missing or corrupt files are reported here (WG_ERR_IO
     * naming the path), before training starts. Optional. */
    wg_status (*create)(const wg_cfg *config, uint64_t seed, void **state);
    void (*destroy)(void *state); /* optional */
    wg_status (*sample_shape)(void *state, wg_shape *shape, wg_data_layout *layout);
    /* Batch number `index` (0, 1, 2, ...) of `count` samples as float, row-major. The
     * same (seed, index) must give the same batch, so a resumed run sees the data the
     * uninterrupted run would have seen. */
    wg_status (*batch)(void *state, uint64_t index, int64_t count, float *out);
    /* Optional (ABI 1.1). For data drawn from a mixture of isotropic gaussians (the toy
     * mixtures), what mode-coverage metrics need: *count modes with centers at
     * (*centers)[m * dim .. m * dim + dim), valid as long as the state, and the
     * per-coordinate standard deviation of each component, all in data space (after any
     * scaling the plugin applies). *count 0: the data has no such modes. */
    wg_status (*modes)(void *state, int *count, const double **centers, int *dim, double *std);
} wg_data_vtable;

#ifdef __cplusplus
}
#endif
#endif
