// SPDX-License-Identifier: GPL-2.0
/*
 * SDP sockets over sock_diag (NETLINK_SOCK_DIAG, inet_diag with INET_DIAG_REQ_PROTOCOL
 * IPPROTO_SDP or IPPROTO_SDP_HYBRID), as `ss` lists TCP's (hosts.h: host a connects to
 * host b):
 *
 * - listeners and connections of both IP versions, each once, with their addresses,
 *   state, queues, cookie (SO_COOKIE), inode and owner, and struct infinisock_sdp_info:
 *   phase, byte counts, the RDMA device and the queue pairs of both ends, which match;
 * - the request's filters: states, family, ports, bytecode, one socket by cookie
 *   (ENOENT for one that is gone);
 * - each namespace sees its own sockets; AF_IB streams (protocol 258 too) and hybrid
 *   ones are not in the SDP dump, hybrid ones are in their own with their transport;
 * - a dump read in many batches while sockets come and go lists every socket that
 *   lived through it exactly once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "stream.h"

#define MAX_ROWS 256
#define ALL_STATES 0xfff

struct row {
	struct inet_diag_msg msg;
	struct infinisock_sdp_info info;
	int info_len; /* -1: no INET_DIAG_INFO */
	int shutdown; /* INET_DIAG_SHUTDOWN, -1: none */
	long long mark; /* INET_DIAG_MARK, -1: none */
};

/* A NETLINK_SOCK_DIAG socket in host `ns` (NULL: the initial namespace; "": this one). */
static int diag_socket(const char *ns)
{
	int fd;

	if (ns && !*ns) {
		/* The caller's own namespace. */
	} else if (ns) {
		enter_netns(ns);
	} else {
		fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			return -1;
		close(fd);
	}
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

struct request {
	int family, protocol;
	uint32_t states;
	uint8_t ext;
	bool one; /* an exact lookup by id (cookie) instead of a dump */
	struct inet_diag_sockid id;
	const void *bytecode;
	int bytecode_len;
};

struct request_msg {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
	struct nlattr proto_attr;
	uint32_t proto;
	struct nlattr bc_attr;
	char bc[256];
};

static int diag_send(int nl, const struct request *r)
{
	struct request_msg msg;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int len = offsetof(struct request_msg, bc_attr);


	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | (r->one ? 0 : NLM_F_DUMP);
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = r->family;
	/* The real number does not fit in the __u8: the attribute carries it. */
	msg.req.sdiag_protocol = IPPROTO_RAW;
	msg.req.idiag_states = r->states;
	msg.req.idiag_ext = r->ext;
	msg.req.id = r->id;
	msg.proto_attr.nla_type = INET_DIAG_REQ_PROTOCOL;
	msg.proto_attr.nla_len = NLA_HDRLEN + sizeof(uint32_t);
	msg.proto = r->protocol;
	if (r->bytecode) {
		msg.bc_attr.nla_type = INET_DIAG_REQ_BYTECODE;
		msg.bc_attr.nla_len = NLA_HDRLEN + r->bytecode_len;
		memcpy(msg.bc, r->bytecode, r->bytecode_len);
		len += NLA_ALIGN(msg.bc_attr.nla_len);
	}
	msg.nlh.nlmsg_len = len;
	return sendto(nl, &msg, len, 0, (struct sockaddr *)&sa, sizeof(sa)) == len ? 0 : -errno;
}

/*
 * Reads replies with `bufsize`-byte reads, at most `reads` of them (0: until the end),
 * appending rows to rows[*n]. Returns 1 at NLMSG_DONE, 0 if reads ran out first, or the
 * -errno of an NLMSG_ERROR (0 in an error message acknowledges an exact lookup).
 */
static int diag_read(int nl, struct row *rows, int *n, size_t bufsize, int reads)
{
	static char buf[1 << 16];

	for (int i = 0; !reads || i < reads; i++) {
		ssize_t len = recv(nl, buf, bufsize, 0);
		struct nlmsghdr *h;

		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 1;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (*n >= MAX_ROWS)
				return -E2BIG;
			struct row *row = &rows[(*n)++];
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a = (struct rtattr *)(m + 1);
			int alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

			memset(row, 0, sizeof(*row));
			row->msg = *m;
			row->info_len = -1;
			row->shutdown = -1;
			row->mark = -1;
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == INET_DIAG_SHUTDOWN)
					row->shutdown = *(uint8_t *)RTA_DATA(a);
				if (a->rta_type == INET_DIAG_MARK)
					row->mark = *(uint32_t *)RTA_DATA(a);
				if (a->rta_type != INET_DIAG_INFO)
					continue;
				row->info_len = RTA_PAYLOAD(a);
				memcpy(&row->info, RTA_DATA(a),
				       row->info_len < (int)sizeof(row->info) ? row->info_len : (int)sizeof(row->info));
			}
			/* An exact lookup answers one message, then nothing. */
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				return 1;
		}
	}
	return 0;
}

/* A whole dump from host `ns`; the number of rows or -errno. */
static int dump(const char *ns, const struct request *r, struct row *rows)
{
	int nl = diag_socket(ns), n = 0, rc;

	if (nl < 0)
		return -errno;
	rc = diag_send(nl, r);
	if (!rc)
		rc = diag_read(nl, rows, &n, 32768, 0);
	close(nl);
	return rc < 0 ? rc : n;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len);
	return c;
}

static uint64_t row_cookie(const struct row *r)
{
	return (uint64_t)r->msg.id.idiag_cookie[1] << 32 | r->msg.id.idiag_cookie[0];
}

static const struct row *find(const struct row *rows, int n, uint64_t cookie)
{
	for (int i = 0; i < n; i++)
		if (row_cookie(&rows[i]) == cookie)
			return &rows[i];
	return NULL;
}

static int count(const struct row *rows, int n, uint64_t cookie)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += row_cookie(&rows[i]) == cookie;
	return c;
}

static ino_t inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The row's address `which` (idiag_src or idiag_dst) as text. */
static const char *addr_text(const struct row *r, bool dst, char *buf)
{
	const void *a = dst ? r->msg.id.idiag_dst : r->msg.id.idiag_src;

	return inet_ntop(r->msg.idiag_family, a, buf, INET6_ADDRSTRLEN);
}

FIXTURE(diag)
{
	int listener, client, child;
};

FIXTURE_VARIANT(diag)
{
	int family;
	const char *a, *b;
};

FIXTURE_VARIANT_ADD(diag, ipv4)
{
	.family = AF_INET, .a = HOST_A4, .b = HOST_B4,
};

FIXTURE_VARIANT_ADD(diag, ipv6)
{
	.family = AF_INET6, .a = HOST_A6, .b = HOST_B6,
};

FIXTURE_SETUP(diag)
{
	self->listener = listen_b(variant->family, variant->b, 0, 16);
	ASSERT_LE(0, self->listener);
	self->client = connect_a(variant->family, variant->b, port_of(self->listener));
	ASSERT_LE(0, self->client);
	self->child = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->child);
}

FIXTURE_TEARDOWN(diag)
{
	close(self->child);
	close(self->client);
	close(self->listener);
}

/* Every SDP socket once, with what the program can see of it by other means. */
TEST_F(diag, lists_listeners_and_connections)
{
	static struct row rows[MAX_ROWS];
	struct request r = { .family = variant->family, .protocol = IPPROTO_SDP, .states = ALL_STATES,
			     .ext = 1 << (INET_DIAG_INFO - 1) };
	const struct row *l, *c, *s;
	char buf[INET6_ADDRSTRLEN];
	struct row client;
	int port = port_of(self->listener), n;
	char data[1000] = { 1 };

	ASSERT_EQ((ssize_t)sizeof(data), send(self->client, data, sizeof(data), 0));
	ASSERT_EQ((ssize_t)sizeof(data), recv(self->child, data, sizeof(data), MSG_WAITALL));
	/* Unread bytes show in the receive queue. */
	ASSERT_EQ(300, send(self->child, data, 300, 0));

	/*
	 * The child's 300 bytes arrive at the client in the background, and a socket whose
	 * lock is held at that moment (a reap, a credit update) reads as busy: dump again.
	 */
	for (int i = 0; i < 100; i++) {
		n = dump("a", &r, rows);
		ASSERT_NE(NULL, c = find(rows, n, cookie_of(self->client)));
		client = *c;
		if (client.msg.idiag_rqueue == 300u && !(client.info.isi_flags & INFINISOCK_DIAG_F_BUSY))
			break;
		usleep(20000);
	}
	EXPECT_EQ(1, count(rows, n, cookie_of(self->client)));
	EXPECT_EQ(300u, client.msg.idiag_rqueue);
	EXPECT_EQ(variant->family, client.msg.idiag_family);
	EXPECT_EQ(TCP_ESTABLISHED, client.msg.idiag_state);
	EXPECT_EQ(port, ntohs(client.msg.id.idiag_dport));
	EXPECT_EQ(port_of(self->client), ntohs(client.msg.id.idiag_sport));
	EXPECT_STREQ(variant->a, addr_text(&client, false, buf));
	EXPECT_STREQ(variant->b, addr_text(&client, true, buf));
	EXPECT_EQ(inode_of(self->client), client.msg.idiag_inode);
	EXPECT_EQ(getuid(), client.msg.idiag_uid);
	ASSERT_EQ((int)sizeof(struct infinisock_sdp_info), client.info_len);
	EXPECT_EQ((unsigned int)INFINISOCK_PHASE_CONNECTED, client.info.isi_phase);
	EXPECT_EQ(0u, client.info.isi_flags);
	EXPECT_EQ(0u, client.info.isi_transport);
	EXPECT_EQ(1000ull, client.info.isi_bytes_sent);
	EXPECT_STREQ("rxea", client.info.isi_device);
	EXPECT_LT(0u, client.info.isi_qp_num);
	EXPECT_LT(0u, client.info.isi_buf_size);
	EXPECT_LT(0u, client.info.isi_recv_bufs);

	for (int i = 0; i < 100; i++) {
		n = dump("b", &r, rows);
		l = find(rows, n, cookie_of(self->listener));
		s = find(rows, n, cookie_of(self->child));
		ASSERT_NE(NULL, l);
		ASSERT_NE(NULL, s);
		if (!((l->info.isi_flags | s->info.isi_flags) & INFINISOCK_DIAG_F_BUSY))
			break;
		usleep(20000);
	}
	EXPECT_EQ(TCP_LISTEN, l->msg.idiag_state);
	EXPECT_EQ(port, ntohs(l->msg.id.idiag_sport));
	EXPECT_EQ(0, l->msg.id.idiag_dport);
	EXPECT_STREQ(variant->b, addr_text(l, false, buf));
	EXPECT_EQ(16u, l->msg.idiag_wqueue); /* the backlog, as ss shows TCP's */
	EXPECT_EQ(0u, l->msg.idiag_rqueue);
	EXPECT_EQ((unsigned int)INFINISOCK_PHASE_LISTENING, l->info.isi_phase);
	EXPECT_EQ(TCP_ESTABLISHED, s->msg.idiag_state);
	EXPECT_EQ(port, ntohs(s->msg.id.idiag_sport));
	EXPECT_EQ(port_of(self->client), ntohs(s->msg.id.idiag_dport));
	EXPECT_STREQ(variant->a, addr_text(s, true, buf));
	EXPECT_EQ(inode_of(self->child), s->msg.idiag_inode);
	EXPECT_EQ(1000ull, s->info.isi_bytes_received);
	EXPECT_EQ(300ull, s->info.isi_bytes_sent);
	EXPECT_STREQ("rxeb", s->info.isi_device);
	/* Both ends name the same queue pairs. */
	EXPECT_EQ(client.info.isi_qp_num, s->info.isi_peer_qp_num);
	EXPECT_EQ(s->info.isi_qp_num, client.info.isi_peer_qp_num);

	/* Without INET_DIAG_INFO in idiag_ext, no info. */
	r.ext = 0;
	n = dump("a", &r, rows);
	ASSERT_NE(NULL, c = find(rows, n, cookie_of(self->client)));
	EXPECT_EQ(-1, c->info_len);

	EXPECT_EQ(0, c->shutdown);

	/* A shut-down direction shows in INET_DIAG_SHUTDOWN (SEND_SHUTDOWN) and the flags. */
	ASSERT_EQ(0, shutdown(self->client, SHUT_WR));
	r.ext = 1 << (INET_DIAG_INFO - 1);
	for (int i = 0; i < 100; i++) {
		n = dump("a", &r, rows);
		ASSERT_NE(NULL, c = find(rows, n, cookie_of(self->client)));
		if (!(c->info.isi_flags & INFINISOCK_DIAG_F_BUSY))
			break;
		usleep(20000);
	}
	EXPECT_EQ(2, c->shutdown);
	EXPECT_NE(0u, c->info.isi_flags & (INFINISOCK_DIAG_F_FIN_SENT | INFINISOCK_DIAG_F_FIN_PENDING));
}

/* What the request filters on: states, family, ports, bytecode, one cookie. */
TEST_F(diag, filters)
{
	static struct row rows[MAX_ROWS];
	struct request r = { .family = variant->family, .protocol = IPPROTO_SDP, .states = 1 << TCP_LISTEN };
	int other = variant->family == AF_INET ? AF_INET6 : AF_INET;
	int port = port_of(self->listener), n;

	n = dump("b", &r, rows);
	ASSERT_LE(1, n);
	EXPECT_NE(NULL, find(rows, n, cookie_of(self->listener)));
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->child)));
	for (int i = 0; i < n; i++)
		EXPECT_EQ(TCP_LISTEN, rows[i].msg.idiag_state);

	r.states = 1 << TCP_ESTABLISHED;
	n = dump("b", &r, rows);
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->listener)));
	EXPECT_NE(NULL, find(rows, n, cookie_of(self->child)));

	/* The other family's dump has neither. */
	r.family = other;
	r.states = ALL_STATES;
	n = dump("b", &r, rows);
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->listener)));
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->child)));

	/* Ports in the request's id (network order), as ss -K or a dport filter sends them. */
	r.family = variant->family;
	r.id.idiag_dport = htons(port);
	n = dump("a", &r, rows);
	ASSERT_EQ(1, n);
	EXPECT_EQ(cookie_of(self->client), row_cookie(&rows[0]));
	r.id.idiag_dport = htons(port == 65535 ? 1 : port + 1);
	EXPECT_EQ(0, dump("a", &r, rows));
	r.id.idiag_dport = 0;

	/* Bytecode: destination port >= port, and <= port (one socket: the client). */
	struct inet_diag_bc_op bc[4] = {
		{ .code = INET_DIAG_BC_D_GE, .yes = 8, .no = 8 + 8 + 4 }, { .no = port },
		{ .code = INET_DIAG_BC_D_LE, .yes = 8, .no = 8 + 4 }, { .no = port },
	};
	r.bytecode = bc;
	r.bytecode_len = sizeof(bc);
	n = dump("a", &r, rows);
	ASSERT_EQ(1, n);
	EXPECT_EQ(cookie_of(self->client), row_cookie(&rows[0]));
	bc[1].no = bc[3].no = port == 65535 ? 1 : port + 1;
	EXPECT_EQ(0, dump("a", &r, rows));
	r.bytecode = NULL;

	/*
	 * Another user sees the socket and its owner, but its mark only a requester with
	 * CAP_NET_ADMIN does, as for TCP.
	 */
	uint32_t mark = 0x77;
	pid_t pid;
	int status;

	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)));
	r.id.idiag_dport = htons(port);
	n = dump("a", &r, rows);
	ASSERT_EQ(1, n);
	EXPECT_EQ(0x77, rows[0].mark);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		enter_netns("a");
		if (setgid(65534) || setuid(65534))
			_exit(10);
		n = dump("", &r, rows);
		_exit(n != 1 ? 11 : rows[0].mark != -1 ? 12 : rows[0].msg.idiag_uid != 0 ? 13 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("unprivileged dump: exit %d", WEXITSTATUS(status));
	r.id.idiag_dport = 0;

	/* One socket by its cookie, with its info. */
	uint64_t cookie = cookie_of(self->child);
	struct request one = { .family = variant->family, .protocol = IPPROTO_SDP, .one = true,
			       .ext = 1 << (INET_DIAG_INFO - 1) };
	one.id.idiag_cookie[0] = (uint32_t)cookie;
	one.id.idiag_cookie[1] = cookie >> 32;
	n = dump("b", &one, rows);
	ASSERT_EQ(1, n);
	EXPECT_EQ(cookie, row_cookie(&rows[0]));
	EXPECT_EQ((unsigned int)INFINISOCK_PHASE_CONNECTED, rows[0].info.isi_phase);
	/* Not from the other host, nor a cookie no SDP socket has. */
	EXPECT_EQ(-ENOENT, dump("a", &one, rows));
	/* Cookie 0 is no socket's, not that of one whose cookie nobody asked for yet. */
	int fresh = sdp_socket("b", variant->family);

	ASSERT_LE(0, fresh);
	one.id.idiag_cookie[0] = one.id.idiag_cookie[1] = 0;
	EXPECT_EQ(-ENOENT, dump("b", &one, rows));
	close(fresh);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);

	cookie = cookie_of(udp);
	one.id.idiag_cookie[0] = (uint32_t)cookie;
	one.id.idiag_cookie[1] = cookie >> 32;
	EXPECT_EQ(-ENOENT, dump("b", &one, rows));
	close(udp);
}

/* A namespace lists its own sockets only; AF_IB and hybrid streams are not SDP's. */
TEST_F(diag, namespaces_and_protocols)
{
	static struct row rows[MAX_ROWS];
	struct request r = { .family = variant->family, .protocol = IPPROTO_SDP, .states = ALL_STATES,
			     .ext = 1 << (INET_DIAG_INFO - 1) };
	struct sockaddr_ib sib;
	int n, ib, hybrid, value;
	socklen_t len = sizeof(value);
	struct sockaddr_storage ss;

	n = dump(NULL, &r, rows);
	EXPECT_EQ(NULL, find(rows, n < 0 ? 0 : n, cookie_of(self->client)));
	EXPECT_EQ(NULL, find(rows, n < 0 ? 0 : n, cookie_of(self->listener)));
	n = dump("a", &r, rows);
	EXPECT_NE(NULL, find(rows, n, cookie_of(self->client)));
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->listener)));

	/* An AF_IB stream listener (also protocol 258) and a hybrid one on host b. */
	enter_netns("b");
	ib = socket(AF_IB, SOCK_STREAM, 0);
	ASSERT_LE(0, ib);
	ASSERT_EQ(0, bind(ib, (struct sockaddr *)&sib, ib_addr(&sib, variant->family, variant->b, 0,
								  INFINISOCK_SID_PS_TCP)));
	ASSERT_EQ(0, listen(ib, 4));
	/* Host b's policy leaves listeners to TCP (the default, set again here). */
	int policy = open("/proc/sys/net/infinisock/sdp_transparent", O_RDWR);
	char saved[8] = "0";

	ASSERT_LE(0, policy);
	ASSERT_LT(0, read(policy, saved, sizeof(saved) - 1));
	ASSERT_EQ(1, pwrite(policy, "0", 1, 0));
	hybrid = socket(variant->family, SOCK_STREAM, IPPROTO_SDP_HYBRID);
	ASSERT_LE(0, hybrid);
	ASSERT_EQ(0, bind(hybrid, (struct sockaddr *)&ss, ip_addr(&ss, variant->family, variant->b, 0)));
	ASSERT_EQ(0, listen(hybrid, 4));
	ASSERT_EQ((ssize_t)strlen(saved), pwrite(policy, saved, strlen(saved), 0));
	close(policy);
	n = dump("b", &r, rows);
	EXPECT_NE(NULL, find(rows, n, cookie_of(self->listener)));
	EXPECT_EQ(NULL, find(rows, n, cookie_of(ib)));
	EXPECT_EQ(NULL, find(rows, n, cookie_of(hybrid)));

	r.protocol = IPPROTO_SDP_HYBRID;
	n = dump("b", &r, rows);
	ASSERT_LE(1, n);
	EXPECT_EQ(NULL, find(rows, n, cookie_of(self->listener)));
	ASSERT_EQ(0, getsockopt(hybrid, SOL_INFINISOCK, INFINISOCK_TRANSPORT, &value, &len));
	const struct row *h = find(rows, n, cookie_of(hybrid));

	ASSERT_NE(NULL, h);
	EXPECT_EQ(TCP_LISTEN, h->msg.idiag_state);
	EXPECT_EQ((unsigned int)value, h->info.isi_transport);
	/* A hybrid on TCP names its TCP socket, which TCP's own dump lists on its port. */
	ASSERT_EQ(INFINISOCK_TRANSPORT_TCP | INFINISOCK_FALLBACK_POLICY << 8, value);
	uint64_t tcp_cookie = h->info.isi_tcp_cookie;

	ASSERT_NE(0ull, (unsigned long long)tcp_cookie);
	r.protocol = IPPROTO_TCP;
	n = dump("b", &r, rows);
	h = find(rows, n, tcp_cookie);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(TCP_LISTEN, h->msg.idiag_state);
	EXPECT_EQ(port_of(hybrid), ntohs(h->msg.id.idiag_sport));
	close(hybrid);
	close(ib);
}

/*
 * A dump read one batch at a time while sockets come and go: each socket that lived
 * through it is listed exactly once, and none twice.
 */
TEST(dump_in_batches_while_sockets_come_and_go)
{
	static struct row rows[MAX_ROWS];
	enum { N = 60 };
	int fds[N], extra[10], nl, n = 0, rc, first;
	struct request r = { .family = AF_INET, .protocol = IPPROTO_SDP, .states = ALL_STATES,
			     .ext = 1 << (INET_DIAG_INFO - 1) };
	struct sockaddr_storage ss;
	uint64_t cookies[N];

	for (int i = 0; i < N; i++) {
		fds[i] = sdp_socket("a", AF_INET);
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, bind(fds[i], (struct sockaddr *)&ss, ip_addr(&ss, AF_INET, HOST_A4, 0)));
		cookies[i] = cookie_of(fds[i]);
	}
	nl = diag_socket("a");
	ASSERT_LE(0, nl);
	ASSERT_EQ(0, diag_send(nl, &r));
	/* One small read: the kernel fills at most one batch per read. */
	ASSERT_EQ(0, diag_read(nl, rows, &n, 4096, 1));
	first = n;
	ASSERT_LT(0, first);
	ASSERT_GT(N, first);
	/* Close five sockets seen and five not yet seen, and open ten new ones. */
	for (int i = 0; i < N; i++) {
		bool seen = find(rows, n, cookies[i]) != NULL;
		static int closed_seen, closed_unseen;

		if ((seen && closed_seen < 5) || (!seen && closed_unseen < 5)) {
			*(seen ? &closed_seen : &closed_unseen) += 1;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (int i = 0; i < 10; i++) {
		extra[i] = sdp_socket("a", AF_INET);
		ASSERT_LE(0, extra[i]);
	}
	do
		rc = diag_read(nl, rows, &n, 4096, 1);
	while (rc == 0);
	ASSERT_EQ(1, rc);
	close(nl);
	for (int i = 0; i < N; i++) {
		if (fds[i] >= 0) {
			EXPECT_EQ(1, count(rows, n, cookies[i]));
		} else {
			EXPECT_GE(1, count(rows, n, cookies[i]));
		}
	}
	for (int i = 0; i < n; i++)
		EXPECT_EQ(1, count(rows, n, row_cookie(&rows[i])));
	TH_LOG("%d rows in batches, %d in the first", n, first);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (int i = 0; i < 10; i++)
		close(extra[i]);
}

/* An AF_IB dump (or one socket, by cookie) from host `ns`; rows or -errno. */
struct ib_row {
	struct infinisock_diag_msg msg;
	struct infinisock_sdp_info info;
	int info_len;
};

static int ib_dump(const char *ns, uint8_t types, uint32_t states, uint64_t cookie, bool one, struct ib_row *rows)
{
	struct {
		struct nlmsghdr nlh;
		struct infinisock_diag_req req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | (one ? 0 : NLM_F_DUMP), .nlmsg_seq = 1 },
		.req = { .sdiag_family = AF_IB, .idiag_ext = 1 << (INFINISOCK_DIAG_INFO - 1),
			 .idiag_types = types, .idiag_states = states, .idiag_cookie = cookie },
	};
	static char buf[1 << 16];
	int nl = diag_socket(ns), n = 0, rc = 0;

	if (nl < 0)
		return -errno;
	if (send(nl, &msg, sizeof(msg), 0) != sizeof(msg)) {
		close(nl);
		return -errno;
	}
	for (bool done = false; !done;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0) {
			rc = -errno;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				rc = h->nlmsg_type == NLMSG_ERROR ? ((struct nlmsgerr *)NLMSG_DATA(h))->error
								  : *(int *)NLMSG_DATA(h);
				done = true;
				break;
			}
			if (n >= MAX_ROWS) {
				rc = -E2BIG;
				done = true;
				break;
			}
			struct ib_row *row = &rows[n++];
			struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + sizeof(row->msg));
			int alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(row->msg));

			memset(row, 0, sizeof(*row));
			memcpy(&row->msg, NLMSG_DATA(h), sizeof(row->msg));
			row->info_len = -1;
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == INFINISOCK_DIAG_INFO) {
					row->info_len = RTA_PAYLOAD(a);
					memcpy(&row->info, RTA_DATA(a), sizeof(row->info));
				}
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				done = true;
		}
	}
	close(nl);
	return rc < 0 ? rc : n;
}

static const struct ib_row *ib_find(const struct ib_row *rows, int n, uint64_t cookie)
{
	for (int i = 0; i < n; i++)
		if (rows[i].msg.idiag_cookie == cookie)
			return &rows[i];
	return NULL;
}

/* The row's addresses are what getsockname() and getpeername() say. */
static bool ib_names_match(const struct ib_row *r, int fd)
{
	struct sockaddr_ib local, peer;
	socklen_t l = sizeof(local), p = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &l) || getpeername(fd, (struct sockaddr *)&peer, &p))
		return false;
	return !memcmp(&local, &r->msg.idiag_local, sizeof(local)) && !memcmp(&peer, &r->msg.idiag_peer, sizeof(peer));
}

/*
 * AF_IB sockets over sock_diag's AF_IB family: streams and message sockets of both
 * hosts, with their types, states, addresses as getsockname()/getpeername() give them,
 * cookie, inode and info; the type filter and a lookup by cookie.
 */
TEST(af_ib_sockets)
{
	static struct ib_row rows[MAX_ROWS];
	const struct ib_row *r, *c;
	struct sockaddr_ib sib;
	socklen_t len = sizeof(sib);
	int types[2] = { SOCK_STREAM, SOCK_SEQPACKET };
	int l[2], cl[2], sv[2], n;

	for (int t = 0; t < 2; t++) {
		unsigned long long base = types[t] == SOCK_STREAM ? INFINISOCK_SID_PS_TCP : INFINISOCK_SID_PS_IB;

		enter_netns("b");
		l[t] = socket(AF_IB, types[t], 0);
		ASSERT_LE(0, l[t]);
		ASSERT_EQ(0, bind(l[t], (struct sockaddr *)&sib, ib_addr(&sib, AF_INET, HOST_B4, 0, base)));
		ASSERT_EQ(0, listen(l[t], 4));
		len = sizeof(sib);
		ASSERT_EQ(0, getsockname(l[t], (struct sockaddr *)&sib, &len));
		enter_netns("a");
		cl[t] = socket(AF_IB, types[t], 0);
		ASSERT_LE(0, cl[t]);
		ASSERT_EQ(0, connect(cl[t], (struct sockaddr *)&sib, sizeof(sib)));
		sv[t] = accept(l[t], NULL, NULL);
		ASSERT_LE(0, sv[t]);
	}
	ASSERT_EQ(5, send(cl[0], "hello", 5, 0));

	/* A socket whose lock is held at that moment (the send's completion being reaped)
	 * shows as busy, without its addresses and device: dump again until neither is. */
	for (int tries = 0;; tries++) {
		bool busy = false;

		n = ib_dump("a", 0, ALL_STATES, 0, false, rows);
		ASSERT_LE(2, n);
		for (int t = 0; t < 2; t++) {
			c = ib_find(rows, n, cookie_of(cl[t]));
			busy |= c && !c->info.isi_device[0];
		}
		if (!busy || tries == 50)
			break;
		usleep(20000);
	}
	for (int t = 0; t < 2; t++) {
		c = ib_find(rows, n, cookie_of(cl[t]));
		ASSERT_NE(NULL, c);
		EXPECT_EQ(AF_IB, c->msg.idiag_family);
		EXPECT_EQ(types[t], c->msg.idiag_type);
		EXPECT_EQ(TCP_ESTABLISHED, c->msg.idiag_state);
		EXPECT_EQ(inode_of(cl[t]), c->msg.idiag_inode);
		EXPECT_EQ(getuid(), c->msg.idiag_uid);
		EXPECT_TRUE(ib_names_match(c, cl[t]));
		ASSERT_EQ((int)sizeof(struct infinisock_sdp_info), c->info_len);
		EXPECT_STREQ("rxea", c->info.isi_device);
		EXPECT_LT(0u, c->info.isi_qp_num);
	}
	/* No inet socket, no socket of host b. */
	for (int i = 0; i < n; i++)
		EXPECT_EQ(AF_IB, rows[i].msg.idiag_family);
	EXPECT_EQ(NULL, ib_find(rows, n, cookie_of(sv[0])));
	EXPECT_EQ(NULL, ib_find(rows, n, cookie_of(l[0])));

	n = ib_dump("b", 1 << SOCK_SEQPACKET, ALL_STATES, 0, false, rows);
	ASSERT_LE(2, n);
	r = ib_find(rows, n, cookie_of(sv[1]));
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(ib_names_match(r, sv[1]));
	c = ib_find(rows, n, cookie_of(l[1]));
	ASSERT_NE(NULL, c);
	EXPECT_EQ(TCP_LISTEN, c->msg.idiag_state);
	EXPECT_EQ(0, memcmp(&sib, &c->msg.idiag_local, sizeof(sib)));
	/* The stream sockets are not SOCK_SEQPACKET's. */
	EXPECT_EQ(NULL, ib_find(rows, n, cookie_of(sv[0])));
	EXPECT_EQ(NULL, ib_find(rows, n, cookie_of(l[0])));

	/* Listeners only. */
	n = ib_dump("b", 0, 1 << TCP_LISTEN, 0, false, rows);
	EXPECT_NE(NULL, ib_find(rows, n, cookie_of(l[0])));
	EXPECT_EQ(NULL, ib_find(rows, n, cookie_of(sv[0])));

	/* One socket by its cookie: the stream's server end, which received 5 bytes. */
	for (int i = 0; i < 100; i++) {
		n = ib_dump("b", 0, 0, cookie_of(sv[0]), true, rows);
		ASSERT_EQ(1, n);
		if (rows[0].msg.idiag_rqueue == 5u && !(rows[0].info.isi_flags & INFINISOCK_DIAG_F_BUSY))
			break;
		usleep(20000);
	}
	EXPECT_EQ(cookie_of(sv[0]), rows[0].msg.idiag_cookie);
	EXPECT_EQ(5u, rows[0].msg.idiag_rqueue);
	static struct ib_row more[MAX_ROWS];

	n = ib_dump("a", 0, ALL_STATES, 0, false, more);
	c = ib_find(more, n, cookie_of(cl[0]));
	ASSERT_NE(NULL, c);
	/* Both ends name the same queue pairs. */
	EXPECT_EQ(c->info.isi_qp_num, rows[0].info.isi_peer_qp_num);
	EXPECT_EQ(rows[0].info.isi_qp_num, c->info.isi_peer_qp_num);
	EXPECT_EQ(-ENOENT, ib_dump("a", 0, 0, cookie_of(sv[0]), true, rows));
	/* Cookie 0 is no socket's, not that of one whose cookie nobody asked for yet. */
	enter_netns("a");
	int fresh = socket(AF_IB, SOCK_STREAM, 0);

	ASSERT_LE(0, fresh);
	EXPECT_EQ(-ENOENT, ib_dump("a", 0, 0, 0, true, rows));
	close(fresh);
	/* A request too short for struct infinisock_diag_req is refused. */
	struct {
		struct nlmsghdr nlh;
		uint8_t family, protocol;
	} shortreq = {
		.nlh = { .nlmsg_len = NLMSG_LENGTH(2), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, .nlmsg_seq = 2 },
		.family = AF_IB,
	};
	char buf[256];
	int nl = diag_socket("a");

	ASSERT_LE(0, nl);
	ASSERT_EQ((ssize_t)shortreq.nlh.nlmsg_len, send(nl, &shortreq, shortreq.nlh.nlmsg_len, 0));
	ASSERT_LT(0, recv(nl, buf, sizeof(buf), 0));
	ASSERT_EQ(NLMSG_ERROR, ((struct nlmsghdr *)buf)->nlmsg_type);
	EXPECT_EQ(-EINVAL, ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error);
	close(nl);
	for (int t = 0; t < 2; t++) {
		close(sv[t]);
		close(cl[t]);
		close(l[t]);
	}
}

TEST_HARNESS_MAIN
