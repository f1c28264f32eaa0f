// SPDX-License-Identifier: GPL-2.0

//! What the module's generic netlink family answers (`kernel_api::genl`): the
//! requester's namespace's counters, the same as `/proc/net/infinisock/stats`.

use crate::{
    kernel_api::{genl::StatsSource, net::Net},
    netns::stats::values,
};

/// The namespace's counters and hybrid paths, in `proto::stats::value_names` order,
/// which is the uapi header's `INFINISOCK_STAT_*` order (checked at build time in
/// `infinisock_main.rs` and by the host tests).
pub(crate) struct NamespaceCounters;

impl StatsSource for NamespaceCounters {
    fn fill(net: &Net, out: &mut [u64]) -> usize {
        let values = values(net);
        let n = values.len().min(out.len());
        out[..n].copy_from_slice(&values[..n]);
        n
    }
}
