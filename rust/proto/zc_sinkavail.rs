// SPDX-License-Identifier: GPL-2.0

//! SinkAvail, receiver-advertised zero-copy (`Documentation/plans/zero-copy.md`): a
//! reader blocked in `recv()` advertises its own buffer, and the writer RDMA WRITEs its
//! next bytes straight into it, then closes the advert with RdmaWrCompl. Both ends'
//! bookkeeping is here: [`ReaderSinks`] (the adverts this end sent) and [`WriterSinks`]
//! (the peer's, which this end writes into). Posting, pinning and the messages
//! themselves are the caller's.
//!
//! The rules (the plan's decision 3 (d) and (e)):
//!
//! - A SinkAvail is *fresh* for the writer only if the writer's last data-bearing
//!   message (Data with payload, a SrcAvail or a DisConn) is one the reader had seen
//!   when it sent the advert: its `mseq` at most the advert's `mseq_ack`. Otherwise
//!   its bytes would land ahead of bytes already on their way, so the advert is
//!   *stale* and the writer answers it at once with RdmaWrCompl{0}. The reader predicts this: a data-bearing
//!   message arriving with `mseq_ack` below the advert's `mseq` was sent before the
//!   writer saw it. A SrcAvail crossing a SinkAvail is such a message, so crossings
//!   need no rule of their own: the reader READs the SrcAvail, and the SinkAvail comes
//!   back empty.
//! - A fresh advert takes the writer's next bytes until one RdmaWrCompl{n} closes it
//!   (the oldest open advert, `n` its bytes written). The writer sends no data-bearing
//!   message while an advert is open; one it does not use it closes with
//!   RdmaWrCompl{0} first.
//! - SinkAvailCancel is answered after the WRITE in flight: RdmaWrCompl{n} for what
//!   reached the oldest advert (when anything did), then SinkCancelAck, which closes
//!   every advert sent before the cancel. A cancel is always answered, so the reader
//!   knows when its buffer is its own again; it sends one at a time, and advertises
//!   nothing new meanwhile.
//!
//! Breaking a rule resets the connection.

use super::{
    list::{List, Lists, NoMemory},
    wire::Advert,
    zc_sink::seq_lt,
};

/// One of this end's SinkAvail adverts, open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sent {
    mseq: u32,
    len: u32,
    /// The writer sent data before it saw it: it comes back empty.
    stale: bool,
}

/// How the writer broke the rules, seen by the reader; each resets the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderViolation {
    /// RdmaWrCompl with no SinkAvail open.
    ComplUnasked,
    /// RdmaWrCompl of more bytes than the advert holds, or of any at all for a stale
    /// advert.
    ComplTooLong,
    /// A data-bearing message sent after the writer saw an advert it had not closed.
    DataIntoOpenSink,
    /// SinkCancelAck with no SinkAvailCancel outstanding.
    AckUnasked,
}

/// The SinkAvail adverts this end sent and has not seen closed, oldest first. See the
/// module documentation.
pub struct ReaderSinks<Ls: Lists> {
    open: Ls::Of<Sent>,
    /// Adverts the writer keeps open at once (its `max_adverts`).
    max_open: usize,
    /// Our SinkAvailCancel awaits its SinkCancelAck.
    cancelling: bool,
}

impl<Ls: Lists> ReaderSinks<Ls> {
    /// None sent yet; the writer keeps at most `max_open` open at once.
    pub fn new(max_open: u8) -> Self {
        Self { open: Default::default(), max_open: usize::from(max_open), cancelling: false }
    }

    /// Whether another advert may be sent now.
    pub fn may_advertise(&self) -> bool {
        !self.cancelling && self.open.len() < self.max_open
    }

    /// Whether an advert is open: the reader's buffer is not its own.
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Whether a SinkAvailCancel awaits its answer.
    pub fn cancelling(&self) -> bool {
        self.cancelling
    }

    /// A SinkAvail of `len` bytes went with `mseq` ([`Self::may_advertise`] said yes).
    pub fn advertised(&mut self, mseq: u32, len: u32) -> Result<(), NoMemory> {
        self.open.try_push(Sent { mseq, len, stale: false }).map_err(|_| NoMemory)
    }

    /// A message of the writer's arrived, sent with `mseq_ack`; `data_bearing`: Data
    /// with payload, a SrcAvail, or a DisConn (no advert's bytes may follow the end
    /// of the stream). Adverts it was sent before become stale.
    pub fn on_peer_msg(&mut self, mseq_ack: u32, data_bearing: bool) -> Result<(), ReaderViolation> {
        if !data_bearing {
            return Ok(());
        }
        for s in self.open.iter_mut() {
            if !seq_lt(mseq_ack, s.mseq) {
                // The writer had seen it and should have closed it first.
                return Err(ReaderViolation::DataIntoOpenSink);
            }
            s.stale = true;
        }
        Ok(())
    }

    /// RdmaWrCompl{n}: closes the oldest advert; its first `n` bytes are the stream's
    /// next. Returns `n`.
    pub fn on_wr_compl(&mut self, n: u32) -> Result<u32, ReaderViolation> {
        let s = self.open.first().ok_or(ReaderViolation::ComplUnasked)?;
        if n > s.len || (s.stale && n > 0) {
            return Err(ReaderViolation::ComplTooLong);
        }
        self.open.take_at(0);
        Ok(n)
    }

    /// A signal or a timeout ended the reader's wait: whether a SinkAvailCancel is to
    /// be sent (not when one is outstanding, or nothing is open). Nothing more is
    /// advertised until its answer, which the caller bounds with a timer (a writer
    /// that never answers is reset).
    pub fn cancel(&mut self) -> bool {
        if self.cancelling || !self.any_open() {
            return false;
        }
        self.cancelling = true;
        true
    }

    /// SinkCancelAck: every advert still open is closed, unwritten. Returns how many,
    /// the newest ones: their regions are the reader's again once invalidated.
    pub fn on_cancel_ack(&mut self) -> Result<usize, ReaderViolation> {
        if !self.cancelling {
            return Err(ReaderViolation::AckUnasked);
        }
        self.cancelling = false;
        let closed = self.open.len();
        self.open.cut_to(0);
        Ok(closed)
    }
}

/// One of the peer's SinkAvail adverts, open here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sink {
    ah: Advert,
    stale: bool,
    /// Bytes WRITEs were posted for.
    issued: u32,
    /// Bytes whose WRITE completed.
    done: u32,
    /// The writer is done with it: RdmaWrCompl{done} is owed once no WRITE is in
    /// flight.
    closing: bool,
}

/// Whether the writer may WRITE into a SinkAvail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Its next bytes go there.
    Fresh,
    /// It was sent before the reader saw this end's last data: RdmaWrCompl{0} is owed.
    Stale,
}

/// How the reader broke the rules, seen by the writer; each resets the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterViolation {
    /// More adverts open than we offered to keep (or no memory to track one).
    TooMany,
    /// A stale advert behind a fresh one: the reader's `mseq_ack` went back.
    AckWentBack,
    /// A SinkAvail sent after the reader's SinkAvailCancel, before our answer.
    AdvertDuringCancel,
}

/// The next WRITE to post: `len` bytes to `vaddr` with `rkey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    pub rkey: u32,
    pub vaddr: u64,
    pub len: u32,
}

/// A reply the writer owes, in the order they must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterReply {
    /// RdmaWrCompl of this many bytes: closes the oldest advert.
    WrCompl(u32),
    /// SinkCancelAck: closes every advert left.
    CancelAck,
}

/// The peer's open SinkAvail adverts, oldest first. See the module documentation.
pub struct WriterSinks<Ls: Lists> {
    open: Ls::Of<Sink>,
    /// Adverts we offered to keep open at once (our `max_adverts`).
    max_open: usize,
    /// The peer's SinkAvailCancel awaits our answer.
    cancel_owed: bool,
}

impl<Ls: Lists> WriterSinks<Ls> {
    /// None yet; at most `max_open` at once.
    pub fn new(max_open: u8) -> Self {
        Self { open: Default::default(), max_open: usize::from(max_open), cancel_owed: false }
    }

    /// A SinkAvail `ah` sent with `mseq_ack`; `last_data_mseq`: the `mseq` of our last
    /// data-bearing message, `None` if there was none or the peer has acknowledged it
    /// (every later advert's `mseq_ack` covers it; forgetting it keeps the comparison
    /// right when sequence numbers wrap on a stream that carries only adverts).
    pub fn on_sink_avail(
        &mut self,
        mseq_ack: u32,
        ah: Advert,
        last_data_mseq: Option<u32>,
    ) -> Result<Freshness, WriterViolation> {
        if self.cancel_owed {
            return Err(WriterViolation::AdvertDuringCancel);
        }
        if self.open.len() >= self.max_open {
            return Err(WriterViolation::TooMany);
        }
        let stale = last_data_mseq.is_some_and(|d| seq_lt(mseq_ack, d));
        if stale && self.open.iter().any(|s| !s.stale) {
            return Err(WriterViolation::AckWentBack);
        }
        let sink = Sink { ah, stale, issued: 0, done: 0, closing: stale };
        self.open.try_push(sink).map_err(|_| WriterViolation::TooMany)?;
        Ok(if stale { Freshness::Stale } else { Freshness::Fresh })
    }

    /// Whether a data-bearing message may go: no advert is open.
    pub fn may_send_data(&self) -> bool {
        self.open.is_empty()
    }

    /// Room left in the advert the next bytes go to: the oldest, when it is fresh and
    /// not being closed, and no cancel is owed.
    pub fn room(&self) -> u32 {
        match self.open.first() {
            Some(s) if !s.closing && !self.cancel_owed => s.ah.len - s.issued,
            _ => 0,
        }
    }

    /// The next WRITE of at most `max` bytes into the oldest advert ([`Self::room`]).
    /// An advert it fills is being closed: its RdmaWrCompl goes once its WRITEs have
    /// completed.
    pub fn next_write(&mut self, max: u32) -> Option<Write> {
        let len = self.room().min(max);
        if len == 0 {
            return None;
        }
        let s = self.open.first_mut()?;
        let w = Write { rkey: s.ah.rkey, vaddr: s.ah.vaddr + u64::from(s.issued), len };
        s.issued += len;
        s.closing = s.issued == s.ah.len;
        Some(w)
    }

    /// A WRITE of `n` bytes into the oldest advert completed.
    pub fn write_done(&mut self, n: u32) {
        if let Some(s) = self.open.first_mut() {
            s.done = (s.done + n).min(s.issued);
        }
    }

    /// Whether a WRITE is in flight.
    pub fn writing(&self) -> bool {
        self.open.iter().any(|s| s.done < s.issued)
    }

    /// The writer is done with the oldest advert (its send ended, or it filled it):
    /// RdmaWrCompl of what was written is owed.
    pub fn close_oldest(&mut self) {
        if let Some(s) = self.open.first_mut() {
            s.closing = true;
        }
    }

    /// The writer will send its bytes another way (a send too small, or one that may
    /// not wait): every open advert is closed with what it holds.
    pub fn decline(&mut self) {
        for s in self.open.iter_mut() {
            s.closing = true;
        }
    }

    /// The peer's SinkAvailCancel.
    pub fn on_cancel(&mut self) {
        self.cancel_owed = true;
    }

    /// The replies owed now, in order, each sent by `send`: RdmaWrCompl for the oldest
    /// adverts being closed once their WRITEs completed; for a cancel, once no WRITE is
    /// in flight, RdmaWrCompl of what reached the oldest (if anything did), then
    /// SinkCancelAck.
    pub fn replies(&mut self, mut send: impl FnMut(WriterReply)) {
        while let Some(s) = self.open.first().copied() {
            if !s.closing || s.done < s.issued {
                break;
            }
            send(WriterReply::WrCompl(s.done));
            self.open.take_at(0);
        }
        if !self.cancel_owed || self.writing() {
            return;
        }
        if let Some(s) = self.open.first().copied() {
            if s.done > 0 {
                send(WriterReply::WrCompl(s.done));
                self.open.take_at(0);
            }
        }
        send(WriterReply::CancelAck);
        self.open.cut_to(0);
        self.cancel_owed = false;
    }
}
