// SPDX-License-Identifier: GPL-2.0

//! Ring memory: every connection's send and receive buffers, counted module-wide
//! against one limit (`net.infinisock.sdp_mem`, set in the initial namespace), as TCP
//! counts its buffers against `tcp_mem`. Under pressure (three quarters of the limit)
//! a new connection gets the smallest rings that work; beyond the limit it is refused.

use super::credits::MIN_RING;

/// What a new connection's rings may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// As configured.
    Full,
    /// The smallest that work ([`pressure_rings`]).
    Minimal,
    /// None: the connection is refused (`ENOBUFS`).
    Refused,
}

/// Bytes of a connection's rings.
pub const fn ring_bytes(recv_buffers: u16, send_buffers: u16, buffer_size: u32) -> usize {
    (recv_buffers as usize + send_buffers as usize) * buffer_size as usize
}

/// Whether `used` bytes of `limit` are under pressure.
pub const fn under_pressure(used: usize, limit: usize) -> bool {
    used >= limit / 4 * 3
}

/// How a connection whose full rings take `full` bytes and smallest rings `minimal`
/// bytes is admitted when `used` of `limit` bytes are taken.
pub fn admit(used: usize, full: usize, minimal: usize, limit: usize) -> Admission {
    if !under_pressure(used, limit) && used.saturating_add(full) <= limit {
        Admission::Full
    } else if used.saturating_add(minimal) <= limit {
        Admission::Minimal
    } else {
        Admission::Refused
    }
}

/// The rings of a connection admitted under pressure: [`MIN_RING`] receive buffers
/// (the fewest the credit scheme allows) and as many send buffers, at most.
pub fn pressure_rings(recv_buffers: u16, send_buffers: u16) -> (u16, u16) {
    (recv_buffers.min(MIN_RING), send_buffers.min(MIN_RING))
}
