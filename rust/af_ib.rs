// SPDX-License-Identifier: GPL-2.0

//! The AF_IB socket family: `socket(AF_IB, SOCK_STREAM | SOCK_SEQPACKET, 0)`.

use kernel::prelude::*;

use crate::{
    close::UnconnectedOps,
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
pub(crate) static FAMILY: FamilyTable = FamilyTable::new::<AfIb>();
/// Both kinds share one table until their data paths give each its own operations.
static OPS: OpsTable = OpsTable::new::<UnconnectedOps<AF_IB>>();

impl SocketFamily for AfIb {
    const FAMILY: i32 = AF_IB;

    fn create(net: &Net, sock: &Socket, protocol: i32, kern: bool) -> Result {
        let kind = af_ib_kind(sock.sock_type(), protocol).map_err(Errno::into_error)?;
        let sk = Sock::alloc(net, AF_IB, &PROTO, kern)?;
        let protocol = match kind {
            // A stream answers SO_PROTOCOL with IPPROTO_SDP, as TCP answers IPPROTO_TCP.
            AfIbKind::Stream => IPPROTO_SDP,
            AfIbKind::SeqPacket => 0,
        };
        sk.set_protocol(protocol as u16);
        sock.attach(sk, &OPS);
        Ok(())
    }
}
