// SPDX-License-Identifier: GPL-2.0

//! A connection's reliable-connected queue pair and everything the device may touch
//! through it: the PD, the send and receive CQs, the receive buffers, the send
//! buffers of messages in flight, and the user pages and regions of RDMA operations
//! in flight.
//!
//! Receive buffers are allocated when a ring slot is first posted and given back
//! when their owner says so ([`QueuePair::release_recv`]): the ring is the most a
//! connection may post, not what it holds.
//!
//! A queue pair on a device's shared receive queue (`srq.rs`) has no receive queue of
//! its own: posting a ring slot grants it (the slot waits, with no buffer, for the
//! next receive), a receive moves the shared queue's buffer into the oldest granted
//! slot, and a slot's buffer goes back to the shared queue when its owner is done
//! with it. What the protocol sees is the same ring. Since no receive of its own is
//! flushed when it fails, the device's last-WQE event stands for one: the poll after
//! it reports every granted slot flushed, after the receives that completed.
//!
//! Landing slots (zero-copy, `sdp::zcopy_rx`) follow the receive ring's slots in the
//! same index space: never posted as receives, each takes one RDMA READ of what the
//! peer advertised into a buffer of its own, and is read once the READ completed.
//!
//! Send buffers are taken as messages are written and given back when the device is
//! done with them, as TCP allocates and frees its packets: an idle connection holds
//! none. A message that fits the QP's inline room is copied into the work request as
//! it is posted and needs none. The buffers of completed sends are kept for the next
//! messages until their owner trims them ([`QueuePair::trim_send_buffers`]) once the
//! connection has been idle a while, so that a writer does not allocate (and zero) a
//! buffer per message.
//!
//! [`QueuePair`] is the one owner of what the device uses, in the manner of Binder's
//! `allocation.rs`: it hands the protocol safe calls and keeps, by itself, the rules a
//! device sharing memory with the CPU imposes: a receive buffer is not read while it
//! is posted, a send slot is not refilled while its send is in flight, the pages of
//! an RDMA operation are not unpinned while a request may still use them, and
//! nothing goes before the QP is drained and destroyed.
//!
//! It learns what the device is done with from the completions it polls, not from
//! the protocol: a reliable-connected QP completes its receives in posting order,
//! and the successful completions on its send CQ are those of its signaled send-queue
//! requests, in posting order, each also completing every unsignaled request before
//! it. After a failure, what is still in flight is released only by the drain.

use core::{
    mem::ManuallyDrop,
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};

use kernel::{error::to_result, prelude::*, sync::Arc};

use crate::{
    kernel_api::{
        bindings,
        cm::CmIdRef,
        ib::DeviceRef,
        sock::Msg,
        srq::{SharedRecvQueue, SRQ_TAG},
        mailbox::Mailbox,
        shared_cq::CqShare,
        verbs::{device_sges, Cq, CqEvents, CqSide, Cqe, DmaBuf, Pd, PinnedBuf, UserMr, Wc, POLL_BATCH},
        zc_notify::ZcNotify,
    },
    proto::{
        qp_shape::SHARED_END_MARKER,
        recv_pool::{Grants, Take},
        ring::IndexFifo,
    },
};

/// A queue pair's part in a shared receive queue.
struct OnShared {
    queue: Arc<SharedRecvQueue>,
    grants: Grants,
    /// The tag its receives are reported with (the protocol's, for its ring).
    recv_tag: u32,
    /// The end of its receives (the last-WQE event) was reported.
    ended: bool,
    /// At the end: the peer still had grants, so a message of it may have been cut
    /// short there.
    granted_at_end: bool,
    /// When it was made: the account's clock.
    created: kernel::time::Instant<kernel::time::Monotonic>,
}

impl OnShared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Where a queue pair on a shared receive queue joins it: the queue, and the entry
/// its ring's receives are reported with.
pub(crate) struct SharedRecv {
    pub(crate) queue: Arc<SharedRecvQueue>,
    pub(crate) recv_cqe: &'static Cqe,
}

/// Sizes of a queue pair and its rings.
#[derive(Clone, Copy)]
pub(crate) struct QpSizes {
    pub(crate) recv_buffers: u16,
    pub(crate) send_buffers: u16,
    /// Bytes of each ring buffer.
    pub(crate) buffer_size: u32,
    /// Send-queue entries (the send CQ's too): the send ring's, and those of requests
    /// with no ring buffer (probes, RDMA operations, the drain's marker).
    pub(crate) send_wrs: u32,
    /// Receive-queue entries (the receive CQ's too): the receive ring's and the
    /// drain's marker.
    pub(crate) recv_wrs: u32,
    /// SGEs per send request: 1, or as many as the device takes (`None`).
    pub(crate) send_sges: Option<u32>,
    /// Inline bytes per send request asked of the device.
    pub(crate) max_inline: u32,
    /// Send-queue entries kept for RDMA operations; none: [`QueuePair::post_rdma`]
    /// refuses them.
    pub(crate) rdma_requests: u32,
    /// Landing slots after the receive ring ([`QueuePair::post_read`]); `send_wrs`
    /// counts a READ for each.
    pub(crate) landing: u16,
    /// Regions the peer may READ at once ([`QueuePair::expose`]); `send_wrs` counts
    /// [`EXPOSE_REQUESTS`] for each.
    pub(crate) exposed: u16,
}

/// Send-queue entries one exposed region takes: the invalidation of its region's
/// previous registration and its registration ([`QueuePair::expose`]), and its own
/// invalidation ([`QueuePair::withdraw`]).
pub(crate) const EXPOSE_REQUESTS: u32 = 3;

/// Send-queue entries a READ straight into a reader's pages takes
/// ([`QueuePair::post_user_read`]): an invalidation, a registration and the READ.
pub(crate) const USER_READ_REQUESTS: u32 = 3;

/// One-sided operations [`QueuePair::post_rdma`] posts.
#[derive(Clone, Copy)]
pub(crate) enum RdmaVerb {
    Write,
    Read,
    WriteImm(u32),
}

impl RdmaVerb {
    /// The helpers' operation number and immediate data.
    fn raw(self) -> (i32, u32) {
        match self {
            RdmaVerb::Write => (bindings::INFINISOCK_VERB_WRITE as i32, 0),
            RdmaVerb::Read => (bindings::INFINISOCK_VERB_READ as i32, 0),
            RdmaVerb::WriteImm(imm) => (bindings::INFINISOCK_VERB_WRITE_IMM as i32, imm),
        }
    }
}

/// The local side of an RDMA operation in flight, kept until the device is done.
enum Held {
    Pages(PinnedBuf),
    Region(#[allow(dead_code)] Arc<UserMr>),
    /// An exposure's pages whose bytes are still wanted: they move to `kept` once
    /// the device is done with them (`None` once moved).
    Kept(Option<KeptPages>),
}

/// Pages of a withdrawn exposure kept for their bytes `at..end`
/// ([`QueuePair::withdraw`]), out of the device's reach: the CPU copies them out.
pub(crate) struct KeptPages {
    buf: PinnedBuf,
    at: usize,
    end: usize,
}

impl KeptPages {
    /// Bytes not copied out yet.
    pub(crate) fn left(&self) -> usize {
        self.end - self.at
    }

    /// Copies the next of its bytes into `dst`, as many as fit; returns how many.
    /// They count as taken only once [`KeptPages::advance`] says so.
    pub(crate) fn copy_next(&self, dst: &mut [u8]) -> usize {
        let want = self.left().min(dst.len());
        dst.get_mut(..want).map_or(0, |d| self.buf.copy_out(self.at, d))
    }

    /// `n` more of its bytes were taken.
    pub(crate) fn advance(&mut self, n: usize) {
        self.at = (self.at + n).min(self.end);
    }
}

/// The raw QP, for rdma_cm's connection steps ([`CmIdRef::connect_locked`] and the
/// others), which take it by reference from its [`QueuePair`].
pub(crate) struct QpRef(NonNull<bindings::ib_qp>);

impl QpRef {
    pub(super) fn as_raw(&self) -> *mut bindings::ib_qp {
        self.0.as_ptr()
    }
}

/// See the module documentation.
///
/// # Invariants
///
/// - `qp` is a live RC QP in `pd` on the CQs of `cqs`, made for an rdma_cm id but not
///   attached to it; `drop` drains and destroys it before any field goes. On a shared
///   CQ its `qp_context` is its mailbox.
/// - A receive buffer `i` is posted iff `rx_posted` holds `i`, and then
///   `rx_in_device[i]`; its bytes are not read meanwhile.
/// - `signaled_done` counts the successful completions on the send CQ: the signaled
///   send-queue requests the device has finished, in posting order, of
///   `signaled_posted` posted. A send slot whose `tx_due` is above `signaled_done` is
///   in flight: its buffer in `tx` is neither written nor freed; `held` keeps each
///   operation's local side until `signaled_done` reaches its `due` (or until `drop`,
///   after the drain).
pub(crate) struct QueuePair {
    qp: QpRef,
    /// Dropped in `drop`, after the QP is destroyed, or never (a failed drain).
    cqs: ManuallyDrop<Completions>,
    /// Per ring slot: its receive buffer, once it was posted.
    rx: KVec<Option<DmaBuf>>,
    rx_posted: IndexFifo<KVec<u16>>,
    rx_in_device: KVec<bool>,
    /// Send slots: messages the send queue holds at once.
    send_slots: usize,
    /// Per send slot: the buffer of its message while the device may read it (none
    /// for an inline message), or the one filled for the slot's next message. Empty,
    /// with `tx_spare`, until a message needs a buffer, and again when the buffers
    /// are trimmed: an idle connection keeps no per-slot table.
    tx: KVec<Option<DmaBuf>>,
    /// Buffers of completed sends, kept while others are in flight; room for every
    /// slot's whenever `tx` has its slots.
    tx_spare: KVec<DmaBuf>,
    /// Bytes of the buffers in `tx` and `tx_spare`.
    tx_bytes: usize,
    /// Where a message that fits inline is written before it is posted (the post
    /// copies it into the work request).
    tx_inline: KVec<u8>,
    /// The next slot is being filled in `tx_inline`.
    next_inline: bool,
    /// Bytes of a receive buffer, and of a send buffer at most: a message with its
    /// header.
    buffer_size: usize,
    /// Per send slot: the value of `signaled_done` at which its last send is done.
    tx_due: KVec<u64>,
    /// Sends posted from the ring, and of those the ones known done (oldest first).
    tx_posted: u64,
    tx_done: u64,
    signaled_posted: u64,
    signaled_done: u64,
    /// Local sides of RDMA operations, oldest first, with their `due`.
    held: KVec<(u64, Held)>,
    pd: Arc<Pd>,
    dev: Arc<DeviceRef>,
    lkey: u32,
    max_inline: usize,
    send_sge: u32,
    read_sge: u32,
    /// Send-queue entries kept for RDMA operations ([`QpSizes::rdma_requests`]).
    rdma_requests: u32,
    /// The shared receive queue it receives from, if it does.
    shared: Option<OnShared>,
    /// Landing slots, indices `rx.len()..`: each slot's buffer, once a READ needed it.
    landing: KVec<Option<DmaBuf>>,
    /// Per landing slot: a READ into it is in flight; its bytes are not read meanwhile.
    landing_in_device: KVec<bool>,
    /// Landing slots whose READs are in flight, in posting order (the order their
    /// completions come in, as every signaled request's).
    reads: IndexFifo<KVec<u16>>,
    /// The tag READs are posted with, once one was.
    read_tag: Option<u32>,
    /// Per exposure slot: the pages the peer may READ through a region of the pool,
    /// from [`QueuePair::expose`] until [`QueuePair::withdraw`] moves them to `held`.
    exposed: KVec<Option<PinnedBuf>>,
    /// Withdrawn exposures' pages whose bytes are still wanted, in withdrawal order,
    /// once the device is done with them; room for every exposure's too.
    kept: KVec<KeptPages>,
}

/// Where a queue pair's completions are taken from.
enum Completions {
    /// Two CQs of its own, reaped by their owner.
    Own { send: Cq, recv: Cq },
    /// A CQ shared with the other queue pairs on its shared receive queue, which puts
    /// its completions in its mailbox.
    Shared {
        mailbox: Mailbox,
        /// The end marker was posted, or could not be.
        end_posted: bool,
        end_failed: bool,
        _share: CqShare,
    },
}

impl Completions {
    /// Takes completions of one side into `out`. Returns how many, how many the
    /// mailbox had no room for, and whether the side was found empty.
    fn poll(&self, side: CqSide, out: &mut [Option<Wc>; POLL_BATCH]) -> (usize, u32, bool) {
        let own = |n: usize| (n, 0, n < POLL_BATCH);
        match (self, side) {
            (Completions::Own { send, .. }, CqSide::Send) => own(send.poll(out)),
            (Completions::Own { recv, .. }, CqSide::Recv) => own(recv.poll(out)),
            // A receive poll leaves room to report the receives the ring had none for.
            (Completions::Shared { mailbox, .. }, CqSide::Recv) => mailbox.poll(side, out, POLL_BATCH - 1),
            (Completions::Shared { mailbox, .. }, CqSide::Send) => mailbox.poll(side, out, POLL_BATCH),
        }
    }

    fn arm(&self, side: CqSide) -> bool {
        match (self, side) {
            (Completions::Own { send, .. }, CqSide::Send) => send.arm(),
            (Completions::Own { recv, .. }, CqSide::Recv) => recv.arm(),
            (Completions::Shared { mailbox, .. }, side) => mailbox.arm(side),
        }
    }
}


// SAFETY: Every part may be used and dropped from any thread; the owner serialises
// its calls (`&mut self`), and posting locks inside ib_core.
unsafe impl Send for QueuePair {}
// SAFETY: The `&self` methods read Rust state or call ib_core functions that lock.
unsafe impl Sync for QueuePair {}

/// Bytes of the send buffers of every queue pair.
static SEND_BUFFER_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of the receive buffers of every queue pair.
static RECV_BUFFER_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A receive buffer of `len` bytes for `dev` ([`DmaBuf::new_for_recv`]), counted in
/// [`recv_buffer_bytes_in_use`] until [`free_recv_buffer`] (or [`uncount_recv_bytes`]).
pub(super) fn new_recv_buffer(dev: &DeviceRef, len: usize, may_fail: bool) -> Result<DmaBuf> {
    count_recv_buffer(DmaBuf::new_for_recv(dev, len, may_fail)?)
}

/// A buffer for a shared receive queue, counted as [`new_recv_buffer`]'s are.
pub(super) fn new_shared_recv_buffer(dev: &DeviceRef, len: usize) -> Result<DmaBuf> {
    count_recv_buffer(DmaBuf::new_for_shared_recv(dev, len)?)
}

fn count_recv_buffer(buf: DmaBuf) -> Result<DmaBuf> {
    RECV_BUFFER_BYTES.fetch_add(buf.len(), Ordering::Relaxed);
    Ok(buf)
}

/// Frees a receive buffer made by [`new_recv_buffer`], and stops counting it.
pub(super) fn free_recv_buffer(buf: DmaBuf) {
    uncount_recv_bytes(buf.len());
}

/// Stops counting `len` bytes of receive buffers that go without
/// [`free_recv_buffer`] (a whole ring or queue at once).
pub(super) fn uncount_recv_bytes(len: usize) {
    RECV_BUFFER_BYTES.fetch_sub(len, Ordering::Relaxed);
}

/// Bytes of receive buffers all connections hold now (and shared receive queues).
pub(crate) fn recv_buffer_bytes_in_use() -> usize {
    RECV_BUFFER_BYTES.load(Ordering::Relaxed)
}

/// Bytes of send buffers all connections hold now.
pub(crate) fn send_buffer_bytes_in_use() -> usize {
    SEND_BUFFER_BYTES.load(Ordering::Relaxed)
}

/// A table of `n` empty buffer slots (`KVec::from_elem` wants `Clone`, which a
/// mapped buffer is not).
fn empty_slots(n: usize, flags: kernel::alloc::Flags) -> Result<KVec<Option<DmaBuf>>> {
    let mut slots = KVec::with_capacity(n, flags)?;
    for _ in 0..n {
        slots.push(None, flags)?;
    }
    Ok(slots)
}

/// Bytes of a send buffer for a message of `len` bytes: a power of two from 1 KiB, so
/// that buffers kept for the next messages fit them, and never more than `max`.
fn send_buffer_len(len: usize, max: usize) -> usize {
    len.max(1024).checked_next_power_of_two().unwrap_or(max).min(max)
}

impl QueuePair {
    /// Creates the PD, the CQs (reaped by their owner: `events` hears of their
    /// completions, and is held until they are freed), the QP for `id` and the rings,
    /// on the device `id` is bound to. Posts nothing. With `shared`, the QP receives
    /// from that shared receive queue, in its PD, and its ring's buffers are the
    /// queue's size.
    pub(crate) fn new<H: CqEvents>(id: &CmIdRef, events: Arc<H>, sizes: QpSizes, shared: Option<SharedRecv>) -> Result<Self> {
        let dev = Arc::new(DeviceRef::of_cm(id)?, GFP_KERNEL)?;
        let pd = match shared.as_ref() {
            Some(s) if !s.queue.dev().is(&dev) || s.queue.buffer_size() != sizes.buffer_size as usize => return Err(EINVAL),
            Some(s) => s.queue.pd().clone(),
            None => Arc::new(Pd::new(&dev)?, GFP_KERNEL)?,
        };
        let (nrx, ntx) = (u32::from(sizes.recv_buffers), u32::from(sizes.send_buffers));
        // Each queue holds its ring and the drain's marker at least.
        if nrx as usize > crate::proto::ring::MAX_RING || ntx == 0 || sizes.send_wrs <= ntx || sizes.recv_wrs <= nrx {
            return Err(EINVAL);
        }
        // Two CQs, so that a receive's event can wake readers alone; each as deep as
        // its queue, so that it cannot overflow. On a shared receive queue, a place on
        // the queue's shared CQ and a mailbox with two rings instead.
        let (cqs, send_wrs) = match shared.as_ref() {
            Some(s) => {
                let send_wrs = sizes.send_wrs + SHARED_END_MARKER;
                let share = s.queue.join_cq(send_wrs)?;
                let mailbox = Mailbox::new(send_wrs, sizes.recv_wrs, events)?;
                (Completions::Shared { mailbox, end_posted: false, end_failed: false, _share: share }, send_wrs)
            }
            None => {
                let send = Cq::reaped(&dev, sizes.send_wrs, events.clone(), CqSide::Send)?;
                let recv = Cq::reaped(&dev, sizes.recv_wrs, events, CqSide::Recv)?;
                (Completions::Own { send, recv }, sizes.send_wrs)
            }
        };
        let (send_cq, recv_cq, qp_context) = match &cqs {
            Completions::Own { send, recv } => (send.as_raw(), recv.as_raw(), core::ptr::null_mut()),
            Completions::Shared { mailbox, _share, .. } => (_share.cq().as_raw(), _share.cq().as_raw(), mailbox.as_raw()),
        };
        let rx = empty_slots(nrx as usize, GFP_KERNEL)?;
        let rx_in_device = KVec::from_elem(false, rx.len(), GFP_KERNEL)?;
        let rx_posted = IndexFifo::for_ring(rx.len())?;
        let tx_due = KVec::from_elem(0u64, ntx as usize, GFP_KERNEL)?;
        let (send_sge, read_sge) = match sizes.send_sges {
            Some(n) => (n, n),
            None => device_sges(&dev),
        };
        let held = KVec::with_capacity(sizes.rdma_requests as usize, GFP_KERNEL)?;
        let nland = usize::from(sizes.landing);
        if nrx as usize + nland > crate::proto::ring::MAX_RING {
            return Err(EINVAL);
        }
        let landing = empty_slots(nland, GFP_KERNEL)?;
        let landing_in_device = KVec::from_elem(false, nland, GFP_KERNEL)?;
        let reads = IndexFifo::for_ring(nland)?;
        let mut exposed = KVec::with_capacity(usize::from(sizes.exposed), GFP_KERNEL)?;
        let kept = KVec::with_capacity(usize::from(sizes.exposed), GFP_KERNEL)?;
        for _ in 0..sizes.exposed {
            exposed.push(None, GFP_KERNEL)?;
        }
        // SAFETY: Live id; PD, CQs and mailbox are live and outlive the QP: they are
        // fields of the `QueuePair` made below at once (nothing fallible comes
        // between), whose `drop` destroys the QP first.
        let (qp, max_inline) = unsafe {
            id.create_qp(
                pd.as_raw(),
                (send_cq, recv_cq),
                shared.as_ref().map_or(core::ptr::null_mut(), |s| s.queue.as_raw()),
                (send_wrs, sizes.recv_wrs),
                send_sge,
                qp_context,
                sizes.max_inline,
            )?
        };
        // The device may give more inline room than asked; a buffer bigger than a
        // message would never be used.
        let max_inline = (max_inline as usize).min(sizes.buffer_size as usize);
        let tx_inline = match KVec::from_elem(0u8, max_inline, GFP_KERNEL) {
            Ok(v) => v,
            Err(e) => {
                // SAFETY: Made above, never used; destroyed once, here, before the CQs
                // and PD it uses go.
                let _ = unsafe { bindings::infinisock_destroy_qp(qp.as_ptr()) };
                return Err(e.into());
            }
        };
        let shared = shared.map(|s| OnShared {
            grants: Grants::default(),
            queue: s.queue,
            recv_tag: s.recv_cqe.tag(),
            ended: false,
            granted_at_end: false,
            created: kernel::time::Instant::now(),
        });
        Ok(Self {
            qp: QpRef(qp),
            cqs: ManuallyDrop::new(cqs),
            rx,
            rx_posted,
            rx_in_device,
            send_slots: ntx as usize,
            tx: KVec::new(),
            tx_spare: KVec::new(),
            tx_bytes: 0,
            tx_inline,
            next_inline: false,
            buffer_size: sizes.buffer_size as usize,
            tx_due,
            tx_posted: 0,
            tx_done: 0,
            signaled_posted: 0,
            signaled_done: 0,
            held,
            lkey: pd.local_dma_lkey(),
            pd,
            dev,
            max_inline,
            send_sge,
            read_sge,
            rdma_requests: sizes.rdma_requests,
            shared,
            landing,
            landing_in_device,
            reads,
            read_tag: None,
            exposed,
            kept,
        })
    }

    /// The QP, for rdma_cm's connection steps.
    pub(crate) fn qp(&self) -> &QpRef {
        &self.qp
    }

    /// The PD, for regions registered on the connection ([`UserMr::register`]).
    pub(crate) fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// SGEs per RDMA WRITE and per RDMA READ request the device takes.
    pub(crate) fn rdma_sges(&self) -> (u32, u32) {
        (self.send_sge, self.read_sge)
    }

    /// Takes up to [`POLL_BATCH`] completions of one side; returns how many were
    /// taken (a `None` was not one of ours). A receive's names its ring buffer
    /// ([`Wc::buffer`]), which the device is done with.
    pub(crate) fn poll(&mut self, side: CqSide, out: &mut [Option<Wc>; POLL_BATCH]) -> usize {
        if side == CqSide::Recv && self.shared.is_some() {
            return self.poll_shared(out);
        }
        let (n, lost, _) = self.cqs.poll(side, out);
        if lost > 0 {
            // Not reached: a QP's send completions fit its mailbox's ring.
            crate::kernel_api::log::pr_warn_ratelimited!("a queue pair's mailbox lost {} send completions\n", lost);
        }
        for wc in out[..n].iter_mut().flatten() {
            match side {
                CqSide::Recv => {
                    wc.buffer = self.rx_posted.pop();
                    if let Some(done) = wc.buffer.and_then(|i| self.rx_in_device.get_mut(usize::from(i))) {
                        *done = false;
                    }
                }
                CqSide::Send => {
                    // A READ's names its landing slot, which the device is done with
                    // (flushed too: a flushed request is not processed any more).
                    if self.read_tag == Some(wc.tag) {
                        wc.buffer = self.reads.pop();
                        if let Some(k) = wc.buffer.and_then(|i| self.landing_index(i)) {
                            self.landing_in_device[k] = false;
                        }
                    }
                    // Only signaled requests complete successfully (see the module
                    // documentation).
                    if wc.ok() {
                        self.signaled_done += 1;
                    }
                }
            }
        }
        if side == CqSide::Send {
            self.release_done();
        }
        n
    }

    /// [`QueuePair::poll`] of the receives of a queue pair on a shared receive queue:
    /// each moves the queue's buffer into the oldest granted slot, and once the device
    /// has reported the QP's last WQE, the granted slots left are reported flushed.
    fn poll_shared(&mut self, out: &mut [Option<Wc>; POLL_BATCH]) -> usize {
        // Read before the poll: every receive completed before the event is in the
        // CQ (or mailbox) by then, so a poll that finds it empty has seen them all.
        let ended = self.shared.as_ref().is_some_and(|sh| sh.ended) || self.receives_ended();
        let Some(sh) = self.shared.as_mut() else { return 0 };
        let (mut n, lost, drained) = self.cqs.poll(CqSide::Recv, out);
        let now_ms = sh.now_ms();
        for wc in out[..n].iter_mut().flatten() {
            if wc.tag & SRQ_TAG == 0 {
                continue;
            }
            let slot = wc.tag & !SRQ_TAG;
            wc.tag = sh.recv_tag;
            match sh.queue.take(&mut sh.grants, slot, now_ms) {
                Some((buf, Take::Granted)) => match self.rx_posted.pop() {
                    Some(idx) => {
                        let i = usize::from(idx);
                        self.rx_in_device[i] = false;
                        if let Some(old) = self.rx[i].replace(buf) {
                            sh.queue.give_back(old);
                        }
                        wc.buffer = Some(idx);
                    }
                    // The account and the ring agree; not reached.
                    None => {
                        sh.queue.give_back(buf);
                        wc.overrun = true;
                    }
                },
                Some((buf, Take::Unsolicited)) => {
                    sh.queue.give_back(buf);
                    wc.overrun = true;
                    // A peer sending beyond its grant may fill the receive CQ.
                    sh.queue.suspect();
                }
                None => wc.overrun = true,
            }
        }
        if lost > 0 {
            // Receives beyond what the mailbox holds: beyond the grants. Their buffers
            // are lost to the queue until it goes.
            for _ in 0..lost {
                sh.queue.suspect();
            }
            // The mailbox's poll left room for it.
            out[n] = Some(Wc { tag: sh.recv_tag, status: 0, byte_len: 0, imm: None, invalidated: false, buffer: None, overrun: true });
            n += 1;
        }
        if ended && drained {
            while n < POLL_BATCH {
                let Some(idx) = self.rx_posted.pop() else { break };
                self.rx_in_device[usize::from(idx)] = false;
                out[n] = Some(Wc {
                    tag: sh.recv_tag,
                    status: bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR,
                    byte_len: 0,
                    imm: None,
                    invalidated: false,
                    buffer: Some(idx),
                    overrun: false,
                });
                n += 1;
            }
            if !sh.ended {
                sh.ended = true;
                sh.granted_at_end = sh.grants.unfilled() > 0;
                sh.queue.withdraw(&mut sh.grants);
            }
        }
        n
    }

    /// Whether every receive of the queue pair (on a shared receive queue) completed
    /// and is there to be polled. On its own CQ that is the last-WQE event; on a shared
    /// CQ the event comes first and the end marker, posted after it, says when the
    /// receives completed before it reached the mailbox.
    fn receives_ended(&mut self) -> bool {
        // SAFETY: Live QP (type invariant).
        let last_wqe = unsafe { bindings::infinisock_qp_last_wqe(self.qp.as_raw()) };
        match &mut *self.cqs {
            Completions::Own { .. } => last_wqe,
            Completions::Shared { mailbox, end_posted, end_failed, .. } => {
                if last_wqe && !*end_posted {
                    *end_posted = true;
                    // SAFETY: Live QP whose `qp_context` is this mailbox, past its last
                    // WQE; its send queue keeps `SHARED_END_MARKER` entries; posted once.
                    if let Err(e) = unsafe { mailbox.post_end(self.qp.as_raw()) } {
                        crate::kernel_api::log::pr_warn_ratelimited!("end marker not posted: {:?}\n", e);
                        *end_failed = true;
                    }
                }
                mailbox.ended() || (last_wqe && *end_failed)
            }
        }
    }

    /// On a shared receive queue: whether the peer still had grants when the queue
    /// pair's receives ended (or has now, if they have not), so that one of its
    /// messages may have been cut short, its buffer lost in the device.
    pub(crate) fn grants_outstanding(&self) -> bool {
        self.shared.as_ref().is_some_and(|sh| if sh.ended { sh.granted_at_end } else { sh.grants.unfilled() > 0 })
    }

    /// On a shared receive queue: its grants go back to the queue's reserve once it
    /// has received nothing for a while. Returns whether they are still backed in
    /// full (ask again later).
    pub(crate) fn settle_grants(&mut self) -> bool {
        match self.shared.as_mut() {
            Some(sh) => {
                let now = sh.now_ms();
                sh.queue.settle(&mut sh.grants, now)
            }
            None => false,
        }
    }

    /// Frees the send slots and the RDMA local sides the device is done with. A freed
    /// slot's buffer is kept for the next messages.
    fn release_done(&mut self) {
        let slots = self.send_slots as u64;
        while self.tx_done < self.tx_posted && self.tx_due[(self.tx_done % slots) as usize] <= self.signaled_done {
            let slot = (self.tx_done % slots) as usize;
            if let Some(buf) = self.tx.get_mut(slot).and_then(Option::take) {
                // Room for every slot's buffer was reserved.
                if let Err(e) = self.tx_spare.push_within_capacity(buf) {
                    self.send_buffer_freed(e.0.len());
                }
            }
            self.tx_done += 1;
        }
        // Dropping them unpins the pages and releases the regions; pages whose bytes
        // are wanted move to `kept` (it has room for every exposure's).
        let done = self.signaled_done;
        let kept = &mut self.kept;
        self.held.retain(|(due, h)| {
            if *due > done {
                return true;
            }
            if let Held::Kept(k) = h {
                // Their region is invalidated: back to the pool now, not when the
                // last byte is copied out.
                if let Some(k) = k.as_mut() {
                    k.buf.keep_for_copy();
                }
                if let Some(Err(e)) = k.take().map(|k| kept.push_within_capacity(k)) {
                    // Not reached (`expose` made room): the bytes are lost, and the
                    // caller finds fewer kept than it withdrew.
                    drop(e.0);
                }
            }
            false
        });
    }

    /// Asks for an event at the side's next completion; `true`: poll again first,
    /// some may have arrived unannounced.
    pub(crate) fn arm(&self, side: CqSide) -> bool {
        self.cqs.arm(side)
    }

    /// Receive buffers in the ring.
    pub(crate) fn recv_ring(&self) -> usize {
        self.rx.len()
    }

    /// Receive buffers posted.
    pub(crate) fn recv_posted(&self) -> usize {
        self.rx_posted.len()
    }

    /// Size of each receive buffer, and the most a send buffer holds.
    pub(crate) fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Bytes of send buffers held now: those of messages in flight, and those kept
    /// for the next messages while sends are in flight.
    pub(crate) fn send_buffer_bytes(&self) -> usize {
        self.tx_bytes
    }

    /// Gives back the send buffers kept for the next messages, when no send is in
    /// flight (a buffer filled for a message that was never posted too).
    pub(crate) fn trim_send_buffers(&mut self) {
        if self.tx_done != self.tx_posted {
            return;
        }
        // With nothing in flight, only the next slot may hold a buffer.
        let held = Iterator::chain(self.tx_spare.iter(), self.tx.iter().flatten()).map(DmaBuf::len).sum::<usize>();
        self.send_buffer_freed(held);
        self.tx = KVec::new();
        self.tx_spare = KVec::new();
    }

    /// Accounts `len` bytes of send buffers dropped (or about to be).
    fn send_buffer_freed(&mut self, len: usize) {
        self.tx_bytes -= len;
        SEND_BUFFER_BYTES.fetch_sub(len, Ordering::Relaxed);
    }

    /// Posts receive buffer `idx`, tagged `cqe`, allocating it if the slot has none
    /// (`may_fail`: without a warning or hard reclaim, its caller copes); `EBUSY` if it
    /// is posted already. A buffer allocated here goes again if the post fails.
    pub(crate) fn post_recv(&mut self, idx: u16, cqe: &'static Cqe, may_fail: bool) -> Result {
        let i = usize::from(idx);
        if *self.rx_in_device.get(i).ok_or(EINVAL)? {
            return Err(EBUSY);
        }
        if let Some(sh) = self.shared.as_mut() {
            // A grant: the slot's old buffer goes back to the queue, which backs the
            // grant as its account says.
            if let Some(old) = self.rx[i].take() {
                sh.queue.give_back(old);
            }
            self.rx_posted.push(idx);
            self.rx_in_device[i] = true;
            // SAFETY: Live QP (type invariant).
            if sh.ended || unsafe { bindings::infinisock_qp_last_wqe(self.qp.as_raw()) } {
                // The QP takes no receive any more: as a private queue would flush a
                // receive posted now, the next poll reports the slot flushed.
                // SAFETY: Live QP; its receive CQ's handler may run in any context.
                unsafe { bindings::infinisock_qp_poke_recv_cq(self.qp.as_raw()) };
            } else {
                sh.queue.grant(&mut sh.grants, 1);
            }
            return Ok(());
        }
        let fresh = self.rx[i].is_none();
        if fresh {
            self.rx[i] = Some(new_recv_buffer(&self.dev, self.buffer_size, may_fail)?);
        }
        let buf = self.rx[i].as_ref().ok_or(EINVAL)?;
        let len = u32::try_from(buf.len())?;
        // SAFETY: Live QP (type invariant); the buffer is ours and stays untouched
        // until its completion is polled (`rx_in_device`), and alive until the drain.
        let posted = to_result(unsafe { bindings::infinisock_post_recv(self.qp.as_raw(), cqe.as_raw(), buf.addr, len, self.lkey) });
        if let Err(e) = posted {
            if fresh {
                self.release_recv(idx);
            }
            return Err(e);
        }
        self.rx_posted.push(idx);
        self.rx_in_device[i] = true;
        Ok(())
    }

    /// Gives back receive buffer `idx`, which is not posted; its slot may be posted
    /// again later (with a new buffer).
    pub(crate) fn release_recv(&mut self, idx: u16) {
        let i = usize::from(idx);
        if self.rx_in_device.get(i) == Some(&false) {
            if let Some(buf) = self.rx.get_mut(i).and_then(Option::take) {
                match self.shared.as_ref() {
                    Some(sh) => sh.queue.give_back(buf),
                    None => free_recv_buffer(buf),
                }
            }
        }
    }

    /// Bytes of its shared receive queue's buffers the queue pair holds: received and
    /// not yet consumed (0 on a ring of its own, whose buffers are charged as they are
    /// allocated).
    pub(crate) fn shared_bytes_held(&self) -> usize {
        if self.shared.is_none() {
            return 0;
        }
        self.rx.iter().flatten().map(DmaBuf::len).sum()
    }

    /// A ring slot with no buffer and not posted (granted), to post a new one in.
    pub(crate) fn free_recv_slot(&self) -> Option<u16> {
        let i = self.rx.iter().zip(self.rx_in_device.iter()).position(|(b, &posted)| b.is_none() && !posted)?;
        u16::try_from(i).ok()
    }

    /// The first `len` bytes a receive (or a READ, in a landing slot) placed in buffer
    /// `idx`, made visible to the CPU; empty while the device may write it.
    pub(crate) fn received(&mut self, idx: u16, len: usize) -> &[u8] {
        self.cpu_buffer_mut(idx).map_or(&[], |buf| buf.received(len))
    }

    /// The first `len` bytes of buffer `idx` as [`QueuePair::received`] last made them
    /// visible; empty while the device may write it.
    pub(crate) fn contents(&self, idx: u16, len: usize) -> &[u8] {
        self.cpu_buffer(idx).map_or(&[], |buf| buf.contents(len))
    }

    /// Ring or landing slot `idx`'s buffer, unless the device may write it (posted,
    /// or a READ into it in flight).
    fn cpu_buffer(&self, idx: u16) -> Option<&DmaBuf> {
        let (bufs, in_device, i) = match self.landing_index(idx) {
            Some(k) => (&self.landing, &self.landing_in_device, k),
            None => (&self.rx, &self.rx_in_device, usize::from(idx)),
        };
        bufs.get(i)?.as_ref().filter(|_| !in_device[i])
    }

    /// [`Self::cpu_buffer`], to make its bytes visible to the CPU.
    fn cpu_buffer_mut(&mut self, idx: u16) -> Option<&mut DmaBuf> {
        let (bufs, in_device, i) = match self.landing_index(idx) {
            Some(k) => (&mut self.landing, &self.landing_in_device, k),
            None => (&mut self.rx, &self.rx_in_device, usize::from(idx)),
        };
        bufs.get_mut(i)?.as_mut().filter(|_| !in_device[i])
    }

    /// Ring slots and landing slots: buffer indices run below this.
    pub(crate) fn slots(&self) -> usize {
        self.rx.len() + self.landing.len()
    }

    /// The landing slot `idx` is, if it is one: its place in `landing`.
    fn landing_index(&self, idx: u16) -> Option<usize> {
        usize::from(idx).checked_sub(self.rx.len()).filter(|&k| k < self.landing.len())
    }

    /// The landing slots' indices.
    pub(crate) fn landing_slots(&self) -> core::ops::Range<u16> {
        // `new` keeps both tables within `MAX_RING`.
        self.rx.len() as u16..self.slots() as u16
    }

    /// Posts an RDMA READ of `len` bytes at the peer's `remote` (address, rkey) into
    /// landing slot `idx`, signaled, tagged `cqe`; its completion names the slot
    /// ([`Wc::buffer`]). The slot's buffer is allocated if it has none (without a
    /// warning or hard reclaim: `ENOMEM`, and the caller tries later). `EBUSY` while
    /// a READ into it is in flight; `EINVAL` for a slot that is not a landing slot or
    /// a READ longer than its buffer.
    pub(crate) fn post_read(&mut self, idx: u16, cqe: &'static Cqe, len: u32, (remote_addr, rkey): (u64, u32)) -> Result {
        let k = self.landing_index(idx).ok_or(EINVAL)?;
        if self.landing_in_device[k] {
            return Err(EBUSY);
        }
        let fresh = self.landing[k].is_none();
        self.landing_buffer(idx)?;
        let buf = self.landing[k].as_ref().ok_or(EINVAL)?;
        if len as usize > buf.len() {
            return Err(EINVAL);
        }
        // SAFETY: Live QP (type invariant); the buffer is ours, not read until the
        // READ's completion is polled (`landing_in_device`), and alive until the drain.
        let posted = to_result(unsafe {
            bindings::infinisock_post_read(self.qp.as_raw(), cqe.as_raw(), buf.addr, len, self.lkey, remote_addr, rkey)
        });
        if let Err(e) = posted {
            if fresh {
                self.release_landing(idx);
            }
            return Err(e);
        }
        self.landing_in_device[k] = true;
        self.reads.push(idx);
        self.read_tag = Some(cqe.tag());
        self.signaled_posted += 1;
        Ok(())
    }

    /// Exposes `buf` (pinned for the device to read) to the peer's RDMA READs in
    /// exposure slot `slot`: a region of the pool over exactly its bytes, readable
    /// remotely only, registered by requests posted now, unsignaled and tagged `part`
    /// (reported only if they fail or are flushed). `tag` goes into the region's
    /// address, which says nothing of ours. Returns the region's key and address for
    /// the advert. `EINVAL`: the slot is taken, or the pages make no one region (the
    /// caller copies them instead); a failure gives `buf` back, whose bytes may have
    /// been handed over already (a `sendfile()`'s gathered run). The pages stay
    /// pinned and exposed until [`QueuePair::withdraw`] or the queue pair goes.
    pub(crate) fn expose(
        &mut self,
        slot: u16,
        buf: PinnedBuf,
        part: &'static Cqe,
        tag: u32,
    ) -> core::result::Result<(u32, u64), (Error, PinnedBuf)> {
        let k = usize::from(slot);
        if !matches!(self.exposed.get(k), Some(None)) {
            return Err((EINVAL, buf));
        }
        // Room in `held` for every exposure's withdrawal, so that none fails for want
        // of memory once the pages are exposed.
        let exposed = self.exposed.iter().flatten().count();
        if let Err(e) = self.held.reserve(exposed + 1, GFP_KERNEL) {
            return Err((e.into(), buf));
        }
        // And in `kept`, should each exposure's pages be kept for their bytes, so that
        // `release_done` moves them there without allocating.
        if let Err(e) = self.kept.reserve(exposed + 1, GFP_KERNEL) {
            return Err((e.into(), buf));
        }
        let (mut rkey, mut iova) = (0, 0);
        // On success the region's registration is posted and `buf` is kept below until
        // its invalidation completes (`withdraw`) or the drain (`drop`); on failure no
        // request names its pages and it may go.
        // SAFETY: Live QP (type invariant); `buf` is pinned and in no request.
        let res = to_result(unsafe {
            bindings::infinisock_zc_expose(self.qp.as_raw(), part.as_raw(), buf.raw.as_ptr(), tag, &mut rkey, &mut iova)
        });
        if let Err(e) = res {
            return Err((e, buf));
        }
        self.exposed[k] = Some(buf);
        Ok((rkey, iova))
    }

    /// Posts an RDMA READ of the peer's `remote` (address, rkey) straight into all of
    /// `buf`'s bytes (pinned for the device to write: a reader's pages), through a
    /// region of the pool that only this adapter may write: the requests that
    /// register it go first, unsignaled and tagged `part`, then the READ, signaled
    /// and tagged `last`. The queue pair keeps `buf` until the device is done with
    /// it, and then unpins its pages, dirtied. `Err` says the error and whether a
    /// request went (then the queue pair is broken); with none gone (`EINVAL`: the
    /// pages make no one region; `ENOMEM`), the caller may land the bytes instead.
    pub(crate) fn post_user_read(
        &mut self,
        (last, part): (&'static Cqe, &'static Cqe),
        buf: PinnedBuf,
        (remote_addr, rkey): (u64, u32),
    ) -> core::result::Result<(), (Error, bool)> {
        self.held.reserve(1, GFP_KERNEL).map_err(|e| (Error::from(e), false))?;
        let mut posted = false;
        // SAFETY: Live QP (type invariant); `buf` is pinned and in no request. It is
        // held below until the device is done with every request that went, which
        // `posted` says; the region it takes from the pool goes back with it.
        let res = to_result(unsafe {
            bindings::infinisock_zc_read_into(
                self.qp.as_raw(),
                last.as_raw(),
                part.as_raw(),
                buf.raw.as_ptr(),
                remote_addr,
                rkey,
                &mut posted,
            )
        });
        if res.is_ok() {
            self.signaled_posted += 1;
        }
        if posted {
            self.hold(Held::Pages(buf), res.is_ok());
        }
        res.map_err(|e| (e, posted))
    }

    /// Makes room for `n` more pages kept for their bytes: a `sendfile()`'s gathered
    /// run reserves it before it takes bytes, so that keeping them
    /// ([`QueuePair::keep_unexposed`]) needs no memory later.
    pub(crate) fn reserve_kept(&mut self, n: usize) -> Result {
        Ok(self.kept.reserve(n, GFP_KERNEL)?)
    }

    /// Keeps `buf`'s first `len` bytes, never exposed, for the CPU to copy out as
    /// [`QueuePair::take_kept`]'s pages are, after those kept already. Gives `buf`
    /// back if no room was reserved ([`QueuePair::reserve_kept`]).
    pub(crate) fn keep_unexposed(&mut self, mut buf: PinnedBuf, len: usize) -> core::result::Result<(), PinnedBuf> {
        if self.kept.len() == self.kept.capacity() {
            return Err(buf);
        }
        buf.keep_for_copy();
        self.kept.push_within_capacity(KeptPages { buf, at: 0, end: len }).map_err(|e| e.0.buf)
    }

    /// Pages one exposed region covers at most ([`QueuePair::expose`]); 0 when the
    /// device has no fast registration.
    pub(crate) fn expose_max_pages(&self) -> usize {
        // SAFETY: Live QP (type invariant); only its device's attributes are read.
        unsafe { bindings::infinisock_zc_max_pages(self.qp.as_raw()) as usize }
    }

    /// Ends exposure slot `slot`'s exposure: one signaled invalidation of its region,
    /// tagged `cqe`, after which the peer reaches none of its pages; they are unpinned
    /// once it completes, or with `keep` (a range of their bytes) join
    /// [`QueuePair::take_kept`]'s pages then. `EINVAL` for a slot with nothing
    /// exposed.
    pub(crate) fn withdraw(&mut self, slot: u16, cqe: &'static Cqe, keep: Option<core::ops::Range<usize>>) -> Result {
        let k = usize::from(slot);
        let raw = self.exposed.get(k).and_then(Option::as_ref).ok_or(EINVAL)?.raw;
        self.held.reserve(1, GFP_KERNEL)?;
        // SAFETY: Live QP (type invariant); the pages are exposed through their own
        // region of this QP's pool (`expose`), and stay in `held` until the
        // invalidation completes.
        to_result(unsafe { bindings::infinisock_zc_withdraw(self.qp.as_raw(), cqe.as_raw(), raw.as_ptr()) })?;
        self.signaled_posted += 1;
        if let Some(buf) = self.exposed[k].take() {
            let held = match keep {
                Some(r) if r.start < r.end => Held::Kept(Some(KeptPages { buf, at: r.start, end: r.end })),
                _ => Held::Pages(buf),
            };
            self.hold(held, true);
        }
        Ok(())
    }

    /// The pages withdrawn with bytes still wanted that the device is done with,
    /// oldest first; hand them back with [`QueuePair::put_kept`].
    pub(crate) fn take_kept(&mut self) -> KVec<KeptPages> {
        core::mem::take(&mut self.kept)
    }

    /// Gives back [`QueuePair::take_kept`]'s pages, those not done with, in their
    /// order. Any withdrawn meanwhile come after them.
    pub(crate) fn put_kept(&mut self, mut pages: KVec<KeptPages>) {
        let newer = core::mem::replace(&mut self.kept, KVec::new());
        for k in newer {
            if let Err(e) = pages.push_within_capacity(k) {
                drop(e.0);
            }
        }
        self.kept = pages;
    }

    /// Whether pages kept for their bytes are waiting.
    pub(crate) fn has_kept(&self) -> bool {
        !self.kept.is_empty()
    }

    /// Unpins every kept page: their bytes are not wanted any more. Returns how many
    /// bytes were left in them.
    pub(crate) fn drop_kept(&mut self) -> usize {
        let left = self.kept.iter().map(KeptPages::left).sum();
        self.kept.clear();
        left
    }

    /// Allocates landing slot `idx`'s buffer if it has none (without a warning or
    /// hard reclaim: `ENOMEM`, and the caller tries later).
    pub(crate) fn landing_buffer(&mut self, idx: u16) -> Result {
        let k = self.landing_index(idx).ok_or(EINVAL)?;
        if self.landing[k].is_none() {
            self.landing[k] = Some(new_recv_buffer(&self.dev, self.buffer_size, true)?);
        }
        Ok(())
    }

    /// Frees landing slot `idx`'s buffer, unless a READ into it is in flight.
    pub(crate) fn release_landing(&mut self, idx: u16) {
        let Some(k) = self.landing_index(idx) else { return };
        if !self.landing_in_device[k] {
            if let Some(buf) = self.landing[k].take() {
                free_recv_buffer(buf);
            }
        }
    }

    /// Send slots in all.
    pub(crate) fn send_slots(&self) -> usize {
        self.send_slots
    }

    /// Send slots free to fill.
    pub(crate) fn send_slots_free(&self) -> usize {
        self.send_slots - (self.tx_posted - self.tx_done) as usize
    }

    /// The next send slot's bytes, at least `len`, to fill before
    /// [`QueuePair::post_send`]: the inline room when `len` fits it, else a buffer of
    /// the slot's own, taken from those kept or allocated now (`ENOMEM` when there is
    /// no memory for one, or when `may_allocate(bytes, in_flight)` refuses a buffer
    /// of `bytes` while sends are, or are not, in flight). `EAGAIN` while every slot
    /// is in flight.
    pub(crate) fn next_send_buf(&mut self, len: usize, may_allocate: impl FnOnce(usize, bool) -> bool) -> Result<&mut [u8]> {
        if self.send_slots_free() == 0 {
            return Err(EAGAIN);
        }
        if len > self.buffer_size {
            return Err(EINVAL);
        }
        if len <= self.tx_inline.len() {
            self.next_inline = true;
            return Ok(&mut self.tx_inline[..len]);
        }
        self.next_inline = false;
        let slot = (self.tx_posted % self.send_slots as u64) as usize;
        if self.tx.get(slot).and_then(Option::as_ref).is_none_or(|b| b.len() < len) {
            let kept = self.tx_spare.iter().position(|b| b.len() >= len).and_then(|i| self.tx_spare.remove(i).ok());
            let buf = match kept {
                Some(buf) => buf,
                None => {
                    let bytes = send_buffer_len(len, self.buffer_size);
                    if !may_allocate(bytes, self.tx_done != self.tx_posted) {
                        return Err(ENOMEM);
                    }
                    let buf = DmaBuf::new_for_send(&self.dev, bytes)?;
                    self.tx_bytes += buf.len();
                    SEND_BUFFER_BYTES.fetch_add(buf.len(), Ordering::Relaxed);
                    buf
                }
            };
            // The tables come with the first buffer, so that only a connection holding
            // one has them and the trim that gives it back frees them.
            if self.tx.is_empty() {
                if let Err(e) = self.make_send_tables() {
                    self.send_buffer_freed(buf.len());
                    return Err(e);
                }
            }
            // A buffer filled for a message that was not posted goes back.
            if let Some(old) = self.tx[slot].replace(buf) {
                self.send_buffer_freed(old.len());
            }
        }
        match self.tx[slot].as_mut() {
            Some(buf) => Ok(buf.fill()),
            None => Err(ENOMEM),
        }
    }

    /// Allocates the per-slot send table and room for as many spare buffers, charged
    /// to the writer as its buffers are.
    fn make_send_tables(&mut self) -> Result {
        let tx = empty_slots(self.send_slots, GFP_KERNEL_ACCOUNT)?;
        self.tx_spare = KVec::with_capacity(self.send_slots, GFP_KERNEL_ACCOUNT)?;
        self.tx = tx;
        Ok(())
    }

    /// Sends the first `len` bytes of the next send slot (as filled through
    /// [`QueuePair::next_send_buf`]), signaled, tagged `cqe`; inline when they fit.
    pub(crate) fn post_send(&mut self, cqe: &'static Cqe, len: usize) -> Result {
        if self.send_slots_free() == 0 {
            return Err(EAGAIN);
        }
        let slot = (self.tx_posted % self.send_slots as u64) as usize;
        let (addr, data) = if self.next_inline {
            (0, self.tx_inline.get(..len).ok_or(EINVAL)?)
        } else {
            let buf = self.tx.get(slot).and_then(Option::as_ref).ok_or(EINVAL)?;
            (buf.addr, buf.buf.get(..len).ok_or(EINVAL)?)
        };
        let inline = len <= self.max_inline;
        let inline_data = if inline { data.as_ptr().cast() } else { core::ptr::null() };
        if !inline {
            if let Some(buf) = self.tx.get(slot).and_then(Option::as_ref) {
                buf.sync_for_device(len);
            }
        }
        let len = u32::try_from(len)?;
        // SAFETY: Live QP; inline data is copied by the post; otherwise the slot's
        // buffer is not written or freed until the device is done with it (`tx_due`).
        to_result(unsafe {
            bindings::infinisock_post_send(self.qp.as_raw(), cqe.as_raw(), addr, len, self.lkey, inline_data)
        })?;
        self.next_inline = false;
        self.signaled_posted += 1;
        self.tx_due[slot] = self.signaled_posted;
        self.tx_posted += 1;
        Ok(())
    }

    /// Posts a zero-length RDMA WRITE, signaled, tagged `cqe`: the peer's adapter
    /// acknowledges it (or the QP fails it after its retries), and it touches no
    /// memory on either side.
    pub(crate) fn post_empty_write(&mut self, cqe: &'static Cqe) -> Result {
        // SAFETY: Live QP (type invariant); the request names no buffer.
        to_result(unsafe { bindings::infinisock_post_empty_write(self.qp.as_raw(), cqe.as_raw()) })?;
        self.signaled_posted += 1;
        Ok(())
    }

    /// Pins the `len` bytes under `msg`'s iterator (not advanced) for an RDMA
    /// operation: for the device to read them (WRITE) or, `device_writes`, to write
    /// them (READ). `EFAULT` when a page is missing, `ENOBUFS` beyond
    /// `RLIMIT_MEMLOCK`; pages of a `MSG_ZEROCOPY` call are charged to its `notify`
    /// (see [`PinnedBuf::pin`]).
    pub(crate) fn pin(
        &self,
        msg: &mut Msg,
        len: usize,
        device_writes: bool,
        notify: Option<&ZcNotify>,
    ) -> Result<PinnedBuf> {
        PinnedBuf::pin(&self.pd, &self.dev, msg, len, device_writes, false, notify)
    }

    /// As [`QueuePair::pin`], for the device to read the bytes of a zero-copy advert:
    /// the program's memory, or the pages a `sendfile()` or `splice()` hands the
    /// socket (`MSG_SPLICE_PAGES`, [`Msg::zc_segment`]), which are held by a
    /// reference each instead, as TCP holds them, and charged to nobody.
    pub(crate) fn pin_for_advert(&self, msg: &mut Msg, len: usize, notify: Option<&ZcNotify>) -> Result<PinnedBuf> {
        PinnedBuf::pin(&self.pd, &self.dev, msg, len, false, true, notify)
    }

    /// Whether the pool of fast-registration regions (see [`QueuePair::post_rdma`])
    /// holds any not in use.
    pub(crate) fn keeps_regions(&self) -> bool {
        // SAFETY: Live QP (type invariant); the pool's list is read under its lock.
        unsafe { bindings::infinisock_qp_keeps_mrs(self.qp.as_raw()) }
    }

    /// Deregisters the pool's regions not in use; the next operations register new
    /// ones.
    pub(crate) fn trim_regions(&mut self) {
        // SAFETY: Live QP (type invariant); regions in use are not in the pool's list,
        // and come back to it when their pages go.
        unsafe { bindings::infinisock_qp_trim_mrs(self.qp.as_raw()) };
    }

    /// Room for one more held operation, reserved before posting it; `EOPNOTSUPP` on
    /// a queue pair with no send-queue entries for RDMA operations.
    fn reserve_held(&mut self) -> Result {
        if self.rdma_requests == 0 {
            return Err(EOPNOTSUPP);
        }
        self.held.reserve(1, GFP_KERNEL)?;
        Ok(())
    }

    /// Keeps `local` until the device is done with a request posted now, signaled
    /// (`signaled`) or not: an unsignaled one is done when the next signaled one is.
    fn hold(&mut self, local: Held, signaled: bool) {
        let due = self.signaled_posted + u64::from(!signaled);
        // Room was reserved before posting (`reserve_held`, under the same `&mut self`).
        if let Err(e) = self.held.push_within_capacity((due, local)) {
            // Not reached. Leaked rather than freed under the device (pool regions
            // leaked with it would make the QP's destruction warn).
            core::mem::forget(e.0);
        }
    }

    /// Posts `verb` over `buf` at the peer's `remote_addr`/`rkey`, split into requests
    /// of at most `max_sge` SGEs. A write with immediate is one request: where its
    /// pages need more SGEs, runs of them are registered first through regions of this
    /// queue pair's pool (kept registered from one operation to the next), and the
    /// requests that register them go before it. Once the requests are ready,
    /// `ready` takes what else the operation needs (a credit).
    ///
    /// `Err`: nothing was posted and the queue pair is as it was (`EMSGSIZE`: too
    /// fragmented for one request; `EOPNOTSUPP`: no fast registration or no entries
    /// for RDMA; `ENOMEM`; or `ready`'s error). Otherwise how many requests were
    /// posted: all of them, or on failure the error and how many went. Only the last
    /// is signaled and tagged `last`; the others are tagged `part`. The queue pair
    /// keeps `buf` until the device is done with it.
    pub(crate) fn post_rdma(
        &mut self,
        (last, part): (&'static Cqe, &'static Cqe),
        buf: PinnedBuf,
        verb: RdmaVerb,
        (remote_addr, rkey): (u64, u32),
        max_sge: u32,
        ready: impl FnOnce() -> Result,
    ) -> Result<(u32, Result)> {
        self.reserve_held()?;
        if let RdmaVerb::WriteImm(_) = verb {
            // SAFETY: Live QP (type invariant) and buffer, not posted. The regions it
            // takes from the QP's pool go back when `buf` is freed: in this call, or
            // from `held`, which `drop` empties before it destroys the QP.
            to_result(unsafe { bindings::infinisock_pinned_one_request(self.qp.as_raw(), buf.raw.as_ptr(), max_sge) })?;
        }
        ready()?;
        let (op, imm) = verb.raw();
        let mut posted = 0;
        // SAFETY: Live QP (type invariant); `buf` is held below until the device is
        // done with every request posted on it.
        let ret = unsafe {
            bindings::infinisock_post_rdma(
                self.qp.as_raw(),
                last.as_raw(),
                part.as_raw(),
                buf.raw.as_ptr(),
                op,
                imm,
                remote_addr,
                rkey,
                max_sge,
                &mut posted,
            )
        };
        let res = to_result(ret);
        // All posted: the last one, signaled, went too.
        if res.is_ok() {
            self.signaled_posted += 1;
        }
        if posted > 0 {
            self.hold(Held::Pages(buf), res.is_ok());
        }
        Ok((posted, res))
    }

    /// Posts `verb` as one signaled request tagged `cqe` whose local side is
    /// `[addr, addr + len)` of the registered region `mr` (user addresses). The queue
    /// pair keeps `mr` until the device is done with it.
    pub(crate) fn post_rdma_region(
        &mut self,
        cqe: &'static Cqe,
        mr: &Arc<UserMr>,
        (addr, len): (u64, u32),
        verb: RdmaVerb,
        (remote_addr, rkey): (u64, u32),
    ) -> Result {
        self.reserve_held()?;
        let (op, imm) = verb.raw();
        // SAFETY: Live QP and MR (type invariants); `mr` is held below until the
        // device is done with the request.
        to_result(unsafe {
            bindings::infinisock_post_rdma_mr(self.qp.as_raw(), cqe.as_raw(), mr.mr.as_ptr(), addr, len, op, imm, remote_addr, rkey)
        })?;
        self.signaled_posted += 1;
        self.hold(Held::Region(mr.clone()), true);
        Ok(())
    }
}

impl QueuePair {
    /// The drain of a QP on a shared CQ failed: the CQ may still deliver its
    /// completions, and the device may still use what its requests name. Everything
    /// they may reach is kept for ever (the mailbox and CQ place, never dropped; the
    /// send buffers and RDMA pages; the queue, PD and device, by references never
    /// given back) and the QP is not destroyed: a leak, against a use after free.
    /// The pages kept give back the `MSG_ZEROCOPY` notifications they hold, which hold
    /// their socks: the leak stays the pages'.
    fn keep_after_failed_drain(&mut self) {
        pr_err!("a queue pair's drain failed: its resources are kept\n");
        let held = self.held.iter().filter_map(|(_, h)| match h {
            Held::Pages(buf) | Held::Kept(Some(KeptPages { buf, .. })) => Some(buf),
            Held::Region(_) | Held::Kept(None) => None,
        });
        for buf in Iterator::chain(held, self.exposed.iter().flatten()) {
            buf.release_notification();
        }
        core::mem::forget(core::mem::replace(&mut self.tx, KVec::new()));
        core::mem::forget(core::mem::replace(&mut self.held, KVec::new()));
        core::mem::forget(core::mem::replace(&mut self.landing, KVec::new()));
        core::mem::forget(core::mem::replace(&mut self.exposed, KVec::new()));
        core::mem::forget(self.pd.clone());
        core::mem::forget(self.dev.clone());
        if let Some(sh) = &self.shared {
            core::mem::forget(sh.queue.clone());
        }
    }
}

impl Drop for QueuePair {
    fn drop(&mut self) {
        // Every posted request completes or is flushed before anything it uses goes.
        match &*self.cqs {
            // SAFETY: Live QP; its queues have room for one marker each (`new` reserved
            // it) and nobody else polls its CQs any more (`&mut self`).
            Completions::Own { .. } => unsafe { bindings::infinisock_drain_qp(self.qp.as_raw()) },
            Completions::Shared { .. } => {
                // SAFETY: Live QP on a shared CQ, on the shared receive queue, with room
                // for the drain's marker. Once it returns true nothing goes to the
                // mailbox any more.
                if !unsafe { bindings::infinisock_drain_shared(self.qp.as_raw()) } {
                    self.keep_after_failed_drain();
                    return;
                }
            }
        }
        // On a shared receive queue the drain left the mailbox's receives: they name
        // the queue's buffers, which go back to it.
        if let Some(sh) = self.shared.as_mut() {
            // Its grants go first, so that its buffers are posted again only if the
            // others' grants want them.
            sh.queue.leave(&mut sh.grants);
            let mut batch = [None; POLL_BATCH];
            loop {
                let (n, _, _) = self.cqs.poll(CqSide::Recv, &mut batch);
                for wc in batch[..n].iter().flatten().filter(|wc| wc.tag & SRQ_TAG != 0) {
                    sh.queue.unposted(wc.tag & !SRQ_TAG);
                }
                if n == 0 {
                    break;
                }
            }
            for buf in self.rx.iter_mut().filter_map(Option::take) {
                sh.queue.give_back(buf);
            }
        }
        // Before the QP: pages whose regions came from its pool give them back.
        self.held.clear();
        self.exposed.clear();
        self.kept.clear();
        // SAFETY: Live QP, destroyed once, here. Destroying a kernel QP only fails for
        // QPs with user-space state, which ours never have.
        let r = to_result(unsafe { bindings::infinisock_destroy_qp(self.qp.as_raw()) });
        if let Err(e) = r {
            pr_err!("destroying QP failed: {:?}\n", e);
        }
        let held = self.tx_bytes;
        self.send_buffer_freed(held);
        let rx_bytes = Iterator::chain(self.rx.iter(), self.landing.iter()).flatten().map(DmaBuf::len).sum::<usize>();
        uncount_recv_bytes(rx_bytes);
        // SAFETY: Dropped once, here, after the QP that used it was destroyed.
        unsafe { ManuallyDrop::drop(&mut self.cqs) };
        // The fields go now: rings, send buffers, PD, device.
    }
}
