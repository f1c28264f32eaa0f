// SPDX-License-Identifier: GPL-2.0
//! A listener's queues: `accept()` order, the backlog, children forgotten or let go,
//! and no child lost or duplicated, memory running out included.

mod common;

use common::CappedLists;
use infinisock_proto::{
    listen::{Established, ListenQueue},
    HostLists,
};
use proptest::prelude::*;
use std::collections::VecDeque;

type Queue = ListenQueue<HostLists, u32>;

#[test]
fn accept_takes_connections_in_the_order_they_were_established() {
    let mut q = Queue::default();
    q.set_backlog(8);
    for c in 0..3 {
        q.add_pending(c).unwrap();
    }
    assert!(!q.has_ready());
    assert_eq!(q.established(|c| *c == 2), Established::Ready);
    assert_eq!(q.established(|c| *c == 0), Established::Ready);
    assert!(q.has_ready());
    assert_eq!(q.take_ready(), Some(2));
    assert_eq!(q.take_ready(), Some(0));
    assert_eq!(q.take_ready(), None);
    assert_eq!(q.established(|c| *c == 2), Established::NotPending);
}

#[test]
fn the_backlog_bounds_pending_and_ready_together() {
    let mut q = Queue::default();
    q.set_backlog(1);
    assert!(!q.full());
    q.add_pending(1).unwrap();
    assert!(!q.full());
    q.add_pending(2).unwrap();
    assert!(q.full());
    assert_eq!(q.established(|c| *c == 1), Established::Ready);
    assert!(q.full());
    q.take_ready();
    assert!(!q.full());
    // A negative backlog is 0, as TCP's.
    q.set_backlog(-5);
    q.add_pending(3).unwrap();
    assert!(q.full());
}

#[test]
fn a_failed_child_is_forgotten_once_and_then_belongs_to_accept() {
    let mut q = Queue::default();
    q.set_backlog(4);
    q.add_pending(7).unwrap();
    assert!(q.forget(|c| *c == 7));
    assert!(!q.forget(|c| *c == 7));
    q.add_pending(8).unwrap();
    q.established(|c| *c == 8);
    assert!(q.forget(|c| *c == 8));
    assert!(!q.has_ready());
}

#[test]
fn without_memory_for_the_accept_queue_the_child_comes_back() {
    let mut q = ListenQueue::<CappedLists<1>, u32>::default();
    q.set_backlog(4);
    q.add_pending(1).unwrap();
    assert_eq!(q.add_pending(2), Err(2));
    assert_eq!(q.established(|c| *c == 1), Established::Ready);
    q.add_pending(2).unwrap();
    assert_eq!(q.established(|c| *c == 2), Established::NoMemory(2));
    let [pending, ready] = q.take_all();
    assert!(pending.0.is_empty());
    assert_eq!(ready.0, vec![1]);
}

#[derive(Clone, Debug)]
enum Step {
    Request,
    Establish(usize),
    Accept,
    Forget(usize),
    Backlog(i32),
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Request),
        4 => (0usize..16).prop_map(Step::Establish),
        3 => Just(Step::Accept),
        2 => (0usize..16).prop_map(Step::Forget),
        1 => (-2i32..6).prop_map(Step::Backlog),
        1 => Just(Step::Close),
    ]
}

proptest! {
    /// Against a model of TCP's queues: every child that was queued comes out exactly
    /// once (accepted, forgotten, let go at close, or handed back without memory),
    /// `accept()` follows establishment order, and requests beyond the backlog are
    /// refused.
    #[test]
    fn children_come_out_once_in_order(steps in proptest::collection::vec(step(), 0..200)) {
        let mut q = ListenQueue::<CappedLists<6>, u32>::default();
        let (mut pending, mut ready) = (Vec::<u32>::new(), VecDeque::<u32>::new());
        let mut backlog = 0usize;
        let (mut next, mut out) = (0u32, Vec::<u32>::new());
        for s in steps {
            match s {
                Step::Request => {
                    let full = pending.len() + ready.len() > backlog;
                    prop_assert_eq!(q.full(), full);
                    if full {
                        continue;
                    }
                    match q.add_pending(next) {
                        Ok(()) => pending.push(next),
                        Err(c) => {
                            prop_assert_eq!(c, next);
                            prop_assert_eq!(pending.len(), 6);
                            out.push(c);
                        }
                    }
                    next += 1;
                }
                Step::Establish(i) => {
                    let Some(&c) = pending.get(i % pending.len().max(1)) else {
                        prop_assert_eq!(q.established(|_| true), Established::NotPending);
                        continue;
                    };
                    pending.retain(|x| *x != c);
                    match q.established(|x| *x == c) {
                        Established::Ready => ready.push_back(c),
                        Established::NoMemory(back) => {
                            prop_assert_eq!(back, c);
                            prop_assert_eq!(ready.len(), 6);
                            out.push(c);
                        }
                        Established::NotPending => prop_assert!(false, "{} was pending", c),
                    }
                }
                Step::Accept => {
                    let got = q.take_ready();
                    prop_assert_eq!(got, ready.pop_front());
                    out.extend(got);
                    prop_assert_eq!(q.has_ready(), !ready.is_empty());
                }
                Step::Forget(c) => {
                    let c = c as u32;
                    let queued = pending.contains(&c) || ready.contains(&c);
                    prop_assert_eq!(q.forget(|x| *x == c), queued);
                    if queued {
                        out.push(c);
                    }
                    pending.retain(|x| *x != c);
                    ready.retain(|x| *x != c);
                }
                Step::Backlog(b) => {
                    q.set_backlog(b);
                    backlog = b.max(0) as usize;
                }
                Step::Close => {
                    let [p, r] = q.take_all();
                    prop_assert_eq!(&p.0, &pending);
                    prop_assert_eq!(r.0.iter().copied().collect::<VecDeque<_>>(), ready.clone());
                    out.extend(p.0);
                    out.extend(r.0);
                    pending.clear();
                    ready.clear();
                }
            }
        }
        let [p, r] = q.take_all();
        out.extend(p.0);
        out.extend(r.0);
        out.sort();
        prop_assert_eq!(out, (0..next).collect::<Vec<_>>());
    }
}
