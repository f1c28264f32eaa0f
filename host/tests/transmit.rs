// SPDX-License-Identifier: GPL-2.0
//! Posting on a stream against a simulated peer that checks flow control as our own
//! receive path does: every byte arrives once and in order, no message goes beyond
//! the peer's grant or its buffer, Nagle holds small pieces only while sends are in
//! flight, and the DisConn comes after the data; and a send buffer that cannot be had
//! (no memory) loses nothing: what is owed waits for the retry the stream asks for.

use infinisock_proto::{
    credits::Credits,
    errno::{Errno, EAGAIN, EFAULT, ENOMEM},
    stream::Stream,
    transmit::{PostFailed, SendSlots, WriteRound},
    wire::{decode_message, Bsdh, Message, Mid, BSDH_LEN, FLAG_OOB_PEND, FLAG_OOB_PRES},
};
use proptest::prelude::*;

mod common;
use common::Capped;
use std::collections::VecDeque;

/// The device's send ring: `slots` buffers, posted in order, completed in order.
struct Ring {
    bufs: Vec<Vec<u8>>,
    next: usize,
    outstanding: usize,
    /// Everything posted, in order, not yet taken by the peer.
    wire: VecDeque<Vec<u8>>,
    /// Posting fails from now on (a broken QP).
    broken: bool,
    /// Memory for send buffers is there; without it only messages that fit inline
    /// (`inline` bytes) can be had, as the module's queue pair gives them.
    memory: bool,
    inline: usize,
}

impl Ring {
    fn new(slots: usize, buffer_size: usize) -> Self {
        Ring {
            bufs: vec![vec![0; buffer_size]; slots],
            next: 0,
            outstanding: 0,
            wire: VecDeque::new(),
            broken: false,
            memory: true,
            inline: BSDH_LEN,
        }
    }
}

impl SendSlots for Ring {
    fn free(&self) -> usize {
        self.bufs.len() - self.outstanding
    }
    fn buffer_size(&self) -> usize {
        self.bufs[0].len()
    }
    fn next(&mut self, len: usize) -> Result<&mut [u8], Errno> {
        assert!(self.outstanding < self.bufs.len(), "a slot in use was handed out");
        assert!(len <= self.buffer_size(), "a buffer larger than a message was asked for");
        if !self.memory && len > self.inline {
            return Err(ENOMEM);
        }
        Ok(&mut self.bufs[self.next][..len])
    }
    fn post(&mut self, len: usize) -> Result<(), Errno> {
        if self.broken {
            return Err(Errno(5));
        }
        self.wire.push_back(self.bufs[self.next][..len].to_vec());
        self.next = (self.next + 1) % self.bufs.len();
        self.outstanding += 1;
        Ok(())
    }
}

const OUR_RING: u16 = 8;

/// Both ends of a connection: our stream and send ring, and the peer's credits and
/// what it received.
struct Pair {
    us: Stream<Vec<u32>, Vec<u8>>,
    ring: Ring,
    peer: Credits,
    peer_ring: u16,
    /// Messages the peer received and its program has not read.
    peer_unread: usize,
    received: Vec<u8>,
    disconn: bool,
}

impl Pair {
    fn new(peer_ring: u16, slots: usize, buffer_size: usize) -> Self {
        let mut us = Stream::new(vec![0; slots], buffer_size - BSDH_LEN);
        us.credits = Some(Credits::new(peer_ring, OUR_RING).unwrap());
        us.peer_msg_size = buffer_size;
        Pair {
            us,
            ring: Ring::new(slots, buffer_size),
            peer: Credits::new(OUR_RING, peer_ring).unwrap(),
            peer_ring,
            peer_unread: 0,
            received: Vec::new(),
            disconn: false,
        }
    }

    /// The peer takes what was posted, checking each message as our receive path does.
    fn deliver(&mut self) {
        while let Some(m) = self.ring.wire.pop_front() {
            assert!(m.len() <= self.ring.buffer_size());
            let (h, msg) = decode_message(&m).expect("a well-formed message");
            self.peer.receive(&h).expect("flow control kept");
            assert!(!self.disconn, "nothing after the DisConn");
            match msg {
                Message::Data(p) if p.is_empty() => self.peer.reposted(1),
                Message::Data(p) => {
                    self.received.extend_from_slice(p);
                    self.peer_unread += 1;
                }
                Message::DisConn => {
                    self.disconn = true;
                    self.peer.reposted(1);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The device completes `n` of our sends; what became due goes out (only when
    /// one completed: the module hears of nothing else).
    fn complete(&mut self, n: usize) {
        let n = n.min(self.ring.outstanding);
        for _ in 0..n {
            self.ring.outstanding -= 1;
            self.us.tx.completed();
            self.us.progress(&mut self.ring, usize::from(OUR_RING)).unwrap();
        }
    }

    /// The module's memory timer, which runs while the stream says something found
    /// no memory.
    fn memory_retry(&mut self) {
        if self.us.memory_short {
            self.us.memory_short = false;
            self.us.progress(&mut self.ring, usize::from(OUR_RING)).unwrap();
        }
    }

    /// The peer's program reads `n` messages; the peer sends a credit update when due.
    fn peer_reads(&mut self, n: usize) {
        let n = n.min(self.peer_unread);
        self.peer_unread -= n;
        self.peer.reposted(n as u32);
        let threshold = (u32::from(self.peer_ring) / 2).max(2);
        if self.peer.update_due(threshold) {
            if let Ok(out) = self.peer.send_control() {
                let h = Bsdh { mid: Mid::Data, flags: 0, bufs: out.bufs, len: BSDH_LEN as u32, mseq: out.mseq, mseq_ack: out.mseq_ack };
                let credits = self.us.credits.as_mut().unwrap();
                credits.receive(&h).expect("the peer keeps flow control");
                credits.reposted(1);
                self.us.progress(&mut self.ring, usize::from(OUR_RING)).unwrap();
            }
        }
    }

    /// A non-blocking `sendmsg` of `data`: rounds until one blocks. Returns what it took.
    fn write(&mut self, data: &[u8], nodelay: bool) -> usize {
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            let round = self.us.write_round(&mut self.ring, rest.len(), nodelay, true, false, |buf| {
                let n = buf.len().min(rest.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            });
            match round.unwrap() {
                WriteRound::Wrote(n) => {
                    assert!(n > 0);
                    sent += n;
                }
                WriteRound::Blocked => break,
                WriteRound::NoMemory => {
                    assert!(self.us.memory_short, "a write without memory leaves the retry asked for");
                    break;
                }
                WriteRound::Fault => panic!("no fault here"),
            }
        }
        sent
    }
}

#[derive(Clone, Debug)]
enum Step {
    Write(usize, bool),
    Complete(usize),
    Deliver,
    PeerReads(usize),
    Memory(bool),
    MemoryRetry,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1usize..3000, any::<bool>()).prop_map(|(n, d)| Step::Write(n, d)),
        3 => (1usize..4).prop_map(Step::Complete),
        3 => Just(Step::Deliver),
        2 => (1usize..6).prop_map(Step::PeerReads),
        1 => any::<bool>().prop_map(Step::Memory),
        1 => Just(Step::MemoryRetry),
    ]
}

proptest! {
    /// Whatever the interleaving of writes, completions and the peer's reads: the
    /// peer's flow-control checks never fire, it receives exactly the bytes written,
    /// in order, and after a close (once everything drained) a DisConn as the last
    /// message. Memory for send buffers comes and goes: what found none is sent by
    /// the retry the stream asked for, once memory is back.
    #[test]
    fn the_peer_receives_every_byte_once_in_order_within_its_grant(
        steps in proptest::collection::vec(step(), 1..120),
        peer_ring in 3u16..10,
        slots in 1usize..6,
        buffer_size in (BSDH_LEN + 1)..600,
        control_inline in any::<bool>(),
    ) {
        let mut p = Pair::new(peer_ring, slots, buffer_size);
        // A device without inline room: control messages need memory too.
        p.ring.inline = if control_inline { BSDH_LEN } else { 0 };
        let mut written = Vec::new();
        let mut counter = 0u8;
        for s in steps {
            match s {
                Step::Write(n, nodelay) => {
                    let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                    let took = p.write(&data, nodelay);
                    written.extend_from_slice(&data[..took]);
                    counter = counter.wrapping_sub((n - took) as u8);
                }
                Step::Complete(n) => p.complete(n),
                Step::Deliver => p.deliver(),
                Step::PeerReads(n) => p.peer_reads(n),
                Step::Memory(on) => p.ring.memory = on,
                Step::MemoryRetry => p.memory_retry(),
            }
            prop_assert!(p.us.staged_len < buffer_size);
        }
        // Close: the DisConn is owed, then everything drains, memory back.
        p.us.fin_pending = true;
        p.us.flush_fin(&mut p.ring).unwrap();
        p.ring.memory = true;
        for _ in 0..10_000 {
            if p.us.fin_sent && p.ring.outstanding == 0 && p.ring.wire.is_empty() {
                break;
            }
            p.memory_retry();
            p.deliver();
            p.complete(usize::MAX);
            p.peer_reads(usize::MAX);
        }
        p.deliver();
        prop_assert!(p.us.fin_sent, "the DisConn went out");
        prop_assert!(p.disconn);
        prop_assert_eq!(p.us.staged_len, 0);
        prop_assert_eq!(p.received, written);
    }
}

#[test]
fn nagle_holds_a_small_piece_only_while_a_send_is_in_flight() {
    let mut p = Pair::new(8, 4, 256);
    assert_eq!(p.write(&[1; 10], false), 10);
    assert_eq!(p.ring.wire.len(), 1, "nothing in flight: it goes at once");
    assert_eq!(p.write(&[2; 10], false), 10);
    assert_eq!(p.ring.wire.len(), 1, "staged behind the send in flight");
    assert_eq!(p.us.staged_len, 10);
    assert_eq!(p.write(&[3; 10], true), 10);
    assert_eq!(p.ring.wire.len(), 3, "TCP_NODELAY: the staged bytes, then the new ones");
    p.complete(3);
    p.deliver();
    assert_eq!(p.received, [[1u8; 10], [2; 10], [3; 10]].concat());
}

#[test]
fn staged_bytes_go_when_the_sends_complete_or_a_message_is_full() {
    let mut p = Pair::new(8, 4, 64);
    let max = 64 - BSDH_LEN;
    p.write(&[0; 5], false);
    p.write(&vec![1; max - 1], false);
    assert_eq!(p.us.staged_len, max - 1);
    p.write(&[2; 3], false);
    // A message's worth went; the rest waits.
    assert_eq!(p.ring.wire.len(), 2);
    assert_eq!(p.us.staged_len, 2);
    p.complete(2);
    assert_eq!(p.ring.wire.len(), 3, "the last completion sent the rest");
    assert_eq!(p.us.staged_len, 0);
}

#[test]
fn without_a_data_credit_a_write_blocks_and_the_reserve_stays_for_control() {
    let mut p = Pair::new(3, 8, 64);
    let max = 64 - BSDH_LEN;
    // Two data credits of three: the third is the control reserve. A message's worth
    // waits for a credit; less than that waits in the staging buffer (TCP_NODELAY or
    // not), up to a message.
    assert_eq!(p.write(&vec![7; 5 * max], true), 2 * max);
    assert_eq!(p.us.write_round(&mut p.ring, max, true, true, false, |_| 1), Ok(WriteRound::Blocked));
    assert_eq!(p.write(&vec![7; max - 1], true), max - 1);
    assert_eq!(p.us.write_round(&mut p.ring, 1, true, true, false, |b| b.len()), Ok(WriteRound::Wrote(1)));
    assert_eq!(p.us.staged_len, max);
    assert_eq!(p.us.write_round(&mut p.ring, 1, true, true, false, |_| 1), Ok(WriteRound::Blocked), "staging full");
    p.us.fin_pending = true;
    p.us.flush_fin(&mut p.ring).unwrap();
    assert!(!p.us.fin_sent, "the DisConn goes after the staged bytes");
    p.deliver();
    assert_eq!(p.received.len(), 2 * max);
    // The peer reads: its credit update lets the staged bytes, then the DisConn, go.
    p.complete(usize::MAX);
    p.peer_reads(usize::MAX);
    p.deliver();
    p.complete(usize::MAX);
    p.deliver();
    assert_eq!(p.received.len(), 3 * max);
    assert!(p.us.fin_sent && p.disconn);
}

#[test]
fn a_program_that_writes_small_pieces_before_it_reads_is_not_held_by_the_window() {
    // The peer grants 4 buffers (3 for data): ten small writes with TCP_NODELAY, the
    // peer not reading, all return; what did not fit in a message waits staged.
    let mut p = Pair::new(4, 16, 256);
    for i in 0..10u8 {
        assert_eq!(p.write(&[i; 10], true), 10, "write {i}");
        p.deliver();
        p.complete(usize::MAX);
    }
    assert_eq!(p.received.len() + p.us.staged_len, 100);
    p.peer_reads(usize::MAX);
    p.deliver();
    p.complete(usize::MAX);
    p.deliver();
    assert_eq!(p.received.len(), 100);
}

#[test]
fn a_copy_that_finds_no_byte_posts_nothing_and_a_broken_ring_is_reported() {
    let mut p = Pair::new(8, 4, 64);
    assert_eq!(p.us.write_round(&mut p.ring, 100, true, true, false, |_| 0), Ok(WriteRound::Fault));
    assert_eq!(p.us.write_round(&mut p.ring, 10, false, true, false, |_| 0), Ok(WriteRound::Fault));
    assert!(p.ring.wire.is_empty());
    assert_eq!(p.us.staged_len, 0);
    p.ring.broken = true;
    assert_eq!(p.us.write_round(&mut p.ring, 10, true, true, false, |b| b.len().min(10)), Err(PostFailed(Errno(5))));
    let r: Result<usize, Errno> = p.us.send(&mut p.ring, Mid::Data, 0, false, 1, |_| Err(EFAULT));
    assert_eq!(r, Err(EFAULT));
}

#[test]
fn no_slot_no_send() {
    let mut p = Pair::new(8, 1, 64);
    p.write(&[1; 10], true);
    let r: Result<usize, Errno> = p.us.send(&mut p.ring, Mid::Data, 0, true, 0, |_| Ok(0));
    assert_eq!(r, Err(EAGAIN));
    p.complete(1);
    p.us.abort(&mut p.ring);
    assert_eq!(p.ring.wire.len(), 2);
    assert_eq!(decode_message(&p.ring.wire[1]).unwrap().0.mid, Mid::Abort);
}

#[test]
fn a_stream_that_never_waits_for_nagle_allocates_no_staging_buffer() {
    let mut p = Pair::new(8, 4, 32 * 1024);
    // Nothing in flight each time, or TCP_NODELAY: every write goes at once.
    for _ in 0..3 {
        assert_eq!(p.write(&[1; 100], false), 100);
        p.complete(1);
    }
    assert_eq!(p.write(&[2; 100], true), 100);
    assert_eq!(p.write(&[3; 100], true), 100);
    assert_eq!(p.us.staging_allocated(), 0);
    p.complete(2);
    p.deliver();
    assert_eq!(p.received.len(), 500);
}

#[test]
fn the_staging_buffer_grows_with_what_is_staged_up_to_a_message() {
    let buffer_size = 32 * 1024;
    let max = buffer_size - BSDH_LEN;
    let mut p = Pair::new(8, 4, buffer_size);
    p.write(&[0; 10], false);
    p.write(&[1; 10], false);
    let first = p.us.staging_allocated();
    assert!(first >= 10 && first <= 1024, "a small start: {first}");
    let mut sent = 20;
    for i in 0..200u32 {
        sent += p.write(&[i as u8; 100], false);
    }
    assert!(p.us.staging_allocated() <= max);
    assert!(p.us.staging_allocated() >= p.us.staged_len);
    p.complete(usize::MAX);
    p.deliver();
    assert_eq!(p.received.len(), sent);
}

#[test]
fn without_memory_for_the_staging_buffer_small_writes_go_at_once() {
    let (slots, buffer_size) = (4, 1024);
    let mut us: Stream<Vec<u32>, Capped<u8, 0>> = Stream::new(vec![0; slots], buffer_size - BSDH_LEN);
    us.credits = Some(Credits::new(8, OUR_RING).unwrap());
    us.peer_msg_size = buffer_size;
    let mut ring = Ring::new(slots, buffer_size);
    let write = |us: &mut Stream<Vec<u32>, Capped<u8, 0>>, ring: &mut Ring, byte: u8| {
        us.write_round(ring, 10, false, true, false, |buf| {
            let n = buf.len().min(10);
            buf[..n].fill(byte);
            n
        })
    };
    assert_eq!(write(&mut us, &mut ring, 1), Ok(WriteRound::Wrote(10)));
    // A send is in flight: Nagle would stage this, but there is no memory to.
    assert_eq!(write(&mut us, &mut ring, 2), Ok(WriteRound::Wrote(10)));
    assert_eq!(us.staged_len, 0);
    assert_eq!(ring.wire.len(), 2, "sent at once instead");
    assert_eq!(ring.wire[1][BSDH_LEN..], [2; 10]);
}

/// `send(MSG_OOB)`: the bytes before the last go as data (Nagle may stage them), and
/// the last goes alone in a message flagged urgent, after them, at once.
#[test]
fn an_urgent_send_ends_with_its_byte_alone_and_flagged() {
    let mut p = Pair::new(8, 8, 64);
    // A send in flight, so that Nagle stages the small piece.
    assert_eq!(p.write(b"x", false), 1);
    let data = b"abc!";
    let mut sent = 0;
    while sent < data.len() {
        let rest = &data[sent..];
        match p.us.write_round(&mut p.ring, rest.len(), false, true, true, |buf| {
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            n
        }) {
            Ok(WriteRound::Wrote(n)) => sent += n,
            other => panic!("{other:?}"),
        }
    }
    let urgent: Vec<(u8, Vec<u8>)> = p
        .ring
        .wire
        .iter()
        .map(|m| {
            let (h, msg) = decode_message(m).unwrap();
            let Message::Data(payload) = msg else { panic!("data only") };
            (h.flags, payload.to_vec())
        })
        .collect();
    // "x", then the staged "abc" flushed before the urgent byte, then "!" flagged.
    assert_eq!(
        urgent,
        vec![(0, b"x".to_vec()), (0, b"abc".to_vec()), (FLAG_OOB_PRES | FLAG_OOB_PEND, b"!".to_vec())]
    );
    p.deliver();
    assert_eq!(p.received, b"xabc!");
}

#[test]
fn while_our_adverts_are_open_no_data_nor_disconn_goes() {
    let mut p = Pair::new(8, 8, 64);
    p.write(&[1; 5], false);
    p.write(&[2; 5], false);
    assert_eq!(p.us.staged_len, 5, "staged behind the send in flight");
    // A zero-copy advert opens (the source sent its SrcAvail): rule (a).
    p.us.data_held = true;
    assert_eq!(p.us.write_round(&mut p.ring, 10, true, true, false, |b| b.len()), Ok(WriteRound::Blocked));
    assert_eq!(p.us.write_round(&mut p.ring, 1, true, true, true, |b| b.len()), Ok(WriteRound::Blocked), "urgent too");
    p.us.fin_pending = true;
    p.complete(usize::MAX);
    p.us.flush_fin(&mut p.ring).unwrap();
    assert_eq!(p.ring.wire.len(), 1, "the staged bytes and the DisConn wait");
    assert!(!p.us.fin_sent);
    // Closed: they go, in order.
    p.us.data_held = false;
    p.us.flush_fin(&mut p.ring).unwrap();
    p.deliver();
    assert_eq!(p.received, [[1u8; 5], [2; 5]].concat());
    assert!(p.us.fin_sent && p.disconn);
}
