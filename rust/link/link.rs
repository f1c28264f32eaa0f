// SPDX-License-Identifier: GPL-2.0

//! The verbs side of one SDP connection: its queue pair (with the PD, CQs and
//! registered rings it owns), and the stream state that indexes the rings.

use kernel::{
    prelude::*,
    sync::Arc,
    time::{Instant, Monotonic},
};

use crate::{
    kernel_api::{
        cm::{CmIdRef, ReadDepths},
        list::KernelLists,
        qp::{QpSizes, QueuePair, SharedRecv, EXPOSE_REQUESTS, USER_READ_REQUESTS},
        srq::SharedRecvQueue,
        verbs::{CqEvents, CqSide, Cqe, PinnedBuf, Wc, POLL_BATCH},
    },
    link::{
        memory::{self, Admitted},
        rdma::Rdma,
        recv_pools,
        zc_source::{ZcSource, SRC_ADVERTS, ZC_REG_CQE},
    },
    proto::{
        errno::{Errno, EAGAIN},
        handshake::{zc_terms, RingConfig, ZcOffer},
        qp_shape::{QpProfile, QpShape, SendSges},
        receive::ReadyQueue,
        recv_window::RecvWindow,
        ring::IndexFifo,
        stream::{Credit, Stream},
        transmit::{PostFailed, SendSlots, WriteRound},
        wire::{Mid, BSDH_LEN, COMPL_LEN},
        zc_land::{SinkFlow, ZC_LANDING},
        zc_sink::Reply,
        zc_src::SrcLimits,
    },
};

/// What a work request of a link is, for its completion (see [`Link::reap`]): the
/// tag of the [`Cqe`] it is posted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum WrKind {
    /// A receive.
    Recv,
    /// A send.
    Send,
    /// A keepalive probe (a zero-length RDMA WRITE on the send queue).
    Probe,
    /// The last (signaled) request of a program's RDMA WRITE or READ (see `rdma`).
    Rdma,
    /// An earlier, unsignaled request of one: reported only when it fails or is flushed.
    RdmaPart,
    /// An RDMA READ of the peer's zero-copy advert into a landing slot (`sdp::zcopy_rx`).
    ZcRead,
    /// An unsignaled request registering a region our advert exposes
    /// (`link::zc_source`): reported only when it fails or is flushed.
    ZcReg,
    /// The invalidation that ends our advert's exposure (`sdp::zcopy_tx`).
    ZcInv,
    /// An RDMA READ of the peer's advert straight into a reader's pages
    /// (`sdp::zcopy_rx`); the requests registering them go as `ZcReg`.
    ZcUserRead,
}

impl WrKind {
    const ALL: [WrKind; 9] = [
        WrKind::Recv,
        WrKind::Send,
        WrKind::Probe,
        WrKind::Rdma,
        WrKind::RdmaPart,
        WrKind::ZcRead,
        WrKind::ZcReg,
        WrKind::ZcInv,
        WrKind::ZcUserRead,
    ];

    /// The entry its requests are posted with.
    pub(crate) const fn cqe(self) -> Cqe {
        Cqe::new(self as u32)
    }

    /// The kind of request a completion is for.
    pub(crate) fn of(wc: &Wc) -> Option<Self> {
        Self::ALL.get(wc.tag as usize).copied()
    }
}

/// How long a connection keeps the registration regions of its RDMA operations (the
/// queue pair's pool) once none is in flight: a program that goes on reuses them, an
/// idle connection holds none.
pub(crate) const REGIONS_KEPT_MS: u32 = 10_000;

static RECV_CQE: Cqe = WrKind::Recv.cqe();
static SEND_CQE: Cqe = WrKind::Send.cqe();
static PROBE_CQE: Cqe = WrKind::Probe.cqe();
static ZC_READ_CQE: Cqe = WrKind::ZcRead.cqe();
static ZC_USER_READ_CQE: Cqe = WrKind::ZcUserRead.cqe();

/// The READ of the peer's advert straight into a reader's pages, as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserRead {
    /// Posted, for this many bytes.
    InFlight(u32),
    /// Completed: this many bytes are in the reader's pages.
    Done(u32),
    /// Failed or flushed (the connection is going): none are.
    Lost,
}

/// The verbs side of one connection: its queue pair (which owns everything the
/// device touches) and the protocol's view of the rings.
///
/// The CQs hold the endpoint their events go to until the link is dropped (its
/// teardown). They are polled by the endpoint under its mutex while the link is in
/// `Inner::link`, and by the queue pair's drain when it is dropped: never by two at once.
pub(crate) struct Link {
    pub(crate) qp: QueuePair,
    /// Registered regions and operations in flight.
    pub(crate) rdma: Rdma,
    /// The data-path state (`proto::stream`), with its staging buffer.
    pub(crate) stream: Stream<KVec<u32>, KVec<u8>, KVec<u16>>,
    /// Message length (header included) of each receive buffer that holds one; a
    /// landing slot's READ length.
    pub(crate) rx_len: KVec<u32>,
    /// Where each buffer's payload starts: after the header, after a SrcAvail's
    /// header too for its inline bytes, at 0 in a landing slot.
    rx_start: KVec<u8>,
    /// For each receive buffer an RDMA WRITE with immediate consumed (it holds no
    /// message): the immediate data and the bytes the write placed.
    pub(crate) rx_imm: KVec<Option<(u32, u32)>>,
    /// When the peer was last heard from: a message received, or a keepalive probe
    /// acknowledged.
    pub(crate) last_heard: Instant<Monotonic>,
    /// How many receive buffers the peer is granted (`proto::recv_window`).
    pub(crate) window: RecvWindow,
    /// When the link was made: the window's clock.
    created: Instant<Monotonic>,
    /// Per CQ (`CqSide as usize`): the endpoint's count of its events as it was when
    /// a reap began that left it empty and armed. Until the count moves, no
    /// completion came since, and a reap skips the CQ.
    reaped_at: [Option<u32>; 2],
    /// A landing buffer found no memory: the memory timer posts the READ again (the
    /// peer waits for our reply, so nothing else may come to). Apart from the
    /// stream's `memory_short`, which holds writers back.
    zc_alloc_short: bool,
    /// Pages of the shared receive queue's buffers the link holds that are charged to
    /// its owner's socket memory (`sdp::rx::charge_held`); given back before it goes.
    pub(crate) rmem_charged: usize,
    /// The owner's memory cgroup is under socket memory pressure (or refused a
    /// charge): the window stays at its floor, as under the module's memory pressure.
    pub(crate) rmem_short: bool,
    /// What our Hello or HelloAck offered of zero-copy.
    zc_offer: ZcOffer,
    /// The peer's SrcAvail adverts, once zero-copy was negotiated (`sdp::zcopy_rx`).
    pub(crate) zc: Option<SinkFlow<KernelLists>>,
    /// Per landing slot: a READ into it is in flight, or its bytes are unread.
    landing_busy: [bool; ZC_LANDING],
    /// The READ into a reader's pages, from its posting until that reader took its
    /// outcome ([`Link::zc_user_outcome`]).
    zc_user: Option<UserRead>,
    /// The queue pair has exposure slots: this side may advertise its own bytes, on
    /// these clocks.
    may_expose: Option<SrcLimits>,
    /// Our SrcAvail adverts, once zero-copy was negotiated with a peer that READs
    /// (`sdp::zcopy_tx`).
    pub(crate) zc_src: Option<ZcSource>,
    /// The shared receive queue the queue pair is on, if it is: last, so that the
    /// queue pair has left it when this goes.
    shared: Option<SharedQueueUser>,
}

/// A link's hold on its shared receive queue: when it goes, after the queue pair,
/// the queue goes too if no queue pair is left on it.
struct SharedQueueUser(Arc<SharedRecvQueue>);

impl Drop for SharedQueueUser {
    fn drop(&mut self) {
        recv_pools::left(&self.0);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // An established connection that did not end with the peer's DisConn, while
        // the peer had grants to send on, may have been cut in the middle of one of
        // its messages, whose buffer the device then keeps with no completion
        // (`SharedRecvQueue::suspect`).
        if let Some(user) = self.shared.as_ref() {
            if self.stream.credits.is_some() && !self.stream.fin_received && self.qp.grants_outstanding() {
                user.0.suspect();
            }
        }
    }
}

impl Link {
    /// Creates the queue pair, shaped for what a connection of `profile` posts, on the
    /// device `id` is bound to, and posts the receive buffers the window starts with,
    /// which `admitted` counted until then. `events` hears of completions; its owner
    /// reaps them ([`Link::reap`]). With `shared_recv`, the queue pair receives from
    /// its device's shared receive queue (`recv_pools`), and posting a receive
    /// buffer grants one of the queue's. A connection that offers zero-copy (`zc`)
    /// gets the landing slots and send-queue entries for the READs of the peer's
    /// adverts; with `expose` too, the exposure slots for adverts of its own (its PD
    /// must then be its own: not with `shared_recv`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        events: Arc<impl CqEvents>,
        id: &CmIdRef,
        profile: QpProfile,
        cfg: RingConfig,
        admitted: Admitted,
        shared_recv: bool,
        zc: ZcOffer,
        expose: Option<SrcLimits>,
    ) -> Result<Self> {
        let shape = QpShape::new(profile, cfg);
        let landing = if zc.max_adverts > 0 { ZC_LANDING as u16 } else { 0 };
        let may_expose = expose.filter(|_| zc.max_adverts > 0 && !shared_recv);
        let exposed = if may_expose.is_some() { SRC_ADVERTS as u16 } else { 0 };
        let sizes = QpSizes {
            recv_buffers: cfg.recv_buffers,
            send_buffers: cfg.send_buffers,
            buffer_size: cfg.buffer_size,
            send_wrs: shape.send_wrs
                + u32::from(landing)
                + if landing > 0 { USER_READ_REQUESTS } else { 0 }
                + u32::from(exposed) * EXPOSE_REQUESTS,
            recv_wrs: shape.recv_wrs,
            send_sges: match shape.send_sges {
                SendSges::One => Some(1),
                SendSges::DeviceMax => None,
            },
            max_inline: shape.max_inline,
            rdma_requests: shape.rdma_requests,
            landing,
            exposed,
        };
        let queue = if shared_recv { Some(recv_pools::for_id(id, cfg.buffer_size as usize)?) } else { None };
        let shared = queue.clone().map(SharedQueueUser);
        let joins = queue.map(|queue| SharedRecv { queue, recv_cqe: &RECV_CQE });
        let qp = match QueuePair::new(id, events, sizes, joins) {
            Ok(qp) => qp,
            Err(e) => {
                // Joined by `for_id`; `shared` drops it from the list as it goes.
                if let Some(user) = shared.as_ref() {
                    user.0.unjoin();
                }
                return Err(e);
            }
        };
        let slots = qp.slots();
        let (rx_len, tx_len) = (KVec::from_elem(0u32, slots, GFP_KERNEL)?, KVec::from_elem(0u32, qp.send_slots(), GFP_KERNEL)?);
        let recv_ring = qp.recv_ring();
        let rx_imm = KVec::from_elem(None, slots, GFP_KERNEL)?;
        let rx_start = KVec::from_elem(BSDH_LEN as u8, slots, GFP_KERNEL)?;
        let (send_sge, read_sge) = qp.rdma_sges();
        let mut link = Link {
            qp,
            rdma: Rdma::new(send_sge, read_sge),
            // The staging buffer is allocated when a write first stages bytes.
            stream: Stream::with_order(
                tx_len,
                (cfg.buffer_size as usize).saturating_sub(BSDH_LEN),
                IndexFifo::for_ring(recv_ring)?,
                ReadyQueue::for_ring(slots)?,
            ),
            rx_len,
            rx_start,
            rx_imm,
            last_heard: Instant::now(),
            window: RecvWindow::new(cfg.recv_start, cfg.recv_buffers, 0),
            created: Instant::now(),
            reaped_at: [None, None],
            rmem_charged: 0,
            rmem_short: false,
            zc_offer: zc,
            zc: None,
            zc_alloc_short: false,
            landing_busy: [false; ZC_LANDING],
            zc_user: None,
            may_expose,
            zc_src: None,
            shared,
        };
        for idx in 0..link.window.initial() {
            link.post_recv(idx)?;
        }
        // The queue pair counts them now.
        drop(admitted);
        Ok(link)
    }

    /// Takes up to [`POLL_BATCH`] completions of one queue's work requests; returns how
    /// many were taken (a `None` was not one of ours).
    pub(crate) fn reap(&mut self, side: CqSide, out: &mut [Option<Wc>; POLL_BATCH]) -> usize {
        self.qp.poll(side, out)
    }

    /// Asks for an event at the queue's next completion; `true`: reap again first, some
    /// may have arrived unannounced.
    pub(crate) fn arm(&self, side: CqSide) -> bool {
        self.qp.arm(side)
    }

    /// The event count at which a reap last left the CQ empty and armed, if it did.
    pub(crate) fn reaped_at(&self, side: CqSide) -> Option<u32> {
        self.reaped_at[side as usize]
    }

    /// Records that a reap which began at event count `events` left the CQ empty
    /// and armed.
    pub(crate) fn set_reaped_at(&mut self, side: CqSide, events: u32) {
        self.reaped_at[side as usize] = Some(events);
    }

    /// Whether the queue pair receives from its device's shared receive queue.
    pub(crate) fn on_shared_queue(&self) -> bool {
        self.shared.is_some()
    }

    /// Receive buffers in the ring: the most the window may grow to.
    pub(crate) fn recv_ring(&self) -> usize {
        self.qp.recv_ring()
    }

    /// Receive buffers posted at first: the peer's initial grant.
    pub(crate) fn initial_grant(&self) -> u16 {
        self.window.initial()
    }

    /// A message arrived: the window hears whether it left the peer short of credits.
    pub(crate) fn received(&mut self) {
        if let Some(c) = self.stream.credits.as_ref() {
            self.window.received(c.peer_view());
        }
    }

    /// Size of each local buffer.
    pub(crate) fn buffer_size(&self) -> usize {
        self.qp.buffer_size()
    }

    /// Posts receive buffer `idx` (again).
    pub(crate) fn post_recv(&mut self, idx: u16) -> Result {
        if self.stream.qp_dead {
            return Err(ENOTCONN);
        }
        self.qp.post_recv(idx, &RECV_CQE, false)
    }

    /// Receive buffer `idx`'s message was consumed: the window says whether it is
    /// posted again or given back, and whether buffers are added (allocated and
    /// posted now; one that cannot be is not granted). Under memory pressure (the
    /// module's, or the owner's memory cgroup's: `rmem_short`) it does not grow and
    /// falls back to its floor. Each posted counts as a credit the peer
    /// will be told about.
    ///
    /// Once the QP is in the error state nothing is posted: the buffer goes back, and
    /// the message it held counts as it would have (a DisConn still ends the
    /// connection gracefully). A post that fails leaves the window's account right
    /// and returns the error after the credits posted are counted.
    pub(crate) fn repost(&mut self, idx: u16) -> Result {
        if self.qp.landing_slots().contains(&idx) {
            // The slot takes the next READ of an open advert at once.
            self.zc_consumed(idx);
            return self.zc_read_more();
        }
        self.rx_imm[usize::from(idx)] = None;
        self.rx_start[usize::from(idx)] = BSDH_LEN as u8;
        if self.stream.qp_dead {
            self.qp.release_recv(idx);
            return Ok(());
        }
        let now_ms = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (room, pressure) = memory::growth(self.buffer_size());
        let (room, pressure) = if self.rmem_short { (0, true) } else { (room, pressure) };
        // Landed READs wait in the reader's queue too, but hold no ring buffer.
        let held = self.stream.rx.len() - self.stream.rx.count_from(self.qp.landing_slots().start);
        let step = self.window.consumed(held, now_ms, pressure);
        let mut posted = 0;
        let mut refused = None;
        if step.repost {
            match self.qp.post_recv(idx, &RECV_CQE, false) {
                Ok(()) => posted += 1,
                Err(e) => {
                    self.window.not_posted();
                    self.qp.release_recv(idx);
                    refused = Some(e);
                }
            }
        } else {
            self.qp.release_recv(idx);
        }
        // Growing takes no more than the room below pressure, and may find no memory:
        // not worth a warning or hard reclaim under the endpoint's lock; the next
        // consumed buffer tries again.
        let mut short = refused.is_some();
        for added in 0..usize::from(step.add) {
            short = short
                || added >= room
                || self.qp.free_recv_slot().ok_or(ENOMEM).and_then(|slot| self.qp.post_recv(slot, &RECV_CQE, true)).is_err();
            if short {
                self.window.not_posted();
            } else {
                posted += 1;
            }
        }
        if let Some(c) = self.stream.credits.as_mut() {
            c.reposted(posted);
        }
        refused.map_or(Ok(()), Err)
    }

    /// Payload bytes of ready buffer `idx` (its message minus the header, or what a
    /// READ landed).
    pub(crate) fn payload(&self, idx: u16) -> &[u8] {
        payload_in(&self.qp, &self.rx_len, &self.rx_start, idx)
    }

    /// The reader's queue, and a view of the buffers' payloads beside it (as
    /// [`Self::payload`] reads them), for a read that consumes from one while it
    /// copies from the other.
    pub(crate) fn rx_and_payloads<'a>(&'a mut self) -> (&'a mut ReadyQueue<KVec<u16>>, impl Fn(u16) -> &'a [u8] + 'a) {
        let (qp, rx_len, rx_start) = (&self.qp, &self.rx_len, &self.rx_start);
        (&mut self.stream.rx, move |idx| payload_in(qp, rx_len, rx_start, idx))
    }

    /// Buffer `idx`'s payload starts `start` bytes in: a SrcAvail's inline bytes
    /// follow its advert. Set back to after the header when it is posted again.
    pub(crate) fn set_payload_start(&mut self, idx: u16, start: usize) {
        if let (Some(s), Ok(start)) = (self.rx_start.get_mut(usize::from(idx)), u8::try_from(start)) {
            *s = start;
        }
    }

    /// Send slots in all.
    pub(crate) fn tx_slots(&self) -> usize {
        self.qp.send_slots()
    }

    /// Free send slots: those whose sends have completed or been flushed, and that
    /// the queue pair knows the device is done with.
    pub(crate) fn tx_free(&self) -> usize {
        self.stream.slots_free(self.qp.send_slots_free())
    }

    /// Payload bytes that fit one message to the peer.
    pub(crate) fn max_payload(&self) -> usize {
        self.stream.max_payload(self.buffer_size())
    }

    /// Whether a writer may go on now (`POLLOUT`): a data message can be posted and no
    /// advert of ours holds data back.
    pub(crate) fn writable(&self) -> bool {
        self.can_send_data() && !self.stream.data_held
    }

    /// Whether a data message can be posted now (credit and send slot, and no
    /// message waiting for memory: as TCP's `SOCK_NOSPACE`).
    pub(crate) fn can_send_data(&self) -> bool {
        self.stream.can_send(Credit::Data, self.tx_free()) && !self.memory_short()
    }

    /// Posts one message (`proto::transmit`): `fill` writes up to `max` payload bytes
    /// into the send slot and returns how many. `EAGAIN` without a credit or a slot.
    pub(crate) fn send(
        &mut self,
        mid: Mid,
        flags: u8,
        control: bool,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        self.stream.send(&mut SendRing(&mut self.qp), mid, flags, control, max, fill)
    }

    /// One round of a stream `sendmsg` (`proto::transmit`).
    pub(crate) fn write_round(
        &mut self,
        rest: usize,
        nodelay: bool,
        connected: bool,
        urgent: bool,
        copy_in: impl FnMut(&mut [u8]) -> usize,
    ) -> core::result::Result<WriteRound, PostFailed> {
        self.stream.write_round(&mut SendRing(&mut self.qp), rest, nodelay, connected, urgent, copy_in)
    }

    /// Accounts the oldest posted send as complete.
    pub(crate) fn send_completed(&mut self) {
        self.stream.tx.completed();
    }

    /// Bytes of send buffers the connection holds now (messages in flight, and
    /// buffers kept for the next ones while sends are in flight).
    pub(crate) fn send_buffer_bytes(&self) -> usize {
        self.qp.send_buffer_bytes()
    }

    /// Gives back the send buffers kept for the next messages, if no send is in
    /// flight.
    pub(crate) fn trim_send_buffers(&mut self) {
        self.qp.trim_send_buffers();
    }

    /// Whether the queue pair keeps registration regions and no RDMA operation is in
    /// flight (nor any advert of ours exposed, nor a READ into a reader's pages).
    pub(crate) fn regions_idle(&self) -> bool {
        !self.rdma.busy()
            && !self.zc_src.as_ref().is_some_and(ZcSource::busy)
            && !self.zc_user_in_flight()
            && self.qp.keeps_regions()
    }

    /// The queue pair's registration regions are kept for the next RDMA operations
    /// until none has been in flight for [`REGIONS_KEPT_MS`]; then they go. Returns
    /// the milliseconds left when that time has not come yet.
    pub(crate) fn trim_regions(&mut self) -> Option<u32> {
        if !self.regions_idle() {
            return None;
        }
        let idle_ms = self.rdma.idle_since.map_or(i64::MAX, |t| t.elapsed().as_millis());
        match u32::try_from(i64::from(REGIONS_KEPT_MS).saturating_sub(idle_ms)) {
            Ok(left) if left > 0 => Some(left),
            _ => {
                self.qp.trim_regions();
                None
            }
        }
    }

    /// Whether a message found no memory for its buffer and what is owed waits for a
    /// retry ([`crate::proto::stream::Stream::memory_short`]).
    pub(crate) fn memory_short(&self) -> bool {
        self.stream.memory_short && !self.stream.qp_dead
    }

    /// Whether something waits for the memory timer: a message ([`Self::memory_short`])
    /// or a landing buffer.
    pub(crate) fn retry_due(&self) -> bool {
        self.memory_short() || (self.zc_alloc_short && !self.stream.qp_dead)
    }

    /// The memory timer fired: what waited for memory is tried again by the next
    /// `progress()`, which sets the flags again if it still finds none.
    pub(crate) fn memory_retrying(&mut self) {
        self.stream.memory_short = false;
        self.zc_alloc_short = false;
    }

    /// Whether every posted send has completed.
    pub(crate) fn tx_idle(&self) -> bool {
        self.stream.tx.idle()
    }

    /// Bytes written but not yet acknowledged by the peer's adapter (`SIOCOUTQ`),
    /// those of our open adverts not READ yet and declined ones not sent yet too.
    pub(crate) fn outq(&self) -> usize {
        let zc = self.zc_src.as_ref().map_or(0, ZcSource::outq);
        self.stream.outq().saturating_add(usize::try_from(zc).unwrap_or(usize::MAX))
    }

    /// Posts a keepalive probe unless one is outstanding. It takes no credit and no
    /// send slot: the send queue has room for one probe besides the ring.
    pub(crate) fn post_probe(&mut self) -> Result {
        if self.stream.qp_dead {
            return Err(ENOTCONN);
        }
        if !self.stream.probe_outstanding {
            self.qp.post_empty_write(&PROBE_CQE)?;
            self.stream.probe_outstanding = true;
        }
        Ok(())
    }

    /// Best effort: tells the peer the connection is reset.
    pub(crate) fn send_abort(&mut self) {
        self.stream.abort(&mut SendRing(&mut self.qp));
    }

    /// What is due after a completion or a credit change: zero-copy replies and
    /// READs, the bytes of our declined adverts, gathered spliced pages, staged
    /// bytes, a pending DisConn, a credit update.
    pub(crate) fn progress(&mut self) -> Result {
        self.zc_flush()?;
        self.zc_read_more()?;
        self.zc_resend()?;
        // Gathered pages go after declined bytes; if they cannot be exposed, as Data.
        self.zc_flush_run()?;
        self.zc_resend()?;
        let ring = self.credit_window();
        self.stream.progress(&mut SendRing(&mut self.qp), ring).map_err(Errno::into_error)
    }

    /// Sends a pending DisConn once a credit and a slot allow it, after any zero-copy
    /// replies owed, declined bytes and staged data.
    pub(crate) fn flush_fin(&mut self) -> Result {
        self.zc_flush()?;
        self.zc_resend()?;
        self.zc_flush_run()?;
        self.zc_resend()?;
        self.stream.flush_fin(&mut SendRing(&mut self.qp)).map_err(Errno::into_error)
    }

    /// Sends a credit update if the peer should hear about reposted buffers now.
    pub(crate) fn maybe_credit_update(&mut self) -> Result {
        let ring = self.credit_window();
        self.stream.credit_update(&mut SendRing(&mut self.qp), ring).map_err(Errno::into_error)
    }

    /// The receive buffers a credit update's threshold is measured against: what the
    /// window grants, and no more than is posted.
    fn credit_window(&self) -> usize {
        usize::from(self.window.target().min(self.window.in_use()))
    }
}

/// The sink's side of zero-copy (`sdp::zcopy_rx`): the peer's SrcAvail adverts are
/// RDMA READ into landing slots, which join the ready queue as receive buffers do.
impl Link {
    /// Both offers and the READ depths are known: zero-copy is on if both sides
    /// offered adverts. With no READ depth of ours every advert of the peer's is
    /// declined; this side advertises its own when it may expose and the peer can
    /// READ (`depths.responder`).
    pub(crate) fn zc_negotiated(&mut self, peer: ZcOffer, depths: ReadDepths) {
        let terms = zc_terms(self.zc_offer, peer, depths.responder);
        if terms.negotiated() {
            self.zc = Some(SinkFlow::new(terms.peer_adverts, depths.initiator > 0));
            let pages = self.qp.expose_max_pages();
            if let Some(limits) = self.may_expose.filter(|_| terms.src_avail && pages > 0) {
                self.zc_src = Some(ZcSource::new(terms.our_adverts, pages, limits));
            }
        }
    }

    /// Sends the unread bytes of our declined adverts as Data, from the adverts' own
    /// pages once their regions are withdrawn, in stream order, as credits allow; the
    /// rest wait for the next credit. Other data waits until they have gone
    /// (`data_held`). The program's buffer is not read again: it may be gone, or
    /// another call's by then.
    pub(crate) fn zc_resend(&mut self) -> Result {
        // Kept pages of a run that could not be advertised wait behind the adverts
        // still open (rule (a)); a declined advert's find none open.
        if !self.qp.has_kept() || self.zc_src.as_ref().is_some_and(ZcSource::open) {
            return Ok(());
        }
        let mut kept = self.qp.take_kept();
        let (mut sent, mut failed) = (0, None);
        while let Some(front) = kept.first_mut() {
            let left = front.left();
            let res = self.stream.send(&mut SendRing(&mut self.qp), Mid::Data, 0, false, left, |buf: &mut [u8]| {
                Ok::<usize, Errno>(front.copy_next(buf))
            });
            match res {
                Ok(n) if n > 0 => {
                    front.advance(n);
                    sent += n;
                }
                // The pages hold fewer bytes than kept: not reached.
                Ok(_) => failed = Some(EINVAL),
                // No credit or slot now, or no memory (`memory_short` retries): later.
                Err(e) if e == EAGAIN || e == crate::proto::errno::ENOMEM => break,
                Err(e) => failed = Some(e.into_error()),
            }
            if failed.is_some() {
                break;
            }
            if front.left() == 0 {
                // Its pages go: unpinned, their region back to the pool.
                let _ = kept.remove(0);
            }
        }
        self.qp.put_kept(kept);
        if let Some(src) = self.zc_src.as_mut() {
            src.resent_now(sent);
            self.stream.data_held = src.holds_data();
        }
        failed.map_or(Ok(()), Err)
    }

    /// Whether zero-copy READs are in flight.
    pub(crate) fn zc_reading(&self) -> bool {
        self.zc.as_ref().is_some_and(SinkFlow::reading)
    }

    /// Whether one of the peer's adverts is open here: its bytes are not all here, so
    /// closing now loses data.
    pub(crate) fn zc_open(&self) -> bool {
        self.zc.as_ref().is_some_and(SinkFlow::adverts_open)
    }

    /// `shutdown(SHUT_RD)`: the peer's open adverts are declined (their rest, coming
    /// as Data, is dropped on arrival as any data is then).
    pub(crate) fn zc_shut_read(&mut self) -> Result {
        if let Some(flow) = self.zc.as_mut() {
            flow.decline();
        }
        self.progress()
    }

    /// Whether RDMA operations are in flight: the program's, zero-copy READs, or the
    /// peer's READs of our adverts (until their regions are withdrawn).
    pub(crate) fn ops_in_flight(&self) -> bool {
        self.rdma.busy() || self.zc_reading() || self.zc_src.as_ref().is_some_and(ZcSource::busy)
    }

    /// Sends the replies owed to the peer's adverts, as credits allow; the rest wait
    /// for the next credit. They are control messages, inline: no send buffer.
    fn zc_flush(&mut self) -> Result {
        let Some(flow) = self.zc.as_mut().filter(|f| f.replies_owed()) else { return Ok(()) };
        let (stream, qp) = (&mut self.stream, &mut self.qp);
        let mut failed = None;
        flow.flush(|reply| {
            let (mid, n) = match reply {
                Reply::RdCompl(n) => (Mid::RdmaRdCompl, Some(n)),
                Reply::SendSm => (Mid::SendSm, None),
            };
            let len = if n.is_some() { COMPL_LEN } else { 0 };
            let sent = stream.send(&mut SendRing(qp), mid, 0, true, len, |buf: &mut [u8]| -> core::result::Result<usize, Errno> {
                if let (Some(n), Some(out)) = (n, buf.get_mut(..COMPL_LEN)) {
                    out.copy_from_slice(&n.to_be_bytes());
                }
                Ok(len)
            });
            match sent {
                Ok(_) => stream.credits.as_ref().map(|c| c.last_sent()),
                // No credit or slot now, or no memory (`memory_short` retries): later.
                Err(e) => {
                    if e != EAGAIN && e != crate::proto::errno::ENOMEM {
                        failed.get_or_insert(e);
                    }
                    None
                }
            }
        })
        .map_err(|_| ENOMEM)?;
        self.zc_release_idle();
        failed.map_or(Ok(()), |e| Err(e.into_error()))
    }

    /// Landing slot `idx` is free for the next READ.
    fn landing_freed(&mut self, idx: u16) {
        if let Some(k) = self.qp.landing_slots().position(|i| i == idx) {
            self.landing_busy[k] = false;
        }
    }

    /// With no advert open and no reply owed, the landing buffers not in use go: an
    /// idle connection holds none.
    fn zc_release_idle(&mut self) {
        if self.zc.as_ref().is_some_and(SinkFlow::any_open) {
            return;
        }
        for (k, slot) in self.qp.landing_slots().enumerate() {
            if !self.landing_busy[k] {
                self.qp.release_landing(slot);
            }
        }
    }

    /// Posts the READs the peer's open adverts call for into free landing slots. A
    /// slot whose buffer must be allocated is taken only with room below the memory
    /// pressure mark, or when nothing else is landing (as the window grows). Without
    /// memory for a buffer, `zc_alloc_short` has the memory timer try again (nothing
    /// else may come: the peer waits for our reply).
    fn zc_read_more(&mut self) -> Result {
        if self.stream.qp_dead {
            return Ok(());
        }
        let buffer_size = self.buffer_size();
        let Some(flow) = self.zc.as_mut() else { return Ok(()) };
        for (k, idx) in self.qp.landing_slots().enumerate() {
            if self.landing_busy[k] {
                continue;
            }
            if !flow.wants_read() {
                break;
            }
            if flow.landing() > 0 && (self.rmem_short || memory::growth(buffer_size).0 == 0) {
                break;
            }
            // Allocated before the READ is taken from the flow: a READ taken is posted.
            if self.qp.landing_buffer(idx).is_err() {
                self.zc_alloc_short = true;
                break;
            }
            let Some(read) = flow.next_read(buffer_size as u32) else { break };
            self.rx_len[usize::from(idx)] = read.len;
            self.rx_start[usize::from(idx)] = 0;
            if let Err(e) = self.qp.post_read(idx, &ZC_READ_CQE, read.len, (read.vaddr, read.rkey)) {
                // A broken QP: the connection fails.
                flow.read_lost();
                return Err(e);
            }
            self.landing_busy[k] = true;
        }
        Ok(())
    }

    /// The READ into landing slot `idx` completed: its bytes join the ready queue, in
    /// stream order (the peer sends no data while its advert is open), and what it
    /// read is owed to the peer. After `shutdown(SHUT_RD)` (`discard`) they are
    /// dropped, as arriving data is then.
    pub(crate) fn zc_landed(&mut self, idx: u16, discard: bool) -> Result {
        let len = self.rx_len[usize::from(idx)];
        let Some(flow) = self.zc.as_mut() else { return Ok(()) };
        flow.read_done(len).map_err(|_| ENOMEM)?;
        if discard {
            self.zc_consumed(idx);
            return Ok(());
        }
        // Made visible to the CPU.
        let _ = self.qp.received(idx, len as usize);
        self.stream.rx.file(idx, len as usize);
        self.stream.urgent.filed(len as usize, None);
        Ok(())
    }

    /// A READ into landing slot `idx` failed or was flushed: the slot is free (the
    /// connection is failing).
    pub(crate) fn zc_read_failed(&mut self, idx: u16) {
        self.landing_freed(idx);
        if let Some(flow) = self.zc.as_mut() {
            flow.read_lost();
        }
        self.qp.release_landing(idx);
    }

    /// A reader that may take the peer's advert straight into its pages entered (or
    /// came back to) its call: landing waits until it leaves.
    pub(crate) fn zc_reader_in(&mut self) {
        if let Some(flow) = self.zc.as_mut() {
            flow.reader_in();
        }
    }

    /// That reader left: landing goes on.
    pub(crate) fn zc_reader_out(&mut self) -> Result {
        if let Some(flow) = self.zc.as_mut() {
            flow.reader_out();
        }
        self.progress()
    }

    /// How many bytes of the peer's oldest advert a reader inside may take straight
    /// into its pages now: nothing is unread before them, nothing lands, and no other
    /// READ into a reader's pages is under way.
    pub(crate) fn zc_user_claimable(&self) -> Option<u32> {
        if self.stream.qp_dead || self.zc_user.is_some() {
            return None;
        }
        self.zc.as_ref()?.user_claimable(self.stream.rx.bytes())
    }

    /// Posts the READ of the peer's oldest advert's next bytes straight into `buf`'s
    /// `len` bytes (pinned for the device to write; at most what
    /// [`Link::zc_user_claimable`] allows). `Ok(false)`: nothing went and the flow is
    /// as it was (the pages make no one region, or no memory): the bytes land as
    /// usual. `Err`: the queue pair is broken.
    pub(crate) fn zc_read_to_user(&mut self, buf: PinnedBuf, len: u32) -> Result<bool> {
        if self.zc_user_claimable().is_none_or(|n| n < len) {
            return Ok(false);
        }
        let Some(flow) = self.zc.as_mut() else { return Ok(false) };
        let Some(read) = flow.next_user_read(self.stream.rx.bytes(), len) else { return Ok(false) };
        // The claim covers `len`: the READ is `buf`'s length.
        match self.qp.post_user_read((&ZC_USER_READ_CQE, &ZC_REG_CQE), buf, (read.vaddr, read.rkey)) {
            Ok(()) => {
                self.zc_user = Some(UserRead::InFlight(read.len));
                Ok(true)
            }
            Err((_, false)) => {
                flow.user_read_unposted(read.len);
                Ok(false)
            }
            Err((e, true)) => {
                flow.user_read_lost();
                Err(e)
            }
        }
    }

    /// The READ into a reader's pages completed (`ok`) or failed: what it read is owed
    /// to the peer, and its outcome waits for the reader.
    pub(crate) fn zc_user_read_completed(&mut self, ok: bool) -> Result {
        let Some(UserRead::InFlight(n)) = self.zc_user else { return Ok(()) };
        let Some(flow) = self.zc.as_mut() else { return Ok(()) };
        if !ok {
            flow.user_read_lost();
            self.zc_user = Some(UserRead::Lost);
            return Ok(());
        }
        self.zc_user = Some(UserRead::Done(n));
        // In the stream now, as landed bytes are once filed: an urgent mark that comes
        // after counts from here.
        self.stream.urgent.filed(n as usize, None);
        self.stream.urgent.consumed(n as usize);
        flow.user_read_done(n).map_err(|_| ENOMEM)?;
        self.progress()
    }

    /// Whether a READ into a reader's pages is in flight.
    pub(crate) fn zc_user_in_flight(&self) -> bool {
        matches!(self.zc_user, Some(UserRead::InFlight(_)))
    }

    /// Whether a reader has not taken its READ's outcome yet: bytes in its pages it
    /// has not returned are unread.
    pub(crate) fn zc_user_pending(&self) -> bool {
        self.zc_user.is_some()
    }

    /// The READ into a reader's pages as it goes; once it is over, the reader takes
    /// its outcome with this (and another may be posted).
    pub(crate) fn zc_user_outcome(&mut self) -> Option<UserRead> {
        match self.zc_user {
            Some(UserRead::InFlight(_)) => self.zc_user,
            _ => self.zc_user.take(),
        }
    }

    /// Landing slot `idx`'s bytes were all read: the slot is free. Buffers are kept
    /// for the next READs while an advert is open, and go once none is.
    fn zc_consumed(&mut self, idx: u16) {
        self.landing_freed(idx);
        let Some(flow) = self.zc.as_mut() else { return };
        flow.consumed();
        self.zc_release_idle();
    }
}

/// Payload bytes of buffer `idx`: its bytes `rx_start[idx]..rx_len[idx]`.
fn payload_in<'a>(qp: &'a QueuePair, rx_len: &[u32], rx_start: &[u8], idx: u16) -> &'a [u8] {
    let i = usize::from(idx);
    // `received()` synced these bytes when the message (or READ) arrived.
    qp.contents(idx, rx_len[i] as usize).get(usize::from(rx_start[i])..).unwrap_or(&[])
}

/// The queue pair's send ring, as the stream posts on it.
struct SendRing<'a>(&'a mut QueuePair);

impl SendSlots for SendRing<'_> {
    fn free(&self) -> usize {
        self.0.send_slots_free()
    }

    fn buffer_size(&self) -> usize {
        self.0.buffer_size()
    }

    fn next(&mut self, len: usize) -> core::result::Result<&mut [u8], Errno> {
        Ok(self.0.next_send_buf(len, memory::may_take_send_buffer)?)
    }

    fn post(&mut self, len: usize) -> core::result::Result<(), Errno> {
        Ok(self.0.post_send(&SEND_CQE, len)?)
    }
}
