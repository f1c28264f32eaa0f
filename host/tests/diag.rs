// SPDX-License-Identifier: GPL-2.0
//! Socket diagnostics' rows: the queues `inet_diag_msg` carries (a stream's unread and
//! unacknowledged bytes, a listener's queued children and backlog, as `ss` shows TCP's),
//! the info's flags, phase and transport, and what a busy socket still reports.

use infinisock_proto::{
    conn_state::Phase,
    diag::*,
    hybrid::{Fallback, Path},
    proc_row::LinkRow,
    sockaddr::{PortSpace, SockAddr, AF_IB, SOCKADDR_IB_LEN},
};
use proptest::prelude::*;

fn snapshot(phase: Phase, link: Option<LinkRow>, listener: Option<(usize, usize)>) -> Snapshot {
    Snapshot {
        phase,
        orphaned: false,
        link,
        rings: link.map(|_| Rings { recv_bufs: 16, send_bufs: 16, buf_size: 32768, send_buf_bytes: 65536 }),
        listener,
    }
}

#[test]
fn a_listener_reports_its_queued_children_and_backlog() {
    let row = DiagRow::of(&snapshot(Phase::Listening, None, Some((3, 128))), Always::default(), Verbs::default());
    assert_eq!((row.rqueue, row.wqueue), (3, 128));
    assert_eq!(row.info.phase, 1);
    assert_eq!(row.info.flags, 0);
    assert_eq!((row.info.recv_bufs, row.info.buf_size), (0, 0));
}

#[test]
fn a_stream_reports_unread_and_unacknowledged_bytes_and_its_rings() {
    let link = LinkRow { rx_queue: 100, tx_queue: 7, credits: 5, peer_bufs: 9, posted: 16, ..Default::default() };
    let always = Always { transport: Some(Path::Sdp.option_value() as u32), bytes_sent: 1 << 40, bytes_received: 12, tcp_cookie: 0 };
    let mut verbs = Verbs::default();
    verbs.qp_num = 17;
    let row = DiagRow::of(&snapshot(Phase::Connected, Some(link), None), always, verbs);
    assert_eq!((row.rqueue, row.wqueue), (100, 7));
    let i = row.info;
    assert_eq!((i.phase, i.credits, i.peer_bufs, i.posted), (4, 5, 9, 16));
    assert_eq!((i.recv_bufs, i.send_bufs, i.buf_size), (16, 16, 32768));
    assert_eq!((i.transport, i.bytes_sent, i.bytes_received), (1, 1 << 40, 12));
    assert_eq!(i.verbs.qp_num, 17);
}

#[test]
fn a_busy_socket_reports_only_what_needs_no_lock() {
    let always = Always {
        transport: Some(Path::Tcp(Fallback::Refused).option_value() as u32),
        bytes_sent: 5,
        bytes_received: 6,
        tcp_cookie: 99,
    };
    let row = DiagRow::busy(always);
    assert_eq!(row.info.flags, DIAG_F_BUSY);
    assert_eq!(row.info.transport, 2 | 3 << 8);
    assert_eq!((row.info.bytes_sent, row.info.bytes_received, row.info.tcp_cookie), (5, 6, 99));
    assert_eq!((row.rqueue, row.wqueue, row.info.credits, row.info.phase), (0, 0, 0, 0));
}

#[test]
fn explicit_sdp_has_no_transport() {
    let row = DiagRow::of(&snapshot(Phase::Open, None, None), Always::default(), Verbs::default());
    assert_eq!(row.info.transport, 0);
}

#[test]
fn af_ib_rows_name_their_ends_as_getsockname_does() {
    let local = SockAddr::V4 { addr: [10, 77, 0, 1], port: 4791 };
    let peer = SockAddr::V6 { addr: [0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], port: 80, flowinfo: 0, scope_id: 0 };
    for ps in [PortSpace::Tcp, PortSpace::Ib] {
        let [l, p] = ib_ends(Some(local), Some(peer), ps);
        let (mut want_l, mut want_p) = ([0; SOCKADDR_IB_LEN], [0; SOCKADDR_IB_LEN]);
        assert_eq!(local.encode_for(AF_IB, ps, &mut want_l), SOCKADDR_IB_LEN);
        assert_eq!(peer.encode_for(AF_IB, ps, &mut want_p), SOCKADDR_IB_LEN);
        assert_eq!((l, p), (want_l, want_p));
    }
    // Not known yet: AF_IB's, the rest zero.
    let [l, p] = ib_ends(None, None, PortSpace::Tcp);
    assert_eq!(&l[..2], &AF_IB.to_ne_bytes());
    assert!(l[2..].iter().all(|&b| b == 0));
    assert_eq!(l, p);
}

#[test]
fn zero_copy_threshold_and_adverts() {
    let link = LinkRow { zc_thresh: Some(262144), zc_adaptive: true, zc_adverts_out: 3, zc_adverts_in: 1, ..Default::default() };
    let row = DiagRow::of(&snapshot(Phase::Connected, Some(link), None), Always::default(), Verbs::default());
    assert_eq!((row.info.zc_thresh, row.info.zc_adverts_out, row.info.zc_adverts_in), (262144, 3, 1));
    assert_eq!(row.info.flags, DIAG_F_ZC_ADAPTIVE);
    // Fixed by the program: no flag. None: 0, and no flag even for an adaptive socket.
    let fixed = LinkRow { zc_thresh: Some(65536), zc_adaptive: false, ..link };
    let row = DiagRow::of(&snapshot(Phase::Connected, Some(fixed), None), Always::default(), Verbs::default());
    assert_eq!((row.info.zc_thresh, row.info.flags & DIAG_F_ZC_ADAPTIVE), (65536, 0));
    let none = LinkRow { zc_thresh: None, ..link };
    let row = DiagRow::of(&snapshot(Phase::Connected, Some(none), None), Always::default(), Verbs::default());
    assert_eq!((row.info.zc_thresh, row.info.flags), (0, 0));
}

proptest! {
    /// Each flag is set exactly when its condition holds; counts too large for a
    /// `__u32` saturate rather than wrap.
    #[test]
    fn flags_follow_the_state_and_counts_saturate(
        orphaned: bool, fin_pending: bool, fin_sent: bool, fin_received: bool, peer_gone: bool,
        rx in 0usize..(1 << 34), tx in 0usize..(1 << 34), posted in 0usize..(1 << 34),
    ) {
        let link = LinkRow { rx_queue: rx, tx_queue: tx, posted, fin_pending, fin_sent, fin_received, peer_gone, ..Default::default() };
        let mut s = snapshot(Phase::Connected, Some(link), None);
        s.orphaned = orphaned;
        let row = DiagRow::of(&s, Always::default(), Verbs::default());
        let f = row.info.flags;
        prop_assert_eq!(f & DIAG_F_BUSY, 0);
        prop_assert_eq!(f & DIAG_F_ORPHAN != 0, orphaned);
        prop_assert_eq!(f & DIAG_F_FIN_PENDING != 0, fin_pending);
        prop_assert_eq!(f & DIAG_F_FIN_SENT != 0, fin_sent);
        prop_assert_eq!(f & DIAG_F_FIN_RCVD != 0, fin_received);
        prop_assert_eq!(f & DIAG_F_PEER_GONE != 0, peer_gone);
        let sat = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        prop_assert_eq!((row.rqueue, row.wqueue, row.info.posted), (sat(rx), sat(tx), sat(posted)));
    }
}
