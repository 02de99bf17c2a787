/* The IDX image reader (plugins/data/idx.c): the input is the file, plain or gzip. */
#include <stdio.h>

#include "fuzz_data.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *file = fz_path("images-idx3-ubyte");
    fz_write(file, data, size);
    char section[1024];
    snprintf(section, sizeof section, "path: '%s'\n", file);
    fz_data_run(section);
    return 0;
}
