// SPDX-License-Identifier: GPL-2.0
//! SinkAvail: the reader's adverts and the writer's view of them, alone and against
//! each other over two FIFO wires: a stale advert (sent before the reader saw the
//! writer's last data, or crossing it) comes back empty on both sides' reckoning, a
//! fresh one takes the writer's next bytes, cancels are answered after the WRITE in
//! flight, and every byte of the stream is delivered once, in order, whatever the
//! interleaving.

mod common;
use common::Wire;

use std::collections::VecDeque;

use infinisock_proto::wire::Advert;
use infinisock_proto::zc_sinkavail::*;
use infinisock_proto::HostLists;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

type Reader = ReaderSinks<HostLists>;
type Writer = WriterSinks<HostLists>;

fn ah(len: u32, vaddr: u64) -> Advert {
    Advert { len, rkey: 9, vaddr }
}

fn replies(w: &mut Writer) -> Vec<WriterReply> {
    let mut out = vec![];
    w.replies(|r| out.push(r));
    out
}

#[test]
fn a_fresh_advert_takes_the_next_bytes_and_one_completion_closes_it() {
    let (mut r, mut w) = (Reader::new(2), Writer::new(2));
    assert!(r.may_advertise());
    r.advertised(10, 100).unwrap();
    // The writer's last data (mseq 4) was seen by the reader (mseq_ack 4).
    assert_eq!(w.on_sink_avail(4, ah(100, 0x1000), Some(4)), Ok(Freshness::Fresh));
    assert!(!w.may_send_data());
    assert_eq!(w.room(), 100);
    assert_eq!(w.next_write(60), Some(Write { rkey: 9, vaddr: 0x1000, len: 60 }));
    assert_eq!(w.next_write(60), Some(Write { rkey: 9, vaddr: 0x103c, len: 40 }));
    assert_eq!(w.next_write(60), None);
    w.close_oldest();
    // Nothing is answered while a WRITE is in flight.
    w.write_done(60);
    assert!(w.writing());
    assert!(replies(&mut w).is_empty());
    w.write_done(40);
    assert_eq!(replies(&mut w), [WriterReply::WrCompl(100)]);
    assert!(w.may_send_data());
    assert_eq!(r.on_wr_compl(100), Ok(100));
    assert!(!r.any_open());
    assert_eq!(r.on_wr_compl(0), Err(ReaderViolation::ComplUnasked));
}

#[test]
fn an_advert_sent_before_the_writers_last_data_comes_back_empty() {
    let (mut r, mut w) = (Reader::new(4), Writer::new(4));
    r.advertised(10, 100).unwrap();
    // The writer's Data 7 crossed the advert: the reader had heard up to 6.
    assert_eq!(w.on_sink_avail(6, ah(100, 0), Some(7)), Ok(Freshness::Stale));
    assert_eq!(w.room(), 0);
    assert_eq!(replies(&mut w), [WriterReply::WrCompl(0)]);
    // The reader sees Data 7, sent before the writer saw advert 10: stale.
    assert_eq!(r.on_peer_msg(6, true), Ok(()));
    assert_eq!(r.on_wr_compl(1), Err(ReaderViolation::ComplTooLong));
    assert_eq!(r.on_wr_compl(0), Ok(0));
    // A writer that saw the advert may not send data before closing it.
    r.advertised(11, 100).unwrap();
    assert_eq!(r.on_peer_msg(11, true), Err(ReaderViolation::DataIntoOpenSink));
    // A completion beyond the advert is refused.
    let mut r = Reader::new(1);
    r.advertised(1, 10).unwrap();
    assert_eq!(r.on_wr_compl(11), Err(ReaderViolation::ComplTooLong));
}

#[test]
fn the_writer_refuses_too_many_adverts_and_an_ack_going_back() {
    let mut w = Writer::new(1);
    assert_eq!(w.on_sink_avail(0, ah(10, 0), None), Ok(Freshness::Fresh));
    assert_eq!(w.on_sink_avail(0, ah(10, 0), None), Err(WriterViolation::TooMany));
    let mut w = Writer::new(4);
    assert_eq!(w.on_sink_avail(8, ah(10, 0), Some(8)), Ok(Freshness::Fresh));
    assert_eq!(w.on_sink_avail(7, ah(10, 0), Some(8)), Err(WriterViolation::AckWentBack));
    // Sequence numbers wrap.
    let mut w = Writer::new(4);
    assert_eq!(w.on_sink_avail(2, ah(10, 0), Some(u32::MAX)), Ok(Freshness::Fresh));
    assert_eq!(w.on_sink_avail(u32::MAX - 1, ah(10, 0), Some(u32::MAX)), Err(WriterViolation::AckWentBack));
}

#[test]
fn a_declined_advert_is_closed_with_what_it_holds() {
    let mut w = Writer::new(2);
    w.on_sink_avail(0, ah(100, 0), None).unwrap();
    w.on_sink_avail(0, ah(100, 0x100), None).unwrap();
    let wr = w.next_write(30).unwrap();
    w.write_done(wr.len);
    // The next send is small: both close, the first with its 30 bytes.
    w.decline();
    assert_eq!(w.room(), 0);
    assert_eq!(replies(&mut w), [WriterReply::WrCompl(30), WriterReply::WrCompl(0)]);
    assert!(w.may_send_data());
}

#[test]
fn a_cancel_is_answered_after_the_write_in_flight_and_always() {
    let (mut r, mut w) = (Reader::new(4), Writer::new(4));
    r.advertised(1, 100).unwrap();
    r.advertised(2, 100).unwrap();
    w.on_sink_avail(0, ah(100, 0), None).unwrap();
    w.on_sink_avail(0, ah(100, 0x100), None).unwrap();
    w.next_write(50).unwrap();
    assert!(r.cancel());
    assert!(!r.cancel(), "one cancel at a time");
    assert!(!r.may_advertise());
    w.on_cancel();
    assert_eq!(w.room(), 0, "nothing new is written once cancelled");
    assert_eq!(w.on_sink_avail(0, ah(10, 0x200), None), Err(WriterViolation::AdvertDuringCancel));
    assert!(replies(&mut w).is_empty());
    w.write_done(50);
    assert_eq!(replies(&mut w), [WriterReply::WrCompl(50), WriterReply::CancelAck]);
    assert_eq!(r.on_wr_compl(50), Ok(50));
    assert_eq!(r.on_cancel_ack(), Ok(1), "the second advert's region is the reader's again");
    assert!(!r.any_open() && r.may_advertise());
    assert_eq!(r.on_cancel_ack(), Err(ReaderViolation::AckUnasked));
    // With nothing open (the writer closed them first), the cancel is still answered.
    let mut w = Writer::new(1);
    w.on_cancel();
    assert_eq!(replies(&mut w), [WriterReply::CancelAck]);
    // Nothing open: nothing to cancel.
    assert!(!Reader::new(1).cancel());
}

#[test]
fn a_filled_advert_closes_itself() {
    let mut w = Writer::new(2);
    w.on_sink_avail(0, ah(100, 0), None).unwrap();
    let wr = w.next_write(100).unwrap();
    assert_eq!(wr.len, 100);
    w.write_done(100);
    assert_eq!(replies(&mut w), [WriterReply::WrCompl(100)]);
    assert!(w.may_send_data());
}

/// A message on the wire, with the sender's `mseq` and `mseq_ack`.
#[derive(Clone, Copy, Debug)]
enum Msg {
    /// Writer → reader.
    Data { start: u64, len: u32 },
    /// An RDMA WRITE of stream bytes from `start` into advert `id` at `offset`:
    /// ordered with the messages around it, as on an RC QP, and not a message (no
    /// `mseq`).
    Write { id: u64, offset: u32, start: u64, len: u32 },
    WrCompl(u32),
    CancelAck,
    /// Reader → writer.
    SinkAvail { id: u64, len: u32 },
    Cancel,
}

#[derive(Clone, Debug)]
enum Step {
    /// The writer's program writes this many more bytes.
    Produce(u32),
    /// The writer sends its unsent bytes as Data, if no advert is open.
    WriterSendsData,
    /// The writer WRITEs at most this many bytes into the oldest advert.
    WriterWrites(u32),
    /// The oldest WRITE in flight completes.
    WriteCompletes,
    /// The writer is done with the oldest advert.
    WriterCloses,
    /// The writer will send the rest another way.
    WriterDeclines,
    /// The writer takes the reader's next message.
    WriterReceives,
    /// The reader advertises this many bytes.
    ReaderAdvertises(u32),
    /// The reader cancels its adverts.
    ReaderCancels,
    /// The reader takes the writer's next message or WRITE.
    ReaderReceives,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1u32..5_000).prop_map(Step::Produce),
        2 => Just(Step::WriterSendsData),
        3 => (1u32..3_000).prop_map(Step::WriterWrites),
        3 => Just(Step::WriteCompletes),
        1 => Just(Step::WriterCloses),
        1 => Just(Step::WriterDeclines),
        3 => Just(Step::WriterReceives),
        2 => (1u32..8_000).prop_map(Step::ReaderAdvertises),
        1 => Just(Step::ReaderCancels),
        4 => Just(Step::ReaderReceives),
    ]
}

/// The two peers and the wires between them.
struct Peers {
    reader: Reader,
    writer: Writer,
    writer_heard: u32,
    reader_heard: u32,
    /// The `mseq` of the writer's last data-bearing message.
    last_data: Option<u32>,
    to_reader: Wire<Msg>,
    to_writer: Wire<Msg>,
    /// The writer's stream: produced up to `produced`, sent (as Data or WRITEs) up to
    /// `sent`; the adverts it holds by id, oldest first, and its WRITEs in flight.
    produced: u64,
    sent: u64,
    writer_ids: VecDeque<u64>,
    writes: VecDeque<u32>,
    /// The reader: bytes delivered in order; its open adverts (id, bytes WRITTEN into
    /// them as (offset, stream start, len)), oldest first.
    delivered: u64,
    next_id: u64,
    reader_open: VecDeque<(u64, u32, Vec<(u32, u64, u32)>)>,
    /// Adverts the writer found stale (a crossing), and bytes that went through adverts.
    stale: u32,
    zero_copied: u64,
}

impl Peers {
    fn new(max_open: u8) -> Self {
        // Sequence numbers wrap within a run.
        let start = u32::MAX - 40;
        Self {
            reader: Reader::new(max_open),
            writer: Writer::new(max_open),
            writer_heard: start,
            reader_heard: start,
            last_data: None,
            to_reader: Wire::new(start),
            to_writer: Wire::new(start),
            produced: 0,
            sent: 0,
            writer_ids: VecDeque::new(),
            writes: VecDeque::new(),
            delivered: 0,
            next_id: 0,
            reader_open: VecDeque::new(),
            stale: 0,
            zero_copied: 0,
        }
    }

    fn to_reader(&mut self, m: Msg) -> u32 {
        let message = !matches!(m, Msg::Write { .. });
        self.to_reader.send(m, self.writer_heard, message)
    }

    fn to_writer(&mut self, m: Msg) -> u32 {
        self.to_writer.send(m, self.reader_heard, true)
    }

    fn writer_replies(&mut self) {
        let mut out = vec![];
        self.writer.replies(|r| out.push(r));
        for r in out {
            match r {
                WriterReply::WrCompl(n) => {
                    self.writer_ids.pop_front();
                    self.to_reader(Msg::WrCompl(n));
                }
                WriterReply::CancelAck => {
                    self.writer_ids.clear();
                    self.to_reader(Msg::CancelAck);
                }
            }
        }
    }

    fn apply(&mut self, s: Step) -> Result<(), TestCaseError> {
        match s {
            Step::Produce(n) => self.produced += u64::from(n),
            Step::WriterSendsData => {
                if self.writer.may_send_data() && self.sent < self.produced {
                    let len = u32::try_from(self.produced - self.sent).unwrap().min(4096);
                    let start = self.sent;
                    self.sent += u64::from(len);
                    let mseq = self.to_reader(Msg::Data { start, len });
                    self.last_data = Some(mseq);
                }
            }
            Step::WriterWrites(max) => {
                let want = u32::try_from(self.produced - self.sent).unwrap_or(u32::MAX).min(max);
                if let Some(w) = self.writer.next_write(want) {
                    let id = *self.writer_ids.front().unwrap();
                    let start = self.sent;
                    self.sent += u64::from(w.len);
                    self.writes.push_back(w.len);
                    // The advert's vaddr is (id << 32): its offset is the low half.
                    prop_assert_eq!(w.vaddr >> 32, id);
                    self.to_reader(Msg::Write { id, offset: w.vaddr as u32, start, len: w.len });
                }
            }
            Step::WriteCompletes => {
                if let Some(n) = self.writes.pop_front() {
                    self.writer.write_done(n);
                    self.writer_replies();
                }
            }
            Step::WriterCloses => {
                self.writer.close_oldest();
                self.writer_replies();
            }
            Step::WriterDeclines => {
                self.writer.decline();
                self.writer_replies();
            }
            Step::WriterReceives => {
                if let Some((mseq, ack, m)) = self.to_writer.queue.pop_front() {
                    self.writer_heard = mseq;
                    match m {
                        Msg::SinkAvail { id, len } => {
                            // Forgotten once the reader acknowledged it.
                            if self.last_data.is_some_and(|d| ack.wrapping_sub(d) as i32 >= 0) {
                                self.last_data = None;
                            }
                            let f = self.writer.on_sink_avail(ack, ah(len, id << 32), self.last_data);
                            prop_assert!(f.is_ok(), "writer: {:?}", f);
                            self.stale += u32::from(f == Ok(Freshness::Stale));
                            self.writer_ids.push_back(id);
                        }
                        Msg::Cancel => self.writer.on_cancel(),
                        other => prop_assert!(false, "writer got {:?}", other),
                    }
                    self.writer_replies();
                }
            }
            Step::ReaderAdvertises(len) => {
                if self.reader.may_advertise() {
                    let id = self.next_id;
                    self.next_id += 1;
                    let mseq = self.to_writer(Msg::SinkAvail { id, len });
                    self.reader.advertised(mseq, len).unwrap();
                    self.reader_open.push_back((id, len, vec![]));
                }
            }
            Step::ReaderCancels => {
                if self.reader.cancel() {
                    self.to_writer(Msg::Cancel);
                }
            }
            Step::ReaderReceives => {
                if let Some((mseq, ack, m)) = self.to_reader.queue.pop_front() {
                    if !matches!(m, Msg::Write { .. }) {
                        self.reader_heard = mseq;
                    }
                    self.reader_takes(ack, m)?;
                }
            }
        }
        Ok(())
    }

    fn reader_takes(&mut self, ack: u32, m: Msg) -> Result<(), TestCaseError> {
        match m {
            Msg::Data { start, len } => {
                let v = self.reader.on_peer_msg(ack, true);
                prop_assert!(v.is_ok(), "reader: {:?}", v);
                prop_assert_eq!(start, self.delivered);
                self.delivered += u64::from(len);
            }
            Msg::Write { id, offset, start, len } => {
                // Only into an open advert, within it, after what was written before.
                let open = self.reader_open.iter_mut().find(|(i, ..)| *i == id);
                prop_assert!(open.is_some(), "a WRITE into a closed advert");
                let (_, size, written) = open.unwrap();
                let filled = written.iter().map(|w| w.2).sum::<u32>();
                prop_assert_eq!(offset, filled);
                prop_assert!(offset + len <= *size);
                written.push((offset, start, len));
            }
            Msg::WrCompl(n) => {
                let v = self.reader.on_peer_msg(ack, false).and_then(|_| self.reader.on_wr_compl(n));
                prop_assert!(v.is_ok(), "reader: {:?}", v);
                let (_, _, written) = self.reader_open.pop_front().unwrap();
                prop_assert_eq!(written.iter().map(|w| w.2).sum::<u32>(), n);
                for (_, start, len) in written {
                    prop_assert_eq!(start, self.delivered);
                    self.delivered += u64::from(len);
                }
                self.zero_copied += u64::from(n);
            }
            Msg::CancelAck => {
                let closed = self.reader.on_cancel_ack();
                prop_assert_eq!(closed, Ok(self.reader_open.len()));
                // Nothing reached them: the writer answered those it wrote into first.
                for (_, _, written) in self.reader_open.drain(..) {
                    prop_assert!(written.is_empty());
                }
            }
            other => prop_assert!(false, "reader got {:?}", other),
        }
        Ok(())
    }

    /// Runs both sides to the end: every WRITE completes, the writer declines what is
    /// open, and the wires empty; then what is left goes as Data.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            if self.to_reader.queue.is_empty() && self.to_writer.queue.is_empty() && self.writes.is_empty() && self.writer.may_send_data() {
                break;
            }
            self.apply(Step::ReaderReceives)?;
            self.apply(Step::WriterReceives)?;
            self.apply(Step::WriteCompletes)?;
            self.apply(Step::WriterDeclines)?;
        }
        while self.sent < self.produced {
            self.apply(Step::WriterSendsData)?;
        }
        while !self.to_reader.queue.is_empty() {
            self.apply(Step::ReaderReceives)?;
        }
        prop_assert!(!self.reader.any_open());
        prop_assert!(!self.reader.cancelling());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// Whatever the schedule, neither side sees the other break a rule, a WRITE lands
    /// only in an open advert within its bounds, and the reader gets every byte the
    /// writer sent once, in order.
    #[test]
    fn every_byte_arrives_once_in_order(steps in proptest::collection::vec(step(), 1..400), max_open in 1u8..4) {
        let mut p = Peers::new(max_open);
        for s in steps {
            p.apply(s)?;
        }
        p.finish()?;
        prop_assert_eq!(p.delivered, p.produced);
        prop_assert_eq!(p.sent, p.produced);
    }
}

#[test]
fn crossings_happen_in_the_model() {
    // The model explores stale adverts and bytes that go through adverts, not only
    // the easy order.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut runs, mut crossed, mut zero_copied) = (0, 0, 0);
    for _ in 0..300 {
        let steps = proptest::collection::vec(step(), 50..300).new_tree(&mut runner).unwrap().current();
        let mut p = Peers::new(2);
        for s in steps {
            p.apply(s).unwrap();
        }
        p.finish().unwrap();
        runs += 1;
        crossed += u32::from(p.stale > 0);
        zero_copied += u32::from(p.zero_copied > 0);
    }
    assert!(crossed * 100 >= runs, "{crossed} of {runs} runs had a stale advert");
    assert!(zero_copied * 2 >= runs, "{zero_copied} of {runs} runs wrote into an advert");
    eprintln!("{crossed} of {runs} runs had a stale advert, {zero_copied} wrote into one");
}
