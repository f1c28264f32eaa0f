// SPDX-License-Identifier: GPL-2.0

//! Sending: the errors a send gets as TCP gives them, Nagle's rule, and the send
//! ring's account against a model.

use infinisock_proto::conn_state::{Phase, SEND_SHUTDOWN};
use infinisock_proto::errno::{Errno, ECONNRESET, ENOTCONN, EPIPE};
use infinisock_proto::send::*;
use proptest::prelude::*;
use std::collections::VecDeque;

const OK: SendCheck = SendCheck {
    phase: Phase::Connected,
    shutdown: 0,
    pending_error: 0,
    broken: false,
    fin_received: false,
    send_failed: None,
};

#[test]
fn a_connected_or_connecting_socket_may_send() {
    assert_eq!(send_verdict(&OK), Ok(()));
    assert_eq!(send_verdict(&SendCheck { phase: Phase::Connecting, ..OK }), Ok(()));
}

#[test]
fn the_pending_error_comes_first() {
    let c = SendCheck { pending_error: 110, shutdown: SEND_SHUTDOWN, broken: true, ..OK };
    assert_eq!(send_verdict(&c), Err(Errno(110)));
}

#[test]
fn after_shut_wr_or_the_end_a_send_is_a_broken_pipe() {
    assert_eq!(send_verdict(&SendCheck { shutdown: SEND_SHUTDOWN, ..OK }), Err(EPIPE));
    assert_eq!(send_verdict(&SendCheck { phase: Phase::Closed, ..OK }), Err(EPIPE));
}

#[test]
fn a_dead_connection_is_a_pipe_after_disconn_and_a_reset_before() {
    let dead = SendCheck { broken: true, ..OK };
    assert_eq!(send_verdict(&dead), Err(ECONNRESET));
    assert_eq!(send_verdict(&SendCheck { fin_received: true, ..dead }), Err(EPIPE));
    let timed_out = SendCheck { send_failed: Some(Errno(110)), ..dead };
    assert_eq!(send_verdict(&timed_out), Err(Errno(110)));
}

#[test]
fn a_socket_that_never_connected_is_not_connected() {
    for phase in [Phase::Open, Phase::Listening, Phase::Accepting] {
        assert_eq!(send_verdict(&SendCheck { phase, ..OK }), Err(ENOTCONN));
    }
}

#[test]
fn nagle_holds_small_writes_only_behind_data_in_flight() {
    // Nothing in flight, nothing staged: even a small write goes at once.
    assert!(!waits_for_nagle(true, false, true, 10, 100, true, 0));
    // Behind a send in flight, or behind staged bytes, it waits.
    assert!(waits_for_nagle(true, false, true, 10, 100, false, 0));
    assert!(waits_for_nagle(true, false, true, 10, 100, true, 5));
    // A message's worth never waits; nor anything with TCP_NODELAY, or before the
    // connection is up.
    assert!(!waits_for_nagle(true, false, true, 100, 100, false, 0));
    assert!(!waits_for_nagle(false, false, true, 10, 100, false, 0));
    assert!(!waits_for_nagle(true, false, false, 10, 100, false, 0));
    // While no message can go, a small write waits whatever the rule; a message's
    // worth still blocks.
    assert!(waits_for_nagle(false, true, true, 10, 100, true, 0));
    assert!(waits_for_nagle(true, true, true, 10, 100, true, 0));
    assert!(!waits_for_nagle(false, true, true, 100, 100, true, 0));
    assert!(!waits_for_nagle(false, true, false, 10, 100, true, 0));
    assert!(flush_staged_now(5, true, 10));
    assert!(flush_staged_now(5, false, 0));
    assert!(!flush_staged_now(5, false, 10));
    assert!(!flush_staged_now(0, true, 0));
}

proptest! {
    /// Posting and completing in any order the ring allows: free slots, idleness,
    /// the next slot and the unacknowledged bytes are the model's.
    #[test]
    fn the_send_ring_accounts_like_a_queue(slots in 1usize..9, ops in proptest::collection::vec(proptest::option::of(0u32..5000), 0..200)) {
        let mut ring = SendRing::new(vec![0u32; slots]);
        let mut model: VecDeque<u32> = VecDeque::new();
        let mut posted = 0usize;
        for op in ops {
            match op {
                Some(len) if model.len() < slots => {
                    prop_assert_eq!(ring.next_slot(), posted % slots);
                    ring.posted(len);
                    model.push_back(len);
                    posted += 1;
                }
                Some(_) => {}
                None => {
                    ring.completed();
                    model.pop_front();
                }
            }
            prop_assert_eq!(ring.free(), slots - model.len());
            prop_assert_eq!(ring.idle(), model.is_empty());
            prop_assert_eq!(ring.unacked(), model.iter().map(|&l| l as usize).sum::<usize>());
        }
    }
}
