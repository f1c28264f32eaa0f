// SPDX-License-Identifier: GPL-2.0
//! The error queue: records come out once and in order, every reserved place takes its
//! record, and the storage does not grow with a program that leaves records unread.

mod common;

use common::CappedLists;
use infinisock_proto::{
    error_queue::{Completion, ErrorQueue, Unreserved},
    errno::ENOMEM,
    HostLists,
};
use proptest::prelude::*;
use std::collections::VecDeque;

fn record(token: u64) -> Completion {
    Completion { token, errno: 0, len: 1 }
}

/// A program that always leaves one record unread: the storage stays small, and
/// every record comes out once, in order.
#[test]
fn the_storage_does_not_grow_with_one_record_left_unread() {
    let mut q = ErrorQueue::<HostLists>::default();
    let mut next_out = 0u64;
    for token in 0..100_000u64 {
        // What `sendmsg` does before posting, with one operation in flight.
        q.reserve(1).unwrap();
        q.push(record(token)).unwrap();
        while q.len() > 1 {
            assert_eq!(q.front(), Some(record(next_out)));
            next_out += 1;
            q.pop();
        }
        assert!(q.capacity() <= 16);
    }
    assert_eq!(next_out, 99_999);
}

#[test]
fn reserved_places_take_every_record_and_others_are_refused() {
    let mut q = ErrorQueue::<CappedLists<128>>::default();
    q.reserve(128).unwrap();
    for token in 0..128 {
        q.push(record(token)).unwrap();
    }
    assert_eq!(q.push(record(128)), Err(Unreserved));
    assert_eq!(q.reserve(1), Err(ENOMEM));
    assert_eq!(q.len(), 128);
    for token in 0..128 {
        assert_eq!(q.front(), Some(record(token)));
        q.pop();
    }
    assert!(q.is_empty());
    q.pop();
    assert!(q.is_empty() && q.front().is_none());
}

proptest! {
    /// Reserving, queueing and reading in any order: first in, first out, and the
    /// storage stays within a small multiple of the most records that ever waited.
    #[test]
    fn first_in_first_out(steps in proptest::collection::vec((0usize..4, 0usize..4), 0..300)) {
        let mut q = ErrorQueue::<HostLists>::default();
        let mut model = VecDeque::new();
        let (mut token, mut most_waiting) = (0u64, 0usize);
        for (push, read) in steps {
            if push > 0 {
                q.reserve(push).unwrap();
                for _ in 0..push {
                    q.push(record(token)).unwrap();
                    model.push_back(token);
                    token += 1;
                }
            }
            for _ in 0..read {
                prop_assert_eq!(q.front().map(|c| c.token), model.front().copied());
                q.pop();
                model.pop_front();
            }
            prop_assert_eq!(q.len(), model.len());
            most_waiting = most_waiting.max(model.len() + push);
            prop_assert!(q.capacity() <= 4 * most_waiting + 8, "{} places for at most {} records", q.capacity(), most_waiting);
        }
    }
}

/// A stream's `MSG_ZEROCOPY` notification reads as `ip_recv_error()` and
/// `ipv6_recv_error()` give it: `IP_RECVERR` with the error and a `sockaddr_in`,
/// `IPV6_RECVERR` with a `sockaddr_in6`, the offender address zeroed.
#[test]
fn zerocopy_notification_cmsg() {
    use infinisock_proto::error_queue::{recverr_cmsg, EXTENDED_ERR_LEN};
    let ee: [u8; EXTENDED_ERR_LEN] = core::array::from_fn(|i| i as u8 + 1);
    for (v6, want) in [(false, (0, 11, 32)), (true, (41, 25, 44))] {
        let (level, kind, data, n) = recverr_cmsg(v6, &ee);
        assert_eq!((level, kind, n), want);
        assert_eq!(data[..EXTENDED_ERR_LEN], ee);
        assert!(data[EXTENDED_ERR_LEN..n].iter().all(|&b| b == 0));
    }
}
