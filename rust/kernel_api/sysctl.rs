// SPDX-License-Identifier: GPL-2.0

//! Per-namespace tables of sysctls (`register_net_sysctl_sz`): integers, each bounded by
//! `proc_dointvec_minmax`, which the table owns; and text values the protocol keeps and
//! parses itself ([`TextValues`], through `c/net.c`'s handler).

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicI32, Ordering},
};

use kernel::{prelude::*, sync::Arc};

use crate::{kernel_api::{bindings, net::Net}, proto::tunables::Tunable};

/// The machine's memory in KiB, for defaults that scale with it.
pub(crate) fn total_ram_kib() -> usize {
    // SAFETY: Reads a counter.
    unsafe { bindings::infinisock_total_ram_kib() }
}

/// Milliseconds since boot (suspend included): the clock of time-limited memories
/// such as the hybrid refusal cache.
pub(crate) fn now_ms() -> u64 {
    // SAFETY: Reads the boot-time clock; callable from any context.
    unsafe { bindings::infinisock_boottime_ms() }
}

/// The heap part of a [`SysctlTable`]: the C table, and the values and bounds it points
/// into. Boxed, so the addresses the kernel holds stay put.
struct Storage<const N: usize> {
    /// Exactly `N` entries, no all-zero terminator: `register_net_sysctl_sz` takes the size.
    table: [bindings::ctl_table; N],
    values: [AtomicI32; N],
    bounds: [[kernel::ffi::c_int; 2]; N],
}

/// A registered table of `N` integer sysctls under one path in one namespace.
///
/// # Invariants
///
/// `header` is the registration of `storage.table`, which points only into `storage`;
/// it is unregistered in `drop` before `storage` is freed.
pub(crate) struct SysctlTable<const N: usize> {
    storage: KBox<Storage<N>>,
    header: NonNull<bindings::ctl_table_header>,
}

// SAFETY: The values are atomics; the C table is only touched by the sysctl core, which
// serialises itself. Registration and unregistration may happen on any thread.
unsafe impl<const N: usize> Send for SysctlTable<N> {}
// SAFETY: See above; shared access only reads atomics.
unsafe impl<const N: usize> Sync for SysctlTable<N> {}

impl<const N: usize> SysctlTable<N> {
    /// Registers `tunables` at their defaults under `path` (e.g. `net/infinisock`) in `net`,
    /// with the bounds of a namespace that the initial user namespace owns or not.
    pub(crate) fn register(net: &Net, path: &'static CStr, tunables: &'static [Tunable; N]) -> Result<Self> {
        let privileged = net.owned_by_init_user_ns();
        let mut storage = KBox::new(
            Storage {
                // SAFETY: All-zero is a valid `ctl_table` entry (filled in below).
                table: unsafe { core::mem::zeroed() },
                values: [const { AtomicI32::new(0) }; N],
                bounds: [[0; 2]; N],
            },
            GFP_KERNEL,
        )?;
        let s = &mut *storage;
        for (i, t) in tunables.iter().enumerate() {
            s.values[i].store(t.default, Ordering::Relaxed);
            s.bounds[i] = [t.min, t.max_for(privileged)];
            s.table[i] = bindings::ctl_table {
                procname: t.name.as_char_ptr(),
                data: s.values[i].as_ptr().cast(),
                maxlen: core::mem::size_of::<kernel::ffi::c_int>() as kernel::ffi::c_int,
                mode: 0o644,
                proc_handler: Some(bindings::proc_dointvec_minmax),
                extra1: (&raw mut s.bounds[i][0]).cast(),
                extra2: (&raw mut s.bounds[i][1]).cast(),
                // SAFETY: All-zero is valid for the remaining fields.
                ..unsafe { core::mem::zeroed() }
            };
        }
        // SAFETY: `net` is live; the table and everything it points to live in `storage`,
        // which outlives the registration (type invariant).
        let header = unsafe {
            bindings::register_net_sysctl_sz(net.as_raw(), path.as_char_ptr(), s.table.as_ptr(), N)
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        Ok(Self { storage, header })
    }

    /// Sets entry `index` (a default known only at run time), within its bounds.
    pub(crate) fn set(&self, index: usize, value: i32) {
        let [min, max] = self.storage.bounds[index];
        self.storage.values[index].store(value.clamp(min, max), Ordering::Relaxed);
    }

    /// The current value of entry `index`.
    pub(crate) fn get(&self, index: usize) -> i32 {
        self.storage.values[index].load(Ordering::Relaxed)
    }
}

impl<const N: usize> Drop for SysctlTable<N> {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; unregistering waits for running handlers.
        unsafe { bindings::unregister_net_sysctl_table(self.header.as_ptr()) };
    }
}

/// Text values behind a [`TextSysctlTable`], kept and parsed by the protocol.
pub(crate) trait TextValues: Send + Sync + 'static {
    /// Prints entry `which`'s value into `out`; returns its length.
    fn show(&self, which: usize, out: &mut [u8]) -> usize;
    /// Parses and stores entry `which`'s new text; an error changes nothing.
    fn store(&self, which: usize, text: &str) -> Result;
}

/// The heap part of a [`TextSysctlTable`]: the C table and each entry's context.
struct TextStorage<const N: usize> {
    table: [bindings::ctl_table; N],
    ctx: [bindings::infinisock_text_ctx; N],
}

/// A registered table of `N` text sysctls under one path in one namespace, whose
/// values `T` keeps.
///
/// # Invariants
///
/// `header` is the registration of `_storage.table`, whose contexts point into
/// `_storage` and at `*values`; it is unregistered in `drop` before either goes.
pub(crate) struct TextSysctlTable<T: TextValues, const N: usize> {
    values: Arc<T>,
    /// Only held: the kernel reads it.
    _storage: KBox<TextStorage<N>>,
    header: NonNull<bindings::ctl_table_header>,
}

// SAFETY: `T` is `Send + Sync`; the C table is only touched by the sysctl core.
unsafe impl<T: TextValues, const N: usize> Send for TextSysctlTable<T, N> {}
// SAFETY: See above.
unsafe impl<T: TextValues, const N: usize> Sync for TextSysctlTable<T, N> {}

unsafe extern "C" fn text_show<T: TextValues>(
    data: *const core::ffi::c_void,
    which: usize,
    buf: *mut kernel::ffi::c_char,
    len: usize,
) -> kernel::ffi::c_int {
    // SAFETY: `data` is the table's `Arc<T>`, alive while the table is registered (type
    // invariant of `TextSysctlTable`); the handler passes a buffer of `len` bytes.
    let (values, out) = unsafe { (&*data.cast::<T>(), core::slice::from_raw_parts_mut(buf.cast::<u8>(), len)) };
    values.show(which, out).min(len) as kernel::ffi::c_int
}

unsafe extern "C" fn text_store<T: TextValues>(
    data: *const core::ffi::c_void,
    which: usize,
    text: *const kernel::ffi::c_char,
) -> kernel::ffi::c_int {
    // SAFETY: As in `text_show`; the handler passes a NUL-terminated buffer.
    let (values, text) = unsafe { (&*data.cast::<T>(), CStr::from_char_ptr(text)) };
    match text.to_str() {
        Ok(t) => match values.store(which, t) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        Err(_) => EINVAL.to_errno(),
    }
}

impl<T: TextValues, const N: usize> TextSysctlTable<T, N> {
    /// Registers `names` under `path` in `net`, their values in `values`.
    pub(crate) fn register(net: &Net, path: &'static CStr, names: [&'static CStr; N], values: Arc<T>) -> Result<Self> {
        let mut storage = KBox::new(
            TextStorage {
                // SAFETY: All-zero is a valid `ctl_table` entry and context (filled in below).
                table: unsafe { core::mem::zeroed() },
                // SAFETY: As above.
                ctx: unsafe { core::mem::zeroed() },
            },
            GFP_KERNEL,
        )?;
        let s = &mut *storage;
        for (i, name) in names.iter().enumerate() {
            s.ctx[i] = bindings::infinisock_text_ctx {
                show: Some(text_show::<T>),
                store: Some(text_store::<T>),
                data: Arc::as_ptr(&values).cast(),
                which: i,
            };
            s.table[i] = bindings::ctl_table {
                procname: name.as_char_ptr(),
                maxlen: bindings::INFINISOCK_TEXT_MAX as kernel::ffi::c_int,
                mode: 0o644,
                proc_handler: Some(bindings::infinisock_text_sysctl),
                extra1: (&raw mut s.ctx[i]).cast(),
                // SAFETY: All-zero is valid for the remaining fields.
                ..unsafe { core::mem::zeroed() }
            };
        }
        // SAFETY: `net` is live; the table points into `storage` and at `values`, both of
        // which outlive the registration (type invariant).
        let header = unsafe {
            bindings::register_net_sysctl_sz(net.as_raw(), path.as_char_ptr(), s.table.as_ptr(), N)
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        Ok(Self { values, _storage: storage, header })
    }

    /// The values.
    pub(crate) fn values(&self) -> &T {
        &self.values
    }
}

impl<T: TextValues, const N: usize> Drop for TextSysctlTable<T, N> {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; unregistering waits for running handlers.
        unsafe { bindings::unregister_net_sysctl_table(self.header.as_ptr()) };
        // The storage and the values go after this (field drops).
    }
}
