// SPDX-License-Identifier: GPL-2.0

//! The module's ring memory, counted module-wide against a limit its callers read
//! from `net.infinisock.sdp_mem` (the rules are `proto::memory`): each connection's
//! link holds a [`RingCharge`] for its buffers while it lives.

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::prelude::*;

use crate::proto::{handshake::RingConfig, memory::RingChoice};

/// Bytes of ring buffers of every connection of the module.
static RING_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of ring buffers the module's connections hold now.
pub(crate) fn ring_bytes_used() -> usize {
    RING_BYTES.load(Ordering::Relaxed)
}

/// Bytes of send buffers the module's connections hold now: taken as messages are
/// written and given back when sent, so within their rings' charge.
pub(crate) fn send_buffer_bytes_in_use() -> usize {
    crate::kernel_api::qp::send_buffer_bytes_in_use()
}

/// Bytes of receive buffers the module's connections hold now: what their receive
/// windows grant (`proto::recv_window`), within their rings' charge.
pub(crate) fn recv_buffer_bytes_in_use() -> usize {
    crate::kernel_api::qp::recv_buffer_bytes_in_use()
}

/// A connection's share of the ring memory, given back when dropped.
pub(crate) struct RingCharge(usize);

impl RingCharge {
    /// Takes the rings `choice` asks for, or under pressure its smallest, or refuses
    /// with `ENOBUFS` beyond `limit` bytes. Returns the rings taken with their charge.
    pub(crate) fn take(choice: &RingChoice, limit: usize) -> Result<(RingConfig, Self)> {
        let mut used = RING_BYTES.load(Ordering::Relaxed);
        loop {
            let Some((rings, bytes)) = choice.admit(used, limit) else {
                crate::kernel_api::log::pr_info_ratelimited!(
                    "SDP: ring memory limit reached (net.infinisock.sdp_mem); connection refused\n"
                );
                return Err(ENOBUFS);
            };
            match RING_BYTES.compare_exchange_weak(used, used + bytes, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok((rings, Self(bytes))),
                Err(now) => used = now,
            }
        }
    }
}

impl Drop for RingCharge {
    fn drop(&mut self) {
        RING_BYTES.fetch_sub(self.0, Ordering::AcqRel);
    }
}
