// SPDX-License-Identifier: GPL-2.0
/*
 * AF_IB stream sockets: SDP streams named by sockaddr_ib (GIDs and service IDs),
 * between the VM's two hosts (hosts.h) over the rxe pair.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"
#include "stream.h"

static socklen_t make_ib_addr(struct sockaddr_ib *sib, int family, const char *host, int port)
{
	return ib_addr(sib, family, host, port, INFINISOCK_SID_PS_TCP);
}

static int ib_socket(const char *ns)
{
	enter_netns(ns);
	return socket(AF_IB, SOCK_STREAM, 0);
}

FIXTURE(stream)
{
	int listener, client, server;
	struct sockaddr_ib bound;
};

HOST_PAIR_VARIANTS(stream, gid_ipv4, gid_ipv6);

FIXTURE_SETUP(stream)
{
	struct sockaddr_ib sib;
	socklen_t len = make_ib_addr(&sib, variant->family, variant->b, 0);
	socklen_t blen = sizeof(self->bound);

	self->listener = ib_socket("b");
	ASSERT_LE(0, self->listener) TH_LOG("socket(AF_IB): %s", strerror(errno));
	ASSERT_EQ(0, bind(self->listener, (struct sockaddr *)&sib, len)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, listen(self->listener, 8));
	ASSERT_EQ(0, getsockname(self->listener, (struct sockaddr *)&self->bound, &blen));
	self->client = ib_socket("a");
	ASSERT_LE(0, self->client);
	ASSERT_EQ(0, connect(self->client, (struct sockaddr *)&self->bound, sizeof(self->bound)))
		TH_LOG("connect: %s", strerror(errno));
	self->server = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->server) TH_LOG("accept: %s", strerror(errno));
}

FIXTURE_TEARDOWN(stream)
{
	close(self->client);
	close(self->server);
	close(self->listener);
}

/* Addresses read back as sockaddr_ib: the hosts' GIDs and the listener's service ID. */
TEST_F(stream, addresses_are_gids_and_service_ids)
{
	struct sockaddr_ib want, local, peer, accepted;
	socklen_t llen = sizeof(local), plen = sizeof(peer), alen = sizeof(accepted);
	uint64_t sid = be64toh(self->bound.sib_sid);

	EXPECT_EQ(AF_IB, self->bound.sib_family);
	EXPECT_EQ(INFINISOCK_SID_PS_TCP, sid & ~0xffffull);
	EXPECT_NE(0u, sid & 0xffff);
	EXPECT_EQ(~0ull, be64toh(self->bound.sib_sid_mask));
	EXPECT_EQ(0xffff, ntohs(self->bound.sib_pkey));
	make_ib_addr(&want, variant->family, variant->b, 0);
	EXPECT_EQ(0, memcmp(&want.sib_addr, &self->bound.sib_addr, 16));

	ASSERT_EQ(0, getsockname(self->client, (struct sockaddr *)&local, &llen));
	ASSERT_EQ(0, getpeername(self->client, (struct sockaddr *)&peer, &plen));
	EXPECT_EQ(sizeof(struct sockaddr_ib), llen);
	EXPECT_EQ(sizeof(struct sockaddr_ib), plen);
	EXPECT_EQ(AF_IB, local.sib_family);
	EXPECT_EQ(0, memcmp(&want.sib_addr, &peer.sib_addr, 16));
	EXPECT_EQ(self->bound.sib_sid, peer.sib_sid);
	make_ib_addr(&want, variant->family, variant->a, 0);
	EXPECT_EQ(0, memcmp(&want.sib_addr, &local.sib_addr, 16));
	/* The server's peer is the client's local address. */
	ASSERT_EQ(0, getpeername(self->server, (struct sockaddr *)&accepted, &alen));
	EXPECT_EQ(0, memcmp(&local, &accepted, sizeof(local)));
	EXPECT_EQ(AF_IB, sockopt_int(self->server, SOL_SOCKET, SO_DOMAIN));
	EXPECT_EQ(IPPROTO_SDP, sockopt_int(self->server, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(SOCK_STREAM, sockopt_int(self->client, SOL_SOCKET, SO_TYPE));
}

/* The stream is SDP's: both directions checked byte by byte, over the rxe devices. */
TEST_F_TIMEOUT(stream, bulk_both_directions_over_rdma, 300)
{
	const size_t total = 1 << 20;
	long long sent0 = rxe_counter("rxea", "sent_pkts");
	long long tcp0 = tcp_out_segs("a");
	pid_t a = spawn_writer(self->client, total, 65536, 3);
	pid_t b = spawn_writer(self->server, total, 65536, 4);

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ((ssize_t)total, read_pattern(self->client, 4));
	EXPECT_EQ((ssize_t)total, read_pattern(self->server, 3));
	EXPECT_EQ(0, child_status(a));
	EXPECT_EQ(0, child_status(b));
	EXPECT_LE(sent0 + (long long)(total / 4096), rxe_counter("rxea", "sent_pkts"));
	EXPECT_GT(tcp0 + 16, tcp_out_segs("a"));
}

/* AF_IB streams and SDP under AF_INET speak the same protocol on the same ports. */
TEST(client_reaches_inet_sdp_listener)
{
	int listener = listen_b(AF_INET, HOST_B4, 0, 4), client, server;
	struct sockaddr_ib sib;
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char buf[8] = { 0 };

	ASSERT_LE(0, listener);
	client = ib_socket("a");
	ASSERT_LE(0, client);
	make_ib_addr(&sib, AF_INET, HOST_B4, port_of(listener));
	ASSERT_EQ(0, connect(client, (struct sockaddr *)&sib, sizeof(sib))) TH_LOG("%s", strerror(errno));
	server = accept(listener, (struct sockaddr *)&sin, &len);
	ASSERT_LE(0, server);
	EXPECT_EQ(AF_INET, sin.sin_family);
	ASSERT_EQ(4, send(client, "ib->", 4, 0));
	ASSERT_EQ(4, recv(server, buf, 4, MSG_WAITALL));
	EXPECT_STREQ("ib->", buf);
	close(server);
	close(client);
	/* And a sockaddr_in works on an AF_IB socket too. */
	client = ib_socket("a");
	ASSERT_LE(0, client);
	len = ip_addr(&ss, AF_INET, HOST_B4, port_of(listener));
	ASSERT_EQ(0, connect(client, (struct sockaddr *)&ss, len)) TH_LOG("%s", strerror(errno));
	server = accept(listener, NULL, NULL);
	ASSERT_LE(0, server);
	close(server);
	close(client);
	close(listener);
}

/* Each malformed sockaddr_ib: EINVAL (EAFNOSUPPORT for another family), nothing else. */
TEST(bad_addresses)
{
	struct sockaddr_ib good, bad;
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	int fd = ib_socket("b");

	ASSERT_LE(0, fd);
	make_ib_addr(&good, AF_INET, HOST_B4, 0);
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&good, sizeof(good) - 1));
	bad = good;
	bad.sib_pkey = htons(0x8001);
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&bad, sizeof(bad)));
	bad = good;
	bad.sib_sid = htobe64(0x0000000001110000ull + 80); /* RDMA_PS_UDP */
	EXPECT_ERRNO(EINVAL, bind(fd, (struct sockaddr *)&bad, sizeof(bad)));
	bad = good;
	bad.sib_sid_mask = htobe64(0xffff);
	EXPECT_ERRNO(EINVAL, connect(fd, (struct sockaddr *)&bad, sizeof(bad)));
	EXPECT_ERRNO(EAFNOSUPPORT, bind(fd, (struct sockaddr *)&ss, sizeof(ss)));
	/* A GID no host has: no RDMA device answers for it. */
	make_ib_addr(&bad, AF_INET, "10.99.0.1", 5000);
	EXPECT_ERRNO(EADDRNOTAVAIL, bind(fd, (struct sockaddr *)&bad, sizeof(bad)));
	/* After all that, the socket still binds and listens. */
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&good, sizeof(good)));
	EXPECT_EQ(0, listen(fd, 1));
	close(fd);
}

TEST_HARNESS_MAIN
