// SPDX-License-Identifier: GPL-2.0

//! The AF_IB socket family: `socket(AF_IB, SOCK_STREAM | SOCK_SEQPACKET, 0)`.
//!
//! A stream is an SDP stream named by `struct sockaddr_ib` (GID and service ID): the
//! same engine and operations as SDP under AF_INET/AF_INET6 (`sdp_inet::SdpOps`), with
//! the addresses mapped to IP ones (`proto::sockaddr::parse_ib`).

use kernel::{prelude::*, sync::aref::ARef};

use crate::{
    close::UnconnectedOps,
    endpoint::Endpoint,
    sdp_inet::{SdpOps, SdpProto},
    net::Net,
    proto::{
        socket_args::{af_ib_kind, AfIbKind},
        AF_IB, IPPROTO_SDP,
    },
    sock::{FamilyTable, OpsTable, ProtoTable, Sock, SockLayout, SockProto, Socket, SocketFamily},
    Errno,
};

/// The AF_IB family.
pub(crate) struct AfIb;

/// `struct proto` of AF_IB socks; `sk_alloc` sets them up, so `init` has nothing to do.
pub(crate) struct AfIbProto;

impl SockProto for AfIbProto {
    fn init(_sk: &Sock) -> Result {
        Ok(())
    }
}

pub(crate) static PROTO: ProtoTable = ProtoTable::new::<AfIbProto>("AF_IB", SockLayout::Inet);
/// The `struct proto` of AF_IB streams: SDP's.
pub(crate) static STREAM_PROTO: ProtoTable = ProtoTable::new::<SdpProto>("SDP-IB", SockLayout::Inet);
pub(crate) static FAMILY: FamilyTable = FamilyTable::new::<AfIb>();
static STREAM_OPS: OpsTable = OpsTable::stream::<SdpOps<AF_IB>>();
/// Until their data path lands.
static SEQPACKET_OPS: OpsTable = OpsTable::new::<UnconnectedOps<AF_IB>>();

impl SocketFamily for AfIb {
    const FAMILY: i32 = AF_IB;

    fn create(net: &Net, sock: &Socket, protocol: i32, kern: bool) -> Result {
        let kind = af_ib_kind(sock.sock_type(), protocol).map_err(Errno::into_error)?;
        match kind {
            AfIbKind::Stream => {
                let sk = Sock::alloc(net, AF_IB, &STREAM_PROTO, kern)?;
                // A stream answers SO_PROTOCOL with IPPROTO_SDP, as TCP answers IPPROTO_TCP.
                sk.set_protocol(IPPROTO_SDP as u16);
                // `sock_init_data()` (in `attach`) sets up the reference count that the
                // endpoint's reference needs.
                sock.attach(sk, &STREAM_OPS);
                let sk = sock.sk().ok_or(EINVAL)?;
                // What `SdpProto::init` does for SDP under IP, without its
                // `sdp_enable` check: that governs SDP's offer to IP programs only.
                match Endpoint::new(ARef::from(sk)) {
                    Ok(ep) => sk.set_state(ep),
                    Err(e) => {
                        // What `release` does with a sock that has no state.
                        if let Some(sk) = sock.detach() {
                            sk.orphan();
                        }
                        return Err(e);
                    }
                }
            }
            AfIbKind::SeqPacket => {
                let sk = Sock::alloc(net, AF_IB, &PROTO, kern)?;
                sk.set_protocol(0);
                sock.attach(sk, &SEQPACKET_OPS);
            }
        }
        Ok(())
    }
}
