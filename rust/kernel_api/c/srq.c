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
#include <rdma/ib_verbs.h>

#include "helpers.h"

struct ib_srq *infinisock_create_srq(struct ib_pd *pd, u32 max_wr, int *err)
{
	struct ib_srq_init_attr attr = {
		.attr = { .max_wr = max_wr, .max_sge = 1 },
		.srq_type = IB_SRQT_BASIC,
	};

	return infinisock_unerr(ib_create_srq(pd, &attr), err);
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

/* Wakes the receive CQ's owner as a completion would (a receive posted after the end). */
void infinisock_qp_poke_recv_cq(struct ib_qp *qp)
{
	if (qp->recv_cq && qp->recv_cq->comp_handler)
		qp->recv_cq->comp_handler(qp->recv_cq, qp->recv_cq->cq_context);
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
