// SPDX-License-Identifier: GPL-2.0

//! A namespace's SDP and AF_IB counters (`proto::stats`), kept per CPU, and how the
//! protocol bumps and reads them.

use crate::{
    kernel_api::{net::Net, percpu::PerCpuCounters},
    netns::tunables::InfiniSockNet,
    proto::stats::{Counter, VALUES},
};

/// The counters of one namespace.
pub(crate) type NetCounters = PerCpuCounters<{ Counter::COUNT }>;

/// Adds `v` to the namespace's `counter`.
pub(crate) fn add(net: &Net, counter: Counter, v: u64) {
    net.state::<InfiniSockNet>().counters.add(counter as usize, v);
}

/// Counts one `counter` event in the namespace.
pub(crate) fn bump(net: &Net, counter: Counter) {
    add(net, counter, 1);
}

/// Every counter of the namespace, in `Counter::ALL` order.
pub(crate) fn snapshot(net: &Net) -> [u64; Counter::COUNT] {
    let c = &net.state::<InfiniSockNet>().counters;
    let mut out = [0; Counter::COUNT];
    for (i, o) in out.iter_mut().enumerate() {
        *o = c.sum(i);
    }
    out
}

/// What the stats give of the namespace (`proto::stats::value_names`): the first
/// counters, the paths its hybrid streams took, the later counters.
pub(crate) fn values(net: &Net) -> [u64; VALUES] {
    let (counters, paths) = (snapshot(net), crate::netns::hybrid::stats(net).paths);
    let (first, later) = counters.split_at(Counter::FIRST);
    let mut out = [0; VALUES];
    for (o, v) in out.iter_mut().zip(first.iter().chain(paths.iter()).chain(later)) {
        *o = *v;
    }
    out
}
