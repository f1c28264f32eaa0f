// SPDX-License-Identifier: GPL-2.0

//! Storage for the C structures the kernel keeps pointers to for as long as they are
//! registered (`struct proto`, `struct proto_ops`, `struct ib_client`, ...).

use core::cell::UnsafeCell;

/// A C structure in a `static`, handed to the kernel by pointer.
///
/// # Invariants
///
/// The Rust side reads or writes the contents only before the structure is registered
/// with the kernel or after it is unregistered; in between only the kernel touches it,
/// under its own locking.
#[repr(transparent)]
pub(crate) struct FfiStatic<T>(UnsafeCell<T>);

// SAFETY: Rust never accesses the contents while the kernel may (type invariant); the
// kernel serialises its own accesses.
unsafe impl<T> Sync for FfiStatic<T> {}

impl<T> FfiStatic<T> {
    /// Wraps `value` for use in a `static`.
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The pointer the kernel is given.
    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
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
