// SPDX-License-Identifier: GPL-2.0

//! A connection's receive window: how many receive buffers it grants the peer, posted
//! or holding a message the reader has not consumed yet, between a floor and a
//! ceiling.
//!
//! It starts at the floor, so an idle connection holds only that. It doubles, as TCP's
//! receive space grows (`tcp_rcv_space_adjust()`), after an epoch in which the peer ran
//! out of credits while the reader kept up (at some point in the epoch it had read all
//! but half the window): the window, not the reader, held the peer back. It halves, down to the floor, after an epoch in which the peer used less than
//! a quarter of it. An epoch ends when a window's worth of messages has been consumed,
//! or at the first one consumed [`EPOCH_MS`] after it began (no timer: a connection
//! nobody sends on keeps what it has posted, which cannot be taken back anyway).
//!
//! Buffers go back by not being posted again when consumed, so what the peer was
//! granted (`ack + bufs` on the wire) never shrinks, and a new buffer is posted, and
//! granted, only when the window grows.

use super::credits::{CONTROL_RESERVE, MIN_RING};

/// The longest an epoch lasts, counted at the first message consumed after it.
pub const EPOCH_MS: u64 = 250;

/// Receive buffers a connection posts at first, when its ring may hold more: the
/// default of `net.infinisock.sdp_recv_floor`.
pub const RECV_FLOOR: u16 = 4;

/// The buffer size the floor is counted in (`net.infinisock.sdp_buffer_size`'s
/// default): a stream with smaller buffers (a smaller `sdp_buffer_size`) posts as
/// many bytes of them at first, so that small messages get as deep a window as
/// large ones get bytes.
pub const FLOOR_BUFFER_SIZE: u32 = 32768;

/// The buffers a connection whose ring holds `ceiling` buffers of `buffer_size` bytes
/// posts at first, for a floor of `floor` buffers of [`FLOOR_BUFFER_SIZE`]: its
/// initial grant to the peer (`bufs` of its Hello or HelloAck), and the least its
/// window falls back to.
pub fn initial_grant(floor: u16, ceiling: u16, buffer_size: u32) -> u16 {
    let by_bytes = usize::from(floor) * FLOOR_BUFFER_SIZE as usize / (buffer_size as usize).max(1);
    floor.max(u16::try_from(by_bytes).unwrap_or(u16::MAX)).max(MIN_RING).min(ceiling)
}

/// The buffers a window asked to start at `start` of a ring of `ceiling` really
/// starts with: what its Hello or HelloAck grants and what its link posts.
pub fn start_grant(start: u16, ceiling: u16) -> u16 {
    start.max(MIN_RING).min(ceiling)
}

/// What to do with a buffer the reader is done with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// Post it again (else it is given back).
    pub repost: bool,
    /// Buffers to add to the window now: allocate and post them, then tell the peer.
    pub add: u16,
}

/// See the module documentation.
///
/// # Invariants
///
/// `MIN_RING.min(ceiling) <= floor <= target <= ceiling`, and `in_use <= ceiling`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvWindow {
    floor: u16,
    ceiling: u16,
    target: u16,
    /// Buffers granted now: posted, or holding a message not consumed yet.
    in_use: u16,
    epoch_start_ms: u64,
    epoch_consumed: u32,
    /// A message arrived in the epoch that left the peer at or below the control
    /// reserve.
    epoch_starved: bool,
    /// The fewest unread buffers the reader left in the epoch.
    epoch_min_held: usize,
}

impl RecvWindow {
    /// A window of at most `ceiling` buffers (the ring), starting at `floor` (at least
    /// [`MIN_RING`], at most the ceiling), at `now_ms`.
    pub fn new(floor: u16, ceiling: u16, now_ms: u64) -> Self {
        let floor = start_grant(floor, ceiling);
        Self {
            floor,
            ceiling,
            target: floor,
            in_use: floor,
            epoch_start_ms: now_ms,
            epoch_consumed: 0,
            epoch_starved: false,
            epoch_min_held: usize::MAX,
        }
    }

    /// Buffers to post at first: the peer's initial grant.
    pub fn initial(&self) -> u16 {
        self.floor
    }

    /// The window's size now.
    pub fn target(&self) -> u16 {
        self.target
    }

    /// Buffers granted now (posted or holding unread data).
    pub fn in_use(&self) -> u16 {
        self.in_use
    }

    /// The most buffers the window may grow to.
    pub fn ceiling(&self) -> u16 {
        self.ceiling
    }

    /// A message arrived, after which the peer believes it may send `peer_view` more.
    pub fn received(&mut self, peer_view: u32) {
        if peer_view <= CONTROL_RESERVE {
            self.epoch_starved = true;
        }
    }

    /// The reader is done with a buffer; `held`: buffers still holding unread
    /// messages; `pressure`: the module's buffer memory is under pressure. Says
    /// whether to post it again, and how many buffers to add.
    pub fn consumed(&mut self, held: usize, now_ms: u64, pressure: bool) -> Consumed {
        self.epoch_consumed += 1;
        self.epoch_min_held = self.epoch_min_held.min(held);
        let elapsed = now_ms.saturating_sub(self.epoch_start_ms);
        let full = self.epoch_consumed >= u32::from(self.target);
        if full || elapsed >= EPOCH_MS {
            let kept_up = self.epoch_min_held <= usize::from(self.target / 2);
            if self.epoch_starved && kept_up {
                self.target = self.target.saturating_mul(2).min(self.ceiling);
            } else if !full && self.epoch_consumed < u32::from(self.target / 4) {
                self.target = (self.target / 2).max(self.floor);
            }
            self.epoch_start_ms = now_ms;
            self.epoch_consumed = 0;
            self.epoch_starved = false;
            self.epoch_min_held = usize::MAX;
        }
        if pressure {
            self.target = self.floor;
        }
        let repost = self.in_use <= self.target;
        if !repost {
            self.in_use -= 1;
        }
        let add = self.target.saturating_sub(self.in_use);
        self.in_use += add;
        Consumed { repost, add }
    }

    /// A buffer the window counted could not be posted (no memory, or the queue pair
    /// is gone): it is not granted.
    pub fn not_posted(&mut self) {
        self.in_use = self.in_use.saturating_sub(1);
    }
}
