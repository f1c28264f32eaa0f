// SPDX-License-Identifier: GPL-2.0

//! A hybrid stream's move to TCP (`IPPROTO_SDP_HYBRID`). When its RDMA attempt fails
//! for a reason `proto::hybrid::connect_failure` sends to TCP, the failure is not the
//! program's: the socket connects its inner TCP socket to the same peer instead.
//! Whichever comes first does it: the connecting call, if it is blocked waiting for
//! the attempt, or else the endpoint's teardown (a non-blocking connect that nobody
//! waits for). Until the move is made, the socket's poll mask is empty.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::{
    kernel_api::trace,
    proto::{
        abi::POLLOUT,
        conn_state::Phase,
        hybrid::{connect_failure, Fallback, Handover, Path},
        sockaddr::{PortSpace, SockAddr, SOCKADDR_MAX_LEN},
    },
    sdp::endpoint::{work_id, EpRef, Inner},
};

/// From [`super::endpoint::Endpoint::fail`]: whether the failure of a connection
/// attempt is a hybrid's move to TCP (then no error is recorded for the program).
pub(crate) fn on_connect_failure(ep: EpRef<'_>, inner: &mut Inner, err: Error) -> bool {
    if inner.phase != Phase::Connecting || inner.handover != Handover::Idle || !ep.sk.is_undecided_hybrid() {
        return false;
    }
    match connect_failure(err.into()) {
        Ok(why) => {
            inner.handover = Handover::Pending(why);
            true
        }
        Err(_) => false,
    }
}

/// From the endpoint's teardown: makes the move to TCP if nobody has.
pub(crate) fn after_teardown(ep: EpRef<'_>) {
    let (why, peer) = {
        let mut inner = ep.lock();
        match inner.handover {
            Handover::Pending(why) if !inner.orphaned => {
                inner.handover = Handover::Started;
                (why, inner.peer)
            }
            _ => return,
        }
    };
    // The path first: once the TCP connect is started, the program may ask for it.
    ep.set_path(&mut ep.lock(), Path::Tcp(why));
    let res = match peer {
        Some(peer) => {
            let mut addr = [0u8; SOCKADDR_MAX_LEN];
            let len = peer_address(ep, &peer, &mut addr);
            ep.sk.connect_inner_async(&addr[..len])
        }
        None => Err(EINVAL),
    };
    match res {
        Ok(()) => {}
        // In progress; or the socket was closed meanwhile.
        Err(e) if e == EINPROGRESS || e == ENOTCONN => {}
        // TCP failed at once (no route, say): the program reads it in SO_ERROR.
        Err(e) => ep.sk.set_err(-e.to_errno()),
    }
    moved(ep, why, peer.as_ref(), true);
    ep.sk.wake(POLLOUT);
}

/// Records that the socket is moving to TCP for `why`, before its TCP connect starts.
pub(crate) fn moving_for(ep: EpRef<'_>, why: Fallback) {
    ep.set_path(&mut ep.lock(), Path::Tcp(why));
}

/// The peer's address as the socket's family spells it.
fn peer_address(ep: EpRef<'_>, peer: &SockAddr, out: &mut [u8; SOCKADDR_MAX_LEN]) -> usize {
    peer.encode_for(ep.sk.family(), PortSpace::Tcp, out)
}

/// Records the move as made (its TCP connect started) and wakes a connecting call
/// waiting for it. A connection to `peer` is counted, and with `remember` the peer is
/// reached over TCP at once for a while (`netns::hybrid`).
pub(crate) fn moved(ep: EpRef<'_>, why: Fallback, peer: Option<&SockAddr>, remember: bool) {
    let mut inner = ep.lock();
    ep.set_path(&mut inner, Path::Tcp(why));
    inner.handover = Handover::Done;
    drop(inner);
    ep.tcp_cookie.store(ep.sk.inner_cookie(), Ordering::Relaxed);
    ep.wake_all();
    if trace::fallback_enabled() {
        let (addr, port) = SockAddr::mapped_v6_or_unspecified(peer.copied());
        trace::fallback(&ep.sk, &(addr, port), why as u8);
    }
    if peer.is_some() {
        crate::netns::hybrid::chose(ep.sk.net(), peer, Path::Tcp(why), remember);
    }
}

/// A hybrid connection established over SDP (from the CM's Established event).
pub(crate) fn on_established(ep: EpRef<'_>, inner: &mut Inner) {
    ep.set_path(inner, Path::Sdp);
    ep.sk.leave_inner();
    ep.cancel_timer::<{ work_id::CONNECT_TIMER }>();
    crate::netns::hybrid::chose(ep.sk.net(), inner.peer.as_ref(), Path::Sdp, false);
}

/// Bounds a hybrid's RDMA attempt (`net.infinisock.sdp_connect_timeout`): from the
/// start of its `connect()`.
pub(crate) fn start_connect_timer(ep: EpRef<'_>) {
    let ms = crate::netns::tunables::tunable(ep.sk.net(), crate::proto::tunables::TunableId::SdpConnectTimeout);
    ep.start_connect_timer(u32::try_from(ms).unwrap_or(u32::MAX));
}

/// The bound ran out: an attempt still connecting fails as timed out, which moves the
/// socket to TCP.
pub(crate) fn connect_timer_expired(ep: EpRef<'_>) {
    let mut inner = ep.lock();
    if inner.phase == Phase::Connecting {
        ep.fail(&mut inner, ETIMEDOUT);
    }
}

/// For a connecting call whose RDMA attempt ended in `err`: `Some(why)` if the caller
/// must move the socket to TCP itself; `None` if the teardown has already moved it
/// (this waits until it has); the error if it is the program's.
pub(crate) fn take_over(ep: EpRef<'_>, err: Error) -> Result<Option<Fallback>> {
    let mut inner = ep.lock();
    match inner.handover {
        Handover::Pending(why) => {
            inner.handover = Handover::Started;
            Ok(Some(why))
        }
        Handover::Started | Handover::Done => {
            let mut timeo = ep.sk.sndtimeo(false);
            while inner.handover == Handover::Started {
                ep.wait(&mut inner, &mut timeo)?;
            }
            Ok(None)
        }
        Handover::Idle => match connect_failure(err.into()) {
            Ok(why) => {
                inner.handover = Handover::Started;
                Ok(Some(why))
            }
            Err(e) => Err(e.into_error()),
        },
    }
}

/// Whether the socket's poll mask must stay empty: its move to TCP is under way.
pub(crate) fn moving(inner: &Inner) -> bool {
    matches!(inner.handover, Handover::Pending(_) | Handover::Started)
}
