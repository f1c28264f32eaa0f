// SPDX-License-Identifier: GPL-2.0

//! The module's generic netlink family (`c/genl.c`, `INFINISOCK_GENL_NAME` in the uapi
//! header): `INFINISOCK_CMD_GET_STATS` answers the requester's namespace's counters,
//! which a [`StatsSource`] supplies.

use kernel::{error::to_result, prelude::*};

use crate::kernel_api::{bindings, net::Net};

/// Supplies a namespace's counters to the family.
pub(crate) trait StatsSource: 'static {
    /// Writes the counters of `net` into `out`, `INFINISOCK_STAT_ACTIVE_OPENS` first,
    /// and returns how many it wrote (at most `out.len()`).
    fn fill(net: &Net, out: &mut [u64]) -> usize;
}

unsafe extern "C" fn stats_trampoline<S: StatsSource>(
    net: *mut bindings::net,
    out: *mut u64,
    n: kernel::ffi::c_uint,
) -> kernel::ffi::c_uint {
    // SAFETY: genl passes the requester's live namespace for the call, and `c/genl.c` an
    // array of `n` counters on its stack.
    let (net, out) = unsafe { (Net::from_raw(net), core::slice::from_raw_parts_mut(out, n as usize)) };
    let written = S::fill(net, out).min(out.len());
    written as kernel::ffi::c_uint
}

/// The family, registered until dropped. One exists at a time: the C side keeps the
/// family and its callback in statics.
pub(crate) struct GenlFamily(());

impl GenlFamily {
    /// Registers the family, answering with `S`'s counters.
    pub(crate) fn register<S: StatsSource>() -> Result<Self> {
        // SAFETY: The trampoline is valid for as long as the module is loaded, which
        // outlives the registration (undone in `drop`).
        to_result(unsafe { bindings::infinisock_genl_register(Some(stats_trampoline::<S>)) })?;
        Ok(Self(()))
    }
}

impl Drop for GenlFamily {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; genl waits for requests in progress.
        unsafe { bindings::infinisock_genl_unregister() }
    }
}
