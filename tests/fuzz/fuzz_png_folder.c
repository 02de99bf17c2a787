/* The PNG folder reader (plugins/data/png_folder.c): the input is the one PNG in the
 * folder. */
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_data.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fz_path("pngs");
    mkdir(dir, 0700);
    char file[1024], section[1200];
    snprintf(file, sizeof file, "%s/a.png", dir);
    fz_write(file, data, size);
    /* the colour mode from the last byte, so that gray and rgb conversions are reached */
    static const char *const colors[] = {"auto", "gray", "rgb"};
    const char *color = colors[size ? data[size - 1] % 3 : 0];
    snprintf(section, sizeof section, "path: '%s'\ncolor: %s\n", dir, color);
    fz_data_run(section);
    return 0;
}
