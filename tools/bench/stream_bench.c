// SPDX-License-Identifier: GPL-2.0
/*
 * stream_bench: the load generator for what iperf3 and sockperf do not measure, for
 * any stream protocol number (SDP's, TCP's, SMC's), so that all are measured by the
 * same code: connection setup rate, many concurrent streams, and kernel memory per
 * idle connection. Bulk and ping-pong modes are kept as a cross-check of iperf3 and
 * sockperf (which reach SDP and SMC through sockproto_preload.so).
 *
 *   stream_bench server PROTO PORT
 *   stream_bench bulk PROTO HOST PORT SECONDS WRITE_SIZE [STREAMS] [msgzc]
 *   stream_bench pingpong PROTO HOST PORT ITERATIONS MSG_SIZE [poll]
 *   stream_bench rdma HOST PORT SECONDS SIZE write|read|writeimm region|pinned [spin]   (AF_IB one-sided RDMA)
 *   stream_bench connrate PROTO HOST PORT SECONDS
 *   stream_bench scale PROTO HOST PORT CONNECTIONS SECONDS WRITE_SIZE
 *
 * PROTO is "sdp", "tcp" or "smc", or "ibmsg" for AF_IB SOCK_SEQPACKET message sockets
 * (each write one message, each read one message; the environment variable
 * STREAM_BENCH_MAX_MSG sets their INFINISOCK_MAX_MSG_SIZE); HOST an IPv4 or IPv6
 * address. The server serves every connection in a thread of its own; the first byte
 * a client sends says what it wants. Output is one line of key=value pairs.
 *
 * "msgzc": each bulk stream sends with MSG_ZEROCOPY (SO_ZEROCOPY) from a ring of
 * ZC_RING buffers, reusing one only once its calls' notifications came, as the
 * kernel's msg_zerocopy test and TCP's users do; "copied=" then says how many of the
 * notifications were marked SO_EE_CODE_ZEROCOPY_COPIED, of "notified=".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <linux/infinisock.h>

#ifndef IPPROTO_SMC
#define IPPROTO_SMC 256
#endif

/* "ibmsg": AF_IB message sockets, addressed with sockaddr_in/in6 (AF_IB takes them). */
static int ib_msg;

static int proto_of(const char *name)
{
	if (!strcmp(name, "ibmsg")) {
		ib_msg = 1;
		return 0;
	}
	if (!strcmp(name, "sdp"))
		return IPPROTO_SDP;
	if (!strcmp(name, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(name, "smc"))
		return IPPROTO_SMC;
	fprintf(stderr, "unknown protocol %s\n", name);
	exit(2);
}

static socklen_t make_addr(struct sockaddr_storage *ss, const char *host, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (host && strchr(host, ':')) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &sin6->sin6_addr);
		return sizeof(*sin6);
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	if (host)
		inet_pton(AF_INET, host, &sin->sin_addr);
	return sizeof(*sin);
}

static int make_socket(int family, int proto)
{
	const char *max = getenv("STREAM_BENCH_MAX_MSG");
	int fd, v;

	if (!ib_msg)
		return socket(family, SOCK_STREAM, proto);
	fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	v = max ? atoi(max) : 0;
	if (fd >= 0 && v > 0 && setsockopt(fd, SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE, &v, sizeof(v))) {
		perror("INFINISOCK_MAX_MSG_SIZE");
		exit(1);
	}
	return fd;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Reads len bytes; `poll` spins on non-blocking reads instead of sleeping. */
static int read_all(int fd, char *buf, size_t len, int poll)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(fd, buf + got, len - got, poll ? MSG_DONTWAIT : 0);

		if (r < 0 && poll && errno == EAGAIN)
			continue;
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static int read_full(int fd, char *buf, size_t len)
{
	return read_all(fd, buf, len, 0);
}

/* Seconds of CPU time the whole guest spent in the kernel (system, irq, softirq):
 * rxe and the protocols do their work there, on either host of the VM. */
static double kernel_cpu_seconds(void)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq;
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq, &softirq);
	fclose(f);
	return n == 7 ? (double)(sys + irq + softirq) / hz : 0;
}

/* The /proc/meminfo fields the memory figures use, in KiB, read in one pass. */
struct meminfo {
	long long total, free_, buffers, cached, anon, kstack, pt, slab, vmalloc;
};

static void read_meminfo(struct meminfo *m)
{
	const struct {
		const char *key;
		long long *v;
	} fields[] = {
		{ "MemTotal", &m->total }, { "MemFree", &m->free_ },	   { "Buffers", &m->buffers },
		{ "Cached", &m->cached },  { "AnonPages", &m->anon },	   { "KernelStack", &m->kstack },
		{ "PageTables", &m->pt },  { "Slab", &m->slab },	   { "VmallocUsed", &m->vmalloc },
	};
	long long v;
	char key[64];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	while (fscanf(f, "%63[^:]: %lld kB\n", key, &v) == 2)
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strcmp(key, fields[i].key))
				*fields[i].v = v;
	fclose(f);
}

/* Kernel memory in use, in KiB: what is neither free nor page cache nor user memory
 * nor thread stacks and page tables (which belong to the test's threads, not to the
 * connections). Includes slab and the page allocations of protocol buffers. */
static long long kernel_kib(const struct meminfo *m)
{
	return m->total - m->free_ - m->buffers - m->cached - m->anon - m->kstack - m->pt;
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(1 << 20);
	char mode;

	if (buf && read_full(fd, &mode, 1) == 0) {
		if (mode == 'b' || mode == 'i') {
			/* Bulk: discard until EOF. Idle (the scale test): one byte back to say
			 * this end holds the connection too, then the same as bulk. */
			/* An idle connection's thread (the scale test, up to 10,000 at once)
			 * reads the 64 KiB writes 64 KiB at a time: 10,000 threads touching a
			 * MiB each would not fit the VM. */
			size_t chunk = mode == 'i' ? 64 << 10 : 1 << 20;

			if (mode == 'b' || send(fd, "i", 1, MSG_NOSIGNAL) == 1)
				while (recv(fd, buf, chunk, 0) > 0)
					;
		} else if (mode == 'c') {
			/* Connection setup: one byte back, then wait for the close. */
			if (send(fd, "c", 1, MSG_NOSIGNAL) == 1)
				while (recv(fd, buf, 1, 0) > 0)
					;
		} else if (mode == 'p' || mode == 'q') {
			/* Ping-pong; 'q' spins on non-blocking reads. */
			uint32_t size;

			if (read_full(fd, (char *)&size, 4) == 0 && size <= (1 << 20))
				while (read_all(fd, buf, size, mode == 'q') == 0 &&
				       send(fd, buf, size, MSG_NOSIGNAL) == (ssize_t)size)
					;
		} else if (mode == 'r' || mode == 'w') {
			/* One-sided RDMA: register the buffer for both kinds of access, say
			 * where it is, and hold it until the client is done; 'w': writes
			 * with immediate, whose messages (no bytes, the immediate in a
			 * control message) are taken as they come, until the end. */
			struct infinisock_mr_reg r = { .addr = (uintptr_t)buf, .len = 1 << 20,
						       .access = INFINISOCK_ACCESS_REMOTE_READ |
								 INFINISOCK_ACCESS_REMOTE_WRITE };

			if (ioctl(fd, INFINISOCK_MR_REG, &r) == 0 && send(fd, &r, sizeof(r), MSG_NOSIGNAL) == sizeof(r)) {
				if (mode == 'r')
					while (recv(fd, buf, 1, 0) > 0)
						;
				while (mode == 'w') {
					char control[CMSG_SPACE(sizeof(struct infinisock_imm))], one;
					struct iovec iov = { &one, 1 };
					struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
							     .msg_controllen = sizeof(control) };

					if (recvmsg(fd, &mh, 0) < 0 || !CMSG_FIRSTHDR(&mh))
						break;
				}
			}
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

static pthread_attr_t small_stack;

static __attribute__((noreturn)) void server(int proto, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, "::", port);
	int one = 1, lfd = make_socket(AF_INET6, proto);

	if (lfd < 0) {
		len = make_addr(&ss, NULL, port);
		lfd = make_socket(AF_INET, proto);
	}
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1024))
		die("bind/listen");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			die("accept");
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, &small_stack, serve, (void *)(intptr_t)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

static int connect_to(int proto, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, host, port);
	int one = 1, fd = make_socket(ss.ss_family, proto);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct stream {
	int fd;
	size_t size;
	double seconds;
	int msgzc;
	uint64_t bytes;
	/* msgzc: notifications taken, and those marked copied. */
	uint64_t notified, copied;
	pthread_barrier_t *start;
};

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/* Buffers a MSG_ZEROCOPY stream cycles through: more than the adverts a connection
 * has open at once, so that the sender never waits for a notification it needs. */
#define ZC_RING 8

/* Takes the notifications on s's error queue (waiting for one if `wait`) and
 * returns the highest id notified so far (-1 if none), in *done. */
static int zc_reap(struct stream *s, int wait, int64_t *done)
{
	char control[CMSG_SPACE(sizeof(struct sock_extended_err)) + 64];

	for (;;) {
		struct msghdr mh = { .msg_control = control, .msg_controllen = sizeof(control) };
		struct sock_extended_err *ee;
		struct cmsghdr *cm;

		if (recvmsg(s->fd, &mh, MSG_ERRQUEUE) < 0) {
			struct pollfd p = { .fd = s->fd, .events = 0 };

			if (errno != EAGAIN || !wait)
				return errno == EAGAIN ? 0 : -1;
			if (poll(&p, 1, 10000) <= 0 || (p.revents & POLLHUP && !(p.revents & POLLERR)))
				return -1;
			continue;
		}
		cm = CMSG_FIRSTHDR(&mh);
		if (!cm)
			return -1;
		ee = (struct sock_extended_err *)CMSG_DATA(cm);
		if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
			return -1;
		s->notified += ee->ee_data - ee->ee_info + 1;
		if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
			s->copied += ee->ee_data - ee->ee_info + 1;
		/* Ids come in order, as TCP's: the range's end is the newest. */
		if ((int64_t)ee->ee_data > *done)
			*done = ee->ee_data;
		wait = 0;
	}
}

/* A bulk stream with MSG_ZEROCOPY: buffer i % ZC_RING is written again only once
 * the id of its last call is notified. */
static void bulk_stream_msgzc(struct stream *s, char *ring)
{
	int64_t last_id[ZC_RING], next_id = 0, done = -1;
	int one = 1;
	double t0;

	for (int i = 0; i < ZC_RING; i++)
		last_id[i] = -1;
	if (setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY");
	pthread_barrier_wait(s->start);
	t0 = now();
	for (int i = 0; now() - t0 < s->seconds; i = (i + 1) % ZC_RING) {
		ssize_t w;

		while (last_id[i] > done)
			if (zc_reap(s, 1, &done) < 0)
				return;
		w = send(s->fd, ring + (size_t)i * s->size, s->size, MSG_NOSIGNAL | MSG_ZEROCOPY);
		if (w <= 0)
			return;
		s->bytes += w;
		last_id[i] = next_id++;
		if (zc_reap(s, 0, &done) < 0)
			return;
	}
	while (done < next_id - 1)
		if (zc_reap(s, 1, &done) < 0)
			return;
}

static void *bulk_stream(void *arg)
{
	struct stream *s = arg;
	size_t room = s->msgzc ? (size_t)ZC_RING * s->size : s->size;
	/* Page-aligned in every mode, as a program that sends with MSG_ZEROCOPY
	 * allocates, so that the blocking and MSG_ZEROCOPY rows send the same pages
	 * (malloc's large buffers begin 16 bytes into a page: an advert's head and
	 * tail would then be copied). */
	char *buf = aligned_alloc(4096, (room + 4095) & ~(size_t)4095);
	double t0;

	/* Its own pages, not the shared zero page an untouched buffer reads as: a
	 * zero-copy send pins and exposes them as it would a real program's. */
	if (buf)
		memset(buf, 'b', room);
	if (buf && s->msgzc) {
		bulk_stream_msgzc(s, buf);
	} else {
		pthread_barrier_wait(s->start);
		t0 = now();
		while (buf && now() - t0 < s->seconds) {
			ssize_t w = send(s->fd, buf, s->size, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			s->bytes += w;
		}
	}
	/* The bytes count once the receiver has them: shut down, wait for its close. */
	shutdown(s->fd, SHUT_WR);
	while (buf && recv(s->fd, buf, s->size, 0) > 0)
		;
	free(buf);
	return NULL;
}

/* Bulk transfer on `streams` connected sockets at once for `seconds` (with
 * MSG_ZEROCOPY if `msgzc`); closes them. */
static int run_bulk(int *fds, int streams, double seconds, size_t size, int msgzc)
{
	struct stream *s = calloc(streams, sizeof(*s));
	pthread_t *t = calloc(streams, sizeof(*t));
	pthread_barrier_t start;
	uint64_t bytes = 0, notified = 0, copied = 0;
	double t0, t1, cpu0;

	pthread_barrier_init(&start, NULL, streams + 1);
	for (int i = 0; i < streams; i++) {
		s[i] = (struct stream){ .fd = fds[i], .size = size, .seconds = seconds, .msgzc = msgzc, .start = &start };
		if (pthread_create(&t[i], &small_stack, bulk_stream, &s[i]))
			die("pthread_create");
	}
	cpu0 = kernel_cpu_seconds();
	t0 = now();
	pthread_barrier_wait(&start);
	for (int i = 0; i < streams; i++) {
		pthread_join(t[i], NULL);
		bytes += s[i].bytes;
		notified += s[i].notified;
		copied += s[i].copied;
		close(s[i].fd);
	}
	t1 = now();
	printf("test=bulk%s streams=%d size=%zu bytes=%llu seconds=%.3f gbit_per_s=%.4f kernel_cpu_s_per_gb=%.3f",
	       msgzc ? "-msgzc" : "", streams, size, (unsigned long long)bytes, t1 - t0, bytes * 8 / (t1 - t0) / 1e9,
	       bytes ? (kernel_cpu_seconds() - cpu0) / (bytes / 1e9) : 0);
	if (msgzc)
		printf(" notified=%llu copied=%llu", (unsigned long long)notified, (unsigned long long)copied);
	printf("\n");
	return bytes ? 0 : 1;
}

static int bulk(int proto, const char *host, int port, double seconds, size_t size, int streams, int msgzc)
{
	int *fds = calloc(streams, sizeof(int));

	for (int i = 0; i < streams; i++) {
		fds[i] = connect_to(proto, host, port);
		if (fds[i] < 0)
			die("connect");
		if (send(fds[i], "b", 1, 0) != 1)
			die("send");
	}
	return run_bulk(fds, streams, seconds, size, msgzc);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values. */
static double quantile(const double *v, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* Ping-pong of `size` bytes; `poll`: both ends spin on non-blocking reads, as
 * ib_send_lat spins on its CQ (and sockperf --nonblocked on its socket). */
static int pingpong(int proto, const char *host, int port, int iterations, uint32_t size, int poll)
{
	char *buf = calloc(1, size);
	double *rtt = calloc(iterations, sizeof(double));
	int fd = connect_to(proto, host, port);

	if (fd < 0)
		die("connect");
	struct rusage ru0, ru1;

	if (send(fd, poll ? "q" : "p", 1, 0) != 1 || send(fd, &size, 4, 0) != 4)
		die("send");
	/* A few rounds to warm up, not counted. */
	for (int i = -10; i < iterations; i++) {
		double t0 = now();

		if (i == 0)
			getrusage(RUSAGE_THREAD, &ru0);

		if (send(fd, buf, size, 0) != (ssize_t)size || read_all(fd, buf, size, poll))
			die("pingpong");
		if (i >= 0)
			rtt[i] = (now() - t0) * 1e6 / 2;
	}
	getrusage(RUSAGE_THREAD, &ru1);
	qsort(rtt, iterations, sizeof(double), cmp_double);
	/* One-way latency is half the round trip, as ib_send_lat and sockperf report it. */
	printf("test=pingpong%s size=%u iterations=%d half_rtt_median_us=%.2f half_rtt_p99_us=%.2f "
	       "half_rtt_p999_us=%.2f sleeps_per_round_trip=%.2f\n",
	       poll ? "-poll" : "", size, iterations, quantile(rtt, iterations, 0.5), quantile(rtt, iterations, 0.99),
	       quantile(rtt, iterations, 0.999), (double)(ru1.ru_nvcsw - ru0.ru_nvcsw) / iterations);
	close(fd);
	return 0;
}

/* Reaps the completions on fd's error queue; returns how many, -1 on a failed one. */
static int rdma_reap(int fd, uint64_t *bytes)
{
	char control[16 * CMSG_SPACE(sizeof(struct infinisock_rdma_status))];
	struct msghdr mh = { .msg_control = control, .msg_controllen = sizeof(control) };
	int n = 0;

	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return errno == EAGAIN ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct infinisock_rdma_status st;

		memcpy(&st, CMSG_DATA(c), sizeof(st));
		if (st.status)
			return -1;
		*bytes += st.len;
		n++;
	}
	return n;
}

/*
 * One-sided RDMA bandwidth on AF_IB: WRITEs (or READs, or writes with immediate, each
 * taking one of the server's receive buffers) of `size` bytes into (from) the server's
 * registered megabyte, up to RDMA_DEPTH in flight, for `seconds`; bytes count when
 * their completion is in. The local megabyte is a registered region
 * (INFINISOCK_RDMA_REGION, as perftest posts from its MR) or, `pinned`, pinned by
 * each operation. With `spin` the error queue is polled without sleeping, as perftest
 * polls its CQ; otherwise poll() waits for POLLERR.
 */
#define RDMA_DEPTH 64

static int rdma_bw(const char *host, int port, double seconds, size_t size, const char *op, int pinned, int spin)
{
	int read = !strcmp(op, "read"), imm = !strcmp(op, "writeimm");

	if (!read && !imm && strcmp(op, "write"))
		die("rdma: the operation is write, read or writeimm");
	struct infinisock_mr_reg r, mine;
	char control[CMSG_SPACE(sizeof(struct infinisock_rdma))] = { 0 };
	char *local = aligned_alloc(4096, 1 << 20);
	uint64_t bytes = 0, token = 0;
	int fd, in_flight = 0, n;
	double t0, t1;

	ib_msg = 1;
	fd = connect_to(0, host, port);
	if (fd < 0 || !local || size > (1 << 20))
		die("rdma connect");
	if (send(fd, imm ? "w" : "r", 1, 0) != 1 || recv(fd, &r, sizeof(r), 0) != sizeof(r))
		die("rdma: no region from the server");
	memset(local, 1, 1 << 20);
	mine = (struct infinisock_mr_reg){ .addr = (uintptr_t)local, .len = 1 << 20,
					   .access = INFINISOCK_ACCESS_LOCAL_WRITE };
	if (!pinned && ioctl(fd, INFINISOCK_MR_REG, &mine))
		die("rdma: registering the local buffer");
	t0 = now();
	while (now() - t0 < seconds || in_flight) {
		if (in_flight < RDMA_DEPTH && now() - t0 < seconds) {
			struct iovec iov = { local, size };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
					     .msg_controllen = sizeof(control) };
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			struct infinisock_rdma a = { .remote_addr = r.addr, .rkey = r.rkey, .token = token++,
						     .op = read ? INFINISOCK_RDMA_READ :
							   imm	? INFINISOCK_RDMA_WRITE_IMM :
								  INFINISOCK_RDMA_WRITE,
						     .flags = pinned ? 0 : INFINISOCK_RDMA_REGION };

			c->cmsg_level = SOL_INFINISOCK;
			c->cmsg_type = INFINISOCK_CMSG_RDMA;
			c->cmsg_len = CMSG_LEN(sizeof(a));
			memcpy(CMSG_DATA(c), &a, sizeof(a));
			if (sendmsg(fd, &mh, MSG_DONTWAIT) == (ssize_t)size) {
				in_flight++;
				continue;
			}
			if (errno != EAGAIN)
				die("rdma sendmsg");
		}
		n = rdma_reap(fd, &bytes);
		if (n < 0)
			die("rdma: an operation failed");
		if (n == 0 && !spin) {
			struct pollfd p = { .fd = fd, .events = 0 };

			poll(&p, 1, 100);
		}
		in_flight -= n;
	}
	t1 = now();
	printf("test=rdma op=%s local=%s wait=%s size=%zu bytes=%llu seconds=%.3f gbit_per_s=%.4f\n",
	       op, pinned ? "pinned" : "region", spin ? "spin" : "poll", size,
	       (unsigned long long)bytes, t1 - t0, bytes * 8 / (t1 - t0) / 1e9);
	close(fd);
	free(local);
	return bytes ? 0 : 1;
}

/* Connection setup: connect, first byte there and back, close; as many as fit. */
static int connrate(int proto, const char *host, int port, double seconds)
{
	int cap = 1 << 16, n = 0, failed = 0;
	double *ttfb = calloc(cap, sizeof(double)), t0 = now(), t;
	char c;

	do {
		double c0 = now();
		int fd = connect_to(proto, host, port);

		if (fd < 0 || send(fd, "c", 1, 0) != 1 || read_full(fd, &c, 1)) {
			failed++;
			if (fd >= 0)
				close(fd);
			if (failed > 10)
				die("connrate");
		} else {
			if (n < cap)
				ttfb[n++] = (now() - c0) * 1e6;
			close(fd);
		}
		t = now();
	} while (t - t0 < seconds);
	qsort(ttfb, n, sizeof(double), cmp_double);
	printf("test=connrate connections=%d failed=%d conn_per_s=%.2f first_byte_median_us=%.1f "
	       "first_byte_p99_us=%.1f\n",
	       n, failed, n / (t - t0), n ? quantile(ttfb, n, 0.5) : 0, n ? quantile(ttfb, n, 0.99) : 0);
	return n ? 0 : 1;
}

/* Two readings of kernel memory a quarter second apart that differ by less than this
 * mean it holds still (the VM's own noise is about 100 KiB). */
#define STEADY_KIB 256

/* Kernel memory once it holds still, read after at least min_s and at most max_s
 * seconds: the previous run's connections may still be being freed (RDMA teardown is
 * asynchronous) and new ones still completing, and a fixed wait long enough for 1024
 * connections would be mostly idle for one. */
static void steady_meminfo(double min_s, double max_s, struct meminfo *m)
{
	double t0 = now();
	long long last, cur;

	read_meminfo(m);
	last = kernel_kib(m);
	for (;;) {
		usleep(250 * 1000);
		read_meminfo(m);
		cur = kernel_kib(m);
		if (now() - t0 >= max_s || (now() - t0 >= min_s && llabs(cur - last) < STEADY_KIB))
			return;
		last = cur;
	}
}

/* Connection set-ups in flight at once in the scale test: one after another, 1024 of
 * them take most of the test's time under TCG. */
#define OPENERS 4

struct opener {
	int proto, port, first, count;
	/* The errno of the first connection that failed (errno is per thread). */
	int failed;
	const char *host;
	int *fds;
};

/* Opens every OPENERS-th idle connection from `first` on. */
static void *open_idle(void *arg)
{
	struct opener *o = arg;

	for (int i = o->first; i < o->count; i += OPENERS) {
		o->fds[i] = connect_to(o->proto, o->host, o->port);
		if (o->fds[i] < 0 || send(o->fds[i], "i", 1, 0) != 1) {
			o->failed = errno ? errno : EIO;
			break;
		}
	}
	return NULL;
}

/* Opens `count` connections and holds them idle to weigh the kernel memory they take
 * (both ends: the server runs in the same VM), then moves bulk data on all of them at
 * once. One set of connections serves both halves, since setting them up is the slow
 * part. */
static int scale(int proto, const char *host, int port, int count, double seconds, size_t size)
{
	int *fds = calloc(count, sizeof(int));
	struct opener o[OPENERS];
	pthread_t t[OPENERS];
	int openers = count < OPENERS ? count : OPENERS;
	struct meminfo before, after;
	double t0, setup;
	char c;

	steady_meminfo(0.5, 5, &before);
	t0 = now();
	for (int i = 0; i < openers; i++) {
		o[i] = (struct opener){ .proto = proto, .port = port, .first = i, .count = count, .host = host,
					.fds = fds };
		if (pthread_create(&t[i], &small_stack, open_idle, &o[i]))
			die("pthread_create");
	}
	for (int i = 0; i < openers; i++) {
		pthread_join(t[i], NULL);
		if (o[i].failed) {
			errno = o[i].failed;
			die("idle connect");
		}
	}
	setup = now() - t0;
	/* Each connection's answer says the server holds it: both ends are counted. */
	for (int i = 0; i < count; i++)
		if (read_full(fds[i], &c, 1))
			die("idle: no answer from the server");
	steady_meminfo(0.5, 3, &after);
	/* With the kernel figure, two of its parts that say where it went: slab objects,
	 * and vmalloc, where rxe puts its queues. */
	printf("test=idle connections=%d setup_s=%.2f kernel_kib_before=%lld kernel_kib_after=%lld "
	       "kib_per_connection=%.1f slab_kib_per_connection=%.1f vmalloc_kib_per_connection=%.1f\n",
	       count, setup, kernel_kib(&before), kernel_kib(&after), (double)(kernel_kib(&after) - kernel_kib(&before)) / count,
	       (double)(after.slab - before.slab) / count, (double)(after.vmalloc - before.vmalloc) / count);
	/* The memory figure stands even if the bulk half fails. */
	fflush(stdout);
	return run_bulk(fds, count, seconds, size, 0);
}

int main(int argc, char **argv)
{
	pthread_attr_init(&small_stack);
	pthread_attr_setstacksize(&small_stack, 256 << 10);
	if (argc == 4 && !strcmp(argv[1], "server"))
		server(proto_of(argv[2]), atoi(argv[3]));
	if ((argc == 7 || argc == 8 || (argc == 9 && !strcmp(argv[8], "msgzc"))) && !strcmp(argv[1], "bulk"))
		return bulk(proto_of(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]), atol(argv[6]),
			    argc >= 8 ? atoi(argv[7]) : 1, argc == 9);
	if ((argc == 7 || (argc == 8 && !strcmp(argv[7], "poll"))) && !strcmp(argv[1], "pingpong"))
		return pingpong(proto_of(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argc == 8);
	if ((argc == 8 || (argc == 9 && !strcmp(argv[8], "spin"))) && !strcmp(argv[1], "rdma"))
		return rdma_bw(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]), argv[6], !strcmp(argv[7], "pinned"),
			       argc == 9);
	if (argc == 6 && !strcmp(argv[1], "connrate"))
		return connrate(proto_of(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]));
	if (argc == 8 && !strcmp(argv[1], "scale"))
		return scale(proto_of(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), atof(argv[6]), atol(argv[7]));
	fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
	return 2;
}
