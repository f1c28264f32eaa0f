// SPDX-License-Identifier: GPL-2.0

//! Storage for the C structures the kernel keeps pointers to for as long as they are
//! registered (`struct proto`, `struct proto_ops`, `struct ib_client`, ...).

use core::{
    cell::UnsafeCell,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::prelude::*;

/// A C structure in a `static`, handed to the kernel by pointer.
///
/// # Invariants
///
/// The Rust side reads or writes the contents only while it holds the claim (see
/// [`FfiStatic::claim`]) and the structure is not registered with the kernel; while it
/// is registered only the kernel touches it, under its own locking.
#[repr(C)]
pub(crate) struct FfiStatic<T> {
    value: UnsafeCell<T>,
    claimed: AtomicBool,
}

// SAFETY: Rust never accesses the contents while the kernel may (type invariant); the
// kernel serialises its own accesses.
unsafe impl<T> Sync for FfiStatic<T> {}

impl<T> FfiStatic<T> {
    /// Wraps `value` for use in a `static`.
    pub(crate) const fn new(value: T) -> Self {
        Self { value: UnsafeCell::new(value), claimed: AtomicBool::new(false) }
    }

    /// The pointer the kernel is given.
    pub(crate) const fn get(&self) -> *mut T {
        self.value.get()
    }

    /// Claims the structure for one registration: a second claim before
    /// [`FfiStatic::unclaim`] fails with `EBUSY`, so a table is never registered twice.
    pub(crate) fn claim(&self) -> Result {
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| EBUSY)
    }

    /// Gives the claim back, after the structure was unregistered (or never was).
    pub(crate) fn unclaim(&self) {
        self.claimed.store(false, Ordering::Release);
    }
}

/// A C table the kernel holds by pointer between a register and an unregister call.
pub(crate) trait KernelTable: Sync + 'static {
    /// The C structure.
    type Raw;

    /// Where the structure lives.
    fn storage(&self) -> &FfiStatic<Self::Raw>;

    /// Hands the structure to the kernel.
    ///
    /// # Safety
    ///
    /// `raw` is `self.storage()`, claimed by the caller and not registered.
    unsafe fn register(&self, raw: *mut Self::Raw) -> Result;

    /// Takes the structure back from the kernel.
    ///
    /// # Safety
    ///
    /// `raw` was registered by [`KernelTable::register`] and not unregistered since.
    unsafe fn unregister(&self, raw: *mut Self::Raw);
}

/// A [`KernelTable`] while it is registered; unregistered on drop.
pub(crate) struct Registration<T: KernelTable>(&'static T);

impl<T: KernelTable> Registration<T> {
    /// Registers `table`; fails with `EBUSY` if it is registered already.
    pub(crate) fn new(table: &'static T) -> Result<Self> {
        let storage = table.storage();
        storage.claim()?;
        // SAFETY: Claimed just now, so not registered.
        match unsafe { table.register(storage.get()) } {
            Ok(()) => Ok(Self(table)),
            Err(e) => {
                storage.unclaim();
                Err(e)
            }
        }
    }
}

impl<T: KernelTable> Drop for Registration<T> {
    fn drop(&mut self) {
        let storage = self.0.storage();
        // SAFETY: Registered in `new` and not unregistered since.
        unsafe { self.0.unregister(storage.get()) };
        storage.unclaim();
    }
}

/// Copies `name` into a fixed-size C `char` array, NUL-terminated (`struct proto.name`).
pub(crate) const fn c_name<const N: usize>(name: &str) -> [kernel::ffi::c_char; N] {
    let bytes = name.as_bytes();
    assert!(bytes.len() < N, "name too long for its C array");
    let mut out = [0; N];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i] as kernel::ffi::c_char;
        i += 1;
    }
    out
}
