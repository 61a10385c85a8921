/*
 * control.h: the UNIX control socket.  A client (upcase --stats) connects,
 * may send "stats\n", and reads "name value" lines until we close.  Served
 * by the main thread, one client per loop turn; the answer is small enough
 * for one non-blocking write.
 */
#ifndef UPCASE_CONTROL_H
#define UPCASE_CONTROL_H

#include <sys/types.h>

/* Create, bind and listen at path with mode.  Returns the fd, or -1 (errno). */
int  control_open(const char *path, mode_t mode);
/*
 * Accept one client and answer it with text.  Returns -1 when out of
 * descriptors or memory: the caller should stop polling fd for a while.
 */
int  control_serve(int fd, const char *text, size_t len);
/*
 * Before dropping privileges: give the socket (and its directory, if we
 * created it) to the daemon's user, so it can remove them at stop.
 */
int  control_chown(const char *path, uid_t uid, gid_t gid);
void control_close(int fd, const char *path);

#endif
