// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent SDP's hook: every socket() call asks the infinisock module which protocol
 * it gets. The module answers from the caller's network namespace's policy
 * (net.infinisock.sdp_transparent): TCP streams become hybrid streams
 * (IPPROTO_SDP_HYBRID) while it is on; every other call keeps its protocol.
 *
 * update_socket_protocol() in net/socket.c is the kernel's attach point for this
 * (MPTCP's "mptcpify" uses it the same way). Holding a reference to the module's
 * kfunc, the attached program keeps the module loaded.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern int infinisock_socket_protocol(int family, int type, int protocol) __ksym;

SEC("fmod_ret/update_socket_protocol")
int BPF_PROG(infinisock_transparent, int family, int type, int protocol)
{
	return infinisock_socket_protocol(family, type, protocol);
}
