// SPDX-License-Identifier: GPL-2.0
//! A completion queue shared by many queue pairs never overflows: the claims and the
//! shared receives admitted never hold more places than the CQ has entries, against a
//! model of queue pairs that post, complete, flush and leave, and a shared receive
//! queue that is refilled; and every place returns when they are gone.

use infinisock_proto::{
    cq_room::{CqPartitions, CqRoom, QpClaim},
    errno::ENOSPC,
};
use proptest::prelude::*;

#[test]
fn a_claim_takes_its_queues_and_is_refused_whole() {
    let mut room = CqRoom::new(CqPartitions { send: 20, recv: 10 });
    let a = room.join(8, 4).unwrap();
    assert_eq!((a.send(), a.recv()), (8, 4));
    let b = room.join(8, 0).unwrap();
    // 16 of 20 send entries are taken: a third QP of 8 does not fit, and takes nothing.
    assert_eq!(room.join(8, 0), Err(ENOSPC));
    assert_eq!(room.send_load(), 16);
    // Receives: 4 claimed, 6 left for the shared queue.
    assert_eq!(room.shared_recv_room(), 6);
    room.shared_recvs_posted(6).unwrap();
    assert_eq!(room.shared_recvs_posted(1), Err(ENOSPC));
    // A QP with its own receive queue does not fit beside posted shared receives.
    assert_eq!(room.join(2, 2), Err(ENOSPC));
    assert_eq!(room.send_load(), 16);
    room.shared_recvs_dispatched(6);
    room.leave(a);
    room.leave(b);
    assert!(room.is_idle());
    assert_eq!(room.shared_recv_room(), 10);
}

#[test]
fn huge_queues_are_refused_not_wrapped() {
    let mut room = CqRoom::new(CqPartitions { send: u32::MAX, recv: u32::MAX });
    let a = room.join(u32::MAX, 0).unwrap();
    assert_eq!(room.join(1, 0), Err(ENOSPC));
    let b = room.join(0, u32::MAX).unwrap();
    assert_eq!(room.shared_recv_room(), 0);
    room.leave(a);
    room.leave(b);
    assert!(room.is_idle());
}

/// One queue pair of the model: places it holds on the CQ.
struct Qp {
    claim: QpClaim,
    /// Send queue and own receive queue, markers included.
    send_cap: u32,
    recv_cap: u32,
    /// Requests posted, not completed (on the device).
    send_posted: u32,
    recv_posted: u32,
    /// Flushing: posts nothing more; its markers are posted.
    draining: bool,
}

#[derive(Clone, Debug)]
enum Step {
    /// A QP with a send queue of `send` and (if `own_recv`) a receive queue of `recv`.
    Join { send: u32, recv: u32, own_recv: bool },
    /// QP `qp` posts up to `n` sends and `n` receives, as far as its places allow.
    Post { qp: usize, n: u32 },
    /// The device completes up to `n` requests, oldest QP first.
    Complete { n: u32 },
    /// The poller dispatches up to `n` completions.
    Dispatch { n: u32 },
    /// QP `qp` goes to the error state: everything posted, and its markers, complete.
    Flush { qp: usize },
    /// Up to `n` receives are posted to the shared receive queue.
    Refill { n: u32 },
    /// The peer fills up to `n` shared receives.
    Receive { n: u32 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u32..40, 1u32..40, any::<bool>()).prop_map(|(send, recv, own_recv)| Step::Join { send, recv, own_recv }),
        (0usize..8, 1u32..50).prop_map(|(qp, n)| Step::Post { qp, n }),
        (1u32..100).prop_map(|n| Step::Complete { n }),
        (1u32..100).prop_map(|n| Step::Dispatch { n }),
        (0usize..8).prop_map(|qp| Step::Flush { qp }),
        (1u32..100).prop_map(|n| Step::Refill { n }),
        (1u32..100).prop_map(|n| Step::Receive { n }),
    ]
}

/// A completion waiting on the CQ: whose it is (`None`: the shared receive queue's).
#[derive(Clone, Copy)]
struct Cqe {
    qp: Option<usize>,
    send: bool,
}

/// QP `i` goes to the error state: what it posted, and a marker on each of its own
/// queues, complete (flushed) onto the CQ, each holding its place until dispatched.
fn flush(i: usize, q: &mut Qp, held: &mut (u32, u32), cq: &mut Vec<Cqe>) {
    if q.draining {
        return;
    }
    q.draining = true;
    let markers = if q.recv_cap > 0 { (1, 1) } else { (1, 0) };
    held.0 += markers.0;
    held.1 += markers.1;
    for _ in 0..q.send_posted + markers.0 {
        cq.push(Cqe { qp: Some(i), send: true });
    }
    for _ in 0..q.recv_posted + markers.1 {
        cq.push(Cqe { qp: Some(i), send: false });
    }
    q.send_posted = 0;
    q.recv_posted = 0;
}

proptest! {
    #[test]
    fn the_cq_never_overflows(
        send in 1u32..200,
        recv in 1u32..200,
        steps in prop::collection::vec(step(), 1..300),
    ) {
        let parts = CqPartitions { send, recv };
        let mut room = CqRoom::new(parts);
        let mut qps: Vec<Option<Qp>> = Vec::new();
        let mut cq: Vec<Cqe> = Vec::new();
        // Shared receives posted, not yet filled by the peer.
        let mut srq_posted = 0u32;
        // Places held per QP (posted, or completed and not dispatched), as the owner counts.
        let mut held: Vec<(u32, u32)> = Vec::new();
        for s in steps {
            match s {
                Step::Join { send, recv, own_recv } => {
                    let recv = if own_recv { recv } else { 0 };
                    if let Ok(claim) = room.join(send, recv) {
                        qps.push(Some(Qp { claim, send_cap: send, recv_cap: recv, send_posted: 0, recv_posted: 0, draining: false }));
                        held.push((0, 0));
                    }
                }
                Step::Post { qp, n } => {
                    if let Some(Some(q)) = qps.get_mut(qp) {
                        if !q.draining {
                            // Work requests, leaving one place for the marker.
                            let sends = n.min(q.send_cap - 1 - held[qp].0);
                            q.send_posted += sends;
                            held[qp].0 += sends;
                            if q.recv_cap > 0 {
                                let recvs = n.min(q.recv_cap - 1 - held[qp].1);
                                q.recv_posted += recvs;
                                held[qp].1 += recvs;
                            }
                        }
                    }
                }
                Step::Complete { mut n } => {
                    for (i, q) in qps.iter_mut().enumerate() {
                        let Some(q) = q else { continue };
                        while n > 0 && q.send_posted > 0 {
                            q.send_posted -= 1;
                            cq.push(Cqe { qp: Some(i), send: true });
                            n -= 1;
                        }
                        while n > 0 && q.recv_posted > 0 {
                            q.recv_posted -= 1;
                            cq.push(Cqe { qp: Some(i), send: false });
                            n -= 1;
                        }
                    }
                }
                Step::Dispatch { n } => {
                    for c in cq.drain(..(n as usize).min(cq.len())).collect::<Vec<_>>() {
                        match c.qp {
                            None => room.shared_recvs_dispatched(1),
                            Some(i) => {
                                let h = &mut held[i];
                                if c.send { h.0 -= 1 } else { h.1 -= 1 }
                                // The last marker dispatched: the QP leaves.
                                let q = qps[i].as_ref().unwrap();
                                if q.draining && *h == (0, 0) {
                                    room.leave(qps[i].take().unwrap().claim);
                                }
                            }
                        }
                    }
                }
                Step::Flush { qp } => {
                    if let Some(Some(q)) = qps.get_mut(qp) {
                        flush(qp, q, &mut held[qp], &mut cq);
                    }
                }
                Step::Refill { n } => {
                    let n = n.min(room.shared_recv_room());
                    room.shared_recvs_posted(n).unwrap();
                    srq_posted += n;
                }
                Step::Receive { n } => {
                    let n = n.min(srq_posted);
                    srq_posted -= n;
                    for _ in 0..n {
                        cq.push(Cqe { qp: None, send: false });
                    }
                }
            }
            // What the device may complete at once never exceeds the CQ.
            let sends_held: u32 = held.iter().map(|h| h.0).sum::<u32>()
                + qps.iter().flatten().filter(|q| !q.draining).count() as u32;
            let recvs_held: u32 = held.iter().map(|h| h.1).sum::<u32>()
                + qps.iter().flatten().filter(|q| !q.draining && q.recv_cap > 0).count() as u32
                + srq_posted
                + cq.iter().filter(|c| c.qp.is_none()).count() as u32;
            prop_assert!(cq.len() as u32 <= parts.cqes());
            prop_assert!(sends_held <= parts.send, "{} sends may complete, {} entries", sends_held, parts.send);
            prop_assert!(recvs_held <= parts.recv, "{} receives may complete, {} entries", recvs_held, parts.recv);
        }
        // Everything flushed and dispatched: every place is back.
        for i in 0..qps.len() {
            if let Some(q) = qps[i].as_mut() {
                flush(i, q, &mut held[i], &mut cq);
            }
        }
        for _ in 0..srq_posted {
            cq.push(Cqe { qp: None, send: false });
        }
        for c in cq.drain(..).collect::<Vec<_>>() {
            match c.qp {
                None => room.shared_recvs_dispatched(1),
                Some(i) => {
                    let h = &mut held[i];
                    if c.send { h.0 -= 1 } else { h.1 -= 1 }
                    if *h == (0, 0) {
                        if let Some(q) = qps[i].take() {
                            room.leave(q.claim);
                        }
                    }
                }
            }
        }
        prop_assert!(room.is_idle());
        prop_assert_eq!(room.send_load(), 0);
        prop_assert_eq!(room.shared_recv_room(), parts.recv);
    }
}
