// SPDX-License-Identifier: GPL-2.0

//! The source's side of zero-copy SDP on a link: the exposure slots of the queue pair
//! (pages a SrcAvail advertises, registered for the peer's READs), the adverts open
//! on them (`proto::zc_src` keeps the rules), and their withdrawal once the sink's
//! reply closes them. A declined advert's pages are kept past their withdrawal, and
//! the link sends their unread bytes as Data from them (`Link::zc_resend`), before
//! anything else. `sdp::zcopy_tx` drives it from a blocking `send()`, a
//! `MSG_ZEROCOPY` one, or a `sendfile()`'s or `splice()`'s.

use kernel::{
    prelude::*,
    time::{Instant, Monotonic},
};

use crate::{
    kernel_api::{list::KernelLists, qp::QueuePair, verbs::Cqe},
    link::link::WrKind,
    proto::zc_src::{Closed, Due, SrcAdverts, SrcLimits, SrcViolation},
};

/// Adverts of ours open at once at most (fewer if the peer keeps fewer open): enough
/// that the sink READs the next while we hear of the last.
pub(crate) const SRC_ADVERTS: usize = 4;

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
        }
    }

    /// How long a cancel may go unanswered before the connection is reset.
    pub(crate) fn cancel_ms(&self) -> u64 {
        self.adverts.cancel_ms()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Pages one advert covers at most.
    pub(crate) fn max_pages(&self) -> usize {
        self.max_pages
    }

    /// Whether a write may begin advertising: no other is, and nothing of ours is
    /// exposed or waits to be taken back.
    pub(crate) fn idle(&self) -> bool {
        !self.writer && !self.busy() && self.declined == 0
    }

    /// Whether a call whose adverts outlive it (`MSG_ZEROCOPY`, spliced pages) may
    /// add adverts to those open: no other write advertises, and
    /// [`Self::takes_more`].
    pub(crate) fn may_add(&self) -> bool {
        !self.writer && self.takes_more()
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

    /// An exposure could not be withdrawn: the connection must be reset.
    pub(crate) fn broken(&self) -> bool {
        self.slots.contains(&Slot::Stuck)
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

    /// Bytes advertised and not READ yet, or declined and not sent as Data yet.
    pub(crate) fn outq(&self) -> u64 {
        self.adverts.unread() + self.declined
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

    /// Whether data of ours must wait: an advert is open, or declined bytes go first.
    pub(crate) fn holds_data(&self) -> bool {
        self.open() || self.has_declined()
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
