// SPDX-License-Identifier: GPL-2.0

//! Buffer memory: the receive and send buffers of every SDP and AF_IB connection,
//! counted module-wide against one limit (`net.infinisock.sdp_mem`, set in the
//! initial namespace), as TCP counts its buffers against `tcp_mem`. What counts is
//! what connections hold, not what their rings could hold: the receive buffers their
//! windows grant (a new stream's first ones, more for one that grew), and a writer's
//! send buffers.
//!
//! - A new connection is admitted with the receive buffers it posts at first. Under
//!   pressure (from three quarters of the limit until use falls below five eighths)
//!   it gets the smallest rings that work; past the limit it is refused.
//! - Receive windows grow only into the room left below pressure; under pressure they
//!   fall back to their floor as the reader consumes (`proto::recv_window`). A window
//!   nobody sends on keeps what it grants: it cannot be taken back from the peer.
//! - Past the limit a connection with a send in flight waits for memory before it
//!   takes one more send buffer. One with none in flight may always take one, so
//!   that every connection makes progress, as TCP guarantees each socket
//!   `tcp_wmem[0]`.

use super::{credits::MIN_RING, handshake::RingConfig, recv_window::start_grant};

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

/// Bytes of the receive buffers a connection with rings `cfg` posts at first: what it
/// holds until its window grows.
pub fn start_bytes(cfg: &RingConfig) -> usize {
    usize::from(start_grant(cfg.recv_start, cfg.recv_buffers)) * cfg.buffer_size as usize
}

/// Bytes of `limit` from which on the module is under pressure: three quarters.
const fn pressure_mark(limit: usize) -> usize {
    limit / 4 * 3
}

/// Bytes of `limit` below which pressure ends once it began: five eighths. Between
/// the two marks the module stays as it was, so that windows which fell back to
/// their floor do not grow again at once and push it straight back over the mark
/// (TCP's `tcp_mem` has a low mark for the same reason).
const fn relief_mark(limit: usize) -> usize {
    limit / 8 * 5
}

/// Whether the module is under pressure with `used` of `limit` bytes taken, when it
/// was (`was`) or was not before.
pub const fn under_pressure(used: usize, limit: usize, was: bool) -> bool {
    used >= if was { relief_mark(limit) } else { pressure_mark(limit) }
}

/// How a connection that starts with `full` bytes with its rings as configured, and
/// `minimal` bytes with the smallest ones, is admitted when `used` of `limit` bytes
/// are taken, under pressure (`pressure`, see [`under_pressure`]) or not.
pub fn admit(used: usize, full: usize, minimal: usize, limit: usize, pressure: bool) -> Admission {
    if !pressure && used.saturating_add(full) <= limit {
        Admission::Full
    } else if used.saturating_add(minimal) <= limit {
        Admission::Minimal
    } else {
        Admission::Refused
    }
}

/// Buffers of `buffer` bytes receive windows may grow by when `used` of `limit`
/// bytes are taken: as many as fit below the pressure mark, none under pressure
/// (`pressure`).
pub const fn growth_room(used: usize, buffer: usize, limit: usize, pressure: bool) -> usize {
    let below = pressure_mark(limit).saturating_sub(used);
    if buffer == 0 || pressure { 0 } else { below / buffer }
}

/// Whether a connection may take a new send buffer of `bytes` when `used` of `limit`
/// bytes are taken: within the limit, or always when it has no send in flight
/// (`in_flight`), so that it can make progress.
pub const fn may_take_send_buffer(used: usize, bytes: usize, limit: usize, in_flight: bool) -> bool {
    !in_flight || used.saturating_add(bytes) <= limit
}

/// The rings of a connection admitted under pressure: [`MIN_RING`] receive buffers
/// (the fewest the credit scheme allows) and as many send buffers, at most.
pub fn pressure_rings(recv_buffers: u16, send_buffers: u16) -> (u16, u16) {
    (recv_buffers.min(MIN_RING), send_buffers.min(MIN_RING))
}

/// The rings a new connection asks for, and the smallest ones memory pressure leaves
/// it ([`pressure_rings`]), with what each takes at first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingChoice {
    pub full: RingConfig,
    pub minimal: RingConfig,
}

impl RingChoice {
    /// The choice for a connection asking for `cfg`.
    pub fn new(cfg: RingConfig) -> Self {
        let (recv_buffers, send_buffers) = pressure_rings(cfg.recv_buffers, cfg.send_buffers);
        Self { full: cfg, minimal: RingConfig { recv_buffers, send_buffers, recv_start: cfg.recv_start.min(recv_buffers), ..cfg } }
    }

    /// The rings an admission gives: `None` for a refusal.
    pub fn rings(&self, a: Admission) -> Option<RingConfig> {
        match a {
            Admission::Full => Some(self.full),
            Admission::Minimal => Some(self.minimal),
            Admission::Refused => None,
        }
    }

    /// The bytes they take at first ([`start_bytes`]).
    pub fn bytes(&self, a: Admission) -> Option<usize> {
        self.rings(a).map(|c| start_bytes(&c))
    }

    /// The admission of these rings with `used` of `limit` bytes taken, under
    /// pressure or not, and what it gives: the rings and the bytes they take at
    /// first, or `None` beyond the limit.
    pub fn admit(&self, used: usize, limit: usize, pressure: bool) -> Option<(RingConfig, usize)> {
        let cost = |a| self.bytes(a).unwrap_or(usize::MAX);
        let a = admit(used, cost(Admission::Full), cost(Admission::Minimal), limit, pressure);
        Some((self.rings(a)?, self.bytes(a)?))
    }
}
