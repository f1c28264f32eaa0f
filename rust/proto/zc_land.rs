// SPDX-License-Identifier: GPL-2.0

//! The sink's flow of the peer's SrcAvail adverts while they land in receive-ring
//! slots (zero-copy step 4a, M1; `Documentation/plans/zero-copy.md`): [`PeerAdverts`]
//! with the slots READs land in, the replies owed until credits let them go, and the
//! gate on the peer's data-bearing messages.
//!
//! - At most [`ZC_LANDING`] slots hold READ data, in flight or landed and unread: a
//!   READ is posted only with one free, and a slot is free again once its bytes are
//!   consumed.
//! - Replies go in the order they were earned. An RdmaRdCompl grows while it waits
//!   for a credit, but only with bytes of its own advert: the peer counts each
//!   against its oldest advert, and one report spanning two would close the first
//!   with the second's bytes.
//! - Declining (a reader that cannot take the adverts, no READ depth, or the peer's
//!   cancel) waits for the READ in flight, then owes the RdmaRdCompl of what was READ
//!   and a SendSm, unless that RdmaRdCompl closes every advert open (a SendSm after it
//!   would close the peer's next one). A SrcAvail that comes while the READ is still
//!   in flight is declined with the others. Once a SendSm is owed, the peer closes its
//!   adverts only when it reaches it, so a SrcAvail from then on, until the SendSm
//!   has gone and after while its `mseq_ack` is below the SendSm's, is one the peer
//!   sent before it saw it: discarded unread.
//! - An advert whose bytes all came inline is reported at once.
//! - A reader blocked in `recv()` with room for a large piece (step 4b) has the next
//!   advert's bytes READ straight into its own pages. While it is inside its call no
//!   landing READ is posted (the *hold*), so that the slots in flight land, it copies
//!   them, and finds nothing before the advert's next byte: it may claim only then
//!   ([`SinkFlow::next_user_read`]), one READ at a time, with no landing READ in
//!   flight, so that completions come in stream order.
//! - The gate: the peer sends Data, Urgent or DisConn only with no advert of its open.
//!   One arriving while an advert is open here, or while a reply that closes one has
//!   not gone, or whose `mseq_ack` is before the last such reply's `mseq` (the peer
//!   had not seen it: its advert was open), breaks the rules. Deterministic: it does
//!   not depend on when the message arrives.

use super::{
    list::{List, Lists, NoMemory},
    wire::Advert,
    zc_sink::{seq_lt, OnSrcAvail, PeerAdverts, Read, Reply, SinkViolation},
};

/// Receive-ring slots beyond the window that hold READ data at most: in flight, or
/// landed and not yet read.
pub const ZC_LANDING: usize = 4;

/// The peer's adverts a sink offers to keep open at once (its Hello's `max_adverts`).
pub const PEER_ADVERTS: u8 = 8;

/// What the peer's next data-bearing message must satisfy, as the flow stands
/// ([`SinkFlow::gate`]): plain data, for `proto::receive::classify`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZcGate {
    /// One of the peer's adverts is open here, or a reply that closes one has not gone.
    open: bool,
    /// The `mseq` of the last reply sent that closed an advert.
    closed_at: Option<u32>,
}

impl ZcGate {
    /// Whether a Data, Urgent or DisConn message sent with `mseq_ack` is allowed.
    pub fn admits(self, mseq_ack: u32) -> bool {
        !self.open && !self.closed_at.is_some_and(|c| seq_lt(mseq_ack, c))
    }
}

/// A reply owed and not yet sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owed {
    /// RdmaRdCompl of `n` bytes of one advert; `closes`: its last, which closes it.
    RdCompl { n: u32, closes: bool },
    /// SendSm, after the RdmaRdCompl of what was READ before it: it declines the
    /// adverts the peer has open (owed only while one is).
    SendSm,
}

impl Owed {
    fn closes(self) -> bool {
        matches!(self, Owed::RdCompl { closes: true, .. } | Owed::SendSm)
    }

    fn reply(self) -> Reply {
        match self {
            Owed::RdCompl { n, .. } => Reply::RdCompl(n),
            Owed::SendSm => Reply::SendSm,
        }
    }
}

/// The sink's zero-copy flow of one connection. See the module documentation.
pub struct SinkFlow<Ls: Lists> {
    adverts: PeerAdverts<Ls>,
    /// We may READ (our initiator depth is above 0); otherwise every advert is
    /// declined as it comes, and its bytes come again as Data.
    can_read: bool,
    /// READs posted and not completed.
    reading: usize,
    /// Slots whose READ completed and whose bytes are not all consumed.
    landed: usize,
    /// Replies owed, oldest first.
    owed: Ls::Of<Owed>,
    /// The `mseq` of the last reply sent that closed an advert.
    closed_at: Option<u32>,
    /// The peer's adverts a SendSm of ours closes (declined while open, or discarded
    /// as they crossed it) since [`Self::take_declined`].
    declined: u32,
    /// Readers inside a call that may take the adverts' bytes into their own pages:
    /// landing waits while any is.
    readers: u8,
    /// A READ into a reader's pages is in flight.
    user_reading: bool,
}

impl<Ls: Lists> SinkFlow<Ls> {
    /// No adverts yet; at most `max_open` at once (our offer). `can_read`: our
    /// initiator depth is above 0.
    pub fn new(max_open: u8, can_read: bool) -> Self {
        Self {
            adverts: PeerAdverts::new(max_open),
            can_read,
            reading: 0,
            landed: 0,
            owed: Default::default(),
            closed_at: None,
            declined: 0,
            readers: 0,
            user_reading: false,
        }
    }

    /// A SrcAvail `ah` with `inline` bytes, sent with `mseq_ack`. An accepted advert is
    /// reported at once if its bytes all came inline, else declined at once if we
    /// cannot READ. A discarded one stays open at the peer until our SendSm reaches
    /// it: its Data may follow only that.
    pub fn on_src_avail(&mut self, mseq_ack: u32, ah: Advert, inline: u32) -> Result<OnSrcAvail, SinkViolation> {
        if self.owed.iter().any(|o| matches!(o, Owed::SendSm)) {
            self.declined = self.declined.saturating_add(1);
            return Ok(OnSrcAvail::Discard);
        }
        let r = self.adverts.on_src_avail(mseq_ack, ah, inline)?;
        match r {
            OnSrcAvail::Accept if inline >= ah.len => self.report_read(0).map_err(|NoMemory| SinkViolation::TooMany)?,
            OnSrcAvail::Accept if !self.can_read => self.adverts.decline(),
            OnSrcAvail::Accept => {}
            OnSrcAvail::Discard => {
                self.declined = self.declined.saturating_add(1);
                let declined_at = self.adverts.declined_at();
                if self.closed_at.is_none_or(|c| declined_at.is_some_and(|d| seq_lt(c, d))) {
                    self.closed_at = declined_at;
                }
            }
        }
        Ok(r)
    }

    /// The peer's SrcAvailCancel. Stale (nothing to answer) if none of its adverts is
    /// open here, or our SendSm, owed, will answer it.
    pub fn on_cancel(&mut self) {
        self.adverts.on_cancel();
    }

    /// The peer's adverts declined (a SendSm owed or sent closes them) since the last
    /// call: a statistic.
    pub fn take_declined(&mut self) -> u32 {
        core::mem::take(&mut self.declined)
    }

    /// We decline the open adverts: the reader cannot take them now.
    pub fn decline(&mut self) {
        self.adverts.decline();
    }

    /// The peer sent a message with `mseq_ack`: what it has now seen of our replies no
    /// longer needs checking (a sequence number kept longer would read as new again
    /// after 2^31 more messages).
    pub fn on_ack(&mut self, mseq_ack: u32) {
        if self.closed_at.is_some_and(|c| !seq_lt(mseq_ack, c)) {
            self.closed_at = None;
        }
        self.adverts.on_ack(mseq_ack);
    }

    /// The gate the peer's next data-bearing message must pass.
    pub fn gate(&self) -> ZcGate {
        ZcGate { open: self.adverts.any_open() || self.owed.iter().any(|o| o.closes()), closed_at: self.closed_at }
    }

    /// Checks a Data, Urgent or DisConn message sent with `mseq_ack` against the gate.
    pub fn check_data(&self, mseq_ack: u32) -> Result<(), SinkViolation> {
        if self.gate().admits(mseq_ack) { Ok(()) } else { Err(SinkViolation::DataWhileOpen) }
    }

    /// Whether [`Self::next_read`] would give a READ now (a slot free, one to ask for):
    /// the caller readies the slot's buffer first.
    pub fn wants_read(&self) -> bool {
        self.readers == 0
            && !self.user_reading
            && self.can_read
            && self.reading + self.landed < ZC_LANDING
            && self.adverts.read_pending()
    }

    /// A reader that may take the adverts' bytes into its own pages entered its call
    /// (or came back to it): no landing READ is posted until it leaves.
    pub fn reader_in(&mut self) {
        self.readers = self.readers.saturating_add(1);
    }

    /// That reader left ([`Self::reader_in`]): landing may go on.
    pub fn reader_out(&mut self) {
        self.readers = self.readers.saturating_sub(1);
    }

    /// How many bytes a reader with nothing left to read before them (`unread`: the
    /// bytes waiting in the ring) may claim now: the rest of the oldest advert, once
    /// no slot is landing, no READ of the reader's is in flight, and no decline is
    /// owed. `None` otherwise.
    pub fn user_claimable(&self, unread: usize) -> Option<u32> {
        let rest = self.adverts.pending_len();
        (self.can_read && unread == 0 && self.landing() == 0 && !self.user_reading && rest > 0).then_some(rest)
    }

    /// The READ of at most `max` of the oldest advert's bytes into a reader's pages,
    /// when [`Self::user_claimable`] allows one.
    pub fn next_user_read(&mut self, unread: usize, max: u32) -> Option<Read> {
        self.user_claimable(unread)?;
        let read = self.adverts.next_read(max)?;
        self.user_reading = true;
        Some(read)
    }

    /// The READ into the reader's pages completed with its `n` bytes, which are the
    /// reader's: what it earned is owed. `Err` as for [`Self::read_done`].
    pub fn user_read_done(&mut self, n: u32) -> Result<(), NoMemory> {
        if !core::mem::take(&mut self.user_reading) {
            return Ok(());
        }
        self.report_read(n)
    }

    /// The READ into the reader's pages failed or was flushed: the connection is
    /// going.
    pub fn user_read_lost(&mut self) {
        self.user_reading = false;
    }

    /// The READ into the reader's pages of `n` bytes ([`Self::next_user_read`], just
    /// before) could not be posted and nothing of it went: its bytes are asked for
    /// again, by a reader or by landing.
    pub fn user_read_unposted(&mut self, n: u32) {
        if core::mem::take(&mut self.user_reading) {
            self.adverts.unissue(n);
        }
    }

    /// The next READ to post, of at most `max` bytes, into a slot taken for it; none
    /// without a free slot, while declining, or with nothing left to ask for.
    pub fn next_read(&mut self, max: u32) -> Option<Read> {
        if !self.wants_read() {
            return None;
        }
        let read = self.adverts.next_read(max)?;
        self.reading += 1;
        Some(read)
    }

    /// The oldest READ in flight completed with its `n` bytes: its slot holds them for
    /// the reader, and what it earned is owed. `Err` when no memory is left to note
    /// the reply (the connection cannot go on).
    pub fn read_done(&mut self, n: u32) -> Result<(), NoMemory> {
        if self.reading == 0 {
            return Ok(());
        }
        self.reading -= 1;
        self.landed += 1;
        self.report_read(n)
    }

    /// `n` more bytes of the oldest advert are here (READ, or `0` after inline ones):
    /// owes what its RdmaRdCompl now reports, noting whether it closes the advert.
    fn report_read(&mut self, n: u32) -> Result<(), NoMemory> {
        let before = self.adverts.open_count();
        match self.adverts.read_done(n) {
            Some(Reply::RdCompl(m)) => self.owe_rd_compl(m, self.adverts.open_count() < before),
            _ => Ok(()),
        }
    }

    /// Notes an RdmaRdCompl of `n` bytes, merged into the last one owed if that is of
    /// the same advert (not closing it).
    fn owe_rd_compl(&mut self, n: u32, closes: bool) -> Result<(), NoMemory> {
        if let Some(Owed::RdCompl { n: last, closes: last_closes @ false }) = self.owed.last_mut() {
            *last += n;
            *last_closes = closes;
            return Ok(());
        }
        self.owed.try_push(Owed::RdCompl { n, closes }).map_err(|_| NoMemory)
    }

    /// A landed slot's bytes were all consumed: the slot is free.
    pub fn consumed(&mut self) {
        self.landed = self.landed.saturating_sub(1);
    }

    /// The oldest READ in flight failed, was flushed or could not be posted: the
    /// connection is going, and no READ is in flight for it any more.
    pub fn read_lost(&mut self) {
        self.reading = self.reading.saturating_sub(1);
    }

    /// Whether one of the peer's adverts is open here: bytes it sent are not all here
    /// (unlike [`Self::any_open`], a reply owed for bytes all here does not count).
    pub fn adverts_open(&self) -> bool {
        self.adverts.any_open()
    }

    /// How many of the peer's adverts are open here.
    pub fn adverts_open_count(&self) -> usize {
        self.adverts.open_count()
    }

    /// Slots taken: READs in flight and landed bytes unread.
    pub fn landing(&self) -> usize {
        self.reading + self.landed
    }

    /// Whether a READ is in flight (the connection must hear of its completion even
    /// with nothing else to do).
    pub fn reading(&self) -> bool {
        self.reading > 0 || self.user_reading
    }

    /// Whether one of the peer's adverts is open here, or a reply is owed (the peer
    /// has an advert open until it hears it).
    pub fn any_open(&self) -> bool {
        self.adverts.any_open() || !self.owed.is_empty()
    }

    /// Whether replies are owed, or a decline waits for the READ in flight.
    pub fn replies_owed(&self) -> bool {
        !self.owed.is_empty() || self.adverts.declining()
    }

    /// Sends the replies owed, in order, each with `send`, which returns the `mseq` it
    /// went with, or `None` when it cannot send now (no credit): the rest wait for the
    /// next call. A decline whose READs are done is owed first. `Err` when no memory
    /// is left to note it.
    pub fn flush(&mut self, mut send: impl FnMut(Reply) -> Option<u32>) -> Result<(), NoMemory> {
        if let Some(d) = self.adverts.take_decline() {
            self.owed.reserve_more(2)?;
            if let Some(n) = d.rd_compl {
                // Reserved above.
                let _ = self.owed.push_reserved(Owed::RdCompl { n, closes: d.rd_compl_closes });
            }
            if d.declined > 0 {
                let _ = self.owed.push_reserved(Owed::SendSm);
                self.declined = self.declined.saturating_add(d.declined as u32);
            }
        }
        while let Some(&next) = self.owed.first() {
            let Some(mseq) = send(next.reply()) else { break };
            self.owed.take_at(0);
            if next.closes() {
                self.closed_at = Some(mseq);
            }
            if let Owed::SendSm = next {
                self.adverts.declined(mseq);
            }
        }
        Ok(())
    }
}
