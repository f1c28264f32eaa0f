// SPDX-License-Identifier: GPL-2.0

//! A wait queue whose sleepers cannot miss a wake-up from atomic context.
//!
//! The kernel crate's `CondVar` checks nothing between registering a sleeper and
//! sleeping, so a waker that cannot take the sleeper's mutex (a CQ event, interrupts
//! off) may fire after the sleeper's last check and before it is on the queue, and be
//! lost. [`WaitQueue::wait`] registers first (`wait_woken()`) and then compares an
//! event counter the waker bumps before waking: whatever happens after the sleeper's
//! last look is either seen in the counter or delivered as a wake-up.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::{
    prelude::*,
    sync::{LockClassKey, MutexGuard},
    types::Opaque,
};

use crate::kernel_api::bindings;

/// A `struct wait_queue_head`.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue head is used from any thread under its own spinlock.
unsafe impl Send for WaitQueue {}
// SAFETY: See above.
unsafe impl Sync for WaitQueue {}

/// How a [`WaitQueue::wait`] ended.
pub(crate) enum Woken {
    /// Woken, or the counter had moved: `jiffies` of the timeout left.
    Woken { jiffies: i64 },
    /// The timeout ran out.
    Timeout,
    /// A signal is pending.
    Signal,
}

/// What ends a [`WaitQueue::wait`] besides its wake-up and its timeout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ends {
    /// Any signal.
    Signal,
    /// A fatal signal only: a wait the caller must see through once begun.
    FatalSignal,
    /// Nothing: what a task that is being killed must still see through.
    Nothing,
}

impl Ends {
    fn to_c(self) -> i32 {
        (match self {
            Self::Signal => bindings::infinisock_wait_ends_INFINISOCK_WAIT_ENDS_SIGNAL,
            Self::FatalSignal => bindings::infinisock_wait_ends_INFINISOCK_WAIT_ENDS_FATAL,
            Self::Nothing => bindings::infinisock_wait_ends_INFINISOCK_WAIT_ENDS_NOTHING,
        }) as i32
    }
}

impl WaitQueue {
    /// An initialiser; `name` and `key` are lockdep's class for the queue's spinlock.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid while the closure runs; `name` and `key` are static.
            head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr().cast())
            }),
        })
    }

    /// Wakes every sleeper; callable in any context, interrupts off included.
    pub(crate) fn wake_all(&self) {
        // SAFETY: The queue head was initialised by `new`.
        unsafe { bindings::infinisock_wake_up_all(self.head.get()) };
    }

    /// Sleeps, with the mutex `guard` holds released, until woken, for at most
    /// `timeo` jiffies (`i64::MAX`, `MAX_SCHEDULE_TIMEOUT`: no limit), unless
    /// `events` is no longer `seen`; first, with `spin_usec` > 0, it spins that many
    /// µs watching `events` (busy polling). `ends` says which signals end it; the
    /// timeout bounds a wait that none does. The mutex is held again on return.
    pub(crate) fn wait<T>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        events: &AtomicU32,
        seen: u32,
        timeo: i64,
        spin_usec: u32,
        ends: Ends,
    ) -> Woken {
        // `kernel::sync::Lock` is `repr(C)` with the C lock first: the mutex itself.
        let mutex = guard.lock_ref() as *const _ as *mut bindings::mutex;
        // SAFETY: The queue is initialised; `mutex` is held by this thread (the guard
        // proves it) and no reference into the data it protects is live during the
        // call, which releases and re-acquires it before returning; `events` is valid.
        let left = unsafe {
            bindings::infinisock_wait_unless(self.head.get(), mutex, events.as_ptr(), seen, timeo as _, spin_usec, ends.to_c())
        } as i64;
        match left {
            l if l < 0 => Woken::Signal,
            0 => Woken::Timeout,
            l => Woken::Woken { jiffies: l },
        }
    }
}

/// Bumps `events` for [`WaitQueue::wait`] (before waking).
pub(crate) fn bump(events: &AtomicU32) {
    events.fetch_add(1, Ordering::SeqCst);
}
