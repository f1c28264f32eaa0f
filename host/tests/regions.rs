// SPDX-License-Identifier: GPL-2.0
//! Registered regions: handles, the limit, `EINVAL`/`EBUSY`/`EPIPE`/`ENOBUFS`, and
//! revocation; every registration is dropped (deregistered) exactly once.

mod common;

use common::{CappedLists, Wc};
use infinisock_proto::{
    errno::*,
    rdma::{Access, MrRequest, RdmaOp},
    rdma_ops::{Local, OpQueue},
    regions::{RegionTable, MAX_REGIONS},
    HostLists,
};
use proptest::prelude::*;
use std::{cell::RefCell, rc::Rc};

/// A registration that records its deregistration.
struct Mr(u32, Rc<RefCell<Vec<u32>>>);

impl Drop for Mr {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

const RW: Access = Access { remote_read: true, remote_write: true, local_write: true };
const RO: Access = Access { remote_read: true, remote_write: false, local_write: false };

/// The region an operation on `[addr, addr + len)` would use, as `af_ib::rdma` finds it.
fn serving<L: infinisock_proto::list::Lists>(
    t: &mut RegionTable<L, Mr>,
    addr: u64,
    len: u64,
    op: RdmaOp,
) -> Option<&mut infinisock_proto::regions::Region<Mr>> {
    let at = t.find(addr, len, op)?;
    t.get_mut(at)
}

fn req(addr: u64, len: u64, access: Access) -> MrRequest {
    MrRequest { addr, len, access }
}

#[test]
fn handles_are_new_and_unknown_handles_are_einval() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<HostLists, Mr>::default();
    let a = t.add(Mr(1, gone.clone()), &req(0x1000, 4096, RW)).unwrap();
    let b = t.add(Mr(2, gone.clone()), &req(0x3000, 4096, RW)).unwrap();
    assert!(a != 0 && b != 0 && a != b);
    assert_eq!(t.deregister(a).map(|m| m.0), Ok(1));
    assert_eq!(t.deregister(a).err(), Some(EINVAL));
    assert_eq!(t.deregister(0).err(), Some(EINVAL));
    let c = t.add(Mr(3, gone.clone()), &req(0x1000, 4096, RW)).unwrap();
    assert!(c != a, "a handle is never reused");
    assert_eq!(*gone.borrow(), vec![1]);
}

#[test]
fn a_region_in_use_is_ebusy_until_its_operation_is_over() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<HostLists, Mr>::default();
    let mut ops = OpQueue::<HostLists, Wc>::default();
    let h = t.add(Mr(1, gone.clone()), &req(0x1000, 8192, RW)).unwrap();
    let r = serving(&mut t, 0x1800, 100, RdmaOp::Write).unwrap();
    assert_eq!(r.hold(), h);
    ops.reserve().unwrap();
    ops.posted(9, 100, 1, Local::Region(h));
    assert_eq!(t.deregister(h).err(), Some(EBUSY));
    assert!(t.forget(h).is_none(), "an operation uses it");
    assert_eq!(ops.retire(Wc::Ok(0), &mut t).map(|r| (r.token, r.len)), Some((9, 100)));
    assert!(t.deregister(h).is_ok());
    assert_eq!(*gone.borrow(), vec![1]);
}

#[test]
fn an_operation_needs_a_region_around_its_buffer_with_its_rights() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<HostLists, Mr>::default();
    t.add(Mr(1, gone.clone()), &req(0x1000, 4096, RO)).unwrap();
    assert!(serving(&mut t, 0x1000, 4096, RdmaOp::Write).is_some());
    assert!(serving(&mut t, 0x1000, 4097, RdmaOp::Write).is_none());
    assert!(serving(&mut t, 0xfff, 2, RdmaOp::Write).is_none());
    // A READ lands in the region: it needs local write.
    assert!(serving(&mut t, 0x1000, 16, RdmaOp::Read).is_none());
    assert!(serving(&mut t, u64::MAX - 1, 16, RdmaOp::Write).is_none());
}

#[test]
fn the_table_is_bounded() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<HostLists, Mr>::default();
    for i in 0..MAX_REGIONS {
        t.add(Mr(i as u32, gone.clone()), &req(0x1000, 1, RW)).unwrap();
    }
    assert_eq!(t.may_register(), Err(ENOBUFS));
    assert_eq!(t.add(Mr(0, gone.clone()), &req(0x1000, 1, RW)).err(), Some(ENOBUFS));
    // The refused registration is dropped (deregistered) at once.
    assert_eq!(gone.borrow().len(), 1);
}

#[test]
fn without_memory_a_registration_is_refused_and_dropped() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<CappedLists<1>, Mr>::default();
    let h = t.add(Mr(1, gone.clone()), &req(0x1000, 1, RW)).unwrap();
    assert_eq!(t.add(Mr(2, gone.clone()), &req(0x1000, 1, RW)).err(), Some(ENOMEM));
    assert_eq!(*gone.borrow(), vec![2]);
    // The handle was not spent.
    t.deregister(h).unwrap();
    assert_eq!(t.add(Mr(3, gone.clone()), &req(0x1000, 1, RW)), Ok(h + 1));
}

#[test]
fn revocation_closes_idle_regions_now_and_busy_ones_when_their_operation_ends() {
    let gone = Rc::new(RefCell::new(Vec::new()));
    let mut t = RegionTable::<HostLists, Mr>::default();
    let mut ops = OpQueue::<HostLists, Wc>::default();
    t.add(Mr(1, gone.clone()), &req(0x1000, 4096, RW)).unwrap();
    let busy = t.add(Mr(2, gone.clone()), &req(0x9000, 4096, RW)).unwrap();
    serving(&mut t, 0x9000, 1, RdmaOp::Read).unwrap().hold();
    ops.reserve().unwrap();
    ops.posted(1, 1, 1, Local::Region(busy));
    t.revoke();
    assert!(t.revoked());
    assert_eq!(*gone.borrow(), vec![1]);
    assert_eq!(t.may_register(), Err(EPIPE));
    assert_eq!(t.add(Mr(3, gone.clone()), &req(0x1000, 1, RW)).err(), Some(EPIPE));
    assert_eq!(*gone.borrow(), vec![1, 3]);
    ops.retire(Wc::Flushed(0), &mut t);
    assert_eq!(*gone.borrow(), vec![1, 3, 2]);
    assert!(t.is_empty());
}

#[derive(Clone, Debug)]
enum Step {
    Register,
    Deregister(u64),
    Post(usize),
    Complete,
    Forget(u64),
    Revoke,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Register),
        2 => (0u64..12).prop_map(Step::Deregister),
        3 => (0usize..12).prop_map(Step::Post),
        3 => Just(Step::Complete),
        1 => (0u64..12).prop_map(Step::Forget),
        1 => Just(Step::Revoke),
    ]
}

proptest! {
    /// Whatever the program and the device do, a registration is dropped exactly once,
    /// never while an operation in flight uses it, and every region is gone once
    /// revoked and idle.
    #[test]
    fn registrations_are_dropped_once_and_never_in_use(steps in proptest::collection::vec(step(), 0..150)) {
        let gone = Rc::new(RefCell::new(Vec::new()));
        let mut t = RegionTable::<CappedLists<8>, Mr>::default();
        let mut ops = OpQueue::<CappedLists<8>, Wc>::default();
        let mut made = 0u32;
        // Handles with operations in flight, oldest first.
        let mut in_use: Vec<u64> = Vec::new();
        for s in steps {
            match s {
                Step::Register => {
                    made += 1;
                    let res = t.add(Mr(made, gone.clone()), &req(u64::from(made) << 12, 4096, RW));
                    if res.is_err() {
                        prop_assert!(gone.borrow().contains(&made));
                    }
                }
                Step::Deregister(h) | Step::Forget(h) => {
                    let forget = matches!(s, Step::Forget(_));
                    let before = gone.borrow().len();
                    let res = if forget { t.forget(h).ok_or(EINVAL) } else { t.deregister(h) };
                    if let Ok(m) = res {
                        prop_assert!(!in_use.contains(&h));
                        drop(m);
                        prop_assert_eq!(gone.borrow().len(), before + 1);
                    } else if in_use.contains(&h) && !forget {
                        prop_assert_eq!(res.err(), Some(EBUSY));
                    }
                }
                Step::Post(i) => {
                    let addr = ((i as u64 % 12) + 1) << 12;
                    if ops.reserve().is_err() {
                        continue;
                    }
                    if let Some(r) = serving(&mut t, addr, 64, RdmaOp::Write) {
                        let h = r.hold();
                        ops.posted(h, 64, 1, Local::Region(h));
                        in_use.push(h);
                    }
                }
                Step::Complete => {
                    let report = ops.retire(Wc::Ok(0), &mut t);
                    prop_assert_eq!(report.map(|r| r.token), in_use.first().copied());
                    if !in_use.is_empty() {
                        in_use.remove(0);
                    }
                }
                Step::Revoke => t.revoke(),
            }
            let dropped = gone.borrow().clone();
            let mut sorted = dropped.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), dropped.len(), "a registration dropped twice");
            prop_assert_eq!(ops.requests() as usize, in_use.len());
            if t.revoked() {
                prop_assert!(t.len() <= in_use.len());
            }
        }
        drop(ops);
        drop(t);
        prop_assert_eq!(gone.borrow().len() as u32, made);
    }
}
