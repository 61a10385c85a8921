/* SPDX-License-Identifier: ISC */
/*
 * nouring: run a program where io_uring cannot be had, as under systemd's
 * SystemCallFilter=~@io-uring or a container's seccomp profile.
 *
 *	nouring ERRNO prog [args ...]
 *
 * sets no_new_privs and a seccomp filter under which io_uring_setup,
 * io_uring_enter and io_uring_register fail with ERRNO (a name such as
 * EPERM or ENOSYS, or a number), then executes prog (searched in PATH).
 * Everything else is allowed.  A system call made for another
 * architecture than the one this was built for (on x86-64: the i386
 * entry, int 0x80) kills the process, as systemd's
 * SystemCallArchitectures=native does, so the filter cannot be got
 * round through it; x32 calls are matched by their x86-64 numbers.
 *
 * tests/t_iomode.py runs upcased under it.  Exit 125: the filter could
 * not be set (or this architecture is not known here); 127: prog could
 * not be executed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NOURING_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NOURING_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NOURING_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NOURING_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NOURING_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NOURING_ARCH AUDIT_ARCH_S390X
#endif

#if !defined(__NR_io_uring_setup) || !defined(__NR_io_uring_enter) || \
    !defined(__NR_io_uring_register)
#undef NOURING_ARCH	/* headers older than io_uring: nothing to filter by */
#endif

#if defined(__x86_64__) && defined(__X32_SYSCALL_BIT)
#define NOURING_NR_MASK (~(unsigned)__X32_SYSCALL_BIT)
#else
#define NOURING_NR_MASK (~0u)
#endif

static const struct {
	const char *name;
	int         value;
} errnos[] = {
	{ "EPERM", EPERM }, { "ENOSYS", ENOSYS }, { "EACCES", EACCES },
	{ "EINVAL", EINVAL }, { "ENOMEM", ENOMEM }, { "EOPNOTSUPP", EOPNOTSUPP },
};

static int
parse_errno(const char *s)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(s, errnos[i].name) == 0)
			return errnos[i].value;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 4095)
		return -1;
	return (int)v;
}

int
main(int argc, char *argv[])
{
	int err;

	if (argc < 3 || (err = parse_errno(argv[1])) == -1) {
		fprintf(stderr, "usage: nouring ERRNO prog [args ...]\n"
		    "  ERRNO: EPERM, ENOSYS, EACCES, EINVAL, ENOMEM, EOPNOTSUPP or 1-4095\n");
		return 64;
	}
#ifdef NOURING_ARCH
	{
		const unsigned ret_errno = SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA);
		struct sock_filter prog[] = {
			/* Another architecture's system calls: kill. */
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NOURING_ARCH, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
			/* The number, an x32 call's as its x86-64 twin. */
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_STMT(BPF_ALU | BPF_AND | BPF_K, NOURING_NR_MASK),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_RET | BPF_K, ret_errno),
		};
		struct sock_fprog fprog = {
			.len = (unsigned short)(sizeof(prog) / sizeof(prog[0])),
			.filter = prog,
		};

		/* Without it an unprivileged process may not set a filter. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
			perror("nouring: PR_SET_NO_NEW_PRIVS");
			return 125;
		}
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == -1) {
			perror("nouring: PR_SET_SECCOMP");
			return 125;
		}
	}
#else
	(void)err;
	fprintf(stderr, "nouring: no seccomp filter for this architecture\n");
	return 125;
#endif
	execvp(argv[2], argv + 2);
	fprintf(stderr, "nouring: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
