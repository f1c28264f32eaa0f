// SPDX-License-Identifier: GPL-2.0

//! Sending, as plain data: whether a send may go on and the error it gets otherwise
//! ([`send_verdict`]), when a small write waits (Nagle, [`waits_for_nagle`]), and the
//! account of the send ring ([`SendRing`]).

use core::ops::DerefMut;

use super::{
    conn_state::{Phase, SEND_SHUTDOWN},
    errno::{Errno, ECONNRESET, ENOTCONN, EPIPE},
};

/// What decides whether a send may go on.
#[derive(Clone, Copy, Debug)]
pub struct SendCheck {
    pub phase: Phase,
    /// `shutdown()` directions asked for locally.
    pub shutdown: u8,
    /// The socket's pending error, taken for this check (0: none).
    pub pending_error: i32,
    /// The connection is dead: the peer disconnected, or the QP failed.
    pub broken: bool,
    /// The peer's DisConn arrived before.
    pub fin_received: bool,
    /// A send failed with this error (the QP is dead).
    pub send_failed: Option<Errno>,
}

/// `Ok` while a send may go on (connected, or connecting: it waits), else the error,
/// as TCP chooses it: the pending error first, then a broken pipe after
/// `shutdown(SHUT_WR)` or the end; a dead connection is a broken pipe after the
/// peer's DisConn and a reset (or what the failed send said) before it; `ENOTCONN`
/// for a socket that never connected (a stream's `sendmsg` answers `EPIPE`).
pub fn send_verdict(c: &SendCheck) -> Result<(), Errno> {
    if c.pending_error != 0 {
        return Err(Errno(c.pending_error));
    }
    if c.shutdown & SEND_SHUTDOWN != 0 || c.phase == Phase::Closed {
        return Err(EPIPE);
    }
    if c.broken {
        return Err(if c.fin_received { EPIPE } else { c.send_failed.unwrap_or(ECONNRESET) });
    }
    match c.phase {
        Phase::Connected | Phase::Connecting => Ok(()),
        _ => Err(ENOTCONN),
    }
}

/// Whether a write of `rest` bytes, less than one message of `max_payload`, waits in
/// the staging buffer: by Nagle's rule, while earlier bytes are in flight or staged
/// (`nagle`: `TCP_NODELAY` is off); or, whatever the rule, while the peer's window
/// is full (`blocked`: no data credit), as TCP's send buffer takes a write while the
/// peer's window is closed. Without the latter, a program that writes a few
/// small pieces before it reads would wait for a peer that waits for it, once they
/// outnumber the receive window's buffers.
pub fn waits_for_nagle(nagle: bool, blocked: bool, connected: bool, rest: usize, max_payload: usize, tx_idle: bool, staged: usize) -> bool {
    connected && rest < max_payload && (blocked || (nagle && !(tx_idle && staged == 0)))
}

/// Whether staged bytes go out now: once nothing is in flight, or when a message's
/// worth is staged.
pub fn flush_staged_now(staged: usize, tx_idle: bool, staged_room: usize) -> bool {
    staged > 0 && (tx_idle || staged_room == 0)
}

/// The send ring's account: sends posted and completed (or flushed), in order, and
/// the payload bytes of each slot, for what is unacknowledged (`SIOCOUTQ`). Slot of
/// the `n`-th send: `n % slots`.
#[derive(Clone, Debug)]
pub struct SendRing<L> {
    lens: L,
    posted: u64,
    completed: u64,
    unacked: usize,
}

impl<L: DerefMut<Target = [u32]>> SendRing<L> {
    /// An idle ring of `lens.len()` slots (`lens` is its storage).
    pub fn new(lens: L) -> Self {
        Self { lens, posted: 0, completed: 0, unacked: 0 }
    }

    /// Slots in all.
    pub fn slots(&self) -> usize {
        self.lens.len()
    }

    /// Slots free: neither posted nor waiting for their completion.
    pub fn free(&self) -> usize {
        self.slots() - (self.posted - self.completed) as usize
    }

    /// Whether every posted send has completed.
    pub fn idle(&self) -> bool {
        self.posted == self.completed
    }

    /// Payload bytes posted and not completed.
    pub fn unacked(&self) -> usize {
        self.unacked
    }

    /// The slot the next send uses.
    pub fn next_slot(&self) -> usize {
        (self.posted % self.slots() as u64) as usize
    }

    /// Accounts a send of `payload` bytes posted in [`SendRing::next_slot`].
    pub fn posted(&mut self, payload: u32) {
        let slot = self.next_slot();
        self.lens[slot] = payload;
        self.posted += 1;
        self.unacked += payload as usize;
    }

    /// Accounts the oldest send as completed; nothing if none is in flight.
    pub fn completed(&mut self) {
        if self.completed < self.posted {
            let slot = (self.completed % self.slots() as u64) as usize;
            self.unacked -= self.lens[slot] as usize;
            self.completed += 1;
        }
    }
}
