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
    link::{link::{Link, WrKind}, rdma::Completion},
    proto::{
        abi::{MSG_CTRUNC, POLLERR, SOL_INFINISOCK},
        credits::Credits,
        errno::Errno,
        rdma::{
            admit, check_rdma_request, encode_mr_reg, encode_status, error_queue_full, parse_mr_reg, parse_rdma_args,
            worst_requests, Admission, RdmaArgs, RdmaOp, CMSG_RDMA, CMSG_RDMA_STATUS, MR_REG_LEN, RDMA_STATUS_LEN,
        },
        rdma_ops::{connection_error, Local, Report},
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
        link.rdma.regions.may_register().map_err(Errno::into_error)?;
        let mr = Arc::new(UserMr::register(link.qp.pd(), req.addr, req.len, req.access)?, GFP_KERNEL)?;
        let rkey = mr.rkey();
        let handle = link.rdma.regions.add(mr, &req).map_err(Errno::into_error)?;
        encode_mr_reg(&mut raw, rkey, handle);
        handle
    };
    // Written back without the lock (a user copy may fault). Nothing is kept for a
    // caller that cannot learn its handle.
    if let Err(e) = writer.write_slice(&raw) {
        let mut inner = ep.lock();
        if let Some(link) = inner.link.as_mut() {
            drop(link.rdma.regions.forget(handle));
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
    // Dropping the registration deregisters it and unpins its pages.
    drop(link.rdma.regions.deregister(handle).map_err(Errno::into_error)?);
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
    check_rdma_request(&args, len, ep.is_seqpacket).map_err(Errno::into_error)?;
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
            let side = if args.in_region { region_side(link, msg, len, args.op)? } else { LocalSide::Iovec };
            let in_region = matches!(side, LocalSide::Region { .. });
            let pages = if in_region { 0 } else { msg.pages(len) };
            let worst = worst_requests(args.op, in_region, pages, max_sge);
            let data_credit = link.stream.credits.as_ref().is_some_and(|c| c.available_for_data() > 0);
            let admission = admit(args.op, worst, link.rdma.ops.requests(), data_credit, link.rdma.read_depth).map_err(Errno::into_error)?;
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
    /// At `addr`, one iovec segment inside the registered region `at` (see
    /// `RegionTable::find`; the table does not change under the lock until posting).
    Region { at: usize, addr: u64 },
}

/// The local side of an `INFINISOCK_RDMA_REGION` operation: `EINVAL` unless its buffer
/// is one iovec segment inside a registered region with the rights the operation
/// needs.
fn region_side(link: &Link, msg: &mut Msg, len: usize, op: RdmaOp) -> Result<LocalSide> {
    let addr = msg.user_span(len).ok_or(EINVAL)?;
    let at = link.rdma.regions.find(addr, len as u64, op).ok_or(EINVAL)?;
    Ok(LocalSide::Region { at, addr })
}

/// A write with immediate fills one of the peer's receive buffers without a header:
/// it takes a credit (there is one: the caller checked).
fn take_imm_credit(credits: &mut Option<Credits>, op: RdmaOp) -> Result {
    if let RdmaOp::WriteImm(_) = op {
        credits.as_mut().ok_or(ENOTCONN)?.send_headerless().map_err(|_| EAGAIN)?;
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
    link.rdma.ops.reserve().map_err(Errno::into_error)?;
    // A place on the error queue for every operation in flight, this one included.
    let places = link.rdma.ops.len() + 1;
    inner.completions.reserve(places).map_err(Errno::into_error)?;
    let link = connected_link(inner)?;
    let (local, posted, res) = match side {
        LocalSide::Region { at, addr } => {
            take_imm_credit(&mut link.stream.credits, args.op)?;
            let r = link.rdma.regions.get_mut(at).ok_or(EINVAL)?;
            let res = link.qp.post_rdma_region(&RDMA_CQE, &r.mr, (addr, len as u32), verb, remote);
            // The region stays registered until the operation completes (`EBUSY`).
            let handle = if res.is_ok() { r.hold() } else { r.handle };
            (Local::Region(handle), u32::from(res.is_ok()), res)
        }
        LocalSide::Iovec => {
            let buf = link.qp.pin(msg, len, device_writes, None)?;
            let credits = &mut link.stream.credits;
            // The queue pair keeps the pages until the device is done with them.
            let done = link.qp.post_rdma((&RDMA_CQE, &RDMA_PART_CQE), buf, verb, remote, max_sge, || {
                take_imm_credit(credits, args.op)
            });
            let (posted, res) = match done {
                Ok(done) => done,
                Err(e) => {
                    // Refused before posting: regions it took (or added to the pool)
                    // are back, to be given up in time as a completion would have.
                    ep.keep_regions_a_while(inner);
                    return Err(e);
                }
            };
            (Local::Pinned, posted, res)
        }
    };
    link.rdma.ops.posted(args.token, len as u32, posted, local);
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
    ep.keep_regions_a_while(inner);
    crate::sdp::close::rdma_settled(ep, inner, false);
}


/// Retires the oldest operation and reports it, unless it was reported already.
fn finish_op(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    let rdma = &mut link.rdma;
    let Some(report) = rdma.ops.retire(wc, &mut rdma.regions) else { return };
    report_op(ep, inner, report);
}

/// An earlier request of the oldest operation failed or was flushed
/// (`proto::rdma::OpFailure`): a failure is reported at once, before the connection
/// it ends reports its own error.
pub(crate) fn part_failed(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    let Some(report) = link.rdma.ops.part_failed(wc) else { return };
    report_op(ep, inner, report);
}

/// Puts an operation's completion on the error queue. A failed request leaves the QP
/// in the error state (RC): the connection is over.
fn report_op(ep: EpRef<'_>, inner: &mut Inner, r: Report<Wc>) {
    queue_completion(inner, Completion { token: r.token, errno: r.wc.errno(), len: r.len });
    if !inner.orphaned {
        ep.wake(POLLERR);
    }
    if let Some(err) = connection_error(&r.wc).filter(|_| inner.phase == Phase::Connected) {
        pr_info_ratelimited!("AF_IB: RDMA operation failed (status {}); connection reset\n", r.wc.status);
        ep.fail(inner, err.into_error());
    }
}

/// Queues a record in the place its operation reserved.
fn queue_completion(inner: &mut Inner, c: Completion) {
    if inner.completions.push(c).is_err() {
        // Not reached: `sendmsg` reserves a place for each operation it posts.
        pr_warn_ratelimited!("AF_IB: no room for an RDMA completion (token {})\n", c.token);
    }
}

/// Records the operations a teardown flushed (`in_flight`, taken before the link
/// went) as cancelled.
pub(crate) fn cancelled(ep: EpRef<'_>, inner: &mut Inner, tokens: KVec<u64>) {
    if tokens.is_empty() || inner.orphaned {
        return;
    }
    for token in tokens {
        queue_completion(inner, Completion { token, errno: (-ECANCELED.to_errno()) as u32, len: 0 });
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
