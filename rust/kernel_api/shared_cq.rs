// SPDX-License-Identifier: GPL-2.0

//! The CQs that the queue pairs on a shared receive queue complete to (memory model,
//! step 2): a few large CQs per queue instead of two small ones per connection.
//! rdma_rxe allocates a CQ in whole pages of vmalloc, so two per connection cost two
//! to four pages each at any load; on a shared CQ a connection takes
//! its send queue's entries, 128 bytes each on rdma_rxe.
//!
//! Room is claimed before anything is posted, so that the CQ cannot overflow (a device
//! finding its CQ full fails whichever QP is completing, `proto::cq_room`): each QP
//! claims its send queue's entries; the receive partition holds every request the
//! shared receive queue can have posted, since any QP may take any of them. A QP joins
//! the first CQ with room for its claim; when none has room a new one is made, twice
//! the first one's size. The CQs stay until the queue goes.
//!
//! ib_core polls them in softirq, and each completion goes to its QP's mailbox
//! (`mailbox.rs`).

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::{new_mutex, prelude::*, sync::{Arc, Mutex}};

use crate::{
    kernel_api::{ib::DeviceRef, verbs::Cq},
    proto::cq_room::{CqPartitions, CqRoom, QpClaim},
};

/// Entries of a queue's first CQ, and of each one after it: one less than a power of
/// two, which is what rdma_rxe's ring holds. 16,383 entries are 2 MiB on rdma_rxe.
const FIRST_CQES: u32 = (1 << 14) - 1;
const MORE_CQES: u32 = (1 << 15) - 1;

/// Shared CQs alive, and queue pairs on them, for `/proc/net/infinisock/memory`.
static SHARED_CQS: AtomicUsize = AtomicUsize::new(0);
static SHARED_CQ_QPS: AtomicUsize = AtomicUsize::new(0);

/// Shared CQs alive now, and queue pairs on them.
pub(crate) fn shared_cqs() -> (usize, usize) {
    (SHARED_CQS.load(Ordering::Relaxed), SHARED_CQ_QPS.load(Ordering::Relaxed))
}

/// One CQ and its room.
#[pin_data(PinnedDrop)]
pub(crate) struct SharedCq {
    cq: Cq,
    #[pin]
    room: Mutex<CqRoom>,
}

#[pinned_drop]
impl PinnedDrop for SharedCq {
    fn drop(self: Pin<&mut Self>) {
        SHARED_CQS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A QP's place on a shared CQ, given back when it is dropped (after the QP is
/// destroyed).
pub(crate) struct CqShare {
    shared: Arc<SharedCq>,
    claim: Option<QpClaim>,
}

impl CqShare {
    /// The CQ to create the QP with, for both its queues.
    pub(crate) fn cq(&self) -> &Cq {
        &self.shared.cq
    }
}

impl Drop for CqShare {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            self.shared.room.lock().leave(claim);
            SHARED_CQ_QPS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The shared CQs of one shared receive queue.
pub(crate) struct SharedCqs {
    cqs: KVec<Arc<SharedCq>>,
}

impl SharedCqs {
    pub(crate) const fn new() -> Self {
        Self { cqs: KVec::new() }
    }

    /// A place for a QP of `send` send-queue entries (markers included), on `dev`,
    /// whose shared receive queue holds `recv_slots` requests at most.
    pub(crate) fn join(&mut self, dev: &DeviceRef, recv_slots: u32, send: u32) -> Result<CqShare> {
        for shared in self.cqs.iter() {
            if let Ok(claim) = shared.room.lock().join(send, 0) {
                SHARED_CQ_QPS.fetch_add(1, Ordering::Relaxed);
                return Ok(CqShare { shared: shared.clone(), claim: Some(claim) });
            }
        }
        let cqes = if self.cqs.is_empty() { FIRST_CQES } else { MORE_CQES };
        let parts = CqPartitions { send: cqes.checked_sub(recv_slots).ok_or(EINVAL)?, recv: recv_slots };
        let mut room = CqRoom::new(parts);
        let claim = room.join(send, 0).map_err(|_| EINVAL)?;
        let cq = Cq::new(dev, parts.cqes())?;
        let shared = Arc::pin_init(pin_init!(SharedCq { cq, room <- new_mutex!(room) }), GFP_KERNEL)?;
        // Counted down in its drop.
        SHARED_CQS.fetch_add(1, Ordering::Relaxed);
        self.cqs.push(shared.clone(), GFP_KERNEL)?;
        SHARED_CQ_QPS.fetch_add(1, Ordering::Relaxed);
        Ok(CqShare { shared, claim: Some(claim) })
    }
}
