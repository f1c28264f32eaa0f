/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM's two hosts, for the C selftests: host a (netns "a", 10.77.0.1, fd77::1) and
 * host b (netns "b", 10.77.0.2, fd77::2), one rxe device each (rxea, rxeb).
 *
 * One process creates sockets in both namespaces (setns() before socket(): a socket
 * keeps the namespace it was created in), so every test sees both ends.
 */
#ifndef INFINISOCK_HOSTS_H
#define INFINISOCK_HOSTS_H

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>

#define HOST_A4 "10.77.0.1"
#define HOST_B4 "10.77.0.2"
#define HOST_A6 "fd77::1"
#define HOST_B6 "fd77::2"

static inline void enter_netns(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* The sockaddr_in or sockaddr_in6 of `host` (text; NULL: the wildcard) and `port`. */
static inline socklen_t ip_addr(struct sockaddr_storage *ss, int family, const char *host, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (host)
			inet_pton(AF_INET, host, &sin->sin_addr);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	if (host)
		inet_pton(AF_INET6, host, &sin6->sin6_addr);
	return sizeof(*sin6);
}

/*
 * The sockaddr_ib of `host` (AF_INET or AF_INET6 text) and `port` in the port space
 * whose service IDs start at `sid_base` (INFINISOCK_SID_PS_TCP for streams,
 * INFINISOCK_SID_PS_IB for SOCK_SEQPACKET). On RoCE the GID of an IPv4 address is
 * ::ffff:a.b.c.d.
 */
static inline socklen_t ib_addr(struct sockaddr_ib *sib, int family, const char *host, int port,
				unsigned long long sid_base)
{
	memset(sib, 0, sizeof(*sib));
	sib->sib_family = AF_IB;
	sib->sib_pkey = htons(0xffff);
	if (family == AF_INET) {
		sib->sib_addr.sib_addr8[10] = 0xff;
		sib->sib_addr.sib_addr8[11] = 0xff;
		inet_pton(AF_INET, host, &sib->sib_addr.sib_addr8[12]);
	} else {
		inet_pton(AF_INET6, host, sib->sib_addr.sib_addr8);
	}
	sib->sib_sid = htobe64(sid_base + port);
	sib->sib_sid_mask = htobe64(~0ull);
	return sizeof(*sib);
}

/* The port of a sockaddr_ib's service ID. */
static inline int ib_port(const struct sockaddr_ib *sib)
{
	return be64toh(sib->sib_sid) & 0xffff;
}

/* An hca counter of an rxe device ("sent_pkts", "rcvd_pkts"). */
static inline long long rxe_counter(const char *dev, const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/hw_counters/%s", dev, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* A fixture's variants: the same pair of hosts over IPv4 and over IPv6. */
#define HOST_PAIR_VARIANTS(fixture, v4, v6)					\
	FIXTURE_VARIANT(fixture)						\
	{									\
		int family;							\
		const char *a, *b;						\
	};									\
	FIXTURE_VARIANT_ADD(fixture, v4)					\
	{									\
		.family = AF_INET, .a = HOST_A4, .b = HOST_B4,			\
	};									\
	FIXTURE_VARIANT_ADD(fixture, v6)					\
	{									\
		.family = AF_INET6, .a = HOST_A6, .b = HOST_B6,			\
	}

/* AF_IB SOCK_SEQPACKET sockets. */
static inline int msg_socket(const char *ns)
{
	enter_netns(ns);
	return socket(AF_IB, SOCK_SEQPACKET, 0);
}

/* A listener on host b, any port; its address in *bound. -errno on failure. */
static inline int msg_listener(int family, struct sockaddr_ib *bound, int max_msg)
{
	struct sockaddr_ib sib;
	socklen_t len = sizeof(*bound);
	int fd = msg_socket("b");

	if (fd < 0)
		return -errno;
	ib_addr(&sib, family, family == AF_INET ? HOST_B4 : HOST_B6, 0, INFINISOCK_SID_PS_IB);
	if ((max_msg && setsockopt(fd, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &max_msg, sizeof(max_msg))) ||
	    bind(fd, (struct sockaddr *)&sib, sizeof(sib)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)bound, &len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* A socket on host a connected to `to`. -errno on failure. */
static inline int msg_connect(const struct sockaddr_ib *to, int max_msg)
{
	int fd = msg_socket("a");

	if (fd < 0)
		return -errno;
	if ((max_msg && setsockopt(fd, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &max_msg, sizeof(max_msg))) ||
	    connect(fd, (const struct sockaddr *)to, sizeof(*to))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

#endif
