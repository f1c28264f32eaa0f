// SPDX-License-Identifier: GPL-2.0

//! A connection's phases and what calls and events do in each, as TCP decides them:
//! the poll mask (`tcp_poll`), `connect()`, `shutdown()` and the last `close()`, what
//! a rejection, a flush or the peer's disconnect means, when the end is through, the
//! error a failing connection reports and the peer `getpeername()` names.

use super::abi::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI, POLLRDHUP, POLLRDNORM, POLLWRNORM};

/// Where a connection is in its life. The numbers are the `infinisock_state`
/// tracepoint's (`kernel_api/c/infinisock_trace.h` names them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// New, or bound: no connection attempt yet.
    Open = 0,
    /// Listening for connection requests.
    Listening = 1,
    /// Active open in progress: resolving address and route, or waiting for the REP.
    Connecting = 2,
    /// Passive open: the REP is sent, waiting for the RTU (not yet acceptable).
    Accepting = 3,
    /// Established: data flows.
    Connected = 4,
    /// Over: torn down, failed or reset. Only reads of what already arrived and
    /// `close` remain.
    Closed = 5,
}

impl Phase {
    /// The phase's number in trace events.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// `shutdown()` directions, as in `sk_shutdown`.
pub const RCV_SHUTDOWN: u8 = 1;
/// See [`RCV_SHUTDOWN`].
pub const SEND_SHUTDOWN: u8 = 2;

/// What a socket's poll mask depends on.
#[derive(Clone, Copy, Debug)]
pub struct PollState {
    pub phase: Phase,
    /// A pending socket error, or a record on the error queue.
    pub error: bool,
    /// A listener: a connection waits to be accepted.
    pub acceptable: bool,
    /// `shutdown()` directions the program asked for (`RCV_SHUTDOWN`, `SEND_SHUTDOWN`).
    pub shutdown: u8,
    /// The peer's DisConn arrived: it sends nothing more.
    pub fin_received: bool,
    /// Bytes, or a message (empty ones too), not read yet.
    pub unread: bool,
    /// A send would take data now (credits, a free send buffer).
    pub can_send: bool,
    /// An urgent byte waits for `recv(MSG_OOB)`.
    pub urgent: bool,
}

/// The poll mask: readable with data, at the end of the stream or with a connection to
/// accept; writable when a send takes data or can only fail at once; hung up when
/// both directions are over or the socket never connected.
pub fn poll_mask(s: &PollState) -> u32 {
    let mut mask = if s.error { POLLERR } else { 0 };
    match s.phase {
        Phase::Listening => {
            if s.acceptable {
                mask |= POLLIN | POLLRDNORM;
            }
            return mask;
        }
        Phase::Connecting | Phase::Accepting => return mask,
        Phase::Open | Phase::Connected | Phase::Closed => {}
    }
    let rcv_shut = s.shutdown & RCV_SHUTDOWN != 0 || s.phase == Phase::Closed || s.fin_received;
    let snd_shut = s.shutdown & SEND_SHUTDOWN != 0 || s.phase == Phase::Closed;
    if (rcv_shut && snd_shut) || s.phase == Phase::Open {
        mask |= POLLHUP;
    }
    if rcv_shut {
        mask |= POLLIN | POLLRDNORM | POLLRDHUP;
    }
    if s.unread {
        mask |= POLLIN | POLLRDNORM;
    }
    if snd_shut || s.can_send {
        mask |= POLLOUT | POLLWRNORM;
    }
    if s.urgent {
        mask |= POLLPRI;
    }
    mask
}

/// Where the end of an established connection stands.
#[derive(Clone, Copy, Debug)]
pub struct Ending {
    /// Our DisConn went out...
    pub fin_sent: bool,
    /// ...and every send has completed.
    pub tx_idle: bool,
    /// The peer's DisConn arrived.
    pub fin_received: bool,
    /// Something arrived that nobody read yet.
    pub unread: bool,
    /// The program closed the socket: nobody will read it.
    pub orphaned: bool,
    /// rdma_cm reported the peer's disconnect...
    pub peer_gone: bool,
    /// ...which still waits for our RDMA operations to settle.
    pub disconnect_pending: bool,
}

/// Whether the connection is over and may be torn down: the peer's DisConn arrived,
/// nothing is left to read (or nobody will read it), and our side is through too: our
/// DisConn was sent and completed, or the peer is gone (after its disconnect nothing
/// more can be sent, once our RDMA operations have settled).
pub fn finished(e: &Ending) -> bool {
    let read_done = !e.unread || e.orphaned;
    let sent_done = e.fin_sent && e.tx_idle;
    let peer_done = e.peer_gone && !e.disconnect_pending;
    read_done && e.fin_received && (sent_done || peer_done)
}

/// What a `connect()` call does in a phase (`tcp_v4_connect` and `inet_stream_connect`
/// decide the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectStep {
    /// Start the attempt (resolve the address), then wait for it unless non-blocking.
    Start,
    /// An attempt is on: wait for it.
    Wait,
    /// Refused with this error.
    Fail(super::errno::Errno),
    /// The connection ended: report its pending error once, else `EISCONN`.
    Ended,
}

/// See [`ConnectStep`]. `unicast_peer`: the destination is a unicast address of
/// another host (loopback, wildcard, multicast and broadcast are unreachable for SDP).
pub fn connect_step(phase: Phase, nonblock: bool, unicast_peer: bool) -> ConnectStep {
    use super::errno::{EALREADY, EINVAL, EISCONN, ENETUNREACH};
    match phase {
        Phase::Open if !unicast_peer => ConnectStep::Fail(ENETUNREACH),
        Phase::Open => ConnectStep::Start,
        Phase::Connecting if nonblock => ConnectStep::Fail(EALREADY),
        Phase::Connecting => ConnectStep::Wait,
        Phase::Connected => ConnectStep::Fail(EISCONN),
        Phase::Listening | Phase::Accepting => ConnectStep::Fail(EINVAL),
        Phase::Closed => ConnectStep::Ended,
    }
}

/// The error a rejection of our connection request (or REP) means: once established,
/// the peer dropped its side before our RTU reached it (a reset, as TCP's RST); a
/// peer CM that gave up waiting (`IB_CM_REJ_TIMEOUT`, status 1) is a time-out;
/// anything else (no listener on the port, the listener refused) a refusal.
pub fn rejection_errno(phase: Phase, status: i32) -> super::errno::Errno {
    use super::errno::{ECONNREFUSED, ECONNRESET, ETIMEDOUT};
    match (phase, status) {
        (Phase::Connected, _) => ECONNRESET,
        (_, 1) => ETIMEDOUT,
        _ => ECONNREFUSED,
    }
}

/// What the first flushed receive of an established connection means: everything
/// the peer sent before its QP failed was handled by then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushOutcome {
    /// The peer's DisConn came first: a graceful end, nothing to do here.
    Graceful,
    /// A graceful end, but one of our sends failed meanwhile: handle it as the peer's
    /// disconnect ([`disconnect_outcome`]).
    GracefulPeerGone,
    /// No DisConn came: the connection failed with this error (a send's, or a reset).
    Failed(super::errno::Errno),
}

/// See [`FlushOutcome`]; `send_failed`: the error one of our sends failed with.
pub fn flush_outcome(fin_received: bool, send_failed: Option<super::errno::Errno>) -> FlushOutcome {
    match (fin_received, send_failed) {
        (true, None) => FlushOutcome::Graceful,
        (true, Some(_)) => FlushOutcome::GracefulPeerGone,
        (false, err) => FlushOutcome::Failed(err.unwrap_or(super::errno::ECONNRESET)),
    }
}

/// What the peer's disconnect means once our RDMA operations settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectOutcome {
    /// After its DisConn, with nothing left to read (or nobody to read it): over.
    Close,
    /// After its DisConn: what is unread stays readable until the socket closes.
    StayReadable,
    /// Before its DisConn: messages it sent may still wait in the CQ; the QP goes to
    /// the error state, and the first flushed receive judges ([`flush_outcome`]), or,
    /// with no receive posted, the end of the reap that handled the last message.
    JudgeAtFlush,
}

/// See [`DisconnectOutcome`].
pub fn disconnect_outcome(fin_received: bool, unread: bool, orphaned: bool) -> DisconnectOutcome {
    match (fin_received, !unread || orphaned) {
        (true, true) => DisconnectOutcome::Close,
        (true, false) => DisconnectOutcome::StayReadable,
        (false, _) => DisconnectOutcome::JudgeAtFlush,
    }
}

/// The directions a `shutdown()` shuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Directions {
    pub read: bool,
    pub write: bool,
}

/// The directions `how` names (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`); `EINVAL` for any
/// other value.
pub fn shutdown_directions(how: i32) -> Result<Directions, super::errno::Errno> {
    use super::abi::{SHUT_RD, SHUT_RDWR, SHUT_WR};
    match how {
        SHUT_RD | SHUT_WR | SHUT_RDWR => Ok(Directions { read: how != SHUT_WR, write: how != SHUT_RD }),
        _ => Err(super::errno::EINVAL),
    }
}

/// What `shutdown()` does in a phase, as `inet_shutdown` decides for TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownStep {
    /// Not connected: `ENOTCONN`.
    NotConnected,
    /// A listener's reading side: it stops listening.
    StopListening,
    /// Shut these directions of a connection (or of one that is over already).
    Shut(Directions),
}

/// See [`ShutdownStep`].
pub fn shutdown_step(dirs: Directions, phase: Phase) -> ShutdownStep {
    match phase {
        Phase::Connected | Phase::Closed => ShutdownStep::Shut(dirs),
        Phase::Listening if dirs.read => ShutdownStep::StopListening,
        _ => ShutdownStep::NotConnected,
    }
}

/// What the last `close()` of a socket does to its connection, as `tcp_close` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseStep {
    /// Reset it (Abort to the peer): unread data would be lost, or `SO_LINGER`
    /// {1, 0} asked for it.
    Reset,
    /// Close it gracefully: a DisConn after the data, then the fin timer.
    Graceful,
    /// No connection: tear it down now, and give the port back before `close()`
    /// returns.
    Teardown,
    /// Nothing was ever set up (no rdma_cm id, no link; a socket that never bound,
    /// listened or connected, or a hybrid that went to TCP at once): nothing to tear
    /// down, the state goes at once, without a trip through the workqueue.
    Nothing,
}

/// See [`ReleaseStep`]: `unread` bytes wait to be read; `zero_linger`: `SO_LINGER`
/// {1, 0}; `holds_resources`: an rdma_cm id or a link exists, or a teardown is under
/// way.
pub fn release_step(phase: Phase, unread: bool, zero_linger: bool, holds_resources: bool) -> ReleaseStep {
    match phase {
        Phase::Connected if unread || zero_linger => ReleaseStep::Reset,
        Phase::Connected => ReleaseStep::Graceful,
        Phase::Open | Phase::Closed if !holds_resources => ReleaseStep::Nothing,
        _ => ReleaseStep::Teardown,
    }
}

/// The error a failing connection reports: a reset after the peer's orderly close
/// (`fin_received`) reads as a broken pipe, as TCP's in CLOSE_WAIT does.
pub fn failure_errno(err: super::errno::Errno, fin_received: bool) -> super::errno::Errno {
    use super::errno::{ECONNRESET, EPIPE};
    if err == ECONNRESET && fin_received { EPIPE } else { err }
}

/// The address `getpeername()` reports: the peer of a connection (the CM's view,
/// `current`, or the one `connect`/the request gave, `remembered`), also after it
/// ended, for `accept()` of one reset while it waited; `ENOTCONN` before.
pub fn peer_name<A: Copy>(phase: Phase, current: Option<A>, remembered: Option<A>) -> Result<A, super::errno::Errno> {
    let known = match phase {
        Phase::Connected => true,
        Phase::Closed => remembered.is_some(),
        _ => false,
    };
    current.or(remembered).filter(|_| known).ok_or(super::errno::ENOTCONN)
}
