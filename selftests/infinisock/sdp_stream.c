// SPDX-License-Identifier: GPL-2.0
/*
 * SDP stream sockets between the VM's two hosts (hosts.h): host a connects to host b
 * over the rxe pair.
 *
 * Built twice (Makefile): sdp_stream runs the tests on explicit SDP streams;
 * sdp_stream_fallback (STREAM_OVER_TCP) runs them on hybrid streams
 * (IPPROTO_SDP_HYBRID) whose every connection falls back to TCP after a refused SDP
 * attempt, to show that a fallen-back socket keeps TCP's semantics call for call. The
 * few tests of what only SDP does (RDMA counters, its own locking, its keepalive verdict)
 * are skipped there; where TCP answers differently the expectation is TCP's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <endian.h>
#include <unistd.h>

#include <linux/infinisock.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>
#include <pthread.h>

#ifdef STREAM_OVER_TCP
#define STREAM_PROTOCOL IPPROTO_SDP_HYBRID
#endif

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"
#include "stream.h"

#ifdef STREAM_OVER_TCP
#define SDP_ONLY(why) SKIP(return, "over TCP: %s", why)

static void host_sysctl(const char *ns, const char *setting)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "ip netns exec %s sysctl -qw net.infinisock.%s", ns, setting);
	if (system(cmd))
		ksft_exit_fail_msg("%s failed\n", cmd);
}

/*
 * Host a's hybrid streams try SDP first and remember no refusal, so each connection
 * goes through a refused SDP attempt and the handover to TCP; host b's hybrid
 * listeners listen on TCP only, which is what refuses them.
 */
__attribute__((constructor)) static void fallback_policy(void)
{
	host_sysctl("a", "sdp_transparent=1");
	host_sysctl("a", "sdp_fallback_cache=0");
	host_sysctl("b", "sdp_transparent=0");
}

__attribute__((destructor)) static void default_policy(void)
{
	host_sysctl("a", "sdp_transparent=0");
	host_sysctl("a", "sdp_fallback_cache=60");
}
#else
#define SDP_ONLY(why) do { } while (0)
#endif


FIXTURE(conn)
{
	int listener, client, server;
};

HOST_PAIR_VARIANTS(conn, ipv4, ipv6);

FIXTURE_SETUP(conn)
{
	self->listener = listen_b(variant->family, NULL, 0, 16);
	ASSERT_LE(0, self->listener) TH_LOG("listener: %s", strerror(-self->listener));
	self->client = connect_a(variant->family, variant->b, port_of(self->listener));
	ASSERT_LE(0, self->client) TH_LOG("connect: %s", strerror(-self->client));
	self->server = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->server) TH_LOG("accept: %s", strerror(errno));
}

FIXTURE_TEARDOWN(conn)
{
	close(self->client);
	close(self->server);
	close(self->listener);
}

TEST_F(conn, echo_and_addresses)
{
	struct sockaddr_storage local, peer, accepted;
	socklen_t llen = sizeof(local), plen = sizeof(peer), alen = sizeof(accepted);
	char buf[64] = { 0 };
	char host[INET6_ADDRSTRLEN];
	int fd2;

	ASSERT_EQ(5, send(self->client, "hello", 5, 0));
	ASSERT_EQ(5, recv(self->server, buf, sizeof(buf), 0));
	ASSERT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(5, send(self->server, buf, 5, 0));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(5, recv(self->client, buf, sizeof(buf), 0));
	ASSERT_EQ(0, memcmp(buf, "hello", 5));

	/* Ordinary sockaddr_in/in6 with the hosts' addresses and the ports in use. */
	ASSERT_EQ(0, getsockname(self->client, (struct sockaddr *)&local, &llen));
	ASSERT_EQ(0, getpeername(self->client, (struct sockaddr *)&peer, &plen));
	EXPECT_EQ(variant->family, local.ss_family);
	EXPECT_EQ(variant->family, peer.ss_family);
	EXPECT_EQ(variant->family == AF_INET ? 16u : 28u, llen);
	if (variant->family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, host, sizeof(host));
		EXPECT_STREQ(variant->b, host);
		inet_ntop(AF_INET, &((struct sockaddr_in *)&local)->sin_addr, host, sizeof(host));
		EXPECT_STREQ(variant->a, host);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, host, sizeof(host));
		EXPECT_STREQ(variant->b, host);
	}
	EXPECT_EQ(port_of(self->listener), ntohs(((struct sockaddr_in *)&peer)->sin_port));
	EXPECT_NE(0, ntohs(((struct sockaddr_in *)&local)->sin_port));
	/* The server's peer is the client's local address. */
	ASSERT_EQ(0, getpeername(self->server, (struct sockaddr *)&accepted, &alen));
	EXPECT_EQ(((struct sockaddr_in *)&local)->sin_port, ((struct sockaddr_in *)&accepted)->sin_port);

	/* What the socket says about itself. */
	EXPECT_EQ(SOCK_STREAM, sockopt_int(self->server, SOL_SOCKET, SO_TYPE));
#ifdef STREAM_OVER_TCP
	/* A hybrid listener's TCP child is a TCP socket; the client says why it is on TCP. */
	EXPECT_EQ(IPPROTO_TCP, sockopt_int(self->server, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(INFINISOCK_TRANSPORT_TCP | INFINISOCK_FALLBACK_REFUSED << 8,
		  sockopt_int(self->client, SOL_INFINISOCK, INFINISOCK_TRANSPORT));
#else
	EXPECT_EQ(IPPROTO_SDP, sockopt_int(self->server, SOL_SOCKET, SO_PROTOCOL));
#endif
	EXPECT_EQ(variant->family, sockopt_int(self->server, SOL_SOCKET, SO_DOMAIN));
	EXPECT_EQ(0, sockopt_int(self->client, SOL_SOCKET, SO_ERROR));

	/* dup() shares the connection. */
	fd2 = dup(self->client);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(3, send(fd2, "dup", 3, 0));
	close(fd2);
	ASSERT_EQ(3, recv(self->server, buf, sizeof(buf), 0));
}


/* Both directions at once, every byte checked, and proof it went over RDMA. */
TEST_F_TIMEOUT(conn, bulk_both_directions, 300)
{
	const size_t total = 4 << 20;
	long long sent0 = rxe_counter("rxea", "sent_pkts");
	long long rcvd0 = rxe_counter("rxea", "rcvd_pkts");
	long long tcp0 = tcp_out_segs("a");
	pid_t a = spawn_writer(self->client, total, 65536, 1);
	pid_t b = spawn_writer(self->server, total, 65536, 2);

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ((ssize_t)total, read_pattern(self->client, 2));
	EXPECT_EQ((ssize_t)total, read_pattern(self->server, 1));
	EXPECT_EQ(0, child_status(a));
	EXPECT_EQ(0, child_status(b));

#ifdef STREAM_OVER_TCP
	/* The payload went over TCP (at most 64 KiB per segment), none of it over rxe. */
	EXPECT_LE(tcp0 + (long long)(total / 65536), tcp_out_segs("a"));
	EXPECT_GT(sent0 + 16, rxe_counter("rxea", "sent_pkts"));
	EXPECT_GT(rcvd0 + 16, rxe_counter("rxea", "rcvd_pkts"));
#else
	/* The payload crossed the rxe devices (at most 4 KiB per RoCE packet)... */
	EXPECT_LE(sent0 + (long long)(total / 4096), rxe_counter("rxea", "sent_pkts"));
	EXPECT_LE(rcvd0 + (long long)(total / 4096), rxe_counter("rxea", "rcvd_pkts"));
	/* ...and not TCP: host a sent fewer TCP segments meanwhile than 4 MiB would
	 * take at 64 KiB each (earlier tests' TCP connections may still be closing). */
	EXPECT_GT(tcp0 + (long long)(total / 65536), tcp_out_segs("a"));
#endif
}

/* shutdown(SHUT_WR): the peer reads EOF and can still send. */
TEST_F(conn, half_close)
{
	char buf[16];

	ASSERT_EQ(4, send(self->client, "last", 4, 0));
	ASSERT_EQ(0, shutdown(self->client, SHUT_WR));
	ASSERT_EQ(4, recv(self->server, buf, sizeof(buf), MSG_WAITALL));
	ASSERT_EQ(0, recv(self->server, buf, sizeof(buf), 0));
	/* Reading EOF again is still EOF. */
	ASSERT_EQ(0, recv(self->server, buf, sizeof(buf), 0));
	ASSERT_EQ(3, send(self->server, "bye", 3, 0));
	ASSERT_EQ(3, recv(self->client, buf, sizeof(buf), 0));
	ASSERT_EQ(0, memcmp(buf, "bye", 3));
	/* Writing after SHUT_WR: EPIPE. */
	errno = 0;
	EXPECT_EQ(-1, send(self->client, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	ASSERT_EQ(0, close(self->server));
	self->server = -1;
	ASSERT_EQ(0, recv(self->client, buf, sizeof(buf), 0));
}

TEST_F(conn, poll_fionread_peek)
{
	struct pollfd p = { .fd = self->client, .events = POLLIN | POLLOUT };
	char buf[256];
	int avail = -1;

	/* Nothing to read yet, but writable. */
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
	errno = 0;
	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);

	for (int i = 0; i < 100; i++)
		buf[i] = (char)i;
	ASSERT_EQ(100, send(self->server, buf, 100, 0));
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, 20000));
	EXPECT_EQ(POLLIN, p.revents);
	ASSERT_EQ(0, ioctl(self->client, FIONREAD, &avail));
	EXPECT_EQ(100, avail);
	ASSERT_EQ(10, recv(self->client, buf, 10, MSG_PEEK));
	ASSERT_EQ(0, ioctl(self->client, SIOCINQ, &avail));
	EXPECT_EQ(100, avail);
	/* MSG_TRUNC drops bytes unread, as TCP's streams do (no buffer needed). */
	ASSERT_EQ(30, recv(self->client, NULL, 30, MSG_TRUNC)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->client, SIOCINQ, &avail));
	EXPECT_EQ(70, avail);
	ASSERT_EQ(70, recv(self->client, buf, sizeof(buf), 0));
	EXPECT_EQ(30, buf[0]);
	EXPECT_EQ(99, buf[69]);
	ASSERT_EQ(0, ioctl(self->client, FIONREAD, &avail));
	EXPECT_EQ(0, avail);

	/* The peer's close: readable (EOF) and POLLRDHUP. */
	close(self->server);
	self->server = -1;
	p.events = POLLIN | POLLRDHUP;
	ASSERT_EQ(1, poll(&p, 1, 20000));
	EXPECT_TRUE(p.revents & POLLRDHUP);
	EXPECT_EQ(0, recv(self->client, buf, sizeof(buf), 0));
}

/* MSG_WAITALL gathers data sent in several pieces, with iovecs. */
TEST_F(conn, waitall_and_iovecs)
{
	char a[3] = "abc", b[4] = "defg", out[7] = { 0 };
	struct iovec iov[2] = { { a, 3 }, { b, 4 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (int i = 0; i < 7; i++) {
			if (send(self->server, &"ABCDEFG"[i], 1, 0) != 1)
				_exit(1);
			usleep(20000);
		}
		_exit(0);
	}
	ASSERT_EQ(7, recv(self->client, out, 7, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(out, "ABCDEFG", 7));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(7, sendmsg(self->client, &msg, 0));
	memset(out, 0, sizeof(out));
	struct iovec riov[2] = { { out, 2 }, { out + 2, 5 } };
	struct msghdr rmsg = { .msg_iov = riov, .msg_iovlen = 2 };

	ASSERT_EQ(7, recvmsg(self->server, &rmsg, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(out, "abcdefg", 7));
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* Writing to a connection the peer closed: EPIPE, and SIGPIPE unless MSG_NOSIGNAL. */
TEST_F(conn, epipe_and_sigpipe)
{
	char buf[16];
	int i;

	close(self->server);
	self->server = -1;
	ASSERT_EQ(0, recv(self->client, buf, sizeof(buf), 0));
	signal(SIGPIPE, on_sigpipe);
	/* The first writes may still go out before the teardown is seen; not for long. */
	for (i = 0; i < 100; i++) {
		if (send(self->client, "x", 1, MSG_NOSIGNAL) < 0)
			break;
		usleep(50000);
	}
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(0, sigpipes);
	EXPECT_EQ(-1, send(self->client, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipes);
	signal(SIGPIPE, SIG_DFL);
}

/* SO_LINGER {1, 0}: close resets the connection; the peer sees ECONNRESET. */
TEST_F(conn, zero_linger_resets)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd p = { .fd = self->client, .events = POLLIN };
	char buf[16];

	ASSERT_EQ(0, setsockopt(self->server, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	close(self->server);
	self->server = -1;
	ASSERT_EQ(1, poll(&p, 1, 20000));
	errno = 0;
	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNRESET, errno);
}

/* close() with data still going out delivers all of it, then EOF. */
TEST_F_TIMEOUT(conn, close_delivers_unsent_data, 120)
{
	const size_t total = 2 << 20;
	pid_t reader = fork();

	ASSERT_LE(0, reader);
	if (reader == 0) {
		/* Only the parent may keep the client open, or its close is no close. */
		close(self->client);
		_exit(read_pattern(self->server, 7) == (ssize_t)total ? 0 : 1);
	}
	close(self->server);
	self->server = -1;
	ASSERT_EQ(0, write_pattern(self->client, total, 1 << 20, 7));
	close(self->client);
	self->client = -1;
	EXPECT_EQ(0, child_status(reader));
}

TEST_F(conn, timeouts_and_options)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct timespec t0, t1;
	char buf[8];
	int one = 1;

	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_LE(150, (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);

	EXPECT_EQ(0, sockopt_int(self->client, IPPROTO_TCP, TCP_NODELAY));
	ASSERT_EQ(0, setsockopt(self->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	EXPECT_EQ(1, sockopt_int(self->client, IPPROTO_TCP, TCP_NODELAY));
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	EXPECT_EQ(1, sockopt_int(self->client, SOL_SOCKET, SO_KEEPALIVE));
	errno = 0;
	EXPECT_EQ(-1, setsockopt(self->client, IPPROTO_TCP, TCP_MAXSEG, &one, sizeof(one)));
#ifdef STREAM_OVER_TCP
	EXPECT_EQ(EINVAL, errno); /* TCP's MSS has a floor of 88 */
#else
	EXPECT_EQ(ENOPROTOOPT, errno); /* SDP has no segments */
#endif

	/* A second connect on a connected socket. */
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, variant->family, variant->b, port_of(self->listener));

	errno = 0;
	EXPECT_EQ(-1, connect(self->client, (struct sockaddr *)&ss, len));
	EXPECT_EQ(EISCONN, errno);
}

/* No listener on the port: ECONNREFUSED, as TCP. */
TEST(connect_refused)
{
	int lfd = listen_b(AF_INET, NULL, 0, 1);
	int port, fd;

	ASSERT_LE(0, lfd);
	port = port_of(lfd);
	close(lfd);
	fd = connect_a(AF_INET, HOST_B4, port);
	EXPECT_EQ(-ECONNREFUSED, fd);
}

/* A destination no RDMA device can reach: an error at once, not a long timeout. */
TEST(connect_unreachable)
{
	struct timespec t0, t1;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = connect_a(AF_INET, "10.99.0.1", 9);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(0, fd);
	EXPECT_TRUE(fd == -ENETUNREACH || fd == -EHOSTUNREACH) TH_LOG("got %s", strerror(-fd));
	EXPECT_GT(10, t1.tv_sec - t0.tv_sec);
}

/*
 * Non-blocking connect: EINPROGRESS, EALREADY while it is in progress, then POLLOUT
 * and SO_ERROR 0. A connection made before the second connect() (the process
 * descheduled between the calls) answers EISCONN (TCP: 0) instead: another socket
 * is tried, up to 5, and one must see EALREADY.
 */
TEST(nonblocking_connect)
{
	int lfd = listen_b(AF_INET6, NULL, 0, 8);
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, AF_INET6, HOST_B6, port_of(lfd));
	struct pollfd p = { .events = POLLOUT };
	int fd = -1, sfd, again = 0;
	char c;

	ASSERT_LE(0, lfd);
	for (int try = 0; try < 5 && again != EALREADY; try++) {
		if (fd >= 0) {
			close(fd);
			sfd = accept(lfd, NULL, NULL);
			ASSERT_LE(0, sfd);
			close(sfd);
		}
		fd = sdp_socket("a", AF_INET6);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
		errno = 0;
		ASSERT_EQ(-1, connect(fd, (struct sockaddr *)&ss, len));
		ASSERT_EQ(EINPROGRESS, errno);
		errno = 0;
		/* TCP answers 0 once, then EISCONN, to a connect() that finds it made. */
		again = connect(fd, (struct sockaddr *)&ss, len) ? errno : EISCONN;
		EXPECT_TRUE(again == EALREADY || again == EISCONN) TH_LOG("second connect: %s", strerror(again));
	}
	EXPECT_EQ(EALREADY, again);
	p.fd = fd;
	ASSERT_EQ(1, poll(&p, 1, 30000));
	EXPECT_TRUE(p.revents & POLLOUT);
	EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
	ASSERT_EQ(1, send(fd, "!", 1, 0));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(1, recv(sfd, &c, 1, 0));
	/* accept4 with SOCK_NONBLOCK on an empty queue. */
	ASSERT_EQ(0, fcntl(lfd, F_SETFL, O_NONBLOCK));
	errno = 0;
	EXPECT_EQ(-1, accept4(lfd, NULL, NULL, SOCK_NONBLOCK));
	EXPECT_EQ(EAGAIN, errno);
	close(sfd);
	close(fd);
	close(lfd);
}

/* Calls in the wrong state and bad addresses: the errnos TCP gives. */
TEST(bad_calls)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len = sizeof(ss);
	int fd = sdp_socket("a", AF_INET);
	int lfd, lfd2, port;
	char c;

	ASSERT_LE(0, fd);
	/* Unbound and unconnected. */
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&ss, &len));
	EXPECT_EQ(AF_INET, sin->sin_family);
	EXPECT_EQ(0, sin->sin_port);
	errno = 0;
	EXPECT_EQ(-1, getpeername(fd, (struct sockaddr *)&ss, &len));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, recv(fd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, send(fd, &c, 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	errno = 0;
	EXPECT_EQ(-1, shutdown(fd, SHUT_RDWR));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);

	/* Bad addresses. */
	ip_addr(&ss, AF_INET, HOST_A4, 0);
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in) - 1));
	EXPECT_EQ(EINVAL, errno);
	sin->sin_family = AF_INET6;
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	errno = 0;
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	errno = 0;
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&ss, 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)8, sizeof(struct sockaddr_in)));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, getsockname(fd, (struct sockaddr *)8, &len));
	EXPECT_EQ(EFAULT, errno);
	close(fd);

	/* Two listeners on one port. */
	lfd = listen_b(AF_INET, NULL, 0, 1);
	ASSERT_LE(0, lfd);
	port = port_of(lfd);
	lfd2 = listen_b(AF_INET, NULL, port, 1);
	EXPECT_EQ(-EADDRINUSE, lfd2);
	/* A specific address: the listener reports it. */
	lfd2 = listen_b(AF_INET, HOST_B4, 0, 1);
	ASSERT_LE(0, lfd2);
	len = sizeof(ss);
	ASSERT_EQ(0, getsockname(lfd2, (struct sockaddr *)&ss, &len));
	EXPECT_EQ(htonl(0x0a4d0002), sin->sin_addr.s_addr);
	/* A listener cannot connect, send or receive. */
	errno = 0;
	EXPECT_EQ(-1, recv(lfd2, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ENOTCONN, errno);
	close(lfd2);
	close(lfd);
}

/* A signal interrupts a blocking recv (EINTR without SA_RESTART), as with TCP. */
static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(conn, signal_interrupts_blocking_calls)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	/* Repeating: a signal that came before recv() blocked (a slow CPU) is followed
	 * by another. */
	struct itimerval it = { .it_value = { .tv_usec = 300000 }, .it_interval = { .tv_usec = 300000 } };
	struct itimerval off = { 0 };
	char buf[8];

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	errno = 0;
	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), 0));
	EXPECT_EQ(EINTR, errno);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	/* The connection is unharmed. */
	ASSERT_EQ(2, send(self->server, "ok", 2, 0));
	ASSERT_EQ(2, recv(self->client, buf, sizeof(buf), 0));
	signal(SIGALRM, SIG_DFL);
}

/* CPU time this thread has used, in ms: the scheduler's exact runtime, where
 * getrusage()'s is sampled by the tick (an emulated CPU's ticks miss much of it). */
static long long cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/*
 * SO_BUSY_POLL: a blocked reader spins for that long before it sleeps (it burns CPU
 * time, where a sleeper burns none), still times out with SO_RCVTIMEO, gets data
 * that arrives while it spins, and an accepted socket inherits the listener's value.
 */
TEST(busy_poll)
{
	struct timeval tv = { .tv_usec = 200000 };
	int spin = 50000, long_spin = 150000, none = 0, listener, client, server, i;
	long long before;
	char buf[64];

	SDP_ONLY("TCP busy-polls only a device queue with a NAPI id, which veth lacks");

	listener = listen_b(AF_INET, NULL, 0, 4);
	ASSERT_LE(0, listener);
	ASSERT_EQ(0, setsockopt(listener, SOL_SOCKET, SO_BUSY_POLL, &spin, sizeof(spin)));
	client = connect_a(AF_INET, HOST_B4, port_of(listener));
	ASSERT_LE(0, client);
	server = accept(listener, NULL, NULL);
	ASSERT_LE(0, server);
	EXPECT_EQ(spin, sockopt_int(server, SOL_SOCKET, SO_BUSY_POLL));
	EXPECT_EQ(0, sockopt_int(client, SOL_SOCKET, SO_BUSY_POLL));

	/*
	 * Spinning 150 ms of a 200 ms timeout costs CPU time; sleeping does not. The
	 * spinner yields when another task wants its CPU: 20 ms of 150 leaves room for
	 * a loaded VM.
	 */
	ASSERT_EQ(0, setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, setsockopt(server, SOL_SOCKET, SO_BUSY_POLL, &long_spin, sizeof(long_spin)));
	before = cpu_ms();
	errno = 0;
	EXPECT_EQ(-1, recv(server, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_LE(20, cpu_ms() - before);
	ASSERT_EQ(0, setsockopt(server, SOL_SOCKET, SO_BUSY_POLL, &none, sizeof(none)));
	before = cpu_ms();
	EXPECT_EQ(-1, recv(server, buf, sizeof(buf), 0));
	EXPECT_GT(20, cpu_ms() - before);

	/* Ping-pong with both ends spinning: every message arrives, in order. */
	tv.tv_usec = 0;
	ASSERT_EQ(0, setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, setsockopt(server, SOL_SOCKET, SO_BUSY_POLL, &spin, sizeof(spin)));
	ASSERT_EQ(0, setsockopt(client, SOL_SOCKET, SO_BUSY_POLL, &spin, sizeof(spin)));
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < 200; i++) {
			if (recv(server, buf, 8, MSG_WAITALL) != 8 || send(server, buf, 8, 0) != 8)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < 200; i++) {
		char want[9], got[9] = "";

		snprintf(want, sizeof(want), "m%07d", i);
		ASSERT_EQ(8, send(client, want, 8, 0));
		ASSERT_EQ(8, recv(client, got, 8, MSG_WAITALL));
		ASSERT_STREQ(want, got);
	}
	EXPECT_EQ(0, child_status(pid));
	close(client);
	close(server);
	close(listener);
}

/* epoll, level- and edge-triggered. */
TEST_F(conn, epoll_level_and_edge)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out;
	int lt = epoll_create1(0), et = epoll_create1(0);
	char buf[16];

	ASSERT_LE(0, lt);
	ASSERT_LE(0, et);
	ASSERT_EQ(0, epoll_ctl(et, EPOLL_CTL_ADD, self->client, &ev));
	ev.events = EPOLLIN;
	ASSERT_EQ(0, epoll_ctl(lt, EPOLL_CTL_ADD, self->client, &ev));
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));
	ASSERT_EQ(4, send(self->server, "ping", 4, 0));
	ASSERT_EQ(1, epoll_wait(et, &out, 1, 20000));
	EXPECT_TRUE((out.events & EPOLLIN) != 0);
	/* Edge-triggered: no new event until new data; level-triggered: still readable. */
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));
	EXPECT_EQ(1, epoll_wait(lt, &out, 1, 0));
	ASSERT_EQ(4, send(self->server, "pong", 4, 0));
	ASSERT_EQ(1, epoll_wait(et, &out, 1, 20000));
	ASSERT_EQ(8, recv(self->client, buf, 8, MSG_WAITALL));
	EXPECT_EQ(0, epoll_wait(lt, &out, 1, 0));
	/* The peer's close wakes both with EPOLLIN (EOF). */
	close(self->server);
	self->server = -1;
	ASSERT_EQ(1, epoll_wait(et, &out, 1, 20000));
	EXPECT_EQ(1, epoll_wait(lt, &out, 1, 20000));
	close(lt);
	close(et);
}

/* fork(): parent and child share the connection. */
TEST_F(conn, fork_shares_socket)
{
	char buf[16] = { 0 };
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(send(self->client, "child", 5, 0) == 5 ? 0 : 1);
	EXPECT_EQ(0, child_status(pid));
	ASSERT_EQ(5, recv(self->server, buf, 5, MSG_WAITALL));
	EXPECT_STREQ("child", buf);
	ASSERT_EQ(6, send(self->client, "parent", 6, 0));
	ASSERT_EQ(6, recv(self->server, buf, 6, MSG_WAITALL));
}

/* O_ASYNC: arriving data raises SIGIO, on an idle socket and after a read found none. */
TEST_F(conn, sigio_for_arriving_data)
{
	char buf[8];

	ASSERT_EQ(0, sigio_arm(self->server));
	ASSERT_EQ(3, send(self->client, "one", 3, 0));
	EXPECT_LT(0, sigio_wait()) TH_LOG("no SIGIO for data on an idle socket");
	ASSERT_EQ(3, recv(self->server, buf, sizeof(buf), 0));

	errno = 0;
	EXPECT_EQ(-1, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	sigio_count = 0;
	ASSERT_EQ(3, send(self->client, "two", 3, 0));
	EXPECT_LT(0, sigio_wait()) TH_LOG("no SIGIO for data after a non-blocking read");
	ASSERT_EQ(3, recv(self->server, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	sigio_disarm(self->server);
}

static volatile sig_atomic_t sigurgs;

static void on_sigurg(int sig)
{
	(void)sig;
	sigurgs++;
}

static int inq(int fd)
{
	int v = -1;

	return ioctl(fd, FIONREAD, &v) ? -errno : v;
}

static int at_mark(int fd)
{
	int v = -1;

	return ioctl(fd, SIOCATMARK, &v) ? -errno : v;
}

/*
 * MSG_OOB as TCP has it: the sender's last byte is urgent; the receiver gets SIGURG
 * and POLLPRI, FIONREAD counts up to the mark, a read stops there (SIOCATMARK),
 * recv(MSG_OOB) returns the byte once and the stream goes on without it; with
 * SO_OOBINLINE it stays in the stream and MSG_OOB is EINVAL. The same test runs on
 * fallen-back hybrid streams, which are TCP.
 */
static void urgent_data(struct __test_metadata *_metadata, int sender, int receiver)
{
	struct pollfd p = { .fd = receiver, .events = POLLPRI | POLLIN };
	int one = 1;
	char buf[16], c = 0;

	signal(SIGURG, on_sigurg);
	sigurgs = 0;
	ASSERT_EQ(0, fcntl(receiver, F_SETOWN, getpid()));
	errno = 0;
	EXPECT_EQ(-1, recv(receiver, &c, 1, MSG_OOB | MSG_DONTWAIT));
	EXPECT_EQ(EINVAL, errno) TH_LOG("MSG_OOB with nothing urgent: %s", strerror(errno));
	ASSERT_EQ(2, send(sender, "ab", 2, 0));
	ASSERT_EQ(2, send(sender, "c!", 2, MSG_OOB));
	ASSERT_EQ(2, send(sender, "de", 2, 0));
	/* The urgent byte arrived (after "ab"). */
	p.events = POLLPRI;
	ASSERT_EQ(1, poll(&p, 1, 10000));
	p.events = POLLPRI | POLLIN;
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLPRI | POLLIN, p.revents);
	for (int i = 0; i < 100 && !sigurgs; i++)
		usleep(10000);
	EXPECT_LT(0, sigurgs) TH_LOG("no SIGURG");
	EXPECT_EQ(3, inq(receiver));
	EXPECT_EQ(0, at_mark(receiver));
	/* The read stops at the mark, before the urgent byte. */
	ASSERT_EQ(3, recv(receiver, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ(1, at_mark(receiver));
	EXPECT_EQ(0, inq(receiver));
	/* Into a page not touched yet: faulted in, as TCP does. */
	char *fresh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, fresh);
	EXPECT_EQ(1, recv(receiver, fresh, 1, MSG_OOB | MSG_PEEK)) TH_LOG("into a fresh page: %s", strerror(errno));
	EXPECT_EQ('!', fresh[0]);
	munmap(fresh, 4096);
	c = 0;
	EXPECT_EQ(1, recv(receiver, &c, 1, MSG_OOB));
	EXPECT_EQ('!', c);
	errno = 0;
	EXPECT_EQ(-1, recv(receiver, &c, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno) TH_LOG("the urgent byte twice");
	/* No more POLLPRI; readable once "de" is there (the byte at the mark is not data). */
	ASSERT_EQ(1, poll(&p, 1, 10000));
	EXPECT_EQ(POLLIN, p.revents);
	/* The stream goes on without it. */
	ASSERT_EQ(2, recv(receiver, buf, 2, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "de", 2));
	EXPECT_EQ(0, at_mark(receiver));

	/* Inline: the byte is data at the mark. */
	ASSERT_EQ(0, setsockopt(receiver, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)));
	ASSERT_EQ(1, send(sender, "x", 1, MSG_OOB));
	ASSERT_EQ(1, send(sender, "y", 1, 0));
	p.events = POLLPRI;
	ASSERT_EQ(1, poll(&p, 1, 10000));
	EXPECT_EQ(1, at_mark(receiver));
	errno = 0;
	EXPECT_EQ(-1, recv(receiver, &c, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno) TH_LOG("MSG_OOB with SO_OOBINLINE");
	ASSERT_EQ(2, recv(receiver, buf, 2, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "xy", 2));
	EXPECT_EQ(0, at_mark(receiver));
	signal(SIGURG, SIG_DFL);
}

TEST_F(conn, urgent_data)
{
	urgent_data(_metadata, self->client, self->server);
	/* The connecting side receives too (on fallen-back streams: the program's own socket). */
	urgent_data(_metadata, self->server, self->client);
}

/* A send() from or recv() into a page whose first touch userfaultfd holds. */
struct stalled_call {
	int fd;
	bool send;
	char *page;
	ssize_t got;
};

static void *call_on_stalled_page(void *arg)
{
	struct stalled_call *c = arg;

	c->got = c->send ? send(c->fd, c->page, 100, 0) : recv(c->fd, c->page, 100, 0);
	return NULL;
}

/* Whether /proc/net/infinisock/sdp of the current namespace shows a socket as busy
 * (its lock held) each of three times, 100 ms apart. */
static bool proc_shows_busy(void)
{
	for (int round = 0; round < 3; round++) {
		char line[256];
		bool busy = false;
		FILE *f = fopen("/proc/net/infinisock/sdp", "r");

		if (!f)
			return true;
		while (fgets(line, sizeof(line), f))
			busy |= strstr(line, " busy ") != NULL;
		fclose(f);
		if (!busy)
			return false;
		usleep(100000);
	}
	return true;
}

/*
 * A socket call that waits for a page fault userspace controls (userfaultfd, FUSE)
 * holds nothing while it waits, not even its own socket's lock (which the socket's
 * rdma_cm events and completions need): /proc/net/infinisock/sdp shows the socket as
 * usual, not busy, and creating sockets in another namespace goes on. Resolving the
 * fault lets the call finish with the right bytes.
 */
static void stalled_page_fault(struct __test_metadata *_metadata, FIXTURE_DATA(conn) *self, int family, bool send_side)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct stalled_call c = { .fd = send_side ? self->client : self->server, .send = send_side, .got = -2 };
	long psz = sysconf(_SC_PAGESIZE);
	int uffd, status = -1;
	char data[100], *src;
	pthread_t t;
	pid_t pid;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	c.page = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c.page);
	reg.range.start = (unsigned long)c.page;
	reg.range.len = psz;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	memset(data, 'u', sizeof(data));
	if (!send_side)
		ASSERT_EQ(100, send(self->client, data, sizeof(data), 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, call_on_stalled_page, &c));
	/* The caller is inside the call, its fault waiting for us. */
	struct pollfd pf = { .fd = uffd, .events = POLLIN };

	ASSERT_EQ(1, poll(&pf, 1, 10000)) TH_LOG("the call did not fault");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		enter_netns(send_side ? "a" : "b");
		if (proc_shows_busy())
			_exit(4);
		enter_netns(send_side ? "b" : "a");
		fd = socket(family, SOCK_STREAM, IPPROTO_SDP);
		_exit(fd < 0 ? 3 : 0);
	}
	/* Mutexes sleep uninterruptibly: wait, then let the fault go either way. */
	for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(50000);
	int finished = status != -1;

	EXPECT_TRUE(finished) TH_LOG("/proc/net/infinisock/sdp or socket() waited for the stalled socket");
	/* The page's contents: what the send sends, or zeroes the receive overwrites. */
	src = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 'v', 100);
	struct uffdio_copy cp = { .dst = (unsigned long)c.page, .src = (unsigned long)src, .len = psz };

	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &cp));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(100, c.got);
	if (send_side) {
		ASSERT_EQ(100, recv(self->server, data, sizeof(data), MSG_WAITALL));
		EXPECT_EQ('v', data[0]);
		EXPECT_EQ('v', data[99]);
	} else {
		EXPECT_EQ('u', c.page[0]);
		EXPECT_EQ('u', c.page[99]);
	}
	if (!finished)
		waitpid(pid, &status, 0);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", WEXITSTATUS(status) == 4 ?
		"the stalled socket's lock was held across the fault (busy in /proc)" : "socket() failed");
	close(uffd);
	munmap(src, psz);
	munmap(c.page, psz);
}

TEST_F(conn, stalled_page_fault_in_recv_holds_nothing)
{
	SDP_ONLY("TCP holds its socket lock across a fault in recvmsg()");
	stalled_page_fault(_metadata, self, variant->family, false);
}

TEST_F(conn, stalled_page_fault_in_send_holds_nothing)
{
	SDP_ONLY("TCP holds its socket lock across a fault in sendmsg()");
	stalled_page_fault(_metadata, self, variant->family, true);
}

/* SIOCOUTQ: bytes sent and not yet acknowledged drain to 0. */
TEST_F(conn, siocoutq_drains)
{
	char buf[4096] = { 0 };
	int outq = -1;

	ASSERT_EQ((ssize_t)sizeof(buf), send(self->client, buf, sizeof(buf), 0));
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(0, ioctl(self->client, SIOCOUTQ, &outq));
		if (outq == 0)
			break;
		usleep(50000);
	}
	EXPECT_EQ(0, outq);
	ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), MSG_WAITALL));
}

static void write_sysctl(const char *ns, const char *name, const char *value)
{
	char path[128];
	FILE *f;

	enter_netns(ns);
	snprintf(path, sizeof(path), "/proc/sys/net/infinisock/%s", name);
	f = fopen(path, "w");
	if (f) {
		fputs(value, f);
		fclose(f);
	}
}

static void small_rings(const char *size, const char *recv, const char *send)
{
	const char *hosts[] = { "a", "b" };

	for (int i = 0; i < 2; i++) {
		write_sysctl(hosts[i], "sdp_buffer_size", size);
		write_sysctl(hosts[i], "sdp_recv_buffers", recv);
		write_sysctl(hosts[i], "sdp_send_buffers", send);
	}
}

/* Tests that need more than the harness's default 30 s. */
FIXTURE(slow)
{
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * SO_KEEPALIVE: an idle connection probes its peer after TCP_KEEPIDLE seconds of
 * silence; when host b goes silent (its address removed, so its rxe device drops every
 * packet), a blocked reader on host a gets ETIMEDOUT, while a connection without
 * keepalive over the same silent path notices nothing. TCP_KEEPCNT is large, so only
 * the RC transport's verdict on a probe can end the connection.
 */
TEST_F_TIMEOUT(slow, keepalive_detects_silent_peer, 120)
{
	int lfd, one = 1, bad, c, c2, s, s2;
	struct timeval tv = { .tv_sec = 40 };
	struct timespec t0;
	long long pkts;
	ssize_t r;
	char ch = 'k';
	int e;

	SDP_ONLY("TCP keeps probing a silent peer TCP_KEEPCNT times");
	lfd = listen_b(AF_INET, HOST_B4, 0, 4);

	ASSERT_LE(0, lfd);
	c = connect_a(AF_INET, HOST_B4, port_of(lfd));
	ASSERT_LE(0, c);
	c2 = connect_a(AF_INET, HOST_B4, port_of(lfd));
	ASSERT_LE(0, c2);
	s = accept(lfd, NULL, NULL);
	s2 = accept(lfd, NULL, NULL);
	ASSERT_LE(0, s);
	ASSERT_LE(0, s2);

	/* TCP's defaults and bounds. */
	EXPECT_EQ(7200, sockopt_int(c, IPPROTO_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(75, sockopt_int(c, IPPROTO_TCP, TCP_KEEPINTVL));
	EXPECT_EQ(9, sockopt_int(c, IPPROTO_TCP, TCP_KEEPCNT));
	bad = 0;
	errno = 0;
	EXPECT_EQ(-1, setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &bad, sizeof(bad)));
	EXPECT_EQ(EINVAL, errno);
	bad = 128;
	errno = 0;
	EXPECT_EQ(-1, setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &bad, sizeof(bad)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(9, sockopt_int(c, IPPROTO_TCP, TCP_KEEPCNT));

	int idle = 1, intvl = 1, cnt = 100;

	ASSERT_EQ(0, setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)));
	ASSERT_EQ(0, setsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)));
	ASSERT_EQ(0, setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)));
	EXPECT_EQ(1, sockopt_int(c, IPPROTO_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(100, sockopt_int(c, IPPROTO_TCP, TCP_KEEPCNT));

	/* Probes go out while the connection is idle, and are answered. */
	pkts = rxe_counter("rxea", "sent_pkts");
	ASSERT_EQ(0, setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	sleep(4);
	EXPECT_LE(pkts + 2, rxe_counter("rxea", "sent_pkts"));
	EXPECT_EQ(0, sockopt_int(c, SOL_SOCKET, SO_ERROR));
	ASSERT_EQ(1, send(c, &ch, 1, 0));
	ASSERT_EQ(1, recv(s, &ch, 1, 0));
	EXPECT_EQ('k', ch);

	/* Host b falls silent. */
	ASSERT_EQ(0, system("ip -n b addr del " HOST_B4 "/24 dev vb"));
	ASSERT_EQ(0, setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	r = recv(c, &ch, 1, 0);
	e = errno;
	long long waited = ms_since(&t0);
	struct pollfd pfd = { .fd = c2, .events = POLLIN };
	int c2_events = poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;

	ASSERT_EQ(0, system("ip -n b addr add " HOST_B4 "/24 dev vb"));
	EXPECT_EQ(-1, r);
	EXPECT_EQ(ETIMEDOUT, e);
	EXPECT_GT(30000, waited);
	TH_LOG("keepalive noticed the silent peer after %lld ms", waited);
	/* The connection without keepalive noticed nothing. */
	EXPECT_EQ(0, c2_events);
	EXPECT_EQ(0, sockopt_int(c2, SOL_SOCKET, SO_ERROR));

	close(c);
	close(c2);
	close(s);
	close(s2);
	close(lfd);
}

/* n connections from host a to the listener lfd on host b: c[i] connected, s[i]
 * accepted. */
static void open_pairs(struct __test_metadata *_metadata, int lfd, int *c, int *s, int n)
{
	int port = port_of(lfd);

	for (int i = 0; i < n; i++) {
		c[i] = connect_a(AF_INET, HOST_B4, port);
		ASSERT_LE(0, c[i]) TH_LOG("connection %d: %s", i, strerror(-c[i]));
		s[i] = accept(lfd, NULL, NULL);
		ASSERT_LE(0, s[i]);
	}
}

/* Closes open_pairs()'s connections, then the listener. */
static void close_pairs(int lfd, const int *c, const int *s, int n)
{
	for (int i = 0; i < n; i++) {
		close(c[i]);
		close(s[i]);
	}
	close(lfd);
}

/* Many connections at once through one listener, each checked, all closed (with
 * receive rings of their own, 64 connections take longer than a plain case's 30 s
 * under TCG: a `slow` case). */
TEST_F_TIMEOUT(slow, many_connections, 180)
{
	enum { N = 64 };
	int lfd = listen_b(AF_INET, NULL, 0, N);
	int c[N], s[N];

	ASSERT_LE(0, lfd);
	open_pairs(_metadata, lfd, c, s, N);
	for (int i = 0; i < N; i++)
		ASSERT_EQ((ssize_t)sizeof(i), send(c[i], &i, sizeof(i), 0));
	for (int i = 0; i < N; i++) {
		int v = -1;

		ASSERT_EQ((ssize_t)sizeof(v), recv(s[i], &v, sizeof(v), MSG_WAITALL));
		EXPECT_EQ(i, v);
	}
	close_pairs(lfd, c, s, N);
}

/* 256 connections at once (small rings, so 512 ends fit the VM), every one carrying
 * its own bytes both ways. */
TEST_F_TIMEOUT(slow, many_connections_256, 600)
{
	enum { N = 256 };
	static int c[N], s[N];
	int lfd;

	small_rings("4096", "4", "4");
	lfd = listen_b(AF_INET, NULL, 0, N);
	ASSERT_LE(0, lfd);
	open_pairs(_metadata, lfd, c, s, N);
	for (int i = 0; i < N; i++) {
		ASSERT_EQ((ssize_t)sizeof(i), send(c[i], &i, sizeof(i), 0));
		ASSERT_EQ((ssize_t)sizeof(i), send(s[i], &i, sizeof(i), 0));
	}
	for (int i = 0; i < N; i++) {
		int v = -1, w = -1;

		ASSERT_EQ((ssize_t)sizeof(v), recv(s[i], &v, sizeof(v), MSG_WAITALL));
		ASSERT_EQ((ssize_t)sizeof(w), recv(c[i], &w, sizeof(w), MSG_WAITALL));
		EXPECT_EQ(i, v);
		EXPECT_EQ(i, w);
	}
	close_pairs(lfd, c, s, N);
	small_rings("32768", "16", "12");
}

/* A full backlog refuses further connections instead of queueing them. */
TEST(backlog_full_refuses)
{
	int lfd, c[3], port, refused = 0;

	SDP_ONLY("TCP drops a SYN to a full backlog and the client retries it");
	lfd = listen_b(AF_INET, NULL, 0, 1);

	ASSERT_LE(0, lfd);
	port = port_of(lfd);
	for (int i = 0; i < 3; i++) {
		c[i] = connect_a(AF_INET, HOST_B4, port);
		if (c[i] == -ECONNREFUSED)
			refused++;
		else
			ASSERT_LE(0, c[i]) TH_LOG("connection %d: %s", i, strerror(-c[i]));
	}
	/* backlog 1 admits two not-yet-accepted connections, as TCP does. */
	EXPECT_EQ(1, refused);
	for (int i = 0; i < 3; i++)
		if (c[i] >= 0)
			close(c[i]);
	close(lfd);
}

/* Small writes are coalesced into few messages unless TCP_NODELAY: count the packets
 * host a's rxe device sends for 1000 one-byte writes. Each write waits for POLLOUT
 * (room in the peer's window): writes while the window is full are coalesced,
 * TCP_NODELAY or not, as TCP's are. */
static long long packets_for_small_writes(int wfd, int rfd)
{
	long long before = rxe_counter("rxea", "sent_pkts");
	pid_t reader = fork();

	if (reader == 0) {
		char buf[1000];

		_exit(recv(rfd, buf, sizeof(buf), MSG_WAITALL) == (ssize_t)sizeof(buf) ? 0 : 1);
	}
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = { .fd = wfd, .events = POLLOUT };

		if (poll(&p, 1, 5000) != 1 || send(wfd, "x", 1, 0) != 1)
			return -1;
	}
	if (child_status(reader) != 0)
		return -1;
	return rxe_counter("rxea", "sent_pkts") - before;
}

/*
 * Nagle's rule holds small writes while earlier ones are in flight; TCP_NODELAY sends
 * each at once. The receiver's SO_RCVBUF fixes its window at 16 buffers, as it fixes
 * TCP's.
 */
TEST_F(conn, nagle_unless_nodelay)
{
	int one = 1, rcvbuf = 16 * 32768, lfd, c, s;
	long long coalesced, each;
	struct sockaddr_storage ss;
	socklen_t len;

	SDP_ONLY("the count is of RDMA packets; TCP also autocorks with TCP_NODELAY");

	lfd = sdp_socket("b", variant->family);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)));
	len = ip_addr(&ss, variant->family, NULL, 0);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(lfd, 4));
	c = connect_a(variant->family, variant->b, port_of(lfd));
	ASSERT_LE(0, c) TH_LOG("connect: %s", strerror(-c));
	s = accept(lfd, NULL, NULL);
	ASSERT_LE(0, s);
	/* The least of up to 3 runs: a writer starved of CPU while rxe runs sends its
	 * writes one by one, as if nothing were in flight. */
	coalesced = packets_for_small_writes(c, s);
	for (int i = 0; i < 2 && coalesced >= 250; i++) {
		long long again = packets_for_small_writes(c, s);

		if (again > 0 && again < coalesced)
			coalesced = again;
	}
	ASSERT_LT(0, coalesced);
	ASSERT_EQ(0, setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	each = packets_for_small_writes(c, s);
	close(c);
	close(s);
	close(lfd);
	ASSERT_LT(0, each);
	TH_LOG("packets for 1000 one-byte writes: %lld coalesced, %lld with TCP_NODELAY", coalesced, each);
	EXPECT_LE(1000, each);
	EXPECT_GT(each / 4, coalesced);
}

/*
 * Reads n bytes from fd: 0 if they are want's, else -1 (an error or an early end) or
 * the offset of the first wrong byte + 1.
 */
static ssize_t read_exactly(int fd, const unsigned char *want, size_t n)
{
	unsigned char got[65536];
	size_t total = 0;

	while (total < n) {
		size_t chunk = n - total < sizeof(got) ? n - total : sizeof(got);
		ssize_t r = recv(fd, got, chunk, 0);

		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++)
			if (got[i] != want[total + i])
				return total + i + 1;
		total += r;
	}
	return 0;
}

/* A child that reads n bytes from fd and exits 0 if they are want's (child_status()). */
static pid_t spawn_checker(int fd, const unsigned char *want, size_t n)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(read_exactly(fd, want, n) ? 1 : 0);
	return pid;
}

/*
 * sendfile(2) and splice(2) as on TCP: a file's pages reach the stream through
 * sendmsg(MSG_SPLICE_PAGES) with a bvec iterator (the pipe's pages, many calls for
 * 1 MiB), a pipe's through splice_to_socket, and splice from the stream into a pipe
 * reads it through recvmsg into the pipe's pages. Every byte arrives in order.
 */
TEST_F_TIMEOUT(conn, sendfile_and_splice, 120)
{
	const size_t n = 1 << 20;
	char path[] = "/tmp/sdp_stream_XXXXXX";
	unsigned char *data = malloc(n);
	int file = mkstemp(path), pipefd[2];
	off_t off = 0;
	size_t total = 0;
	pid_t reader;

	ASSERT_NE(NULL, data);
	ASSERT_LE(0, file);
	unlink(path);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 4096);
	ASSERT_EQ((ssize_t)n, write(file, data, n));

	/* sendfile: the whole file, in as many calls as it takes. */
	reader = spawn_checker(self->server, data, n);
	ASSERT_LE(0, reader);
	while (total < n) {
		ssize_t r = sendfile(self->client, file, &off, n - total);

		ASSERT_LT(0, r) TH_LOG("sendfile: %s", strerror(errno));
		total += r;
	}
	EXPECT_EQ(0, child_status(reader)) TH_LOG("the bytes sendfile sent");

	/* splice from a pipe into the stream, 64 KiB at a time. */
	ASSERT_EQ(0, pipe(pipefd));
	reader = spawn_checker(self->client, data, n);
	ASSERT_LE(0, reader);
	for (total = 0; total < n; total += 65536) {
		ssize_t moved = 0;

		ASSERT_EQ(65536, write(pipefd[1], data + total, 65536));
		while (moved < 65536) {
			ssize_t r = splice(pipefd[0], NULL, self->server, NULL, 65536 - moved, 0);

			ASSERT_LT(0, r) TH_LOG("splice into the stream: %s", strerror(errno));
			moved += r;
		}
	}
	EXPECT_EQ(0, child_status(reader)) TH_LOG("the bytes spliced into the stream");

	/* splice from the stream into the pipe, read back from the pipe. */
	ASSERT_EQ((ssize_t)32768, send(self->server, data, 32768, 0));
	for (total = 0; total < 32768;) {
		unsigned char got[32768];
		ssize_t r = splice(self->client, NULL, pipefd[1], NULL, 32768 - total, 0);

		ASSERT_LT(0, r) TH_LOG("splice from the stream: %s", strerror(errno));
		ASSERT_EQ(r, read(pipefd[0], got, r));
		EXPECT_EQ(0, memcmp(got, data + total, r));
		total += r;
	}
	close(pipefd[0]);
	close(pipefd[1]);
	close(file);
	free(data);
}

/* SO_LINGER {1, t}: close waits for the data to reach the peer, which gets all of it. */
TEST_F_TIMEOUT(conn, linger_close_delivers, 120)
{
	struct linger l = { .l_onoff = 1, .l_linger = 30 };
	const size_t total = 512 << 10;
	pid_t reader = fork();

	ASSERT_LE(0, reader);
	if (reader == 0) {
		close(self->client);
		_exit(read_pattern(self->server, 9) == (ssize_t)total ? 0 : 1);
	}
	close(self->server);
	self->server = -1;
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	ASSERT_EQ(0, write_pattern(self->client, total, 65536, 9));
	EXPECT_EQ(0, close(self->client));
	self->client = -1;
	EXPECT_EQ(0, child_status(reader));
}

/*
 * An accepted connection starts with its listener's TCP_NODELAY, SO_KEEPALIVE and
 * keepalive times, as TCP's children do (they are clones of the listener).
 */
TEST(children_inherit_listener_options)
{
	int lfd, c, s, one = 1, idle = 42, intvl = 7, cnt = 3;

	lfd = listen_b(AF_INET, HOST_B4, 0, 4);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	ASSERT_EQ(0, setsockopt(lfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)));
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)));
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)));
	c = connect_a(AF_INET, HOST_B4, port_of(lfd));
	ASSERT_LE(0, c);
	s = accept(lfd, NULL, NULL);
	ASSERT_LE(0, s);
	EXPECT_EQ(1, sockopt_int(s, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(1, sockopt_int(s, SOL_SOCKET, SO_KEEPALIVE));
	EXPECT_EQ(42, sockopt_int(s, IPPROTO_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(7, sockopt_int(s, IPPROTO_TCP, TCP_KEEPINTVL));
	EXPECT_EQ(3, sockopt_int(s, IPPROTO_TCP, TCP_KEEPCNT));
	/* The connecting side keeps its own defaults. */
	EXPECT_EQ(0, sockopt_int(c, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(7200, sockopt_int(c, IPPROTO_TCP, TCP_KEEPIDLE));
	close(s);
	close(c);
	close(lfd);
}

/* Accepts a connection waiting on `lfd` within `ms`; -1 if none comes. */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

/*
 * IPV6_V6ONLY: an IPv6 listener on [::] with it set shares its port with an IPv4
 * listener on 0.0.0.0, each taking its own family's clients (dual-stack servers such
 * as nginx listen that way); without it, [::] would take IPv4 clients too, and the
 * port is taken. The option is fixed once the socket is bound.
 */
TEST(ipv6_only_listener_shares_its_port)
{
	struct sockaddr_storage ss;
	int l4, l6, c4, c6, s, one = 1, zero = 0, port;
	socklen_t len;

	l4 = listen_b(AF_INET, "0.0.0.0", 0, 4);
	ASSERT_LE(0, l4);
	port = port_of(l4);
	len = ip_addr(&ss, AF_INET6, "::", port);

	l6 = sdp_socket("b", AF_INET6);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, setsockopt(l6, SOL_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)));
	EXPECT_EQ(0, sockopt_int(l6, SOL_IPV6, IPV6_V6ONLY));
	EXPECT_EQ(-1, bind(l6, (struct sockaddr *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno);

	/* A failed bind leaves the socket unbound: the option can still change. */
	ASSERT_EQ(0, setsockopt(l6, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	EXPECT_EQ(1, sockopt_int(l6, SOL_IPV6, IPV6_V6ONLY));
	ASSERT_EQ(0, bind(l6, (struct sockaddr *)&ss, len)) TH_LOG("bind [::]:%d: %s", port, strerror(errno));
	ASSERT_EQ(0, listen(l6, 4));
	EXPECT_EQ(-1, setsockopt(l6, SOL_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)));
	EXPECT_EQ(EINVAL, errno);

	c4 = connect_a(AF_INET, HOST_B4, port);
	ASSERT_LE(0, c4);
	s = accept_within(l4, 10000);
	EXPECT_LE(0, s) TH_LOG("the IPv4 client did not reach the IPv4 listener");
	close(s);
	c6 = connect_a(AF_INET6, HOST_B6, port);
	ASSERT_LE(0, c6);
	s = accept_within(l6, 10000);
	EXPECT_LE(0, s) TH_LOG("the IPv6 client did not reach the IPv6 listener");
	/* An accepted socket has its listener's. */
	EXPECT_EQ(1, sockopt_int(s, SOL_IPV6, IPV6_V6ONLY));
	close(s);
	/* Neither listener got the other's client. */
	EXPECT_EQ(-1, accept_within(l4, 200));
	EXPECT_EQ(-1, accept_within(l6, 200));
	/* An IPv4 socket has no IPv6 options. */
	EXPECT_EQ(-1, setsockopt(c4, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	close(c4);
	close(c6);
	close(l4);
	close(l6);
}

TEST_HARNESS_MAIN
