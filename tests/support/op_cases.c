#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "op_cases.h"

/* ---- builders: each reads its parameters from the case ---- */

static wg_conv_params conv_params(const nc_op_case *c) {
    return (wg_conv_params){c->iv[0], c->iv[1], c->iv[2], c->iv[3]};
}

#define UNARY(fn)                                                                                  \
    static wg_node b_##fn(wg_graph *g, const wg_node *x, const nc_op_case *c) {                    \
        (void)c;                                                                                   \
        return wg_##fn(g, x[0]);                                                                   \
    }
#define BINARY(fn)                                                                                 \
    static wg_node b_##fn(wg_graph *g, const wg_node *x, const nc_op_case *c) {                    \
        (void)c;                                                                                   \
        return wg_##fn(g, x[0], x[1]);                                                             \
    }
UNARY(neg)
UNARY(square)
UNARY(sqrt)
UNARY(rsqrt)
UNARY(reciprocal)
UNARY(exp)
UNARY(log)
UNARY(tanh)
UNARY(sigmoid)
UNARY(softplus)
UNARY(relu)
UNARY(step)
UNARY(sum_all)
UNARY(mean_all)
BINARY(add)
BINARY(sub)
BINARY(mul)
BINARY(div)

static wg_node b_mul_self(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    (void)c;
    return wg_mul(g, x[0], x[0]);
}
static wg_node b_scale(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_scale(g, x[0], c->dv[0]);
}
static wg_node b_add_scalar(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_add_scalar(g, x[0], c->dv[0]);
}
static wg_node b_leaky_relu(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_leaky_relu(g, x[0], c->dv[0]);
}
static wg_node b_clamp(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_clamp(g, x[0], c->dv[0], c->dv[1]);
}
static wg_node b_in_range(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_in_range(g, x[0], c->dv[0], c->dv[1]);
}
static wg_node b_sum(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_sum(g, x[0], (unsigned)c->iv[0], c->iv[1]);
}
static wg_node b_mean(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_mean(g, x[0], (unsigned)c->iv[0], c->iv[1]);
}
static wg_node b_expand(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_expand(g, x[0], c->aux);
}
static wg_node b_sum_to(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_sum_to(g, x[0], c->aux);
}
static wg_node b_reshape(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_reshape(g, x[0], c->aux);
}
static wg_node b_permute(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_permute(g, x[0], c->iv);
}
static wg_node b_slice(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_slice(g, x[0], c->lv, c->aux);
}
static wg_node b_pad(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_pad(g, x[0], c->lv, c->aux);
}
static wg_node b_concat(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_concat(g, c->n_operands, x, c->iv[0]);
}
static wg_node b_matmul(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_matmul(g, x[0], x[1], c->iv[0], c->iv[1]);
}
static wg_node b_conv2d(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_conv2d(g, x[0], x[1], conv_params(c));
}
static wg_node b_conv_transpose2d(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_conv_transpose2d(g, x[0], x[1], conv_params(c), c->iv[4], c->iv[5]);
}
static wg_node b_conv2d_input_grad(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_conv2d_input_grad(g, x[0], x[1], conv_params(c), c->aux);
}
static wg_node b_conv2d_weight_grad(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_conv2d_weight_grad(g, x[0], x[1], conv_params(c), c->aux);
}
/* Operands: x, gamma, beta (gamma and beta absent when the case has one operand). */
static wg_node b_batch_norm(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    wg_node gamma = c->n_operands > 1 ? x[1] : WG_NONE, beta = c->n_operands > 2 ? x[2] : WG_NONE;
    return wg_batch_norm(g, x[0], gamma, beta, c->dv[0], WG_NONE, WG_NONE, 0, NULL);
}
static wg_node b_layer_norm(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    wg_node gamma = c->n_operands > 1 ? x[1] : WG_NONE, beta = c->n_operands > 2 ? x[2] : WG_NONE;
    return wg_layer_norm(g, x[0], gamma, beta, c->dv[0]);
}
static wg_node b_norm_per_sample(wg_graph *g, const wg_node *x, const nc_op_case *c) {
    return wg_norm_per_sample(g, x[0], c->dv[0]);
}

/* ---- the tables ---- */

#define SH1(a)                                                                                     \
    {                                                                                              \
        1, {                                                                                       \
            a, 1, 1, 1                                                                             \
        }                                                                                          \
    }
#define SH2(a, b)                                                                                  \
    {                                                                                              \
        2, {                                                                                       \
            a, b, 1, 1                                                                             \
        }                                                                                          \
    }
#define SH3(a, b, c)                                                                               \
    {                                                                                              \
        3, {                                                                                       \
            a, b, c, 1                                                                             \
        }                                                                                          \
    }
#define SH4(a, b, c, d)                                                                            \
    {                                                                                              \
        4, {                                                                                       \
            a, b, c, d                                                                             \
        }                                                                                          \
    }

/* Value ranges: values are never zero and stay clear of every kink. Case macros take
 * the bare name (ANY) and paste R_ in front, since a brace list cannot pass through
 * one macro into another. */
#define R_ANY                                                                                      \
    {                                                                                              \
        -1.0, 1.0, 0.1, 0, {                                                                       \
            0                                                                                      \
        }                                                                                          \
    }
#define R_WIDE                                                                                     \
    {                                                                                              \
        -3.0, 3.0, 0.1, 0, {                                                                       \
            0                                                                                      \
        }                                                                                          \
    }
#define R_POS                                                                                      \
    {                                                                                              \
        0.5, 2.0, 0.1, 0, {                                                                        \
            0                                                                                      \
        }                                                                                          \
    }
#define R_NONZERO                                                                                  \
    {                                                                                              \
        -2.0, 2.0, 0.5, 0, {                                                                       \
            0                                                                                      \
        }                                                                                          \
    } /* |v| >= 0.5: divisors, reciprocals */
#define R_CLAMPED                                                                                  \
    {                                                                                              \
        -1.0, 1.0, 0.05, 2, {                                                                      \
            -0.5, 0.5                                                                              \
        }                                                                                          \
    }

#define CASE_UNARY(nm, fn, sh, rg, ...)                                                            \
    { .name = nm, .build = fn, .n_operands = 1, .shape = {sh}, .range = {R_##rg}, __VA_ARGS__ }
#define CASE_BINARY(nm, fn, sa, sb, rb)                                                            \
    {                                                                                              \
        .name = nm, .build = fn, .n_operands = 2, .shape = {sa, sb}, .range = { R_ANY, R_##rb }    \
    }
#define BINARY_CASES(op, rb)                                                                       \
    CASE_BINARY(#op "_same", b_##op, SH2(3, 4), SH2(3, 4), rb),                                    \
        CASE_BINARY(#op "_bcast_b", b_##op, SH3(2, 3, 4), SH2(3, 1), rb),                          \
        CASE_BINARY(#op "_bcast_a", b_##op, SH2(4, 1), SH3(2, 4, 3), rb),                          \
        CASE_BINARY(#op "_bcast_both", b_##op, SH3(3, 1, 5), SH2(4, 1), rb)
#define CASE_MATMUL(nm, ta, tb, sa, sb)                                                            \
    {                                                                                              \
        .name = nm, .build = b_matmul, .n_operands = 2, .shape = {sa, sb},                         \
        .range = {R_ANY, R_ANY}, .iv = {                                                           \
            ta,                                                                                    \
            tb                                                                                     \
        }                                                                                          \
    }

const nc_op_case nc_small_cases[] = {
    BINARY_CASES(add, ANY),
    BINARY_CASES(sub, ANY),
    BINARY_CASES(mul, ANY),
    BINARY_CASES(div, NONZERO),
    CASE_UNARY("mul_self", b_mul_self, SH2(3, 4), ANY),
    CASE_UNARY("scale", b_scale, SH2(3, 5), ANY, .dv = {-1.7}),
    CASE_UNARY("add_scalar", b_add_scalar, SH2(3, 5), ANY, .dv = {0.3}),
    CASE_UNARY("neg", b_neg, SH2(3, 5), ANY),
    CASE_UNARY("square", b_square, SH2(3, 5), ANY),
    CASE_UNARY("sqrt", b_sqrt, SH2(3, 5), POS),
    CASE_UNARY("rsqrt", b_rsqrt, SH2(3, 5), POS),
    CASE_UNARY("reciprocal", b_reciprocal, SH2(3, 5), NONZERO),
    CASE_UNARY("exp", b_exp, SH2(3, 5), ANY),
    CASE_UNARY("log", b_log, SH2(3, 5), POS),
    CASE_UNARY("tanh", b_tanh, SH2(3, 5), WIDE),
    CASE_UNARY("sigmoid", b_sigmoid, SH2(3, 5), WIDE),
    CASE_UNARY("softplus", b_softplus, SH2(3, 5), WIDE),
    CASE_UNARY("relu", b_relu, SH2(3, 5), ANY),
    CASE_UNARY("leaky_relu", b_leaky_relu, SH2(3, 5), ANY, .dv = {0.2}),
    CASE_UNARY("clamp", b_clamp, SH2(4, 5), CLAMPED, .dv = {-0.5, 0.5}),
    CASE_UNARY("step", b_step, SH2(3, 5), ANY),
    CASE_UNARY("in_range", b_in_range, SH2(4, 5), CLAMPED, .dv = {-0.5, 0.5}),
    CASE_UNARY("sum_axis0", b_sum, SH4(2, 3, 4, 5), ANY, .iv = {0x1, 0}),
    CASE_UNARY("sum_axes02_keepdim", b_sum, SH4(2, 3, 4, 5), ANY, .iv = {0x5, 1}),
    CASE_UNARY("sum_axes123", b_sum, SH4(2, 3, 4, 5), ANY, .iv = {0xe, 0}),
    CASE_UNARY("sum_axes_all_keepdim", b_sum, SH4(2, 3, 4, 5), ANY, .iv = {0xf, 1}),
    CASE_UNARY("sum_axis1_2d", b_sum, SH2(4, 6), ANY, .iv = {0x2, 0}),
    CASE_UNARY("mean_axis3", b_mean, SH4(2, 3, 4, 5), ANY, .iv = {0x8, 0}),
    CASE_UNARY("mean_axes01_keepdim", b_mean, SH4(2, 3, 4, 5), ANY, .iv = {0x3, 1}),
    CASE_UNARY("mean_axes13", b_mean, SH4(2, 3, 4, 5), ANY, .iv = {0xa, 0}),
    CASE_UNARY("mean_axis0_3d_keepdim", b_mean, SH3(3, 4, 5), ANY, .iv = {0x1, 1}),
    CASE_UNARY("sum_all", b_sum_all, SH3(3, 4, 5), ANY),
    CASE_UNARY("mean_all", b_mean_all, SH3(3, 4, 5), ANY),
    CASE_UNARY("expand_4d", b_expand, SH3(3, 1, 4), ANY, .aux = SH4(2, 3, 5, 4)),
    CASE_UNARY("expand_rank", b_expand, SH1(4), ANY, .aux = SH2(3, 4)),
    CASE_UNARY("expand_scalar", b_expand, SH1(1), ANY, .aux = SH3(2, 3, 2)),
    CASE_UNARY("sum_to_4d", b_sum_to, SH4(2, 3, 4, 5), ANY, .aux = SH3(3, 1, 5)),
    CASE_UNARY("sum_to_keep_middle", b_sum_to, SH3(2, 3, 4), ANY, .aux = SH3(1, 3, 1)),
    CASE_UNARY("sum_to_scalar", b_sum_to, SH2(3, 4), ANY, .aux = SH1(1)),
    CASE_UNARY("reshape", b_reshape, SH3(2, 3, 4), ANY, .aux = SH2(4, 6)),
    CASE_UNARY("reshape_4d", b_reshape, SH4(2, 3, 4, 5), ANY, .aux = SH2(6, 20)),
    CASE_UNARY("permute_4d", b_permute, SH4(2, 3, 4, 5), ANY, .iv = {2, 0, 3, 1}),
    CASE_UNARY("permute_3d", b_permute, SH3(3, 4, 5), ANY, .iv = {2, 1, 0}),
    CASE_UNARY("permute_2d", b_permute, SH2(3, 4), ANY, .iv = {1, 0}),
    CASE_UNARY("slice_3d", b_slice, SH3(4, 5, 6), ANY, .lv = {1, 0, 2}, .aux = SH3(2, 5, 3)),
    CASE_UNARY("slice_4d", b_slice, SH4(3, 8, 7, 6), ANY, .lv = {1, 2, 0, 3},
               .aux = SH4(2, 4, 7, 2)),
    CASE_UNARY("pad_2d", b_pad, SH2(2, 3), ANY, .lv = {1, 2}, .aux = SH2(4, 6)),
    CASE_UNARY("pad_4d", b_pad, SH4(2, 2, 3, 3), ANY, .lv = {0, 1, 1, 2}, .aux = SH4(2, 4, 5, 6)),
    {.name = "concat_axis1",
     .build = b_concat,
     .n_operands = 3,
     .shape = {SH3(2, 1, 3), SH3(2, 2, 3), SH3(2, 3, 3)},
     .range = {R_ANY, R_ANY, R_ANY},
     .iv = {1}},
    {.name = "concat_axis0",
     .build = b_concat,
     .n_operands = 2,
     .shape = {SH2(1, 4), SH2(2, 4)},
     .range = {R_ANY, R_ANY},
     .iv = {0}},
    {.name = "concat_axis3",
     .build = b_concat,
     .n_operands = 2,
     .shape = {SH4(2, 2, 3, 2), SH4(2, 2, 3, 1)},
     .range = {R_ANY, R_ANY},
     .iv = {3}},
    CASE_MATMUL("matmul_nn", 0, 0, SH2(3, 4), SH2(4, 5)),
    CASE_MATMUL("matmul_nt", 0, 1, SH2(3, 4), SH2(5, 4)),
    CASE_MATMUL("matmul_tn", 1, 0, SH2(4, 3), SH2(4, 5)),
    CASE_MATMUL("matmul_tt", 1, 1, SH2(4, 3), SH2(5, 4)),
    /* stride 2, padding on one axis, a 3x2 kernel; 7 rows leave none uncovered */
    {.name = "conv2d_stride2_pad",
     .build = b_conv2d,
     .n_operands = 2,
     .shape = {SH4(2, 3, 7, 6), SH4(4, 3, 3, 2)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 1, 0}},
    /* stride 1x2, padding 0x1, a 2x3 kernel; 8 rows at stride 2 below leave one unread */
    {.name = "conv2d_stride12_pad01",
     .build = b_conv2d,
     .n_operands = 2,
     .shape = {SH4(2, 3, 6, 7), SH4(4, 3, 2, 3)},
     .range = {R_ANY, R_ANY},
     .iv = {1, 2, 0, 1}},
    {.name = "conv2d_uncovered_row",
     .build = b_conv2d,
     .n_operands = 2,
     .shape = {SH4(2, 2, 8, 5), SH4(3, 2, 3, 3)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 1, 1}},
    {.name = "conv_transpose2d_outpad",
     .build = b_conv_transpose2d,
     .n_operands = 2,
     .shape = {SH4(2, 3, 4, 3), SH4(3, 2, 3, 2)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 1, 0, 1, 1}},
    {.name = "conv_transpose2d_stride12",
     .build = b_conv_transpose2d,
     .n_operands = 2,
     .shape = {SH4(2, 2, 3, 4), SH4(2, 3, 2, 3)},
     .range = {R_ANY, R_ANY},
     .iv = {1, 2, 0, 1, 0, 1}},
    {.name = "conv2d_input_grad",
     .build = b_conv2d_input_grad,
     .n_operands = 2,
     .shape = {SH4(2, 4, 4, 3), SH4(4, 3, 3, 2)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 1, 0},
     .aux = SH4(2, 3, 8, 6)},
    {.name = "conv2d_weight_grad",
     .build = b_conv2d_weight_grad,
     .n_operands = 2,
     .shape = {SH4(2, 3, 8, 6), SH4(2, 4, 4, 3)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 1, 0},
     .aux = SH4(4, 3, 3, 2)},
    {.name = "batch_norm_affine_4d",
     .build = b_batch_norm,
     .n_operands = 3,
     .shape = {SH4(4, 3, 2, 2), SH1(3), SH1(3)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    {.name = "batch_norm_affine_2d",
     .build = b_batch_norm,
     .n_operands = 3,
     .shape = {SH2(6, 4), SH1(4), SH1(4)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    CASE_UNARY("batch_norm_plain", b_batch_norm, SH4(3, 2, 3, 2), WIDE, .dv = {1e-3}),
    {.name = "layer_norm_affine_4d",
     .build = b_layer_norm,
     .n_operands = 3,
     .shape = {SH4(3, 2, 3, 3), SH3(2, 3, 3), SH3(2, 3, 3)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    {.name = "layer_norm_affine_2d",
     .build = b_layer_norm,
     .n_operands = 3,
     .shape = {SH2(4, 6), SH1(6), SH1(6)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    CASE_UNARY("norm_per_sample_4d", b_norm_per_sample, SH4(3, 2, 2, 3), ANY, .dv = {1e-3}),
    CASE_UNARY("norm_per_sample_plain", b_norm_per_sample, SH2(4, 5), ANY, .dv = {0}),
    CASE_UNARY("norm_per_sample_1d", b_norm_per_sample, SH1(5), ANY, .dv = {0.25}),
};
const int nc_small_case_count = (int)(sizeof nc_small_cases / sizeof nc_small_cases[0]);

const nc_op_case nc_large_cases[] = {
    {.name = "big_conv2d_3x3",
     .build = b_conv2d,
     .n_operands = 2,
     .shape = {SH4(50, 64, 14, 14), SH4(128, 64, 3, 3)},
     .range = {R_ANY, R_ANY},
     .iv = {1, 1, 1, 1}},
    {.name = "big_conv2d_5x5_stride2",
     .build = b_conv2d,
     .n_operands = 2,
     .shape = {SH4(50, 64, 14, 14), SH4(128, 64, 5, 5)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 2, 2}},
    {.name = "big_conv_transpose2d",
     .build = b_conv_transpose2d,
     .n_operands = 2,
     .shape = {SH4(50, 128, 7, 7), SH4(128, 64, 5, 5)},
     .range = {R_ANY, R_ANY},
     .iv = {2, 2, 2, 2, 1, 1}},
    CASE_MATMUL("big_matmul_tn", 1, 0, SH2(300, 64), SH2(300, 200)),
    CASE_MATMUL("big_matmul_nt", 0, 1, SH2(50, 4096), SH2(16, 4096)),
    CASE_BINARY("big_add_bcast", b_add, SH4(50, 64, 14, 14), SH3(64, 1, 1), ANY),
    CASE_BINARY("big_div_bcast", b_div, SH4(50, 64, 14, 14), SH4(50, 1, 14, 1), NONZERO),
    CASE_UNARY("big_sum_axes023_keepdim", b_sum, SH4(50, 64, 14, 14), ANY, .iv = {0xd, 1}),
    CASE_UNARY("big_mean_axes123", b_mean, SH4(50, 64, 14, 14), ANY, .iv = {0xe, 0}),
    CASE_UNARY("big_leaky_relu", b_leaky_relu, SH4(50, 64, 14, 14), ANY, .dv = {0.2}),
    CASE_UNARY("big_tanh", b_tanh, SH4(50, 64, 14, 14), WIDE),
    CASE_UNARY("big_permute", b_permute, SH4(50, 64, 14, 14), ANY, .iv = {0, 2, 3, 1}),
    CASE_UNARY("big_slice", b_slice, SH4(50, 64, 16, 16), ANY, .lv = {0, 0, 1, 1},
               .aux = SH4(50, 64, 14, 14)),
    {.name = "big_batch_norm",
     .build = b_batch_norm,
     .n_operands = 3,
     .shape = {SH4(50, 64, 14, 14), SH1(64), SH1(64)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    {.name = "big_layer_norm",
     .build = b_layer_norm,
     .n_operands = 3,
     .shape = {SH4(50, 64, 7, 7), SH3(64, 7, 7), SH3(64, 7, 7)},
     .range = {R_WIDE, R_ANY, R_ANY},
     .dv = {1e-5}},
    CASE_UNARY("big_norm_per_sample", b_norm_per_sample, SH4(50, 1, 28, 28), ANY, .dv = {1e-12}),
};
const int nc_large_case_count = (int)(sizeof nc_large_cases / sizeof nc_large_cases[0]);

/* ---- derivative graphs ---- */

static wg_node named_input(wg_graph *g, wg_shape shape, const char *prefix, int i) {
    char name[32];
    snprintf(name, sizeof name, "%s%d", prefix, i);
    return wg_input(g, shape, name);
}

void nc_build_derivs(const nc_op_case *c, wg_dtype dtype, nc_deriv_graph *d) {
    wg_graph *g = nc_graph(dtype);
    *d = (nc_deriv_graph){.graph = g, .c = c, .n = c->n_operands};
    for (int i = 0; i < d->n; i++) d->x[i] = named_input(g, c->shape[i], "x", i);
    d->y = c->build(g, d->x, c);
    wg_shape ys = wg_node_shape(g, d->y);
    d->r = wg_input(g, ys, "r");
    d->s = wg_input(g, ys, "s");
    d->L = wg_add(g, wg_sum_all(g, wg_mul(g, d->r, d->y)),
                  wg_sum_all(g, wg_mul(g, d->s, wg_square(g, d->y))));
    if (wg_graph_status(g) != WG_OK) fail_msg("%s: building y: %s", c->name, wg_graph_error(g));
    nc_check(wg_grad(g, d->L, d->n, d->x, d->dx), "wg_grad(L)");
    for (int i = 0; i < d->n; i++) {
        d->v[i] = named_input(g, c->shape[i], "v", i);
        wg_node term = wg_sum_all(g, wg_mul(g, d->v[i], d->dx[i]));
        d->M = i == 0 ? term : wg_add(g, d->M, term);
    }
    if (wg_graph_status(g) != WG_OK) fail_msg("%s: building M: %s", c->name, wg_graph_error(g));
    nc_check(wg_grad(g, d->M, d->n, d->x, d->ddx), "wg_grad(M)");
    if (wg_graph_status(g) != WG_OK) fail_msg("%s: %s", c->name, wg_graph_error(g));
}

static double *drawn(const wg_graph *g, wg_node node, nc_rng *rng, nc_range range) {
    int64_t n = wg_node_numel(g, node);
    double *x = nc_buf(n);
    nc_fill(rng, x, n, range);
    return x;
}

void nc_draw_derivs(const nc_deriv_graph *d, uint64_t stream, nc_deriv_data *data) {
    static const nc_range weights = {-1.0, 1.0, 0.05, 0, {0}};
    nc_rng rng = nc_rng_for(stream);
    for (int i = 0; i < d->n; i++) {
        data->x[i] = drawn(d->graph, d->x[i], &rng, d->c->range[i]);
        data->v[i] = drawn(d->graph, d->v[i], &rng, weights);
    }
    data->r = drawn(d->graph, d->r, &rng, weights);
    data->s = drawn(d->graph, d->s, &rng, weights);
}

void nc_write_derivs(wg_session *session, const nc_deriv_graph *d, const nc_deriv_data *data) {
    for (int i = 0; i < d->n; i++) {
        nc_write(session, d->x[i], data->x[i]);
        nc_write(session, d->v[i], data->v[i]);
    }
    nc_write(session, d->r, data->r);
    nc_write(session, d->s, data->s);
}

int nc_deriv_targets(const nc_deriv_graph *d, wg_node *targets, const char **labels) {
    static const char *const dx_labels[] = {"dL/dx0", "dL/dx1", "dL/dx2", "dL/dx3"};
    static const char *const ddx_labels[] = {"dM/dx0", "dM/dx1", "dM/dx2", "dM/dx3"};
    int count = 0;
    labels[count] = "y";
    targets[count++] = d->y;
    for (int i = 0; i < d->n; i++) {
        labels[count] = dx_labels[i];
        targets[count++] = d->dx[i];
    }
    for (int i = 0; i < d->n; i++) {
        labels[count] = ddx_labels[i];
        targets[count++] = d->ddx[i];
    }
    return count;
}

int nc_add_case_tests(struct CMUnitTest *tests, int count, const nc_op_case *cases, int n_cases,
                      void (*test)(void **state)) {
    for (int i = 0; i < n_cases; i++)
        tests[count++] = (struct CMUnitTest){.name = cases[i].name,
                                             .test_func = test,
                                             .teardown_func = nc_teardown,
                                             .initial_state = (void *)&cases[i]};
    return count;
}

/* ---- op kinds ---- */

int nc_op_kind(wg_op op, int code) {
    if (op == WG_OP_MAP && code >= 0 && code < WG_MAP_COUNT) return WG_OP_COUNT + code;
    if (op == WG_OP_BINARY && code >= 0 && code < WG_BIN_COUNT)
        return WG_OP_COUNT + WG_MAP_COUNT + code;
    return (int)op;
}

static void kind_op(int kind, wg_op *op, int *code) {
    *op = kind < WG_OP_COUNT                  ? (wg_op)kind
          : kind < WG_OP_COUNT + WG_MAP_COUNT ? WG_OP_MAP
                                              : WG_OP_BINARY;
    *code = kind < WG_OP_COUNT                  ? 0
            : kind < WG_OP_COUNT + WG_MAP_COUNT ? kind - WG_OP_COUNT
                                                : kind - WG_OP_COUNT - WG_MAP_COUNT;
}

const char *nc_op_kind_label(int kind, char *buf, size_t size) {
    wg_op op;
    int code;
    kind_op(kind, &op, &code);
    return wg_op_label(op, code, buf, size);
}

bool nc_op_kind_runs(int kind) {
    wg_op op;
    int code;
    kind_op(kind, &op, &code);
    return wg_op_has_kernel(op) && (kind >= WG_OP_COUNT || (op != WG_OP_MAP && op != WG_OP_BINARY));
}

static void sample_graph(const wg_graph *g, wg_op_query *queries, bool *have) {
    for (wg_node i = 0; i < wg_graph_size(g); i++) {
        wg_op_query q = wg_op_query_of(g, i);
        int kind = nc_op_kind(q.op, q.code);
        if (have[kind] || !nc_op_kind_runs(kind)) continue;
        queries[kind] = q;
        have[kind] = true;
    }
}

void nc_sample_queries(wg_dtype dtype, wg_op_query queries[NC_OP_KINDS], bool have[NC_OP_KINDS]) {
    for (int k = 0; k < NC_OP_KINDS; k++) have[k] = false;
    for (int c = 0; c < nc_small_case_count; c++) {
        nc_deriv_graph d;
        nc_build_derivs(&nc_small_cases[c], dtype, &d);
        sample_graph(d.graph, queries, have);
    }
    wg_graph *g = nc_graph(dtype);
    wg_node v = wg_variable(g, wg_shape2(3, 4), "v");
    wg_assign(g, v, wg_random_uniform(g, "support_uniform", wg_shape2(3, 4), -1, 1));
    wg_random_normal(g, "support_normal", wg_shape1(5), 0, 1);
    sample_graph(g, queries, have);
}

int nc_unsupported_kinds(wg_device *device, wg_dtype dtype) {
    wg_op_query queries[NC_OP_KINDS];
    bool have[NC_OP_KINDS];
    nc_sample_queries(dtype, queries, have);
    int gaps = 0;
    for (int kind = 0; kind < NC_OP_KINDS; kind++) {
        if (!nc_op_kind_runs(kind)) continue;
        char label[48];
        const char *why = "no case in tests/support/op_cases.c";
        if (have[kind] && device->backend->supports_op(device, &queries[kind], &why)) continue;
        printf("%s (%s): %s\n", nc_op_kind_label(kind, label, sizeof label),
               dtype == WG_F64 ? "f64" : "f32", why);
        gaps++;
    }
    return gaps;
}
