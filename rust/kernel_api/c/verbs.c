// SPDX-License-Identifier: GPL-2.0
/*
 * RDMA verbs (rdma/ib_verbs.h): device names, ports and attributes; protection
 * domains; completion queues, including the ones their owner reaps itself, their
 * polling and draining a QP over them; RC QPs; posting receives, sends and empty RDMA
 * WRITEs; DMA mapping of kernel buffers. infinisock_unerr(), which turns an ERR_PTR
 * into NULL and an errno, is here and used by cm.c and rdma.c too.
 *
 * The logic (polling and dispatching completions, draining a QP, filling in work
 * requests and QP attributes) is in C because the kernel crate has no RDMA bindings,
 * the verbs calls are static inlines and macros (ib_post_send(), ib_poll_cq(),
 * ib_req_notify_cq(), ib_dma_map_single(), ib_alloc_pd(), ...), and the structures
 * they take (ib_wc, ib_send_wr, ib_qp_init_attr, ...) are not in the module's bindgen
 * allowlist.
 */
#include <linux/completion.h>
#include <linux/netdevice.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <rdma/ib_verbs.h>

#include "helpers.h"

/*
 * The device's name, copied. ib_device.name is an array inside the device that a
 * rename rewrites in place; dev_name() is the kobject's name, which a rename frees
 * (ib_device_rename() takes a lock of ib_core's that we cannot). A copy taken during
 * a rename may be half old, half new: never freed memory, always NUL-terminated.
 */
void infinisock_ib_device_name(const struct ib_device *dev, char *buf, size_t len)
{
	strscpy(buf, dev->name, min(len, sizeof(dev->name)));
}

bool infinisock_ib_port_usable_in(struct ib_device *dev, u32 port, const struct net *net)
{
	struct net_device *ndev;
	bool usable;

	if (!rdma_dev_access_netns(dev, net))
		return false;
	/* InfiniBand ports have no network device: visible is usable. */
	ndev = ib_device_get_netdev(dev, port);
	if (!ndev)
		return true;
	usable = net_eq(dev_net(ndev), net);
	dev_put(ndev);
	return usable;
}

u32 infinisock_ib_start_port(const struct ib_device *dev)
{
	return rdma_start_port(dev);
}

u32 infinisock_ib_end_port(const struct ib_device *dev)
{
	return rdma_end_port(dev);
}

/* ERR_PTR-returning calls become NULL plus an errno, which Rust checks plainly. */
void *infinisock_unerr(void *p, int *err)
{
	if (IS_ERR(p)) {
		*err = PTR_ERR(p);
		return NULL;
	}
	*err = 0;
	return p;
}

struct ib_pd *infinisock_alloc_pd(struct ib_device *dev, int *err)
{
	return infinisock_unerr(ib_alloc_pd(dev, 0), err);
}

void infinisock_dealloc_pd(struct ib_pd *pd)
{
	ib_dealloc_pd(pd);
}

u32 infinisock_pd_lkey(const struct ib_pd *pd)
{
	return pd->local_dma_lkey;
}

struct ib_cq *infinisock_alloc_cq(struct ib_device *dev, void *context, int nr_cqe, int poll_ctx,
				  int *err)
{
	return infinisock_unerr(ib_alloc_cq_any(dev, context, nr_cqe, poll_ctx), err);
}

/*
 * A CQ its owner reaps itself, in process context under its own lock, so that the
 * reader a completion is for can take it without a workqueue hop in between:
 * allocated as IB_POLL_DIRECT (ib_core never polls it), with the owner's event handler
 * in place of ib_core's, and armed for the first completion.
 */
struct ib_cq *infinisock_alloc_cq_reaped(struct ib_device *dev, void *context, int nr_cqe,
					 void (*event)(struct ib_cq *cq, void *context), int *err)
{
	struct ib_cq *cq = infinisock_unerr(ib_alloc_cq_any(dev, context, nr_cqe, IB_POLL_DIRECT), err);

	if (!cq)
		return NULL;
	/* No QP uses the CQ yet and it is not armed: no event can race with this. */
	cq->comp_handler = event;
	ib_req_notify_cq(cq, IB_CQ_NEXT_COMP);
	return cq;
}

int infinisock_poll_cq(struct ib_cq *cq, struct infinisock_wc *out, int n)
{
	/* Not zeroed by CONFIG_INIT_STACK_ALL_ZERO: written by the driver before read. */
	struct ib_wc wc[INFINISOCK_POLL_BATCH] __uninitialized;
	int i, got;

	got = ib_poll_cq(cq, min(n, INFINISOCK_POLL_BATCH), wc);
	for (i = 0; i < got; i++) {
		struct ib_cqe *cqe = wc[i].wr_cqe;

		if (cqe->done != infinisock_cqe_reaped) {
			/* Not ours (a drain request): its owner handles it. */
			cqe->done(cq, &wc[i]);
			out[i].cqe = NULL;
			continue;
		}
		infinisock_wc_from(&out[i], &wc[i]);
	}
	return max(got, 0);
}

void infinisock_wc_from(struct infinisock_wc *out, const struct ib_wc *wc)
{
	bool ok = wc->status == IB_WC_SUCCESS;
	bool with_imm = ok && wc->opcode == IB_WC_RECV_RDMA_WITH_IMM;

	*out = (struct infinisock_wc){
		.cqe = wc->wr_cqe,
		.status = wc->status,
		.byte_len = wc->byte_len,
		.with_imm = with_imm,
		.imm = with_imm ? be32_to_cpu(wc->ex.imm_data) : 0,
		.with_inv = ok && (wc->wc_flags & IB_WC_WITH_INVALIDATE),
	};
}

int infinisock_arm_cq(struct ib_cq *cq)
{
	return ib_req_notify_cq(cq, IB_CQ_NEXT_COMP | IB_CQ_REPORT_MISSED_EVENTS);
}

struct infinisock_drain {
	struct ib_cqe cqe;
	struct completion done;
};

static void infinisock_drain_done(struct ib_cq *cq, struct ib_wc *wc)
{
	complete(&container_of(wc->wr_cqe, struct infinisock_drain, cqe)->done);
}

/*
 * ib_drain_qp() for a QP whose CQs are reaped: ib_drain_qp() would first sleep
 * 100 ms per queue before polling an IB_POLL_DIRECT CQ. Moves the QP to the error
 * state, posts one marker request per queue (their room is reserved) and polls until
 * both are flushed; every earlier request is flushed before them. (A QP on a shared
 * receive queue completes to a shared CQ: infinisock_drain_shared().)
 */
void infinisock_drain_qp(struct ib_qp *qp)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	struct infinisock_drain sdrain = { .cqe.done = infinisock_drain_done };
	struct infinisock_drain rdrain = { .cqe.done = infinisock_drain_done };
	struct ib_recv_wr rwr = { .wr_cqe = &rdrain.cqe };
	int ret;

	init_completion(&sdrain.done);
	init_completion(&rdrain.done);
	ret = ib_modify_qp(qp, &attr, IB_QP_STATE);
	if (ret) {
		WARN_ONCE(ret, "infinisock: moving QP %u to the error state failed: %d\n", qp->qp_num, ret);
		return;
	}
	if (infinisock_post_empty_write(qp, &sdrain.cqe))
		complete(&sdrain.done);
	if (ib_post_recv(qp, &rwr, NULL))
		complete(&rdrain.done);
	while (!completion_done(&sdrain.done) || !completion_done(&rdrain.done)) {
		struct infinisock_wc ignored[INFINISOCK_POLL_BATCH];
		int got = infinisock_poll_cq(qp->send_cq, ignored, INFINISOCK_POLL_BATCH);

		if (qp->recv_cq != qp->send_cq)
			got += infinisock_poll_cq(qp->recv_cq, ignored, INFINISOCK_POLL_BATCH);
		if (!got)
			schedule_timeout_uninterruptible(1);
	}
}

/*
 * The drain of a QP on a shared CQ, and on a shared receive queue (mailbox.c): to the
 * error state; wait for the last-WQE event (every receive completion is in the CQ
 * then); one marker on the send queue, flushed behind everything else of the QP. When
 * ib_core has called its done(), every completion of the QP was delivered to its
 * mailbox and none will be any more. Returns false if that could not be reached: the
 * QP, its mailbox and what its requests use must then be left alone for ever, since
 * the shared CQ may still deliver to them.
 */
bool infinisock_drain_shared(struct ib_qp *qp)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	struct infinisock_drain marker = { .cqe.done = infinisock_drain_done };
	int ret;

	init_completion(&marker.done);
	ret = ib_modify_qp(qp, &attr, IB_QP_STATE);
	if (ret) {
		WARN_ONCE(ret, "infinisock: moving QP %u to the error state failed: %d\n", qp->qp_num, ret);
		return false;
	}
	/* As long as __ib_drain_srq() waits for it. */
	if (qp->srq && !wait_for_completion_timeout(&qp->srq_completion, 60 * HZ)) {
		pr_warn_ratelimited("infinisock: QP %u: no last-WQE event in 60 s, kept\n", qp->qp_num);
		return false;
	}
	ret = infinisock_post_empty_write(qp, &marker.cqe);
	if (ret) {
		WARN_ONCE(ret, "infinisock: QP %u: drain marker not posted: %d\n", qp->qp_num, ret);
		return false;
	}
	wait_for_completion(&marker.done);
	return true;
}

void infinisock_free_cq(struct ib_cq *cq)
{
	ib_free_cq(cq);
}

struct ib_qp *infinisock_create_rc_qp(struct ib_pd *pd, struct ib_cq *send_cq, struct ib_cq *recv_cq,
				      u32 max_send_wr, u32 max_recv_wr, u32 max_sge, void *context,
				      int *err)
{
	struct ib_qp_init_attr attr = {
		.qp_context = context,
		.send_cq = send_cq,
		.recv_cq = recv_cq,
		.cap = {
			.max_send_wr = max_send_wr,
			.max_recv_wr = max_recv_wr,
			.max_send_sge = max_sge,
			.max_recv_sge = max_sge,
		},
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.qp_type = IB_QPT_RC,
	};

	return infinisock_unerr(ib_create_qp(pd, &attr), err);
}

int infinisock_destroy_qp(struct ib_qp *qp)
{
	return ib_destroy_qp(qp);
}

u32 infinisock_qp_num(const struct ib_qp *qp)
{
	return qp->qp_num;
}

int infinisock_post_recv(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ib_recv_wr wr = { .wr_cqe = cqe, .sg_list = &sge, .num_sge = 1 };

	return ib_post_recv(qp, &wr, NULL);
}

int infinisock_post_send(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey,
			 const void *inline_data)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ib_send_wr wr = {
		.wr_cqe = cqe,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IB_WR_SEND,
		.send_flags = IB_SEND_SIGNALED,
	};

	/* Inline data is read through the SGE's address as a kernel address (as net/smc posts it). */
	if (inline_data) {
		sge.addr = (uintptr_t)inline_data;
		wr.send_flags |= IB_SEND_INLINE;
	}

	return ib_post_send(qp, &wr, NULL);
}

/*
 * A zero-length RDMA WRITE, signaled. It needs no rkey or address (IBTA C9-88),
 * consumes no receive buffer at the peer and raises no completion there; the peer's
 * adapter acknowledges it, or our QP fails it after its transport retries.
 */
int infinisock_post_empty_write(struct ib_qp *qp, struct ib_cqe *cqe)
{
	struct ib_rdma_wr wr = {
		.wr = {
			.wr_cqe = cqe,
			.opcode = IB_WR_RDMA_WRITE,
			.send_flags = IB_SEND_SIGNALED,
		},
	};

	return ib_post_send(qp, &wr.wr, NULL);
}

/*
 * An RDMA READ into one local buffer (the PD's local DMA key writes it), signaled: a
 * zero-copy sink fetching what the peer advertised.
 */
int infinisock_post_read(struct ib_qp *qp, struct ib_cqe *cqe, u64 addr, u32 len, u32 lkey, u64 remote_addr,
			 u32 rkey)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ib_rdma_wr wr = {
		.wr = {
			.wr_cqe = cqe,
			.sg_list = &sge,
			.num_sge = 1,
			.opcode = IB_WR_RDMA_READ,
			.send_flags = IB_SEND_SIGNALED,
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};

	return ib_post_send(qp, &wr.wr, NULL);
}

int infinisock_dma_map(struct ib_device *dev, void *buf, size_t len, int dir, u64 *addr)
{
	*addr = ib_dma_map_single(dev, buf, len, dir);
	return ib_dma_mapping_error(dev, *addr) ? -ENOMEM : 0;
}

void infinisock_dma_unmap(struct ib_device *dev, u64 addr, size_t len, int dir)
{
	ib_dma_unmap_single(dev, addr, len, dir);
}

void infinisock_dma_sync_for_cpu(struct ib_device *dev, u64 addr, size_t len, int dir)
{
	ib_dma_sync_single_for_cpu(dev, addr, len, dir);
}

void infinisock_dma_sync_for_device(struct ib_device *dev, u64 addr, size_t len, int dir)
{
	ib_dma_sync_single_for_device(dev, addr, len, dir);
}

/* SGEs per RDMA WRITE and per RDMA READ request the device takes (capped). */
void infinisock_dev_sges(const struct ib_device *dev, u32 *send_sge, u32 *read_sge)
{
	*send_sge = clamp_t(u32, dev->attrs.max_send_sge, 1, 16);
	*read_sge = clamp_t(u32, dev->attrs.max_sge_rd, 1, *send_sge);
}
