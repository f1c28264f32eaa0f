// SPDX-License-Identifier: GPL-2.0
/*
 * sdp_peer_fuzz: a hostile SDP peer that fuzzes a listener, written against userspace
 * verbs (librdmacm) like sdp_rogue.
 *
 *   sdp_peer_fuzz ADDR PORT MESSAGES SEED
 *
 * Connects to ADDR:PORT again and again until it has sent MESSAGES messages: Hellos
 * that are valid, mutated or random; on the connections that come up, data messages
 * in and out of sequence, every SDP message id with random fields (credit updates,
 * lengths, DisConn, Abort), random bytes, and floods of RDMA WRITE with immediate to
 * random keys; each connection ends at a random point, by DREQ or by just going away.
 * Half the valid Hellos offer zero-copy (8 adverts): where the listener offers it too
 * (net.infinisock.sdp_zcopy), SrcAvails at the fuzzer's own memory (registered for
 * remote READ; its key or a wrong one, often with inline bytes) and the other
 * zero-copy messages with random fields come in sequence among the rest.
 * The listener (the module) must reset what breaks the protocol and nothing else:
 * the test runs a well-behaved client against the same listener meanwhile.
 *
 * Prints the counts of what it did; exits 0 when it could run, whatever the peer did.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>
#include "../rng.h"

enum { BUF = 32768, RING = 16, MAX_MSG = 4096 };

static void bsdh(uint8_t *m, uint8_t mid, uint8_t flags, uint16_t bufs, uint32_t len, uint32_t mseq, uint32_t ack)
{
	m[0] = mid;
	m[1] = flags;
	m[2] = bufs >> 8;
	m[3] = bufs;
	*(uint32_t *)(m + 4) = htonl(len);
	*(uint32_t *)(m + 8) = htonl(mseq);
	*(uint32_t *)(m + 12) = htonl(ack);
}

/* Waits for the next event on `ec`; returns its type, or -1. */
static int next_event(struct rdma_event_channel *ec, int timeout_ms)
{
	struct pollfd p = { .fd = ec->fd, .events = POLLIN };
	struct rdma_cm_event *ev;
	int type;

	if (poll(&p, 1, timeout_ms) <= 0 || rdma_get_cm_event(ec, &ev))
		return -1;
	type = ev->event;
	rdma_ack_cm_event(ev);
	return type;
}

static long sent, hellos, established, rejected, failures, qp_errors, writes, adverts;

/* The connection's memory the module may READ: where SrcAvails point. */
static uint64_t zc_base;
static uint32_t zc_len, zc_rkey;

/* Reaps completions; returns -1 once one failed (the QP is in error then). */
static int reap(struct ibv_cq *cq, int wait_ms)
{
	struct ibv_wc wc[16];
	int n, bad = 0;

	for (int waited = 0;; waited += 10) {
		while ((n = ibv_poll_cq(cq, 16, wc)) > 0)
			for (int i = 0; i < n; i++)
				bad |= wc[i].status != IBV_WC_SUCCESS;
		if (bad || waited >= wait_ms)
			break;
		usleep(10000);
	}
	return bad ? -1 : 0;
}

static const uint8_t mids[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
				0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0xFD, 0xFE, 0xFF };

/* One message into `m` (room BUF); returns its length. `mseq` is the next in order. */
static uint32_t a_message(uint8_t *m, uint32_t *mseq)
{
	uint32_t n = below(4) ? below(64) : below(MAX_MSG);

	for (uint32_t i = 16; i < 16 + n; i++)
		m[i] = rnd();
	switch (below(9)) {
	case 8: { /* a zero-copy message in sequence */
		static const uint8_t zc_mids[] = { 0x04, 0x05, 0x06, 0x08, 0x09, 0x0A, 0xFD };
		uint32_t alen = 1 + below(zc_len), in = below(4) ? 0 : below(64);
		uint64_t vaddr = zc_base + below(zc_len - alen + 1);

		if (below(3)) {
			/* SrcAvail: len, rkey, vaddr, then at most len inline bytes. */
			in = in < alen ? in : alen;
			bsdh(m, 0xFE, 0, RING, 32 + in, (*mseq)++, below(2) ? 0 : rnd());
			*(uint32_t *)(m + 16) = htonl(alen);
			*(uint32_t *)(m + 20) = htonl(below(4) ? zc_rkey : rnd());
			*(uint32_t *)(m + 24) = htonl(vaddr >> 32);
			*(uint32_t *)(m + 28) = htonl((uint32_t)vaddr);
			adverts++;
			return 32 + in;
		}
		bsdh(m, zc_mids[below(sizeof(zc_mids))], 0, RING, 16 + (below(2) ? 4 : below(24)), (*mseq)++, rnd());
		return be32toh(*(uint32_t *)(m + 4));
	}
	case 0: /* random bytes, any length */
		for (uint32_t i = 0; i < 16; i++)
			m[i] = rnd();
		return below(2) ? 16 + n : below(16);
	case 1: /* any message id, random fields */
		bsdh(m, mids[below(sizeof(mids))], rnd(), rnd(), below(2) ? 16 + n : rnd(),
		     below(2) ? (*mseq)++ : rnd(), rnd());
		return 16 + n;
	case 2: /* DisConn or Abort, in sequence */
		bsdh(m, below(2) ? 0x02 : 0x03, 0, RING, 16, (*mseq)++, 0);
		return 16;
	case 3: /* a credit update: no data, any number of buffers */
		bsdh(m, 0xFF, 0, below(2) ? rnd() : below(RING * 2), 16, (*mseq)++, below(2) ? 0 : rnd());
		return 16;
	default: { /* data in sequence, now and then with one field off */
		bsdh(m, 0xFF, 0, RING, 16 + n, (*mseq)++, 0);
		if (below(8) == 0)
			m[below(16)] ^= 1 << below(8);
		return 16 + n;
	}
	}
}

/* One connection: Hello, then (if it comes up) messages; returns what it sent. */
static void one_connection(const struct sockaddr_in *dst, long budget)
{
	struct rdma_conn_param param = { .retry_count = 7, .rnr_retry_count = below(2) ? 7 : 1 };
	struct ibv_qp_init_attr qpa = { 0 };
	struct rdma_event_channel *ec = rdma_create_event_channel();
	struct rdma_cm_id *id = NULL;
	struct ibv_pd *pd = NULL;
	struct ibv_cq *cq = NULL;
	struct ibv_mr *mr = NULL;
	uint8_t hello[56] = { 0 }, *mem = NULL;
	uint32_t mseq = 1, size = htonl(BUF);

	if (!ec || rdma_create_id(ec, &id, NULL, RDMA_PS_TCP))
		goto out;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)dst, 2000) ||
	    next_event(ec, 10000) != RDMA_CM_EVENT_ADDR_RESOLVED ||
	    rdma_resolve_route(id, 2000) || next_event(ec, 10000) != RDMA_CM_EVENT_ROUTE_RESOLVED) {
		failures++;
		goto out;
	}
	pd = ibv_alloc_pd(id->verbs);
	cq = ibv_create_cq(id->verbs, 4 * RING, NULL, NULL, 0);
	mem = calloc(2 * RING, BUF);
	mr = pd && mem ? ibv_reg_mr(pd, mem, 2 * RING * BUF, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ) : NULL;
	if (!pd || !cq || !mr)
		goto out;
	zc_base = (uintptr_t)mem;
	zc_len = 2 * RING * BUF;
	zc_rkey = mr->rkey;
	qpa.send_cq = qpa.recv_cq = cq;
	qpa.cap.max_send_wr = qpa.cap.max_recv_wr = RING;
	qpa.cap.max_send_sge = qpa.cap.max_recv_sge = 1;
	qpa.qp_type = IBV_QPT_RC;
	if (rdma_create_qp(id, pd, &qpa))
		goto out;
	for (int i = 0; i < RING; i++) {
		struct ibv_sge sge = { (uintptr_t)(mem + i * BUF), BUF, mr->lkey };
		struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 }, *bad;

		ibv_post_recv(id->qp, &wr, &bad);
	}

	/* A Hello: valid (BSDH, version 2.2, IPv4, sizes), mutated, or random. */
	bsdh(hello, 0x00, 0, RING, 32, 0, 0);
	hello[16] = 0x22;
	hello[17] = 4 << 4;
	memcpy(hello + 20, &size, 4);
	memcpy(hello + 24, &size, 4);
	if (below(2)) {
		hello[18] = below(4) == 0;	/* ZC_SINKAVAIL */
		hello[19] = 8;			/* max_adverts */
		param.responder_resources = below(4) ? 16 : 0;
		param.initiator_depth = 16;
	}
	param.private_data = hello;
	param.private_data_len = 32;
	switch (below(6)) {
	case 0:
		for (int i = 0, n = 1 + below(4); i < n; i++)
			hello[below(32)] ^= 1 << below(8);
		break;
	case 1:
		for (size_t i = 0; i < sizeof(hello); i++)
			hello[i] = rnd();
		param.private_data_len = below(sizeof(hello) + 1);
		break;
	case 2:
		param.private_data_len = below(32);
		break;
	default:
		break;
	}
	hellos++;
	sent++;
	if (rdma_connect(id, &param))
		goto out;
	switch (next_event(ec, 20000)) {
	case RDMA_CM_EVENT_ESTABLISHED:
		established++;
		break;
	case RDMA_CM_EVENT_REJECTED:
		rejected++;
		goto out;
	default:
		failures++;
		goto out;
	}

	/* Messages from the second half of the buffer, up to RING at a time. */
	for (long k = 0, n = 1 + below(40); k < n && k < budget; k++) {
		uint8_t *m = mem + (RING + k % RING) * BUF;
		struct ibv_sge sge = { (uintptr_t)m, 0, mr->lkey };
		struct ibv_send_wr wr = { .wr_id = k, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND,
					  .send_flags = IBV_SEND_SIGNALED }, *bad;

		if (below(12) == 0) {
			/* A flood of RDMA WRITE with immediate at random keys. */
			for (int f = 0, nf = 1 + below(RING); f < nf; f++) {
				sge.length = below(256);
				wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
				wr.imm_data = rnd();
				wr.wr.rdma.remote_addr = rnd();
				wr.wr.rdma.rkey = rnd();
				if (ibv_post_send(id->qp, &wr, &bad))
					break;
				writes++;
				sent++;
			}
		} else {
			sge.length = a_message(m, &mseq);
			if (ibv_post_send(id->qp, &wr, &bad))
				break;
			sent++;
		}
		if (reap(cq, below(4) ? 0 : 50)) {
			qp_errors++;
			break;
		}
		if (below(32) == 0)
			break; /* goes away at a random point */
	}
	reap(cq, 20);
	if (below(2)) {
		rdma_disconnect(id);
		next_event(ec, below(2) ? 100 : 2000);
	}
out:
	if (id && id->qp)
		rdma_destroy_qp(id);
	if (mr)
		ibv_dereg_mr(mr);
	if (cq)
		ibv_destroy_cq(cq);
	if (pd)
		ibv_dealloc_pd(pd);
	free(mem);
	if (id)
		rdma_destroy_id(id);
	if (ec)
		rdma_destroy_event_channel(ec);
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	long messages;

	if (argc != 5) {
		fprintf(stderr, "usage: %s ADDR PORT MESSAGES SEED\n", argv[0]);
		return 2;
	}
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons(atoi(argv[2]));
	messages = atol(argv[3]);
	rng_state = strtoull(argv[4], NULL, 0) ?: 1;
	while (sent < messages)
		one_connection(&dst, messages - sent);
	printf("seed %s: %ld messages (%ld Hellos, %ld RDMA WRITEs, %ld SrcAvails) on %ld connections established, "
	       "%ld rejected, %ld failed; %ld ended by a failed operation\n",
	       argv[4], sent, hellos, writes, adverts, established, rejected, failures, qp_errors);
	return 0;
}
