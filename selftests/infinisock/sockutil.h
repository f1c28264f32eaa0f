/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the C selftests. */
#ifndef INFINISOCK_SOCKUTIL_H
#define INFINISOCK_SOCKUTIL_H

#include <errno.h>
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

#endif
