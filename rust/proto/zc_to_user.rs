// SPDX-License-Identifier: GPL-2.0

//! One `recvmsg` call and the peer's zero-copy adverts (step 4b,
//! `Documentation/plans/zero-copy.md`): whether the call holds the connection's
//! landing back, and what it does where it would wait for data. `zc_land` keeps the
//! connection's side (what may be claimed); this is the call's.
//!
//! A blocking call without `MSG_PEEK` or `MSG_TRUNC`, on a connection that takes
//! adverts over a device with fast registration, whose room left (and the rest of its
//! iovec segment) is at least the socket's zero-copy threshold, holds landing while it
//! is inside: what landed it copies, then it claims the oldest advert's next bytes for
//! one READ into its own pages. It lets go for the rest of the call (the bytes land
//! as usual) when its pages cannot take the READ (the memory-lock limit, a page still
//! missing after [`FAULT_TRIES`] fault-ins, pages that make no one region) or when
//! bytes it does not read now (an urgent byte stepped over at the mark) sit in the
//! ring before the advert's. A call with a signal pending claims nothing: it returns
//! at the wait.

use super::zc_gather::AdvertLimits;

/// Times a call faults its pages in for a READ into them before it lets go (a page
/// that goes again each time: another thread unmapping it).
pub const FAULT_TRIES: u8 = 4;

/// What a call knows of itself when it begins.
#[derive(Clone, Copy, Debug)]
pub struct CallTerms {
    /// It may sleep (`SO_RCVTIMEO` above 0, not `MSG_DONTWAIT`).
    pub blocking: bool,
    /// `MSG_PEEK` or `MSG_TRUNC`: the bytes stay, or go nowhere.
    pub peek_or_trunc: bool,
    /// The connection takes the peer's adverts.
    pub takes_adverts: bool,
    /// The device has fast registration (pages of a READ into them make one region).
    pub fast_reg: bool,
    /// The socket's zero-copy threshold; `None`: zero-copy off on the socket.
    pub threshold: Option<usize>,
}

/// The call as it looks at the connection where it would wait.
#[derive(Clone, Copy, Debug)]
pub struct AtWait {
    pub signal_pending: bool,
    /// Bytes in the ring (readable or not).
    pub ring_bytes: usize,
    /// What the connection lets a reader claim now (`SinkFlow::user_claimable`).
    pub claimable: Option<u32>,
    /// The call's room left, and the rest of its iovec segment, which begins
    /// `offset` into its page.
    pub room: usize,
    pub segment: usize,
    pub offset: usize,
    /// Pages one region maps, of `page` bytes.
    pub max_pages: usize,
    pub page: usize,
}

/// What the call does where it would wait ([`ReaderCall::at_wait`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitPlan {
    /// Wait for data as usual.
    Wait,
    /// Let go of the hold for the rest of the call, then wait as usual.
    LetGo,
    /// Pin this many bytes of the call's pages and READ the claim into them.
    Read(usize),
}

/// What a failed pin of the call's pages does ([`ReaderCall::pin_failed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinPlan {
    /// Fault them in without the lock (the call leaves the hold meanwhile), then
    /// look again.
    FaultIn,
    /// Let go for the rest of the call.
    LetGo,
}

/// One call's part. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderCall {
    /// The smallest room worth a READ into its pages; `None`: not (any more).
    min: Option<usize>,
    /// It holds landing back.
    holds: bool,
    /// Fault-ins so far.
    faults: u8,
}

impl ReaderCall {
    pub fn new(t: CallTerms) -> Self {
        let eligible = t.blocking && !t.peek_or_trunc && t.takes_adverts && t.fast_reg;
        Self { min: t.threshold.filter(|_| eligible).map(|m| m.max(1)), holds: false, faults: 0 }
    }

    /// Whether it holds landing back.
    pub fn holds(&self) -> bool {
        self.holds
    }

    /// Before each look at the connection: whether it holds landing back from now,
    /// with `room` left and `segment` bytes left in the current iovec segment.
    /// `Some`: that changed, and the connection must hear it.
    pub fn update(&mut self, room: usize, segment: usize) -> Option<bool> {
        let want = self.min.is_some_and(|min| room >= min && segment >= min);
        (want != self.holds).then(|| {
            self.holds = want;
            want
        })
    }

    /// It leaves the hold (the call ends, or faults its pages in): whether it held.
    pub fn leave(&mut self) -> bool {
        core::mem::take(&mut self.holds)
    }

    /// It lets go for the rest of the call: whether it held.
    pub fn let_go(&mut self) -> bool {
        self.min = None;
        self.leave()
    }

    /// Where the call would wait for data. On [`WaitPlan::LetGo`] the call no longer
    /// holds (the connection must hear it).
    pub fn at_wait(&mut self, s: &AtWait) -> WaitPlan {
        if !self.holds || s.signal_pending {
            return WaitPlan::Wait;
        }
        if s.ring_bytes > 0 {
            self.let_go();
            return WaitPlan::LetGo;
        }
        let Some(rest) = s.claimable else { return WaitPlan::Wait };
        let lim = AdvertLimits { max_bytes: rest as usize, max_pages: s.max_pages, page: s.page };
        match lim.cap(s.offset, s.segment.min(s.room)) {
            0 => {
                self.let_go();
                WaitPlan::LetGo
            }
            n => WaitPlan::Read(n),
        }
    }

    /// Pinning its pages failed (`missing`: a page was not there). On
    /// [`PinPlan::LetGo`] the call no longer holds.
    pub fn pin_failed(&mut self, missing: bool) -> PinPlan {
        if missing && self.faults < FAULT_TRIES {
            self.faults += 1;
            return PinPlan::FaultIn;
        }
        self.let_go();
        PinPlan::LetGo
    }
}
