// SPDX-License-Identifier: GPL-2.0

//! Ring memory admission: full rings below pressure, the smallest under it, none past
//! the limit; never more than the limit.

use infinisock_proto::memory::*;
use proptest::prelude::*;

#[test]
fn admission_steps() {
    let limit = 1000;
    assert_eq!(admit(0, 100, 10, limit), Admission::Full);
    assert_eq!(admit(749, 100, 10, limit), Admission::Full);
    // Three quarters: pressure.
    assert_eq!(admit(750, 100, 10, limit), Admission::Minimal);
    // Full rings would pass the limit although pressure has not begun.
    assert_eq!(admit(700, 400, 10, limit), Admission::Minimal);
    assert_eq!(admit(995, 100, 10, limit), Admission::Refused);
    assert_eq!(admit(990, 100, 10, limit), Admission::Minimal);
}

#[test]
fn pressure_rings_are_the_smallest_that_work() {
    assert_eq!(pressure_rings(16, 16), (3, 3));
    assert_eq!(pressure_rings(16, 1), (3, 1));
    assert_eq!(ring_bytes(16, 16, 32768), 1 << 20);
}

proptest! {
    /// Whatever is admitted fits within the limit, and a connection that fits in
    /// full below pressure is never cut down.
    #[test]
    fn admitted_rings_fit(used in 0usize..1 << 30, full in 1usize..1 << 24, minimal in 1usize..1 << 20, limit in 1usize..1 << 30) {
        prop_assume!(minimal <= full);
        match admit(used, full, minimal, limit) {
            Admission::Full => prop_assert!(used + full <= limit && !under_pressure(used, limit)),
            Admission::Minimal => prop_assert!(used + minimal <= limit),
            Admission::Refused => prop_assert!(used + minimal > limit),
        }
        if !under_pressure(used, limit) && used + full <= limit {
            prop_assert_eq!(admit(used, full, minimal, limit), Admission::Full);
        }
    }
}
