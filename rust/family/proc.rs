// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/infinisock/`, in every network namespace: the RDMA devices it can use
//! (`devices`), its SDP sockets (`sdp`), the module's buffer memory (`memory`), the
//! paths its hybrid streams took (`hybrid`) and its counters (`stats`).

use kernel::{prelude::*, seq_file::SeqFile, seq_print};

use crate::{
    kernel_api::net::{Net, PernetSubsys, PernetTable, ProcNetDir, ProcShow},
    link::{
        devices::DeviceList,
        memory::{self, recv_buffer_bytes_in_use, send_buffer_bytes_in_use},
    },
    netns::{hybrid::stats, stats::values},
    proto::{hybrid::Fallback, stats::value_names},
    sdp::diag::SdpList,
};

/// The pernet subsystem that owns each namespace's directory.
pub(crate) struct ProcFiles;

static PERNET: PernetTable<ProcFiles> = PernetTable::new();

impl PernetSubsys for ProcFiles {
    type State = ProcNetDir;

    fn table() -> &'static PernetTable<Self> {
        &PERNET
    }

    fn init(net: &Net) -> Result<KBox<ProcNetDir>> {
        let proc = ProcNetDir::create(net, c"infinisock")?;
        proc.add_file::<DeviceList>(c"devices")?;
        proc.add_file::<SdpList>(c"sdp")?;
        proc.add_file::<MemoryStat>(c"memory")?;
        proc.add_file::<HybridStat>(c"hybrid")?;
        proc.add_file::<CounterStat>(c"stats")?;
        Ok(KBox::new(proc, GFP_KERNEL)?)
    }
}

/// `/proc/net/infinisock/memory`: the module's buffer memory (the buffers connections
/// hold, and the first ones of connections being set up), its limit, whether it is
/// under pressure (what `/proc/net/sockstat` says of TCP's), the send and receive
/// buffers connections hold now, how often a shared receive queue ran low, and the
/// CQs the queue pairs on shared receive queues share, with those queue pairs.
struct MemoryStat;

impl ProcShow for MemoryStat {
    fn show(m: &SeqFile, _net: &Net) {
        let (used, limit) = (memory::used(), memory::limit());
        seq_print!(m, "rings_kib {}\nlimit_kib {}\npressure {}\n", used / 1024, limit / 1024, u8::from(memory::under_pressure()));
        seq_print!(m, "send_buffers_kib {}\n", send_buffer_bytes_in_use().div_ceil(1024));
        seq_print!(m, "recv_buffers_kib {}\n", recv_buffer_bytes_in_use().div_ceil(1024));
        seq_print!(m, "srq_low_events {}\n", crate::kernel_api::srq::low_events());
        let (cqs, qps) = crate::kernel_api::shared_cq::shared_cqs();
        seq_print!(m, "shared_cqs {}\nshared_cq_qps {}\n", cqs, qps);
    }
}

/// `/proc/net/infinisock/hybrid`: the namespace's outgoing hybrid connections by path
/// (over SDP, over TCP by reason), those the refusal cache sent to TCP at once, and the
/// peers it holds.
struct HybridStat;

impl ProcShow for HybridStat {
    fn show(m: &SeqFile, net: &Net) {
        let s = stats(net);
        seq_print!(m, "sdp {}\n", s.paths[0]);
        for why in Fallback::ALL {
            seq_print!(m, "tcp_{} {}\n", why.name(), s.paths[why as usize]);
        }
        seq_print!(m, "cache_hits {}\ncached_peers {}\n", s.cache_hits, s.cached_peers);
    }
}

/// `/proc/net/infinisock/stats`: the namespace's counters and hybrid paths, one
/// `name value` line each (`proto::stats`).
struct CounterStat;

impl ProcShow for CounterStat {
    fn show(m: &SeqFile, net: &Net) {
        for (name, v) in value_names().zip(values(net)) {
            seq_print!(m, "{} {}\n", name, v);
        }
    }
}
