// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters (`c/percpu.c`): each CPU adds to its own copy, as the kernel's
//! SNMP counters do, so that counting on the data path shares no cache line between
//! CPUs; a reader sums the copies.

use core::{ffi::c_void, ptr::NonNull};

use kernel::prelude::*;

use crate::kernel_api::bindings;

/// `N` counters of 64 bits.
///
/// # Invariants
///
/// `0` is a live per-CPU allocation of `N` `u64`s, freed in `drop`.
pub(crate) struct PerCpuCounters<const N: usize>(NonNull<c_void>);

// SAFETY: Per-CPU adds and reads are safe from any thread and context.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: See above; nothing is mutated through `&self` but the per-CPU copies.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// `N` counters at 0.
    pub(crate) fn new() -> Result<Self> {
        let n = u32::try_from(N).map_err(|_| EINVAL)?;
        // SAFETY: Allocates; the result is checked below.
        let p = unsafe { bindings::infinisock_percpu_counters_alloc(n) };
        NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    /// Adds `v` to counter `i` (ignored beyond `N`).
    pub(crate) fn add(&self, i: usize, v: u64) {
        if i < N {
            // SAFETY: Live allocation of `N` counters (type invariant); `i < N`.
            unsafe { bindings::infinisock_percpu_counter_add(self.0.as_ptr(), i as u32, v) }
        }
    }

    /// Counter `i` summed over the CPUs (0 beyond `N`).
    pub(crate) fn sum(&self, i: usize) -> u64 {
        if i >= N {
            return 0;
        }
        // SAFETY: As in `add`.
        unsafe { bindings::infinisock_percpu_counter_sum(self.0.as_ptr(), i as u32) }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: The allocation (type invariant), freed once.
        unsafe { bindings::infinisock_percpu_counters_free(self.0.as_ptr()) }
    }
}
