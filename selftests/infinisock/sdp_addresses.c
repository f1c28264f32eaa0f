// SPDX-License-Identifier: GPL-2.0
/*
 * Which addresses an SDP socket binds, listens and connects on, checked against what
 * TCP does (hosts.h: host a connects to host b over the rxe pair):
 *
 * - loopback means "this host only": an SDP socket cannot bind it (no RDMA device has
 *   it, and a listener there must not be reachable from the fabric), EADDRNOTAVAIL,
 *   so that a program (or a TCP fallback) can use TCP for it;
 * - a listener bound to one address accepts only connections addressed to it, and an
 *   accepted socket's local address is the one the client asked for;
 * - a client bound to the wildcard or to its own address, with an explicit port or
 *   port 0, connects, from the port it bound.
 *
 * Each case runs for AF_INET, AF_INET6 and AF_IB.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "hosts.h"

/* The socket families under test and how each spells an address. */
FIXTURE(addr)
{
	int fds[8];
	int nfds;
};

FIXTURE_VARIANT(addr)
{
	int family;	/* socket family */
	int ip;		/* AF_INET or AF_INET6: the kind of IP address */
	const char *a, *b, *loopback, *multicast;
};

FIXTURE_VARIANT_ADD(addr, ipv4)
{
	.family = AF_INET, .ip = AF_INET, .a = HOST_A4, .b = HOST_B4, .loopback = "127.0.0.1", .multicast = "224.0.0.1",
};

FIXTURE_VARIANT_ADD(addr, ipv6)
{
	.family = AF_INET6, .ip = AF_INET6, .a = HOST_A6, .b = HOST_B6, .loopback = "::1", .multicast = "ff02::1",
};

FIXTURE_VARIANT_ADD(addr, af_ib)
{
	.family = AF_IB, .ip = AF_INET, .a = HOST_A4, .b = HOST_B4, .loopback = "127.0.0.1", .multicast = "224.0.0.1",
};

FIXTURE_SETUP(addr)
{
	self->nfds = 0;
}

FIXTURE_TEARDOWN(addr)
{
	for (int i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

/* An SDP stream socket of the variant's family in host `ns`, closed at teardown. */
static int sdp(struct __test_metadata *_metadata, FIXTURE_DATA(addr) *self, const FIXTURE_VARIANT(addr) *v,
	       const char *ns)
{
	int fd;

	enter_netns(ns);
	fd = socket(v->family, SOCK_STREAM, v->family == AF_IB ? 0 : IPPROTO_SDP);
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	ASSERT_GT(8, self->nfds);
	self->fds[self->nfds++] = fd;
	return fd;
}

/* The variant's sockaddr for `host` (NULL: the wildcard) and `port`. */
static socklen_t addr_of(const FIXTURE_VARIANT(addr) *v, struct sockaddr_storage *ss, const char *host, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (v->family == AF_IB) {
		struct sockaddr_ib *sib = (struct sockaddr_ib *)ss;

		if (host)
			return ib_addr(sib, v->ip, host, port, INFINISOCK_SID_PS_TCP);
		ib_addr(sib, AF_INET6, "::", port, INFINISOCK_SID_PS_TCP);
		if (!port)
			sib->sib_sid = sib->sib_sid_mask = 0;
		return sizeof(*sib);
	}
	return ip_addr(ss, v->family, host, port);
}

/* The port of a bound or connected socket's local (or peer) address. */
static int port_of(const FIXTURE_VARIANT(addr) *v, int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (v->family == AF_IB)
		return ib_port((struct sockaddr_ib *)&ss);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
}

/* The local address of `fd` as text in the variant's IP family. */
static const char *host_of(const FIXTURE_VARIANT(addr) *v, int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *raw;
	int fam = v->ip;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return "?";
	if (v->family == AF_IB) {
		const struct sockaddr_ib *sib = (struct sockaddr_ib *)&ss;

		raw = v->ip == AF_INET ? (const void *)&sib->sib_addr.sib_addr8[12] : (const void *)&sib->sib_addr;
	} else if (v->family == AF_INET) {
		raw = &((struct sockaddr_in *)&ss)->sin_addr;
	} else {
		raw = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	return inet_ntop(fam, raw, out, n) ? out : "?";
}

/* A listener on host b at `host` (NULL: wildcard), port 0; returns its port. */
static int listen_b(struct __test_metadata *_metadata, FIXTURE_DATA(addr) *self, const FIXTURE_VARIANT(addr) *v,
		    const char *host, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(v, &ss, host, 0);

	*fd = sdp(_metadata, self, v, "b");
	if (bind(*fd, (struct sockaddr *)&ss, len) || listen(*fd, 8))
		return -errno;
	return port_of(v, *fd, 0);
}

/* A port number free in host a: bound once by a probe socket, which is closed. */
static int free_port(const FIXTURE_VARIANT(addr) *v)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(v, &ss, NULL, 0);
	int fd, port;

	enter_netns("a");
	fd = socket(v->family, SOCK_STREAM, v->family == AF_IB ? 0 : IPPROTO_SDP);
	if (fd < 0)
		return -errno;
	port = bind(fd, (struct sockaddr *)&ss, len) ? -errno : port_of(v, fd, 0);
	close(fd);
	return port;
}

/*
 * A listener bound to loopback is not reachable from the fabric: the bind is refused
 * with EADDRNOTAVAIL. If a bind succeeded anyway, a connection from host b to host
 * a's interface address on that port must be refused, as TCP refuses it.
 */
TEST_F(addr, loopback_bind_refused)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(variant, &ss, variant->loopback, 0);
	int l = sdp(_metadata, self, variant, "a");
	int rc = bind(l, (struct sockaddr *)&ss, len);
	int err = errno;

	if (rc == 0) {
		int port = port_of(variant, l, 0), c;

		ASSERT_EQ(0, listen(l, 4));
		c = sdp(_metadata, self, variant, "b");
		len = addr_of(variant, &ss, variant->a, port);
		EXPECT_NE(0, connect(c, (struct sockaddr *)&ss, len))
			TH_LOG("a listener bound to %s accepted a connection from host b", variant->loopback);
	}
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EADDRNOTAVAIL, err) TH_LOG("bind to %s: %s", variant->loopback, rc ? strerror(err) : "done");
}

/*
 * A listener bound to host b's address: a client reaches it there, and the accepted
 * socket's local address is the listener's.
 */
TEST_F(addr, accepted_socket_has_the_listeners_address)
{
	struct sockaddr_storage ss;
	char got[64], want[64];
	int l, c, s, port = listen_b(_metadata, self, variant, variant->b, &l);
	socklen_t len;

	ASSERT_LT(0, port) TH_LOG("listen: %s", strerror(-port));
	c = sdp(_metadata, self, variant, "a");
	len = addr_of(variant, &ss, variant->b, port);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&ss, len)) TH_LOG("connect: %s", strerror(errno));
	s = accept(l, NULL, NULL);
	ASSERT_LE(0, s);
	self->fds[self->nfds++] = s;
	EXPECT_STREQ(host_of(variant, l, want, sizeof(want)), host_of(variant, s, got, sizeof(got)));
	EXPECT_STREQ(variant->b, got);
	EXPECT_EQ(port, port_of(variant, s, 0));
	/* Both ends agree on the client's port. */
	EXPECT_EQ(port_of(variant, c, 0), port_of(variant, s, 1));
}

/*
 * A client bound before connect() — to the wildcard or to its own address, with an
 * explicit port or port 0 — connects from the port it bound, as with TCP
 * (socket.create_connection(..., source_address=("", P)) does the first).
 */
TEST_F(addr, client_bound_before_connect)
{
	static const struct { int wildcard, explicit_port; } cases[] = { { 1, 1 }, { 1, 0 }, { 0, 1 }, { 0, 0 } };
	struct sockaddr_storage ss;
	int l, port = listen_b(_metadata, self, variant, NULL, &l);

	ASSERT_LT(0, port) TH_LOG("listen: %s", strerror(-port));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int want_port = cases[i].explicit_port ? free_port(variant) : 0;
		int c, s, got;
		socklen_t len;

		ASSERT_LE(0, want_port);
		enter_netns("a");
		c = socket(variant->family, SOCK_STREAM, variant->family == AF_IB ? 0 : IPPROTO_SDP);
		ASSERT_LE(0, c);
		len = addr_of(variant, &ss, cases[i].wildcard ? NULL : variant->a, want_port);
		ASSERT_EQ(0, bind(c, (struct sockaddr *)&ss, len))
			TH_LOG("case %zu: bind port %d: %s", i, want_port, strerror(errno));
		got = port_of(variant, c, 0);
		if (want_port)
			EXPECT_EQ(want_port, got);
		len = addr_of(variant, &ss, variant->b, port);
		if (connect(c, (struct sockaddr *)&ss, len)) {
			TH_LOG("case %zu (%s address, %s port): connect: %s", i,
			       cases[i].wildcard ? "wildcard" : "own", cases[i].explicit_port ? "explicit" : "ephemeral",
			       strerror(errno));
			EXPECT_TRUE(0);
			close(c);
			continue;
		}
		EXPECT_EQ(got, port_of(variant, c, 0));
		s = accept(l, NULL, NULL);
		EXPECT_LE(0, s);
		if (s >= 0) {
			EXPECT_EQ(got, port_of(variant, s, 1));
			EXPECT_EQ(3, send(c, "abc", 3, 0));
			char buf[4];

			EXPECT_EQ(3, recv(s, buf, sizeof(buf), 0));
			close(s);
		}
		close(c);
	}
}

/*
 * connect() to loopback, the wildcard, multicast or broadcast is ENETUNREACH, bound or
 * not. A request sent to loopback or the wildcard from a socket bound to the host's
 * address used to end
 * connection management on the device (rxe's GSI QP failed the send and stayed in
 * the error state): every later connection between the hosts timed out.
 */
TEST_F(addr, connect_to_loopback_or_multicast_unreachable)
{
	const char *dsts[] = { variant->loopback, variant->multicast, variant->ip == AF_INET ? "0.0.0.0" : "::",
			       variant->ip == AF_INET ? "255.255.255.255" : NULL };
	struct sockaddr_storage ss;
	int l, port = listen_b(_metadata, self, variant, variant->b, &l);
	socklen_t len;

	ASSERT_LT(0, port) TH_LOG("listen: %s", strerror(-port));
	for (size_t i = 0; i < 4 && dsts[i]; i++) {
		for (int bound = 0; bound < 2; bound++) {
			int c, rc, err;

			enter_netns("a");
			c = socket(variant->family, SOCK_STREAM, variant->family == AF_IB ? 0 : IPPROTO_SDP);
			ASSERT_LE(0, c);
			len = addr_of(variant, &ss, variant->a, 0);
			if (bound)
				ASSERT_EQ(0, bind(c, (struct sockaddr *)&ss, len));
			len = addr_of(variant, &ss, dsts[i], port);
			rc = connect(c, (struct sockaddr *)&ss, len);
			err = errno;
			close(c);
			EXPECT_EQ(-1, rc);
			EXPECT_EQ(ENETUNREACH, err)
				TH_LOG("connect to %s (%s): %s", dsts[i], bound ? "bound" : "unbound",
				       rc ? strerror(err) : "done");
		}
	}
	/* The hosts still connect. */
	enter_netns("a");
	int c = sdp(_metadata, self, variant, "a"), s;

	len = addr_of(variant, &ss, variant->b, port);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&ss, len)) TH_LOG("connect to host b afterwards: %s", strerror(errno));
	s = accept(l, NULL, NULL);
	EXPECT_LE(0, s);
	close(s);
}

TEST_HARNESS_MAIN
