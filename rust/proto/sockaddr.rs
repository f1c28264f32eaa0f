// SPDX-License-Identifier: GPL-2.0

//! IP socket addresses as they cross the socket API: parsed from the bytes a program
//! passes to `bind`/`connect`, written back by `getsockname`/`getpeername`.
//!
//! Validation follows Linux TCP (`inet_bind`, `tcp_v4_connect`, `inet6_bind`,
//! `tcp_v6_connect`), so a program gets the errno it gets from TCP.

use super::errno::{Errno, EAFNOSUPPORT, EINVAL};

/// `AF_UNSPEC`.
pub const AF_UNSPEC: u16 = 0;
/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;
/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;
/// The shortest `sockaddr_in6` Linux accepts: RFC 2133's, without `sin6_scope_id`.
pub const SIN6_LEN_RFC2133: usize = 24;

/// An IPv4 or IPv6 address and port, in host byte order where it matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// `struct sockaddr_in`.
    V4 {
        /// The address, network byte order as on the wire.
        addr: [u8; 4],
        /// The port.
        port: u16,
    },
    /// `struct sockaddr_in6`.
    V6 {
        /// The address.
        addr: [u8; 16],
        /// The port.
        port: u16,
        /// `sin6_flowinfo`, as given.
        flowinfo: u32,
        /// `sin6_scope_id` (0 if the caller passed the RFC 2133 length).
        scope_id: u32,
    },
}

/// What an address given to a call means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// An address of the socket's family.
    Addr(SockAddr),
    /// `AF_UNSPEC` passed to `connect`: dissolve the association (TCP disconnects).
    Unspec,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// The family field of a sockaddr: host byte order.
fn family(raw: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes([*raw.first()?, *raw.get(1)?]))
}

/// Parses the address a program passed to `bind` on a socket of `sock_family`.
///
/// Like `inet_bind`, AF_INET sockets also take `AF_UNSPEC` with `INADDR_ANY` (old
/// programs zero the whole structure).
pub fn parse_bind(sock_family: u16, raw: &[u8]) -> Result<SockAddr, Errno> {
    match sock_family {
        AF_INET => {
            if raw.len() < SOCKADDR_IN_LEN {
                return Err(EINVAL);
            }
            let addr = parse_in(raw);
            match family(raw) {
                Some(AF_INET) => Ok(addr),
                Some(AF_UNSPEC) if matches!(addr, SockAddr::V4 { addr: [0, 0, 0, 0], .. }) => Ok(addr),
                _ => Err(EAFNOSUPPORT),
            }
        }
        AF_INET6 => {
            if raw.len() < SIN6_LEN_RFC2133 {
                return Err(EINVAL);
            }
            if family(raw) != Some(AF_INET6) {
                return Err(EAFNOSUPPORT);
            }
            Ok(parse_in6(raw))
        }
        _ => Err(EAFNOSUPPORT),
    }
}

/// Parses the address a program passed to `connect` on a socket of `sock_family`.
pub fn parse_connect(sock_family: u16, raw: &[u8]) -> Result<Parsed, Errno> {
    // `inet_stream_connect`: the length is checked before the family.
    if raw.len() < 2 {
        return Err(EINVAL);
    }
    if family(raw) == Some(AF_UNSPEC) {
        return Ok(Parsed::Unspec);
    }
    let (min, fam) = match sock_family {
        AF_INET => (SOCKADDR_IN_LEN, AF_INET),
        AF_INET6 => (SIN6_LEN_RFC2133, AF_INET6),
        _ => return Err(EAFNOSUPPORT),
    };
    if raw.len() < min {
        return Err(EINVAL);
    }
    if family(raw) != Some(fam) {
        return Err(EAFNOSUPPORT);
    }
    Ok(Parsed::Addr(if fam == AF_INET { parse_in(raw) } else { parse_in6(raw) }))
}

fn parse_in(raw: &[u8]) -> SockAddr {
    SockAddr::V4 { addr: [raw[4], raw[5], raw[6], raw[7]], port: be16(&raw[2..]) }
}

fn parse_in6(raw: &[u8]) -> SockAddr {
    let mut addr = [0; 16];
    addr.copy_from_slice(&raw[8..24]);
    let scope_id = if raw.len() >= SOCKADDR_IN6_LEN { ne32(&raw[24..]) } else { 0 };
    SockAddr::V6 { addr, port: be16(&raw[2..]), flowinfo: ne32(&raw[4..]), scope_id }
}

impl SockAddr {
    /// The unspecified address of `family` with port 0: what an unbound socket reports.
    pub const fn unspecified(family: u16) -> Self {
        if family == AF_INET6 {
            SockAddr::V6 { addr: [0; 16], port: 0, flowinfo: 0, scope_id: 0 }
        } else {
            SockAddr::V4 { addr: [0; 4], port: 0 }
        }
    }

    /// The port.
    pub const fn port(&self) -> u16 {
        match self {
            SockAddr::V4 { port, .. } | SockAddr::V6 { port, .. } => *port,
        }
    }

    /// The same address with another port.
    pub const fn with_port(self, port: u16) -> Self {
        match self {
            SockAddr::V4 { addr, .. } => SockAddr::V4 { addr, port },
            SockAddr::V6 { addr, flowinfo, scope_id, .. } => SockAddr::V6 { addr, port, flowinfo, scope_id },
        }
    }

    /// Whether this is the wildcard address.
    pub fn is_any(&self) -> bool {
        match self {
            SockAddr::V4 { addr, .. } => *addr == [0; 4],
            SockAddr::V6 { addr, .. } => *addr == [0; 16],
        }
    }

    /// The IP version number (4 or 6), as the Hello message carries it.
    pub const fn ip_version(&self) -> u8 {
        match self {
            SockAddr::V4 { .. } => 4,
            SockAddr::V6 { .. } => 6,
        }
    }

    /// Writes the C structure into `out` and returns its length (16 or 28 bytes).
    pub fn encode(&self, out: &mut [u8; SOCKADDR_IN6_LEN]) -> usize {
        *out = [0; SOCKADDR_IN6_LEN];
        match self {
            SockAddr::V4 { addr, port } => {
                out[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
                out[2..4].copy_from_slice(&port.to_be_bytes());
                out[4..8].copy_from_slice(addr);
                SOCKADDR_IN_LEN
            }
            SockAddr::V6 { addr, port, flowinfo, scope_id } => {
                out[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
                out[2..4].copy_from_slice(&port.to_be_bytes());
                out[4..8].copy_from_slice(&flowinfo.to_ne_bytes());
                out[8..24].copy_from_slice(addr);
                out[24..28].copy_from_slice(&scope_id.to_ne_bytes());
                SOCKADDR_IN6_LEN
            }
        }
    }

    /// Reads back a structure the kernel (rdma_cm) filled in; `None` for another family.
    pub fn decode(raw: &[u8]) -> Option<Self> {
        match family(raw)? {
            AF_INET if raw.len() >= SOCKADDR_IN_LEN => Some(parse_in(raw)),
            AF_INET6 if raw.len() >= SOCKADDR_IN6_LEN => Some(parse_in6(raw)),
            _ => None,
        }
    }
}
