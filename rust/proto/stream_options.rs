// SPDX-License-Identifier: GPL-2.0

//! The `SOL_TCP` options an SDP stream takes, as a TCP socket does, and `IPV6_V6ONLY`:
//! which option a name is, and the values they accept.

use super::{
    abi::{IPV6_V6ONLY, SOL_IPV6, SOL_TCP, TCP_CORK, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_NODELAY},
    errno::{Errno, ENOPROTOOPT},
    keepalive::KeepaliveOpt,
    sockaddr::AF_INET6,
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
}

/// The option `level`/`name` stands for on a stream of address family `family`:
/// `ENOPROTOOPT` for one a stream does not take.
pub fn stream_option(family: u16, level: i32, name: i32) -> Result<StreamOption, Errno> {
    if level == SOL_IPV6 && name == IPV6_V6ONLY && family == AF_INET6 {
        return Ok(StreamOption::V6Only);
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
        _ => Err(ENOPROTOOPT),
    }
}
