// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints (infinisock_trace.h), and the calls Rust fires them
 * through: trace_*() are static inlines bindgen cannot call. Each wrapper has an
 * *_enabled() twin so that the Rust side builds an event's fields (addresses, the
 * socket cookie) only while someone listens.
 */
#include <linux/sock_diag.h>
#include <net/sock.h>

#include "helpers.h"

#define CREATE_TRACE_POINTS
#include "infinisock_trace.h"

/* The socket's cookie, as SO_COOKIE and bpf_get_socket_cookie() give it. */
static u64 infinisock_cookie(struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie(sk, c);
	return (u64)c[1] << 32 | c[0];
}

bool infinisock_trace_state_enabled(void)
{
	return trace_infinisock_state_enabled();
}

void infinisock_trace_state(struct sock *sk, u16 protocol, const u8 *saddr, u16 sport, const u8 *daddr,
			    u16 dport, u8 oldstate, u8 newstate)
{
	trace_infinisock_state(infinisock_cookie(sk), sk->sk_family, protocol, saddr, sport, daddr, dport, oldstate,
			       newstate);
}

bool infinisock_trace_fallback_enabled(void)
{
	return trace_infinisock_fallback_enabled();
}

/*
 * sk is a hybrid's sock. Its inner TCP socket goes when the socket is released
 * (infinisock_inner_release() takes it under the sock's lock), which a fall back made
 * in the background can race with: the inner socket is looked at under that lock.
 * The callers are in process context and never hold it.
 */
void infinisock_trace_fallback(struct sock *sk, const u8 *daddr, u16 dport, u8 reason)
{
	struct socket *inner;
	u64 tcp_cookie = 0;

	lock_sock(sk);
	inner = ((struct infinisock_sock *)sk)->inner;
	if (inner && inner->sk)
		tcp_cookie = infinisock_cookie(inner->sk);
	release_sock(sk);
	trace_infinisock_fallback(infinisock_cookie(sk), tcp_cookie, sk->sk_family, daddr, dport, reason);
}

bool infinisock_trace_credit_stall_enabled(void)
{
	return trace_infinisock_credit_stall_enabled();
}

void infinisock_trace_credit_stall(struct sock *sk, u32 credits, u32 slots_free, u32 bytes_waiting)
{
	trace_infinisock_credit_stall(infinisock_cookie(sk), credits, slots_free, bytes_waiting);
}

bool infinisock_trace_violation_enabled(void)
{
	return trace_infinisock_violation_enabled();
}

/* what: a NUL-terminated description. */
void infinisock_trace_violation(struct sock *sk, const char *what)
{
	trace_infinisock_violation(infinisock_cookie(sk), what);
}
