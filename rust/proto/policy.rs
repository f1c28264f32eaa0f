// SPDX-License-Identifier: GPL-2.0

//! Transparent SDP's policy: which of a namespace's TCP sockets go over SDP. A mode
//! (off, outgoing connections, listeners, both) and the ports and peer address
//! prefixes it covers, each list with exclusions, as libsdp's `use sdp ...` rules
//! scoped programs. Parsed from sysctl text (any error is `EINVAL` and changes
//! nothing), printed back in one canonical form, and matched at `connect()` and
//! `listen()`: at `socket()` neither port nor address is known yet.

use core::fmt;

use super::{
    errno::{Errno, EINVAL},
    sockaddr::SockAddr,
};

/// Entries one list (ports, or address prefixes) holds at most.
pub const MAX_ENTRIES: usize = 16;

/// Which sockets the policy converts (`net.infinisock.sdp_transparent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Outgoing connections try SDP first.
    pub connect: bool,
    /// Listeners take SDP connections beside TCP ones.
    pub listen: bool,
}

impl Mode {
    /// The sysctl's value: 0 off, 1 outgoing connections, 2 listeners, 3 both.
    pub fn from_tunable(v: i64) -> Self {
        Self { connect: v & 1 != 0, listen: v & 2 != 0 }
    }

    /// Whether any socket is converted at all.
    pub fn on(self) -> bool {
        self.connect || self.listen
    }
}

/// A list of entries of which some include and some (`!`) exclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entries<T: Copy> {
    items: [(bool, T); MAX_ENTRIES],
    len: usize,
}

impl<T: Copy> Entries<T> {
    /// A value matches when some inclusion covers it (or there is none) and no
    /// exclusion does.
    fn matches(&self, covers: impl Fn(&T) -> bool) -> bool {
        let items = &self.items[..self.len];
        let included = items.iter().all(|(exclude, _)| *exclude) || items.iter().any(|(ex, t)| !ex && covers(t));
        included && !items.iter().any(|(ex, t)| *ex && covers(t))
    }

    /// Parses comma-separated entries, each optionally `!`-prefixed, with `one`.
    fn parse(text: &str, empty: T, one: impl Fn(&str) -> Option<T>) -> Result<Self, Errno> {
        let mut e = Self { items: [(false, empty); MAX_ENTRIES], len: 0 };
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            return Ok(e);
        }
        for item in text.split(',') {
            let item = item.trim_matches(|c: char| c.is_ascii_whitespace());
            let (exclude, body) = match item.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start_matches(|c: char| c.is_ascii_whitespace())),
                None => (false, item),
            };
            let value = one(body).ok_or(EINVAL)?;
            let slot = e.items.get_mut(e.len).ok_or(EINVAL)?;
            *slot = (exclude, value);
            e.len += 1;
        }
        Ok(e)
    }

    /// Prints the entries, `,`-separated, with `one`.
    fn print(&self, f: &mut fmt::Formatter<'_>, one: impl Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result) -> fmt::Result {
        for (i, (exclude, t)) in self.items[..self.len].iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if *exclude {
                f.write_str("!")?;
            }
            one(t, f)?;
        }
        Ok(())
    }
}

/// Ports (`net.infinisock.sdp_ports`): `80`, `8000-8999`, `!22`, comma-separated;
/// empty is every port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports(Entries<(u16, u16)>);

impl Ports {
    /// Every port.
    pub const ALL: Ports = Ports(Entries { items: [(false, (0, 0)); MAX_ENTRIES], len: 0 });

    /// Parses the sysctl's text: `EINVAL` for a port outside 1..=65535, a range whose
    /// end is below its start, anything else that is not a port, or more than
    /// [`MAX_ENTRIES`] entries.
    pub fn parse(text: &str) -> Result<Self, Errno> {
        Entries::parse(text, (0, 0), |s| {
            let (lo, hi) = match s.split_once('-') {
                Some((lo, hi)) => (port(lo)?, port(hi)?),
                None => (port(s)?, port(s)?),
            };
            (lo <= hi).then_some((lo, hi))
        })
        .map(Ports)
    }

    /// Whether the policy covers `port`.
    pub fn contains(&self, port: u16) -> bool {
        self.0.matches(|(lo, hi)| (*lo..=*hi).contains(&port))
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.print(f, |(lo, hi), f| if lo == hi { write!(f, "{}", lo) } else { write!(f, "{}-{}", lo, hi) })
    }
}

/// A port number 1..=65535, decimal, nothing else.
fn port(s: &str) -> Option<u16> {
    let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// An address prefix: `len` leading bits of `addr` (IPv4 in the first 4 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub v6: bool,
    pub addr: [u8; 16],
    pub len: u8,
}

impl Prefix {
    /// Whether the prefix covers an address of its version.
    fn covers(&self, v6: bool, addr: &[u8; 16]) -> bool {
        if v6 != self.v6 {
            return false;
        }
        let (full, rest) = (usize::from(self.len / 8), self.len % 8);
        if self.addr[..full] != addr[..full] {
            return false;
        }
        rest == 0 || (self.addr[full] ^ addr[full]) & (0xffu8 << (8 - rest)) == 0
    }

    /// Parses `a.b.c.d[/n]` or an IPv6 address `[/n]`; `EINVAL` (None) for bits set
    /// beyond the prefix length, as `ip route` refuses them.
    fn parse(s: &str) -> Option<Self> {
        let (addr_text, len_text) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let mut addr = [0u8; 16];
        let v6 = addr_text.contains(':');
        let max = if v6 {
            addr = parse_v6(addr_text)?;
            128
        } else {
            addr[..4].copy_from_slice(&parse_v4(addr_text)?);
            32
        };
        let len = match len_text {
            Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => l.parse::<u8>().ok()?,
            Some(_) => return None,
            None => max,
        };
        if len > max {
            return None;
        }
        let p = Prefix { v6, addr, len };
        // No host bits: the canonical form prints what was meant.
        let host_bits_clear = (0..16).all(|i| {
            let bit = i * 8;
            let keep = if usize::from(len) >= bit + 8 { 0xff } else if usize::from(len) <= bit { 0 } else { 0xffu8 << (8 - (usize::from(len) - bit)) };
            addr[i] & !keep == 0
        });
        host_bits_clear.then_some(p)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write_v6(f, &self.addr)?;
        } else {
            let a = &self.addr;
            write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])?;
        }
        write!(f, "/{}", self.len)
    }
}

/// A dotted-quad IPv4 address, each part decimal 0..=255 without leading zeros.
fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *b = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// An IPv6 address in RFC 4291 text form: eight groups of up to four hex digits, one
/// `::` for a run of zero groups, and a dotted-quad IPv4 address as the last 32 bits.
fn parse_v6(s: &str) -> Option<[u8; 16]> {
    let mut groups = [0u16; 8];
    let (head, tail) = match s.split_once("::") {
        Some((h, t)) => (h, Some(t)),
        None => (s, None),
    };
    // Parses `a:b:...` into groups; returns how many. A dotted quad may end the text.
    let parse_part = |text: &str, out: &mut [u16; 8], last: bool| -> Option<usize> {
        if text.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        let items: usize = text.split(':').count();
        for (i, g) in text.split(':').enumerate() {
            if last && i + 1 == items && g.contains('.') {
                let v4 = parse_v4(g)?;
                *out.get_mut(n)? = u16::from_be_bytes([v4[0], v4[1]]);
                *out.get_mut(n + 1)? = u16::from_be_bytes([v4[2], v4[3]]);
                n += 2;
                continue;
            }
            if g.is_empty() || g.len() > 4 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *out.get_mut(n)? = u16::from_str_radix(g, 16).ok()?;
            n += 1;
        }
        Some(n)
    };
    let mut front = [0u16; 8];
    let n_front = parse_part(head, &mut front, tail.is_none())?;
    match tail {
        None => {
            if n_front != 8 {
                return None;
            }
            groups = front;
        }
        Some(t) => {
            let mut back = [0u16; 8];
            let n_back = parse_part(t, &mut back, true)?;
            // `::` stands for at least one zero group.
            if n_front + n_back > 7 {
                return None;
            }
            groups[..n_front].copy_from_slice(&front[..n_front]);
            groups[8 - n_back..].copy_from_slice(&back[..n_back]);
        }
    }
    let mut out = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

/// An IPv6 address as RFC 5952 prints it: lowercase, no leading zeros, the longest
/// run (the first of equals) of two or more zero groups as `::`.
fn write_v6(f: &mut fmt::Formatter<'_>, a: &[u8; 16]) -> fmt::Result {
    let g: [u16; 8] = core::array::from_fn(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]));
    let (mut best, mut best_len, mut run) = (8, 1, 0);
    for i in 0..8 {
        run = if g[i] == 0 { run + 1 } else { 0 };
        if run > best_len {
            best_len = run;
            best = i + 1 - run;
        }
    }
    let mut i = 0;
    while i < 8 {
        if i == best {
            f.write_str("::")?;
            i += best_len;
            continue;
        }
        if i > 0 && i != best + best_len {
            f.write_str(":")?;
        }
        write!(f, "{:x}", g[i])?;
        i += 1;
    }
    Ok(())
}

/// Peer address prefixes (`net.infinisock.sdp_peers`): `10.0.0.0/8`, `fd00::/8`,
/// `!10.1.2.3` (a host), comma-separated; empty is every address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefixes(Entries<Prefix>);

impl Prefixes {
    /// Every address.
    pub const ALL: Prefixes =
        Prefixes(Entries { items: [(false, Prefix { v6: false, addr: [0; 16], len: 0 }); MAX_ENTRIES], len: 0 });

    /// Parses the sysctl's text: `EINVAL` for anything that is not an address with an
    /// optional prefix length, host bits beyond it, or more than [`MAX_ENTRIES`].
    pub fn parse(text: &str) -> Result<Self, Errno> {
        Entries::parse(text, Prefix { v6: false, addr: [0; 16], len: 0 }, Prefix::parse).map(Prefixes)
    }

    /// Whether the policy covers the peer `addr`. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`, an `AF_INET6` socket reaching an IPv4 peer) is its IPv4
    /// address.
    pub fn contains(&self, addr: &SockAddr) -> bool {
        let (v6, bytes) = match *addr {
            SockAddr::V4 { addr, .. } => (false, v4_bytes(addr)),
            SockAddr::V6 { addr, .. } if addr[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] => {
                (false, v4_bytes([addr[12], addr[13], addr[14], addr[15]]))
            }
            SockAddr::V6 { addr, .. } => (true, addr),
        };
        self.0.matches(|p| p.covers(v6, &bytes))
    }
}

fn v4_bytes(a: [u8; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&a);
    b
}

impl fmt::Display for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.print(f, |p, f| fmt::Display::fmt(p, f))
    }
}

/// What a namespace's policy says for a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub ports: Ports,
    pub peers: Prefixes,
}

impl Policy {
    /// Off: every TCP socket stays TCP.
    pub const OFF: Policy = Policy { mode: Mode { connect: false, listen: false }, ports: Ports::ALL, peers: Prefixes::ALL };

    /// Whether a connection to `peer` tries SDP first.
    pub fn connect_over_sdp(&self, peer: &SockAddr) -> bool {
        self.mode.connect && self.ports.contains(peer.port()) && self.peers.contains(peer)
    }

    /// Whether a listener on `port` also takes SDP connections. Listeners are chosen
    /// by port alone: their address is usually the wildcard, and the peers they will
    /// serve are not known yet.
    pub fn listen_over_sdp(&self, port: u16) -> bool {
        self.mode.listen && self.ports.contains(port)
    }
}
