// SPDX-License-Identifier: GPL-2.0

//! What socket diagnostics report of an SDP socket: the queues of its `inet_diag_msg`
//! and its `struct infinisock_sdp_info` (uapi header), worked out from what the
//! endpoint holds, the same facts `/proc/net/infinisock/sdp` prints (`proc_row`).

use super::{
    conn_state::Phase,
    proc_row::LinkRow,
    sockaddr::{PortSpace, SockAddr, AF_IB, SOCKADDR_IB_LEN},
};

/// `INFINISOCK_DIAG_F_*` (the module checks they match the uapi header's).
pub const DIAG_F_BUSY: u32 = 0x01;
pub const DIAG_F_ORPHAN: u32 = 0x02;
pub const DIAG_F_FIN_PENDING: u32 = 0x04;
pub const DIAG_F_FIN_SENT: u32 = 0x08;
pub const DIAG_F_FIN_RCVD: u32 = 0x10;
pub const DIAG_F_PEER_GONE: u32 = 0x20;
pub const DIAG_F_ZC_ADAPTIVE: u32 = 0x40;

/// The RDMA device and queue pair behind a socket; zero where there is none yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verbs {
    /// NUL-terminated.
    pub device: [u8; 64],
    pub port: u32,
    pub gid: [u8; 16],
    pub qp_num: u32,
    pub peer_qp_num: u32,
    pub path_mtu: u32,
    pub max_inline: u32,
}

impl Default for Verbs {
    fn default() -> Self {
        Self { device: [0; 64], port: 0, gid: [0; 16], qp_num: 0, peer_qp_num: 0, path_mtu: 0, max_inline: 0 }
    }
}

/// A connection's rings: buffers each way and their size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rings {
    pub recv_bufs: usize,
    pub send_bufs: usize,
    pub buf_size: usize,
    /// Bytes of send buffers held now (taken as messages are written).
    pub send_buf_bytes: usize,
}

/// What the endpoint's lock protects, as a dump saw it.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub phase: Phase,
    /// Closed by its program.
    pub orphaned: bool,
    /// Once it has a link.
    pub link: Option<LinkRow>,
    pub rings: Option<Rings>,
    /// A listener's children queued and its backlog.
    pub listener: Option<(usize, usize)>,
}

/// What a socket says whether or not its state could be looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Always {
    /// A hybrid stream's path as `INFINISOCK_TRANSPORT` encodes it
    /// (`Path::option_value`); `None` for explicit SDP.
    pub transport: Option<u32>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// A hybrid on TCP: its TCP socket's cookie.
    pub tcp_cookie: u64,
}

/// `struct infinisock_sdp_info`, field for field (without the `isi_` prefix).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SdpInfo {
    pub flags: u32,
    pub phase: u32,
    pub transport: u32,
    pub credits: u32,
    pub peer_bufs: u32,
    pub posted: u32,
    pub recv_bufs: u32,
    pub send_bufs: u32,
    pub buf_size: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub tcp_cookie: u64,
    pub verbs: Verbs,
    pub send_buf_bytes: u64,
    pub zc_thresh: u32,
    pub zc_adverts_out: u32,
    pub zc_adverts_in: u32,
}

/// One socket's row: `inet_diag_msg`'s queues and the info.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiagRow {
    pub rqueue: u32,
    pub wqueue: u32,
    pub info: SdpInfo,
}

/// An AF_IB socket's two addresses (local, peer) as its sock_diag row carries them:
/// `struct sockaddr_ib` each, as `getsockname` and `getpeername` give them; an address
/// not known yet is AF_IB's with the rest zero.
pub fn ib_ends(local: Option<SockAddr>, peer: Option<SockAddr>, ps: PortSpace) -> [[u8; SOCKADDR_IB_LEN]; 2] {
    let encode = |a: Option<SockAddr>| {
        let mut out = [0; SOCKADDR_IB_LEN];
        match a {
            Some(a) => {
                a.encode_ib(ps, &mut out);
            }
            None => out[0..2].copy_from_slice(&AF_IB.to_ne_bytes()),
        }
        out
    };
    [encode(local), encode(peer)]
}

/// A count in a `__u32` field: saturated, as `ss` would rather show a large number
/// than a wrapped one.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl DiagRow {
    /// A socket whose owner was inside a call: what needs no lock, flagged busy.
    pub fn busy(always: Always) -> Self {
        Self { rqueue: 0, wqueue: 0, info: Self::base(always, DIAG_F_BUSY, 0) }
    }

    /// A socket as `snapshot` saw it, with its device and queue pair.
    pub fn of(snapshot: &Snapshot, always: Always, verbs: Verbs) -> Self {
        let link = snapshot.link.unwrap_or_default();
        let mut flags = 0;
        for (on, flag) in [
            (snapshot.orphaned, DIAG_F_ORPHAN),
            (link.fin_pending, DIAG_F_FIN_PENDING),
            (link.fin_sent, DIAG_F_FIN_SENT),
            (link.fin_received, DIAG_F_FIN_RCVD),
            (link.peer_gone, DIAG_F_PEER_GONE),
            (link.zc_thresh.is_some() && link.zc_adaptive, DIAG_F_ZC_ADAPTIVE),
        ] {
            if on {
                flags |= flag;
            }
        }
        let (rqueue, wqueue) = match snapshot.listener {
            Some((queued, backlog)) => (queued, backlog),
            None => (link.rx_queue, link.tx_queue),
        };
        let rings = snapshot.rings.unwrap_or_default();
        let mut info = Self::base(always, flags, u32::from(snapshot.phase.code()));
        info.credits = link.credits;
        info.peer_bufs = link.peer_bufs;
        info.posted = count(link.posted);
        info.recv_bufs = count(rings.recv_bufs);
        info.send_bufs = count(rings.send_bufs);
        info.buf_size = count(rings.buf_size);
        info.send_buf_bytes = rings.send_buf_bytes as u64;
        info.zc_thresh = link.zc_thresh.unwrap_or(0);
        info.zc_adverts_out = count(link.zc_adverts_out);
        info.zc_adverts_in = count(link.zc_adverts_in);
        info.verbs = verbs;
        Self { rqueue: count(rqueue), wqueue: count(wqueue), info }
    }

    fn base(always: Always, flags: u32, phase: u32) -> SdpInfo {
        SdpInfo {
            flags,
            phase,
            transport: always.transport.unwrap_or(0),
            bytes_sent: always.bytes_sent,
            bytes_received: always.bytes_received,
            tcp_cookie: always.tcp_cookie,
            ..SdpInfo::default()
        }
    }
}
