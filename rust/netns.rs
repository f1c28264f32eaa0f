// SPDX-License-Identifier: GPL-2.0

//! What the module keeps in every network namespace: the `net.infinisock.*` tunables and
//! the `/proc/net/infinisock/` directory.

use kernel::prelude::*;

use crate::{
    devices::DeviceList,
    net::{Net, PernetSubsys, PernetTable, ProcNetDir},
    proto::tunables::{TunableId, TUNABLES},
    sysctl::SysctlTable,
};

/// Per-namespace state. Fields drop in order: the sysctls go before the proc directory.
pub(crate) struct NetState {
    tunables: SysctlTable<{ TUNABLES.len() }>,
    _proc: ProcNetDir,
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
        let proc = ProcNetDir::create(net, c"infinisock")?;
        proc.add_file::<DeviceList>(c"devices")?;
        proc.add_file::<crate::sdp_diag::SdpList>(c"sdp")?;
        let tunables = SysctlTable::register(net, c"net/infinisock", &TUNABLES)?;
        Ok(KBox::new(NetState { tunables, _proc: proc }, GFP_KERNEL)?)
    }
}

/// The namespace's tunable `id`.
pub(crate) fn tunable(net: &Net, id: TunableId) -> i32 {
    net.state::<InfiniSockNet>().tunable(id)
}
