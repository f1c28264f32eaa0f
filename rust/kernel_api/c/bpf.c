// SPDX-License-Identifier: GPL-2.0
/*
 * The kfunc the transparent hook calls: a BPF fmod_ret program on
 * update_socket_protocol() (net/socket.c) asks infinisock_socket_protocol() which
 * protocol a new socket gets in the caller's network namespace. The answer comes from
 * the module's Rust side (the chooser registered below). A program that calls the
 * kfunc holds the module: it cannot be unloaded while the hook is attached.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <net/net_namespace.h>

#include "helpers.h"

static infinisock_protocol_chooser protocol_chooser;

__bpf_kfunc_start_defs();

/**
 * infinisock_socket_protocol - the protocol a socket() call gets under the policy
 * @family: socket()'s family
 * @type: socket()'s type, SOCK_NONBLOCK and SOCK_CLOEXEC included
 * @protocol: socket()'s protocol
 *
 * Return: the protocol to create the socket with; @protocol where the policy of the
 * current task's network namespace leaves it alone.
 */
__bpf_kfunc int infinisock_socket_protocol(int family, int type, int protocol)
{
	infinisock_protocol_chooser chooser = READ_ONCE(protocol_chooser);

	if (!chooser || !current->nsproxy)
		return protocol;
	return chooser(current->nsproxy->net_ns, family, type, protocol);
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(infinisock_kfunc_ids)
BTF_ID_FLAGS(func, infinisock_socket_protocol)
BTF_KFUNCS_END(infinisock_kfunc_ids)

static const struct btf_kfunc_id_set infinisock_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &infinisock_kfunc_ids,
};

/*
 * Registers the kfunc for tracing programs (fmod_ret is one). The kernel keeps the
 * registration until the module's BTF goes away at unload; the chooser stays set
 * until then too (it is module code).
 */
int infinisock_register_protocol_chooser(infinisock_protocol_chooser chooser)
{
	WRITE_ONCE(protocol_chooser, chooser);
	return register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &infinisock_kfunc_set);
}
