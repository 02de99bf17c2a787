/* Status codes and the per-thread error message that goes with them. */
#ifndef WGAN_STATUS_H
#define WGAN_STATUS_H

#include "wgan/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wg_status {
    WG_OK = 0,
    WG_ERR_NOMEM,       /* an allocation failed (host or device) */
    WG_ERR_INVALID,     /* an argument is out of range or inconsistent */
    WG_ERR_SHAPE,       /* tensor shapes do not fit the op */
    WG_ERR_DEVICE,      /* the device or its driver reported a failure */
    WG_ERR_UNSUPPORTED, /* valid request that this device or build cannot do */
    WG_ERR_IO,          /* a file could not be read or written */
    WG_ERR_CONFIG,      /* the experiment configuration is wrong */
    WG_ERR_PLUGIN,      /* a plugin could not be loaded or misbehaved */
    WG_ERR_NUMERIC,     /* a NaN or infinity where a finite value is needed */
} wg_status;

/* Short constant name of a status ("WG_ERR_SHAPE"). */
WG_API const char *wg_status_name(wg_status status);

/* Message of the last failure on this thread ("" when none). */
WG_API const char *wg_last_error(void);

/* Records a formatted message for this thread and returns `status`, so a failing
 * function can `return wg_fail(WG_ERR_IO, "cannot open %s", path);`. An argument may
 * be wg_last_error() itself, to put context in front of the message. */
WG_API wg_status wg_fail(wg_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

WG_API void wg_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
