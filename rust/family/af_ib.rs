// SPDX-License-Identifier: GPL-2.0

//! The AF_IB socket family: `socket(AF_IB, SOCK_STREAM | SOCK_SEQPACKET, 0)`.
//!
//! Both kinds run on the SDP engine and its socket operations (`inet::SdpOps`),
//! named by `struct sockaddr_ib` (GID and service ID) mapped to IP addresses
//! (`proto::sockaddr::parse_ib`). A stream is an SDP stream; a `SOCK_SEQPACKET`
//! socket carries messages instead (`seqpacket`), in its own port space.

use kernel::{prelude::*, sync::aref::ARef};

use crate::{
    family::inet::{SdpOps, SdpProto},
    kernel_api::{
        net::Net,
        sock::{FamilyTable, OpsTable, ProtoTable, Sock, SockLayout, Socket, SocketFamily},
    },
    proto::{errno::Errno, socket_args::{af_ib_kind, AfIbKind}, AF_IB, IPPROTO_SDP},
    sdp::endpoint::Endpoint,
};

/// The AF_IB family.
pub(crate) struct AfIb;

/// The `struct proto` of AF_IB sockets of either kind: SDP's.
pub(crate) static PROTO: ProtoTable = ProtoTable::new::<SdpProto>("SDP-IB", SockLayout::Inet);
pub(crate) static FAMILY: FamilyTable = FamilyTable::new::<AfIb>();
static OPS: OpsTable = OpsTable::stream::<SdpOps<AF_IB>>();

impl SocketFamily for AfIb {
    const FAMILY: i32 = AF_IB;

    fn create(net: &Net, sock: &Socket, protocol: i32, kern: bool) -> Result {
        let kind = af_ib_kind(sock.sock_type(), protocol).map_err(Errno::into_error)?;
        let sk = Sock::alloc(net, AF_IB, &PROTO, kern)?;
        // A stream answers SO_PROTOCOL with IPPROTO_SDP, as TCP answers IPPROTO_TCP.
        sk.set_protocol(if kind == AfIbKind::Stream { IPPROTO_SDP as u16 } else { 0 });
        // `sock_init_data()` (in `attach`) sets up the reference count the endpoint's
        // reference needs, and the socket type the endpoint reads.
        sock.attach(sk, &OPS);
        let sk = sock.sk().ok_or(EINVAL)?;
        // What `SdpProto::init` does for SDP under IP, without its `sdp_enable`
        // check: that governs SDP's offer to IP programs only.
        match Endpoint::new(ARef::from(sk), &crate::af_ib::rdma::RDMA_COMPLETIONS).and_then(|ep| sk.set_state(ep)) {
            Ok(()) => {}
            Err(e) => {
                // What `release` does with a sock that has no state.
                if let Some(sk) = sock.detach() {
                    sk.orphan();
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
