// SPDX-License-Identifier: GPL-2.0

//! One-sided RDMA through the socket API (AF_IB): regions of its memory a program
//! registers for the peer (`INFINISOCK_MR_REG`), RDMA WRITE and READ posted by
//! `sendmsg` with an `INFINISOCK_CMSG_RDMA` control message on the program's own
//! pages, and their completions on the socket's error queue.
//!
//! Everything lives on the connection's link: regions in its PD, operations on its QP
//! beside the SDP traffic (`RDMA_REQUESTS` send-queue entries are theirs). An
//! operation's pages stay pinned until all of its requests have completed; the send
//! CQ reports every request (all signaled), in posting order, so the oldest operation
//! is always the one a completion belongs to.

use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    endpoint::{Endpoint, Inner, Phase},
    proto::{
        abi::{MSG_CTRUNC, POLLERR, SOL_INFINISOCK},
        errno::Errno,
        rdma::{
            check_rdma_len, encode_mr_reg, encode_status, parse_mr_reg, parse_rdma_args, RdmaArgs, RdmaOp,
            CMSG_RDMA, CMSG_RDMA_STATUS, MR_REG_LEN, RDMA_STATUS_LEN,
        },
    },
    sdp_link::Link,
    sdp_tx::{send_error, sendable},
    sock::Msg,
    verbs::{Cqe, CqeKind, PinnedBuf, RdmaVerb, UserMr, Wc},
};

/// Send-queue entries a connection keeps for RDMA requests.
pub(crate) const RDMA_REQUESTS: u32 = 128;
/// Regions one connection may have registered at once.
const MAX_REGIONS: usize = 1024;
/// Completions that may wait on the error queue; a program that lets more pile up
/// gets `ENOBUFS` from its next operation.
const MAX_COMPLETIONS: usize = 4096;

static RDMA_CQE: Cqe = Cqe::new(CqeKind::Rdma);

/// An operation whose requests are posted.
struct Op {
    token: u64,
    len: u32,
    /// Requests not completed yet.
    left: u32,
    /// The first failure's errno, 0 so far.
    errno: u32,
    /// The local pages, pinned until the last request completes.
    _buf: PinnedBuf,
}

/// A connection's registered regions and operations in flight.
pub(crate) struct Rdma {
    regions: KVec<(u64, UserMr)>,
    next_handle: u64,
    ops: KVec<Op>,
    /// Requests posted and not completed.
    requests: u32,
    /// SGEs per WRITE and per READ request.
    send_sge: u32,
    read_sge: u32,
}

impl Rdma {
    pub(crate) fn new(send_sge: u32, read_sge: u32) -> Self {
        Self { regions: KVec::new(), next_handle: 1, ops: KVec::new(), requests: 0, send_sge, read_sge }
    }

    /// The tokens of the operations still in flight.
    pub(crate) fn in_flight(&self) -> KVec<u64> {
        let mut v = KVec::new();
        for op in &self.ops {
            // Best effort: without memory the program misses a cancellation record.
            let _ = v.push(op.token, GFP_KERNEL);
        }
        v
    }
}

/// A finished operation, waiting on the error queue.
#[derive(Clone, Copy)]
pub(crate) struct Completion {
    token: u64,
    errno: u32,
    len: u32,
}

/// The error queue: completions, oldest first.
#[derive(Default)]
pub(crate) struct Completions {
    queue: KVec<Completion>,
    head: usize,
}

impl Completions {
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.queue.len()
    }

    fn len(&self) -> usize {
        self.queue.len() - self.head
    }

    fn push(&mut self, c: Completion) {
        if self.head > 0 && self.head == self.queue.len() {
            self.queue.clear();
            self.head = 0;
        }
        // Room is checked before an operation is posted (`MAX_COMPLETIONS`); without
        // memory the record is lost, which the program sees as a missing token.
        let _ = self.queue.push(c, GFP_ATOMIC);
    }

    fn front(&self) -> Option<Completion> {
        self.queue.get(self.head).copied()
    }

    fn pop(&mut self) {
        if !self.is_empty() {
            self.head += 1;
        }
    }
}

/// The link of a connected socket, for registering and posting.
fn connected_link(inner: &mut Inner) -> Result<&mut Link> {
    match (inner.phase, inner.link.as_mut()) {
        (Phase::Connected, Some(link)) if !link.stream.qp_dead => Ok(link),
        _ => Err(ENOTCONN),
    }
}

/// `INFINISOCK_MR_REG`: registers the caller's buffer; writes back rkey and handle.
pub(crate) fn register(ep: &Endpoint, arg: usize) -> Result {
    let (mut reader, mut writer) = UserSlice::new(UserPtr::from_addr(arg), MR_REG_LEN).reader_writer();
    let mut raw = [0u8; MR_REG_LEN];
    reader.read_slice(&mut raw)?;
    let req = parse_mr_reg(&raw).map_err(Errno::into_error)?;
    let mut inner = ep.lock();
    let link = connected_link(&mut inner)?;
    if link.rdma.regions.len() >= MAX_REGIONS {
        return Err(ENOBUFS);
    }
    let mr = UserMr::register(&link.pd, req.addr, req.len, req.access.remote_read, req.access.remote_write)?;
    let handle = link.rdma.next_handle;
    encode_mr_reg(&mut raw, mr.rkey(), handle);
    // Nothing is kept for a caller that cannot learn its handle: `mr` goes on error.
    writer.write_slice(&raw)?;
    link.rdma.regions.push((handle, mr), GFP_KERNEL)?;
    link.rdma.next_handle += 1;
    Ok(())
}

/// `INFINISOCK_MR_DEREG`: unregisters and unpins a region; `EINVAL` for a handle
/// this socket does not have.
pub(crate) fn deregister(ep: &Endpoint, arg: usize) -> Result {
    let mut raw = [0u8; 8];
    UserSlice::new(UserPtr::from_addr(arg), 8).reader().read_slice(&mut raw)?;
    let handle = u64::from_ne_bytes(raw);
    let mut inner = ep.lock();
    let link = inner.link.as_mut().ok_or(EINVAL)?;
    let at = link.rdma.regions.iter().position(|(h, _)| *h == handle).ok_or(EINVAL)?;
    let (_, mr) = link.rdma.regions.remove(at)?;
    drop(mr);
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
pub(crate) fn sendmsg(ep: &Endpoint, msg: &mut Msg, len: usize, args: RdmaArgs, nonblock: bool) -> Result<usize> {
    let flags = msg.flags();
    check_rdma_len(&args, len).map_err(Errno::into_error)?;
    if matches!(args.op, RdmaOp::WriteImm(_)) && !ep.messages {
        // Its immediate data arrives as a message: streams have none.
        return Err(EOPNOTSUPP);
    }
    let nonblock = nonblock || flags & crate::proto::abi::MSG_DONTWAIT != 0;
    let mut timeo = ep.sk.sndtimeo(nonblock);
    let mut guard = ep.lock_reaped();
    loop {
        let inner = &mut *guard;
        sendable(ep, inner).map_err(|e| send_error(e, flags))?;
        if inner.completions.len() >= MAX_COMPLETIONS {
            return Err(ENOBUFS);
        }
        if inner.phase == Phase::Connected {
            let link = connected_link(inner)?;
            let max_sge = if args.op == RdmaOp::Read { link.rdma.read_sge } else { link.rdma.send_sge };
            // One SGE per page the buffer spans.
            let worst = msg.pages(len).div_ceil(max_sge).max(1);
            if worst > RDMA_REQUESTS {
                return Err(EMSGSIZE);
            }
            let credit = match args.op {
                RdmaOp::WriteImm(_) => link.stream.credits.as_ref().is_some_and(|c| c.available_for_data() > 0),
                _ => true,
            };
            if credit && link.rdma.requests + worst <= RDMA_REQUESTS {
                return post(ep, inner, msg, len, args, max_sge);
            }
        }
        ep.wait(&mut guard, &mut timeo)?;
    }
}

/// Pins the local pages and posts the operation's requests (room and credit are there).
fn post(ep: &Endpoint, inner: &mut Inner, msg: &mut Msg, len: usize, args: RdmaArgs, max_sge: u32) -> Result<usize> {
    let link = connected_link(inner)?;
    let (verb, device_writes) = match args.op {
        RdmaOp::Write => (RdmaVerb::Write, false),
        RdmaOp::Read => (RdmaVerb::Read, true),
        RdmaOp::WriteImm(imm) => (RdmaVerb::WriteImm(imm), false),
    };
    let buf = PinnedBuf::pin(&link.dev, msg, len, device_writes, link.lkey)?;
    link.rdma.ops.reserve(1, GFP_KERNEL)?;
    if let RdmaOp::WriteImm(_) = args.op {
        // It fills one of the peer's receive buffers without a header.
        link.stream.credits.as_mut().ok_or(ENOTCONN)?.send_headerless().map_err(|_| EAGAIN)?;
    }
    // SAFETY: `buf` goes into `ops` below and stays there until every posted request
    // has completed, or until the link is dropped after draining its QP.
    let (posted, res) = unsafe { link.qp.post_rdma(&RDMA_CQE, &buf, verb, args.remote_addr, args.rkey, max_sge) };
    if posted > 0 {
        link.rdma.requests += posted;
        // Capacity was reserved above.
        let _ = link.rdma.ops.push_within_capacity(Op {
            token: args.token,
            len: len as u32,
            left: posted,
            errno: if res.is_err() { (-EIO.to_errno()) as u32 } else { 0 },
            _buf: buf,
        });
    }
    if let Err(e) = res {
        // The send queue refused a request it had room for: the QP is broken.
        pr_warn!("AF_IB: posting an RDMA operation failed ({:?}); connection reset\n", e);
        ep.fail(inner, ECONNRESET);
        return Err(e);
    }
    Ok(len)
}

/// One RDMA request completed (or was flushed).
pub(crate) fn completion(ep: &Endpoint, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    link.rdma.requests = link.rdma.requests.saturating_sub(1);
    let Some(op) = link.rdma.ops.first_mut() else { return };
    if op.errno == 0 {
        op.errno = wc.errno();
    }
    op.left -= 1;
    if op.left == 0 {
        if let Ok(op) = link.rdma.ops.remove(0) {
            let len = if op.errno == 0 { op.len } else { 0 };
            inner.completions.push(Completion { token: op.token, errno: op.errno, len });
            // `op` goes here: its pages are unpinned.
        }
        if !inner.orphaned {
            ep.wake(POLLERR);
        }
    }
    if !wc.ok() && !wc.flushed() && inner.phase == Phase::Connected {
        // An RC transport error leaves the QP in the error state: the connection is over.
        pr_info!("AF_IB: RDMA operation failed (status {}); connection reset\n", wc.status);
        ep.fail(inner, if wc.peer_silent() { ETIMEDOUT } else { ECONNRESET });
    }
}

/// Records the operations a teardown flushed (`in_flight`, taken before the link
/// went) as cancelled.
pub(crate) fn cancelled(ep: &Endpoint, inner: &mut Inner, tokens: KVec<u64>) {
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
pub(crate) fn recv_errqueue(ep: &Endpoint, msg: &mut Msg) -> Result<usize> {
    let mut inner = ep.lock_reaped();
    if inner.completions.is_empty() {
        return Err(EAGAIN);
    }
    while let Some(c) = inner.completions.front() {
        if !msg.control_fits(RDMA_STATUS_LEN) {
            msg.add_flags(MSG_CTRUNC);
            break;
        }
        msg.put_cmsg(SOL_INFINISOCK, CMSG_RDMA_STATUS, &encode_status(c.token, c.errno, c.len))?;
        inner.completions.pop();
    }
    Ok(0)
}
