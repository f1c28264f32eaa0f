// SPDX-License-Identifier: GPL-2.0

//! The `SOL_TCP` options an SDP stream takes, as a TCP socket does, `IPV6_V6ONLY`, and
//! the IP type of service (`IP_TOS`, `IPV6_TCLASS`): which option a name is, and the
//! values they accept.

use super::{
    abi::{
        IPV6_TCLASS, IPV6_V6ONLY, IP_TOS, SDP_ZCOPY_THRESH, SOL_IP, SOL_IPV6, SOL_TCP, TCP_CORK, TCP_KEEPCNT,
        TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_NODELAY,
    },
    errno::{Errno, EINVAL, ENOPROTOOPT},
    keepalive::KeepaliveOpt,
    sockaddr::{AF_INET, AF_INET6},
};

/// An option of an SDP stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOption {
    /// `TCP_NODELAY`: small writes are not held back (Nagle).
    NoDelay,
    /// `TCP_CORK`: accepted and without effect (reads 0), as SDP sends each message as
    /// it fills.
    Cork,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`.
    Keepalive(KeepaliveOpt),
    /// `IPV6_V6ONLY` on an `AF_INET6` stream: a wildcard address takes IPv6 peers
    /// only, so that an IPv4 socket can have the same port. Set before `bind`.
    V6Only,
    /// `IP_TOS` (IPv4 peers, IPv4-mapped ones included) and `IPV6_TCLASS` (IPv6 peers)
    /// of an IP stream: the type of service rdma_cm gives the connection's path (the
    /// traffic class of RoCE packets, an InfiniBand service level), as TCP marks its
    /// packets. Used by the connections made after it is set.
    Tos {
        /// `IPV6_TCLASS` rather than `IP_TOS`.
        v6: bool,
    },
    /// `SDP_ZCOPY_THRESH`, OFED SDP's option: the smallest piece of a blocking write
    /// that goes zero-copy (`zc_policy::Setting`: 0 none, -1 the namespace's
    /// `sdp_zcopy_thresh`, else the bytes). Accepted connections inherit it.
    ZcopyThresh,
}

/// ECN's bits of the type of service, which a stream's program does not set (TCP
/// keeps them for itself).
const ECN_MASK: u8 = 0x3;

/// The type of service `IP_TOS` = `val` leaves on a stream whose current one is `old`
/// (`__ip_sock_set_tos`: any `int`, its low byte taken, ECN's bits kept).
pub fn ip_tos(old: u8, val: i32) -> u8 {
    (val as u8 & !ECN_MASK) | (old & ECN_MASK)
}

/// The type of service a connection to `dst` asks rdma_cm for: `IP_TOS`'s (`tos`) for
/// an IPv4 peer, IPv4-mapped ones included, `IPV6_TCLASS`'s (`tclass`) for an IPv6
/// one, as TCP marks its packets to each.
pub fn service_type(dst: &super::sockaddr::SockAddr, tos: u8, tclass: u8) -> u8 {
    use super::sockaddr::SockAddr;
    match dst {
        SockAddr::V6 { addr, .. } if addr[..12] != [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] => tclass,
        _ => tos,
    }
}

/// The traffic class `IPV6_TCLASS` = `val` leaves (`do_ipv6_setsockopt`): -1 is the
/// default, 0; beyond -1..=255 `EINVAL`; ECN's bits kept.
pub fn ipv6_tclass(old: u8, val: i32) -> Result<u8, Errno> {
    let v = match val {
        -1 => 0,
        0..=255 => val as u8,
        _ => return Err(EINVAL),
    };
    Ok((v & !ECN_MASK) | (old & ECN_MASK))
}

/// The option `level`/`name` stands for on a stream of address family `family`:
/// `ENOPROTOOPT` for one a stream does not take.
pub fn stream_option(family: u16, level: i32, name: i32) -> Result<StreamOption, Errno> {
    if level == SOL_IPV6 && name == IPV6_V6ONLY && family == AF_INET6 {
        return Ok(StreamOption::V6Only);
    }
    // As on TCP sockets: IP_TOS on both families (an AF_INET6 one may reach IPv4
    // peers), IPV6_TCLASS on AF_INET6 only.
    if level == SOL_IP && name == IP_TOS && (family == AF_INET || family == AF_INET6) {
        return Ok(StreamOption::Tos { v6: false });
    }
    if level == SOL_IPV6 && name == IPV6_TCLASS && family == AF_INET6 {
        return Ok(StreamOption::Tos { v6: true });
    }
    if level != SOL_TCP {
        return Err(ENOPROTOOPT);
    }
    match name {
        TCP_NODELAY => Ok(StreamOption::NoDelay),
        TCP_CORK => Ok(StreamOption::Cork),
        TCP_KEEPIDLE => Ok(StreamOption::Keepalive(KeepaliveOpt::Idle)),
        TCP_KEEPINTVL => Ok(StreamOption::Keepalive(KeepaliveOpt::Interval)),
        TCP_KEEPCNT => Ok(StreamOption::Keepalive(KeepaliveOpt::Count)),
        SDP_ZCOPY_THRESH => Ok(StreamOption::ZcopyThresh),
        _ => Err(ENOPROTOOPT),
    }
}
