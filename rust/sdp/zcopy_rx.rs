// SPDX-License-Identifier: GPL-2.0

//! The sink's side of zero-copy SDP: the peer's SrcAvail adverts and cancels as they
//! arrive, and the completions of the RDMA READs that fetch the advertised bytes into
//! the link's landing slots (`proto::zc_land` keeps the rules; `link::link` posts the
//! READs and the replies). The peer's program wrote its bytes once; they cross the
//! fabric by our READ and are copied once, to the reader, as a message's are.
//!
//! A reader blocked in `recv()` with room for a large piece ([`ToUser`]) has them READ
//! straight into its own pages instead: no copy on either side.

use core::sync::atomic::Ordering;

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::{
    prelude::*,
    sync::MutexGuard,
    time::{msecs_to_jiffies, Instant, Monotonic},
};

use crate::{
    kernel_api::{sock::Msg, trace, verbs::Wc},
    link::link::{Link, UserRead},
    netns::{stats, tunables},
    proto::{
        abi::{MSG_PEEK, MSG_TRUNC, POLLIN, POLLRDNORM},
        errno::ETIMEDOUT,
        rdma_ops::connection_error,
        receive::{Violation, ZcVerdict},
        stats::Counter,
        tunables::TunableId,
        wire::{BSDH_LEN, SRC_AH_LEN},
        zc_sink::OnSrcAvail,
        zc_to_user::{AtWait, CallTerms, PinPlan, ReaderCall, WaitPlan},
    },
    sdp::endpoint::{EpRef, Inner, Phase, RCV_SHUTDOWN},
};

/// Tells the connection that a reader holds its landing back (`holds`) or no longer
/// does (landing goes on at once).
fn tell(ep: EpRef<'_>, inner: &mut Inner, holds: bool) {
    let Some(link) = inner.link.as_mut() else { return };
    if holds {
        link.zc_reader_in();
        return;
    }
    let res = link.zc_reader_out();
    count_link_events(ep, link);
    if let Err(e) = res {
        ep.fail(inner, e);
    }
}

/// What the READ into a reader's pages gave ([`ToUser::read`]).
pub(crate) enum ToUserRead {
    /// None was posted: wait for data as usual.
    No,
    /// These bytes came (`msg` is advanced over them and they are counted); 0 when the
    /// READ ended with the connection.
    Came(usize),
    /// A page of the next `n` bytes is missing: fault them in without the lock
    /// ([`Msg::prepin`]) and look again.
    Fault(usize),
}

/// A SrcAvail or SrcAvailCancel in receive buffer `idx` (`discard`: after
/// `shutdown(SHUT_RD)`, which declines every advert). An accepted advert's inline
/// bytes wait for the reader in the buffer; otherwise it is posted again. Returns the
/// poll events it raised.
pub(crate) fn on_message(ep: EpRef<'_>, link: &mut Link, idx: u16, z: ZcVerdict, discard: bool) -> Result<u32, Violation> {
    // `classify` gives zero-copy verdicts only with the flow's gate.
    let flow = link.zc.as_mut().ok_or(Violation::Reset)?;
    let mut events = 0;
    match z {
        ZcVerdict::SrcAvail { ah, inline_len, mseq_ack } => {
            let verdict = flow.on_src_avail(mseq_ack, ah, inline_len as u32).map_err(Violation::Zc)?;
            if verdict == OnSrcAvail::Accept {
                stats::bump(ep.sk.net(), Counter::ZcAdvertsTaken);
            }
            if discard {
                flow.decline();
            }
            if verdict == OnSrcAvail::Accept && inline_len > 0 && !discard {
                link.set_payload_start(idx, BSDH_LEN + SRC_AH_LEN);
                link.stream.rx.file(idx, inline_len);
                link.stream.urgent.filed(inline_len, None);
                events = POLLIN | POLLRDNORM;
            } else if verdict == OnSrcAvail::Accept {
                // A reader that holds landing back may claim it (nothing is readable
                // yet: no poll event).
                ep.notify_waiters();
            }
        }
        ZcVerdict::Cancel => {
            stats::bump(ep.sk.net(), Counter::ZcCancels);
            flow.on_cancel();
        }
        // Replies to our own adverts: `sdp::zcopy_tx`'s.
        ZcVerdict::RdCompl { .. } | ZcVerdict::SendSm { .. } => return Err(Violation::Reset),
    }
    if events == 0 {
        link.repost(idx).map_err(|_| Violation::Reset)?;
    }
    Ok(events)
}

/// Counts what the link decided on its own since the last look: the peer's adverts
/// it declined (`zc_declines_sent`), and the adverts it opened for gathered spliced
/// pages (`zc_adverts_sent`). It decides them where it flushes its replies and its
/// gathered pages (`Link::progress`, `flush_fin`, `zc_shut_read`), with no namespace
/// to count in: each caller of those counts here after them.
pub(crate) fn count_link_events(ep: EpRef<'_>, link: &mut Link) {
    let declined = link.zc.as_mut().map_or(0, |flow| flow.take_declined());
    if declined > 0 {
        stats::add(ep.sk.net(), Counter::ZcDeclinesSent, u64::from(declined));
    }
    let runs = link.zc_src.as_mut().map_or(0, |src| src.take_runs_advertised());
    if runs > 0 {
        stats::add(ep.sk.net(), Counter::ZcAdvertsSent, runs);
        // Nobody may be waiting for them: their clock runs on the trim timer.
        crate::sdp::zcopy_tx::arm_clock(ep, link);
    }
}

/// A READ into a landing slot completed (or failed, or was flushed).
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    // Landing buffers allocated from here are the socket owner's memory, whoever reaps.
    let _memcg = ep.sk.charge_to_creator();
    let Some(link) = inner.link.as_mut() else { return };
    // The queue pair names the landing slot of each READ's completion.
    let Some(idx) = wc.buffer else { return };
    if !wc.ok() {
        link.zc_read_failed(idx);
        read_failed(ep, inner, &wc);
        return;
    }
    stats::add(ep.sk.net(), Counter::ZcBytesRead, u64::from(link.rx_len[usize::from(idx)]));
    let discard = inner.shutdown & RCV_SHUTDOWN != 0;
    let res = link.zc_landed(idx, discard).and_then(|()| link.progress());
    after_read(ep, inner, res, POLLIN | POLLRDNORM);
}

/// A READ into a reader's pages completed (or failed, or was flushed): its reader
/// takes the outcome ([`ToUser::read`]).
pub(crate) fn user_completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    let res = link.zc_user_read_completed(wc.ok());
    if !wc.ok() {
        ep.notify_waiters();
        read_failed(ep, inner, &wc);
        return;
    }
    // The pool's region it used is kept for the next a while.
    ep.keep_regions_a_while(inner);
    // Its reader wakes; the bytes are not readable by others: no poll event.
    after_read(ep, inner, res, 0);
}

/// A READ of the peer's advert failed or was flushed.
fn read_failed(ep: EpRef<'_>, inner: &mut Inner, wc: &Wc) {
    // A flush: the QP failed, and its receives' flush judges how. Otherwise the peer
    // refused the READ (a key or a range it never advertised) or stopped answering.
    if let Some(err) = connection_error(wc).filter(|_| inner.phase == Phase::Connected) {
        if !wc.peer_silent() {
            stats::bump(ep.sk.net(), Counter::ProtocolViolations);
            if trace::violation_enabled() {
                trace::violation(&ep.sk, c"zero-copy READ refused");
            }
            pr_warn_ratelimited!("SDP: RDMA READ of the peer's advert failed (status {}); connection reset\n", wc.status);
        }
        ep.fail(inner, err.into_error());
        return;
    }
    crate::sdp::close::rdma_settled(ep, inner, false);
}

/// After a READ of the peer's advert completed and the link went on (`res`): wakes
/// blocked calls, and pollers for `events`.
fn after_read(ep: EpRef<'_>, inner: &mut Inner, res: Result, events: u32) {
    if let Some(link) = inner.link.as_mut() {
        count_link_events(ep, link);
    }
    if let Err(e) = res {
        ep.fail(inner, e);
        return;
    }
    crate::sdp::tx::retry_if_short(ep, inner);
    if events != 0 {
        ep.wake(events);
    } else {
        ep.notify_waiters();
    }
    // A peer's disconnect may wait for the READs in flight.
    crate::sdp::close::rdma_settled(ep, inner, false);
    crate::sdp::close::maybe_finish(ep, inner);
}

/// One `recvmsg` call's part in taking the peer's adverts straight into its pages
/// (`proto::zc_to_user` decides; this tells the connection and posts the READ). It
/// waits for a READ it posted whatever happens: the device writes its buffer until
/// then.
pub(crate) struct ToUser(ReaderCall);

impl ToUser {
    /// For a call with `flags` that blocks (`blocking`).
    pub(crate) fn new(ep: EpRef<'_>, inner: &Inner, flags: i32, blocking: bool) -> Self {
        let link = inner.link.as_ref();
        Self(ReaderCall::new(CallTerms {
            blocking,
            peek_or_trunc: flags & (MSG_PEEK | MSG_TRUNC) != 0,
            takes_adverts: link.is_some_and(|l| l.zc.is_some()),
            fast_reg: link.is_some_and(|l| l.qp.expose_max_pages() > 0),
            threshold: crate::sdp::zcopy_tx::threshold(ep, inner),
        }))
    }

    /// Joins or leaves the hold as the room left in `msg` (of the call's `room`)
    /// allows: before each look at the connection.
    pub(crate) fn update(&mut self, ep: EpRef<'_>, inner: &mut Inner, msg: &Msg, room: usize) {
        if let Some(holds) = self.0.update(room, msg.zc_segment().0) {
            tell(ep, inner, holds);
        }
    }

    /// Leaves the hold: at the call's end, or while it faults its pages in.
    pub(crate) fn leave(&mut self, ep: EpRef<'_>, inner: &mut Inner) {
        if self.0.leave() {
            tell(ep, inner, false);
        }
    }

    /// The rest of the call lands as usual.
    pub(crate) fn let_go(&mut self, ep: EpRef<'_>, inner: &mut Inner) {
        if self.0.let_go() {
            tell(ep, inner, false);
        }
    }

    /// Where the reader would wait for data: READs the oldest advert's next bytes
    /// straight into `msg`'s pages if it may, and waits for them.
    pub(crate) fn read(&mut self, ep: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, msg: &mut Msg, room: usize) -> ToUserRead {
        let inner = &mut **guard;
        let Some(link) = inner.link.as_mut() else { return ToUserRead::No };
        let (segment, offset) = msg.zc_segment();
        let plan = self.0.at_wait(&AtWait {
            signal_pending: kernel::current!().signal_pending(),
            ring_bytes: link.stream.rx.bytes(),
            claimable: link.zc_user_claimable(),
            room,
            segment,
            offset,
            max_pages: link.qp.expose_max_pages(),
            page: kernel::page::PAGE_SIZE,
        });
        let n = match plan {
            WaitPlan::Wait => return ToUserRead::No,
            WaitPlan::LetGo => {
                tell(ep, inner, false);
                return ToUserRead::No;
            }
            WaitPlan::Read(n) => n,
        };
        // Pinned without faulting (a fault userspace controls must not hold the
        // endpoint).
        let posted = match link.qp.pin(msg, n, true, None) {
            Ok(buf) => link.zc_read_to_user(buf, n as u32),
            Err(e) => match self.0.pin_failed(e == EFAULT) {
                PinPlan::FaultIn => return ToUserRead::Fault(n),
                PinPlan::LetGo => Ok(false),
            },
        };
        match posted {
            Ok(true) => ToUserRead::Came(self.wait(ep, guard, msg)),
            Ok(false) => {
                self.let_go(ep, inner);
                ToUserRead::No
            }
            Err(e) => {
                ep.fail(inner, e);
                ToUserRead::Came(0)
            }
        }
    }

    /// Waits for the READ into the reader's pages: the device writes them until it
    /// completes or the queue pair stops, so no signal or time-out ends the wait. A
    /// READ the peer leaves unanswered for `sdp_zcopy_cancel_ms` (the namespace's
    /// now) resets the connection.
    fn wait(&mut self, ep: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, msg: &mut Msg) -> usize {
        let began = Instant::<Monotonic>::now();
        let limit_ms = tunables::tunable(ep.sk.net(), TunableId::SdpZcopyCancelMs);
        let mut cut = false;
        loop {
            let inner = &mut **guard;
            match inner.link.as_mut() {
                Some(link) => match link.zc_user_outcome() {
                    Some(UserRead::InFlight(_)) => {}
                    Some(UserRead::Done(n)) => {
                        let n = n as usize;
                        msg.advance(n);
                        let net = ep.sk.net();
                        stats::add(net, Counter::BytesReceived, n as u64);
                        stats::add(net, Counter::ZcBytesToUser, n as u64);
                        ep.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                        // Another reader may claim now.
                        ep.notify_waiters();
                        return n;
                    }
                    Some(UserRead::Lost) | None => {
                        ep.notify_waiters();
                        return 0;
                    }
                },
                // The teardown took the link: its queue pair's drain ends the READ.
                None if inner.torn_down => return 0,
                None => {}
            }
            if !cut && began.elapsed().as_millis() >= limit_ms as i64 {
                pr_warn_ratelimited!("SDP: an RDMA READ into a reader's pages was not answered in time; connection reset\n");
                // The queue pair stops now, under the lock: the device writes the
                // reader's pages no more once the call returns.
                crate::sdp::zcopy_tx::cut(inner);
                ep.fail(inner, ETIMEDOUT.into_error());
                cut = true;
                continue;
            }
            let mut step = i64::try_from(msecs_to_jiffies(crate::sdp::zcopy_tx::WAIT_STEP_MS)).unwrap_or(1).max(1);
            let _ = ep.wait_dying(guard, &mut step);
        }
    }
}
