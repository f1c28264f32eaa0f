// SPDX-License-Identifier: GPL-2.0

//! Verbs objects of one RDMA device: protection domain, completion queues, RC queue
//! pairs, DMA-mapped buffers and work requests. Each object is owned by a Rust value and
//! destroyed when it is dropped.

use core::{cell::UnsafeCell, ffi::c_void, ptr::NonNull};

use kernel::{error::to_result, prelude::*, sync::{Arc, ArcBorrow}};

use crate::{
    kernel_api::{bindings, ib::{DeviceRef, IbDevice}, zc_notify::ZcNotify},
    proto::rdma::Access,
};

/// Turns a helper's (pointer, errno) answer into a `Result`.
pub(super) fn checked<T>(ptr: *mut T, err: i32) -> Result<NonNull<T>> {
    match NonNull::new(ptr) {
        Some(p) => Ok(p),
        None if err < 0 => Err(Error::from_errno(err)),
        None => Err(EINVAL),
    }
}

/// A protection domain (`ib_alloc_pd`).
///
/// # Invariants
///
/// `0` is a live PD, deallocated only in `drop`; every object created in it holds a
/// reference to it, so it outlives them.
pub(crate) struct Pd(NonNull<bindings::ib_pd>);

// SAFETY: PD operations may be called from any thread.
unsafe impl Send for Pd {}
// SAFETY: No method mutates through `&self` on the Rust side.
unsafe impl Sync for Pd {}

impl Pd {
    /// Allocates a PD on `dev`.
    pub(crate) fn new(dev: &IbDevice) -> Result<Self> {
        let mut err = 0;
        // SAFETY: The device is registered (`IbDevice` invariant).
        let pd = unsafe { bindings::infinisock_alloc_pd(dev.as_raw(), &mut err) };
        Ok(Self(checked(pd, err)?))
    }

    /// The key that covers all kernel memory DMA-mapped for the PD's device.
    pub(crate) fn local_dma_lkey(&self) -> u32 {
        // SAFETY: Live PD (type invariant).
        unsafe { bindings::infinisock_pd_lkey(self.0.as_ptr()) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::ib_pd {
        self.0.as_ptr()
    }
}

impl Drop for Pd {
    fn drop(&mut self) {
        // SAFETY: Live PD (type invariant); objects in it keep it alive until dropped.
        unsafe { bindings::infinisock_dealloc_pd(self.0.as_ptr()) };
    }
}

/// A completion queue: polled by ib_core from softirq ([`Cq::new`]), or reaped by its
/// owner ([`Cq::reaped`]).
///
/// # Invariants
///
/// `raw` is a live CQ, freed only in `drop`, before `events` (the context its event
/// handler is given, if it has one) is released.
pub(crate) struct Cq {
    raw: NonNull<bindings::ib_cq>,
    events: Option<Arc<dyn KeptAlive>>,
}

// SAFETY: CQ operations may be called from any thread.
unsafe impl Send for Cq {}
// SAFETY: No method mutates through `&self` on the Rust side.
unsafe impl Sync for Cq {}

impl Cq {
    /// Allocates a CQ of at least `entries` entries on `dev`.
    pub(crate) fn new(dev: &IbDevice, entries: u32) -> Result<Self> {
        Self::alloc(dev, entries, bindings::ib_poll_context_IB_POLL_SOFTIRQ)
    }

    /// Allocates a CQ that its owner polls with [`Cq::poll`] when it chooses: nobody
    /// hears of its completions.
    pub(crate) fn polled(dev: &IbDevice, entries: u32) -> Result<Self> {
        Self::alloc(dev, entries, bindings::ib_poll_context_IB_POLL_DIRECT)
    }

    fn alloc(dev: &IbDevice, entries: u32, poll: bindings::ib_poll_context) -> Result<Self> {
        let mut err = 0;
        let entries = i32::try_from(entries).map_err(|_| EINVAL)?;
        // SAFETY: The device is registered; no completion context is used.
        let cq = unsafe { bindings::infinisock_alloc_cq(dev.as_raw(), core::ptr::null_mut(), entries, poll as i32, &mut err) };
        Ok(Self { raw: checked(cq, err)?, events: None })
    }

    /// Allocates a CQ that its owner reaps itself with [`Cq::poll`], under its own
    /// lock: ib_core only tells `events` that completions arrived. The CQ holds
    /// `events` until it is freed.
    pub(crate) fn reaped<H: CqEvents>(dev: &IbDevice, entries: u32, events: Arc<H>, side: CqSide) -> Result<Self> {
        let ctx = Arc::as_ptr(&events);
        let mut err = 0;
        let entries = i32::try_from(entries).map_err(|_| EINVAL)?;
        let event: unsafe extern "C" fn(*mut bindings::ib_cq, *mut c_void) = match side {
            CqSide::Send => cq_event::<H, false>,
            CqSide::Recv => cq_event::<H, true>,
        };
        // SAFETY: The device is registered; the CQ holds `events`, so `ctx` stays valid
        // for `cq_event` until the CQ is freed (type invariant).
        let cq = unsafe {
            bindings::infinisock_alloc_cq_reaped(dev.as_raw(), ctx as *mut c_void, entries, Some(event), &mut err)
        };
        Ok(Self { raw: checked(cq, err)?, events: Some(events) })
    }

    /// Takes up to [`POLL_BATCH`] completions. Returns how many were taken; `None`
    /// stands for one that was not ours (a drain marker, handled by its owner). Only
    /// for CQs from [`Cq::reaped`] and [`Cq::polled`], by one caller at a time.
    pub(crate) fn poll(&self, out: &mut [Option<Wc>; POLL_BATCH]) -> usize {
        let mut raw = [NO_WC; POLL_BATCH];
        // SAFETY: Live CQ (type invariant); `raw` has room for `POLL_BATCH` entries.
        let got = unsafe { bindings::infinisock_poll_cq(self.raw.as_ptr(), raw.as_mut_ptr(), POLL_BATCH as i32) };
        let got = (got.max(0) as usize).min(POLL_BATCH);
        // SAFETY: `infinisock_poll_cq` reports only completions whose `ib_cqe` is one
        // of our `Cqe`s, or none.
        unsafe { wcs_from(&raw[..got], out) };
        got
    }

    /// Asks for an event at the next completion. Returns `true` when completions may
    /// have arrived since the last [`Cq::poll`] without one: poll again.
    pub(crate) fn arm(&self) -> bool {
        // SAFETY: Live CQ (type invariant).
        unsafe { bindings::infinisock_arm_cq(self.raw.as_ptr()) > 0 }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::ib_cq {
        self.raw.as_ptr()
    }
}

impl Drop for Cq {
    fn drop(&mut self) {
        // SAFETY: Live CQ; every QP using it was destroyed first (`Qp` borrows it).
        // Freeing it waits for its event handler; `events` is released after.
        unsafe { bindings::infinisock_free_cq(self.raw.as_ptr()) };
        drop(self.events.take());
    }
}

/// Converts completions as the C helpers report them into `out`.
///
/// # Safety
///
/// Each non-null `cqe` in `raw` is the `ib_cqe` of one of our `'static` [`Cqe`]s.
pub(super) unsafe fn wcs_from(raw: &[bindings::infinisock_wc], out: &mut [Option<Wc>; POLL_BATCH]) {
    for (slot, wc) in out.iter_mut().zip(raw) {
        *slot = NonNull::new(wc.cqe).map(|cqe| Wc {
            // SAFETY: See above: the `ib_cqe` is the first field of a `Cqe` (`repr(C)`).
            tag: unsafe { cqe.cast::<Cqe>().as_ref() }.tag,
            status: wc.status,
            byte_len: wc.byte_len,
            imm: wc.with_imm.then_some(wc.imm),
            invalidated: wc.with_inv,
            buffer: None,
            overrun: false,
        });
    }
}

/// An empty completion batch.
pub(super) const NO_WC: bindings::infinisock_wc =
    bindings::infinisock_wc { cqe: core::ptr::null_mut(), status: 0, byte_len: 0, with_imm: false, imm: 0, with_inv: false };

/// Sizes of a queue pair's work queues.
#[derive(Clone, Copy)]
pub(crate) struct QpCaps {
    /// Send work requests outstanding at once.
    pub(crate) send_wr: u32,
    /// Receive work requests outstanding at once.
    pub(crate) recv_wr: u32,
    /// Scatter/gather entries per work request.
    pub(crate) sge: u32,
}

/// A reliable-connected queue pair (`ib_create_qp`), in RESET state until connected.
///
/// # Invariants
///
/// `qp` is a live QP whose PD and CQs are the borrowed ones; it is destroyed in `drop`,
/// before any of them can be.
pub(crate) struct Qp<'a> {
    qp: NonNull<bindings::ib_qp>,
    _pd: &'a Pd,
    _cqs: (&'a Cq, &'a Cq),
}

// SAFETY: QP operations may be called from any thread.
unsafe impl Send for Qp<'_> {}

impl<'a> Qp<'a> {
    /// Creates an RC QP in `pd` completing to `send_cq` and `recv_cq`.
    pub(crate) fn new_rc(pd: &'a Pd, send_cq: &'a Cq, recv_cq: &'a Cq, caps: QpCaps) -> Result<Self> {
        let mut err = 0;
        // SAFETY: PD and CQs are live and outlive the QP (borrowed for `'a`).
        let qp = unsafe {
            bindings::infinisock_create_rc_qp(
                pd.0.as_ptr(),
                send_cq.raw.as_ptr(),
                recv_cq.raw.as_ptr(),
                caps.send_wr,
                caps.recv_wr,
                caps.sge,
                core::ptr::null_mut(),
                &mut err,
            )
        };
        Ok(Self { qp: checked(qp, err)?, _pd: pd, _cqs: (send_cq, recv_cq) })
    }

    /// The QP number the peer addresses.
    pub(crate) fn num(&self) -> u32 {
        // SAFETY: Live QP (type invariant).
        unsafe { bindings::infinisock_qp_num(self.qp.as_ptr()) }
    }
}

impl Drop for Qp<'_> {
    fn drop(&mut self) {
        // SAFETY: Live QP, destroyed once. Destroying a kernel QP only fails for QPs
        // with user-space state, which ours never have.
        let r = to_result(unsafe { bindings::infinisock_destroy_qp(self.qp.as_ptr()) });
        if let Err(e) = r {
            pr_err!("destroying QP failed: {:?}\n", e);
        }
    }
}

/// Completions taken by one [`Cq::poll`] at most.
pub(crate) const POLL_BATCH: usize = bindings::INFINISOCK_POLL_BATCH as usize;

/// Which work queue of a QP a CQ serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CqSide {
    Send,
    Recv,
}

/// Anything a CQ keeps alive for its event handler.
pub(super) trait KeptAlive: Send + Sync {}

impl<T: Send + Sync> KeptAlive for T {}

/// Hears that a CQ created with [`Cq::reaped`] has completions to reap.
pub(crate) trait CqEvents: Send + Sync + 'static {
    /// Runs in atomic context (the device's completion path, interrupts off): may
    /// wake and queue work, must not sleep or poll the CQ. `this` is borrowed from the
    /// reference the CQ holds.
    fn cq_event(this: ArcBorrow<'_, Self>, side: CqSide);
}

/// # Safety
///
/// `ctx` is `Arc::as_ptr` of the `H` given to [`Cq::reaped`], which the CQ holds.
pub(super) unsafe extern "C" fn cq_event<H: CqEvents, const RECV: bool>(_cq: *mut bindings::ib_cq, ctx: *mut c_void) {
    // SAFETY: See above: the CQ's reference keeps it alive during the call.
    let this = unsafe { ArcBorrow::<H>::from_raw(ctx.cast::<H>()) };
    H::cq_event(this, if RECV { CqSide::Recv } else { CqSide::Send });
}

/// What a completion reports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wc {
    /// The tag of the [`Cqe`] the work request was posted with: what kind of request
    /// it was, in the protocol's own terms.
    pub(crate) tag: u32,
    /// `enum ib_wc_status`: 0 is success.
    pub(crate) status: u32,
    /// Bytes received (receives only).
    pub(crate) byte_len: u32,
    /// A receive an RDMA WRITE with immediate consumed: its immediate data.
    pub(crate) imm: Option<u32>,
    /// A receive of a SEND with invalidate: the device invalidated the key the
    /// sender named before it completed the receive.
    pub(crate) invalidated: bool,
    /// A receive of a [`crate::kernel_api::qp::QueuePair`]'s ring: the buffer it
    /// completed (or flushed), which the device is done with.
    pub(crate) buffer: Option<u16>,
    /// A receive from a shared receive queue beyond what the queue pair granted: the
    /// peer broke flow control (the buffer went back to the queue).
    pub(crate) overrun: bool,
}

impl crate::proto::rdma::RequestStatus for Wc {
    fn ok(&self) -> bool {
        Wc::ok(self)
    }

    fn flushed(&self) -> bool {
        Wc::flushed(self)
    }

    fn peer_silent(&self) -> bool {
        Wc::peer_silent(self)
    }
}

impl Wc {
    /// Whether the work request succeeded.
    pub(crate) fn ok(&self) -> bool {
        self.status == bindings::ib_wc_status_IB_WC_SUCCESS
    }

    /// Whether it was flushed because the QP went to the error state (teardown).
    pub(crate) fn flushed(&self) -> bool {
        self.status == bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR
    }

    /// The errno a program sees for this completion's status: 0 for success,
    /// `EACCES` when the peer's key refused the access, `ETIMEDOUT` for a silent peer,
    /// `ECANCELED` for a flush, `EIO` for anything else.
    pub(crate) fn errno(&self) -> u32 {
        let e = match self.status {
            bindings::ib_wc_status_IB_WC_SUCCESS => return 0,
            bindings::ib_wc_status_IB_WC_REM_ACCESS_ERR => EACCES,
            bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR => ECANCELED,
            _ if self.peer_silent() => ETIMEDOUT,
            _ => EIO,
        };
        (-e.to_errno()) as u32
    }

    /// Whether the peer never acknowledged it: the transport's retries (or its
    /// receiver-not-ready retries) ran out.
    pub(crate) fn peer_silent(&self) -> bool {
        self.status == bindings::ib_wc_status_IB_WC_RETRY_EXC_ERR || self.rnr_retries_exceeded()
    }

    /// Whether the peer's adapter kept answering receiver-not-ready (no receive
    /// posted) until the retries ran out.
    pub(crate) fn rnr_retries_exceeded(&self) -> bool {
        self.status == bindings::ib_wc_status_IB_WC_RNR_RETRY_EXC_ERR
    }
}

/// The `struct ib_cqe` a work request carries, and the tag its completion reports
/// ([`Wc::tag`]): the protocol names its kinds of work request with tags of its own,
/// so this layer needs to know none of them. One static per kind; [`Cq::poll`] finds
/// the tag through the pointer.
#[repr(C)]
pub(crate) struct Cqe {
    raw: UnsafeCell<bindings::ib_cqe>,
    tag: u32,
}

// The C side (`mailbox.c`) reads the tag behind the `ib_cqe`.
const _: () = assert!(core::mem::offset_of!(Cqe, tag) == core::mem::size_of::<bindings::ib_cqe>());

// SAFETY: The kernel only reads it; Rust never writes it after construction.
unsafe impl Sync for Cqe {}

impl Cqe {
    /// The entry whose completions [`Cq::poll`] reports with `tag`.
    pub(crate) const fn new(tag: u32) -> Self {
        Self { raw: UnsafeCell::new(bindings::ib_cqe { done: Some(bindings::infinisock_cqe_reaped) }), tag }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::ib_cqe {
        self.raw.get()
    }

    /// The tag its completions report.
    pub(super) fn tag(&self) -> u32 {
        self.tag
    }
}

/// DMA direction of a [`DmaBuf`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DmaDir {
    /// The device reads it (send buffers).
    ToDevice,
    /// The device writes it (receive buffers).
    FromDevice,
}

impl DmaDir {
    fn raw(self) -> i32 {
        match self {
            // `enum dma_data_direction`: DMA_TO_DEVICE, DMA_FROM_DEVICE.
            DmaDir::ToDevice => 1,
            DmaDir::FromDevice => 2,
        }
    }
}

/// A kernel buffer mapped for DMA by one device.
///
/// # Invariants
///
/// `buf` is mapped at `addr` for `dev` in `dir` from construction until `drop`. Only a
/// [`crate::kernel_api::qp::QueuePair`] makes them: it holds `dev` longer, and reads
/// none while a receive is posted in it.
pub(crate) struct DmaBuf {
    pub(super) buf: KVec<u8>,
    pub(super) addr: u64,
    dev: NonNull<bindings::ib_device>,
    dir: DmaDir,
}

// SAFETY: The mapping may be used and torn down from any thread.
unsafe impl Send for DmaBuf {}
// SAFETY: No method mutates through `&self`.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// A receive buffer of `len` bytes; `may_fail`: one a receive window adds, whose
    /// caller copes with `ENOMEM`, so neither a warning nor hard reclaim is worth it.
    pub(super) fn new_for_recv(dev: &IbDevice, len: usize, may_fail: bool) -> Result<Self> {
        use kernel::alloc::flags::{GFP_NOWAIT, __GFP_NOWARN};
        // Charged as `GFP_KERNEL_ACCOUNT` is (its `__GFP_ACCOUNT`), without direct
        // reclaim: the kernel crate names no `__GFP_ACCOUNT` or `__GFP_NORETRY`.
        let flags = if may_fail {
            (GFP_KERNEL_ACCOUNT & !GFP_KERNEL) | GFP_NOWAIT | __GFP_NOWARN
        } else {
            GFP_KERNEL_ACCOUNT
        };
        Self::allocate(dev, len, DmaDir::FromDevice, flags)
    }

    /// A buffer of `len` bytes for a shared receive queue: charged to no memory cgroup
    /// as it is posted (it belongs to none; the connection a receive fills it for
    /// charges its owner's socket memory while it holds it), without reclaim or
    /// warning (the queue retries).
    pub(super) fn new_for_shared_recv(dev: &IbDevice, len: usize) -> Result<Self> {
        use kernel::alloc::flags::{GFP_NOWAIT, __GFP_NOWARN};
        Self::allocate(dev, len, DmaDir::FromDevice, GFP_NOWAIT | __GFP_NOWARN)
    }

    /// A buffer of `len` bytes the device reads a message from, taken as a message is
    /// written: its caller copes with `ENOMEM`, so a failure is not worth a warning.
    pub(super) fn new_for_send(dev: &IbDevice, len: usize) -> Result<Self> {
        Self::allocate(dev, len, DmaDir::ToDevice, GFP_KERNEL_ACCOUNT | kernel::alloc::flags::__GFP_NOWARN)
    }

    /// Allocates `len` zeroed bytes with `flags` and maps them for `dev`.
    fn allocate(dev: &IbDevice, len: usize, dir: DmaDir, flags: kernel::alloc::Flags) -> Result<Self> {
        // Charged to the memory cgroup (the caller's, or the one it chose for the task)
        // if `flags` say `__GFP_ACCOUNT`.
        let mut buf = KVec::from_elem(0u8, len, flags)?;
        let mut addr = 0u64;
        // SAFETY: The device is registered; `buf` is `len` bytes of kernel memory, kept
        // (and never moved: a `KVec`'s heap storage is stable) until unmapped.
        to_result(unsafe {
            bindings::infinisock_dma_map(dev.as_raw(), buf.as_mut_ptr().cast(), len, dir.raw(), &mut addr)
        })?;
        // SAFETY: `IbDevice` is never null.
        let dev = unsafe { NonNull::new_unchecked(dev.as_raw()) };
        Ok(Self { buf, addr, dev, dir })
    }

    /// The buffer's size.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Makes the first `len` bytes the device wrote visible to the CPU and returns them.
    pub(super) fn received(&mut self, len: usize) -> &[u8] {
        let len = len.min(self.buf.len());
        // SAFETY: Mapped buffer (type invariant); syncing a prefix is allowed.
        unsafe { bindings::infinisock_dma_sync_for_cpu(self.dev.as_ptr(), self.addr, len, self.dir.raw()) };
        &self.buf[..len]
    }

    /// The first `len` bytes, as last made visible by [`DmaBuf::received`].
    pub(super) fn contents(&self, len: usize) -> &[u8] {
        &self.buf[..len.min(self.buf.len())]
    }

    /// The bytes the CPU may fill before handing the buffer to the device.
    pub(super) fn fill(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Makes the first `len` bytes the CPU wrote visible to the device.
    pub(super) fn sync_for_device(&self, len: usize) {
        // SAFETY: Mapped buffer; `len` is within it.
        unsafe { bindings::infinisock_dma_sync_for_device(self.dev.as_ptr(), self.addr, len.min(self.buf.len()), self.dir.raw()) };
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: Mapped with these arguments (type invariant), unmapped once.
        unsafe { bindings::infinisock_dma_unmap(self.dev.as_ptr(), self.addr, self.buf.len(), self.dir.raw()) };
    }
}

/// A region of the current process's memory registered for the peer's RDMA
/// (`ib_reg_user_mr`): pinned and accounted against `RLIMIT_MEMLOCK` until dropped.
///
/// # Invariants
///
/// `mr` is a live user MR of `pd`, which this value keeps.
pub(crate) struct UserMr {
    pub(super) mr: NonNull<bindings::ib_mr>,
    _pd: Arc<Pd>,
}

// SAFETY: An MR may be deregistered from any thread (the pinned pages keep a
// reference to the registering process's mm).
unsafe impl Send for UserMr {}
// SAFETY: No method mutates through `&self`.
unsafe impl Sync for UserMr {}

impl UserMr {
    /// Registers `[addr, addr + len)` of the current process in `pd` with the peer's
    /// rights and, `local_write`, as a landing place for RDMA READs. `EFAULT` for
    /// unmapped memory, `ENOMEM`/`EPERM` over `RLIMIT_MEMLOCK`.
    pub(crate) fn register(pd: &Arc<Pd>, addr: u64, len: u64, access: Access) -> Result<Self> {
        let mut err = 0;
        // SAFETY: Live PD; the call is made in the registering process's context.
        let mr = unsafe {
            bindings::infinisock_reg_user_mr(
                pd.as_raw(),
                addr,
                len,
                access.remote_read,
                access.remote_write,
                access.local_write,
                &mut err,
            )
        };
        Ok(Self { mr: checked(mr, err)?, _pd: pd.clone() })
    }

    /// Faults in what [`UserMr::register`] will pin, as long as that takes: before
    /// taking the endpoint's lock, which a fault userspace controls must not hold.
    /// `EFAULT` for unmapped memory.
    pub(crate) fn fault_in(addr: u64, len: u64, access: Access) -> Result {
        let writeable = access.remote_write || access.local_write;
        // SAFETY: Only faults in the current process's own memory.
        to_result(unsafe { bindings::infinisock_user_fault_in(addr, len, writeable) })
    }

    /// The key the peer names the region with.
    pub(crate) fn rkey(&self) -> u32 {
        // SAFETY: Live MR (type invariant).
        unsafe { bindings::infinisock_mr_rkey(self.mr.as_ptr()) }
    }
}

impl Drop for UserMr {
    fn drop(&mut self) {
        // SAFETY: Live MR, deregistered once; this unpins its pages.
        unsafe { bindings::infinisock_dereg_mr(self.mr.as_ptr()) };
    }
}

/// The local buffer of one RDMA operation: the user pages under a `sendmsg`'s
/// iterator, pinned and mapped for the device until dropped (made by
/// [`crate::kernel_api::qp::QueuePair::pin`]).
///
/// # Invariants
///
/// `raw` is a live `infinisock_pinned`, mapped for `_dev`; both are kept until it is
/// freed. Regions it took from a queue pair's pool (a write with immediate, see
/// [`crate::kernel_api::qp::QueuePair::post_rdma`]) go back to the pool when it is
/// freed, so it is freed before that QP is destroyed: it never leaves the queue pair
/// once it has some. While a posted request may use its pages, the queue pair it was
/// posted on keeps it.
pub(crate) struct PinnedBuf {
    pub(super) raw: NonNull<bindings::infinisock_pinned>,
    _pd: Arc<Pd>,
    _dev: Arc<DeviceRef>,
}

// SAFETY: Unpinning and unmapping may happen on any thread.
unsafe impl Send for PinnedBuf {}

impl PinnedBuf {
    /// Pins the `len` bytes under `msg`'s iterator (not advanced) for `dev`: for the
    /// device to read (RDMA WRITE) or, with `device_writes`, to write (RDMA READ).
    /// The pins are charged to `RLIMIT_MEMLOCK`, unless they belong to a
    /// `MSG_ZEROCOPY` call whose `notify` was charged for them: they then keep it, and
    /// its notification waits until they go. `spliced`: the pages of a `splice()`
    /// (a bvec of `MSG_SPLICE_PAGES`, for the device to read) are taken too, by a
    /// reference each, charged to nobody.
    pub(super) fn pin(
        pd: &Arc<Pd>,
        dev: &Arc<DeviceRef>,
        msg: &mut crate::kernel_api::sock::Msg,
        len: usize,
        device_writes: bool,
        spliced: bool,
        notify: Option<&ZcNotify>,
    ) -> Result<Self> {
        let mut err = 0;
        let notify = notify.map_or(core::ptr::null_mut(), ZcNotify::as_raw);
        // SAFETY: Live device and PD (held); the iterator is the message's, valid
        // during the call (the pins outlive it, not the iterator); `notify` is null
        // or a live notification, of which the pins take a reference of their own.
        let p = unsafe {
            bindings::infinisock_pin_iter(
                dev.as_raw(),
                msg.iter_raw(),
                len,
                device_writes,
                spliced,
                pd.local_dma_lkey(),
                notify,
                &mut err,
            )
        };
        Ok(Self { raw: checked(p, err)?, _pd: pd.clone(), _dev: dev.clone() })
    }
}

impl PinnedBuf {
    /// Copies its bytes from the `from`th on into `dst`, as many as fit and it has;
    /// returns how many. For pages pinned as one run, as an exposed region's
    /// ([`super::qp::QueuePair::expose`]), once the device is done with them.
    pub(crate) fn copy_out(&self, from: usize, dst: &mut [u8]) -> usize {
        // SAFETY: Live (type invariant): its pages stay pinned or referenced, hence
        // mapped in the kernel, while it lives; `dst` is valid for its length.
        unsafe { bindings::infinisock_pinned_copy(self.raw.as_ptr(), from, dst.as_mut_ptr().cast(), dst.len()) }
    }

    /// The pages are kept for the CPU to copy their bytes out: the fast-registration
    /// regions they hold go back to their queue pair's pool (their pages' regions are
    /// invalidated, the device is done with them), and the `MSG_ZEROCOPY`
    /// notification they hold, if any, will say its bytes were copied.
    pub(super) fn keep_for_copy(&mut self) {
        // SAFETY: Live (type invariant, `&mut`); its regions are in no request any
        // more (the caller's condition), and their pool's QP is live while `self` is
        // one of its queue pair's.
        unsafe { bindings::infinisock_pinned_kept_for_copy(self.raw.as_ptr()) };
    }

    /// Takes `other`'s pages after its own, both a splice's referenced pages in no
    /// request, as one run for one exposure. `EINVAL` unless its last byte ends a page
    /// and `other`'s first begins one (`other` then goes, its pages released).
    pub(crate) fn append(&mut self, other: PinnedBuf) -> Result {
        // SAFETY: Both live (type invariant), distinct (`other` is owned), in no
        // request; the helper moves `other`'s pages and their mappings, leaving it
        // empty, which its drop then frees.
        to_result(unsafe { bindings::infinisock_pinned_append(self.raw.as_ptr(), other.raw.as_ptr()) })
    }

    /// Gives back the `MSG_ZEROCOPY` notification the pins hold, if any, before they
    /// go: for pages kept for ever (a failed drain), whose notification would hold its
    /// sock for ever too. The charge goes with it.
    pub(super) fn release_notification(&self) {
        // SAFETY: Live (type invariant); only its notification reference is given up,
        // once (the helper clears it).
        unsafe { bindings::infinisock_pinned_release_notify(self.raw.as_ptr()) };
    }
}

impl Drop for PinnedBuf {
    fn drop(&mut self) {
        // SAFETY: Live, freed once; no posted request uses it any more (invariant).
        unsafe { bindings::infinisock_unpin(self.raw.as_ptr()) };
    }
}

/// SGEs per RDMA WRITE and per RDMA READ request `dev` takes (capped).
pub(crate) fn device_sges(dev: &IbDevice) -> (u32, u32) {
    let (mut send, mut read) = (1, 1);
    // SAFETY: The device is registered.
    unsafe { bindings::infinisock_dev_sges(dev.as_raw(), &mut send, &mut read) };
    (send, read)
}
