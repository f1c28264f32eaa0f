// SPDX-License-Identifier: GPL-2.0

//! Module-wide state behind a mutex, in a `static` (the kernel's `global_lock!`), with
//! its one-time initialisation made safe: [`module_mutex!`] declares one,
//! [`ModuleMutex::init`] readies it in the module's `init`, and locking one that is
//! not ready is refused loudly instead of touching an uninitialised mutex.

use core::sync::atomic::{AtomicU8, Ordering};

use kernel::sync::lock::{GlobalGuard, GlobalLock, GlobalLockBackend};

const UNINIT: u8 = 0;
const INITIALISING: u8 = 1;
const READY: u8 = 2;

/// A `global_lock!` mutex that knows whether it has been initialised.
///
/// # Invariants
///
/// `lock` is the only user of its backend type `B` (made by [`module_mutex!`] with
/// it), and `lock.init()` has been called exactly once when `state` is `READY`.
pub(crate) struct ModuleMutex<B: GlobalLockBackend + 'static> {
    lock: &'static GlobalLock<B>,
    state: AtomicU8,
}

impl<B: GlobalLockBackend + 'static> ModuleMutex<B> {
    /// # Safety
    ///
    /// `lock` is used only through the returned value (what [`module_mutex!`] makes
    /// sure of by hiding it).
    #[doc(hidden)]
    pub(crate) const unsafe fn new(lock: &'static GlobalLock<B>) -> Self {
        Self { lock, state: AtomicU8::new(UNINIT) }
    }

    /// Readies the mutex; later calls do nothing. Called from the module's `init`,
    /// before anything that may lock it can run.
    pub(crate) fn init(&'static self) {
        if self.state.compare_exchange(UNINIT, INITIALISING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: First and only call (the state moved from `UNINIT` once); nobody
            // locks it before `READY` is seen.
            unsafe { self.lock.init() };
            self.state.store(READY, Ordering::Release);
        }
    }

    /// Locks it. A mutex never readied is a bug in the module's `init`: it is
    /// reported and the kernel's BUG handling stops the caller.
    pub(crate) fn lock(&'static self) -> GlobalGuard<B> {
        assert!(self.state.load(Ordering::Acquire) == READY, "module mutex locked before init");
        self.lock.lock()
    }
}

/// Declares a module-wide mutex-protected static:
/// `module_mutex! { pub(crate) static NAME: Type = initial value; }`.
macro_rules! module_mutex {
    ($(#[$meta:meta])* $vis:vis static $name:ident: $ty:ty = $value:expr;) => {
        #[allow(non_snake_case)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            kernel::sync::global_lock! {
                // SAFETY: Only the `ModuleMutex` below uses it; it calls `init` once
                // before any other use.
                pub(crate) unsafe(uninit) static LOCK: Mutex<$ty> = $value;
            }
        }
        $(#[$meta])*
        // SAFETY: The lock is private to the module above and used only through this.
        $vis static $name: $crate::kernel_api::global::ModuleMutex<$name::LOCK> =
            unsafe { $crate::kernel_api::global::ModuleMutex::new(&$name::LOCK) };
    };
}
pub(crate) use module_mutex;
