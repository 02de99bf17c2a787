/* Drives a data plugin compiled into the fuzz target through its vtable, as the runtime
 * does: create from a YAML `data:` section, sample shape, a few batches, destroy. */
#ifndef WGAN_FUZZ_DATA_H
#define WGAN_FUZZ_DATA_H

/* `section` is the YAML text of the plugin's configuration. */
void fz_data_run(const char *section);

#endif
