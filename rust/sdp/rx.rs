// SPDX-License-Identifier: GPL-2.0

//! Receiving: completions of the receive ring, decoding and checking each message, and
//! `recvmsg` copying data out of the ring and reposting the buffers.

use core::sync::atomic::Ordering;

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::{prelude::*, str::CStr, sync::MutexGuard};

use crate::{
    kernel_api::{
        sock::{MemCharge, Msg},
        trace,
        verbs::Wc,
    },
    link::link::Link,
    netns::stats,
    proto::{
        credits::CreditError,
        abi::{MSG_DONTWAIT, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, POLLOUT, POLLPRI, POLLWRNORM, TCP_CLOSE_WAIT},
        receive::{
            classify, read_step, wake_plan, Fault, Incoming, ReadState, ReadStep, RxContext, Verdict, Violation, ZcVerdict,
        },
        ring::IndexFifo,
        stats::Counter,
        urgent::NoUrgentByte,
        wire::BSDH_LEN,
    },
    sdp::{
        endpoint::{EpRef, Inner, Phase, RCV_SHUTDOWN},
        zcopy_rx::{ToUser, ToUserRead},
    },
};

/// A receive completed (or was flushed).
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    if wc.overrun {
        // A receive from the shared queue with no buffer granted: the queue took the
        // buffer back, and the peer is reset before it can keep one more.
        let v = Violation::FlowControl(CreditError::NoBufferPosted);
        report(v);
        violated(ep, inner, v);
        return;
    }
    // The queue pair names the buffer a receive completed in (posting order).
    let Some(idx) = wc.buffer else { return };
    if wc.invalidated {
        // The device has invalidated the key the peer named, whichever region it was
        // (on rxe, any connection's): the peer is reset and its message not read.
        let v = Violation::RemoteInvalidate;
        report(v);
        violated(ep, inner, v);
        return;
    }
    if !wc.ok() {
        // A flush means the QP went to the error state (a disconnect or a failed
        // send), after everything the peer sent: `close::flushed` judges how the
        // connection ended (`close::judge_unflushed` when no receive was posted).
        // (Before it is established, rdma_cm flushes the QP of a rejected request
        // itself and reports the outcome as an event.)
        if inner.phase == Phase::Connected {
            crate::sdp::close::flushed(ep, inner);
        }
        return;
    }
    if inner.phase == Phase::Accepting {
        // The peer sent this after our REP reached it, so it sent its RTU too: a lost
        // RTU must not hold the connection until the REP is retried.
        if let Some(id) = inner.id.as_ref() {
            id.notify_established();
        }
    }
    link.rx_len[usize::from(idx)] = wc.byte_len;
    // An RDMA WRITE with immediate consumed the buffer: it holds no message.
    link.rx_imm[usize::from(idx)] = wc.imm.map(|imm| (imm, wc.byte_len));
    link.last_heard = kernel::time::Instant::now();
    if link.on_shared_queue() {
        // The shared queue backs its grants in full while it receives; the trim
        // timer settles them to the queue's reserve once it has gone quiet.
        ep.start_trim_timer(crate::proto::recv_pool::ACTIVE_MS as u32);
    }
    if link.stream.credits.is_none() {
        // Arrived before our side saw the connection established; see `rx_early`.
        link.stream.rx_early.push(idx);
        return;
    }
    process(ep, inner, idx);
}

/// Decodes the messages that arrived before the credits existed.
pub(crate) fn process_early(ep: EpRef<'_>, inner: &mut Inner) {
    while let Some(idx) = inner.link.as_mut().and_then(|l| l.stream.rx_early.pop()) {
        process(ep, inner, idx);
    }
}

/// Handles the message in receive buffer `idx`.
fn process(ep: EpRef<'_>, inner: &mut Inner, idx: u16) {
    // Buffers the receive window adds and what is sent from here are the socket
    // owner's memory, whoever reaps.
    let _memcg = ep.sk.charge_to_creator();
    let ctx = RxContext {
        messages: ep.is_seqpacket,
        fin_received: false,
        orphaned: inner.orphaned,
        discard: inner.shutdown & RCV_SHUTDOWN != 0,
        // The link's own (`handle_message`).
        zc: None,
        src: false,
    };
    let Some(link) = inner.link.as_mut() else { return };
    match handle_message(ep, link, idx, ctx) {
        Ok(mask) => {
            if mask & POLLPRI != 0 {
                ep.sk.send_sigurg();
            }
            let res = link.progress();
            crate::sdp::zcopy_rx::count_link_events(ep, link);
            if let Err(e) = res {
                ep.fail(inner, e);
                return;
            }
            crate::sdp::tx::retry_if_short(ep, inner);
            let Some(link) = inner.link.as_mut() else { return };
            let writable = if link.writable() { POLLOUT | POLLWRNORM } else { 0 };
            let (wake, sigio) = wake_plan(mask, writable, inner.woken_before_reap);
            match wake {
                0 => ep.notify_waiters(),
                news => ep.wake(news),
            }
            if sigio != 0 {
                ep.sk.sigio(sigio);
            }
            crate::sdp::close::maybe_finish(ep, inner);
        }
        Err(v) => violated(ep, inner, v),
    }
}

/// The peer's message broke the protocol (`v`): counted, traced, answered with an
/// Abort where due, and the connection is reset.
fn violated(ep: EpRef<'_>, inner: &mut Inner, v: Violation) {
    if let Some(what) = violation_name(v) {
        stats::bump(ep.sk.net(), Counter::ProtocolViolations);
        if trace::violation_enabled() {
            trace::violation(&ep.sk, what);
        }
    }
    if v.answer_with_abort() {
        if let Some(link) = inner.link.as_mut() {
            link.send_abort();
        }
    }
    ep.fail(inner, ECONNRESET);
}

/// Checks one message and files it (`proto::receive::classify`); returns the poll
/// events it raised.
fn handle_message(ep: EpRef<'_>, link: &mut Link, idx: u16, ctx: RxContext) -> Result<u32, Violation> {
    let ctx = RxContext {
        fin_received: link.stream.fin_received,
        zc: link.zc.as_ref().map(|f| f.gate()),
        src: link.zc_src.is_some(),
        ..ctx
    };
    let i = usize::from(idx);
    let len = link.rx_len[i] as usize;
    let immediate = link.rx_imm[i].is_some();
    // Not reached without credits: a message before them waits in `rx_early`.
    let credits = link.stream.credits.as_mut().ok_or(Violation::Reset)?;
    let incoming = if immediate { Incoming::Immediate } else { Incoming::Message(link.qp.received(idx, len)) };
    let verdict = classify(incoming, ctx, credits).inspect_err(|v| report(*v))?;
    let peer_acked = credits.peer_acked();
    link.received();
    let mut events = verdict.poll_events();
    match verdict {
        Verdict::Repost => link.repost(idx).map_err(|_| Violation::Reset)?,
        Verdict::DisConn => {
            link.stream.fin_received = true;
            link.repost(idx).map_err(|_| Violation::Reset)?;
        }
        Verdict::File { payload_len } => {
            link.stream.rx.file(idx, payload_len);
            link.stream.urgent.filed(payload_len, None);
        }
        Verdict::Urgent { payload_len } => {
            // `classify` saw at least the urgent byte after the header.
            let byte = link.qp.contents(idx, len).get(BSDH_LEN + payload_len - 1).copied();
            link.stream.rx.file(idx, payload_len);
            link.stream.urgent.filed(payload_len, byte);
        }
        Verdict::Zc(z @ (ZcVerdict::RdCompl { .. } | ZcVerdict::SendSm { .. })) => {
            crate::sdp::zcopy_tx::on_reply(ep, link, z).inspect_err(|v| report(*v))?;
            link.repost(idx).map_err(|_| Violation::Reset)?;
        }
        Verdict::Zc(z) => {
            events = crate::sdp::zcopy_rx::on_message(ep, link, idx, z, ctx.discard).inspect_err(|v| report(*v))?;
        }
    }
    // What the peer has seen of our replies.
    if let Some(flow) = link.zc.as_mut() {
        flow.on_ack(peer_acked);
    }
    Ok(events)
}

/// What the `infinisock_violation` tracepoint says of a peer's breach of the
/// protocol; `None` for the expected endings that are no breach.
fn violation_name(v: Violation) -> Option<&'static CStr> {
    Some(match v {
        Violation::Malformed(_) => c"malformed message",
        Violation::WrongFlag { messages: true } => c"data not flagged as a message",
        Violation::WrongFlag { messages: false } => c"stream data flagged as a message",
        Violation::ImmediateOnStream => c"RDMA WRITE with immediate on a stream",
        Violation::RemoteInvalidate => c"SEND with invalidate",
        Violation::FlowControl(_) => c"flow control broken",
        Violation::DataAfterDisConn => c"data after DisConn",
        Violation::Zc(_) => c"zero-copy rule broken",
        Violation::Unsolicited(_) => c"unsolicited zero-copy message",
        Violation::ZcSrc(_) => c"zero-copy reply broken",
        Violation::DataAfterClose | Violation::Reset => return None,
    })
}

/// Tells the administrator why a peer's message reset the connection.
fn report(v: Violation) {
    match v {
        Violation::Malformed(e) => pr_warn_ratelimited!("SDP: malformed message from peer ({:?}); connection reset\n", e),
        Violation::WrongFlag { messages } => pr_warn_ratelimited!(
            "SDP: {} flagged as a message from peer; connection reset\n",
            if messages { "data not" } else { "stream data" }
        ),
        Violation::ImmediateOnStream => {
            pr_warn_ratelimited!("SDP: RDMA WRITE with immediate on a stream from peer; connection reset\n")
        }
        Violation::RemoteInvalidate => {
            pr_warn_ratelimited!("SDP: SEND with invalidate from peer, never negotiated; connection reset\n")
        }
        Violation::FlowControl(e) => pr_warn_ratelimited!("SDP: peer broke flow control ({:?}); connection reset\n", e),
        Violation::DataAfterDisConn => pr_warn_ratelimited!("SDP: peer sent data after DisConn; connection reset\n"),
        Violation::Zc(e) => pr_warn_ratelimited!("SDP: peer broke a zero-copy rule ({:?}); connection reset\n", e),
        Violation::Unsolicited(mid) => {
            pr_warn_ratelimited!("SDP: unsolicited zero-copy message {:?} from peer; connection reset\n", mid)
        }
        Violation::ZcSrc(e) => {
            pr_warn_ratelimited!("SDP: peer's reply to our zero-copy advert broke a rule ({:?}); connection reset\n", e)
        }
        // Expected events, not the peer's fault: no line.
        Violation::DataAfterClose | Violation::Reset => {}
    }
}

/// Copies up to `want` unread bytes out of the ring after stepping over `skip` (an
/// urgent byte), or only steps over them (`discard`: `MSG_TRUNC`, which TCP's streams
/// take as "drop this much"); consumed buffers are reposted unless `peek`. Returns the
/// bytes copied or dropped.
fn copy_out(link: &mut Link, msg: &mut Msg, skip: usize, want: usize, peek: bool, discard: bool) -> Result<usize> {
    // At most a ring's worth: collected without an allocation on the read path.
    let mut consumed = IndexFifo::new();
    let copied = {
        let (rx, payload) = link.rx_and_payloads();
        rx.read(
            skip,
            want,
            peek,
            |idx| payload(idx).len(),
            |idx, from, to| if discard { to - from } else { msg.copy_out(&payload(idx)[from..to]) },
            |idx| {
                consumed.push(idx);
            },
        )
    }
    .map_err(|Fault| EFAULT)?;
    // Buffers fully read go back to the peer as credits, every one of them whatever
    // happens to another. A refused post means a broken QP, whose flush ends the
    // connection; the bytes copied are the program's.
    let mut refused = None;
    while let Some(idx) = consumed.pop() {
        if let Err(e) = link.repost(idx) {
            refused.get_or_insert(e);
        }
    }
    match refused {
        Some(e) if copied == 0 => Err(e),
        _ => Ok(copied),
    }
}

/// Charges the socket's memory cgroup for the shared receive queue's buffers the
/// connection holds (received, not yet read), as TCP charges its receive queue:
/// memory.stat `sock`. Buffers of a ring of the connection's own are charged as they
/// are allocated instead. Called as receives are reaped and buffers consumed.
///
/// The data is here, so the charge is made, past the cgroup's limit if need be (as
/// TCP's); while the cgroup is under socket memory pressure the window stays at its
/// floor, as TCP keeps its window small then.
pub(crate) fn charge_held(ep: EpRef<'_>, inner: &mut Inner) {
    let Some(link) = inner.link.as_mut() else { return };
    let want = link.qp.shared_bytes_held().div_ceil(kernel::page::PAGE_SIZE);
    let have = link.rmem_charged;
    let mut refused = false;
    if want > have {
        match ep.sk.charge_rmem(want - have) {
            MemCharge::Charged => link.rmem_charged = want,
            MemCharge::Refused => refused = true,
            MemCharge::NoCgroup => {}
        }
    } else if want < have {
        ep.sk.uncharge_rmem(have - want);
        link.rmem_charged = want;
    }
    link.rmem_short = refused || (link.rmem_charged > 0 && ep.sk.rmem_pressure());
}

/// `recv(MSG_OOB)`: the urgent byte, as `tcp_recv_urg` returns it.
fn recv_urgent(ep: EpRef<'_>, msg: &mut Msg, len: usize, flags: i32) -> Result<usize> {
    loop {
        let mut guard = ep.lock_reaped();
        let inner = &mut *guard;
        if inner.phase == Phase::Listening {
            return Err(ENOTCONN);
        }
        let inline = ep.sk.urginline();
        let Some(link) = inner.link.as_mut() else { return Err(EINVAL) };
        let byte = link.stream.urgent.take(true, inline).map_err(|NoUrgentByte::Invalid| EINVAL)?;
        if len > 0 && flags & MSG_TRUNC == 0 && !msg.copy_out_all(&[byte]) {
            // The page is missing: faulted in without the lock (a fault userspace
            // controls must not hold the endpoint), then the byte is looked at again.
            drop(guard);
            msg.fault_in_all(1, true)?;
            continue;
        }
        msg.add_flags(if len == 0 { MSG_OOB | MSG_TRUNC } else { MSG_OOB });
        if flags & MSG_PEEK == 0 {
            let _ = link.stream.urgent.take(false, inline);
        }
        return Ok(usize::from(len > 0));
    }
}

/// `recvmsg` on a stream.
pub(crate) fn recvmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, flags: i32, nonblock: bool) -> Result<usize> {
    if flags & MSG_OOB != 0 {
        return recv_urgent(ep, msg, len, flags);
    }
    let sk = &ep.sk;
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    let discard = flags & MSG_TRUNC != 0;
    let mut timeo = sk.rcvtimeo(nonblock);
    let target = sk.rcvlowat(flags & MSG_WAITALL != 0, len);
    let guard = ep.lock_reaped();
    let mut to_user = ToUser::new(ep, &guard, flags, timeo > 0);
    let (mut guard, res) = read_loop(ep, guard, msg, (len, target), (peek, discard), &mut timeo, &mut to_user);
    to_user.leave(ep, &mut guard);
    if res.is_ok() {
        crate::sdp::close::maybe_finish(ep, &mut guard);
    }
    res
}

/// [`recvmsg`]'s steps until it returns: `len` bytes asked for, `target` enough to
/// return. Gives the lock back with the result.
fn read_loop<'a>(
    ep: EpRef<'a>,
    mut guard: MutexGuard<'a, Inner>,
    msg: &mut Msg,
    (len, target): (usize, usize),
    (peek, discard): (bool, bool),
    timeo: &mut i64,
    to_user: &mut ToUser,
) -> (MutexGuard<'a, Inner>, Result<usize>) {
    let sk = &ep.sk;
    let inline = sk.urginline();
    let mut copied = 0;
    let res = loop {
        let inner = &mut *guard;
        to_user.update(ep, inner, msg, len - copied);
        let link = inner.link.as_ref();
        let step = read_step(&ReadState {
            phase: inner.phase,
            has_link: link.is_some(),
            // An urgent byte a read steps over is not data to wait for or return.
            unread: link.map_or(0, |l| l.stream.urgent.readable(l.stream.rx.bytes(), inline)),
            shutdown: inner.shutdown,
            error: sk.peek_err() != 0,
            fin_received: link.is_some_and(|l| l.stream.fin_received),
            copied,
            len,
            target,
        });
        match step {
            ReadStep::NotConnected => break Err(ENOTCONN),
            ReadStep::Done => break Ok(copied),
            ReadStep::Error => match sk.take_err() {
                // `getsockopt(SO_ERROR)` took it meanwhile (it needs no lock of ours).
                0 => continue,
                err => break Err(Error::from_errno(err)),
            },
            ReadStep::Eof => {
                if inner.link.as_ref().is_some_and(|l| l.stream.fin_received) {
                    ep.sk.set_tcp_state(TCP_CLOSE_WAIT);
                    ep.publish(&inner);
                }
                break Ok(copied);
            }
            ReadStep::Wait => {
                match to_user.read(ep, &mut guard, msg, len - copied) {
                    ToUserRead::No => {}
                    // 0 bytes come when the READ ended with the connection: the
                    // state is looked at again.
                    ToUserRead::Came(n) => {
                        copied += n;
                        continue;
                    }
                    ToUserRead::Fault(n) => {
                        // Landing goes on meanwhile: a fault userspace stalls holds
                        // nothing back (the next look joins the hold again).
                        to_user.leave(ep, &mut guard);
                        drop(guard);
                        let faulted = msg.prepin(n, true);
                        guard = ep.lock_reaped();
                        if faulted.is_err() {
                            to_user.let_go(ep, &mut guard);
                        }
                        continue;
                    }
                }
                match ep.wait_for_data(&mut guard, timeo) {
                    Ok(()) => {}
                    Err(_) if copied > 0 => break Ok(copied),
                    Err(e) => break Err(e),
                }
            }
            ReadStep::Copy => {
                let Some(link) = inner.link.as_mut() else { break Ok(copied) };
                // At urgent data's mark: stop after what was read, or step over it.
                let plan = link.stream.urgent.plan(len - copied, copied, link.stream.rx.bytes(), inline);
                if plan.stop {
                    break Ok(copied);
                }
                // With MSG_PEEK every round starts from the oldest byte again.
                let n = match copy_out(link, msg, plan.skip, plan.limit, peek, discard) {
                    Ok(n) => n,
                    Err(e) if e == EFAULT => {
                        // A page is missing: faulted in without the lock (a fault
                        // userspace controls must not hold the endpoint), then the
                        // state is looked at again.
                        drop(guard);
                        let faulted = msg.fault_in(len - copied, true);
                        guard = ep.lock_reaped();
                        match faulted {
                            Ok(()) => continue,
                            Err(_) if copied > 0 => break Ok(copied),
                            Err(e) => break Err(e),
                        }
                    }
                    Err(e) => break Err(e),
                };
                copied += n;
                if !peek {
                    link.stream.urgent.consumed(plan.skip + n);
                    stats::add(ep.sk.net(), Counter::BytesReceived, n as u64);
                    ep.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                    if let Err(e) = link.maybe_credit_update() {
                        ep.fail(inner, e);
                    }
                    crate::sdp::tx::retry_if_short(ep, inner);
                    charge_held(ep, inner);
                }
                if peek || copied >= target {
                    break Ok(copied);
                }
            }
        }
    };
    (guard, res)
}
