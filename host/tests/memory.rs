// SPDX-License-Identifier: GPL-2.0

//! Buffer memory admission: a new connection is counted for the receive buffers it
//! posts at first (its rings as configured below pressure, the smallest under it, none
//! past the limit; never more than the limit); pressure begins at three quarters and
//! ends below five eighths; windows do not grow into pressure; a writer with nothing
//! in flight always gets a send buffer.

use infinisock_proto::memory::*;
use proptest::prelude::*;

#[test]
fn admission_steps() {
    let limit = 1000;
    let at = |used, full| admit(used, full, 10, limit, under_pressure(used, limit, false));
    assert_eq!(at(0, 100), Admission::Full);
    assert_eq!(at(749, 100), Admission::Full);
    // Three quarters: pressure.
    assert_eq!(at(750, 100), Admission::Minimal);
    // Full rings would pass the limit although pressure has not begun.
    assert_eq!(at(700, 400), Admission::Minimal);
    assert_eq!(at(995, 100), Admission::Refused);
    assert_eq!(at(990, 100), Admission::Minimal);
    // Once under pressure, connections get the smallest rings until use falls
    // below five eighths.
    assert_eq!(admit(700, 100, 10, limit, under_pressure(700, limit, true)), Admission::Minimal);
    assert_eq!(admit(624, 100, 10, limit, under_pressure(624, limit, true)), Admission::Full);
}

#[test]
fn pressure_ends_below_a_lower_mark_than_it_begins() {
    let limit = 1000;
    assert!(!under_pressure(749, limit, false));
    assert!(under_pressure(750, limit, false));
    // Between the marks the module stays as it was.
    assert!(under_pressure(625, limit, true));
    assert!(!under_pressure(700, limit, false));
    assert!(!under_pressure(624, limit, true));
    // Windows do not grow between the marks while pressure lasts.
    assert_eq!(growth_room(700, 10, limit, true), 0);
    assert_eq!(growth_room(700, 10, limit, false), 5);
}

#[test]
fn pressure_rings_are_the_smallest_that_work() {
    assert_eq!(pressure_rings(16, 16), (3, 3));
    assert_eq!(pressure_rings(16, 1), (3, 1));
}

#[test]
fn windows_grow_into_the_room_below_pressure_only() {
    assert_eq!(growth_room(0, 100, 1000, false), 7);
    assert_eq!(growth_room(600, 50, 1000, false), 3);
    assert_eq!(growth_room(600, 151, 1000, false), 0);
    assert_eq!(growth_room(900, 1, 1000, false), 0, "past the mark");
    assert_eq!(growth_room(600, 1, 1000, true), 0, "under pressure");
    assert_eq!(growth_room(0, 0, 1000, false), 0);
}

#[test]
fn a_writer_with_nothing_in_flight_always_gets_a_send_buffer() {
    assert!(may_take_send_buffer(2000, 32768, 1000, false));
    assert!(!may_take_send_buffer(2000, 32768, 1000, true));
    assert!(may_take_send_buffer(0, 1000, 1000, true));
    assert!(!may_take_send_buffer(1, 1000, 1000, true));
}

proptest! {
    /// Whatever is admitted fits within the limit, and a connection that fits in
    /// full below pressure is never cut down.
    #[test]
    fn admitted_rings_fit(
        used in 0usize..1 << 30, full in 1usize..1 << 24, minimal in 1usize..1 << 20, limit in 1usize..1 << 30, was: bool,
    ) {
        prop_assume!(minimal <= full);
        let pressure = under_pressure(used, limit, was);
        match admit(used, full, minimal, limit, pressure) {
            Admission::Full => prop_assert!(used + full <= limit && !pressure),
            Admission::Minimal => prop_assert!(used + minimal <= limit),
            Admission::Refused => prop_assert!(used + minimal > limit),
        }
        if !pressure && used + full <= limit {
            prop_assert_eq!(admit(used, full, minimal, limit, pressure), Admission::Full);
        }
    }

    /// Pressure begins at the upper mark and ends below the lower one, whatever
    /// happened before: a use between them keeps the state it found.
    #[test]
    fn pressure_has_two_marks(used in 0usize..1 << 30, limit in 8usize..1 << 30, was: bool) {
        let now = under_pressure(used, limit, was);
        prop_assert_eq!(under_pressure(used, limit, now), now, "asking again changes nothing");
        if used >= limit / 4 * 3 {
            prop_assert!(now);
        } else if used < limit / 8 * 5 {
            prop_assert!(!now);
        } else {
            prop_assert_eq!(now, was);
        }
    }

    /// Growing by all the room there is never reaches pressure, and one buffer more
    /// would.
    #[test]
    fn growth_room_stops_short_of_pressure(used in 0usize..1 << 30, buffer in 1usize..1 << 20, limit in 4usize..1 << 30) {
        let room = growth_room(used, buffer, limit, false);
        prop_assert!(room == 0 || used + room * buffer <= limit / 4 * 3);
        prop_assert!(used + (room + 1) * buffer > limit / 4 * 3);
    }
}

mod ring_choice {
    use infinisock_proto::handshake::RingConfig;
    use infinisock_proto::memory::*;
    use proptest::prelude::*;

    const DEFAULT: RingConfig = RingConfig { recv_buffers: 16, send_buffers: 16, buffer_size: 32768, recv_start: 4 };

    #[test]
    fn a_connection_is_counted_for_what_it_posts_at_first() {
        let c = RingChoice::new(DEFAULT);
        let small = RingConfig { recv_buffers: 3, send_buffers: 3, recv_start: 3, ..DEFAULT };
        assert_eq!(c.minimal, small);
        // 4 receive buffers, not both rings in full (1 MiB).
        assert_eq!(c.admit(0, 64 << 20, false), Some((DEFAULT, 4 * 32768)));
        assert_eq!(c.admit(48 << 20, 64 << 20, true), Some((small, 3 * 32768)));
        assert_eq!(c.admit((64 << 20) - 1, 64 << 20, true), None);
        assert_eq!(c.bytes(Admission::Refused), None);
        // A window fixed at the ring (SO_RCVBUF) posts it all at first.
        let fixed = RingChoice::new(RingConfig { recv_start: 16, ..DEFAULT });
        assert_eq!(fixed.admit(0, 64 << 20, false), Some((RingConfig { recv_start: 16, ..DEFAULT }, 16 * 32768)));
    }

    #[test]
    fn idle_connections_are_counted_by_their_first_buffers() {
        // 128 MiB: before pressure begins at 96 MiB, 96 connections if each were
        // counted for both rings in full (1 MiB), 768 by their first receive buffers.
        let limit = 128 << 20;
        let c = RingChoice::new(DEFAULT);
        let (mut used, mut full) = (0, 0);
        while let Some((rings, bytes)) = c.admit(used, limit, under_pressure(used, limit, false)) {
            if rings != c.full {
                break;
            }
            used += bytes;
            full += 1;
        }
        assert_eq!(full, 768);
    }

    proptest! {
        /// What is admitted is one of the two choices, its bytes are what its rings
        /// post at first, and it never passes the limit.
        #[test]
        fn admitted_rings_fit_the_limit(
            recv in 1u16..1000, send in 1u16..1000, size in 1u32..(1 << 20),
            used in 0usize..(1 << 32), limit in 0usize..(1 << 32), pressure: bool,
        ) {
            let cfg = RingConfig { recv_buffers: recv, send_buffers: send, buffer_size: size, recv_start: recv.min(4) };
            let c = RingChoice::new(cfg);
            if let Some((rings, bytes)) = c.admit(used, limit, pressure) {
                prop_assert!(rings == c.full || rings == c.minimal);
                prop_assert_eq!(bytes, start_bytes(&rings));
                prop_assert!(used + bytes <= limit);
            }
        }
    }
}
