// SPDX-License-Identifier: GPL-2.0

//! Room on a completion queue that many queue pairs share.
//!
//! A device that finds its CQ full when it completes a request does not wait: rdma_rxe
//! fails the completion, moves the QP that happened to complete to the error state and
//! raises a CQ error (`rxe_cq.c`), so one busy connection would reset another. Room is
//! therefore accounted before anything is posted, so that the CQ cannot overflow:
//!
//! - the CQ's entries are split into a *send partition* and a *receive partition*;
//! - a queue pair joining the CQ takes a fixed *claim*: its send queue's entries from
//!   the send partition and, with a receive queue of its own, that queue's entries from
//!   the receive partition (each with the drain's marker, as
//!   [`super::qp_shape::QpShape`] counts them). Refused when a partition has no room
//!   left: the caller puts the QP on another CQ;
//! - receives posted to a shared receive queue take the rest of the receive partition
//!   one by one, as they are posted ([`CqRoom::shared_recv_room`]).
//!
//! The contract with the owner of a QP: a request holds its place from its posting
//! until its completion has been *taken* off the CQ (dispatched), not merely until the
//! device completed it. A device frees a send-queue entry when it completes the
//! request, so a QP that reused the entry at once could have more completions waiting
//! than its queue has entries; counting the place until dispatch bounds a QP's
//! completions by its claim.

use super::errno::{Errno, ENOSPC};

/// Entries of a shared CQ, and how they are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqPartitions {
    /// Entries for the claims of QPs' send queues.
    pub send: u32,
    /// Entries for QPs' own receive queues and the shared receive queue's receives.
    pub recv: u32,
}

impl CqPartitions {
    /// The CQ's entries: what the CQ must be created with.
    pub fn cqes(&self) -> u32 {
        self.send + self.recv
    }
}

/// What one QP holds on a shared CQ, from joining to leaving. Given back to
/// [`CqRoom::leave`]; neither `Clone` nor `Copy`, so it is given back once.
#[derive(Debug, PartialEq, Eq)]
pub struct QpClaim {
    send: u32,
    recv: u32,
}

impl QpClaim {
    /// Send-partition entries held: the QP's send queue.
    pub fn send(&self) -> u32 {
        self.send
    }

    /// Receive-partition entries held: its own receive queue (0 on a shared receive
    /// queue).
    pub fn recv(&self) -> u32 {
        self.recv
    }
}

/// The room left on one shared CQ. See the module documentation.
#[derive(Debug)]
pub struct CqRoom {
    parts: CqPartitions,
    /// Send entries claimed by the QPs on the CQ.
    send_claimed: u32,
    /// Receive entries claimed by QPs with their own receive queue.
    recv_claimed: u32,
    /// Receives on the shared receive queue that hold a place: posted, or completed
    /// and not yet dispatched.
    shared_recvs: u32,
    /// QPs on the CQ.
    qps: u32,
}

impl CqRoom {
    /// An empty CQ of `parts`.
    pub fn new(parts: CqPartitions) -> Self {
        Self { parts, send_claimed: 0, recv_claimed: 0, shared_recvs: 0, qps: 0 }
    }

    /// The partitions the CQ was made with.
    pub fn partitions(&self) -> CqPartitions {
        self.parts
    }

    /// A QP of `send` send-queue entries and `recv` receive-queue entries of its own
    /// (0 on a shared receive queue), markers included, joins. `ENOSPC` when a
    /// partition has no room for them, leaving nothing claimed.
    pub fn join(&mut self, send: u32, recv: u32) -> Result<QpClaim, Errno> {
        let send_after = self.send_claimed.checked_add(send).filter(|&s| s <= self.parts.send).ok_or(ENOSPC)?;
        let recv_after = self
            .recv_claimed
            .checked_add(self.shared_recvs)
            .and_then(|used| used.checked_add(recv))
            .filter(|&r| r <= self.parts.recv)
            .ok_or(ENOSPC)?;
        self.send_claimed = send_after;
        self.recv_claimed = recv_after - self.shared_recvs;
        self.qps += 1;
        Ok(QpClaim { send, recv })
    }

    /// A QP leaves, once its last completion (its drain's markers) was dispatched.
    pub fn leave(&mut self, claim: QpClaim) {
        // Claims only come from `join` on this room: these never underflow.
        self.send_claimed -= claim.send;
        self.recv_claimed -= claim.recv;
        self.qps -= 1;
    }

    /// Receives that may still be posted to the shared receive queue.
    pub fn shared_recv_room(&self) -> u32 {
        self.parts.recv - self.recv_claimed - self.shared_recvs
    }

    /// `n` receives were posted to the shared receive queue; at most
    /// [`Self::shared_recv_room`].
    pub fn shared_recvs_posted(&mut self, n: u32) -> Result<(), Errno> {
        if n > self.shared_recv_room() {
            return Err(ENOSPC);
        }
        self.shared_recvs += n;
        Ok(())
    }

    /// `n` completions of shared receives were dispatched (their places are free).
    pub fn shared_recvs_dispatched(&mut self, n: u32) {
        debug_assert!(n <= self.shared_recvs);
        self.shared_recvs = self.shared_recvs.saturating_sub(n);
    }

    /// QPs on the CQ.
    pub fn qps(&self) -> u32 {
        self.qps
    }

    /// How full the send partition is, in entries: the least loaded of a device's CQs
    /// takes the next QP.
    pub fn send_load(&self) -> u32 {
        self.send_claimed
    }

    /// Whether nothing holds a place: no QP, no shared receive posted or undispatched.
    pub fn is_idle(&self) -> bool {
        self.qps == 0 && self.shared_recvs == 0
    }
}
