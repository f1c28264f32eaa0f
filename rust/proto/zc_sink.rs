// SPDX-License-Identifier: GPL-2.0

//! The sink side of zero-copy SDP (`Documentation/plans/zero-copy.md`): the peer's
//! SrcAvail adverts this end keeps open, the RDMA READs that fetch them, and the replies
//! it owes: RdmaRdCompl for what was READ, SendSm when it declines or the peer cancels.
//! Plain bookkeeping; posting the READs and sending the replies is the caller's.
//!
//! The rules (the plan's decision 3, seen from the sink): the peer sends no Data with
//! payload while one of its adverts is open here; RdmaRdCompl counts the bytes READ of
//! the oldest advert (an advert's inline bytes count as its first, already read, and
//! come only on an advert with none open before it);
//! SendSm declines every open advert, and a SrcAvail the peer sent before it saw our
//! SendSm (its `mseq_ack` is below the SendSm's `mseq`) is discarded unread, since the
//! peer closes it itself; a cancel is answered after the READ in flight, with the
//! RdmaRdCompl of what was READ, then SendSm if an advert is still open.

use super::{
    list::{List, Lists},
    wire::Advert,
};

/// One of the peer's adverts, open here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    ah: Advert,
    /// Bytes READs were posted for (or that came inline).
    issued: u32,
    /// Bytes whose READ completed (or that came inline).
    done: u32,
    /// Bytes an RdmaRdCompl already reported.
    reported: u32,
}

/// What to do with a SrcAvail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnSrcAvail {
    /// It is open: READ it.
    Accept,
    /// The peer sent it before it saw our SendSm: drop it unread, owe nothing.
    Discard,
}

/// How the peer broke the rules; each resets the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkViolation {
    /// More adverts open than we offered to keep.
    TooMany,
    /// Data with payload while one of its adverts is open.
    DataWhileOpen,
    /// Inline bytes on a SrcAvail behind another open one. OFED SDP, the peer that sends
    /// inline bytes, has one advert open at a time; behind another, its bytes could not
    /// be reported before a SendSm declines it, and would come twice.
    InlineBehind,
}

/// The next READ to post: `len` bytes at `vaddr` with `rkey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    pub rkey: u32,
    pub vaddr: u64,
    pub len: u32,
}

/// A reply the sink owes, in the order they must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// RdmaRdCompl of this many more bytes.
    RdCompl(u32),
    /// SendSm: every open advert declined.
    SendSm,
}

/// What a decline owes ([`PeerAdverts::take_decline`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decline {
    /// The RdmaRdCompl of what was READ of the oldest advert and not reported.
    pub rd_compl: Option<u32>,
    /// That RdmaRdCompl reports the oldest advert's last bytes: it closes it.
    pub rd_compl_closes: bool,
    /// Adverts the SendSm after it declines (those open, but one it closes); no
    /// SendSm is owed when none is left.
    pub declined: usize,
}

/// The peer's open SrcAvail adverts, oldest first. See the module documentation.
pub struct PeerAdverts<Ls: Lists> {
    open: Ls::Of<Entry>,
    /// Adverts we offered to keep open at once (our `max_adverts`).
    max_open: usize,
    /// The `mseq` of our last SendSm.
    declined_at: Option<u32>,
    /// A SendSm is owed once no READ is in flight (we declined, or the peer cancelled).
    decline_owed: bool,
}

/// `a` is before `b` in sequence-number order (RFC 1982).
pub(super) fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl<Ls: Lists> PeerAdverts<Ls> {
    /// No adverts yet; at most `max_open` at once.
    pub fn new(max_open: u8) -> Self {
        Self { open: Default::default(), max_open: usize::from(max_open), declined_at: None, decline_owed: false }
    }

    /// Whether one of the peer's adverts is open.
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// How many of the peer's adverts are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Whether a decline is owed (sent once no READ is in flight).
    pub fn declining(&self) -> bool {
        self.decline_owed
    }

    /// The `mseq` of our last SendSm, until the peer has acknowledged it.
    pub fn declined_at(&self) -> Option<u32> {
        self.declined_at
    }

    /// The peer sent a message with `mseq_ack`: once it has seen our last SendSm, the
    /// discard rule has nothing left to judge (and a sequence number kept longer would
    /// read as new again after 2^31 more).
    pub fn on_ack(&mut self, mseq_ack: u32) {
        if self.declined_at.is_some_and(|d| !seq_lt(mseq_ack, d)) {
            self.declined_at = None;
        }
    }

    /// A SrcAvail `ah` with `inline` bytes (its first, delivered as Data would be), sent
    /// with `mseq_ack`. `Err(TooMany)` also when no memory is left to track it: the
    /// connection cannot honour its offer.
    pub fn on_src_avail(&mut self, mseq_ack: u32, ah: Advert, inline: u32) -> Result<OnSrcAvail, SinkViolation> {
        if self.declined_at.is_some_and(|s| seq_lt(mseq_ack, s)) {
            return Ok(OnSrcAvail::Discard);
        }
        if self.open.len() >= self.max_open {
            return Err(SinkViolation::TooMany);
        }
        if inline > 0 && self.any_open() {
            return Err(SinkViolation::InlineBehind);
        }
        // Decoding already checked `inline <= ah.len`.
        let inline = inline.min(ah.len);
        let e = Entry { ah, issued: inline, done: inline, reported: 0 };
        self.open.try_push(e).map_err(|_| SinkViolation::TooMany)?;
        Ok(OnSrcAvail::Accept)
    }

    /// A Data message with payload arrived: allowed only with no advert open.
    pub fn check_data(&self) -> Result<(), SinkViolation> {
        if self.any_open() { Err(SinkViolation::DataWhileOpen) } else { Ok(()) }
    }

    /// Whether [`Self::next_read`] has a READ to give.
    pub fn read_pending(&self) -> bool {
        self.pending_len() > 0
    }

    /// Bytes of the oldest advert not yet asked for (0 while a SendSm is owed).
    pub fn pending_len(&self) -> u32 {
        match self.open.first() {
            Some(e) if !self.decline_owed => e.ah.len - e.issued,
            _ => 0,
        }
    }

    /// The next READ of the oldest advert's bytes not yet asked for, at most `max`;
    /// none while a SendSm is owed or nothing is left to ask for.
    pub fn next_read(&mut self, max: u32) -> Option<Read> {
        if !self.read_pending() || max == 0 {
            return None;
        }
        let e = self.open.first_mut()?;
        let len = (e.ah.len - e.issued).min(max);
        let read = Read { rkey: e.ah.rkey, vaddr: e.ah.vaddr + u64::from(e.issued), len };
        e.issued += len;
        Some(read)
    }

    /// The last READ asked for ([`Self::next_read`]), of `n` bytes of the oldest
    /// advert, was not posted after all: they are asked for again.
    pub fn unissue(&mut self, n: u32) {
        if let Some(e) = self.open.first_mut() {
            e.issued = e.issued.saturating_sub(n).max(e.done);
        }
    }

    /// A READ of `n` bytes of the oldest advert completed. Returns the RdmaRdCompl to
    /// send now, unless a SendSm is owed (then [`Self::replies`] sends it); the advert
    /// closes once all its bytes are reported.
    pub fn read_done(&mut self, n: u32) -> Option<Reply> {
        let e = self.open.first_mut()?;
        e.done = (e.done + n).min(e.issued);
        if self.decline_owed {
            return None;
        }
        let reply = self.report_oldest();
        reply.map(Reply::RdCompl)
    }

    /// Reports what the oldest advert has done and not reported; closes it when whole.
    fn report_oldest(&mut self) -> Option<u32> {
        let e = self.open.first_mut()?;
        let n = e.done - e.reported;
        e.reported = e.done;
        if e.reported == e.ah.len {
            self.open.take_at(0);
        }
        (n > 0).then_some(n)
    }

    /// Whether a READ is in flight.
    pub fn reading(&self) -> bool {
        self.open.iter().any(|e| e.done < e.issued)
    }

    /// We decline the open adverts (a reader that cannot take them): a SendSm is owed.
    pub fn decline(&mut self) {
        if self.any_open() {
            self.decline_owed = true;
        }
    }

    /// The peer's SrcAvailCancel: answered as a decline is. Stale when nothing is open.
    pub fn on_cancel(&mut self) {
        self.decline()
    }

    /// The replies owed now, in order, each sent by `send`, which returns the `mseq` it
    /// went with: once no READ is in flight, the RdmaRdCompl of what was READ and not
    /// reported, then SendSm, which closes every advert still open (none when that
    /// RdmaRdCompl closed the last: a SendSm then would decline the peer's next one).
    pub fn replies(&mut self, mut send: impl FnMut(Reply) -> u32) {
        let Some(d) = self.take_decline() else { return };
        if let Some(n) = d.rd_compl {
            send(Reply::RdCompl(n));
        }
        if d.declined > 0 {
            let mseq = send(Reply::SendSm);
            self.declined(mseq);
        }
    }

    /// [`Self::replies`] in two steps, for a caller that sends them later: once no READ
    /// is in flight, closes every advert and says what the replies owed do. Until
    /// [`Self::declined`] names the SendSm's `mseq`, the caller discards the peer's
    /// SrcAvails itself.
    pub fn take_decline(&mut self) -> Option<Decline> {
        if !self.decline_owed || self.reading() {
            return None;
        }
        let before = self.open.len();
        let rd_compl = self.report_oldest();
        let rd_compl_closes = self.open.len() < before;
        let declined = self.open.len();
        self.open.cut_to(0);
        self.decline_owed = false;
        Some(Decline { rd_compl, rd_compl_closes, declined })
    }

    /// The SendSm owed since [`Self::take_decline`] went with `mseq`.
    pub fn declined(&mut self, mseq: u32) {
        self.declined_at = Some(mseq);
    }
}
