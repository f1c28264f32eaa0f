// SPDX-License-Identifier: GPL-2.0

//! The RDMA side of a link (AF_IB's one-sided operations, `af_ib::rdma`): the regions
//! a program registered on the connection and its operations in flight, oldest
//! first; and the error queue their completions wait on for the program. The queue
//! pair keeps what the device may still touch; this is the protocol's account of it,
//! for the program's completions and for `EBUSY`.

use kernel::{prelude::*, sync::Arc};

use crate::{
    kernel_api::{log::pr_warn_ratelimited, verbs::{UserMr, Wc}},
    proto::rdma::{Access, OpFailure},
};

pub(crate) use crate::proto::rdma::RDMA_REQUESTS;
/// Regions one connection may have registered at once.
pub(crate) const MAX_REGIONS: usize = 1024;

/// Where an operation's local bytes are.
#[derive(Clone, Copy)]
pub(crate) enum Local {
    /// In its iovec, pinned (the queue pair keeps the pages until the device is done).
    Pinned,
    /// In the registered region with this handle, whose `users` counts it.
    Region(u64),
}

/// An operation whose requests are posted.
pub(crate) struct Op {
    pub(crate) token: u64,
    pub(crate) len: u32,
    /// Send-queue entries it holds until its last request completes.
    pub(crate) requests: u32,
    /// The first failure of one of its requests, and whether it was reported.
    pub(crate) failure: OpFailure<Wc>,
    pub(crate) local: Local,
}

/// A registered region of the program's memory.
pub(crate) struct Region {
    pub(crate) handle: u64,
    pub(crate) mr: Arc<UserMr>,
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) access: Access,
    /// Operations in flight whose local side it is: it cannot be deregistered.
    pub(crate) users: u32,
}

/// A connection's registered regions and operations in flight.
pub(crate) struct Rdma {
    pub(crate) regions: KVec<Region>,
    pub(crate) next_handle: u64,
    pub(crate) ops: KVec<Op>,
    /// Requests posted and not completed.
    pub(crate) requests: u32,
    /// SGEs per WRITE and per READ request.
    pub(crate) send_sge: u32,
    pub(crate) read_sge: u32,
    /// The program closed or shut down the socket: its regions are closed to the peer
    /// and no new one is registered.
    pub(crate) revoked: bool,
}

impl Rdma {
    pub(crate) fn new(send_sge: u32, read_sge: u32) -> Self {
        Self { regions: KVec::new(), next_handle: 1, ops: KVec::new(), requests: 0, send_sge, read_sge, revoked: false }
    }

    /// Closes every registered region to the peer: at `close()` and `shutdown()` the
    /// program may reuse that memory at once, so the peer's next READ or WRITE must
    /// fail, not reach it. A region that is the local side of one of our own
    /// operations in flight goes when that operation completes.
    pub(crate) fn revoke_regions(&mut self) {
        self.revoked = true;
        // Dropping a region deregisters it (and unpins its pages).
        self.regions.retain(|r| r.users > 0);
    }

    /// Whether any request is in flight.
    pub(crate) fn busy(&self) -> bool {
        self.requests > 0
    }

    /// The tokens of the operations still in flight.
    pub(crate) fn in_flight(&self) -> KVec<u64> {
        let mut v = KVec::new();
        for op in self.ops.iter().filter(|op| !op.failure.reported()) {
            // Best effort: without memory the program misses a cancellation record.
            let _ = v.push(op.token, GFP_KERNEL);
        }
        v
    }
}

/// A finished operation, waiting on the error queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    pub(crate) token: u64,
    pub(crate) errno: u32,
    pub(crate) len: u32,
}

/// The error queue: completions, oldest first.
///
/// Every operation in flight has its place reserved when it is posted
/// ([`Completions::reserve`]), so its completion is always queued (a cancellation
/// included); the places the program has read are reclaimed once they make up half of
/// the storage, so a program that always leaves some records unread does not make it
/// grow.
#[derive(Default)]
pub(crate) struct Completions {
    queue: KVec<Completion>,
    head: usize,
}

impl Completions {
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.queue.len()
    }

    /// Records waiting to be read.
    pub(crate) fn len(&self) -> usize {
        self.queue.len() - self.head
    }

    /// Records the storage holds without growing, read places included.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// Makes room for `more` records beyond those waiting, first reclaiming the read
    /// places if they are at least half of the storage.
    pub(crate) fn reserve(&mut self, more: usize) -> Result {
        if self.head > 0 && self.head >= self.len() {
            let waiting = self.len();
            self.queue.copy_within(self.head.., 0);
            self.queue.truncate(waiting);
            self.head = 0;
        }
        self.queue.reserve(more, GFP_KERNEL)?;
        Ok(())
    }

    /// Queues a record; its place was reserved when its operation was posted.
    pub(crate) fn push(&mut self, c: Completion) {
        if self.queue.push_within_capacity(c).is_err() {
            // Not reached: `sendmsg` reserves a place for each operation it posts.
            pr_warn_ratelimited!("AF_IB: no room for an RDMA completion (token {})\n", c.token);
        }
    }

    /// The oldest record.
    pub(crate) fn front(&self) -> Option<Completion> {
        self.queue.get(self.head).copied()
    }

    /// Removes the oldest record.
    pub(crate) fn pop(&mut self) {
        if !self.is_empty() {
            self.head += 1;
        }
        if self.is_empty() {
            self.queue.clear();
            self.head = 0;
        }
    }
}
