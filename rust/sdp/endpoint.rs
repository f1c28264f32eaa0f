// SPDX-License-Identifier: GPL-2.0

//! The protocol side of one SDP socket: its connection state, under one mutex, and the
//! callbacks rdma_cm and the CQ deliver to it.
//!
//! An [`Endpoint`] lives in an `Arc`. The sock holds one reference (in
//! `infinisock_sock.state`) from `init` to `release`; rdma_cm ids and CQs point at it
//! without a reference, which is sound because the endpoint owns them and destroys
//! them (in [`Endpoint::teardown`]) before it can be freed. The endpoint holds a
//! reference to its sock, so an orphaned sock stays alive while its connection drains.
//!
//! Lock order: an endpoint's mutex is never held while taking another endpoint's, and
//! never while destroying an rdma_cm id (its callbacks take it).
//!
//! Completions are reaped, not delivered: the CQs only announce them ([`CqEvents`]),
//! waking the endpoint's waiters (and, for receives, its pollers) and, when no caller
//! is blocked, queueing the reap work. Whoever takes the lock to look at the data path
//! reaps first ([`Endpoint::lock_reaped`], [`Endpoint::wait`]), so a reader woken by a
//! completion handles it itself, with no workqueue hop between the device and the
//! reader; the work covers the times nobody is blocked. A reader blocked for data may
//! leave its own sends' completions for later ([`Endpoint::send_completions_wanted`]).

use core::{
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};

use kernel::{
    new_mutex, new_work,
    prelude::*,
    sync::{aref::ARef, Arc, ArcBorrow, Mutex, MutexGuard},
    new_delayed_work,
    workqueue::{impl_has_delayed_work, impl_has_work, DelayedWork, Work, WorkItem},
};

use crate::{
    kernel_api::{
        cm::{CmEvent, CmHandler, CmId, CmIdRef},
        list::KernelLists,
        sock::Sock,
        trace,
        verbs::{CqEvents, CqSide, Wc, POLL_BATCH},
        wait::{self, Ends, WaitQueue, Woken},
    },
    link::{link::{Link, WrKind}, rdma::Completions},
    netns::stats,
    proto::{
        abi::{TCP_CLOSE, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM},
        conn_state::{failure_errno, poll_mask, PollState},
        hybrid::{Handover, Path},
        keepalive::{KeepaliveConfig, Prober},
        qp_shape::QpProfile,
        sockaddr::{PortSpace, SockAddr},
        socket_args::SOCK_SEQPACKET,
        stats::Counter,
    },
    sdp::{handshake, keepalive, rx, tx},
};

/// The connection's phases and `shutdown()` directions are plain data (`proto`).
pub(crate) use crate::proto::conn_state::{Phase, RCV_SHUTDOWN, SEND_SHUTDOWN};

/// AF_IB's one-sided RDMA operations (`af_ib::rdma`) build on the endpoint; it
/// reaches them through this when their requests complete, as SMC's work request
/// layer reaches the handlers registered with it.
pub(crate) trait RdmaOps: Sync {
    /// An operation's last request completed (or was flushed).
    fn completion(&self, ep: EpRef<'_>, inner: &mut Inner, wc: Wc);
    /// An earlier request of the oldest operation failed or was flushed.
    fn part_failed(&self, ep: EpRef<'_>, inner: &mut Inner, wc: Wc);
    /// A teardown flushed the operations with these tokens (taken before the link
    /// went).
    fn cancelled(&self, ep: EpRef<'_>, inner: &mut Inner, tokens: KVec<u64>);
}

/// How the protocol's functions hold an endpoint: through one of its `Arc`s, so that
/// what outlives the call (a work item, a timer) can take a reference of its own.
pub(crate) type EpRef<'a> = &'a Arc<Endpoint>;

/// A listener's queues of passive connections (`proto::listen`).
pub(crate) type ListenQueue = crate::proto::listen::ListenQueue<KernelLists, Arc<Endpoint>>;

/// Everything the mutex protects.
pub(crate) struct Inner {
    pub(crate) phase: Phase,
    /// The rdma_cm id, from `bind`/`connect`/`listen` (or the request) until teardown.
    pub(crate) id: Option<CmId<Endpoint>>,
    /// Verbs resources and data-path state of an established (or establishing) link.
    pub(crate) link: Option<Link>,
    /// Local address given to `bind`.
    pub(crate) bound: Option<SockAddr>,
    /// Address given to `connect`.
    pub(crate) peer: Option<SockAddr>,
    /// Listener queues (phase `Listening`).
    pub(crate) listen: ListenQueue,
    /// The listener of a passive connection until `accept()` takes it.
    pub(crate) parent: Option<Arc<Endpoint>>,
    /// `RCV_SHUTDOWN` | `SEND_SHUTDOWN` asked for locally.
    pub(crate) shutdown: u8,
    /// The socket was closed: nobody reads any more.
    pub(crate) orphaned: bool,
    /// `TCP_NODELAY`.
    pub(crate) nodelay: bool,
    /// `SDP_ZCOPY_THRESH`.
    pub(crate) zc_thresh: crate::proto::zc_policy::Setting,
    /// `IP_TOS` and `IPV6_TCLASS` (`proto::stream_options`).
    pub(crate) tos: u8,
    pub(crate) tclass: u8,
    /// `SO_KEEPALIVE`, as our `keepalive` callback last heard it (the socket layer
    /// sets its own flag only after calling it).
    pub(crate) keepalive_on: bool,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`.
    pub(crate) keepalive: KeepaliveConfig,
    /// The keepalive timer's memory.
    pub(crate) prober: Prober,
    /// Teardown has been scheduled.
    pub(crate) tearing_down: bool,
    /// Teardown has finished: whoever orphans the endpoint after this removes the
    /// sock's state (see [`Endpoint::orphan`]).
    pub(crate) torn_down: bool,
    /// During a reap: the poll events pollers were already woken for (see
    /// [`Endpoint::reap`]); 0 otherwise.
    pub(crate) woken_before_reap: u32,
    /// A message socket's `IB_MAX_MSG_SIZE`, if set before its connection began.
    pub(crate) max_msg: Option<u32>,
    /// Finished RDMA operations waiting on the error queue (`rdma`).
    pub(crate) completions: Completions,
    /// A hybrid socket's path (`INFINISOCK_TRANSPORT`).
    pub(crate) path: Path,
    /// A hybrid's move to TCP after its RDMA attempt failed (`sdp::fallback`).
    pub(crate) handover: Handover,
}

impl Inner {
    /// The local address: rdma_cm's once it has one, else what `bind` named.
    pub(crate) fn local_addr(&self) -> Option<SockAddr> {
        self.id.as_ref().and_then(|id| id.local_addr()).or(self.bound)
    }

    /// The peer's address: rdma_cm's once it has one, else what `connect` named.
    pub(crate) fn peer_addr(&self) -> Option<SockAddr> {
        self.id.as_ref().and_then(|id| id.peer_addr()).or(self.peer)
    }

    /// The peer diagnostics name: none while neither connecting nor connected.
    pub(crate) fn shown_peer(&self) -> Option<SockAddr> {
        match self.phase {
            Phase::Open | Phase::Listening => None,
            _ => self.peer_addr(),
        }
    }
}

/// The protocol state of one socket. See the module documentation.
#[pin_data]
pub(crate) struct Endpoint {
    #[pin]
    pub(crate) inner: Mutex<Inner>,
    /// Signalled on every change a blocked call may wait for.
    #[pin]
    changed: WaitQueue,
    /// Bumped before every wake-up of `changed` (see [`WaitQueue::wait`]).
    events: AtomicU32,
    /// Events of the send and of the receive CQ (`CqSide as usize`), counted before
    /// anything else is done about them (see `Link::reaped_at`).
    cq_events: [AtomicU32; 2],
    /// Callers asleep in (or about to sleep in) [`Endpoint::wait`]: while there is one,
    /// it reaps after a CQ event and the reap work is not needed.
    waiters: AtomicU32,
    /// Those of `waiters` that wait for data to read ([`Endpoint::wait_for_data`]).
    readers: AtomicU32,
    /// Set by a reader going to sleep when nothing needs send completions soon (see
    /// [`Endpoint::send_completions_wanted`]): a send CQ event then wakes nobody and
    /// queues no work; its completions wait in the CQ for whoever takes the lock next.
    /// Cleared by everyone who takes the lock.
    sends_may_wait: AtomicBool,
    /// A send CQ event left its completions in the CQ (and the CQ unarmed).
    send_event_deferred: AtomicBool,
    #[pin]
    teardown_work: Work<Endpoint, { work_id::TEARDOWN }>,
    /// Reaps completions nobody else came for (see the module documentation).
    #[pin]
    reap_work: Work<Endpoint, { work_id::REAP }>,
    /// Resets an orphaned connection whose peer does not close in time.
    #[pin]
    fin_timer: DelayedWork<Endpoint, { work_id::FIN_TIMER }>,
    /// Probes a silent peer (`SO_KEEPALIVE`), see `sdp::keepalive`.
    #[pin]
    keepalive_timer: DelayedWork<Endpoint, { work_id::KEEPALIVE_TIMER }>,
    /// Bounds how long a peer's disconnect waits for our RDMA operations
    /// (`close::on_disconnected`).
    #[pin]
    settle_timer: DelayedWork<Endpoint, { work_id::SETTLE_TIMER }>,
    /// Bounds a hybrid's RDMA attempt (`sdp::fallback`).
    #[pin]
    connect_timer: DelayedWork<Endpoint, { work_id::CONNECT_TIMER }>,
    /// Retries what found no memory for its send buffer (`tx::memory_retry`).
    #[pin]
    memory_timer: DelayedWork<Endpoint, { work_id::MEMORY_TIMER }>,
    /// Gives back the send buffers of a connection with no send in flight, and looks
    /// at the zero-copy adverts' clock (`tx::trim_idle`).
    #[pin]
    trim_timer: DelayedWork<Endpoint, { work_id::TRIM_TIMER }>,
    /// The sock; one reference held for the endpoint's whole life.
    pub(crate) sk: ARef<Sock>,
    /// Where completions of RDMA operations go.
    pub(crate) rdma_ops: &'static dyn RdmaOps,
    /// A `SOCK_SEQPACKET` socket (AF_IB): each message is one application message
    /// (see `seqpacket`); otherwise a byte stream.
    pub(crate) is_seqpacket: bool,
    /// Poll events the receive CQ's event has already woken pollers for, since the
    /// last reap began (see [`Endpoint::reap`]).
    woken_by_cq_event: AtomicU32,
    /// Stream payload bytes sent and received, and a hybrid on TCP's TCP socket's
    /// cookie: what socket diagnostics report without the lock (`sdp::diag`).
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) tcp_cookie: AtomicU64,
    /// `Inner::path` as `INFINISOCK_TRANSPORT` encodes it ([`Endpoint::set_path`]).
    pub(crate) path_code: AtomicU32,
}

/// The ids of an endpoint's work items (its `Work`s' and `DelayedWork`s' `ID`).
pub(crate) mod work_id {
    /// Releases the verbs resources and the rdma_cm id ([`super::Endpoint::teardown`]).
    pub(crate) const TEARDOWN: u64 = 0;
    /// A closed socket's peer did not close its side in time.
    pub(crate) const FIN_TIMER: u64 = 1;
    /// Probes a silent peer (`sdp::keepalive`).
    pub(crate) const KEEPALIVE_TIMER: u64 = 2;
    /// Reaps the CQs when nobody holding the lock will.
    pub(crate) const REAP: u64 = 3;
    /// A peer's disconnect waited long enough for our RDMA operations.
    pub(crate) const SETTLE_TIMER: u64 = 4;
    /// A hybrid's RDMA attempt took too long (`sdp::fallback`).
    pub(crate) const CONNECT_TIMER: u64 = 5;
    /// What found no memory for its send buffer tries again (`sdp::tx`).
    pub(crate) const MEMORY_TIMER: u64 = 6;
    /// The send buffers of an idle connection go back, the zero-copy adverts' clock
    /// is looked at (`sdp::tx`).
    pub(crate) const TRIM_TIMER: u64 = 7;
}

impl_has_work! {
    impl HasWork<Self, { work_id::TEARDOWN }> for Endpoint { self.teardown_work }
}

impl_has_work! {
    impl HasWork<Self, { work_id::REAP }> for Endpoint { self.reap_work }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::FIN_TIMER }> for Endpoint { self.fin_timer }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::KEEPALIVE_TIMER }> for Endpoint { self.keepalive_timer }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::SETTLE_TIMER }> for Endpoint { self.settle_timer }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::CONNECT_TIMER }> for Endpoint { self.connect_timer }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::MEMORY_TIMER }> for Endpoint { self.memory_timer }
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, { work_id::TRIM_TIMER }> for Endpoint { self.trim_timer }
}

impl Endpoint {
    /// A new endpoint for `sk`, whose RDMA operations' completions go to `rdma_ops`.
    pub(crate) fn new(sk: ARef<Sock>, rdma_ops: &'static dyn RdmaOps) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                inner <- new_mutex!(Inner {
                    phase: Phase::Open,
                    id: None,
                    link: None,
                    bound: None,
                    peer: None,
                    listen: ListenQueue::default(),
                    parent: None,
                    shutdown: 0,
                    orphaned: false,
                    nodelay: false,
                    zc_thresh: crate::proto::zc_policy::Setting::Adaptive,
                    tos: 0,
                    tclass: 0,
                    keepalive_on: false,
                    keepalive: KeepaliveConfig::default(),
                    prober: Prober::default(),
                    tearing_down: false,
                    torn_down: false,
                    woken_before_reap: 0,
                    max_msg: None,
                    completions: Completions::default(),
                    path: Path::Undecided,
                    handover: Handover::Idle,
                }),
                changed <- WaitQueue::new(c"Endpoint::changed", kernel::static_lock_class!()),
                events: AtomicU32::new(0),
                cq_events: [AtomicU32::new(0), AtomicU32::new(0)],
                waiters: AtomicU32::new(0),
                readers: AtomicU32::new(0),
                sends_may_wait: AtomicBool::new(false),
                send_event_deferred: AtomicBool::new(false),
                teardown_work <- new_work!("Endpoint::teardown_work"),
                reap_work <- new_work!("Endpoint::reap_work"),
                fin_timer <- new_delayed_work!("Endpoint::fin_timer"),
                keepalive_timer <- new_delayed_work!("Endpoint::keepalive_timer"),
                settle_timer <- new_delayed_work!("Endpoint::settle_timer"),
                connect_timer <- new_delayed_work!("Endpoint::connect_timer"),
                memory_timer <- new_delayed_work!("Endpoint::memory_timer"),
                trim_timer <- new_delayed_work!("Endpoint::trim_timer"),
                is_seqpacket: sk.sock_type() == SOCK_SEQPACKET,
                sk,
                rdma_ops,
                woken_by_cq_event: AtomicU32::new(0),
                bytes_sent: AtomicU64::new(0),
                bytes_received: AtomicU64::new(0),
                tcp_cookie: AtomicU64::new(0),
                path_code: AtomicU32::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// What the endpoint's connections post, which shapes their queue pairs: an AF_IB
    /// socket also carries the program's one-sided RDMA operations.
    pub(crate) fn qp_profile(&self) -> QpProfile {
        if i32::from(self.sk.family()) == crate::proto::AF_IB { QpProfile::AfIb } else { QpProfile::Stream }
    }

    /// The rdma_cm port space of the endpoint's ports and service IDs.
    pub(crate) fn port_space(&self) -> PortSpace {
        if self.is_seqpacket { PortSpace::Ib } else { PortSpace::Tcp }
    }

    pub(crate) fn lock<'a>(self: &'a Arc<Self>) -> MutexGuard<'a, Inner> {
        let mut guard = self.inner.lock();
        self.resume_send_events(&mut guard);
        guard
    }

    /// Whoever takes the lock may change what needs send completions: from here a send
    /// CQ event is handled again, and completions an event left in the CQ are reaped
    /// now, which arms the CQ again.
    fn resume_send_events(self: EpRef<'_>, inner: &mut Inner) {
        // Cleared before the deferred flag is read: an event that sets it after this
        // sees `sends_may_wait` clear and is handled as usual.
        self.sends_may_wait.store(false, Ordering::SeqCst);
        if self.send_event_deferred.swap(false, Ordering::SeqCst) && self.reap_side(inner, CqSide::Send) > 0 {
            // A failed send among them, with no receive posted, waits for no flush.
            crate::sdp::close::judge_unflushed(self, inner);
        }
    }

    /// Whether anything needs send completions as they come, rather than at the next
    /// reap: a blocked writer or closer, bytes held back until the sends in flight
    /// complete (Nagle, a pending DisConn), a close, RDMA operations whose completions
    /// the program waits for, a keepalive probe, or a send ring half full (a poller
    /// may wait for room).
    fn send_completions_wanted(&self, inner: &Inner) -> bool {
        if self.waiters.load(Ordering::SeqCst) > self.readers.load(Ordering::SeqCst)
            || inner.orphaned
            || inner.phase != Phase::Connected
        {
            return true;
        }
        let Some(link) = inner.link.as_ref() else { return true };
        link.stream.wants_send_completions(link.ops_in_flight(), link.tx_free(), link.tx_slots())
    }

    /// A reader about to wait for data: unless something needs its sends'
    /// completions, their events wake nobody until the lock is taken again. Send
    /// buffers held meanwhile go back at the trim timer's reap at the latest, so that
    /// an idle connection does not keep them.
    fn let_sends_wait(self: EpRef<'_>, inner: &Inner) {
        if !self.send_completions_wanted(inner) {
            self.sends_may_wait.store(true, Ordering::SeqCst);
            if inner.link.as_ref().is_some_and(|l| l.send_buffer_bytes() > 0) {
                self.start_trim_timer(crate::sdp::tx::SEND_BUFFERS_KEPT_MS);
            }
        }
    }

    /// Locks and reaps the completions that arrived: for every path that looks at the
    /// data path's state.
    ///
    /// A caller that comes back with nothing new (a program spinning on a
    /// non-blocking call) does not poll the CQs: every completion since the last reap
    /// fired an event, which moved `cq_events`.
    pub(crate) fn lock_reaped<'a>(self: &'a Arc<Self>) -> MutexGuard<'a, Inner> {
        let mut guard = self.lock();
        let _ = self.reap(&mut guard);
        guard
    }

    /// Handles every completion of the link's CQs and leaves them armed for the next.
    /// Returns how many it handled.
    ///
    /// Pollers woken by a receive event poll after this reap or do it themselves, so
    /// the wake-ups it would give them for those events again are left out
    /// (`Inner::woken_before_reap`): an edge-triggered epoll sees one edge per arrival, as
    /// with TCP.
    pub(crate) fn reap(self: EpRef<'_>, inner: &mut Inner) -> usize {
        inner.woken_before_reap = self.woken_by_cq_event.swap(0, Ordering::AcqRel);
        let handled = self.reap_side(inner, CqSide::Send) + self.reap_side(inner, CqSide::Recv);
        inner.woken_before_reap = 0;
        if handled > 0 {
            rx::charge_held(self, inner);
            crate::sdp::close::judge_unflushed(self, inner);
        }
        handled
    }

    /// Reaps one CQ until it is empty and armed, unless no event of it came since a
    /// reap left it so; returns the completions handled.
    fn reap_side(self: EpRef<'_>, inner: &mut Inner, side: CqSide) -> usize {
        // Read before the CQ is: a completion after this moves the count.
        let events = self.cq_event_count(side);
        match inner.link.as_ref() {
            Some(link) if link.reaped_at(side) != Some(events) => self.reap_side_now(inner, side, events),
            _ => 0,
        }
    }

    /// How many events the CQ on `side` has fired.
    fn cq_event_count(&self, side: CqSide) -> u32 {
        self.cq_events[side as usize].load(Ordering::SeqCst)
    }

    /// Reaps one CQ until it is empty and armed; `events`: its event count, read
    /// before the first poll. Returns the completions handled.
    fn reap_side_now(self: EpRef<'_>, inner: &mut Inner, side: CqSide, events: u32) -> usize {
        let mut batch = [None; POLL_BATCH];
        let mut handled = 0;
        loop {
            let Some(link) = inner.link.as_mut() else { break };
            let n = link.reap(side, &mut batch);
            // Fewer than asked for: the CQ was empty after these, so it is armed
            // (and checked for late arrivals) once they are handled, with no poll
            // that would find nothing.
            let drained = n < POLL_BATCH;
            // A failed send moves the QP to the error state, which flushes the
            // receives: the send's error, already in its CQ, is the one to report
            // (`ETIMEDOUT` for a silent peer, not the flush's `ECONNRESET`).
            // The send CQ is polled even if its count has not moved: nothing orders
            // the event of the send's completion before the flush seen here.
            if side == CqSide::Recv && batch[..n].iter().flatten().any(|wc| !wc.ok()) {
                let send_events = self.cq_event_count(CqSide::Send);
                handled += self.reap_side_now(inner, CqSide::Send, send_events);
            }
            for wc in batch[..n].iter().flatten() {
                handled += 1;
                match WrKind::of(wc) {
                    Some(WrKind::Recv) => rx::completion(self, inner, *wc),
                    Some(WrKind::Send) => tx::completion(self, inner, *wc),
                    Some(WrKind::Probe) => keepalive::completion(self, inner, *wc),
                    Some(WrKind::Rdma) => self.rdma_ops.completion(self, inner, *wc),
                    Some(WrKind::RdmaPart) => self.rdma_ops.part_failed(self, inner, *wc),
                    Some(WrKind::ZcRead) => crate::sdp::zcopy_rx::completion(self, inner, *wc),
                    Some(WrKind::ZcReg) => crate::sdp::zcopy_tx::completion(self, inner, *wc, false),
                    Some(WrKind::ZcInv) => crate::sdp::zcopy_tx::completion(self, inner, *wc, true),
                    Some(WrKind::ZcUserRead) => crate::sdp::zcopy_rx::user_completion(self, inner, *wc),
                    // Every request of a link is posted with one of its kinds' entries.
                    None => debug_assert!(false, "completion with an unknown tag {}", wc.tag),
                }
            }
            if drained {
                let Some(link) = inner.link.as_mut() else { break };
                if link.arm(side) {
                    continue;
                }
                // Empty and armed: its next completion fires an event.
                link.set_reaped_at(side, events);
                break;
            }
        }
        handled
    }

    /// Tells blocked calls and pollers that something changed (`mask`: the poll
    /// events that may have become true).
    pub(crate) fn wake(&self, mask: u32) {
        self.notify_waiters();
        self.sk.wake(mask);
    }

    /// Wakes blocked calls only (no poll event changed).
    pub(crate) fn notify_waiters(&self) {
        wait::bump(&self.events);
        self.changed.wake_all();
    }

    /// Wakes everybody for every event: errors, hang-up, state changes.
    pub(crate) fn wake_all(&self) {
        self.wake(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLERR | POLLHUP | POLLRDHUP);
    }

    /// Waits for a change with the lock held by `guard`, for at most `*timeo` jiffies.
    /// Returns `Err(EAGAIN)` when the time is up, the interruption errno on a signal.
    pub(crate) fn wait(self: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, timeo: &mut i64) -> Result {
        self.wait_spinning(guard, timeo, None, Ends::Signal)
    }

    /// [`Self::wait`] that only a fatal signal ends (`EINTR`): for what the caller must
    /// see through once begun, with a bounded `timeo`.
    pub(crate) fn wait_killable(self: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, timeo: &mut i64) -> Result {
        self.wait_spinning(guard, timeo, None, Ends::FatalSignal)
    }

    /// [`Self::wait`] that no signal ends: for what a task being killed must still see
    /// through (a connection other tasks may share), with a bounded `timeo`.
    pub(crate) fn wait_dying(self: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, timeo: &mut i64) -> Result {
        self.wait_spinning(guard, timeo, None, Ends::Nothing)
    }

    /// [`Self::wait`] for data to read: busy-polls for the socket's `SO_BUSY_POLL`
    /// µs before sleeping, like TCP's `sk_busy_loop()`.
    pub(crate) fn wait_for_data(self: EpRef<'_>, guard: &mut MutexGuard<'_, Inner>, timeo: &mut i64) -> Result {
        self.wait_spinning(guard, timeo, Some(self.sk.busy_poll_usec()), Ends::Signal)
    }

    /// Waits as [`Self::wait`]; a reader (`spin_usec` given) busy-polls that long first.
    fn wait_spinning(
        self: EpRef<'_>,
        guard: &mut MutexGuard<'_, Inner>,
        timeo: &mut i64,
        spin_usec: Option<u32>,
        ends: Ends,
    ) -> Result {
        let reader = spin_usec.is_some();
        if *timeo <= 0 {
            // A non-blocking reader that found nothing comes back (or polls) for the
            // peer's data: its sends' completions may wait for it, as a sleeping
            // reader's do, instead of queueing the reap work.
            if reader {
                self.let_sends_wait(guard);
            }
            return Err(EAGAIN);
        }
        let forever = *timeo == i64::MAX;
        // From here a CQ event leaves the reaping to us: what it announces is either in
        // the CQ for the reap below, or moves `events` past `seen`, or wakes us.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        if reader {
            self.readers.fetch_add(1, Ordering::SeqCst);
        }
        let seen = self.events.load(Ordering::SeqCst);
        let woken = if self.reap(guard) > 0 {
            Woken::Woken { jiffies: *timeo }
        } else {
            // A reader waits for the peer's data, not for its own sends' completions
            // (a ping-pong then sleeps once per round trip, not twice).
            if reader {
                self.let_sends_wait(guard);
            }
            self.changed.wait(guard, &self.events, seen, *timeo, spin_usec.unwrap_or(0), ends)
        };
        if reader {
            self.readers.fetch_sub(1, Ordering::SeqCst);
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        // The reap below covers any send event that was left to it.
        self.sends_may_wait.store(false, Ordering::SeqCst);
        self.send_event_deferred.store(false, Ordering::SeqCst);
        let _ = self.reap(guard);
        match woken {
            Woken::Timeout => {
                *timeo = 0;
                Err(EAGAIN)
            }
            Woken::Woken { jiffies } => {
                if !forever {
                    *timeo = jiffies;
                }
                Ok(())
            }
            Woken::Signal => Err(if forever { ERESTARTSYS } else { EINTR }),
        }
    }

    /// Records a connection error for the socket, moves to `Closed`
    /// and schedules the teardown of the link.
    pub(crate) fn fail(self: EpRef<'_>, inner: &mut Inner, err: Error) {
        let net = self.sk.net();
        match inner.phase {
            // A hybrid's too: its SDP attempt failed, whatever TCP does next.
            Phase::Connecting => stats::bump(net, Counter::of_connect_failure(err.into())),
            Phase::Connected if err == ECONNRESET => stats::bump(net, Counter::Resets),
            _ => {}
        }
        // A hybrid's failed RDMA attempt becomes a TCP connection, not an error.
        if crate::sdp::fallback::on_connect_failure(self, inner, err) {
            self.close_and_teardown(inner);
            return;
        }
        let closed_by_peer = inner.link.as_ref().is_some_and(|l| l.stream.fin_received);
        let err = failure_errno(err.into(), closed_by_peer).into_error();
        if inner.phase != Phase::Closed {
            self.sk.set_err(-err.to_errno());
        }
        self.close_and_teardown(inner);
    }

    /// Moves the connection to `phase`, telling the `infinisock_state` tracepoint when
    /// it changes.
    pub(crate) fn set_phase(&self, inner: &mut Inner, phase: Phase) {
        if inner.phase != phase && trace::state_enabled() {
            let (local, peer) = (inner.local_addr(), inner.peer_addr());
            let form = SockAddr::mapped_v6_or_unspecified;
            let protocol = u16::try_from(self.sk.protocol()).unwrap_or(0);
            trace::state(&self.sk, protocol, &form(local), &form(peer), inner.phase.code(), phase.code());
        }
        inner.phase = phase;
        self.publish(inner);
    }

    /// A hybrid's path changes: kept in `inner` and, for socket diagnostics to read
    /// without the lock, in `path_code`.
    pub(crate) fn set_path(&self, inner: &mut Inner, path: Path) {
        inner.path = path;
        self.path_code.store(path.option_value() as u32, Ordering::Relaxed);
    }

    /// Writes the socket's addresses and shutdown state where socket diagnostics read
    /// them (`Sock::publish`): at every phase change, `bind` and `shutdown`.
    pub(crate) fn publish(&self, inner: &Inner) {
        let fin = inner.link.as_ref().is_some_and(|l| l.stream.fin_received);
        self.sk.publish(inner.local_addr(), inner.shown_peer(), inner.shutdown | if fin { RCV_SHUTDOWN } else { 0 });
    }

    /// Moves to `Closed` and schedules the teardown, without an error.
    pub(crate) fn close_and_teardown(self: EpRef<'_>, inner: &mut Inner) {
        self.set_phase(inner, Phase::Closed);
        self.sk.set_tcp_state(TCP_CLOSE);
        self.schedule_teardown(inner);
        self.wake_all();
    }

    /// Queues the teardown work once.
    pub(crate) fn schedule_teardown(self: EpRef<'_>, inner: &mut Inner) {
        if !inner.tearing_down {
            inner.tearing_down = true;
            // `Err` means it is already queued, which `tearing_down` rules out.
            let _ = crate::kernel_api::work::workqueue().enqueue::<_, { work_id::TEARDOWN }>(self.clone());
        }
    }

    /// Releases the verbs resources and the rdma_cm id, outside the lock. Unread data
    /// in the receive ring is lost (the connection is over).
    fn teardown(self: EpRef<'_>) {
        let (link, id, children) = {
            // What already completed is reaped first: the drain below discards the
            // completions it meets, so an RDMA operation whose error (a peer's refusal)
            // is waiting in the CQ would otherwise be reported as cancelled.
            let mut inner = self.lock_reaped();
            self.set_phase(&mut inner, Phase::Closed);
            let children = inner.listen.take_all();
            let parent = inner.parent.take();
            let link = inner.link.take();
            // Its buffers go back to their queue with it.
            if let Some(l) = link.as_ref().filter(|l| l.rmem_charged > 0) {
                self.sk.uncharge_rmem(l.rmem_charged);
            }
            (link, inner.id.take(), (children, parent))
        };
        let rdma_in_flight = link.as_ref().map(|l| l.rdma.in_flight()).unwrap_or_else(KVec::new);
        // Timers arm themselves again only while the phase is `Connected`, under the
        // lock: once it is `Closed`, a cancelled timer stays cancelled.
        self.cancel_timer::<{ work_id::FIN_TIMER }>();
        self.cancel_timer::<{ work_id::KEEPALIVE_TIMER }>();
        self.cancel_timer::<{ work_id::SETTLE_TIMER }>();
        self.cancel_timer::<{ work_id::CONNECT_TIMER }>();
        self.cancel_timer::<{ work_id::MEMORY_TIMER }>();
        self.cancel_timer::<{ work_id::TRIM_TIMER }>();
        self.wake_all();
        if let Some(id) = &id {
            // A refused move: the drain below moves the QP once more.
            let _ = id.disconnect(link.as_ref().map(|l| l.qp.qp()));
        }
        // Drains the QP, destroys it, then the CQ, buffers, RDMA regions and pinned
        // pages, and the PD (see `Link`).
        drop(link);
        drop(id);
        self.rdma_ops.cancelled(self, &mut self.lock(), rdma_in_flight);
        let ([pending, ready], parent) = children;
        // A connection that was never accepted: nobody will ever close it.
        for child in Iterator::chain(pending.into_iter(), ready) {
            child.abandon();
        }
        // A connection that failed before `accept()` took it: nobody will ever see it.
        if parent.is_some_and(|p| p.forget_child(self)) {
            self.lock().orphaned = true;
            self.sk.orphan();
        }
        let orphaned = {
            let mut inner = self.lock();
            inner.torn_down = true;
            inner.orphaned
        };
        // A reader whose READ went with the queue pair waits for this.
        self.notify_waiters();
        if orphaned {
            // Nothing else refers to the sock's state any more.
            drop(self.sk.take_state::<Endpoint>());
        } else {
            crate::sdp::fallback::after_teardown(self);
        }
    }

    /// Waits until a teardown scheduled already has run: a socket closed before it
    /// connected gives its port back before `close()` returns, as TCP's does (a
    /// program that probes a free port by binding and closing a socket binds it next).
    pub(crate) fn wait_for_teardown(&self) {
        crate::kernel_api::work::flush(&self.teardown_work);
    }

    /// Marks the endpoint as closed by its owner. Returns whether the caller must
    /// remove the sock's state itself (the teardown has already run); otherwise the
    /// teardown will.
    pub(crate) fn orphan(&self, inner: &mut Inner) -> bool {
        inner.orphaned = true;
        inner.torn_down
    }

    /// A passive connection nobody will accept: reset it and let it go.
    pub(crate) fn abandon(self: EpRef<'_>) {
        let mut inner = self.lock();
        inner.parent = None;
        let take_state = self.orphan(&mut inner);
        if let Some(link) = inner.link.as_mut() {
            link.send_abort();
        }
        self.close_and_teardown(&mut inner);
        drop(inner);
        self.sk.orphan();
        if take_state {
            drop(self.sk.take_state::<Endpoint>());
        }
    }

    /// Removes `child` from a listener's queues (it failed before being accepted).
    /// Returns whether it was there: if not, `accept()` has taken it.
    fn forget_child(self: EpRef<'_>, child: &Endpoint) -> bool {
        self.lock().listen.forget(|c| core::ptr::eq(&**c, child))
    }

    /// The poll mask, like `tcp_poll`.
    pub(crate) fn poll_mask(self: EpRef<'_>) -> u32 {
        let inner = self.lock_reaped();
        let link = inner.link.as_ref();
        poll_mask(&PollState {
            phase: inner.phase,
            error: self.sk.peek_err() != 0 || !inner.completions.is_empty() || self.sk.errqueue_pending(),
            acceptable: inner.listen.has_ready(),
            shutdown: inner.shutdown,
            fin_received: link.is_some_and(|l| l.stream.fin_received),
            unread: link.is_some_and(|l| l.stream.has_readable(self.sk.urginline())),
            can_send: link.is_some_and(|l| l.writable()),
            urgent: link.is_some_and(|l| l.stream.urgent.pending()),
        })
    }
}

impl WorkItem<{ work_id::TEARDOWN }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        this.teardown();
    }
}

/// The fin timer: the peer of an orphaned connection did not close in time.
impl WorkItem<{ work_id::FIN_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        let mut inner = this.lock();
        if inner.orphaned && inner.phase == Phase::Connected {
            if let Some(link) = inner.link.as_mut() {
                link.send_abort();
            }
            this.close_and_teardown(&mut inner);
        }
    }
}

/// The settle timer: a peer's disconnect waited long enough for our RDMA operations.
impl WorkItem<{ work_id::SETTLE_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        crate::sdp::close::rdma_settled(&this, &mut this.lock_reaped(), true);
    }
}

/// The memory timer: what found no memory for its send buffer tries again.
impl WorkItem<{ work_id::MEMORY_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        crate::sdp::tx::memory_retry(&this);
    }
}

/// The trim timer: an idle connection's send buffers go back.
impl WorkItem<{ work_id::TRIM_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        crate::sdp::tx::trim_idle(&this);
    }
}

/// The connect timer: a hybrid's RDMA attempt took too long.
impl WorkItem<{ work_id::CONNECT_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        crate::sdp::fallback::connect_timer_expired(&this);
    }
}

impl Endpoint {
    /// Stops one of the endpoint's timers if it is pending, and drops the reference
    /// it held. A timer already running is not waited for.
    pub(crate) fn cancel_timer<const ID: u64>(&self)
    where
        Self: kernel::workqueue::HasDelayedWork<Self, ID>,
    {
        crate::kernel_api::work::cancel_delayed::<Self, ID>(self);
    }

    /// Starts the fin timer of a connection closed by its owner.
    pub(crate) fn start_fin_timer(self: EpRef<'_>) {
        let secs = crate::netns::tunables::tunable(self.sk.net(), crate::proto::tunables::TunableId::SdpFinTimeout);
        let delay = kernel::time::msecs_to_jiffies((secs.max(1) as u32).saturating_mul(1000));
        // `Err`: already queued, which is as good.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::FIN_TIMER }>(self.clone(), delay);
    }

    /// Starts the connect timer (see `sdp::fallback`).
    pub(crate) fn start_connect_timer(self: EpRef<'_>, msecs: u32) {
        // `Err`: already queued, which is as good.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::CONNECT_TIMER }>(self.clone(), kernel::time::msecs_to_jiffies(msecs));
    }

    /// Starts the memory timer (see `tx::memory_retry`).
    pub(crate) fn start_memory_timer(self: EpRef<'_>, msecs: u32) {
        // `Err`: already queued, which is as good.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::MEMORY_TIMER }>(self.clone(), kernel::time::msecs_to_jiffies(msecs));
    }

    /// Starts the trim timer (see `tx::trim_idle`) for `msecs`, or for
    /// [`crate::sdp::tx::SEND_BUFFERS_KEPT_MS`] if that is sooner: a queued timer is
    /// not moved sooner, so one queued for longer would hold back the shorter
    /// deadlines it also serves (idle send buffers, the reap of completions a waiting
    /// reader left). A handler with longer to wait starts it again.
    pub(crate) fn start_trim_timer(self: EpRef<'_>, msecs: u32) {
        let msecs = msecs.min(crate::sdp::tx::SEND_BUFFERS_KEPT_MS);
        // `Err`: already queued, which is as good.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::TRIM_TIMER }>(self.clone(), kernel::time::msecs_to_jiffies(msecs));
    }

    /// No operation may be in flight any more (the last one completed, or one was
    /// refused before posting): the queue pair's registration regions are kept for the
    /// next ones, and given back by the trim timer if none comes
    /// (`Link::trim_regions`).
    pub(crate) fn keep_regions_a_while(self: EpRef<'_>, inner: &mut Inner) {
        if inner.phase != Phase::Connected {
            return;
        }
        let Some(link) = inner.link.as_mut().filter(|l| l.regions_idle()) else { return };
        link.rdma.idle_since = Some(kernel::time::Instant::now());
        self.start_trim_timer(crate::link::link::REGIONS_KEPT_MS);
    }

    /// Starts the settle timer (see `close::on_disconnected`).
    pub(crate) fn start_settle_timer(self: EpRef<'_>, msecs: u32) {
        // `Err`: already queued, which is as good.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::SETTLE_TIMER }>(self.clone(), kernel::time::msecs_to_jiffies(msecs));
    }
}

impl CmHandler for Endpoint {
    fn event(this: ArcBorrow<'_, Self>, id: &CmIdRef, event: CmEvent<'_>) {
        handshake::event(&this.into(), id, event)
    }
}

impl CqEvents for Endpoint {
    fn cq_event(this: ArcBorrow<'_, Self>, side: CqSide) {
        // First: a reap that sees the count unmoved skips the CQ.
        this.cq_events[side as usize].fetch_add(1, Ordering::SeqCst);
        // A blocked reader or writer reaps for itself as soon as it runs, and a poller
        // woken for a receive when it comes back to `poll_mask`; the work reaps when
        // nobody is blocked (a poller may not come back soon). The poll wake carries no
        // SIGIO: the reap says what really happened. Send completions wake no poller:
        // the reap does when they free room.
        if side == CqSide::Send {
            // Set before `sends_may_wait` is read (see `resume_send_events`).
            this.send_event_deferred.store(true, Ordering::SeqCst);
            if this.sends_may_wait.load(Ordering::SeqCst) {
                return;
            }
            // Handled here: a woken waiter or the work reaps.
            this.send_event_deferred.store(false, Ordering::SeqCst);
        }
        this.notify_waiters();
        if side == CqSide::Recv {
            const READABLE: u32 = POLLIN | POLLRDNORM;
            this.woken_by_cq_event.fetch_or(READABLE, Ordering::AcqRel);
            this.sk.wake_pollers(READABLE);
        }
        if this.waiters.load(Ordering::SeqCst) > 0 {
            return;
        }
        // `Err`: already queued. The returned reference is not the last one: the
        // endpoint owns the CQ, and the socket or the teardown holds it until the CQ
        // is gone.
        let _ = crate::kernel_api::work::workqueue().enqueue::<_, { work_id::REAP }>(Arc::from(this));
    }
}

/// The reap work.
impl WorkItem<{ work_id::REAP }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        drop(this.lock_reaped());
    }
}
