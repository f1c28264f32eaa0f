// SPDX-License-Identifier: GPL-2.0

//! The source side of zero-copy SDP (`Documentation/plans/zero-copy.md`): the SrcAvail
//! adverts a connection has open, what the sink's replies do to them, and when one must
//! be cancelled or the connection reset. Plain bookkeeping; posting, registration and
//! invalidation are the caller's, driven by what these functions return.
//!
//! The rules (the plan's decision 3): while an advert is open the source sends no Data
//! with payload ([`SrcAdverts::may_send_data`]); RdmaRdCompl counts bytes READ of the
//! oldest open advert, whose `mseq` its `mseq_ack` must cover; SendSm declines every
//! open advert, whose unread rest the source then sends as Data; a cancel is answered by
//! the RdmaRdCompl of what was READ, then SendSm if an advert is still open. A reply
//! with nothing to apply to, or more bytes than advertised, is a protocol violation; a
//! cancel or SendSm that finds nothing open is stale and ignored.

use super::list::{List, Lists, NoMemory};

/// One open advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// The caller's name for it (its registration).
    id: u64,
    /// The `mseq` of the SrcAvail that advertised it.
    mseq: u32,
    len: u32,
    /// Bytes the sink has READ, by its RdmaRdCompl messages.
    read: u32,
    /// When it was posted, or last READ from (ms): the timeout counts from there.
    active_ms: u64,
    /// When the source cancelled it (ms), if it did.
    cancelled_ms: Option<u64>,
}

/// An advert that is over: the caller invalidates its region and sends its unread
/// bytes `read..len` as Data (none when the sink READ it all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    pub id: u64,
    pub read: u32,
    pub len: u32,
}

impl Closed {
    /// The bytes the sink did not READ, which go as Data.
    pub fn unread(&self) -> u32 {
        self.len - self.read
    }
}

/// How the sink broke the rules; each resets the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrcViolation {
    /// An RdmaRdCompl while no advert is open.
    NothingOpen,
    /// An RdmaRdCompl whose `mseq_ack` does not cover the advert it applies to: the sink
    /// cannot have seen it.
    NotSeen,
    /// An RdmaRdCompl for more bytes than the advert has left, or for none.
    BadLength,
}

/// `sdp_zcopy_timeout_ms`'s default: OFED SDP's `SDP_SRCAVAIL_ADV_TIMEOUT`.
pub const ADVERT_TIMEOUT_MS_DEFAULT: u64 = 1000;
/// `sdp_zcopy_cancel_ms`'s default (OFED waits 60 s: a pin held that long is a
/// program's buffer held hostage by a peer).
pub const CANCEL_TIMEOUT_MS_DEFAULT: u64 = 5000;
/// The least and most either timeout may be set to.
pub const TIMEOUT_MS_MIN: u64 = 100;
/// See [`TIMEOUT_MS_MIN`].
pub const TIMEOUT_MS_MAX: u64 = 60_000;

/// A source's two clocks, fixed when its connection is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrcLimits {
    /// No READ of the oldest advert for this long cancels the open ones.
    pub advert_ms: u64,
    /// A cancel unanswered for this long resets the connection.
    pub cancel_ms: u64,
}

/// What the clock asks of the caller ([`SrcAdverts::tick`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing.
    Nothing,
    /// The oldest advert saw no READ for the timeout: cancel the open adverts (send
    /// SrcAvailCancel and call [`SrcAdverts::cancel`]).
    Cancel,
    /// A cancel went unanswered for the cancel timeout: reset the connection.
    Reset,
}

/// The SrcAvail adverts of one connection, oldest first. See the module documentation.
pub struct SrcAdverts<Ls: Lists> {
    open: Ls::Of<Entry>,
    /// Adverts the sink keeps open at once (its Hello's or HelloAck's `max_adverts`).
    max_open: usize,
    /// No READ for this long cancels (`sdp_zcopy_timeout_ms`).
    timeout_ms: u64,
    /// A cancel unanswered for this long resets (`sdp_zcopy_cancel_ms`).
    cancel_ms: u64,
}

/// `a` is at or before `b` in sequence-number order (RFC 1982).
fn seq_le(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

impl<Ls: Lists> SrcAdverts<Ls> {
    /// No adverts yet; at most `max_open` at once.
    pub fn new(max_open: u8, timeout_ms: u64, cancel_ms: u64) -> Self {
        Self { open: Default::default(), max_open: usize::from(max_open), timeout_ms, cancel_ms }
    }

    /// How long a cancel may go unanswered before the connection is reset.
    pub fn cancel_ms(&self) -> u64 {
        self.cancel_ms
    }

    /// Whether another advert may be posted now.
    pub fn has_room(&self) -> bool {
        self.open.len() < self.max_open
    }

    /// How many adverts are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Rule (a): Data with payload may go only while no advert is open.
    pub fn may_send_data(&self) -> bool {
        self.open.is_empty()
    }

    /// Bytes advertised and not READ yet (what `SIOCOUTQ` counts of them).
    pub fn unread(&self) -> u64 {
        self.open.iter().map(|e| u64::from(e.len - e.read)).sum()
    }

    /// Makes room to record one more advert, before its SrcAvail goes: once the sink
    /// may have seen it, recording it cannot fail for want of memory.
    pub fn reserve(&mut self) -> Result<(), NoMemory> {
        self.open.reserve_more(1)
    }

    /// Records a SrcAvail of `len` bytes (at least 1) sent as `mseq`, named `id`, at
    /// `now_ms`. The caller checked [`Self::has_room`]; without room or memory, nothing
    /// is recorded and the caller copies instead.
    pub fn post(&mut self, id: u64, mseq: u32, len: u32, now_ms: u64) -> Result<(), NoMemory> {
        if !self.has_room() || len == 0 {
            return Err(NoMemory);
        }
        let entry = Entry { id, mseq, len, read: 0, active_ms: now_ms, cancelled_ms: None };
        self.open.try_push(entry).map_err(|_| NoMemory)
    }

    /// An RdmaRdCompl of `n` more bytes with `mseq_ack`: it applies to the oldest open
    /// advert; returns that advert once it was READ whole.
    pub fn on_rd_compl(&mut self, n: u32, mseq_ack: u32, now_ms: u64) -> Result<Option<Closed>, SrcViolation> {
        let oldest = self.open.first_mut().ok_or(SrcViolation::NothingOpen)?;
        if !seq_le(oldest.mseq, mseq_ack) {
            return Err(SrcViolation::NotSeen);
        }
        if n == 0 || n > oldest.len - oldest.read {
            return Err(SrcViolation::BadLength);
        }
        oldest.read += n;
        oldest.active_ms = now_ms;
        if oldest.read < oldest.len {
            return Ok(None);
        }
        let e = self.open.take_at(0).ok_or(SrcViolation::NothingOpen)?;
        // The next advert's timeout counts from now: the sink READs the oldest only.
        if let Some(next) = self.open.first_mut() {
            next.active_ms = next.active_ms.max(now_ms);
        }
        Ok(Some(Closed { id: e.id, read: e.read, len: e.len }))
    }

    /// A SendSm: every open advert is declined, oldest first, each with its unread rest
    /// (`f` is called with each). Stale (nothing open) if none is.
    pub fn on_send_sm(&mut self, mut f: impl FnMut(Closed)) {
        for e in self.open.iter() {
            f(Closed { id: e.id, read: e.read, len: e.len });
        }
        self.open.cut_to(0);
    }

    /// The source cancels its open adverts at `now_ms` (it sent SrcAvailCancel); the
    /// sink answers with RdmaRdCompl for what it READ, then SendSm for any still open.
    /// Adverts already cancelled keep their first cancel's time.
    pub fn cancel(&mut self, now_ms: u64) {
        for e in self.open.iter_mut() {
            e.cancelled_ms.get_or_insert(now_ms);
        }
    }

    /// Whether an open advert was cancelled (its cancel is out, or was tried).
    pub fn cancelled_any(&self) -> bool {
        self.open.iter().any(|e| e.cancelled_ms.is_some())
    }

    /// Milliseconds from `now_ms` until [`Self::tick`] may ask for more than it asks
    /// now (0 when it already asks for something); `None` with nothing open. A
    /// clock looked at no sooner than this misses no deadline.
    pub fn next_due_ms(&self, now_ms: u64) -> Option<u64> {
        let oldest = self.open.first()?;
        let left = |at: u64, after: u64| at.saturating_add(after).saturating_sub(now_ms);
        let mut due = left(oldest.active_ms, self.timeout_ms + self.cancel_ms);
        if oldest.cancelled_ms.is_none() {
            due = due.min(left(oldest.active_ms, self.timeout_ms));
        }
        for t in self.open.iter().filter_map(|e| e.cancelled_ms) {
            due = due.min(left(t, self.cancel_ms));
        }
        Some(due)
    }

    /// What the clock asks at `now_ms`. A cancel that could not be sent (no credit
    /// for it) does not hold the reset back: the oldest advert idle for both timeouts
    /// resets as well.
    pub fn tick(&self, now_ms: u64) -> Due {
        if self.open.iter().any(|e| e.cancelled_ms.is_some_and(|t| now_ms.saturating_sub(t) >= self.cancel_ms)) {
            return Due::Reset;
        }
        if self.open.first().is_some_and(|e| now_ms.saturating_sub(e.active_ms) >= self.timeout_ms + self.cancel_ms) {
            return Due::Reset;
        }
        match self.open.first() {
            Some(e) if e.cancelled_ms.is_none() && now_ms.saturating_sub(e.active_ms) >= self.timeout_ms => Due::Cancel,
            _ => Due::Nothing,
        }
    }
}
