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

#endif /* INFINISOCK_HELPERS_H */
