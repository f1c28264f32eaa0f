// SPDX-License-Identifier: GPL-2.0
//! RDMA operations in flight: send-queue accounting, one report per operation, a
//! failure reported before the connection ends, cancellation of what is unreported,
//! and the error a failed request ends the connection with.

mod common;

use common::{CappedLists, Wc};
use infinisock_proto::{
    errno::*,
    rdma_ops::{connection_error, Local, OpQueue, Report},
    regions::RegionTable,
    HostLists,
};
use proptest::prelude::*;

type Ops = OpQueue<HostLists, Wc>;
type Regions = RegionTable<HostLists, ()>;

fn post(ops: &mut Ops, token: u64, len: u32, requests: u32) {
    ops.reserve().unwrap();
    ops.posted(token, len, requests, Local::Pinned);
}

#[test]
fn operations_complete_oldest_first_and_give_back_their_requests() {
    let (mut ops, mut regions) = (Ops::default(), Regions::default());
    post(&mut ops, 1, 100, 3);
    post(&mut ops, 2, 200, 1);
    assert_eq!(ops.requests(), 4);
    assert!(ops.busy());
    assert_eq!(ops.retire(Wc::Ok(0), &mut regions), Some(Report { token: 1, wc: Wc::Ok(0), len: 100 }));
    assert_eq!(ops.requests(), 1);
    assert_eq!(ops.retire(Wc::Ok(0), &mut regions), Some(Report { token: 2, wc: Wc::Ok(0), len: 200 }));
    assert!(!ops.busy() && ops.is_empty());
    assert_eq!(ops.retire(Wc::Ok(0), &mut regions), None);
}

#[test]
fn an_operation_with_no_request_posted_is_not_recorded() {
    let mut ops = Ops::default();
    post(&mut ops, 1, 100, 0);
    assert!(ops.is_empty() && !ops.busy());
}

#[test]
fn an_earlier_requests_failure_is_reported_at_once_and_only_once() {
    let (mut ops, mut regions) = (Ops::default(), Regions::default());
    post(&mut ops, 5, 4096, 2);
    assert_eq!(ops.part_failed(Wc::Refused(1)), Some(Report { token: 5, wc: Wc::Refused(1), len: 0 }));
    assert_eq!(ops.unreported().count(), 0);
    // Its last request is flushed after the failure: nothing more to report.
    assert_eq!(ops.retire(Wc::Flushed(2), &mut regions), None);
    assert_eq!(ops.requests(), 0);
}

#[test]
fn a_flushed_earlier_request_waits_for_the_last_and_gives_way_to_a_failure() {
    let (mut ops, mut regions) = (Ops::default(), Regions::default());
    post(&mut ops, 5, 4096, 3);
    assert_eq!(ops.part_failed(Wc::Flushed(1)), None);
    assert_eq!(ops.unreported().collect::<Vec<_>>(), vec![5]);
    assert_eq!(ops.retire(Wc::Flushed(3), &mut regions), Some(Report { token: 5, wc: Wc::Flushed(1), len: 0 }));
}

#[test]
fn the_error_of_a_failed_request() {
    assert_eq!(connection_error(&Wc::Ok(0)), None);
    assert_eq!(connection_error(&Wc::Flushed(0)), None);
    assert_eq!(connection_error(&Wc::Refused(0)), Some(ECONNRESET));
    assert_eq!(connection_error(&Wc::Silent(0)), Some(ETIMEDOUT));
}

#[test]
fn without_memory_nothing_is_posted() {
    let mut ops = OpQueue::<CappedLists<1>, Wc>::default();
    ops.reserve().unwrap();
    ops.posted(1, 1, 1, Local::Pinned);
    assert_eq!(ops.reserve(), Err(ENOMEM));
}

fn wc() -> impl Strategy<Value = Wc> {
    prop_oneof![
        6 => Just(Wc::Ok(0)),
        2 => Just(Wc::Flushed(0)),
        1 => Just(Wc::Refused(0)),
        1 => Just(Wc::Silent(0)),
    ]
}

proptest! {
    /// Each operation is reported exactly once, whether by an earlier request's
    /// failure, its last request, or (unreported at teardown) as cancelled; the
    /// requests in flight always add up.
    #[test]
    fn every_operation_is_reported_once(
        script in proptest::collection::vec((1u32..5, proptest::collection::vec(wc(), 0..4), wc()), 0..40),
        cancel_after in 0usize..40,
    ) {
        let (mut ops, mut regions) = (Ops::default(), Regions::default());
        let mut reported = Vec::new();
        for (token, (requests, parts, last)) in script.iter().enumerate() {
            post(&mut ops, token as u64, 10, *requests);
            if token == cancel_after {
                break;
            }
            // Earlier requests report only failures and flushes.
            for part in parts.iter().take(*requests as usize - 1).filter(|w| !matches!(w, Wc::Ok(_))) {
                reported.extend(ops.part_failed(*part).map(|r| r.token));
            }
            let total: u32 = script[..=token].iter().map(|s| s.0).sum::<u32>();
            let retired: u32 = script[..token].iter().map(|s| s.0).sum::<u32>();
            prop_assert_eq!(ops.requests(), total - retired);
            let r = ops.retire(*last, &mut regions);
            if let Some(r) = r {
                prop_assert_eq!(r.len, if matches!(r.wc, Wc::Ok(_)) { 10 } else { 0 });
                reported.push(r.token);
            }
            prop_assert_eq!(ops.requests(), 0);
        }
        reported.extend(ops.unreported());
        let posted = script.iter().take(cancel_after + 1).count() as u64;
        prop_assert_eq!(reported, (0..posted).collect::<Vec<_>>());
    }
}
