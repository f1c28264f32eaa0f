// SPDX-License-Identifier: GPL-2.0

//! The RDMA side of a link (AF_IB's one-sided operations, `af_ib::rdma`): the regions
//! a program registered on the connection, its operations in flight, and the error
//! queue their completions wait on. The queue pair keeps what the device may still
//! touch; this is the protocol's account of it (`proto::regions`, `proto::rdma_ops`,
//! `proto::error_queue`), for the program's completions and for `EBUSY`.

use kernel::{
    prelude::*,
    sync::Arc,
    time::{Instant, Monotonic},
};

use crate::{
    kernel_api::{list::KernelLists, verbs::{UserMr, Wc}},
    proto::{error_queue::ErrorQueue, rdma_ops::OpQueue, regions::RegionTable},
};

/// A connection's registered regions and operations in flight.
pub(crate) struct Rdma {
    pub(crate) regions: RegionTable<KernelLists, Arc<UserMr>>,
    pub(crate) ops: OpQueue<KernelLists, Wc>,
    /// SGEs per WRITE and per READ request.
    pub(crate) send_sge: u32,
    pub(crate) read_sge: u32,
    /// READs the connection may have in flight toward the peer, as negotiated when it
    /// was established (0 before, and with a peer that serves none).
    pub(crate) read_depth: u8,
    /// When the last operation in flight completed.
    pub(crate) idle_since: Option<Instant<Monotonic>>,
}

impl Rdma {
    pub(crate) fn new(send_sge: u32, read_sge: u32) -> Self {
        Self { regions: RegionTable::default(), ops: OpQueue::default(), send_sge, read_sge, read_depth: 0, idle_since: None }
    }

    /// Whether any request is in flight.
    pub(crate) fn busy(&self) -> bool {
        self.ops.busy()
    }

    /// The tokens of the operations a teardown cancels.
    pub(crate) fn in_flight(&self) -> KVec<u64> {
        let mut v = KVec::new();
        for token in self.ops.unreported() {
            // Best effort: without memory the program misses a cancellation record.
            let _ = v.push(token, GFP_KERNEL);
        }
        v
    }
}

/// The error queue of a socket.
pub(crate) type Completions = ErrorQueue<KernelLists>;
pub(crate) use crate::proto::error_queue::Completion;
