// SPDX-License-Identifier: GPL-2.0
//! The rings a new connection asks for, and the checks of the peer's Hello/HelloAck.

use infinisock_proto::credits::MIN_RING;
use infinisock_proto::handshake::*;
use infinisock_proto::message::{ring_buffers, MAX_MESSAGE};
use infinisock_proto::ring::MAX_RING;
use infinisock_proto::wire::BSDH_LEN;
use proptest::prelude::*;

const DEFAULTS: RingTunables = RingTunables { recv_buffers: 16, send_buffers: 16, buffer_size: 32768 };

#[test]
fn the_tunables_unless_the_program_set_its_buffers() {
    assert_eq!(
        stream_rings(DEFAULTS, None, None),
        RingConfig { recv_buffers: 16, send_buffers: 16, buffer_size: 32768 }
    );
    // SO_RCVBUF of 4 buffers' worth, SO_SNDBUF of one.
    let cfg = stream_rings(DEFAULTS, Some(4 * 32768), Some(32768));
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
    let cfg = message_rings(DEFAULTS, Some(0), None, MAX_MESSAGE);
    assert_eq!(cfg.recv_buffers, MIN_RING);
}

#[test]
fn the_peer_offer_is_checked_alike_on_both_sides() {
    let t = peer_terms(16, 32768, 16).unwrap();
    assert_eq!(t.peer_msg_size, 32768);
    assert_eq!(t.credits.peer_bufs(), 16);
    assert_eq!(peer_terms(MIN_RING - 1, 32768, 16).unwrap_err(), TermsError::RingTooSmall(MIN_RING - 1));
    assert_eq!(peer_terms(16, 32768, MIN_RING - 1).unwrap_err(), TermsError::RingTooSmall(MIN_RING - 1));
    assert_eq!(peer_terms(16, BSDH_LEN as u32, 16).unwrap_err(), TermsError::NoPayload(BSDH_LEN as u32));
    assert_eq!(peer_terms(16, 0, 16).unwrap_err(), TermsError::NoPayload(0));
    assert_eq!(peer_terms(16, BSDH_LEN as u32 + 1, 16).unwrap().peer_msg_size, BSDH_LEN + 1);
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
        let cfg = stream_rings(RingTunables { recv_buffers: recv, send_buffers: send, buffer_size: size }, rcvbuf, sndbuf);
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
        let r = peer_terms(bufs, size, ours);
        prop_assert_eq!(r.is_ok(), usable);
        if let Ok(t) = r {
            prop_assert_eq!(t.peer_msg_size, size as usize);
        }
    }
}
