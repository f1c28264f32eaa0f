// SPDX-License-Identifier: GPL-2.0

//! Socket addresses as they cross the socket API: parsed from the bytes a program
//! passes to `bind`/`connect`, written back by `getsockname`/`getpeername`.
//!
//! Validation follows Linux TCP (`inet_bind`, `tcp_v4_connect`, `inet6_bind`,
//! `tcp_v6_connect`), so a program gets the errno it gets from TCP.
//!
//! AF_IB sockets name their ends with `struct sockaddr_ib` (rdma-core's
//! `<infiniband/ib.h>` layout): a GID and a service ID. On RoCE a GID is an IP address
//! (IPv4 ones as `::ffff:a.b.c.d`), and rdma_cm names the port `p` of its
//! `RDMA_PS_TCP` port space with service ID `0x0106_0000 + p` (streams), and of its
//! `RDMA_PS_IB` port space with `0x013f_0000 + p` (AF_IB `SOCK_SEQPACKET`): that is the
//! mapping between the two ([`parse_ib`], [`SockAddr::encode_ib`]).

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
/// `AF_IB`.
pub const AF_IB: u16 = 27;
/// `sizeof(struct sockaddr_ib)`.
pub const SOCKADDR_IB_LEN: usize = 48;
/// The service IDs of rdma_cm's `RDMA_PS_TCP` port space: this plus the port.
pub const SID_PS_TCP: u64 = 0x0106 << 16;
/// The service IDs of rdma_cm's `RDMA_PS_IB` port space: this plus the port.
pub const SID_PS_IB: u64 = 0x013f << 16;

/// The rdma_cm port space a socket's ports live in: the service ID's upper half.
/// Streams (SDP, whatever the family) use `RDMA_PS_TCP`, AF_IB message sockets
/// `RDMA_PS_IB`, so port 5000 of one is not port 5000 of the other (as TCP and UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSpace {
    /// `RDMA_PS_TCP`.
    Tcp,
    /// `RDMA_PS_IB`.
    Ib,
}

impl PortSpace {
    /// The service ID of port 0.
    pub const fn sid_base(self) -> u64 {
        match self {
            PortSpace::Tcp => SID_PS_TCP,
            PortSpace::Ib => SID_PS_IB,
        }
    }

    /// rdma_cm's `enum rdma_ucm_port_space` value.
    pub const fn rdma_ps(self) -> u32 {
        (self.sid_base() >> 16) as u32
    }
}

/// The default partition key (full membership); 0 stands for it too.
pub const IB_DEFAULT_PKEY: u16 = 0xffff;
/// The largest encoded address of any family we speak.
pub const SOCKADDR_MAX_LEN: usize = SOCKADDR_IB_LEN;

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

fn be64(b: &[u8]) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[..8]);
    u64::from_be_bytes(v)
}

fn ne64(b: &[u8]) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[..8]);
    u64::from_ne_bytes(v)
}

fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// The family field of a sockaddr: host byte order.
fn family(raw: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes([*raw.first()?, *raw.get(1)?]))
}

/// The `::ffff:0:0/96` prefix of IPv4-mapped addresses (and of RoCE's IPv4 GIDs).
const V4_MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Parses a `struct sockaddr_ib` (family already checked or not: it is checked here).
///
/// - `sib_pkey`: 0 or 0xffff, the default partition, the only one RoCE has.
/// - `sib_addr`: the GID. `::ffff:a.b.c.d` is the IPv4 address `a.b.c.d`; `::` is the
///   wildcard; any other GID is the IPv6 address it spells (RoCE v2).
/// - `sib_sid`: the socket's port space (`ps.sid_base()`) + port, or 0 for port 0 (an
///   ephemeral port at `bind`); a service ID of another port space is `EINVAL`;
///   `sib_sid_mask`: 0, or all ones (an exact service ID, what rdma_cm fills in).
/// - `sib_scope_id`: the interface of a link-local IPv6 GID.
/// - `sib_flowinfo` is kept only for an IPv6 GID.
///
/// `EINVAL` for a short structure or any other value; `EAFNOSUPPORT` for another
/// family.
pub fn parse_ib(raw: &[u8], ps: PortSpace) -> Result<SockAddr, Errno> {
    if raw.len() < SOCKADDR_IB_LEN {
        return Err(EINVAL);
    }
    if family(raw) != Some(AF_IB) {
        return Err(EAFNOSUPPORT);
    }
    let pkey = be16(&raw[2..]);
    if pkey != 0 && pkey != IB_DEFAULT_PKEY {
        return Err(EINVAL);
    }
    let (sid, mask) = (be64(&raw[24..]), be64(&raw[32..]));
    if mask != 0 && mask != u64::MAX {
        return Err(EINVAL);
    }
    let port = match sid {
        0 => 0,
        s if s & !0xffff == ps.sid_base() => (s & 0xffff) as u16,
        _ => return Err(EINVAL),
    };
    let scope = ne64(&raw[40..]);
    let scope_id = u32::try_from(scope).map_err(|_| EINVAL)?;
    let mut gid = [0; 16];
    gid.copy_from_slice(&raw[8..24]);
    if gid[..12] == V4_MAPPED {
        if scope_id != 0 {
            return Err(EINVAL);
        }
        return Ok(SockAddr::V4 { addr: [gid[12], gid[13], gid[14], gid[15]], port });
    }
    Ok(SockAddr::V6 { addr: gid, port, flowinfo: ne32(&raw[4..]), scope_id })
}

/// Parses the address a program passed to `bind` on a socket of `sock_family`.
///
/// Like `inet_bind`, AF_INET sockets also take `AF_UNSPEC` with `INADDR_ANY` (old
/// programs zero the whole structure). AF_IB sockets take a `sockaddr_ib`, and as a
/// convenience a `sockaddr_in` or `sockaddr_in6`.
/// `ps` is the socket's port space: it matters only for a `sockaddr_ib`.
pub fn parse_bind(sock_family: u16, ps: PortSpace, raw: &[u8]) -> Result<SockAddr, Errno> {
    match sock_family {
        AF_IB => match family(raw) {
            Some(AF_INET) => parse_bind(AF_INET, ps, raw),
            Some(AF_INET6) => parse_bind(AF_INET6, ps, raw),
            _ => parse_ib(raw, ps),
        },
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

/// Parses the address a program passed to `connect` on a socket of `sock_family` in
/// port space `ps`.
pub fn parse_connect(sock_family: u16, ps: PortSpace, raw: &[u8]) -> Result<Parsed, Errno> {
    // `inet_stream_connect`: the length is checked before the family.
    if raw.len() < 2 {
        return Err(EINVAL);
    }
    if family(raw) == Some(AF_UNSPEC) {
        return Ok(Parsed::Unspec);
    }
    if sock_family == AF_IB {
        return match family(raw) {
            Some(fam @ (AF_INET | AF_INET6)) => parse_connect(fam, ps, raw),
            _ => parse_ib(raw, ps).map(Parsed::Addr),
        };
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
    /// AF_IB's is IPv6's, which rdma_cm listens on for both IP versions.
    pub const fn unspecified(family: u16) -> Self {
        if family == AF_INET6 || family == AF_IB {
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

    /// Whether this is a loopback address (`127.0.0.0/8`, `::1`, or `::ffff:127.x.y.z`):
    /// one that only this host reaches, which no RDMA device has.
    pub fn is_loopback(&self) -> bool {
        match self {
            SockAddr::V4 { addr, .. } => addr[0] == 127,
            SockAddr::V6 { addr, .. } => {
                let mut one = [0; 16];
                one[15] = 1;
                *addr == one || (addr[..12] == V4_MAPPED && addr[12] == 127)
            }
        }
    }

    /// Whether this is a multicast or the limited broadcast address (`224.0.0.0/4`,
    /// `255.255.255.255`, `ff00::/8`, or an IPv4-mapped form).
    pub fn is_multicast(&self) -> bool {
        match (self, self.as_v4()) {
            (_, Some(a)) => (224..240).contains(&a[0]) || a == [255; 4],
            (SockAddr::V6 { addr, .. }, None) => addr[0] == 0xff,
            _ => false,
        }
    }

    /// Whether a connection may be addressed to this: a peer on the fabric, not
    /// loopback or the wildcard (which for TCP mean this host, and which no RDMA
    /// device reaches) nor multicast or broadcast (which TCP refuses with
    /// `ENETUNREACH` too).
    pub fn is_unicast_peer(&self) -> bool {
        !self.is_any() && self.as_v4() != Some([0; 4]) && !self.is_loopback() && !self.is_multicast()
    }

    /// The IPv4 address this stands for: its own, or the one an IPv4-mapped IPv6
    /// address carries.
    fn as_v4(&self) -> Option<[u8; 4]> {
        match self {
            SockAddr::V4 { addr, .. } => Some(*addr),
            SockAddr::V6 { addr, .. } if addr[..12] == V4_MAPPED => Some([addr[12], addr[13], addr[14], addr[15]]),
            SockAddr::V6 { .. } => None,
        }
    }

    /// Whether a listener bound to `self` serves a connection addressed to `dst`, as
    /// TCP decides: the wildcard serves every local address, any other address only
    /// itself (an IPv4 address and its IPv4-mapped IPv6 form are the same). Ports are
    /// not compared.
    pub fn serves(&self, dst: &SockAddr) -> bool {
        if self.is_any() {
            return true;
        }
        match (self, dst) {
            (SockAddr::V6 { addr: a, .. }, SockAddr::V6 { addr: b, .. }) if a == b => true,
            _ => matches!((self.as_v4(), dst.as_v4()), (Some(a), Some(b)) if a == b),
        }
    }

    /// The IP version number (4 or 6), as the Hello message carries it.
    pub const fn ip_version(&self) -> u8 {
        match self {
            SockAddr::V4 { .. } => 4,
            SockAddr::V6 { .. } => 6,
        }
    }

    /// The address as 16 bytes (an IPv4 address mapped into IPv6, `::ffff:a.b.c.d`)
    /// and the port: the form trace events carry.
    pub fn as_mapped_v6(&self) -> ([u8; 16], u16) {
        match *self {
            SockAddr::V4 { addr, port } => {
                let mut out = [0u8; 16];
                out[10] = 0xff;
                out[11] = 0xff;
                out[12..].copy_from_slice(&addr);
                (out, port)
            }
            SockAddr::V6 { addr, port, .. } => (addr, port),
        }
    }

    /// [`Self::as_mapped_v6`] of an address not known yet: all zeros, port 0.
    pub fn mapped_v6_or_unspecified(a: Option<Self>) -> ([u8; 16], u16) {
        a.map_or(([0; 16], 0), |a| a.as_mapped_v6())
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

    /// Writes the address as a `struct sockaddr_ib` (see [`parse_ib`] for the mapping)
    /// with a service ID of port space `ps`, and returns its length.
    pub fn encode_ib(&self, ps: PortSpace, out: &mut [u8; SOCKADDR_IB_LEN]) -> usize {
        *out = [0; SOCKADDR_IB_LEN];
        out[0..2].copy_from_slice(&AF_IB.to_ne_bytes());
        out[2..4].copy_from_slice(&IB_DEFAULT_PKEY.to_be_bytes());
        let scope_id = match self {
            SockAddr::V4 { addr, .. } => {
                out[8..20].copy_from_slice(&V4_MAPPED);
                out[20..24].copy_from_slice(addr);
                0
            }
            SockAddr::V6 { addr, flowinfo, scope_id, .. } => {
                out[4..8].copy_from_slice(&flowinfo.to_ne_bytes());
                out[8..24].copy_from_slice(addr);
                *scope_id
            }
        };
        out[24..32].copy_from_slice(&(ps.sid_base() + u64::from(self.port())).to_be_bytes());
        out[32..40].copy_from_slice(&u64::MAX.to_be_bytes());
        out[40..48].copy_from_slice(&u64::from(scope_id).to_ne_bytes());
        SOCKADDR_IB_LEN
    }

    /// Writes the address as a socket of `sock_family` reports it: a `sockaddr_ib` for
    /// AF_IB (in port space `ps`), the IP structure otherwise. Returns the length.
    pub fn encode_for(&self, sock_family: u16, ps: PortSpace, out: &mut [u8; SOCKADDR_MAX_LEN]) -> usize {
        if sock_family == AF_IB {
            return self.encode_ib(ps, out);
        }
        let mut ip = [0; SOCKADDR_IN6_LEN];
        let n = self.encode(&mut ip);
        *out = [0; SOCKADDR_MAX_LEN];
        out[..n].copy_from_slice(&ip[..n]);
        n
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
