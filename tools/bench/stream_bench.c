// SPDX-License-Identifier: GPL-2.0
/*
 * stream_bench: bulk throughput and ping-pong latency of a stream socket, for any
 * protocol number (SDP's or TCP's), so both are measured by the same code. iperf3 and
 * sockperf cannot open a socket with a chosen protocol number, hence this tool.
 *
 *   stream_bench server PROTO PORT
 *   stream_bench bulk PROTO HOST PORT SECONDS WRITE_SIZE
 *   stream_bench pingpong PROTO HOST PORT ITERATIONS MSG_SIZE
 *
 * PROTO is "sdp" or "tcp"; HOST an IPv4 or IPv6 address. The server serves one
 * connection at a time: it discards bulk data, or echoes ping-pong messages.
 * Output is one line of key=value pairs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/infinisock.h>

static int proto_of(const char *name)
{
	if (!strcmp(name, "sdp"))
		return IPPROTO_SDP;
	if (!strcmp(name, "tcp"))
		return IPPROTO_TCP;
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

static int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(fd, buf + got, len - got, 0);

		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

/* Serves connections until killed: the first byte says which test. */
static __attribute__((noreturn)) void server(int proto, int port)
{
	static char buf[1 << 20];
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, "::", port);
	int one = 1, lfd = socket(AF_INET6, SOCK_STREAM, proto);

	if (lfd < 0) {
		len = make_addr(&ss, NULL, port);
		lfd = socket(AF_INET, SOCK_STREAM, proto);
	}
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 16))
		die("bind/listen");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		char mode;

		if (fd < 0)
			die("accept");
		if (proto == IPPROTO_TCP)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (read_full(fd, &mode, 1) == 0) {
			if (mode == 'b') {
				while (recv(fd, buf, sizeof(buf), 0) > 0)
					;
			} else {
				uint32_t size;

				if (read_full(fd, (char *)&size, 4) == 0 && size <= sizeof(buf))
					while (read_full(fd, buf, size) == 0 && send(fd, buf, size, 0) == (ssize_t)size)
						;
			}
		}
		close(fd);
	}
}

static int connect_to(int proto, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, host, port);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, proto);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	if (proto == IPPROTO_TCP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int bulk(int proto, const char *host, int port, double seconds, size_t size)
{
	char *buf = calloc(1, size);
	int fd = connect_to(proto, host, port);
	double t0, t;
	uint64_t bytes = 0;

	if (send(fd, "b", 1, 0) != 1)
		die("send");
	t0 = now();
	do {
		ssize_t w = send(fd, buf, size, 0);

		if (w < 0)
			die("send");
		bytes += w;
		t = now();
	} while (t - t0 < seconds);
	/* The bytes count once the receiver has them: close waits for nothing, so
	 * shut down and wait for the server's close. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, size, 0) > 0)
		;
	t = now();
	printf("test=bulk bytes=%llu seconds=%.3f mib_per_s=%.2f\n", (unsigned long long)bytes, t - t0,
	       bytes / (t - t0) / (1 << 20));
	close(fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int pingpong(int proto, const char *host, int port, int iterations, uint32_t size)
{
	char *buf = calloc(1, size);
	double *rtt = calloc(iterations, sizeof(double));
	int fd = connect_to(proto, host, port);

	if (send(fd, "p", 1, 0) != 1 || send(fd, &size, 4, 0) != 4)
		die("send");
	/* A few rounds to warm up, not counted. */
	for (int i = -10; i < iterations; i++) {
		double t0 = now();

		if (send(fd, buf, size, 0) != (ssize_t)size || read_full(fd, buf, size))
			die("pingpong");
		if (i >= 0)
			rtt[i] = (now() - t0) * 1e6;
	}
	qsort(rtt, iterations, sizeof(double), cmp_double);
	/* One-way latency is half the round trip, as ib_send_lat reports it. */
	printf("test=pingpong size=%u iterations=%d median_us=%.2f p99_us=%.2f half_rtt_median_us=%.2f\n", size,
	       iterations, rtt[iterations / 2], rtt[iterations * 99 / 100], rtt[iterations / 2] / 2);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "server"))
		server(proto_of(argv[2]), atoi(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "bulk"))
		return bulk(proto_of(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]), atol(argv[6]));
	if (argc == 7 && !strcmp(argv[1], "pingpong"))
		return pingpong(proto_of(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
	return 2;
}
