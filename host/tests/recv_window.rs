// SPDX-License-Identifier: GPL-2.0
//! The receive window against a peer that sends whenever it has credits and a reader
//! that reads at its own pace: the buffers granted are always those posted plus those
//! holding unread messages; the window stays between its floor and its ceiling; it
//! grows to the ceiling when the window holds the peer back and the reader keeps up,
//! stays put when the reader is the bottleneck, and falls back to the floor when the
//! peer sends little.

use infinisock_proto::{
    credits::MIN_RING,
    recv_window::{initial_grant, RecvWindow, EPOCH_MS, RECV_FLOOR},
};
use proptest::prelude::*;

/// Our side's buffers as the module keeps them: posted (granted, the peer may fill
/// them) and held (filled, not read yet).
struct Side {
    w: RecvWindow,
    posted: u16,
    held: u16,
    now: u64,
    received: u64,
    /// Buffers the window adds cannot be allocated.
    no_memory: bool,
    /// The module's buffer memory is under pressure.
    pressure: bool,
}

impl Side {
    fn new(floor: u16, ceiling: u16) -> Self {
        let w = RecvWindow::new(floor, ceiling, 0);
        let posted = w.initial();
        Side { w, posted, held: 0, now: 0, received: 0, no_memory: false, pressure: false }
    }

    /// The peer sends up to `n` messages, as its credits allow.
    fn peer_sends(&mut self, n: u16) {
        for _ in 0..n.min(self.posted) {
            self.posted -= 1;
            self.held += 1;
            self.received += 1;
            self.w.received(u32::from(self.posted));
        }
    }

    /// The reader consumes up to `n` messages.
    fn reads(&mut self, n: u16) {
        for _ in 0..n.min(self.held) {
            self.held -= 1;
            let c = self.w.consumed(usize::from(self.held), self.now, self.pressure);
            self.posted += u16::from(c.repost);
            for _ in 0..c.add {
                if self.no_memory {
                    self.w.not_posted();
                } else {
                    self.posted += 1;
                }
            }
        }
    }

    fn check(&self) {
        let w = &self.w;
        assert_eq!(w.in_use(), self.posted + self.held, "granted = posted + held");
        assert!(w.initial() <= w.target() && w.target() <= w.ceiling());
        assert!(w.in_use() <= w.ceiling());
        assert!(w.in_use() >= w.initial(), "the floor's buffers are never given back");
    }
}

#[derive(Clone, Debug)]
enum Step {
    Send(u16),
    Read(u16),
    Wait(u64),
    Memory(bool),
    Pressure(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u16..20).prop_map(Step::Send),
        4 => (1u16..20).prop_map(Step::Read),
        1 => (1u64..600).prop_map(Step::Wait),
        1 => any::<bool>().prop_map(Step::Memory),
        1 => any::<bool>().prop_map(Step::Pressure),
    ]
}

proptest! {
    /// Whatever the peer and the reader do, and with memory for new buffers coming
    /// and going: the account holds, and once the reader has read everything the peer
    /// has at least the floor's credits (the window never closes).
    #[test]
    fn granted_buffers_are_posted_or_held_and_the_window_never_closes(
        steps in proptest::collection::vec(step(), 1..300),
        floor in 0u16..8,
        ceiling in MIN_RING..64,
    ) {
        let mut s = Side::new(floor, ceiling);
        for st in steps {
            match st {
                Step::Send(n) => s.peer_sends(n),
                Step::Read(n) => s.reads(n),
                Step::Wait(ms) => s.now += ms,
                Step::Memory(on) => s.no_memory = !on,
                Step::Pressure(on) => s.pressure = on,
            }
            s.check();
        }
        s.reads(u16::MAX);
        prop_assert!(s.posted >= s.w.initial());
        prop_assert!(s.posted >= MIN_RING.min(ceiling));
        // With memory, the next message the reader consumes fills the window to its
        // target at least (buffers beyond it go as the peer fills them).
        s.no_memory = false;
        s.pressure = false;
        s.peer_sends(1);
        s.reads(u16::MAX);
        s.check();
        prop_assert!(s.posted >= s.w.target());
    }
}

#[test]
fn small_buffers_start_with_the_floor_in_bytes() {
    assert_eq!(initial_grant(RECV_FLOOR, 16, 32768), 4);
    assert_eq!(initial_grant(RECV_FLOOR, 16, 1 << 20), 4, "never fewer than the floor in buffers");
    assert_eq!(initial_grant(RECV_FLOOR, 256, 4096), 32);
    assert_eq!(initial_grant(RECV_FLOOR, 16, 4096), 16, "within the ring");
    assert_eq!(initial_grant(RECV_FLOOR, 3, 32768), 3);
    // The tunable floor (net.infinisock.sdp_recv_floor).
    assert_eq!(initial_grant(8, 16, 32768), 8);
    assert_eq!(initial_grant(8, 256, 4096), 64);
    assert_eq!(initial_grant(3, 16, 32768), 3);
    assert_eq!(initial_grant(1, 16, 32768), 3, "never below what the credit scheme needs");
}

#[test]
fn an_idle_connection_posts_the_floor_only() {
    let s = Side::new(RECV_FLOOR, 16);
    assert_eq!((s.posted, s.w.target()), (4, 4));
    assert_eq!(Side::new(RECV_FLOOR, 3).posted, 3, "a ring smaller than the floor");
    assert_eq!(Side::new(0, 16).posted, MIN_RING, "never fewer than MIN_RING");
}

#[test]
fn a_bulk_peer_with_a_fast_reader_opens_the_window_to_the_ceiling() {
    let mut s = Side::new(RECV_FLOOR, 16);
    for round in 0..16 {
        s.peer_sends(u16::MAX);
        s.reads(u16::MAX);
        s.now += 1;
        s.check();
        if s.w.target() == 16 {
            assert!(round <= 4, "opened in {round} rounds");
            break;
        }
    }
    assert_eq!(s.w.target(), 16);
    assert_eq!(s.posted, 16);
}

#[test]
fn a_slow_reader_keeps_the_window_where_it_is() {
    let mut s = Side::new(RECV_FLOOR, 16);
    for _ in 0..200 {
        // The peer fills every buffer, the reader takes one at a time, far behind.
        s.peer_sends(u16::MAX);
        s.reads(1);
        s.now += 1;
        s.check();
    }
    assert_eq!(s.w.target(), RECV_FLOOR, "the reader, not the window, holds the peer back");
}

#[test]
fn a_quiet_peer_gives_the_window_back_to_the_floor() {
    let mut s = Side::new(RECV_FLOOR, 16);
    while s.w.target() < 16 {
        s.peer_sends(u16::MAX);
        s.reads(u16::MAX);
    }
    // Then one message every epoch.
    for _ in 0..10 {
        s.now += EPOCH_MS;
        s.peer_sends(1);
        s.reads(1);
        s.check();
    }
    assert_eq!(s.w.target(), RECV_FLOOR);
    // The buffers beyond the floor go as the peer fills them, one at a time.
    for _ in 0..16 {
        s.peer_sends(1);
        s.reads(1);
        s.check();
    }
    assert_eq!(s.w.in_use(), RECV_FLOOR);
}

#[test]
fn pressure_gives_the_window_back_to_the_floor_and_stops_its_growth() {
    let mut s = Side::new(RECV_FLOOR, 16);
    while s.w.target() < 16 {
        s.peer_sends(u16::MAX);
        s.reads(u16::MAX);
    }
    // A bulk peer and a fast reader, which would keep the window open: under pressure
    // it falls back to the floor, the buffers beyond it going as they are consumed;
    // once the pressure is gone, it opens again.
    for (pressure, window) in [(true, RECV_FLOOR), (false, 16)] {
        s.pressure = pressure;
        for _ in 0..20 {
            s.peer_sends(u16::MAX);
            s.reads(u16::MAX);
            s.now += 1;
            s.check();
        }
        assert_eq!((s.w.target(), s.w.in_use()), (window, window), "pressure {pressure}");
    }
}

/// A bulk peer and a reader that reads `per_read` buffers whenever it runs, with the
/// peer learning of reposted buffers only from credit updates (as on the wire, when
/// half the window is unadvertised or the peer is at its reserve), and a wire of
/// `latency` rounds each way. Returns the window after `rounds` rounds.
fn bulk_with_updates(per_read: usize, latency: usize, rounds: usize) -> u16 {
    use infinisock_proto::credits::Credits;
    use infinisock_proto::wire::{Bsdh, Mid};
    use std::collections::VecDeque;

    let mut w = RecvWindow::new(RECV_FLOOR, 16, 0);
    let mut ours = Credits::new(16, w.initial()).unwrap();
    let mut peer = Credits::new(w.initial(), 16).unwrap();
    let (mut to_us, mut to_peer): (VecDeque<(usize, Bsdh)>, VecDeque<(usize, Bsdh)>) = (VecDeque::new(), VecDeque::new());
    let mut held = 0usize;
    for now in 0..rounds {
        // The peer sends all it may.
        while let Ok(o) = peer.send_data() {
            to_us.push_back((now + latency, Bsdh { mid: Mid::Data, flags: 0, bufs: o.bufs, len: 17, mseq: o.mseq, mseq_ack: o.mseq_ack }));
        }
        while to_us.front().is_some_and(|(at, _)| *at <= now) {
            let (_, h) = to_us.pop_front().unwrap();
            ours.receive(&h).unwrap();
            w.received(ours.peer_view());
            held += 1;
        }
        for _ in 0..per_read.min(held) {
            held -= 1;
            let c = w.consumed(held, now as u64, false);
            ours.reposted(u32::from(c.repost) + u32::from(c.add));
            if ours.update_due(u32::from(w.target() / 2).max(2)) {
                let o = ours.send_control().unwrap();
                to_peer.push_back((now + latency, Bsdh { mid: Mid::Data, flags: 0, bufs: o.bufs, len: 16, mseq: o.mseq, mseq_ack: o.mseq_ack }));
            }
        }
        while to_peer.front().is_some_and(|(at, _)| *at <= now) {
            let (_, h) = to_peer.pop_front().unwrap();
            peer.receive(&h).unwrap();
            // Our update filled one of the peer's buffers, which it posts again.
            peer.reposted(1);
        }
    }
    w.target()
}

#[test]
fn a_bulk_peer_learning_of_credits_from_updates_opens_the_window() {
    // The window over the round trip (2 × latency + 1 rounds) holds the peer back below
    // what the reader takes: it opens to the ceiling.
    for (latency, per_read) in [(1, 8), (3, 4), (3, 8), (6, 4)] {
        assert_eq!(bulk_with_updates(per_read, latency, 400), 16, "latency {latency}, {per_read} per read");
    }
    // The reader is the bottleneck: the window does not open to the ceiling (its
    // first epoch, before the reader falls behind, may double it once).
    assert!(bulk_with_updates(1, 0, 400) <= 2 * RECV_FLOOR);
}
