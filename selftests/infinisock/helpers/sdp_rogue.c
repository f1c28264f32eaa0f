// SPDX-License-Identifier: GPL-2.0
/*
 * sdp_rogue: a hostile SDP peer, written against userspace verbs (librdmacm), that
 * breaks the protocol on purpose so the tests can check the module resets just that
 * connection.
 *
 *   sdp_rogue ADDR PORT SCENARIO
 *
 * SCENARIO:
 *   bad_hello      REQ with a Hello of the wrong version (must be rejected)
 *   unknown_mid    a message with an undefined mid
 *   bad_len        a header whose len is not the bytes sent
 *   out_of_seq     a data message skipping a sequence number
 *   after_disconn  DisConn, then data
 *   abort          Abort (a legitimate reset)
 *   overrun        eight data messages at once, twice the listener's first grant: on
 *                  a shared receive queue, with a reader that reads nothing, the
 *                  fifth lands in a buffer granted to no connection of it
 *   zc_unnegotiated
 *                  offers zero-copy in its Hello (8 adverts, SinkAvail accepted), then
 *                  sends a SrcAvail although the listener offered none
 *   no_rtu         answers the REP with a DREQ instead of data: sends the RTU (which the
 *                  test drops on the wire), then disconnects at once
 *   rej_after_rep  answers the REP with a REJ
 *   no_recv        grants credits in its Hello, asks for receiver-not-ready retries for
 *                  ever (rnr_retry_count 7), and never posts a receive: the listener's
 *                  sends must fail after a bounded number of retries
 *   idle           connects offering no RDMA READ responder resources, then sends
 *                  nothing: the listener's RDMA READs must be refused
 *   listen_no_reads
 *                  listens on ADDR PORT instead (prints "listening"), and accepts
 *                  one connection offering no RDMA READ responder resources
 *
 * Prints "rejected", or "disconnected" once the module has dropped the connection,
 * or "still connected" after 30 s; exits 0 when it could run the scenario. The REP
 * scenarios print "rep" once the listener answered, and "disconnected" or "rejected"
 * once they have done their part.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

enum { BUF = 32768, RING = 16 };

static struct rdma_event_channel *ec;

static int wait_event(enum rdma_cm_event_type want, int timeout_ms, int *got)
{
	struct pollfd p = { .fd = ec->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (rdma_get_cm_event(ec, &ev))
		return -1;
	*got = ev->event;
	rdma_ack_cm_event(ev);
	return *got == (int)want ? 0 : -1;
}

static void bsdh(uint8_t *m, uint8_t mid, uint16_t bufs, uint32_t len, uint32_t mseq, uint32_t ack)
{
	m[0] = mid;
	m[1] = 0;
	m[2] = bufs >> 8;
	m[3] = bufs;
	uint32_t be = htonl(len);

	memcpy(m + 4, &be, 4);
	be = htonl(mseq);
	memcpy(m + 8, &be, 4);
	be = htonl(ack);
	memcpy(m + 12, &be, 4);
}

static void hello_in(uint8_t *hello, int version)
{
	uint32_t size = htonl(BUF);

	bsdh(hello, 0x00, RING, 32, 0, 0);
	hello[16] = version;
	hello[17] = 4 << 4;
	memcpy(hello + 20, &size, 4);
	memcpy(hello + 24, &size, 4);
}

/* Waits for the module to end the connection; prints what happened and exits. */
static void wait_disconnect(struct rdma_cm_id *id, int timeout_ms)
{
	int got = -1;

	if (wait_event(RDMA_CM_EVENT_DISCONNECTED, timeout_ms, &got) == 0) {
		printf("disconnected\n");
		rdma_disconnect(id);
	} else {
		printf("still connected\n");
	}
	fflush(stdout);
	_exit(0);
}

/* The rogue's verbs: a PD, a CQ, RING x 2 buffers of BUF bytes registered, the QP's attributes. */
static int verbs_resources(struct ibv_context *verbs, struct ibv_qp_init_attr *qpa, struct ibv_pd **pd,
			   uint8_t **mem, struct ibv_mr **mr)
{
	struct ibv_cq *cq;

	*pd = ibv_alloc_pd(verbs);
	cq = ibv_create_cq(verbs, 4 * RING, NULL, NULL, 0);
	*mem = calloc(2 * RING, BUF);
	*mr = *pd && *mem ? ibv_reg_mr(*pd, *mem, 2 * RING * BUF, IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!*pd || !cq || !*mr)
		return perror("verbs resources"), -1;
	qpa->send_cq = qpa->recv_cq = cq;
	qpa->cap.max_send_wr = qpa->cap.max_recv_wr = RING;
	qpa->cap.max_send_sge = qpa->cap.max_recv_sge = 1;
	qpa->qp_type = IBV_QPT_RC;
	return 0;
}

/* Posts RING receives in the first half of the buffers. */
static int post_receives(struct ibv_qp *qp, uint8_t *mem, struct ibv_mr *mr)
{
	for (int i = 0; i < RING; i++) {
		struct ibv_sge sge = { (uintptr_t)(mem + i * BUF), BUF, mr->lkey };
		struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 }, *bad;

		if (ibv_post_recv(qp, &wr, &bad))
			return perror("ibv_post_recv"), -1;
	}
	return 0;
}

/*
 * The scenarios that stop the handshake after the listener's REP: the QP is not the
 * id's, so librdmacm reports the REP instead of answering it with the RTU itself.
 */
static int rep_scenario(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *qpa, const char *sc)
{
	struct rdma_conn_param param = { .retry_count = 7, .rnr_retry_count = 7 };
	struct ibv_qp *qp = ibv_create_qp(pd, qpa);
	uint8_t hello[32] = { 0 };
	int got = -1;

	if (!qp)
		return perror("ibv_create_qp"), 1;
	hello_in(hello, 0x22);
	param.private_data = hello;
	param.private_data_len = sizeof(hello);
	param.qp_num = qp->qp_num;
	if (rdma_connect(id, &param))
		return perror("rdma_connect"), 1;
	if (wait_event(RDMA_CM_EVENT_CONNECT_RESPONSE, 20000, &got)) {
		printf("no rep: event %d\n", got);
		return 1;
	}
	printf("rep\n");
	if (!strcmp(sc, "rej_after_rep")) {
		if (rdma_reject(id, NULL, 0))
			return perror("rdma_reject"), 1;
		printf("rejected\n");
	} else {
		/* ib_cm sends a DREQ only once established, which the RTU makes it. */
		if (rdma_establish(id) || rdma_disconnect(id))
			return perror("rdma_establish/rdma_disconnect"), 1;
		wait_event(RDMA_CM_EVENT_DISCONNECTED, 20000, &got);
		printf("disconnected\n");
	}
	fflush(stdout);
	_exit(0);
}

/*
 * listen_no_reads: the passive side. Accepts one SDP connection with a HelloAck and
 * no responder resources for RDMA READs (the REP's responder_resources 0), posts its
 * receives, then waits for the module to end the connection.
 */
static int listen_scenario(struct sockaddr_in *addr)
{
	struct ibv_qp_init_attr qpa = { 0 };
	struct rdma_conn_param param = { .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_event *ev;
	struct rdma_cm_id *lid, *id;
	struct pollfd p = { .fd = ec->fd, .events = POLLIN };
	uint8_t hah[24] = { 0 }, *mem;
	uint32_t size = htonl(BUF);
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	int got = -1;

	if (rdma_create_id(ec, &lid, NULL, RDMA_PS_TCP) || rdma_bind_addr(lid, (struct sockaddr *)addr) ||
	    rdma_listen(lid, 1))
		return perror("rdma_listen"), 1;
	printf("listening\n");
	fflush(stdout);
	if (poll(&p, 1, 60000) <= 0 || rdma_get_cm_event(ec, &ev))
		return fprintf(stderr, "no connection request\n"), 1;
	if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST)
		return fprintf(stderr, "event %d\n", ev->event), 1;
	id = ev->id;
	rdma_ack_cm_event(ev);
	if (verbs_resources(id->verbs, &qpa, &pd, &mem, &mr))
		return 1;
	if (rdma_create_qp(id, pd, &qpa))
		return perror("rdma_create_qp"), 1;
	if (post_receives(id->qp, mem, mr))
		return 1;
	/* HelloAck: BSDH (mid 0x01), version, reserved, max_adverts, actual receive size. */
	bsdh(hah, 0x01, RING, sizeof(hah), 0, 0);
	hah[16] = 0x22;
	memcpy(hah + 20, &size, 4);
	param.private_data = hah;
	param.private_data_len = sizeof(hah);
	param.responder_resources = 0;
	param.initiator_depth = 0;
	if (rdma_accept(id, &param))
		return perror("rdma_accept"), 1;
	if (wait_event(RDMA_CM_EVENT_ESTABLISHED, 20000, &got))
		return printf("not established: event %d\n", got), 1;
	printf("established\n");
	fflush(stdout);
	wait_disconnect(id, 60000);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct ibv_qp_init_attr qpa = { 0 };
	struct rdma_conn_param param = { 0 };
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	uint8_t hello[32] = { 0 }, *mem;
	const char *sc;
	int got = -1;

	if (argc != 4) {
		fprintf(stderr, "usage: %s ADDR PORT SCENARIO\n", argv[0]);
		return 2;
	}
	sc = argv[3];
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons(atoi(argv[2]));

	ec = rdma_create_event_channel();
	if (ec && !strcmp(sc, "listen_no_reads"))
		return listen_scenario(&dst);
	if (!ec || rdma_create_id(ec, &id, NULL, RDMA_PS_TCP))
		return perror("rdma_create_id"), 1;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)&dst, 2000) ||
	    wait_event(RDMA_CM_EVENT_ADDR_RESOLVED, 10000, &got))
		return fprintf(stderr, "resolve_addr: event %d\n", got), 1;
	if (rdma_resolve_route(id, 2000) || wait_event(RDMA_CM_EVENT_ROUTE_RESOLVED, 10000, &got))
		return fprintf(stderr, "resolve_route: event %d\n", got), 1;

	if (verbs_resources(id->verbs, &qpa, &pd, &mem, &mr))
		return 1;
	if (!strcmp(sc, "no_rtu") || !strcmp(sc, "rej_after_rep"))
		return rep_scenario(id, pd, &qpa, sc);
	if (rdma_create_qp(id, pd, &qpa))
		return perror("rdma_create_qp"), 1;
	if (strcmp(sc, "no_recv") && post_receives(id->qp, mem, mr))
		return 1;

	/* Hello: BSDH, version, IP version, reserved, max_adverts, sizes, port. */
	hello_in(hello, strcmp(sc, "bad_hello") ? 0x22 : 0x11);
	if (!strcmp(sc, "zc_unnegotiated")) {
		hello[18] = 1;	/* ZC_SINKAVAIL */
		hello[19] = 8;	/* max_adverts */
	}
	param.private_data = hello;
	param.private_data_len = sizeof(hello);
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_connect(id, &param))
		return perror("rdma_connect"), 1;
	if (wait_event(RDMA_CM_EVENT_ESTABLISHED, 20000, &got)) {
		printf(got == RDMA_CM_EVENT_REJECTED ? "rejected\n" : "connect failed: event %d\n", got);
		return !strcmp(sc, "bad_hello") && got == RDMA_CM_EVENT_REJECTED ? 0 : 1;
	}

	/* Give the listener time to see the connection established too (the RTU may
	 * reach it after our first message). */
	usleep(500000);
	/* The messages of the scenario, from the second half of the buffer. */
	uint8_t *out = mem + RING * BUF;
	uint32_t lens[8];
	int n = 0;
	bool burst = false;

	memset(out, 'r', 8 * 64);
	if (!strcmp(sc, "unknown_mid")) {
		bsdh(out, 0x42, RING, 16, 1, 0), lens[n++] = 16;
	} else if (!strcmp(sc, "bad_len")) {
		bsdh(out, 0xFF, RING, 100, 1, 0), lens[n++] = 20;
	} else if (!strcmp(sc, "out_of_seq")) {
		bsdh(out, 0xFF, RING, 20, 1, 0), lens[n++] = 20;
		bsdh(out + 64, 0xFF, RING, 20, 3, 0), lens[n++] = 20;
	} else if (!strcmp(sc, "after_disconn")) {
		bsdh(out, 0xFF, RING, 20, 1, 0), lens[n++] = 20;
		bsdh(out + 64, 0x02, RING, 16, 2, 0), lens[n++] = 16;
		bsdh(out + 128, 0xFF, RING, 20, 3, 0), lens[n++] = 20;
	} else if (!strcmp(sc, "zc_unnegotiated")) {
		/* SrcAvail: 4096 bytes at rkey 0x1234, iova 0x10000, after one Data. */
		static const uint8_t ah[16] = { 0, 0, 0x10, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 1, 0, 0 };

		bsdh(out, 0xFF, RING, 20, 1, 0), lens[n++] = 20;
		bsdh(out + 64, 0xFE, RING, 32, 2, 0), lens[n++] = 32;
		memcpy(out + 64 + 16, ah, sizeof(ah));
	} else if (!strcmp(sc, "overrun")) {
		/* Twice the listener's first grant (4), at once: against a reader that
		 * reads nothing, the fifth is beyond every grant. */
		for (int i = 0; i < 8; i++)
			bsdh(out + 64 * i, 0xFF, RING, 20, i + 1, 0), lens[n++] = 20;
		burst = true;
	} else if (!strcmp(sc, "abort")) {
		bsdh(out, 0xFF, RING, 20, 1, 0), lens[n++] = 20;
		bsdh(out + 64, 0x03, RING, 16, 2, 0), lens[n++] = 16;
	} else if (strcmp(sc, "no_recv") && strcmp(sc, "idle")) {
		fprintf(stderr, "unknown scenario %s\n", sc);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		struct ibv_sge sge = { (uintptr_t)(out + i * 64), lens[i], mr->lkey };
		struct ibv_send_wr wr = { .wr_id = 100 + i, .sg_list = &sge, .num_sge = 1,
					  .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED }, *bad;

		if (ibv_post_send(id->qp, &wr, &bad))
			return perror("ibv_post_send"), 1;
		if (!burst)
			usleep(200000);
	}
	wait_disconnect(id, 30000);
	return 0;
}
