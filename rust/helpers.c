// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers for static inline functions and macros the Rust side calls. Each one is a
 * plain call-through: no logic lives here.
 */
#include <linux/proc_fs.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <rdma/ib_verbs.h>

#include "helpers.h"

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
