// SPDX-License-Identifier: GPL-2.0

//! Hybrid streams under AF_INET and AF_INET6 (`IPPROTO_SDP_HYBRID`), what transparent
//! mode (`transparent`) turns programs' TCP sockets into. Each is an SDP socket with a
//! kernel TCP socket inside (`kernel_api::inner`), which takes the program's socket
//! options from the start and carries the socket where SDP cannot:
//!
//! - `connect()`: a peer the namespace's policy covers is tried over SDP first; if no
//!   RDMA device reaches it, nothing listens for SDP there, or the attempt fails
//!   otherwise (`proto::hybrid::connect_failure`), the TCP socket connects instead, with
//!   the same blocking or non-blocking behaviour (`sdp::fallback` for an attempt that
//!   fails in the background). Other peers go over TCP at once.
//! - `listen()`: TCP always; where the policy covers the port, SDP on the same port
//!   too. `accept()` hands out SDP connections as SDP sockets and TCP ones as plain TCP
//!   sockets.
//!
//! A socket on TCP forwards every call to the TCP socket; one on SDP is an SDP socket.

use kernel::{prelude::*, sync::aref::ARef};

use crate::kernel_api::log::pr_info_ratelimited;

use crate::{
    family::inet::{endpoint, SdpOps, SdpProto},
    kernel_api::sock::{Msg, OptValue, Sock, SockProto, Socket, SocketOps, StreamOps},
    netns::tunables as netns,
    proto::{
        abi::{INFINISOCK_TRANSPORT, O_NONBLOCK, POLLIN, POLLRDNORM, SDP_ZCOPY_THRESH, SOL_INFINISOCK, SOL_TCP, TCP_LISTEN},
        errno::Errno,
        hybrid::{Fallback, Path},
        sockaddr::{parse_connect, Parsed, SockAddr, SOCKADDR_MAX_LEN},
    },
    sdp::{endpoint::{Endpoint, Phase}, fallback},
};

/// `struct proto` callbacks of hybrid socks: an SDP sock with an inner TCP socket.
pub(crate) struct HybridProto;

impl SockProto for HybridProto {
    type State = Endpoint;

    fn init(sk: &Sock) -> Result {
        SdpProto::init(sk)?;
        // On failure `inet_create` releases the sock, its state and any inner socket.
        sk.create_inner()
    }

    fn keepalive(sk: &Sock, on: bool) {
        SdpProto::keepalive(sk, on)
    }
}

/// Socket operations of hybrid streams in `FAMILY` (AF_INET or AF_INET6). A fallen-back
/// socket's calls never come here (`kernel_api::inner` forwards them); a socket on SDP,
/// or an accepted SDP connection, is served as SDP.
pub(crate) struct HybridOps<const FAMILY: i32>;

impl<const FAMILY: i32> SocketOps for HybridOps<FAMILY> {
    const FAMILY: i32 = FAMILY;

    fn release(sock: &Socket, sk: ARef<Sock>) {
        if let Some(ep) = sk.state::<Endpoint>() {
            // A move to TCP not yet made is not made any more.
            let ep: kernel::sync::Arc<Endpoint> = ep.into();
            ep.lock().handover = crate::proto::hybrid::Handover::Idle;
        }
        // Waits for a move to TCP being made in the background.
        sk.release_inner();
        SdpOps::<FAMILY>::release(sock, sk)
    }
}

impl<const FAMILY: i32> HybridOps<FAMILY> {
    /// Moves an undecided socket to TCP for `why` and connects to `dst` there; with
    /// `remember`, the peer is reached over TCP at once for a while.
    fn connect_over_tcp(sock: &Socket, addr: &[u8], flags: i32, dst: &SockAddr, why: Fallback, remember: bool) -> Result {
        let ep = endpoint(sock)?;
        let inner = sock.inner_socket().ok_or(EBADF)?;
        fallback::moving_for(&ep, why);
        sock.use_inner();
        let res = inner.connect(addr, flags);
        fallback::moved(&ep, why, Some(dst), remember);
        res
    }
}

impl<const FAMILY: i32> StreamOps for HybridOps<FAMILY> {
    fn bind(sock: &Socket, addr: &[u8]) -> Result {
        // The TCP socket holds the address; SDP binds the same one when it listens.
        match sock.undecided_inner() {
            Some(inner) => inner.bind(addr),
            None => SdpOps::<FAMILY>::bind(sock, addr),
        }
    }

    fn connect(sock: &Socket, addr: &[u8], flags: i32) -> Result {
        let ep = endpoint(sock)?;
        if sock.undecided_inner().is_none() {
            return SdpOps::<FAMILY>::connect(sock, addr, flags);
        }
        let dst = match parse_connect(FAMILY as u16, ep.port_space(), addr).map_err(Errno::into_error)? {
            Parsed::Addr(dst) => dst,
            // AF_UNSPEC: TCP's meaning (dissolve the association).
            Parsed::Unspec => return sock.inner_socket().ok_or(EBADF)?.connect(addr, flags),
        };
        let net = ep.sk.net();
        if ep.lock().phase == Phase::Open {
            if !netns::policy(net).connect_over_sdp(&dst) {
                return Self::connect_over_tcp(sock, addr, flags, &dst, Fallback::Policy, false);
            }
            if let Some(why) = crate::netns::hybrid::cached_fallback(net, &dst) {
                return Self::connect_over_tcp(sock, addr, flags, &dst, why, false);
            }
        }
        match SdpOps::<FAMILY>::connect(sock, addr, flags) {
            // `sdp::fallback::on_established` has recorded the path.
            Ok(()) => Ok(()),
            Err(e) if e == EINPROGRESS || e == EALREADY => Err(e),
            Err(e) => match fallback::take_over(&ep, e)? {
                Some(why) => Self::connect_over_tcp(sock, addr, flags, &dst, why, true),
                // Moved in the background: this call continues there, as a second
                // connect() on a TCP socket does (waits, or EALREADY).
                None => sock.inner_socket().ok_or(EBADF)?.connect(addr, flags),
            },
        }
    }

    fn listen(sock: &Socket, backlog: i32) -> Result {
        let ep = endpoint(sock)?;
        let Some(inner) = sock.undecided_inner() else {
            return SdpOps::<FAMILY>::listen(sock, backlog);
        };
        if ep.lock().phase == Phase::Listening {
            // listen() again: the new backlog for both.
            inner.listen(backlog)?;
            return SdpOps::<FAMILY>::listen(sock, backlog);
        }
        inner.listen(backlog)?;
        let mut name = [0u8; SOCKADDR_MAX_LEN];
        let len = inner.name(false, &mut name)?;
        let port = SockAddr::decode(&name[..len]).map_or(0, |a| a.port());
        // SO_ACCEPTCONN reads the outer sock's state.
        ep.sk.set_tcp_state(TCP_LISTEN);
        if !netns::policy(ep.sk.net()).listen_over_sdp(port) {
            sock.use_inner();
            fallback::moved(&ep, Fallback::Policy, None, false);
            return Ok(());
        }
        // SDP on the same address and port, and with the IPV6_V6ONLY the program gave the
        // TCP socket; if it cannot, the listener is TCP alone.
        ep.sk.set_ipv6only(inner.ipv6only());
        if let Err(e) = SdpOps::<FAMILY>::bind(sock, &name[..len]).and_then(|()| SdpOps::<FAMILY>::listen(sock, backlog)) {
            pr_info_ratelimited!(
                "SDP: a transparent listener on port {} takes TCP only: SDP listen failed ({})\n",
                port,
                e.to_errno()
            );
            sock.use_inner();
            let why = if e == ENOMEM || e == ENOBUFS { Fallback::Resources } else { Fallback::Other };
            fallback::moved(&ep, why, None, false);
            return Ok(());
        }
        ep.set_path(&mut ep.lock(), Path::Sdp);
        Ok(())
    }

    fn accept(sock: &Socket, newsock: &Socket, flags: i32) -> Result {
        let ep = endpoint(sock)?;
        let Some(inner) = sock.undecided_inner() else {
            return SdpOps::<FAMILY>::accept(sock, newsock, flags);
        };
        // Listening on both: whichever has a connection; SDP's first when both do.
        let mut timeo = ep.sk.rcvtimeo(flags & O_NONBLOCK != 0);
        loop {
            if ep.lock().listen.has_ready() {
                SdpOps::<FAMILY>::accept(sock, newsock, flags | O_NONBLOCK)?;
                let child = endpoint(newsock)?;
                child.set_path(&mut child.lock(), Path::Sdp);
                return Ok(());
            }
            match inner.accept(newsock, flags | O_NONBLOCK) {
                Err(e) if e == EAGAIN => {}
                res => return res,
            }
            ep.sk.wait_ready(&mut timeo, || ep.lock().listen.has_ready() || inner.acceptable())?;
        }
    }

    fn getname(sock: &Socket, peer: bool, out: &mut [u8; SOCKADDR_MAX_LEN]) -> Result<usize> {
        match sock.undecided_inner() {
            // Until it connects over SDP, the TCP socket has the addresses (bind's).
            Some(inner) if !(peer && endpoint(sock)?.lock().phase != Phase::Open) => inner.name(peer, out),
            _ => SdpOps::<FAMILY>::getname(sock, peer, out),
        }
    }

    fn poll(sock: &Socket) -> u32 {
        let Ok(ep) = endpoint(sock) else { return 0 };
        if fallback::moving(&ep.lock()) {
            return 0;
        }
        let mask = SdpOps::<FAMILY>::poll(sock);
        match sock.undecided_inner() {
            Some(inner) if ep.lock().phase == Phase::Listening && inner.acceptable() => mask | POLLIN | POLLRDNORM,
            _ => mask,
        }
    }

    fn ioctl(sock: &Socket, cmd: u32, arg: usize) -> Result<Option<i32>> {
        SdpOps::<FAMILY>::ioctl(sock, cmd, arg)
    }

    fn shutdown(sock: &Socket, how: i32) -> Result {
        SdpOps::<FAMILY>::shutdown(sock, how)
    }

    fn sendmsg(sock: &Socket, msg: &mut Msg, len: usize) -> Result<usize> {
        SdpOps::<FAMILY>::sendmsg(sock, msg, len)
    }

    fn recvmsg(sock: &Socket, msg: &mut Msg, len: usize, flags: i32) -> Result<usize> {
        SdpOps::<FAMILY>::recvmsg(sock, msg, len, flags)
    }

    fn setsockopt(sock: &Socket, level: i32, name: i32, value: Option<i32>) -> Result {
        SdpOps::<FAMILY>::setsockopt(sock, level, name, value)
    }

    fn getsockopt(sock: &Socket, level: i32, name: i32) -> Result<OptValue> {
        if level == SOL_INFINISOCK && name == INFINISOCK_TRANSPORT {
            return Ok(OptValue::Int(endpoint(sock)?.lock().path.option_value()));
        }
        SdpOps::<FAMILY>::getsockopt(sock, level, name)
    }

    fn own_option(level: i32, name: i32) -> bool {
        level == SOL_INFINISOCK || (level == SOL_TCP && name == SDP_ZCOPY_THRESH)
    }
}
