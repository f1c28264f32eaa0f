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

mod ring_choice {
    use infinisock_proto::handshake::RingConfig;
    use infinisock_proto::memory::*;
    use proptest::prelude::*;

    const DEFAULT: RingConfig = RingConfig { recv_buffers: 16, send_buffers: 16, buffer_size: 32768, recv_start: 4 };

    #[test]
    fn a_connection_gets_its_rings_the_smallest_or_none() {
        let c = RingChoice::new(DEFAULT);
        let small = RingConfig { recv_buffers: 3, send_buffers: 3, recv_start: 3, ..DEFAULT };
        assert_eq!(c.minimal, small);
        assert_eq!(c.admit(0, 64 << 20), Some((DEFAULT, 1 << 20)));
        assert_eq!(c.admit(48 << 20, 64 << 20), Some((small, 6 * 32768)));
        assert_eq!(c.admit((64 << 20) - 1, 64 << 20), None);
        assert_eq!(c.bytes(Admission::Refused), None);
    }

    proptest! {
        /// What is admitted is one of the two choices, its bytes are its rings' bytes,
        /// and it never passes the limit.
        #[test]
        fn admitted_rings_fit_the_limit(
            recv in 1u16..1000, send in 1u16..1000, size in 1u32..(1 << 20),
            used in 0usize..(1 << 32), limit in 0usize..(1 << 32),
        ) {
            let cfg = RingConfig { recv_buffers: recv, send_buffers: send, buffer_size: size, recv_start: recv.min(4) };
            let c = RingChoice::new(cfg);
            if let Some((rings, bytes)) = c.admit(used, limit) {
                prop_assert!(rings == c.full || rings == c.minimal);
                prop_assert_eq!(bytes, ring_bytes(rings.recv_buffers, rings.send_buffers, rings.buffer_size));
                prop_assert!(used + bytes <= limit);
            }
        }
    }
}
