/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of the FFI layer: the socket layout shared with Rust, and wrappers for the
 * static inline functions and macros that bindgen cannot turn into callable symbols.
 */
#ifndef INFINISOCK_HELPERS_H
#define INFINISOCK_HELPERS_H

#include <linux/types.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>

struct net;
struct proc_dir_entry;
struct ib_device;

/*
 * Every socket the module creates, whatever its family: an inet_sock first so that
 * inet_create()/inet6_create() can fill it in, then the Rust-owned protocol state.
 */
struct infinisock_sock {
	struct inet_sock inet;
	void *state;
};

/* AF_INET6 flavour: inet6_create() finds ipv6_pinfo through proto.ipv6_pinfo_offset. */
struct infinisock6_sock {
	struct infinisock_sock sk;
	struct ipv6_pinfo inet6;
};

/*
 * Rust builds some kernel tables itself (struct proto, proto_ops, ...) from bindgen's
 * layouts. KUnit compares those layouts with the C compiler's through this function:
 * "TYPE.FIELD" gives offsetof(struct TYPE, FIELD), "TYPE" gives sizeof(struct TYPE),
 * and an unknown name gives SIZE_MAX. Structures bindgen gets wrong (struct sock is
 * one) are only ever touched through the accessors below.
 */
size_t infinisock_layout(const char *name);

int infinisock_socket_type(const struct socket *sock);
struct sock *infinisock_socket_take_sk(struct socket *sock);
void infinisock_socket_set_ops(struct socket *sock, const struct proto_ops *ops);
struct sock *infinisock_socket_sk(const struct socket *sock);
u16 infinisock_sk_protocol(const struct sock *sk);
void infinisock_sk_set_protocol(struct sock *sk, u16 protocol);
size_t infinisock_sock_size(void);
size_t infinisock6_sock_size(void);
size_t infinisock6_pinfo_offset(void);

void infinisock_sock_hold(struct sock *sk);
void infinisock_sock_put(struct sock *sk);
void infinisock_sock_orphan(struct sock *sk);
void infinisock_lock_sock(struct sock *sk);
struct net *infinisock_sock_net(const struct sock *sk);
void *infinisock_net_generic(const struct net *net, unsigned int id);
struct proc_dir_entry *infinisock_proc_net_mkdir(struct net *net, const char *name);
const char *infinisock_ib_device_name(const struct ib_device *dev);
u32 infinisock_ib_start_port(const struct ib_device *dev);
u32 infinisock_ib_end_port(const struct ib_device *dev);

struct ib_pd;
struct ib_cq;
struct ib_qp;

/* Verbs objects. Each returns NULL and sets *err on failure instead of an ERR_PTR. */
struct ib_pd *infinisock_alloc_pd(struct ib_device *dev, int *err);
void infinisock_dealloc_pd(struct ib_pd *pd);
struct ib_cq *infinisock_alloc_cq(struct ib_device *dev, void *context, int nr_cqe, int *err);
void infinisock_free_cq(struct ib_cq *cq);
struct ib_qp *infinisock_create_rc_qp(struct ib_pd *pd, struct ib_cq *send_cq, struct ib_cq *recv_cq,
				      u32 max_send_wr, u32 max_recv_wr, u32 max_sge, void *context,
				      int *err);
int infinisock_destroy_qp(struct ib_qp *qp);
u32 infinisock_qp_num(const struct ib_qp *qp);

#endif /* INFINISOCK_HELPERS_H */
