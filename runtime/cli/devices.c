/* wgan devices: what wg_device_open can reach, and what "auto" picks. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dist/dist.h"
#include "wgan/device.h"

int wg_cmd_devices(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: wgan devices\n\nLists every device with the spec that selects it "
               "(--device SPEC, or device: in an experiment).\n");
        return 0;
    }
    if (wg_device_list(stdout) != WG_OK) {
        fprintf(stderr, "wgan devices: %s\n", wg_last_error());
        return 1;
    }
    wg_device *device = NULL;
    if (wg_device_open("auto", &device) != WG_OK) {
        fprintf(stderr, "wgan devices: auto: %s\n", wg_last_error());
        return 1;
    }
    if (wg_dist_size() > 1) /* each rank says what it would use */
        printf("rank %d (local rank %d): ", wg_dist_rank(), wg_dist_local_rank());
    printf("auto -> %s\n", wg_device_description(device));
    if (*wg_device_note(device)) printf("       (%s)\n", wg_device_note(device));
    wg_device_close(device);
    return 0;
}
