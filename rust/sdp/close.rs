// SPDX-License-Identifier: GPL-2.0

//! Closing: `shutdown`, `release` (with `SO_LINGER`), the DisConn exchange that ends a
//! stream gracefully, and what a disconnect from the peer means.
//!
//! A graceful close is over when both sides have sent DisConn, our DisConn has
//! completed (the peer's adapter has it) and nothing is left unread; then the
//! connection is disconnected and torn down. A DisConnect from rdma_cm before the
//! peer's DisConn means the peer reset the connection.

use kernel::prelude::*;

use crate::{
    proto::{
        abi::{POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, TCP_FIN_WAIT1},
        conn_state::{
            disconnect_outcome, finished, flush_outcome, release_step, shutdown_directions, shutdown_step,
            DisconnectOutcome, Ending, FlushOutcome, ReleaseStep, ShutdownStep,
        },
        errno::Errno,
    },
    sdp::endpoint::{Endpoint, EpRef, Inner, Phase, RCV_SHUTDOWN, SEND_SHUTDOWN},
};

/// Starts the graceful close of our sending side: a DisConn goes out after the data
/// already posted, as soon as a credit allows.
fn shut_send(ep: EpRef<'_>, inner: &mut Inner) {
    inner.shutdown |= SEND_SHUTDOWN;
    if let Some(link) = inner.link.as_mut() {
        if inner.phase == Phase::Connected && !link.stream.fin_sent {
            link.stream.fin_pending = true;
            let res = link.flush_fin();
            crate::sdp::zcopy_rx::count_link_events(ep, link);
            if let Err(e) = res {
                ep.fail(inner, e);
                return;
            }
            crate::sdp::tx::retry_if_short(ep, inner);
            ep.sk.set_tcp_state(TCP_FIN_WAIT1);
        }
    }
}

/// Before anything else at `close()` and `shutdown()`: the peer loses its access to
/// the program's registered memory (`rdma`).
fn revoke_regions(inner: &mut Inner) {
    if let Some(link) = inner.link.as_mut() {
        link.rdma.regions.revoke();
    }
}

/// `shutdown`.
pub(crate) fn shutdown(ep: EpRef<'_>, how: i32) -> Result {
    let dirs = shutdown_directions(how).map_err(Errno::into_error)?;
    let mut guard = ep.lock_reaped();
    let inner = &mut *guard;
    revoke_regions(inner);
    match shutdown_step(dirs, inner.phase) {
        ShutdownStep::NotConnected => return Err(ENOTCONN),
        ShutdownStep::StopListening => {
            ep.close_and_teardown(inner);
            return Ok(());
        }
        ShutdownStep::Shut(dirs) => {
            if dirs.read {
                inner.shutdown |= RCV_SHUTDOWN;
                // Adverts of the peer's still open would wait for a reader for ever.
                if let Some(link) = inner.link.as_mut() {
                    let res = link.zc_shut_read();
                    crate::sdp::zcopy_rx::count_link_events(ep, link);
                    if let Err(e) = res {
                        ep.fail(inner, e);
                        return Ok(());
                    }
                }
                crate::sdp::tx::retry_if_short(ep, inner);
            }
            if dirs.write {
                shut_send(ep, inner);
            }
            ep.publish(inner);
        }
    }
    ep.wake(POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT);
    maybe_finish(ep, inner);
    Ok(())
}

/// The last close of the socket's file. The sock's state keeps the endpoint alive
/// until [`Endpoint`]'s teardown, which removes it because the endpoint is orphaned.
pub(crate) fn release(ep: EpRef<'_>) {
    let mut guard = ep.lock_reaped();
    let inner = &mut *guard;
    revoke_regions(inner);
    // An advert of the peer's still open here is data not read too.
    let unread = inner.link.as_ref().is_some_and(|l| l.stream.has_unread() || l.zc_open());
    let zero_linger = ep.sk.linger() == Some(0);
    let holds_resources = inner.id.is_some() || inner.link.is_some() || (inner.tearing_down && !inner.torn_down);
    let step = release_step(inner.phase, unread, zero_linger, holds_resources);
    if step == ReleaseStep::Nothing {
        // Nothing to tear down, and no event can schedule a teardown any more.
        ep.set_phase(inner, Phase::Closed);
        ep.sk.set_tcp_state(crate::proto::abi::TCP_CLOSE);
        inner.tearing_down = true;
        inner.torn_down = true;
    }
    let take_state = ep.orphan(inner);
    // A socket that never connected gives its port back before close() returns.
    let mut wait_for_teardown = false;
    match step {
        ReleaseStep::Nothing => {}
        ReleaseStep::Reset => {
            if let Some(link) = inner.link.as_mut() {
                link.send_abort();
            }
            ep.close_and_teardown(inner);
        }
        ReleaseStep::Graceful => {
            shut_send(ep, inner);
            maybe_finish(ep, inner);
            if inner.phase == Phase::Connected {
                ep.start_fin_timer();
            }
        }
        ReleaseStep::Teardown => {
            ep.close_and_teardown(inner);
            wait_for_teardown = true;
        }
    }
    // SO_LINGER {1, t}: close returns once everything sent, DisConn included, has
    // reached the peer's adapter, or after t.
    if let Some(mut timeo) = ep.sk.linger().filter(|t| *t > 0) {
        let delivered = |i: &Inner| i.link.as_ref().is_none_or(|l| l.stream.fin_sent && l.tx_idle());
        while guard.phase == Phase::Connected && !delivered(&guard) {
            if ep.wait(&mut guard, &mut timeo).is_err() {
                break;
            }
        }
    }
    drop(guard);
    if wait_for_teardown {
        // The teardown sees the endpoint orphaned and removes the sock's state itself.
        ep.wait_for_teardown();
    }
    ep.sk.orphan();
    if take_state {
        drop(ep.sk.take_state::<Endpoint>());
    }
}

/// Ends the connection once both DisConns are through and nothing is left to read.
pub(crate) fn maybe_finish(ep: EpRef<'_>, inner: &mut Inner) {
    if inner.phase != Phase::Connected {
        return;
    }
    let Some(link) = inner.link.as_ref() else { return };
    let s = &link.stream;
    let ending = Ending {
        fin_sent: s.fin_sent,
        tx_idle: link.tx_idle(),
        fin_received: s.fin_received,
        unread: s.has_unread() || link.zc_user_pending(),
        orphaned: inner.orphaned,
        peer_gone: s.peer_gone,
        disconnect_pending: s.disconnect_pending(),
    };
    if finished(&ending) {
        ep.close_and_teardown(inner);
    }
}

/// How long a peer's disconnect waits for our RDMA operations in flight.
///
/// A peer that refuses an access sends its NAK, then fails its QP and disconnects. The
/// NAK reaches our device before the disconnect reaches us, but the two are handled
/// on separate paths, and the disconnect can win: moving our QP to the error state
/// then would flush the operation, reported as cancelled instead of refused. Waiting
/// for the operations (or this long, for a peer that answers nothing) lets each
/// report what the peer did.
const RDMA_SETTLE_MS: u32 = 250;

/// rdma_cm: the peer disconnected (or the connection broke).
pub(crate) fn on_disconnected(ep: EpRef<'_>) {
    let mut guard = ep.lock_reaped();
    let inner = &mut *guard;
    // The peer gave up before the connection was established on our side (its DREQ
    // instead of the RTU, or an RTU that was lost): a reset. A passive connection
    // leaves its listener's queue with the teardown, which returns its backlog slot.
    if matches!(inner.phase, Phase::Accepting | Phase::Connecting) {
        ep.fail(inner, ECONNRESET);
        return;
    }
    let Some(link) = inner.link.as_mut() else {
        ep.close_and_teardown(inner);
        return;
    };
    link.stream.peer_gone = true;
    if link.ops_in_flight() && inner.phase == Phase::Connected {
        ep.start_settle_timer(RDMA_SETTLE_MS);
        return;
    }
    peer_disconnected(ep, inner);
    judge_unflushed(ep, inner);
}

/// An RDMA operation completed (in a reap), or the settle timer ran out (`expired`,
/// with the lock of a reaped endpoint): handles a peer's disconnect that waited for
/// the operations.
pub(crate) fn rdma_settled(ep: EpRef<'_>, inner: &mut Inner, expired: bool) {
    let Some(link) = inner.link.as_mut() else { return };
    if !link.stream.disconnect_pending() || (link.ops_in_flight() && !expired) {
        return;
    }
    if inner.phase == Phase::Connected {
        peer_disconnected(ep, inner);
        // In a reap, its end judges.
        if expired {
            judge_unflushed(ep, inner);
        }
    }
}

/// A send failed with `err` on an established connection: the QP is in the error
/// state. The peer may have sent its DisConn and closed its QP while our message (a
/// credit update, say) was on the way; its messages before that, the DisConn too, may
/// still wait in the receive CQ ahead of the flushed receives. The first flushed
/// receive judges ([`flushed`]), or, with no receive posted, [`judge_unflushed`] at
/// the end of the reap.
pub(crate) fn send_failed(inner: &mut Inner, err: Error) {
    let Some(link) = inner.link.as_mut() else { return };
    if link.stream.send_failed.is_some() {
        return;
    }
    link.stream.send_failed = Some(Errno(-err.to_errno()));
    link.stream.qp_dead = true;
}

/// An established connection whose QP is in the error state, waiting for a flushed
/// receive to judge how it ended: with no receive posted none will come (the peer
/// filled every credit, or the last posted ones completed with its messages). Called
/// only once every completion polled has been handled (at the end of a reap, or with
/// the lock of a reaped endpoint outside one): a receive polled but not handled yet
/// (the peer's DisConn, say) is no longer counted as posted.
pub(crate) fn judge_unflushed(ep: EpRef<'_>, inner: &mut Inner) {
    let waiting = inner.phase == Phase::Connected
        && inner.link.as_ref().is_some_and(|l| l.stream.qp_dead && l.qp.recv_posted() == 0);
    if waiting {
        flushed(ep, inner);
    }
}

/// The QP of an established connection flushed a receive: everything the peer sent
/// was handled. After its DisConn the end is graceful: what is unread stays readable,
/// then EOF; before it, the connection was reset, or failed as a send said.
pub(crate) fn flushed(ep: EpRef<'_>, inner: &mut Inner) {
    let Some(link) = inner.link.as_mut() else { return };
    let send_failed = link.stream.send_failed;
    match flush_outcome(link.stream.fin_received, send_failed) {
        FlushOutcome::Graceful => {}
        FlushOutcome::GracefulPeerGone => peer_disconnected(ep, inner),
        FlushOutcome::Failed(e) => ep.fail(inner, e.into_error()),
    }
}

/// What the peer's disconnect means for a connection whose RDMA operations have
/// settled.
fn peer_disconnected(ep: EpRef<'_>, inner: &mut Inner) {
    let Some(link) = inner.link.as_mut() else { return };
    link.stream.qp_dead = true;
    match disconnect_outcome(link.stream.fin_received, link.stream.has_unread(), inner.orphaned) {
        DisconnectOutcome::Close => ep.close_and_teardown(inner),
        DisconnectOutcome::StayReadable => ep.wake(POLLIN | POLLRDNORM | POLLRDHUP),
        DisconnectOutcome::JudgeAtFlush => {
            // The first flushed receive (`sdp::rx`) comes after all of the peer's
            // messages; with none posted, `judge_unflushed` judges instead.
            if let Some(id) = inner.id.as_ref() {
                // A refused move: the teardown's drain moves the QP once more.
                let _ = id.disconnect(Some(link.qp.qp()));
            }
            ep.wake_all();
        }
    }
}
