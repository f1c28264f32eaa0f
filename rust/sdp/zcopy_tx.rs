// SPDX-License-Identifier: GPL-2.0

//! The source's side of zero-copy SDP: a blocking `send()` of a large buffer
//! advertises the program's pages (SrcAvail) instead of copying them, as a
//! `sendfile()` or `splice()` does the file's pages; the sink RDMA READs them and
//! answers RdmaRdCompl, or declines them (SendSm), and their unread rest then goes as
//! Data, copied from the advert's pages by the link. A `send()` returns once every
//! region it exposed is invalidated and every declined byte copied, so the program
//! may overwrite its buffer at once, as after TCP's `send()`. A `MSG_ZEROCOPY` call
//! returns once its pages are advertised, and its notification says when they are
//! the program's again; a `sendfile()`'s or `splice()`'s returns then too, its pages
//! held by a reference each until the sink is done. `link::zc_source` keeps the
//! slots and `proto::zc_src` the rules.

use core::sync::atomic::Ordering;

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::{
    prelude::*,
    sync::MutexGuard,
    time::{msecs_to_jiffies, Instant, Monotonic},
};

use crate::{
    kernel_api::{net::Net, sock::Msg, verbs::Wc, zc_notify::ZcNotify},
    link::{
        link::{Link, REGIONS_KEPT_MS},
        zc_source::{OpenFailed, ZcSource, SRC_ADVERTS},
    },
    netns::{stats, tunables},
    proto::{
        abi::{MSG_MORE, MSG_SPLICE_PAGES},
        errno::ETIMEDOUT,
        rdma_ops::connection_error,
        receive::{Violation, ZcVerdict},
        stats::Counter,
        tunables::TunableId,
        wire::Mid,
        zc_gather::{self, Step},
        zc_policy::{Mode, Setting},
        zc_src::Due,
    },
    sdp::{
        endpoint::{EpRef, Inner, Phase},
        tx::sendable,
    },
};

/// How often a call waiting on a zero-copy transfer looks at its clocks (the
/// adverts' timeouts, `SO_SNDTIMEO`, a READ into a reader's pages left unanswered)
/// and for signals.
pub(crate) const WAIT_STEP_MS: u32 = 100;

/// The soonest the trim timer looks at the adverts' clock again.
const CLOCK_MIN_MS: u32 = 10;

/// What the zero-copy part of a `sendmsg` did.
pub(crate) struct Outcome {
    /// Bytes sent: READ by the sink, or declined and sent as Data (a call whose
    /// adverts outlive it: advertised).
    pub(crate) sent: usize,
    /// Of those, the declined ones: copied after all.
    pub(crate) copied: usize,
    /// The rest of the call is copied: the sink declined an advert, an advert was
    /// cancelled, or the pages could not be exposed.
    pub(crate) copy_rest: bool,
    /// A page was missing when pinning: fault it in (`Msg::prepin`) without the lock,
    /// then try again.
    pub(crate) fault: bool,
    /// The call ends here, with `sent` or else this error: a signal, `SO_SNDTIMEO`, or
    /// the connection's end.
    pub(crate) stop: Option<Error>,
}

/// The smallest piece of a write that goes as an advert on this socket: its
/// `SDP_ZCOPY_THRESH`, else the namespace's `sdp_zcopy_thresh` (OFED's default, 64
/// KiB: below it, pinning, registering and a round trip cost more than the copies
/// they save), the floor of the connection's choice ([`choose`]). `None`: the socket
/// turned zero-copy off.
pub(crate) fn threshold(ep: EpRef<'_>, inner: &Inner) -> Option<usize> {
    match inner.zc_thresh {
        Setting::Off => None,
        Setting::Fixed(n) => Some(n as usize),
        Setting::Adaptive => usize::try_from(zc_tunable(ep.sk.net(), TunableId::SdpZcopyThresh)).ok(),
    }
}

/// A bound of the connection's choice in the socket's namespace: `sdp_zcopy_thresh`
/// (the floor) or `sdp_zcopy_thresh_max` (the ceiling), bytes.
fn zc_tunable(net: &Net, id: TunableId) -> u32 {
    u32::try_from(tunables::tunable(net, id)).unwrap_or(0)
}

/// The connection's choice's floor and ceiling in the namespace now.
fn zc_bounds(net: &Net) -> (u32, u32) {
    (zc_tunable(net, TunableId::SdpZcopyThresh), zc_tunable(net, TunableId::SdpZcopyThreshMax))
}

/// What the administrator's tools show of the connection's threshold: the size from
/// which its blocking writes go as adverts now, and whether that is its own choice
/// (under the namespace's bounds as they are now). `None`: none do, because the
/// socket turned zero-copy off or the link does not advertise.
pub(crate) fn shown_threshold(net: &Net, inner: &Inner) -> (Option<u32>, bool) {
    let Some(src) = inner.link.as_ref().and_then(|l| l.zc_src.as_ref()) else {
        return (None, false);
    };
    match inner.zc_thresh {
        Setting::Off => (None, false),
        Setting::Fixed(n) => (Some(n), false),
        Setting::Adaptive => {
            let (floor, ceiling) = zc_bounds(net);
            (src.choice_now().value_within(floor, ceiling), true)
        }
    }
}

/// How a blocking write of `len` bytes goes on a connection that advertises, for a
/// socket that leaves the choice to it (`SDP_ZCOPY_THRESH` -1): copied, or
/// advertised in pieces of the floor or more, as the calls of its size class have
/// fared (`proto::zc_policy`). `None`: the socket fixed its threshold, or the
/// connection does not advertise.
pub(crate) fn choose(ep: EpRef<'_>, inner: &mut Inner, len: usize) -> Option<Mode> {
    if inner.zc_thresh != Setting::Adaptive || inner.phase != Phase::Connected {
        return None;
    }
    let (floor, ceiling) = zc_bounds(ep.sk.net());
    let choice = inner.link.as_mut()?.zc_src.as_mut()?.choice();
    choice.set_bounds(floor, ceiling);
    Some(choice.choose(len as u64))
}

/// A blocking write of `len` bytes that [`choose`] sent by `mode` went all that way,
/// in `ns` from entry to return.
pub(crate) fn record(inner: &mut Inner, mode: Mode, len: usize, ns: u64) {
    if let Some(src) = inner.link.as_mut().and_then(|l| l.zc_src.as_mut()) {
        src.choice().record(mode, len as u64, ns);
    }
}

/// Whether the next `rest` bytes of a `sendmsg` (blocking, or `early`) go as
/// adverts, and then the smallest piece that does: the link advertises and no other
/// write does, nothing is staged, and the data has a piece as large as the threshold
/// in user memory or in the pages of a `sendfile()` or `splice()`. A call whose
/// adverts outlive it (`early`: `MSG_ZEROCOPY` or spliced pages, see [`send`]) may
/// add adverts to those of calls that returned; other writes advertise only when
/// none is open.
pub(crate) fn eligible(ep: EpRef<'_>, inner: &Inner, msg: &Msg, rest: usize, early: bool) -> Option<usize> {
    let link = inner.link.as_ref()?;
    let spliced = msg.flags() & MSG_SPLICE_PAGES != 0;
    let free = link.zc_src.as_ref().is_some_and(|s| if early { s.may_add(spliced) } else { s.idle() });
    if !free || link.stream.staged_len != 0 {
        return None;
    }
    threshold(ep, inner).filter(|&min| rest >= min && msg.zc_segment().0 >= min)
}

/// Advertises the next `rest` bytes of `msg` (after `eligible`), as far as they go in
/// pieces of at least `min` bytes (iovec segments, runs of spliced pages), and waits until the sink is done
/// with them all and their regions are withdrawn. `msg` is left after the bytes sent.
/// A signal or `SO_SNDTIMEO` (`timeo`) cancels the open adverts and waits for the
/// sink's answer, bounded by the cancel timeout, then a reset. A fatal signal does the
/// same, with no signal ending the wait and the cancel timeout counted from the kill:
/// the connection may be another task's too (`fork()`, `SCM_RIGHTS`), and TCP's does
/// not end when one writer is killed either. One write at a time advertises.
///
/// A call whose adverts outlive it (`early`: a `MSG_ZEROCOPY` one, whose pins are
/// charged to `notify` and hold it, or one of spliced pages) does not wait for the
/// sink: see [`advertise_early`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn send(
    ep: EpRef<'_>,
    guard: &mut MutexGuard<'_, Inner>,
    msg: &mut Msg,
    rest: usize,
    min: usize,
    early: bool,
    notify: Option<&ZcNotify>,
    timeo: &mut i64,
) -> Result<Outcome> {
    if let Some(src) = guard.link.as_mut().and_then(|l| l.zc_src.as_mut()) {
        src.begin_write();
    }
    let res = if early {
        let res = advertise_early(ep, guard, msg, rest, min, notify, timeo);
        // Its adverts outlive it: the clock runs for them (the trim timer).
        let _ = tick(ep, guard, false);
        res
    } else {
        advertise_and_wait(ep, guard, msg, rest, min, timeo)
    };
    if let Some(src) = guard.link.as_mut().and_then(|l| l.zc_src.as_mut()) {
        src.end_write();
    }
    res
}

/// [`send`]'s work, between marking the write and unmarking it.
fn advertise_and_wait(
    ep: EpRef<'_>,
    guard: &mut MutexGuard<'_, Inner>,
    msg: &mut Msg,
    rest: usize,
    min: usize,
    timeo: &mut i64,
) -> Result<Outcome> {
    let mut advanced = 0usize;
    let (mut copy_rest, mut fault) = (false, false);
    // Why the call stops advertising early: a signal, its timeout, the socket's state.
    let mut stop: Option<Error> = None;
    // When a fatal signal came: the wait for the sink's answer goes on, ended by
    // nothing but the answer and, counted from here, the cancel timeout (a peer that
    // keeps an advert alive with partial READs and takes our cancel's credit holds
    // off `Due::Reset`).
    let mut dying_since: Option<Instant<Monotonic>> = None;
    loop {
        let inner = &mut **guard;
        if stop.is_none() {
            stop = sendable(ep, inner).err();
        }
        let connected = inner.phase == Phase::Connected;
        let Some(link) = inner.link.as_mut().filter(|l| connected && !l.stream.qp_dead) else {
            // The connection is over: what the sink READ of closed adverts was sent.
            return give_up(ep, inner, None, stop.unwrap_or(ECONNRESET));
        };
        if link.zc_src.as_ref().is_none_or(ZcSource::broken) {
            return give_up(ep, inner, Some(ECONNRESET), ECONNRESET);
        }
        let declined = link.zc_src.as_ref().is_some_and(ZcSource::has_declined);
        let cancelled = link.zc_src.as_ref().is_some_and(ZcSource::cancelled_in_write);
        if stop.is_none() && !copy_rest && !fault && !declined && !cancelled {
            let mut opened = Opened::default();
            let res = advertise(link, msg, rest - advanced, min, None, None, &mut opened);
            advanced += opened.bytes;
            stats::add(ep.sk.net(), Counter::ZcAdvertsSent, opened.adverts);
            match res {
                Ok(()) => {}
                Err(e) if e == EFAULT => fault = true,
                Err(_) => copy_rest = true,
            }
        }
        let Some(src) = link.zc_src.as_mut() else { return Err(EINVAL) };
        if !src.busy() && !src.broken() && src.has_declined() && (stop.is_some() || !link.qp.has_kept()) {
            // The call stops before the link sent all of the declined bytes, or their
            // pages were not kept (an invalidation flushed: the QP failed). Those not
            // sent yet are the last advanced (the sink READs the oldest advert only,
            // and a SendSm closes all): stepped back over and not sent, as a copy
            // stops.
            let kept = link.qp.drop_kept();
            let unsent = src.drop_declined().min(advanced);
            if kept != unsent && kept > 0 {
                pr_warn_ratelimited!("SDP: {} declined zero-copy bytes kept, {} counted\n", kept, unsent);
            }
            link.stream.data_held = src.holds_data();
            msg.revert(unsent);
            advanced -= unsent;
            // What waited behind them (a DisConn, another writer) may go now.
            let _ = crate::sdp::tx::progress(ep, inner);
            copy_rest = true;
            continue;
        }
        if !src.busy() && !src.broken() && !src.has_declined() {
            let copy_rest = copy_rest || src.resent() > 0 || src.cancelled_in_write();
            return outcome(ep, advanced, src.resent() as usize, copy_rest, fault, stop);
        }
        if dying_since.is_some_and(|t| t.elapsed().as_millis() >= src.cancel_ms() as i64) {
            pr_warn_ratelimited!("SDP: a killed writer's zero-copy adverts were not closed in time; connection reset\n");
            return give_up(ep, inner, Some(ETIMEDOUT.into_error()), ETIMEDOUT.into_error());
        }
        // The clock, and a cancel of its own once the call stops.
        if let Some(e) = tick(ep, inner, stop.is_some()) {
            return ended_now(ep, inner, e);
        }
        // Until the call stops, an ordinary wait that a signal ends (and the clocks
        // every step); then only a fatal signal ends it, and after one nothing does.
        let forever = *timeo == i64::MAX;
        let step = i64::try_from(msecs_to_jiffies(WAIT_STEP_MS)).unwrap_or(1).max(1);
        let began = if forever || stop.is_some() { step } else { (*timeo).min(step).max(1) };
        let mut left = began;
        let waited = if stop.is_none() {
            ep.wait(guard, &mut left)
        } else if dying_since.is_some() {
            ep.wait_dying(guard, &mut left)
        } else {
            ep.wait_killable(guard, &mut left)
        };
        match waited {
            Err(e) if e == EAGAIN => {}
            Ok(()) => {}
            Err(_) if stop.is_none() => {
                // Restarted after a handler when nothing went, as a write without a
                // timeout is (`SA_RESTART`). A fatal signal ends the next wait too.
                stop = Some(if forever { ERESTARTSYS } else { EINTR });
            }
            Err(_) => {
                dying_since.get_or_insert_with(Instant::now);
            }
        }
        if !forever && stop.is_none() {
            *timeo -= began - left.max(0);
            if *timeo <= 0 {
                stop = Some(EAGAIN);
            }
        }
    }
}

/// [`send`]'s work for a `MSG_ZEROCOPY` call or one of spliced pages: as TCP's, it
/// returns once its bytes are handed over, not once the peer has them. Its pieces
/// are advertised and the call returns without waiting for the READ: the program may
/// not reuse the buffer before the call's notification (`notify`), which comes when
/// the last of its pins goes (each advert's once READ; a declined one's once the
/// link has copied its rest out of the pinned pages, marked copied then); spliced
/// pages stay held by their references until then. It waits only for a free advert or a
/// credit, as a copy waits for room; a signal or `SO_SNDTIMEO` then ends the call
/// with what was advertised, and so does a non-blocking socket at once (`timeo` 0:
/// `EAGAIN` if nothing was). Open adverts outlive the call: the clock runs without
/// it (the trim timer), and no Data passes them (`data_held`), so a copied tail
/// waits for them in the same call.
fn advertise_early(
    ep: EpRef<'_>,
    guard: &mut MutexGuard<'_, Inner>,
    msg: &mut Msg,
    rest: usize,
    min: usize,
    notify: Option<&ZcNotify>,
    timeo: &mut i64,
) -> Result<Outcome> {
    let mut advanced = 0usize;
    // Spliced pages gather behind open adverts while more follows: the call says so
    // (`MSG_MORE`), or Nagle's rule holds what comes behind data in flight (no
    // `TCP_NODELAY`), as TCP holds a `sendfile()`'s pages behind unacknowledged
    // segments.
    let flags = msg.flags();
    let gather = (flags & MSG_SPLICE_PAGES != 0).then_some(flags & MSG_MORE != 0 || !guard.nodelay);
    // Nothing of the call is copied here: a declined advert's notification says so.
    let done = |ep, advanced, copy_rest, fault, stop| outcome(ep, advanced, 0, copy_rest, fault, stop);
    loop {
        let inner = &mut **guard;
        let connected = inner.phase == Phase::Connected;
        if let Err(e) = sendable(ep, inner) {
            return done(ep, advanced, true, false, Some(e));
        }
        let Some(link) = inner.link.as_mut().filter(|l| connected && !l.stream.qp_dead) else {
            return done(ep, advanced, true, false, Some(ECONNRESET));
        };
        let Some(src) = link.zc_src.as_ref() else { return Err(EINVAL) };
        if src.broken() {
            reset(ep, inner, ECONNRESET);
            return done(ep, advanced, true, false, Some(ECONNRESET));
        }
        if !src.takes_more() {
            // A decline or a cancel: the rest of the call is copied, after them.
            return done(ep, advanced, true, false, None);
        }
        let mut opened = Opened::default();
        let res = advertise(link, msg, rest - advanced, min, notify, gather, &mut opened);
        advanced += opened.bytes;
        stats::add(ep.sk.net(), Counter::ZcAdvertsSent, opened.adverts);
        let broken = link.zc_src.as_ref().is_some_and(ZcSource::broken);
        match res {
            Ok(()) => {}
            Err(_) if broken => {
                // Gathered bytes calls took were lost with their SrcAvail.
                reset(ep, inner, ECONNRESET);
                return done(ep, advanced, true, false, Some(ECONNRESET));
            }
            Err(e) if e == EFAULT => return done(ep, advanced, false, true, None),
            Err(_) => return done(ep, advanced, true, false, None),
        }
        // No piece large enough left: the rest (if any) is copied.
        if msg.zc_segment().0.min(rest - advanced) < min {
            return done(ep, advanced, false, false, None);
        }
        // No free advert or no credit now. With none open, a non-blocking call copies
        // instead: POLLOUT said a copy may go (nothing holds Data back), and no wake
        // comes when the slots' invalidations complete.
        if *timeo <= 0 && link.zc_src.as_ref().is_some_and(|s| !s.open()) {
            return done(ep, advanced, true, false, None);
        }
        // The clock runs meanwhile.
        if let Some(e) = tick(ep, inner, false) {
            return done(ep, advanced, true, false, Some(e));
        }
        if let Err(e) = ep.wait(guard, timeo) {
            return done(ep, advanced, true, false, Some(e));
        }
    }
}

/// The adverts' clock, looked at by a writer waiting for the sink and by the trim
/// timer (`tx::trim_idle`) whenever an advert is open, which this arms for the next
/// deadline: SrcAvailCancel once the oldest advert saw no READ for
/// `sdp_zcopy_timeout_ms` (or at once with `cancel`, a writer that stops), and a reset
/// once a cancel went unanswered for `sdp_zcopy_cancel_ms`. Returns the error the
/// connection was reset with, if it was.
pub(crate) fn tick(ep: EpRef<'_>, inner: &mut Inner, cancel: bool) -> Option<Error> {
    let link = inner.link.as_mut()?;
    let src = link.zc_src.as_ref()?;
    let due = src.due();
    if due == Due::Reset {
        pr_warn_ratelimited!("SDP: peer did not answer the cancel of our zero-copy advert; connection reset\n");
        let e = ETIMEDOUT.into_error();
        reset(ep, inner, e);
        return Some(e);
    }
    if src.open() && !src.cancelling() && (due == Due::Cancel || cancel) {
        // A control message: it may use the reserve. Without a credit now, later
        // (the reset comes all the same).
        if link.send(Mid::SrcAvailCancel, 0, true, 0, |_| Ok(0)).is_ok() {
            if let Some(src) = link.zc_src.as_mut() {
                src.cancelled();
            }
            stats::bump(ep.sk.net(), Counter::ZcCancelsSent);
        }
    }
    arm_clock(ep, link);
    None
}

/// Arms the trim timer for the adverts' next deadline, if one is open: see [`tick`].
/// Also for adverts the link opened on its own (gathered spliced pages), which no
/// writer waits for.
pub(crate) fn arm_clock(ep: EpRef<'_>, link: &Link) {
    if let Some(ms) = link.zc_src.as_ref().and_then(ZcSource::next_due_ms) {
        // A cancel due that found no credit is tried again in a while, not at once.
        ep.start_trim_timer(u32::try_from(ms).unwrap_or(u32::MAX).max(CLOCK_MIN_MS));
    }
}

/// The write stops before its adverts closed: the QP is cut if any is exposed,
/// the connection failed with `reset` if given, and the call returns what went of
/// closed adverts (READ, or declined and sent as Data), else `err`.
fn give_up(ep: EpRef<'_>, inner: &mut Inner, reset_with: Option<Error>, err: Error) -> Result<Outcome> {
    match reset_with {
        Some(e) => reset(ep, inner, e),
        None => cut(inner),
    }
    ended_now(ep, inner, err)
}

/// The connection is reset with `err`, its exposed adverts cut first.
fn reset(ep: EpRef<'_>, inner: &mut Inner, err: Error) {
    cut(inner);
    ep.fail(inner, err);
}

/// The write ends with its connection (`err`): see [`ended`].
fn ended_now(ep: EpRef<'_>, inner: &Inner, err: Error) -> Result<Outcome> {
    let src = inner.link.as_ref().and_then(|l| l.zc_src.as_ref());
    let (sent, copied) = src.map_or((0, 0), |s| (s.done() as usize, s.resent() as usize));
    ended(ep, sent, copied, err)
}

/// A call that gives up with adverts still exposed, or with a READ still writing a
/// reader's pages: the QP goes to the error state now, under the lock, so that the
/// device touches none of the pages once the call returns and the program reuses its
/// buffer (they stay pinned until the QP goes).
pub(crate) fn cut(inner: &mut Inner) {
    let (Some(id), Some(link)) = (inner.id.as_ref(), inner.link.as_ref()) else { return };
    let busy = link.zc_src.as_ref().is_some_and(ZcSource::busy) || link.zc_user_in_flight();
    if busy && id.disconnect(Some(link.qp.qp())).is_err() {
        // Cannot happen on a live QP; if it does, the admin must know that the
        // device may still reach pages of a call that returned.
        pr_warn_ratelimited!("SDP: the device refused to stop a queue pair with zero-copy pages in use\n");
    }
}

/// Counts `sent` bytes as sent.
fn count(ep: EpRef<'_>, sent: usize) {
    if sent > 0 {
        stats::add(ep.sk.net(), Counter::BytesSent, sent as u64);
        ep.bytes_sent.fetch_add(sent as u64, Ordering::Relaxed);
    }
}

/// The end of a write whose connection ended (`err`): the bytes that went of its
/// closed adverts (`copied` of them as Data) were sent, else the error.
fn ended(ep: EpRef<'_>, sent: usize, copied: usize, err: Error) -> Result<Outcome> {
    outcome(ep, sent, copied, true, false, Some(err))
}

/// What the zero-copy part of a write returns once it sent `sent` bytes (`copied`
/// of them as Data), counted here: a call stopped (`stop`) with nothing sent fails
/// with that error.
fn outcome(
    ep: EpRef<'_>,
    sent: usize,
    copied: usize,
    copy_rest: bool,
    fault: bool,
    stop: Option<Error>,
) -> Result<Outcome> {
    count(ep, sent);
    match stop {
        Some(e) if sent == 0 => Err(e),
        stop => Ok(Outcome { sent, copied, copy_rest, fault, stop }),
    }
}

/// What [`advertise`] opened.
#[derive(Default)]
struct Opened {
    /// Bytes advertised or gathered, which `msg` is left after.
    bytes: usize,
    adverts: u64,
}

/// Opens adverts over the next of `rest` bytes of `msg`, from pieces of at least `min`
/// (an advert is cut shorter where the device registers fewer pages), while the sink
/// has room for them and a data credit allows each SrcAvail, counting them in
/// `opened` (also when it fails). The pins are charged to `RLIMIT_MEMLOCK`, or to a
/// `MSG_ZEROCOPY` call's `notify`; spliced pages are held by a reference each,
/// charged to nobody, and with `gather` (whether more follows) gather behind open
/// adverts into one larger advert (`proto::zc_gather`). `EFAULT`: a page was
/// missing; another error (`ENOBUFS` over the limit): the pages cannot be exposed
/// (the caller copies).
fn advertise(
    link: &mut Link,
    msg: &mut Msg,
    rest: usize,
    min: usize,
    notify: Option<&ZcNotify>,
    gather: Option<bool>,
    opened: &mut Opened,
) -> Result {
    loop {
        let Some(src) = link.zc_src.as_ref() else { return Ok(()) };
        if link.stream.staged_len != 0 || !src.takes_more() {
            // Another writer's bytes, staged while no advert was open, or declined
            // ones: they go first.
            return Ok(());
        }
        let (segment, offset) = msg.zc_segment();
        let piece = segment.min(rest - opened.bytes);
        if piece < min {
            return Ok(());
        }
        let lim = src.limits();
        let len = lim.cap(offset, piece);
        if let Some(more) = gather {
            match zc_gather::step(src.run(), offset, len, more, src.open(), &lim) {
                Step::Gather => {
                    if src.run().is_none() {
                        // Should its pages not be exposed, they are kept without
                        // allocating then: room for every slot's and the run's.
                        link.qp.reserve_kept(SRC_ADVERTS + 1)?;
                    }
                    let pages = link.qp.pin_for_advert(msg, len, None)?;
                    link.zc_src.as_mut().ok_or(EINVAL)?.gather(pages, offset, len, more)?;
                    link.stream.data_held = true;
                    msg.advance(len);
                    opened.bytes += len;
                    // A run that can grow no more goes now if a slot is free.
                    link.zc_flush_run()?;
                    continue;
                }
                Step::FlushFirst => {
                    if link.zc_advertise_run()? {
                        continue;
                    }
                    return Ok(());
                }
                Step::Advertise => {}
            }
        }
        if !link.can_send_data() {
            return Ok(());
        }
        let Some(slot) = src.free_slot() else { return Ok(()) };
        link.zc_src.as_mut().ok_or(EINVAL)?.reserve()?;
        let pages = link.qp.pin_for_advert(msg, len, notify)?;
        // On failure nothing was handed over: the caller copies from `msg`.
        link.zc_open_advert(slot, pages, len, false).map_err(|f| match f {
            OpenFailed::NotExposed(e, _) | OpenFailed::NotSent { err: e, .. } => e,
        })?;
        msg.advance(len);
        opened.bytes += len;
        opened.adverts += 1;
    }
}

/// The sink's reply to our adverts (`classify` gives these only to a source).
pub(crate) fn on_reply(ep: EpRef<'_>, link: &mut Link, z: ZcVerdict) -> core::result::Result<(), Violation> {
    let src = link.zc_src.as_mut().ok_or(Violation::Reset)?;
    match z {
        ZcVerdict::RdCompl { n, mseq_ack } => {
            src.on_rd_compl(&mut link.qp, n, mseq_ack).map_err(|_| Violation::Reset)?.map_err(Violation::ZcSrc)?;
            stats::add(ep.sk.net(), Counter::ZcBytesReadByPeer, u64::from(n));
        }
        ZcVerdict::SendSm { .. } => {
            let declined = src.on_send_sm(&mut link.qp).map_err(|_| Violation::Reset)?;
            stats::add(ep.sk.net(), Counter::ZcDeclines, declined as u64);
        }
        ZcVerdict::SrcAvail { .. } | ZcVerdict::Cancel => return Err(Violation::Reset),
    }
    // Data may go again once every advert is closed and its declined bytes went.
    link.stream.data_held = src.holds_data();
    ep.notify_waiters();
    Ok(())
}

/// A request of our adverts' regions completed: an invalidation (whose slot is free
/// again), or a registration that failed or was flushed.
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc, invalidation: bool) {
    let Some(link) = inner.link.as_mut() else { return };
    if invalidation {
        if let Some(src) = link.zc_src.as_mut() {
            src.invalidated();
            // The pool's regions are kept for the next adverts a while (`trim_regions`).
            if !src.busy() && inner.phase == Phase::Connected {
                link.rdma.idle_since = Some(kernel::time::Instant::now());
                ep.start_trim_timer(REGIONS_KEPT_MS);
            }
        }
    }
    if !wc.ok() {
        // A flush: the QP failed, and its receives' flush judges how. Otherwise our
        // own registration or invalidation was refused: the regions cannot be trusted.
        if let Some(err) = connection_error(&wc).filter(|_| inner.phase == Phase::Connected) {
            pr_warn_ratelimited!("SDP: a zero-copy region request failed (status {}); connection reset\n", wc.status);
            ep.fail(inner, err.into_error());
            return;
        }
    } else if invalidation
        && inner.phase == Phase::Connected
        && (link.qp.has_kept() || link.zc_src.as_ref().is_some_and(|s| s.run().is_some()))
    {
        // A declined advert's pages are out of the peer's reach: its bytes go now;
        // gathered pages may take the freed slot.
        if crate::sdp::tx::progress(ep, inner).is_none() {
            return;
        }
        crate::sdp::tx::retry_if_short(ep, inner);
    }
    ep.notify_waiters();
    crate::sdp::close::rdma_settled(ep, inner, false);
    crate::sdp::close::maybe_finish(ep, inner);
}
