/*
 * control.h: the UNIX control socket.  A client (upcase --stats) connects,
 * may send "stats\n", and reads "name value" lines until we close.  Served
 * by the main thread; the answer is small enough for one non-blocking write.
 */
#ifndef UPCASE_CONTROL_H
#define UPCASE_CONTROL_H

#include <sys/types.h>

/* Create, bind and listen at path with mode.  Returns the fd, or -1 (errno). */
int  control_open(const char *path, mode_t mode);
/* Accept pending clients and answer each with text. */
void control_serve(int fd, const char *text, size_t len);
void control_close(int fd, const char *path);

#endif
