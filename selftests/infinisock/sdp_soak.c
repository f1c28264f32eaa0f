// SPDX-License-Identifier: GPL-2.0
/*
 * Integrity soak: SOAK_CONNS (default 256) SDP connections at once between the two
 * hosts, data flowing both ways on each, in random write sizes, every stream a
 * pseudo-random byte sequence the receiver regenerates and compares byte for byte.
 * Each connection ends one of three ways, chosen at random:
 *
 *   - both ends send all (0 to SOAK_MAX_BYTES each), shutdown(SHUT_WR), read to EOF,
 *     close;
 *   - the client sends all and closes at once (no shutdown, nothing to read: the
 *     server sends nothing), the server reads to EOF;
 *   - one end sets SO_LINGER 0 and closes at a random point: a reset.
 *
 * Every byte of a stream that was not reset must arrive, in order and unchanged, and
 * EOF exactly after the last; on a reset connection what arrived must be a correct
 * prefix and the other end must see ECONNRESET (or EPIPE on a send), never a clean EOF
 * or a hang. Rings are made small (4 + 4 buffers) so that 2 × SOAK_CONNS endpoints
 * fit the module's memory limit; SOAK_SEED repeats a run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "kselftest_harness.h"
#include "hosts.h"
#include "rng.h"

#define CHUNK (64 << 10)

/* Byte `i` of stream `id`: a cheap hash, so any position can be checked alone. */
static uint8_t stream_byte(uint32_t id, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)id << 32 | id);

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return x;
}

enum ending { GRACEFUL, CLOSE_AFTER_SEND, RESET, ENDINGS };
static const char *const ending_names[] = { "graceful", "close after send", "reset" };

/* One end of a connection: what it sends and what it must receive. */
struct end {
	int fd;
	uint32_t out_id, in_id;		/* the streams it sends and receives */
	uint64_t out_len, sent;		/* bytes to send, sent so far */
	uint64_t in_len, received;	/* bytes the peer sends, received so far */
	uint64_t reset_at;		/* RESET: close with linger 0 once this much is sent */
	int resets;			/* this end is the one that resets */
	int shut, eof, done, error;
	const char *failure;
};

struct conn {
	enum ending ending;
	struct end e[2];		/* [0] host a (client), [1] host b (accepted) */
};

static void set_tunable(const char *ns, const char *name, const char *value, char *old, size_t n)
{
	char path[128];
	FILE *f;

	enter_netns(ns);
	snprintf(path, sizeof(path), "/proc/sys/net/infinisock/%s", name);
	if (old) {
		f = fopen(path, "r");
		if (f) {
			if (!fgets(old, n, f))
				old[0] = 0;
			fclose(f);
		}
	}
	f = fopen(path, "w");
	if (f) {
		fputs(value, f);
		fclose(f);
	}
}

/* Sends what the end may send now; handles its ending. */
static void end_send(struct conn *c, struct end *e, char *buf)
{
	while (!e->shut && e->fd >= 0) {
		uint64_t limit = e->resets ? e->reset_at : e->out_len;
		size_t n = 1 + below(CHUNK);

		if (e->sent >= limit)
			break;
		if (n > limit - e->sent)
			n = limit - e->sent;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(e->out_id, e->sent + i);
		ssize_t w = send(e->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN)
				return;
			e->error = errno;
			return;
		}
		e->sent += w;
	}
	if (e->shut || e->fd < 0)
		return;
	if (e->resets && e->sent >= e->reset_at) {
		struct linger lg = { 1, 0 };

		setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(e->fd);
		e->fd = -1;
		e->done = 1;
		return;
	}
	if (e->sent == e->out_len) {
		if (c->ending == CLOSE_AFTER_SEND && e == &c->e[0]) {
			/* Closes without reading: what the peer sent it is discarded. */
			close(e->fd);
			e->fd = -1;
			e->done = 1;
			return;
		}
		shutdown(e->fd, SHUT_WR);
		e->shut = 1;
	}
}

/* Reads what has arrived and checks it. */
static void end_recv(struct end *e, char *buf)
{
	while (e->fd >= 0 && !e->eof && !e->error) {
		ssize_t r = recv(e->fd, buf, CHUNK, MSG_DONTWAIT);

		if (r < 0) {
			if (errno != EAGAIN)
				e->error = errno;
			return;
		}
		if (r == 0) {
			e->eof = 1;
			if (e->received != e->in_len)
				e->failure = "EOF before the end of the stream";
			return;
		}
		if (e->received + r > e->in_len) {
			e->failure = "more bytes than the peer sent";
			e->error = EPROTO;
			return;
		}
		for (ssize_t i = 0; i < r; i++)
			if ((uint8_t)buf[i] != stream_byte(e->in_id, e->received + i)) {
				e->failure = "a byte differs";
				e->error = EPROTO;
				return;
			}
		e->received += r;
	}
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? atol(v) : def;
}

/* Whether the end has nothing left to do; closes it then. */
static int end_finished(struct end *e)
{
	int sending = !e->shut && !e->error && (e->resets || e->sent < e->out_len);

	if (e->fd >= 0 && !sending && (e->eof || e->error)) {
		close(e->fd);
		e->fd = -1;
		e->done = 1;
	}
	return e->done;
}

/* The verdict on a finished (or timed-out) connection: NULL or what went wrong. */
static const char *verdict(const struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		const struct end *e = &c->e[i], *peer = &c->e[1 - i];

		if (e->failure)
			return e->failure;
		if (!e->done)
			return "did not finish";
		if (c->ending == RESET) {
			if (e->resets)
				continue;
			if (e->error != ECONNRESET && e->error != EPIPE)
				return e->eof ? "a clean EOF after the peer's reset" : "a reset not reported as ECONNRESET";
			if (e->received > peer->sent)
				return "more bytes than the peer sent before its reset";
			continue;
		}
		if (c->ending == CLOSE_AFTER_SEND && i == 0) {
			if (e->error)
				return "an error on the end that closed";
			continue;
		}
		if (e->error)
			return "an error on a connection that was not reset";
		if (!e->eof || e->received != e->in_len)
			return "bytes lost";
	}
	return NULL;
}

FIXTURE(soak)
{
};

FIXTURE_SETUP(soak)
{
}

FIXTURE_TEARDOWN(soak)
{
}

TEST_F_TIMEOUT(soak, checksummed_connections, 1200)
{
	long conns = env_long("SOAK_CONNS", 256), max_bytes = env_long("SOAK_MAX_BYTES", 256 << 10);
	long timeout = env_long("SOAK_TIMEOUT", 600);
	uint64_t seed = env_long("SOAK_SEED", (long)time(NULL));
	static const char *const names[] = { "sdp_recv_buffers", "sdp_send_buffers" };
	char old[2][2][32] = { 0 };
	struct conn *c = calloc(conns, sizeof(*c));
	struct pollfd *p = calloc(2 * conns, sizeof(*p));
	char *buf = malloc(CHUNK);
	struct sockaddr_storage ss;
	socklen_t len;
	int lst, counts[ENDINGS] = { 0 }, failed = 0;
	uint64_t bytes = 0;
	time_t t0 = time(NULL);

	ASSERT_TRUE(c && p && buf);
	rng_state = seed ? seed : 1;
	printf("# seed %llu: %ld connections, up to %ld bytes each way\n", (unsigned long long)seed, conns, max_bytes);
	/* Small rings, so that every endpoint fits the module's memory limit. */
	for (int h = 0; h < 2; h++)
		for (int t = 0; t < 2; t++)
			set_tunable(h ? "b" : "a", names[t], "4", old[h][t], sizeof(old[h][t]));

	enter_netns("b");
	lst = socket(AF_INET, SOCK_STREAM, IPPROTO_SDP);
	ASSERT_LE(0, lst);
	len = ip_addr(&ss, AF_INET, HOST_B4, 0);
	ASSERT_EQ(0, bind(lst, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(lst, 64));
	ASSERT_EQ(0, getsockname(lst, (struct sockaddr *)&ss, &len));
	for (long i = 0; i < conns; i++) {
		struct conn *k = &c[i];

		enter_netns("a");
		k->e[0].fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SDP);
		ASSERT_LE(0, k->e[0].fd);
		ASSERT_EQ(0, connect(k->e[0].fd, (struct sockaddr *)&ss, len))
			TH_LOG("connection %ld: connect: %s", i, strerror(errno));
		k->e[1].fd = accept(lst, NULL, NULL);
		ASSERT_LE(0, k->e[1].fd) TH_LOG("connection %ld: accept: %s", i, strerror(errno));
		k->ending = below(ENDINGS);
		counts[k->ending]++;
		for (int j = 0; j < 2; j++) {
			k->e[j].out_id = 2 * i + j;
			k->e[j].in_id = 2 * i + 1 - j;
			k->e[j].out_len = below(max_bytes + 1);
			fcntl(k->e[j].fd, F_SETFL, O_NONBLOCK);
		}
		if (k->ending == CLOSE_AFTER_SEND)
			k->e[1].out_len = 0;
		if (k->ending == RESET) {
			struct end *r = &k->e[below(2)];

			r->resets = 1;
			r->reset_at = below(r->out_len + 1);
		}
		for (int j = 0; j < 2; j++)
			k->e[j].in_len = k->e[1 - j].out_len;
	}
	close(lst);
	printf("# %ld connections up in %ld s: %d graceful, %d close after send, %d reset\n", conns,
	       (long)(time(NULL) - t0), counts[GRACEFUL], counts[CLOSE_AFTER_SEND], counts[RESET]);

	for (;;) {
		int open = 0;

		for (long i = 0; i < conns; i++)
			for (int j = 0; j < 2; j++) {
				struct end *e = &c[i].e[j];

				if (end_finished(e))
					continue;
				p[open].fd = e->fd;
				p[open].events = POLLIN | (e->shut || e->sent >= e->out_len ? 0 : POLLOUT);
				p[open].revents = 0;
				open++;
			}
		if (!open || time(NULL) - t0 > timeout)
			break;
		poll(p, open, 1000);
		for (long i = 0; i < conns; i++)
			for (int j = 0; j < 2; j++) {
				struct end *e = &c[i].e[j];

				if (e->fd < 0)
					continue;
				end_recv(e, buf);
				end_send(&c[i], e, buf);
				if (e->fd >= 0 && !e->error)
					end_recv(e, buf);
			}
	}
	for (long i = 0; i < conns; i++) {
		const char *v = verdict(&c[i]);

		bytes += c[i].e[0].received + c[i].e[1].received;
		if (v && failed++ < 10)
			TH_LOG("connection %ld (%s; %llu/%llu and %llu/%llu bytes received; errors %s, %s): %s", i,
			       ending_names[c[i].ending], (unsigned long long)c[i].e[0].received,
			       (unsigned long long)c[i].e[0].in_len, (unsigned long long)c[i].e[1].received,
			       (unsigned long long)c[i].e[1].in_len, strerrorname_np(c[i].e[0].error) ?: "-",
			       strerrorname_np(c[i].e[1].error) ?: "-", v);
	}
	printf("# %llu bytes checked in %ld s; %d of %ld connections wrong\n", (unsigned long long)bytes,
	       (long)(time(NULL) - t0), failed, conns);
	for (long i = 0; i < conns; i++)
		for (int j = 0; j < 2; j++)
			if (c[i].e[j].fd >= 0)
				close(c[i].e[j].fd);
	for (int h = 0; h < 2; h++)
		for (int t = 0; t < 2; t++)
			if (old[h][t][0])
				set_tunable(h ? "b" : "a", names[t], old[h][t], NULL, 0);
	EXPECT_EQ(0, failed);
}

TEST_HARNESS_MAIN
