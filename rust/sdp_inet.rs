// SPDX-License-Identifier: GPL-2.0

//! SDP under AF_INET and AF_INET6: `socket(AF_INET[6], SOCK_STREAM, IPPROTO_SDP)`.
//!
//! `inet_create()`/`inet6_create()` find our entries by (type, protocol), allocate the
//! sock from our `struct proto` and call its `init`.

use kernel::prelude::*;

use crate::{
    close::UnconnectedOps,
    netns,
    proto::{socket_args::SOCK_STREAM, tunables::TunableId, IPPROTO_SDP},
    ffi_static::Registration,
    sock::{InetProtosw, IpFamily, OpsTable, ProtoTable, Sock, SockLayout, SockProto},
};

const AF_INET: i32 = crate::bindings::AF_INET as i32;
const AF_INET6: i32 = crate::bindings::AF_INET6 as i32;

/// `struct proto` callbacks of SDP socks.
pub(crate) struct SdpProto;

impl SockProto for SdpProto {
    fn init(sk: &Sock) -> Result {
        // `net.infinisock.sdp_enable=0`: the protocol is not offered in this namespace.
        if netns::tunable(sk.net(), TunableId::SdpEnable) == 0 {
            return Err(EPROTONOSUPPORT);
        }
        Ok(())
    }
}

static PROTO4: ProtoTable = ProtoTable::new::<SdpProto>("SDP", SockLayout::Inet);
static PROTO6: ProtoTable = ProtoTable::new::<SdpProto>("SDPv6", SockLayout::Inet6);
static OPS4: OpsTable = OpsTable::new::<UnconnectedOps<AF_INET>>();
static OPS6: OpsTable = OpsTable::new::<UnconnectedOps<AF_INET6>>();
static ENTRY4: InetProtosw = InetProtosw::new(IpFamily::V4, SOCK_STREAM, IPPROTO_SDP, &PROTO4, &OPS4);
static ENTRY6: InetProtosw = InetProtosw::new(IpFamily::V6, SOCK_STREAM, IPPROTO_SDP, &PROTO6, &OPS6);

/// SDP's registrations under both IP families. Fields drop in order: the protocol
/// switch entries go before the `struct proto`s they point to.
pub(crate) struct SdpInet {
    _entry6: Registration<InetProtosw>,
    _entry4: Registration<InetProtosw>,
    _proto6: Registration<ProtoTable>,
    _proto4: Registration<ProtoTable>,
}

impl SdpInet {
    /// Registers SDP under AF_INET and AF_INET6.
    pub(crate) fn register() -> Result<Self> {
        let proto4 = Registration::new(&PROTO4)?;
        let proto6 = Registration::new(&PROTO6)?;
        let entry4 = Registration::new(&ENTRY4)?;
        let entry6 = Registration::new(&ENTRY6)?;
        Ok(Self { _entry6: entry6, _entry4: entry4, _proto6: proto6, _proto4: proto4 })
    }
}
