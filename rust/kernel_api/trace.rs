// SPDX-License-Identifier: GPL-2.0

//! The module's tracepoints (`c/infinisock_trace.h`, `TRACE_SYSTEM infinisock`), fired
//! through the C wrappers of `c/trace.c`. Each event names its socket by its cookie,
//! which the wrapper takes from the sock. The `*_enabled()` checks are static keys:
//! callers build an event's fields only while someone listens.

use kernel::str::{CStr, CStrExt};

use crate::kernel_api::{bindings, sock::Sock};

/// An address as the events carry it: 16 bytes (IPv4 mapped into IPv6, a GID as it
/// is) and a port.
pub(crate) type TraceAddr = ([u8; 16], u16);

/// Whether `infinisock:infinisock_state` is enabled.
pub(crate) fn state_enabled() -> bool {
    // SAFETY: Reads a static key.
    unsafe { bindings::infinisock_trace_state_enabled() }
}

/// A connection of `sk` (protocol number `protocol`, local `src`, peer `dst`) moved
/// from phase `old` to `new` (`proto::conn_state::Phase` numbers).
pub(crate) fn state(sk: &Sock, protocol: u16, src: &TraceAddr, dst: &TraceAddr, old: u8, new: u8) {
    // SAFETY: `sk` is a valid sock; the addresses are 16 bytes each, read during the call.
    unsafe {
        bindings::infinisock_trace_state(sk.as_raw(), protocol, src.0.as_ptr(), src.1, dst.0.as_ptr(), dst.1, old, new)
    }
}

/// Whether `infinisock:infinisock_fallback` is enabled.
pub(crate) fn fallback_enabled() -> bool {
    // SAFETY: Reads a static key.
    unsafe { bindings::infinisock_trace_fallback_enabled() }
}

/// A hybrid socket `sk` goes to `dst` over TCP, for `reason` (`INFINISOCK_FALLBACK_*`).
/// Takes the sock's lock (to look at its inner socket): process context, without it.
pub(crate) fn fallback(sk: &Sock, dst: &TraceAddr, reason: u8) {
    // SAFETY: `sk` is a valid sock, not locked by the caller; the address is 16 bytes,
    // read during the call.
    unsafe { bindings::infinisock_trace_fallback(sk.as_raw(), dst.0.as_ptr(), dst.1, reason) }
}

/// Whether `infinisock:infinisock_credit_stall` is enabled.
pub(crate) fn credit_stall_enabled() -> bool {
    // SAFETY: Reads a static key.
    unsafe { bindings::infinisock_trace_credit_stall_enabled() }
}

/// A writer on `sk` waits: `credits` from the peer left, `slots_free` send slots free,
/// `bytes_waiting` of its write not yet taken.
pub(crate) fn credit_stall(sk: &Sock, credits: u32, slots_free: u32, bytes_waiting: u32) {
    // SAFETY: `sk` is a valid sock.
    unsafe { bindings::infinisock_trace_credit_stall(sk.as_raw(), credits, slots_free, bytes_waiting) }
}

/// Whether `infinisock:infinisock_violation` is enabled.
pub(crate) fn violation_enabled() -> bool {
    // SAFETY: Reads a static key.
    unsafe { bindings::infinisock_trace_violation_enabled() }
}

/// The peer of `sk` broke the protocol: `what` it did.
pub(crate) fn violation(sk: &Sock, what: &CStr) {
    // SAFETY: `sk` is a valid sock; `what` is NUL-terminated and read during the call.
    unsafe { bindings::infinisock_trace_violation(sk.as_raw(), what.as_char_ptr()) }
}
