/* What the fuzz targets share: a scratch folder for inputs that the code under test reads
 * from files, removed when the process exits, and a check that aborts (a finding for
 * libFuzzer, a failed replay for ctest) when an invariant does not hold. */
#ifndef WGAN_FUZZ_SUPPORT_H
#define WGAN_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* The process's scratch folder, made on first use. */
const char *fz_scratch(void);
/* "<scratch>/<name>" into a static buffer that the next call reuses. */
const char *fz_path(const char *name);
/* Writes `size` bytes to `path` (replacing it); aborts when that fails. */
void fz_write(const char *path, const void *data, size_t size);
/* Prints `what` and the last wgan error, then aborts. */
void fz_fail(const char *what);
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) fz_fail(#cond);                                                               \
    } while (0)

/* Splits data at NUL bytes into at most `max` parts, each copied into a new
 * NUL-terminated string (free() each); returns how many parts there are. */
int fz_split(const uint8_t *data, size_t size, char **parts, int max);

/* libFuzzer's entry points, also called by the replay driver. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
