// SPDX-License-Identifier: GPL-2.0
//! The source's SrcAvail adverts: the sink's replies close them in order, every byte of
//! an advert is either READ or sent as Data once it closes, never both and never lost;
//! replies that break the rules are violations; the clock cancels and then resets, and
//! says when it is next due.

use infinisock_proto::zc_src::*;
use infinisock_proto::HostLists;
use proptest::prelude::*;

type Adverts = SrcAdverts<HostLists>;

#[test]
fn reads_close_the_oldest_advert_in_order() {
    let mut a = Adverts::new(2, 1000, 5000);
    assert!(a.may_send_data() && a.has_room());
    a.post(1, 10, 100, 0).unwrap();
    a.post(2, 11, 50, 0).unwrap();
    assert!(!a.has_room() && !a.may_send_data());
    assert!(a.post(3, 12, 10, 0).is_err());
    assert_eq!(a.unread(), 150);
    // The sink had not seen the first advert: a violation.
    assert_eq!(a.on_rd_compl(10, 9, 1), Err(SrcViolation::NotSeen));
    assert_eq!(a.on_rd_compl(60, 10, 1), Ok(None));
    assert_eq!(a.on_rd_compl(41, 10, 1), Err(SrcViolation::BadLength));
    assert_eq!(a.on_rd_compl(0, 10, 1), Err(SrcViolation::BadLength));
    assert_eq!(a.on_rd_compl(40, 11, 2), Ok(Some(Closed { id: 1, read: 100, len: 100 })));
    assert_eq!(a.unread(), 50);
    // SendSm declines the rest: its unread bytes go as Data.
    let mut closed = vec![];
    a.on_send_sm(|c| closed.push(c));
    assert_eq!(closed, [Closed { id: 2, read: 0, len: 50 }]);
    assert_eq!(closed[0].unread(), 50);
    assert!(a.may_send_data());
    // Nothing open: an RdmaRdCompl is a violation, a SendSm is stale.
    assert_eq!(a.on_rd_compl(1, 11, 3), Err(SrcViolation::NothingOpen));
    a.on_send_sm(|_| panic!("nothing was open"));
}

#[test]
fn sequence_numbers_wrap() {
    let mut a = Adverts::new(1, 1000, 5000);
    a.post(7, u32::MAX, 10, 0).unwrap();
    assert_eq!(a.on_rd_compl(10, 2, 0), Ok(Some(Closed { id: 7, read: 10, len: 10 })));
    a.post(8, 3, 10, 0).unwrap();
    assert_eq!(a.on_rd_compl(10, u32::MAX, 0), Err(SrcViolation::NotSeen));
}

#[test]
fn the_clock_cancels_then_resets() {
    let mut a = Adverts::new(4, 1000, 5000);
    a.post(1, 1, 100, 0).unwrap();
    assert_eq!(a.tick(999), Due::Nothing);
    // A READ restarts the timeout.
    a.on_rd_compl(10, 1, 500).unwrap();
    assert_eq!(a.tick(1499), Due::Nothing);
    assert_eq!(a.tick(1500), Due::Cancel);
    a.cancel(1500);
    assert_eq!(a.tick(6499), Due::Nothing);
    // The answer to a cancel: what was READ, then SendSm.
    a.on_rd_compl(20, 1, 6000).unwrap();
    assert_eq!(a.tick(6500), Due::Reset);
    let mut closed = vec![];
    a.on_send_sm(|c| closed.push(c));
    assert_eq!(closed, [Closed { id: 1, read: 30, len: 100 }]);
    assert_eq!(a.tick(100_000), Due::Nothing);
}

#[test]
fn the_next_advert_times_out_from_when_it_became_the_oldest() {
    // The sink READs the oldest advert only: the next one waits meanwhile, and its
    // timeout counts from when the oldest closed, not from when it was posted.
    let mut a = Adverts::new(2, 1000, 5000);
    a.post(1, 1, 100, 0).unwrap();
    a.post(2, 2, 100, 0).unwrap();
    a.on_rd_compl(50, 2, 900).unwrap();
    assert!(a.on_rd_compl(50, 2, 1800).unwrap().is_some());
    assert_eq!(a.tick(2799), Due::Nothing);
    assert_eq!(a.tick(2800), Due::Cancel);
}

#[test]
fn a_cancel_that_never_went_still_ends_in_a_reset() {
    // No credit for the cancel: the sink hears nothing, and the advert stays open.
    let mut a = Adverts::new(1, 1000, 5000);
    a.reserve().unwrap();
    a.post(1, 1, 100, 0).unwrap();
    assert_eq!(a.tick(1000), Due::Cancel);
    assert_eq!(a.tick(5999), Due::Cancel);
    assert_eq!(a.tick(6000), Due::Reset);
}

#[test]
fn the_next_deadline_is_the_timeout_then_the_cancel_timeout() {
    let mut a = Adverts::new(2, 1000, 5000);
    assert_eq!(a.next_due_ms(0), None);
    a.post(1, 1, 100, 0).unwrap();
    assert_eq!(a.next_due_ms(0), Some(1000));
    assert_eq!(a.next_due_ms(400), Some(600));
    // A READ restarts the timeout.
    a.on_rd_compl(10, 1, 500).unwrap();
    assert_eq!(a.next_due_ms(500), Some(1000));
    assert_eq!(a.next_due_ms(1500), Some(0));
    assert!(!a.cancelled_any());
    a.cancel(1500);
    assert!(a.cancelled_any());
    assert_eq!(a.next_due_ms(1500), Some(5000));
    assert_eq!(a.next_due_ms(7000), Some(0));
}

/// One step of a run against a sink that keeps the rules, or breaks them.
#[derive(Clone, Debug)]
enum Step {
    /// The source posts an advert of this many bytes, if it may.
    Post(u32),
    /// The sink READs this share (per mille) of the oldest advert's rest.
    Read(u16),
    /// The sink declines everything open.
    SendSm,
    /// The sink replies for bytes it never could have READ.
    OverRead,
    /// Time passes.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u32..100_000).prop_map(Step::Post),
        4 => (1u16..=1000).prop_map(Step::Read),
        1 => Just(Step::SendSm),
        1 => Just(Step::OverRead),
        1 => (0u64..3000).prop_map(Step::Wait),
    ]
}

proptest! {
    /// Every advertised byte ends READ or resent as Data, exactly once, in order of the
    /// adverts; never more adverts open than the sink keeps; Data only with none open;
    /// the clock's answers follow the timeouts.
    #[test]
    fn every_byte_read_or_resent_once(max_open in 1u8..6, steps in prop::collection::vec(step(), 1..80)) {
        let mut a = Adverts::new(max_open, 1000, 5000);
        let (mut now, mut mseq, mut next_id) = (0u64, 100u32, 0u64);
        // The model: open adverts (id, len, read), in order, and what each closed with.
        let mut open: Vec<(u64, u32, u32)> = vec![];
        let mut posted: Vec<(u64, u32)> = vec![];
        let mut closed: Vec<Closed> = vec![];
        for s in steps {
            match s {
                Step::Post(len) => {
                    let had_room = a.has_room();
                    prop_assert_eq!(had_room, open.len() < usize::from(max_open));
                    mseq = mseq.wrapping_add(1);
                    if a.post(next_id, mseq, len, now).is_ok() {
                        prop_assert!(had_room);
                        open.push((next_id, len, 0));
                        posted.push((next_id, len));
                        next_id += 1;
                    }
                }
                Step::Read(share) => {
                    let Some(&(id, len, read)) = open.first() else {
                        prop_assert_eq!(a.on_rd_compl(1, mseq, now), Err(SrcViolation::NothingOpen));
                        continue;
                    };
                    let n = (u64::from(len - read) * u64::from(share) / 1000).max(1) as u32;
                    match a.on_rd_compl(n, mseq, now).unwrap() {
                        Some(c) => {
                            prop_assert_eq!(c, Closed { id, read: len, len });
                            open.remove(0);
                            closed.push(c);
                        }
                        None => open[0].2 += n,
                    }
                }
                Step::SendSm => {
                    let mut got = vec![];
                    a.on_send_sm(|c| got.push(c));
                    let want: Vec<Closed> = open.drain(..).map(|(id, len, read)| Closed { id, read, len }).collect();
                    prop_assert_eq!(&got, &want);
                    closed.extend(got);
                }
                Step::OverRead => {
                    if let Some(&(_, len, read)) = open.first() {
                        prop_assert_eq!(a.on_rd_compl(len - read + 1, mseq, now), Err(SrcViolation::BadLength));
                    }
                }
                Step::Wait(ms) => {
                    now += ms;
                    if a.tick(now) == Due::Cancel {
                        a.cancel(now);
                    }
                }
            }
            prop_assert_eq!(a.may_send_data(), open.is_empty());
            prop_assert_eq!(a.unread(), open.iter().map(|&(_, l, r)| u64::from(l - r)).sum::<u64>());
            // The next deadline: nothing is asked before it, something at it.
            match a.next_due_ms(now) {
                None => prop_assert!(open.is_empty()),
                Some(0) => prop_assert_ne!(a.tick(now), Due::Nothing),
                Some(d) => {
                    prop_assert_eq!(a.tick(now), Due::Nothing);
                    prop_assert_eq!(a.tick(now + d - 1), Due::Nothing);
                    prop_assert_ne!(a.tick(now + d), Due::Nothing);
                }
            }
        }
        // Closed in posting order, each byte READ or unread (resent), never both.
        let ids: Vec<u64> = closed.iter().map(|c| c.id).collect();
        let posted_ids: Vec<u64> = posted.iter().map(|p| p.0).take(ids.len()).collect();
        prop_assert_eq!(ids, posted_ids);
        for (c, p) in closed.iter().zip(&posted) {
            prop_assert_eq!(c.len, p.1);
            prop_assert_eq!(c.read + c.unread(), c.len);
        }
    }
}
