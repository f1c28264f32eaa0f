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
 *   fill_vanish    data messages in every credit the listener granted, then a DREQ
 *                  without DisConn: prints "sent N", then "disconnected" once the
 *                  module answered it
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
 * The zc_* scenarios are an honest zero-copy source (zc_src.c's engine: credits,
 * reposts, SrcAvail from a region registered for REMOTE_READ, RdmaRdCompl and SendSm
 * taken as Annex A4 and Documentation/wire.rst say). Each writes the stream it sent,
 * in stream order, to the file in $ZC_STREAM, sends DisConn, and prints
 * "advertised A read R data D inline I" (bytes: in SrcAvails, reported READ by the
 * peer, sent as Data, carried inline in SrcAvails), then how the connection ended:
 *   zc_src         Data and SrcAvails of 1 byte to 3 MiB, one open at a time, at odd
 *                  offsets in the region
 *   zc_src_pipelined
 *                  4 adverts of 256 KiB open at once, then 8 of 4 KiB
 *   zc_src_inline  SrcAvails carrying their first bytes inline (OFED's combined
 *                  mode), one of them all inline
 *   zc_src_no_reads
 *                  offers no READ responder resources: every advert is declined
 *                  (SendSm) and its bytes go again as Data
 *   zc_src_cancel  SrcAvailCancel right after each of 20 adverts of 1 MiB: each is
 *                  read in part or whole, the rest goes as Data after the SendSm
 *   zc_off         offers zero-copy to a listener that offers none: prints "offer 0"
 *                  and sends Data only
 *   zc_listen      listens on ADDR PORT instead (prints "listening"), accepts one
 *                  connection offering zero-copy, and runs zc_src's stream on it
 *   zc_shut_read   one advert of 1 MiB, which the reader's shutdown(SHUT_RD) must
 *                  not leave open for ever: prints "settled" once it closed
 *   zc_close_mid_advert
 *                  one advert of 1 MiB, then waits: the reader closes early, and
 *                  the module must answer with Abort (prints "aborted")
 * The zs_* scenarios listen on ADDR PORT (printing "listening") as a zero-copy sink
 * the module writes to (offering 8 adverts and READ resources), take its first
 * SrcAvail (printing "advert LEN"), break a rule, and wait for the module to end the
 * connection ("disconnected", or "still connected" after 30 s):
 *   zs_silent      never READs nor answers, not even the module's cancel
 *   zs_overread    answers RdmaRdCompl for one byte more than advertised
 *   zs_send_inv    READs the advert and answers RdmaRdCompl as a SEND with
 *                  invalidate of the advert's rkey, never negotiated
 *   zs_read_beyond READs 4 KiB beyond the advert: prints "read beyond refused" (or
 *                  "read beyond allowed")
 *   zs_read_after  READs the advert, answers RdmaRdCompl, and once the module's
 *                  next message came READs it again: prints "read after close
 *                  refused" (or "... allowed")
 *   zs_decline     breaks none: declines every advert (SendSm, discarding those
 *                  sent before the module saw it) and takes the bytes as Data until
 *                  the module's DisConn, then answers it: prints "declined N
 *                  discarded M data BYTES"
 *   zs_slow        breaks none: READs each advert 200 ms after it came and answers
 *                  it, takes Data as it comes, until the module's DisConn, then
 *                  answers it: prints "answered N read BYTES data BYTES"
 *   zs_late        the same, but answers each advert only once the module cancelled
 *                  it, with SendSm (N: the adverts answered so)
 * The hostile ones break a zero-copy rule, then wait for the module to reset them
 * (printing "disconnected", or "still connected" after 30 s):
 *   zc_bogus_rkey  an advert whose rkey is not the region's
 *   zc_overlong    an advert 100 bytes longer than the region under it
 *   zc_dereg       an advert of 1 MiB whose region is deregistered once it is sent
 *   zc_data_while_open, zc_disconn_while_open
 *                  Data, or DisConn, while an advert of 1 MiB is open
 *   zc_too_many    9 adverts of 256 KiB at once, one beyond the module's offer
 *   zc_rdcompl     an RdmaRdCompl although the module advertised nothing
 *   zc_sinkavail   a SinkAvail, which the module does not accept
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
/* The private data of the last event (the HelloAck of ESTABLISHED). */
static uint8_t event_data[64];

static int wait_event(enum rdma_cm_event_type want, int timeout_ms, int *got)
{
	struct pollfd p = { .fd = ec->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (rdma_get_cm_event(ec, &ev))
		return -1;
	*got = ev->event;
	memset(event_data, 0, sizeof(event_data));
	if (ev->param.conn.private_data)
		memcpy(event_data, ev->param.conn.private_data,
		       ev->param.conn.private_data_len < sizeof(event_data) ? ev->param.conn.private_data_len
									     : sizeof(event_data));
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
 * The passive side: listens on `addr` (prints "listening"), accepts one SDP connection
 * with a HelloAck offering `max_adverts` and `depth` RDMA READ responder resources and
 * initiator depth, and posts its receives. Returns the connection's id once it is
 * established, with the peer's Hello in `hello` (32 bytes), or NULL.
 */
static struct rdma_cm_id *accept_one(struct sockaddr_in *addr, uint8_t *hello, uint8_t max_adverts, uint8_t depth,
				     struct ibv_pd **pd, uint8_t **mem, struct ibv_mr **mr)
{
	struct ibv_qp_init_attr qpa = { 0 };
	struct rdma_conn_param param = { .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_event *ev;
	struct rdma_cm_id *lid, *id;
	struct pollfd p = { .fd = ec->fd, .events = POLLIN };
	uint8_t hah[24] = { 0 };
	uint32_t size = htonl(BUF);
	int got = -1;

	if (rdma_create_id(ec, &lid, NULL, RDMA_PS_TCP) || rdma_bind_addr(lid, (struct sockaddr *)addr) ||
	    rdma_listen(lid, 1))
		return perror("rdma_listen"), NULL;
	printf("listening\n");
	fflush(stdout);
	if (poll(&p, 1, 60000) <= 0 || rdma_get_cm_event(ec, &ev))
		return fprintf(stderr, "no connection request\n"), NULL;
	if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST || ev->param.conn.private_data_len < 32)
		return fprintf(stderr, "event %d\n", ev->event), NULL;
	id = ev->id;
	memcpy(hello, ev->param.conn.private_data, 32);
	rdma_ack_cm_event(ev);
	if (verbs_resources(id->verbs, &qpa, pd, mem, mr))
		return NULL;
	if (rdma_create_qp(id, *pd, &qpa))
		return perror("rdma_create_qp"), NULL;
	if (post_receives(id->qp, *mem, *mr))
		return NULL;
	/* HelloAck: BSDH (mid 0x01), version, reserved, zc_flags, max_adverts, actual receive size. */
	bsdh(hah, 0x01, RING, sizeof(hah), 0, 0);
	hah[16] = 0x22;
	hah[19] = max_adverts;
	memcpy(hah + 20, &size, 4);
	param.private_data = hah;
	param.private_data_len = sizeof(hah);
	param.responder_resources = depth;
	param.initiator_depth = depth;
	if (rdma_accept(id, &param))
		return perror("rdma_accept"), NULL;
	if (wait_event(RDMA_CM_EVENT_ESTABLISHED, 20000, &got))
		return printf("not established: event %d\n", got), NULL;
	return id;
}

/* ---- The zero-copy source ---- */

enum { REGION = 4 << 20, MAX_ADV = 16 };

struct advert {
	uint32_t mseq, len, read;
	uint64_t off;
};

struct source {
	struct ibv_qp *qp;
	struct ibv_cq *cq;
	uint8_t *mem;
	struct ibv_mr *mr;
	uint8_t *region;
	struct ibv_mr *rmr;
	uint32_t next_mseq, last_recv, acked_sent, peer_bufs, peer_acked, peer_msg;
	unsigned int slot, sends_out;
	struct advert adv[MAX_ADV];
	int nadv;
	/* Declined adverts whose unread rest goes as Data next, oldest first. */
	struct advert resend[MAX_ADV];
	int nresend;
	uint64_t stream, advertised, read, data, inlined;
	bool peer_disconn;
	/* Adverts open at once at most; a hostile scenario's changes to its adverts. */
	int adv_limit;
	uint32_t rkey_xor, len_extra;
	FILE *log;
	/* As a sink of the module's adverts (zs_*): those received, the Data bytes, the
	 * module's cancels, and our READ's outcome. */
	bool sink;
	struct {
		uint32_t mseq, len, rkey;
		uint64_t vaddr;
	} in[MAX_ADV];
	int nin, cancels;
	/* zs_decline: the mseq of our last SendSm, and the adverts it made us discard. */
	uint32_t declined_at;
	int discarded;
	uint64_t data_in;
	bool read_done;
	int read_status;
};

static uint8_t pattern(uint64_t o)
{
	return (uint8_t)(o * 131 + (o >> 9) + (o >> 17));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void die(const char *what)
{
	printf("%s\n", what);
	fflush(stdout);
	_exit(1);
}

/* Handles one message of the module's; reposts its buffer. */
static void source_take(struct source *s, const struct ibv_wc *wc)
{
	uint8_t *m = s->mem + wc->wr_id * BUF;
	struct ibv_sge sge = { (uintptr_t)m, BUF, s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = wc->wr_id, .sg_list = &sge, .num_sge = 1 }, *bad;
	uint32_t mseq = be32(m + 8), ack = be32(m + 12), len = be32(m + 4);

	if (wc->byte_len < 16 || len != wc->byte_len)
		die("bad message from the module");
	if (mseq != s->last_recv + 1)
		die("module's message out of sequence");
	/* Our last header granted RING buffers after what it acknowledged. */
	if ((int32_t)(mseq - (s->acked_sent + RING)) > 0)
		die("module's message beyond its credits");
	s->last_recv = mseq;
	s->peer_bufs = (uint32_t)m[2] << 8 | m[3];
	s->peer_acked = ack;
	switch (m[0]) {
	case 0xFF:
		if (len != 16 && !s->sink)
			die("data from the module");
		s->data_in += len - 16;
		break;
	case 0xFE: /* SrcAvail, to a sink: len, rkey, vaddr */
		if (!s->sink || len < 32 || s->nin == MAX_ADV)
			die("unexpected SrcAvail");
		/* Sent before the module saw our SendSm: dropped unread, owed nothing. */
		if (s->declined_at && (int32_t)(ack - s->declined_at) < 0) {
			s->discarded++;
			break;
		}
		s->in[s->nin].mseq = mseq;
		s->in[s->nin].len = be32(m + 16);
		s->in[s->nin].rkey = be32(m + 20);
		s->in[s->nin].vaddr = (uint64_t)be32(m + 24) << 32 | be32(m + 28);
		s->nin++;
		break;
	case 0x08: /* SrcAvailCancel, to a sink */
		if (!s->sink)
			die("unexpected SrcAvailCancel");
		s->cancels++;
		break;
	case 0x02:
		s->peer_disconn = true;
		break;
	case 0x03:
		die("aborted");
		break;
	case 0x06: { /* RdmaRdCompl: bytes of the oldest advert */
		uint32_t n = be32(m + 16);

		if (len != 20 || s->nadv == 0)
			die("RdmaRdCompl with no advert open");
		if ((int32_t)(ack - s->adv[0].mseq) < 0)
			die("RdmaRdCompl before the module saw the advert");
		if (n == 0 || n > s->adv[0].len - s->adv[0].read)
			die("RdmaRdCompl beyond the advert");
		s->adv[0].read += n;
		s->read += n;
		if (s->adv[0].read == s->adv[0].len) {
			memmove(s->adv, s->adv + 1, (s->nadv - 1) * sizeof(s->adv[0]));
			s->nadv--;
		}
		break;
	}
	case 0x04: /* SendSm: every open advert declined; its unread rest goes as Data */
		if (len != 16)
			die("bad SendSm");
		memcpy(s->resend + s->nresend, s->adv, s->nadv * sizeof(s->adv[0]));
		s->nresend += s->nadv;
		s->nadv = 0;
		break;
	default:
		die("unexpected message from the module");
	}
	if (ibv_post_recv(s->qp, &wr, &bad))
		die("ibv_post_recv");
}

/* Takes the completions there are; waits up to 10 s for one if `block`. */
static void source_poll(struct source *s, bool block)
{
	struct ibv_wc wc[8];

	for (int spins = 0;; spins++) {
		int n = ibv_poll_cq(s->cq, 8, wc);

		if (n < 0)
			die("ibv_poll_cq");
		for (int i = 0; i < n; i++) {
			if (wc[i].wr_id == 2000) {
				/* Our READ of the module's advert: its outcome is the test's. */
				s->read_done = true;
				s->read_status = wc[i].status;
				continue;
			}
			/* A sink's QP in error after a refused READ: flushes until the READ's. */
			if (wc[i].status != IBV_WC_SUCCESS && s->sink)
				continue;
			if (wc[i].status != IBV_WC_SUCCESS) {
				printf("completion status %d\n", wc[i].status);
				fflush(stdout);
				_exit(1);
			}
			if (wc[i].wr_id >= 1000)
				s->sends_out--;
			else
				source_take(s, &wc[i]);
		}
		if (n > 0 || !block)
			return;
		if (spins > 100000)
			die("the module stopped answering");
		/* The module may end the connection without a message (its Abort is best
		 * effort): rdma_cm says so. */
		if (spins % 1000 == 999) {
			struct pollfd p = { .fd = ec->fd, .events = POLLIN };
			struct rdma_cm_event *ev;

			if (poll(&p, 1, 0) > 0 && !rdma_get_cm_event(ec, &ev)) {
				bool gone = ev->event == RDMA_CM_EVENT_DISCONNECTED;

				rdma_ack_cm_event(ev);
				if (gone)
					die("disconnected");
			}
		}
		usleep(100);
	}
}

/* Messages we may send now: the module's grant. */
static uint32_t source_credits(const struct source *s)
{
	uint32_t in_flight = s->next_mseq - 1 - s->peer_acked;

	return s->peer_bufs > in_flight ? s->peer_bufs - in_flight : 0;
}

/* Sends one message: the 16-byte header, then `len` bytes of `body`, once a credit
 * and a send slot allow; with `inv_rkey` non-zero as a SEND with invalidate of that
 * key (which SDP never negotiates). */
static void source_send_inv(struct source *s, uint8_t mid, const uint8_t *body, uint32_t len, uint32_t inv_rkey)
{
	uint8_t *m;

	while (source_credits(s) == 0 || s->sends_out >= RING - 1)
		source_poll(s, true);
	m = s->mem + (RING + s->slot) * BUF;
	s->slot = (s->slot + 1) % RING;
	bsdh(m, mid, RING, 16 + len, s->next_mseq++, s->last_recv);
	s->acked_sent = s->last_recv;
	memcpy(m + 16, body, len);
	struct ibv_sge sge = { (uintptr_t)m, 16 + len, s->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 1000, .sg_list = &sge, .num_sge = 1,
				  .opcode = inv_rkey ? IBV_WR_SEND_WITH_INV : IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	wr.invalidate_rkey = inv_rkey;
	if (ibv_post_send(s->qp, &wr, &bad))
		die("ibv_post_send");
	s->sends_out++;
}

static void source_send(struct source *s, uint8_t mid, const uint8_t *body, uint32_t len)
{
	source_send_inv(s, mid, body, len, 0);
}

/* Tells the module of our reposted buffers before it runs short of credits. */
static void source_credit_update(struct source *s)
{
	if (s->last_recv - s->acked_sent >= RING / 2)
		source_send(s, 0xFF, NULL, 0);
}

/* Sends `len` bytes at `off` in the region as Data messages. */
static void source_data_from(struct source *s, uint64_t off, uint64_t len)
{
	uint32_t max = (s->peer_msg < BUF ? s->peer_msg : BUF) - 16;

	while (len > 0) {
		uint32_t n = len < max ? (uint32_t)len : max;

		source_send(s, 0xFF, s->region + off, n);
		off += n;
		len -= n;
		s->data += n;
	}
}

/* The next `len` bytes of the stream, placed at `off` in the region and logged. */
static void source_fill(struct source *s, uint64_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		s->region[off + i] = pattern(s->stream + i);
	s->stream += len;
	if (fwrite(s->region + off, 1, len, s->log) != len)
		die("stream log");
}

/* Goes on taking messages until no advert is open, sending what SendSm declined. */
static void source_settle(struct source *s)
{
	for (;;) {
		if (s->nresend > 0) {
			struct advert a = s->resend[0];

			memmove(s->resend, s->resend + 1, (s->nresend - 1) * sizeof(s->resend[0]));
			s->nresend--;
			source_data_from(s, a.off + a.read, a.len - a.read);
			continue;
		}
		if (s->nadv == 0)
			return;
		source_poll(s, true);
		source_credit_update(s);
	}
}

/* Plain data: `len` new bytes of the stream (no advert may be open). */
static void source_data(struct source *s, uint32_t len)
{
	source_settle(s);
	source_fill(s, 0, len);
	source_data_from(s, 0, len);
}

/* A SrcAvail of `len` new bytes at `off` in the region, the first `inline_len` of them
 * carried in the message too. */
static void source_advert(struct source *s, uint64_t off, uint32_t len, uint32_t inline_len)
{
	uint8_t body[16 + BUF];
	uint64_t vaddr = (uintptr_t)(s->region + off);
	uint32_t v;

	/* Discarded adverts come back through SendSm: take them before the next. */
	while (s->nresend > 0 || s->nadv == s->adv_limit || (inline_len > 0 && s->nadv > 0))
		source_settle(s);
	source_fill(s, off, len);
	v = htonl(len + s->len_extra);
	memcpy(body, &v, 4);
	v = htonl(s->rmr->rkey ^ s->rkey_xor);
	memcpy(body + 4, &v, 4);
	v = htonl((uint32_t)(vaddr >> 32));
	memcpy(body + 8, &v, 4);
	v = htonl((uint32_t)vaddr);
	memcpy(body + 12, &v, 4);
	memcpy(body + 16, s->region + off, inline_len);
	s->adv[s->nadv++] = (struct advert){ .mseq = s->next_mseq, .len = len, .off = off };
	s->advertised += len;
	s->inlined += inline_len;
	source_send(s, 0xFE, body, 16 + inline_len);
}

/* Runs zero-copy scenario `sc` on an established connection whose HelloAck is in
 * event_data; prints the counts and how the connection ended. */
static int zc_scenario(struct rdma_cm_id *id, struct ibv_pd *pd, uint8_t *mem, struct ibv_mr *mr, const char *sc)
{
	struct source s = { .qp = id->qp, .cq = id->qp->send_cq, .mem = mem, .mr = mr, .next_mseq = 1, .adv_limit = 8 };
	const char *path = getenv("ZC_STREAM");
	uint8_t offer = event_data[19];

	s.peer_bufs = (uint32_t)event_data[2] << 8 | event_data[3];
	s.peer_msg = be32(event_data + 20);
	s.log = fopen(path ? path : "/dev/null", "w");
	s.region = aligned_alloc(4096, REGION);
	if (!s.log || !s.region || s.peer_msg <= 16)
		die("zc resources");
	s.rmr = ibv_reg_mr(pd, s.region, REGION, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!s.rmr)
		die("ibv_reg_mr");
	if (!strcmp(sc, "zc_off")) {
		printf("offer %u\n", offer);
		source_data(&s, 1000);
		source_data(&s, 200000);
	} else if (offer < 8) {
		printf("offer %u\n", offer);
		die("the module offered too few adverts");
	} else if (!strcmp(sc, "zc_src") || !strcmp(sc, "zc_src_no_reads")) {
		static const uint32_t sizes[] = { 1, 100000, 3 << 20, 65536, 32768, 32769 };

		source_data(&s, 100);
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			source_advert(&s, 2 * i + 1, sizes[i], 0);
			source_data(&s, 7);
		}
	} else if (!strcmp(sc, "zc_src_pipelined")) {
		for (int i = 0; i < 4; i++)
			source_advert(&s, (uint64_t)i * (256 << 10) + 3, 256 << 10, 0);
		source_data(&s, 10);
		for (int i = 0; i < 8; i++)
			source_advert(&s, (uint64_t)i * 4096, 4096, 0);
	} else if (!strcmp(sc, "zc_src_inline")) {
		source_advert(&s, 5, 200000, 1000);
		source_advert(&s, 0, 300, 300);
		source_data(&s, 3);
		source_advert(&s, 9, 70000, (s.peer_msg < BUF ? s.peer_msg : BUF) - 32);
	} else if (!strcmp(sc, "zc_src_cancel")) {
		for (int i = 0; i < 20; i++) {
			source_advert(&s, i, 1 << 20, 0);
			usleep((i % 5) * 300);
			source_send(&s, 0x08, NULL, 0);
			source_data(&s, 1);
		}
	} else if (!strcmp(sc, "zc_close_mid_advert")) {
		source_advert(&s, 0, 1 << 20, 0);
	} else if (!strcmp(sc, "zc_shut_read")) {
		/* The reader shuts its side after 1000 bytes: the advert must still close. */
		source_advert(&s, 0, 1 << 20, 0);
		source_settle(&s);
		printf("settled\n");
	} else {
		/* The hostile ones. */
		static const uint8_t ten[10] = "0123456789";
		uint8_t body[20] = { 0, 0, 0x10, 0 };

		if (!strcmp(sc, "zc_bogus_rkey")) {
			s.rkey_xor = 0x5a5a00;
			source_advert(&s, 0, 65536, 0);
		} else if (!strcmp(sc, "zc_overlong")) {
			s.len_extra = 100;
			source_advert(&s, REGION - 4096, 4096, 0);
		} else if (!strcmp(sc, "zc_dereg")) {
			source_advert(&s, 0, 1 << 20, 0);
			if (ibv_dereg_mr(s.rmr))
				die("ibv_dereg_mr");
		} else if (!strcmp(sc, "zc_data_while_open")) {
			source_advert(&s, 0, 1 << 20, 0);
			source_send(&s, 0xFF, ten, sizeof(ten));
		} else if (!strcmp(sc, "zc_disconn_while_open")) {
			source_advert(&s, 0, 1 << 20, 0);
			source_send(&s, 0x02, NULL, 0);
		} else if (!strcmp(sc, "zc_too_many")) {
			s.adv_limit = 9;
			for (int i = 0; i < 9; i++)
				source_advert(&s, (uint64_t)i * (256 << 10), 256 << 10, 0);
		} else if (!strcmp(sc, "zc_rdcompl")) {
			source_send(&s, 0x06, body, 4);
		} else if (!strcmp(sc, "zc_sinkavail")) {
			source_send(&s, 0xFD, body, sizeof(body));
		} else {
			die("unknown scenario");
		}
		wait_disconnect(id, 30000);
	}
	source_settle(&s);
	source_send(&s, 0x02, NULL, 0);
	fclose(s.log);
	printf("advertised %llu read %llu data %llu inline %llu\n", (unsigned long long)s.advertised,
	       (unsigned long long)s.read, (unsigned long long)s.data, (unsigned long long)s.inlined);
	fflush(stdout);
	/* The module answers our DisConn with its own once its reader has read all. */
	while (!s.peer_disconn) {
		source_poll(&s, true);
		source_credit_update(&s);
	}
	wait_disconnect(id, 30000);
	return 0;
}

/* READs `len` bytes at the module's `vaddr` with `rkey` into the region; returns the
 * completion's status. After a refused READ our QP is in error: poll no more. */
static int sink_read(struct source *s, uint64_t vaddr, uint32_t rkey, uint32_t len)
{
	struct ibv_sge sge = { (uintptr_t)s->region, len, s->rmr->lkey };
	struct ibv_send_wr wr = { .wr_id = 2000, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_READ,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	wr.wr.rdma.remote_addr = vaddr;
	wr.wr.rdma.rkey = rkey;
	s->read_done = false;
	if (ibv_post_send(s->qp, &wr, &bad))
		die("ibv_post_send READ");
	while (!s->read_done)
		source_poll(s, true);
	return s->read_status;
}

/* A hostile sink of the module's adverts (zs_*), on an accepted connection whose
 * peer's Hello is `hello`. */
static int zs_scenario(struct rdma_cm_id *id, struct ibv_pd *pd, uint8_t *mem, struct ibv_mr *mr, const uint8_t *hello,
		       const char *sc)
{
	struct source s = { .qp = id->qp, .cq = id->qp->send_cq, .mem = mem, .mr = mr, .next_mseq = 1, .sink = true };
	uint8_t body[4];
	uint32_t v;

	s.peer_bufs = (uint32_t)hello[2] << 8 | hello[3];
	s.peer_msg = be32(hello + 24);
	s.region = aligned_alloc(4096, REGION);
	if (!s.region)
		die("zs resources");
	s.rmr = ibv_reg_mr(pd, s.region, REGION, IBV_ACCESS_LOCAL_WRITE);
	if (!s.rmr)
		die("ibv_reg_mr");
	while (s.nin == 0) {
		source_poll(&s, true);
		source_credit_update(&s);
	}
	printf("advert %u\n", s.in[0].len);
	if (s.in[0].len + 4096 > REGION)
		die("advert too large");
	if (!strcmp(sc, "zs_overread")) {
		v = htonl(s.in[0].len + 1);
		memcpy(body, &v, 4);
		source_send(&s, 0x06, body, 4);
	} else if (!strcmp(sc, "zs_send_inv")) {
		if (sink_read(&s, s.in[0].vaddr, s.in[0].rkey, s.in[0].len))
			die("the advert's READ failed");
		v = htonl(s.in[0].len);
		memcpy(body, &v, 4);
		source_send_inv(&s, 0x06, body, 4, s.in[0].rkey);
	} else if (!strcmp(sc, "zs_read_beyond")) {
		printf("read beyond %s\n",
		       sink_read(&s, s.in[0].vaddr, s.in[0].rkey, s.in[0].len + 4096) ? "refused" : "allowed");
	} else if (!strcmp(sc, "zs_read_after")) {
		if (sink_read(&s, s.in[0].vaddr, s.in[0].rkey, s.in[0].len))
			die("the advert's READ failed");
		v = htonl(s.in[0].len);
		memcpy(body, &v, 4);
		source_send(&s, 0x06, body, 4);
		/* The module's next message comes once its send() returned, which it does
		 * only after the region's invalidation completed. */
		for (uint64_t data = s.data_in; s.data_in == data && s.nin == 1;) {
			source_poll(&s, true);
			source_credit_update(&s);
		}
		printf("read after close %s\n", sink_read(&s, s.in[0].vaddr, s.in[0].rkey, 4096) ? "refused" : "allowed");
	} else if (!strcmp(sc, "zs_decline")) {
		/* Declines every advert (SendSm) and takes the bytes as Data, until the
		 * module's DisConn. */
		int declined = 0;

		while (!s.peer_disconn) {
			if (s.nin > 0) {
				s.declined_at = s.next_mseq;
				source_send(&s, 0x04, NULL, 0);
				declined += s.nin;
				s.nin = 0;
			}
			source_poll(&s, true);
			source_credit_update(&s);
		}
		/* Our DisConn answers the module's: the close is graceful. */
		source_send(&s, 0x02, NULL, 0);
		printf("declined %d discarded %d data %llu\n", declined, s.discarded,
		       (unsigned long long)s.data_in);
	} else if (!strcmp(sc, "zs_slow") || !strcmp(sc, "zs_late")) {
		int answered = 0;
		uint64_t read = 0;

		while (!s.peer_disconn || s.nin > 0) {
			if (s.nin == 0) {
				source_poll(&s, true);
				source_credit_update(&s);
				continue;
			}
			if (!strcmp(sc, "zs_late")) {
				for (int seen = s.cancels; s.cancels == seen;) {
					source_poll(&s, true);
					source_credit_update(&s);
				}
				/* SendSm closes every open advert; those sent before the module
				 * saw it are dropped (source_take). */
				s.declined_at = s.next_mseq;
				source_send(&s, 0x04, NULL, 0);
				answered += s.nin;
				s.nin = 0;
				continue;
			}
			usleep(200000);
			if (sink_read(&s, s.in[0].vaddr, s.in[0].rkey, s.in[0].len))
				die("the advert's READ failed");
			v = htonl(s.in[0].len);
			memcpy(body, &v, 4);
			source_send(&s, 0x06, body, 4);
			read += s.in[0].len;
			answered++;
			memmove(s.in, s.in + 1, (s.nin - 1) * sizeof(s.in[0]));
			s.nin--;
		}
		source_send(&s, 0x02, NULL, 0);
		printf("answered %d read %llu data %llu\n", answered, (unsigned long long)read,
		       (unsigned long long)s.data_in);
	} else if (strcmp(sc, "zs_silent")) {
		die("unknown scenario");
	}
	wait_disconnect(id, 30000);
	return 0;
}

/*
 * The passive scenarios. listen_no_reads accepts one SDP connection offering no RDMA
 * READ responder resources (the REP's responder_resources 0), then waits for the
 * module to end it. zc_listen (`zc`) is the passive side of a zero-copy source: it
 * accepts one with a HelloAck offering 8 adverts and READ responder resources for
 * the module, then runs zc_src's stream on it.
 */
static int listen_scenario(struct sockaddr_in *addr, const char *sc)
{
	bool zc = strcmp(sc, "listen_no_reads");
	uint8_t hello[32], *mem;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct rdma_cm_id *id = accept_one(addr, hello, zc ? 8 : 0, zc ? 16 : 0, &pd, &mem, &mr);

	if (!id)
		return 1;
	if (!strncmp(sc, "zs_", 3))
		return zs_scenario(id, pd, mem, mr, hello, sc);
	if (!zc) {
		printf("established\n");
		fflush(stdout);
		wait_disconnect(id, 60000);
		return 0;
	}
	/* zc_scenario reads the peer's grant, offer and buffer size where a HelloAck has
	 * them: the Hello's own buffer size is at 24. */
	memcpy(event_data, hello, 32);
	memcpy(event_data + 20, hello + 24, 4);
	return zc_scenario(id, pd, mem, mr, "zc_src");
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
	/* Partial output shows even when the test's timeout ends the rogue. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons(atoi(argv[2]));

	ec = rdma_create_event_channel();
	if (ec && (!strcmp(sc, "listen_no_reads") || !strcmp(sc, "zc_listen") || !strncmp(sc, "zs_", 3)))
		return listen_scenario(&dst, sc);
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
	bool zc = !strncmp(sc, "zc_", 3) && strcmp(sc, "zc_unnegotiated");
	if (zc) {
		hello[19] = 8;
		/* The module READs our adverts: READ responder resources for it. */
		param.responder_resources = strcmp(sc, "zc_src_no_reads") ? 16 : 0;
		param.initiator_depth = 16;
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

	if (zc)
		return zc_scenario(id, pd, mem, mr, sc);
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
	} else if (!strcmp(sc, "fill_vanish")) {
		/* The listener's grant, from its HelloAck's header. */
		int grant = event_data[2] << 8 | event_data[3];

		if (grant < 1 || grant > 8)
			return fprintf(stderr, "fill_vanish: grant %d\n", grant), 1;
		for (int i = 0; i < grant; i++)
			bsdh(out + 64 * i, 0xFF, RING, 20, i + 1, 0), lens[n++] = 20;
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
	if (!strcmp(sc, "fill_vanish")) {
		/* Every send completed: the messages are in the listener's buffers. */
		struct ibv_wc wc;
		int done = 0;

		for (int tries = 0; done < n && tries < 5000; tries++) {
			int got = ibv_poll_cq(id->qp->send_cq, 1, &wc);

			if (got < 0 || (got == 1 && wc.status != IBV_WC_SUCCESS))
				return fprintf(stderr, "fill_vanish: send failed\n"), 1;
			if (got == 1 && wc.opcode == IBV_WC_SEND)
				done++;
			else if (got == 0)
				usleep(1000);
		}
		if (done != n)
			return fprintf(stderr, "fill_vanish: %d of %d sends completed\n", done, n), 1;
		printf("sent %d\n", done);
		fflush(stdout);
		rdma_disconnect(id);
	}
	wait_disconnect(id, 30000);
	return 0;
}
