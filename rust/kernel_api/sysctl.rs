// SPDX-License-Identifier: GPL-2.0

//! A per-namespace table of integer sysctls (`register_net_sysctl_sz`), each bounded by
//! `proc_dointvec_minmax`. The table owns the values it exposes.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicI32, Ordering},
};

use kernel::prelude::*;

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
