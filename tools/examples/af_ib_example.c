// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib_example: the AF_IB socket API in one small program, to read from top to
 * bottom. No verbs library: only socket calls.
 *
 *   af_ib_example server IPV4_ADDRESS PORT     (prints what the client wrote)
 *   af_ib_example client IPV4_ADDRESS PORT     (the server's address)
 *
 * 1. Both ends use SOCK_SEQPACKET: reliable messages, one send() = one recv().
 *    Addresses are struct sockaddr_ib: on RoCE the GID of an IPv4 address is
 *    ::ffff:a.b.c.d, and the port goes in the service ID (INFINISOCK_SID_PS_IB + port).
 * 2. The server registers a buffer for the peer's RDMA (INFINISOCK_MR_REG) and sends
 *    its address and key to the client in a message.
 * 3. The client RDMA-WRITEs a greeting straight into that buffer, with immediate data
 *    that tells the server it is there, and learns of its completion on the error
 *    queue. Then it RDMA-READs the buffer back to check it, twice: into a buffer the
 *    kernel pins for that one operation, and into a buffer the client registered
 *    itself (INFINISOCK_RDMA_REGION), the cheaper way for buffers used again and again.
 * 4. The server's recv() returns the immediate data as a control message; it prints
 *    its buffer and answers with a message.
 *
 * Build: cc -I include/uapi -o af_ib_example tools/examples/af_ib_example.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <endian.h>

#include <linux/infinisock.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The sockaddr_ib of an IPv4 address and a port of the message sockets' port space. */
static struct sockaddr_ib ib_address(const char *ipv4, int port)
{
	struct sockaddr_ib sib = { .sib_family = AF_IB, .sib_pkey = htons(0xffff) };

	sib.sib_addr.sib_addr8[10] = 0xff;
	sib.sib_addr.sib_addr8[11] = 0xff;
	if (inet_pton(AF_INET, ipv4, &sib.sib_addr.sib_addr8[12]) != 1) {
		fprintf(stderr, "not an IPv4 address: %s\n", ipv4);
		exit(2);
	}
	sib.sib_sid = htobe64(INFINISOCK_SID_PS_IB + port);
	sib.sib_sid_mask = htobe64(~0ULL);
	return sib;
}

/* What the server sends the client: where its registered buffer is. */
struct region {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
};

/* One RDMA operation: sendmsg() with the local buffer as the iovec and the remote side
 * in an INFINISOCK_CMSG_RDMA control message. */
static void rdma(int fd, uint32_t op, void *buf, size_t len, const struct region *r, uint64_t token, uint32_t imm,
		 uint32_t flags)
{
	struct infinisock_rdma args = { .remote_addr = r->addr, .rkey = r->rkey, .op = op, .token = token, .imm = imm,
					.flags = flags };
	char control[CMSG_SPACE(sizeof(args))] = { 0 };
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_INFINISOCK;
	c->cmsg_type = INFINISOCK_CMSG_RDMA;
	c->cmsg_len = CMSG_LEN(sizeof(args));
	memcpy(CMSG_DATA(c), &args, sizeof(args));
	if (sendmsg(fd, &msg, 0) != (ssize_t)len)
		die("sendmsg(INFINISOCK_CMSG_RDMA)");
}

/* Waits for the next RDMA completion (POLLERR), reads it from the error queue. */
static struct infinisock_rdma_status wait_completion(int fd)
{
	struct infinisock_rdma_status st;
	char control[CMSG_SPACE(sizeof(st))];
	struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
	struct pollfd p = { .fd = fd };

	if (poll(&p, 1, 10000) != 1 || recvmsg(fd, &msg, MSG_ERRQUEUE) < 0 || !CMSG_FIRSTHDR(&msg))
		die("waiting for the RDMA completion");
	memcpy(&st, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(st));
	if (st.status) {
		errno = st.status;
		die("RDMA operation");
	}
	return st;
}

static int server(const char *ipv4, int port)
{
	struct sockaddr_ib addr = ib_address(ipv4, port);
	static char buffer[4096];
	struct infinisock_mr_reg reg = { .addr = (uintptr_t)buffer, .len = sizeof(buffer),
					 .access = INFINISOCK_ACCESS_REMOTE_READ | INFINISOCK_ACCESS_REMOTE_WRITE };
	struct infinisock_imm imm;
	char control[CMSG_SPACE(sizeof(imm))];
	struct iovec iov = { buffer, 0 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	int lfd, fd;

	lfd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1))
		die("socket/bind/listen");
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");

	/* Register the buffer and tell the client where it is. */
	if (ioctl(fd, INFINISOCK_MR_REG, &reg))
		die("INFINISOCK_MR_REG");
	struct region r = { .addr = reg.addr, .rkey = reg.rkey, .len = reg.len };

	if (send(fd, &r, sizeof(r), 0) != sizeof(r))
		die("send region");

	/* The client's RDMA WRITE with immediate: recvmsg() returns 0 bytes and the
	 * immediate data as a control message, once the written bytes are in place. */
	if (recvmsg(fd, &msg, 0) != 0 || !CMSG_FIRSTHDR(&msg) ||
	    CMSG_FIRSTHDR(&msg)->cmsg_type != INFINISOCK_CMSG_IMM)
		die("recvmsg: expected the immediate data");
	memcpy(&imm, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(imm));
	printf("immediate %u, %u bytes written: %.*s\n", imm.imm, imm.len, (int)imm.len, buffer);

	/* Wait for the client's read-back to finish, then answer and close. */
	char word[16] = "";

	if (recv(fd, word, sizeof(word) - 1, 0) <= 0)
		die("recv");
	if (send(fd, "thanks", 6, 0) != 6)
		die("send");
	ioctl(fd, INFINISOCK_MR_DEREG, &reg.handle);
	close(fd);
	close(lfd);
	return 0;
}

static int client(const char *ipv4, int port)
{
	struct sockaddr_ib addr = ib_address(ipv4, port);
	static char again[4096];
	char greeting[] = "hello over RDMA", back[sizeof(greeting)] = "", reply[16] = "";
	struct infinisock_rdma_status st;
	struct region r;
	int fd;

	fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("socket/connect");
	if (recv(fd, &r, sizeof(r), 0) != sizeof(r))
		die("recv region");

	/* Write the greeting into the server's buffer; the immediate (42) wakes it. */
	rdma(fd, INFINISOCK_RDMA_WRITE_IMM, greeting, strlen(greeting), &r, 1, 42, 0);
	st = wait_completion(fd);
	printf("write %llu done: %u bytes\n", (unsigned long long)st.token, st.len);

	/* Read it back from the server's memory. */
	rdma(fd, INFINISOCK_RDMA_READ, back, strlen(greeting), &r, 2, 0, 0);
	st = wait_completion(fd);
	printf("read %llu done: %s\n", (unsigned long long)st.token, back);

	/* Again into a buffer registered for our own READs: the operation uses that
	 * registration and pins nothing. */
	struct infinisock_mr_reg mine = { .addr = (uintptr_t)again, .len = sizeof(again),
					  .access = INFINISOCK_ACCESS_LOCAL_WRITE };

	if (ioctl(fd, INFINISOCK_MR_REG, &mine))
		die("INFINISOCK_MR_REG (local)");
	rdma(fd, INFINISOCK_RDMA_READ, again, strlen(greeting), &r, 3, 0, INFINISOCK_RDMA_REGION);
	st = wait_completion(fd);
	printf("read %llu done: %s\n", (unsigned long long)st.token, again);

	if (send(fd, "done", 4, 0) != 4 || recv(fd, reply, sizeof(reply) - 1, 0) <= 0)
		die("send/recv");
	printf("server says: %s\n", reply);
	close(fd);
	return strcmp(back, greeting) != 0 || strcmp(again, greeting) != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: %s server|client IPV4_ADDRESS PORT\n", argv[0]);
	return 2;
}
