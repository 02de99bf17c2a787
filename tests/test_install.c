/* The installed SDK: libwgan.so exports exactly the WG_API declarations, the public
 * headers match the plugin ABI's manifest, and an install to a temporary prefix (then
 * moved) builds examples/plugin out of tree with find_package(wgan) and with pkg-config
 * alone; each build is loaded through WGAN_PLUGIN_PATH and trains 20 steps with the
 * installed `wgan`, and the pkg-config one is also run inside this program, whose own
 * copy of wgan the plugin must bind to (its wg_fail message reaches wg_last_error); and a
 * program linking only the installed libwgan.so differentiates and runs a graph. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "io/fileio.h"
#include "numcheck.h"
#include "plugin/loader.h"
#include "plugincheck.h"
#include "tmpdir.h"

/* ---- the environment: source and build folders, tools, the scratch prefix ---- */

static char build_dir[4096];
static char *scratch;         /* removed at the end */
static char prefix[4200];     /* the install, after it was moved */
static int install_status;    /* of `cmake --install`, -1 before */
static wg_plugins *installed; /* plugins loaded from the pkg-config build */

static const char *source_dir(void) {
    const char *dir = getenv("WGAN_SOURCE_DIR");
    if (!dir || !*dir) fail_msg("WGAN_SOURCE_DIR is not set (run through ctest)");
    return dir;
}

static bool have_tool(const char *name) {
    char command[256];
    snprintf(command, sizeof command, "command -v %s >/dev/null 2>&1", name);
    return system(command) == 0;
}

static void need_tool(const char *name) {
    if (!have_tool(name)) {
        print_message("%s is not installed: skipped\n", name);
        skip();
    }
}

/* Runs `command` in sh, output to <scratch>/<log>; returns its exit status, printing
 * the output when it is not 0. */
static int run_logged(const char *log, const char *fmt, ...) {
    char command[16384], *path = td_join(scratch, log);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(command + 1, sizeof command - 1, fmt, ap) + 1;
    va_end(ap);
    command[0] = '(';
    assert_true(n > 1 && (size_t)n < sizeof command - 64 - strlen(path));
    snprintf(command + n, sizeof command - (size_t)n, ") >'%s' 2>&1", path);
    int status = system(command);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
        char *text = NULL;
        size_t size;
        if (wg_read_file(path, &text, &size) == WG_OK) print_message("%s\n", text);
        print_message("exit %d: %s\n", code, command);
        free(text);
    }
    free(path);
    return code;
}

static int group_setup(void **state) {
    (void)state;
    ssize_t n = readlink("/proc/self/exe", build_dir, sizeof build_dir - 1);
    if (n <= 0) return -1;
    build_dir[n] = '\0';
    *strrchr(build_dir, '/') = '\0'; /* the test programs live at the top of the build */
    scratch = td_make("wgan-install");
    install_status = -1;
    return 0;
}

static int group_teardown(void **state) {
    pc_group_teardown(state);
    wg_plugins_free(installed);
    td_remove(scratch);
    return 0;
}

/* Installs the build into <scratch>/first, then moves it to <scratch>/moved: every test
 * below uses the moved tree, so nothing may depend on the prefix it was installed at. */
static void install_once(void) {
    need_tool("cmake");
    if (install_status < 0) {
        install_status = run_logged("install.log",
                                    "cmake --install '%s' --prefix '%s/first' && mv '%s/first' "
                                    "'%s/moved'",
                                    build_dir, scratch, scratch, scratch);
        snprintf(prefix, sizeof prefix, "%s/moved", scratch);
    }
    assert_int_equal(install_status, 0);
}

static char *read_text(const char *dir, const char *name) {
    char *path = td_join(dir, name), *text = NULL;
    size_t size;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    return text;
}

/* ---- the public headers, normalised: one declaration per line, no comments ---- */

typedef struct decls {
    char **line;
    int n, cap;
} decls;

static void decls_add(decls *d, const char *file, const char *text) {
    while (*text == ' ') text++;
    size_t len = strlen(text);
    while (len && text[len - 1] == ' ') len--;
    if (!len) return;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->line = realloc(d->line, (size_t)d->cap * sizeof *d->line);
        assert_non_null(d->line);
    }
    char *line = malloc(strlen(file) + len + 3);
    assert_non_null(line);
    sprintf(line, "%s: %.*s", file, (int)len, text);
    d->line[d->n++] = line;
}

static void decls_free(decls *d) {
    for (int i = 0; i < d->n; i++) free(d->line[i]);
    free(d->line);
    *d = (decls){0};
}

static bool starts_with(const char *s, const char *prefix_) {
    return strncmp(s, prefix_, strlen(prefix_)) == 0;
}

/* Splits a header into top-level statements: preprocessor lines, declarations ending
 * in ';', and function definitions (philox.h) ending in their '}'. Comments and the
 * extern "C" wrapper are dropped, runs of white space become one space. */
static void read_header(const char *name, decls *out) {
    char *path = malloc(strlen(source_dir()) + strlen(name) + 16);
    assert_non_null(path);
    sprintf(path, "%s/include/wgan/%s", source_dir(), name);
    char *text = NULL;
    size_t size;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    free(path);
    char *stmt = malloc(size + 1);
    assert_non_null(stmt);
    size_t used = 0;
    int depth = 0;
    bool line_start = true, in_extern = false;
    for (const char *p = text; *p;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        if (p[0] == '/' && p[1] == '/') {
            p += strcspn(p, "\n");
            continue;
        }
        if (line_start && used == 0 && *p == '#') { /* a preprocessor line, maybe continued */
            size_t n = 0;
            while (p[n] && !(p[n] == '\n' && (n == 0 || p[n - 1] != '\\'))) n++;
            char *line = strndup(p, n);
            assert_non_null(line);
            for (char *c = line; *c; c++)
                if (*c == '\\' || *c == '\n' || *c == '\t') *c = ' ';
            decls_add(out, name, line);
            free(line);
            p += n;
            continue;
        }
        if (starts_with(p, "extern \"C\" {")) {
            p += strlen("extern \"C\" {");
            in_extern = true;
            continue;
        }
        char c = *p++;
        line_start = c == '\n';
        if (isspace((unsigned char)c)) {
            if (used && stmt[used - 1] != ' ') stmt[used++] = ' ';
            continue;
        }
        if (in_extern && depth == 0 && used == 0 && c == '}') {
            in_extern = false;
            continue;
        }
        stmt[used++] = c;
        if (c == '{') depth++;
        if (c == '}') depth--;
        stmt[used] = '\0';
        bool aggregate = starts_with(stmt, "typedef") || starts_with(stmt, "struct") ||
                         starts_with(stmt, "enum") || starts_with(stmt, "union");
        if (depth == 0 && (c == ';' || (c == '}' && !aggregate))) {
            decls_add(out, name, stmt);
            used = 0;
        }
    }
    if (used) fail_msg("%s: unterminated statement: %.*s", name, (int)used, stmt);
    free(stmt);
    free(text);
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_header(const struct dirent *entry) {
    size_t n = strlen(entry->d_name);
    return n > 2 && strcmp(entry->d_name + n - 2, ".h") == 0;
}

/* Every header of include/wgan/, in name order: a new public header cannot be missed. */
static void read_public_headers(decls *out) {
    char *dir = malloc(strlen(source_dir()) + 16);
    assert_non_null(dir);
    sprintf(dir, "%s/include/wgan", source_dir());
    struct dirent **names;
    int n = scandir(dir, &names, is_header, compare_names);
    if (n < 0) fail_msg("cannot list %s", dir);
    for (int i = 0; i < n; i++) {
        read_header(names[i]->d_name, out);
        free(names[i]);
    }
    free(names);
    free(dir);
    assert_true(n >= 10);
}

/* The name a WG_API declaration declares: the identifier before its parameter list
 * (or before ';' or '[' for data). NULL for statements that are not WG_API ones. */
static const char *declared_name(const char *line, char *name, size_t size) {
    const char *s = strstr(line, ": ");
    if (!s || !starts_with(s + 2, "WG_API ")) return NULL;
    s += 2;
    const char *end = s + strcspn(s, "([;=");
    while (end > s && (end[-1] == ' ')) end--;
    const char *begin = end;
    while (begin > s && (isalnum((unsigned char)begin[-1]) || begin[-1] == '_')) begin--;
    assert_true(end > begin && (size_t)(end - begin) < size);
    snprintf(name, size, "%.*s", (int)(end - begin), begin);
    return name;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- what libwgan.so exports ---- */

static void test_exports_are_the_public_api(void **state) {
    (void)state;
    need_tool("nm");
    decls d = {0};
    read_public_headers(&d);
    char *api[1024];
    int n_api = 0;
    for (int i = 0; i < d.n; i++) {
        char name[128];
        if (declared_name(d.line[i], name, sizeof name)) {
            assert_true(n_api < 1024);
            api[n_api++] = strdup(name);
        }
    }
    assert_true(n_api > 100); /* the graph builders alone are more */

    char command[4400];
    snprintf(command, sizeof command, "nm -D --defined-only '%s/libwgan.so'", build_dir);
    FILE *nm = popen(command, "r");
    assert_non_null(nm);
    char line[512];
    char *exported[2048];
    int n_exported = 0;
    while (fgets(line, sizeof line, nm)) {
        char type, name[256];
        if (sscanf(line, "%*s %c %255s", &type, name) != 2) continue;
        assert_true(n_exported < 2048);
        exported[n_exported++] = strdup(name);
    }
    assert_int_equal(pclose(nm), 0);
    qsort(api, (size_t)n_api, sizeof *api, compare_strings);
    qsort(exported, (size_t)n_exported, sizeof *exported, compare_strings);

    int missing = 0, extra = 0;
    for (int i = 0; i < n_exported; i++)
        if (!bsearch(&exported[i], api, (size_t)n_api, sizeof *api, compare_strings)) {
            print_message("exported but not declared WG_API in include/wgan/: %s\n", exported[i]);
            extra++;
        }
    for (int i = 0; i < n_api; i++)
        if (!bsearch(&api[i], exported, (size_t)n_exported, sizeof *exported, compare_strings)) {
            print_message("declared WG_API but not exported by libwgan.so: %s\n", api[i]);
            missing++;
        }
    for (int i = 0; i < n_api; i++) free(api[i]);
    for (int i = 0; i < n_exported; i++) free(exported[i]);
    decls_free(&d);
    assert_int_equal(extra, 0);
    assert_int_equal(missing, 0);
}

/* ---- the plugin ABI's manifest: tests/abi/plugin-abi-<major>.<minor>.txt ---- */

static char *manifest_path(int major, int minor) {
    char *path = malloc(strlen(source_dir()) + 64);
    assert_non_null(path);
    sprintf(path, "%s/tests/abi/plugin-abi-%d.%d.txt", source_dir(), major, minor);
    return path;
}

static void read_manifest(const char *path, decls *out) {
    char *text = NULL;
    size_t size;
    if (wg_read_file(path, &text, &size) != WG_OK) fail_msg("%s", wg_last_error());
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *colon = strstr(line, ": ");
        if (!colon) continue;
        *colon = '\0';
        decls_add(out, line, colon + 2);
    }
    free(text);
}

static bool contains(const decls *d, const char *line) {
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->line[i], line) == 0) return true;
    return false;
}

/* What a minor version may not change: function declarations and macros (signatures,
 * WG_MAX_DIMS, enumerators written as #define), but for the minor version's own
 * number. Struct definitions may grow at the end. */
static bool frozen_within_major(const char *line) {
    const char *s = strstr(line, ": ") + 2;
    if (starts_with(s, "#define WG_PLUGIN_ABI_MINOR ")) return false;
    return starts_with(s, "WG_API ") || starts_with(s, "#define ");
}

static void test_public_headers_match_abi_manifest(void **state) {
    (void)state;
    decls now = {0}, manifest = {0};
    read_public_headers(&now);
    char *path = manifest_path(WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    const char *write = getenv("WGAN_WRITE_ABI_MANIFEST");
    if (write && strcmp(write, "1") == 0) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        for (int i = 0; i < now.n; i++) fprintf(f, "%s\n", now.line[i]);
        assert_int_equal(fclose(f), 0);
        print_message("wrote %s\n", path);
    }
    if (access(path, R_OK) != 0)
        fail_msg("no manifest %s for plugin ABI %d.%d: write it with WGAN_WRITE_ABI_MANIFEST=1 "
                 "test_install (docs/plugins.md, \"Versioning\")",
                 path, WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    read_manifest(path, &manifest);
    int differences = 0;
    for (int i = 0; i < now.n; i++)
        if (!contains(&manifest, now.line[i]))
            print_message("not in %s: %s\n", path, now.line[i]), differences++;
    for (int i = 0; i < manifest.n; i++)
        if (!contains(&now, manifest.line[i]))
            print_message("in %s, no longer in the headers: %s\n", path, manifest.line[i]),
                differences++;
    if (differences)
        fail_msg("the public headers changed under plugin ABI %d.%d: bump WG_PLUGIN_ABI_MINOR "
                 "for additions, WG_PLUGIN_ABI_MAJOR and WGAN_SOVERSION for anything else, and "
                 "write the new manifest (docs/plugins.md, \"Versioning\")",
                 WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);

    /* within a major version, the previous minor's signatures and macros still hold */
    if (WG_PLUGIN_ABI_MINOR > 0) {
        char *previous = manifest_path(WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR - 1);
        if (access(previous, R_OK) == 0) {
            decls old = {0};
            read_manifest(previous, &old);
            for (int i = 0; i < old.n; i++)
                if (frozen_within_major(old.line[i]) && !contains(&now, old.line[i]))
                    print_message("changed within major %d: %s\n", WG_PLUGIN_ABI_MAJOR,
                                  old.line[i]),
                        differences++;
            decls_free(&old);
        }
        free(previous);
    }
    decls_free(&now);
    decls_free(&manifest);
    free(path);
    if (differences) fail_msg("an incompatible change needs a new WG_PLUGIN_ABI_MAJOR");
}

/* ---- the example plugin, built against the moved install ---- */

/* A copy of examples/plugin in <scratch>/<name>. */
static char *example_copy(const char *name) {
    char *dir = td_join(scratch, name);
    assert_int_equal(run_logged("copy.log",
                                "rm -rf '%s' && cp -r '%s/examples/plugin' '%s' && "
                                "rm -rf '%s/build' '%s/norm_hinge.so'", /* no stale builds */
                                dir, source_dir(), dir, dir, dir),
                     0);
    return dir;
}

/* Trains 20 steps of the installed 8-gaussians experiment with norm_hinge from
 * `plugin_dir`, small networks, on the cpu; checks the run folder's metrics. */
static void train_with(const char *plugin_dir, const char *out) {
    assert_int_equal(
        run_logged("run.log",
                   "WGAN_PLUGIN_PATH='%s' '%s/bin/wgan' run "
                   "'%s/share/wgan/experiments/wgan-gp-8gaussians.yaml' --out '%s' "
                   "--progress quiet --set device=cpu --set lipschitz.plugin=norm_hinge "
                   "--set lipschitz.lambda=5 --set lipschitz.margin=0.5 --set train.steps=20 "
                   "--set train.batch=32 --set train.n_critic=2 --set arch.hidden=[16,16] "
                   "--set train.log_every=10 --set train.sample_every=20 "
                   "--set train.checkpoint_every=20 --set eval.enabled=false",
                   plugin_dir, prefix, prefix, out),
        0);
    char *csv = read_text(out, "metrics.csv");
    assert_non_null(strstr(csv, ",hinge_norm_mean")); /* the plugin's metric was logged */
    const char *last = strrchr(csv, '\n');
    while (last > csv && last[-1] != '\n') last--; /* csv ends with '\n': the last row */
    assert_int_equal(atoi(last), 20);
    free(csv);
    char *summary = read_text(out, "summary.json");
    assert_non_null(strstr(summary, "norm_hinge"));
    assert_non_null(strstr(summary, "\"completed\""));
    free(summary);
}

static void test_example_with_find_package(void **state) {
    (void)state;
    install_once();
    char *dir = example_copy("example-cmake");
    assert_int_equal(run_logged("example-cmake.log",
                                "cmake -S '%s' -B '%s/build' -DCMAKE_PREFIX_PATH='%s' && "
                                "cmake --build '%s/build'",
                                dir, dir, prefix, dir),
                     0);
    char *build = td_join(dir, "build"), *out = td_join(scratch, "run-cmake");
    train_with(build, out);
    free(out);
    free(build);
    free(dir);
}

/* The installed program finds the installed plugins (relative to itself), not this
 * build's, and the example beside them. */
static void test_installed_program_searches_its_prefix(void **state) {
    (void)state;
    install_once();
    assert_int_equal(
        run_logged("plugins.log", "env -u WGAN_PLUGIN_PATH '%s/bin/wgan' plugins", prefix), 0);
    char *text = read_text(scratch, "plugins.log");
    char expected[4400];
    snprintf(expected, sizeof expected, "%s/lib/wgan/plugins/wgan_lipschitz_weight_clip.so",
             prefix);
    assert_non_null(strstr(text, expected));
    snprintf(expected, sizeof expected, "%s/plugins/", build_dir);
    assert_null(strstr(text, expected));
    free(text);
}

/* The example's penalty with a linear critic f(x) = c * sum(x): every input gradient
 * is c in each of the D coordinates, so the penalty is lambda * max(0, c sqrt(D) -
 * margin)^2 whatever the batch. */
static wg_status linear_critic(void *self, wg_build *build, wg_node x, wg_node *score) {
    wg_graph *g = wg_build_graph(build);
    wg_shape shape = wg_node_shape(g, x);
    wg_node w = wg_constant(g, wg_shape2(shape.dim[1], 1), *(const double *)self);
    *score = wg_matmul(g, x, w, false, false);
    return wg_graph_status(g);
}

static void test_example_with_pkg_config(void **state) {
    (void)state;
    install_once();
    need_tool("pkg-config");
    need_tool("make");
    char *dir = example_copy("example-pc");
    assert_int_equal(run_logged("example-pc.log", "PKG_CONFIG_PATH='%s/lib/pkgconfig' make -C '%s'",
                                prefix, dir),
                     0);
    char *out = td_join(scratch, "run-pc");
    train_with(dir, out);
    free(out);

    /* the same file inside this program, which embeds wgan and exports it */
    setenv(WG_PLUGIN_PATH_ENV, dir, 1);
    assert_int_equal(wg_plugins_load(&installed), WG_OK);
    unsetenv(WG_PLUGIN_PATH_ENV);
    const wg_plugin *plugin = NULL;
    assert_int_equal(wg_plugins_find(installed, WG_PLUGIN_LIPSCHITZ, "norm_hinge", &plugin), WG_OK);
    char so[8192];
    snprintf(so, sizeof so, "%s/norm_hinge.so", dir);
    assert_string_equal(plugin->path, so);

    nc_rng rng = nc_rng_for(nc_hash("norm_hinge"));
    double lambda = 0.5 + 4 * nc_rng_unit(&rng), margin = 0.5 + nc_rng_unit(&rng);
    double c = (0.2 + 2 * nc_rng_unit(&rng)) * (nc_rng_unit(&rng) < 0.5 ? -1 : 1);
    char yaml[128];
    snprintf(yaml, sizeof yaml, "lambda: %.17g\nmargin: %.17g\n", lambda, margin);
    void *hinge = pc_create(plugin, yaml);
    const int64_t n = 5, dim = 3;
    wg_build *build = pc_build(WG_F64, n, plugin, hinge);
    wg_graph *g = wg_build_graph(build);
    wg_node real = wg_input(g, wg_shape2(n, dim), "real"),
            fake = wg_input(g, wg_shape2(n, dim), "fake");
    wg_critic_fn critic = {linear_critic, &c};
    wg_node penalty = WG_NONE;
    assert_int_equal(plugin->vt.lipschitz.penalty(hinge, build, &critic, real, fake, &penalty),
                     WG_OK);
    pc_build_check(build);
    wg_session *session = nc_session(g, nc_cpu(), nc_run_seed());
    double *x = nc_buf(n * dim);
    nc_fill(&rng, x, n * dim, NC_SIGNED);
    nc_write(session, real, x);
    nc_fill(&rng, x, n * dim, NC_SIGNED);
    nc_write(session, fake, x);
    wg_plan *plan = nc_plan(session, 1, &penalty);
    nc_run(plan);
    double excess = fmax(0, fabs(c) * sqrt((double)dim) - margin);
    assert_float_equal(nc_read_scalar(plan, penalty), lambda * excess * excess,
                       1e-9 * (1 + lambda * excess * excess));

    /* a failure the plugin reports itself: its wg_fail is this program's */
    wg_build *bad = pc_build(WG_F32, n, plugin, hinge);
    wg_graph *bg = wg_build_graph(bad);
    wg_node a = wg_input(bg, wg_shape2(n, dim), "real"), b = wg_input(bg, wg_shape2(n, 1), "fake");
    wg_clear_error();
    assert_int_equal(plugin->vt.lipschitz.penalty(hinge, bad, &critic, a, b, &penalty),
                     WG_ERR_SHAPE);
    assert_string_equal(wg_last_error(), "norm_hinge: real and fake batches differ in shape");
    /* and one through the library it calls */
    assert_int_equal(pc_try_create(plugin, "lambda: -1\n"), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "lambda"));
    free(dir);
}

/* A program that only links the installed libwgan.so (an embedder): d/dx sum(x^2) on
 * the cpu for a fresh x, compared with 2x by the program itself. */
static const char *const embedder_source =
    "#include <math.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <wgan/session.h>\n"
    "int main(int argc, char **argv) {\n"
    "    float x[3], g[3];\n"
    "    for (int i = 0; i < 3; i++) x[i] = (float)atof(argv[1 + i % (argc - 1)]) + (float)i;\n"
    "    wg_graph *graph = wg_graph_new(WG_F32);\n"
    "    wg_node in = wg_input(graph, wg_shape1(3), \"x\"), grad = WG_NONE;\n"
    "    wg_device *device = NULL;\n"
    "    wg_session *session = NULL;\n"
    "    wg_plan *plan = NULL;\n"
    "    if (wg_grad(graph, wg_sum_all(graph, wg_square(graph, in)), 1, &in, &grad) != WG_OK ||\n"
    "        wg_device_open(\"cpu\", &device) != WG_OK ||\n"
    "        wg_session_new(graph, device, 1, &session) != WG_OK ||\n"
    "        wg_session_write(session, in, x) != WG_OK ||\n"
    "        wg_plan_new(session, 1, &grad, &plan) != WG_OK || wg_plan_run(plan) != WG_OK ||\n"
    "        wg_plan_read(plan, grad, g) != WG_OK) {\n"
    "        fprintf(stderr, \"%s\\n\", wg_last_error());\n"
    "        return 1;\n"
    "    }\n"
    "    for (int i = 0; i < 3; i++)\n"
    "        if (fabsf(g[i] - 2 * x[i]) > 1e-5f * (1 + fabsf(x[i]))) return 3;\n"
    "    printf(\"ok %s\\n\", wg_device_kind(device));\n"
    "    wg_plan_free(plan);\n"
    "    wg_session_free(session);\n"
    "    wg_device_close(device);\n"
    "    wg_graph_free(graph);\n"
    "    return 0;\n"
    "}\n";

static void test_embedder_with_pkg_config(void **state) {
    (void)state;
    install_once();
    need_tool("pkg-config");
    need_tool("cc");
    char *src = td_join(scratch, "embedder.c"), *exe = td_join(scratch, "embedder");
    td_write_text(src, embedder_source);
    assert_int_equal(
        run_logged("embedder-build.log",
                   "PKG_CONFIG_PATH='%s/lib/pkgconfig'; export PKG_CONFIG_PATH; cc -std=c11 "
                   "-Wall -Wextra -Werror '%s' -o '%s' $(pkg-config --cflags --libs wgan) "
                   "-Wl,-rpath,$(pkg-config --variable=libdir wgan)",
                   prefix, src, exe),
        0);
    nc_rng rng = nc_rng_for(nc_hash("embedder"));
    assert_int_equal(run_logged("embedder.log", "'%s' %.6f %.6f", exe, 4 * nc_rng_unit(&rng) - 2,
                                4 * nc_rng_unit(&rng) - 2),
                     0);
    char *out = read_text(scratch, "embedder.log");
    assert_string_equal(out, "ok cpu\n");
    free(out);
    free(exe);
    free(src);
}

int main(void) {
    nc_init("test_install");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exports_are_the_public_api),
        cmocka_unit_test(test_public_headers_match_abi_manifest),
        cmocka_unit_test_teardown(test_example_with_find_package, pc_teardown),
        cmocka_unit_test(test_installed_program_searches_its_prefix),
        cmocka_unit_test_teardown(test_example_with_pkg_config, pc_teardown),
        cmocka_unit_test(test_embedder_with_pkg_config),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
