// SPDX-License-Identifier: GPL-2.0
//! One-sided RDMA arguments: what is accepted, what is EINVAL, and the layouts.

use infinisock_proto::errno::{EINVAL, EMSGSIZE};
use infinisock_proto::rdma::*;
use proptest::prelude::*;

fn mr_reg(addr: u64, len: u64, access: u32) -> [u8; MR_REG_LEN] {
    let mut raw = [0; MR_REG_LEN];
    raw[0..8].copy_from_slice(&addr.to_ne_bytes());
    raw[8..16].copy_from_slice(&len.to_ne_bytes());
    raw[16..20].copy_from_slice(&access.to_ne_bytes());
    raw
}

fn rdma(remote: u64, rkey: u32, op: u32, token: u64, imm: u32, flags: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&remote.to_ne_bytes());
    v.extend_from_slice(&rkey.to_ne_bytes());
    v.extend_from_slice(&op.to_ne_bytes());
    v.extend_from_slice(&token.to_ne_bytes());
    v.extend_from_slice(&imm.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v
}

#[test]
fn registration_requests() {
    let r = parse_mr_reg(&mr_reg(0x1000, 4096, ACCESS_REMOTE_READ)).unwrap();
    assert_eq!(r.access, Access { remote_read: true, remote_write: false, local_write: false });
    let rw = parse_mr_reg(&mr_reg(0x1000, 1, 3)).unwrap().access;
    assert!(rw.remote_write && rw.local_write, "remote write implies local write");
    let local = parse_mr_reg(&mr_reg(0x1000, 1, ACCESS_LOCAL_WRITE)).unwrap().access;
    assert_eq!(local, Access { remote_read: false, remote_write: false, local_write: true });
    assert_eq!(parse_mr_reg(&mr_reg(0x1000, 0, 1)), Err(EINVAL));
    assert_eq!(parse_mr_reg(&mr_reg(u64::MAX, 2, 1)), Err(EINVAL));
    assert_eq!(parse_mr_reg(&mr_reg(0x1000, 1, 0)), Err(EINVAL));
    assert_eq!(parse_mr_reg(&mr_reg(0x1000, 1, 8)), Err(EINVAL));
    let mut raw = mr_reg(0x1000, 1, 1);
    encode_mr_reg(&mut raw, 0xabcd, 7);
    assert_eq!(&raw[20..24], &0xabcdu32.to_ne_bytes());
    assert_eq!(&raw[24..32], &7u64.to_ne_bytes());
    // The inputs are left as they were.
    assert_eq!(parse_mr_reg(&raw).unwrap().addr, 0x1000);
}

#[test]
fn rdma_arguments() {
    let a = parse_rdma_args(&rdma(0x2000, 9, 1, 42, 0, 0)).unwrap();
    assert_eq!(a, RdmaArgs { remote_addr: 0x2000, rkey: 9, op: RdmaOp::Write, token: 42, in_region: false });
    assert!(parse_rdma_args(&rdma(0x2000, 9, 1, 42, 0, RDMA_FLAG_REGION)).unwrap().in_region);
    assert_eq!(parse_rdma_args(&rdma(0, 0, 2, 0, 0, 0)).unwrap().op, RdmaOp::Read);
    assert_eq!(parse_rdma_args(&rdma(0, 0, 3, 0, 77, 0)).unwrap().op, RdmaOp::WriteImm(77));
    assert_eq!(parse_rdma_args(&rdma(0, 0, 0, 0, 0, 0)), Err(EINVAL));
    assert_eq!(parse_rdma_args(&rdma(0, 0, 4, 0, 0, 0)), Err(EINVAL));
    assert_eq!(parse_rdma_args(&rdma(0, 0, 1, 0, 0, 2)), Err(EINVAL));
    assert_eq!(parse_rdma_args(&rdma(0, 0, 1, 0, 0, 0x8000_0001)), Err(EINVAL));
    assert_eq!(parse_rdma_args(&rdma(0, 0, 1, 0, 0, 0)[..31]), Err(EINVAL));
    let mut long = rdma(0, 0, 1, 0, 0, 0);
    long.push(0);
    assert_eq!(parse_rdma_args(&long), Err(EINVAL));
    assert_eq!(check_rdma_request(&a, MAX_RDMA_LEN, false), Ok(()));
    assert_eq!(check_rdma_request(&a, MAX_RDMA_LEN + 1, false), Err(EMSGSIZE));
    let high = RdmaArgs { remote_addr: u64::MAX - 1, ..a };
    assert_eq!(check_rdma_request(&high, 2, false), Err(EINVAL));
    // A write with immediate needs a message socket, where its data arrives.
    let imm = RdmaArgs { op: RdmaOp::WriteImm(7), ..a };
    assert_eq!(check_rdma_request(&imm, 8, true), Ok(()));
    assert_eq!(check_rdma_request(&imm, 8, false), Err(infinisock_proto::errno::EOPNOTSUPP));
}

#[test]
fn local_regions() {
    let ro = Access { remote_read: true, remote_write: false, local_write: false };
    let lw = Access { local_write: true, ..ro };
    // Inside, at both edges, and the whole region.
    assert!(region_serves(0x1000, 0x1000, ro, 0x1000, 0x1000, RdmaOp::Write));
    assert!(region_serves(0x1000, 0x1000, ro, 0x1fff, 1, RdmaOp::WriteImm(3)));
    assert!(region_serves(0x1000, 0x1000, ro, 0x1800, 0, RdmaOp::Write));
    // One byte out on either side.
    assert!(!region_serves(0x1000, 0x1000, ro, 0xfff, 2, RdmaOp::Write));
    assert!(!region_serves(0x1000, 0x1000, ro, 0x1fff, 2, RdmaOp::Write));
    // Wrapping ranges are outside.
    assert!(!region_serves(0x1000, 0x1000, ro, u64::MAX, 2, RdmaOp::Write));
    assert!(!region_serves(u64::MAX - 1, 8, ro, u64::MAX, 1, RdmaOp::Write));
    // A READ writes its local buffer: only into a region the program may write.
    assert!(!region_serves(0x1000, 0x1000, ro, 0x1000, 8, RdmaOp::Read));
    assert!(region_serves(0x1000, 0x1000, lw, 0x1000, 8, RdmaOp::Read));
}

#[test]
fn completion_layouts() {
    let s = encode_status(0x0102030405060708, 13, 4096);
    assert_eq!(&s[0..8], &0x0102030405060708u64.to_ne_bytes());
    assert_eq!(&s[8..12], &13u32.to_ne_bytes());
    assert_eq!(&s[12..16], &4096u32.to_ne_bytes());
    assert_eq!(encode_imm(5, 6), [5u32.to_ne_bytes(), 6u32.to_ne_bytes()].concat()[..]);
}

proptest! {
    #[test]
    fn parsers_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_rdma_args(&raw);
        let mut mr = [0u8; MR_REG_LEN];
        for (d, s) in mr.iter_mut().zip(raw.iter()) {
            *d = *s;
        }
        if let Ok(r) = parse_mr_reg(&mr) {
            prop_assert!(r.len > 0 && r.addr.checked_add(r.len).is_some());
            // At least one right: a local-write-only region is the local side of READs.
            prop_assert!(r.access.remote_read || r.access.remote_write || r.access.local_write);
        }
    }
}

mod op_account {
    use infinisock_proto::rdma::{worst_requests, OpFailure, RdmaOp, RequestStatus};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum St {
        Ok,
        Flushed,
        Failed(u32),
    }

    impl RequestStatus for St {
        fn ok(&self) -> bool {
            *self == St::Ok
        }
        fn flushed(&self) -> bool {
            *self == St::Flushed
        }
        fn peer_silent(&self) -> bool {
            false
        }
    }

    #[test]
    fn worst_case_requests() {
        assert_eq!(worst_requests(RdmaOp::Write, true, 100, 4), 1);
        assert_eq!(worst_requests(RdmaOp::Read, false, 9, 4), 3);
        assert_eq!(worst_requests(RdmaOp::Write, false, 8, 4), 2);
        assert_eq!(worst_requests(RdmaOp::Write, false, 0, 4), 1);
        assert_eq!(worst_requests(RdmaOp::WriteImm(7), false, 1, 4), 9);
        assert_eq!(worst_requests(RdmaOp::Write, false, 3, 0), 3);
    }

    #[test]
    fn a_clean_operation_reports_its_last_completion() {
        let f = OpFailure::<St>::default();
        assert!(!f.reported());
        assert_eq!(f.finished(St::Ok), Some(St::Ok));
    }

    #[test]
    fn a_failure_is_reported_at_once_and_only_once() {
        let mut f = OpFailure::default();
        assert_eq!(f.part_failed(St::Failed(10)), Some(St::Failed(10)));
        assert!(f.reported());
        // The flushes after it, and the last request's, report nothing more.
        assert_eq!(f.part_failed(St::Flushed), None);
        assert_eq!(f.part_failed(St::Failed(12)), None);
        assert_eq!(f.finished(St::Flushed), None);
    }

    #[test]
    fn a_flush_waits_and_gives_way_to_a_real_failure() {
        let mut f = OpFailure::default();
        assert_eq!(f.part_failed(St::Flushed), None);
        assert!(!f.reported());
        assert_eq!(f.finished(St::Flushed), Some(St::Flushed));
        let mut g = OpFailure::default();
        assert_eq!(g.part_failed(St::Flushed), None);
        assert_eq!(g.part_failed(St::Failed(9)), Some(St::Failed(9)));
        assert_eq!(g.finished(St::Flushed), None);
        // A flush of an earlier request is what the operation reports when its last
        // request then completes.
        let mut h = OpFailure::default();
        h.part_failed(St::Flushed);
        assert_eq!(h.finished(St::Ok), Some(St::Flushed));
    }
}

mod admission {
    use infinisock_proto::errno::{EMSGSIZE, EOPNOTSUPP};
    use infinisock_proto::rdma::{admit, error_queue_full, Admission, RdmaOp, MAX_COMPLETIONS, RDMA_REQUESTS};

    #[test]
    fn an_operation_that_can_never_fit_is_too_big() {
        assert_eq!(admit(RdmaOp::Write, RDMA_REQUESTS + 1, 0, true, 16), Err(EMSGSIZE));
        assert_eq!(admit(RdmaOp::Write, RDMA_REQUESTS, 0, false, 16), Ok(Admission::Post));
    }

    #[test]
    fn an_operation_waits_for_room_on_the_send_queue() {
        assert_eq!(admit(RdmaOp::Read, 10, RDMA_REQUESTS - 10, false, 16), Ok(Admission::Post));
        assert_eq!(admit(RdmaOp::Read, 10, RDMA_REQUESTS - 9, false, 16), Ok(Admission::Wait));
    }

    #[test]
    fn a_write_with_immediate_waits_for_a_credit() {
        assert_eq!(admit(RdmaOp::WriteImm(1), 2, 0, false, 16), Ok(Admission::Wait));
        assert_eq!(admit(RdmaOp::WriteImm(1), 2, 0, true, 16), Ok(Admission::Post));
        assert_eq!(admit(RdmaOp::Write, 2, 0, false, 16), Ok(Admission::Post));
    }

    #[test]
    fn a_read_needs_a_peer_that_serves_reads() {
        // The peer offered no responder resources: the device would never send it.
        assert_eq!(admit(RdmaOp::Read, 1, 0, true, 0), Err(EOPNOTSUPP));
        assert_eq!(admit(RdmaOp::Read, 1, 0, true, 1), Ok(Admission::Post));
        // Writes need none.
        assert_eq!(admit(RdmaOp::Write, 1, 0, true, 0), Ok(Admission::Post));
        assert_eq!(admit(RdmaOp::WriteImm(1), 1, 0, true, 0), Ok(Admission::Post));
    }

    #[test]
    fn the_error_queue_has_a_place_for_every_operation_in_flight() {
        assert!(!error_queue_full(MAX_COMPLETIONS - 11, 10));
        assert!(error_queue_full(MAX_COMPLETIONS - 10, 10));
        assert!(error_queue_full(0, MAX_COMPLETIONS));
    }
}
