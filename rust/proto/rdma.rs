// SPDX-License-Identifier: GPL-2.0

//! One-sided RDMA through the socket API: the structures a program passes
//! (`<linux/infinisock.h>`: `struct infinisock_mr_reg`, `struct infinisock_rdma`) and
//! gets back (`struct infinisock_rdma_status`, `struct infinisock_imm`), checked and
//! encoded here, in host byte order as C lays them out.

use super::errno::{Errno, EINVAL, EMSGSIZE};

/// `INFINISOCK_MR_REG`: `_IOWR(0x89, 0xe0, struct infinisock_mr_reg)`.
pub const MR_REG: u32 = 0xc020_89e0;
/// `INFINISOCK_MR_DEREG`: `_IOW(0x89, 0xe1, __u64)`.
pub const MR_DEREG: u32 = 0x4008_89e1;
/// `sizeof(struct infinisock_mr_reg)`.
pub const MR_REG_LEN: usize = 32;
/// `INFINISOCK_ACCESS_REMOTE_READ`.
pub const ACCESS_REMOTE_READ: u32 = 0x1;
/// `INFINISOCK_ACCESS_REMOTE_WRITE`.
pub const ACCESS_REMOTE_WRITE: u32 = 0x2;
/// `INFINISOCK_ACCESS_LOCAL_WRITE`: the program's own RDMA READs may land in it.
pub const ACCESS_LOCAL_WRITE: u32 = 0x4;
/// `INFINISOCK_RDMA_REGION`: the local buffer lies in a region the socket registered.
pub const RDMA_FLAG_REGION: u32 = 0x1;

/// `INFINISOCK_CMSG_RDMA`: sendmsg's `struct infinisock_rdma`.
pub const CMSG_RDMA: i32 = 1;
/// `INFINISOCK_CMSG_RDMA_STATUS`: the error queue's `struct infinisock_rdma_status`.
pub const CMSG_RDMA_STATUS: i32 = 2;
/// `INFINISOCK_CMSG_IMM`: recvmsg's `struct infinisock_imm`.
pub const CMSG_IMM: i32 = 3;
/// `sizeof(struct infinisock_rdma)`.
pub const RDMA_ARGS_LEN: usize = 32;
/// `sizeof(struct infinisock_rdma_status)`.
pub const RDMA_STATUS_LEN: usize = 16;
/// `sizeof(struct infinisock_imm)`.
pub const IMM_LEN: usize = 8;
/// The largest local buffer of one operation: its pages are pinned while it runs.
pub const MAX_RDMA_LEN: usize = 4 << 20;

fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne64(b: &[u8]) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[..8]);
    u64::from_ne_bytes(v)
}

/// What a peer may do with a registered region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// RDMA READ from it.
    pub remote_read: bool,
    /// RDMA WRITE into it.
    pub remote_write: bool,
    /// The program's own RDMA READs into it (implied by `remote_write`).
    pub local_write: bool,
}

/// A checked `INFINISOCK_MR_REG` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MrRequest {
    /// Start of the buffer in the caller's address space.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u64,
    /// The rights the peer gets.
    pub access: Access,
}

/// Checks a `struct infinisock_mr_reg`: a non-empty range that does not wrap, and at
/// least one known right, nothing else. `EINVAL` otherwise. The verbs let nobody
/// write a region the program could not write itself: remote write implies local.
pub fn parse_mr_reg(raw: &[u8; MR_REG_LEN]) -> Result<MrRequest, Errno> {
    let (addr, len, access) = (ne64(&raw[0..]), ne64(&raw[8..]), ne32(&raw[16..]));
    if len == 0 || addr.checked_add(len).is_none() {
        return Err(EINVAL);
    }
    if access == 0 || access & !(ACCESS_REMOTE_READ | ACCESS_REMOTE_WRITE | ACCESS_LOCAL_WRITE) != 0 {
        return Err(EINVAL);
    }
    let remote_write = access & ACCESS_REMOTE_WRITE != 0;
    Ok(MrRequest {
        addr,
        len,
        access: Access {
            remote_read: access & ACCESS_REMOTE_READ != 0,
            remote_write,
            local_write: remote_write || access & ACCESS_LOCAL_WRITE != 0,
        },
    })
}

/// Fills the outputs of a `struct infinisock_mr_reg` in place.
pub fn encode_mr_reg(raw: &mut [u8; MR_REG_LEN], rkey: u32, handle: u64) {
    raw[20..24].copy_from_slice(&rkey.to_ne_bytes());
    raw[24..32].copy_from_slice(&handle.to_ne_bytes());
}

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdmaOp {
    /// Local buffer to the peer's region.
    Write,
    /// The peer's region to the local buffer.
    Read,
    /// A write whose immediate data the peer receives as a message.
    WriteImm(u32),
}

/// A checked `struct infinisock_rdma`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdmaArgs {
    /// The peer's address.
    pub remote_addr: u64,
    /// The peer's key.
    pub rkey: u32,
    /// The operation.
    pub op: RdmaOp,
    /// The program's token, returned with the completion.
    pub token: u64,
    /// The local buffer lies in a registered region (`INFINISOCK_RDMA_REGION`).
    pub in_region: bool,
}

/// Checks the data of an `INFINISOCK_CMSG_RDMA` control message: exactly one
/// `struct infinisock_rdma`, a known operation, no unknown flags. `EINVAL` otherwise.
pub fn parse_rdma_args(data: &[u8]) -> Result<RdmaArgs, Errno> {
    if data.len() != RDMA_ARGS_LEN {
        return Err(EINVAL);
    }
    let (op, imm, flags) = (ne32(&data[12..]), ne32(&data[24..]), ne32(&data[28..]));
    if flags & !RDMA_FLAG_REGION != 0 {
        return Err(EINVAL);
    }
    let op = match op {
        1 => RdmaOp::Write,
        2 => RdmaOp::Read,
        3 => RdmaOp::WriteImm(imm),
        _ => return Err(EINVAL),
    };
    Ok(RdmaArgs {
        remote_addr: ne64(&data[0..]),
        rkey: ne32(&data[8..]),
        op,
        token: ne64(&data[16..]),
        in_region: flags & RDMA_FLAG_REGION != 0,
    })
}

/// Whether an operation's local buffer `[addr, addr + len)` may use the registered
/// region `[start, start + region_len)` with `access`: it lies inside, and a READ
/// (which writes it) needs local write.
pub fn region_serves(start: u64, region_len: u64, access: Access, addr: u64, len: u64, op: RdmaOp) -> bool {
    let inside = match (addr.checked_add(len), start.checked_add(region_len)) {
        (Some(end), Some(region_end)) => addr >= start && end <= region_end,
        _ => false,
    };
    inside && (op != RdmaOp::Read || access.local_write)
}

/// Checks an operation on a `len`-byte local buffer: at most [`MAX_RDMA_LEN`]
/// (`EMSGSIZE`), a remote range that does not wrap (`EINVAL`), and a write with
/// immediate only on a message socket (`EOPNOTSUPP`: its immediate data arrives as a
/// message, and streams have none).
pub fn check_rdma_request(args: &RdmaArgs, len: usize, messages: bool) -> Result<(), Errno> {
    if len > MAX_RDMA_LEN {
        return Err(EMSGSIZE);
    }
    if args.remote_addr.checked_add(len as u64).is_none() {
        return Err(EINVAL);
    }
    if matches!(args.op, RdmaOp::WriteImm(_)) && !messages {
        return Err(super::errno::EOPNOTSUPP);
    }
    Ok(())
}

/// A `struct infinisock_rdma_status`: `status` is 0 or a positive errno.
pub fn encode_status(token: u64, status: u32, len: u32) -> [u8; RDMA_STATUS_LEN] {
    let mut out = [0; RDMA_STATUS_LEN];
    out[0..8].copy_from_slice(&token.to_ne_bytes());
    out[8..12].copy_from_slice(&status.to_ne_bytes());
    out[12..16].copy_from_slice(&len.to_ne_bytes());
    out
}

/// A `struct infinisock_imm`.
pub fn encode_imm(imm: u32, len: u32) -> [u8; IMM_LEN] {
    let mut out = [0; IMM_LEN];
    out[0..4].copy_from_slice(&imm.to_ne_bytes());
    out[4..8].copy_from_slice(&len.to_ne_bytes());
    out
}

/// Send-queue requests an operation takes at worst: a registered region's bytes are
/// one SGE, so one request; an iovec's `pages` are one SGE each, `max_sge` to a
/// request; a write with immediate is one request, after at most one registration
/// per SGE of it, each behind the invalidation of the region's previous one (regions
/// are reused).
pub fn worst_requests(op: RdmaOp, in_region: bool, pages: u32, max_sge: u32) -> u32 {
    match (in_region, op) {
        (true, _) => 1,
        (false, RdmaOp::WriteImm(_)) => 2 * max_sge + 1,
        (false, _) => pages.div_ceil(max_sge.max(1)).max(1),
    }
}

/// What the account of operations needs to know of a completion.
pub trait RequestStatus: Copy {
    /// The request succeeded.
    fn ok(&self) -> bool;
    /// The request was flushed (the QP went to the error state), not failed.
    fn flushed(&self) -> bool;
    /// The peer's adapter stopped answering (transport or RNR retries exhausted).
    fn peer_silent(&self) -> bool;
}

/// An operation in flight's first failure, and what of it the program is told.
///
/// Only an operation's last request is signaled; an earlier one completes only when
/// it fails or is flushed. A real failure is reported at once (before the error that
/// ends the connection); a flush waits for the last request, which will be flushed
/// too, and gives way to a real failure that comes after it.
#[derive(Clone, Copy, Debug)]
pub struct OpFailure<W>(Option<W>);

impl<W> Default for OpFailure<W> {
    fn default() -> Self {
        Self(None)
    }
}

impl<W: RequestStatus> OpFailure<W> {
    /// Its completion is on the error queue already.
    pub fn reported(&self) -> bool {
        self.0.is_some_and(|w| !w.flushed())
    }

    /// An earlier request failed or was flushed: the completion to report now, if
    /// any (the operation stays until its last request, for its pages).
    pub fn part_failed(&mut self, wc: W) -> Option<W> {
        if self.reported() {
            return None;
        }
        if self.0.is_none() || !wc.flushed() {
            self.0 = Some(wc);
        }
        (!wc.flushed()).then_some(wc)
    }

    /// Its last request completed with `wc`: what to report, unless it was reported:
    /// the first failure of its requests, else `wc`.
    pub fn finished(&self, wc: W) -> Option<W> {
        (!self.reported()).then(|| self.0.unwrap_or(wc))
    }
}

/// Send-queue entries a connection keeps for RDMA requests.
pub const RDMA_REQUESTS: u32 = 128;

/// Completions that may wait on the error queue; a program that lets more pile up
/// gets `ENOBUFS` from its next operation.
pub const MAX_COMPLETIONS: usize = 4096;

/// Whether a new operation would find no place on the error queue: `waiting`
/// records are unread and `in_flight` operations will each add one.
pub fn error_queue_full(waiting: usize, in_flight: usize) -> bool {
    waiting + in_flight >= MAX_COMPLETIONS
}

/// Whether an operation is posted now or waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Room on the send queue (and, for a write with immediate, a credit): post it.
    Post,
    /// Wait for requests in flight to complete, or for a credit.
    Wait,
}

/// Admits an operation of at worst `worst` requests beside `in_flight` requests of
/// others: `EMSGSIZE` if it could never fit; a write with immediate also needs a
/// data credit (`data_credit`), for the peer's receive buffer it fills. A READ needs
/// a peer that serves them (`read_depth`, the READs the connection may have in flight,
/// is not 0): without, the device would hold it unsent for ever, so `EOPNOTSUPP`.
pub fn admit(op: RdmaOp, worst: u32, in_flight: u32, data_credit: bool, read_depth: u8) -> Result<Admission, Errno> {
    if op == RdmaOp::Read && read_depth == 0 {
        return Err(super::errno::EOPNOTSUPP);
    }
    if worst > RDMA_REQUESTS {
        return Err(super::errno::EMSGSIZE);
    }
    let credit = !matches!(op, RdmaOp::WriteImm(_)) || data_credit;
    Ok(if credit && in_flight + worst <= RDMA_REQUESTS { Admission::Post } else { Admission::Wait })
}
