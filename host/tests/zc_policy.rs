// SPDX-License-Identifier: GPL-2.0
//! The zero-copy threshold: the option's values, the crossover `F / (2c - p)` within
//! the floor and ceiling, monotone in the advert's cost and the copy's, steady under
//! steady costs, and fixed or off when the program says so.

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

/// Feeds `rounds` periods of steady costs: an advert's fixed `f` ns, `p` and `c` ns per
/// KiB to pin and to copy.
fn feed(t: &mut Threshold, rounds: u32, f: u64, p: u64, c: u64) {
    for _ in 0..rounds {
        for _ in 0..ZC_PERIOD {
            t.record_zcopy(1 << 20, p * 1024, f);
        }
        for _ in 0..COPY_PERIOD {
            t.record_copy(1 << 20, c * 1024);
        }
    }
}

#[test]
fn adaptive_follows_the_crossover() {
    let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
    assert_eq!(t.value(), Some(FLOOR));
    assert_eq!(t.crossover(), None);
    // F 40 us, p 100 ns/KiB, c 200 ns/KiB: 40,000 / (400 - 100) KiB = 133 KiB.
    feed(&mut t, 4, 40_000, 100, 200);
    assert_eq!(t.crossover(), Some(40_000 * 1024 / 300));
    assert_eq!(t.value(), t.crossover());
    // Zero-copy never pays (p >= 2c): the ceiling.
    let mut t = Threshold::new(Setting::Adaptive, FLOOR, CEILING);
    feed(&mut t, 8, 40_000, 500, 200);
    assert_eq!(t.value(), Some(CEILING));
    // Fixed and off ignore the measurements.
    let mut t = Threshold::new(Setting::Fixed(8192), FLOOR, CEILING);
    feed(&mut t, 2, 40_000, 100, 200);
    assert_eq!(t.value(), Some(8192));
    t.set(Setting::Off);
    assert_eq!(t.value(), None);
}

proptest! {
    /// Within [floor, ceiling] whatever the costs; steady costs give a steady value
    /// within a quarter of the crossover.
    #[test]
    fn bounded_and_steady(f in 1u64..10_000_000, p in 0u64..10_000, c in 1u64..10_000, floor in 4096u32..200_000) {
        let ceiling = floor.saturating_mul(16);
        let mut t = Threshold::new(Setting::Adaptive, floor, ceiling);
        feed(&mut t, 24, f, p, c);
        let v = t.value().unwrap();
        prop_assert!(v >= floor && v <= ceiling);
        let x = t.crossover().unwrap();
        prop_assert!(v.abs_diff(x) <= v / 4, "value {} crossover {}", v, x);
        feed(&mut t, 4, f, p, c);
        prop_assert_eq!(t.value().unwrap(), v);
    }

    /// A dearer advert raises the crossover; a dearer copy lowers it.
    #[test]
    fn monotone_in_advert_and_copy_costs(f in 1u64..1_000_000, df in 0u64..1_000_000, p in 0u64..1000, c in 1u64..1000, dc in 0u64..1000) {
        let x = |f: u64, c: u64| {
            let mut t = Threshold::new(Setting::Adaptive, 1, u32::MAX);
            feed(&mut t, 24, f, p, c);
            t.crossover().unwrap()
        };
        prop_assert!(x(f + df, c) >= x(f, c));
        prop_assert!(x(f, c + dc) <= x(f, c));
    }
}
