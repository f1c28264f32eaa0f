// SPDX-License-Identifier: GPL-2.0
/*
 * Hybrid streams (IPPROTO_SDP_HYBRID) that run over TCP: host a's namespace policy
 * (net.infinisock.sdp_transparent=0) sends their connections to TCP at once, to a plain
 * TCP listener on host b. Every call of such a socket must behave as a TCP socket's:
 * options set before connect() are on the connection, data and its flags, addresses,
 * ioctls, TCP_INFO, poll/epoll registered before the move, SIGIO, sendfile, splice,
 * shutdown, resets. An accepted TCP connection of a hybrid listener is a TCP socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"

#define TCP_PATH_POLICY (INFINISOCK_TRANSPORT_TCP | INFINISOCK_FALLBACK_POLICY << 8)

static int sockopt_i(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -errno;
	return v;
}

static void set_transparent(const char *ns, int mode)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip netns exec %s sysctl -qw net.infinisock.sdp_transparent=%d", ns, mode);
	if (system(cmd))
		ksft_exit_fail_msg("%s failed\n", cmd);
}

FIXTURE(hybrid_tcp)
{
	int listener, client, server;
	struct sockaddr_storage to;
	socklen_t to_len;
};

HOST_PAIR_VARIANTS(hybrid_tcp, v4, v6);

FIXTURE_SETUP(hybrid_tcp)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, variant->family, variant->b, 0);
	int one = 1;

	set_transparent("a", 0);
	enter_netns("b");
	self->listener = socket(variant->family, SOCK_STREAM, IPPROTO_TCP);
	ASSERT_LE(0, self->listener);
	ASSERT_EQ(0, bind(self->listener, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(self->listener, 8));
	self->to_len = sizeof(self->to);
	ASSERT_EQ(0, getsockname(self->listener, (struct sockaddr *)&self->to, &self->to_len));
	enter_netns("a");
	self->client = socket(variant->family, SOCK_STREAM, IPPROTO_SDP_HYBRID);
	ASSERT_LE(0, self->client);
	EXPECT_EQ(IPPROTO_SDP_HYBRID, sockopt_i(self->client, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(INFINISOCK_TRANSPORT_UNDECIDED, sockopt_i(self->client, SOL_INFINISOCK, INFINISOCK_TRANSPORT));
	/* Options set before the path is chosen are on the TCP connection. */
	ASSERT_EQ(0, setsockopt(self->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	ASSERT_EQ(0, setsockopt(self->client, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	self->server = -1;
}

FIXTURE_TEARDOWN(hybrid_tcp)
{
	close(self->client);
	if (self->server >= 0)
		close(self->server);
	close(self->listener);
}

static void connect_and_accept(struct __test_metadata *_metadata, FIXTURE_DATA(hybrid_tcp) *self)
{
	ASSERT_EQ(0, connect(self->client, (struct sockaddr *)&self->to, self->to_len));
	self->server = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->server);
}

TEST_F(hybrid_tcp, options_set_before_connect_are_tcps)
{
	char cc[16] = "";
	socklen_t len = sizeof(cc);
	struct tcp_info ti;

	connect_and_accept(_metadata, self);
	EXPECT_EQ(TCP_PATH_POLICY, sockopt_i(self->client, SOL_INFINISOCK, INFINISOCK_TRANSPORT));
	EXPECT_EQ(1, sockopt_i(self->client, IPPROTO_TCP, TCP_NODELAY));
	ASSERT_EQ(0, getsockopt(self->client, IPPROTO_TCP, TCP_CONGESTION, cc, &len));
	EXPECT_STREQ("reno", cc);
	EXPECT_EQ(1, sockopt_i(self->client, SOL_SOCKET, SO_KEEPALIVE));
	/* A TCP-only option, and TCP's own state. */
	EXPECT_LT(0, sockopt_i(self->client, IPPROTO_TCP, TCP_MAXSEG));
	len = sizeof(ti);
	ASSERT_EQ(0, getsockopt(self->client, IPPROTO_TCP, TCP_INFO, &ti, &len));
	EXPECT_EQ(TCP_ESTABLISHED, ti.tcpi_state);
}

TEST_F(hybrid_tcp, data_flags_and_addresses)
{
	struct sockaddr_storage peer, local, seen;
	socklen_t plen = sizeof(peer), llen = sizeof(local), slen = sizeof(seen);
	char buf[64];
	int n;

	connect_and_accept(_metadata, self);
	ASSERT_EQ(0, getpeername(self->client, (struct sockaddr *)&peer, &plen));
	EXPECT_EQ(self->to_len, plen);
	EXPECT_EQ(0, memcmp(&peer, &self->to, plen));
	ASSERT_EQ(0, getsockname(self->client, (struct sockaddr *)&local, &llen));
	ASSERT_EQ(0, getpeername(self->server, (struct sockaddr *)&seen, &slen));
	EXPECT_EQ(llen, slen);
	EXPECT_EQ(0, memcmp(&local, &seen, llen));

	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(10, send(self->server, "0123456789", 10, 0));
	/* MSG_PEEK, then MSG_WAITALL, and SIOCINQ in between. */
	ASSERT_EQ(4, recv(self->client, buf, 4, MSG_PEEK | MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "0123", 4));
	ASSERT_EQ(0, ioctl(self->client, SIOCINQ, &n));
	EXPECT_EQ(10, n);
	ASSERT_EQ(10, recv(self->client, buf, 10, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	ASSERT_EQ(5, send(self->client, "hello", 5, MSG_NOSIGNAL));
	ASSERT_EQ(5, recv(self->server, buf, 5, MSG_WAITALL));
	/* shutdown(SHUT_WR): the peer reads the end; the other way still works. */
	ASSERT_EQ(0, shutdown(self->client, SHUT_WR));
	EXPECT_EQ(0, recv(self->server, buf, sizeof(buf), 0));
	ASSERT_EQ(3, send(self->server, "end", 3, 0));
	ASSERT_EQ(3, recv(self->client, buf, 3, MSG_WAITALL));
}

TEST_F(hybrid_tcp, nonblocking_connect_wakes_epoll_registered_before)
{
	struct epoll_event ev = { .events = EPOLLOUT }, got;
	int ep = epoll_create1(0);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, fcntl(self->client, F_SETFL, O_NONBLOCK));
	/* Registered while the socket is still undecided. */
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->client, &ev));
	ASSERT_EQ(-1, connect(self->client, (struct sockaddr *)&self->to, self->to_len));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_EQ(1, epoll_wait(ep, &got, 1, 30000));
	EXPECT_NE(0u, got.events & EPOLLOUT);
	EXPECT_EQ(0, sockopt_i(self->client, SOL_SOCKET, SO_ERROR));
	/* As TCP: connect() again reports the connection (0), once; then EISCONN. */
	EXPECT_EQ(0, connect(self->client, (struct sockaddr *)&self->to, self->to_len));
	EXPECT_EQ(-1, connect(self->client, (struct sockaddr *)&self->to, self->to_len));
	EXPECT_EQ(EISCONN, errno);
	close(ep);
}

static volatile sig_atomic_t sigio_seen;

static void on_sigio(int sig)
{
	(void)sig;
	sigio_seen = 1;
}

TEST_F(hybrid_tcp, sigio_on_data)
{
	struct pollfd p;
	char c;

	connect_and_accept(_metadata, self);
	signal(SIGIO, on_sigio);
	ASSERT_EQ(0, fcntl(self->client, F_SETOWN, getpid()));
	ASSERT_EQ(0, fcntl(self->client, F_SETFL, O_ASYNC | O_NONBLOCK));
	sigio_seen = 0;
	ASSERT_EQ(1, send(self->server, "x", 1, 0));
	p = (struct pollfd){ .fd = self->client, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 30000));
	for (int i = 0; i < 100 && !sigio_seen; i++)
		usleep(10000);
	EXPECT_TRUE(sigio_seen);
	EXPECT_EQ(1, recv(self->client, &c, 1, 0));
	signal(SIGIO, SIG_DFL);
}

TEST_F(hybrid_tcp, sendfile_and_splice)
{
	char path[] = "/tmp/hybrid_XXXXXX", buf[8192];
	int file = mkstemp(path), pipefd[2];
	off_t off = 0;
	ssize_t n, total = 0;

	ASSERT_LE(0, file);
	unlink(path);
	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)i;
	ASSERT_EQ((ssize_t)sizeof(buf), write(file, buf, sizeof(buf)));
	connect_and_accept(_metadata, self);
	ASSERT_EQ((ssize_t)sizeof(buf), sendfile(self->client, file, &off, sizeof(buf)));
	while (total < (ssize_t)sizeof(buf)) {
		char got[8192];

		n = recv(self->server, got, sizeof(got), 0);
		ASSERT_LT(0, n);
		EXPECT_EQ(0, memcmp(got, buf + total, n));
		total += n;
	}
	/* splice from the hybrid socket into a pipe. */
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(100, send(self->server, buf, 100, 0));
	total = 0;
	while (total < 100) {
		n = splice(self->client, NULL, pipefd[1], NULL, 100 - total, 0);
		ASSERT_LT(0, n);
		total += n;
	}
	ASSERT_EQ(100, read(pipefd[0], buf + 200, 100));
	EXPECT_EQ(0, memcmp(buf, buf + 200, 100));
	close(pipefd[0]);
	close(pipefd[1]);
	close(file);
}

TEST_F(hybrid_tcp, peer_reset_is_econnreset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd p;
	char c;

	connect_and_accept(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(self->server);
	self->server = -1;
	p = (struct pollfd){ .fd = self->client, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 30000));
	EXPECT_NE(0, p.revents & (POLLERR | POLLHUP | POLLIN));
	EXPECT_EQ(-1, recv(self->client, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(hybrid_tcp, nobody_listening_is_refused)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, variant->family, variant->b, 9);

	ASSERT_EQ(-1, connect(self->client, (struct sockaddr *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno);
}

/* A hybrid listener whose policy is off is a TCP listener; what it accepts is TCP. */
TEST_F(hybrid_tcp, hybrid_listener_hands_out_tcp_sockets)
{
	struct sockaddr_storage ss, bound;
	socklen_t len = ip_addr(&ss, variant->family, variant->a, 0), blen = sizeof(bound);
	int l, c, s;
	char buf[4];

	enter_netns("a");
	l = socket(variant->family, SOCK_STREAM, IPPROTO_SDP_HYBRID);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(l, 4));
	EXPECT_EQ(1, sockopt_i(l, SOL_SOCKET, SO_ACCEPTCONN));
	EXPECT_EQ(TCP_PATH_POLICY, sockopt_i(l, SOL_INFINISOCK, INFINISOCK_TRANSPORT));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&bound, &blen));
	c = socket(variant->family, SOCK_STREAM, IPPROTO_TCP);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&bound, blen));
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, s);
	EXPECT_EQ(IPPROTO_TCP, sockopt_i(s, SOL_SOCKET, SO_PROTOCOL));
	/* TCP's answer to a level it does not have, whatever it is for the family. */
	EXPECT_EQ(sockopt_i(c, SOL_INFINISOCK, INFINISOCK_TRANSPORT), sockopt_i(s, SOL_INFINISOCK, INFINISOCK_TRANSPORT));
	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_EQ(2, recv(s, buf, 2, MSG_WAITALL));
	close(s);
	close(c);
	close(l);
}

TEST_HARNESS_MAIN
