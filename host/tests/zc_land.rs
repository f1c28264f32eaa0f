// SPDX-License-Identifier: GPL-2.0
//! The sink's flow of SrcAvail adverts landing in ring slots (`zc_land`), alone and
//! against the source's adverts (`zc_src`) over two FIFO wires with credits: at most
//! four slots landing, RdmaRdCompl never spanning two adverts, SendSm only once no
//! READ is in flight, the gate on the peer's Data, and every byte of the stream
//! delivered once, in order, whatever the interleaving and however short of credits.

mod common;
use common::{Wire, ZcMsg, ZcSource};

use std::collections::VecDeque;

use infinisock_proto::wire::Advert;
use infinisock_proto::zc_land::*;
use infinisock_proto::zc_sink::{OnSrcAvail, Read, Reply, SinkViolation};
use infinisock_proto::HostLists;
use proptest::prelude::*;

type Flow = SinkFlow<HostLists>;

fn ah(len: u32, vaddr: u64) -> Advert {
    Advert { len, rkey: 7, vaddr }
}

/// Sends everything owed, numbering the replies from `mseq` on.
fn flush_all(f: &mut Flow, mseq: &mut u32) -> Vec<Reply> {
    let mut sent = vec![];
    f.flush(|r| {
        sent.push(r);
        *mseq += 1;
        Some(*mseq)
    })
    .unwrap();
    sent
}

#[test]
fn at_most_four_slots_land() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    for i in 0..ZC_LANDING as u64 {
        assert_eq!(f.next_read(100), Some(Read { rkey: 7, vaddr: i * 100, len: 100 }));
    }
    assert_eq!(f.next_read(100), None, "every landing slot is taken");
    f.read_done(100).unwrap();
    assert_eq!(f.next_read(100), None, "a landed slot stays taken until read");
    f.consumed();
    assert_eq!(f.next_read(100), Some(Read { rkey: 7, vaddr: 400, len: 100 }));
    assert_eq!(f.landing(), ZC_LANDING);
}

#[test]
fn rd_compl_grows_within_one_advert_only() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(100, 0), 0).unwrap();
    f.on_src_avail(0, ah(50, 1000), 0).unwrap();
    f.next_read(60).unwrap();
    f.next_read(60).unwrap();
    f.read_done(60).unwrap();
    f.read_done(40).unwrap();
    f.consumed();
    f.consumed();
    f.next_read(60).unwrap();
    f.read_done(50).unwrap();
    // No credit: all three wait.
    f.flush(|_| None).unwrap();
    assert!(f.replies_owed());
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(100), Reply::RdCompl(50)]);
    assert!(!f.any_open());
}

#[test]
fn the_gate_holds_data_until_the_peer_saw_the_closing_reply() {
    let mut f = Flow::new(2, true);
    assert_eq!(f.check_data(0), Ok(()));
    f.on_src_avail(0, ah(10, 0), 0).unwrap();
    assert_eq!(f.check_data(0), Err(SinkViolation::DataWhileOpen));
    f.next_read(10).unwrap();
    f.read_done(10).unwrap();
    // Closed here, but its RdmaRdCompl has not gone: the peer still has it open.
    assert_eq!(f.check_data(0), Err(SinkViolation::DataWhileOpen));
    let mut mseq = 6;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(10)]);
    // It went as 7: Data the peer sent before it saw 7 broke the rule.
    assert_eq!(f.check_data(6), Err(SinkViolation::DataWhileOpen));
    assert_eq!(f.check_data(7), Ok(()));
    assert_eq!(f.check_data(8), Ok(()));
}

#[test]
fn without_read_depth_every_advert_is_declined() {
    let mut f = Flow::new(2, false);
    assert_eq!(f.on_src_avail(0, ah(100, 0), 20), Ok(OnSrcAvail::Accept));
    assert_eq!(f.next_read(100), None);
    let mut mseq = 0;
    // The inline bytes were delivered; the rest comes as Data.
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(20), Reply::SendSm]);
    assert!(!f.any_open());
    assert_eq!(f.take_declined(), 1);
}

#[test]
fn adverts_before_the_peer_saw_our_send_sm_are_discarded() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(100, 0), 0).unwrap();
    f.next_read(30).unwrap();
    f.on_cancel();
    // The cancel waits for the READ in flight.
    f.flush(|_| panic!("nothing goes while a READ is in flight")).unwrap();
    assert_eq!(f.next_read(30), None);
    f.read_done(30).unwrap();
    // Decided, not sent (no credit): the peer's adverts are still open at the peer.
    f.flush(|_| None).unwrap();
    assert_eq!(f.on_src_avail(3, ah(10, 0), 0), Ok(OnSrcAvail::Discard));
    assert_eq!(f.check_data(3), Err(SinkViolation::DataWhileOpen));
    let mut mseq = 9;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(30), Reply::SendSm]);
    // SendSm went as 11: an advert sent before the peer saw it is dropped, one after
    // is taken.
    assert_eq!(f.on_src_avail(10, ah(10, 0), 0), Ok(OnSrcAvail::Discard));
    assert_eq!(f.on_src_avail(11, ah(10, 0), 0), Ok(OnSrcAvail::Accept));
    // Declined: the one open, and the two that crossed the SendSm.
    assert_eq!(f.take_declined(), 3);
    assert_eq!(f.take_declined(), 0);
}

#[test]
fn an_advert_sent_before_our_rd_compl_went_is_a_new_one() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(10, 0), 0).unwrap();
    f.next_read(10).unwrap();
    f.decline();
    f.read_done(10).unwrap();
    // The RdmaRdCompl closes the only advert, so no SendSm is owed; it waits (no credit).
    f.flush(|_| None).unwrap();
    // The peer, not having seen it, advertises again: a second advert, not declined by
    // a SendSm the peer would apply to it.
    assert_eq!(f.on_src_avail(1, ah(10, 10), 0), Ok(OnSrcAvail::Accept));
    let mut mseq = 4;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(10)]);
    assert_eq!(f.check_data(5), Err(SinkViolation::DataWhileOpen), "the second advert is open");
}

#[test]
fn a_decline_the_rd_compl_answers_owes_no_send_sm() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(10, 0), 0).unwrap();
    f.next_read(10).unwrap();
    f.decline();
    assert!(f.replies_owed(), "the decline waits for the READ in flight");
    f.read_done(10).unwrap();
    let mut mseq = 4;
    // The RdmaRdCompl (5) closed the only advert: a SendSm after it would decline the
    // peer's next advert, which it may send as soon as it sees 5.
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(10)]);
    assert!(!f.replies_owed());
    assert_eq!(f.check_data(5), Ok(()));
    assert_eq!(f.on_src_avail(5, ah(10, 10), 0), Ok(OnSrcAvail::Accept));
}

#[test]
fn a_cancel_while_everything_is_being_read_is_answered_by_the_rd_compl_alone() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(10, 0), 0).unwrap();
    f.next_read(10).unwrap();
    // The cancel comes while the READ of everything is in flight.
    f.on_cancel();
    f.read_done(10).unwrap();
    let mut mseq = 4;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(10)]);
    assert!(!f.replies_owed());
    // The source's next advert, sent once it saw 5, is taken.
    assert_eq!(f.on_src_avail(5, ah(10, 10), 0), Ok(OnSrcAvail::Accept));
}

#[test]
fn an_advert_all_inline_is_reported_at_once() {
    let mut f = Flow::new(2, true);
    assert_eq!(f.on_src_avail(0, ah(8, 0), 8), Ok(OnSrcAvail::Accept));
    assert_eq!(f.next_read(100), None);
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(8)]);
    assert!(!f.any_open());
    assert_eq!(f.check_data(1), Ok(()));
}

#[test]
fn replies_the_peer_has_seen_are_not_checked_again() {
    let mut f = Flow::new(2, true);
    f.on_src_avail(0, ah(10, 0), 0).unwrap();
    f.next_read(10).unwrap();
    f.read_done(10).unwrap();
    let mut mseq = 100;
    flush_all(&mut f, &mut mseq);
    assert_eq!(f.check_data(100), Err(SinkViolation::DataWhileOpen));
    // Once the peer acknowledged 101, the rule holds of everything it sends later, and
    // is not judged again: without that, an acknowledgement 2^31 later would read as
    // one before 101.
    f.on_ack(101);
    assert_eq!(f.check_data(101u32.wrapping_add(1 << 31)), Ok(()));
}

#[derive(Clone, Debug)]
enum Step {
    Write(u32),
    SourceSends(bool),
    SourceCancels,
    /// The source breaks the rule: Data while one of its adverts is open.
    SourceForges,
    SourceReceives,
    SinkReceives,
    SinkReads(u32),
    ReadCompletes,
    /// The reader consumes the oldest landed slot.
    ReaderConsumes,
    SinkDeclines,
    /// The source posts this many more receives: credits for the sink's replies.
    SinkCredits(u32),
    /// A reader that may take the bytes into its own pages enters its call.
    ReaderIn,
    /// It leaves.
    ReaderOut,
    /// A reader inside claims up to this many bytes for a READ into its pages.
    UserClaims(u32),
    /// That READ completes.
    UserReadCompletes,
    /// A reader claims, but its READ cannot be posted (nothing of it went).
    UserClaimUnposted(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1u32..50_000).prop_map(Step::Write),
        3 => any::<bool>().prop_map(Step::SourceSends),
        1 => Just(Step::SourceCancels),
        1 => Just(Step::SourceForges),
        3 => Just(Step::SourceReceives),
        3 => Just(Step::SinkReceives),
        3 => (1u32..40_000).prop_map(Step::SinkReads),
        3 => Just(Step::ReadCompletes),
        2 => Just(Step::ReaderConsumes),
        1 => Just(Step::SinkDeclines),
        2 => (0u32..3).prop_map(Step::SinkCredits),
        1 => Just(Step::ReaderIn),
        1 => Just(Step::ReaderOut),
        2 => (1u32..60_000).prop_map(Step::UserClaims),
        2 => Just(Step::UserReadCompletes),
        1 => (1u32..60_000).prop_map(Step::UserClaimUnposted),
    ]
}

struct Peers {
    src: ZcSource,
    sink: Flow,
    sink_heard: u32,
    to_src: Wire<ZcMsg>,
    /// Bytes delivered to the ready queue in stream order (contiguous from 0).
    delivered: u64,
    /// READs in flight (stream offset, len), and landed slots not yet read.
    reads: VecDeque<(u64, u32)>,
    landed: usize,
    /// The sink's credits for sending to the source.
    credits: u32,
    /// The source's adverts the sink declined, as it counts them.
    declined: u64,
    /// Readers inside their call, and the READ into a reader's pages in flight.
    readers: u32,
    user_read: Option<(u64, u32)>,
    /// Bytes that went straight to a reader.
    to_user: u64,
}

impl Peers {
    fn new(max_open: u8, can_read: bool) -> Self {
        Self {
            // Sequence numbers start near the wrap; each side has heard the other's
            // start.
            src: ZcSource::new(max_open, u32::MAX - 20, u32::MAX - 5),
            sink: Flow::new(max_open, can_read),
            sink_heard: u32::MAX - 20,
            to_src: Wire::new(u32::MAX - 5),
            delivered: 0,
            reads: VecDeque::new(),
            landed: 0,
            credits: 0,
            declined: 0,
            readers: 0,
            user_read: None,
            to_user: 0,
        }
    }

    fn apply(&mut self, s: Step) -> Result<(), TestCaseError> {
        match s {
            Step::Write(n) => self.src.written += u64::from(n),
            Step::SourceSends(advert) => self.src.sends(advert),
            Step::SourceCancels => self.src.cancels(),
            Step::SourceForges => self.src.forges(),
            Step::SourceReceives => {
                let Some(m) = self.to_src.queue.pop_front() else { return Ok(()) };
                self.src.receives(m).map_err(TestCaseError::fail)?;
            }
            Step::SinkReceives => {
                let Some((mseq, ack, m)) = self.src.to_sink.queue.pop_front() else { return Ok(()) };
                self.sink_heard = mseq;
                match m {
                    ZcMsg::SrcAvail { start, len } => {
                        let r = self.sink.on_src_avail(ack, ah(len, start), 0);
                        prop_assert!(r.is_ok(), "SrcAvail refused: {:?}", r);
                    }
                    ZcMsg::Data { start, len } => {
                        prop_assert_eq!(self.sink.check_data(ack), Ok(()));
                        prop_assert_eq!(start, self.delivered, "Data out of order");
                        self.delivered += u64::from(len);
                    }
                    // Refused, then dropped: the model goes on as if it never came.
                    ZcMsg::Forged => prop_assert_eq!(self.sink.check_data(ack), Err(SinkViolation::DataWhileOpen)),
                    ZcMsg::Cancel => self.sink.on_cancel(),
                    other => prop_assert!(false, "the source sent {:?}", other),
                }
                self.sink.on_ack(ack);
            }
            Step::SinkReads(max) => {
                if let Some(r) = self.sink.next_read(max) {
                    prop_assert!(self.readers == 0, "a landing READ while a reader holds");
                    prop_assert!(self.user_read.is_none(), "a landing READ beside a reader's");
                    self.reads.push_back((r.vaddr, r.len));
                }
            }
            Step::ReaderIn => {
                self.readers += 1;
                self.sink.reader_in();
            }
            Step::ReaderOut => {
                if self.readers > 0 {
                    self.readers -= 1;
                    self.sink.reader_out();
                }
            }
            Step::UserClaims(max) => {
                // Only a reader inside claims, and only once it read what landed.
                if self.readers > 0 {
                    if let Some(r) = self.sink.next_user_read(self.landed, max) {
                        prop_assert!(self.reads.is_empty() && self.landed == 0, "claimed with bytes before it");
                        prop_assert!(self.user_read.is_none(), "two READs into a reader's pages");
                        prop_assert!(r.len <= max);
                        self.user_read = Some((r.vaddr, r.len));
                    }
                }
            }
            Step::UserClaimUnposted(max) => {
                if self.readers > 0 {
                    if let Some(r) = self.sink.next_user_read(self.landed, max) {
                        self.sink.user_read_unposted(r.len);
                    }
                }
            }
            Step::UserReadCompletes => {
                let Some((start, len)) = self.user_read.take() else { return Ok(()) };
                prop_assert_eq!(start, self.delivered, "a reader's READ out of order");
                self.delivered += u64::from(len);
                self.to_user += u64::from(len);
                self.sink.user_read_done(len).unwrap();
            }
            Step::ReadCompletes => {
                let Some((start, len)) = self.reads.pop_front() else { return Ok(()) };
                prop_assert_eq!(start, self.delivered, "READ out of order");
                self.delivered += u64::from(len);
                self.landed += 1;
                self.sink.read_done(len).unwrap();
            }
            Step::ReaderConsumes => {
                if self.landed > 0 {
                    self.landed -= 1;
                    self.sink.consumed();
                }
            }
            Step::SinkDeclines => self.sink.decline(),
            Step::SinkCredits(n) => self.credits += n,
        }
        let in_flight = !self.reads.is_empty() || self.user_read.is_some();
        let (heard, to_src, credits) = (self.sink_heard, &mut self.to_src, &mut self.credits);
        let mut send_sm_during_read = false;
        self.sink
            .flush(|r| {
                if *credits == 0 {
                    return None;
                }
                *credits -= 1;
                let m = match r {
                    Reply::RdCompl(n) => ZcMsg::RdCompl(n),
                    Reply::SendSm => {
                        send_sm_during_read |= in_flight;
                        ZcMsg::SendSm
                    }
                };
                Some(to_src.send(m, heard, true))
            })
            .unwrap();
        prop_assert!(!send_sm_during_read, "SendSm with a READ in flight");
        self.declined += u64::from(self.sink.take_declined());
        prop_assert!(self.sink.landing() <= ZC_LANDING);
        prop_assert_eq!(self.sink.landing(), self.reads.len() + self.landed);
        prop_assert!(self.delivered <= self.src.sent);
        Ok(())
    }

    fn quiet(&self) -> bool {
        self.delivered == self.src.written
            && self.src.to_sink.queue.is_empty()
            && self.to_src.queue.is_empty()
            && self.reads.is_empty()
            && self.user_read.is_none()
            && !self.sink.replies_owed()
    }
}

proptest! {
    /// Honest peers never see a violation (the source takes every RdmaRdCompl, the
    /// sink's gate every Data), Data a source sends with an advert open is always
    /// refused, whenever it arrives, no more than four slots land, and once both go on
    /// (one credit at a time) until nothing moves, the stream arrived whole, in order.
    #[test]
    fn the_stream_lands_whole_and_in_order(
        max_open in 1u8..9,
        can_read in prop::bool::weighted(0.85),
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let mut p = Peers::new(max_open, can_read);
        for s in steps {
            p.apply(s)?;
        }
        let drain = [
            Step::SourceSends(false),
            Step::SinkReceives,
            Step::SinkReads(u32::MAX),
            Step::ReadCompletes,
            Step::ReaderConsumes,
            // A reader still inside takes the advert's rest into its pages.
            Step::UserClaims(u32::MAX),
            Step::UserReadCompletes,
            Step::SinkCredits(1),
            Step::SourceReceives,
        ];
        for _ in 0..10_000 {
            if p.quiet() {
                break;
            }
            for s in drain.iter().cloned() {
                p.apply(s)?;
            }
        }
        prop_assert_eq!(p.delivered, p.src.written, "bytes lost or duplicated");
        prop_assert!(p.src.adverts.may_send_data() && !p.sink.any_open());
        // The sink's count of its declines is the source's of the adverts its SendSms
        // closed (each side's `zc_declines` counter).
        prop_assert_eq!(p.declined, p.src.closed_by_send_sm, "declines counted");
    }
}

#[test]
fn wants_read_says_what_next_read_will_give() {
    let mut f = Flow::new(8, true);
    assert!(!f.wants_read(), "no advert open");
    f.on_src_avail(0, ah(300, 0), 0).unwrap();
    for _ in 0..3 {
        assert!(f.wants_read());
        f.next_read(100).unwrap();
    }
    assert!(!f.wants_read(), "every byte asked for");
    assert_eq!(f.next_read(100), None);
    f.on_src_avail(0, ah(500, 1000), 0).unwrap();
    assert!(!f.wants_read(), "the next advert is READ once the oldest is whole");
    for _ in 0..3 {
        f.read_done(100).unwrap();
    }
    assert!(f.wants_read());
    f.next_read(100).unwrap();
    assert!(!f.wants_read(), "every landing slot taken");
    assert_eq!(f.next_read(100), None);
    let mut cannot = Flow::new(8, false);
    cannot.on_src_avail(0, ah(300, 0), 0).unwrap();
    assert!(!cannot.wants_read(), "no READ depth: declined, never READ");
}

#[test]
fn a_lost_read_is_no_longer_in_flight() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(300, 0), 0).unwrap();
    f.next_read(100).unwrap();
    assert!(f.reading());
    f.read_lost();
    assert!(!f.reading());
    assert_eq!(f.landing(), 0);
}

#[test]
fn an_advert_whose_bytes_are_all_here_is_not_open_while_its_reply_waits() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(100, 0), 0).unwrap();
    assert!(f.adverts_open());
    f.next_read(100).unwrap();
    f.read_done(100).unwrap();
    assert_eq!((f.landing(), f.reading()), (1, false), "one slot landed");
    assert!(!f.adverts_open(), "every byte landed");
    assert!(f.any_open(), "the peer's advert stays open until the RdmaRdCompl goes");
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), vec![Reply::RdCompl(100)]);
    assert!(!f.any_open());
}

#[test]
fn a_reader_inside_holds_landing_and_claims_once_nothing_is_before_the_advert() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    f.next_read(100).unwrap();
    f.reader_in();
    assert!(!f.wants_read(), "landing waits while a reader is inside");
    assert_eq!(f.next_read(100), None);
    assert_eq!(f.user_claimable(0), None, "a landing READ is in flight");
    f.read_done(100).unwrap();
    assert_eq!(f.user_claimable(0), None, "its bytes are not read yet");
    assert_eq!(f.user_claimable(100), None);
    f.consumed();
    assert_eq!(f.user_claimable(0), Some(900));
    assert_eq!(f.next_user_read(0, 600), Some(Read { rkey: 7, vaddr: 100, len: 600 }));
    assert!(f.reading(), "the reader's READ counts as in flight");
    assert_eq!(f.user_claimable(0), None, "one READ into a reader's pages at a time");
    f.reader_out();
    assert!(!f.wants_read(), "no landing READ beside the reader's");
    f.user_read_done(600).unwrap();
    assert!(!f.reading());
    assert!(f.wants_read(), "the reader left: landing goes on");
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(700)], "one report for both, of one advert");
    assert_eq!(f.next_read(1000), Some(Read { rkey: 7, vaddr: 700, len: 300 }));
}

#[test]
fn a_reader_claims_nothing_while_declining_or_without_read_depth() {
    let mut f = Flow::new(8, false);
    f.reader_in();
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    assert_eq!(f.user_claimable(0), None, "no READ depth: declined");
    let mut f = Flow::new(8, true);
    f.reader_in();
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    f.on_cancel();
    assert_eq!(f.next_user_read(0, 1000), None, "cancelled: its bytes come as Data");
}

#[test]
fn a_decline_waits_for_the_readers_read() {
    let mut f = Flow::new(8, true);
    f.reader_in();
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    f.next_user_read(0, 400).unwrap();
    f.on_cancel();
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), [], "nothing goes while the READ is in flight");
    f.user_read_done(400).unwrap();
    assert_eq!(flush_all(&mut f, &mut mseq), [Reply::RdCompl(400), Reply::SendSm]);
}

#[test]
fn a_lost_read_into_a_readers_pages_is_no_longer_in_flight() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    f.reader_in();
    f.next_user_read(0, 1000).unwrap();
    f.user_read_lost();
    assert!(!f.reading());
    f.user_read_done(1000).unwrap();
    let mut mseq = 0;
    assert_eq!(flush_all(&mut f, &mut mseq), [], "a completion after the loss reports nothing");
}

#[test]
fn a_readers_read_that_could_not_be_posted_is_asked_for_again() {
    let mut f = Flow::new(8, true);
    f.on_src_avail(0, ah(1000, 0), 0).unwrap();
    f.reader_in();
    assert_eq!(f.next_user_read(0, 600), Some(Read { rkey: 7, vaddr: 0, len: 600 }));
    f.user_read_unposted(600);
    assert!(!f.reading());
    assert_eq!(f.user_claimable(0), Some(1000), "its bytes are there to claim again");
    f.reader_out();
    assert_eq!(f.next_read(1000), Some(Read { rkey: 7, vaddr: 0, len: 1000 }), "or to land");
}
