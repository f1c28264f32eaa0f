// SPDX-License-Identifier: GPL-2.0

//! Which `socket(AF_IB, type, protocol)` calls create a socket, and of what kind.
//!
//! The errors follow what `inet_create()` answers for the same mistakes: a type the
//! family does not offer is `ESOCKTNOSUPPORT`, a protocol the type does not offer is
//! `EPROTONOSUPPORT`. Type values outside the kernel's range never get here
//! (`__sock_create()` answers `EINVAL` first).

use super::errno::{Errno, EPROTONOSUPPORT, ESOCKTNOSUPPORT};
use super::IPPROTO_SDP;

/// `SOCK_STREAM` from `<linux/net.h>`.
pub const SOCK_STREAM: i32 = 1;
/// `SOCK_SEQPACKET` from `<linux/net.h>`.
pub const SOCK_SEQPACKET: i32 = 5;

/// The kinds of socket AF_IB offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfIbKind {
    /// An SDP byte stream addressed with native IB addresses.
    Stream,
    /// Reliable, ordered messages on an RC queue pair.
    SeqPacket,
}

/// Checks the arguments of `socket(AF_IB, sock_type, protocol)`.
///
/// `sock_type` is the type with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` already masked off, as
/// the family's `create` callback receives it.
pub fn af_ib_kind(sock_type: i32, protocol: i32) -> Result<AfIbKind, Errno> {
    let kind = match sock_type {
        SOCK_STREAM => AfIbKind::Stream,
        SOCK_SEQPACKET => AfIbKind::SeqPacket,
        _ => return Err(ESOCKTNOSUPPORT),
    };
    // Protocol 0 picks the default; a stream also answers to its own name.
    match (kind, protocol) {
        (_, 0) | (AfIbKind::Stream, IPPROTO_SDP) => Ok(kind),
        _ => Err(EPROTONOSUPPORT),
    }
}
