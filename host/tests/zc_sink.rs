// SPDX-License-Identifier: GPL-2.0
//! The sink's view of the peer's SrcAvail adverts, alone and against the source's
//! (`zc_src`) over two FIFO wires: READs in order, replies after the READ in flight,
//! SrcAvails sent before the peer saw our SendSm discarded, and every byte of the
//! stream delivered once, in order, whatever the interleaving.

mod common;
use common::{Wire, ZcMsg, ZcSource};

use std::collections::VecDeque;

use infinisock_proto::wire::Advert;
use infinisock_proto::zc_sink::*;
use infinisock_proto::HostLists;
use proptest::prelude::*;

type Sink = PeerAdverts<HostLists>;

fn ah(len: u32, vaddr: u64) -> Advert {
    Advert { len, rkey: 7, vaddr }
}

#[test]
fn reads_the_oldest_advert_and_reports_each_completion() {
    let mut s = Sink::new(2);
    assert_eq!(s.on_src_avail(0, ah(100, 1000), 0), Ok(OnSrcAvail::Accept));
    assert_eq!(s.on_src_avail(0, ah(10, 2000), 0), Ok(OnSrcAvail::Accept));
    assert_eq!(s.on_src_avail(0, ah(10, 3000), 0), Err(SinkViolation::TooMany));
    assert_eq!(s.check_data(), Err(SinkViolation::DataWhileOpen));
    assert_eq!(s.next_read(60), Some(Read { rkey: 7, vaddr: 1000, len: 60 }));
    assert_eq!(s.next_read(60), Some(Read { rkey: 7, vaddr: 1060, len: 40 }));
    assert_eq!(s.next_read(60), None);
    assert!(s.reading());
    assert_eq!(s.read_done(60), Some(Reply::RdCompl(60)));
    assert_eq!(s.read_done(40), Some(Reply::RdCompl(40)));
    // The first is closed; the second is next.
    assert_eq!(s.next_read(60), Some(Read { rkey: 7, vaddr: 2000, len: 10 }));
    assert_eq!(s.read_done(10), Some(Reply::RdCompl(10)));
    assert!(!s.any_open());
    assert_eq!(s.check_data(), Ok(()));
}

#[test]
fn a_cancel_is_answered_after_the_read_in_flight() {
    let mut s = Sink::new(4);
    s.on_src_avail(5, ah(100, 0), 0).unwrap();
    s.on_src_avail(5, ah(50, 100), 0).unwrap();
    s.next_read(30).unwrap();
    s.on_cancel();
    // Nothing new is read, nothing is answered while the READ is in flight.
    assert_eq!(s.next_read(30), None);
    let mut replies = vec![];
    s.replies(|r| {
        replies.push(r);
        8 + replies.len() as u32
    });
    assert!(replies.is_empty());
    assert_eq!(s.read_done(30), None);
    s.replies(|r| {
        replies.push(r);
        8 + replies.len() as u32
    });
    // RdmaRdCompl went as 9, SendSm as 10.
    assert_eq!(replies, [Reply::RdCompl(30), Reply::SendSm]);
    assert!(!s.any_open());
    // A SrcAvail the peer sent before it saw SendSm 10 is dropped unread; a later one
    // is taken.
    assert_eq!(s.on_src_avail(9, ah(10, 0), 0), Ok(OnSrcAvail::Discard));
    assert_eq!(s.on_src_avail(10, ah(10, 0), 0), Ok(OnSrcAvail::Accept));
    // A stale cancel (the peer's adverts were all closed) owes nothing.
    let mut t = Sink::new(1);
    t.on_cancel();
    t.replies(|_| panic!("nothing was open"));
}

#[test]
fn inline_bytes_are_the_adverts_first_and_only_on_the_first() {
    let mut s = Sink::new(2);
    assert_eq!(s.on_src_avail(0, ah(100, 0), 40), Ok(OnSrcAvail::Accept));
    assert_eq!(s.next_read(1000), Some(Read { rkey: 7, vaddr: 40, len: 60 }));
    assert_eq!(s.on_src_avail(0, ah(100, 0), 1), Err(SinkViolation::InlineBehind));
    assert_eq!(s.read_done(60), Some(Reply::RdCompl(100)));
}

#[derive(Clone, Debug)]
enum Step {
    /// The source writes this many more bytes.
    Write(u32),
    /// The source sends what it may: resends and new bytes as Data, or an advert.
    SourceSends(bool),
    /// The source cancels its open adverts.
    SourceCancels,
    /// The source takes the sink's next message.
    SourceReceives,
    /// The sink takes the source's next message.
    SinkReceives,
    /// The sink posts a READ of at most this many bytes.
    SinkReads(u32),
    /// The oldest READ in flight completes.
    ReadCompletes,
    /// The sink declines the open adverts.
    SinkDeclines,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1u32..50_000).prop_map(Step::Write),
        3 => any::<bool>().prop_map(Step::SourceSends),
        1 => Just(Step::SourceCancels),
        3 => Just(Step::SourceReceives),
        3 => Just(Step::SinkReceives),
        3 => (1u32..40_000).prop_map(Step::SinkReads),
        3 => Just(Step::ReadCompletes),
        1 => Just(Step::SinkDeclines),
    ]
}

/// The two peers and the wires between them.
struct Peers {
    src: ZcSource,
    sink: Sink,
    /// The sink's last mseq received, and its wire to the source.
    sink_heard: u32,
    to_src: Wire<ZcMsg>,
    /// The sink's delivered bytes (contiguous stream offsets from 0), and its READs in
    /// flight (stream offset, len).
    delivered: u64,
    reads: VecDeque<(u64, u32)>,
}

impl Peers {
    fn new(max_open: u8) -> Self {
        Self {
            src: ZcSource::new(max_open, 0, 0),
            sink: Sink::new(max_open),
            sink_heard: 0,
            to_src: Wire::new(0),
            delivered: 0,
            reads: VecDeque::new(),
        }
    }

    fn apply(&mut self, s: Step) -> Result<(), TestCaseError> {
        match s {
            Step::Write(n) => self.src.written += u64::from(n),
            Step::SourceSends(advert) => self.src.sends(advert),
            Step::SourceCancels => self.src.cancels(),
            Step::SourceReceives => {
                let Some(m) = self.to_src.queue.pop_front() else { return Ok(()) };
                self.src.receives(m).map_err(TestCaseError::fail)?;
            }
            Step::SinkReceives => {
                let Some((mseq, ack, m)) = self.src.to_sink.queue.pop_front() else { return Ok(()) };
                self.sink_heard = mseq;
                match m {
                    // The advert's vaddr is its stream offset, for the checks below.
                    ZcMsg::SrcAvail { start, len } => {
                        self.sink.on_src_avail(ack, ah(len, start), 0).unwrap();
                    }
                    ZcMsg::Data { start, len } => {
                        self.sink.check_data().unwrap();
                        prop_assert_eq!(start, self.delivered, "Data out of order");
                        self.delivered += u64::from(len);
                    }
                    ZcMsg::Cancel => self.sink.on_cancel(),
                    other => prop_assert!(false, "the source sent {:?}", other),
                }
            }
            Step::SinkReads(max) => {
                if let Some(r) = self.sink.next_read(max) {
                    self.reads.push_back((r.vaddr, r.len));
                }
            }
            Step::ReadCompletes => {
                let Some((start, len)) = self.reads.pop_front() else { return Ok(()) };
                prop_assert_eq!(start, self.delivered, "READ out of order");
                self.delivered += u64::from(len);
                if let Some(Reply::RdCompl(n)) = self.sink.read_done(len) {
                    self.to_src.send(ZcMsg::RdCompl(n), self.sink_heard, true);
                }
            }
            Step::SinkDeclines => self.sink.decline(),
        }
        // A SendSm goes once the READ in flight is done, with the mseq it takes.
        let (heard, to_src) = (self.sink_heard, &mut self.to_src);
        self.sink.replies(|r| {
            let m = match r {
                Reply::RdCompl(n) => ZcMsg::RdCompl(n),
                Reply::SendSm => ZcMsg::SendSm,
            };
            to_src.send(m, heard, true)
        });
        // Nothing the sink delivered lies beyond what the source sent.
        prop_assert!(self.delivered <= self.src.sent);
        Ok(())
    }

    fn quiet(&self) -> bool {
        self.delivered == self.src.written && self.src.to_sink.queue.is_empty() && self.to_src.queue.is_empty() && self.reads.is_empty()
    }
}

proptest! {
    /// Two peers following the rules never see a violation, and the sink delivers the
    /// stream exactly: every byte once, in order, once both go on without declines or
    /// cancels until nothing moves.
    #[test]
    fn the_stream_arrives_whole_and_in_order(
        max_open in 1u8..5,
        steps in prop::collection::vec(step(), 1..150),
    ) {
        let mut p = Peers::new(max_open);
        for s in steps {
            p.apply(s)?;
        }
        let drain = [Step::SourceSends(false), Step::SinkReceives, Step::SinkReads(u32::MAX), Step::ReadCompletes, Step::SourceReceives];
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
    }
}
