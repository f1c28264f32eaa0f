// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib_rdma_peer: one end of an AF_IB SOCK_SEQPACKET connection busy with one-sided
 * RDMA, for the tests that take an RDMA device away under it (rdma_device_vanishes.sh).
 *
 *   af_ib_rdma_peer target IPV4 PORT
 *     listens, registers a megabyte for the peer's writes, sends its address and key,
 *     then blocks in recv() until the connection ends: prints "error ENAME" or "eof".
 *   af_ib_rdma_peer initiator IPV4 PORT
 *     connects, registers a local megabyte, and keeps 16 RDMA WRITEs of 64 KiB in
 *     flight (alternately from the registered region and from pinned iovec pages) until
 *     the connection fails; prints "running" after its first completion, then
 *     "error ENAME after N; reported R of P; vmpin A B C": N operations succeeded, R of
 *     the P it posted were reported on the error queue, and VmPin (kB) before
 *     registering, while running, and after close.
 *   af_ib_rdma_peer reader IPV4 PORT
 *   af_ib_rdma_peer read_on_accept IPV4 PORT
 *     an AF_IB SOCK_STREAM that connects (or listens, prints "listening" and accepts
 *     one connection), then asks for one RDMA READ of 4 KiB: prints "refused ENAME"
 *     if sendmsg() fails, "status N" once its completion is on the error queue, or
 *     "no completion" after 5 s; then resets the connection (SO_LINGER 0) and closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/infinisock.h>

#include "../sockutil.h"

#define REGION (1 << 20)
#define OP_LEN (64 << 10)
#define DEPTH 16

struct region_info {
	uint64_t addr;
	uint32_t rkey;
};

static void die(const char *what)
{
	printf("fail %s: %s\n", what, strerrorname_np(errno) ?: "?");
	exit(1);
}

static int reg(int fd, void *addr, unsigned int access, struct infinisock_mr_reg *out)
{
	*out = (struct infinisock_mr_reg){ .addr = (uintptr_t)addr, .len = REGION, .access = access };
	return ioctl(fd, INFINISOCK_MR_REG, out);
}

static int target(struct sockaddr_in *sin)
{
	struct infinisock_mr_reg mr;
	struct region_info info;
	int lfd = socket(AF_IB, SOCK_SEQPACKET, 0), fd;
	char *mem = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char buf[64];
	ssize_t n;

	if (lfd < 0 || mem == MAP_FAILED)
		die("socket");
	if (bind(lfd, (struct sockaddr *)sin, sizeof(*sin)) || listen(lfd, 1))
		die("listen");
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	if (reg(fd, mem, INFINISOCK_ACCESS_REMOTE_WRITE, &mr))
		die("register");
	info = (struct region_info){ .addr = mr.addr, .rkey = mr.rkey };
	if (send(fd, &info, sizeof(info), 0) != sizeof(info))
		die("send");
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0);
	if (n == 0)
		printf("eof\n");
	else
		printf("error %s\n", strerrorname_np(errno) ?: "?");
	return 0;
}

/* Posts one WRITE of OP_LEN bytes at `local`; returns sendmsg()'s result. */
static ssize_t post_write(int fd, char *local, const struct region_info *to, uint64_t token, int in_region)
{
	char control[CMSG_SPACE(sizeof(struct infinisock_rdma))] = { 0 };
	struct iovec iov = { local, OP_LEN };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct infinisock_rdma a = { .remote_addr = to->addr + (token % (REGION / OP_LEN)) * OP_LEN,
				     .rkey = to->rkey, .op = INFINISOCK_RDMA_WRITE, .token = token,
				     .flags = in_region ? INFINISOCK_RDMA_REGION : 0 };

	c->cmsg_level = SOL_INFINISOCK;
	c->cmsg_type = INFINISOCK_CMSG_RDMA;
	c->cmsg_len = CMSG_LEN(sizeof(a));
	memcpy(CMSG_DATA(c), &a, sizeof(a));
	return sendmsg(fd, &mh, MSG_DONTWAIT);
}

/* Reads the completions waiting; counts them and the failed ones' first errno. */
static int reap(int fd, long *ok, int *first_err)
{
	char control[DEPTH * CMSG_SPACE(sizeof(struct infinisock_rdma_status))];
	struct msghdr mh = { .msg_control = control, .msg_controllen = sizeof(control) };
	int n = 0;

	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct infinisock_rdma_status st;

		memcpy(&st, CMSG_DATA(c), sizeof(st));
		if (st.status == 0)
			(*ok)++;
		else if (!*first_err)
			*first_err = st.status;
		n++;
	}
	return n;
}

static int initiator(struct sockaddr_in *sin)
{
	char *local = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long pin_before = vm_pin_kb(), pin_running, ok = 0, posted = 0, reported = 0;
	int fd = socket(AF_IB, SOCK_SEQPACKET, 0), err = 0, failed = 0, running = 0;
	struct infinisock_mr_reg mine;
	struct region_info to;

	if (fd < 0 || local == MAP_FAILED)
		die("socket");
	memset(local, 0x5a, REGION);
	if (connect(fd, (struct sockaddr *)sin, sizeof(*sin)))
		die("connect");
	if (recv(fd, &to, sizeof(to), 0) != sizeof(to))
		die("recv");
	if (reg(fd, local, INFINISOCK_ACCESS_LOCAL_WRITE, &mine))
		die("register");
	pin_running = vm_pin_kb();
	while (!err) {
		struct pollfd p = { .fd = fd, .events = 0 };

		while (posted - reported < DEPTH) {
			int in_region = posted % 2 == 0;

			if (post_write(fd, local + (posted % (REGION / OP_LEN)) * OP_LEN, &to, posted, in_region) < 0) {
				if (errno != EAGAIN)
					err = errno;
				break;
			}
			posted++;
		}
		if (err)
			break;
		poll(&p, 1, 1000);
		reported += reap(fd, &ok, &failed);
		if (ok && !running) {
			printf("running\n");
			fflush(stdout);
			running = 1;
		}
		if (failed)
			err = failed;
	}
	/* Every operation posted ends with a record: give the flushes a moment. */
	for (int i = 0; i < 100 && reported < posted; i++) {
		struct pollfd p = { .fd = fd, .events = 0 };

		poll(&p, 1, 100);
		reported += reap(fd, &ok, &failed);
	}
	close(fd);
	/* The registration goes with the connection's teardown, after close. */
	for (int i = 0; i < 100 && vm_pin_kb() > pin_before; i++)
		usleep(100000);
	errno = err;
	printf("error %s after %ld; reported %ld of %ld; vmpin %ld %ld %ld\n", strerrorname_np(err) ?: "?", ok,
	       reported, posted, pin_before, pin_running, vm_pin_kb());
	munmap(local, REGION);
	return 0;
}

/* One RDMA READ on a connected AF_IB stream, and what came of it. */
static int read_once(int fd)
{
	static char local[4096];
	char control[CMSG_SPACE(sizeof(struct infinisock_rdma))] = { 0 };
	struct iovec iov = { local, sizeof(local) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct infinisock_rdma a = { .remote_addr = 0x10000, .rkey = 1, .op = INFINISOCK_RDMA_READ, .token = 7 };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	int i;

	c->cmsg_level = SOL_INFINISOCK;
	c->cmsg_type = INFINISOCK_CMSG_RDMA;
	c->cmsg_len = CMSG_LEN(sizeof(a));
	memcpy(CMSG_DATA(c), &a, sizeof(a));
	if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0) {
		printf("refused %s\n", strerrorname_np(errno) ?: "?");
	} else {
		for (i = 0; i < 50; i++) {
			char ctl[CMSG_SPACE(sizeof(struct infinisock_rdma_status))];
			struct msghdr em = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
			struct pollfd p = { .fd = fd, .events = 0 };
			struct infinisock_rdma_status st;

			poll(&p, 1, 100);
			if (recvmsg(fd, &em, MSG_ERRQUEUE | MSG_DONTWAIT) < 0 || !CMSG_FIRSTHDR(&em))
				continue;
			memcpy(&st, CMSG_DATA(CMSG_FIRSTHDR(&em)), sizeof(st));
			printf("status %d\n", st.status);
			break;
		}
		if (i == 50)
			printf("no completion\n");
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	return 0;
}

static int reader(struct sockaddr_in *sin, int passive)
{
	int fd = socket(AF_IB, SOCK_STREAM, 0), lfd = fd;

	if (fd < 0)
		die("socket");
	if (passive) {
		if (bind(lfd, (struct sockaddr *)sin, sizeof(*sin)) || listen(lfd, 1))
			die("listen");
		printf("listening\n");
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
		close(lfd);
	} else if (connect(fd, (struct sockaddr *)sin, sizeof(*sin))) {
		die("connect");
	}
	return read_once(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: %s target|initiator IPV4 PORT\n", argv[0]);
		return 2;
	}
	sin.sin_port = htons(atoi(argv[3]));
	if (!strcmp(argv[1], "target"))
		return target(&sin);
	if (!strcmp(argv[1], "initiator"))
		return initiator(&sin);
	if (!strcmp(argv[1], "reader") || !strcmp(argv[1], "read_on_accept"))
		return reader(&sin, !strcmp(argv[1], "read_on_accept"));
	fprintf(stderr, "usage: %s target|initiator|reader|read_on_accept IPV4 PORT\n", argv[0]);
	return 2;
}
