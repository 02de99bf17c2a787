/* Running the wgan program from a test, and checking where its messages point. */
#ifndef WGAN_TEST_PROGRAM_H
#define WGAN_TEST_PROGRAM_H

/* The wgan program next to the running test program, or NULL (free()). */
char *tp_wgan_program(void);
/* Fails unless `message` starts with "<path>:<line>:<col>: ". */
void tp_expect_position(const char *message, const char *path, int line);

#endif
