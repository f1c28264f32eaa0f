// SPDX-License-Identifier: GPL-2.0

//! Ring memory: every connection's send and receive buffers, counted module-wide
//! against one limit (`net.infinisock.sdp_mem`, set in the initial namespace), as TCP
//! counts its buffers against `tcp_mem`. Under pressure (three quarters of the limit)
//! a new connection gets the smallest rings that work; beyond the limit it is refused.

use super::{credits::MIN_RING, handshake::RingConfig};

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

/// The rings a new connection asks for, and the smallest ones memory pressure leaves
/// it ([`pressure_rings`]), with what each costs.
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

    /// Their bytes.
    pub fn bytes(&self, a: Admission) -> Option<usize> {
        self.rings(a).map(|c| ring_bytes(c.recv_buffers, c.send_buffers, c.buffer_size))
    }

    /// The admission of these rings with `used` of `limit` bytes taken, and what it
    /// gives: the rings and their bytes, or `None` beyond the limit.
    pub fn admit(&self, used: usize, limit: usize) -> Option<(RingConfig, usize)> {
        let cost = |a| self.bytes(a).unwrap_or(usize::MAX);
        let a = admit(used, cost(Admission::Full), cost(Admission::Minimal), limit);
        Some((self.rings(a)?, self.bytes(a)?))
    }
}
