// SPDX-License-Identifier: GPL-2.0
//! The zero-copy choice: the option's values; fixed and off as the program says; an
//! adaptive socket advertises from the floor until it has measured, copies below the
//! floor and advertises from the ceiling, settles on the cheaper mode per size class
//! (trying the other once a period), follows a change of costs within a few periods,
//! and reports the smallest size from which it advertises.

use infinisock_proto::errno::EINVAL;
use infinisock_proto::zc_policy::*;
use proptest::prelude::*;

const FLOOR: u32 = THRESH_MIN_DEFAULT;
const CEILING: u32 = THRESH_MAX_DEFAULT;

#[test]
fn option_values() {
    assert_eq!(Setting::from_option(0), Ok(Setting::Off));
    assert_eq!(Setting::from_option(-1), Ok(Setting::Adaptive));
    assert_eq!(Setting::from_option(4096), Ok(Setting::Fixed(4096)));
    assert_eq!(Setting::from_option(1 << 20), Ok(Setting::Fixed(1 << 20)));
    for bad in [1, 4095, (1 << 20) + 1, -2, i32::MIN, i32::MAX] {
        assert_eq!(Setting::from_option(bad), Err(EINVAL), "{bad}");
    }
    for v in [0, -1, 65536] {
        assert_eq!(Setting::from_option(v).unwrap().option_value(), v);
    }
}

/// `calls` writes of `bytes`, each taking what `cost` says for the mode chosen (ns
/// per KiB); returns how many were advertised.
fn run(t: &mut Threshold, bytes: u64, calls: u32, cost: impl Fn(Mode) -> u64) -> u32 {
    let mut advertised = 0;
    for _ in 0..calls {
        let mode = t.choose(bytes);
        advertised += u32::from(mode == Mode::Advertise);
        t.record(mode, bytes, cost(mode) * bytes / 1024);
    }
    advertised
}

#[test]
fn fixed_and_off_ignore_measurements() {
    let mut t = Threshold::new(Setting::Fixed(8192), FLOOR, CEILING);
    assert_eq!(run(&mut t, 8192, 100, |m| if m == Mode::Advertise { 1000 } else { 1 }), 100);
    assert_eq!(t.choose(8191), Mode::Copy);
    assert_eq!(t.value(), Some(8192));
    t.set(Setting::Off);
    assert_eq!(t.choose(1 << 20), Mode::Copy);
    assert_eq!(t.value(), None);
}

#[test]
fn adaptive_starts_at_the_floor_and_keeps_its_bounds() {
    let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
    assert_eq!(t.value(), Some(FLOOR));
    assert_eq!(t.choose(u64::from(FLOOR) - 1), Mode::Copy);
    assert_eq!(t.choose(u64::from(FLOOR)), Mode::Advertise);
    // Copying is far cheaper at every size: all classes copy, the ceiling still
    // advertises, and the threshold reported is the ceiling.
    let cheap_copy = |m| if m == Mode::Advertise { 1000 } else { 10 };
    for shift in 16..20 {
        run(&mut t, 1 << shift, 200, cheap_copy);
    }
    assert_eq!(t.value(), Some(CEILING));
    assert_eq!(t.choose(u64::from(CEILING)), Mode::Advertise);
    // A ceiling equal to the floor: fixed at the floor.
    t.set_bounds(FLOOR, FLOOR);
    assert_eq!(t.choose(u64::from(FLOOR)), Mode::Advertise);
    assert_eq!(t.value(), Some(FLOOR));
}

#[test]
fn the_threshold_is_where_advertising_starts_to_win() {
    let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
    // Advertising wins from 256 KiB: a fixed cost of 40 us against 200 ns per KiB saved.
    let cost = |bytes: u64| move |m| if m == Mode::Advertise { 100 + 40_000 * 1024 / bytes } else { 300 };
    for shift in 16..20 {
        run(&mut t, 1 << shift, 200, cost(1 << shift));
    }
    assert_eq!(t.value(), Some(256 << 10));
    // Steady costs, steady choice: at 128 KiB only the probes advertise.
    let probes = run(&mut t, 128 << 10, 10 * PROBE_PERIOD, cost(128 << 10));
    assert_eq!(probes, 10);
    let copies = 10 * PROBE_PERIOD - run(&mut t, 512 << 10, 10 * PROBE_PERIOD, cost(512 << 10));
    assert_eq!(copies, 10);
    assert_eq!(t.value(), Some(256 << 10));
    // What the tools show under the namespace's bounds of now, the connection's own
    // left as its last write set them.
    assert_eq!(t.value_within(512 << 10, CEILING), Some(512 << 10));
    assert_eq!(t.value_within(FLOOR, 128 << 10), Some(128 << 10));
    assert_eq!(t.value_within(FLOOR, 512 << 10), Some(256 << 10));
    assert_eq!(t.value(), Some(256 << 10));
}

/// A connection's first advert is cold (the region pool grows, pages fault in): ten
/// times dearer than the rest. With advertising twice as cheap as copying, the class
/// still advertises from the start, but for the two copies that measure copying; the
/// first sample taken as the average had it copy until some twenty probes (over 600
/// calls) washed it out.
#[test]
fn a_cold_first_advert_does_not_turn_the_class() {
    let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
    let bytes = 256u64 << 10;
    let mut first = true;
    let mut cost = move |m| match m {
        Mode::Advertise if core::mem::take(&mut first) => 1000,
        Mode::Advertise => 100,
        Mode::Copy => 200,
    };
    let mut chosen = Vec::new();
    for _ in 0..PROBE_PERIOD {
        let mode = t.choose(bytes);
        chosen.push(mode);
        t.record(mode, bytes, cost(mode) * bytes / 1024);
    }
    let copies: Vec<usize> = chosen.iter().enumerate().filter(|(_, m)| **m == Mode::Copy).map(|(i, _)| i).collect();
    assert_eq!(copies, [2, 3], "{chosen:?}");
    assert_eq!(t.value(), Some(FLOOR));
}

proptest! {
    /// Whatever the costs: below the floor copied, from the ceiling advertised, the
    /// threshold within them; with steady costs the mode preferred by more than an
    /// eighth is chosen by all calls but one a period.
    #[test]
    fn steady_costs_steady_choice(adv in 1u64..100_000, copy in 1u64..100_000, shift in 16u32..20, floor_shift in 12u32..17) {
        let (floor, ceiling) = (1u32 << floor_shift, CEILING);
        let mut t = Threshold::new(Setting::Adaptive, floor, ceiling);
        let bytes = 1u64 << shift;
        let cost = |m| if m == Mode::Advertise { adv } else { copy };
        run(&mut t, bytes, 4 * PROBE_PERIOD, cost);
        let advertised = run(&mut t, bytes, 10 * PROBE_PERIOD, cost);
        if adv * 8 < copy * 7 {
            prop_assert_eq!(advertised, 10 * PROBE_PERIOD - 10);
        } else {
            prop_assert_eq!(advertised, 10);
        }
        prop_assert_eq!(t.choose(u64::from(floor) - 1), Mode::Copy);
        prop_assert_eq!(t.choose(u64::from(ceiling)), Mode::Advertise);
        let v = t.value().unwrap();
        prop_assert!(v >= floor && v <= ceiling);
    }

    /// Costs that turn against the mode chosen turn the choice within a few periods.
    #[test]
    fn follows_a_change(slow in 2u64..20, shift in 16u32..20) {
        let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
        let bytes = 1u64 << shift;
        // Advertising is cheaper at first...
        run(&mut t, bytes, 4 * PROBE_PERIOD, |m| if m == Mode::Advertise { 100 } else { 100 * slow });
        prop_assert_eq!(t.choose(bytes), Mode::Advertise);
        // ...then dearer: within 24 periods (the copies are measured only by probes),
        // the class copies.
        run(&mut t, bytes, 24 * PROBE_PERIOD, |m| if m == Mode::Advertise { 100 * slow * slow } else { 100 * slow });
        let advertised = run(&mut t, bytes, PROBE_PERIOD, |m| if m == Mode::Advertise { 100 * slow * slow } else { 100 * slow });
        prop_assert!(advertised <= 1, "{} of a period still advertised", advertised);
    }
}
