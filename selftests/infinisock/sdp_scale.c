// SPDX-License-Identifier: GPL-2.0
/*
 * Many SDP connections at once (hosts.h: host a connects to host b): INFINISOCK_SCALE_N
 * of them (2,000 by default, for the debug kernel under TCG; the benchmark's scale steps
 * take release kernels further) are opened one after another and held open together,
 * each is used for a round trip, and all are closed. No call fails, every byte comes
 * back, and once they are gone the module holds no connection and no buffer more than
 * before (the run's kernel_log step then has kmemleak judge what is left).
 */
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "sockutil.h"

#define DEFAULT_N 2000

/* Sets net.infinisock.sdp_mem (KiB; the initial namespace's): 0, or -errno. */
static int set_sdp_mem(long long kib)
{
	char value[32];

	snprintf(value, sizeof(value), "%lld", kib);
	return write_str("/proc/sys/net/infinisock/sdp_mem", value);
}

/*
 * SDP connections host `ns` shows in /proc/net/infinisock/sdp (the header excluded);
 * `print`: its first 20 lines go to the log too.
 */
static int connections_listed(const char *ns, bool print)
{
	char line[256];
	int rows = 0;
	FILE *f;

	enter_netns(ns);
	f = fopen("/proc/net/infinisock/sdp", "r");
	while (f && fgets(line, sizeof(line), f))
		if (rows++ < 20 && print)
			fprintf(stderr, "# %s: %s", ns, line);
	if (f)
		fclose(f);
	return rows > 0 ? rows - 1 : 0;
}

static int connections_in(const char *ns)
{
	return connections_listed(ns, false);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sdp_socket(const char *ns)
{
	enter_netns(ns);
	return socket(AF_INET, SOCK_STREAM, IPPROTO_SDP);
}

FIXTURE(scale)
{
	int init_ns;
	long long mem_limit;
};

/* The module-wide limit is lifted for the test and put back after it. */
FIXTURE_SETUP(scale)
{
	self->init_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->init_ns);
	self->mem_limit = read_ll("/proc/sys/net/infinisock/sdp_mem", NULL);
	ASSERT_LT(0, self->mem_limit);
	/* What the connections may hold is not what this test weighs: 2 GiB, within the VM. */
	ASSERT_EQ(0, set_sdp_mem(2 << 20));
}

FIXTURE_TEARDOWN(scale)
{
	/* sdp_mem is in the initial namespace only. */
	if (setns(self->init_ns, CLONE_NEWNET) || set_sdp_mem(self->mem_limit))
		TH_LOG("net.infinisock.sdp_mem not put back to %lld KiB", self->mem_limit);
	close(self->init_ns);
}

/* One slab cache's objects in use, from /proc/slabinfo. */
struct slab_cache {
	char name[64];
	long long bytes;
};

#define MAX_CACHES 4096

/* The caches of /proc/slabinfo with their active objects' bytes; how many, or -1. */
static int slab_caches(struct slab_cache *out)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (n < MAX_CACHES && fgets(line, sizeof(line), f)) {
		long long active, total, size;

		if (sscanf(line, "%63s %lld %lld %lld", out[n].name, &active, &total, &size) == 4) {
			out[n].bytes = active * size;
			n++;
		}
	}
	fclose(f);
	return n;
}

static int by_bytes_down(const void *a, const void *b)
{
	long long x = ((const struct slab_cache *)a)->bytes, y = ((const struct slab_cache *)b)->bytes;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Where the slab growth went, per connection (both ends): the objects in use of the
 * caches that grew, their sum and the largest, between `before` and now, into
 * `text`. /proc/meminfo's Slab counts slab pages instead (partly used ones too).
 */
static void slab_growth(const struct slab_cache *before, int nbefore, int conns, char *text, size_t size)
{
	static struct slab_cache now[MAX_CACHES];
	int n = slab_caches(now), used = 0;
	long long sum = 0;

	text[0] = 0;
	if (n < 0 || nbefore < 0)
		return;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < nbefore; j++)
			if (!strcmp(now[i].name, before[j].name)) {
				now[i].bytes -= before[j].bytes;
				break;
			}
	qsort(now, n, sizeof(*now), by_bytes_down);
	for (int i = 0; i < n; i++)
		sum += now[i].bytes > 0 ? now[i].bytes : 0;
	used = snprintf(text, size, "%.1f KiB in all:", (double)sum / 1024 / conns);
	for (int i = 0; i < 8 && i < n && now[i].bytes > 0 && used < (int)size; i++)
		used += snprintf(text + used, size - used, " %s %.1f", now[i].name, (double)now[i].bytes / 1024 / conns);
}

/* A hardware counter summed over every RDMA device's port 1 (rdma_rxe's hw_counters). */
static long long rdma_counter(const char *name)
{
	char pattern[256];
	long long sum = 0;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "/sys/class/infiniband/*/ports/1/hw_counters/%s", name);
	if (glob(pattern, 0, NULL, &g))
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		long long v = 0;

		if (f && fscanf(f, "%lld", &v) == 1)
			sum += v;
		if (f)
			fclose(f);
	}
	globfree(&g);
	return sum;
}

/* Setting up a connection takes tens of milliseconds on the debug kernel under TCG. */
TEST_F_TIMEOUT(scale, many_connections_open_used_closed, 800)
{
	const char *env = getenv("INFINISOCK_SCALE_N");
	int n = env && atoi(env) > 0 ? atoi(env) : DEFAULT_N;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct rlimit nofile = { .rlim_cur = 2 * n + 64, .rlim_max = 2 * n + 64 };
	long long base_kib, slab_before, slab_after, vmalloc_before, vmalloc_after, left_kib = -1;
	int *client = calloc(n, sizeof(int)), *server = calloc(n, sizeof(int));
	static struct slab_cache caches[MAX_CACHES];
	int l, left_a = -1, left_b = -1, ncaches;
	char growth[512];
	double t0, setup_s, closed;
	long long rnr_naks, low_events;

	ASSERT_TRUE(client && server);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &nofile)) TH_LOG("RLIMIT_NOFILE %d: %s", 2 * n + 64, strerror(errno));
	/* Connections of earlier tests may still be going. */
	base_kib = read_ll("/proc/net/infinisock/memory", "rings_kib");
	for (int t = 0; t < 100 && base_kib > 0; t++) {
		usleep(50000);
		base_kib = read_ll("/proc/net/infinisock/memory", "rings_kib");
	}
	slab_before = read_ll("/proc/meminfo", "Slab:");
	vmalloc_before = read_ll("/proc/meminfo", "VmallocUsed:");
	ncaches = slab_caches(caches);

	l = sdp_socket("b");
	ASSERT_LE(0, l);
	inet_pton(AF_INET, HOST_B4, &sin.sin_addr);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&sin, len));
	ASSERT_EQ(0, listen(l, 128));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&sin, &len));

	t0 = now_s();
	for (int i = 0; i < n; i++) {
		client[i] = sdp_socket("a");
		ASSERT_LE(0, client[i]) TH_LOG("socket %d: %s", i, strerror(errno));
		ASSERT_EQ(0, connect(client[i], (struct sockaddr *)&sin, len)) TH_LOG("connection %d: %s", i, strerror(errno));
		server[i] = accept(l, NULL, NULL);
		ASSERT_LE(0, server[i]) TH_LOG("accept %d: %s", i, strerror(errno));
		if ((i + 1) % 500 == 0)
			TH_LOG("%d connections open after %.1f s", i + 1, now_s() - t0);
	}
	setup_s = now_s() - t0;
	slab_after = read_ll("/proc/meminfo", "Slab:");
	vmalloc_after = read_ll("/proc/meminfo", "VmallocUsed:");
	TH_LOG("%d connections open in %.1f s; per connection, both ends: buffers %.1f KiB, slab %.1f KiB, vmalloc %.1f KiB",
	       n, setup_s, (double)(read_ll("/proc/net/infinisock/memory", "rings_kib") - base_kib) / n,
	       (double)(slab_after - slab_before) / n, (double)(vmalloc_after - vmalloc_before) / n);
	slab_growth(caches, ncaches, n, growth, sizeof(growth));
	TH_LOG("slab objects per connection, both ends, by cache (KiB): %s", growth);
	EXPECT_LE(n, connections_in("a"));
	EXPECT_LE(n, connections_in("b"));
	EXPECT_EQ(0, read_ll("/proc/net/infinisock/memory", "pressure"));

	/* Every connection, all open at once, carries a round trip. */
	for (int i = 0; i < n; i++) {
		int out = i, in = -1, back = ~i;

		ASSERT_EQ((ssize_t)sizeof(out), send(client[i], &out, sizeof(out), 0)) TH_LOG("send %d: %s", i, strerror(errno));
		ASSERT_EQ((ssize_t)sizeof(in), recv(server[i], &in, sizeof(in), MSG_WAITALL)) TH_LOG("recv %d", i);
		ASSERT_EQ(i, in);
		ASSERT_EQ((ssize_t)sizeof(back), send(server[i], &back, sizeof(back), 0));
		ASSERT_EQ((ssize_t)sizeof(in), recv(client[i], &in, sizeof(in), MSG_WAITALL)) TH_LOG("echo %d", i);
		ASSERT_EQ(~i, in);
	}

	/*
	 * All of them wake at once: every client sends before any server reads, then
	 * every server answers before any client reads. On shared receive queues this is
	 * more messages at once than the idle connections' reserve holds; none may fail.
	 */
	t0 = now_s();
	rnr_naks = rdma_counter("send_rnr_err");
	low_events = read_ll("/proc/net/infinisock/memory", "srq_low_events");
	for (int round = 0; round < 2; round++) {
		int *from = round ? server : client, *to = round ? client : server;

		for (int i = 0; i < n; i++) {
			int out = i ^ round;

			ASSERT_EQ((ssize_t)sizeof(out), send(from[i], &out, sizeof(out), 0))
				TH_LOG("storm send %d of round %d: %s", i, round, strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			int in = -1;

			ASSERT_EQ((ssize_t)sizeof(in), recv(to[i], &in, sizeof(in), MSG_WAITALL))
				TH_LOG("storm recv %d of round %d: %s", i, round, strerror(errno));
			ASSERT_EQ(i ^ round, in);
		}
	}
	TH_LOG("%d connections woke at once, both ways, in %.1f s; receiver-not-ready answers: %lld, "
	       "shared receive queues running low: %lld", n, now_s() - t0, rdma_counter("send_rnr_err") - rnr_naks,
	       read_ll("/proc/net/infinisock/memory", "srq_low_events") - low_events);

	for (int i = 0; i < n; i++) {
		close(client[i]);
		close(server[i]);
	}
	close(l);
	closed = now_s();
	/* Teardown is asynchronous: both sides close, then each connection goes. */
	for (int t = 0; t < 600; t++) {
		left_a = connections_in("a");
		left_b = connections_in("b");
		left_kib = read_ll("/proc/net/infinisock/memory", "rings_kib");
		if (!left_a && !left_b && left_kib <= base_kib)
			break;
		usleep(100000);
	}
	TH_LOG("%.1f s after close: %d and %d connections left, %lld KiB of buffers (%lld before)", now_s() - closed,
	       left_a, left_b, left_kib, base_kib);
	/* What is left, for the log. */
	if (left_a)
		connections_listed("a", true);
	if (left_b)
		connections_listed("b", true);
	EXPECT_EQ(0, left_a);
	EXPECT_EQ(0, left_b);
	EXPECT_GE(base_kib, left_kib);
	free(client);
	free(server);
}

TEST_HARNESS_MAIN
