// SPDX-License-Identifier: GPL-2.0
//! One `recvmsg` call and the peer's adverts (`zc_to_user`): which calls hold landing
//! back, when they let go, and how much one READ into their pages takes.

use infinisock_proto::zc_to_user::*;
use proptest::prelude::*;

const PAGE: usize = 4096;

fn terms() -> CallTerms {
    CallTerms { blocking: true, peek_or_trunc: false, takes_adverts: true, fast_reg: true, threshold: Some(65536) }
}

fn at_wait(claimable: Option<u32>, room: usize, segment: usize, offset: usize) -> AtWait {
    AtWait { signal_pending: false, ring_bytes: 0, claimable, room, segment, offset, max_pages: 256, page: PAGE }
}

#[test]
fn only_a_blocking_call_into_user_pages_with_room_holds() {
    for t in [
        CallTerms { blocking: false, ..terms() },
        CallTerms { peek_or_trunc: true, ..terms() },
        CallTerms { takes_adverts: false, ..terms() },
        CallTerms { fast_reg: false, ..terms() },
        CallTerms { threshold: None, ..terms() },
    ] {
        assert_eq!(ReaderCall::new(t).update(1 << 20, 1 << 20), None, "{t:?}");
    }
    let mut c = ReaderCall::new(terms());
    assert_eq!(c.update(65535, 1 << 20), None, "room below the threshold");
    assert_eq!(c.update(1 << 20, 65535), None, "the iovec segment below it");
    assert_eq!(c.update(65536, 65536), Some(true));
    assert_eq!(c.update(65536, 65536), None, "no change: nothing to tell");
    assert_eq!(c.update(1000, 1000), Some(false), "its room shrank as it copied");
    assert!(!c.leave());
}

#[test]
fn it_reads_the_claim_as_far_as_its_room_segment_and_one_region_go() {
    let mut c = ReaderCall::new(terms());
    c.update(1 << 20, 1 << 20);
    assert_eq!(c.at_wait(&at_wait(Some(300_000), 1 << 20, 1 << 20, 0)), WaitPlan::Read(300_000));
    assert_eq!(c.at_wait(&at_wait(Some(1 << 22), 1 << 21, 1 << 20, 0)), WaitPlan::Read(1 << 20), "the segment");
    assert_eq!(c.at_wait(&at_wait(Some(1 << 22), 70_000, 1 << 20, 0)), WaitPlan::Read(70_000), "the room");
    assert_eq!(c.at_wait(&at_wait(Some(1 << 22), 1 << 20, 1 << 20, 100)), WaitPlan::Read((1 << 20) - 100), "256 pages");
    assert_eq!(c.at_wait(&at_wait(None, 1 << 20, 1 << 20, 0)), WaitPlan::Wait, "nothing to claim now");
    assert!(c.holds());
}

#[test]
fn a_signal_claims_nothing_and_bytes_in_the_ring_let_go() {
    let mut c = ReaderCall::new(terms());
    c.update(1 << 20, 1 << 20);
    let s = AtWait { signal_pending: true, ..at_wait(Some(1 << 20), 1 << 20, 1 << 20, 0) };
    assert_eq!(c.at_wait(&s), WaitPlan::Wait);
    assert!(c.holds(), "the call returns at the wait, and leaves then");
    let s = AtWait { ring_bytes: 1, ..at_wait(None, 1 << 20, 1 << 20, 0) };
    assert_eq!(c.at_wait(&s), WaitPlan::LetGo, "an urgent byte stepped over before the advert");
    assert!(!c.holds());
    assert_eq!(c.update(1 << 20, 1 << 20), None, "for the rest of the call");
}

#[test]
fn a_missing_page_is_faulted_in_a_few_times_then_the_call_lets_go() {
    let mut c = ReaderCall::new(terms());
    c.update(1 << 20, 1 << 20);
    for _ in 0..FAULT_TRIES {
        assert_eq!(c.pin_failed(true), PinPlan::FaultIn);
        assert!(c.leave(), "it leaves while faulting in");
        assert_eq!(c.update(1 << 20, 1 << 20), Some(true), "and comes back");
    }
    assert_eq!(c.pin_failed(true), PinPlan::LetGo);
    assert!(!c.holds());
    let mut c = ReaderCall::new(terms());
    c.update(1 << 20, 1 << 20);
    assert_eq!(c.pin_failed(false), PinPlan::LetGo, "the memory-lock limit");
    assert_eq!(c.update(1 << 20, 1 << 20), None);
}

proptest! {
    /// A READ never goes beyond the call's room, its iovec segment, the claim, or one
    /// region's pages; it is never empty; and a call that does not hold plans none.
    #[test]
    fn a_read_fits_everything_it_must(
        claim in 1u32..(8 << 20),
        room in 1usize..(8 << 20),
        segment in 1usize..(8 << 20),
        offset in 0usize..PAGE,
        max_pages in 0usize..300,
        holds in any::<bool>(),
    ) {
        let mut c = ReaderCall::new(terms());
        if holds {
            c.update(usize::MAX, usize::MAX);
        }
        let s = AtWait { max_pages, ..at_wait(Some(claim), room, segment, offset) };
        match c.at_wait(&s) {
            WaitPlan::Read(n) => {
                prop_assert!(holds);
                prop_assert!(n > 0 && n <= room && n <= segment && n <= claim as usize);
                prop_assert!((offset + n).div_ceil(PAGE) <= max_pages);
            }
            WaitPlan::LetGo => prop_assert!(holds && max_pages == 0 && !c.holds()),
            WaitPlan::Wait => prop_assert!(!holds),
        }
    }
}
