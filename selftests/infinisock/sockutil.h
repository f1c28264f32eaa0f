/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the C selftests. */
#ifndef INFINISOCK_SOCKUTIL_H
#define INFINISOCK_SOCKUTIL_H

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

/* An int socket option, or -errno. */
static inline int sockopt_int(int fd, int level, int name)
{
	int val = -1;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, level, name, &val, &len))
		return -errno;
	return val;
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

#endif
