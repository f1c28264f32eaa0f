// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel memory of SDP connections (hosts.h: host a connects to host b):
 *
 * - receive buffers of a connection's own (net.infinisock.sdp_srq 0) are charged to
 *   the memory cgroup of the program that owns the socket (the connecting one, or
 *   the listener's for accepted connections); a connection posts 4 at first and more
 *   only while a writer is held back by them;
 * - on the shared receive queues (the default), what a connection received and its
 *   program has not read is charged to that cgroup as socket memory (memory.stat
 *   "sock"), as TCP's receive queue is, until it is read;
 *   send buffers are taken as the program writes and given back once the peer's
 *   adapter has the data, so an idle connection holds none;
 * - the buffers all connections hold stay within net.infinisock.sdp_mem, counted as
 *   they are held (an idle connection's first receive buffers, a writer's messages
 *   in flight): past three quarters of it new connections get the smallest rings and
 *   windows stop growing, past it they are refused, and a writer still makes
 *   progress with one send buffer;
 * - net.infinisock.sdp_recv_floor sets the receive buffers a connection posts at first;
 * - a container's root (a network namespace owned by another user namespace) cannot
 *   raise the per-connection ring tunables past their defaults;
 * - an SDP stream's queue pair is sized for what it posts (no RDMA requests), which
 *   rdma_rxe shows as the vmalloc its queues take.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/infinisock.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"

#define CGROOT "/sys/fs/cgroup"
#define CGDIR CGROOT "/infinisock_memory"
#define CONNS 8
#define RECV_FLOOR_PER_SIDE (128 << 10) /* the 4 receive buffers of 32 KiB posted at first */
#define SEND_RING_PER_SIDE (512 << 10) /* 16 send buffers of 32 KiB in flight (12 by default) */


/*
 * Sets net.infinisock.sdp_srq on both hosts to `value`, its value on host a before in
 * `old` (if not NULL). The tests of each connection's own receive buffers and queues
 * set 0: by default SDP streams are on their devices' shared receive queues, whose
 * own tests are in sdp_srq.sh.
 */
static void set_srq(const char *value, char *old, size_t oldlen)
{
	const char *hosts[] = { "a", "b" };

	for (int i = 0; i < 2; i++) {
		enter_netns(hosts[i]);
		if (old && i == 0) {
			FILE *f = fopen("/proc/sys/net/infinisock/sdp_srq", "r");

			if (!f || !fgets(old, oldlen, f))
				snprintf(old, oldlen, "1");
			if (f)
				fclose(f);
		}
		write_str("/proc/sys/net/infinisock/sdp_srq", value);
	}
}

/* A listener on host b; its port in *port. */
static int listen_b(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	enter_netns("b");
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SDP);
	inet_pton(AF_INET, HOST_B4, &sin.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, len) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		return -errno;
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A connection from host a to `port`: the client fd, or -errno. */
static int connect_a(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd;

	enter_netns("a");
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SDP);
	inet_pton(AF_INET, HOST_B4, &sin.sin_addr);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * One connection from host a to a new listener on host b: fds[0] the listener, fds[1]
 * the client, fds[2] the accepted end; its port in *port. Returns 0 or -errno.
 */
static int one_connection(int *port, int fds[3])
{
	fds[1] = fds[2] = -1;
	fds[0] = listen_b(port);
	if (fds[0] < 0)
		return fds[0];
	fds[1] = connect_a(*port);
	if (fds[1] < 0)
		return fds[1];
	fds[2] = accept(fds[0], NULL, NULL);
	return fds[2] < 0 ? -errno : 0;
}

/* The module's buffer memory in KiB (/proc/net/infinisock/memory). */
static long long rings_kib(void)
{
	return read_ll("/proc/net/infinisock/memory", "rings_kib");
}

/* Waits until the module's buffer memory is back to at most `kib` (teardown is async). */
static long long settle(long long kib)
{
	long long now = rings_kib();

	for (int i = 0; i < 100 && now > kib; i++) {
		usleep(50000);
		now = rings_kib();
	}
	return now;
}

/* A new memory cgroup at CGDIR (mounting cgroup2 if need be): 0, or -errno. */
static int new_memory_cgroup(void)
{
	if (access(CGROOT "/cgroup.procs", F_OK) && mount("none", CGROOT, "cgroup2", 0, NULL))
		return -errno;
	if (write_str(CGROOT "/cgroup.subtree_control", "+memory"))
		return -errno;
	rmdir(CGDIR);
	return mkdir(CGDIR, 0755) ? -errno : 0;
}

/* Moves the calling process into CGDIR: 0, or -1. */
static int join_memory_cgroup(void)
{
	char self[16];

	snprintf(self, sizeof(self), "%d", getpid());
	return write_str(CGDIR "/cgroup.procs", self) ? -1 : 0;
}

/*
 * A program in its own memory cgroup opens connections to itself, each on receive
 * buffers of its own (net.infinisock.sdp_srq 0): those buffers of both ends (its
 * sockets and those its listener accepts) are charged to that cgroup; an idle
 * connection holds the 4 it posts at first, and nothing like a send ring.
 */
TEST(rings_charged_to_the_programs_memory_cgroup)
{
	char srq[8];
	int status, rc;
	pid_t pid;

	rc = new_memory_cgroup();
	ASSERT_EQ(0, rc) TH_LOG("memory cgroup: %s", strerror(-rc));
	set_srq("0", srq, sizeof(srq));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fds[2 * CONNS], port, l, n = 0;
		long long before, after;

		if (join_memory_cgroup())
			_exit(2);
		l = listen_b(&port);
		if (l < 0)
			_exit(3);
		before = read_ll(CGDIR "/memory.current", NULL);
		for (int i = 0; i < CONNS; i++) {
			fds[n++] = connect_a(port);
			if (fds[n - 1] < 0)
				_exit(4);
			fds[n++] = accept(l, NULL, NULL);
			if (fds[n - 1] < 0)
				_exit(5);
		}
		after = read_ll(CGDIR "/memory.current", NULL);
		printf("# memory.current grew by %lld KiB for %d connections (both ends)\n", (after - before) >> 10,
		       CONNS);
		/* Both ends of every connection, allowing for what the kernel frees meanwhile. */
		if (after - before < (long long)CONNS * 2 * RECV_FLOOR_PER_SIDE * 9 / 10)
			_exit(6);
		/* Idle: another floor's worth, or a quarter of a send ring, per side is far
		 * more than the rest of a connection takes.
		 */
		if (after - before > (long long)CONNS * 2 * (2 * RECV_FLOOR_PER_SIDE))
			_exit(7);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	set_srq(srq, NULL, 0);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d failed", WEXITSTATUS(status));
	/* Kernel memory still charged to it does not keep a cgroup from going. */
	EXPECT_EQ(0, rmdir(CGDIR)) TH_LOG("%s: %s", CGDIR, strerror(errno));
}

/*
 * The cgroup's socket memory (memory.stat "sock", flushed into the file at least
 * every 2 s) once `cond` holds of it, or after 4 s.
 */
static long long sock_memory_when(int (*cond)(long long sock, long long want), long long want)
{
	long long sock = read_ll(CGDIR "/memory.stat", "sock");

	for (int i = 0; i < 80 && !cond(sock, want); i++) {
		usleep(50000);
		sock = read_ll(CGDIR "/memory.stat", "sock");
	}
	return sock;
}

static int at_least(long long sock, long long want)
{
	return sock >= want;
}

static int at_most(long long sock, long long want)
{
	return sock <= want;
}

/* Unread bytes of `fd` once they stopped growing (the writer is held back). */
static int settled_unread(int fd)
{
	int now = -1, last = -2;

	for (int i = 0; i < 100 && now != last; i++) {
		last = now;
		usleep(50000);
		if (ioctl(fd, FIONREAD, &now))
			return -1;
	}
	return now;
}

#define UNREAD_MAX (1 << 20)

/*
 * On the shared receive queues (the default) a buffer belongs to its device's queue
 * until a message fills it. What a connection received and its program has not read
 * is charged to that program's memory cgroup as socket memory (memory.stat "sock"),
 * as TCP's receive queue is, and given back as it is read.
 */
TEST(unread_data_charged_as_socket_memory)
{
	int status, rc;
	pid_t pid;

	rc = new_memory_cgroup();
	ASSERT_EQ(0, rc) TH_LOG("memory cgroup: %s", strerror(-rc));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		static char buf[UNREAD_MAX];
		long long held, drained;
		int port, l, c, s, unread;
		size_t sent = 0, got = 0;
		ssize_t n;

		if (join_memory_cgroup())
			_exit(2);
		l = listen_b(&port);
		c = l < 0 ? -1 : connect_a(port);
		s = c < 0 ? -1 : accept(l, NULL, NULL);
		if (s < 0)
			_exit(3);
		/* Until the peer's grants are used up: it is not reading. */
		fcntl(c, F_SETFL, O_NONBLOCK);
		memset(buf, 'x', sizeof(buf));
		while (sent < sizeof(buf)) {
			struct pollfd out = { .fd = c, .events = POLLOUT };

			n = send(c, buf, 64 << 10, 0);
			if (n > 0)
				sent += n;
			else if (errno != EAGAIN || poll(&out, 1, 200) <= 0)
				break;
		}
		unread = settled_unread(s);
		if (unread <= 0)
			_exit(4);
		held = sock_memory_when(at_least, unread);
		printf("# %d bytes unread, socket memory %lld bytes\n", unread, held);
		if (held < unread)
			_exit(5);
		/* Whole buffers: at most one more of 32 KiB per message. */
		if (held > 2LL * unread + (64 << 10))
			_exit(6);
		fcntl(c, F_SETFL, 0);
		while (got < sent && (n = recv(s, buf, sizeof(buf), 0)) > 0)
			got += n;
		if (got != sent)
			_exit(7);
		drained = sock_memory_when(at_most, 0);
		printf("# all %zu bytes read, socket memory %lld bytes\n", got, drained);
		if (drained != 0)
			_exit(8);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d failed", WEXITSTATUS(status));
	EXPECT_EQ(0, rmdir(CGDIR)) TH_LOG("%s: %s", CGDIR, strerror(errno));
}

/* The number at the start of the file open at `fd`, read again from its start. */
static long long pread_ll(int fd)
{
	char b[32];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);

	if (n <= 0)
		return -1;
	b[n] = 0;
	return atoll(b);
}

/*
 * The same, with the reader's cgroup's memory.max just above what it uses once the
 * connection is up, and the writer outside it: the data that arrives is charged past
 * the limit, as TCP charges it (memory.current above memory.max), not refused and not
 * by a charge that reclaims, which could invoke the cgroup's OOM killer; nobody is
 * killed, every byte is read, and the charge is given back. While its cgroup is over
 * the limit the reader allocates nothing (a page it touched would be reclaimed for):
 * its files are open and read once before.
 */
TEST(unread_data_past_the_cgroup_limit_kills_nobody)
{
	int status, rc, port = 0, to_writer[2], to_reader[2], c;
	static char buf[256 << 10];
	struct pollfd out;
	char go = 0;
	ssize_t n;
	pid_t pid;

	rc = new_memory_cgroup();
	ASSERT_EQ(0, rc) TH_LOG("memory cgroup: %s", strerror(-rc));
	ASSERT_EQ(0, pipe(to_writer));
	ASSERT_EQ(0, pipe(to_reader));
	memset(buf, 'x', sizeof(buf));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long long limit, peak = 0, now;
		int l, s, cur, max, high, got = 0;
		char limit_s[32];

		if (join_memory_cgroup())
			_exit(2);
		printf("# ");
		cur = open(CGDIR "/memory.current", O_RDONLY);
		max = open(CGDIR "/memory.max", O_WRONLY);
		high = open(CGDIR "/memory.high", O_WRONLY);
		l = listen_b(&port);
		if (cur < 0 || max < 0 || high < 0 || l < 0 ||
		    write(to_writer[1], &port, sizeof(port)) != sizeof(port))
			_exit(3);
		s = accept(l, NULL, NULL);
		if (s < 0)
			_exit(4);
		/*
		 * memory.current counts the charges each CPU keeps in stock for the cgroup
		 * (up to 64 pages): a high mark of 0 hands them back (and reclaims what it
		 * can, never killing), so that the limit is what the cgroup really uses.
		 * memory.current is read once before: its first read allocates (and would
		 * take a new stock).
		 */
		if (pread_ll(cur) < 0 || write(high, "0", 1) < 0 || write(high, "max", 3) < 0)
			_exit(4);
		/* Other CPUs hand theirs back in a work item of their own: once it settled. */
		now = pread_ll(cur);
		for (int i = 0, still = 0; i < 40 && still < 3; i++) {
			usleep(50000);
			limit = now;
			now = pread_ll(cur);
			still = now == limit ? still + 1 : 0;
		}
		limit = now + (16 << 10);
		snprintf(limit_s, sizeof(limit_s), "%lld", limit);
		if (write(max, limit_s, strlen(limit_s)) < 0 || write(to_writer[1], "g", 1) != 1)
			_exit(5);
		/* The writer sends all it may, then closes its side. */
		if (read(to_reader[0], &go, 1) != 1)
			_exit(6);
		for (int i = 0; i < 40; i++) {
			now = pread_ll(cur);
			peak = now > peak ? now : peak;
			usleep(50000);
		}
		if (write(max, "max", 3) < 0)
			_exit(7);
		while ((n = recv(s, buf, sizeof(buf), 0)) > 0)
			got += n;
		printf("%d bytes read; memory.current was up to %lld, %lld above memory.max\n", got, peak,
		       peak - limit);
		if (n < 0 || got == 0)
			_exit(8);
		if (peak <= limit)
			_exit(9);
		if (sock_memory_when(at_most, 0) != 0)
			_exit(10);
		_exit(0);
	}
	/* The writer, in the test's own cgroup: its send buffers are not the reader's. */
	ASSERT_EQ((ssize_t)sizeof(port), read(to_writer[0], &port, sizeof(port)));
	c = connect_a(port);
	ASSERT_LE(0, c) TH_LOG("connect: %s", strerror(-c));
	ASSERT_EQ(1, read(to_writer[0], &go, 1));
	fcntl(c, F_SETFL, O_NONBLOCK);
	for (size_t sent = 0; sent < sizeof(buf);) {
		out = (struct pollfd){ .fd = c, .events = POLLOUT };
		n = send(c, buf, 64 << 10, 0);
		if (n > 0)
			sent += n;
		else if (errno != EAGAIN || poll(&out, 1, 200) <= 0)
			break;
	}
	shutdown(c, SHUT_WR);
	ASSERT_EQ(1, write(to_reader[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(c);
	EXPECT_EQ(0, read_ll(CGDIR "/memory.events", "oom_kill"));
	EXPECT_TRUE(WIFEXITED(status)) TH_LOG("killed by signal %d", WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d failed", WEXITSTATUS(status));
	EXPECT_EQ(0, rmdir(CGDIR)) TH_LOG("%s: %s", CGDIR, strerror(errno));
}

/*
 * `count` connections from host a to the listener `l` on `port`: both ends of each in
 * `fds`, client first. Returns how many fds it filled (errno says why it stopped).
 */
static int connect_pairs(int l, int port, int *fds, int count)
{
	int n = 0;

	for (int i = 0; i < count; i++) {
		fds[n] = connect_a(port);
		if (fds[n] < 0) {
			errno = -fds[n];
			return n;
		}
		n++;
		fds[n] = accept(l, NULL, NULL);
		if (fds[n] < 0)
			return n;
		n++;
	}
	return n;
}

/* The module's send buffers in KiB (/proc/net/infinisock/memory). */
static long long send_buffers_kib(void)
{
	return read_ll("/proc/net/infinisock/memory", "send_buffers_kib");
}

#define TRANSFER (64 << 10) /* fits the peer's first grant (3 data messages): no reader needed */

/*
 * Both ends of CONNS connections write TRANSFER bytes each, nobody reading yet: the
 * send buffers go back once the peer's adapter has the data (the module's count
 * returns to where it was), and every byte then arrives in order.
 */
TEST(send_buffers_given_back_once_sent)
{
	static unsigned char out[TRANSFER], in[TRANSFER];
	int fds[2 * CONNS], port, l, n = 0;
	long long base = send_buffers_kib(), now = -1, busy;

	ASSERT_LE(0, base) TH_LOG("no send_buffers_kib in /proc/net/infinisock/memory");
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 7 + i / 4096);
	l = listen_b(&port);
	ASSERT_LE(0, l) TH_LOG("listen: %s", strerror(-l));
	n = connect_pairs(l, port, fds, CONNS);
	ASSERT_EQ(2 * CONNS, n) TH_LOG("connection %d: %s", n / 2, strerror(errno));
	EXPECT_EQ(base, send_buffers_kib()) TH_LOG("connections that wrote nothing hold send buffers");
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(TRANSFER, send(fds[i], out, TRANSFER, 0)) TH_LOG("send %d: %s", i, strerror(errno));
	}
	busy = send_buffers_kib();
	/* Completions are taken by the next socket call or the module's work. */
	for (int t = 0; t < 100 && (now = send_buffers_kib()) > base; t++)
		usleep(50000);
	TH_LOG("send buffers: %lld KiB right after the writes, %lld KiB once sent (base %lld)", busy, now, base);
	EXPECT_EQ(base, now);
	for (int i = 0; i < n; i++) {
		size_t got = 0;

		while (got < TRANSFER) {
			ssize_t r = recv(fds[i ^ 1], in + got, TRANSFER - got, 0);

			ASSERT_LT(0, r) TH_LOG("recv %d: %s", i, r ? strerror(errno) : "EOF");
			got += r;
		}
		ASSERT_EQ(0, memcmp(in, out, TRANSFER)) TH_LOG("connection end %d: bytes differ", i);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	EXPECT_EQ(base, send_buffers_kib());
}

/* Receive buffers posted by the connection of host b with local port `port`
 * (/proc/net/infinisock/sdp of its namespace), or -1.
 */
static long posted_b(int port)
{
	char line[256], want[32];
	long posted = -1;
	FILE *f;

	snprintf(want, sizeof(want), ":%d", port);
	enter_netns("b");
	f = fopen("/proc/net/infinisock/sdp", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char local[64], peer[64], state[16];
		long rx, tx, credits, peer_bufs, p;
		size_t n;

		if (sscanf(line, "%63s %63s %15s %ld %ld %ld %ld %ld", local, peer, state, &rx, &tx, &credits,
			   &peer_bufs, &p) != 8 || strcmp(state, "established"))
			continue;
		n = strlen(local);
		if (n > strlen(want) && !strcmp(local + n - strlen(want), want))
			posted = p;
	}
	if (f)
		fclose(f);
	return posted;
}

#define BULK (16 << 20)

/* The bulk writers' bytes: a 64 KiB chunk, over and over. */
static unsigned char bulk_chunk[64 << 10];

static void bulk_pattern(void)
{
	for (size_t i = 0; i < sizeof(bulk_chunk); i++)
		bulk_chunk[i] = (unsigned char)(i * 13 + 1);
}

/* A child process that writes `bytes` of the pattern on `c`; its pid, or -1. */
static pid_t bulk_writer(int c, size_t bytes)
{
	pid_t pid;

	bulk_pattern();
	pid = fork();
	if (pid == 0) {
		for (size_t sent = 0; sent < bytes; sent += sizeof(bulk_chunk))
			if (send(c, bulk_chunk, sizeof(bulk_chunk), 0) != (ssize_t)sizeof(bulk_chunk))
				_exit(1);
		_exit(0);
	}
	return pid;
}

/*
 * Reads `bytes` of the pattern on `s`, checking each; the highest rings_kib seen
 * meanwhile in *peak_kib (if not NULL). Returns 0, or the byte offset + 1 where the
 * stream broke.
 */
static size_t read_checked(int s, size_t bytes, long long *peak_kib)
{
	/* A writer that failed leaves its stream open (its parent holds it): not for ever. */
	struct timeval patience = { .tv_sec = 60 };
	static unsigned char in[64 << 10];
	size_t got = 0;

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
	while (got < bytes) {
		ssize_t r = recv(s, in, sizeof(in), 0);
		long long kib;

		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (in[i] != bulk_chunk[(got + i) % sizeof(bulk_chunk)])
				return got + i + 1;
		got += r;
		if (peak_kib && (kib = rings_kib()) > *peak_kib)
			*peak_kib = kib;
	}
	return got == bytes ? 0 : got + 1;
}

/*
 * Whether writer `pid` exited with 0; one whose reader stopped (`broke`) is killed
 * first, since nobody will read what it still writes.
 */
static int exited_ok(pid_t pid, size_t broke)
{
	int status;

	if (broke)
		kill(pid, SIGKILL);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status);
}

/*
 * Host a writes `bytes` on `c` (a child process) while host b reads them on `s` and
 * checks each; the highest rings_kib seen while reading in *peak_kib (if not NULL).
 * Returns 0, or the byte offset + 1 where the stream broke.
 */
static size_t bulk_checked(int c, int s, size_t bytes, long long *peak_kib)
{
	pid_t pid = bulk_writer(c, bytes);
	size_t broke;

	if (pid < 0)
		return 1;
	broke = read_checked(s, bytes, peak_kib);
	if (!exited_ok(pid, broke) && !broke)
		return bytes + 1;
	return broke;
}

/*
 * A connection grants 4 receive buffers at first; a writer that those hold back,
 * with a reader that keeps up, opens the window to the ring (16 buffers of 32 KiB),
 * and every byte arrives in order.
 */
TEST(receive_window_opens_for_a_bulk_writer)
{
	int port, fds[3], rc = one_connection(&port, fds), l = fds[0], c = fds[1], s = fds[2];
	long before, after;
	size_t broke;

	ASSERT_EQ(0, rc) TH_LOG("connection: %s", strerror(-rc));
	before = posted_b(port);
	EXPECT_EQ(4, before) TH_LOG("an idle connection posts the floor");
	broke = bulk_checked(c, s, BULK, NULL);
	EXPECT_EQ((size_t)0, broke) TH_LOG("the stream broke at byte %zu", broke - 1);
	after = posted_b(port);
	TH_LOG("receive buffers posted: %ld idle, %ld after %d MiB", before, after, BULK >> 20);
	EXPECT_LT(before, after);
	EXPECT_GE(16, after);
	close(c);
	close(s);
	close(l);
}

/*
 * net.infinisock.sdp_recv_floor: the receive buffers a new connection posts at first
 * (the listener's namespace's, for an accepted one), hence what an idle one holds.
 */
TEST(recv_floor_tunable)
{
	int port, fds[3], rc;

	enter_netns("b");
	ASSERT_EQ(4, read_ll("/proc/sys/net/infinisock/sdp_recv_floor", NULL));
	ASSERT_EQ(-EINVAL, write_str("/proc/sys/net/infinisock/sdp_recv_floor", "2"));
	ASSERT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_recv_floor", "8"));
	rc = one_connection(&port, fds);
	EXPECT_EQ(0, rc) TH_LOG("connection: %s", strerror(-rc));
	if (!rc)
		EXPECT_EQ(8, posted_b(port));
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	enter_netns("b");
	ASSERT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_recv_floor", "4"));
}

/* Connections established on host a that post `want` receive buffers. */
static int established_posting(long want)
{
	char line[256];
	int count = 0;
	FILE *f;

	enter_netns("a");
	f = fopen("/proc/net/infinisock/sdp", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char local[64], peer[64], state[16];
		long rx, tx, credits, peer_bufs, posted;

		if (sscanf(line, "%63s %63s %15s %ld %ld %ld %ld %ld", local, peer, state, &rx, &tx, &credits,
			   &peer_bufs, &posted) == 8 && !strcmp(state, "established") && posted == want)
			count++;
	}
	if (f)
		fclose(f);
	return count;
}

/*
 * Tests that lower net.infinisock.sdp_mem and move megabytes at the limit: more than
 * the harness's default 30 s when the machine is busy. The teardown puts the limit
 * back whatever the test did (it is set in the initial namespace only).
 */
FIXTURE(slow)
{
	int init_ns;
	char limit[32];
	char srq[8];
};

FIXTURE_SETUP(slow)
{
	FILE *f = fopen("/proc/sys/net/infinisock/sdp_mem", "r");

	self->init_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(f && fgets(self->limit, sizeof(self->limit), f));
	fclose(f);
	ASSERT_LT(0, atoll(self->limit));
	self->srq[0] = 0;
}

FIXTURE_TEARDOWN(slow)
{
	ASSERT_LE(0, self->init_ns);
	if (self->srq[0])
		set_srq(self->srq, NULL, 0);
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
	close(self->init_ns);
	EXPECT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_mem", self->limit));
}

/* Sets net.infinisock.sdp_mem to `kib` (the caller is in the initial namespace). */
static int set_sdp_mem(long long kib)
{
	char value[32];

	snprintf(value, sizeof(value), "%lld", kib);
	return write_str("/proc/sys/net/infinisock/sdp_mem", value);
}

#define LIMIT_KIB 4096
#define LIMIT_BULK (4 << 20)

/*
 * net.infinisock.sdp_mem bounds the buffers connections hold, counted as they are
 * held: an idle connection is counted for its 4 first receive buffers (128 KiB a
 * side), not for its rings in full (1 MiB a side), so 12 fit in full in 4 MiB before
 * pressure. Once three quarters are taken new connections get the smallest rings (3
 * receive buffers), and once it is reached they are refused, ENOBUFS (or
 * ECONNREFUSED when the listener's side is the one refused). A writer still makes
 * progress there, one send buffer at a time; its peer's window, grown before, falls
 * back to the floor; memory stays within the limit and that one buffer. Closing them
 * gives the memory back.
 */
TEST_F_TIMEOUT(slow, ring_memory_limit, 300)
{
	int fds[2 * 40], bulk[3], port, bulk_port, l, n = 0, full, minimal, refused = 0, err = 0, rc;
	long long base = settle(0), peak, send_base;
	int outq = -1;
	long grown;
	size_t broke;

	ASSERT_LE(0, base);
	/* Admission by each connection's own first buffers: on the shared receive queues
	 * an idle connection holds none, so none is refused (the teardown puts it back). */
	set_srq("0", self->srq, sizeof(self->srq));
	ASSERT_EQ(0, setns(self->init_ns, CLONE_NEWNET));
	ASSERT_EQ(0, set_sdp_mem(base + LIMIT_KIB));
	/* The connection that will write, before the others take the memory: its window
	 * grows while there is room. */
	rc = one_connection(&bulk_port, bulk);
	ASSERT_EQ(0, rc) TH_LOG("connection: %s", strerror(-rc));
	broke = bulk_checked(bulk[1], bulk[2], BULK, NULL);
	ASSERT_EQ((size_t)0, broke) TH_LOG("the stream broke at byte %zu", broke - 1);
	grown = posted_b(bulk_port);
	ASSERT_LT(4, grown) TH_LOG("the window did not grow, so its fall cannot be seen");
	l = listen_b(&port);
	ASSERT_LE(0, l);
	for (int i = 0; i < 40 && !refused; i++) {
		int fd = connect_a(port);

		if (fd < 0) {
			refused = 1;
			err = -fd;
			break;
		}
		fds[n++] = fd;
		fds[n++] = accept(l, NULL, NULL);
	}
	EXPECT_EQ(1, read_ll("/proc/net/infinisock/memory", "pressure"));
	EXPECT_GE(base + LIMIT_KIB, rings_kib());
	full = established_posting(4);
	minimal = established_posting(3);
	TH_LOG("%d connections: %d with the first window in full, %d with the smallest rings, then %s", n / 2 + 1,
	       full, minimal, refused ? strerror(err) : "none refused");
	EXPECT_TRUE(refused);
	EXPECT_TRUE(err == ENOBUFS || err == ECONNREFUSED);
	EXPECT_LE(8, full) TH_LOG("idle connections were counted for more than they hold");
	EXPECT_LT(0, minimal);
	/* At the limit, the writer still gets through, and the reader's window falls back
	 * to the floor. */
	peak = rings_kib();
	/* The first bulk's buffers go back 100 ms after its last send (the idle trim):
	 * on a fast kernel the connections above took less. */
	for (int t = 0; t < 100 && send_buffers_kib() > 0; t++)
		usleep(10000);
	send_base = send_buffers_kib();
	broke = bulk_checked(bulk[1], bulk[2], LIMIT_BULK, &peak);
	EXPECT_EQ((size_t)0, broke) TH_LOG("the stream broke at byte %zu", broke - 1);
	/* Under pressure an idle writer's send buffers go back as its last send completes
	 * (the call that reaps it), not a while later. */
	for (int t = 0; t < 200 && (ioctl(bulk[1], SIOCOUTQ, &outq) || outq > 0); t++)
		usleep(10000);
	EXPECT_EQ(0, outq);
	EXPECT_EQ(send_base, send_buffers_kib()) TH_LOG("send buffers kept idle under pressure");
	TH_LOG("%d MiB at the limit: peak %lld KiB of %lld, the reader's window %ld buffers (%ld before)",
	       LIMIT_BULK >> 20, peak, base + LIMIT_KIB, posted_b(bulk_port), grown);
	EXPECT_GE(4, posted_b(bulk_port));
	EXPECT_GE(base + LIMIT_KIB + 32, peak);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	for (int i = 0; i < 3; i++)
		close(bulk[i]);
	close(l);
	/* The fixture puts sdp_mem back. */
	EXPECT_GE(base, settle(base));
}

#define STUCK_CONNS 6
#define STUCK_BULK (2 << 20)
#define STUCK_LIMIT_KIB 2560

/*
 * Connections write at once while the reader of one of them stops reading, under a
 * tight net.infinisock.sdp_mem: the others deliver every byte, checked; the stuck
 * one's writer is held back by its peer's window (it neither fails nor finishes);
 * memory stays within the limit and a buffer per writer; once the reader resumes,
 * every byte of the stuck connection arrives too.
 */
TEST_F_TIMEOUT(slow, stuck_reader_holds_back_only_its_writer, 300)
{
	long long base = settle(0), peak = 0;
	int fds[2 * STUCK_CONNS], port, l, n, unread = -1, status;
	pid_t writers[STUCK_CONNS];
	size_t broke;

	ASSERT_LE(0, base);
	ASSERT_EQ(0, set_sdp_mem(base + STUCK_LIMIT_KIB));
	l = listen_b(&port);
	ASSERT_LE(0, l);
	n = connect_pairs(l, port, fds, STUCK_CONNS);
	ASSERT_EQ(2 * STUCK_CONNS, n) TH_LOG("connection %d: %s", n / 2, strerror(errno));
	for (int i = 0; i < STUCK_CONNS; i++) {
		writers[i] = bulk_writer(fds[2 * i], STUCK_BULK);
		ASSERT_LT(0, writers[i]);
	}
	/* Connection 0's reader does not read; the others are read to the end. */
	for (int i = 1; i < STUCK_CONNS; i++) {
		broke = read_checked(fds[2 * i + 1], STUCK_BULK, &peak);
		EXPECT_EQ((size_t)0, broke) TH_LOG("connection %d broke at byte %zu", i, broke - 1);
		EXPECT_TRUE(exited_ok(writers[i], broke)) TH_LOG("writer %d failed", i);
	}
	/* The stuck connection's writer is held back, not failed: what its reader's
	 * window took waits unread, no more than the ring. */
	EXPECT_EQ(0, waitpid(writers[0], &status, WNOHANG)) TH_LOG("the stuck connection's writer ended");
	EXPECT_EQ(0, ioctl(fds[1], FIONREAD, &unread));
	EXPECT_LT(0, unread) TH_LOG("nothing reached the stuck reader");
	EXPECT_GE(16 * 32 << 10, unread);
	TH_LOG("%d connections, one reader stopped: peak %lld KiB of %lld, %d bytes wait unread", STUCK_CONNS, peak,
	       base + STUCK_LIMIT_KIB, unread);
	EXPECT_GE(base + STUCK_LIMIT_KIB + STUCK_CONNS * 32, peak);
	EXPECT_LE(base + STUCK_LIMIT_KIB / 4 * 3, peak) TH_LOG("pressure was never reached: the test proves nothing");
	/* Its reader resumes: every byte arrives. */
	broke = read_checked(fds[1], STUCK_BULK, NULL);
	EXPECT_EQ((size_t)0, broke) TH_LOG("the stuck connection broke at byte %zu", broke - 1);
	EXPECT_TRUE(exited_ok(writers[0], broke));
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	/* The fixture puts sdp_mem back. */
	EXPECT_GE(base, settle(base));
}

/*
 * In a network namespace that a container's user namespace owns, its root may lower
 * the ring tunables but not raise them past the defaults; the module-wide limit is
 * not there at all.
 */
TEST(container_root_bounded)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		char map[32];

		snprintf(map, sizeof(map), "0 %d 1", getuid());
		if (unshare(CLONE_NEWUSER) || write_str("/proc/self/setgroups", "deny") ||
		    write_str("/proc/self/uid_map", map) || write_str("/proc/self/gid_map", "0 0 1"))
			_exit(2);
		if (unshare(CLONE_NEWNET))
			_exit(3);
		if (write_str("/proc/sys/net/infinisock/sdp_buffer_size", "1048576") != -EINVAL)
			_exit(4);
		if (write_str("/proc/sys/net/infinisock/sdp_recv_buffers", "256") != -EINVAL)
			_exit(5);
		if (write_str("/proc/sys/net/infinisock/sdp_recv_floor", "5") != -EINVAL)
			_exit(8);
		if (write_str("/proc/sys/net/infinisock/sdp_buffer_size", "16384") ||
		    read_ll("/proc/sys/net/infinisock/sdp_buffer_size", NULL) != 16384)
			_exit(6);
		if (!access("/proc/sys/net/infinisock/sdp_mem", F_OK))
			_exit(7);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d failed", WEXITSTATUS(status));
	/* The machine's root still may. */
	ASSERT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_buffer_size", "65536"));
	ASSERT_EQ(0, write_str("/proc/sys/net/infinisock/sdp_buffer_size", "32768"));
}

/*
 * rdma_rxe allocates each connection's send and receive queues and CQs with vmalloc,
 * sized by their entries: an SDP stream's, sized for its rings (no RDMA requests, one
 * SGE, little inline data), take 6 pages a side with the default rings (8 with 16
 * send buffers, 45 when every connection was sized for AF_IB's RDMA operations,
 * Documentation/design.rst). Measured on each connection's own queues and CQs: on the
 * shared receive queues the device's CQs are shared (sdp_srq.sh).
 */
/* VmallocUsed (KiB) once it held still for half a second, or after 10 s. */
static long long settled_vmalloc(void)
{
	long long now = read_ll("/proc/meminfo", "VmallocUsed:"), last = -1;

	for (int i = 0, still = 0; i < 100 && still < 5; i++) {
		usleep(100000);
		last = now;
		now = read_ll("/proc/meminfo", "VmallocUsed:");
		still = now == last ? still + 1 : 0;
	}
	return now;
}

#define QUEUE_CONNS 32
#define QUEUE_KIB_MAX 96 /* both ends: 2 x 32 KiB, and room for noise */

TEST(stream_queues_sized_for_streams)
{
	int fds[2 * QUEUE_CONNS], port, l, n = 0;
	long long before, after;
	char srq[8];

	set_srq("0", srq, sizeof(srq));
	/*
	 * Earlier tests' connections go asynchronously, and the last one on a device's
	 * shared receive queue takes the queue and its CQs (megabytes of vmalloc) with it:
	 * gone before the count starts.
	 */
	for (int i = 0; i < 100 && read_ll("/proc/net/infinisock/memory", "shared_cqs") > 0; i++)
		usleep(50000);
	l = listen_b(&port);
	ASSERT_LE(0, l) TH_LOG("listen: %s", strerror(-l));
	before = settled_vmalloc();
	n = connect_pairs(l, port, fds, QUEUE_CONNS);
	ASSERT_EQ(2 * QUEUE_CONNS, n) TH_LOG("connection %d: %s", n / 2, strerror(errno));
	after = read_ll("/proc/meminfo", "VmallocUsed:");
	TH_LOG("VmallocUsed grew by %lld KiB per connection (both ends)", (after - before) / QUEUE_CONNS);
	EXPECT_GT(after, before);
	EXPECT_LE((after - before) / QUEUE_CONNS, QUEUE_KIB_MAX);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	set_srq(srq, NULL, 0);
}

TEST_HARNESS_MAIN
