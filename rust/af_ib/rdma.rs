// SPDX-License-Identifier: GPL-2.0

//! One-sided RDMA through the socket API (AF_IB): regions of its memory a program
//! registers for the peer (`INFINISOCK_MR_REG`), RDMA WRITE and READ posted by
//! `sendmsg` with an `INFINISOCK_CMSG_RDMA` control message on the program's own
//! pages, and their completions on the socket's error queue.
//!
//! Everything lives on the connection's link: regions in its PD, operations on its QP
//! beside the SDP traffic (`RDMA_REQUESTS` send-queue entries are theirs). An
//! operation's local side is either its iovec, pinned for it until all of its
//! requests have completed, or (`INFINISOCK_RDMA_REGION`) a region the program
//! registered, used as it is, one request and one SGE, and kept registered meanwhile.
//! Only an operation's last request is signaled; the send CQ completes requests in
//! posting order, so the oldest operation is always the one a completion belongs to,
//! and an earlier request reports itself only when it fails or is flushed. A write
//! with immediate is always one request (the peer learns its length from it); where
//! its pages need more SGEs than a request takes, regions registered for the
//! operation cover runs of them.

use crate::kernel_api::log::{pr_info_ratelimited, pr_warn_ratelimited};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    kernel_api::{qp::RdmaVerb, sock::Msg, verbs::{Cqe, UserMr, Wc}},
    link::{link::{Link, WrKind}, rdma::{Completion, Local, Op, Rdma, Region, MAX_REGIONS}},
    proto::{
        abi::{MSG_CTRUNC, POLLERR, SOL_INFINISOCK},
        errno::Errno,
        rdma::{
            check_rdma_len, encode_mr_reg, encode_status, parse_mr_reg, parse_rdma_args,
            region_serves, worst_requests, admit, error_queue_full, Admission, OpFailure, RdmaArgs, RdmaOp, CMSG_RDMA, CMSG_RDMA_STATUS, MR_REG_LEN,
            RDMA_STATUS_LEN,
        },
    },
    sdp::{endpoint::{EpRef, Inner, Phase, RdmaOps}, tx::{send_error, sendable}},
};


/// How often one `sendmsg` puts its pages in place for a pin that then finds them
/// gone again (memory pressure) before it fails with `EFAULT`.
const MAX_PIN_RETRIES: u32 = 3;

static RDMA_CQE: Cqe = WrKind::Rdma.cqe();
static RDMA_PART_CQE: Cqe = WrKind::RdmaPart.cqe();

/// The link of a connected socket, for registering and posting.
fn connected_link(inner: &mut Inner) -> Result<&mut Link> {
    match (inner.phase, inner.link.as_mut()) {
        (Phase::Connected, Some(link)) if !link.stream.qp_dead => Ok(link),
        _ => Err(ENOTCONN),
    }
}

/// `INFINISOCK_MR_REG`: registers the caller's buffer; writes back rkey and handle.
pub(crate) fn register(ep: EpRef<'_>, arg: usize) -> Result {
    let (mut reader, mut writer) = UserSlice::new(UserPtr::from_addr(arg), MR_REG_LEN).reader_writer();
    let mut raw = [0u8; MR_REG_LEN];
    reader.read_slice(&mut raw)?;
    let req = parse_mr_reg(&raw).map_err(Errno::into_error)?;
    // The registration pins the pages with the endpoint's lock held: faulted in first,
    // without it, a fault userspace controls stalls only this call.
    UserMr::fault_in(req.addr, req.len, req.access)?;
    let handle = {
        let mut inner = ep.lock();
        let link = connected_link(&mut inner)?;
        if link.rdma.revoked {
            return Err(EPIPE);
        }
        if link.rdma.regions.len() >= MAX_REGIONS {
            return Err(ENOBUFS);
        }
        let mr = Arc::new(UserMr::register(link.qp.pd(), req.addr, req.len, req.access)?, GFP_KERNEL)?;
        let handle = link.rdma.next_handle;
        encode_mr_reg(&mut raw, mr.rkey(), handle);
        let region = Region { handle, mr, addr: req.addr, len: req.len, access: req.access, users: 0 };
        link.rdma.regions.push(region, GFP_KERNEL)?;
        link.rdma.next_handle += 1;
        handle
    };
    // Written back without the lock (a user copy may fault). Nothing is kept for a
    // caller that cannot learn its handle.
    if let Err(e) = writer.write_slice(&raw) {
        let mut inner = ep.lock();
        if let Some(link) = inner.link.as_mut() {
            if let Some(at) = link.rdma.regions.iter().position(|r| r.handle == handle && r.users == 0) {
                drop(link.rdma.regions.remove(at));
            }
        }
        return Err(e);
    }
    Ok(())
}

/// `INFINISOCK_MR_DEREG`: unregisters and unpins a region; `EINVAL` for a handle
/// this socket does not have, `EBUSY` while an operation uses it as its local side.
pub(crate) fn deregister(ep: EpRef<'_>, arg: usize) -> Result {
    let mut raw = [0u8; 8];
    UserSlice::new(UserPtr::from_addr(arg), 8).reader().read_slice(&mut raw)?;
    let handle = u64::from_ne_bytes(raw);
    let mut inner = ep.lock();
    let link = inner.link.as_mut().ok_or(EINVAL)?;
    let at = link.rdma.regions.iter().position(|r| r.handle == handle).ok_or(EINVAL)?;
    if link.rdma.regions[at].users > 0 {
        return Err(EBUSY);
    }
    drop(link.rdma.regions.remove(at)?);
    Ok(())
}

/// The operation a `sendmsg`'s control messages ask for: `None` without any, `EINVAL`
/// for any other control message, a second one, or a malformed one.
pub(crate) fn requested(msg: &mut Msg) -> Result<Option<RdmaArgs>> {
    let mut found = None;
    for cmsg in msg.cmsgs() {
        let (level, kind, data) = cmsg?;
        if level != SOL_INFINISOCK || kind != CMSG_RDMA || found.is_some() {
            return Err(EINVAL);
        }
        found = Some(parse_rdma_args(data).map_err(Errno::into_error)?);
    }
    Ok(found)
}

/// `sendmsg` with an RDMA operation: posts it on the `len` bytes of the message's
/// iovec, waiting for send-queue room (and, for a write with immediate, a credit)
/// unless non-blocking. Returns `len` once posted.
pub(crate) fn sendmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, args: RdmaArgs, nonblock: bool) -> Result<usize> {
    let flags = msg.flags();
    check_rdma_len(&args, len).map_err(Errno::into_error)?;
    if matches!(args.op, RdmaOp::WriteImm(_)) && !ep.is_seqpacket {
        // Its immediate data arrives as a message: streams have none.
        return Err(EOPNOTSUPP);
    }
    let nonblock = nonblock || flags & crate::proto::abi::MSG_DONTWAIT != 0;
    let mut timeo = ep.sk.sndtimeo(nonblock);
    // Pins that found pages missing right after they were put in place.
    let mut retries = 0;
    let mut guard = ep.lock_reaped();
    loop {
        let inner = &mut *guard;
        sendable(ep, inner).map_err(|e| send_error(e, flags))?;
        // Each operation in flight will add one record.
        let in_flight = inner.link.as_ref().map_or(0, |l| l.rdma.ops.len());
        if error_queue_full(inner.completions.len(), in_flight) {
            return Err(ENOBUFS);
        }
        if inner.phase == Phase::Connected {
            let link = connected_link(inner)?;
            let max_sge = if args.op == RdmaOp::Read { link.rdma.read_sge } else { link.rdma.send_sge };
            let side = if args.in_region { local_region(&link.rdma, msg, len, args.op)? } else { LocalSide::Iovec };
            let in_region = matches!(side, LocalSide::Region { .. });
            let pages = if in_region { 0 } else { msg.pages(len) };
            let worst = worst_requests(args.op, in_region, pages, max_sge);
            let data_credit = link.stream.credits.as_ref().is_some_and(|c| c.available_for_data() > 0);
            let admission = admit(args.op, worst, link.rdma.requests, data_credit).map_err(Errno::into_error)?;
            if admission == Admission::Post {
                match post(ep, inner, msg, len, args, max_sge, side) {
                    // The pin found a page missing (or shared since a fork()): put in
                    // place without the lock (a fault userspace controls must not
                    // hold the endpoint), then the state is looked at again. Missing
                    // again and again right after: memory pressure takes them faster
                    // than we pin.
                    Err(e) if e == EFAULT && retries < MAX_PIN_RETRIES => {
                        drop(guard);
                        msg.prepin(len, args.op == RdmaOp::Read)?;
                        retries += 1;
                        guard = ep.lock_reaped();
                        continue;
                    }
                    res => return res,
                }
            }
        }
        ep.wait(&mut guard, &mut timeo)?;
    }
}

/// Where a requested operation's local bytes are, before it is posted.
#[derive(Clone, Copy)]
enum LocalSide {
    /// In its iovec.
    Iovec,
    /// At `addr` in the registered region `regions[at]`.
    Region { at: usize, addr: u64 },
}

/// The registered region an `INFINISOCK_RDMA_REGION` operation's local buffer lies
/// in: `EINVAL` unless the buffer is one iovec segment inside a region with the
/// rights the operation needs.
fn local_region(rdma: &Rdma, msg: &mut Msg, len: usize, op: RdmaOp) -> Result<LocalSide> {
    let addr = msg.user_span(len).ok_or(EINVAL)?;
    rdma.regions
        .iter()
        .position(|r| region_serves(r.addr, r.len, r.access, addr, len as u64, op))
        .map(|at| LocalSide::Region { at, addr })
        .ok_or(EINVAL)
}

/// A write with immediate fills one of the peer's receive buffers without a header:
/// it takes a credit (there is one: the caller checked).
fn take_imm_credit(link: &mut Link, op: RdmaOp) -> Result {
    if let RdmaOp::WriteImm(_) = op {
        link.stream.credits.as_mut().ok_or(ENOTCONN)?.send_headerless().map_err(|_| EAGAIN)?;
    }
    Ok(())
}

/// Posts the operation's requests (room and credit are there) on its region's
/// bytes, or on its iovec's pages pinned here.
fn post(
    ep: EpRef<'_>,
    inner: &mut Inner,
    msg: &mut Msg,
    len: usize,
    args: RdmaArgs,
    max_sge: u32,
    side: LocalSide,
) -> Result<usize> {
    let link = connected_link(inner)?;
    let (verb, device_writes) = match args.op {
        RdmaOp::Write => (RdmaVerb::Write, false),
        RdmaOp::Read => (RdmaVerb::Read, true),
        RdmaOp::WriteImm(imm) => (RdmaVerb::WriteImm(imm), false),
    };
    let remote = (args.remote_addr, args.rkey);
    link.rdma.ops.reserve(1, GFP_KERNEL)?;
    // A place on the error queue for every operation in flight, this one included.
    let places = link.rdma.ops.len() + 1;
    inner.completions.reserve(places)?;
    let link = connected_link(inner)?;
    let (local, posted, res) = match side {
        LocalSide::Region { at, addr } => {
            take_imm_credit(link, args.op)?;
            let r = &mut link.rdma.regions[at];
            // `users` counts the operation until its request completes, for `EBUSY`.
            let res = link.qp.post_rdma_region(&RDMA_CQE, &r.mr, (addr, len as u32), verb, remote);
            if res.is_ok() {
                r.users += 1;
            }
            (Local::Region(r.handle), u32::from(res.is_ok()), res)
        }
        LocalSide::Iovec => {
            let one_request = matches!(args.op, RdmaOp::WriteImm(_)).then_some(max_sge);
            let buf = link.qp.pin(msg, len, device_writes, one_request)?;
            take_imm_credit(link, args.op)?;
            // The queue pair keeps the pages until the device is done with them.
            let (posted, res) = link.qp.post_rdma((&RDMA_CQE, &RDMA_PART_CQE), buf, verb, remote, max_sge);
            (Local::Pinned, posted, res)
        }
    };
    if posted > 0 {
        link.rdma.requests += posted;
        // Capacity was reserved above.
        let _ = link.rdma.ops.push_within_capacity(Op {
            token: args.token,
            len: len as u32,
            requests: posted,
            failure: OpFailure::default(),
            local,
        });
    }
    if let Err(e) = res {
        // The send queue refused a request it had room for: the QP is broken.
        pr_warn_ratelimited!("AF_IB: posting an RDMA operation failed ({:?}); connection reset\n", e);
        ep.fail(inner, ECONNRESET);
        return Err(e);
    }
    Ok(len)
}

/// An operation's last request completed (or was flushed): the operation is done.
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    finish_op(ep, inner, wc);
    crate::sdp::close::rdma_settled(ep, inner, false);
}

/// Retires the oldest operation and reports it, unless it was reported already.
fn finish_op(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    // `Err`: no operation is in flight.
    let Ok(op) = link.rdma.ops.remove(0) else { return };
    link.rdma.requests = link.rdma.requests.saturating_sub(op.requests);
    if let Local::Region(handle) = op.local {
        if let Some(at) = link.rdma.regions.iter().position(|r| r.handle == handle) {
            link.rdma.regions[at].users -= 1;
            if link.rdma.revoked && link.rdma.regions[at].users == 0 {
                // Its last user is done: it goes now (see `Rdma::revoke_regions`).
                let _ = link.rdma.regions.remove(at);
            }
        }
    }
    // Its first failure is what it reports, unless that was reported already.
    let Some(wc) = op.failure.finished(wc) else { return };
    report(ep, inner, op.token, wc, op.len);
    // `op` goes here: pinned pages are unpinned.
    transport_error(ep, inner, wc);
}

/// An earlier request of the oldest operation failed or was flushed
/// (`proto::rdma::OpFailure`): a failure is reported at once, before the connection
/// it ends reports its own error.
pub(crate) fn part_failed(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    let Some(op) = link.rdma.ops.first_mut() else { return };
    let Some(wc) = op.failure.part_failed(wc) else { return };
    let token = op.token;
    report(ep, inner, token, wc, 0);
    transport_error(ep, inner, wc);
}

/// Puts an operation's completion on the error queue.
fn report(ep: EpRef<'_>, inner: &mut Inner, token: u64, wc: Wc, len: u32) {
    let len = if wc.ok() { len } else { 0 };
    inner.completions.push(Completion { token, errno: wc.errno(), len });
    if !inner.orphaned {
        ep.wake(POLLERR);
    }
}

/// An RC transport error leaves the QP in the error state: the connection is over.
fn transport_error(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    if !wc.ok() && !wc.flushed() && inner.phase == Phase::Connected {
        pr_info_ratelimited!("AF_IB: RDMA operation failed (status {}); connection reset\n", wc.status);
        ep.fail(inner, if wc.peer_silent() { ETIMEDOUT } else { ECONNRESET });
    }
}

/// Records the operations a teardown flushed (`in_flight`, taken before the link
/// went) as cancelled.
pub(crate) fn cancelled(ep: EpRef<'_>, inner: &mut Inner, tokens: KVec<u64>) {
    if tokens.is_empty() || inner.orphaned {
        return;
    }
    for token in tokens {
        inner.completions.push(Completion { token, errno: (-ECANCELED.to_errno()) as u32, len: 0 });
    }
    ep.wake(POLLERR);
}

/// `recvmsg(MSG_ERRQUEUE)`: as many completions as fit in the caller's control
/// buffer, `MSG_CTRUNC` if more wait; `EAGAIN` when there are none.
pub(crate) fn recv_errqueue(ep: EpRef<'_>, msg: &mut Msg) -> Result<usize> {
    let (mut delivered, mut truncated) = (0, false);
    let mut inner = ep.lock_reaped();
    while let Some(c) = inner.completions.front() {
        if !msg.control_fits(RDMA_STATUS_LEN) {
            msg.add_flags(MSG_CTRUNC);
            truncated = true;
            break;
        }
        match msg.put_cmsg(SOL_INFINISOCK, CMSG_RDMA_STATUS, &encode_status(c.token, c.errno, c.len)) {
            Ok(()) => {
                inner.completions.pop();
                delivered += 1;
            }
            Err(e) if e == EFAULT => {
                // Faulted in without the lock (a fault userspace controls must not
                // hold the endpoint); the record stays queued meanwhile. Records
                // already delivered are the call's result whatever happens next.
                drop(inner);
                let faulted = msg.fault_in_control(RDMA_STATUS_LEN);
                inner = ep.lock_reaped();
                match faulted {
                    Ok(()) => {}
                    Err(_) if delivered > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    if delivered == 0 && !truncated {
        return Err(EAGAIN);
    }
    Ok(0)
}

/// How the endpoint reaches the functions above when an operation's requests
/// complete or are cancelled.
pub(crate) struct RdmaCompletions;

/// The one every endpoint is given.
pub(crate) static RDMA_COMPLETIONS: RdmaCompletions = RdmaCompletions;

impl RdmaOps for RdmaCompletions {
    fn completion(&self, ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
        completion(ep, inner, wc)
    }

    fn part_failed(&self, ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
        part_failed(ep, inner, wc)
    }

    fn cancelled(&self, ep: EpRef<'_>, inner: &mut Inner, tokens: KVec<u64>) {
        cancelled(ep, inner, tokens)
    }
}
