// SPDX-License-Identifier: GPL-2.0

//! A connection's one-sided RDMA operations in flight, oldest first, and the
//! send-queue entries they hold.
//!
//! Only an operation's last request is signaled, and the send CQ completes requests in
//! posting order, so a signaled completion always belongs to the oldest operation; an
//! earlier request reports itself only when it fails or is flushed
//! ([`OpFailure`]).

use super::{
    errno::{Errno, ECONNRESET, ENOMEM, ETIMEDOUT},
    list::{List, Lists},
    rdma::{OpFailure, RequestStatus},
    regions::RegionTable,
};

/// Where an operation's local bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    /// In its iovec, pinned (the queue pair keeps the pages until the device is done).
    Pinned,
    /// In the registered region with this handle, which the operation keeps in use.
    Region(u64),
}

/// An operation whose requests are posted.
#[derive(Debug)]
pub struct Op<W> {
    pub token: u64,
    pub len: u32,
    /// Send-queue entries it holds until its last request completes.
    pub requests: u32,
    /// The first failure of one of its requests, and whether it was reported.
    failure: OpFailure<W>,
    pub local: Local,
}

/// What goes on the error queue for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report<W> {
    pub token: u64,
    /// The completion that decides its status.
    pub wc: W,
    /// Bytes it moved: its length if it succeeded, else 0.
    pub len: u32,
}

/// See the module documentation.
pub struct OpQueue<Ls: Lists, W> {
    ops: Ls::Of<Op<W>>,
    /// Requests posted and not completed.
    requests: u32,
}

impl<Ls: Lists, W> Default for OpQueue<Ls, W> {
    fn default() -> Self {
        Self { ops: Default::default(), requests: 0 }
    }
}

impl<Ls: Lists, W: RequestStatus> OpQueue<Ls, W> {
    /// Makes room for one more operation, before anything is posted.
    pub fn reserve(&mut self) -> Result<(), Errno> {
        self.ops.reserve_more(1).map_err(|_| ENOMEM)
    }

    /// Records an operation of `requests` posted requests; its room was reserved.
    pub fn posted(&mut self, token: u64, len: u32, requests: u32, local: Local) {
        if requests == 0 {
            return;
        }
        self.requests += requests;
        let op = Op { token, len, requests, failure: OpFailure::default(), local };
        // Not reached without room: `reserve` comes first.
        let _ = self.ops.push_reserved(op);
    }

    /// Operations in flight.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Requests in flight.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Whether any request is in flight.
    pub fn busy(&self) -> bool {
        self.requests > 0
    }

    /// The last request of the oldest operation completed with `wc` (or was
    /// flushed): the operation is over, its region (if any) released in `regions`.
    /// Returns its report unless it was reported already (or none was in flight).
    pub fn retire<M>(&mut self, wc: W, regions: &mut RegionTable<Ls, M>) -> Option<Report<W>> {
        let op = self.ops.take_at(0)?;
        self.requests = self.requests.saturating_sub(op.requests);
        if let Local::Region(handle) = op.local {
            regions.release(handle);
        }
        let wc = op.failure.finished(wc)?;
        Some(Report { token: op.token, wc, len: if wc.ok() { op.len } else { 0 } })
    }

    /// An earlier request of the oldest operation failed or was flushed: a failure to
    /// report now, if any.
    pub fn part_failed(&mut self, wc: W) -> Option<Report<W>> {
        let op = self.ops.first_mut()?;
        let wc = op.failure.part_failed(wc)?;
        Some(Report { token: op.token, wc, len: 0 })
    }

    /// The tokens of the operations a teardown cancels: those not reported yet.
    pub fn unreported(&self) -> impl Iterator<Item = u64> + '_ {
        self.ops.iter().filter(|op| !op.failure.reported()).map(|op| op.token)
    }
}

/// The error a request that failed (not flushed) ends an established connection
/// with: the peer's adapter never acknowledged (TCP's retransmission time-out), or it
/// refused. `None` for a success or a flush.
pub fn connection_error<W: RequestStatus>(wc: &W) -> Option<Errno> {
    if wc.ok() || wc.flushed() {
        return None;
    }
    Some(if wc.peer_silent() { ETIMEDOUT } else { ECONNRESET })
}
