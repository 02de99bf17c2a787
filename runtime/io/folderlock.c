/* One process per folder: an flock on <folder>/.lock, held while the descriptor is
 * open. The kernel drops it when the holder exits, however it exits (kill -9 too), so
 * a stale lock never needs cleaning up; the file stays and is reused. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid the holder wrote, or 0 when unknown (it may not have written it yet). */
static long holder_pid(int fd) {
    char text[32] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0) return 0;
    char *end;
    long pid = strtol(text, &end, 10);
    return end != text && pid > 0 ? pid : 0;
}

wg_status wg_lock_folder(const char *dir, int *fd_out) {
    *fd_out = -1;
    char path[4200];
    if (snprintf(path, sizeof path, "%s/" WG_LOCK_FILE, dir) >= (int)sizeof path)
        return wg_fail(WG_ERR_IO, "path too long: %s", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return wg_fail(WG_ERR_IO, "cannot lock %s: %s", dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        long pid = err == EWOULDBLOCK ? holder_pid(fd) : 0;
        close(fd);
        if (err != EWOULDBLOCK) return wg_fail(WG_ERR_IO, "cannot lock %s: %s", dir, strerror(err));
        char who[48] = "another process";
        if (pid) snprintf(who, sizeof who, "another process (pid %ld)", pid);
        return wg_fail(WG_ERR_CONFIG,
                       "%s is in use by %s: one process owns a run folder while it runs", dir, who);
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    /* best effort: the pid only improves another process's message */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) < 0) errno = 0;
    *fd_out = fd;
    return WG_OK;
}

void wg_unlock_folder(int *fd) {
    if (*fd >= 0) close(*fd); /* closing drops the flock */
    *fd = -1;
}
