// SPDX-License-Identifier: GPL-2.0
//! The shared receive queue's levels against connections whose peers send within
//! their grants (or, hostile, beyond them) and readers that repost what they
//! consume: the account always matches the connections' grants; an active
//! connection never meets an empty queue; idle connections wake without RNR as long
//! as the reserve covers them; a receive beyond a grant is caught; and N idle
//! connections cost the reserve, not N windows.

use infinisock_proto::recv_pool::*;
use proptest::prelude::*;

/// One connection as the module keeps it: its part in the pool, its messages held
/// unread, and its peer's view of the credits left.
#[derive(Default)]
struct Conn {
    g: Grants,
    held: u64,
    peer_credits: u64,
}

struct Bed {
    pool: PoolLevels,
    conns: Vec<Conn>,
    now: u64,
    /// Messages that found the queue empty (receiver not ready).
    rnr: u64,
    /// Receives caught beyond a grant.
    unsolicited: u64,
    /// Buffers allocated and freed over the run.
    allocated: u64,
}

impl Bed {
    fn new(n: usize, floor: u64) -> Self {
        let mut bed = Bed { pool: PoolLevels::new(), conns: Vec::new(), now: 0, rnr: 0, unsolicited: 0, allocated: 0 };
        for _ in 0..n {
            let mut c = Conn::default();
            bed.pool.grant(&mut c.g, floor);
            c.peer_credits = floor;
            bed.conns.push(c);
        }
        bed
    }

    fn check(&self) {
        let active: u64 = self.conns.iter().filter(|c| c.g.active()).map(|c| c.g.unfilled()).sum();
        let idle: u64 = self.conns.iter().filter(|c| !c.g.active()).map(|c| c.g.unfilled()).sum();
        assert_eq!(self.pool.active_grants(), active);
        assert_eq!(self.pool.idle_grants(), idle);
        // What a peer believes it may send is what is granted and not filled.
        for c in &self.conns {
            assert_eq!(c.g.unfilled(), c.peer_credits);
        }
    }

    /// The pool posts what it wants, with room for `room` buffers.
    fn refill(&mut self, room: u64) {
        let n = self.pool.to_post(room);
        self.allocated += n;
        self.pool.posted_more(n);
    }

    /// Connection `i`'s peer sends one message if it has a credit (or, `hostile`,
    /// anyway). Returns whether it was received.
    fn send(&mut self, i: usize, hostile: bool) -> bool {
        let c = &mut self.conns[i];
        if c.peer_credits == 0 && !hostile {
            return false;
        }
        if self.pool.posted() == 0 {
            self.rnr += 1;
            return false;
        }
        match self.pool.received(&mut c.g, self.now) {
            Take::Granted => {
                c.peer_credits -= 1;
                c.held += 1;
            }
            Take::Unsolicited => {
                assert_eq!(c.peer_credits, 0, "a granted message was called unsolicited");
                self.unsolicited += 1;
                // The buffer goes back to the pool; the connection is reset, and
                // the buffers of its unread messages go back too.
                self.give_back();
                self.pool.leave(&mut self.conns[i].g);
                self.conns[i].peer_credits = 0;
                for _ in 0..core::mem::take(&mut self.conns[i].held) {
                    self.give_back();
                }
            }
        }
        true
    }

    /// A buffer comes back from a connection.
    fn give_back(&mut self) {
        match self.pool.returned() {
            Returned::Post => self.pool.posted_more(1),
            Returned::Free => self.allocated -= 1,
        }
    }

    /// Connection `i`'s reader consumes a message and grants its buffer again.
    fn consume(&mut self, i: usize) {
        if self.conns[i].held == 0 {
            return;
        }
        self.conns[i].held -= 1;
        self.give_back();
        let c = &mut self.conns[i];
        self.pool.grant(&mut c.g, 1);
        c.peer_credits += 1;
    }

    fn tick(&mut self, ms: u64) {
        self.now += ms;
        for c in &mut self.conns {
            self.pool.settle(&mut c.g, self.now);
        }
    }

    /// The queue consumes its surplus itself; each buffer is freed.
    fn drain(&mut self) {
        let n = self.pool.surplus();
        self.pool.drained(n);
        self.allocated -= n;
    }

    /// Buffers that exist: posted, or holding a message.
    fn buffers(&self) -> u64 {
        self.pool.posted() + self.conns.iter().map(|c| c.held).sum::<u64>()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    Hostile(usize),
    Consume(usize),
    Refill,
    Tick(u64),
    Drain,
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..n).prop_map(Op::Send),
        1 => (0..n).prop_map(Op::Hostile),
        4 => (0..n).prop_map(Op::Consume),
        2 => Just(Op::Refill),
        1 => (1u64..1500).prop_map(Op::Tick),
        1 => Just(Op::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The account matches the connections' grants after every step; a hostile
    /// receive is caught exactly when the peer had no credit; buffers in existence
    /// are those allocated (nothing leaks or is counted twice); after a refill the
    /// queue holds its target, and never more than target plus slack from buffers
    /// coming back.
    #[test]
    fn account_matches_grants(ops in prop::collection::vec(op(6), 1..400), floor in 3u64..8) {
        let mut bed = Bed::new(6, floor);
        bed.refill(u64::MAX);
        for o in ops {
            let before = bed.pool.posted();
            match o {
                Op::Send(i) => { bed.send(i, false); }
                Op::Hostile(i) => {
                    let had = bed.conns[i].peer_credits;
                    let caught = bed.unsolicited;
                    if bed.send(i, true) {
                        prop_assert_eq!(bed.unsolicited > caught, had == 0);
                    }
                }
                Op::Consume(i) => bed.consume(i),
                Op::Refill => {
                    bed.refill(u64::MAX);
                    prop_assert!(bed.pool.posted() >= bed.pool.target());
                    prop_assert!(bed.pool.posted() >= bed.pool.active_grants());
                }
                Op::Tick(ms) => bed.tick(ms),
                Op::Drain => {
                    let wanted = bed.pool.to_post(u64::MAX);
                    bed.drain();
                    prop_assert_eq!(bed.pool.surplus(), 0);
                    prop_assert!(bed.pool.posted() <= before.min(bed.pool.target() + 2 * SLACK));
                    // Only beyond what the account keeps: a refill wants what it did.
                    prop_assert_eq!(bed.pool.to_post(u64::MAX), wanted);
                }
            }
            bed.check();
            prop_assert_eq!(bed.buffers(), bed.allocated);
            prop_assert!(bed.pool.posted() <= before.max(bed.pool.target() + 2 * SLACK));
        }
    }

    /// Active connections are backed in full: once the pool has refilled, every
    /// peer of an active connection may spend all its credits with no RNR, whatever
    /// the windows.
    #[test]
    fn active_connections_never_meet_rnr(windows in prop::collection::vec(3u64..64, 1..40), rounds in 1usize..6) {
        let mut bed = Bed::new(windows.len(), 0);
        for (c, &w) in bed.conns.iter_mut().zip(&windows) {
            bed.pool.grant(&mut c.g, w);
            c.peer_credits = w;
        }
        bed.refill(u64::MAX);
        for round in 0..rounds {
            // Every peer sends all it may (its adapter retrying after RNR while the
            // pool refills); readers consume; the pool refills.
            for i in 0..windows.len() {
                while bed.conns[i].peer_credits > 0 {
                    if !bed.send(i, false) {
                        prop_assert_eq!(round, 0, "RNR for an active connection");
                        bed.refill(u64::MAX);
                    }
                }
            }
            for i in 0..windows.len() {
                while bed.conns[i].held > 0 {
                    bed.consume(i);
                }
            }
            bed.refill(u64::MAX);
            bed.tick(10);
        }
        // The first round woke each connection from the reserve until its receives
        // made it active and had the rest of its grants backed: RNR only in the
        // first round, and only once the reserve was spent, at most once per
        // receive before a connection is active.
        let total: u64 = windows.iter().sum();
        prop_assert!(bed.rnr <= windows.len() as u64 * u64::from(ACTIVATE_AFTER));
        if total <= reserve(total) {
            prop_assert_eq!(bed.rnr, 0);
        }
        prop_assert_eq!(bed.unsolicited, 0);
    }

    /// Idle connections waking within one refill meet no RNR while the reserve and
    /// the slack cover their first messages; once their receives make them active,
    /// the rest of each one's grant is backed at the next refill.
    #[test]
    fn idle_wakeups_within_the_reserve(n in 1usize..400, waking in 0usize..40, floor in 3u64..6) {
        let mut bed = Bed::new(n, floor);
        bed.refill(u64::MAX);
        bed.tick(ACTIVE_MS);
        let waking = waking.min(n);
        let covered = (reserve(n as u64 * floor) + SLACK) as usize;
        for round in 0..ACTIVATE_AFTER as usize {
            for i in 0..waking {
                let ok = bed.send(i, false);
                prop_assert_eq!(ok, round * waking + i < covered);
            }
        }
        bed.refill(u64::MAX);
        // Now each connection that received twice is active, its remaining grants
        // backed.
        let twice = covered.saturating_sub(waking).min(waking);
        for i in 0..twice {
            prop_assert!(bed.conns[i].g.active());
            while bed.conns[i].peer_credits > 0 {
                prop_assert!(bed.send(i, false));
            }
        }
    }
}

/// What N idle connections cost: the reserve, one buffer per 32 grants and at least
/// 32 buffers, not N windows, and the slack.
#[test]
fn idle_connections_cost_the_reserve() {
    for (n, floor, want) in [(0u64, 4u64, 0u64), (1, 4, 4 + SLACK), (8, 4, 32 + SLACK), (1024, 4, 128 + SLACK), (10_000, 4, 1250 + SLACK)] {
        let mut bed = Bed::new(n as usize, floor);
        bed.refill(u64::MAX);
        bed.tick(ACTIVE_MS);
        assert_eq!(bed.pool.posted(), want, "{n} connections");
    }
    // 10,000 idle streams with a floor of 4 buffers of 32 KiB: 1,250 buffers,
    // 40,000 KiB, 4 KiB per connection.
    assert_eq!(reserve(40_000) * 32 / 10_000, 4);
}

/// Connections that each receive one message (a greeting) stay idle: the queue
/// holds the reserve, not their windows.
#[test]
fn one_message_each_keeps_them_idle() {
    let mut bed = Bed::new(1024, 4);
    bed.refill(u64::MAX);
    for i in 0..1024 {
        if !bed.send(i, false) {
            bed.refill(u64::MAX);
            assert!(bed.send(i, false));
        }
        bed.consume(i);
        bed.refill(u64::MAX);
    }
    assert_eq!(bed.pool.active_grants(), 0);
    assert!(bed.pool.posted() <= reserve(1024 * 4) + 2 * SLACK, "{} posted", bed.pool.posted());
}

/// A connection that goes quiet gives its backing back to the reserve after
/// `ACTIVE_MS`, not before; one that leaves takes its grants with it.
#[test]
fn quiet_connections_settle_and_leavers_leave() {
    let mut pool = PoolLevels::new();
    let mut g = Grants::default();
    pool.grant(&mut g, 64);
    pool.posted_more(pool.to_post(u64::MAX));
    assert_eq!(pool.posted(), 32 + SLACK);
    // One receive alone does not make it active, nor one after ACTIVE_MS; a second
    // within ACTIVE_MS does.
    assert_eq!(pool.received(&mut g, 0), Take::Granted);
    assert!(!g.active());
    assert_eq!(pool.received(&mut g, ACTIVE_MS), Take::Granted);
    assert!(!g.active());
    assert_eq!(pool.received(&mut g, 100 + ACTIVE_MS - 1), Take::Granted);
    assert!(g.active());
    assert_eq!((pool.active_grants(), pool.idle_grants()), (61, 0));
    // 61 grants and the slack, of which 32 + 16 - 3 are posted.
    assert_eq!(pool.to_post(u64::MAX), 61 + SLACK - (32 + SLACK - 3));
    assert_eq!(pool.returned(), Returned::Post);
    assert_eq!(pool.to_post(5), 5);
    assert!(pool.settle(&mut g, 100 + 2 * ACTIVE_MS - 2));
    assert!(!pool.settle(&mut g, 100 + 2 * ACTIVE_MS - 1));
    assert_eq!((pool.active_grants(), pool.idle_grants()), (0, 61));
    pool.leave(&mut g);
    assert_eq!((pool.active_grants(), pool.idle_grants(), g.unfilled()), (0, 0, 0));
    assert_eq!(pool.received(&mut g, 0), Take::Unsolicited);
}

/// Connections busy at once, then all quiet: the buffers posted for their windows
/// stay posted (nothing takes them) until the queue drains its surplus, which leaves
/// the idle reserve and twice the slack; a connection waking afterwards is served
/// from it and, active again, gets its window backed by the next refill.
#[test]
fn a_burst_is_given_back_when_quiet() {
    let mut bed = Bed::new(64, 16);
    bed.refill(u64::MAX);
    for _ in 0..2 {
        for i in 0..64 {
            assert!(bed.send(i, false));
            bed.consume(i);
            bed.refill(u64::MAX);
        }
    }
    assert_eq!(bed.pool.active_grants(), 64 * 16);
    let busy = bed.pool.posted();
    assert!(busy >= 64 * 16);
    assert_eq!(bed.pool.surplus(), 0);
    bed.tick(ACTIVE_MS);
    assert_eq!(bed.pool.active_grants(), 0);
    // Quiet: no receive comes to take the buffers back.
    assert_eq!(bed.pool.posted(), busy);
    assert_eq!(bed.pool.surplus(), busy - (reserve(64 * 16) + 2 * SLACK));
    bed.drain();
    assert_eq!(bed.pool.posted(), reserve(64 * 16) + 2 * SLACK);
    assert_eq!(bed.pool.to_post(u64::MAX), 0);
    // One connection wakes: two messages make it active, the refill backs it.
    bed.tick(1);
    assert!(bed.send(3, false) && bed.send(3, false));
    bed.refill(u64::MAX);
    assert!(bed.pool.posted() >= bed.pool.active_grants());
    for _ in 0..14 {
        assert!(bed.send(3, false));
    }
    assert_eq!(bed.rnr, 0);
    bed.check();
    assert_eq!(bed.buffers(), bed.allocated);
}

/// Every idle connection wakes at once with one message (more than the reserve
/// holds), and the queue refills only between its peers' receiver-not-ready retries
/// (the slowest a loaded host could manage): with the low-water event doubling the
/// idle backing, all are served within the peers' 6 retries at any N, and the
/// backing goes back once calm. Without it, N / reserve rounds (8 for a floor of 4).
#[test]
fn a_storm_of_wakers_is_served_within_the_retries() {
    for n in [64usize, 256, 2000, 10_000] {
        let mut bed = Bed::new(n, 4);
        bed.refill(u64::MAX);
        bed.tick(ACTIVE_MS);
        let calm_posted = bed.pool.posted();
        let mut waiting: Vec<usize> = (0..n).collect();
        let mut attempts = 0;
        while !waiting.is_empty() {
            attempts += 1;
            assert!(attempts <= 7, "{n} wakers: {} still waiting after the peers' 6 retries", waiting.len());
            let mut low = false;
            waiting.retain(|&i| {
                let served = bed.send(i, false);
                low |= served && bed.pool.posted() < bed.pool.low_water();
                !served
            });
            // Between retries: the readers consume, the queue hears of the low water
            // and refills.
            for i in 0..n {
                bed.consume(i);
            }
            if low {
                bed.pool.pressure(bed.now);
            }
            bed.refill(u64::MAX);
            bed.now += 655;
        }
        assert!(attempts <= 4 || n <= 64, "{n} wakers took {attempts} attempts");
        bed.check();
        assert_eq!(bed.pool.active_grants(), 0, "one message each keeps them idle");
        // Calm: the boost goes, and what it posted is surplus to give back.
        assert!(bed.pool.calm(bed.now));
        bed.now += CALM_MS;
        assert!(!bed.pool.calm(bed.now));
        bed.drain();
        assert!(bed.pool.posted() <= calm_posted + SLACK, "{n}: {} posted once calm", bed.pool.posted());
        assert_eq!(bed.buffers(), bed.allocated);
    }
}

/// Low-water events close together double the idle backing once: the queue hears of
/// receives only as they are reaped, so one storm sets the event off repeatedly.
#[test]
fn pressure_doubles_once_per_gap() {
    let mut bed = Bed::new(1000, 4);
    bed.refill(u64::MAX);
    let reserve0 = bed.pool.target();
    bed.pool.pressure(5000);
    let once = bed.pool.target();
    assert_eq!(once, 2 * reserve0);
    bed.pool.pressure(5000 + PRESSURE_GAP_MS - 1);
    assert_eq!(bed.pool.target(), once);
    bed.pool.pressure(5000 + PRESSURE_GAP_MS);
    assert_eq!(bed.pool.target(), 2 * once);
    // Calm counts from the last event, doubling or not.
    assert!(bed.pool.calm(5000 + PRESSURE_GAP_MS + CALM_MS - 1));
    assert!(!bed.pool.calm(5000 + PRESSURE_GAP_MS + CALM_MS));
    assert_eq!(bed.pool.target(), reserve0);
}

/// Receives the device took but their connections have not reaped yet: the account
/// still counts their buffers as posted. The low-water event says the device holds
/// fewer than the limit; the refill then posts for them too, and their receives,
/// once reaped, are not posted for again.
#[test]
fn a_low_water_event_counts_the_unreaped() {
    let mut bed = Bed::new(8, 16);
    bed.refill(u64::MAX);
    for _ in 0..2 {
        for i in 0..8 {
            assert!(bed.send(i, false));
        }
    }
    bed.refill(u64::MAX);
    let posted = bed.pool.posted();
    assert_eq!(bed.pool.to_post(u64::MAX), 0);
    // The device used up all but 4 before any of those receives was reaped.
    let limit = bed.pool.low_water();
    bed.pool.device_below(limit);
    assert_eq!(bed.pool.on_device(), limit);
    let refill = bed.pool.to_post(u64::MAX);
    assert_eq!(refill, posted - limit);
    bed.pool.posted_more(refill);
    // Reaping them changes nothing more: the refill covered them.
    for _ in 0..posted - limit {
        bed.pool.unposted();
    }
    assert_eq!(bed.pool.to_post(u64::MAX), 0);
    assert_eq!(bed.pool.on_device(), bed.pool.posted());
    assert_eq!(bed.pool.surplus(), 0);
}
