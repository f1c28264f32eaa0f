// SPDX-License-Identifier: GPL-2.0

//! Gathering the pages of a `sendfile()` or `splice()` into large adverts. The splice
//! machinery hands a socket 64 KiB a call, with `MSG_MORE` while more follows; one
//! advert per call costs a SrcAvail, a READ round trip, an RdmaRdCompl and an
//! invalidation per 64 KiB. As Nagle's rule does for small messages, a piece is
//! advertised at once when none of ours is open; while one is, the pieces that follow
//! join a *run* (their pages referenced, nothing exposed yet), which goes as one
//! advert when an advert of ours closes, when nothing more can join it, when no more
//! follows, or when no advert is open any more. The open advert that the run waits
//! behind is what guarantees the run goes: no timer is needed. "More follows" is the
//! caller's: `MSG_MORE`, or, as Nagle's rule holds a TCP stream's data behind
//! unacknowledged data, any call without `TCP_NODELAY`.
//!
//! One fast registration maps a list of pages of which only the first may begin past
//! its page's start and only the last may end before its page's end: a piece joins a
//! run only where the run ends a page and the piece begins one.

/// How large one advert may be: bytes (a sink takes no more), and pages (one
/// registration maps no more), of `page` bytes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertLimits {
    pub max_bytes: usize,
    pub max_pages: usize,
    pub page: usize,
}

impl AdvertLimits {
    /// Pages that `len` bytes beginning `first_off` into a page touch.
    pub fn pages(&self, first_off: usize, len: usize) -> usize {
        (first_off + len).div_ceil(self.page)
    }

    /// Of `len` bytes beginning `off` into a page, those one advert may cover.
    pub fn cap(&self, off: usize, len: usize) -> usize {
        len.min((self.max_pages * self.page).saturating_sub(off)).min(self.max_bytes)
    }
}

/// Spliced pages gathered and not advertised yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Bytes gathered.
    pub len: usize,
    /// Where the first byte sits in its page.
    pub first_off: usize,
    /// It goes as an advert at the first chance (a slot and a credit).
    pub due: bool,
}

/// What the next piece of spliced pages does ([`step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It joins the run (or starts one).
    Gather,
    /// The run goes first; the piece is looked at again after.
    FlushFirst,
    /// It goes as its own advert.
    Advertise,
}

/// Whether `len` bytes beginning `off` into a page can join `run`.
fn joins(run: &Run, off: usize, len: usize, lim: &AdvertLimits) -> bool {
    (run.first_off + run.len) % lim.page == 0
        && off == 0
        && run.len + len <= lim.max_bytes
        && lim.pages(run.first_off, run.len + len) <= lim.max_pages
}

/// What `len` bytes of spliced pages beginning `off` into a page do (`len` already
/// capped by [`AdvertLimits::cap`]), given the run, whether more follows
/// (`MSG_MORE`) and whether an advert of ours is open.
pub fn step(run: Option<&Run>, off: usize, len: usize, more: bool, open: bool, lim: &AdvertLimits) -> Step {
    match run {
        None if open && more => Step::Gather,
        None => Step::Advertise,
        Some(r) if joins(r, off, len, lim) => Step::Gather,
        Some(_) => Step::FlushFirst,
    }
}

impl Run {
    /// An empty run whose first byte will sit `off` into its page; the first piece
    /// joins it as the others do ([`Run::joined`]).
    pub fn new(off: usize) -> Self {
        Self { len: 0, first_off: off, due: false }
    }

    /// `len` more bytes joined ([`step`] said [`Step::Gather`]); `more` and `open` as
    /// there. The run is due once no more follows, no advert is open, or nothing
    /// more can join it.
    pub fn joined(&mut self, len: usize, more: bool, open: bool, lim: &AdvertLimits) {
        self.len += len;
        if !more || !open || !joins(self, 0, lim.page.min(lim.max_bytes), lim) {
            self.due = true;
        }
    }

    /// An advert of ours closed: the run goes at the first chance.
    pub fn advert_closed(&mut self) {
        self.due = true;
    }

    /// Whether the run goes now, when a slot and a credit allow: it is due, or no
    /// advert of ours is open (nothing would close to make it due).
    pub fn goes(&self, open: bool) -> bool {
        self.due || !open
    }
}
