// SPDX-License-Identifier: GPL-2.0

//! A device's shared receive queue: receive buffers posted once for many queue pairs,
//! each filled by whichever queue pair's peer sends next, so that an idle connection
//! holds none (memory model, step 3a).
//!
//! [`SharedRecvQueue`] owns the SRQ, the PD it and the queue pairs on it live in
//! (rdma_rxe places a receive through the QP's PD, so they must share it; no region
//! with remote access is ever registered in it), and the buffers posted in it. A queue
//! pair on it (`qp.rs`) takes the buffer a receive completed in and gives it back
//! when its owner is done with it. How many buffers stay posted is
//! `proto::recv_pool`'s account, kept under the same lock as the slots, so that the
//! account and the queue never disagree.

use core::{ptr::NonNull, sync::atomic::{AtomicUsize, Ordering}};

use kernel::{
    alloc::KVVec,
    error::to_result,
    new_delayed_work, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    workqueue::{impl_has_delayed_work, DelayedWork, WorkItem},
};

use crate::{
    kernel_api::{
        bindings,
        ib::DeviceRef,
        qp::{free_recv_buffer, new_recv_buffer, uncount_recv_bytes},
        srq_drain::{DrainPair, DRAIN_DEPTH, DRAIN_SEND_TAG},
        verbs::{checked, Cqe, DmaBuf, Pd, POLL_BATCH},
    },
    proto::recv_pool::{Grants, PoolLevels, Returned, Take},
};

/// Tag bit of the entries of a shared queue's receives ([`crate::kernel_api::verbs::Wc::tag`]):
/// the rest of the tag is the slot.
pub(crate) const SRQ_TAG: u32 = 1 << 31;

/// Receive buffers a shared queue holds at most.
const SLOTS: u32 = 8191;

/// How soon a queue that could not post what its account wants tries again (a peer
/// meeting an empty queue retries after its receiver-not-ready timer), at first; the
/// wait doubles while it keeps coming short, up to [`REFILL_RETRY_MAX_MS`].
const REFILL_RETRY_MS: u32 = 20;
const REFILL_RETRY_MAX_MS: u32 = 1000;

/// How soon after connections go quiet or away the queue gives back what it holds
/// beyond its account (coalescing many such changes into one drain).
const TRIM_DELAY_MS: u32 = 200;

/// How often a queue with drain messages in flight looks for their completions.
const TRIM_POLL_MS: u32 = 10;

/// The queue's [`DrainPair`], made when the queue first holds more than it keeps.
struct Drain {
    pair: Option<DrainPair>,
    /// Messages sent and not yet completed.
    in_flight: u32,
    /// No pair could be made on this queue: it keeps what is posted (as before the
    /// pair existed) rather than trying again at every trim.
    unavailable: bool,
}

/// What the lock of a [`SharedRecvQueue`] covers.
///
/// # Invariants
///
/// `bufs[slot]` is `Some` iff a receive is posted in that slot (the device may write
/// the buffer); `free` lists the other slots. `levels.posted()` counts the `Some`s
/// but for `drain.in_flight` of them, which drain messages are consuming.
struct Slots {
    bufs: KVVec<Option<DmaBuf>>,
    free: KVec<u32>,
    levels: PoolLevels,
    drain: Drain,
}

/// See the module documentation.
///
/// # Invariants
///
/// `raw` is a live SRQ in `pd`, destroyed in `drop` before the buffers posted in it
/// go; every queue pair on it holds an `Arc` of this value, so none is left then.
/// `cqes[slot]` is the entry slot `slot`'s receives are posted with; the vector is
/// never resized, so the entries stay where the device's requests point.
#[pin_data(PinnedDrop)]
pub(crate) struct SharedRecvQueue {
    raw: NonNull<bindings::ib_srq>,
    cqes: KVVec<Cqe>,
    #[pin]
    slots: Mutex<Slots>,
    /// Posts what the account wants when a refill came short (no memory).
    #[pin]
    refill_timer: DelayedWork<SharedRecvQueue, 0>,
    /// Gives back what the queue holds beyond its account (see `srq_drain`).
    #[pin]
    trim_timer: DelayedWork<SharedRecvQueue, 1>,
    /// Buffers memory allows the queue to add, for buffers of the given size.
    room: fn(usize) -> usize,
    /// The refill timer's next wait, in ms.
    retry_ms: core::sync::atomic::AtomicU32,
    pd: Arc<Pd>,
    dev: Arc<DeviceRef>,
    lkey: u32,
    buffer_size: usize,
    /// Queue pairs on the queue.
    users: AtomicUsize,
    /// Receives that may have taken a buffer with no completion to say so (see
    /// [`SharedRecvQueue::suspect`]).
    suspect: AtomicUsize,
}

/// Suspected lost buffers after which a queue takes no new queue pairs: it goes with
/// its last one, and the buffers with it. As many as the slack the account posts
/// beyond its target (`proto::recv_pool::SLACK`), which covers that many lost.
const SUSPECT_LIMIT: usize = crate::proto::recv_pool::SLACK as usize;

// SAFETY: The SRQ may be posted to and destroyed from any thread; the slots are
// behind the mutex.
unsafe impl Send for SharedRecvQueue {}
// SAFETY: See above; `&self` methods lock or call ib_core functions that lock.
unsafe impl Sync for SharedRecvQueue {}

impl SharedRecvQueue {
    /// A queue of buffers of `buffer_size` bytes on `dev`, in a PD of its own, with
    /// nothing posted; `room` says how many buffers memory allows it to add.
    pub(crate) fn new(dev: Arc<DeviceRef>, buffer_size: usize, room: fn(usize) -> usize) -> Result<Arc<Self>> {
        let pd = Arc::new(Pd::new(&dev)?, GFP_KERNEL)?;
        let mut cqes = KVVec::with_capacity(SLOTS as usize, GFP_KERNEL)?;
        let mut bufs = KVVec::with_capacity(SLOTS as usize, GFP_KERNEL)?;
        let mut free = KVec::with_capacity(SLOTS as usize, GFP_KERNEL)?;
        for slot in 0..SLOTS {
            cqes.push(Cqe::new(SRQ_TAG | slot), GFP_KERNEL)?;
            bufs.push(None, GFP_KERNEL)?;
            free.push(SLOTS - 1 - slot, GFP_KERNEL)?;
        }
        let mut err = 0;
        // SAFETY: Live PD; the SRQ is destroyed before it goes (type invariant: `drop`,
        // and below if the value cannot be made).
        let raw = checked(unsafe { bindings::infinisock_create_srq(pd.as_raw(), SLOTS, &mut err) }, err)?;
        let lkey = pd.local_dma_lkey();
        // Held over the failure path: the SRQ goes before its PD.
        let pd_kept = pd.clone();
        let made = Arc::pin_init(
            try_pin_init!(Self {
                raw,
                cqes,
                slots <- new_mutex!(Slots {
                    bufs,
                    free,
                    levels: PoolLevels::new(),
                    drain: Drain { pair: None, in_flight: 0, unavailable: false },
                }),
                refill_timer <- new_delayed_work!("SharedRecvQueue::refill_timer"),
                trim_timer <- new_delayed_work!("SharedRecvQueue::trim_timer"),
                room,
                retry_ms: core::sync::atomic::AtomicU32::new(REFILL_RETRY_MS),
                pd,
                dev,
                lkey,
                buffer_size,
                users: AtomicUsize::new(0),
                suspect: AtomicUsize::new(0),
            }? Error),
            GFP_KERNEL,
        );
        if made.is_err() {
            // SAFETY: Made above, never posted to, used by no QP; its PD is alive.
            unsafe { bindings::infinisock_destroy_srq(raw.as_ptr()) };
        }
        drop(pd_kept);
        made
    }

    /// The PD the queue pairs on the queue are made in.
    pub(crate) fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// The device.
    pub(crate) fn dev(&self) -> &Arc<DeviceRef> {
        &self.dev
    }

    /// Bytes of each buffer.
    pub(crate) fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    pub(super) fn as_raw(&self) -> *mut bindings::ib_srq {
        self.raw.as_ptr()
    }

    /// Queue pairs on the queue now.
    pub(crate) fn users(&self) -> usize {
        self.users.load(Ordering::Acquire)
    }

    /// Stops the refill and trim timers if they are pending.
    pub(crate) fn stop_timers(&self) {
        crate::kernel_api::work::cancel_delayed::<Self, 0>(self);
        crate::kernel_api::work::cancel_delayed::<Self, 1>(self);
    }

    /// A queue pair is to join the queue (counted by whoever hands the queue out,
    /// under its lock, so that the queue is not dropped from its list meanwhile).
    pub(crate) fn join(&self) {
        self.users.fetch_add(1, Ordering::AcqRel);
    }

    /// A queue pair that was to join did not (its creation failed).
    pub(crate) fn unjoin(&self) {
        self.users.fetch_sub(1, Ordering::AcqRel);
    }

    /// A receive of a queue pair may have used up a buffer with no completion naming
    /// it: rdma_rxe takes a shared receive queue's request at a message's first packet
    /// and drops it if the QP fails before the last, and a receive whose CQ is full
    /// completes nowhere. Such a slot stays counted as posted, so the queue would post
    /// less than its account wants: once [`SUSPECT_LIMIT`] are suspected, it takes no
    /// new queue pairs ([`SharedRecvQueue::retired`]).
    pub(crate) fn suspect(&self) {
        self.suspect.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the queue should take no new queue pairs (see
    /// [`SharedRecvQueue::suspect`]).
    pub(crate) fn retired(&self) -> bool {
        self.suspect.load(Ordering::Relaxed) >= SUSPECT_LIMIT
    }

    /// A queue pair that joined is gone, with its grants.
    pub(super) fn leave(self: &Arc<Self>, grants: &mut Grants) {
        self.withdraw(grants);
        self.users.fetch_sub(1, Ordering::AcqRel);
    }

    /// A queue pair granted its peer `n` more buffers; posts what the account wants
    /// now.
    pub(super) fn grant(self: &Arc<Self>, grants: &mut Grants, n: u64) {
        let mut slots = self.slots.lock();
        slots.levels.grant(grants, n);
        self.refill(&mut slots);
    }

    /// A receive of the queue pair with `grants` completed in `slot` at `now_ms`:
    /// the buffer, and whether it filled a grant. `None`: the slot held none (not
    /// one of this queue's receives).
    pub(super) fn take(self: &Arc<Self>, grants: &mut Grants, slot: u32, now_ms: u64) -> Option<(DmaBuf, Take)> {
        let mut slots = self.slots.lock();
        let buf = slots.bufs.get_mut(slot as usize)?.take()?;
        // Room for every slot was reserved.
        let _ = slots.free.push_within_capacity(slot);
        let take = slots.levels.received(grants, now_ms);
        // A receive that made its connection active gets the rest of its grants
        // backed.
        self.refill(&mut slots);
        Some((buf, take))
    }

    /// A receive completed in `slot` for no queue pair that counts it (a queue pair
    /// being drained): the buffer goes back.
    pub(super) fn unposted(&self, slot: u32) {
        let mut slots = self.slots.lock();
        let Some(buf) = slots.bufs.get_mut(slot as usize).and_then(Option::take) else { return };
        let _ = slots.free.push_within_capacity(slot);
        slots.levels.unposted();
        self.put_back(&mut slots, buf);
    }

    /// A queue pair is done with `buf`: posted again while the queue wants it, else
    /// freed.
    pub(super) fn give_back(&self, buf: DmaBuf) {
        let mut slots = self.slots.lock();
        self.put_back(&mut slots, buf);
    }

    /// A queue pair's grants stay backed in full while it received within the
    /// account's active time; settles them to the reserve after it. Returns whether
    /// they are still backed in full.
    pub(super) fn settle(self: &Arc<Self>, grants: &mut Grants, now_ms: u64) -> bool {
        let slots = &mut *self.slots.lock();
        let active = slots.levels.settle(grants, now_ms);
        self.trim_soon(slots);
        active
    }

    /// Posts `buf` again or frees it, as the account says.
    fn put_back(&self, slots: &mut Slots, buf: DmaBuf) {
        match slots.levels.returned() {
            // A buffer that cannot be posted is freed there.
            Returned::Post => {
                let _ = self.post(slots, buf);
            }
            Returned::Free => free_recv_buffer(buf),
        }
    }

    /// The grants of a queue pair whose receives have all completed (it failed) will
    /// never be filled.
    pub(super) fn withdraw(self: &Arc<Self>, grants: &mut Grants) {
        let slots = &mut *self.slots.lock();
        slots.levels.leave(grants);
        self.trim_soon(slots);
    }

    /// Starts the trim timer if the queue holds more than its account keeps.
    fn trim_soon(self: &Arc<Self>, slots: &Slots) {
        if slots.levels.surplus() > 0 && !slots.drain.unavailable {
            // `Err`: already queued, which is as good.
            let _ = crate::kernel_api::work::workqueue()
                .enqueue_delayed::<_, 1>(self.clone(), kernel::time::msecs_to_jiffies(TRIM_DELAY_MS));
        }
    }

    /// Gives back what the queue holds beyond its account: drain messages consume
    /// that many posted receives, whose buffers are freed as they complete. Runs in
    /// process context (making the pair sleeps). Returns whether drain messages are
    /// still in flight or more is to be given back.
    fn trim(&self, slots: &mut Slots) -> bool {
        self.reap_drain(slots);
        let surplus = slots.levels.surplus();
        if surplus == 0 || slots.drain.unavailable {
            return slots.drain.in_flight > 0;
        }
        if slots.drain.pair.is_none() {
            // SAFETY: Live SRQ in this PD (type invariant); the pair is dropped before
            // it (`drop`).
            match unsafe { DrainPair::new(&self.dev, &self.pd, self.raw.as_ptr()) } {
                Ok(pair) => slots.drain.pair = Some(pair),
                Err(e) => {
                    pr_info!("a shared receive queue keeps its surplus buffers: no drain pair ({:?})\n", e);
                    slots.drain.unavailable = true;
                    return false;
                }
            }
        }
        let Some(pair) = slots.drain.pair.as_ref() else { return false };
        let room = DRAIN_DEPTH - slots.drain.in_flight;
        let sent = pair.send(surplus.min(room as u64) as u32);
        slots.levels.drained(sent as u64);
        slots.drain.in_flight += sent;
        slots.drain.in_flight > 0 || slots.levels.surplus() > 0
    }

    /// Takes the drain pair's completions: a receive's buffer is freed; a message
    /// that failed consumed nothing (the pair is broken and made anew next time).
    fn reap_drain(&self, slots: &mut Slots) {
        let mut wcs = [None; POLL_BATCH];
        loop {
            let Some(pair) = slots.drain.pair.as_ref() else { return };
            let got = pair.poll(&mut wcs);
            for wc in wcs[..got].iter().flatten() {
                if wc.tag == DRAIN_SEND_TAG {
                    slots.drain.in_flight = slots.drain.in_flight.saturating_sub(1);
                    if !wc.ok() {
                        // Counted as posted again; if its receive did complete after
                        // all, the account holds one buffer too many, as for a lost one.
                        slots.levels.posted_more(1);
                        slots.drain.pair = None;
                        slots.drain.in_flight = 0;
                    }
                } else if let Some(buf) = slots.bufs.get_mut((wc.tag & !SRQ_TAG) as usize).and_then(Option::take) {
                    let _ = slots.free.push_within_capacity(wc.tag & !SRQ_TAG);
                    free_recv_buffer(buf);
                }
            }
            if got < POLL_BATCH {
                return;
            }
        }
    }

    /// Posts new buffers while the account wants them and memory allows. Allocation
    /// may fail quietly: it runs under the queue's lock and its caller's. When it
    /// comes short, the refill timer tries again shortly, since no grant or receive
    /// may come to do it (a peer meeting the empty queue only retries).
    fn refill(self: &Arc<Self>, slots: &mut Slots) {
        // No more than there are free slots: a full queue waits for receives.
        let free = slots.free.len() as u64;
        let want = slots.levels.to_post(free);
        let room = slots.levels.to_post(((self.room)(self.buffer_size) as u64).min(free));
        let mut posted = 0;
        for _ in 0..room {
            let Ok(buf) = new_recv_buffer(&self.dev, self.buffer_size, true) else { break };
            if self.post(slots, buf).is_err() {
                break;
            }
            posted += 1;
        }
        if posted < want {
            let wait = self.retry_ms.load(Ordering::Relaxed);
            // `Err`: already queued, which is as good.
            if crate::kernel_api::work::workqueue()
                .enqueue_delayed::<_, 0>(self.clone(), kernel::time::msecs_to_jiffies(wait))
                .is_ok()
            {
                self.retry_ms.store((wait * 2).min(REFILL_RETRY_MAX_MS), Ordering::Relaxed);
            }
        } else {
            self.retry_ms.store(REFILL_RETRY_MS, Ordering::Relaxed);
        }
    }

    /// Posts `buf` in a free slot; a buffer that cannot be posted (no slot left, or
    /// the device refused) is freed.
    fn post(&self, slots: &mut Slots, buf: DmaBuf) -> Result {
        let Some(slot) = slots.free.pop() else {
            free_recv_buffer(buf);
            return Err(ENOSPC);
        };
        let Ok(len) = u32::try_from(buf.len()) else {
            let _ = slots.free.push_within_capacity(slot);
            free_recv_buffer(buf);
            return Err(EINVAL);
        };
        // SAFETY: Live SRQ (type invariant); the entry stays put (never resized) and the
        // buffer is kept in `bufs[slot]`, untouched by the CPU, until the completion
        // that names the slot is taken, or until the SRQ is destroyed.
        let posted = to_result(unsafe {
            bindings::infinisock_post_srq_recv(self.raw.as_ptr(), self.cqes[slot as usize].as_raw(), buf.addr, len, self.lkey)
        });
        if let Err(e) = posted {
            let _ = slots.free.push_within_capacity(slot);
            free_recv_buffer(buf);
            return Err(e);
        }
        slots.bufs[slot as usize] = Some(buf);
        slots.levels.posted_more(1);
        Ok(())
    }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, 0> for SharedRecvQueue { self.refill_timer }
    impl HasDelayedWork<Self, 1> for SharedRecvQueue { self.trim_timer }
}

/// The refill timer: posts what the account wants, as memory allows now.
impl WorkItem<0> for SharedRecvQueue {
    type Pointer = Arc<SharedRecvQueue>;

    fn run(this: Arc<SharedRecvQueue>) {
        let mut slots = this.slots.lock();
        this.refill(&mut slots);
    }
}

/// The trim timer: gives back what the queue holds beyond its account, and comes back
/// for the drain's completions.
impl WorkItem<1> for SharedRecvQueue {
    type Pointer = Arc<SharedRecvQueue>;

    fn run(this: Arc<SharedRecvQueue>) {
        let again = this.trim(&mut this.slots.lock());
        // With no user left the queue is going: its drop takes what is in flight.
        if again && this.users() > 0 {
            let _ = crate::kernel_api::work::workqueue()
                .enqueue_delayed::<_, 1>(this.clone(), kernel::time::msecs_to_jiffies(TRIM_POLL_MS));
        }
    }
}

#[pinned_drop]
impl PinnedDrop for SharedRecvQueue {
    fn drop(self: Pin<&mut Self>) {
        // The drain pair's sink is on the queue: destroyed first.
        drop(self.slots.lock().drain.pair.take());
        // SAFETY: Live SRQ; no queue pair uses it any more (each held an `Arc` of this
        // value, and the drain pair is gone), destroyed once, here, before its buffers go.
        unsafe { bindings::infinisock_destroy_srq(self.raw.as_ptr()) };
        let mut slots = self.slots.lock();
        let bytes: usize = slots.bufs.iter().flatten().map(DmaBuf::len).sum();
        uncount_recv_bytes(bytes);
        slots.bufs.clear();
    }
}
