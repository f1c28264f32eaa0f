/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's tracepoints (TRACE_SYSTEM infinisock), for perf, bpftrace and tracefs:
 * a connection's state changes, a hybrid socket's fall back to TCP, a writer stalled
 * for credits, a peer's protocol violation. Every event names its socket by the
 * socket cookie (SO_COOKIE, bpf_get_socket_cookie()), so that one socket's events can
 * be picked out and matched with what sock_diag and BPF see.
 *
 * Only trace.c includes this file (with CREATE_TRACE_POINTS); the Rust side calls the
 * wrappers declared in helpers.h.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM infinisock

#if !defined(_INFINISOCK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _INFINISOCK_TRACE_H

#include <linux/tracepoint.h>

/* Connection phases, in proto::conn_state::Phase order. */
#define infinisock_show_phase(p)                                                  \
	__print_symbolic(p, { 0, "OPEN" }, { 1, "LISTENING" }, { 2, "CONNECTING" }, \
			 { 3, "ACCEPTING" }, { 4, "CONNECTED" }, { 5, "CLOSED" })

/* Fall-back reasons, INFINISOCK_FALLBACK_* (include/uapi/linux/infinisock.h). */
#define infinisock_show_fallback(r)                                                       \
	__print_symbolic(r, { 1, "policy" }, { 2, "no_device" }, { 3, "refused" },          \
			 { 4, "timeout" }, { 5, "resources" }, { 6, "other" })

TRACE_EVENT(infinisock_state,
	TP_PROTO(u64 cookie, u16 family, u16 protocol, const u8 *saddr, u16 sport, const u8 *daddr, u16 dport,
		 u8 oldstate, u8 newstate),
	TP_ARGS(cookie, family, protocol, saddr, sport, daddr, dport, oldstate, newstate),
	TP_STRUCT__entry(
		__field(u64, cookie)
		__field(u16, family)
		__field(u16, protocol)
		__array(u8, saddr, 16)
		__array(u8, daddr, 16)
		__field(u16, sport)
		__field(u16, dport)
		__field(u8, oldstate)
		__field(u8, newstate)
	),
	TP_fast_assign(
		__entry->cookie = cookie;
		__entry->family = family;
		__entry->protocol = protocol;
		memcpy(__entry->saddr, saddr, 16);
		memcpy(__entry->daddr, daddr, 16);
		__entry->sport = sport;
		__entry->dport = dport;
		__entry->oldstate = oldstate;
		__entry->newstate = newstate;
	),
	TP_printk("cookie=%llu family=%u protocol=%u src=[%pI6c]:%u dst=[%pI6c]:%u %s -> %s",
		  __entry->cookie, __entry->family, __entry->protocol, __entry->saddr, __entry->sport,
		  __entry->daddr, __entry->dport, infinisock_show_phase(__entry->oldstate),
		  infinisock_show_phase(__entry->newstate))
);

/*
 * cookie is the hybrid socket's, as SO_COOKIE answers on it whatever its path;
 * tcp_cookie its inner TCP socket's, the one BPF programs on TCP's hooks see once the
 * socket runs over TCP.
 */
TRACE_EVENT(infinisock_fallback,
	TP_PROTO(u64 cookie, u64 tcp_cookie, u16 family, const u8 *daddr, u16 dport, u8 reason),
	TP_ARGS(cookie, tcp_cookie, family, daddr, dport, reason),
	TP_STRUCT__entry(
		__field(u64, cookie)
		__field(u64, tcp_cookie)
		__field(u16, family)
		__array(u8, daddr, 16)
		__field(u16, dport)
		__field(u8, reason)
	),
	TP_fast_assign(
		__entry->cookie = cookie;
		__entry->tcp_cookie = tcp_cookie;
		__entry->family = family;
		memcpy(__entry->daddr, daddr, 16);
		__entry->dport = dport;
		__entry->reason = reason;
	),
	TP_printk("cookie=%llu tcp_cookie=%llu family=%u dst=[%pI6c]:%u reason=%s", __entry->cookie,
		  __entry->tcp_cookie, __entry->family, __entry->daddr, __entry->dport,
		  infinisock_show_fallback(__entry->reason))
);

TRACE_EVENT(infinisock_credit_stall,
	TP_PROTO(u64 cookie, u32 credits, u32 slots_free, u32 bytes_waiting),
	TP_ARGS(cookie, credits, slots_free, bytes_waiting),
	TP_STRUCT__entry(
		__field(u64, cookie)
		__field(u32, credits)
		__field(u32, slots_free)
		__field(u32, bytes_waiting)
	),
	TP_fast_assign(
		__entry->cookie = cookie;
		__entry->credits = credits;
		__entry->slots_free = slots_free;
		__entry->bytes_waiting = bytes_waiting;
	),
	TP_printk("cookie=%llu credits=%u slots_free=%u bytes_waiting=%u", __entry->cookie, __entry->credits,
		  __entry->slots_free, __entry->bytes_waiting)
);

TRACE_EVENT(infinisock_violation,
	TP_PROTO(u64 cookie, const char *what),
	TP_ARGS(cookie, what),
	TP_STRUCT__entry(
		__field(u64, cookie)
		__string(what, what)
	),
	TP_fast_assign(
		__entry->cookie = cookie;
		__assign_str(what);
	),
	TP_printk("cookie=%llu %s", __entry->cookie, __get_str(what))
);

#endif /* _INFINISOCK_TRACE_H */

/* Out of the kernel tree: the header is found beside trace.c. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE infinisock_trace
#include <trace/define_trace.h>
