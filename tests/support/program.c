#include "program.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"

void tp_expect_position(const char *message, const char *path, int line) {
    size_t n = strlen(path);
    if (strncmp(message, path, n) != 0 || message[n] != ':')
        fail_msg("'%s' does not start with '%s:'", message, path);
    char *end;
    long got_line = strtol(message + n + 1, &end, 10);
    long col = *end == ':' ? strtol(end + 1, &end, 10) : 0;
    if (got_line != line || col < 1 || strncmp(end, ": ", 2) != 0)
        fail_msg("'%s' is not at line %d with a column", message, line);
}

char *tp_wgan_program(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = 0;
    char *program = td_join(dirname(self), "wgan");
    if (access(program, X_OK) != 0) {
        free(program);
        return NULL;
    }
    return program;
}
