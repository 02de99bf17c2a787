#include "wgan/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *wg_status_name(wg_status status) {
    switch (status) {
    case WG_OK: return "WG_OK";
    case WG_ERR_NOMEM: return "WG_ERR_NOMEM";
    case WG_ERR_INVALID: return "WG_ERR_INVALID";
    case WG_ERR_SHAPE: return "WG_ERR_SHAPE";
    case WG_ERR_DEVICE: return "WG_ERR_DEVICE";
    case WG_ERR_UNSUPPORTED: return "WG_ERR_UNSUPPORTED";
    case WG_ERR_IO: return "WG_ERR_IO";
    case WG_ERR_CONFIG: return "WG_ERR_CONFIG";
    case WG_ERR_PLUGIN: return "WG_ERR_PLUGIN";
    case WG_ERR_NUMERIC: return "WG_ERR_NUMERIC";
    }
    return "WG_ERR_UNKNOWN";
}

const char *wg_last_error(void) {
    return last_error;
}

/* Formats into a local buffer first: callers pass wg_last_error() as an argument to
 * put context in front of a message, and vsnprintf must not write what it reads. */
wg_status wg_fail(wg_status status, const char *fmt, ...) {
    char message[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(last_error, message, strlen(message) + 1);
    return status;
}

void wg_clear_error(void) {
    last_error[0] = '\0';
}
