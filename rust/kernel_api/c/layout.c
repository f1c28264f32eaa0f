// SPDX-License-Identifier: GPL-2.0
/*
 * The layouts of the kernel tables Rust builds itself from bindgen's structures
 * (struct proto, proto_ops, net_proto_family, inet_protosw, pernet_operations,
 * ctl_table, ib_client, ib_port_attr), as the C compiler sees them: KUnit compares
 * bindgen's offsets and sizes with these (infinisock_layout(), see helpers.h).
 *
 * A name lookup rather than a call-through, and in C because only the C compiler
 * knows offsetof() and sizeof() as the kernel was built.
 */
#include <linux/net.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <net/protocol.h>
#include <net/net_namespace.h>
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
