// SPDX-License-Identifier: GPL-2.0

//! Credit-based flow control, checked against a model of two peers and their receive
//! rings: no message ever arrives without a posted buffer, and the stream never
//! deadlocks on credits.

use infinisock_proto::credits::*;
use infinisock_proto::wire::{Bsdh, Mid};
use proptest::prelude::*;
use std::collections::VecDeque;

/// One side of a connection: its credits, its receive ring, and what it has to send.
struct Peer {
    credits: Credits,
    /// Messages received and not yet consumed by the application (each holds a buffer).
    unconsumed: u32,
    to_send: u32,
    received_data: u32,
}

/// A data message (one payload byte) or, without payload, a credit update.
fn header(data: bool, o: Outgoing) -> Bsdh {
    Bsdh { mid: Mid::Data, flags: 0, bufs: o.bufs, len: 16 + u32::from(data), mseq: o.mseq, mseq_ack: o.mseq_ack }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Side sends data if it has credit.
    Send(usize),
    /// Side sends data without a header (an RDMA WRITE with immediate) if it has credit.
    SendHeaderless(usize),
    /// Side's application consumes a message and the buffer is posted again.
    Consume(usize),
    /// The wire delivers the oldest message towards side.
    Deliver(usize),
    /// Side sends a credit update if one is due.
    Update(usize),
}

fn step() -> impl Strategy<Value = Step> {
    (0usize..5, 0usize..2).prop_map(|(k, side)| match k {
        0 => Step::Send(side),
        1 => Step::Consume(side),
        2 => Step::Deliver(side),
        3 => Step::SendHeaderless(side),
        _ => Step::Update(side),
    })
}

struct World {
    peers: [Peer; 2],
    /// In-order wires: wires[i] carries messages towards peer i (no header: an RDMA
    /// WRITE with immediate).
    wires: [VecDeque<(Option<Bsdh>, bool)>; 2],
}

impl World {
    fn new(ring: [u16; 2], data: u32) -> Self {
        let peer = |me: usize| Peer {
            credits: Credits::new(ring[1 - me], ring[me]).unwrap(),
            unconsumed: 0,
            to_send: data,
            received_data: 0,
        };
        Self { peers: [peer(0), peer(1)], wires: [VecDeque::new(), VecDeque::new()] }
    }

    fn apply(&mut self, s: Step) -> Result<(), CreditError> {
        match s {
            Step::Send(i) => {
                if self.peers[i].to_send > 0 {
                    if let Ok(o) = self.peers[i].credits.send_data() {
                        self.peers[i].to_send -= 1;
                        self.wires[1 - i].push_back((Some(header(true, o)), true));
                    }
                }
            }
            Step::SendHeaderless(i) => {
                if self.peers[i].to_send > 0 && self.peers[i].credits.send_headerless().is_ok() {
                    self.peers[i].to_send -= 1;
                    self.wires[1 - i].push_back((None, true));
                }
            }
            Step::Consume(i) => {
                if self.peers[i].unconsumed > 0 {
                    self.peers[i].unconsumed -= 1;
                    self.peers[i].credits.reposted(1);
                }
            }
            Step::Deliver(i) => {
                if let Some((h, is_data)) = self.wires[i].pop_front() {
                    match h {
                        Some(h) => self.peers[i].credits.receive(&h)?,
                        None => self.peers[i].credits.receive_headerless()?,
                    }
                    // Data and credit updates alike fill one receive buffer.
                    self.peers[i].unconsumed += 1;
                    self.peers[i].received_data += u32::from(is_data);
                }
            }
            Step::Update(i) => {
                if self.peers[i].credits.update_due(2) {
                    if let Ok(o) = self.peers[i].credits.send_control() {
                        self.wires[1 - i].push_back((Some(header(false, o)), false));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs everything to completion with a fair schedule; returns whether all data
    /// arrived.
    fn drain(&mut self) -> Result<bool, CreditError> {
        for _ in 0..10_000 {
            for i in 0..2 {
                for s in [Step::Send(i), Step::Deliver(i), Step::Consume(i), Step::Update(i)] {
                    self.apply(s)?;
                }
            }
            if self.peers.iter().all(|p| p.to_send == 0) && self.wires.iter().all(|w| w.is_empty()) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

proptest! {
    /// Whatever the interleaving, no message arrives without a posted buffer or out of
    /// sequence; afterwards a fair schedule delivers everything (no credit deadlock).
    #[test]
    fn never_overruns_never_deadlocks(
        ring in (MIN_RING..8, MIN_RING..8),
        data in 0u32..40,
        steps in prop::collection::vec(step(), 0..400),
    ) {
        let mut w = World::new([ring.0, ring.1], data);
        for s in steps {
            prop_assert_eq!(w.apply(s), Ok(()));
        }
        prop_assert_eq!(w.drain(), Ok(true));
        prop_assert_eq!(w.peers[0].received_data, data);
        prop_assert_eq!(w.peers[1].received_data, data);
    }
}

#[test]
fn data_keeps_the_control_reserve() {
    let mut c = Credits::new(3, 4).unwrap();
    assert_eq!(c.available(), 3);
    assert!(c.send_data().is_ok());
    assert!(c.send_data().is_ok());
    assert_eq!(c.send_data(), Err(NoCredit));
    assert!(c.send_control().is_ok());
    assert_eq!(c.send_control(), Err(NoCredit));
}

#[test]
fn hostile_headers_are_rejected_without_changing_state() {
    let mut c = Credits::new(4, 3).unwrap();
    let h = |mseq, ack| Bsdh { mid: Mid::Data, flags: 0, bufs: 4, len: 17, mseq, mseq_ack: ack };
    let before = c.clone();
    assert_eq!(c.receive(&h(2, 0)), Err(CreditError::OutOfSequence { expected: 1, got: 2 }));
    // Acknowledges message 5, which was never sent.
    assert_eq!(c.receive(&h(1, 5)), Err(CreditError::BadAck { ack: 5 }));
    assert_eq!(c, before);
    for mseq in 1..=3 {
        assert_eq!(c.receive(&h(mseq, 0)), Ok(()));
    }
    // All three posted buffers are full: a fourth message had no credit.
    assert_eq!(c.receive(&h(4, 0)), Err(CreditError::NoBufferPosted));
    // Posted again but not yet advertised: still no credit for the peer.
    c.reposted(3);
    assert_eq!(c.receive(&h(4, 0)), Err(CreditError::NotGranted { mseq: 4, granted: 3 }));
    // Once a header of ours has told the peer, it may.
    c.send_control().unwrap();
    assert_eq!(c.receive(&h(4, 0)), Ok(()));
}

#[test]
fn one_credit_update_never_makes_another_due() {
    let mut c = Credits::new(4, 4).unwrap();
    let update = Bsdh { mid: Mid::Data, flags: 0, bufs: 4, len: 16, mseq: 1, mseq_ack: 0 };
    assert!(is_credit_update(&update));
    c.receive(&update).unwrap();
    c.reposted(1);
    assert_eq!(c.unadvertised(), 1);
    assert!(!c.update_due(1));
    // A second message consumed and reposted: an update now grants two credits.
    c.receive(&Bsdh { len: 17, mseq: 2, ..update }).unwrap();
    c.reposted(1);
    assert!(c.update_due(1));
}

#[test]
fn rings_below_the_minimum_are_refused() {
    assert_eq!(Credits::new(2, 8), Err(CreditError::RingTooSmall(2)));
    assert_eq!(Credits::new(8, 0), Err(CreditError::RingTooSmall(0)));
    assert!(Credits::new(MIN_RING, MIN_RING).is_ok());
}

#[test]
fn acks_return_credits() {
    let mut c = Credits::new(3, 3).unwrap();
    let o1 = c.send_data().unwrap();
    let o2 = c.send_data().unwrap();
    assert_eq!((o1.mseq, o2.mseq), (1, 2));
    assert_eq!(c.available_for_data(), 0);
    // The peer received both and still has 3 buffers posted.
    c.receive(&Bsdh { mid: Mid::Data, flags: 0, bufs: 3, len: 16, mseq: 1, mseq_ack: 2 }).unwrap();
    assert_eq!(c.available(), 3);
}
