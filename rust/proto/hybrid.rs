// SPDX-License-Identifier: GPL-2.0

//! Hybrid streams (`IPPROTO_SDP_HYBRID`): the sockets transparent mode gives programs
//! that asked for TCP. Which protocol `socket()` hands out under a namespace's policy,
//! the path a hybrid socket is on, and which failures of its RDMA attempt send it to
//! TCP instead of to the program.

use super::{
    errno::{
        Errno, EACCES, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EALREADY, ECONNREFUSED, EHOSTUNREACH,
        EINPROGRESS, EINTR, EINVAL, EISCONN, ENETDOWN, ENETUNREACH, ENOBUFS, ENODEV, ENOMEM, EPERM, ERESTARTSYS,
        ETIMEDOUT,
    },
    policy::Mode,
    socket_args::SOCK_STREAM,
};

/// Protocol number of hybrid streams (`include/uapi/linux/infinisock.h`).
pub const IPPROTO_SDP_HYBRID: i32 = 259;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// `AF_INET`.
pub const AF_INET: i32 = 2;
/// `AF_INET6`.
pub const AF_INET6: i32 = 10;
/// The bits of `socket()`'s `type` that name the type (`SOCK_TYPE_MASK`); the others are
/// `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
pub const SOCK_TYPE_MASK: i32 = 0xf;

/// The protocol a `socket(family, sock_type, protocol)` call gets in a namespace whose
/// transparent mode is `mode`: a TCP stream (protocol 0 or `IPPROTO_TCP`) of either IP
/// version becomes a hybrid stream while the mode is on; everything else, explicit
/// `IPPROTO_SDP` included, keeps what it asked for.
pub fn socket_protocol(mode: Mode, family: i32, sock_type: i32, protocol: i32) -> i32 {
    let tcp_stream = (family == AF_INET || family == AF_INET6)
        && sock_type & SOCK_TYPE_MASK == SOCK_STREAM
        && (protocol == 0 || protocol == IPPROTO_TCP);
    if mode.on() && tcp_stream { IPPROTO_SDP_HYBRID } else { protocol }
}

/// Why a hybrid socket runs over TCP (`INFINISOCK_FALLBACK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fallback {
    /// The policy does not cover the peer (or, for a listener, the port).
    Policy = 1,
    /// No RDMA device reaches the peer.
    NoDevice = 2,
    /// The peer refused SDP: nothing listens for it there.
    Refused = 3,
    /// The RDMA attempt did not finish within its bound.
    Timeout = 4,
    /// RDMA resources or the module's ring memory ran out.
    Resources = 5,
    /// Another failure of the RDMA attempt.
    Other = 6,
}

impl Fallback {
    /// Every reason, in `INFINISOCK_FALLBACK_*` order.
    pub const ALL: [Fallback; 6] =
        [Fallback::Policy, Fallback::NoDevice, Fallback::Refused, Fallback::Timeout, Fallback::Resources, Fallback::Other];

    /// The reason's name in `/proc/net/infinisock/hybrid`.
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Policy => "policy",
            Fallback::NoDevice => "no_device",
            Fallback::Refused => "refused",
            Fallback::Timeout => "timeout",
            Fallback::Resources => "resources",
            Fallback::Other => "other",
        }
    }
}

/// What a failed SDP connection attempt of a hybrid socket leads to: TCP (with the
/// reason), or the error itself, where TCP would fail alike or the program must see it
/// (a signal, an address it may not use, a call made twice).
pub fn connect_failure(err: Errno) -> Result<Fallback, Errno> {
    match err {
        // The program's own doing, or what TCP answers the same way.
        EINTR | ERESTARTSYS | EAGAIN | EINPROGRESS | EALREADY | EISCONN | EINVAL | EAFNOSUPPORT | EACCES | EPERM
        | EADDRINUSE => Err(err),
        ENODEV | EADDRNOTAVAIL | ENETUNREACH | EHOSTUNREACH | ENETDOWN => Ok(Fallback::NoDevice),
        ECONNREFUSED => Ok(Fallback::Refused),
        ETIMEDOUT => Ok(Fallback::Timeout),
        ENOMEM | ENOBUFS => Ok(Fallback::Resources),
        _ => Ok(Fallback::Other),
    }
}

/// A hybrid socket's path, as `INFINISOCK_TRANSPORT` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Neither connected nor listening yet (or its SDP attempt is in progress).
    Undecided,
    /// Over SDP (a listener: taking SDP connections beside TCP ones).
    Sdp,
    /// Over TCP, and why.
    Tcp(Fallback),
}

impl Path {
    /// The `INFINISOCK_TRANSPORT` value: the path in the low byte, the reason above it.
    pub fn option_value(self) -> i32 {
        match self {
            Path::Undecided => 0,
            Path::Sdp => 1,
            Path::Tcp(why) => 2 | (why as i32) << 8,
        }
    }
}

/// A hybrid connection's move to TCP after its RDMA attempt failed in the background:
/// exactly one of the connecting call and the endpoint's teardown makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handover {
    /// Nothing to hand over.
    Idle,
    /// The attempt failed for this reason; nobody has taken it up yet.
    Pending(Fallback),
    /// Taken up: the TCP connect is being started.
    Started,
}
