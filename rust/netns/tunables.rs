// SPDX-License-Identifier: GPL-2.0

//! The `net.infinisock.*` tunables, kept in every network namespace (the module-wide
//! ones in the initial namespace), and how the protocol reads them.

use kernel::prelude::*;

use crate::{
    kernel_api::{net::{Net, PernetSubsys, PernetTable}, sysctl::SysctlTable},
    proto::tunables::{GlobalId, TunableId, GLOBAL_TUNABLES, TUNABLES},
};

/// Per-namespace state.
pub(crate) struct NetState {
    tunables: SysctlTable<{ TUNABLES.len() }>,
    /// The module-wide tunables: in the initial namespace only.
    global: Option<SysctlTable<{ GLOBAL_TUNABLES.len() }>>,
    /// Hybrid streams' refusal cache and path counters.
    pub(crate) hybrid: super::hybrid::HybridNet,
    /// Transparent SDP's port and peer lists.
    policy_lists: crate::kernel_api::sysctl::TextSysctlTable<super::hybrid::PolicyLists, 2>,
    /// The namespace's counters (`/proc/net/infinisock/stats`).
    pub(crate) counters: super::stats::NetCounters,
}

impl NetState {
    /// The current value of a tunable in this namespace.
    pub(crate) fn tunable(&self, id: TunableId) -> i32 {
        self.tunables.get(id as usize)
    }
}

/// The pernet subsystem that owns [`NetState`].
pub(crate) struct InfiniSockNet;

static PERNET: PernetTable<InfiniSockNet> = PernetTable::new();

impl PernetSubsys for InfiniSockNet {
    type State = NetState;

    fn table() -> &'static PernetTable<Self> {
        &PERNET
    }

    fn init(net: &Net) -> Result<KBox<NetState>> {
        let tunables = SysctlTable::register(net, c"net/infinisock", &TUNABLES)?;
        let global = if net.is_init() {
            let t = SysctlTable::register(net, c"net/infinisock", &GLOBAL_TUNABLES)?;
            // An eighth of the machine's memory, as TCP's tcp_mem allows about.
            t.set(GlobalId::SdpMem as usize, i32::try_from(crate::kernel_api::sysctl::total_ram_kib() / 8).unwrap_or(i32::MAX));
            Some(t)
        } else {
            None
        };
        let hybrid = super::hybrid::HybridNet::new()?;
        let policy_lists = super::hybrid::register_policy_lists(net)?;
        let counters = super::stats::NetCounters::new()?;
        Ok(KBox::new(NetState { tunables, global, hybrid, policy_lists, counters }, GFP_KERNEL)?)
    }
}

/// The module-wide tunable `id` (the initial namespace's).
pub(crate) fn global_tunable(id: GlobalId) -> i32 {
    Net::init_net().state::<InfiniSockNet>().global.as_ref().map_or(GLOBAL_TUNABLES[id as usize].default, |t| t.get(id as usize))
}

/// The namespace's tunable `id`.
pub(crate) fn tunable(net: &Net, id: TunableId) -> i32 {
    net.state::<InfiniSockNet>().tunable(id)
}

/// The module's buffer memory limit in bytes (`net.infinisock.sdp_mem`, in KiB).
pub(crate) fn buffer_memory_limit() -> usize {
    usize::try_from(global_tunable(GlobalId::SdpMem)).unwrap_or(0).saturating_mul(1024)
}

/// The namespace's transparent-SDP mode (`net.infinisock.sdp_transparent`): all that
/// `socket()` needs, and cheap.
pub(crate) fn transparent_mode(net: &Net) -> crate::proto::policy::Mode {
    crate::proto::policy::Mode::from_tunable(i64::from(tunable(net, TunableId::SdpTransparent)))
}

/// The namespace's transparent-SDP policy (`net.infinisock.sdp_transparent`,
/// `sdp_ports`, `sdp_peers`).
pub(crate) fn policy(net: &Net) -> crate::proto::policy::Policy {
    use crate::proto::policy::Policy;
    let (ports, peers) = net.state::<InfiniSockNet>().policy_lists.values().get();
    Policy { mode: transparent_mode(net), ports, peers }
}
