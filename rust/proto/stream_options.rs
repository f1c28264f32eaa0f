// SPDX-License-Identifier: GPL-2.0

//! The `SOL_TCP` options an SDP stream takes, as a TCP socket does: which option a
//! name is, and the values they accept.

use super::{
    abi::{SOL_TCP, TCP_CORK, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_NODELAY},
    errno::{Errno, ENOPROTOOPT},
    keepalive::KeepaliveOpt,
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
}

/// The option `level`/`name` stands for: `ENOPROTOOPT` for one a stream does not take.
pub fn stream_option(level: i32, name: i32) -> Result<StreamOption, Errno> {
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
