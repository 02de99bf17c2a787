/* The plugin loader: the built-in plugins by kind and name, the deliberately broken
 * plugins of tests/fixtures/plugins (each refused with its reason, none stopping the
 * others), the search path's order and shadowing, and the unknown-name message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/loader.h"

static const char *fixture_dir(void) {
    const char *dir = getenv("WGAN_TEST_PLUGIN_DIR");
    if (!dir || !*dir) fail_msg("WGAN_TEST_PLUGIN_DIR is not set (run through ctest)");
    return dir;
}

/* Loads with WGAN_PLUGIN_PATH set to `path` (NULL: unset). */
static wg_plugins *load_with_path(const char *path) {
    if (path)
        setenv(WG_PLUGIN_PATH_ENV, path, 1);
    else
        unsetenv(WG_PLUGIN_PATH_ENV);
    wg_plugins *plugins = NULL;
    assert_int_equal(wg_plugins_load(&plugins), WG_OK);
    assert_non_null(plugins);
    return plugins;
}

static void print_diagnostics(const wg_plugins *plugins) {
    for (int i = 0; i < wg_plugins_diagnostic_count(plugins); i++)
        printf("  diagnostic: %s\n", wg_plugins_diagnostic(plugins, i));
}

static bool has_diagnostic(const wg_plugins *plugins, const char *text) {
    for (int i = 0; i < wg_plugins_diagnostic_count(plugins); i++)
        if (strcmp(wg_plugins_diagnostic(plugins, i), text) == 0) return true;
    return false;
}

/* Fails unless a diagnostic equals "<dir>/<file>: <reason>". */
static void expect_diagnostic(const wg_plugins *plugins, const char *dir, const char *file,
                              const char *reason) {
    char text[1024];
    snprintf(text, sizeof text, "%s/%s: %s", dir, file, reason);
    if (!has_diagnostic(plugins, text)) {
        print_diagnostics(plugins);
        fail_msg("missing diagnostic: %s", text);
    }
}

static const wg_plugin *expect_plugin(const wg_plugins *plugins, wg_plugin_kind kind,
                                      const char *name) {
    const wg_plugin *p = NULL;
    if (wg_plugins_find(plugins, kind, name, &p) != WG_OK)
        fail_msg("%s plugin '%s': %s", wg_plugin_kind_name(kind), name, wg_last_error());
    assert_non_null(p);
    assert_int_equal(p->kind, kind);
    assert_string_equal(p->name, name);
    return p;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_builtins(void **state) {
    (void)state;
    wg_plugins *plugins = load_with_path(NULL);
    print_diagnostics(plugins);
    assert_int_equal(wg_plugins_diagnostic_count(plugins), 0);

    static const char *const lipschitz[] = {"gradient_penalty", "none", "spectral_norm",
                                            "weight_clip"};
    for (size_t i = 0; i < sizeof lipschitz / sizeof *lipschitz; i++) {
        const wg_plugin *p = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, lipschitz[i]);
        char file[128];
        snprintf(file, sizeof file, "/wgan_lipschitz_%s.so", lipschitz[i]);
        assert_true(ends_with(p->path, file));
        assert_true(p->summary[0] != '\0');
        assert_int_equal(p->abi_major, WG_PLUGIN_ABI_MAJOR);
        assert_int_equal(p->vt.lipschitz.struct_size, sizeof(wg_lipschitz_vtable));
        /* stateless plugins have neither (ABI 2.0), the others both */
        bool stateless = strcmp(lipschitz[i], "none") == 0;
        assert_true(!p->vt.lipschitz.create == stateless);
        assert_true(!p->vt.lipschitz.destroy == stateless);
    }
    const wg_lipschitz_vtable *gp =
        &expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "gradient_penalty")->vt.lipschitz;
    assert_non_null(gp->penalty_ctx);
    assert_null(gp->penalty);
    assert_null(gp->reparametrize);
    assert_null(gp->project);
    assert_true(gp->flags & WG_LIPSCHITZ_PER_SAMPLE_GRADIENTS);
    assert_non_null(
        expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "weight_clip")->vt.lipschitz.project);
    assert_non_null(
        expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "spectral_norm")->vt.lipschitz.reparametrize);

    static const char *const losses[] = {"gan", "hinge", "wasserstein"};
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        const wg_loss_vtable *vt = &expect_plugin(plugins, WG_PLUGIN_LOSS, losses[i])->vt.loss;
        assert_non_null(vt->critic_loss);
        assert_non_null(vt->generator_loss);
    }
    /* generator_loss_ctx stands in for the generator_loss a relativistic loss cannot have */
    const wg_loss_vtable *rel = &expect_plugin(plugins, WG_PLUGIN_LOSS, "relativistic")->vt.loss;
    assert_null(rel->generator_loss);
    assert_non_null(rel->generator_loss_ctx);

    /* sorted by kind, then name */
    for (int i = 1; i < wg_plugins_count(plugins); i++) {
        const wg_plugin *a = wg_plugins_at(plugins, i - 1), *b = wg_plugins_at(plugins, i);
        assert_true(a->kind < b->kind || (a->kind == b->kind && strcmp(a->name, b->name) < 0));
    }
    /* the one folder searched when WGAN_PLUGIN_PATH is unset: the build tree's, which
     * holds the built-in plugins */
    assert_int_equal(wg_plugins_dir_count(plugins), 1);
    const char *dir = wg_plugins_dir(plugins, 0);
    const char *clip = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "weight_clip")->path;
    size_t len = strlen(dir);
    assert_true(len > 8 && strcmp(dir + len - 8, "/plugins") == 0);
    assert_true(strncmp(clip, dir, len) == 0 && clip[len] == '/');
    wg_plugins_free(plugins);
}

static void test_unknown_name_lists_known(void **state) {
    (void)state;
    wg_plugins *plugins = load_with_path(NULL);
    const wg_plugin *p = (const wg_plugin *)1;
    assert_int_equal(wg_plugins_find(plugins, WG_PLUGIN_LIPSCHITZ, "gradient_penalt", &p),
                     WG_ERR_CONFIG);
    assert_null(p);
    assert_string_equal(wg_last_error(),
                        "unknown lipschitz plugin 'gradient_penalt'; known: ct, dragan, "
                        "gradient_penalty, lipschitz_penalty, none, orthogonal, r1, r2, "
                        "spectral_norm, weight_clip");
    assert_int_equal(wg_plugins_find(plugins, WG_PLUGIN_LOSS, "wgan", &p), WG_ERR_CONFIG);
    assert_string_equal(
        wg_last_error(),
        "unknown loss plugin 'wgan'; known: gan, hinge, least_squares, relativistic, "
        "wasserstein");
    /* a name of another kind is not found either */
    assert_int_equal(wg_plugins_find(plugins, WG_PLUGIN_LOSS, "weight_clip", &p), WG_ERR_CONFIG);
    wg_plugins_free(plugins);

    /* no plugin of the kind at all */
    const char *none[] = {"/nonexistent-wgan-plugins"};
    assert_int_equal(wg_plugins_load_dirs(1, none, &plugins), WG_OK);
    assert_int_equal(wg_plugins_count(plugins), 0);
    assert_int_equal(wg_plugins_find(plugins, WG_PLUGIN_DATA, "mnist", &p), WG_ERR_CONFIG);
    assert_non_null(strstr(wg_last_error(), "unknown data plugin 'mnist'; no data plugins"));
    assert_true(has_diagnostic(
        plugins,
        "/nonexistent-wgan-plugins: cannot read plugin folder: No such file or directory"));
    wg_plugins_free(plugins);
}

static void test_broken_fixtures(void **state) {
    (void)state;
    const char *dir = fixture_dir();
    wg_plugins *plugins = load_with_path(dir);
    char abi[128];

    snprintf(abi, sizeof abi,
             "loss plugin 'abi_major2': built for plugin ABI %d.0, this wgan speaks %d.%d",
             WG_PLUGIN_ABI_MAJOR + 1, WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    expect_diagnostic(plugins, dir, "abi_major2.so", abi);
    /* named whatever the file is called */
    snprintf(abi, sizeof abi,
             "loss plugin 'fancy_loss': built for plugin ABI %d.0, this wgan speaks %d.%d",
             WG_PLUGIN_ABI_MAJOR + 1, WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    expect_diagnostic(plugins, dir, "renamed_abi.so", abi);
    snprintf(abi, sizeof abi,
             "loss plugin 'abi_newer_minor': built for plugin ABI %d.%d, this wgan speaks %d.%d",
             WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR + 1, WG_PLUGIN_ABI_MAJOR,
             WG_PLUGIN_ABI_MINOR);
    expect_diagnostic(plugins, dir, "abi_newer_minor.so", abi);
    expect_diagnostic(plugins, dir, "no_entry.so",
                      "no wg_plugin_entry symbol (not a wgan plugin?)");
    expect_diagnostic(plugins, dir, "unresolved.so",
                      "dlopen: undefined symbol: wg_fixture_missing_symbol");
    char small[160];
    snprintf(small, sizeof small,
             "descriptor struct_size 8 is smaller than the %zu bytes plugin ABI %d.%d needs",
             sizeof(wg_plugin_desc), WG_PLUGIN_ABI_MAJOR, WG_PLUGIN_ABI_MINOR);
    expect_diagnostic(plugins, dir, "small_desc.so", small);
    snprintf(small, sizeof small,
             "loss plugin 'small_vtable': vtable struct_size 8 is smaller than the %zu bytes "
             "its required functions need",
             offsetof(wg_loss_vtable, generator_loss_ctx)); /* generator_loss is the last */
    expect_diagnostic(plugins, dir, "small_vtable.so", small);
    expect_diagnostic(plugins, dir, "null_fn.so",
                      "loss plugin 'null_fn': required function 'generator_loss' is NULL");

    /* one file, several descriptors: each bad one reported, the good one kept */
    expect_diagnostic(plugins, dir, "multi.so", "unknown plugin kind 9");
    expect_diagnostic(plugins, dir, "multi.so", "NULL descriptor");
    expect_diagnostic(plugins, dir, "multi.so", "loss plugin without a name");
    expect_diagnostic(plugins, dir, "multi.so", "loss plugin 'multi_no_vtable' has no vtable");
    char shadow[1024];
    snprintf(shadow, sizeof shadow, "loss plugin 'multi_ok' is shadowed by %s/multi.so", dir);
    expect_diagnostic(plugins, dir, "multi.so", shadow);
    assert_string_equal(expect_plugin(plugins, WG_PLUGIN_LOSS, "multi_ok")->summary,
                        "the good one");

    /* refused ones are not found; the built-ins still are */
    const char *refused[] = {"abi_major2", "abi_newer_minor", "small_desc",     "small_vtable",
                             "null_fn",    "unresolved",      "multi_no_vtable"};
    const wg_plugin *p;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        assert_int_equal(wg_plugins_find(plugins, WG_PLUGIN_LOSS, refused[i], &p), WG_ERR_CONFIG);
    expect_plugin(plugins, WG_PLUGIN_LOSS, "wasserstein");
    expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "gradient_penalty");
    /* a plugin of the previous minor version loads */
    assert_int_equal(expect_plugin(plugins, WG_PLUGIN_LOSS, "abi_older_minor")->abi_minor,
                     WG_PLUGIN_ABI_MINOR - 1);

    /* a vtable shorter than the runtime's: the hooks past its size read as absent */
    p = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "truncated");
    assert_int_equal(p->vt.lipschitz.struct_size, offsetof(wg_lipschitz_vtable, reparametrize));
    assert_non_null(p->vt.lipschitz.create);
    assert_null(p->vt.lipschitz.reparametrize);
    assert_null(p->vt.lipschitz.penalty);
    assert_null(p->vt.lipschitz.project);
    assert_null(p->vt.lipschitz.penalty_ctx);
    /* a loss built for ABI 2.0 loads in 2.1, without the generator_loss_ctx it never had */
    p = expect_plugin(plugins, WG_PLUGIN_LOSS, "loss_abi_2_0");
    assert_int_equal(p->abi_minor, 0);
    assert_int_equal(p->vt.loss.struct_size, offsetof(wg_loss_vtable, generator_loss_ctx));
    assert_non_null(p->vt.loss.generator_loss);
    assert_null(p->vt.loss.generator_loss_ctx);

    /* the fixture folder comes first, but its weight_clip has a built-in one's name: the
     * built-in one is kept and the clash reported, naming the way to override */
    p = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "weight_clip");
    assert_true(p->builtin);
    assert_true(ends_with(p->path, "/wgan_lipschitz_weight_clip.so"));
    char clash[1024];
    snprintf(clash, sizeof clash,
             "lipschitz plugin 'weight_clip' has the name of a built-in one (%s) and is not "
             "used; set WGAN_PLUGIN_OVERRIDE=weight_clip to use it instead",
             p->path);
    expect_diagnostic(plugins, dir, "twin_a.so", clash);
    wg_plugins_free(plugins);

    /* asked for, the fixture's weight_clip shadows the built-in one */
    setenv(WG_PLUGIN_OVERRIDE_ENV, "lipschitz.weight_clip", 1);
    plugins = load_with_path(dir);
    unsetenv(WG_PLUGIN_OVERRIDE_ENV);
    p = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "weight_clip");
    assert_string_equal(p->summary, "stand-in");
    assert_false(p->builtin);
    bool reported = false;
    for (int i = 0; i < wg_plugins_diagnostic_count(plugins); i++) {
        const char *d = wg_plugins_diagnostic(plugins, i);
        snprintf(shadow, sizeof shadow,
                 "/wgan_lipschitz_weight_clip.so: lipschitz plugin 'weight_clip' is shadowed by "
                 "%s/twin_a.so",
                 dir);
        if (ends_with(d, shadow)) reported = true;
    }
    assert_true(reported);
    /* within one folder, files load in name order */
    assert_string_equal(expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "twin")->summary, "a");
    wg_plugins_free(plugins);
}

/* A temporary folder with symbolic links to fixtures. */
typedef struct temp_dir {
    char path[256];
    char links[4][512];
    int n_links;
} temp_dir;

static void temp_dir_make(temp_dir *t) {
    snprintf(t->path, sizeof t->path, "%s/wgan-plugin-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(t->path));
    t->n_links = 0;
}

static void temp_dir_link(temp_dir *t, const char *target, const char *name) {
    assert_true(t->n_links < 4);
    char link[sizeof t->links[0]];
    snprintf(link, sizeof link, "%s/%s", t->path, name);
    assert_int_equal(symlink(target, link), 0);
    memcpy(t->links[t->n_links++], link, sizeof link);
}

static void temp_dir_remove(temp_dir *t) {
    for (int i = 0; i < t->n_links; i++) unlink(t->links[i]);
    rmdir(t->path);
}

static void test_path_order_and_shadowing(void **state) {
    (void)state;
    const char *dir = fixture_dir();
    char a_so[512], b_so[512];
    snprintf(a_so, sizeof a_so, "%s/twin_a.so", dir);
    snprintf(b_so, sizeof b_so, "%s/twin_b.so", dir);
    temp_dir a, b;
    temp_dir_make(&a);
    temp_dir_make(&b);
    temp_dir_link(&a, a_so, "twin.so");
    /* the same file reached twice is loaded once, silently: a/again.so, first by name */
    temp_dir_link(&a, a_so, "again.so");
    temp_dir_link(&b, b_so, "twin.so");
    temp_dir_link(&b, "/etc/hostname", "text.so"); /* not a shared object at all */

    char path[1024], reason[1024];
    /* empty entries are skipped */
    snprintf(path, sizeof path, "%s::%s:", b.path, a.path);
    wg_plugins *plugins = load_with_path(path);
    assert_int_equal(wg_plugins_dir_count(plugins), 3); /* b, a, the built-in folder */
    assert_string_equal(wg_plugins_dir(plugins, 0), b.path);
    assert_string_equal(wg_plugins_dir(plugins, 1), a.path);
    assert_string_equal(expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "twin")->summary, "b");
    snprintf(reason, sizeof reason, "lipschitz plugin 'twin' is shadowed by %s/twin.so", b.path);
    expect_diagnostic(plugins, a.path, "again.so", reason);
    /* twin_a.so's weight_clip has a built-in one's name: the built-in one stays */
    const wg_plugin *clip = expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "weight_clip");
    assert_true(clip->builtin);
    bool dlopen_reported = false;
    snprintf(reason, sizeof reason, "%s/text.so: dlopen: ", b.path);
    for (int i = 0; i < wg_plugins_diagnostic_count(plugins); i++)
        if (strncmp(wg_plugins_diagnostic(plugins, i), reason, strlen(reason)) == 0)
            dlopen_reported = true;
    if (!dlopen_reported) print_diagnostics(plugins);
    assert_true(dlopen_reported);
    /* a/again.so: twin shadowed, weight_clip a built-in's name; a/twin.so is again.so,
     * not loaded twice, so nothing about it */
    int a_diagnostics = 0;
    snprintf(reason, sizeof reason, "%s/twin.so", a.path);
    for (int i = 0; i < wg_plugins_diagnostic_count(plugins); i++) {
        const char *d = wg_plugins_diagnostic(plugins, i);
        if (strncmp(d, a.path, strlen(a.path)) == 0) a_diagnostics++;
        assert_null(strstr(d, reason));
    }
    assert_int_equal(a_diagnostics, 2);
    wg_plugins_free(plugins);

    /* the other order */
    snprintf(path, sizeof path, "%s:%s", a.path, b.path);
    plugins = load_with_path(path);
    assert_string_equal(expect_plugin(plugins, WG_PLUGIN_LIPSCHITZ, "twin")->summary, "a");
    snprintf(reason, sizeof reason, "lipschitz plugin 'twin' is shadowed by %s/again.so", a.path);
    expect_diagnostic(plugins, b.path, "twin.so", reason);
    wg_plugins_free(plugins);

    temp_dir_remove(&a);
    temp_dir_remove(&b);
}

/* Pointers that lead nowhere are refused, each with its reason, without being followed
 * (the whole scan runs each file in a child first; here the file is loaded in this
 * process by name through a link). */
static void test_bad_pointers(void **state) {
    (void)state;
    const char *dir = fixture_dir();
    wg_plugins *plugins = load_with_path(dir);
    expect_diagnostic(plugins, dir, "bad_pointers.so",
                      "loss plugin 'bad_vtable': vtable pointer 0x1000 is not a vtable in the "
                      "library");
    expect_diagnostic(plugins, dir, "bad_pointers.so",
                      "loss plugin name is not a string of 1 to 63 letters, digits, '_', '-' or "
                      "'.' in the library");
    expect_diagnostic(plugins, dir, "bad_pointers.so",
                      "loss plugin 'bad_summary': summary is not a string in the library");
    char why[256];
    snprintf(why, sizeof why,
             "loss plugin 'bad_function': function pointer 0x30 at vtable offset %zu is not in a "
             "loaded library",
             offsetof(wg_loss_vtable, critic_loss));
    expect_diagnostic(plugins, dir, "bad_pointers.so", why);
    expect_diagnostic(plugins, dir, "bad_pointers.so",
                      "descriptor pointer 0x40 is not in the library");
    wg_plugins_free(plugins);

    temp_dir t;
    temp_dir_make(&t);
    char so[512];
    snprintf(so, sizeof so, "%s/bad_pointers.so", dir);
    temp_dir_link(&t, so, "wgan_loss_bad_function.so");
    const char *dirs[] = {t.path};
    assert_int_equal(wg_plugins_open_dirs(1, dirs, &plugins), WG_OK);
    const wg_plugin *p = (const wg_plugin *)1;
    assert_int_equal(wg_plugins_resolve(plugins, WG_PLUGIN_LOSS, "bad_function", &p),
                     WG_ERR_CONFIG);
    assert_null(p);
    assert_non_null(strstr(wg_last_error(), "function pointer 0x30"));
    wg_plugins_free(plugins);
    temp_dir_remove(&t);
}

/* A registry opened for a run loads the file its name indexes and nothing else, and
 * warns about a folder that others can write. */
static void test_resolve_loads_only_what_is_named(void **state) {
    (void)state;
    char hostile[512];
    snprintf(hostile, sizeof hostile, "%s/hostile", fixture_dir());
    setenv(WG_PLUGIN_PATH_ENV, hostile, 1);
    wg_plugins *plugins = NULL;
    assert_int_equal(wg_plugins_open(&plugins), WG_OK);
    assert_int_equal(wg_plugins_count(plugins), 0);
    const wg_plugin *p;
    assert_int_equal(wg_plugins_resolve(plugins, WG_PLUGIN_LOSS, "hinge", &p), WG_OK);
    assert_true(p->builtin);
    assert_true(ends_with(p->path, "/wgan_loss_hinge.so"));
    /* a name declared by a file with several: found through its link */
    assert_int_equal(wg_plugins_resolve(plugins, WG_PLUGIN_DATA, "swissroll", &p), WG_OK);
    assert_true(ends_with(p->path, "/wgan_data_swissroll.so"));
    /* the toy file's other descriptors came with it; the hostile files were not touched */
    assert_int_equal(wg_plugins_diagnostic_count(plugins), 0);
    for (int i = 0; i < wg_plugins_count(plugins); i++) {
        const wg_plugin *q = wg_plugins_at(plugins, i);
        assert_true(!strcmp(q->name, "hinge") || q->kind == WG_PLUGIN_DATA);
    }
    wg_plugins_free(plugins);
    unsetenv(WG_PLUGIN_PATH_ENV);

    temp_dir t;
    temp_dir_make(&t);
    char so[512];
    snprintf(so, sizeof so, "%s/wgan_loss_plain.so", fixture_dir());
    temp_dir_link(&t, so, "wgan_loss_plain.so");
    assert_int_equal(chmod(t.path, 0777), 0);
    const char *dirs[] = {t.path};
    assert_int_equal(wg_plugins_open_dirs(1, dirs, &plugins), WG_OK);
    assert_int_equal(wg_plugins_resolve(plugins, WG_PLUGIN_LOSS, "plain", &p), WG_OK);
    assert_int_equal(wg_plugins_warning_count(plugins), 1);
    char warning[1024];
    snprintf(warning, sizeof warning,
             "plugin folder %s is writable by everyone: whoever can write it can run code in "
             "wgan",
             t.path);
    assert_string_equal(wg_plugins_warning(plugins, 0), warning);
    wg_plugins_free(plugins);
    temp_dir_remove(&t);
}

static void test_kind_names(void **state) {
    (void)state;
    const wg_plugin_kind all[] = {WG_PLUGIN_LIPSCHITZ, WG_PLUGIN_LOSS, WG_PLUGIN_ARCH,
                                  WG_PLUGIN_DATA};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        wg_plugin_kind kind;
        assert_int_equal(wg_plugin_kind_parse(wg_plugin_kind_name(all[i]), &kind), WG_OK);
        assert_int_equal(kind, all[i]);
    }
    assert_string_equal(wg_plugin_kind_name(WG_PLUGIN_LIPSCHITZ), "lipschitz");
    assert_string_equal(wg_plugin_kind_name((wg_plugin_kind)42), "?");
    wg_plugin_kind kind;
    assert_int_equal(wg_plugin_kind_parse("critic", &kind), WG_ERR_INVALID);
    assert_non_null(strstr(wg_last_error(), "lipschitz, loss, arch, data"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_unknown_name_lists_known),
        cmocka_unit_test(test_broken_fixtures),
        cmocka_unit_test(test_path_order_and_shadowing),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_bad_pointers),
        cmocka_unit_test(test_resolve_loads_only_what_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
