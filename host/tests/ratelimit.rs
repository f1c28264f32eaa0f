// SPDX-License-Identifier: GPL-2.0

//! The log rate limiter: a burst per window, then silence, then the count of what was
//! dropped.

use infinisock_proto::ratelimit::{RateLimit, Verdict, BURST, INTERVAL_MS};
use proptest::prelude::*;

#[test]
fn burst_then_suppressed_then_reports_the_count() {
    let rl = RateLimit::new();
    let t0 = 1_000;
    for i in 0..BURST {
        assert_eq!(rl.check(t0 + u64::from(i)), Verdict::Print { suppressed: 0 }, "line {i}");
    }
    for i in 0..25 {
        assert_eq!(rl.check(t0 + 100 + i), Verdict::Suppress);
    }
    assert_eq!(rl.check(t0 + INTERVAL_MS), Verdict::Print { suppressed: 25 });
    assert_eq!(rl.check(t0 + INTERVAL_MS + 1), Verdict::Print { suppressed: 0 });
}

#[test]
fn a_clock_at_zero_still_opens_a_window() {
    let rl = RateLimit::new();
    assert_eq!(rl.check(0), Verdict::Print { suppressed: 0 });
    for _ in 1..BURST {
        assert_eq!(rl.check(0), Verdict::Print { suppressed: 0 });
    }
    assert_eq!(rl.check(0), Verdict::Suppress);
}

proptest! {
    /// However lines are spread in time, the limiter agrees with a plain model: a
    /// window opens at the first line INTERVAL_MS or more after the last opening,
    /// prints BURST lines, drops the rest, and the next opening reports how many.
    #[test]
    fn agrees_with_the_model(gaps in proptest::collection::vec(0u64..3_000, 1..400)) {
        let rl = RateLimit::new();
        let (mut now, mut start, mut count, mut dropped) = (10u64, None::<u64>, 0u32, 0u32);
        for g in gaps {
            now += g;
            let want = if start.is_none_or(|s| now - s >= INTERVAL_MS) {
                start = Some(now);
                count = 1;
                Verdict::Print { suppressed: core::mem::take(&mut dropped) }
            } else {
                count += 1;
                if count <= BURST {
                    Verdict::Print { suppressed: 0 }
                } else {
                    dropped += 1;
                    Verdict::Suppress
                }
            };
            prop_assert_eq!(rl.check(now), want);
        }
    }
}
