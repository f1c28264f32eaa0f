// SPDX-License-Identifier: GPL-2.0

//! How a shared receive queue gives posted buffers back (memory model, (a)): nothing in
//! the verbs takes a posted request back (`ib_modify_srq` cannot shrink a queue below
//! what is posted), so the queue consumes them itself.
//!
//! [`DrainPair`] owns two queue pairs connected to each other through the device's own
//! address: a *sink* on the shared queue and a *source* that sends it zero-length
//! messages. Each message takes one posted receive, in the queue's order, and
//! completes it without touching its buffer; the receive's completion names the slot,
//! whose buffer the queue then frees. The pair completes to a CQ of its own that the
//! queue polls when it chooses. It is not one of the queue's users: no connection
//! depends on it, and it is destroyed before the queue.

use core::ptr::NonNull;

use kernel::prelude::*;

use crate::kernel_api::{
    bindings,
    ib::IbDevice,
    verbs::{Cq, Cqe, Pd, Wc, POLL_BATCH},
};

/// Messages of a pair in flight at once.
pub(crate) const DRAIN_DEPTH: u32 = 64;

/// Tag of the source's sends ([`Wc::tag`]); receives carry their slot's (`SRQ_TAG | slot`).
pub(crate) const DRAIN_SEND_TAG: u32 = 0;

/// See the module documentation.
///
/// # Invariants
///
/// `sink` and `source` are live QPs in the PD of the shared queue given to
/// [`DrainPair::new`], completing to `cq`, destroyed in `drop` before `cq` is freed;
/// `send_cqe` (boxed, so it stays put) is the entry of every send posted on `source`.
pub(crate) struct DrainPair {
    sink: NonNull<bindings::ib_qp>,
    source: NonNull<bindings::ib_qp>,
    cq: Cq,
    send_cqe: KBox<Cqe>,
}

// SAFETY: QP and CQ operations may be called from any thread.
unsafe impl Send for DrainPair {}
// SAFETY: Posting and polling are serialized by the owner's lock; no Rust state changes.
unsafe impl Sync for DrainPair {}

impl DrainPair {
    /// Makes and connects a pair on `srq`.
    ///
    /// # Safety
    ///
    /// `srq` is a live shared receive queue in `pd` on `dev`, and it outlives the pair.
    pub(super) unsafe fn new(dev: &IbDevice, pd: &Pd, srq: *mut bindings::ib_srq) -> Result<Self> {
        // A send and a receive completion per message.
        let cq = Cq::polled(dev, 2 * DRAIN_DEPTH + 2)?;
        let send_cqe = KBox::new(Cqe::new(DRAIN_SEND_TAG), GFP_KERNEL)?;
        let mut sink = core::ptr::null_mut();
        let mut source = core::ptr::null_mut();
        // SAFETY: Live PD, SRQ (the caller's promise) and CQ; on success both QPs are
        // kept below and destroyed in `drop` before the CQ; on failure none is left.
        kernel::error::to_result(unsafe {
            bindings::infinisock_srq_drain_pair(pd.as_raw(), srq, cq.as_raw(), DRAIN_DEPTH, &mut sink, &mut source)
        })?;
        match (NonNull::new(sink), NonNull::new(source)) {
            (Some(sink), Some(source)) => Ok(Self { sink, source, cq, send_cqe }),
            _ => Err(EINVAL),
        }
    }

    /// Sends up to `n` messages, each consuming one posted receive; returns how many
    /// were sent. No more than [`DRAIN_DEPTH`] may be in flight.
    pub(super) fn send(&self, n: u32) -> u32 {
        // SAFETY: Live source QP (type invariant); its entry stays put until the QP is
        // destroyed.
        let sent = unsafe { bindings::infinisock_srq_drain_post(self.source.as_ptr(), self.send_cqe.as_raw(), n) };
        u32::try_from(sent).unwrap_or(0)
    }

    /// Stops the sink taking receives from the queue, waiting up to a second for the
    /// device to say it took its last: then every receive it took is in the pair's
    /// CQ, for [`DrainPair::poll`]. Returns whether the device said so (else a
    /// message may have taken a buffer the CQ never reports).
    pub(super) fn stop(&self) -> bool {
        // SAFETY: Live sink QP (type invariant).
        unsafe { bindings::infinisock_srq_drain_stop(self.sink.as_ptr()) }
    }

    /// Takes up to [`POLL_BATCH`] completions of the pair.
    pub(super) fn poll(&self, out: &mut [Option<Wc>; POLL_BATCH]) -> usize {
        self.cq.poll(out)
    }
}

impl Drop for DrainPair {
    fn drop(&mut self) {
        for qp in [self.source, self.sink] {
            // SAFETY: Live QP (type invariant), destroyed once, before its CQ (a field,
            // freed after this). Destroying a kernel QP fails only for user state.
            if let Err(e) = kernel::error::to_result(unsafe { bindings::infinisock_destroy_qp(qp.as_ptr()) }) {
                pr_err!("destroying a drain QP failed: {:?}\n", e);
            }
        }
    }
}
