/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stream helpers shared by the SDP stream tests (sdp_stream.c) and the AF_IB stream
 * tests (af_ib_stream.c): sockets in the VM's hosts, a checked byte pattern, writer
 * children, counters that show which path carried a transfer.
 */
#ifndef INFINISOCK_SELFTEST_STREAM_H
#define INFINISOCK_SELFTEST_STREAM_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "hosts.h"

/*
 * The protocol of the streams sdp_socket() opens: explicit SDP, or hybrid streams for
 * the build of sdp_stream.c that runs its tests over fallen-back connections.
 */
#ifndef STREAM_PROTOCOL
#define STREAM_PROTOCOL IPPROTO_SDP
#endif

/* An SDP socket (a STREAM_PROTOCOL one) in host `ns`. */
static inline int sdp_socket(const char *ns, int family)
{
	enter_netns(ns);
	return socket(family, SOCK_STREAM, STREAM_PROTOCOL);
}

static inline int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
}

/* A listener on host b; `port` 0 picks an ephemeral one. */
static inline int listen_b(int family, const char *host, int port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, family, host, port);
	int fd = sdp_socket("b", family);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Connects from host a to `host`:`port`; returns the socket or -errno. */
static inline int connect_a(int family, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_addr(&ss, family, host, port);
	int fd = sdp_socket("a", family);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}


/* The byte at stream offset `i` of stream `seed`: detects loss, duplication, reordering. */
static inline uint8_t pattern(uint64_t i, unsigned int seed)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull + seed;

	return (uint8_t)(x >> 29);
}

/* Writes `total` pattern bytes in writes of `chunk`. */
static inline int write_pattern(int fd, size_t total, size_t chunk, unsigned int seed)
{
	uint8_t *buf = malloc(chunk);
	size_t off = 0;

	if (!buf)
		return -ENOMEM;
	while (off < total) {
		size_t n = total - off < chunk ? total - off : chunk;
		ssize_t w;

		for (size_t j = 0; j < n; j++)
			buf[j] = pattern(off + j, seed);
		w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			free(buf);
			return -errno;
		}
		off += w;
	}
	free(buf);
	return 0;
}

/* Reads until EOF; returns the byte count, or -1 at the first wrong byte. */
static inline ssize_t read_pattern(int fd, unsigned int seed)
{
	static uint8_t buf[65536];
	size_t off = 0;

	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0)
			return -errno - 1000;
		if (r == 0)
			return off;
		for (ssize_t j = 0; j < r; j++)
			if (buf[j] != pattern(off + j, seed))
				return -1;
		off += r;
	}
}

/* TCP segments sent from host `ns` (/proc/net/snmp is per namespace). */
static inline long long tcp_out_segs(const char *ns)
{
	char line[1024], vals[1024];
	long long segs = -1;
	FILE *f;

	enter_netns(ns);
	f = fopen("/proc/net/snmp", "r");
	if (!f)
		return -1;
	/* Two "Tcp:" lines: the field names, then the values; OutSegs is found by name. */
	while (fgets(line, sizeof(line), f)) {
		char *name, *val, *np, *vp;

		if (strncmp(line, "Tcp: RtoAlgorithm", 17))
			continue;
		if (!fgets(vals, sizeof(vals), f))
			break;
		name = strtok_r(line, " \n", &np);
		val = strtok_r(vals, " \n", &vp);
		while (name && val && strcmp(name, "OutSegs")) {
			name = strtok_r(NULL, " \n", &np);
			val = strtok_r(NULL, " \n", &vp);
		}
		if (name && val)
			segs = atoll(val);
	}
	fclose(f);
	return segs;
}

/* Writes `total` pattern bytes on `fd` from a child process, then shuts down writing. */
static inline pid_t spawn_writer(int fd, size_t total, size_t chunk, unsigned int seed)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (write_pattern(fd, total, chunk, seed))
			_exit(1);
		_exit(shutdown(fd, SHUT_WR) ? 2 : 0);
	}
	return pid;
}

/* Prints both hosts' SDP connection tables (to see where a stuck transfer is). */
static inline void dump_sdp(void)
{
	const char *hosts[] = { "a", "b" };
	char line[512];

	for (int i = 0; i < 2; i++) {
		FILE *f;

		enter_netns(hosts[i]);
		f = fopen("/proc/net/infinisock/sdp", "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "# host %s: %s", hosts[i], line);
		fclose(f);
	}
}

/* The exit status of child `pid`; after 60 s without one, dumps the connection
 * tables, kills it and returns -1. */
static inline int child_status(pid_t pid)
{
	int status;

	for (int waited = 0; waited < 600; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0)
			return -1;
		usleep(100000);
	}
	dump_sdp();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

#endif
