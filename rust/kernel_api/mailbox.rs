// SPDX-License-Identifier: GPL-2.0

//! A queue pair's completions from a CQ it shares with others (`shared_cq.rs`): ib_core
//! polls the shared CQ in softirq and `c/mailbox.c` puts each completion in the
//! mailbox of the QP it names, in a send and a receive ring as deep as the QP's
//! queues. The owner takes and arms the rings as it would two CQs of its own, so the
//! protocol above sees no difference; what it saves is two device queues per
//! connection (rdma_rxe allocates each CQ in whole pages of vmalloc).

use core::ptr::NonNull;

use kernel::{error::to_result, prelude::*, sync::Arc};

use crate::kernel_api::{
    bindings,
    verbs::{cq_event, wcs_from, CqEvents, CqSide, KeptAlive, Wc, NO_WC, POLL_BATCH},
};

/// See the module documentation.
///
/// # Invariants
///
/// `raw` is a live mailbox, freed only in `drop`, before `_events` (its event
/// functions' context) is released. Whoever frees it has made sure that nothing
/// delivers to it any more: the QP whose `qp_context` it is was drained and destroyed.
pub(crate) struct Mailbox {
    raw: NonNull<bindings::infinisock_mailbox>,
    _events: Arc<dyn KeptAlive>,
}

// SAFETY: The mailbox's state is behind its spinlock; it may be used and freed from
// any thread.
unsafe impl Send for Mailbox {}
// SAFETY: See above.
unsafe impl Sync for Mailbox {}

fn side_index(side: CqSide) -> i32 {
    match side {
        CqSide::Send => 0,
        CqSide::Recv => 1,
    }
}

impl Mailbox {
    /// A mailbox for a QP with `send` send-queue and `recv` receive entries at most
    /// outstanding; `events` hears of completions on an armed ring, and is held until
    /// the mailbox is freed.
    pub(crate) fn new<H: CqEvents>(send: u32, recv: u32, events: Arc<H>) -> Result<Self> {
        let ctx = Arc::as_ptr(&events) as *mut core::ffi::c_void;
        // SAFETY: `ctx` stays valid while the mailbox lives (held in `events`, released
        // after it is freed); the trampolines take it as an `H`.
        let raw = unsafe {
            bindings::infinisock_mailbox_new(send, recv, ctx, Some(cq_event::<H, false>), Some(cq_event::<H, true>))
        };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        Ok(Self { raw, _events: events })
    }

    /// What the QP's `qp_context` must be.
    pub(crate) fn as_raw(&self) -> *mut core::ffi::c_void {
        self.raw.as_ptr().cast()
    }

    /// Takes up to `max` (at most [`POLL_BATCH`]) completions of one side. Returns how
    /// many were taken, how many the ring had no room for since the last poll, and
    /// whether it is empty now.
    pub(crate) fn poll(&self, side: CqSide, out: &mut [Option<Wc>; POLL_BATCH], max: usize) -> (usize, u32, bool) {
        let mut raw = [NO_WC; POLL_BATCH];
        let (mut lost, mut empty) = (0, false);
        // SAFETY: Live mailbox (type invariant); `raw` has room for `POLL_BATCH`.
        let got = unsafe {
            bindings::infinisock_mailbox_poll(self.raw.as_ptr(), side_index(side), raw.as_mut_ptr(), max.min(POLL_BATCH) as i32, &mut lost, &mut empty)
        };
        let got = (got.max(0) as usize).min(POLL_BATCH);
        // SAFETY: The mailbox holds only completions whose `ib_cqe` is one of our
        // `Cqe`s (`infinisock_cqe_reaped` is their `done`).
        unsafe { wcs_from(&raw[..got], out) };
        (got, lost, empty)
    }

    /// Asks for an event at the side's next completion; `true`: it holds some
    /// already, poll again.
    pub(crate) fn arm(&self, side: CqSide) -> bool {
        // SAFETY: Live mailbox (type invariant).
        unsafe { bindings::infinisock_mailbox_arm(self.raw.as_ptr(), side_index(side)) > 0 }
    }

    /// Whether the end marker passed: every receive the QP completed is in the
    /// mailbox.
    pub(crate) fn ended(&self) -> bool {
        // SAFETY: Live mailbox (type invariant).
        unsafe { bindings::infinisock_mailbox_ended(self.raw.as_ptr()) }
    }

    /// Delivers a completion of a request posted with `cqe`, as the shared CQ's poller
    /// does: what the tests of the rings use, with no device.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn deliver(&self, cqe: &'static crate::kernel_api::verbs::Cqe, status: u32, byte_len: u32) {
        let wc = bindings::infinisock_wc { cqe: cqe.as_raw(), status, byte_len, with_imm: false, imm: 0, with_inv: false };
        // SAFETY: Live mailbox (type invariant); `wc` names a `'static` `Cqe`.
        unsafe { bindings::infinisock_mailbox_put(self.raw.as_ptr(), &wc, cqe.tag()) };
    }

    /// Posts the end marker on `qp`.
    ///
    /// # Safety
    ///
    /// `qp` is live, has this mailbox as its `qp_context`, has reported its last WQE
    /// and has a send-queue entry kept for the marker, which is posted once.
    pub(crate) unsafe fn post_end(&self, qp: *mut bindings::ib_qp) -> Result {
        // SAFETY: Live mailbox; the caller guarantees the QP.
        to_result(unsafe { bindings::infinisock_mailbox_post_end(self.raw.as_ptr(), qp) })
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // SAFETY: Live mailbox, freed once; nothing delivers to it any more (type
        // invariant). `_events` is released after.
        unsafe { bindings::infinisock_mailbox_free(self.raw.as_ptr()) };
    }
}
