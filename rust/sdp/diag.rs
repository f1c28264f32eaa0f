// SPDX-License-Identifier: GPL-2.0

//! What an SDP socket shows to its administrator: one line per socket of the namespace
//! in `/proc/net/infinisock/sdp` (addresses, state, the data path's queues and credits,
//! what `ss` shows for TCP, and its zero-copy threshold and adverts), and one row per
//! socket in a sock_diag dump (`kernel_api::diag`, `struct infinisock_sdp_info`). A
//! socket whose owner is inside a socket call at that moment shows as busy.

use core::sync::atomic::Ordering;

use kernel::{seq_file::SeqFile, seq_print};

use crate::{
    kernel_api::{
        diag::DiagSource,
        net::{Net, ProcShow, Shown},
        sock::{for_each_state, Sock},
    },
    proto::{
        diag::{ib_ends, Always, DiagRow, Rings, Snapshot, Verbs},
        hybrid::IPPROTO_SDP_HYBRID,
        proc_row::{LinkRow, Row, HEADER},
        sockaddr::SOCKADDR_IB_LEN,
    },
    sdp::{
        endpoint::{Endpoint, Inner, Phase},
        zcopy_tx,
    },
};

/// The `/proc/net/infinisock/sdp` file.
pub(crate) struct SdpList;

impl ProcShow for SdpList {
    fn show(m: &SeqFile, net: &Net) {
        seq_print!(m, "{}", HEADER);
        for_each_state::<Endpoint>(|sk, ep| {
            if !core::ptr::eq(sk.net().as_raw(), net.as_raw()) {
                return;
            }
            let row = look(sk, ep, |inner, snapshot| Row::Socket {
                local: inner.local_addr(),
                peer: inner.shown_peer(),
                phase: snapshot.phase,
                orphaned: snapshot.orphaned,
                link: snapshot.link,
                path: path_of(sk, inner),
            });
            seq_print!(m, "{}", Shown(row.unwrap_or(Row::Busy)));
        });
    }
}

/// sock_diag's rows of SDP sockets, explicit and hybrid, and of AF_IB sockets.
pub(crate) struct SdpDiag;

impl DiagSource for SdpDiag {
    type State = Endpoint;

    fn describe(sk: &Sock, ep: &Endpoint, detail: bool, af_ib: bool) -> (DiagRow, [[u8; SOCKADDR_IB_LEN]; 2]) {
        let always = Always {
            transport: (sk.protocol() == IPPROTO_SDP_HYBRID).then(|| ep.path_code.load(Ordering::Relaxed)),
            bytes_sent: ep.bytes_sent.load(Ordering::Relaxed),
            bytes_received: ep.bytes_received.load(Ordering::Relaxed),
            tcp_cookie: ep.tcp_cookie.load(Ordering::Relaxed),
        };
        let ps = ep.port_space();
        let described = look(sk, ep, |inner, snapshot| {
            let row = DiagRow::of(snapshot, always, if detail { verbs(inner) } else { Verbs::default() });
            // Inet sockets' addresses are in the sock (`Endpoint::publish`).
            let ends = if af_ib { ib_ends(inner.local_addr(), inner.shown_peer(), ps) } else { ib_ends(None, None, ps) };
            (row, ends)
        });
        described.unwrap_or_else(|| (DiagRow::busy(always), ib_ends(None, None, ps)))
    }
}

/// Calls `f` with the endpoint's state and its snapshot, unless its lock is taken.
///
/// Never waits for an endpoint with the socket list's lock held: its owner may be
/// inside a call that waits for a page fault userspace controls, and the list's lock
/// is what socket creation and teardown in every namespace take.
fn look<R>(sk: &Sock, ep: &Endpoint, f: impl FnOnce(&Inner, &Snapshot) -> R) -> Option<R> {
    let inner = ep.inner.try_lock()?;
    let link = inner.link.as_ref();
    let (zc_thresh, zc_adaptive) = zcopy_tx::shown_threshold(sk.net(), &inner);
    let snapshot = Snapshot {
        phase: inner.phase,
        orphaned: inner.orphaned,
        link: link.map(|link| {
            let s = &link.stream;
            let (credits, peer_bufs) = s.credits.as_ref().map_or((0, 0), |c| (c.available(), c.peer_bufs()));
            LinkRow {
                rx_queue: s.rx.bytes(),
                tx_queue: link.outq(),
                credits,
                peer_bufs,
                posted: link.qp.recv_posted(),
                fin_pending: s.fin_pending,
                fin_sent: s.fin_sent,
                fin_received: s.fin_received,
                peer_gone: s.peer_gone,
                zc_thresh,
                zc_adaptive,
                zc_adverts_out: link.zc_src.as_ref().map_or(0, |src| src.open_count()),
                zc_adverts_in: link.zc.as_ref().map_or(0, |flow| flow.adverts_open_count()),
            }
        }),
        rings: link.map(|link| Rings {
            recv_bufs: link.recv_ring(),
            send_bufs: link.tx_slots(),
            buf_size: link.buffer_size(),
            send_buf_bytes: link.send_buffer_bytes(),
        }),
        listener: (inner.phase == Phase::Listening).then(|| (inner.listen.queued(), inner.listen.backlog())),
    };
    Some(f(&inner, &snapshot))
}

/// A hybrid stream's path, or that of one its listener accepted.
fn path_of(sk: &Sock, inner: &Inner) -> Option<crate::proto::hybrid::Path> {
    (sk.protocol() == IPPROTO_SDP_HYBRID).then_some(inner.path)
}

/// The device and queue pair behind the endpoint, as `getsockopt(SOL_INFINISOCK)`
/// reports them.
fn verbs(inner: &Inner) -> Verbs {
    let Some(info) = inner.id.as_ref().map(|id| id.verbs_info(inner.link.as_ref().map(|l| l.qp.qp()))) else {
        return Verbs::default();
    };
    let mut v = Verbs::default();
    if info.has_device {
        v.device = info.device.map(|c| c as u8);
        v.port = info.port;
        v.gid = info.gid;
    }
    if info.has_qp {
        v.qp_num = info.qp_num;
        v.peer_qp_num = info.peer_qp_num;
        v.path_mtu = info.path_mtu;
        v.max_inline = info.max_inline;
    }
    v
}
