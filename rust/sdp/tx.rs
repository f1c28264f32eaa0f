// SPDX-License-Identifier: GPL-2.0

//! Sending: `sendmsg` copying user data into send buffers taken as it writes, one
//! message per buffer, each behind a credit; waiting for memory when there is none;
//! and the completions that free the buffers.

use core::sync::atomic::Ordering;

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::{
    prelude::*,
    sync::MutexGuard,
    time::{msecs_to_jiffies, Instant, Monotonic},
};

use crate::{
    kernel_api::{sock::Msg, trace, verbs::Wc, zc_notify::ZcNotify},
    link::{link::Link, memory},
    netns::stats,
    proto::{
        abi::{MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB, MSG_SPLICE_PAGES, MSG_ZEROCOPY, POLLOUT, POLLWRNORM},
        errno::{Errno, ETIMEDOUT},
        rdma_ops::connection_error,
        send::{send_verdict, SendCheck},
        stats::Counter,
        transmit::{PostFailed, WriteRound},
        zc_policy::Mode,
    },
    sdp::{
        endpoint::{EpRef, Inner, Phase},
        zcopy_tx,
    },
};

/// A send completed (or was flushed): its buffer is free again.
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    // What is sent from here (staged bytes) takes its buffer in the socket owner's
    // memory cgroup, whoever reaps.
    let _memcg = ep.sk.charge_to_creator();
    link.send_completed();
    if !wc.ok() {
        if let Some(err) = connection_error(&wc).filter(|_| inner.phase == Phase::Connected) {
            // A peer that stopped acknowledging times out as TCP's retransmissions do;
            // a refusal is worth a line.
            if err != ETIMEDOUT {
                pr_warn_ratelimited!("SDP: send failed (status {}); connection reset\n", wc.status);
            }
            transport_failure(ep, &wc);
            crate::sdp::close::send_failed(inner, err.into_error());
        }
        return;
    }
    let Some(writable) = progress(ep, inner) else { return };
    if !writable {
        // A lingering close waits for its sends to complete.
        ep.notify_waiters();
    }
    retry_if_short(ep, inner);
    trim_when_idle(ep, inner);
    crate::sdp::close::maybe_finish(ep, inner);
}

/// Sends what is due on the link (`Link::progress`), counts the peer's adverts it
/// declined, and wakes writers and pollers if a data message may go now (`POLLOUT`).
/// Returns whether one may; `None` when the link failed (the connection is failed
/// with its error) or there is none.
pub(crate) fn progress(ep: EpRef<'_>, inner: &mut Inner) -> Option<bool> {
    let link = inner.link.as_mut()?;
    let res = link.progress();
    crate::sdp::zcopy_rx::count_link_events(ep, link);
    let writable = link.writable();
    if let Err(e) = res {
        ep.fail(inner, e);
        return None;
    }
    if writable {
        ep.wake(POLLOUT | POLLWRNORM);
    }
    Some(writable)
}

/// How long a message that found no memory for its send buffer waits before it
/// tries again.
const MEMORY_RETRY_MS: u32 = 20;

/// How long send buffers are kept for the next messages once no send is in flight.
pub(crate) const SEND_BUFFERS_KEPT_MS: u32 = 100;

/// No send in flight and send buffers kept: the trim timer gives them back unless
/// the connection is busy again by then. Under memory pressure they go at once: the
/// next writer may allocate again, but the memory is not held idle meanwhile.
pub(crate) fn trim_when_idle(ep: EpRef<'_>, inner: &mut Inner) {
    if inner.phase != Phase::Connected {
        return;
    }
    let Some(link) = inner.link.as_mut().filter(|l| l.tx_idle() && l.send_buffer_bytes() > 0) else { return };
    if memory::under_pressure() {
        link.trim_send_buffers();
    } else {
        ep.start_trim_timer(SEND_BUFFERS_KEPT_MS);
    }
}

/// The trim timer: its lock reaps the completions a waiting reader left; the
/// zero-copy adverts' clock is looked at; the send buffers of a connection with no
/// send in flight go back, and the registration regions of one whose RDMA
/// operations have been idle long enough.
pub(crate) fn trim_idle(ep: EpRef<'_>) {
    let mut guard = ep.lock_reaped();
    let inner = &mut *guard;
    if inner.phase != Phase::Connected {
        return;
    }
    // The zero-copy adverts' clock, also while no writer looks at it.
    if zcopy_tx::tick(ep, inner, false).is_some() {
        return;
    }
    if let Some(link) = inner.link.as_mut() {
        link.trim_send_buffers();
        if let Some(left_ms) = link.trim_regions() {
            ep.start_trim_timer(left_ms);
        }
        // Grants out of a shared receive queue stay backed in full until the
        // connection has received nothing for a while.
        if link.qp.settle_grants() {
            ep.start_trim_timer(crate::proto::recv_pool::ACTIVE_MS as u32);
        }
    }
}

/// After posting: a message that found no memory for its buffer (staged bytes, a
/// DisConn, a credit update) is tried again shortly, since no completion may come
/// to do it.
pub(crate) fn retry_if_short(ep: EpRef<'_>, inner: &Inner) {
    if inner.phase == Phase::Connected && inner.link.as_ref().is_some_and(Link::retry_due) {
        ep.start_memory_timer(MEMORY_RETRY_MS);
    }
}

/// The memory timer: sends what is owed, if memory allows now.
pub(crate) fn memory_retry(ep: EpRef<'_>) {
    let mut guard = ep.lock_reaped();
    let inner = &mut *guard;
    if inner.phase != Phase::Connected {
        return;
    }
    let Some(link) = inner.link.as_mut().filter(|l| l.retry_due()) else { return };
    let _memcg = ep.sk.charge_to_creator();
    // Set again by whatever finds no memory still.
    link.memory_retrying();
    if progress(ep, inner).is_none() {
        return;
    }
    retry_if_short(ep, inner);
    crate::sdp::close::maybe_finish(ep, inner);
}

/// A write that found no memory for a send buffer waits a little, as TCP's writers
/// do (`sk_stream_wait_memory()`), within its timeout `timeo`. `EAGAIN` once that is
/// spent (at once for a non-blocking write); a signal's error.
pub(crate) fn wait_for_memory(ep: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, timeo: &mut i64) -> Result {
    if *timeo <= 0 {
        return Err(EAGAIN);
    }
    let step = i64::try_from(msecs_to_jiffies(MEMORY_RETRY_MS)).unwrap_or(1).max(1);
    let mut left = (*timeo).min(step);
    let began = left;
    let res = ep.wait(guard, &mut left);
    let forever = *timeo == i64::MAX;
    if !forever {
        *timeo -= began - left;
    }
    match res {
        // Restarted after a handler, as a write without a timeout is (`SA_RESTART`).
        Err(e) if e == EINTR && forever => Err(ERESTARTSYS),
        Err(e) if e != EAGAIN => Err(e),
        _ if *timeo <= 0 => Err(EAGAIN),
        _ => Ok(()),
    }
}

/// Counts a send (or keepalive probe) the peer's adapter never acknowledged.
pub(crate) fn transport_failure(ep: EpRef<'_>, wc: &Wc) {
    if wc.rnr_retries_exceeded() {
        stats::bump(ep.sk.net(), Counter::RnrRetriesExceeded);
    } else if wc.peer_silent() {
        stats::bump(ep.sk.net(), Counter::TransportTimeouts);
    }
}

/// The error a `sendmsg` on `flags` returns for `err`: `EPIPE` comes with `SIGPIPE`
/// unless the caller asked for none.
pub(crate) fn send_error(err: Error, flags: i32) -> Error {
    if err == EPIPE && flags & MSG_NOSIGNAL == 0 {
        crate::kernel_api::sock::send_sigpipe();
    }
    err
}

/// Whether a send may go on: `Ok` while connected or connecting, else why not. A
/// socket that never connected gets `ENOTCONN` (a stream answers `EPIPE`, as TCP).
pub(crate) fn sendable(ep: EpRef<'_>, inner: &Inner) -> Result {
    let s = inner.link.as_ref().map(|l| &l.stream);
    send_verdict(&SendCheck {
        phase: inner.phase,
        shutdown: inner.shutdown,
        pending_error: -ep.sk.take_err(),
        broken: s.is_some_and(|s| s.peer_gone || s.qp_dead),
        fin_received: s.is_some_and(|s| s.fin_received),
        send_failed: s.and_then(|s| s.send_failed),
    })
    .map_err(Errno::into_error)
}

/// A write found no room: tells the `infinisock_credit_stall` tracepoint when the
/// peer's credits are what it waits for (`waiting` bytes not taken yet), once per
/// stall (`*stalled`: the previous round of the call stalled already).
fn stalled(ep: EpRef<'_>, link: &Link, waiting: usize, stalled: &mut bool) {
    let Some(credits) = link.stream.credits.as_ref() else { return };
    let out_of_credits = credits.available_for_data() == 0;
    let first = out_of_credits && !*stalled;
    *stalled = out_of_credits;
    if first {
        stats::bump(ep.sk.net(), Counter::CreditStalls);
    }
    if first && trace::credit_stall_enabled() {
        let waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
        trace::credit_stall(&ep.sk, credits.available(), link.tx_free() as u32, waiting);
    }
}

/// Times a blocking write puts missing pages in place for zero-copy before it copies.
const MAX_ZC_FAULTS: u32 = 4;

/// The most a write puts in place at once for zero-copy: about what its adverts
/// cover at a time.
const ZC_PREPIN_MAX: usize = 4 << 20;

/// `sendmsg` on a stream: copies all of `len` (blocking) or what fits now
/// (non-blocking), in rounds of `proto::transmit` (a message or a staged piece each);
/// with `MSG_OOB` its last byte is urgent (`proto::urgent`). A blocking write's large
/// pieces go as zero-copy adverts where the connection has them (`sdp::zcopy_tx`).
///
/// With `MSG_ZEROCOPY` on a socket with `SO_ZEROCOPY`, the call's large pieces are
/// advertised and the call returns without waiting for the peer's READ (a
/// non-blocking one advertises what free adverts and credits allow now: a partial
/// count, or `EAGAIN` if nothing went, as TCP answers when its buffer is full); TCP's
/// completion notification of its id is queued once its bytes are the program's
/// again (the last pin of its adverts gone, at once if none was made), marked copied
/// unless most of its bytes went as adverts, or if a declined advert's bytes were
/// copied after all; `ENOBUFS` when the notification's charge does not fit, as TCP
/// answers. The pages of a `sendfile()` or `splice()` (`MSG_SPLICE_PAGES`) are
/// advertised the same way, blocking or not, with no notification: as TCP's, the
/// call returns once they are handed over, each held by a reference until the peer
/// has READ it.
pub(crate) fn sendmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, nonblock: bool) -> Result<usize> {
    let notify = if msg.flags() & MSG_ZEROCOPY != 0 && len > 0 && ep.sk.zerocopy() {
        Some(ZcNotify::begin(&ep.sk, len)?)
    } else {
        None
    };
    let start = Instant::<Monotonic>::now();
    let mut call = ZcCall::default();
    let res = send_stream(ep, msg, len, nonblock, notify.as_ref(), &mut call);
    if let Some(notify) = notify {
        let sent = res.as_ref().map_or(0, |n| *n);
        // Under the lock that releases pins (`QueuePair::poll`), whose completion of
        // the notification rewrites its copied mark too.
        let _guard = ep.lock();
        notify.end(sent, call.by_advert * 2 < sent);
    }
    // A whole call the connection chose for: a measure of its size class. An
    // advertised one counts if most of its bytes went by advert (a buffer's unaligned
    // head and tail are copied), or if the sink declined or let an advert be
    // cancelled: that is what advertising cost it (a slow sink must turn the class to
    // copying).
    if let (Some(mode), Ok(sent)) = (call.chosen, &res) {
        let whole = *sent == len && !call.faulted && (mode == Mode::Copy || call.fell_back || call.by_advert * 2 >= len);
        if whole {
            let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
            zcopy_tx::record(&mut ep.lock(), mode, len, ns);
        }
    }
    res
}

/// What the zero-copy part of one `sendmsg` did.
#[derive(Default)]
struct ZcCall {
    /// Bytes that went as adverts, whose pins the call's notification answers for.
    by_advert: usize,
    /// The connection's choice for the call (`zcopy_tx::choose`), if it made one.
    chosen: Option<Mode>,
    /// An advert was declined or cancelled, and the rest of the call copied.
    fell_back: bool,
    /// A page was missing: the time went to faulting it in, not a measure.
    faulted: bool,
}

/// [`sendmsg`]'s work; `call` says how the zero-copy part went.
fn send_stream(
    ep: EpRef<'_>,
    msg: &mut Msg,
    len: usize,
    nonblock: bool,
    notify: Option<&ZcNotify>,
    call: &mut ZcCall,
) -> Result<usize> {
    let flags = msg.flags();
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let urgent = flags & MSG_OOB != 0;
    let sk = &ep.sk;
    let mut timeo = sk.sndtimeo(nonblock);
    let mut sent = 0;
    // The previous round waited for the peer's credits.
    let mut credit_stall = false;
    // Its adverts outlive the call: a `MSG_ZEROCOPY` one's pins hold its
    // notification, and spliced pages are held by a reference each, as TCP holds
    // them, so the call need not wait for the peer's READ.
    let early = notify.is_some() || flags & MSG_SPLICE_PAGES != 0;
    // Large pieces of a blocking write, or of one whose adverts outlive it (which a
    // non-blocking socket may make too), may go as zero-copy adverts, until one is
    // declined or cannot be made; pages found missing are put in place a few times.
    let mut zc_allowed = (!nonblock || early) && !urgent;
    let mut zc_faults = 0;
    let mut guard = ep.lock_reaped();
    // A blocking write of a socket that leaves the choice to the connection: copied
    // or advertised as the calls of its size have fared.
    if zc_allowed && !early {
        call.chosen = zcopy_tx::choose(ep, &mut guard, len);
        zc_allowed = call.chosen != Some(Mode::Copy);
    }
    loop {
        let inner = &mut *guard;
        if let Err(e) = sendable(ep, inner) {
            // TCP: writing on a socket that never connected is a broken pipe.
            let e = if e == ENOTCONN { EPIPE } else { e };
            return if sent > 0 { Ok(sent) } else { Err(send_error(e, flags)) };
        }
        if sent == len && len > 0 {
            // Staged bytes that found no buffer go when memory allows.
            retry_if_short(ep, inner);
            return Ok(sent);
        }
        let zc_min = if zc_allowed && inner.phase == Phase::Connected {
            zcopy_tx::eligible(ep, inner, msg, len - sent, early)
        } else {
            None
        };
        if let Some(min) = zc_min {
            match zcopy_tx::send(ep, &mut guard, msg, len - sent, min, early, notify, &mut timeo) {
                Ok(out) => {
                    sent += out.sent;
                    call.by_advert += out.sent - out.copied;
                    zc_allowed = !out.copy_rest;
                    call.fell_back |= out.copy_rest;
                    call.faulted |= out.fault;
                    if let Some(e) = out.stop {
                        return if sent > 0 { Ok(sent) } else { Err(send_error(e, flags)) };
                    }
                    if out.fault {
                        drop(guard);
                        // Copying faults in what it needs itself, and reports EFAULT.
                        zc_faults += 1;
                        if zc_faults > MAX_ZC_FAULTS || msg.prepin((len - sent).min(ZC_PREPIN_MAX), false).is_err() {
                            zc_allowed = false;
                        }
                        guard = ep.lock_reaped();
                    }
                    if out.sent > 0 || out.fault || out.copy_rest {
                        continue;
                    }
                }
                Err(e) => return if sent > 0 { Ok(sent) } else { Err(send_error(e, flags)) },
            }
        }
        let inner = &mut *guard;
        let mut missing_page = false;
        let mut no_memory = false;
        if let Some(link) = inner.link.as_mut() {
            let connected = inner.phase == Phase::Connected;
            if len == 0 && connected {
                return Ok(0);
            }
            match link.write_round(len - sent, inner.nodelay, connected, urgent, |buf| msg.copy_in(buf)) {
                Ok(WriteRound::Wrote(n)) => {
                    sent += n;
                    stats::add(ep.sk.net(), Counter::BytesSent, n as u64);
                    ep.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
                    credit_stall = false;
                    continue;
                }
                Ok(WriteRound::Blocked) => stalled(ep, link, len - sent, &mut credit_stall),
                Ok(WriteRound::Fault) => missing_page = true,
                Ok(WriteRound::NoMemory) => no_memory = true,
                Err(PostFailed(e)) => {
                    // The QP refused a request it had room for: it is broken.
                    let e = e.into_error();
                    ep.fail(inner, e);
                    return if sent > 0 { Ok(sent) } else { Err(e) };
                }
            }
        }
        if missing_page {
            // Faulted in without the lock, then the state is looked at again.
            drop(guard);
            if msg.fault_in(len - sent, false).is_err() {
                return if sent > 0 { Ok(sent) } else { Err(EFAULT) };
            }
            guard = ep.lock_reaped();
            continue;
        }
        let waited = if no_memory { wait_for_memory(ep, &mut guard, &mut timeo) } else { ep.wait(&mut guard, &mut timeo) };
        if waited.is_err() {
            // The timer wakes a poller when memory is back (`POLLOUT` is hidden meanwhile).
            retry_if_short(ep, &guard);
        }
        match waited {
            Ok(()) => {}
            Err(_) if sent > 0 => return Ok(sent),
            Err(e) => return Err(e),
        }
    }
}
