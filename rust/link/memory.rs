// SPDX-License-Identifier: GPL-2.0

//! The module's buffer memory, counted module-wide against `net.infinisock.sdp_mem`
//! (the rules are `proto::memory`): the receive and send buffers connections hold, as
//! the queue pairs count them, and the first receive buffers of connections admitted
//! and not yet set up ([`Admitted`]).

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use kernel::prelude::*;

use crate::{
    kernel_api::qp,
    netns::tunables::buffer_memory_limit,
    proto::{
        handshake::RingConfig,
        memory::{self, RingChoice},
    },
};

/// Bytes of receive buffers admitted connections will post at first and have not
/// yet.
static ADMITTED: AtomicUsize = AtomicUsize::new(0);

/// The module was under pressure when last asked (`proto::memory::under_pressure`).
static PRESSURE: AtomicBool = AtomicBool::new(false);

/// Whether the module is under pressure with `used` bytes taken; remembers the
/// answer, from which the next one starts. A caller whose view of the state is
/// stale by then changes nothing (the next caller decides again from the state).
fn pressure_at(used: usize) -> bool {
    let was = PRESSURE.load(Ordering::Relaxed);
    let now = memory::under_pressure(used, limit(), was);
    if now != was {
        let _ = PRESSURE.compare_exchange(was, now, Ordering::Relaxed, Ordering::Relaxed);
    }
    now
}

/// Buffers of `buffer` bytes receive windows may grow by now (those that fit below
/// the pressure mark, none under pressure), and whether the module is under pressure.
pub(crate) fn growth(buffer: usize) -> (usize, bool) {
    let used = used();
    let pressure = pressure_at(used);
    (memory::growth_room(used, buffer, limit(), pressure), pressure)
}

/// Buffers of `buffer` bytes a shared receive queue may add now: those that fit
/// below the limit. Not the pressure mark: the queue backs what connections have
/// already granted.
pub(crate) fn shared_queue_room(buffer: usize) -> usize {
    limit().saturating_sub(used()) / buffer.max(1)
}

/// Whether the module is under pressure now.
pub(crate) fn under_pressure() -> bool {
    pressure_at(used())
}

/// Bytes of buffers the module's connections hold now, or are about to.
pub(crate) fn used() -> usize {
    held().saturating_add(ADMITTED.load(Ordering::Relaxed))
}

/// Bytes of buffers the module's connections hold now.
fn held() -> usize {
    qp::recv_buffer_bytes_in_use().saturating_add(qp::send_buffer_bytes_in_use())
}

/// The limit in bytes (`net.infinisock.sdp_mem`).
pub(crate) fn limit() -> usize {
    buffer_memory_limit()
}

/// Whether a connection may take a new send buffer of `bytes`; `in_flight`: it has
/// sends in flight, which will give theirs back.
pub(crate) fn may_take_send_buffer(bytes: usize, in_flight: bool) -> bool {
    memory::may_take_send_buffer(used(), bytes, limit(), in_flight)
}

/// Bytes of send buffers the module's connections hold now.
pub(crate) fn send_buffer_bytes_in_use() -> usize {
    qp::send_buffer_bytes_in_use()
}

/// Bytes of receive buffers the module's connections hold now: what their receive
/// windows grant (`proto::recv_window`).
pub(crate) fn recv_buffer_bytes_in_use() -> usize {
    qp::recv_buffer_bytes_in_use()
}

/// A new connection's first receive buffers, counted from its admission until its
/// link has posted them (and the queue pair counts them): so that connections set up
/// at once cannot all be admitted into the same room.
pub(crate) struct Admitted(usize);

impl Admitted {
    /// Admits the rings `choice` asks for, or under pressure its smallest, or refuses
    /// with `ENOBUFS` beyond the limit. Returns the rings admitted.
    pub(crate) fn take(choice: &RingChoice) -> Result<(RingConfig, Self)> {
        let limit = limit();
        let mut admitted = ADMITTED.load(Ordering::Relaxed);
        loop {
            let used = held().saturating_add(admitted);
            let Some((rings, bytes)) = choice.admit(used, limit, pressure_at(used)) else {
                crate::kernel_api::log::pr_info_ratelimited!(
                    "SDP: buffer memory limit reached (net.infinisock.sdp_mem); connection refused\n"
                );
                return Err(ENOBUFS);
            };
            match ADMITTED.compare_exchange_weak(admitted, admitted + bytes, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok((rings, Self(bytes))),
                Err(now) => admitted = now,
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        ADMITTED.fetch_sub(self.0, Ordering::AcqRel);
    }
}
