// SPDX-License-Identifier: GPL-2.0
//! What `poll` reports in each phase and direction of a connection, as `tcp_poll` does.

use infinisock_proto::abi::*;
use infinisock_proto::conn_state::*;
use proptest::prelude::*;

fn connected() -> PollState {
    PollState {
        phase: Phase::Connected,
        error: false,
        acceptable: false,
        shutdown: 0,
        fin_received: false,
        unread: false,
        can_send: true,
        urgent: false,
    }
}

#[test]
fn an_idle_established_connection_is_writable_only() {
    assert_eq!(poll_mask(&connected()), POLLOUT | POLLWRNORM);
    assert_eq!(poll_mask(&PollState { can_send: false, ..connected() }), 0);
    assert_eq!(poll_mask(&PollState { unread: true, ..connected() }), POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

#[test]
fn the_peer_closing_makes_it_readable_with_rdhup_but_not_hung_up() {
    let m = poll_mask(&PollState { fin_received: true, can_send: false, ..connected() });
    assert_eq!(m, POLLIN | POLLRDNORM | POLLRDHUP);
    // Our side shut too: hung up, and writes fail at once (writable).
    let m = poll_mask(&PollState { fin_received: true, shutdown: SEND_SHUTDOWN, can_send: false, ..connected() });
    assert_eq!(m, POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLOUT | POLLWRNORM);
}

#[test]
fn a_reset_connection_is_hung_up_readable_writable_and_in_error() {
    let m = poll_mask(&PollState { phase: Phase::Closed, error: true, can_send: false, ..connected() });
    assert_eq!(m, POLLERR | POLLHUP | POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM);
}

#[test]
fn listeners_and_opens_in_progress() {
    let listening = PollState { phase: Phase::Listening, can_send: false, ..connected() };
    assert_eq!(poll_mask(&listening), 0);
    assert_eq!(poll_mask(&PollState { acceptable: true, ..listening }), POLLIN | POLLRDNORM);
    for phase in [Phase::Connecting, Phase::Accepting] {
        assert_eq!(poll_mask(&PollState { phase, ..connected() }), 0);
        assert_eq!(poll_mask(&PollState { phase, error: true, ..connected() }), POLLERR);
    }
    // Never connected: hung up.
    assert_eq!(poll_mask(&PollState { phase: Phase::Open, can_send: false, ..connected() }), POLLHUP);
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Open),
        Just(Phase::Listening),
        Just(Phase::Connecting),
        Just(Phase::Accepting),
        Just(Phase::Connected),
        Just(Phase::Closed),
    ]
}

proptest! {
    #[test]
    fn the_mask_follows_tcp_poll(
        phase in phase(), error: bool, acceptable: bool, shutdown in 0u8..4,
        fin_received: bool, unread: bool, can_send: bool, urgent: bool,
    ) {
        let s = PollState { phase, error, acceptable, shutdown, fin_received, unread, can_send, urgent };
        let m = poll_mask(&s);
        prop_assert_eq!(m & POLLERR != 0, error);
        // Only these bits, and each with its companion.
        prop_assert_eq!(m & !(POLLERR | POLLHUP | POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM | POLLPRI), 0);
        // Urgent data, on a socket that may have a connection.
        let connection = matches!(phase, Phase::Open | Phase::Connected | Phase::Closed);
        prop_assert_eq!(m & POLLPRI != 0, urgent && connection);
        prop_assert_eq!(m & POLLIN != 0, m & POLLRDNORM != 0);
        prop_assert_eq!(m & POLLOUT != 0, m & POLLWRNORM != 0);
        match phase {
            Phase::Listening => prop_assert_eq!(m & !POLLERR, if acceptable { POLLIN | POLLRDNORM } else { 0 }),
            Phase::Connecting | Phase::Accepting => prop_assert_eq!(m & !POLLERR, 0),
            _ => {
                let rcv_over = shutdown & RCV_SHUTDOWN != 0 || fin_received || phase == Phase::Closed;
                let snd_over = shutdown & SEND_SHUTDOWN != 0 || phase == Phase::Closed;
                // Readable exactly when data waits or the read side is over.
                prop_assert_eq!(m & POLLIN != 0, unread || rcv_over);
                prop_assert_eq!(m & POLLRDHUP != 0, rcv_over);
                // Writable when a send takes data, or fails at once.
                prop_assert_eq!(m & POLLOUT != 0, can_send || snd_over);
                prop_assert_eq!(m & POLLHUP != 0, (rcv_over && snd_over) || phase == Phase::Open);
            }
        }
    }
}

fn ending() -> impl Strategy<Value = Ending> {
    (any::<[bool; 7]>()).prop_map(|b| Ending {
        fin_sent: b[0],
        tx_idle: b[1],
        fin_received: b[2],
        unread: b[3],
        orphaned: b[4],
        peer_gone: b[5],
        disconnect_pending: b[6],
    })
}

#[test]
fn a_graceful_close_ends_when_both_disconns_are_through_and_all_is_read() {
    let done = Ending {
        fin_sent: true,
        tx_idle: true,
        fin_received: true,
        unread: false,
        orphaned: false,
        peer_gone: false,
        disconnect_pending: false,
    };
    assert!(finished(&done));
    // Data still unread keeps it, unless the socket is closed.
    assert!(!finished(&Ending { unread: true, ..done }));
    assert!(finished(&Ending { unread: true, orphaned: true, ..done }));
    // Our DisConn not yet completed: not over, unless the peer is gone and settled.
    assert!(!finished(&Ending { tx_idle: false, ..done }));
    assert!(finished(&Ending { tx_idle: false, peer_gone: true, ..done }));
    assert!(!finished(&Ending { tx_idle: false, peer_gone: true, disconnect_pending: true, ..done }));
}

proptest! {
    #[test]
    fn never_over_before_the_peer_disconn(e in ending()) {
        if !e.fin_received {
            prop_assert!(!finished(&e));
        }
        // Unread data is never dropped while a program can still read it.
        if e.unread && !e.orphaned {
            prop_assert!(!finished(&e));
        }
    }
}

mod endings {
    use infinisock_proto::conn_state::*;
    use infinisock_proto::errno::{Errno, ECONNRESET};

    #[test]
    fn a_flush_after_the_peers_disconn_is_graceful() {
        assert_eq!(flush_outcome(true, None), FlushOutcome::Graceful);
        assert_eq!(flush_outcome(true, Some(Errno(110))), FlushOutcome::GracefulPeerGone);
    }

    #[test]
    fn a_flush_before_it_fails_the_connection_as_the_send_said() {
        assert_eq!(flush_outcome(false, None), FlushOutcome::Failed(ECONNRESET));
        assert_eq!(flush_outcome(false, Some(Errno(110))), FlushOutcome::Failed(Errno(110)));
    }

    #[test]
    fn a_disconnect_after_disconn_closes_once_nothing_is_left_to_read() {
        assert_eq!(disconnect_outcome(true, false, false), DisconnectOutcome::Close);
        assert_eq!(disconnect_outcome(true, true, false), DisconnectOutcome::StayReadable);
        assert_eq!(disconnect_outcome(true, true, true), DisconnectOutcome::Close);
        for (unread, orphaned) in [(false, false), (true, false), (true, true)] {
            assert_eq!(disconnect_outcome(false, unread, orphaned), DisconnectOutcome::JudgeAtFlush);
        }
    }
}

mod closing {
    use infinisock_proto::abi::{SHUT_RD, SHUT_RDWR, SHUT_WR};
    use infinisock_proto::conn_state::*;
    use infinisock_proto::errno::EINVAL;

    const ALL: [Phase; 6] =
        [Phase::Open, Phase::Listening, Phase::Connecting, Phase::Accepting, Phase::Connected, Phase::Closed];

    #[test]
    fn shutdown_names_its_directions_and_refuses_anything_else() {
        assert_eq!(shutdown_directions(SHUT_RD), Ok(Directions { read: true, write: false }));
        assert_eq!(shutdown_directions(SHUT_WR), Ok(Directions { read: false, write: true }));
        assert_eq!(shutdown_directions(SHUT_RDWR), Ok(Directions { read: true, write: true }));
        for how in [-1, 3, 42, i32::MIN] {
            assert_eq!(shutdown_directions(how), Err(EINVAL));
        }
    }

    #[test]
    fn shutdown_by_phase_as_inet_shutdown() {
        for how in [SHUT_RD, SHUT_WR, SHUT_RDWR] {
            let dirs = shutdown_directions(how).unwrap();
            for phase in ALL {
                let step = shutdown_step(dirs, phase);
                let expected = match phase {
                    Phase::Connected | Phase::Closed => ShutdownStep::Shut(dirs),
                    // Only the reading side stops a listener.
                    Phase::Listening if how != SHUT_WR => ShutdownStep::StopListening,
                    _ => ShutdownStep::NotConnected,
                };
                assert_eq!(step, expected, "{how} in {phase:?}");
            }
        }
    }

    #[test]
    fn close_resets_only_a_connection_with_unread_data_or_zero_linger() {
        for held in [false, true] {
            assert_eq!(release_step(Phase::Connected, false, false, held), ReleaseStep::Graceful);
            assert_eq!(release_step(Phase::Connected, true, false, held), ReleaseStep::Reset);
            assert_eq!(release_step(Phase::Connected, false, true, held), ReleaseStep::Reset);
        }
        for phase in ALL.into_iter().filter(|p| *p != Phase::Connected) {
            for (unread, zero) in [(false, false), (true, true)] {
                assert_eq!(release_step(phase, unread, zero, true), ReleaseStep::Teardown);
                // Nothing set up: nothing to tear down (a listener or a passive
                // connection always holds its rdma_cm id).
                let nothing = matches!(phase, Phase::Open | Phase::Closed);
                let want = if nothing { ReleaseStep::Nothing } else { ReleaseStep::Teardown };
                assert_eq!(release_step(phase, unread, zero, false), want);
            }
        }
    }
}

mod failures_and_names {
    use infinisock_proto::conn_state::*;
    use infinisock_proto::errno::*;

    #[test]
    fn a_reset_after_the_peers_close_is_a_broken_pipe() {
        assert_eq!(failure_errno(ECONNRESET, true), EPIPE);
        assert_eq!(failure_errno(ECONNRESET, false), ECONNRESET);
        assert_eq!(failure_errno(ETIMEDOUT, true), ETIMEDOUT);
    }

    #[test]
    fn getpeername_knows_the_peer_of_a_connection_even_after_it_ended() {
        assert_eq!(peer_name(Phase::Connected, Some(1), Some(2)), Ok(1));
        assert_eq!(peer_name(Phase::Connected, None, Some(2)), Ok(2));
        assert_eq!(peer_name::<u8>(Phase::Connected, None, None), Err(ENOTCONN));
        assert_eq!(peer_name(Phase::Closed, None, Some(2)), Ok(2));
        assert_eq!(peer_name(Phase::Closed, Some(1), Some(2)), Ok(1));
        // A connection attempt that failed remembers no peer to report.
        assert_eq!(peer_name(Phase::Closed, Some(1), None), Err(ENOTCONN));
        for phase in [Phase::Open, Phase::Listening, Phase::Connecting, Phase::Accepting] {
            assert_eq!(peer_name(phase, Some(1), Some(2)), Err(ENOTCONN));
        }
    }
}
