// SPDX-License-Identifier: GPL-2.0
/*
 * AF_IB SOCK_SEQPACKET between the VM's two hosts (hosts.h): reliable, ordered
 * messages over RC send/receive. One sendmsg() is one message, one recvmsg() returns
 * one message (MSG_TRUNC when it does not fit), the largest message is a socket
 * option, and a sender that outruns its receiver waits instead of breaking the
 * connection.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"

#define DEFAULT_MAX_MSG (32768 - 16)	/* net.infinisock.sdp_buffer_size - header */

/* Fills `buf` with message `seq`'s bytes. */
static void fill(unsigned char *buf, size_t len, unsigned int seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seq * 131 + i * 7);
}

static int check(const unsigned char *buf, size_t len, unsigned int seq)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (unsigned char)(seq * 131 + i * 7))
			return -1;
	return 0;
}

/* Sends messages seq 0, 1, ... of buf's size without waiting until one would have
 * to wait (errno EAGAIN); returns how many went, 0 if something else failed. */
/*
 * Sends numbered messages until the socket stays unwritable: an EAGAIN may only mean
 * that every send slot is in flight (fewer than the peer's credits), which their
 * completions free again within the wait.
 */
static unsigned int send_until_full(int fd, unsigned char *buf, size_t len)
{
	unsigned int sent = 0;

	for (;;) {
		fill(buf, len, sent);
		if (send(fd, buf, len, MSG_DONTWAIT) < 0) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno != EAGAIN)
				return 0;
			if (poll(&p, 1, 200) == 0)
				return sent;
			continue;
		}
		if (++sent == 100000)
			return 0;
	}
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FIXTURE(msg)
{
	int listener, client, server;
	struct sockaddr_ib bound;
};

HOST_PAIR_VARIANTS(msg, gid_ipv4, gid_ipv6);

FIXTURE_SETUP(msg)
{
	self->listener = msg_listener(variant->family, &self->bound, 0);
	ASSERT_LE(0, self->listener) TH_LOG("listener: %s", strerror(-self->listener));
	self->client = msg_connect(&self->bound, 0);
	ASSERT_LE(0, self->client) TH_LOG("connect: %s", strerror(-self->client));
	self->server = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->server) TH_LOG("accept: %s", strerror(errno));
}

FIXTURE_TEARDOWN(msg)
{
	close(self->client);
	close(self->server);
	close(self->listener);
}

/* Each send is one message of exactly its size, empty and largest included. */
TEST_F(msg, boundaries_preserved)
{
	static unsigned char out[DEFAULT_MAX_MSG], in[DEFAULT_MAX_MSG + 100];
	const size_t sizes[] = { 1, 0, 100, 4000, DEFAULT_MAX_MSG, 7 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct sockaddr_ib local;
	socklen_t len = sizeof(local);

	EXPECT_EQ(SOCK_SEQPACKET, sockopt_int(self->server, SOL_SOCKET, SO_TYPE));
	EXPECT_EQ(0, sockopt_int(self->server, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(AF_IB, sockopt_int(self->server, SOL_SOCKET, SO_DOMAIN));
	EXPECT_EQ(INFINISOCK_SID_PS_IB, be64toh(self->bound.sib_sid) & ~0xffffull);
	ASSERT_EQ(0, getsockname(self->client, (struct sockaddr *)&local, &len));
	EXPECT_EQ(INFINISOCK_SID_PS_IB, be64toh(local.sib_sid) & ~0xffffull);

	for (size_t i = 0; i < n; i++) {
		fill(out, sizes[i], i);
		ASSERT_EQ((ssize_t)sizes[i], send(self->client, out, sizes[i], 0)) TH_LOG("%s", strerror(errno));
	}
	for (size_t i = 0; i < n; i++) {
		struct iovec iov = { in, sizeof(in) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		ASSERT_EQ((ssize_t)sizes[i], recvmsg(self->server, &mh, 0));
		EXPECT_EQ(0, mh.msg_flags & MSG_TRUNC);
		EXPECT_EQ(0, check(in, sizes[i], i));
	}
	/* And the other way, the reply of a request. */
	ASSERT_EQ(5, send(self->server, "reply", 5, 0));
	ASSERT_EQ(5, recv(self->client, in, sizeof(in), 0));
}

/* A short buffer gets the head of the message and MSG_TRUNC; the rest is gone. */
TEST_F(msg, truncation_and_peek)
{
	unsigned char out[100], in[100];
	struct iovec iov = { in, 10 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int avail = -1;

	fill(out, sizeof(out), 1);
	ASSERT_EQ(100, send(self->client, out, 100, 0));
	fill(out, sizeof(out), 2);
	ASSERT_EQ(100, send(self->client, out, 100, 0));
	fill(out, sizeof(out), 3);
	ASSERT_EQ(100, send(self->client, out, 100, 0));

	/* FIONREAD is the next message's size, as UDP's is the next datagram's. */
	struct pollfd p = { .fd = self->server, .events = POLLIN };

	ASSERT_EQ(1, poll(&p, 1, 5000));
	ASSERT_EQ(0, ioctl(self->server, FIONREAD, &avail));
	EXPECT_EQ(100, avail);

	ASSERT_EQ(10, recvmsg(self->server, &mh, MSG_PEEK));
	EXPECT_EQ(MSG_TRUNC, mh.msg_flags & MSG_TRUNC);
	mh.msg_flags = 0;
	ASSERT_EQ(10, recvmsg(self->server, &mh, 0));
	EXPECT_EQ(MSG_TRUNC, mh.msg_flags & MSG_TRUNC);
	EXPECT_EQ(0, check(in, 10, 1));

	/* MSG_TRUNC in flags: the real length. */
	mh.msg_flags = 0;
	ASSERT_EQ(100, recvmsg(self->server, &mh, MSG_TRUNC));
	EXPECT_EQ(MSG_TRUNC, mh.msg_flags & MSG_TRUNC);
	EXPECT_EQ(0, check(in, 10, 2));

	ASSERT_EQ(100, recv(self->server, in, sizeof(in), 0));
	EXPECT_EQ(0, check(in, 100, 3));
	errno = 0;
	EXPECT_EQ(-1, recv(self->server, in, sizeof(in), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

/*
 * The receiver reads nothing: a non-blocking sender runs out of credits (EAGAIN, no
 * POLLOUT) instead of overrunning the receive queue, a blocking one times out, and
 * after the receiver drains every message is there in order. The adapter never saw
 * a receiver-not-ready.
 */
TEST_F(msg, flow_control_instead_of_rnr)
{
	struct timeval tv = { .tv_usec = 200000 };
	unsigned char buf[64];
	long long rnr0 = rxe_counter("rxeb", "rcvd_rnr_err") + rxe_counter("rxea", "send_rnr_err");
	unsigned int sent, got;

	ASSERT_LE(0, rxe_counter("rxeb", "rcvd_rnr_err"));
	ASSERT_LE(0, rxe_counter("rxea", "send_rnr_err"));

	sent = send_until_full(self->client, buf, sizeof(buf));
	ASSERT_LT(0u, sent);
	TH_LOG("%u messages in flight before the sender had to wait", sent);
	ASSERT_LT(2u, sent);

	struct pollfd p = { .fd = self->client, .events = POLLOUT };

	EXPECT_EQ(0, poll(&p, 1, 100));
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	errno = 0;
	EXPECT_EQ(-1, send(self->client, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);

	for (got = 0; got < sent; got++) {
		ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), 0));
		ASSERT_EQ(0, check(buf, sizeof(buf), got)) TH_LOG("message %u", got);
	}
	/* Credits come back: the sender can go on. */
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 5000));
	fill(buf, sizeof(buf), got);
	ASSERT_EQ((ssize_t)sizeof(buf), send(self->client, buf, sizeof(buf), 0));
	ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), 0));
	EXPECT_EQ(0, check(buf, sizeof(buf), got));
	EXPECT_EQ(rnr0, rxe_counter("rxeb", "rcvd_rnr_err") + rxe_counter("rxea", "send_rnr_err"));
}

/*
 * SIOCOUTQ: bytes of messages the peer's adapter has not acknowledged drain to 0,
 * small messages (sent inline, and without a completion of their own) included.
 */
TEST_F(msg, siocoutq_drains_after_small_messages)
{
	unsigned char buf[32];
	int outq = -1;

	for (unsigned int i = 0; i < 5; i++) {
		fill(buf, sizeof(buf), i);
		ASSERT_EQ((ssize_t)sizeof(buf), send(self->client, buf, sizeof(buf), 0));
	}
	ASSERT_EQ(0, ioctl(self->client, SIOCOUTQ, &outq));
	ASSERT_LE(0, outq);
	ASSERT_GE(5 * (int)sizeof(buf), outq);
	for (int i = 0; i < 200 && outq != 0; i++) {
		usleep(50000);
		ASSERT_EQ(0, ioctl(self->client, SIOCOUTQ, &outq));
	}
	EXPECT_EQ(0, outq);
	for (unsigned int i = 0; i < 5; i++) {
		ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), 0));
		EXPECT_EQ(0, check(buf, sizeof(buf), i));
	}
}

/*
 * After a non-blocking read that found nothing, the reader's own send completions
 * wait for its return, and its next call skips the CQs unless an event came. When
 * the program does not read again but waits in epoll for room to send, the credits
 * the peer returns must still wake it.
 */
TEST_F(msg, credits_wake_an_epoll_writer_after_a_nonblocking_read)
{
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	int ep = epoll_create1(0);
	unsigned char buf[64];
	unsigned int sent, got;

	ASSERT_LE(0, ep);
	sent = send_until_full(self->client, buf, sizeof(buf));
	ASSERT_LT(0u, sent);
	/* Registered while there is no room: nothing is ready yet. */
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->client, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	/* The last call on the socket: a read that finds nothing. */
	errno = 0;
	EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);

	for (got = 0; got < sent; got++) {
		ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), 0));
		ASSERT_EQ(0, check(buf, sizeof(buf), got)) TH_LOG("message %u", got);
	}
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 5000)) TH_LOG("the returned credits woke nobody");
	EXPECT_NE(0u, out.events & EPOLLOUT);
	fill(buf, sizeof(buf), got);
	ASSERT_EQ((ssize_t)sizeof(buf), send(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), 0));
	EXPECT_EQ(0, check(buf, sizeof(buf), got));
	close(ep);
}

/*
 * O_ASYNC: a message that arrives after a non-blocking read found nothing still
 * raises SIGIO, though the program is not blocked in the socket.
 */
TEST_F(msg, sigio_after_a_nonblocking_read)
{
	unsigned char buf[64];

	ASSERT_EQ(0, sigio_arm(self->server));
	errno = 0;
	EXPECT_EQ(-1, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	sigio_count = 0;
	fill(buf, sizeof(buf), 7);
	ASSERT_EQ((ssize_t)sizeof(buf), send(self->client, buf, sizeof(buf), 0));
	EXPECT_LT(0, sigio_wait()) TH_LOG("no SIGIO for the message");
	ASSERT_EQ((ssize_t)sizeof(buf), recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, check(buf, sizeof(buf), 7));
	sigio_disarm(self->server);
}

/* Non-blocking reads until one returns something else than EAGAIN, for up to 5 s. */
static ssize_t recv_spinning(int fd, void *buf, size_t len)
{
	for (int i = 0; i < 5000000; i++) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (n >= 0 || errno != EAGAIN)
			return n;
		if (i % 1000 == 999)
			usleep(1000);
	}
	return -1;
}

/*
 * A program spinning on non-blocking reads that find nothing sees each change that
 * comes after them: a message, its own shutdown of reading, the peer's close.
 */
TEST_F(msg, a_spinning_reader_sees_every_change)
{
	char buf[16];

	for (int i = 0; i < 3; i++) {
		errno = 0;
		EXPECT_EQ(-1, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
		EXPECT_EQ(EAGAIN, errno);
	}
	ASSERT_EQ(3, send(self->client, "one", 3, 0));
	ASSERT_EQ(3, recv_spinning(self->server, buf, sizeof(buf))) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	for (int i = 0; i < 3; i++) {
		errno = 0;
		EXPECT_EQ(-1, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
		EXPECT_EQ(EAGAIN, errno);
	}
	/* Its own shutdown: end of file at once. */
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(-1, recv(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(0, shutdown(self->client, SHUT_RD));
	EXPECT_EQ(0, recv(self->client, buf, sizeof(buf), MSG_DONTWAIT));
	/* The peer's close: end of file once it arrives. */
	ASSERT_EQ(0, close(self->client));
	self->client = -1;
	EXPECT_EQ(0, recv_spinning(self->server, buf, sizeof(buf))) TH_LOG("%s", strerror(errno));
}

/* Many small messages from a writer process, checked one by one. */
TEST_F_TIMEOUT(msg, many_messages_in_order, 300)
{
	const unsigned int count = 20000;
	unsigned char buf[256];
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (unsigned int i = 0; i < count; i++) {
			size_t len = 1 + i % sizeof(buf);

			fill(buf, len, i);
			if (send(self->client, buf, len, 0) != (ssize_t)len)
				_exit(1);
		}
		_exit(0);
	}
	for (unsigned int i = 0; i < count; i++) {
		size_t len = 1 + i % sizeof(buf);

		ASSERT_EQ((ssize_t)len, recv(self->server, buf, sizeof(buf), 0)) TH_LOG("message %u", i);
		ASSERT_EQ(0, check(buf, len, i)) TH_LOG("message %u", i);
	}
	EXPECT_EQ(0, wait_child(pid));
}

/*
 * The peer's close: queued messages first, then end of file. As with TCP the end of
 * file may be a half-close, so sending may go on until the closed peer resets the
 * connection; from then on it fails.
 */
TEST_F(msg, peer_close_after_queued_messages)
{
	char buf[16];

	ASSERT_EQ(3, send(self->client, "one", 3, 0));
	ASSERT_EQ(3, send(self->client, "two", 3, 0));
	ASSERT_EQ(0, close(self->client));
	self->client = -1;
	ASSERT_EQ(3, recv(self->server, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	ASSERT_EQ(3, recv(self->server, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	EXPECT_EQ(0, recv(self->server, buf, sizeof(buf), 0));
	int err = 0;

	for (int i = 0; i < 250 && !err; i++) {
		if (send(self->server, "x", 1, MSG_NOSIGNAL) < 0)
			err = errno;
		else
			usleep(20000);
	}
	EXPECT_TRUE(err == EPIPE || err == ECONNRESET) TH_LOG("%s", strerror(err));
	errno = 0;
	EXPECT_EQ(-1, send(self->server, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

/* A bad user pointer: EFAULT, and no message is cut, lost or sent half. */
TEST_F(msg, bad_pointers_lose_nothing)
{
	void *unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char buf[16];

	ASSERT_NE(MAP_FAILED, unmapped);
	errno = 0;
	EXPECT_EQ(-1, send(self->client, unmapped, 100, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(4, send(self->client, "next", 4, 0));
	struct pollfd p = { .fd = self->server, .events = POLLIN };

	ASSERT_EQ(1, poll(&p, 1, 5000));
	errno = 0;
	EXPECT_EQ(-1, recv(self->server, unmapped, 100, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(4, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "next", 4));
	errno = 0;
	EXPECT_EQ(-1, recv(self->server, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	munmap(unmapped, 4096);
}

/*
 * INFINISOCK_MAX_MSG_SIZE: settable before connect, the connection's is the smaller
 * end's, larger sends are EMSGSIZE, bad values EINVAL.
 */
TEST(max_message_size)
{
	struct sockaddr_ib bound;
	unsigned char buf[3000] = { 0 };
	int listener = msg_listener(AF_INET, &bound, 1000), client, server, v;

	ASSERT_LE(0, listener);
	EXPECT_EQ(1000, sockopt_int(listener, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE));
	client = msg_socket("a");
	ASSERT_LE(0, client);
	EXPECT_EQ(DEFAULT_MAX_MSG, sockopt_int(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE));
	const int bad[] = { 0, -1, 1 << 20 };

	for (size_t i = 0; i < 3; i++) {
		errno = 0;
		EXPECT_EQ(-1, setsockopt(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &bad[i], sizeof(int)));
		EXPECT_EQ(EINVAL, errno);
	}
	v = 2000;
	errno = 0;
	EXPECT_EQ(-1, setsockopt(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &v, 2));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, setsockopt(client, SOL_INFINISOCK, 99, &v, sizeof(v)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	errno = 0;
	EXPECT_EQ(-1, setsockopt(client, 6 /* SOL_TCP */, 1 /* TCP_NODELAY */, &v, sizeof(v)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	ASSERT_EQ(0, setsockopt(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &v, sizeof(v)));
	ASSERT_EQ(0, connect(client, (struct sockaddr *)&bound, sizeof(bound))) TH_LOG("%s", strerror(errno));
	server = accept(listener, NULL, NULL);
	ASSERT_LE(0, server);
	/* The smaller end's: the listener's 1000, on both sides. */
	EXPECT_EQ(1000, sockopt_int(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE));
	EXPECT_EQ(1000, sockopt_int(server, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE));
	errno = 0;
	EXPECT_EQ(-1, setsockopt(client, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &v, sizeof(v)));
	EXPECT_EQ(EISCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, send(client, buf, 1001, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	errno = 0;
	EXPECT_EQ(-1, send(server, buf, 2000, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(1000, send(client, buf, 1000, 0));
	EXPECT_EQ(1000, recv(server, buf, sizeof(buf), 0));
	close(server);
	close(client);
	close(listener);
}

/*
 * A message larger than one round of faulting in (256 KiB), sent from and received
 * into memory no page of which is there yet: each all-or-nothing copy finds its pages
 * missing, faults all of them in without the socket's lock and goes on.
 */
TEST(large_message_through_absent_pages)
{
	const size_t size = 768 * 1024;
	struct sockaddr_ib bound;
	int listener = msg_listener(AF_INET, &bound, size), client, server;
	unsigned char *out, *in;

	ASSERT_LE(0, listener) TH_LOG("%s", strerror(-listener));
	client = msg_connect(&bound, size);
	ASSERT_LE(0, client) TH_LOG("%s", strerror(-client));
	server = accept(listener, NULL, NULL);
	ASSERT_LE(0, server);
	ASSERT_EQ((int)size, sockopt_int(server, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE));
	out = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	in = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, out);
	ASSERT_NE(MAP_FAILED, in);
	/* Only the last page of the source is written: the rest reads as zeroes. */
	out[size - 1] = 0x5a;
	madvise(out, size - 4096, MADV_DONTNEED);
	ASSERT_EQ((ssize_t)size, send(client, out, size, 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ((ssize_t)size, recv(server, in, size, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, in[0]);
	EXPECT_EQ(0x5a, in[size - 1]);
	/* The same again from a buffer half of which is unmapped: EFAULT, nothing lost. */
	munmap(out + size / 2, size / 2);
	errno = 0;
	EXPECT_EQ(-1, send(client, out, size, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(3, send(client, "end", 3, 0));
	EXPECT_EQ(3, recv(server, in, size, 0));
	munmap(out, size / 2);
	munmap(in, size);
	close(server);
	close(client);
	close(listener);
}

/*
 * Message sockets and streams have separate port spaces: a stream's service ID does
 * not name a message socket, both may listen on the same port number, and each
 * reaches only its own kind.
 */
TEST(port_spaces_are_separate)
{
	struct sockaddr_ib msg_bound, sib;
	int ml = msg_listener(AF_INET, &msg_bound, 0), sl, fd;
	int port = ib_port(&msg_bound);

	ASSERT_LE(0, ml);
	fd = msg_socket("a");
	ASSERT_LE(0, fd);
	ib_addr(&sib, AF_INET, HOST_B4, port, INFINISOCK_SID_PS_TCP);
	errno = 0;
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&sib, sizeof(sib)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	/* A stream listener on the same port number. */
	enter_netns("b");
	sl = socket(AF_IB, SOCK_STREAM, 0);
	ASSERT_LE(0, sl);
	ASSERT_EQ(0, bind(sl, (struct sockaddr *)&sib, sizeof(sib))) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, listen(sl, 4));

	/* Only the stream listens on the port now: a message socket is refused. */
	close(ml);
	fd = msg_connect(&msg_bound, 0);
	EXPECT_EQ(-ECONNREFUSED, fd);
	if (fd >= 0)
		close(fd);
	close(sl);
}

/* Calls on a socket that is not connected. */
TEST(unconnected_calls)
{
	struct sockaddr_ib sib;
	socklen_t len = sizeof(sib);
	char buf[8];
	int fd = msg_socket("a"), avail;

	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, send(fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, getpeername(fd, (struct sockaddr *)&sib, &len));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, send(fd, "x", 1, MSG_OOB));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, ioctl(fd, FIONREAD, &avail));
	EXPECT_EQ(0, avail);
	errno = 0;
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&sib, &len));
	EXPECT_EQ(AF_IB, sib.sib_family);
	close(fd);
}

TEST_HARNESS_MAIN
