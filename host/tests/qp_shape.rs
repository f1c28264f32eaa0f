// SPDX-License-Identifier: GPL-2.0
//! Queue pair shapes: every queue holds what its connection can post (the rings, the
//! probe, the drain's marker, and on AF_IB the RDMA requests), an SDP stream gets
//! nothing for RDMA, and on rdma_rxe the stream's queues are a fraction of AF_IB's.

use infinisock_proto::{
    handshake::RingConfig,
    qp_shape::{rxe, QpProfile, QpShape, SendSges, RD_ATOMIC, SHARED_END_MARKER, STREAM_INLINE},
    rdma::RDMA_REQUESTS,
    wire::BSDH_LEN,
};
use proptest::prelude::*;

fn rings(recv_buffers: u16, send_buffers: u16) -> RingConfig {
    RingConfig { recv_buffers, send_buffers, buffer_size: 32 * 1024, recv_start: recv_buffers.min(4) }
}

proptest! {
    #[test]
    fn every_queue_holds_what_its_connection_posts(recv in 3u16..1024, send in 1u16..1024) {
        let s = QpShape::new(QpProfile::Stream, rings(recv, send));
        // The send ring, the keepalive probe, the drain's marker.
        prop_assert_eq!(s.send_wrs, u32::from(send) + 2);
        prop_assert_eq!(s.recv_wrs, u32::from(recv) + 1);
        prop_assert_eq!(s.rdma_requests, 0);
        let a = QpShape::new(QpProfile::AfIb, rings(recv, send));
        prop_assert_eq!(a.send_wrs, u32::from(send) + 2 + RDMA_REQUESTS);
        prop_assert_eq!(a.recv_wrs, s.recv_wrs);
        prop_assert_eq!(a.rdma_requests, RDMA_REQUESTS);
        prop_assert!(rxe::qp_bytes(&s) < rxe::qp_bytes(&a));
    }
}

#[test]
fn a_stream_sends_one_sge_with_its_control_messages_inline() {
    let s = QpShape::new(QpProfile::Stream, rings(16, 16));
    assert_eq!(s.send_sges, SendSges::One);
    assert!(STREAM_INLINE as usize >= BSDH_LEN, "a control message is a bare header");
    let a = QpShape::new(QpProfile::AfIb, rings(16, 16));
    assert_eq!(a.send_sges, SendSges::DeviceMax);
    // Every connection answers RDMA READs: an AF_IB stream may be an IP stream's peer.
    assert_eq!(RD_ATOMIC, 16);
}

#[test]
fn rxe_sizes_its_queues_in_powers_of_two_and_whole_pages() {
    assert_eq!(rxe::send_entry(1, STREAM_INLINE), 256);
    assert_eq!(rxe::send_entry(16, 0), 464);
    // 17 entries take 32 slots; 64-byte entries fit one page with the header.
    assert_eq!(rxe::queue_bytes(17, 56), 4096);
    assert_eq!(rxe::queue_bytes(15, 256), 2 * 4096);
    assert_eq!(rxe::queue_bytes(16, 256), 3 * 4096);
}

#[test]
fn default_rings_on_rxe_stream_24_kib_against_af_ibs_180() {
    // The defaults: 16 receive and 12 send buffers (Documentation/sysctl.rst).
    let s = QpShape::new(QpProfile::Stream, rings(16, 12));
    let a = QpShape::new(QpProfile::AfIb, rings(16, 12));
    // Stream: send queue 2 pages, receive queue 1, send CQ 1, receive CQ 2.
    assert_eq!(rxe::qp_bytes(&s), 6 * 4096);
    // AF_IB (every connection's before the shapes): 33 + 1 + 9 + 2 pages.
    assert_eq!(rxe::qp_bytes(&a), 45 * 4096);
}

#[test]
fn default_send_queue_on_a_shared_receive_queue_takes_two_pages() {
    // With its end marker, the default stream's send queue stays within 15 entries,
    // the most two pages of rdma_rxe's 256-byte entries hold; 16 send buffers made it 3.
    let entry = rxe::send_entry(1, STREAM_INLINE);
    let s = QpShape::new(QpProfile::Stream, rings(16, 12));
    assert_eq!(rxe::queue_bytes(s.send_wrs + SHARED_END_MARKER, entry), 2 * 4096);
    let before = QpShape::new(QpProfile::Stream, rings(16, 16));
    assert_eq!(rxe::queue_bytes(before.send_wrs + SHARED_END_MARKER, entry), 3 * 4096);
}
