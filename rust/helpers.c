// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers for static inline functions and macros the Rust side calls. Each one is a
 * plain call-through: no logic lives here.
 */
#include <linux/proc_fs.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <net/protocol.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <rdma/ib_verbs.h>

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

const char *infinisock_ib_device_name(const struct ib_device *dev)
{
	return dev_name(&dev->dev);
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

struct ib_cq *infinisock_alloc_cq(struct ib_device *dev, void *context, int nr_cqe, int *err)
{
	return infinisock_unerr(ib_alloc_cq_any(dev, context, nr_cqe, IB_POLL_SOFTIRQ), err);
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
