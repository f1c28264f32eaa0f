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

use core::{ffi::c_void, ptr::NonNull, sync::atomic::{AtomicUsize, Ordering}};

use kernel::{
    alloc::KVVec,
    error::to_result,
    new_delayed_work, new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    new_work,
    workqueue::{impl_has_delayed_work, impl_has_work, DelayedWork, Work, WorkItem},
};

use crate::{
    kernel_api::{
        bindings,
        ib::DeviceRef,
        qp::{free_recv_buffer, new_shared_recv_buffer, uncount_recv_bytes},
        shared_cq::{CqShare, SharedCqs},
        srq_drain::{DrainPair, DRAIN_DEPTH, DRAIN_SEND_TAG},
        verbs::{checked, Cqe, DmaBuf, Pd, POLL_BATCH},
    },
    proto::recv_pool::{Grants, PoolLevels, Returned, Take},
};

/// Tag bit of the entries of a shared queue's receives ([`crate::kernel_api::verbs::Wc::tag`]):
/// the rest of the tag is the slot.
pub(crate) const SRQ_TAG: u32 = bindings::INFINISOCK_RECV_TAG;

/// Times a shared receive queue ran low (its limit event), all queues together:
/// what `/proc/net/infinisock/memory` shows as `srq_low_events`.
static LOW_EVENTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Times a shared receive queue ran low since the module was loaded.
pub(crate) fn low_events() -> u64 {
    LOW_EVENTS.load(Ordering::Relaxed)
}

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

/// Drain messages in flight with no receive completing for this long: the pair is
/// stopped (the queue holds fewer buffers than its account says, or the loopback
/// path is gone) and what it did not take is counted as posted again.
const DRAIN_STALL_MS: u64 = 2000;

/// The drain gives back only after no receive has been taken from the queue for this
/// long: the account hears of a receive only when its connection reaps it, so while
/// receives arrive the device holds fewer than the account says, and draining the
/// account's surplus could empty the queue under the connections' feet.
const DRAIN_QUIET_MS: u64 = 1000;

/// After a pair could not be made (no address on the device yet, no memory), the
/// queue keeps its surplus this long before trying again.
const DRAIN_RETRY_MS: u64 = 10_000;

/// The queue's [`DrainPair`], made when the queue first holds more than it keeps.
struct Drain {
    pair: Option<DrainPair>,
    /// Messages sent whose receive has not completed: the buffers they are to take
    /// (counted out of the account's posted buffers when sent).
    in_flight: u32,
    /// When a receive last completed, or the first of those in flight was sent.
    progress_at: u64,
    /// A message failed: the pair is stopped and made anew.
    broken: bool,
    /// When making a pair last failed.
    failed_at: Option<u64>,
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
    /// The queue's last user left (`stop_timers`): its timers do nothing more.
    stopped: bool,
    /// The device's limit event is armed, at this many posted.
    limit_armed: Option<u32>,
    /// When a receive was last taken from the queue (the queue's clock).
    taken_at: u64,
}

impl Slots {
    /// The buffer of `slot`, whose receive completed (the device is done with it);
    /// the slot is free again. `None`: nothing was posted there.
    fn unpost(&mut self, slot: u32) -> Option<DmaBuf> {
        let buf = self.bufs.get_mut(slot as usize)?.take()?;
        // Room for every slot was reserved.
        let _ = self.free.push_within_capacity(slot);
        Some(buf)
    }
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
    /// Answers the device's limit event: the queue ran low.
    #[pin]
    low_work: Work<SharedRecvQueue, 2>,
    /// The CQs its queue pairs complete to.
    #[pin]
    cqs: Mutex<SharedCqs>,
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
    /// The queue's clock (the drain's deadlines).
    created: kernel::time::Instant<kernel::time::Monotonic>,
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
        let raw = checked(unsafe { bindings::infinisock_create_srq(pd.as_raw(), SLOTS, Some(srq_event), &mut err) }, err)?;
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
                    drain: Drain { pair: None, in_flight: 0, progress_at: 0, broken: false, failed_at: None },
                    stopped: false,
                    limit_armed: None,
                    taken_at: 0,
                }),
                refill_timer <- new_delayed_work!("SharedRecvQueue::refill_timer"),
                trim_timer <- new_delayed_work!("SharedRecvQueue::trim_timer"),
                low_work <- new_work!("SharedRecvQueue::low_work"),
                cqs <- new_mutex!(SharedCqs::new()),
                room,
                retry_ms: core::sync::atomic::AtomicU32::new(REFILL_RETRY_MS),
                pd,
                dev,
                lkey,
                buffer_size,
                users: AtomicUsize::new(0),
                created: kernel::time::Instant::now(),
                suspect: AtomicUsize::new(0),
            }? Error),
            GFP_KERNEL,
        );
        match &made {
            // SAFETY: Live SRQ, no QP on it yet, so no event reads the context while
            // it is set; the value it points to outlives the SRQ (type invariant).
            Ok(q) => unsafe { bindings::infinisock_srq_set_context(raw.as_ptr(), Arc::as_ptr(q) as *mut c_void) },
            // SAFETY: Made above, never posted to, used by no QP; its PD is alive.
            Err(_) => unsafe { bindings::infinisock_destroy_srq(raw.as_ptr()) },
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

    /// The queue's last user left: its timers stop (one running now queues itself no
    /// more) and its drain pair goes, so that no queue pair is on it any more.
    pub(crate) fn stop_timers(&self) {
        let pair = {
            let mut slots = self.slots.lock();
            slots.stopped = true;
            slots.drain.pair.take()
        };
        drop(pair);
        crate::kernel_api::work::cancel_delayed::<Self, 0>(self);
        crate::kernel_api::work::cancel_delayed::<Self, 1>(self);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A place on one of the queue's shared CQs for a queue pair of `send` send-queue
    /// entries: the receive partition of each holds every request the queue can have
    /// posted.
    pub(crate) fn join_cq(&self, send: u32) -> Result<CqShare> {
        self.cqs.lock().join(&self.dev, SLOTS, send)
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
        let buf = slots.unpost(slot)?;
        let take = slots.levels.received(grants, now_ms);
        slots.taken_at = self.now_ms();
        // A receive that made its connection active gets the rest of its grants
        // backed.
        self.refill(&mut slots);
        Some((buf, take))
    }

    /// A receive completed in `slot` for no queue pair that counts it (a queue pair
    /// being drained): the buffer goes back.
    pub(super) fn unposted(&self, slot: u32) {
        let mut slots = self.slots.lock();
        let Some(buf) = slots.unpost(slot) else { return };
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
        if slots.levels.surplus() > 0 && !slots.stopped {
            // `Err`: already queued, which is as good.
            let _ = crate::kernel_api::work::workqueue()
                .enqueue_delayed::<_, 1>(self.clone(), kernel::time::msecs_to_jiffies(TRIM_DELAY_MS));
        }
    }

    /// The trim timer's work: gives back what the queue holds beyond its account.
    /// Drain messages consume that many posted receives, whose buffers are freed as
    /// their receives complete. The pair is made, and stopped when it fails, without
    /// the queue's lock (both sleep). Returns when to come back, in ms.
    fn trim(&self) -> Option<u32> {
        let now = self.now_ms();
        let mut slots = self.slots.lock();
        if slots.stopped {
            return None;
        }
        // The extra backing of a low-water event goes once calm (after a newer event,
        // the timer comes back for it).
        let boosted = slots.levels.calm(now).then_some(crate::proto::recv_pool::CALM_MS as u32);
        let again = |in_flight: bool| if in_flight { Some(TRIM_POLL_MS) } else { boosted };
        self.reap_drain(&mut slots, now);
        let stalled = slots.drain.in_flight > 0 && now.saturating_sub(slots.drain.progress_at) >= DRAIN_STALL_MS;
        if slots.drain.broken || stalled {
            let Some(pair) = slots.drain.pair.take() else { return boosted };
            drop(slots);
            let clean = pair.stop();
            slots = self.slots.lock();
            // Every receive it took is in its CQ now (or, if the device never said
            // so, each one missing is a buffer lost as `suspect` says).
            self.reap_pair(&mut slots, &pair);
            if !clean {
                self.suspect();
            }
            // What it did not take is still posted.
            let not_taken = u64::from(slots.drain.in_flight);
            slots.levels.posted_more(not_taken);
            slots.drain.in_flight = 0;
            slots.drain.broken = false;
            // A pair that failed is made again only after a while: what failed it
            // (the device's address gone, say) may last.
            slots.drain.failed_at = Some(now);
            drop(slots);
            drop(pair);
            return Some(DRAIN_RETRY_MS as u32 + TRIM_DELAY_MS);
        }
        let surplus = slots.levels.surplus();
        if surplus == 0 {
            return again(slots.drain.in_flight > 0);
        }
        let quiet_for = now.saturating_sub(slots.taken_at);
        if quiet_for < DRAIN_QUIET_MS {
            // Comes back once quiet (or sooner, for messages in flight).
            let wait = (DRAIN_QUIET_MS - quiet_for) as u32;
            return Some(if slots.drain.in_flight > 0 { TRIM_POLL_MS } else { wait + TRIM_DELAY_MS });
        }
        if slots.drain.pair.is_none() {
            if slots.drain.failed_at.is_some_and(|at| now.saturating_sub(at) < DRAIN_RETRY_MS) {
                return boosted;
            }
            drop(slots);
            // SAFETY: Live SRQ in this PD (type invariant); the pair is dropped before
            // the SRQ is destroyed (`stop_timers`, `drop`).
            let made = unsafe { DrainPair::new(&self.dev, &self.pd, self.raw.as_ptr()) };
            slots = self.slots.lock();
            match made {
                Ok(pair) if !slots.stopped => {
                    slots.drain.pair = Some(pair);
                    slots.drain.failed_at = None;
                }
                // Destroyed without the lock (it waits for the device).
                Ok(pair) => {
                    drop(slots);
                    drop(pair);
                    return None;
                }
                Err(e) => {
                    if slots.drain.failed_at.is_none() {
                        pr_info!("a shared receive queue keeps its surplus buffers for now: no drain pair ({:?})\n", e);
                    }
                    slots.drain.failed_at = Some(now);
                    return Some(DRAIN_RETRY_MS as u32 + TRIM_DELAY_MS);
                }
            }
        }
        // The limit follows the account down first, or the drain itself would set it
        // off (one armed while many connections were active is far above what is
        // kept now).
        self.arm_limit(&mut slots, true);
        let Some(pair) = slots.drain.pair.as_ref() else { return boosted };
        let room = DRAIN_DEPTH - slots.drain.in_flight;
        let sent = pair.send(surplus.min(u64::from(room)) as u32);
        if slots.drain.in_flight == 0 {
            slots.drain.progress_at = now;
        }
        slots.levels.drained(u64::from(sent));
        slots.drain.in_flight += sent;
        again(slots.drain.in_flight > 0 || slots.levels.surplus() > 0)
    }

    /// Takes the drain pair's completions (see [`SharedRecvQueue::reap_pair`]).
    fn reap_drain(&self, slots: &mut Slots, now: u64) {
        let Some(pair) = slots.drain.pair.take() else { return };
        let in_flight = slots.drain.in_flight;
        self.reap_pair(slots, &pair);
        if slots.drain.in_flight < in_flight {
            slots.drain.progress_at = now;
        }
        slots.drain.pair = Some(pair);
    }

    /// Takes `pair`'s completions: a receive's buffer is freed, and it is one message
    /// less in flight; a failed message breaks the pair (its receive, if it had one,
    /// is still reported: only receives count).
    fn reap_pair(&self, slots: &mut Slots, pair: &DrainPair) {
        let mut wcs = [None; POLL_BATCH];
        loop {
            let got = pair.poll(&mut wcs);
            for wc in wcs[..got].iter().flatten() {
                if wc.tag == DRAIN_SEND_TAG {
                    slots.drain.broken |= !wc.ok();
                    continue;
                }
                if let Some(buf) = slots.unpost(wc.tag & !SRQ_TAG) {
                    free_recv_buffer(buf);
                    slots.drain.in_flight = slots.drain.in_flight.saturating_sub(1);
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
            let Ok(buf) = new_shared_recv_buffer(&self.dev, self.buffer_size) else { break };
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
        self.arm_limit(slots, false);
    }

    /// Keeps the device's limit event armed at the account's low water: armed again
    /// when the low water has moved to half or twice what it is armed at (or at
    /// once, `follow`), and disarmed while the queue holds no more than that (it would
    /// fire at once).
    fn arm_limit(&self, slots: &mut Slots, follow: bool) {
        if slots.stopped {
            return;
        }
        let low = slots.levels.low_water() as u32;
        let arm = slots.levels.on_device() > u64::from(low);
        let want = if arm { Some(low) } else { None };
        let close = |at: u32| !follow && low >= at / 2 && low <= at.saturating_mul(2);
        match (slots.limit_armed, want) {
            (None, None) => return,
            (Some(at), Some(_)) if close(at) => return,
            _ => {}
        }
        // SAFETY: Live SRQ (type invariant); 0 disarms.
        let res = unsafe { bindings::infinisock_arm_srq_limit(self.raw.as_ptr(), want.unwrap_or(0)) };
        slots.limit_armed = if res == 0 { want } else { None };
    }

    /// The limit event's work: the queue ran low, so idle connections are waking
    /// faster than the reserve covers; the pool backs more of their grants
    /// (`PoolLevels::pressure`) and posts them now. The trim timer takes the extra
    /// back once calm.
    fn ran_low(self: &Arc<Self>) {
        let mut slots = self.slots.lock();
        // The device disarmed it as it fired, with fewer than it was armed at left.
        let armed_at = slots.limit_armed.take();
        LOW_EVENTS.fetch_add(1, Ordering::Relaxed);
        if slots.stopped {
            return;
        }
        if let Some(at) = armed_at {
            slots.levels.device_below(u64::from(at));
        }
        slots.levels.pressure(self.now_ms());
        self.refill(&mut slots);
        let calm = crate::proto::recv_pool::CALM_MS as u32 + TRIM_DELAY_MS;
        let _ = crate::kernel_api::work::workqueue()
            .enqueue_delayed::<_, 1>(self.clone(), kernel::time::msecs_to_jiffies(calm));
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

impl_has_work! {
    impl HasWork<Self, 2> for SharedRecvQueue { self.low_work }
}

/// The limit event's work (see [`SharedRecvQueue::ran_low`]).
impl WorkItem<2> for SharedRecvQueue {
    type Pointer = Arc<SharedRecvQueue>;

    fn run(this: Arc<SharedRecvQueue>) {
        this.ran_low();
    }
}

/// The SRQ's asynchronous events (atomic context): the limit event queues
/// [`SharedRecvQueue::ran_low`].
///
/// # Safety
///
/// `ctx` is null or `Arc::as_ptr` of the queue the SRQ belongs to.
unsafe extern "C" fn srq_event(event: *mut bindings::ib_event, ctx: *mut c_void) {
    // SAFETY: The device passes a valid event for the duration of the call.
    let kind = unsafe { (*event).event };
    if ctx.is_null() || kind != bindings::ib_event_type_IB_EVENT_SRQ_LIMIT_REACHED {
        return;
    }
    // The queue is alive: the event comes from a queue pair taking one of its
    // receives, and each such queue pair holds a reference to it until it is destroyed
    // (which waits for rdma_rxe's receive task, where the event runs); the drain pair,
    // which holds none, is destroyed in `stop_timers` by a holder.
    // SAFETY: `ctx` is non-null (checked above), so `Arc::as_ptr` of the queue (this
    // function's contract), which is alive (above).
    let queue = unsafe { ArcBorrow::<SharedRecvQueue>::from_raw(ctx.cast()) };
    // `Err`: already queued, which is as good.
    let _ = crate::kernel_api::work::workqueue().enqueue::<Arc<SharedRecvQueue>, 2>(queue.into());
}

/// The refill timer: posts what the account wants, as memory allows now.
impl WorkItem<0> for SharedRecvQueue {
    type Pointer = Arc<SharedRecvQueue>;

    fn run(this: Arc<SharedRecvQueue>) {
        let mut slots = this.slots.lock();
        if !slots.stopped {
            this.refill(&mut slots);
        }
    }
}

/// The trim timer: gives back what the queue holds beyond its account, and comes back
/// for the drain's completions.
impl WorkItem<1> for SharedRecvQueue {
    type Pointer = Arc<SharedRecvQueue>;

    fn run(this: Arc<SharedRecvQueue>) {
        if let Some(ms) = this.trim() {
            // Under the lock `stop_timers` sets `stopped` with: once the last user
            // left, nothing is queued again.
            let slots = this.slots.lock();
            if !slots.stopped {
                let _ = crate::kernel_api::work::workqueue()
                    .enqueue_delayed::<_, 1>(this.clone(), kernel::time::msecs_to_jiffies(ms));
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for SharedRecvQueue {
    fn drop(self: Pin<&mut Self>) {
        // `stop_timers` ran with the last user and took the drain pair: no queue pair
        // is on the queue, so no limit event can come. Were one still there, its sink
        // goes first (and its event could borrow this value: hence the warning).
        let pair = self.slots.lock().drain.pair.take();
        if pair.is_some() {
            pr_warn!("a shared receive queue dropped with its drain pair\n");
        }
        drop(pair);
        // SAFETY: Live SRQ; no queue pair uses it any more (each held an `Arc` of this
        // value, and the drain pair is gone), destroyed once, here, before its buffers go.
        unsafe { bindings::infinisock_destroy_srq(self.raw.as_ptr()) };
        let mut slots = self.slots.lock();
        let bytes: usize = slots.bufs.iter().flatten().map(DmaBuf::len).sum();
        uncount_recv_bytes(bytes);
        slots.bufs.clear();
    }
}
