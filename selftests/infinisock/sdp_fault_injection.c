// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures in every socket call, the way syzkaller injects them: for each
 * call below, the N-th allocation the calling task makes fails
 * (/proc/thread-self/fail-nth, with failslab and fail_page_alloc told to fail sleeping
 * allocations too), for N = 1, 2, ... until the call makes no more allocations than
 * N - 1. Each call must return, succeed or fail with an errno, and leave the socket
 * usable or closable; nothing may leak (kmemleak and the module's unload in the
 * kernel_log step), crash or splat. A blocking send must succeed whatever fails: it
 * takes its send buffers as it writes and waits when there is no memory for one.
 * Afterwards the same calls without failures must work: connection setup, transfer,
 * registration, an RDMA WRITE and close.
 *
 * What rdma_cm's and the module's workers allocate (the route, the QP, the rings on
 * the passive side) is not in the calling task and is not reached here.
 *
 * The zero-copy sends (host a a source, net.infinisock.sdp_zcopy 2, for those calls
 * only; host b takes adverts, 1) fail in pinning, in the region pool the first advert
 * grows, in registering, and in a MSG_ZEROCOPY notification: a blocking one copies
 * instead and succeeds, the others succeed or fail with an errno, the call without
 * a failure has its bytes RDMA READ by host b, and every page pinned for them is
 * released (/proc/vmstat's pin counters; sendfile()'s page-cache pages are held by
 * references, which kmemleak and the module's unload do not see either).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"

#define MAX_NTH 400

/* A zero-copy send: one advert's worth, which host b's landing buffers take without
 * a reader, and which also fits the window of a new connection's first receive
 * buffers (net.infinisock.sdp_recv_floor's 4 of 32 KiB, one credit kept back) when
 * a failure has it copied instead.
 */
#define ZC_LEN (80 << 10)

/*
 * This thread's /proc/thread-self/fail-nth, opened before any failure is armed: its
 * reads and writes allocate nothing, so they neither consume nor take the failure.
 */
static int fail_nth_fd = -1;

/* Arms the N-th allocation of this thread to fail (0 disarms). */
static void fail_nth(int n)
{
	char text[16];

	snprintf(text, sizeof(text), "%d", n);
	if (pwrite(fail_nth_fd, text, strlen(text), 0) < 0)
		perror("fail-nth");
}

/* After a call: whether the armed failure was injected (fail-nth counted down to 0). */
static int injected(void)
{
	char text[16] = "";
	ssize_t n = pread(fail_nth_fd, text, sizeof(text) - 1, 0);

	fail_nth(0);
	return n > 0 && atoi(text) == 0;
}

/* The state each call starts from, rebuilt for every injection. */
struct state {
	int listener;		/* host b, bound and listening */
	struct sockaddr_storage to;	/* its address */
	socklen_t to_len;
	int client;		/* host a: the call's socket */
	int server;		/* host b: the accepted end, when the call needs one */
	char *buf;
	int family;
	__u64 remote_addr;	/* a region the server registered, for RDMA WRITE */
	__u32 rkey;
	int zcopy;		/* host a a zero-copy source for the call's connection */
	int file;		/* ZC_LEN bytes in a memfd, for sendfile() */
};

enum stage { FRESH, BOUND, CONNECTED };

/* A socket of `family` on host `ns` (AF_IB: an SDP stream over AF_IB). */
static int sdp_socket(int family, const char *ns)
{
	enter_netns(ns);
	return socket(family, SOCK_STREAM, family == AF_IB ? 0 : IPPROTO_SDP);
}

static socklen_t host_addr(int family, struct sockaddr_storage *ss, const char *host, int port)
{
	if (family == AF_IB)
		return ib_addr((struct sockaddr_ib *)ss, AF_INET, host, port, INFINISOCK_SID_PS_TCP);
	return ip_addr(ss, family, host, port);
}

static const char *host(int family, char ns)
{
	if (family == AF_INET6)
		return ns == 'a' ? HOST_A6 : HOST_B6;
	return ns == 'a' ? HOST_A4 : HOST_B4;
}

/* The port of `fd`'s local (or peer) address. */
static int port_of(int family, int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (family == AF_IB)
		return ib_port((struct sockaddr_ib *)&ss);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
}

/*
 * Accepts st->client's connection. An earlier call whose failure came after its
 * request went out may have left a connection in the listener's queue: those are
 * closed.
 */
static int accept_peer_of(struct state *st)
{
	int want = port_of(st->family, st->client, 0);

	for (int i = 0; i < 16; i++) {
		int fd = accept(st->listener, NULL, NULL);

		if (fd < 0 || port_of(st->family, fd, 1) == want)
			return fd;
		close(fd);
	}
	errno = ENOENT;
	return -1;
}

/* Brings st->client to `stage` without injected failures; -1 if that fails. */
static int prepare(struct state *st, int family, enum stage stage)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* Read when the connection is set up (sdp_socket() is in host a then). */
	enter_netns("a");
	if (write_str("/proc/sys/net/infinisock/sdp_zcopy", st->zcopy ? "2" : "0"))
		return -1;
	st->client = sdp_socket(family, "a");
	st->server = -1;
	if (st->client < 0)
		return -1;
	if (stage >= BOUND) {
		len = host_addr(family, &ss, host(family, 'a'), 0);
		if (bind(st->client, (struct sockaddr *)&ss, len))
			return -1;
	}
	if (stage >= CONNECTED) {
		if (connect(st->client, (struct sockaddr *)&st->to, st->to_len))
			return -1;
		st->server = accept_peer_of(st);
		if (st->server < 0)
			return -1;
	}
	return 0;
}

static void release(struct state *st)
{
	close(st->client);
	if (st->server >= 0)
		close(st->server);
	st->client = st->server = -1;
}

/* The calls under test: each returns the call's result (-1 and errno on failure). */
static long call_socket(struct state *st)
{
	/* prepare() left the thread in host a: entering it again would allocate. */
	int fd = socket(st->family, SOCK_STREAM, st->family == AF_IB ? 0 : IPPROTO_SDP);

	if (fd >= 0) {
		close(st->client);
		st->client = fd;
	}
	return fd;
}

static long call_bind(struct state *st)
{
	struct sockaddr_storage ss;
	socklen_t len = host_addr(st->family, &ss, host(st->family, 'a'), 0);

	return bind(st->client, (struct sockaddr *)&ss, len);
}

static long call_listen(struct state *st)
{
	return listen(st->client, 8);
}

static long call_connect(struct state *st)
{
	long rc = connect(st->client, (struct sockaddr *)&st->to, st->to_len);

	/* A connection that came up waits in the listener's queue: take it. */
	if (rc == 0)
		st->server = accept_peer_of(st);
	return rc;
}

static long call_setsockopt(struct state *st)
{
	int v = 1 << 16;

	return setsockopt(st->client, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static long call_send(struct state *st)
{
	return send(st->client, st->buf, 100000, MSG_DONTWAIT);
}

/* A blocking send of `len` bytes: all of them, or -1 (EMSGSIZE: cut short). */
static long send_whole(struct state *st, size_t len)
{
	long rc = send(st->client, st->buf, len, 0);

	if (rc >= 0 && (size_t)rc != len) {
		errno = EMSGSIZE; /* stands for "cut short" in the log */
		return -1;
	}
	return rc;
}

/* A blocking write that finds no memory for a send buffer waits for some. */
static long call_send_blocking(struct state *st)
{
	return send_whole(st, 100000);
}

/* Setups run before the failure is armed; they return -1 if they fail. */
static int data_waiting(struct state *st)
{
	struct pollfd p = { .fd = st->server, .events = POLLIN };

	return send(st->client, st->buf, 4096, 0) == 4096 && poll(&p, 1, 5000) == 1 ? 0 : -1;
}

static long call_recv(struct state *st)
{
	return recv(st->server, st->buf, 4096, 0);
}

static int connection_waiting(struct state *st)
{
	struct pollfd p = { .fd = st->listener, .events = POLLIN };

	return connect(st->client, (struct sockaddr *)&st->to, st->to_len) == 0 && poll(&p, 1, 5000) == 1 ? 0 : -1;
}

static long call_accept(struct state *st)
{
	st->server = accept_peer_of(st);
	return st->server;
}

static long call_mr_reg(struct state *st)
{
	struct infinisock_mr_reg r = { .addr = (uintptr_t)st->buf, .len = 1 << 20,
				       .access = INFINISOCK_ACCESS_REMOTE_WRITE | INFINISOCK_ACCESS_REMOTE_READ };

	return ioctl(st->client, INFINISOCK_MR_REG, &r);
}

static int server_region(struct state *st)
{
	struct infinisock_mr_reg r = { .addr = (uintptr_t)st->buf, .len = 1 << 20,
				       .access = INFINISOCK_ACCESS_REMOTE_WRITE };

	if (ioctl(st->server, INFINISOCK_MR_REG, &r))
		return -1;
	st->remote_addr = r.addr;
	st->rkey = r.rkey;
	return 0;
}

static long call_rdma_write(struct state *st)
{
	char control[CMSG_SPACE(sizeof(struct infinisock_rdma))] = { 0 };
	struct iovec iov = { st->buf + (2 << 20), 256 << 10 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct infinisock_rdma a = { .remote_addr = st->remote_addr, .rkey = st->rkey,
				     .op = INFINISOCK_RDMA_WRITE, .token = 1 };

	c->cmsg_level = SOL_INFINISOCK;
	c->cmsg_type = INFINISOCK_CMSG_RDMA;
	c->cmsg_len = CMSG_LEN(sizeof(a));
	memcpy(CMSG_DATA(c), &a, sizeof(a));
	return sendmsg(st->client, &mh, 0);
}

/* Pieces of 64 KiB and more are advertised (SDP_ZCOPY_THRESH, OFED's option). */
static int zc_threshold(struct state *st)
{
	int v = 64 << 10;

	return setsockopt(st->client, IPPROTO_TCP, SDP_ZCOPY_THRESH, &v, sizeof(v));
}

static int zc_msg_zerocopy(struct state *st)
{
	int one = 1;

	return zc_threshold(st) ?: setsockopt(st->client, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
}

/* A blocking zero-copy send: the pages that cannot be advertised are copied. */
static long call_send_zcopy(struct state *st)
{
	return send_whole(st, ZC_LEN);
}

/* Returns once the pages are advertised; the notification may not be charged. */
static long call_send_msg_zerocopy(struct state *st)
{
	return send(st->client, st->buf, ZC_LEN, MSG_ZEROCOPY);
}

/* The page cache's pages, advertised as gathered (MSG_SPLICE_PAGES). */
static long call_sendfile(struct state *st)
{
	off_t off = 0;

	return sendfile(st->client, st->file, &off, ZC_LEN);
}

static long call_shutdown(struct state *st)
{
	return shutdown(st->client, SHUT_WR);
}

static long call_close(struct state *st)
{
	long rc = close(st->client);

	st->client = -1;
	return rc;
}

static const struct call {
	const char *name;
	long (*fn)(struct state *st);
	enum stage stage;
	int (*setup)(struct state *st);
	int af_ib_only;
	/* Never fails for an injected failure: it waits it out. */
	int must_succeed;
	/* Host a is a zero-copy source for it (SDP over AF_INET and AF_INET6 only). */
	int zcopy;
} calls[] = {
	{ "socket", call_socket, FRESH, NULL, 0, 0, 0 },
	{ "bind", call_bind, FRESH, NULL, 0, 0, 0 },
	{ "listen", call_listen, BOUND, NULL, 0, 0, 0 },
	{ "connect", call_connect, FRESH, NULL, 0, 0, 0 },
	{ "connect (bound)", call_connect, BOUND, NULL, 0, 0, 0 },
	{ "accept", call_accept, FRESH, connection_waiting, 0, 0, 0 },
	{ "setsockopt", call_setsockopt, CONNECTED, NULL, 0, 0, 0 },
	{ "send", call_send, CONNECTED, NULL, 0, 0, 0 },
	{ "send (blocking)", call_send_blocking, CONNECTED, NULL, 0, 1, 0 },
	{ "recv", call_recv, CONNECTED, data_waiting, 0, 0, 0 },
	{ "INFINISOCK_MR_REG", call_mr_reg, CONNECTED, NULL, 1, 0, 0 },
	{ "RDMA WRITE", call_rdma_write, CONNECTED, server_region, 1, 0, 0 },
	{ "shutdown", call_shutdown, CONNECTED, NULL, 0, 0, 0 },
	{ "close", call_close, CONNECTED, NULL, 0, 0, 0 },
	{ "send (zero-copy, blocking)", call_send_zcopy, CONNECTED, zc_threshold, 0, 1, 1 },
	{ "send (MSG_ZEROCOPY)", call_send_msg_zerocopy, CONNECTED, zc_msg_zerocopy, 0, 0, 1 },
	{ "sendfile (zero-copy)", call_sendfile, CONNECTED, zc_threshold, 0, 0, 1 },
};

/* Host a's counter `name` (/proc/net/infinisock/stats), or -1. */
static long long stat_a(const char *name)
{
	enter_netns("a");
	return read_ll("/proc/net/infinisock/stats", name);
}

FIXTURE(fault)
{
	struct state st;
};

FIXTURE_VARIANT(fault)
{
	int family;
};

FIXTURE_VARIANT_ADD(fault, ipv4)
{
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(fault, ipv6)
{
	.family = AF_INET6,
};

FIXTURE_VARIANT_ADD(fault, af_ib)
{
	.family = AF_IB,
};

FIXTURE_SETUP(fault)
{
	struct state *st = &self->st;

	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_nth_fd < 0)
		SKIP(return, "no fault injection in this kernel");
	/* Sleeping allocations fail too; no stack dump per failure (the log check). */
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },	     { "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },  { "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },	     { "fail_page_alloc/verbose", "0" },
	};
	char path[96];

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s", knobs[i][0]);
		write_str(path, knobs[i][1]);
	}
	st->buf = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st->buf);
	memset(st->buf, 0x5a, 4 << 20);
	st->file = memfd_create("zc", 0);
	ASSERT_LE(0, st->file);
	ASSERT_EQ(ZC_LEN, write(st->file, st->buf, ZC_LEN));
	st->zcopy = 0;
	st->listener = sdp_socket(variant->family, "b");
	ASSERT_LE(0, st->listener);
	st->to_len = host_addr(variant->family, &st->to, host(variant->family, 'b'), 0);
	ASSERT_EQ(0, bind(st->listener, (struct sockaddr *)&st->to, st->to_len));
	ASSERT_EQ(0, listen(st->listener, 64));
	/* A connection that never arrives fails the setup instead of hanging it. */
	struct timeval tv = { 10, 0 };

	ASSERT_EQ(0, setsockopt(st->listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, getsockname(st->listener, (struct sockaddr *)&st->to, &st->to_len));
	st->client = st->server = -1;
	st->family = variant->family;
	/* Last: a failed ASSERT above skips the teardown, which puts it back. */
	enter_netns("b");
	ASSERT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_zcopy", "1"));
}

FIXTURE_TEARDOWN(fault)
{
	if (fail_nth_fd >= 0)
		fail_nth(0);
	close(self->st.listener);
	close(self->st.file);
	for (const char *const *ns = (const char *const[]){ "a", "b", NULL }; *ns; ns++) {
		enter_netns(*ns);
		write_str("/proc/sys/net/infinisock/sdp_zcopy", "0");
	}
}

TEST_F_TIMEOUT(fault, every_allocation_of_every_call, 1800)
{
	struct state *st = &self->st;
	long long pins = foll_pins();

	ASSERT_LE(0, pins);
	for (size_t c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
		const struct call *k = &calls[c];
		int failed = 0, n;
		char errs[256] = "";
		long long read_by_peer = -1;

		if ((k->af_ib_only && variant->family != AF_IB) || (k->zcopy && variant->family == AF_IB))
			continue;
		st->zcopy = k->zcopy;
		for (n = 1; n <= MAX_NTH; n++) {
			long rc;
			long long read0 = k->zcopy ? stat_a("zc_bytes_read_by_peer") : 0;
			int err, hit;

			ASSERT_EQ(0, prepare(st, variant->family, k->stage))
				TH_LOG("%s: setting up (N = %d): %s", k->name, n, strerror(errno));
			if (k->setup && k->setup(st)) {
				release(st);
				ASSERT_TRUE(0) TH_LOG("%s: setting up (N = %d): %s", k->name, n, strerror(errno));
			}
			fail_nth(n);
			rc = k->fn(st);
			err = errno;
			hit = injected();
			/* Without a failure host b READs the bytes: before the close for a call
			 * that returned early (a receiver closed unread would refuse them).
			 */
			for (int i = 0; !hit && k->zcopy && i < 50; i++) {
				read_by_peer = stat_a("zc_bytes_read_by_peer") - read0;
				if (read_by_peer > 0)
					break;
				usleep(100000);
			}
			if (rc < 0) {
				char e[24];

				failed++;
				snprintf(e, sizeof(e), " %s", strerrorname_np(err) ?: "?");
				if (!strstr(errs, e) && strlen(errs) + strlen(e) < sizeof(errs))
					strcat(errs, e);
			}
			release(st);
			if (!hit) {
				/* The call made fewer than n allocations, and nothing failed. */
				EXPECT_LE(0, rc) TH_LOG("%s failed without an injected failure: %s", k->name,
							 strerror(err));
				break;
			}
		}
		printf("# %s: %d allocations; with one failing, %d calls failed (%s), the others succeeded\n",
		       k->name, n - 1, failed, failed ? errs + 1 : "-");
		if (k->zcopy) {
			printf("# %s: without a failure, %lld bytes RDMA READ by the peer\n", k->name, read_by_peer);
			EXPECT_LT(0, read_by_peer);
		}
		if (k->must_succeed) {
			/* It allocates its send buffers, so some of its allocations were failed. */
			EXPECT_LE(1, n - 1);
			EXPECT_EQ(0, failed) TH_LOG("%s failed for an allocation it should have waited for", k->name);
		}
		/* The listener serves a clean connection after the failures. */
		st->zcopy = 0;
		ASSERT_EQ(0, prepare(st, variant->family, CONNECTED)) TH_LOG("after %s: %s", k->name, strerror(errno));
		EXPECT_EQ(5, send(st->client, "hello", 5, 0));
		release(st);
	}
	/* Every page pinned for an advert comes back once its connection has gone. */
	for (int i = 0; i < 100 && foll_pins() > pins; i++)
		usleep(100000);
	EXPECT_GE(pins, foll_pins());
}

TEST_HARNESS_MAIN
