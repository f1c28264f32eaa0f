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
    sockaddr::{SockAddr, AF_INET, AF_INET6},
    socket_args::SOCK_STREAM,
};

/// Protocol number of hybrid streams (`include/uapi/linux/infinisock.h`).
pub const IPPROTO_SDP_HYBRID: i32 = 259;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// The bits of `socket()`'s `type` that name the type (`SOCK_TYPE_MASK`); the others are
/// `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
pub const SOCK_TYPE_MASK: i32 = 0xf;

/// The protocol a `socket(family, sock_type, protocol)` call gets in a namespace whose
/// transparent mode is `mode`: a TCP stream (protocol 0 or `IPPROTO_TCP`) of either IP
/// version becomes a hybrid stream while the mode is on; everything else, explicit
/// `IPPROTO_SDP` included, keeps what it asked for.
pub fn socket_protocol(mode: Mode, family: i32, sock_type: i32, protocol: i32) -> i32 {
    let tcp_stream = (family == i32::from(AF_INET) || family == i32::from(AF_INET6))
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
    /// RDMA resources or the module's buffer memory ran out.
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
    /// The TCP connect has been started: the socket is TCP's.
    Done,
}

/// Peers a namespace's hybrid sockets reach over TCP at once, for a while, after an
/// RDMA attempt failed there (`net.infinisock.sdp_fallback_cache`): the attempt would
/// only cost the next connection its time again. A refusal holds for the peer's port
/// (another port may have an SDP listener); no device or no answer holds for the
/// whole host.
#[derive(Clone, Debug)]
pub struct RefusalCache<const N: usize> {
    /// (address as 16 bytes, port or 0 for every port, expiry, reason), unordered.
    entries: [([u8; 16], u16, u64, Fallback); N],
    len: usize,
}

impl<const N: usize> Default for RefusalCache<N> {
    fn default() -> Self {
        Self { entries: [([0; 16], 0, 0, Fallback::Other); N], len: 0 }
    }
}

/// A peer's address as the cache keys it: IPv4 as its IPv4-mapped IPv6 address.
fn cache_key(peer: &SockAddr) -> [u8; 16] {
    match peer {
        SockAddr::V4 { addr, .. } => {
            let mut k = [0u8; 16];
            k[10] = 0xff;
            k[11] = 0xff;
            k[12..].copy_from_slice(addr);
            k
        }
        SockAddr::V6 { addr, .. } => *addr,
    }
}

impl<const N: usize> RefusalCache<N> {
    /// Remembers, at time `now` (ms), that `peer` failed for `why`, for `ttl_ms`.
    /// Full, it forgets the entry closest to expiry. Failures of the program's own
    /// making (the policy) or of this host (resources) say nothing of the peer.
    pub fn note(&mut self, peer: &SockAddr, why: Fallback, now: u64, ttl_ms: u64) {
        if N == 0 || ttl_ms == 0 || matches!(why, Fallback::Policy | Fallback::Resources) {
            return;
        }
        let key = cache_key(peer);
        let port = if why == Fallback::Refused { peer.port() } else { 0 };
        let expiry = now.saturating_add(ttl_ms);
        self.forget_expired(now);
        if let Some(e) = self.entries[..self.len].iter_mut().find(|e| e.0 == key && e.1 == port) {
            e.2 = expiry;
            e.3 = why;
            return;
        }
        if self.len == N {
            let oldest = (0..self.len).min_by_key(|&i| self.entries[i].2).unwrap_or(0);
            self.entries[oldest] = (key, port, expiry, why);
        } else {
            self.entries[self.len] = (key, port, expiry, why);
            self.len += 1;
        }
    }

    /// Whether a connection to `peer` at time `now` goes over TCP at once, and why.
    pub fn lookup(&mut self, peer: &SockAddr, now: u64) -> Option<Fallback> {
        self.forget_expired(now);
        let key = cache_key(peer);
        let port = peer.port();
        let live = &self.entries[..self.len];
        // The port's own entry first, then the host's.
        live.iter().find(|e| e.0 == key && e.1 == port).or_else(|| live.iter().find(|e| e.0 == key && e.1 == 0)).map(|e| e.3)
    }

    /// How many peers are remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Forgets everything (the tunable was set to 0).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn forget_expired(&mut self, now: u64) {
        let mut i = 0;
        while i < self.len {
            if self.entries[i].2 <= now {
                self.len -= 1;
                self.entries[i] = self.entries[self.len];
            } else {
                i += 1;
            }
        }
    }
}
