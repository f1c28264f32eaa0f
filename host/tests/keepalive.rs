// SPDX-License-Identifier: GPL-2.0
//! Keepalive: option bounds as TCP's, and the probe timer against a simple model of
//! time passing, a peer that answers or not, and traffic.

use infinisock_proto::errno::EINVAL;
use infinisock_proto::keepalive::*;
use proptest::prelude::*;

#[test]
fn options_take_tcps_bounds_and_defaults() {
    let mut c = KeepaliveConfig::default();
    assert_eq!(c.get(KeepaliveOpt::Idle, 7200), 7200);
    assert_eq!(c.get(KeepaliveOpt::Interval, 7200), DEFAULT_KEEPINTVL);
    assert_eq!(c.get(KeepaliveOpt::Count, 7200), DEFAULT_KEEPCNT);
    for (opt, max) in [
        (KeepaliveOpt::Idle, MAX_KEEPIDLE),
        (KeepaliveOpt::Interval, MAX_KEEPINTVL),
        (KeepaliveOpt::Count, MAX_KEEPCNT),
    ] {
        for bad in [i32::MIN, -1, 0, max as i32 + 1, i32::MAX] {
            assert_eq!(c.set(opt, bad), Err(EINVAL), "{opt:?} = {bad}");
        }
        assert_eq!(c.get(opt, 7200), KeepaliveConfig::default().get(opt, 7200), "a refused value changed {opt:?}");
        assert_eq!(c.set(opt, 1), Ok(()));
        assert_eq!(c.get(opt, 7200), 1);
        assert_eq!(c.set(opt, max as i32), Ok(()));
        assert_eq!(c.get(opt, 7200), max);
    }
}

const S: Settings = Settings { idle: 10, interval: 2, count: 3 };

#[test]
fn idle_connection_is_probed_after_idle_time() {
    let mut p = Prober::default();
    // Heard from the peer at t=0, idle time 10 s: at t=4 s wait the remaining 6 s.
    assert_eq!(p.tick(4000, false, false, S), Tick::Wait(6_000));
    assert_eq!(p.tick(10000, false, false, S), Tick::Probe(2_000));
    // The probe was acknowledged at t=10.5 s: quiet again until t=20.5 s.
    assert_eq!(p.tick(1500, false, false, S), Tick::Wait(8_500));
}

#[test]
fn unanswered_probe_ends_connection_after_count_intervals() {
    let mut p = Prober::default();
    assert_eq!(p.tick(10000, false, false, S), Tick::Probe(2_000));
    assert_eq!(p.tick(12000, true, false, S), Tick::Wait(2_000));
    assert_eq!(p.tick(14000, true, false, S), Tick::Wait(2_000));
    assert_eq!(p.tick(16000, true, false, S), Tick::Dead);
}

#[test]
fn traffic_in_flight_defers_probing() {
    let mut p = Prober::default();
    assert_eq!(p.tick(100000, false, true, S), Tick::Wait(10_000));
}

proptest! {
    /// Simulates a connection over time: the timer fires when it asked to, the peer
    /// answers a probe after `answer_ms` (or never), messages arrive at random times.
    /// Properties: a live peer is never declared dead when it answers within the
    /// interval; a dead one is declared dead within idle + count × interval of the
    /// last time it was heard; no probe goes out while one is outstanding or before
    /// the connection has been silent for the idle time.
    #[test]
    fn probing_model(
        idle in 1u32..30, interval in 1u32..30, count in 1u32..10,
        answer_ms in proptest::option::of(0u64..2_000),
        arrivals in proptest::collection::vec(0u64..200_000, 0..20),
    ) {
        let mut arrivals = arrivals;
        arrivals.sort_unstable();
        let mut p = Prober::default();
        let (mut now, mut heard) = (0u64, 0u64);
        let mut outstanding: Option<u64> = None; // when the probe was posted
        let mut next_arrival = arrivals.into_iter().peekable();
        let end = 1_000_000u64;
        let mut dead_at = None;
        while now < end {
            // Messages and probe answers up to now.
            while next_arrival.peek().is_some_and(|&t| t <= now) {
                heard = heard.max(next_arrival.next().unwrap());
            }
            if let (Some(sent), Some(a)) = (outstanding, answer_ms) {
                if sent + a <= now {
                    heard = heard.max(sent + a);
                    outstanding = None;
                }
            }
            match p.tick(now - heard, outstanding.is_some(), false, Settings { idle, interval, count }) {
                Tick::Wait(ms) => { prop_assert!(ms > 0); now += ms; }
                Tick::Probe(ms) => {
                    prop_assert!(outstanding.is_none());
                    prop_assert!(now - heard >= u64::from(idle) * 1000);
                    outstanding = Some(now);
                    now += ms;
                }
                Tick::Dead => { dead_at = Some(now); break; }
            }
        }
        match answer_ms {
            Some(a) if a < u64::from(interval) * 1000 => prop_assert_eq!(dead_at, None),
            None => {
                let last = heard;
                let t = dead_at.expect("a silent peer must be declared dead");
                // Arrivals after the probe count as hearing from it, so measure from
                // the last time the peer was heard.
                prop_assert!(t <= last + u64::from(idle) * 1000 + u64::from(count + 1) * u64::from(interval) * 1000 + 1000,
                    "dead at {} ms, last heard {} ms", t, last);
            }
            _ => {}
        }
    }
}
