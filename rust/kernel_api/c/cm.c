// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_cm (rdma/rdma_cm.h): ids and their context, device and addresses; the
 * connection's QP, created beside its id rather than attached to it and taken to RTS
 * here with capped retry counts; connect, establish, accept, disconnect and reject;
 * event fields; and the verbs details getsockopt(SOL_INFINISOCK) reports.
 *
 * The QP's transitions and the connection parameters are logic in C because they do
 * what rdma_cm's own cma_modify_qp_rtr()/_rts() do, over struct ib_qp_attr and struct
 * rdma_conn_param, which the kernel crate has no bindings for and the module's bindgen
 * allowlist leaves out.
 */
#include <linux/string.h>
#include <rdma/ib_cm.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

#include "helpers.h"

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

/*
 * A reference keeps the device from finishing its unregistration (ib_unregister_device()
 * waits for the last one): the verbs objects a connection made on it stay valid until
 * it drops them, whatever order its id and its QP go in.
 */
struct ib_device *infinisock_cm_device_get(const struct rdma_cm_id *id)
{
	struct ib_device *dev = id->device;

	return dev && ib_device_try_get(dev) ? dev : NULL;
}

void infinisock_device_put(struct ib_device *dev)
{
	ib_device_put(dev);
}

struct sockaddr *infinisock_cm_src_addr(struct rdma_cm_id *id)
{
	return (struct sockaddr *)&id->route.addr.src_addr;
}

struct sockaddr *infinisock_cm_dst_addr(struct rdma_cm_id *id)
{
	return (struct sockaddr *)&id->route.addr.dst_addr;
}

/* The RDMA READ depth this side offers each way: the policy's, within the device's. */
static u8 infinisock_rd_atomic(const struct ib_device *dev, const struct infinisock_conn_policy *policy,
			       bool initiator)
{
	return min_t(u32, initiator ? dev->attrs.max_qp_init_rd_atom : dev->attrs.max_qp_rd_atom, policy->rd_atomic);
}

/*
 * Moves the QP to state with the attributes rdma_cm has for it (rdma_init_qp_attr(),
 * what rdma_cm's own cma_modify_qp_rtr()/_rts() apply to an attached QP). The RDMA READ
 * depths there are the peer's offer (its REQ's on the passive side, its REP's on the
 * active side): each is capped at ours, so a peer without responder resources gets no
 * READs from us, and one offering more than we asked for gets no more than we can
 * hold. depths (if not NULL) receives what was applied. The RNR retry count is the
 * peer's wish, capped at the policy's.
 */
static int infinisock_qp_to(struct rdma_cm_id *id, struct ib_qp *qp, enum ib_qp_state state,
			    const struct infinisock_conn_policy *policy, struct infinisock_rd_depths *depths)
{
	struct ib_qp_attr attr = { .qp_state = state };
	int mask, ret;

	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return ret;
	if (policy && (mask & IB_QP_MAX_DEST_RD_ATOMIC)) {
		attr.max_dest_rd_atomic = min(attr.max_dest_rd_atomic, infinisock_rd_atomic(qp->device, policy, false));
		if (depths)
			depths->responder = attr.max_dest_rd_atomic;
	}
	if (policy && (mask & IB_QP_MAX_QP_RD_ATOMIC)) {
		attr.max_rd_atomic = min(attr.max_rd_atomic, infinisock_rd_atomic(qp->device, policy, true));
		if (depths)
			depths->initiator = attr.max_rd_atomic;
	}
	if (policy && (mask & IB_QP_RNR_RETRY) && attr.rnr_retry > policy->rnr_retry_count)
		attr.rnr_retry = policy->rnr_retry_count;
	return ib_modify_qp(qp, &attr, mask);
}

/*
 * The connection's RC QP is not attached to its rdma_cm id: rdma_cm would move an
 * attached QP to RTS with the receiver-not-ready retry count the peer asked for in its
 * REQ or REP, and a peer asking 7 ("retry for ever") that then posts no receives would
 * hold our sends, and every pinned page behind them, for ever. We take the QP through
 * INIT here and RTR/RTS in infinisock_qp_ready() (what rdma_cm does, with the count
 * capped by the protocol's policy), and to the error state in infinisock_cm_disconnect().
 */
struct ib_qp *infinisock_cm_create_qp(struct rdma_cm_id *id, struct ib_pd *pd, struct ib_cq *send_cq,
				      struct ib_cq *recv_cq, struct ib_srq *srq, u32 max_send_wr, u32 max_recv_wr,
				      u32 max_send_sge, void *qp_context, u32 *max_inline, int *err)
{
	struct ib_qp_init_attr init = {
		.event_handler = infinisock_qp_event,
		.qp_context = qp_context,
		.send_cq = send_cq,
		.recv_cq = recv_cq,
		.srq = srq,
		.cap = {
			.max_send_wr = max_send_wr,
			.max_recv_wr = srq ? 0 : max_recv_wr,
			.max_send_sge = max_send_sge,
			.max_recv_sge = 1,
		},
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.qp_type = IB_QPT_RC,
		.port_num = id->port_num,
	};
	struct ib_qp *qp;

	if (id->device != pd->device) {
		*max_inline = 0;
		*err = -EINVAL;
		return NULL;
	}
	init.cap.max_inline_data = *max_inline;
	qp = ib_create_qp(pd, &init);
	if (IS_ERR(qp)) {
		*err = PTR_ERR(qp);
		return NULL;
	}
	*err = infinisock_qp_to(id, qp, IB_QPS_INIT, NULL, NULL);
	if (*err) {
		ib_destroy_qp(qp);
		return NULL;
	}
	/* What the driver reports it takes (some report 0 even when asked for more). */
	*max_inline = init.cap.max_inline_data;
	return qp;
}

static void infinisock_conn_param(struct rdma_conn_param *p, const struct ib_device *dev, const struct ib_qp *qp,
				  const struct infinisock_conn_policy *policy, const void *data, u8 len)
{
	*p = (struct rdma_conn_param) {
		.private_data = data,
		.private_data_len = len,
		.flow_control = 1,
		.retry_count = policy->retry_count,
		.rnr_retry_count = policy->rnr_retry_count,
		.responder_resources = infinisock_rd_atomic(dev, policy, false),
		.initiator_depth = infinisock_rd_atomic(dev, policy, true),
		.qp_num = qp->qp_num,
	};
}

/*
 * INIT again (now the connection's access rights are known), then RTR and RTS, as
 * rdma_cm does for an attached QP; depths receives the READ depths applied.
 */
static int infinisock_qp_ready(struct rdma_cm_id *id, struct ib_qp *qp, const struct infinisock_conn_policy *policy,
			       struct infinisock_rd_depths *depths)
{
	*depths = (struct infinisock_rd_depths) {};
	return infinisock_qp_to(id, qp, IB_QPS_INIT, policy, NULL) ?:
	       infinisock_qp_to(id, qp, IB_QPS_RTR, policy, depths) ?:
	       infinisock_qp_to(id, qp, IB_QPS_RTS, policy, depths);
}

int infinisock_cm_connect_locked(struct rdma_cm_id *id, struct ib_qp *qp,
				 const struct infinisock_conn_policy *policy, const void *data, u8 len)
{
	struct rdma_conn_param p;

	infinisock_conn_param(&p, id->device, qp, policy, data, len);
	return rdma_connect_locked(id, &p);
}

/* Active side, on the peer's REP: the QP to RTS, then the RTU; a failure rejects. */
int infinisock_cm_establish(struct rdma_cm_id *id, struct ib_qp *qp, const struct infinisock_conn_policy *policy,
			    struct infinisock_rd_depths *depths)
{
	int ret = infinisock_qp_ready(id, qp, policy, depths);

	if (ret) {
		rdma_reject(id, NULL, 0, IB_CM_REJ_CONSUMER_DEFINED);
		return ret;
	}
	return rdma_accept(id, NULL);
}

/*
 * Passive side: the QP to RTS, then the REP, which offers the READ depths the QP took
 * (never more than the REQ did, IBTA 12.7.29/12.7.30). A failure leaves the rejection
 * to the id's destruction.
 */
int infinisock_cm_accept(struct rdma_cm_id *id, struct ib_qp *qp, const struct infinisock_conn_policy *policy,
			 const void *data, u8 len, struct infinisock_rd_depths *depths)
{
	struct rdma_conn_param p;
	int ret;

	infinisock_conn_param(&p, id->device, qp, policy, data, len);
	ret = infinisock_qp_ready(id, qp, policy, depths);
	if (ret)
		return ret;
	p.responder_resources = depths->responder;
	p.initiator_depth = depths->initiator;
	return rdma_accept(id, &p);
}

/*
 * Moves the QP (if any) to the error state, so every posted request is flushed, and
 * starts or answers the disconnect, as rdma_disconnect() does for an attached QP.
 * Returns the move's result: rdma_disconnect() failing means the id was not
 * connected, which is fine here.
 */
int infinisock_cm_disconnect(struct rdma_cm_id *id, struct ib_qp *qp)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	int err = 0;

	if (qp)
		err = ib_modify_qp(qp, &attr, IB_QP_STATE);
	rdma_disconnect(id);
	return err;
}

/*
 * The passive side's first receive is proof that the peer took our REP and sent its
 * RTU: ib_cm moves to established as if the RTU had come (a lost RTU otherwise holds
 * the connection until the REP's retry, seconds later). Hardware raises
 * IB_EVENT_COMM_EST for this; rdma_rxe does not, so the receive path says it.
 * Callable in any context (ib_cm allocates atomically and queues the event).
 */
int infinisock_cm_notify_established(struct rdma_cm_id *id)
{
	return rdma_notify(id, IB_EVENT_COMM_EST);
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
