// SPDX-License-Identifier: GPL-2.0
//! AF_IB message sockets: the accepted IB_MAX_MSG_SIZE values and the ring sizing.

use infinisock_proto::credits::MIN_RING;
use infinisock_proto::errno::EINVAL;
use infinisock_proto::message::*;
use infinisock_proto::ring::MAX_RING;
use infinisock_proto::wire::BSDH_LEN;
use proptest::prelude::*;

#[test]
fn max_message_bounds() {
    assert_eq!(check_max_message(0), Err(EINVAL));
    assert_eq!(check_max_message(-1), Err(EINVAL));
    assert_eq!(check_max_message(1), Ok(1));
    assert_eq!(check_max_message(MAX_MESSAGE as i32), Ok(MAX_MESSAGE));
    assert_eq!(check_max_message(MAX_MESSAGE as i32 + 1), Err(EINVAL));
    assert_eq!(default_max_message(32768), 32768 - BSDH_LEN as u32);
}

#[test]
fn small_messages_get_more_buffers_for_the_same_memory() {
    let stream_ring = 16 * 32768;
    assert_eq!(ring_buffers(stream_ring, 32768 - BSDH_LEN as u32), 16);
    assert_eq!(ring_buffers(stream_ring, 64), MAX_RING as u16);
    assert_eq!(ring_buffers(stream_ring, MAX_MESSAGE), MIN_RING);
}

proptest! {
    #[test]
    fn ring_stays_in_bounds_and_within_memory(bytes in 0usize..1 << 26, max in 1u32..=MAX_MESSAGE) {
        let n = ring_buffers(bytes, max);
        prop_assert!(n >= MIN_RING && usize::from(n) <= MAX_RING);
        // Over the memory only when the minimum ring needs it.
        if n > MIN_RING {
            prop_assert!(usize::from(n) * (max as usize + BSDH_LEN) <= bytes);
        }
    }
}

mod delivery {
    use infinisock_proto::message::{deliver, Delivery};

    #[test]
    fn a_message_that_fits_is_copied_whole() {
        assert_eq!(deliver(10, 64, false), Delivery { copied: 10, truncated: false, returned: 10 });
        assert_eq!(deliver(0, 64, true), Delivery { copied: 0, truncated: false, returned: 0 });
    }

    #[test]
    fn the_rest_of_a_longer_message_is_dropped_and_flagged() {
        assert_eq!(deliver(100, 64, false), Delivery { copied: 64, truncated: true, returned: 64 });
        // MSG_TRUNC in the call's flags: the real length.
        assert_eq!(deliver(100, 64, true), Delivery { copied: 64, truncated: true, returned: 100 });
        assert_eq!(deliver(100, 0, true), Delivery { copied: 0, truncated: true, returned: 100 });
    }
}

mod read_steps {
    use infinisock_proto::conn_state::Phase;
    use infinisock_proto::message::*;
    use proptest::prelude::*;

    fn state(phase: Phase) -> MessageReadState {
        MessageReadState { phase, has_link: true, rcv_shut: false, queued: false, error: false, fin_received: false }
    }

    #[test]
    fn messages_before_errors_before_the_end() {
        let s = MessageReadState { queued: true, error: true, fin_received: true, ..state(Phase::Connected) };
        assert_eq!(message_read_step(&s), MessageStep::Take);
        assert_eq!(message_read_step(&MessageReadState { queued: false, ..s }), MessageStep::Error);
        assert_eq!(message_read_step(&MessageReadState { queued: false, error: false, ..s }), MessageStep::Eof);
        assert_eq!(message_read_step(&state(Phase::Connected)), MessageStep::Wait);
        // Messages of a connection that ended stay readable.
        let closed = MessageReadState { queued: true, ..state(Phase::Closed) };
        assert_eq!(message_read_step(&closed), MessageStep::Take);
        assert_eq!(message_read_step(&state(Phase::Closed)), MessageStep::Eof);
    }

    #[test]
    fn a_listener_or_a_socket_that_never_connected_is_not_connected() {
        assert_eq!(message_read_step(&state(Phase::Listening)), MessageStep::NotConnected);
        let never = MessageReadState { has_link: false, ..state(Phase::Open) };
        assert_eq!(message_read_step(&never), MessageStep::NotConnected);
        assert_eq!(message_read_step(&state(Phase::Connecting)), MessageStep::Wait);
    }

    proptest! {
        /// After `shutdown(SHUT_RD)` nothing is delivered and nobody waits.
        #[test]
        fn shut_for_reading_never_takes_or_waits(queued: bool, error: bool, fin: bool, connecting: bool) {
            let phase = if connecting { Phase::Connecting } else { Phase::Connected };
            let s = MessageReadState { rcv_shut: true, queued, error, fin_received: fin, ..state(phase) };
            let step = message_read_step(&s);
            prop_assert!(step == MessageStep::Error || step == MessageStep::Eof, "{:?}", step);
        }
    }
}
