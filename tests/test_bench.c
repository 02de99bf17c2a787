/* What `wgan bench` counts without timing anything: the FLOPs of a planned graph
 * (wg_plan_flops) and the profile's per-op bookkeeping. Expected counts are written out
 * by hand from the textbook formulas, not from the planner's code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wgan/device.h"
#include "wgan/graph.h"
#include "wgan/session.h"

typedef struct known_graph {
    wg_graph *graph;
    wg_node targets[8];
    int n_targets;
    double flops; /* by hand */
    wg_device *device;
    wg_session *session;
    wg_plan *plan; /* of every target, on the cpu device */
} known_graph;

/* A few nodes of every kind whose cost the counter distinguishes, planned on cpu. */
static void build_known(known_graph *k) {
    wg_graph *g = wg_graph_new(WG_F32);
    assert_non_null(g);
    k->graph = g;
    k->n_targets = 0;
    k->flops = 0;

    /* [4, 3] @ [3, 5]: 2 m n k = 2 * 4 * 5 * 3; relu and a broadcast bias add one per
     * output element; the sum one per input element */
    wg_node x = wg_input(g, wg_shape2(4, 3), "x");
    wg_node w = wg_variable(g, wg_shape2(3, 5), "w");
    wg_node bias = wg_variable(g, wg_shape1(5), "bias");
    wg_node h = wg_add(g, wg_relu(g, wg_matmul(g, x, w, false, false)), bias);
    k->targets[k->n_targets++] = wg_sum_all(g, h);
    k->flops += 2 * 4 * 5 * 3 + 20 + 20 + 20;

    /* x^T-style: a [3, 4] operand transposed, k = 3 again */
    wg_node xt = wg_input(g, wg_shape2(3, 4), "xt");
    k->targets[k->n_targets++] = wg_matmul(g, xt, w, true, false);
    k->flops += 2 * 4 * 5 * 3;

    /* conv2d and its two adjoints on x [2, 3, 8, 8], w [4, 3, 3, 3], stride 1, pad 1:
     * y [2, 4, 8, 8], each 2 N K C R S P Q */
    wg_conv_params same = {1, 1, 1, 1};
    wg_node cx = wg_input(g, wg_shape4(2, 3, 8, 8), "cx");
    wg_node cw = wg_variable(g, wg_shape4(4, 3, 3, 3), "cw");
    wg_node gy = wg_input(g, wg_shape4(2, 4, 8, 8), "gy");
    k->targets[k->n_targets++] = wg_conv2d(g, cx, cw, same);
    k->targets[k->n_targets++] = wg_conv2d_input_grad(g, gy, cw, same, wg_shape4(2, 3, 8, 8));
    k->targets[k->n_targets++] = wg_conv2d_weight_grad(g, cx, gy, same, wg_shape4(4, 3, 3, 3));
    k->flops += 3.0 * 2 * 2 * 4 * 3 * 3 * 3 * 8 * 8;

    /* stride 2, pad 2, 5x5 on [1, 2, 7, 7] -> [1, 3, 4, 4] */
    wg_conv_params strided = {2, 2, 2, 2};
    wg_node sx = wg_input(g, wg_shape4(1, 2, 7, 7), "sx");
    wg_node sw = wg_variable(g, wg_shape4(3, 2, 5, 5), "sw");
    k->targets[k->n_targets++] = wg_conv2d(g, sx, sw, strided);
    k->flops += 2.0 * 1 * 3 * 2 * 5 * 5 * 4 * 4;

    /* copies and draws cost nothing */
    static const int swap[2] = {1, 0};
    wg_node r = wg_random_normal(g, "r", wg_shape2(6, 7), 0, 1);
    k->targets[k->n_targets++] = wg_permute(g, r, swap);
    assert_int_equal(wg_graph_status(g), WG_OK);

    assert_int_equal(wg_device_open("cpu", &k->device), WG_OK);
    assert_int_equal(wg_session_new(g, k->device, 1, &k->session), WG_OK);
    assert_int_equal(wg_plan_new(k->session, k->n_targets, k->targets, &k->plan), WG_OK);
}

static void free_known(known_graph *k) {
    wg_plan_free(k->plan);
    wg_session_free(k->session);
    wg_device_close(k->device);
    wg_graph_free(k->graph);
}

static void test_flops_of_a_known_graph(void **state) {
    (void)state;
    known_graph k;
    build_known(&k);
    assert_true(wg_plan_flops(k.plan) == k.flops);
    free_known(&k);
}

/* The profile's flops are the plan's, once per run, and its entries are labelled by
 * op and shapes. */
static void test_profile_counts_every_run(void **state) {
    (void)state;
    wg_profile_enable(1); /* before planning: a plan decides then whether it profiles */
    known_graph k;
    build_known(&k);
    wg_profile_reset();
    const int runs = 3;
    for (int i = 0; i < runs; i++) assert_int_equal(wg_plan_run(k.plan), WG_OK);

    double flops = 0;
    int64_t matmul_calls = 0, conv_calls = 0;
    int labelled = 0;
    for (int i = 0; i < wg_profile_count(); i++) {
        wg_profile_entry p = wg_profile_get(i);
        flops += p.flops;
        assert_true(p.seconds >= 0);
        if (!strcmp(p.op, "matmul")) matmul_calls += p.calls;
        if (!strcmp(p.op, "conv2d")) conv_calls += p.calls;
        if (!strcmp(p.op, "matmul") && !strcmp(p.shapes, "[4, 5] <- [3, 4]^T [3, 5]")) {
            labelled++;
            assert_int_equal(p.calls, runs);
            assert_true(p.flops == runs * 2.0 * 4 * 5 * 3);
        }
    }
    assert_true(flops == runs * k.flops);
    assert_int_equal(matmul_calls, 2 * runs);
    assert_int_equal(conv_calls, 2 * runs);
    assert_int_equal(labelled, 1);

    wg_profile_reset();
    for (int i = 0; i < wg_profile_count(); i++) assert_int_equal(wg_profile_get(i).calls, 0);
    wg_profile_enable(0);
    free_known(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flops_of_a_known_graph),
        cmocka_unit_test(test_profile_counts_every_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
