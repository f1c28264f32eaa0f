// SPDX-License-Identifier: GPL-2.0

//! The module's ring memory, counted module-wide against `net.infinisock.sdp_mem`
//! (the rules are `proto::memory`): each connection's link holds a [`RingCharge`] for
//! its buffers while it lives.

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::{prelude::*, seq_file::SeqFile, seq_print};

use crate::{
    family::netns,
    kernel_api::net::{Net, ProcShow},
    proto::{memory::{admit, under_pressure, Admission}, tunables::GlobalId},
};

/// Bytes of ring buffers of every connection of the module.
static RING_BYTES: AtomicUsize = AtomicUsize::new(0);

fn limit() -> usize {
    usize::try_from(netns::global_tunable(GlobalId::SdpMem)).unwrap_or(0).saturating_mul(1024)
}

/// `/proc/net/infinisock/memory`: the module's ring memory, its limit, and whether it
/// is under pressure (what `/proc/net/sockstat` says of TCP's).
pub(crate) struct MemoryStat;

impl ProcShow for MemoryStat {
    fn show(m: &SeqFile, _net: &Net) {
        let (used, limit) = (RING_BYTES.load(Ordering::Relaxed), limit());
        seq_print!(m, "rings_kib {}\nlimit_kib {}\npressure {}\n", used / 1024, limit / 1024, u8::from(under_pressure(used, limit)));
    }
}

/// A connection's share of the ring memory, given back when dropped.
pub(crate) struct RingCharge(usize);

impl RingCharge {
    /// Takes `full` bytes, or under pressure `minimal` bytes (the returned admission
    /// says which), or refuses with `ENOBUFS` beyond the limit.
    pub(crate) fn take(full: usize, minimal: usize) -> Result<(Self, Admission)> {
        let limit = limit();
        let mut used = RING_BYTES.load(Ordering::Relaxed);
        loop {
            let admission = admit(used, full, minimal, limit);
            let bytes = match admission {
                Admission::Full => full,
                Admission::Minimal => minimal,
                Admission::Refused => {
                    crate::kernel_api::log::pr_info_ratelimited!(
                        "SDP: ring memory limit reached (net.infinisock.sdp_mem); connection refused\n"
                    );
                    return Err(ENOBUFS);
                }
            };
            match RING_BYTES.compare_exchange_weak(used, used + bytes, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok((Self(bytes), admission)),
                Err(now) => used = now,
            }
        }
    }
}

impl Drop for RingCharge {
    fn drop(&mut self) {
        RING_BYTES.fetch_sub(self.0, Ordering::AcqRel);
    }
}
