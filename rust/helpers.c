// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers for static inline functions and macros the Rust side calls. Each one is a
 * plain call-through: no logic lives here.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <net/busy_poll.h>
#include <net/protocol.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <linux/sched/signal.h>
#include <linux/workqueue.h>
#include <linux/uio.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/bpf-cgroup.h>
#include <net/inet_common.h>
#include <linux/skbuff.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>
#include <rdma/ib_cm.h>

#include "helpers.h"

#define INFINISOCK_LAYOUT(F, S)						\
	S(proto) F(proto, name) F(proto, owner) F(proto, init)		\
	F(proto, unhash) F(proto, obj_size) F(proto, ipv6_pinfo_offset)	\
	S(proto_ops) F(proto_ops, family) F(proto_ops, owner)		\
	F(proto_ops, release) F(proto_ops, bind) F(proto_ops, mmap)	\
	F(proto_ops, recvmsg)						\
	S(net_proto_family) F(net_proto_family, family)			\
	F(net_proto_family, create) F(net_proto_family, owner)		\
	S(inet_protosw) F(inet_protosw, type) F(inet_protosw, protocol)	\
	F(inet_protosw, prot) F(inet_protosw, ops)			\
	S(pernet_operations) F(pernet_operations, init)			\
	F(pernet_operations, exit) F(pernet_operations, id)		\
	F(pernet_operations, size)					\
	S(ctl_table) F(ctl_table, procname) F(ctl_table, data)		\
	F(ctl_table, maxlen) F(ctl_table, mode)				\
	F(ctl_table, proc_handler) F(ctl_table, extra1)			\
	F(ctl_table, extra2)						\
	S(ib_client) F(ib_client, name) F(ib_client, add)		\
	F(ib_client, remove)						\
	S(ib_port_attr) F(ib_port_attr, state) F(ib_port_attr, active_mtu)

size_t infinisock_layout(const char *name)
{
#define F(type, field)							\
	if (!strcmp(name, #type "." #field))				\
		return offsetof(struct type, field);
#define S(type)								\
	if (!strcmp(name, #type))					\
		return sizeof(struct type);
	INFINISOCK_LAYOUT(F, S)
#undef F
#undef S
	return SIZE_MAX;
}

int infinisock_socket_type(const struct socket *sock)
{
	return sock->type;
}

struct sock *infinisock_socket_take_sk(struct socket *sock)
{
	struct sock *sk = sock->sk;

	sock->sk = NULL;
	return sk;
}

void infinisock_socket_set_ops(struct socket *sock, const struct proto_ops *ops)
{
	sock->ops = ops;
}

struct sock *infinisock_socket_sk(const struct socket *sock)
{
	return sock->sk;
}

u16 infinisock_sk_protocol(const struct sock *sk)
{
	return sk->sk_protocol;
}

u16 infinisock_sk_family(const struct sock *sk)
{
	return sk->sk_family;
}

int infinisock_sk_type(const struct sock *sk)
{
	return sk->sk_type;
}

void infinisock_sk_set_protocol(struct sock *sk, u16 protocol)
{
	sk->sk_protocol = protocol;
}

size_t infinisock_sock_size(void)
{
	return sizeof(struct infinisock_sock);
}

size_t infinisock6_sock_size(void)
{
	return sizeof(struct infinisock6_sock);
}

size_t infinisock6_pinfo_offset(void)
{
	return offsetof(struct infinisock6_sock, inet6);
}

void infinisock_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

void infinisock_sock_put(struct sock *sk)
{
	sock_put(sk);
}

void infinisock_sock_orphan(struct sock *sk)
{
	sock_orphan(sk);
}

void infinisock_lock_sock(struct sock *sk)
{
	lock_sock(sk);
}

struct net *infinisock_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

void *infinisock_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct proc_dir_entry *infinisock_proc_net_mkdir(struct net *net, const char *name)
{
	return proc_net_mkdir(net, name, net->proc_net);
}

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
static void *infinisock_unerr(void *p, int *err)
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

/*
 * done() of the owner's own work requests on a reaped CQ. infinisock_poll_cq() reports
 * them instead of calling it; only infinisock_drain_qp() calls it, at teardown, when
 * there is nothing left to account.
 */
void infinisock_cqe_reaped(struct ib_cq *cq, struct ib_wc *wc)
{
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
		out[i].cqe = cqe;
		out[i].status = wc[i].status;
		out[i].byte_len = wc[i].byte_len;
		out[i].with_imm = wc[i].status == IB_WC_SUCCESS && wc[i].opcode == IB_WC_RECV_RDMA_WITH_IMM;
		out[i].imm = out[i].with_imm ? be32_to_cpu(wc[i].ex.imm_data) : 0;
	}
	return max(got, 0);
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
 * both are flushed; every earlier request is flushed before them.
 */
void infinisock_drain_qp(struct ib_qp *qp)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	struct infinisock_drain sdrain = { .cqe.done = infinisock_drain_done };
	struct infinisock_drain rdrain = { .cqe.done = infinisock_drain_done };
	struct ib_rdma_wr swr = {
		.wr = {
			.wr_cqe = &sdrain.cqe,
			.opcode = IB_WR_RDMA_WRITE,
			.send_flags = IB_SEND_SIGNALED,
		},
	};
	struct ib_recv_wr rwr = { .wr_cqe = &rdrain.cqe };
	int ret;

	init_completion(&sdrain.done);
	init_completion(&rdrain.done);
	ret = ib_modify_qp(qp, &attr, IB_QP_STATE);
	if (ret) {
		WARN_ONCE(ret, "infinisock: moving QP %u to the error state failed: %d\n", qp->qp_num, ret);
		return;
	}
	if (ib_post_send(qp, &swr.wr, NULL))
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
 * A keepalive probe: a zero-length RDMA WRITE. It needs no rkey or address (IBTA
 * C9-88), consumes no receive buffer at the peer and raises no completion there; the
 * peer's adapter acknowledges it, or our QP fails it after its transport retries.
 */
int infinisock_post_probe(struct ib_qp *qp, struct ib_cqe *cqe)
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

struct rdma_cm_id *infinisock_cm_create_id(struct net *net, infinisock_cm_handler handler, void *context,
					   u32 ps, int *err)
{
	return infinisock_unerr(rdma_create_id(net, handler, context, ps, IB_QPT_RC), err);
}

void *infinisock_cm_context(const struct rdma_cm_id *id)
{
	return id->context;
}

void infinisock_cm_set_context(struct rdma_cm_id *id, void *context)
{
	id->context = context;
}

struct ib_device *infinisock_cm_device(const struct rdma_cm_id *id)
{
	return id->device;
}

struct sockaddr *infinisock_cm_src_addr(struct rdma_cm_id *id)
{
	return (struct sockaddr *)&id->route.addr.src_addr;
}

struct sockaddr *infinisock_cm_dst_addr(struct rdma_cm_id *id)
{
	return (struct sockaddr *)&id->route.addr.dst_addr;
}

/*
 * The connection's RC QP is not attached to its rdma_cm id: rdma_cm would move an
 * attached QP to RTS with the receiver-not-ready retry count the peer asked for in its
 * REQ or REP, and a peer asking 7 ("retry for ever") that then posts no receives would
 * hold our sends, and every pinned page behind them, for ever. We take the QP through
 * INIT here and RTR/RTS in infinisock_qp_ready() (what rdma_cm does, with the count
 * capped), and to the error state in infinisock_cm_disconnect().
 */
struct ib_qp *infinisock_cm_create_qp(struct rdma_cm_id *id, struct ib_pd *pd, struct ib_cq *send_cq,
				      struct ib_cq *recv_cq, u32 max_send_wr, u32 max_recv_wr, u32 max_send_sge,
				      u32 *max_inline, int *err)
{
	struct ib_qp_init_attr init = {
		.send_cq = send_cq,
		.recv_cq = recv_cq,
		.cap = {
			.max_send_wr = max_send_wr,
			.max_recv_wr = max_recv_wr,
			.max_send_sge = max_send_sge,
			.max_recv_sge = 1,
		},
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.qp_type = IB_QPT_RC,
		.port_num = id->port_num,
	};
	struct ib_qp_attr attr = { .qp_state = IB_QPS_INIT };
	struct ib_qp *qp;
	int mask;

	*max_inline = 0;
	if (id->device != pd->device) {
		*err = -EINVAL;
		return NULL;
	}
	qp = ib_create_qp(pd, &init);
	if (IS_ERR(qp)) {
		*err = PTR_ERR(qp);
		return NULL;
	}
	*err = rdma_init_qp_attr(id, &attr, &mask);
	if (!*err)
		*err = ib_modify_qp(qp, &attr, mask);
	if (*err) {
		ib_destroy_qp(qp);
		return NULL;
	}
	/* No inline data is asked for; the driver reports what its send queue can take. */
	*max_inline = init.cap.max_inline_data;
	return qp;
}

/*
 * Credits guarantee a posted receive for every send, so receiver-not-ready never
 * happens with a peer that keeps the protocol: 6 retries (at the peer's RNR timer, at
 * most 655 ms each) are plenty, and a peer that grants credits but posts no receives
 * fails our sends (ETIMEDOUT) instead of holding them for ever. We ask the peer for
 * the same. retry_count 6, not 7: a peer that stops acknowledging must fail our sends
 * (ETIMEDOUT, as TCP's retransmission timeout), and rdma_rxe treats a transport retry
 * count of 7 as "retry for ever" too.
 */
#define INFINISOCK_RETRY 6
#define INFINISOCK_RNR_RETRY 6

/*
 * RDMA READs in flight at once, each way: what the device allows, at most this
 * (the READs of a program's operations; a handful keeps the pipe full).
 */
#define INFINISOCK_RD_ATOMIC 16

static void infinisock_conn_param(struct rdma_conn_param *p, const struct ib_device *dev, const struct ib_qp *qp,
				  const void *data, u8 len)
{
	*p = (struct rdma_conn_param) {
		.private_data = data,
		.private_data_len = len,
		.flow_control = 1,
		.retry_count = INFINISOCK_RETRY,
		.rnr_retry_count = INFINISOCK_RNR_RETRY,
		.responder_resources = min_t(u32, dev->attrs.max_qp_rd_atom, INFINISOCK_RD_ATOMIC),
		.initiator_depth = min_t(u32, dev->attrs.max_qp_init_rd_atom, INFINISOCK_RD_ATOMIC),
		.qp_num = qp->qp_num,
	};
}

/*
 * INIT (again: now the connection's access rights are known) to RTR to RTS with the
 * attributes rdma_cm negotiated, as rdma_cm's own cma_modify_qp_rtr()/_rts() do; p
 * (the passive side's accept) overrides the RDMA READ depths as they do. The RNR retry
 * count is the peer's wish, capped.
 */
static int infinisock_qp_ready(struct rdma_cm_id *id, struct ib_qp *qp, const struct rdma_conn_param *p)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_INIT };
	int mask, ret;

	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return ret;
	ret = ib_modify_qp(qp, &attr, mask);
	if (ret)
		return ret;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTR;
	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return ret;
	if (p)
		attr.max_dest_rd_atomic = p->responder_resources;
	ret = ib_modify_qp(qp, &attr, mask);
	if (ret)
		return ret;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTS;
	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return ret;
	if (p)
		attr.max_rd_atomic = p->initiator_depth;
	if ((mask & IB_QP_RNR_RETRY) && attr.rnr_retry > INFINISOCK_RNR_RETRY)
		attr.rnr_retry = INFINISOCK_RNR_RETRY;
	return ib_modify_qp(qp, &attr, mask);
}

int infinisock_cm_connect_locked(struct rdma_cm_id *id, struct ib_qp *qp, const void *data, u8 len)
{
	struct rdma_conn_param p;

	infinisock_conn_param(&p, id->device, qp, data, len);
	return rdma_connect_locked(id, &p);
}

/* Active side, on the peer's REP: the QP to RTS, then the RTU; a failure rejects. */
int infinisock_cm_establish(struct rdma_cm_id *id, struct ib_qp *qp)
{
	int ret = infinisock_qp_ready(id, qp, NULL);

	if (ret) {
		rdma_reject(id, NULL, 0, IB_CM_REJ_CONSUMER_DEFINED);
		return ret;
	}
	return rdma_accept(id, NULL);
}

/* Passive side: the QP to RTS, then the REP. A failure leaves the rejection to the id's destruction. */
int infinisock_cm_accept(struct rdma_cm_id *id, struct ib_qp *qp, const void *data, u8 len)
{
	struct rdma_conn_param p;
	int ret;

	infinisock_conn_param(&p, id->device, qp, data, len);
	ret = infinisock_qp_ready(id, qp, &p);
	return ret ?: rdma_accept(id, &p);
}

/*
 * Moves the QP (if any) to the error state, so every posted request is flushed, and
 * starts or answers the disconnect, as rdma_disconnect() does for an attached QP.
 * Failure means the id was not connected, which is fine here.
 */
void infinisock_cm_disconnect(struct rdma_cm_id *id, struct ib_qp *qp)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };

	if (qp)
		ib_modify_qp(qp, &attr, IB_QP_STATE);
	rdma_disconnect(id);
}

int infinisock_cm_reject(struct rdma_cm_id *id)
{
	return rdma_reject(id, NULL, 0, IB_CM_REJ_CONSUMER_DEFINED);
}

int infinisock_cm_event_type(const struct rdma_cm_event *event)
{
	return event->event;
}

int infinisock_cm_event_status(const struct rdma_cm_event *event)
{
	return event->status;
}

const void *infinisock_cm_event_private_data(const struct rdma_cm_event *event, u8 *len)
{
	*len = event->param.conn.private_data ? event->param.conn.private_data_len : 0;
	return event->param.conn.private_data;
}

void **infinisock_sk_state(struct sock *sk)
{
	return &((struct infinisock_sock *)sk)->state;
}

/* SIGIO for mask's events to an O_ASYNC owner; under rcu_read_lock(). */
static void infinisock_sk_sigio_rcu(struct sock *sk, __poll_t mask)
{
	if (mask & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		sk_wake_async_rcu(sk, SOCK_WAKE_WAITD, POLL_IN);
	if (mask & EPOLLOUT)
		sk_wake_async_rcu(sk, SOCK_WAKE_SPACE, POLL_OUT);
}

static void infinisock_sk_wake_mask(struct sock *sk, __poll_t mask, bool sigio)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, mask);
	if (sigio)
		infinisock_sk_sigio_rcu(sk, mask);
	rcu_read_unlock();
}

void infinisock_sk_sigio(struct sock *sk, __poll_t mask)
{
	rcu_read_lock();
	infinisock_sk_sigio_rcu(sk, mask);
	rcu_read_unlock();
}

/* What sock_def_readable() and friends do, with the caller's event mask. */
void infinisock_sk_wake(struct sock *sk, __poll_t mask)
{
	infinisock_sk_wake_mask(sk, mask, true);
}

void infinisock_wake_up_all(struct wait_queue_head *wq)
{
	wake_up_all(wq);
}

/*
 * Spins, with lock released, for up to spin_usec µs while *events is still seen: the
 * SO_BUSY_POLL of a blocked reader. A CQ event bumps *events from the device's
 * completion path, so a spinner sees its message without a scheduler wake-up. It
 * yields the CPU when asked (as napi_busy_loop() does) and stops on a signal.
 * Returns true if *events moved.
 */
static bool infinisock_spin_while(struct mutex *lock, const u32 *events, u32 seen, unsigned int spin_usec)
{
	unsigned long start = busy_loop_current_time();
	bool moved;

	mutex_unlock(lock);
	while (!(moved = READ_ONCE(*events) != seen) && !signal_pending(current) &&
	       busy_loop_current_time() - start < spin_usec) {
		if (need_resched())
			cond_resched();
		else
			cpu_relax();
	}
	mutex_lock(lock);
	return moved;
}

/*
 * Sleeps on wq, with lock released, unless *events is no longer seen. The waiter is
 * on the queue before it reads *events (wait_woken()), and a waker bumps *events
 * before it wakes the queue, so no wake-up falls between the caller's last look and
 * its sleep. spin_usec > 0 spins that long first (see above). Returns the jiffies
 * left (at least 1), 0 when the timeout ran out, or -1 with a signal pending. lock
 * is held again on return.
 */
long infinisock_wait_unless(struct wait_queue_head *wq, struct mutex *lock, const u32 *events, u32 seen,
			    long timeo, unsigned int spin_usec)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	if (spin_usec && infinisock_spin_while(lock, events, seen, spin_usec))
		return signal_pending(current) ? -1 : timeo;
	add_wait_queue(wq, &wait);
	if (READ_ONCE(*events) == seen && !signal_pending(current)) {
		mutex_unlock(lock);
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
		mutex_lock(lock);
	}
	remove_wait_queue(wq, &wait);
	if (signal_pending(current))
		return -1;
	return timeo;
}

/* Wakes poll()/epoll waiters only: no SIGIO (any atomic context). */
void infinisock_sk_wake_pollers(struct sock *sk, __poll_t mask)
{
	infinisock_sk_wake_mask(sk, mask, false);
}

void infinisock_sk_set_err(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
}

int infinisock_sk_take_err(struct sock *sk)
{
	return sock_error(sk);
}

int infinisock_sk_peek_err(const struct sock *sk)
{
	return READ_ONCE(sk->sk_err);
}

long infinisock_sk_rcvtimeo(const struct sock *sk, bool nonblock)
{
	return sock_rcvtimeo(sk, nonblock);
}

unsigned int infinisock_sk_busy_poll_usec(const struct sock *sk)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	return READ_ONCE(sk->sk_ll_usec);
#else
	return 0;
#endif
}

long infinisock_sk_sndtimeo(const struct sock *sk, bool nonblock)
{
	return sock_sndtimeo(sk, nonblock);
}

int infinisock_sk_rcvlowat(const struct sock *sk, int waitall, int len)
{
	return sock_rcvlowat(sk, waitall, len);
}

void infinisock_sk_set_state(struct sock *sk, int state)
{
	inet_sk_set_state(sk, state);
}

bool infinisock_sk_keepalive(const struct sock *sk)
{
	return sock_flag(sk, SOCK_KEEPOPEN);
}

bool infinisock_sk_linger(const struct sock *sk, long *lingertime)
{
	*lingertime = READ_ONCE(sk->sk_lingertime);
	return sock_flag(sk, SOCK_LINGER);
}

int infinisock_intr_errno(long timeo)
{
	return sock_intr_errno(timeo);
}

void infinisock_sock_graft(struct sock *sk, struct socket *parent)
{
	sock_graft(sk, parent);
}

void infinisock_socket_set_state(struct socket *sock, int state)
{
	sock->state = state;
}

void infinisock_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait)
{
	sock_poll_wait(file, sock, wait);
}

struct iov_iter *infinisock_msg_iter(struct msghdr *msg)
{
	return &msg->msg_iter;
}

void infinisock_send_sigpipe(void)
{
	send_sig(SIGPIPE, current, 0);
}

struct workqueue_struct *infinisock_alloc_workqueue(const char *name)
{
	return alloc_workqueue("%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0, name);
}

int infinisock_accept_flags(const struct proto_accept_arg *arg)
{
	return arg->flags;
}

int infinisock_msg_flags(const struct msghdr *msg)
{
	return msg->msg_flags;
}

void infinisock_msg_add_flags(struct msghdr *msg, int flags)
{
	msg->msg_flags |= flags;
}

/*
 * A sock created for an incoming connection, before accept() grafts it onto a socket:
 * what inet_create() would have set up for it.
 */
void infinisock_sk_init_child(struct sock *child, const struct sock *parent)
{
	sock_init_data(NULL, child);
	child->sk_type = parent->sk_type;
	child->sk_protocol = parent->sk_protocol;
	child->sk_rcvtimeo = parent->sk_rcvtimeo;
	child->sk_sndtimeo = parent->sk_sndtimeo;
	child->sk_rcvbuf = parent->sk_rcvbuf;
	child->sk_sndbuf = parent->sk_sndbuf;
#ifdef CONFIG_NET_RX_BUSY_POLL
	/* As TCP's children: the listener's SO_BUSY_POLL. */
	WRITE_ONCE(child->sk_ll_usec, READ_ONCE(parent->sk_ll_usec));
#endif
	/* As TCP's children (sk_clone copies the flags): keepalive and linger. */
	sock_valbool_flag(child, SOCK_KEEPOPEN, sock_flag(parent, SOCK_KEEPOPEN));
	sock_valbool_flag(child, SOCK_LINGER, sock_flag(parent, SOCK_LINGER));
	child->sk_lingertime = READ_ONCE(parent->sk_lingertime);
#if IS_ENABLED(CONFIG_IPV6)
	if (child->sk_family == AF_INET6)
		inet_sk(child)->pinet6 = &((struct infinisock6_sock *)child)->inet6;
#endif
}

int infinisock_sockptr_read_int(sockptr_t optval, unsigned int optlen, int *val)
{
	return copy_safe_from_sockptr(val, sizeof(*val), optval, optlen);
}

struct net *infinisock_seq_file_net(struct seq_file *m)
{
	return seq_file_single_net(m);
}

bool infinisock_sk_reuse(const struct sock *sk)
{
	return sk->sk_reuse != SK_NO_REUSE;
}

void infinisock_sk_user_bufs(const struct sock *sk, int *rcvbuf, int *sndbuf)
{
	/* The socket layer stores twice what the program asked for. */
	*rcvbuf = sk->sk_userlocks & SOCK_RCVBUF_LOCK ? READ_ONCE(sk->sk_rcvbuf) / 2 : 0;
	*sndbuf = sk->sk_userlocks & SOCK_SNDBUF_LOCK ? READ_ONCE(sk->sk_sndbuf) / 2 : 0;
}

bool infinisock_cancel_delayed_work(struct work_struct *work)
{
	return cancel_delayed_work(to_delayed_work(work));
}

void infinisock_flush_work(struct work_struct *work)
{
	flush_work(work);
}

/* ---- One-sided RDMA (rust/af_ib/rdma.rs) ---- */

/*
 * Registers [addr, addr + len) of the current process for the peer and, local_write,
 * as the landing place of the program's own RDMA READs: ib_reg_user_mr() pins it
 * through ib_umem_get(), which accounts it against RLIMIT_MEMLOCK (ENOMEM over it,
 * EPERM with a limit of 0, both unless CAP_IPC_LOCK) and fails unmapped memory with
 * EFAULT. The I/O virtual address is the user address, so an SGE names the region's
 * bytes by their user addresses.
 */
struct ib_mr *infinisock_reg_user_mr(struct ib_pd *pd, u64 addr, u64 len, bool remote_read, bool remote_write,
				     bool local_write, int *err)
{
	int access = 0;

	if (!pd->device->ops.reg_user_mr) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	/* The verbs require local write wherever the peer may write. */
	if (remote_write || local_write)
		access |= IB_ACCESS_LOCAL_WRITE;
	if (remote_write)
		access |= IB_ACCESS_REMOTE_WRITE;
	if (remote_read)
		access |= IB_ACCESS_REMOTE_READ;
	return infinisock_unerr(ib_reg_user_mr(pd, addr, len, addr, access), err);
}

/*
 * Faults in [addr, addr + len) of the current process, for writing when writeable,
 * as long as that takes: before a registration pins it with the endpoint's lock held
 * (see infinisock_msg_fault_in()). -EFAULT if some of it cannot be there.
 */
int infinisock_user_fault_in(u64 addr, u64 len, bool writeable)
{
	char __user *p = u64_to_user_ptr(addr);

	return (writeable ? fault_in_safe_writeable(p, len) : fault_in_readable(p, len)) ? -EFAULT : 0;
}

u32 infinisock_mr_rkey(const struct ib_mr *mr)
{
	return mr->rkey;
}

/*
 * Whether the first len bytes under iter (a sendmsg()'s iovec) are one contiguous
 * range of user memory; *addr is its start.
 */
bool infinisock_iter_user_span(const struct iov_iter *iter, size_t len, u64 *addr)
{
	if (!user_backed_iter(iter) || iov_iter_count(iter) < len || iter_iov_len(iter) < len)
		return false;
	*addr = (u64)(uintptr_t)iter_iov_addr(iter);
	return true;
}

void infinisock_dereg_mr(struct ib_mr *mr)
{
	ib_dereg_mr(mr);
}

/* The local buffer of an RDMA operation: user pages pinned and mapped, one SGE each. */
/* Regions a write with immediate may register for its pages (at most one per SGE). */
#define INFINISOCK_IMM_MAX_MRS 16

struct infinisock_pinned {
	struct ib_device *dev;
	enum dma_data_direction dir;
	bool pinned;		/* iov_iter_extract_pages() pinned them (user memory) */
	struct mmpin mmp;	/* what they are charged to RLIMIT_MEMLOCK */
	u32 npages, nsge;
	struct page **pages;
	struct ib_sge *sges;
	/* As one request (infinisock_pinned_one_request()): its SGEs, and the regions
	 * registered over runs of its pages that some of them name. */
	u32 one_nsge, nmr;
	struct ib_sge one_sges[INFINISOCK_IMM_MAX_MRS];
	struct ib_mr *mrs[INFINISOCK_IMM_MAX_MRS];
};

void infinisock_unpin(struct infinisock_pinned *p)
{
	u32 i;

	for (i = 0; i < p->nmr; i++)
		ib_dereg_mr(p->mrs[i]);
	for (i = 0; i < p->nsge; i++)
		ib_dma_unmap_page(p->dev, p->sges[i].addr, p->sges[i].length, p->dir);
	if (p->pinned)
		unpin_user_pages_dirty_lock(p->pages, p->npages, p->dir == DMA_FROM_DEVICE);
	mm_unaccount_pinned_pages(&p->mmp);
	kvfree(p->pages);
	kvfree(p->sges);
	kfree(p);
}

/* The pages the first len bytes under iter span: one SGE each. */
u32 infinisock_iter_pages(const struct iov_iter *iter, size_t len)
{
	struct iov_iter it = *iter;

	iov_iter_truncate(&it, len);
	return iov_iter_npages(&it, INT_MAX);
}

/*
 * Pins the len bytes under iter (a sendmsg()'s iovec, not advanced) for the device:
 * for reading them (RDMA WRITE) or, device_writes, for writing into them (RDMA READ).
 * The pages of a sendmsg() iterator are a data source, pinned read-only; a copy of
 * the iterator turned into a destination pins them writable, as a read() would.
 */
struct infinisock_pinned *infinisock_pin_iter(struct ib_device *dev, struct iov_iter *iter, size_t len,
					      bool device_writes, u32 lkey, int *err)
{
	struct iov_iter it = *iter;
	u32 max_pages;
	struct infinisock_pinned *p;
	size_t done = 0;
	int ret = 0;

	if (!user_backed_iter(iter)) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	it.data_source = !device_writes;
	/* Pages only as they are: a missing one is -EFAULT, see infinisock_msg_fault_in(). */
	it.nofault = true;
	max_pages = infinisock_iter_pages(&it, len);
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->dev = dev;
	p->dir = device_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	p->pinned = iov_iter_extract_will_pin(&it);
	/*
	 * Pinned pages count against the caller's RLIMIT_MEMLOCK while the operation
	 * runs, as MSG_ZEROCOPY's do (and with its errno, ENOBUFS, beyond the limit).
	 */
	if (p->pinned && mm_account_pinned_pages(&p->mmp, len)) {
		kfree(p);
		*err = -ENOBUFS;
		return NULL;
	}
	p->pages = kvmalloc_array(max_pages, sizeof(*p->pages), GFP_KERNEL);
	p->sges = kvmalloc_array(max_pages, sizeof(*p->sges), GFP_KERNEL);
	if (!p->pages || !p->sges) {
		ret = -ENOMEM;
		goto fail;
	}
	while (done < len) {
		struct page **pages = p->pages + p->npages;
		size_t off;
		ssize_t got = iov_iter_extract_pages(&it, &pages, len - done, max_pages - p->npages, 0, &off);
		u32 n, i;

		if (got <= 0) {
			ret = got ? got : -EFAULT;
			goto fail;
		}
		n = DIV_ROUND_UP(off + got, PAGE_SIZE);
		p->npages += n;
		for (i = 0; i < n; i++) {
			u32 seg = min_t(size_t, PAGE_SIZE - off, got);
			u64 addr = ib_dma_map_page(dev, pages[i], off, seg, p->dir);

			if (ib_dma_mapping_error(dev, addr)) {
				ret = -ENOMEM;
				goto fail;
			}
			p->sges[p->nsge++] = (struct ib_sge) { .addr = addr, .length = seg, .lkey = lkey };
			got -= seg;
			done += seg;
			off = 0;
		}
	}
	return p;
fail:
	infinisock_unpin(p);
	*err = ret;
	return NULL;
}

/*
 * One SGE over n of p's pages that meet at page boundaries: a memory region for the
 * operation (fast registration: the request that registers it is posted just before
 * the one that uses it). The region is p's from here and deregistered with the pins.
 */
static int infinisock_reg_run(struct ib_pd *pd, struct infinisock_pinned *p, const struct ib_sge *first, u32 n,
			      struct ib_sge *out)
{
	struct scatterlist *sgl;
	struct ib_mr *mr;
	u32 i, len = 0;
	int mapped;

	if (p->nmr == INFINISOCK_IMM_MAX_MRS)
		return -EMSGSIZE;
	mr = ib_alloc_mr(pd, IB_MR_TYPE_MEM_REG, n);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	p->mrs[p->nmr++] = mr;
	sgl = kvmalloc_array(n, sizeof(*sgl), GFP_KERNEL);
	if (!sgl)
		return -ENOMEM;
	sg_init_table(sgl, n);
	for (i = 0; i < n; i++) {
		sg_dma_address(&sgl[i]) = first[i].addr;
		sg_dma_len(&sgl[i]) = first[i].length;
		len += first[i].length;
	}
	mapped = ib_map_mr_sg(mr, sgl, n, NULL, PAGE_SIZE);
	kvfree(sgl);
	if (mapped != (int)n)
		return mapped < 0 ? mapped : -EINVAL;
	ib_update_fast_reg_key(mr, ib_inc_rkey(mr->rkey));
	*out = (struct ib_sge) { .addr = mr->iova, .length = len, .lkey = mr->lkey };
	return 0;
}

static bool infinisock_sge_ends_page(const struct ib_sge *sge)
{
	return offset_in_page(sge->addr + sge->length) == 0;
}

/*
 * Makes p one request of at most max_sge SGEs, for a write with immediate: the peer's
 * receive completion reports that request's bytes as the write's length. Pages beyond
 * max_sge are grouped into runs that meet at page boundaries (any one iovec segment is
 * one run), each run of two or more pages one SGE through a region of its own
 * (infinisock_reg_run()). Nothing is posted here: an error leaves the connection as it
 * was (EMSGSIZE: too fragmented; EOPNOTSUPP: the device has no fast registration).
 */
int infinisock_pinned_one_request(struct ib_pd *pd, struct infinisock_pinned *p, u32 max_sge)
{
	const struct ib_device_attr *attrs = &pd->device->attrs;
	u32 i = 0, n = 0;
	int ret;

	max_sge = min_t(u32, max_sge, INFINISOCK_IMM_MAX_MRS);
	if (p->nsge <= max_sge) {
		memcpy(p->one_sges, p->sges, p->nsge * sizeof(*p->sges));
		p->one_nsge = p->nsge;
		return 0;
	}
	if (!(attrs->device_cap_flags & IB_DEVICE_MEM_MGT_EXTENSIONS) || !attrs->max_fast_reg_page_list_len)
		return -EOPNOTSUPP;
	while (i < p->nsge) {
		u32 run = 1;

		while (i + run < p->nsge && run < attrs->max_fast_reg_page_list_len &&
		       infinisock_sge_ends_page(&p->sges[i + run - 1]) && offset_in_page(p->sges[i + run].addr) == 0)
			run++;
		if (n == max_sge)
			return -EMSGSIZE;
		if (run == 1) {
			p->one_sges[n++] = p->sges[i++];
			continue;
		}
		ret = infinisock_reg_run(pd, p, &p->sges[i], run, &p->one_sges[n]);
		if (ret)
			return ret;
		n++;
		i += run;
	}
	p->one_nsge = n;
	return 0;
}

/*
 * A write with immediate as one request (p made so by infinisock_pinned_one_request()),
 * after the requests that register its regions: unsignaled, carrying part_cqe, as the
 * earlier requests of other operations do.
 */
static int infinisock_post_write_imm(struct ib_qp *qp, struct ib_cqe *last_cqe, struct ib_cqe *part_cqe,
				     const struct infinisock_pinned *p, u32 imm, u64 remote_addr, u32 rkey,
				     u32 *posted)
{
	struct ib_reg_wr regs[INFINISOCK_IMM_MAX_MRS];
	struct ib_rdma_wr wr = {
		.wr = {
			.wr_cqe = last_cqe,
			.sg_list = p->one_nsge ? (struct ib_sge *)p->one_sges : NULL,
			.num_sge = p->one_nsge,
			.opcode = IB_WR_RDMA_WRITE_WITH_IMM,
			.send_flags = IB_SEND_SIGNALED,
			.ex.imm_data = cpu_to_be32(imm),
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};
	const struct ib_send_wr *bad = NULL;
	u32 i;
	int ret;

	*posted = 0;
	for (i = 0; i < p->nmr; i++)
		/* Access 0: the adapter only reads the region, as the source of a write. */
		regs[i] = (struct ib_reg_wr) {
			.wr = {
				.wr_cqe = part_cqe,
				.opcode = IB_WR_REG_MR,
				.next = i + 1 < p->nmr ? &regs[i + 1].wr : &wr.wr,
			},
			.mr = p->mrs[i],
			.key = p->mrs[i]->rkey,
			.access = 0,
		};
	ret = ib_post_send(qp, p->nmr ? &regs[0].wr : &wr.wr, &bad);
	if (!ret) {
		*posted = p->nmr + 1;
		return 0;
	}
	for (i = 0; i < p->nmr && &regs[i].wr != bad; i++)
		(*posted)++;
	return ret;
}

/* Work requests an operation on p takes with max_sge SGEs each (one for no data). */
static u32 infinisock_rdma_wrs(const struct infinisock_pinned *p, u32 max_sge)
{
	return max_t(u32, 1, DIV_ROUND_UP(p->nsge, max_sge));
}

static enum ib_wr_opcode infinisock_rdma_opcode(int op)
{
	return op == 2 ? IB_WR_RDMA_READ : op == 3 ? IB_WR_RDMA_WRITE_WITH_IMM : IB_WR_RDMA_WRITE;
}

/*
 * Posts an RDMA WRITE (op 1), READ (2) or WRITE with immediate (3, the immediate on
 * the last request) over p's SGEs at remote_addr, as infinisock_rdma_wrs() requests.
 * Only the last one is signaled (last_cqe); the others carry part_cqe, which only a
 * failure or a flush reports. *posted says how many were posted, also on failure.
 */
int infinisock_post_rdma(struct ib_qp *qp, struct ib_cqe *last_cqe, struct ib_cqe *part_cqe,
			 const struct infinisock_pinned *p, int op, u32 imm, u64 remote_addr, u32 rkey, u32 max_sge,
			 u32 *posted)
{
	u32 nwr = infinisock_rdma_wrs(p, max_sge), i, sge = 0;
	const struct ib_send_wr *bad = NULL;
	struct ib_rdma_wr *wrs;
	int ret;

	if (op == 3)
		return infinisock_post_write_imm(qp, last_cqe, part_cqe, p, imm, remote_addr, rkey, posted);
	*posted = 0;
	wrs = kcalloc(nwr, sizeof(*wrs), GFP_KERNEL);
	if (!wrs)
		return -ENOMEM;
	for (i = 0; i < nwr; i++) {
		bool last = i == nwr - 1;
		u32 n = min(max_sge, p->nsge - sge), j;

		wrs[i].wr.wr_cqe = last ? last_cqe : part_cqe;
		wrs[i].wr.sg_list = n ? &p->sges[sge] : NULL;
		wrs[i].wr.num_sge = n;
		wrs[i].wr.send_flags = last ? IB_SEND_SIGNALED : 0;
		wrs[i].wr.opcode = infinisock_rdma_opcode(op);
		wrs[i].remote_addr = remote_addr;
		wrs[i].rkey = rkey;
		wrs[i].wr.next = last ? NULL : &wrs[i + 1].wr;
		for (j = 0; j < n; j++)
			remote_addr += p->sges[sge + j].length;
		sge += n;
	}
	ret = ib_post_send(qp, &wrs[0].wr, &bad);
	if (!ret)
		*posted = nwr;
	else
		for (i = 0; i < nwr && &wrs[i].wr != bad; i++)
			(*posted)++;
	kfree(wrs);
	return ret;
}

/*
 * Posts one signaled RDMA request as infinisock_post_rdma() does, its local side
 * [addr, addr + len) of the registered user region mr (addresses are user addresses).
 */
int infinisock_post_rdma_mr(struct ib_qp *qp, struct ib_cqe *cqe, const struct ib_mr *mr, u64 addr, u32 len, int op,
			    u32 imm, u64 remote_addr, u32 rkey)
{
	struct ib_sge sge = { .addr = addr, .length = len, .lkey = mr->lkey };
	struct ib_rdma_wr wr = {
		.wr = {
			.wr_cqe = cqe,
			.sg_list = len ? &sge : NULL,
			.num_sge = len ? 1 : 0,
			.send_flags = IB_SEND_SIGNALED,
			.opcode = infinisock_rdma_opcode(op),
			.ex.imm_data = cpu_to_be32(imm),
		},
		.remote_addr = remote_addr,
		.rkey = rkey,
	};

	return ib_post_send(qp, &wr.wr, NULL);
}

/* SGEs per RDMA WRITE and per RDMA READ request the device takes (capped). */
void infinisock_dev_sges(const struct ib_device *dev, u32 *send_sge, u32 *read_sge)
{
	*send_sge = clamp_t(u32, dev->attrs.max_send_sge, 1, 16);
	*read_sge = clamp_t(u32, dev->attrs.max_sge_rd, 1, *send_sge);
}

void infinisock_cm_verbs_info(struct rdma_cm_id *id, struct ib_qp *qp, struct infinisock_verbs_info *out)
{
	struct ib_qp_init_attr init;
	struct ib_qp_attr attr;
	union ib_gid sgid, dgid;

	memset(out, 0, sizeof(*out));
	if (id->device) {
		out->has_device = true;
		infinisock_ib_device_name(id->device, out->device, sizeof(out->device));
		out->port = id->port_num;
		rdma_read_gids(id, &sgid, &dgid);
		memcpy(out->gid, sgid.raw, sizeof(out->gid));
	}
	if (qp && !ib_query_qp(qp, &attr, IB_QP_PATH_MTU | IB_QP_DEST_QPN | IB_QP_CAP, &init)) {
		out->has_qp = true;
		out->qp_num = qp->qp_num;
		out->peer_qp_num = attr.dest_qp_num;
		out->path_mtu = ib_mtu_enum_to_int(attr.path_mtu) > 0 ? ib_mtu_enum_to_int(attr.path_mtu) : 0;
		out->max_inline = init.cap.max_inline_data;
	}
}

/*
 * The copies between a socket call's user memory and the module run with page faults
 * disabled: they happen with the endpoint's lock held, and a fault userspace controls
 * (userfaultfd, FUSE) would hold that lock, and with it the connection's rdma_cm
 * events and completions, for as long as userspace likes. A copy that meets a missing
 * page comes back short; the caller drops the lock, calls infinisock_msg_fault_in()
 * and tries again.
 */

/* Appends a control message; -EFAULT if the control buffer's page is missing. */
int infinisock_put_cmsg(struct msghdr *msg, int level, int type, int len, const void *data)
{
	int ret;

	pagefault_disable();
	ret = put_cmsg(msg, level, type, len, (void *)data);
	pagefault_enable();
	return ret;
}

/* Copies from the message's data; all: all of len or nothing (the iterator unmoved). */
size_t infinisock_msg_copy_in(struct msghdr *msg, void *buf, size_t len, bool all)
{
	size_t n;

	pagefault_disable();
	if (all)
		n = copy_from_iter_full(buf, len, &msg->msg_iter) ? len : 0;
	else
		n = copy_from_iter(buf, len, &msg->msg_iter);
	pagefault_enable();
	return n;
}

/* Copies into the message's data; all: all of len or nothing (the iterator unmoved). */
size_t infinisock_msg_copy_out(struct msghdr *msg, const void *buf, size_t len, bool all)
{
	size_t n;

	pagefault_disable();
	n = copy_to_iter(buf, len, &msg->msg_iter);
	pagefault_enable();
	if (all && n != len) {
		iov_iter_revert(&msg->msg_iter, n);
		n = 0;
	}
	return n;
}

/* What one round of faulting in covers at most: a copy needs the next pages only. */
#define INFINISOCK_FAULT_IN_MAX (256 * 1024)

/*
 * Faults in the next len bytes (at most the above) of the message's data, for
 * writing them (a recvmsg(), an RDMA READ into them) or reading them, and a
 * recvmsg()'s control buffer; sleeps as long as the faults take. -EFAULT if none of
 * the data's bytes or not all of the control buffer can be there.
 */
int infinisock_msg_fault_in(struct msghdr *msg, size_t len, bool writeable)
{
	struct iov_iter *it = &msg->msg_iter;
	size_t want = min3(len, iov_iter_count(it), (size_t)INFINISOCK_FAULT_IN_MAX);

	if (want && user_backed_iter(it)) {
		size_t left = writeable ? fault_in_iov_iter_writeable(it, want) : fault_in_iov_iter_readable(it, want);

		if (left == want)
			return -EFAULT;
	}
	if (msg->msg_control_is_user && msg->msg_controllen &&
	    fault_in_writeable(msg->msg_control_user, msg->msg_controllen))
		return -EFAULT;
	return 0;
}

/* Control-message space left in a recvmsg()'s buffer. */
size_t infinisock_msg_control_room(const struct msghdr *msg)
{
	return msg->msg_controllen;
}

/*
 * The next control message of a sendmsg() (its control data is in the kernel):
 * *cursor is NULL for the first. Returns 1 with its level, type and data, 0 after
 * the last, -EINVAL for a malformed one.
 */
int infinisock_msg_next_cmsg(struct msghdr *msg, void **cursor, int *level, int *type, const void **data,
			     size_t *len)
{
	struct cmsghdr *c;

	if (msg->msg_control_is_user)
		return -EINVAL;
	c = *cursor ? CMSG_NXTHDR(msg, (struct cmsghdr *)*cursor) : CMSG_FIRSTHDR(msg);
	if (!c)
		return 0;
	if (!CMSG_OK(msg, c))
		return -EINVAL;
	*cursor = c;
	*level = c->cmsg_level;
	*type = c->cmsg_type;
	*data = CMSG_DATA(c);
	*len = c->cmsg_len - CMSG_LEN(0);
	return 1;
}

/*
 * Container policy: the cgroup BPF programs of bind() and connect() run for SDP
 * sockets under AF_INET/AF_INET6 as inet_bind() and tcp_v4_pre_connect() run them for
 * TCP, before the address is acted on. A program may rewrite the address (and its
 * length) in place; a program that denies gives -EPERM. An address too short for its
 * family is left to the caller's parser, which refuses it (EINVAL), as TCP checks the
 * length before running the programs. AF_IB socks are not inet socks: no program
 * runs for them.
 */
int infinisock_bpf_bind(struct sock *sk, struct sockaddr_unsized *uaddr, int *len)
{
	u32 flags = 0;

	if (sk->sk_family == AF_INET && *len >= (int)sizeof(struct sockaddr_in))
		return BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, len, CGROUP_INET4_BIND, &flags);
	if (sk->sk_family == AF_INET6 && *len >= SIN6_LEN_RFC2133)
		return BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, len, CGROUP_INET6_BIND, &flags);
	return 0;
}

int infinisock_bpf_connect(struct sock *sk, struct sockaddr_unsized *uaddr, int *len)
{
	const struct sockaddr *sa = (const struct sockaddr *)uaddr;

	/* AF_UNSPEC dissolves an association: inet_stream_connect runs no program. */
	if (*len < (int)sizeof(sa->sa_family) || sa->sa_family == AF_UNSPEC)
		return 0;
	if (sk->sk_family == AF_INET && *len >= (int)sizeof(struct sockaddr_in))
		return BPF_CGROUP_RUN_PROG_INET4_CONNECT_LOCK(sk, uaddr, len);
	if (sk->sk_family == AF_INET6 && *len >= SIN6_LEN_RFC2133)
		return BPF_CGROUP_RUN_PROG_INET6_CONNECT_LOCK(sk, uaddr, len);
	return 0;
}

/*
 * struct proto's get_port: SDP ports live in rdma_cm's port space, not in inet's
 * tables. A BPF program's bpf_bind() reaches __inet_bind(), which calls get_port; it
 * gets an error instead of a NULL call.
 */
int infinisock_get_port_refused(struct sock *sk, unsigned short snum)
{
	return -EOPNOTSUPP;
}

bool infinisock_net_owned_by_init_user_ns(const struct net *net)
{
	return net->user_ns == &init_user_ns;
}

size_t infinisock_total_ram_kib(void)
{
	return totalram_pages() << (PAGE_SHIFT - 10);
}

/*
 * Makes the current task's __GFP_ACCOUNT allocations charge sk's memory cgroup (the
 * one of the task that created it) until infinisock_memcg_leave(): connections are
 * set up in rdma_cm's worker, whose own cgroup is not the program's. Returns what
 * to restore.
 */
struct mem_cgroup *infinisock_memcg_enter(const struct sock *sk)
{
	return set_active_memcg(mem_cgroup_from_sk(sk));
}

void infinisock_memcg_leave(struct mem_cgroup *old)
{
	set_active_memcg(old);
}
