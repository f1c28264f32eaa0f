// SPDX-License-Identifier: GPL-2.0

//! What `/proc/net/infinisock/sdp` shows of a connection: one line per socket, its
//! addresses, phase, queues, credits, the flags of its end, its zero-copy threshold
//! and adverts and, for a hybrid stream, its path, in the layout the header names.

use core::fmt;

use super::{
    conn_state::Phase,
    hybrid::Path,
    sockaddr::SockAddr,
};

/// The table's first line.
pub const HEADER: &str = "local peer state rx_queue tx_queue credits peer_bufs posted flags zc_thresh zc_adverts path\n";

/// A socket's path in the table: `-` for an SDP or AF_IB socket, `undecided`, `sdp` or
/// `tcp/REASON` for a hybrid stream (whose TCP connection `ss -t` shows).
pub struct ProcPath(pub Option<Path>);

impl fmt::Display for ProcPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("-"),
            Some(Path::Undecided) => f.write_str("undecided"),
            Some(Path::Sdp) => f.write_str("sdp"),
            Some(Path::Tcp(why)) => write!(f, "tcp/{}", why.name()),
        }
    }
}

/// An address as the table shows it: `a.b.c.d:port`, `[x:x:x:x:x:x:x:x]:port` (every
/// group, none elided), or `*:*` for none.
pub struct ProcAddr(pub Option<SockAddr>);

impl fmt::Display for ProcAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("*:*"),
            Some(SockAddr::V4 { addr: a, port }) => write!(f, "{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], port),
            Some(SockAddr::V6 { addr: a, port, .. }) => {
                f.write_str("[")?;
                for (i, pair) in a.chunks(2).enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([pair[0], pair[1]]))?;
                }
                write!(f, "]:{}", port)
            }
        }
    }
}

/// A phase's name in the table.
pub fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Open => "open",
        Phase::Listening => "listen",
        Phase::Connecting => "connecting",
        Phase::Accepting => "accepting",
        Phase::Connected => "established",
        Phase::Closed => "closed",
    }
}

/// The data path of a connection that has a link.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkRow {
    /// Bytes received and not read.
    pub rx_queue: usize,
    /// Bytes written and not acknowledged (`SIOCOUTQ`).
    pub tx_queue: usize,
    /// Messages we may send now.
    pub credits: u32,
    /// Receive buffers the peer last said it had posted.
    pub peer_bufs: u32,
    /// Our receive buffers posted.
    pub posted: usize,
    /// A DisConn is owed (`p`), sent (`F`), received (`R`); the peer disconnected (`G`).
    pub fin_pending: bool,
    pub fin_sent: bool,
    pub fin_received: bool,
    pub peer_gone: bool,
    /// Blocking writes of this many bytes or more go as adverts (SrcAvail); `None`:
    /// none do (the socket turned zero-copy off, or the link does not advertise).
    pub zc_thresh: Option<u32>,
    /// `zc_thresh` is the connection's own choice (`SDP_ZCOPY_THRESH` -1).
    pub zc_adaptive: bool,
    /// Our adverts open.
    pub zc_adverts_out: usize,
    /// The peer's adverts open here.
    pub zc_adverts_in: usize,
}

/// A connection's zero-copy threshold in the table: `-` (none), `N`, or `auto:N`
/// for the connection's own choice.
pub struct ProcThresh(pub Option<u32>, pub bool);

impl fmt::Display for ProcThresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProcThresh(None, _) => f.write_str("-"),
            ProcThresh(Some(n), false) => write!(f, "{}", n),
            ProcThresh(Some(n), true) => write!(f, "auto:{}", n),
        }
    }
}

/// One line of the table (with its newline).
pub enum Row {
    /// A socket whose state could not be looked at without waiting: `busy`.
    Busy,
    /// A socket; `link` once it has one. `orphaned`: closed by its program (`O`);
    /// `path`: a hybrid stream's.
    Socket {
        local: Option<SockAddr>,
        peer: Option<SockAddr>,
        phase: Phase,
        orphaned: bool,
        link: Option<LinkRow>,
        path: Option<Path>,
    },
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, c: &'static str| if on { c } else { "-" };
        match self {
            Row::Busy => writeln!(f, "{} {} busy 0 0 0 0 0 ----- - - -", ProcAddr(None), ProcAddr(None)),
            Row::Socket { local, peer, phase, orphaned, link, path } => {
                write!(f, "{} {} {}", ProcAddr(*local), ProcAddr(*peer), phase_name(*phase))?;
                let l = link.unwrap_or_default();
                writeln!(
                    f,
                    " {} {} {} {} {} {}{}{}{}{} {} {}/{} {}",
                    l.rx_queue,
                    l.tx_queue,
                    l.credits,
                    l.peer_bufs,
                    l.posted,
                    flag(*orphaned, "O"),
                    flag(l.fin_pending, "p"),
                    flag(l.fin_sent, "F"),
                    flag(l.fin_received, "R"),
                    flag(l.peer_gone, "G"),
                    ProcThresh(l.zc_thresh, l.zc_adaptive),
                    l.zc_adverts_out,
                    l.zc_adverts_in,
                    ProcPath(*path),
                )
            }
        }
    }
}
