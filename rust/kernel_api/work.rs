// SPDX-License-Identifier: GPL-2.0

//! What the kernel crate's workqueue API lacks: the module's own workqueue, flushing a
//! work item, and cancelling a delayed one that was queued with an `Arc` (giving back
//! the reference it held).

use kernel::{
    prelude::*,
    sync::Arc,
    workqueue::{HasDelayedWork, HasWork, Work},
};

use crate::kernel_api::bindings;

/// The module's workqueue (see [`ModuleWorkqueue`]).
static WORKQUEUE: core::sync::atomic::AtomicPtr<bindings::workqueue_struct> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// The module's workqueue: connection teardown runs there, and unloading waits for it.
pub(crate) fn workqueue() -> &'static kernel::workqueue::Queue {
    let wq = WORKQUEUE.load(core::sync::atomic::Ordering::Acquire);
    // SAFETY: Set by `ModuleWorkqueue::new` in the module's `init`, before any socket
    // can exist, and destroyed only when the module goes away, when no socket (and so
    // no caller) is left.
    unsafe { kernel::workqueue::Queue::from_raw(wq.cast()) }
}

/// Owns the module's workqueue ([`workqueue`]); destroying it waits for queued work.
pub(crate) struct ModuleWorkqueue;

impl ModuleWorkqueue {
    /// Allocates the workqueue, named `name`. Once per module load.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: Allocates a workqueue; the name is a static C string.
        let wq = unsafe { bindings::infinisock_alloc_workqueue(name.as_char_ptr()) };
        if wq.is_null() {
            return Err(ENOMEM);
        }
        WORKQUEUE.store(wq, core::sync::atomic::Ordering::Release);
        Ok(Self)
    }
}

impl Drop for ModuleWorkqueue {
    fn drop(&mut self) {
        let wq = WORKQUEUE.swap(core::ptr::null_mut(), core::sync::atomic::Ordering::AcqRel);
        // SAFETY: Allocated in `new`, destroyed once; no socket is left to queue work.
        unsafe { bindings::destroy_workqueue(wq) };
    }
}

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
