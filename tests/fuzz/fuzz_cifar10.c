/* The CIFAR-10 binary reader (plugins/data/cifar10.c): the input is test_batch.bin. */
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_data.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fz_path("cifar-10-batches-bin");
    mkdir(dir, 0700);
    char file[1024], section[1200];
    snprintf(file, sizeof file, "%s/test_batch.bin", dir);
    fz_write(file, data, size);
    snprintf(section, sizeof section, "path: '%s'\nsplit: test\n", dir);
    fz_data_run(section);
    return 0;
}
