// SPDX-License-Identifier: GPL-2.0
/*
 * Shared receive queues (rdma/ib_verbs.h): creating and destroying one, posting a
 * receive buffer to it, and what a queue pair on one needs besides its own queues:
 * whether the device has reported its last receive (IB_EVENT_QP_LAST_WQE_REACHED,
 * which ib_core records in qp->srq_completion), and the drain of its send queue.
 *
 * In C for the reasons verbs.c gives: the verbs calls are static inlines and their
 * structures are not in the module's bindgen allowlist.
 */
#include <linux/completion.h>
#include <linux/sched.h>
#include <linux/etherdevice.h>
#include <net/ipv6.h>
#include <rdma/ib_cache.h>
#include <rdma/ib_verbs.h>

#include "helpers.h"

/*
 * The queue's asynchronous events go to `event` with the context set by
 * infinisock_srq_set_context() (NULL until then: no QP is on the queue before).
 */
struct ib_srq *infinisock_create_srq(struct ib_pd *pd, u32 max_wr,
				     void (*event)(struct ib_event *, void *), int *err)
{
	struct ib_srq_init_attr attr = {
		.event_handler = event,
		.attr = { .max_wr = max_wr, .max_sge = 1 },
		.srq_type = IB_SRQT_BASIC,
	};

	return infinisock_unerr(ib_create_srq(pd, &attr), err);
}

void infinisock_srq_set_context(struct ib_srq *srq, void *context)
{
	srq->srq_context = context;
}

/* Arms the limit event (IB_EVENT_SRQ_LIMIT_REACHED) for fewer than `limit` posted; 0 disarms. */
int infinisock_arm_srq_limit(struct ib_srq *srq, u32 limit)
{
	struct ib_srq_attr attr = { .srq_limit = limit };

	return ib_modify_srq(srq, &attr, IB_SRQ_LIMIT);
}

void infinisock_destroy_srq(struct ib_srq *srq)
{
	ib_destroy_srq(srq);
}

int infinisock_post_srq_recv(struct ib_srq *srq, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ib_recv_wr wr = { .wr_cqe = cqe, .sg_list = &sge, .num_sge = 1 };

	return ib_post_srq_recv(srq, &wr, NULL);
}

/*
 * Whether the QP on a shared receive queue has taken its last receive from it: it is
 * in the error state and the device reported IB_EVENT_QP_LAST_WQE_REACHED. Every
 * receive it completed is in its receive CQ by then.
 */
bool infinisock_qp_last_wqe(struct ib_qp *qp)
{
	return completion_done(&qp->srq_completion);
}

/*
 * Wakes the owner's receive side as a completion would (a receive posted after the
 * end). A QP on a shared receive queue completes to a shared CQ: its qp_context is
 * its mailbox.
 */
void infinisock_qp_poke_recv_cq(struct ib_qp *qp)
{
	if (qp->qp_context)
		infinisock_mailbox_poke_recv(qp->qp_context);
}

/*
 * The QP's asynchronous events (ib_qp_init_attr.event_handler). The last-WQE event
 * of a QP on a shared receive queue wakes the receive CQ's owner as a completion
 * would: its next poll reports the end of the QP's receives (no receive of its own
 * is flushed to say so).
 */
void infinisock_qp_event(struct ib_event *event, void *context)
{
	struct ib_qp *qp = event->element.qp;

	if (event->event == IB_EVENT_QP_LAST_WQE_REACHED)
		infinisock_qp_poke_recv_cq(qp);
}

/*
 * The drain pair of a shared receive queue (kernel_api/srq_drain.rs): a QP on the
 * queue (`sink`) and one sending zero-length messages to it (`source`), connected to
 * each other through the device's own address. Each message takes one posted
 * receive, in the queue's order, and completes it with byte_len 0 without touching
 * its buffer: the only way to take requests back from a shared receive queue
 * (ib_modify_srq cannot shrink it below what is posted).
 *
 * Connected by hand as net/smc/smc_ib.c does. A kernel caller gives the RoCE
 * destination MAC itself; rdma_rxe loops a packet back in the driver only when that
 * MAC is its own netdev's.
 */
static int infinisock_loopback_ah(struct ib_device *dev, u32 port, struct rdma_ah_attr *ah)
{
	const struct ib_gid_attr *found = NULL, *attr;
	struct ib_port_attr pattr;
	union ib_gid gid;
	u8 mac[ETH_ALEN];
	int i, err;

	err = ib_query_port(dev, port, &pattr);
	if (err)
		return err;
	/* An IPv4 address's GID if there is one (no IPv6 route needed), else the first. */
	/* An address vector names its source GID by a u8 index. */
	for (i = 0; i < min_t(int, pattr.gid_tbl_len, 256); i++) {
		attr = rdma_get_gid_attr(dev, port, i);
		if (IS_ERR(attr))
			continue;
		if (attr->gid_type != IB_GID_TYPE_ROCE_UDP_ENCAP) {
			rdma_put_gid_attr(attr);
			continue;
		}
		if (!found) {
			found = attr;
		} else if (ipv6_addr_v4mapped((const struct in6_addr *)attr->gid.raw) &&
			   !ipv6_addr_v4mapped((const struct in6_addr *)found->gid.raw)) {
			rdma_put_gid_attr(found);
			found = attr;
		} else {
			rdma_put_gid_attr(attr);
		}
	}
	if (!found)
		return -ENODEV;
	err = rdma_read_gid_l2_fields(found, NULL, mac);
	if (!err) {
		memset(ah, 0, sizeof(*ah));
		ah->type = RDMA_AH_ATTR_TYPE_ROCE;
		rdma_ah_set_port_num(ah, port);
		gid = found->gid;
		rdma_ah_set_grh(ah, &gid, 0, found->index, 1, 0);
		memcpy(ah->roce.dmac, mac, ETH_ALEN);
	}
	rdma_put_gid_attr(found);
	return err;
}

static int infinisock_loopback_connect(struct ib_qp *qp, u32 port, const struct rdma_ah_attr *ah,
				       u32 dest_qpn)
{
	struct ib_qp_attr attr = {};
	int err;

	attr.qp_state = IB_QPS_INIT;
	attr.port_num = port;
	err = ib_modify_qp(qp, &attr, IB_QP_STATE | IB_QP_PKEY_INDEX | IB_QP_ACCESS_FLAGS | IB_QP_PORT);
	if (err)
		return err;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTR;
	attr.path_mtu = IB_MTU_1024;
	attr.ah_attr = *ah;
	attr.dest_qp_num = dest_qpn;
	attr.max_dest_rd_atomic = 1;
	attr.min_rnr_timer = 1;
	err = ib_modify_qp(qp, &attr, IB_QP_STATE | IB_QP_AV | IB_QP_PATH_MTU | IB_QP_DEST_QPN |
			   IB_QP_RQ_PSN | IB_QP_MAX_DEST_RD_ATOMIC | IB_QP_MIN_RNR_TIMER);
	if (err)
		return err;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTS;
	attr.timeout = 14;
	attr.retry_cnt = 6;
	/* 7: for ever. A queue with nothing posted yet fills with its next refill. */
	attr.rnr_retry = 7;
	attr.max_rd_atomic = 1;
	return ib_modify_qp(qp, &attr, IB_QP_STATE | IB_QP_TIMEOUT | IB_QP_RETRY_CNT | IB_QP_SQ_PSN |
			    IB_QP_RNR_RETRY | IB_QP_MAX_QP_RD_ATOMIC);
}

/*
 * Makes and connects the pair in `pd`, both completing to `cq`; `depth` messages may
 * be in flight. On failure nothing is left and the error is returned.
 */
int infinisock_srq_drain_pair(struct ib_pd *pd, struct ib_srq *srq, struct ib_cq *cq, u32 depth,
			      struct ib_qp **sink, struct ib_qp **source)
{
	struct ib_qp_init_attr init = {
		.send_cq = cq,
		.recv_cq = cq,
		.cap = { .max_send_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 },
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.qp_type = IB_QPT_RC,
		.srq = srq,
	};
	struct rdma_ah_attr ah;
	u32 port = rdma_start_port(pd->device);
	struct ib_qp *x, *y;
	int err;

	err = infinisock_loopback_ah(pd->device, port, &ah);
	if (err)
		return err;
	x = ib_create_qp(pd, &init);
	if (IS_ERR(x))
		return PTR_ERR(x);
	init.srq = NULL;
	init.cap.max_send_wr = depth;
	init.cap.max_recv_wr = 1;
	y = ib_create_qp(pd, &init);
	if (IS_ERR(y)) {
		ib_destroy_qp(x);
		return PTR_ERR(y);
	}
	err = infinisock_loopback_connect(x, port, &ah, y->qp_num);
	if (!err)
		err = infinisock_loopback_connect(y, port, &ah, x->qp_num);
	if (err) {
		ib_destroy_qp(y);
		ib_destroy_qp(x);
		return err;
	}
	*sink = x;
	*source = y;
	return 0;
}

/* Posts `n` zero-length messages on the pair's source; returns how many were posted. */
int infinisock_srq_drain_post(struct ib_qp *source, struct ib_cqe *cqe, u32 n)
{
	const struct ib_send_wr wr = {
		.wr_cqe = cqe,
		.opcode = IB_WR_SEND,
		.send_flags = IB_SEND_SIGNALED,
	};
	u32 i;

	for (i = 0; i < n; i++)
		if (ib_post_send(source, &wr, NULL))
			break;
	return i;
}

/*
 * Stops the pair's sink: to the error state, then waits (up to a second) for the
 * device's last-WQE event, after which every receive it took from the queue is in the
 * pair's CQ. Returns whether the event came.
 */
bool infinisock_srq_drain_stop(struct ib_qp *sink)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };

	if (ib_modify_qp(sink, &attr, IB_QP_STATE))
		return false;
	return wait_for_completion_timeout(&sink->srq_completion, HZ) > 0;
}
