// SPDX-License-Identifier: GPL-2.0

//! The source's side of zero-copy SDP on a link: the exposure slots of the queue pair
//! (pages a SrcAvail advertises, registered for the peer's READs), the adverts open
//! on them (`proto::zc_src` keeps the rules), and their withdrawal once the sink's
//! reply closes them. A declined advert's pages are kept past their withdrawal, and
//! the link sends their unread bytes as Data from them (`Link::zc_resend`), before
//! anything else. A `sendfile()`'s pages that come while adverts are open gather into
//! a run (`proto::zc_gather`), which the link advertises as one advert when one of
//! those closes (`Link::zc_flush_run`). `sdp::zcopy_tx` drives it from a blocking
//! `send()`, a `MSG_ZEROCOPY` one, or a `sendfile()`'s or `splice()`'s.

use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    time::{Instant, Monotonic},
};

use crate::{
    kernel_api::{
        list::KernelLists,
        log::pr_warn_ratelimited,
        qp::QueuePair,
        verbs::{Cqe, PinnedBuf},
    },
    link::link::{Link, WrKind},
    proto::{
        wire::{Advert, Mid, SRC_AH_LEN},
        zc_gather::{AdvertLimits, Run},
        zc_policy::{Setting, Threshold, THRESH_MAX_DEFAULT, THRESH_MIN_DEFAULT},
        zc_src::{Closed, Due, SrcAdverts, SrcLimits, SrcViolation},
    },
};

/// Adverts of ours open at once at most (fewer if the peer keeps fewer open): enough
/// that the sink READs the next while we hear of the last.
pub(crate) const SRC_ADVERTS: usize = 4;

/// Bytes one advert covers at most (OFED's sinks take no more).
pub(crate) const ADVERT_MAX: usize = 1 << 20;

/// The unsignaled requests that register an exposed region: reported only when they
/// fail or are flushed.
pub(crate) static ZC_REG_CQE: Cqe = WrKind::ZcReg.cqe();
/// The signaled invalidation that ends an exposure.
pub(crate) static ZC_INV_CQE: Cqe = WrKind::ZcInv.cqe();

/// What an exposure slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// Pages advertised by an open SrcAvail.
    Open,
    /// Its region's invalidation is posted: the `n`th of the link's.
    Invalidating(u64),
    /// Its invalidation could not be posted: the QP is broken, and the connection
    /// must be reset (the pages go with the QP).
    Stuck,
}

/// The source's state of one connection.
pub(crate) struct ZcSource {
    adverts: SrcAdverts<KernelLists>,
    slots: [Slot; SRC_ADVERTS],
    /// Invalidations posted and completed: they complete in posting order.
    inv_posted: u64,
    inv_done: u64,
    /// Bytes of closed adverts the sink did not READ (it declined them) and that have
    /// not gone as Data yet: the link sends them from the adverts' pages once their
    /// regions are withdrawn, and holds other data back meanwhile.
    declined: u64,
    /// Bytes of closed adverts the sink READ, during the current write.
    read: u64,
    /// Bytes of declined adverts sent as Data, during the current write.
    resent: u64,
    /// A cancel went during the current write.
    cancelled_in_write: bool,
    /// A write is advertising: one at a time. A blocking `send()` waits for all of
    /// its adverts, so it begins with none open; a `MSG_ZEROCOPY` call or one of
    /// spliced pages, whose adverts outlive it, may add to those of calls that
    /// returned.
    writer: bool,
    /// Pages one advert covers at most (the device's registrations).
    max_pages: usize,
    /// Names the next region's address (`QueuePair::expose`).
    next_tag: u32,
    /// The adverts' clock.
    epoch: Instant<Monotonic>,
    /// Spliced pages gathered behind open adverts and not advertised yet, their
    /// references held.
    run: Option<(PinnedBuf, Run)>,
    /// A run's pages were exposed but their SrcAvail could not go: the bytes are
    /// lost, and the connection must be reset.
    run_lost: bool,
    /// Adverts the link opened for runs, not yet counted in the namespace's
    /// statistics ([`ZcSource::take_runs_advertised`]).
    runs_advertised: u64,
    /// Which blocking writes are advertised, for a socket that leaves the choice to
    /// the connection (`SDP_ZCOPY_THRESH` -1): what each size class's calls cost.
    choice: Threshold,
}

impl ZcSource {
    /// A source whose peer keeps `peer_adverts` of our adverts open at once, each
    /// of at most `max_pages` pages, on the clocks of `limits`.
    pub(crate) fn new(peer_adverts: u8, max_pages: usize, limits: SrcLimits) -> Self {
        let max = peer_adverts.min(SRC_ADVERTS as u8);
        Self {
            adverts: SrcAdverts::new(max, limits.advert_ms, limits.cancel_ms),
            slots: [Slot::Free; SRC_ADVERTS],
            inv_posted: 0,
            inv_done: 0,
            declined: 0,
            read: 0,
            resent: 0,
            cancelled_in_write: false,
            writer: false,
            max_pages,
            next_tag: 0,
            epoch: Instant::now(),
            run: None,
            run_lost: false,
            runs_advertised: 0,
            // The namespace's bounds are set at each write.
            choice: Threshold::new(Setting::Adaptive, THRESH_MIN_DEFAULT, THRESH_MAX_DEFAULT),
        }
    }

    /// The connection's choice of which blocking writes are advertised.
    pub(crate) fn choice(&mut self) -> &mut Threshold {
        &mut self.choice
    }

    /// How long a cancel may go unanswered before the connection is reset.
    pub(crate) fn cancel_ms(&self) -> u64 {
        self.adverts.cancel_ms()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How large one advert may be.
    pub(crate) fn limits(&self) -> AdvertLimits {
        AdvertLimits { max_bytes: ADVERT_MAX, max_pages: self.max_pages, page: PAGE_SIZE }
    }

    /// Whether a write may begin advertising: no other is, and nothing of ours is
    /// exposed, gathered, or waits to be taken back.
    pub(crate) fn idle(&self) -> bool {
        !self.writer && !self.busy() && self.declined == 0 && self.run.is_none()
    }

    /// Whether a call whose adverts outlive it (`MSG_ZEROCOPY`, spliced pages) may
    /// add adverts to those open: no other write advertises, and
    /// [`Self::takes_more`]; behind gathered pages, only more of them (`spliced`).
    pub(crate) fn may_add(&self, spliced: bool) -> bool {
        !self.writer && self.takes_more() && (spliced || self.run.is_none())
    }

    /// The spliced pages gathered and not advertised yet, if any.
    pub(crate) fn run(&self) -> Option<&Run> {
        self.run.as_ref().map(|(_, r)| r)
    }

    /// `pages`, `len` bytes beginning `off` into their first page, join the run
    /// (`zc_gather::step` said so; `more`: more follows). `EINVAL` if they cannot
    /// (they go, their references released).
    pub(crate) fn gather(&mut self, pages: PinnedBuf, off: usize, len: usize, more: bool) -> Result {
        let lim = self.limits();
        let open = self.open();
        match self.run.as_mut() {
            None => {
                let mut run = Run::new(off);
                run.joined(len, more, open, &lim);
                self.run = Some((pages, run));
            }
            Some((buf, run)) => {
                buf.append(pages)?;
                run.joined(len, more, open, &lim);
            }
        }
        Ok(())
    }

    /// Adverts opened for runs since the last call.
    pub(crate) fn take_runs_advertised(&mut self) -> u64 {
        core::mem::take(&mut self.runs_advertised)
    }

    /// Whether adverts may be added to those open: none was declined or cancelled
    /// (their bytes go first) and none is stuck.
    pub(crate) fn takes_more(&self) -> bool {
        self.declined == 0 && !self.cancelling() && !self.broken()
    }

    /// A write begins advertising.
    pub(crate) fn begin_write(&mut self) {
        self.writer = true;
        self.read = 0;
        self.resent = 0;
        self.cancelled_in_write = false;
    }

    /// The write is done with its adverts (or gave up on a broken connection).
    pub(crate) fn end_write(&mut self) {
        self.writer = false;
    }

    /// Bytes of the write's closed adverts that went: READ by the sink, or declined
    /// and sent as Data since.
    pub(crate) fn done(&self) -> u64 {
        self.read + self.resent
    }

    /// Bytes of the write's declined adverts sent as Data.
    pub(crate) fn resent(&self) -> u64 {
        self.resent
    }

    /// An exposure could not be withdrawn, or gathered pages could not be
    /// advertised: the connection must be reset.
    pub(crate) fn broken(&self) -> bool {
        self.run_lost || self.slots.contains(&Slot::Stuck)
    }

    /// A free exposure slot, if another advert may open now.
    pub(crate) fn free_slot(&self) -> Option<u16> {
        if !self.adverts.has_room() {
            return None;
        }
        self.slots.iter().position(|s| *s == Slot::Free).map(|k| k as u16)
    }

    /// The address tag of the next exposed region.
    pub(crate) fn next_tag(&mut self) -> u32 {
        self.next_tag = self.next_tag.wrapping_add(1);
        self.next_tag
    }

    /// Room to record the next advert (before its SrcAvail goes).
    pub(crate) fn reserve(&mut self) -> Result {
        self.adverts.reserve().map_err(|_| ENOMEM)?;
        Ok(())
    }

    /// `slot`'s pages were exposed and advertised by a SrcAvail sent as `mseq`, of
    /// `len` bytes (after [`Self::reserve`], it cannot fail for memory).
    pub(crate) fn opened(&mut self, slot: u16, mseq: u32, len: u32) -> Result {
        let now = self.now_ms();
        let s = self.slots.get_mut(usize::from(slot)).ok_or(EINVAL)?;
        self.adverts.post(u64::from(slot), mseq, len, now).map_err(|_| ENOMEM)?;
        *s = Slot::Open;
        Ok(())
    }

    /// Bytes advertised and not READ yet, gathered, or declined and not sent as
    /// Data yet.
    pub(crate) fn outq(&self) -> u64 {
        self.adverts.unread() + self.declined + self.run().map_or(0, |r| r.len as u64)
    }

    /// How many adverts are open.
    pub(crate) fn open_count(&self) -> usize {
        self.adverts.open_count()
    }

    /// The connection's choice, to be looked at.
    pub(crate) fn choice_now(&self) -> &Threshold {
        &self.choice
    }

    /// Whether an advert is open: no Data may go meanwhile.
    pub(crate) fn open(&self) -> bool {
        !self.adverts.may_send_data()
    }

    /// Whether anything of ours is still exposed or being withdrawn.
    pub(crate) fn busy(&self) -> bool {
        self.slots.iter().any(|s| *s != Slot::Free)
    }

    /// Whether the sink declined adverts whose bytes have not all gone as Data yet:
    /// no advert and no other data goes until they have.
    pub(crate) fn has_declined(&self) -> bool {
        self.declined > 0
    }

    /// Whether data of ours must wait: an advert is open, or declined or gathered
    /// bytes go first.
    pub(crate) fn holds_data(&self) -> bool {
        self.open() || self.has_declined() || self.run.is_some()
    }

    /// `n` declined bytes went as Data.
    pub(crate) fn resent_now(&mut self, n: usize) {
        self.declined = self.declined.saturating_sub(n as u64);
        self.resent += n as u64;
    }

    /// The declined bytes not sent yet will not be (the writer stops and takes them
    /// back); returns how many they were.
    pub(crate) fn drop_declined(&mut self) -> usize {
        usize::try_from(core::mem::take(&mut self.declined)).unwrap_or(usize::MAX)
    }

    /// Withdraws the region of a closed advert; its unread bytes are declined, and its
    /// pages kept for them.
    fn close(&mut self, qp: &mut QueuePair, c: Closed) -> Result {
        if let Some((_, run)) = self.run.as_mut() {
            run.advert_closed();
        }
        self.declined += u64::from(c.unread());
        self.read += u64::from(c.read);
        let slot = u16::try_from(c.id).map_err(|_| EINVAL)?;
        self.withdraw(qp, slot, Some(c.read as usize..c.len as usize))
    }

    /// Withdraws `slot`'s region: its advert closed, or its pages were exposed but
    /// never advertised (or not recorded).
    pub(crate) fn abandon(&mut self, qp: &mut QueuePair, slot: u16) -> Result {
        self.withdraw(qp, slot, None)
    }

    /// Withdraws `slot`'s region, whose `len` bytes were exposed but never
    /// advertised (their SrcAvail could not go), keeping them: they go as Data, as a
    /// declined advert's unread bytes.
    pub(crate) fn withdraw_unsent(&mut self, qp: &mut QueuePair, slot: u16, len: usize) -> Result {
        self.withdraw(qp, slot, Some(0..len))?;
        self.declined += len as u64;
        Ok(())
    }

    /// Keeps `pages`' first `len` bytes, never exposed, to go as Data as a declined
    /// advert's do; gives them back if no room to keep them was reserved.
    pub(crate) fn keep_unexposed(&mut self, qp: &mut QueuePair, pages: PinnedBuf, len: usize) -> core::result::Result<(), PinnedBuf> {
        qp.keep_unexposed(pages, len)?;
        self.declined += len as u64;
        Ok(())
    }

    /// Withdraws `slot`'s region, keeping the bytes `keep` of its pages.
    fn withdraw(&mut self, qp: &mut QueuePair, slot: u16, keep: Option<core::ops::Range<usize>>) -> Result {
        let s = self.slots.get_mut(usize::from(slot)).ok_or(EINVAL)?;
        if let Err(e) = qp.withdraw(slot, &ZC_INV_CQE, keep) {
            *s = Slot::Stuck;
            return Err(e);
        }
        self.inv_posted += 1;
        *s = Slot::Invalidating(self.inv_posted);
        Ok(())
    }

    /// The sink's RdmaRdCompl of `n` more bytes, sent with `mseq_ack`. `Ok(Err(_))`:
    /// the sink broke the rules; `Err`: the withdrawal could not be posted.
    pub(crate) fn on_rd_compl(&mut self, qp: &mut QueuePair, n: u32, mseq_ack: u32) -> Result<core::result::Result<(), SrcViolation>> {
        let now = self.now_ms();
        match self.adverts.on_rd_compl(n, mseq_ack, now) {
            Err(v) => Ok(Err(v)),
            Ok(None) => Ok(Ok(())),
            Ok(Some(closed)) => self.close(qp, closed).map(Ok),
        }
    }

    /// The sink's SendSm: every open advert closes, its unread rest declined. Returns
    /// how many it closed.
    pub(crate) fn on_send_sm(&mut self, qp: &mut QueuePair) -> Result<usize> {
        // At most `SRC_ADVERTS` are open (`new`).
        let mut closed = [None; SRC_ADVERTS];
        let mut n = 0;
        self.adverts.on_send_sm(|c| {
            if let Some(at) = closed.get_mut(n) {
                *at = Some(c);
            }
            n += 1;
        });
        let mut res = Ok(());
        for c in closed.into_iter().flatten() {
            if let Err(e) = self.close(qp, c) {
                res = Err(e);
            }
        }
        res.map(|()| n)
    }

    /// An invalidation completed (or was flushed): its slot is free again.
    pub(crate) fn invalidated(&mut self) {
        self.inv_done += 1;
        let done = self.inv_done;
        if let Some(s) = self.slots.iter_mut().find(|s| **s == Slot::Invalidating(done)) {
            *s = Slot::Free;
        }
    }

    /// What the clock asks now: cancel the open adverts, or reset.
    pub(crate) fn due(&self) -> Due {
        self.adverts.tick(self.now_ms())
    }

    /// Milliseconds until the clock may ask for more than now; `None` with no advert
    /// open.
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        self.adverts.next_due_ms(self.now_ms())
    }

    /// Whether the open adverts are cancelled: no second cancel goes.
    pub(crate) fn cancelling(&self) -> bool {
        self.adverts.cancelled_any()
    }

    /// Whether a cancel went during the current write: the rest of it is copied.
    pub(crate) fn cancelled_in_write(&self) -> bool {
        self.cancelled_in_write
    }

    /// We sent SrcAvailCancel: the sink answers with what it READ, then SendSm for any
    /// advert still open.
    pub(crate) fn cancelled(&mut self) {
        let now = self.now_ms();
        self.adverts.cancel(now);
        self.cancelled_in_write = true;
    }
}

/// How opening an advert failed ([`Link::zc_open_advert`]).
pub(crate) enum OpenFailed {
    /// The pages were not exposed: they come back.
    NotExposed(Error, PinnedBuf),
    /// They were exposed but the SrcAvail could not go: withdrawn, and kept for
    /// their bytes as a declined advert's (`kept`) or gone with the slot.
    NotSent { err: Error, kept: bool },
}

/// The source's side of zero-copy on the link: opening one advert, and the run of
/// gathered pages.
impl Link {
    /// Exposes `pages` (`len` bytes) in the free slot `slot` and advertises them with a
    /// SrcAvail (after [`ZcSource::reserve`]; a data credit is there). If the SrcAvail
    /// cannot go, the exposure is withdrawn; with `keep_unsent` (bytes handed over
    /// already) and no other advert open, its pages are kept and their bytes go as
    /// Data, as a declined advert's; otherwise they go with the slot.
    pub(crate) fn zc_open_advert(
        &mut self,
        slot: u16,
        pages: PinnedBuf,
        len: usize,
        keep_unsent: bool,
    ) -> core::result::Result<(), OpenFailed> {
        let gone = |err| OpenFailed::NotSent { err, kept: false };
        let src = self.zc_src.as_mut().ok_or(gone(EINVAL))?;
        let tag = src.next_tag();
        let (rkey, vaddr) = self.qp.expose(slot, pages, &ZC_REG_CQE, tag).map_err(|(e, p)| OpenFailed::NotExposed(e, p))?;
        let ah = Advert { len: len as u32, rkey, vaddr };
        let sent = self.send(Mid::SrcAvail, 0, false, SRC_AH_LEN, |buf| {
            ah.encode(buf.get_mut(..SRC_AH_LEN).ok_or(EINVAL)?);
            Ok(SRC_AH_LEN)
        });
        let mseq = self.stream.credits.as_ref().map_or(0, |c| c.last_sent());
        let src = self.zc_src.as_mut().ok_or(gone(EINVAL))?;
        if let Err(err) = sent {
            // Never advertised: withdrawn (a failure marks the slot broken). Kept
            // bytes go after those of the adverts before them, which is only sure
            // when none is open.
            if keep_unsent && !src.open() && src.withdraw_unsent(&mut self.qp, slot, len).is_ok() {
                self.stream.data_held = true;
                return Err(OpenFailed::NotSent { err, kept: true });
            }
            let _ = src.abandon(&mut self.qp, slot);
            return Err(gone(err));
        }
        // Room was reserved: the sink may have seen it, so it must be recorded.
        src.opened(slot, mseq, len as u32).map_err(gone)?;
        self.stream.data_held = true;
        Ok(())
    }

    /// The run of gathered pages goes as one advert if it is due (or no advert is
    /// open any more) and nothing goes before it: from `progress`, after the replies
    /// that close adverts.
    pub(crate) fn zc_flush_run(&mut self) -> Result {
        // `zc_advertise_run` checks the rest (a run, room to advertise it).
        let due = self.zc_src.as_ref().is_some_and(|s| s.run().is_some_and(|r| r.goes(s.open())));
        if due {
            self.zc_advertise_run()?;
        }
        Ok(())
    }

    /// The run goes now, if a slot and a credit allow, and nothing declined goes
    /// before it; returns whether it went. As one advert; or, when the device would
    /// not expose its pages (or no memory allowed the advert) and no advert is open,
    /// as Data from its pages (with adverts open it waits: nothing may pass them, and
    /// their declined bytes would go first). `Err`: its pages were exposed but the
    /// SrcAvail could not go with adverts open: its bytes are lost, and the
    /// connection must be reset ([`ZcSource::broken`]).
    pub(crate) fn zc_advertise_run(&mut self) -> Result<bool> {
        let Some(src) = self.zc_src.as_mut() else { return Ok(false) };
        if src.run.is_none() || !src.takes_more() {
            return Ok(false);
        }
        let Some(slot) = src.free_slot() else { return Ok(false) };
        if !self.can_send_data() {
            return Ok(false);
        }
        let Some(src) = self.zc_src.as_mut() else { return Ok(false) };
        let reserved = src.reserve();
        let Some((pages, run)) = src.run.take() else { return Ok(false) };
        let res = match reserved {
            Ok(()) => self.zc_open_advert(slot, pages, run.len, true),
            Err(e) => Err(OpenFailed::NotExposed(e, pages)),
        };
        let Some(src) = self.zc_src.as_mut() else { return Ok(false) };
        match res {
            Ok(()) => {
                src.runs_advertised += 1;
                Ok(true)
            }
            Err(OpenFailed::NotSent { kept: true, .. }) => {
                pr_warn_ratelimited!("SDP: the advert of gathered spliced pages could not be sent; sent as Data\n");
                Ok(true)
            }
            Err(OpenFailed::NotSent { .. }) => {
                pr_warn_ratelimited!("SDP: the advert of gathered spliced pages could not be sent; connection reset\n");
                src.run_lost = true;
                Err(ECONNRESET)
            }
            Err(OpenFailed::NotExposed(e, pages)) => {
                if src.open() {
                    src.run = Some((pages, run));
                    return Ok(false);
                }
                match src.keep_unexposed(&mut self.qp, pages, run.len) {
                    Ok(()) => {
                        pr_warn_ratelimited!("SDP: gathered spliced pages could not be exposed ({:?}); sent as Data\n", e);
                        self.stream.data_held = true;
                        self.zc_resend()?;
                        Ok(true)
                    }
                    Err(pages) => {
                        src.run = Some((pages, run));
                        Ok(false)
                    }
                }
            }
        }
    }
}
