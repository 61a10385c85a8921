/* SPDX-License-Identifier: ISC */
/*
 * stdfds.h: make sure descriptors 0, 1 and 2 are open before anything else
 * is, so a socket never lands on stdin/stdout/stderr when a program is
 * started with them closed (`upcase hello >&-`).
 */
#ifndef UPCASE_STDFDS_H
#define UPCASE_STDFDS_H

/*
 * Open /dev/null on each of 0, 1, 2 that is closed, the wrong way round:
 * write-only for 0, read-only for 1 and 2.  Reading or writing one still
 * fails with EBADF, as on the closed descriptor, instead of reading end
 * of file or writing into nothing: `upcase hello >&-` must report that
 * its reply went nowhere.  -1 if that fails.
 */
int stdfds_ensure_open(void);

#endif
