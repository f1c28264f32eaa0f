// SPDX-License-Identifier: GPL-2.0
/*
 * Completions of queue pairs that share a CQ (rdma/ib_verbs.h). The shared CQ is
 * polled by ib_core in softirq (IB_POLL_SOFTIRQ) and calls each completion's done();
 * for the owner's requests that is infinisock_cqe_reaped(), which puts the completion
 * in the mailbox of the QP it names (wc->qp->qp_context), in its send or receive ring.
 * The owner takes completions from the rings and arms them as it would its own two
 * CQs: an armed ring calls its event function once, at its next completion. The
 * rings hold what the QP may have outstanding (its queues' entries), so only a peer
 * sending beyond its grant fills one; those completions are counted as lost.
 *
 * A QP on a shared receive queue learns that its receives have ended from the
 * device's last-WQE event; completions of receives may still wait in the shared CQ
 * then. The end marker, a request posted after the event, is flushed behind them:
 * when it passes, every receive of the QP is in the mailbox. The drain
 * (infinisock_drain_shared() in verbs.c) relies on the same order.
 *
 * In C for the reasons verbs.c gives.
 */
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <rdma/ib_verbs.h>

#include "helpers.h"

/* The layout of kernel_api::verbs::Cqe. */
struct infinisock_cqe {
	struct ib_cqe cqe;
	u32 tag;
};

struct infinisock_ring {
	u32 head;		/* oldest entry */
	u32 count;
	u32 cap;
	u32 lost;
	bool armed;
	void (*event)(struct ib_cq *cq, void *ctx);
	struct infinisock_wc *wc;
};

struct infinisock_mailbox {
	spinlock_t lock;
	void *ctx;
	struct ib_cqe end_cqe;
	bool ended;
	struct infinisock_ring ring[2];
	struct infinisock_wc entries[];
};

struct infinisock_mailbox *infinisock_mailbox_new(u32 send_cap, u32 recv_cap, void *ctx,
						  void (*send_event)(struct ib_cq *, void *),
						  void (*recv_event)(struct ib_cq *, void *))
{
	struct infinisock_mailbox *mb;

	if (!send_cap || !recv_cap || send_cap > U16_MAX || recv_cap > U16_MAX)
		return NULL;
	mb = kzalloc(struct_size(mb, entries, send_cap + recv_cap), GFP_KERNEL_ACCOUNT);
	if (!mb)
		return NULL;
	spin_lock_init(&mb->lock);
	mb->ctx = ctx;
	/* Armed from the start, as infinisock_alloc_cq_reaped() arms a CQ of its own. */
	mb->ring[0] = (struct infinisock_ring){ .cap = send_cap, .armed = true, .event = send_event,
						.wc = mb->entries };
	mb->ring[1] = (struct infinisock_ring){ .cap = recv_cap, .armed = true, .event = recv_event,
						.wc = mb->entries + send_cap };
	return mb;
}

void infinisock_mailbox_free(struct infinisock_mailbox *mb)
{
	kfree(mb);
}

/* Calls the ring's event if it was armed; under mb->lock, which it drops. */
static void infinisock_mailbox_wake(struct infinisock_mailbox *mb, struct infinisock_ring *r,
				    unsigned long flags, bool always)
{
	bool wake = r->armed || always;

	r->armed = false;
	spin_unlock_irqrestore(&mb->lock, flags);
	if (wake && r->event)
		r->event(NULL, mb->ctx);
}

/* Puts one completion in the ring its tag names, or counts it lost if that is full. */
void infinisock_mailbox_put(struct infinisock_mailbox *mb, const struct infinisock_wc *wc, u32 tag)
{
	struct infinisock_ring *r = &mb->ring[(tag & INFINISOCK_RECV_TAG) ? 1 : 0];
	unsigned long flags;

	spin_lock_irqsave(&mb->lock, flags);
	if (r->count == r->cap) {
		r->lost++;
	} else {
		r->wc[(r->head + r->count) % r->cap] = *wc;
		r->count++;
	}
	infinisock_mailbox_wake(mb, r, flags, false);
}

/*
 * done() of the owner's own work requests. On a CQ the owner reaps itself,
 * infinisock_poll_cq() reports them instead of calling it; on a shared CQ ib_core
 * calls it, and the completion goes to its QP's mailbox.
 */
void infinisock_cqe_reaped(struct ib_cq *cq, struct ib_wc *wc)
{
	struct infinisock_mailbox *mb = wc->qp ? wc->qp->qp_context : NULL;
	struct infinisock_wc out;

	infinisock_wc_from(&out, wc);
	if (mb)
		infinisock_mailbox_put(mb, &out, container_of(wc->wr_cqe, struct infinisock_cqe, cqe)->tag);
}

int infinisock_mailbox_poll(struct infinisock_mailbox *mb, int side, struct infinisock_wc *out, int n,
			    u32 *lost, bool *empty)
{
	struct infinisock_ring *r = &mb->ring[side ? 1 : 0];
	unsigned long flags;
	int got = 0;

	spin_lock_irqsave(&mb->lock, flags);
	while (got < n && r->count) {
		out[got++] = r->wc[r->head];
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	*lost = r->lost;
	r->lost = 0;
	*empty = !r->count;
	spin_unlock_irqrestore(&mb->lock, flags);
	return got;
}

/* Arms the ring for its next completion; > 0 when it holds some already. */
int infinisock_mailbox_arm(struct infinisock_mailbox *mb, int side)
{
	struct infinisock_ring *r = &mb->ring[side ? 1 : 0];
	unsigned long flags;
	int pending;

	spin_lock_irqsave(&mb->lock, flags);
	pending = r->count || r->lost;
	r->armed = !pending;
	spin_unlock_irqrestore(&mb->lock, flags);
	return pending;
}

bool infinisock_mailbox_ended(struct infinisock_mailbox *mb)
{
	return smp_load_acquire(&mb->ended);
}

static void infinisock_mailbox_end_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct infinisock_mailbox *mb = container_of(wc->wr_cqe, struct infinisock_mailbox, end_cqe);
	unsigned long flags;

	spin_lock_irqsave(&mb->lock, flags);
	smp_store_release(&mb->ended, true);
	infinisock_mailbox_wake(mb, &mb->ring[1], flags, true);
}

/*
 * Posts the end marker on the QP's send queue (it has room for it), once its
 * last-WQE event came: the QP is in the error state, so the marker is flushed behind
 * every completion of the QP already in the CQ.
 */
int infinisock_mailbox_post_end(struct infinisock_mailbox *mb, struct ib_qp *qp)
{
	mb->end_cqe.done = infinisock_mailbox_end_done;
	return infinisock_post_empty_write(qp, &mb->end_cqe);
}

void infinisock_mailbox_poke_recv(struct infinisock_mailbox *mb)
{
	unsigned long flags;

	spin_lock_irqsave(&mb->lock, flags);
	infinisock_mailbox_wake(mb, &mb->ring[1], flags, true);
}
