/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the C selftests. */
#ifndef INFINISOCK_SOCKUTIL_H
#define INFINISOCK_SOCKUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Expects `call` to fail (-1) with errno `err` (a kselftest-harness check). */
#define EXPECT_ERRNO(err, call)                  \
	do {                                     \
		errno = 0;                       \
		EXPECT_EQ(-1, (long)(call));     \
		EXPECT_EQ((err), errno);         \
	} while (0)

/* An int socket option, or -errno. */
static inline int sockopt_int(int fd, int level, int name)
{
	int val = -1;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, level, name, &val, &len))
		return -errno;
	return val;
}

/*
 * A number from a file: its first line's (key NULL), or the one after "key " on the
 * line that starts with it (/proc/meminfo's "Slab:", /proc/net/infinisock/memory's
 * "rings_kib"); -1 if there is none.
 */
static inline long long read_ll(const char *path, const char *key)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!key) {
			v = atoll(line);
			break;
		}
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ') {
			v = atoll(line + strlen(key) + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

/* Writes `s` to the file at `path` (a sysctl, a cgroup knob): 0, or -errno. */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), rc;

	if (fd < 0)
		return -errno;
	rc = write(fd, s, strlen(s)) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Kernel-pinned memory of this process (VmPin), in kB; -1 if unknown. */
static inline long vm_pin_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * Pages pinned by the kernel (/proc/vmstat: pins acquired less pins released), with
 * every CPU's pending counts folded in first (vm.stat_refresh): unfolded, either
 * counter can be off by a few dozen on this machine.
 */
static inline long long foll_pins(void)
{
	long long acquired = -1, released = -1, v;
	char name[64];
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	if (f)
		fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

/* SIGIO signals this process got since sigio_arm(). */
static volatile sig_atomic_t sigio_count;

static inline void sigio_count_one(int sig)
{
	(void)sig;
	sigio_count++;
}

/* Asks for SIGIO on fd (O_ASYNC, to this process) and starts counting; 0 or -errno. */
static inline int sigio_arm(int fd)
{
	struct sigaction sa = { .sa_handler = sigio_count_one };

	if (sigaction(SIGIO, &sa, NULL) || fcntl(fd, F_SETOWN, getpid()) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC))
		return -errno;
	sigio_count = 0;
	return 0;
}

/* Stops SIGIO on fd; one still on its way is ignored (its default kills). */
static inline void sigio_disarm(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_ASYNC);
	signal(SIGIO, SIG_IGN);
}

/* Waits up to 5 s for a SIGIO after sigio_arm(); the count seen. */
static inline int sigio_wait(void)
{
	for (int i = 0; i < 500 && !sigio_count; i++)
		usleep(10000);
	return sigio_count;
}

#endif
