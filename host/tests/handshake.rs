// SPDX-License-Identifier: GPL-2.0
//! The rings a new connection asks for, and the checks of the peer's Hello/HelloAck.

use infinisock_proto::credits::MIN_RING;
use infinisock_proto::handshake::*;
use infinisock_proto::message::{ring_buffers, MAX_MESSAGE};
use infinisock_proto::ring::MAX_RING;
use infinisock_proto::wire::BSDH_LEN;
use proptest::prelude::*;

const DEFAULTS: RingTunables = RingTunables { recv_buffers: 16, send_buffers: 16, buffer_size: 32768, recv_floor: 4 };

#[test]
fn the_tunables_unless_the_program_set_its_buffers() {
    assert_eq!(
        stream_rings(DEFAULTS, None, None),
        RingConfig { recv_buffers: 16, send_buffers: 16, buffer_size: 32768, recv_start: 4 }
    );
    // SO_RCVBUF of 4 buffers' worth, SO_SNDBUF of one.
    let cfg = stream_rings(DEFAULTS, Some(4 * 32768), Some(32768));
    assert_eq!(cfg.recv_start, cfg.recv_buffers, "SO_RCVBUF fixes the window");
    assert_eq!((cfg.recv_buffers, cfg.send_buffers), (4, 1));
    // Too little for the credit scheme: its minimum; too much: the ring's maximum.
    assert_eq!(stream_rings(DEFAULTS, Some(1), Some(1)).recv_buffers, MIN_RING);
    assert_eq!(stream_rings(DEFAULTS, Some(1), Some(1)).send_buffers, 1);
    assert_eq!(stream_rings(DEFAULTS, Some(usize::MAX), None).recv_buffers, MAX_RING as u16);
}

#[test]
fn message_rings_hold_the_largest_message() {
    let cfg = message_rings(DEFAULTS, None, None, 1000);
    assert_eq!(cfg.buffer_size, 1000 + BSDH_LEN as u32);
    assert_eq!(cfg.recv_buffers, ring_buffers(16 * 32768, 1000));
    // Messages cannot be merged while the peer waits: the whole ring is posted.
    assert_eq!(cfg.recv_start, cfg.recv_buffers);
    let cfg = message_rings(DEFAULTS, Some(0), None, MAX_MESSAGE);
    assert_eq!(cfg.recv_buffers, MIN_RING);
}

#[test]
fn the_peer_offer_is_checked_alike_on_both_sides() {
    let t = peer_terms(16, 32768, ZcOffer::NONE, 16).unwrap();
    assert_eq!(t.peer_msg_size, 32768);
    assert_eq!(t.credits.peer_bufs(), 16);
    assert_eq!(peer_terms(MIN_RING - 1, 32768, ZcOffer::NONE, 16).unwrap_err(), TermsError::RingTooSmall(MIN_RING - 1));
    assert_eq!(peer_terms(16, 32768, ZcOffer::NONE, MIN_RING - 1).unwrap_err(), TermsError::RingTooSmall(MIN_RING - 1));
    assert_eq!(peer_terms(16, BSDH_LEN as u32, ZcOffer::NONE, 16).unwrap_err(), TermsError::NoPayload(BSDH_LEN as u32));
    assert_eq!(peer_terms(16, 0, ZcOffer::NONE, 16).unwrap_err(), TermsError::NoPayload(0));
    assert_eq!(peer_terms(16, BSDH_LEN as u32 + 1, ZcOffer::NONE, 16).unwrap().peer_msg_size, BSDH_LEN + 1);
}

proptest! {
    #[test]
    fn stream_rings_stay_in_bounds(
        recv in MIN_RING..=MAX_RING as u16,
        send in 1u16..=MAX_RING as u16,
        size in 1u32..1 << 20,
        rcvbuf in proptest::option::of(0usize..1 << 30),
        sndbuf in proptest::option::of(0usize..1 << 30),
    ) {
        let cfg = stream_rings(RingTunables { recv_buffers: recv, send_buffers: send, buffer_size: size, recv_floor: 4 }, rcvbuf, sndbuf);
        prop_assert!(cfg.recv_buffers >= MIN_RING && usize::from(cfg.recv_buffers) <= MAX_RING);
        prop_assert!(cfg.send_buffers >= 1 && usize::from(cfg.send_buffers) <= MAX_RING);
        prop_assert_eq!(cfg.buffer_size, size);
        // What the program asked for, rounded down to whole buffers, unless a bound applies.
        if let Some(b) = rcvbuf {
            let want = b / size as usize;
            if want >= usize::from(MIN_RING) && want <= MAX_RING {
                prop_assert_eq!(usize::from(cfg.recv_buffers), want);
            }
        } else {
            prop_assert_eq!(cfg.recv_buffers, recv);
        }
    }

    #[test]
    fn an_offer_is_taken_exactly_when_both_rings_and_the_buffers_are_usable(
        bufs in 0u16..300, size in 0u32..1 << 20, ours in 0u16..300,
    ) {
        let usable = bufs >= MIN_RING && ours >= MIN_RING && size as usize > BSDH_LEN;
        let r = peer_terms(bufs, size, ZcOffer::NONE, ours);
        prop_assert_eq!(r.is_ok(), usable);
        if let Ok(t) = r {
            prop_assert_eq!(t.peer_msg_size, size as usize);
        }
    }
}

mod hello_exchange {
    use infinisock_proto::credits::MIN_RING;
    use infinisock_proto::handshake::*;
    use infinisock_proto::recv_window::{initial_grant, RECV_FLOOR};
    use infinisock_proto::wire::{Hello, HelloAck, WireError, BSDH_LEN, ZC_SINKAVAIL};
    use proptest::prelude::*;

    const CFG: RingConfig = RingConfig { recv_buffers: 16, send_buffers: 8, buffer_size: 32768, recv_start: 4 };

    #[test]
    /// Both grant what the receive window starts with, not the whole ring.
    fn our_hello_offers_our_ring_and_buffers() {
        let h = Hello::decode(&hello(CFG, 6, 4242, ZcOffer::NONE)).unwrap();
        assert_eq!(
            h,
            Hello { ip_version: 6, max_adverts: 0, zc_flags: 0, desired_remote_rcv_size: 32768, local_rcv_size: 32768, bufs: RECV_FLOOR, port: 4242 }
        );
        let a = HelloAck::decode(&hello_ack(CFG, ZcOffer::NONE)).unwrap();
        assert_eq!(a, HelloAck { max_adverts: 0, zc_flags: 0, actual_rcv_size: 32768, bufs: RECV_FLOOR });
    }

    /// Zero-copy exists on a connection only where both sides offered adverts; each
    /// side's limit is the other's offer; SinkAvail goes only to a peer that accepts it
    /// (OFED never does), SrcAvail only to a peer that can READ.
    #[test]
    fn zero_copy_terms_from_both_offers() {
        let ofed = ZcOffer { max_adverts: 16, flags: 0 };
        let ours = ZcOffer { max_adverts: 8, flags: ZC_SINKAVAIL };
        for (a, b) in [(ZcOffer::NONE, ours), (ours, ZcOffer::NONE), (ZcOffer::NONE, ZcOffer::NONE)] {
            let t = zc_terms(a, b, 16);
            assert!(!t.negotiated());
            assert_eq!(t, ZcTerms::default());
        }
        let t = zc_terms(ours, ofed, 16);
        assert!(t.negotiated());
        assert_eq!((t.our_adverts, t.peer_adverts), (16, 8));
        assert!(t.src_avail && !t.sink_avail && t.peer_sink_avail);
        let t = zc_terms(ours, ours, 0);
        assert!(t.negotiated() && !t.src_avail && t.sink_avail && t.peer_sink_avail);
        let t = zc_terms(ofed, ours, 1);
        assert!(t.src_avail && t.sink_avail && !t.peer_sink_avail);
        // The offers travel in the Hello and HelloAck.
        let h = Hello::decode(&hello(CFG, 4, 1, ours)).unwrap();
        assert_eq!(hello_zc(&h), ours);
        assert_eq!(accept_hello_ack(&hello_ack(CFG, ofed), 8).unwrap().zc, ofed);
    }

    #[test]
    fn a_hello_ack_is_checked_as_a_hello_is() {
        let terms = accept_hello_ack(&hello_ack(CFG, ZcOffer::NONE), 8).unwrap();
        assert_eq!(terms.peer_msg_size, 32768);
        assert_eq!(terms.credits.peer_bufs(), u32::from(RECV_FLOOR));
        let tiny = RingConfig { recv_buffers: MIN_RING - 1, recv_start: MIN_RING - 1, ..CFG };
        assert_eq!(accept_hello_ack(&hello_ack(tiny, ZcOffer::NONE), 8).err(), Some(Refusal::Unusable(TermsError::RingTooSmall(MIN_RING - 1))));
        let empty = RingConfig { buffer_size: BSDH_LEN as u32, ..CFG };
        assert!(matches!(accept_hello_ack(&hello_ack(empty, ZcOffer::NONE), 8), Err(Refusal::Unusable(TermsError::NoPayload(_)))));
        assert!(matches!(accept_hello_ack(&hello(CFG, 4, 1, ZcOffer::NONE), 8), Err(Refusal::Malformed(_))));
        assert!(matches!(accept_hello_ack(&[], 8), Err(Refusal::Malformed(WireError::Short { .. }))));
    }

    proptest! {
        /// Whatever bytes a peer puts in the CM private data: a refusal or terms
        /// within what was offered, never a panic.
        #[test]
        fn any_private_data_is_refused_or_sane(data in proptest::collection::vec(any::<u8>(), 0..64), ring in 0u16..64) {
            if let Ok(t) = accept_hello_ack(&data, ring) {
                prop_assert!(t.peer_msg_size > BSDH_LEN);
                prop_assert!(t.credits.peer_bufs() >= u32::from(MIN_RING));
                prop_assert!(ring >= MIN_RING);
            }
        }

        /// What we send, the peer accepts, for every configuration it can take.
        #[test]
        fn our_hello_ack_is_accepted(bufs in MIN_RING..1000, size in (BSDH_LEN as u32 + 1)..(1 << 20)) {
            let cfg = RingConfig { recv_buffers: bufs, send_buffers: 1, buffer_size: size, recv_start: initial_grant(RECV_FLOOR, bufs, size) };
            let t = accept_hello_ack(&hello_ack(cfg, ZcOffer::NONE), MIN_RING).unwrap();
            prop_assert_eq!(t.peer_msg_size, size as usize);
            prop_assert_eq!(t.credits.peer_bufs(), u32::from(initial_grant(RECV_FLOOR, bufs, size)));
            prop_assert!(t.credits.peer_bufs() >= u32::from(MIN_RING));
        }
    }
}

mod cm_errors {
    use infinisock_proto::errno::*;
    use infinisock_proto::handshake::*;

    #[test]
    fn bind_refusals_as_tcp_says_them() {
        assert_eq!(bind_refusal(ENODEV, 0), BindRefusal::NoDevice);
        assert_eq!(bind_refusal(ENODEV, 80), BindRefusal::NoDevice);
        assert_eq!(bind_refusal(EADDRNOTAVAIL, 80), BindRefusal::PortOrAddress);
        // Any port: only the address can be wrong.
        assert_eq!(bind_refusal(EADDRNOTAVAIL, 0), BindRefusal::Other(EADDRNOTAVAIL));
        assert_eq!(bind_refusal(EADDRINUSE, 80), BindRefusal::Other(EADDRINUSE));
        assert_eq!(bind_refusal(EINVAL, 80), BindRefusal::Other(EINVAL));
    }

    #[test]
    fn no_device_on_the_route_is_an_unreachable_network() {
        assert_eq!(route_errno(ENODEV), ENETUNREACH);
        for e in [ETIMEDOUT, ECONNREFUSED, ENETUNREACH, EINVAL] {
            assert_eq!(route_errno(e), e);
        }
    }
}
