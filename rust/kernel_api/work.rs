// SPDX-License-Identifier: GPL-2.0

//! What the kernel crate's workqueue API lacks: flushing a work item, and cancelling a
//! delayed one that was queued with an `Arc` (giving back the reference it held).

use kernel::{
    sync::Arc,
    workqueue::{HasDelayedWork, HasWork, Work},
};

use crate::kernel_api::bindings;

/// Waits until `work`, if queued or running, has run (`flush_work`).
pub(crate) fn flush<T, const ID: u64>(work: &Work<T, ID>) {
    // SAFETY: `work` is a live, initialised `Work`; its `work_struct` is what it wraps.
    let raw = unsafe { Work::raw_get(work) };
    // SAFETY: An initialised work item; flushing an idle one returns at once.
    unsafe { bindings::infinisock_flush_work(raw.cast()) };
}

/// Stops `owner`'s delayed work `ID` if it is pending, and drops the reference to
/// `owner` it held (it was queued with an `Arc<T>`). One already running is not
/// waited for. Returns whether it was pending.
pub(crate) fn cancel_delayed<T, const ID: u64>(owner: &T) -> bool
where
    T: HasDelayedWork<T, ID>,
{
    // SAFETY: `owner` is live, so is its delayed work field (the `Work` inside it).
    let work = unsafe { <T as HasWork<T, ID>>::raw_get_work(owner as *const T as *mut T) };
    // SAFETY: As above.
    let raw = unsafe { Work::raw_get(work) };
    // SAFETY: An initialised delayed work item: its `work_struct` is the first field of
    // the `delayed_work` (what `to_delayed_work()` expects).
    let pending = unsafe { bindings::infinisock_cancel_delayed_work(raw.cast()) };
    if pending {
        // SAFETY: A pending item queued as `Arc<T>` owns one reference, from
        // `Arc::into_raw` in the kernel crate's `RawWorkItem` for `Arc`; cancelling it
        // hands that reference back to us.
        drop(unsafe { Arc::from_raw(owner as *const T) });
    }
    pending
}
