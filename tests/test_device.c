/* Device specs: auto, cpu, opencl, opencl:N, name matches, and their errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgan/device.h"
#include "tiers.h"

/* Whether an OpenCL device can be opened here. */
static int have_opencl;

static int probe(void **state) {
    (void)state;
    wg_device *dev;
    if (wg_device_open("opencl", &dev) == WG_OK) {
        have_opencl = 1;
        wg_device_close(dev);
    }
    return 0;
}

static char *list_devices(void) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    assert_int_equal(wg_device_list(f), WG_OK);
    fclose(f);
    return text;
}

static void test_cpu(void **state) {
    (void)state;
    wg_device *dev;
    assert_int_equal(wg_device_open("cpu", &dev), WG_OK);
    assert_string_equal(wg_device_kind(dev), "cpu");
    assert_non_null(strstr(wg_device_description(dev), "cpu"));
    assert_non_null(strstr(wg_device_description(dev), "kernels")); /* OpenBLAS's choice */
    /* The only cpu note is about an OPENBLAS_CORETYPE that wastes the CPU's AVX-512. */
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (!forced || !*forced)
        assert_string_equal(wg_device_note(dev), "");
    else if (*wg_device_note(dev))
        assert_non_null(strstr(wg_device_note(dev), "OPENBLAS_CORETYPE="));
    wg_device_close(dev);
    assert_int_equal(wg_device_open("CPU", &dev), WG_OK);
    wg_device_close(dev);
}

static void test_auto(void **state) {
    (void)state;
    wg_device *dev;
    assert_int_equal(wg_device_open("auto", &dev), WG_OK);
    print_message("auto: %s [%s]\n", wg_device_description(dev), wg_device_note(dev));
    assert_true(strlen(wg_device_note(dev)) > 0);
    if (strcmp(wg_device_kind(dev), "cpu") == 0) {
        /* the note says why no GPU was used */
        assert_non_null(strstr(wg_device_note(dev), "cpu"));
        assert_true(strstr(wg_device_note(dev), "GPU") || strstr(wg_device_note(dev), "OpenCL"));
    } else {
        assert_string_equal(wg_device_kind(dev), "opencl");
    }
    wg_device_close(dev);
}

static void test_opencl_specs(void **state) {
    (void)state;
    if (!have_opencl) wg_test_skip("no OpenCL device");
    const char *specs[] = {"opencl", "opencl:0"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        wg_device *dev;
        wg_status st = wg_device_open(specs[i], &dev);
        if (st != WG_OK) fail_msg("%s: %s", specs[i], wg_last_error());
        assert_string_equal(wg_device_kind(dev), "opencl");
        assert_memory_equal(wg_device_description(dev), "opencl:0 ", 9);
        assert_string_equal(wg_device_note(dev), "");
        wg_device_close(dev);
    }
    /* names match case-insensitively, vendor and platform too; PoCL is the OpenCL
     * device of every test machine, though not always the first */
    char *list = list_devices();
    int have_pocl = strstr(list, "Portable Computing Language") != NULL;
    free(list);
    if (!have_pocl) return;
    const char *names[] = {"pocl", "POCL", "portable computing"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        wg_device *dev;
        wg_status st = wg_device_open(names[i], &dev);
        if (st != WG_OK) fail_msg("%s: %s", names[i], wg_last_error());
        assert_string_equal(wg_device_kind(dev), "opencl");
        assert_non_null(strstr(wg_device_description(dev), "Portable Computing Language"));
        wg_device_close(dev);
    }
}

static void test_bad_index(void **state) {
    (void)state;
    wg_device *dev = (wg_device *)1;
    wg_status st = wg_device_open("opencl:99", &dev);
    assert_true(st == WG_ERR_INVALID || st == WG_ERR_UNSUPPORTED);
    assert_null(dev);
    print_message("opencl:99 -> %s\n", wg_last_error());
    assert_non_null(strstr(wg_last_error(), "opencl:99"));
    assert_true(strlen(wg_last_error()) > 0);

    const char *malformed[] = {"opencl:", "opencl:x", "opencl:-1", "opencl:1x"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        assert_int_equal(wg_device_open(malformed[i], &dev), WG_ERR_INVALID);
        assert_non_null(strstr(wg_last_error(), malformed[i]));
    }
    assert_int_equal(wg_device_open("", &dev), WG_ERR_INVALID);
}

static void test_unknown_name(void **state) {
    (void)state;
    wg_device *dev;
    assert_int_equal(wg_device_open("nonsense", &dev), WG_ERR_INVALID);
    assert_null(dev);
    const char *msg = wg_last_error();
    print_message("nonsense -> %s\n", msg);
    assert_non_null(strstr(msg, "nonsense"));
    assert_non_null(strstr(msg, "cpu"));
    if (have_opencl) assert_non_null(strstr(msg, "opencl:0"));
}

static void test_list(void **state) {
    (void)state;
    char *text = list_devices();
    print_message("%s", text);
    assert_memory_equal(text, "cpu", 3);
    if (have_opencl)
        assert_non_null(strstr(text, "opencl:0"));
    else
        assert_non_null(strstr(text, "OpenCL"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu),          cmocka_unit_test(test_auto),
        cmocka_unit_test(test_opencl_specs), cmocka_unit_test(test_bad_index),
        cmocka_unit_test(test_unknown_name), cmocka_unit_test(test_list),
    };
    return wg_test_run_group("device", tests, sizeof tests / sizeof *tests, probe, NULL);
}
