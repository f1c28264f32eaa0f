// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzer for every call a program can make on SDP and AF_IB sockets, between the
 * VM's two hosts (hosts.h). Generic syscall fuzzers (trinity) create their own
 * sockets, cannot aim them at our listeners, and know nothing of our socket options,
 * ioctls and control messages; this one keeps a pool of sockets of every kind in
 * both hosts (unbound, bound, listening, connecting, connected, accepted, shut down)
 * and throws random calls with random, often hostile, arguments at them: sizes,
 * flags, addresses of every family and length, option levels and names, RDMA
 * control messages with random keys, registrations of random memory, user pointers
 * that are NULL, unmapped, read-only or the kernel's.
 *
 * The fuzzer checks nothing itself but that each call returns: the kernel's
 * splat and leak checks (the kernel_log step) and unloading the module afterwards
 * judge the run. FUZZ_CALLS (default 20000) calls per worker, FUZZ_WORKERS (default
 * 2) workers in parallel, FUZZ_SEED the first seed; each worker prints its seed and
 * the errno distribution, so a failing run can be repeated; FUZZ_OPS (a bit mask of
 * one_call()'s cases) narrows the calls made. Afterwards, fresh sockets of every kind
 * must still connect between the hosts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/infinisock.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "rng.h"

#define POOL 24
#define BUF (256 << 10)

enum kind { SDP4, SDP6, IB_STREAM, IB_SEQPACKET, KINDS };

struct sock_slot {
	int fd;
	enum kind kind;
	char ns;	/* 'a' or 'b' */
};

/* Interesting integers: boundaries, small values, random bits. */
static int64_t an_int(void)
{
	static const int64_t edges[] = { 0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 17, 255, 256, 4096, 65535, 65536,
					 1 << 20, INT32_MAX, INT32_MIN, (int64_t)UINT32_MAX, INT64_MAX, INT64_MIN };

	switch (below(3)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (int64_t)below(300);
	default:
		return (int64_t)rnd();
	}
}

static char *buf, *unmapped, *readonly;

/* FUZZ_OPS: the calls one_call() may make, a bit per case (bisecting a finding). */
static uint32_t ops_mask = 0xfffff;

/* A user pointer for a buffer of at least `len` bytes, or a hostile one. */
static void *a_pointer(size_t len)
{
	switch (below(16)) {
	case 0:
		return NULL;
	case 1:
		return (void *)1;
	case 2:
		return unmapped;
	case 3:
		return (void *)0xffff888000000000ULL;	/* the kernel's direct map */
	case 4:
		return readonly;
	default:
		return buf + (len < BUF ? below(BUF - len) : 0);
	}
}

static size_t a_len(void)
{
	switch (below(6)) {
	case 0:
		return 0;
	case 1:
		return 1 + below(64);
	case 2:
		return BUF;
	case 3:
		return (size_t)an_int();
	default:
		return below(BUF);
	}
}

static const int families[KINDS] = { AF_INET, AF_INET6, AF_IB, AF_IB };

static int new_socket(enum kind k, char ns)
{
	char name[2] = { ns, 0 };
	int fd;

	enter_netns(name);
	switch (k) {
	case SDP4:
	case SDP6:
		fd = socket(families[k], SOCK_STREAM, IPPROTO_SDP);
		break;
	case IB_STREAM:
		fd = socket(AF_IB, SOCK_STREAM, 0);
		break;
	default:
		fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	}
	if (fd >= 0) {
		/* Nothing may block for long: a blocked worker fuzzes nothing. */
		struct timeval tv = { 0, 50000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (below(2))
			fcntl(fd, F_SETFL, O_NONBLOCK);
	}
	return fd;
}

/* The listeners every worker aims at, one per kind, in host b. */
static struct sockaddr_storage listen_addr[KINDS];
static socklen_t listen_len[KINDS];

/* An address for bind or connect: mostly meaningful, sometimes any bytes. */
static socklen_t an_address(struct sockaddr_storage *ss, enum kind k, char ns)
{
	int ip = k == SDP6 ? AF_INET6 : AF_INET;
	const char *host = ns == 'a' ? (ip == AF_INET ? HOST_A4 : HOST_A6) : (ip == AF_INET ? HOST_B4 : HOST_B6);
	int port = below(4) ? 0 : (int)below(65536);

	switch (below(8)) {
	case 0: /* a listener of any kind, whatever this socket is */
		k = below(KINDS);
		memcpy(ss, &listen_addr[k], sizeof(*ss));
		return listen_len[k];
	case 1: /* any bytes, any length */
		for (size_t i = 0; i < sizeof(*ss); i++)
			((uint8_t *)ss)[i] = rnd();
		if (below(2))
			ss->ss_family = below(2) ? families[k] : (sa_family_t)below(48);
		return below(sizeof(*ss) + 1);
	case 2: /* loopback or the wildcard */
		host = below(2) ? (ip == AF_INET ? "127.0.0.1" : "::1") : NULL;
		break;
	case 3: /* the listener of this kind */
		memcpy(ss, &listen_addr[k], sizeof(*ss));
		return listen_len[k] - (below(8) == 0 ? 1 + below(4) : 0);
	default:
		break;
	}
	if (k == IB_STREAM || k == IB_SEQPACKET) {
		socklen_t n = ib_addr((struct sockaddr_ib *)ss, ip, host ? host : "::", port,
				      k == IB_STREAM ? INFINISOCK_SID_PS_TCP : INFINISOCK_SID_PS_IB);

		if (below(8) == 0)
			((struct sockaddr_ib *)ss)->sib_pkey = rnd();
		if (below(8) == 0)
			((struct sockaddr_ib *)ss)->sib_sid = rnd();
		return n;
	}
	return ip_addr(ss, ip, host, port);
}

/* A sendmsg() control message: an RDMA request with random fields, or junk. */
static size_t a_control(char *control, size_t room)
{
	struct cmsghdr *c = (struct cmsghdr *)control;
	struct infinisock_rdma a = {
		.remote_addr = below(2) ? (uintptr_t)buf : rnd(),
		.rkey = rnd(),
		.op = below(5),
		.token = rnd(),
		.imm = rnd(),
		.flags = below(4) ? 0 : below(4),
	};
	size_t len = CMSG_SPACE(sizeof(a));

	if (room < len)
		return 0;
	memset(control, 0, len);
	c->cmsg_level = below(8) ? SOL_INFINISOCK : (int)an_int();
	c->cmsg_type = below(8) ? INFINISOCK_CMSG_RDMA : (int)below(8);
	c->cmsg_len = below(8) ? CMSG_LEN(sizeof(a)) : below(len + 8);
	memcpy(CMSG_DATA(c), &a, sizeof(a));
	return below(8) ? len : below(room);
}

static const int levels[] = { SOL_SOCKET, SOL_TCP, SOL_INFINISOCK, SOL_IP, SOL_IPV6, 0, -1 };

/* One random call on slot s; returns its result (for the errno statistics). */
static long one_call(struct sock_slot *pool, struct sock_slot *s)
{
	struct sockaddr_storage ss;
	char control[256];
	struct iovec iov[4];
	struct msghdr mh = { 0 };
	socklen_t len;
	int v, op;

	do
		op = below(20);
	while (!(ops_mask & (1u << op)));

	switch (op) {
	case 0: /* a new socket in place of this one */
		close(s->fd);
		s->kind = below(KINDS);
		s->ns = below(2) ? 'a' : 'b';
		s->fd = new_socket(s->kind, s->ns);
		return s->fd;
	case 1:
		len = an_address(&ss, s->kind, s->ns);
		return bind(s->fd, below(16) ? (struct sockaddr *)&ss : a_pointer(len), len);
	case 2:
	case 3:
		len = an_address(&ss, s->kind, 'b');
		return connect(s->fd, below(16) ? (struct sockaddr *)&ss : a_pointer(len), len);
	case 4:
		return listen(s->fd, (int)an_int());
	case 5: {
		int fd = accept4(s->fd, below(4) ? NULL : (struct sockaddr *)&ss, below(4) ? NULL : &len,
				 SOCK_NONBLOCK);

		/* An accepted socket takes a random slot. */
		if (fd >= 0) {
			struct sock_slot *t = &pool[below(POOL)];

			if (t != s) {
				close(t->fd);
				*t = (struct sock_slot){ fd, s->kind, s->ns };
			} else {
				close(fd);
			}
		}
		return fd;
	}
	case 6:
	case 7: {
		size_t n = a_len();

		return send(s->fd, a_pointer(n), n, (int)(rnd() & (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_OOB | MSG_MORE |
								   MSG_EOR | MSG_CONFIRM | 0x7fff0000)) |
						     MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	case 8:
	case 9: {
		size_t n = a_len();

		return recv(s->fd, a_pointer(n), n,
			    (int)(rnd() & (MSG_PEEK | MSG_WAITALL | MSG_TRUNC | MSG_ERRQUEUE | MSG_OOB)) | MSG_DONTWAIT);
	}
	case 10: { /* sendmsg with iovecs and, sometimes, an RDMA control message */
		size_t k = below(5);

		for (size_t i = 0; i < k && i < 4; i++) {
			iov[i].iov_len = below(4) ? below(BUF / 4) : a_len();
			iov[i].iov_base = a_pointer(iov[i].iov_len);
		}
		mh.msg_iov = below(16) ? iov : a_pointer(64);
		mh.msg_iovlen = k;
		if (below(2)) {
			mh.msg_control = control;
			mh.msg_controllen = a_control(control, sizeof(control));
		}
		return sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	case 11: /* recvmsg, the error queue too */
		iov[0].iov_len = a_len();
		iov[0].iov_base = a_pointer(iov[0].iov_len);
		mh.msg_iov = iov;
		mh.msg_iovlen = 1;
		mh.msg_control = below(4) ? control : a_pointer(16);
		mh.msg_controllen = below(sizeof(control) + 1);
		return recvmsg(s->fd, &mh, (below(2) ? MSG_ERRQUEUE : 0) | MSG_DONTWAIT);
	case 12: {
		int level = levels[below(sizeof(levels) / sizeof(levels[0]))];
		int name = below(4) ? (int)below(64) : (int)an_int();

		/* Timeouts and linger stay short (case 18 sets linger): see new_socket(). */
		if (level == SOL_SOCKET && (name == SO_LINGER || name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD ||
					    name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW))
			name = SO_DEBUG;
		v = (int)an_int();
		len = below(4) ? sizeof(v) : below(32);
		return setsockopt(s->fd, level, name, below(8) ? (void *)&v : a_pointer(len), len);
	}
	case 13: {
		int level = levels[below(sizeof(levels) / sizeof(levels[0]))];
		char out[128];

		len = below(4) ? sizeof(int) : below(sizeof(out) + 1);
		return getsockopt(s->fd, level, below(4) ? (int)below(64) : (int)an_int(),
				  below(8) ? (void *)out : a_pointer(len), below(16) ? &len : a_pointer(4));
	}
	case 14: { /* ioctls: queue sizes, registrations, junk */
		struct infinisock_mr_reg r = {
			.addr = below(2) ? (uintptr_t)buf + below(BUF) : rnd(),
			.len = below(2) ? below(BUF) : (uint64_t)an_int(),
			.access = below(8),
		};
		uint64_t handle = below(2) ? below(8) : rnd();

		switch (below(6)) {
		case 0:
			return ioctl(s->fd, FIONREAD, below(8) ? (void *)&v : a_pointer(4));
		case 1:
			return ioctl(s->fd, SIOCOUTQ, below(8) ? (void *)&v : a_pointer(4));
		case 2:
		case 3:
			return ioctl(s->fd, INFINISOCK_MR_REG, below(8) ? (void *)&r : a_pointer(sizeof(r)));
		case 4:
			return ioctl(s->fd, INFINISOCK_MR_DEREG, below(8) ? (void *)&handle : a_pointer(8));
		default:
			return ioctl(s->fd, (unsigned long)rnd(), a_pointer(64));
		}
	}
	case 15:
		return shutdown(s->fd, below(4) ? (int)below(3) : (int)an_int());
	case 16: {
		struct pollfd p = { .fd = s->fd, .events = (short)rnd() };

		return poll(&p, 1, 0);
	}
	case 17:
		len = below(4) ? sizeof(ss) : below(sizeof(ss) + 1);
		return (below(2) ? getsockname : getpeername)(s->fd, below(16) ? (struct sockaddr *)&ss : a_pointer(len),
							      below(16) ? &len : a_pointer(4));
	case 18: { /* linger, keepalive, buffers: options with lasting effects */
		struct linger lg = { (int)below(2), (int)below(2) };
		static const int names[] = { SO_LINGER, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_REUSEADDR,
					     SO_BUSY_POLL, SO_RCVLOWAT };
		int name = names[below(sizeof(names) / sizeof(names[0]))];

		v = below(2) ? (int)below(1 << 20) : (int)an_int();
		return setsockopt(s->fd, SOL_SOCKET, name, name == SO_LINGER ? (void *)&lg : (void *)&v,
				  name == SO_LINGER ? sizeof(lg) : sizeof(v));
	}
	default:
		return fcntl(s->fd, F_SETFL, below(2) ? O_NONBLOCK : 0);
	}
}

/* One worker: its pool, `calls` calls; prints its errno distribution. */
static int worker(uint64_t seed, long calls)
{
	struct sock_slot pool[POOL];
	long errs[134] = { 0 }, ok = 0;

	rng_state = seed ? seed : 1;
	for (int i = 0; i < POOL; i++) {
		pool[i].kind = i % KINDS;
		pool[i].ns = i % 2 ? 'b' : 'a';
		pool[i].fd = new_socket(pool[i].kind, pool[i].ns);
	}
	for (long n = 0; n < calls; n++) {
		long r = one_call(pool, &pool[below(POOL)]);

		if (r >= 0)
			ok++;
		else if (errno > 0 && errno < 134)
			errs[errno]++;
	}
	printf("# worker seed %llu: %ld calls, %ld succeeded;", (unsigned long long)seed, calls, ok);
	for (int e = 1; e < 134; e++)
		if (errs[e])
			printf(" %s %ld,", strerrorname_np(e) ? strerrorname_np(e) : "?", errs[e]);
	printf("\n");
	for (int i = 0; i < POOL; i++)
		close(pool[i].fd);
	return 0;
}

/*
 * After the fuzzing, a well-behaved program on fresh sockets of kind k must still
 * connect from host a to host b and exchange a byte: whatever the fuzzed sockets did,
 * they must not have broken the hosts' fabric. Returns NULL or what failed.
 */
static const char *still_serves(enum kind k)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len;
	const char *failed = NULL;
	int lst, cli = -1, srv = -1;
	char c = 'x';

	enter_netns("b");
	lst = socket(families[k], k == IB_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM, k <= SDP6 ? IPPROTO_SDP : 0);
	len = k >= IB_STREAM ? ib_addr((struct sockaddr_ib *)&ss, AF_INET, HOST_B4, 0,
				       k == IB_STREAM ? INFINISOCK_SID_PS_TCP : INFINISOCK_SID_PS_IB)
			     : ip_addr(&ss, families[k], k == SDP4 ? HOST_B4 : HOST_B6, 0);
	if (lst < 0 || bind(lst, (struct sockaddr *)&ss, len) || listen(lst, 8) ||
	    getsockname(lst, (struct sockaddr *)&ss, &len)) {
		failed = "listen";
		goto out;
	}
	enter_netns("a");
	cli = socket(families[k], k == IB_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM, k <= SDP6 ? IPPROTO_SDP : 0);
	if (cli < 0 || fcntl(cli, F_SETFL, O_NONBLOCK)) {
		failed = "socket";
		goto out;
	}
	if (connect(cli, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		failed = "connect";
		goto out;
	}
	/* Generous: under TCG, with the fuzzers' connections still closing. */
	p = (struct pollfd){ .fd = cli, .events = POLLOUT };
	if (poll(&p, 1, 60000) != 1 || getsockopt(cli, SOL_SOCKET, SO_ERROR, &srv, &len) || srv) {
		failed = "connect (no answer within 60 s)";
		srv = -1;
		goto out;
	}
	p = (struct pollfd){ .fd = lst, .events = POLLIN };
	srv = poll(&p, 1, 10000) == 1 ? accept(lst, NULL, NULL) : -1;
	if (srv < 0) {
		failed = "accept";
		goto out;
	}
	p = (struct pollfd){ .fd = srv, .events = POLLIN };
	if (send(cli, &c, 1, 0) != 1 || poll(&p, 1, 10000) != 1 || recv(srv, &c, 1, 0) != 1 || c != 'x')
		failed = "a byte from host a to host b";
out:
	if (failed)
		printf("# kind %d: %s failed: %s\n", k, failed, strerror(errno));
	close(srv);
	close(cli);
	close(lst);
	return failed;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? atol(v) : def;
}

FIXTURE(fuzz)
{
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

TEST_F_TIMEOUT(fuzz, socket_calls, 3600)
{
	long calls = env_long("FUZZ_CALLS", 20000), workers = env_long("FUZZ_WORKERS", 2);
	uint64_t seed = env_long("FUZZ_SEED", (long)time(NULL));
	int listeners[KINDS], status, failed = 0;
	struct timespec t0, t1;

	signal(SIGPIPE, SIG_IGN);
	ops_mask = strtoul(getenv("FUZZ_OPS") ?: "0xfffff", NULL, 0) ?: 0xfffff;
	buf = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_NE(MAP_FAILED, readonly);
	munmap(unmapped, 4096);
	memset(buf, 0x5a, BUF);
	/* Listeners of every kind in host b, which the workers connect to. */
	for (int k = 0; k < KINDS; k++) {
		listeners[k] = new_socket(k, 'b');
		ASSERT_LE(0, listeners[k]);
		listen_len[k] = k >= IB_STREAM ? ib_addr((struct sockaddr_ib *)&listen_addr[k], AF_INET, HOST_B4, 0,
							 k == IB_STREAM ? INFINISOCK_SID_PS_TCP : INFINISOCK_SID_PS_IB)
					       : ip_addr(&listen_addr[k], families[k], k == SDP4 ? HOST_B4 : HOST_B6, 0);
		ASSERT_EQ(0, bind(listeners[k], (struct sockaddr *)&listen_addr[k], listen_len[k]));
		ASSERT_EQ(0, listen(listeners[k], 64));
		ASSERT_EQ(0, getsockname(listeners[k], (struct sockaddr *)&listen_addr[k], &listen_len[k]));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long w = 0; w < workers; w++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(worker(seed + w, calls));
	}
	/* The listeners drain what the workers leave for them. */
	for (long w = 0; w < workers;) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			w++;
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				TH_LOG("worker %d ended with status 0x%x", pid, status);
				failed++;
			}
			continue;
		}
		for (int k = 0; k < KINDS; k++) {
			int fd = accept4(listeners[k], NULL, NULL, SOCK_NONBLOCK);

			if (fd >= 0)
				close(fd);
		}
		usleep(10000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %ld workers x %ld calls in %.0f s\n", workers, calls,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (int k = 0; k < KINDS; k++)
		close(listeners[k]);
	EXPECT_EQ(0, failed);
	for (int k = 0; k < KINDS; k++)
		EXPECT_EQ(NULL, still_serves(k));
}

TEST_HARNESS_MAIN
