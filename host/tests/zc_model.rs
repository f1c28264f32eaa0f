// SPDX-License-Identifier: GPL-2.0
//! Zero-copy SDP as a whole (`Documentation/plans/zero-copy.md` §3, `zc_model`): a
//! writer with both tables of its side (its SrcAvail adverts, `SrcAdverts`, and the
//! reader's SinkAvail adverts, `WriterSinks`) and a reader with both of its
//! (`PeerAdverts`, `ReaderSinks`), over two FIFO wires with the RDMA WRITEs ordered
//! among the writer's messages, READs and WRITEs completing whenever the schedule
//! says, and a clock that fires the writer's advert timeout and cancel timeout.
//!
//! Whatever the schedule:
//! 1. without a reset, the reader gets every byte the writer produced once, in order;
//! 2. no region is invalidated while a READ or WRITE of it is in flight, and none is
//!    touched after;
//! 3. every advert closes once the peers go on (the drain at the end), and a
//!    connection is reset only by its cancel timer;
//! 4. neither side sees the other break a rule;
//! 5. a forged reply in any reachable state is a violation, never a panic;
//! 6. crossings (a SrcAvail meeting the reader's open SinkAvail) occur in at least
//!    1 % of schedules.

mod common;
use common::Wire;

use std::collections::{HashSet, VecDeque};

use infinisock_proto::wire::Advert;
use infinisock_proto::zc_sink::{OnSrcAvail, PeerAdverts, Reply};
use infinisock_proto::zc_sinkavail::{Freshness, ReaderSinks, WriterReply, WriterSinks};
use infinisock_proto::zc_src::{Closed, Due, SrcAdverts};
use infinisock_proto::HostLists;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// No READ for this long cancels the writer's adverts; a cancel unanswered for
/// `CANCEL_MS` resets (the plan's defaults).
const TIMEOUT_MS: u64 = 1000;
const CANCEL_MS: u64 = 5000;

#[derive(Clone, Debug)]
enum Msg {
    // Writer → reader.
    Data { start: u64, len: u32 },
    SrcAvail { id: u64, len: u32 },
    /// An RDMA WRITE of stream bytes from `start` into the reader's advert `id` at
    /// `offset`: ordered with the messages around it, as on an RC QP; no `mseq`.
    Write { id: u64, offset: u32, start: u64, len: u32 },
    WrCompl(u32),
    CancelAck,
    SrcCancel,
    // Reader → writer.
    SinkAvail { id: u64, len: u32 },
    SinkCancel,
    RdCompl(u32),
    SendSm,
}

/// A reply a hostile peer forges, applied to the receiving side as it stands.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// RdmaRdCompl of more bytes than the writer's adverts hold.
    RdComplTooLong,
    /// RdmaWrCompl of more bytes than any advert can hold.
    WrComplTooLong,
    /// Data where the reader holds an open advert of the writer's or its own.
    DataWhileOpen,
    /// SinkAvails beyond the writer's offer.
    TooManySinks,
}

#[derive(Clone, Debug)]
enum Step {
    /// The writer's program writes this many more bytes.
    Produce(u32),
    /// The writer sends what it may: resends first, then new bytes as Data, or as a
    /// SrcAvail (`true`).
    WriterSends(bool),
    /// The writer WRITEs at most this many bytes into the reader's oldest advert.
    WriterWrites(u32),
    WriteCompletes,
    /// The writer's send ended: it is done with the oldest advert.
    WriterCloses,
    /// The writer sends its bytes another way: every advert of the reader's closes.
    WriterDeclines,
    WriterReceives,
    ReaderReceives,
    /// The reader posts a READ of at most this many bytes.
    ReaderReads(u32),
    ReadCompletes,
    /// The reader declines the writer's adverts (SendSm).
    ReaderDeclines,
    /// A reader blocked in `recv()` advertises this many bytes.
    ReaderAdvertises(u32),
    /// A signal ends the reader's wait: it cancels its adverts.
    ReaderCancels,
    /// The clock advances this many ms; the writer's timers fire.
    Tick(u64),
    Forge(Forgery),
}

fn honest_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1u32..60_000).prop_map(Step::Produce),
        3 => any::<bool>().prop_map(Step::WriterSends),
        2 => (1u32..20_000).prop_map(Step::WriterWrites),
        3 => Just(Step::WriteCompletes),
        1 => Just(Step::WriterCloses),
        1 => Just(Step::WriterDeclines),
        4 => Just(Step::WriterReceives),
        4 => Just(Step::ReaderReceives),
        3 => (1u32..40_000).prop_map(Step::ReaderReads),
        3 => Just(Step::ReadCompletes),
        1 => Just(Step::ReaderDeclines),
        2 => (1u32..50_000).prop_map(Step::ReaderAdvertises),
        1 => Just(Step::ReaderCancels),
        1 => (0u64..1_500).prop_map(Step::Tick),
    ]
}

fn hostile_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => honest_step(),
        1 => prop_oneof![
            Just(Forgery::RdComplTooLong),
            Just(Forgery::WrComplTooLong),
            Just(Forgery::DataWhileOpen),
            Just(Forgery::TooManySinks),
        ]
        .prop_map(Step::Forge),
    ]
}

/// An advert's region as the model names it: its id in the high half, the offset in
/// the low (the iova mask of the plan's decision 5).
fn ah(id: u64, len: u32) -> Advert {
    Advert { len, rkey: 9, vaddr: id << 32 }
}

fn split(vaddr: u64) -> (u64, u32) {
    (vaddr >> 32, vaddr as u32)
}

/// The two peers and the wires between them.
struct Peers {
    max_open: u8,
    now: u64,
    // The writer.
    src: SrcAdverts<HostLists>,
    wsinks: WriterSinks<HostLists>,
    writer_heard: u32,
    /// The `mseq` of the writer's last data-bearing message (Data, SrcAvail).
    last_data: Option<u32>,
    /// The stream: produced up to `produced`, sent (as Data, adverts or WRITEs) up to
    /// `sent`; declined ranges to send again as Data, in order.
    produced: u64,
    sent: u64,
    resend: VecDeque<(u64, u32)>,
    /// SrcAvail adverts by id: where each starts in the stream; those registered.
    src_starts: Vec<u64>,
    src_valid: HashSet<u64>,
    /// The reader's adverts as the writer holds them, oldest first; WRITEs in flight.
    writer_sink_ids: VecDeque<u64>,
    writes: VecDeque<(u64, u32)>,
    // The reader.
    peer: PeerAdverts<HostLists>,
    rsinks: ReaderSinks<HostLists>,
    reader_heard: u32,
    delivered: u64,
    /// READs in flight: advert id, offset, len.
    reads: VecDeque<(u64, u32, u32)>,
    /// Its own adverts, oldest first: id, size, what was WRITTEN (offset, stream
    /// start, len); those registered.
    reader_open: VecDeque<(u64, u32, Vec<(u32, u64, u32)>)>,
    sink_valid: HashSet<u64>,
    next_sink_id: u64,
    to_reader: Wire<Msg>,
    to_writer: Wire<Msg>,
    /// The connection was reset (cancel timer, or a forgery detected).
    reset: bool,
    // What the schedule explored.
    crossings: u32,
    stale: u32,
    read_bytes: u64,
    written_bytes: u64,
    cancels: u32,
}

impl Peers {
    fn new(max_open: u8) -> Self {
        // Sequence numbers wrap within a run.
        let start = u32::MAX - 30;
        Self {
            max_open,
            now: 0,
            src: SrcAdverts::new(max_open, TIMEOUT_MS, CANCEL_MS),
            wsinks: WriterSinks::new(max_open),
            writer_heard: start,
            last_data: None,
            produced: 0,
            sent: 0,
            resend: VecDeque::new(),
            src_starts: vec![],
            src_valid: HashSet::new(),
            writer_sink_ids: VecDeque::new(),
            writes: VecDeque::new(),
            peer: PeerAdverts::new(max_open),
            rsinks: ReaderSinks::new(max_open),
            reader_heard: start,
            delivered: 0,
            reads: VecDeque::new(),
            reader_open: VecDeque::new(),
            sink_valid: HashSet::new(),
            next_sink_id: 0,
            to_reader: Wire::new(start),
            to_writer: Wire::new(start),
            reset: false,
            crossings: 0,
            stale: 0,
            read_bytes: 0,
            written_bytes: 0,
            cancels: 0,
        }
    }

    fn to_reader(&mut self, m: Msg) -> u32 {
        let message = !matches!(m, Msg::Write { .. });
        self.to_reader.send(m, self.writer_heard, message)
    }

    fn to_writer(&mut self, m: Msg) -> u32 {
        self.to_writer.send(m, self.reader_heard, true)
    }

    /// The writer's SrcAvail advert is over: its region is invalidated (no READ of it
    /// may be in flight), its unread rest goes again as Data.
    fn src_closed(&mut self, c: Closed) -> Result<(), TestCaseError> {
        prop_assert!(!self.reads.iter().any(|r| r.0 == c.id), "advert {} invalidated under a READ", c.id);
        prop_assert!(self.src_valid.remove(&c.id), "advert {} closed twice", c.id);
        if c.unread() > 0 {
            self.resend.push_back((self.src_starts[c.id as usize] + u64::from(c.read), c.unread()));
        }
        Ok(())
    }

    /// The reader's advert is over: its region is invalidated (no WRITE of it may be
    /// in flight, at the writer or on the wire).
    fn sink_closed(&mut self, id: u64) -> Result<(), TestCaseError> {
        let in_flight = self.to_reader.queue.iter().any(|(_, _, m)| matches!(m, Msg::Write { id: i, .. } if *i == id));
        prop_assert!(!in_flight, "advert {} invalidated under a WRITE", id);
        prop_assert!(self.sink_valid.remove(&id), "advert {} closed twice", id);
        Ok(())
    }

    fn writer_replies(&mut self) {
        let mut out = vec![];
        self.wsinks.replies(|r| out.push(r));
        for r in out {
            match r {
                WriterReply::WrCompl(n) => {
                    self.writer_sink_ids.pop_front();
                    self.to_reader(Msg::WrCompl(n));
                }
                WriterReply::CancelAck => {
                    self.writer_sink_ids.clear();
                    self.to_reader(Msg::CancelAck);
                }
            }
        }
    }

    fn reader_replies(&mut self) {
        let (heard, wire) = (self.reader_heard, &mut self.to_writer);
        self.peer.replies(|r| {
            let m = match r {
                Reply::RdCompl(n) => Msg::RdCompl(n),
                Reply::SendSm => Msg::SendSm,
            };
            wire.send(m, heard, true)
        });
    }

    fn apply(&mut self, s: Step) -> Result<(), TestCaseError> {
        if self.reset {
            return Ok(());
        }
        match s {
            Step::Produce(n) => self.produced += u64::from(n),
            Step::WriterSends(advert) => self.writer_sends(advert),
            Step::WriterWrites(max) => {
                // The stream's order: declined bytes go first, and nothing is WRITTEN
                // while a SrcAvail holds earlier bytes.
                if !self.resend.is_empty() || !self.src.may_send_data() {
                    return Ok(());
                }
                let want = u32::try_from(self.produced - self.sent).unwrap_or(u32::MAX).min(max);
                if let Some(w) = self.wsinks.next_write(want) {
                    let (id, offset) = split(w.vaddr);
                    prop_assert_eq!(Some(&id), self.writer_sink_ids.front());
                    let start = self.sent;
                    self.sent += u64::from(w.len);
                    self.writes.push_back((id, w.len));
                    self.to_reader(Msg::Write { id, offset, start, len: w.len });
                }
            }
            Step::WriteCompletes => {
                if let Some((_, n)) = self.writes.pop_front() {
                    self.wsinks.write_done(n);
                    self.writer_replies();
                }
            }
            Step::WriterCloses => {
                self.wsinks.close_oldest();
                self.writer_replies();
            }
            Step::WriterDeclines => {
                self.wsinks.decline();
                self.writer_replies();
            }
            Step::WriterReceives => {
                if let Some((mseq, ack, m)) = self.to_writer.queue.pop_front() {
                    self.writer_heard = mseq;
                    self.writer_takes(ack, m)?;
                    self.writer_replies();
                }
            }
            Step::ReaderReceives => {
                if let Some((mseq, ack, m)) = self.to_reader.queue.pop_front() {
                    if !matches!(m, Msg::Write { .. }) {
                        self.reader_heard = mseq;
                    }
                    self.reader_takes(ack, m)?;
                    self.reader_replies();
                }
            }
            Step::ReaderReads(max) => {
                if let Some(r) = self.peer.next_read(max) {
                    let (id, offset) = split(r.vaddr);
                    self.reads.push_back((id, offset, r.len));
                }
            }
            Step::ReadCompletes => {
                if let Some((id, offset, len)) = self.reads.pop_front() {
                    prop_assert!(self.src_valid.contains(&id), "a READ of invalidated advert {}", id);
                    prop_assert_eq!(self.src_starts[id as usize] + u64::from(offset), self.delivered, "READ out of order");
                    self.delivered += u64::from(len);
                    self.read_bytes += u64::from(len);
                    if let Some(Reply::RdCompl(n)) = self.peer.read_done(len) {
                        self.to_writer(Msg::RdCompl(n));
                    }
                    self.reader_replies();
                }
            }
            Step::ReaderDeclines => {
                self.peer.decline();
                self.reader_replies();
            }
            Step::ReaderAdvertises(len) => {
                // A reader with nothing of the writer's open before its buffer.
                if self.rsinks.may_advertise() && !self.peer.any_open() {
                    let id = self.next_sink_id;
                    self.next_sink_id += 1;
                    let mseq = self.to_writer(Msg::SinkAvail { id, len });
                    self.rsinks.advertised(mseq, len).unwrap();
                    self.reader_open.push_back((id, len, vec![]));
                    self.sink_valid.insert(id);
                }
            }
            Step::ReaderCancels => {
                if self.rsinks.cancel() {
                    self.to_writer(Msg::SinkCancel);
                }
            }
            Step::Tick(ms) => {
                self.now += ms;
                match self.src.tick(self.now) {
                    Due::Nothing => {}
                    Due::Cancel => {
                        self.src.cancel(self.now);
                        self.cancels += 1;
                        self.to_reader(Msg::SrcCancel);
                    }
                    Due::Reset => self.reset = true,
                }
            }
            Step::Forge(f) => self.forge(f)?,
        }
        prop_assert!(self.delivered <= self.sent);
        Ok(())
    }

    fn writer_sends(&mut self, advert: bool) {
        // Nothing data-bearing while one of the reader's adverts is open here: the
        // writer closes those first (WriterDeclines).
        if !self.wsinks.may_send_data() {
            return;
        }
        if self.src.may_send_data() {
            if let Some((start, len)) = self.resend.pop_front() {
                let mseq = self.to_reader(Msg::Data { start, len });
                self.last_data = Some(mseq);
                return;
            }
        }
        if self.sent == self.produced || !self.resend.is_empty() {
            return;
        }
        let len = u32::try_from(self.produced - self.sent).unwrap_or(u32::MAX).min(1 << 20);
        let start = self.sent;
        if advert && self.src.has_room() {
            let id = self.src_starts.len() as u64;
            self.src.post(id, self.to_reader.mseq.wrapping_add(1), len, self.now).unwrap();
            self.src_starts.push(start);
            self.src_valid.insert(id);
            self.last_data = Some(self.to_reader(Msg::SrcAvail { id, len }));
        } else if self.src.may_send_data() {
            self.last_data = Some(self.to_reader(Msg::Data { start, len: len.min(32_000) }));
            self.sent += u64::from(len.min(32_000));
            return;
        } else {
            return;
        }
        self.sent += u64::from(len);
    }

    fn writer_takes(&mut self, ack: u32, m: Msg) -> Result<(), TestCaseError> {
        match m {
            Msg::SinkAvail { id, len } => {
                // Forgotten once the reader acknowledged it (sequence numbers wrap).
                if self.last_data.is_some_and(|d| ack.wrapping_sub(d) as i32 >= 0) {
                    self.last_data = None;
                }
                let f = self.wsinks.on_sink_avail(ack, ah(id, len), self.last_data);
                prop_assert!(f.is_ok(), "writer: {:?}", f);
                self.stale += u32::from(f == Ok(Freshness::Stale));
                self.writer_sink_ids.push_back(id);
            }
            Msg::SinkCancel => self.wsinks.on_cancel(),
            Msg::RdCompl(n) => {
                let c = self.src.on_rd_compl(n, ack, self.now);
                prop_assert!(c.is_ok(), "writer: {:?}", c);
                if let Ok(Some(c)) = c {
                    self.src_closed(c)?;
                }
            }
            Msg::SendSm => {
                let mut closed = vec![];
                self.src.on_send_sm(|c| closed.push(c));
                for c in closed {
                    self.src_closed(c)?;
                }
            }
            other => prop_assert!(false, "writer got {:?}", other),
        }
        Ok(())
    }

    fn reader_takes(&mut self, ack: u32, m: Msg) -> Result<(), TestCaseError> {
        let data_bearing = matches!(m, Msg::Data { .. } | Msg::SrcAvail { .. });
        if !matches!(m, Msg::Write { .. }) {
            let v = self.rsinks.on_peer_msg(ack, data_bearing);
            prop_assert!(v.is_ok(), "reader: {:?} on {:?}", v, m);
        }
        match m {
            Msg::Data { start, len } => {
                let v = self.peer.check_data();
                prop_assert!(v.is_ok(), "reader: {:?}", v);
                prop_assert_eq!(start, self.delivered, "Data out of order");
                self.delivered += u64::from(len);
            }
            Msg::SrcAvail { id, len } => {
                self.crossings += u32::from(self.rsinks.any_open());
                let v = self.peer.on_src_avail(ack, ah(id, len), 0);
                prop_assert!(matches!(v, Ok(OnSrcAvail::Accept | OnSrcAvail::Discard)), "reader: {:?}", v);
            }
            Msg::Write { id, offset, start, len } => {
                // Only into an open, registered advert, within it, after what came before.
                prop_assert!(self.sink_valid.contains(&id), "a WRITE into invalidated advert {}", id);
                let open = self.reader_open.iter_mut().find(|(i, ..)| *i == id);
                prop_assert!(open.is_some(), "a WRITE into a closed advert");
                let (_, size, written) = open.unwrap();
                prop_assert_eq!(offset, written.iter().map(|w| w.2).sum::<u32>());
                prop_assert!(offset + len <= *size);
                written.push((offset, start, len));
            }
            Msg::WrCompl(n) => {
                let v = self.rsinks.on_wr_compl(n);
                prop_assert!(v.is_ok(), "reader: {:?}", v);
                let (id, _, written) = self.reader_open.pop_front().unwrap();
                prop_assert_eq!(written.iter().map(|w| w.2).sum::<u32>(), n);
                for (_, start, len) in written {
                    prop_assert_eq!(start, self.delivered, "WRITE out of order");
                    self.delivered += u64::from(len);
                    self.written_bytes += u64::from(len);
                }
                self.sink_closed(id)?;
            }
            Msg::CancelAck => {
                let closed = self.rsinks.on_cancel_ack();
                prop_assert_eq!(closed, Ok(self.reader_open.len()));
                while let Some((id, _, written)) = self.reader_open.pop_front() {
                    prop_assert!(written.is_empty(), "a cancelled advert held bytes");
                    self.sink_closed(id)?;
                }
            }
            Msg::SrcCancel => self.peer.on_cancel(),
            other => prop_assert!(false, "reader got {:?}", other),
        }
        Ok(())
    }

    /// A hostile peer's forged reply, where one is possible: the side that receives it
    /// must see a violation. The connection is then reset.
    fn forge(&mut self, f: Forgery) -> Result<(), TestCaseError> {
        let caught = match f {
            Forgery::RdComplTooLong => {
                // With the acknowledgement an honest reader would send: what it heard.
                let n = u32::try_from(self.src.unread() + 1).unwrap_or(u32::MAX);
                self.src.on_rd_compl(n, self.reader_heard, self.now).is_err()
            }
            Forgery::WrComplTooLong => self.rsinks.on_wr_compl(u32::MAX).is_err(),
            Forgery::DataWhileOpen if self.peer.any_open() => self.peer.check_data().is_err(),
            // Data that claims to have seen every advert of the reader's.
            Forgery::DataWhileOpen if self.rsinks.any_open() => self.rsinks.on_peer_msg(self.to_writer.mseq, true).is_err(),
            Forgery::DataWhileOpen => return Ok(()),
            Forgery::TooManySinks => {
                let mut refused = false;
                for i in 0..=self.max_open {
                    let ack = self.to_reader.mseq;
                    if self.wsinks.on_sink_avail(ack, ah(1000 + u64::from(i), 1), None).is_err() {
                        refused = true;
                        break;
                    }
                }
                refused
            }
        };
        prop_assert!(caught, "forgery {:?} went unnoticed", f);
        self.reset = true;
        Ok(())
    }

    /// A connection of `max_open` adverts each way through `steps`, then `finish`.
    fn run(max_open: u8, steps: Vec<Step>) -> Result<Self, TestCaseError> {
        let mut p = Self::new(max_open);
        for s in steps {
            p.apply(s)?;
        }
        p.finish()?;
        Ok(p)
    }

    fn quiet(&self) -> bool {
        self.delivered == self.produced
            && self.to_reader.queue.is_empty()
            && self.to_writer.queue.is_empty()
            && self.reads.is_empty()
            && self.writes.is_empty()
            && self.src.may_send_data()
            && self.wsinks.may_send_data()
            && !self.peer.any_open()
            && !self.rsinks.any_open()
    }

    /// Both sides go on until nothing moves: the reader READs and receives, the writer
    /// sends its bytes and declines the reader's adverts, and the clock runs.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        let rounds = [
            Step::ReaderReceives,
            Step::ReaderReads(u32::MAX),
            Step::ReadCompletes,
            Step::WriteCompletes,
            Step::WriterDeclines,
            Step::WriterReceives,
            Step::WriterSends(false),
            Step::Tick(10),
        ];
        for _ in 0..100_000 {
            if self.reset || self.quiet() {
                break;
            }
            for s in rounds.iter().cloned() {
                self.apply(s)?;
            }
        }
        prop_assert!(self.reset || self.quiet(), "stuck: {} of {} delivered", self.delivered, self.produced);
        prop_assert!(self.reset || (self.src_valid.is_empty() && self.sink_valid.is_empty()), "regions left registered");
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// Honest peers: no violation, no region invalidated under an operation, and
    /// without a reset every byte arrives once, in order, with every advert closed.
    #[test]
    fn honest_peers_deliver_the_stream(steps in proptest::collection::vec(honest_step(), 1..400), max_open in 1u8..5) {
        let p = Peers::run(max_open, steps)?;
        if !p.reset {
            prop_assert_eq!(p.delivered, p.produced);
        }
    }

    /// A hostile peer's forged reply is caught in whatever state the connection is.
    #[test]
    fn forgeries_are_caught(steps in proptest::collection::vec(hostile_step(), 1..400), max_open in 1u8..5) {
        Peers::run(max_open, steps)?;
    }
}

#[test]
fn the_model_explores_crossings_cancels_and_both_directions_of_rdma() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut runs, mut crossed, mut stale, mut read, mut written, mut cancelled, mut resets) = (0, 0, 0, 0, 0, 0, 0);
    for _ in 0..300 {
        let steps = proptest::collection::vec(honest_step(), 50..400).new_tree(&mut runner).unwrap().current();
        let p = Peers::run(2, steps).unwrap();
        runs += 1;
        crossed += u32::from(p.crossings > 0);
        stale += u32::from(p.stale > 0);
        read += u32::from(p.read_bytes > 0);
        written += u32::from(p.written_bytes > 0);
        cancelled += u32::from(p.cancels > 0);
        resets += u32::from(p.reset);
    }
    eprintln!(
        "{runs} runs: {crossed} crossed, {stale} stale SinkAvail, {read} READ, {written} WRITTEN, \
         {cancelled} cancelled by the clock, {resets} reset"
    );
    assert!(crossed * 100 >= runs, "crossings in {crossed} of {runs}");
    assert!(read * 2 >= runs && written * 4 >= runs, "READ in {read}, WRITTEN in {written} of {runs}");
    assert!(cancelled * 20 >= runs, "clock cancels in {cancelled} of {runs}");
    // Only the cancel timer resets an honest connection, and only when the reader
    // stalls for longer than it: rarely.
    assert!(resets * 20 < runs, "resets in {resets} of {runs}");
}
