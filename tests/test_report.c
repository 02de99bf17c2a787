/* wgan report and wgan compare: CSV and JSON reading, run folders read back (missing
 * columns, failed runs), the HTML page (rows, one <svg> per chart, escaping), sweep
 * files and their errors, a small sweep end to end, and the page in a headless
 * browser when Chromium is installed. */
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
#include <unistd.h>

#include "io/image.h"
#include "report/report.h"
#include "sweep/sweep.h"
#include "tmpdir.h"
#include "tiers.h"

typedef td_fixture fixture;

static int setup(void **state) {
    return td_fixture_setup(state, "wgan-report");
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static char *read_text(const char *path) {
    char *text = NULL;
    size_t size;
    assert_int_equal(wg_read_file(path, &text, &size), WG_OK);
    return text;
}

/* ---- run folders made up for the tests ---- */

typedef struct run_spec {
    const char *id, *name, *state, *message;
    const char *lipschitz, *loss, *device;
    int seed;
    int rows;       /* metrics.csv rows; 0: no metrics.csv */
    bool eval;      /* eval_w1 / eval_modes columns and an evaluation section */
    bool summary;   /* write summary.json */
    double w_start; /* the W estimate decays from here */
} run_spec;

static char *write_run(const char *parent, const run_spec *r) {
    char *dir = td_join(parent, r->id);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char config[1024];
    snprintf(config, sizeof config,
             "name: %s\nseed: %d\ndevice: auto\ndata: {plugin: 8gaussians}\narch: {plugin: mlp}\n"
             "loss: {plugin: %s}\nlipschitz: {plugin: %s}\ntrain: {steps: %d}\n",
             r->name, r->seed, r->loss, r->lipschitz, r->rows * 10);
    td_write_text(path, config);
    if (r->rows) {
        wg_buf b = {0};
        wg_buf_puts(&b, "step,critic_step,w_estimate,critic_loss,generator_loss,penalty,"
                        "grad_norm_real,grad_norm_fake,grad_norm_min,grad_norm_max,seconds");
        if (r->eval) wg_buf_puts(&b, ",eval_w1,eval_modes,eval_hq_share");
        wg_buf_puts(&b, "\n");
        for (int i = 1; i <= r->rows; i++) {
            double t = (double)i / r->rows;
            /* a decaying curve with a little deterministic wiggle */
            double w = r->w_start * exp(-3 * t) + 0.002 * sin(7.0 * i);
            wg_buf_printf(&b, "%d,%d,%.6f,%.6f,%.6f,0,%.4f,%.4f,0.5,1.5,%.3f", 10 * i, 50 * i, w,
                          -w, 0.1 * w, 1 + 0.1 * t, 1 - 0.1 * t, 0.1 * i);
            if (r->eval)
                wg_buf_printf(&b, ",%.6f,%d,%.3f", 1.2 * w + 0.01, i < r->rows / 2 ? 3 : 8, t);
            wg_buf_puts(&b, "\n");
        }
        snprintf(path, sizeof path, "%s/metrics.csv", dir);
        td_write_text(path, b.data);
        wg_buf_free(&b);
    }
    if (r->summary) {
        wg_buf b = {0};
        wg_buf_puts(&b, "{\n  \"name\": ");
        wg_buf_json_string(&b, r->name);
        wg_buf_puts(&b, ",\n  \"state\": ");
        wg_buf_json_string(&b, r->state);
        wg_buf_puts(&b, ",\n  \"message\": ");
        wg_buf_json_string(&b, r->message ? r->message : "");
        wg_buf_printf(&b,
                      ",\n  \"generator_steps\": %d, \"steps_planned\": %d, \"critic_steps\": %d,"
                      "\n  \"seconds\": %g, \"seconds_per_generator_step\": %g, \"seed\": %d,\n"
                      "  \"device\": ",
                      10 * r->rows, 10 * r->rows, 50 * r->rows, 0.5 * r->rows, r->rows ? 0.05 : 0.0,
                      r->seed);
        wg_buf_json_string(&b, r->device);
        wg_buf_printf(&b,
                      ",\n  \"plugins\": {\"data\": \"8gaussians\", \"arch\": \"mlp\", \"loss\": "
                      "\"%s\", \"lipschitz\": \"%s\"},\n",
                      r->loss, r->lipschitz);
        if (r->eval)
            wg_buf_printf(&b,
                          "  \"evaluation\": {\"evaluations\": %d, \"seconds_per_evaluation\": "
                          "0.01, \"w1_floor\": 0.03, \"modes\": {\"count\": 8},\n"
                          "    \"final\": {\"w1\": 0.0625, \"modes_covered\": 8, "
                          "\"high_quality_share\": 0.75}},\n",
                          r->rows);
        wg_buf_puts(&b, "  \"final_metrics\": {\"w_estimate\": 0.05}\n}\n");
        snprintf(path, sizeof path, "%s/summary.json", dir);
        td_write_text(path, b.data);
        wg_buf_free(&b);
    }
    snprintf(path, sizeof path, "%s/samples", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int k = 0; k < 2 && r->rows; k++) {
        wg_image image;
        assert_int_equal(wg_image_new(&image, 8, 8, k ? 0x336699u : 0xffcc00u), WG_OK);
        snprintf(path, sizeof path, "%s/samples/step_%06d.png", dir, k * 10 * r->rows);
        assert_int_equal(wg_png_write(path, &image), WG_OK);
        wg_image_free(&image);
    }
    return dir;
}

static const run_spec gp_run = {"gp-cpu-s1",
                                "wgan-gp",
                                "completed",
                                NULL,
                                "gradient_penalty",
                                "wasserstein",
                                "cpu (2 threads, OpenBLAS)",
                                1,
                                40,
                                true,
                                true,
                                1.0};

/* ---- CSV ---- */

static void test_csv_reading(void **state) {
    (void)state;
    wg_table t;
    const char *text = "a,b,\"c, quoted\"\r\n1,\"x \"\"y\"\"\",3\n\n4,5\n6,7,8,9\nnan,inf,oops\n";
    assert_int_equal(wg_table_parse("t.csv", text, &t), WG_OK);
    assert_int_equal(t.n_cols, 3);
    assert_int_equal(t.n_rows, 4);
    assert_int_equal(wg_table_column(&t, "c, quoted"), 2);
    assert_int_equal(wg_table_column(&t, "missing"), -1);
    assert_string_equal(wg_table_cell(&t, 0, 1), "x \"y\"");
    assert_true(wg_table_number(&t, 0, 2) == 3);
    /* a short row: its missing field reads as empty */
    assert_string_equal(wg_table_cell(&t, 1, 2), "");
    assert_true(isnan(wg_table_number(&t, 1, 2)));
    /* a long row: the extra field is dropped */
    assert_true(wg_table_number(&t, 2, 2) == 8);
    assert_true(isnan(wg_table_number(&t, 3, 0)));
    assert_true(isinf(wg_table_number(&t, 3, 1)));
    assert_true(isnan(wg_table_number(&t, 3, 2)));
    assert_true(isnan(wg_table_number(&t, 99, 0)));
    assert_string_equal(wg_table_cell(&t, 0, -1), "");
    wg_table_free(&t);

    assert_int_equal(wg_table_parse("e.csv", "", &t), WG_OK);
    assert_int_equal(t.n_cols, 0);
    assert_int_equal(t.n_rows, 0);
    wg_table_free(&t);
    /* a ragged last row, cut after a separator: padded like a short row (its cells
     * were once counted in no row and leaked) */
    assert_int_equal(wg_table_parse("ragged.csv", "a,b,c\n1,2,", &t), WG_OK);
    assert_int_equal(t.n_rows, 1);
    assert_string_equal(wg_table_cell(&t, 0, 1), "2");
    assert_string_equal(wg_table_cell(&t, 0, 2), "");
    wg_table_free(&t);
    assert_int_equal(wg_table_parse("bad.csv", "a,b\n\"open,2\n", &t), WG_ERR_INVALID);
    assert_non_null(strstr(wg_last_error(), "bad.csv"));

    /* fields written by wg_buf_csv_field read back as they were */
    const char *fields[] = {"plain", "with, comma", "with \"quotes\"", "two\nlines", ""};
    wg_buf b = {0};
    for (int i = 0; i < 5; i++) {
        if (i) wg_buf_puts(&b, ",");
        wg_buf_csv_field(&b, fields[i]);
    }
    wg_buf_puts(&b, "\n1,2,3,4,5\n");
    assert_int_equal(wg_table_parse("round.csv", b.data, &t), WG_OK);
    for (int i = 0; i < 5; i++) assert_string_equal(t.header[i], fields[i]);
    wg_table_free(&t);
    wg_buf_free(&b);
}

/* ---- JSON ---- */

static void test_json_reading(void **state) {
    (void)state;
    wg_json *j;
    const char *text = "{\"a\": {\"b\": [1, 2.5e1, -0.5], \"c\": \"caf\\u00e9 \\ud83d\\ude00\\n\"},"
                       " \"t\": true, \"n\": null, \"x\": {\"deep\": {\"k\": 3}}, \"k\": \"s\"}";
    assert_int_equal(wg_json_parse("s.json", text, &j), WG_OK);
    const wg_json *b = wg_json_path(j, "a.b");
    assert_non_null(b);
    assert_int_equal(wg_json_length(b), 3);
    assert_true(wg_json_number(wg_json_item(b, 1)) == 25);
    assert_true(wg_json_number(wg_json_item(b, 2)) == -0.5);
    assert_null(wg_json_item(b, 3));
    assert_int_equal(wg_json_length(wg_json_member(j, "a")), -1);
    assert_string_equal(wg_json_string(wg_json_path(j, "a.c")), "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
    assert_true(wg_json_number(wg_json_member(j, "t")) == 1);
    assert_true(isnan(wg_json_number(wg_json_member(j, "n"))));
    assert_null(wg_json_path(j, "a.zzz"));
    /* "k" at the top is a string: the numeric search goes deeper */
    assert_string_equal(wg_json_string(wg_json_find(j, "k")), "s");
    assert_true(wg_json_find_number(j, "k") == 3);
    assert_true(isnan(wg_json_find_number(j, "nowhere")));
    wg_json_free(j);

    /* the position is the last character jansson read */
    static const struct {
        const char *text, *where;
    } bad[] = {{"{\"a\": 1,\n  \"b\" 2}", "s.json:2:7:"},
               {"[1, 2", "s.json:1:5:"},
               {"{\"a\": tru}", "s.json:1:9:"},
               {"\"open", "s.json:1:5:"},
               {"01", "s.json:1:1:"},
               {"{} x", "s.json:1:4:"},
               {"\"\\x\"", "s.json:1:3:"},
               {"\"a\\u0000b\"", "s.json:1:10:"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(wg_json_parse("s.json", bad[i].text, &j), WG_ERR_INVALID);
        if (strncmp(wg_last_error(), bad[i].where, strlen(bad[i].where))) {
            print_error("for %s: got '%s', want it to start with %s\n", bad[i].text,
                        wg_last_error(), bad[i].where);
            fail();
        }
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[200];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    assert_int_equal(wg_json_parse("s.json", deep, &j), WG_ERR_INVALID);
}

/* ---- run folders ---- */

static void test_run_folder(void **state) {
    fixture *f = *state;
    char *dir = write_run(f->dir, &gp_run);
    wg_run_info r;
    assert_int_equal(wg_run_load(dir, &r), WG_OK);
    assert_string_equal(r.id, "gp-cpu-s1");
    assert_string_equal(r.name, "wgan-gp");
    assert_string_equal(r.state, "completed");
    assert_string_equal(r.lipschitz, "gradient_penalty");
    assert_string_equal(r.data, "8gaussians");
    assert_int_equal(r.seed, 1);
    assert_int_equal(r.steps, 400);
    /* training time only: 20 s minus 40 evaluations of 0.01 s, over 400 steps */
    assert_true(fabs(r.ms_per_step - 1e3 * (20 - 0.4) / 400) < 1e-9);
    assert_int_equal(r.metrics.n_rows, 40);
    assert_int_equal(r.n_samples, 2);
    assert_non_null(strstr(r.samples[1], "step_000400.png"));
    char method[64];
    assert_string_equal(wg_run_method(&r, method, sizeof method), "GP");
    /* summary.json first, then the last logged value */
    assert_true(wg_run_quantity(&r, WG_Q_W1) == 0.0625);
    assert_true(wg_run_quantity(&r, WG_Q_MODES) == 8);
    assert_true(wg_run_quantity(&r, WG_Q_N_MODES) == 8);
    assert_true(wg_run_quantity(&r, WG_Q_W1_FLOOR) == 0.03);
    assert_true(wg_run_quantity(&r, WG_Q_HIGH_QUALITY) == 0.75);
    assert_true(wg_run_quantity(&r, WG_Q_W_ESTIMATE) == 0.05);
    assert_true(isnan(wg_run_quantity(&r, WG_Q_FID)));
    assert_int_equal(wg_run_quantity_column(&r, WG_Q_W1), wg_table_column(&r.metrics, "eval_w1"));
    /* W1 is an increasing function of the estimate in the fixture: rank correlation 1 */
    assert_true(fabs(wg_run_w_correlation(&r) - 1) < 1e-12);
    /* the decaying, smooth curve passes the trend and smoothness checks */
    assert_true(r.have_health);
    assert_int_equal(r.health.checks[WG_HEALTH_W_DECREASING].verdict, WG_VERDICT_PASS);
    assert_int_equal(r.health.checks[WG_HEALTH_SMOOTH].verdict, WG_VERDICT_PASS);
    wg_run_free(&r);
    free(dir);
}

static void test_run_folder_with_missing_files(void **state) {
    fixture *f = *state;
    /* an older run folder: the training columns only, no summary */
    run_spec old = {"old", "old-run", "", NULL,  "weight_clip", "wasserstein",
                    "",    4,         30, false, false,         0.5};
    char *dir = write_run(f->dir, &old);
    wg_run_info r;
    assert_int_equal(wg_run_load(dir, &r), WG_OK);
    assert_string_equal(r.name, "old-run"); /* from config.yaml */
    assert_string_equal(r.state, "incomplete");
    assert_string_equal(r.lipschitz, "weight_clip");
    assert_int_equal(r.seed, 4);
    assert_int_equal(r.steps, 300);
    assert_true(isnan(r.ms_per_step));
    assert_true(isnan(wg_run_quantity(&r, WG_Q_W1)));
    assert_true(isnan(wg_run_w_correlation(&r)));
    assert_int_equal(wg_run_quantity_column(&r, WG_Q_W1), -1);
    /* the last finite logged value */
    assert_true(wg_run_quantity(&r, WG_Q_W_ESTIMATE) < 0.5);
    wg_run_free(&r);
    free(dir);

    /* nothing at all */
    char *empty = td_join(f->dir, "empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(wg_run_load(empty, &r), WG_OK);
    assert_string_equal(r.state, "missing");
    assert_int_equal(r.seed, -1);
    assert_false(r.have_health);
    wg_run_free(&r);
    free(empty);
}

/* ---- the page ---- */

static wg_run_info *load_all(const char *parent, const run_spec *specs, int n) {
    wg_run_info *runs = calloc((size_t)n, sizeof *runs);
    for (int i = 0; i < n; i++) {
        char *dir = write_run(parent, &specs[i]);
        assert_int_equal(wg_run_load(dir, &runs[i]), WG_OK);
        free(dir);
    }
    return runs;
}

static void free_all(wg_run_info *runs, int n) {
    for (int i = 0; i < n; i++) wg_run_free(&runs[i]);
    free(runs);
}

static const run_spec page_runs[] = {
    {"gp-s1", "wgan-gp", "completed", NULL, "gradient_penalty", "wasserstein", "cpu (2 threads)", 1,
     40, true, true, 1.0},
    {"gp-s2", "wgan-gp", "completed", NULL, "gradient_penalty", "wasserstein", "cpu (2 threads)", 2,
     40, true, true, 1.2},
    {"clip-s1", "wgan-clip", "completed", NULL, "weight_clip", "wasserstein", "cpu (2 threads)", 1,
     40, true, true, 0.02},
    /* a run that blew up, with characters that HTML must escape in its name and message */
    {"sn<&>\"-s1", "sn<b>bold</b>", "diverged", "critic_loss is nan at step 7 <script>x</script>",
     "spectral_norm", "wasserstein", "opencl:0 CPU (Portable Computing Language, OpenCL 3.0)", 1, 3,
     false, true, 0.3},
    /* the JS baseline, without evaluation columns */
    {"gan-s1", "gan", "completed", NULL, "none", "gan", "cpu (2 threads)", 1, 40, false, true, 1.4},
};
enum { N_PAGE_RUNS = sizeof page_runs / sizeof *page_runs };

static void test_html_page(void **state) {
    fixture *f = *state;
    wg_run_info *runs = load_all(f->dir, page_runs, N_PAGE_RUNS);
    wg_buf html = {0};
    wg_report_options o = {"Report & <test>", "wgan report a b"};
    assert_int_equal(wg_report_html(runs, N_PAGE_RUNS, &o, &html), WG_OK);
    const char *p = html.data;
    assert_non_null(strstr(p, "<title>Report &amp; &lt;test&gt;</title>"));
    /* one row per method and device: GP (two seeds), clip, SN on pocl, the JS baseline */
    assert_int_equal(count(p, "<td class=\"method\">"), 4);
    assert_non_null(strstr(p, "<b>GP</b>"));
    assert_non_null(strstr(p, "<b>clip</b>"));
    assert_non_null(strstr(p, "<b>SN</b>"));
    assert_non_null(strstr(p, "<b>JS baseline</b>"));
    assert_non_null(strstr(p, "seeds 1, 2"));
    assert_non_null(strstr(p, "1 failed"));
    assert_non_null(strstr(p, "<td>pocl</td>"));
    /* medians over the two GP seeds: both have W1 0.0625 and 8 of 8 modes */
    assert_non_null(strstr(p, "0.0625"));
    assert_non_null(strstr(p, "8 / 8"));
    /* the verdict of the checks with its deciding number */
    assert_non_null(strstr(p, "✓ 2/2"));
    /* a run without W1 shows a dash there */
    assert_non_null(strstr(p, "—"));
    /* charts: three per run with metrics, and per data set the W estimate and the W1
     * of every run */
    int runs_with_metrics = 0;
    for (int i = 0; i < N_PAGE_RUNS; i++) runs_with_metrics += page_runs[i].rows > 0;
    assert_int_equal(count(p, "<svg"), 3 * runs_with_metrics + 2);
    assert_int_equal(count(p, "</svg>"), count(p, "<svg"));
    /* sample pictures inline */
    assert_int_equal(count(p, "src=\"data:image/png;base64,iVBORw0KGgo"), 2 * N_PAGE_RUNS);
    /* nothing of the names or messages gets through unescaped */
    assert_null(strstr(p, "<script>"));
    assert_null(strstr(p, "<b>bold</b>"));
    assert_non_null(strstr(p, "sn&lt;b&gt;bold&lt;/b&gt;"));
    assert_non_null(strstr(p, "&lt;script&gt;x&lt;/script&gt;"));
    assert_non_null(strstr(p, "sn&lt;&amp;&gt;&quot;-s1"));
    /* no network and no scripts */
    assert_null(strstr(p, "<script"));
    assert_null(strstr(p, "src=\"http"));
    assert_null(strstr(p, "href=\"http"));
    wg_buf_free(&html);

    /* no runs at all is a page that says so */
    assert_int_equal(wg_report_html(NULL, 0, NULL, &html), WG_OK);
    assert_non_null(strstr(html.data, "No runs."));
    wg_buf_free(&html);
    free_all(runs, N_PAGE_RUNS);
}

static void test_compare_csv_round_trip(void **state) {
    fixture *f = *state;
    wg_run_info *runs = load_all(f->dir, page_runs, N_PAGE_RUNS);
    runs[0].memory_bytes = 123456789;
    runs[2].peak_rss_bytes = 1 << 20;
    wg_buf csv = {0};
    wg_compare_csv(runs, N_PAGE_RUNS, &csv);
    wg_table t;
    assert_int_equal(wg_table_parse("compare.csv", csv.data, &t), WG_OK);
    assert_int_equal(t.n_rows, N_PAGE_RUNS);
    static const char *const columns[] = {"run",
                                          "experiment",
                                          "method",
                                          "device",
                                          "seed",
                                          "state",
                                          "ms_per_generator_step",
                                          "memory_bytes",
                                          "w1",
                                          "modes_covered",
                                          "fid",
                                          "smooth",
                                          "message"};
    for (size_t i = 0; i < sizeof columns / sizeof *columns; i++)
        assert_true(wg_table_column(&t, columns[i]) >= 0);
    assert_string_equal(wg_table_cell(&t, 3, wg_table_column(&t, "run")), "sn<&>\"-s1");
    assert_string_equal(wg_table_cell(&t, 3, wg_table_column(&t, "state")), "diverged");
    assert_string_equal(wg_table_cell(&t, 4, wg_table_column(&t, "method")), "JS baseline");
    assert_string_equal(wg_table_cell(&t, 0, wg_table_column(&t, "smooth")), "pass");
    assert_true(wg_table_number(&t, 0, wg_table_column(&t, "w1")) == 0.0625);
    assert_true(isnan(wg_table_number(&t, 4, wg_table_column(&t, "w1"))));
    assert_true(isnan(wg_table_number(&t, 0, wg_table_column(&t, "fid"))));
    wg_table_free(&t);

    /* compare.csv next to the folders reads back with what only it knows */
    char *path = td_join(f->dir, "compare.csv");
    td_write_text(path, csv.data);
    wg_run_info *back;
    int n_back;
    assert_int_equal(wg_compare_load(f->dir, &back, &n_back), WG_OK);
    assert_int_equal(n_back, N_PAGE_RUNS);
    assert_true(back[0].memory_bytes == 123456789);
    assert_true(back[2].peak_rss_bytes == 1 << 20);
    assert_string_equal(back[3].state, "diverged");
    free_all(back, n_back);
    free(path);
    wg_buf_free(&csv);
    free_all(runs, N_PAGE_RUNS);
}

/* ---- sweep files ---- */

static char *write_file(const char *dir, const char *name, const char *text) {
    char *path = td_join(dir, name);
    td_write_text(path, text);
    return path;
}

static const char *const experiment_yaml =
    "name: tiny\nseed: 1\ndevice: cpu\ndata: {plugin: 8gaussians}\n"
    "arch: {plugin: mlp, hidden: [16, 16]}\nloss: {plugin: wasserstein}\n"
    "lipschitz: {plugin: gradient_penalty, lambda: 0.1}\n"
    "train: {batch: 32, steps: 12, n_critic: 2, log_every: 2, sample_every: 6, "
    "checkpoint_every: 6}\n"
    "optimizer: {critic: {kind: adam, lr: 1e-3}, generator: {kind: adam, lr: 1e-3}}\n";

static void test_sweep_file(void **state) {
    fixture *f = *state;
    char *exp = write_file(f->dir, "tiny.yaml", experiment_yaml);
    char text[2048];
    snprintf(text, sizeof text,
             "name: sw\n"
             "experiments:\n"
             "  - %s\n"
             "  - {file: tiny.yaml, name: tiny-clip, set: {lipschitz: {plugin: weight_clip}}}\n"
             "vary: {train.batch: [16, 32]}\n"
             "devices: [cpu, all]\n"
             "seeds: [3, 1]\n"
             "baseline: [tiny-clip-batch-16, tiny-batch-32]\n"
             "set: {train.steps: 5, optimizer.critic.betas: [0.5, 0.9], train.n_critic: \"2\"}\n",
             exp);
    char *path = write_file(f->dir, "sweep.yaml", text);
    const char *const cli[] = {"train.log_every=1"};
    wg_sweep *sw;
    assert_int_equal(wg_sweep_load(path, cli, 1, &sw), WG_OK);
    assert_string_equal(sw->name, "sw");
    assert_int_equal(sw->n_experiments, 4);
    assert_string_equal(sw->experiments[0].label, "tiny-batch-16");
    assert_string_equal(sw->experiments[1].label, "tiny-batch-32");
    assert_string_equal(sw->experiments[3].label, "tiny-clip-batch-32");
    /* a relative path is found next to the sweep file */
    assert_string_equal(sw->experiments[2].path, exp);
    assert_int_equal(sw->experiments[2].n_overrides, 2);
    assert_string_equal(sw->experiments[2].overrides[0], "lipschitz={plugin: weight_clip}");
    assert_string_equal(sw->experiments[2].overrides[1], "train.batch=16");
    assert_int_equal(sw->n_devices, 2);
    assert_string_equal(sw->devices[1], "all");
    assert_int_equal(sw->n_seeds, 2);
    assert_int_equal(sw->seeds[0], 3);
    assert_int_equal(sw->n_overrides, 4);
    assert_string_equal(sw->overrides[0], "train.steps=5");
    assert_string_equal(sw->overrides[1], "optimizer.critic.betas=[0.5, 0.9]");
    assert_string_equal(sw->overrides[2], "train.n_critic=\"2\"");
    assert_string_equal(sw->overrides[3], "train.log_every=1");
    assert_null(sw->override_nodes[3]);
    /* an error about one of the sweep's overrides points into the sweep file */
    char located[512];
    wg_sweep_locate_error(sw,
                          "--set train.n_critic=\"2\": key 'train.n_critic': got '2', must "
                          "be an integer",
                          located, sizeof located);
    assert_true(strstr(located, "sweep.yaml:9:") != NULL);
    assert_non_null(strstr(located, ": key 'train.n_critic'"));
    wg_sweep_locate_error(sw, "other", located, sizeof located);
    assert_string_equal(located, "other");
    /* the baseline: the file's list, replaced by the command line's */
    assert_string_equal(sw->baseline, "tiny-clip-batch-16,tiny-batch-32");
    assert_int_equal(wg_sweep_set_baseline(sw, "tiny-batch-16,nope"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "'nope'"));
    assert_int_equal(wg_sweep_set_baseline(sw, "tiny-batch-16,"), WG_ERR_CONFIG);
    assert_int_equal(wg_sweep_set_baseline(sw, "tiny-batch-16"), WG_OK);
    assert_string_equal(sw->baseline, "tiny-batch-16");
    /* --only keeps the baselines of what it keeps (one per data set) and fails only when
     * it leaves none */
    assert_int_equal(wg_sweep_set_baseline(sw, "tiny-batch-32,tiny-clip-batch-16"), WG_OK);
    const char *const only_clip[] = {"clip"};
    assert_int_equal(wg_sweep_select(sw, only_clip, 1), WG_OK);
    assert_int_equal(sw->n_experiments, 2);
    assert_string_equal(sw->baseline, "tiny-clip-batch-16");
    const char *const only_32[] = {"32"};
    assert_int_equal(wg_sweep_select(sw, only_32, 1), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "--only left out every baseline"));
    wg_sweep_free(sw);
    free(path);
    free(exp);
}

static void test_sweep_errors(void **state) {
    fixture *f = *state;
    char *exp = write_file(f->dir, "tiny.yaml", experiment_yaml);
    static const struct {
        const char *body, *where, *what;
    } cases[] = {
        {"experiments: [tiny.yaml]\ndevice: [cpu]\n", ":2:1:", "did you mean 'devices'"},
        {"name: x\n", ":1:1:", "key 'experiments': missing"},
        {"experiments: []\n", ":1:14:", "non-empty list"},
        {"experiments: [nothere.yaml]\n", ":1:15:", "cannot find the experiment file"},
        {"experiments: [tiny.yaml]\nseeds: [1, -2]\n", ":2:12:", "must be an integer"},
        {"experiments: [tiny.yaml]\nseeds: [1, 1]\n", ":2:12:", "listed twice"},
        {"experiments: [tiny.yaml]\nseeds: 3\n", ":2:8:", "non-empty list of integers"},
        {"experiments: [tiny.yaml]\ndevices: cpu\n", ":2:10:", "non-empty list of device"},
        {"experiments: [tiny.yaml, tiny.yaml]\n", ":1:26:", "a second experiment called 'tiny'"},
        {"experiments: [{file: tiny.yaml, nmae: a}]\n", ":1:33:", "did you mean 'name'"},
        {"experiments: [{file: tiny.yaml, name: 'a b'}]\n", ":1:39:", "names the run folders"},
        {"experiments: [tiny.yaml]\nset: [1]\n", ":2:6:", "must be a mapping"},
        {"experiments: [tiny.yaml]\nvary: {train.batch: []}\n", ":2:21:", "non-empty list"},
        {"experiments: [{name: a}]\n", ":1:15:", "no base"},
        {"name: 'no good'\nexperiments: [tiny.yaml]\n", ":1:7:", "comparison folder"},
        {"experiments: [tiny.yaml]\nexperiments: [tiny.yaml]\n", ":2:1:", "duplicate key"},
        {"experiments: [tiny.yaml]\nbaseline: gp\n", ":2:11:", "'gp' is not the name of one"},
        {"experiments: [tiny.yaml]\nbaseline: [tiny, x]\n", ":2:18:", "'x' is not the name"},
        {"experiments: [tiny.yaml]\nbaseline: {a: 1}\n", ":2:11:", "an experiment's name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = write_file(f->dir, "bad.yaml", cases[i].body);
        wg_sweep *sw = NULL;
        wg_status s = wg_sweep_load(path, NULL, 0, &sw);
        const char *message = wg_last_error();
        char want[4300];
        snprintf(want, sizeof want, "%s%s", path, cases[i].where);
        if (s != WG_ERR_CONFIG || strncmp(message, want, strlen(want)) ||
            !strstr(message, cases[i].what)) {
            print_error("case %zu (%s): status %d, message '%s'; want '%s...%s'\n", i,
                        cases[i].body, s, message, want, cases[i].what);
            fail();
        }
        assert_null(sw);
        free(path);
    }
    wg_sweep *sw = NULL;
    assert_int_equal(wg_sweep_load("/nonexistent/sweep.yaml", NULL, 0, &sw), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "/nonexistent/sweep.yaml"));
    free(exp);
}

/* ---- a whole comparison ---- */

static bool plugins_built(void) {
    /* the tests run in the build folder, where the plugins are built next to them */
    return access("plugins/wgan_arch_mlp.so", R_OK) == 0;
}

static void test_compare_end_to_end(void **state) {
    fixture *f = *state;
    if (!plugins_built()) {
        wg_test_skip("plugins not built next to the test");
    }
    char *exp = write_file(f->dir, "tiny.yaml", experiment_yaml);
    /* GP, clipping, and a run that diverges: an unconstrained critic under SGD with a
     * huge learning rate */
    const char *text = "name: e2e\n"
                       "experiments:\n"
                       "  - tiny.yaml\n"
                       "  - {file: tiny.yaml, name: clip, set: {lipschitz: {plugin: weight_clip},"
                       " optimizer: {critic: {kind: rmsprop, lr: 5e-5}}}}\n"
                       "  - {file: tiny.yaml, name: boom, set: {lipschitz: , optimizer.critic: "
                       "{kind: sgd, lr: 3}, train.n_critic: 1, train.steps: 200, train.log_every: "
                       "1}}\n"
                       "devices: [cpu]\n"
                       "seeds: [1, 2]\n"
                       "set: {train.steps: 8}\n";
    char *path = write_file(f->dir, "sweep.yaml", text);
    char *out = td_join(f->dir, "cmp");
    wg_sweep *sw;
    assert_int_equal(wg_sweep_load(path, NULL, 0, &sw), WG_OK);
    wg_sweep_options o = {.out_dir = out, .progress = WG_PROGRESS_QUIET, .quiet = true};
    int n_failed = -1;
    bool interrupted = true;
    assert_int_equal(wg_sweep_execute(sw, &o, &n_failed, &interrupted), WG_OK);
    assert_false(interrupted);
    assert_int_equal(n_failed, 2); /* both seeds of "boom" */

    wg_run_info *runs;
    int n;
    assert_int_equal(wg_compare_load(out, &runs, &n), WG_OK);
    assert_int_equal(n, 6);
    assert_string_equal(runs[0].id, "tiny-cpu-s1");
    assert_string_equal(runs[1].id, "tiny-cpu-s2");
    assert_string_equal(runs[2].id, "clip-cpu-s1");
    assert_string_equal(runs[4].id, "boom-cpu-s1");
    for (int i = 0; i < 4; i++) {
        assert_string_equal(runs[i].state, "completed");
        assert_int_equal(runs[i].steps, 8);
        assert_int_equal(runs[i].seed, i % 2 + 1);
        assert_string_equal(runs[i].device_spec, "cpu");
        assert_true(runs[i].memory_bytes > 0);
        assert_true(runs[i].peak_rss_bytes > 0);
        assert_true(runs[i].ms_per_step > 0);
    }
    assert_string_equal(runs[0].name, "tiny");
    assert_string_equal(runs[2].name, "clip");
    assert_string_equal(runs[2].lipschitz, "weight_clip");
    assert_string_equal(runs[4].state, "diverged");
    assert_non_null(strstr(runs[4].message, "step"));
    /* the seeds differ, so the runs do */
    assert_true(wg_run_quantity(&runs[0], WG_Q_W_ESTIMATE) !=
                wg_run_quantity(&runs[1], WG_Q_W_ESTIMATE));
    free_all(runs, n);
    char *html_path = td_join(out, "report.html");
    char *html = read_text(html_path);
    assert_non_null(strstr(html, "<b>GP</b>"));
    assert_non_null(strstr(html, "<b>clip</b>"));
    assert_non_null(strstr(html, "2 failed"));
    assert_non_null(strstr(html, "Paired by seed against <b>tiny</b>"));
    free(html);
    free(html_path);
    /* compare.md: clip against the sweep's first experiment over the two seeds; the
     * diverged runs have no pairs */
    char *md_path = td_join(out, "compare.md");
    char *md = read_text(md_path);
    assert_non_null(strstr(md, "Paired by seed against `tiny`"));
    assert_non_null(strstr(md, "| clip | cpu | 2 |"));
    free(md);
    free(md_path);

    /* the same folder again: every finished run is kept, nothing is trained, and the
     * diverged ones still count as failed */
    assert_int_equal(wg_sweep_execute(sw, &o, &n_failed, &interrupted), WG_OK);
    assert_int_equal(n_failed, 2);
    assert_int_equal(wg_compare_load(out, &runs, &n), WG_OK);
    assert_int_equal(n, 6);
    assert_true(runs[0].memory_bytes > 0); /* carried over from the first compare.csv */
    free_all(runs, n);
    wg_sweep_free(sw);

    /* a configuration error in one experiment stops the sweep before any training, at
     * the position of the sweep's own override */
    text = "name: e2e\nexperiments: [tiny.yaml]\ndevices: [cpu]\nset: {train.batch: lots}\n";
    td_write_text(path, text);
    assert_int_equal(wg_sweep_load(path, NULL, 0, &sw), WG_OK);
    char *out2 = td_join(f->dir, "cmp2");
    o.out_dir = out2;
    assert_int_equal(wg_sweep_execute(sw, &o, &n_failed, &interrupted), WG_ERR_CONFIG);
    char want[4300];
    snprintf(want, sizeof want, "%s:4:20:", path);
    if (strncmp(wg_last_error(), want, strlen(want))) {
        print_error("got '%s', want '%s ...'\n", wg_last_error(), want);
        fail();
    }
    char *csv = td_join(out2, "compare.csv");
    assert_false(wg_file_exists(csv));
    wg_sweep_free(sw);

    /* a device that is not there is a configuration error too */
    td_write_text(path, "experiments: [tiny.yaml]\ndevices: [cpu, no-such-device-here]\n");
    assert_int_equal(wg_sweep_load(path, NULL, 0, &sw), WG_OK);
    assert_int_equal(wg_sweep_execute(sw, &o, &n_failed, &interrupted), WG_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:2:16:", path);
    assert_int_equal(strncmp(wg_last_error(), want, strlen(want)), 0);
    wg_sweep_free(sw);
    free(csv);
    free(out2);
    free(out);
    free(path);
    free(exp);
}

/* ---- in a browser ---- */

static char *find_chromium(void) {
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *env = getenv("WGAN_CHROMIUM");
    if (env && *env) return access(env, X_OK) == 0 ? strdup(env) : NULL;
    const char *path = getenv("PATH");
    if (!path) return NULL;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char *copy = strdup(path);
        for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
            char *candidate = td_join(dir, names[k]);
            if (access(candidate, X_OK) == 0) {
                free(copy);
                return candidate;
            }
            free(candidate);
        }
        free(copy);
    }
    return NULL;
}

/* The page as the browser built it: every chart made it into the DOM and the page
 * renders to a picture. */
static void test_page_in_a_browser(void **state) {
    fixture *f = *state;
    char *chromium = find_chromium();
    if (!chromium) {
        wg_test_skip("chromium not found (Debian package 'chromium'; or set WGAN_CHROMIUM)");
    }
    wg_run_info *runs = load_all(f->dir, page_runs, N_PAGE_RUNS);
    wg_buf html = {0};
    assert_int_equal(wg_report_html(runs, N_PAGE_RUNS, NULL, &html), WG_OK);
    char *page = td_join(f->dir, "report.html");
    assert_int_equal(wg_write_file_atomic(page, html.data, html.len), WG_OK);
    int want_svgs = count(html.data, "<svg");
    wg_buf_free(&html);
    free_all(runs, N_PAGE_RUNS);

    char *profile = td_join(f->dir, "profile");
    char *dom = td_join(f->dir, "dom.html");
    char *shot = td_join(f->dir, "shot.png");
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-background-networking "
                        "--disable-component-update --disable-sync --no-first-run "
                        "--window-size=1280,2000";
    char command[8192];
    snprintf(command, sizeof command,
             "'%s' %s --user-data-dir='%s' --dump-dom 'file://%s' >'%s' "
             "2>/dev/null",
             chromium, flags, profile, page, dom);
    assert_int_equal(system(command), 0);
    char *loaded = read_text(dom);
    assert_int_equal(count(loaded, "<svg"), want_svgs);
    assert_non_null(strstr(loaded, "<table class=\"compare\">"));
    assert_non_null(strstr(loaded, "JS baseline"));
    free(loaded);
    snprintf(command, sizeof command,
             "'%s' %s --user-data-dir='%s' --screenshot='%s' 'file://%s' "
             ">/dev/null 2>&1",
             chromium, flags, profile, shot, page);
    assert_int_equal(system(command), 0);
    struct stat st;
    assert_int_equal(stat(shot, &st), 0);
    assert_true(st.st_size > 10000); /* a blank page compresses to almost nothing */
    free(shot);
    free(dom);
    free(profile);
    free(page);
    free(chromium);
}

int main(int argc, char **argv) {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, td_fixture_teardown)
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_csv_reading),
        cmocka_unit_test(test_json_reading),
        CASE(test_run_folder),
        CASE(test_run_folder_with_missing_files),
        CASE(test_html_page),
        CASE(test_compare_csv_round_trip),
        CASE(test_sweep_file),
        CASE(test_sweep_errors),
    };
    /* a sweep that trains through the wgan program */
    const struct CMUnitTest e2e[] = {CASE(test_compare_end_to_end)};
    const struct CMUnitTest browser[] = {CASE(test_page_in_a_browser)};
#undef CASE
    const wg_test_tier tiers[] = {WG_TEST_TIER(unit, unit), WG_TEST_TIER(e2e, e2e),
                                  WG_TEST_TIER(browser, browser)};
    return wg_test_run_tiers(argc, argv, "report", tiers, sizeof tiers / sizeof *tiers, NULL, NULL);
}
