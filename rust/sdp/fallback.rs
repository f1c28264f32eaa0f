// SPDX-License-Identifier: GPL-2.0

//! A hybrid stream's move to TCP (`IPPROTO_SDP_HYBRID`). When its RDMA attempt fails
//! for a reason `proto::hybrid::connect_failure` sends to TCP, the failure is not the
//! program's: the socket connects its inner TCP socket to the same peer instead.
//! Whichever comes first does it: the connecting call, if it is blocked waiting for
//! the attempt, or else the endpoint's teardown (a non-blocking connect that nobody
//! waits for). Until the move is made, the socket's poll mask is empty.

use kernel::prelude::*;

use crate::{
    proto::{
        abi::POLLOUT,
        conn_state::Phase,
        hybrid::{connect_failure, Fallback, Handover, Path},
        sockaddr::{PortSpace, SockAddr, SOCKADDR_MAX_LEN},
    },
    sdp::endpoint::{EpRef, Inner},
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
    moved(ep, why);
    ep.sk.wake(POLLOUT);
}

/// The peer's address as the socket's family spells it.
fn peer_address(ep: EpRef<'_>, peer: &SockAddr, out: &mut [u8; SOCKADDR_MAX_LEN]) -> usize {
    peer.encode_for(ep.sk.family(), PortSpace::Tcp, out)
}

/// Records the move for `INFINISOCK_TRANSPORT` and wakes a connecting call waiting
/// for it.
pub(crate) fn moved(ep: EpRef<'_>, why: Fallback) {
    ep.lock().path = Path::Tcp(why);
    ep.wake_all();
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
        Handover::Started => {
            let mut timeo = ep.sk.sndtimeo(false);
            while inner.path == Path::Undecided {
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
    inner.handover != Handover::Idle && inner.path == Path::Undecided
}
