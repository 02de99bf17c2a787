/* Paired-seed statistics of the comparison: Wilcoxon signed-rank p-values against
 * known values and against a brute-force enumeration of every sign assignment, the
 * normal approximation against an exact count, the bootstrap interval (deterministic,
 * around the median), and the section of compare.md and of the HTML page for a small
 * comparison folder made up here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report/report.h"
#include "tiers.h"
#include "tmpdir.h"

static double uniform(void) {
    return (rand() + 0.5) / ((double)RAND_MAX + 1);
}

/* ---- an independent reference: every one of the 2^m sign assignments ---- */

/* Midranks of |d| over the non-zero d, by counting (no sorting): the rank of x is
 * 1 + #{|y| < |x|} + (#{|y| == |x|} - 1) / 2. */
static int reference_ranks(const double *d, int n, double *rank, bool *positive) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (d[i] == 0) continue;
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            if (d[j] == 0) continue;
            less += fabs(d[j]) < fabs(d[i]);
            equal += fabs(d[j]) == fabs(d[i]);
        }
        rank[m] = 1 + less + (equal - 1) / 2.0;
        positive[m++] = d[i] > 0;
    }
    return m;
}

static double brute_force_p(const double *d, int n) {
    double rank[24];
    bool positive[24];
    int m = reference_ranks(d, n, rank, positive);
    if (m == 0) return 1;
    double w = 0;
    for (int i = 0; i < m; i++) w += positive[i] ? rank[i] : 0;
    double below = 0, above = 0;
    for (uint32_t signs = 0; signs < (1u << m); signs++) {
        double s = 0;
        for (int i = 0; i < m; i++)
            if (signs >> i & 1) s += rank[i];
        below += s <= w + 1e-9;
        above += s >= w - 1e-9;
    }
    double p = 2 * fmin(below, above) / (double)(1u << m);
    return p < 1 ? p : 1;
}

static void test_wilcoxon_known_values(void **state) {
    (void)state;
    double d[12];
    bool exact = false;
    double w;
    /* n = 5, every difference positive (of random sizes): W+ = 15, the largest of 32
     * equally likely sums, so p = 2/32 */
    for (int i = 0; i < 5; i++) d[i] = 0.1 + uniform();
    assert_true(fabs(wg_wilcoxon_p(d, 5, &w, &exact) - 2.0 / 32) < 1e-15);
    assert_true(exact);
    assert_true(w == 15);
    /* all negative: the same p, W+ = 0 */
    for (int i = 0; i < 5; i++) d[i] = -d[i];
    assert_true(fabs(wg_wilcoxon_p(d, 5, &w, NULL) - 2.0 / 32) < 1e-15);
    assert_true(w == 0);
    /* n = 6 all positive: 2/64; n = 10: 2/1024 */
    for (int i = 0; i < 10; i++) d[i] = 1 + uniform();
    assert_true(fabs(wg_wilcoxon_p(d, 6, NULL, NULL) - 2.0 / 64) < 1e-15);
    assert_true(fabs(wg_wilcoxon_p(d, 10, NULL, NULL) - 2.0 / 1024) < 1e-15);
    /* n = 5, one negative difference with the smallest |d|: W+ = 14; sums >= 14 are
     * {15, 14}, so p = 2 * 2/32 */
    d[0] = 0.5, d[1] = 1, d[2] = 2, d[3] = 3, d[4] = -0.1;
    assert_true(fabs(wg_wilcoxon_p(d, 5, &w, NULL) - 4.0 / 32) < 1e-15);
    assert_true(w == 14);
    /* zeros are dropped: three positive and two zeros is n = 3, p = 2/8 */
    d[0] = 1, d[1] = 0, d[2] = 2, d[3] = 0, d[4] = 3;
    assert_true(fabs(wg_wilcoxon_p(d, 5, NULL, NULL) - 2.0 / 8) < 1e-15);
    /* every difference zero, or none: no evidence */
    memset(d, 0, sizeof d);
    assert_true(wg_wilcoxon_p(d, 4, NULL, NULL) == 1);
    assert_true(wg_wilcoxon_p(d, 0, NULL, NULL) == 1);
    /* symmetric around zero: W+ at the centre, p = 1 */
    d[0] = 1, d[1] = -1, d[2] = 2, d[3] = -2;
    assert_true(wg_wilcoxon_p(d, 4, &w, NULL) == 1);
    assert_true(w == 5); /* midranks 1.5 and 3.5 */
}

static void test_wilcoxon_against_enumeration(void **state) {
    (void)state;
    double d[16];
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + rand() % 16;
        for (int i = 0; i < n; i++) {
            /* a few levels, so that ties and zeros are common */
            int level = rand() % 7 - 3;
            d[i] = trial % 2 ? level * 0.25 : level + 0.01 * uniform();
        }
        bool exact = false;
        double got = wg_wilcoxon_p(d, n, NULL, &exact);
        double want = brute_force_p(d, n);
        if (fabs(got - want) > 1e-12) {
            print_error("trial %d, n %d: p %.17g, enumeration %.17g\n", trial, n, got, want);
            fail();
        }
        assert_true(exact);
    }
}

/* The normal approximation for n above the exact limit, against the exact tail
 * counted with integer ranks (no ties). */
static void test_wilcoxon_normal_approximation(void **state) {
    (void)state;
    enum { N = WG_WILCOXON_EXACT_MAX + 10 };
    double d[N];
    for (int trial = 0; trial < 5; trial++) {
        for (int i = 0; i < N; i++) d[i] = (uniform() - 0.35) * (1 + i);
        for (int i = 0; i < N; i++) d[i] += 1e-6 * i; /* distinct sizes */
        bool exact = true;
        double w;
        double p = wg_wilcoxon_p(d, N, &w, &exact);
        assert_false(exact);
        double rank[N];
        bool positive[N];
        int m = reference_ranks(d, N, rank, positive);
        assert_int_equal(m, N);
        int total = N * (N + 1) / 2;
        double *count = calloc((size_t)total + 1, sizeof *count);
        count[0] = 1;
        for (int r = 1; r <= N; r++)
            for (int s = total; s >= r; s--) count[s] += count[s - r];
        double below = 0, above = 0;
        for (int s = 0; s <= total; s++) {
            below += s <= w ? count[s] : 0;
            above += s >= w ? count[s] : 0;
        }
        free(count);
        double want = fmin(1, 2 * fmin(below, above) / ldexp(1, N));
        if (fabs(p - want) > 0.01) {
            print_error("W+ %g: normal approximation %g, exact %g\n", w, p, want);
            fail();
        }
    }
}

static void test_bootstrap(void **state) {
    (void)state;
    for (int trial = 0; trial < 20; trial++) {
        int n = 3 + rand() % 8;
        double d[16];
        for (int i = 0; i < n; i++) d[i] = uniform() * 2 - 0.5;
        wg_paired_stat st = wg_paired_stats(d, n);
        assert_int_equal(st.n, n);
        assert_true(st.lo <= st.median && st.median <= st.hi);
        assert_true(st.lo < st.hi);
        double smallest = d[0], largest = d[0];
        for (int i = 1; i < n; i++) smallest = fmin(smallest, d[i]), largest = fmax(largest, d[i]);
        assert_true(st.lo >= smallest && st.hi <= largest);
        /* one fixed stream: the same differences give the same interval every time */
        double lo, hi;
        wg_bootstrap_median(d, n, &lo, &hi);
        assert_true(lo == st.lo && hi == st.hi);
        /* the resamples pick positions: differences shifted by 0.5 shift it by 0.5 */
        for (int i = 0; i < n; i++) d[i] += 0.5;
        wg_bootstrap_median(d, n, &lo, &hi);
        assert_true(fabs(lo - st.lo - 0.5) < 1e-12 && fabs(hi - st.hi - 0.5) < 1e-12);
    }
    /* one pair: the interval is the point */
    double one = 0.25, lo, hi;
    wg_bootstrap_median(&one, 1, &lo, &hi);
    assert_true(lo == 0.25 && hi == 0.25);
    wg_bootstrap_median(NULL, 0, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
    wg_paired_stat none = wg_paired_stats(NULL, 0);
    assert_int_equal(none.n, 0);
    assert_true(isnan(none.median) && isnan(none.p));
}

/* ---- a comparison folder ---- */

static void write_summary(const char *parent, const char *id, const char *name,
                          const char *lipschitz, int seed, double w1, int modes) {
    char *dir = td_join(parent, id);
    assert_int_equal(mkdir(dir, 0755), 0);
    char *path = td_join(dir, "summary.json");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"state\": \"completed\", \"message\": \"\", \"seed\": %d,\n"
             " \"generator_steps\": 10, \"device\": \"cpu (2 threads)\",\n"
             " \"plugins\": {\"data\": \"8gaussians\", \"arch\": \"mlp\", \"loss\": "
             "\"wasserstein\", \"lipschitz\": \"%s\"},\n"
             " \"evaluation\": {\"modes\": {\"count\": 8}, \"final\": {\"w1\": %.17g, "
             "\"modes_covered\": %d}}}\n",
             name, seed, lipschitz, w1, modes);
    td_write_text(path, text);
    free(path);
    free(dir);
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_compare_sections(void **state) {
    (void)state;
    char *dir = td_make("wgan-paired");
    /* clip, then GP with a W1 lower by a random positive amount in each of five seeds,
     * and SN with a single seed */
    wg_buf csv = {0};
    wg_buf_puts(&csv, "run,experiment,device,seed,state\n");
    double gp_minus_clip[5];
    for (int seed = 1; seed <= 5; seed++) {
        char id[64];
        double clip = 0.2 + 0.1 * uniform();
        gp_minus_clip[seed - 1] = -(0.01 + 0.05 * uniform());
        snprintf(id, sizeof id, "clip-cpu-s%d", seed);
        write_summary(dir, id, "clip", "weight_clip", seed, clip, 6);
        wg_buf_printf(&csv, "%s,clip,cpu,%d,completed\n", id, seed);
        snprintf(id, sizeof id, "gp-cpu-s%d", seed);
        write_summary(dir, id, "gp", "gradient_penalty", seed, clip + gp_minus_clip[seed - 1], 8);
        wg_buf_printf(&csv, "%s,gp,cpu,%d,completed\n", id, seed);
    }
    write_summary(dir, "sn-cpu-s1", "sn", "spectral_norm", 1, 0.1, 7);
    wg_buf_puts(&csv, "sn-cpu-s1,sn,cpu,1,completed\n");
    char *path = td_join(dir, "compare.csv");
    td_write_text(path, csv.data);
    wg_buf_free(&csv);

    wg_run_info *runs;
    int n;
    assert_int_equal(wg_compare_load(dir, &runs, &n), WG_OK);
    assert_int_equal(n, 11);
    wg_buf md = {0};
    assert_int_equal(wg_compare_markdown(runs, n, &md), WG_OK);
    /* the default baseline: the first run's experiment */
    assert_non_null(strstr(md.data, "Paired by seed against `clip`"));
    assert_non_null(strstr(md.data, "| Δ exact W1 |"));
    /* GP's row: five pairs, W1 lower in every one, so p = 2/32 */
    char want[256];
    snprintf(want, sizeof want, "| GP (gp) | cpu | 5 | ");
    const char *row = strstr(md.data, want);
    assert_non_null(row);
    wg_paired_stat st = wg_paired_stats(gp_minus_clip, 5);
    assert_true(st.median < 0 && st.hi < 0);
    /* the differences are between 0.01 and 0.06: three significant digits */
    wg_buf cell = {0};
    wg_buf_printf(&cell, "| %.3g [%.3g, %.3g], p = %.3g |", st.median, st.lo, st.hi, 2.0 / 32);
    if (!strstr(row, cell.data)) {
        print_error("no '%s' in\n%s\n", cell.data, md.data);
        fail();
    }
    wg_buf_free(&cell);
    /* modes: +2 in every seed, an interval of one point */
    assert_non_null(strstr(row, "+2 [2, 2], p = 0.0625"));
    /* SN: one pair */
    assert_non_null(strstr(md.data, "| SN (sn) | cpu | 1 | "));
    /* the same twice: the bootstrap is deterministic */
    wg_buf again = {0};
    assert_int_equal(wg_compare_markdown(runs, n, &again), WG_OK);
    assert_string_equal(md.data, again.data);
    wg_buf_free(&again);
    wg_buf_free(&md);

    /* another baseline, by name; the mark survives compare.csv */
    assert_int_equal(wg_mark_baseline(runs, n, "gp"), WG_OK);
    assert_int_equal(wg_compare_markdown(runs, n, &md), WG_OK);
    assert_non_null(strstr(md.data, "Paired by seed against `gp`"));
    assert_non_null(strstr(md.data, "| clip | cpu | 5 | "));
    wg_buf_free(&md);
    wg_buf html = {0};
    assert_int_equal(wg_report_html(runs, n, NULL, &html), WG_OK);
    assert_non_null(strstr(html.data, "Paired by seed against <b>gp</b>"));
    assert_int_equal(count(html.data, "<table class=\"paired\">"), 1);
    assert_non_null(strstr(html.data, "p = 0.0625</small>"));
    wg_buf_free(&html);
    wg_compare_csv(runs, n, &csv);
    td_write_text(path, csv.data);
    wg_buf_free(&csv);
    for (int i = 0; i < n; i++) wg_run_free(&runs[i]);
    free(runs);
    assert_int_equal(wg_compare_load(dir, &runs, &n), WG_OK);
    for (int i = 0; i < n; i++) assert_int_equal(runs[i].baseline, !strcmp(runs[i].name, "gp"));
    /* a name no run has */
    assert_int_equal(wg_mark_baseline(runs, n, "gp,nothing"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "'nothing'"));
    for (int i = 0; i < n; i++) wg_run_free(&runs[i]);
    free(runs);
    free(path);
    td_remove(dir);
}

int main(void) {
    unsigned seed = (unsigned)time(NULL);
    printf("test_paired: seed %u\n", seed);
    srand(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilcoxon_known_values),
        cmocka_unit_test(test_wilcoxon_against_enumeration),
        cmocka_unit_test(test_wilcoxon_normal_approximation),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_compare_sections),
    };
    return wg_test_run_group("paired", tests, sizeof tests / sizeof *tests, NULL, NULL);
}
