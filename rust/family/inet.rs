// SPDX-License-Identifier: GPL-2.0

//! SDP under AF_INET and AF_INET6: `socket(AF_INET[6], SOCK_STREAM, IPPROTO_SDP)`, and
//! the registrations of hybrid streams (`IPPROTO_SDP_HYBRID`, `hybrid`).
//!
//! `inet_create()`/`inet6_create()` find our entries by (type, protocol), allocate the
//! sock from our `struct proto` and call its `init`, which attaches an [`Endpoint`].
//! The socket calls below parse and check their arguments as TCP does and hand over
//! to connection management (`sdp::handshake`), the data path (`sdp::tx`, `sdp::rx`) and
//! closing (`close`).

use kernel::{prelude::*, sync::aref::ARef};

use crate::{
    af_ib::seqpacket,
    netns::tunables as netns,
    kernel_api::{
        ffi_static::Registration,
        sock::{
            InetProtosw, IpFamily, Msg, OpsTable, OptValue, ProtoTable, Sock, SockLayout, SockProto,
            Socket, SocketOps, StreamOps,
        },
    },
    proto::{
        abi::{
            INFINISOCK_DEVICE, INFINISOCK_GID, INFINISOCK_MAX_INLINE, INFINISOCK_MAX_MSG_SIZE,
            INFINISOCK_PATH_MTU, INFINISOCK_PEER_QP_NUM, INFINISOCK_PORT, INFINISOCK_QP_NUM,
            MSG_ERRQUEUE, O_NONBLOCK, SIOCATMARK, SIOCINQ, SIOCOUTQ, SOL_INFINISOCK,
        },
        message,
        rdma::{MR_DEREG, MR_REG},
        conn_state::peer_name,
        errno::Errno,
        error_queue::recverr_cmsg,
        sockaddr::{parse_bind, parse_connect, Parsed, SockAddr, SOCKADDR_MAX_LEN},
        socket_args::SOCK_STREAM,
        stream_options::{ip_tos, ipv6_tclass, stream_option, StreamOption},
        zc_policy::Setting,
        tunables::TunableId,
        AF_IB,
        IPPROTO_SDP,
    },
    sdp::{close, endpoint::{Endpoint, EpRef, Phase}, handshake, keepalive, rx, tx},
    family::hybrid::{HybridOps, HybridProto},
    proto::hybrid::IPPROTO_SDP_HYBRID,
};

const AF_INET: i32 = crate::kernel_api::bindings::AF_INET as i32;
const AF_INET6: i32 = crate::kernel_api::bindings::AF_INET6 as i32;

/// `struct proto` callbacks of SDP socks.
pub(crate) struct SdpProto;

impl SockProto for SdpProto {
    type State = Endpoint;

    fn init(sk: &Sock) -> Result {
        // `net.infinisock.sdp_enable=0`: the protocol is not offered in this namespace.
        if netns::tunable(sk.net(), TunableId::SdpEnable) == 0 {
            return Err(EPROTONOSUPPORT);
        }
        sk.set_state(Endpoint::new(ARef::from(sk), &crate::af_ib::rdma::RDMA_COMPLETIONS)?)?;
        sk.own_sol_socket_options();
        Ok(())
    }

    fn keepalive(sk: &Sock, on: bool) {
        if let Some(ep) = sk.state::<Endpoint>() {
            keepalive::set_enabled(&ep.into(), on);
        }
    }
}

static PROTO4: ProtoTable = ProtoTable::new::<SdpProto>("SDP", SockLayout::Inet);
static PROTO6: ProtoTable = ProtoTable::new::<SdpProto>("SDPv6", SockLayout::Inet6);
static OPS4: OpsTable = OpsTable::stream::<SdpOps<AF_INET>>();
static OPS6: OpsTable = OpsTable::stream::<SdpOps<AF_INET6>>();
static ENTRY4: InetProtosw = InetProtosw::new(IpFamily::V4, SOCK_STREAM, IPPROTO_SDP, &PROTO4, &OPS4);
static ENTRY6: InetProtosw = InetProtosw::new(IpFamily::V6, SOCK_STREAM, IPPROTO_SDP, &PROTO6, &OPS6);

// Hybrid streams (`family::hybrid`): SDP socks with an inner TCP socket.
static HYBRID_PROTO4: ProtoTable = ProtoTable::new::<HybridProto>("SDP-hybrid", SockLayout::Inet);
static HYBRID_PROTO6: ProtoTable = ProtoTable::new::<HybridProto>("SDPv6-hybrid", SockLayout::Inet6);
static HYBRID_OPS4: OpsTable = OpsTable::hybrid::<HybridOps<AF_INET>>();
static HYBRID_OPS6: OpsTable = OpsTable::hybrid::<HybridOps<AF_INET6>>();
static HYBRID_ENTRY4: InetProtosw =
    InetProtosw::new(IpFamily::V4, SOCK_STREAM, IPPROTO_SDP_HYBRID, &HYBRID_PROTO4, &HYBRID_OPS4);
static HYBRID_ENTRY6: InetProtosw =
    InetProtosw::new(IpFamily::V6, SOCK_STREAM, IPPROTO_SDP_HYBRID, &HYBRID_PROTO6, &HYBRID_OPS6);

/// SDP's registrations under both IP families. Fields drop in order: the protocol
/// switch entries go before the `struct proto`s they point to.
pub(crate) struct SdpInet {
    _hybrid_entry6: Registration<InetProtosw>,
    _hybrid_entry4: Registration<InetProtosw>,
    _hybrid_proto6: Registration<ProtoTable>,
    _hybrid_proto4: Registration<ProtoTable>,
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
        let hybrid_proto4 = Registration::new(&HYBRID_PROTO4)?;
        let hybrid_proto6 = Registration::new(&HYBRID_PROTO6)?;
        let hybrid_entry4 = Registration::new(&HYBRID_ENTRY4)?;
        let hybrid_entry6 = Registration::new(&HYBRID_ENTRY6)?;
        Ok(Self {
            _hybrid_entry6: hybrid_entry6,
            _hybrid_entry4: hybrid_entry4,
            _hybrid_proto6: hybrid_proto6,
            _hybrid_proto4: hybrid_proto4,
            _entry6: entry6,
            _entry4: entry4,
            _proto6: proto6,
            _proto4: proto4,
        })
    }
}

/// Socket operations of SDP streams in `FAMILY` (AF_INET, AF_INET6, or AF_IB, whose
/// addresses `proto::sockaddr` maps to IP ones).
pub(crate) struct SdpOps<const FAMILY: i32>;

/// The endpoint of a socket between `create` and `release`.
pub(crate) fn endpoint(sock: &Socket) -> Result<kernel::sync::Arc<Endpoint>> {
    let ep = sock.sk().and_then(|sk| sk.state::<Endpoint>()).ok_or(EBADF)?;
    Ok(ep.into())
}

impl<const FAMILY: i32> SocketOps for SdpOps<FAMILY> {
    const FAMILY: i32 = FAMILY;

    fn release(_sock: &Socket, sk: ARef<Sock>) {
        // The state stays installed: the orphaned connection keeps itself alive
        // through it until its teardown removes it. Our own reference is taken
        // before `release` marks the endpoint orphaned, after which the teardown may
        // remove the state at any time.
        match sk.state::<Endpoint>() {
            Some(ep) => close::release(&ep.into()),
            None => sk.orphan(),
        }
    }
}

impl<const FAMILY: i32> StreamOps for SdpOps<FAMILY> {
    fn bind(sock: &Socket, addr: &[u8]) -> Result {
        let ep = endpoint(sock)?;
        let addr = parse_bind(FAMILY as u16, ep.port_space(), addr).map_err(Errno::into_error)?;
        handshake::bind(&ep, addr)
    }

    fn connect(sock: &Socket, addr: &[u8], flags: i32) -> Result {
        let ep = endpoint(sock)?;
        match parse_connect(FAMILY as u16, ep.port_space(), addr).map_err(Errno::into_error)? {
            Parsed::Addr(dst) => handshake::connect(&ep, sock, dst, flags & O_NONBLOCK != 0),
            // TCP dissolves the association; an SDP connection cannot be reused, so
            // only a socket that never connected accepts it.
            Parsed::Unspec if ep.lock().phase == Phase::Open => Ok(()),
            Parsed::Unspec => Err(EOPNOTSUPP),
        }
    }

    fn listen(sock: &Socket, backlog: i32) -> Result {
        handshake::listen(&endpoint(sock)?, backlog)
    }

    fn accept(sock: &Socket, newsock: &Socket, flags: i32) -> Result {
        handshake::accept(&endpoint(sock)?, newsock, flags & O_NONBLOCK != 0)
    }

    fn getname(sock: &Socket, peer: bool, out: &mut [u8; SOCKADDR_MAX_LEN]) -> Result<usize> {
        let ep = endpoint(sock)?;
        let inner = ep.lock();
        let addr = if peer {
            let current = inner.id.as_ref().and_then(|id| id.peer_addr());
            peer_name(inner.phase, current, inner.peer).map_err(Errno::into_error)?
        } else {
            inner.local_addr().unwrap_or(SockAddr::unspecified(FAMILY as u16))
        };
        Ok(addr.encode_for(FAMILY as u16, ep.port_space(), out))
    }

    fn poll(sock: &Socket) -> u32 {
        endpoint(sock).map_or(0, |ep| ep.poll_mask())
    }

    fn ioctl(sock: &Socket, cmd: u32, arg: usize) -> Result<Option<i32>> {
        let ep = endpoint(sock)?;
        match cmd {
            MR_REG if FAMILY == AF_IB => return crate::af_ib::rdma::register(&ep, arg).map(|()| None),
            MR_DEREG if FAMILY == AF_IB => return crate::af_ib::rdma::deregister(&ep, arg).map(|()| None),
            SIOCINQ if ep.is_seqpacket => {
                return Ok(Some(i32::try_from(seqpacket::next_message_size(&ep)).unwrap_or(i32::MAX)));
            }
            _ => {}
        }
        let inner = ep.lock_reaped();
        if inner.phase == Phase::Listening {
            return Err(EINVAL);
        }
        let s = inner.link.as_ref().map(|l| &l.stream);
        let v = match cmd {
            SIOCINQ => s.map_or(0, |s| s.urgent.inq(s.rx.bytes(), ep.sk.urginline())),
            SIOCOUTQ => inner.link.as_ref().map_or(0, |l| l.outq()),
            SIOCATMARK if !ep.is_seqpacket => s.map_or(0, |s| usize::from(s.urgent.at_mark())),
            _ => return Err(ENOIOCTLCMD),
        };
        Ok(Some(i32::try_from(v).unwrap_or(i32::MAX)))
    }

    fn shutdown(sock: &Socket, how: i32) -> Result {
        close::shutdown(&endpoint(sock)?, how)
    }

    fn sendmsg(sock: &Socket, msg: &mut Msg, len: usize) -> Result<usize> {
        let ep = endpoint(sock)?;
        // AF_IB's control messages ask for RDMA; SDP under IP ignores them, as TCP
        // ignores those it does not know.
        if FAMILY == AF_IB {
            if let Some(args) = crate::af_ib::rdma::requested(msg)? {
                return crate::af_ib::rdma::sendmsg(&ep, msg, len, args, false);
            }
        }
        if ep.is_seqpacket {
            return seqpacket::sendmsg(&ep, msg, len, false);
        }
        tx::sendmsg(&ep, msg, len, false)
    }

    fn recvmsg(sock: &Socket, msg: &mut Msg, len: usize, flags: i32) -> Result<usize> {
        let ep = endpoint(sock)?;
        if flags & MSG_ERRQUEUE != 0 {
            // A stream's MSG_ZEROCOPY notifications first, then RDMA completions.
            if let Some(ee) = ep.sk.take_zc_notification() {
                let (level, kind, data, n) = recverr_cmsg(FAMILY == AF_INET6, &ee);
                msg.add_flags(MSG_ERRQUEUE);
                // Written without faults: a control buffer not in place yet is
                // faulted in and written again (the notification is off the queue).
                let mut put = msg.put_cmsg(level, kind, &data[..n]);
                if put == Err(EFAULT) && msg.fault_in_control(n).is_ok() {
                    put = msg.put_cmsg(level, kind, &data[..n]);
                }
                return put.map(|()| 0);
            }
            return crate::af_ib::rdma::recv_errqueue(&ep, msg);
        }
        if ep.is_seqpacket {
            return seqpacket::recvmsg(&ep, msg, len, flags, false);
        }
        rx::recvmsg(&ep, msg, len, flags, false)
    }

    fn setsockopt(sock: &Socket, level: i32, name: i32, value: Option<i32>) -> Result {
        let ep = endpoint(sock)?;
        if ep.is_seqpacket {
            return set_message_option(&ep, level, name, value);
        }
        let opt = stream_option(FAMILY as u16, level, name).map_err(Errno::into_error)?;
        let value = value.ok_or(EINVAL)?;
        match opt {
            StreamOption::NoDelay => ep.lock().nodelay = value != 0,
            StreamOption::ZcopyThresh => ep.lock().zc_thresh = Setting::from_option(value).map_err(Errno::into_error)?,
            StreamOption::Cork => {}
            StreamOption::Tos { v6: false } => {
                let mut inner = ep.lock();
                inner.tos = ip_tos(inner.tos, value);
            }
            StreamOption::Tos { v6: true } => {
                let mut inner = ep.lock();
                inner.tclass = ipv6_tclass(inner.tclass, value).map_err(Errno::into_error)?;
            }
            StreamOption::Keepalive(opt) => keepalive::set_option(&ep, opt, value)?,
            StreamOption::V6Only => {
                // As TCP: fixed once the socket has an address; an id left by a failed
                // bind takes the new value.
                {
                    let inner = ep.lock();
                    if inner.bound.is_some() || inner.phase != Phase::Open {
                        return Err(EINVAL);
                    }
                    if let Some(id) = inner.id.as_ref() {
                        id.set_afonly(value != 0)?;
                    }
                }
                // The sock's lock is taken before the endpoint's elsewhere: not under it.
                ep.sk.set_ipv6only(value != 0);
            }
        }
        Ok(())
    }

    fn getsockopt(sock: &Socket, level: i32, name: i32) -> Result<OptValue> {
        let ep = endpoint(sock)?;
        if FAMILY == AF_IB && level == SOL_INFINISOCK {
            return get_ib_option(&ep, name);
        }
        if ep.is_seqpacket {
            return Err(ENOPROTOOPT);
        }
        let v = match stream_option(FAMILY as u16, level, name).map_err(Errno::into_error)? {
            StreamOption::NoDelay => i32::from(ep.lock().nodelay),
            StreamOption::ZcopyThresh => ep.lock().zc_thresh.option_value(),
            StreamOption::Cork => 0,
            StreamOption::Keepalive(opt) => keepalive::get_option(&ep, opt),
            StreamOption::V6Only => i32::from(ep.sk.ipv6only()),
            StreamOption::Tos { v6: false } => i32::from(ep.lock().tos),
            StreamOption::Tos { v6: true } => i32::from(ep.lock().tclass),
        };
        Ok(OptValue::Int(v))
    }
}

/// `setsockopt` on a message socket: `SOL_INFINISOCK` options.
fn set_message_option(ep: EpRef<'_>, level: i32, name: i32, value: Option<i32>) -> Result {
    match (level, name) {
        (SOL_INFINISOCK, INFINISOCK_MAX_MSG_SIZE) => {
            let max = message::check_max_message(value.ok_or(EINVAL)?).map_err(Errno::into_error)?;
            let mut inner = ep.lock();
            // The buffers are sized when a connection begins; a listener's value goes
            // to the connections it accepts from then on.
            if !matches!(inner.phase, Phase::Open | Phase::Listening) {
                return Err(EISCONN);
            }
            inner.max_msg = Some(max);
            Ok(())
        }
        _ => Err(ENOPROTOOPT),
    }
}

/// `getsockopt(SOL_INFINISOCK)` on an AF_IB socket: the largest message, and the
/// verbs objects behind the socket.
fn get_ib_option(ep: EpRef<'_>, name: i32) -> Result<OptValue> {
    let inner = ep.lock();
    let as_int = |v: u32| Ok(OptValue::Int(i32::try_from(v).unwrap_or(i32::MAX)));
    if name == INFINISOCK_MAX_MSG_SIZE {
        // A stream never sets its own: it reports its buffers' payload.
        return as_int(match inner.link.as_ref().filter(|l| l.stream.credits.is_some()) {
            Some(link) => link.max_payload() as u32,
            None => handshake::max_message(ep, &inner),
        });
    }
    let info = inner.id.as_ref().map(|id| id.verbs_info(inner.link.as_ref().map(|l| l.qp.qp())));
    let device = info.as_ref().filter(|i| i.has_device).ok_or(ENOTCONN);
    let qp = info.as_ref().filter(|i| i.has_qp).ok_or(ENOTCONN);
    match name {
        INFINISOCK_DEVICE => {
            let name = &device?.device;
            let len = name.iter().position(|&c| c == 0).map_or(name.len(), |n| n + 1);
            Ok(OptValue::bytes(&name.map(|c| c as u8)[..len]))
        }
        INFINISOCK_PORT => as_int(device?.port),
        INFINISOCK_GID => Ok(OptValue::bytes(&device?.gid)),
        INFINISOCK_QP_NUM => as_int(qp?.qp_num),
        INFINISOCK_PEER_QP_NUM => as_int(qp?.peer_qp_num),
        INFINISOCK_PATH_MTU => as_int(qp?.path_mtu),
        INFINISOCK_MAX_INLINE => as_int(qp?.max_inline),
        _ => Err(ENOPROTOOPT),
    }
}
