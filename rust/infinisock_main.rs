// SPDX-License-Identifier: GPL-2.0

//! InfiniSock: sockets over InfiniBand/RDMA.
//!
//! Registers the SDP protocol under AF_INET/AF_INET6 (`IPPROTO_SDP`) and the AF_IB socket
//! family, tracks RDMA devices through an ib_client, and keeps per-namespace tunables
//! under `net.infinisock`.
//!
//! Data flow, one folder per step: socket call (`family/`: `inet.rs`, `af_ib.rs`,
//! `proc.rs`) → connection (`sdp/`: `endpoint.rs`, `handshake.rs`, `close.rs`,
//! `keepalive.rs`) → data (`sdp/tx.rs`, `sdp/rx.rs`; `af_ib/`: `seqpacket.rs`,
//! `rdma.rs`) → the link's rings and RDMA account and the devices (`link/`) → the
//! kernel's interfaces (`kernel_api/`, the only room that touches C or holds
//! `unsafe`). Per-namespace tunables are in `netns/`, kernel-free logic in `proto/`.
//! Each folder imports only those after it (`tools/check-layers.py`).

#![crate_name = "infinisock"]

use kernel::prelude::*;

use crate::{
    family::{inet, proc},
    link::devices,
    kernel_api::{bindings, ffi_static::Registration, diag::SockDiag, genl::GenlFamily, net, net::PernetSubsys, sock, work::ModuleWorkqueue},
};


mod af_ib;
mod family;
mod kernel_api;
mod link;
mod netns;
// `pub` there is the host crate's public API (host/); inside the module it is crate-wide,
// and parts of it (the SDP wire format and credits) wait for the data path that uses them.
#[allow(unreachable_pub, dead_code)]
mod proto;
mod sdp;

#[cfg(CONFIG_KUNIT)]
mod kunit;

// The uapi header, the kernel-free code and the module aliases below name one number.
const _: () = assert!(bindings::IPPROTO_SDP as i32 == proto::IPPROTO_SDP);
const _: () = assert!(bindings::AF_IB as i32 == proto::AF_IB);
const _: () = assert!(proto::IPPROTO_SDP == 258, "update the module aliases");
const _: () = assert!(bindings::IPPROTO_SDP_HYBRID as i32 == proto::hybrid::IPPROTO_SDP_HYBRID);
const _: () = assert!(proto::hybrid::IPPROTO_SDP_HYBRID == 259, "update the module aliases");
// The netlink counters are the uapi header's INFINISOCK_STAT_*, in `proto::stats::value_names`
// order from INFINISOCK_STAT_ACTIVE_OPENS (the host tests compare the names).
const _: () =
    assert!((bindings::__INFINISOCK_STAT_MAX - bindings::INFINISOCK_STAT_ACTIVE_OPENS) as usize == proto::stats::VALUES);

// sock_diag's INFINISOCK_DIAG_F_* and INFINISOCK_PHASE_* are `proto::diag`'s and `Phase`'s.
const _: () = {
    use proto::diag::*;
    assert!(bindings::INFINISOCK_DIAG_F_BUSY == DIAG_F_BUSY && bindings::INFINISOCK_DIAG_F_ORPHAN == DIAG_F_ORPHAN);
    assert!(bindings::INFINISOCK_DIAG_F_FIN_PENDING == DIAG_F_FIN_PENDING);
    assert!(bindings::INFINISOCK_DIAG_F_FIN_SENT == DIAG_F_FIN_SENT);
    assert!(bindings::INFINISOCK_DIAG_F_FIN_RCVD == DIAG_F_FIN_RCVD);
    assert!(bindings::INFINISOCK_DIAG_F_PEER_GONE == DIAG_F_PEER_GONE);
    assert!(bindings::INFINISOCK_DIAG_F_ZC_ADAPTIVE == DIAG_F_ZC_ADAPTIVE);
    use proto::conn_state::Phase;
    assert!(bindings::INFINISOCK_PHASE_OPEN == Phase::Open as u32);
    assert!(bindings::INFINISOCK_PHASE_LISTENING == Phase::Listening as u32);
    assert!(bindings::INFINISOCK_PHASE_CONNECTING == Phase::Connecting as u32);
    assert!(bindings::INFINISOCK_PHASE_ACCEPTING == Phase::Accepting as u32);
    assert!(bindings::INFINISOCK_PHASE_CONNECTED == Phase::Connected as u32);
    assert!(bindings::INFINISOCK_PHASE_CLOSED == Phase::Closed as u32);
};

module! {
    type: InfiniSock,
    name: "infinisock",
    authors: ["InfiniSock developers"],
    description: "Sockets over InfiniBand/RDMA: SDP under AF_INET/AF_INET6, and AF_IB",
    license: "GPL",
    alias: [
        "net-pf-27",
        "net-pf-2-proto-258-type-1",
        "net-pf-10-proto-258-type-1",
        "net-pf-2-proto-259-type-1",
        "net-pf-10-proto-259-type-1",
    ],
}

/// `THIS_MODULE`, typed for the module's own bindings.
pub(crate) const THIS_MODULE_PTR: *mut bindings::module =
    kernel::module::this_module::<InfiniSock>().as_ptr().cast();

/// Everything the module registers. Fields drop in order: the socket families go first
/// (no new sockets), then the workqueue (waits for the last teardowns), the
/// per-namespace state last.
struct InfiniSock {
    // First: no dump may reach a socket list on its way out.
    _diag: Option<SockDiag>,
    _sdp_inet: inet::SdpInet,
    _af_ib: Registration<sock::FamilyTable>,
    _af_ib_proto: Registration<sock::ProtoTable>,
    _wq: ModuleWorkqueue,
    _socks: sock::StateList,
    _devices: devices::Tracking,
    // Before the namespace state it reads goes.
    _genl: GenlFamily,
    _proc: Registration<net::PernetTable<proc::ProcFiles>>,
    _pernet: Registration<net::PernetTable<netns::tunables::InfiniSockNet>>,
}

impl kernel::Module for InfiniSock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Before the ib client and the socket families that use them are registered.
        devices::DEVICES.init();
        crate::link::recv_pools::QUEUES.init();
        let socks = sock::init_state_list();
        let pernet = Registration::new(netns::tunables::InfiniSockNet::table())?;
        let proc = Registration::new(proc::ProcFiles::table())?;
        let genl = GenlFamily::register::<family::netlink::NamespaceCounters>()?;
        let devices = devices::Tracking::start()?;
        let wq = ModuleWorkqueue::new(c"infinisock")?;
        let af_ib_proto = Registration::new(&family::af_ib::PROTO)?;
        let af_ib = Registration::new(&family::af_ib::FAMILY)?;
        let sdp_inet = inet::SdpInet::register()?;
        if let Err(e) = family::transparent::register() {
            pr_warn!("transparent mode unavailable: the kfunc could not be registered ({})\n", e.to_errno());
        }
        // Last, after everything that can fail: a failed init frees the module without
        // waiting for a dump that already got in.
        let diag = SockDiag::register::<sdp::diag::SdpDiag>()
            .inspect_err(|e| pr_warn!("SDP sockets cannot be listed by sock_diag ({})\n", e.to_errno()))
            .ok();
        pr_info!("loaded: AF_IB ({}) and IPPROTO_SDP ({}) registered\n", proto::AF_IB, proto::IPPROTO_SDP);
        Ok(Self {
            _diag: diag,
            _sdp_inet: sdp_inet,
            _af_ib: af_ib,
            _af_ib_proto: af_ib_proto,
            _wq: wq,
            _socks: socks,
            _devices: devices,
            _genl: genl,
            _proc: proc,
            _pernet: pernet,
        })
    }
}

impl Drop for InfiniSock {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
