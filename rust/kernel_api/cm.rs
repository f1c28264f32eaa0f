// SPDX-License-Identifier: GPL-2.0

//! rdma_cm identifiers: address and route resolution, listen/connect/accept with
//! private data, disconnect. The module's connection management is written against
//! [`CmHandler`]; this file is its only contact with rdma_cm.

use core::ptr::NonNull;

use kernel::{error::to_result, prelude::*, sync::{Arc, ArcBorrow}};

use crate::{
    kernel_api::{bindings, net::Net, qp::QpRef},
    proto::sockaddr::{PortSpace, SockAddr, SOCKADDR_IN6_LEN},
};

/// How a connection's QP behaves, as the protocol chooses it: passed to the steps
/// that connect it ([`CmIdRef::connect_locked`], [`CmIdRef::establish`],
/// [`CmIdRef::accept`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnPolicy {
    /// Transport retries (ours, and asked of the peer); 7 means "for ever".
    pub(crate) retry_count: u8,
    /// Receiver-not-ready retries (ours, asked of the peer, and the cap on the peer's
    /// wish); 7 means "for ever".
    pub(crate) rnr_retry_count: u8,
    /// RDMA READs in flight at once, each way, at most (the device may allow fewer).
    pub(crate) rd_atomic: u8,
}

impl ConnPolicy {
    fn raw(&self) -> bindings::infinisock_conn_policy {
        bindings::infinisock_conn_policy {
            retry_count: self.retry_count,
            rnr_retry_count: self.rnr_retry_count,
            rd_atomic: self.rd_atomic,
        }
    }
}

/// The RDMA READs a connected QP may have in flight: the lesser of what each side
/// offered (see [`CmIdRef::establish`] and [`CmIdRef::accept`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadDepths {
    /// Our READs toward the peer (0: the peer serves none).
    pub(crate) initiator: u8,
    /// The peer's READs of our memory.
    pub(crate) responder: u8,
}

impl From<bindings::infinisock_rd_depths> for ReadDepths {
    fn from(d: bindings::infinisock_rd_depths) -> Self {
        Self { initiator: d.initiator, responder: d.responder }
    }
}

/// An event rdma_cm reports on an id, with what the module needs of it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CmEvent<'a> {
    /// `rdma_resolve_addr` finished: the id is bound to a device.
    AddrResolved,
    /// `rdma_resolve_route` finished.
    RouteResolved,
    /// A connection request arrived on a listening id; the event's id is the new one,
    /// destroyed (the request rejected) unless the handler adopts it with
    /// [`ConnRequest::adopt`].
    ConnectRequest { private_data: &'a [u8], request: &'a ConnRequest },
    /// Active side: the peer's REP arrived, with its private data. The QP is ours to
    /// ready before the RTU goes out ([`CmIdRef::establish`]).
    ConnectResponse { private_data: &'a [u8] },
    /// Passive side: the peer's RTU arrived, the connection is up.
    Established,
    /// The peer rejected the request (rdma_cm status: the reject reason).
    Rejected { status: i32 },
    /// Resolution, connection or the path failed; `errno` is the kernel's (negative) status.
    Failed { errno: i32 },
    /// The connection is gone: the peer disconnected, or it broke.
    Disconnected,
    /// The device under the id is being removed.
    DeviceRemoval,
    /// Anything else (address change, timewait exit, ...): nothing to do.
    Other,
}

/// Receives the events of ids whose context is a `Self`.
pub(crate) trait CmHandler: Send + Sync + 'static {
    /// Handles `event` on `id`. Runs in process context with the id's handler mutex
    /// held: it may sleep, but must not destroy `id` itself. `this` is the handler,
    /// borrowed from the reference the id holds.
    fn event(this: ArcBorrow<'_, Self>, id: &CmIdRef, event: CmEvent<'_>);
}

/// An rdma_cm id seen from inside an event handler (not owned).
///
/// # Invariants
///
/// Wraps a live `struct rdma_cm_id`.
#[repr(transparent)]
pub(crate) struct CmIdRef(kernel::types::Opaque<bindings::rdma_cm_id>);

/// An rdma_cm id owned by the module, destroyed on drop, and the handler of its events.
///
/// # Invariants
///
/// `raw` is a live id created by or handed to this module, destroyed only in `drop`,
/// before `_handler` is released; its context is `Arc::as_ptr(&_handler)`. It is never
/// dropped from inside its own event handler (that would deadlock on the handler
/// mutex).
pub(crate) struct CmId<H: CmHandler> {
    raw: NonNull<bindings::rdma_cm_id>,
    /// Only held: released after the id is destroyed.
    _handler: Arc<H>,
}

// SAFETY: rdma_cm ids may be used from any thread; rdma_cm serialises internally. The
// handler is `Send + Sync` (`CmHandler`).
unsafe impl<H: CmHandler> Send for CmId<H> {}
// SAFETY: See above.
unsafe impl<H: CmHandler> Sync for CmId<H> {}

impl<H: CmHandler> core::ops::Deref for CmId<H> {
    type Target = CmIdRef;

    fn deref(&self) -> &CmIdRef {
        // SAFETY: The id is live (type invariant); `CmIdRef` is transparent.
        unsafe { &*self.raw.as_ptr().cast() }
    }
}

impl<H: CmHandler> Drop for CmId<H> {
    fn drop(&mut self) {
        // SAFETY: Live id owned by us, destroyed once, not from its own handler. Once
        // `rdma_destroy_id` returns no handler runs, so `handler` may go after it.
        unsafe { bindings::rdma_destroy_id(self.raw.as_ptr()) };
    }
}

/// The new id of a connection request, inside the listener's handler: adopted by
/// the handler ([`ConnRequest::adopt`]), or destroyed by rdma_cm when it returns.
#[derive(Debug)]
pub(crate) struct ConnRequest {
    id: NonNull<bindings::rdma_cm_id>,
    adopted: core::cell::Cell<bool>,
}

impl core::ops::Deref for ConnRequest {
    type Target = CmIdRef;

    fn deref(&self) -> &CmIdRef {
        // SAFETY: The request's id is live while its event is handled (the only time a
        // `ConnRequest` exists); `CmIdRef` is transparent.
        unsafe { &*self.id.as_ptr().cast() }
    }
}

impl ConnRequest {
    /// Takes ownership of the request's id and points its events at `handler`.
    /// `EBUSY` if it was adopted already.
    pub(crate) fn adopt<H: CmHandler>(&self, handler: Arc<H>) -> Result<CmId<H>> {
        if self.adopted.replace(true) {
            return Err(EBUSY);
        }
        // SAFETY: The id is live; we are inside its handler, so no event races this.
        unsafe { bindings::infinisock_cm_set_context(self.id.as_ptr(), Arc::as_ptr(&handler) as *mut _) };
        // Ownership passes to us: the trampoline tells rdma_cm to keep the id.
        Ok(CmId { raw: self.id, _handler: handler })
    }
}

/// A C call's return: 0, or a negative errno.
fn check(ret: i32) -> Result {
    to_result(ret)
}

impl<H: CmHandler> CmId<H> {
    /// Creates an RC id in `net`'s port space `ps` whose events go to `handler`, which
    /// the id keeps alive.
    pub(crate) fn new(net: &Net, ps: PortSpace, handler: Arc<H>) -> Result<Self> {
        let mut err = 0;
        // SAFETY: `net` is live; the trampoline matches `H`, and the id keeps the
        // handler alive at the same address until it is destroyed (type invariant).
        let id = unsafe {
            bindings::infinisock_cm_create_id(
                net.as_raw(),
                Some(trampoline::<H>),
                Arc::as_ptr(&handler) as *mut _,
                ps.rdma_ps(),
                &mut err,
            )
        };
        let raw = NonNull::new(id).ok_or_else(|| Error::from_errno(if err < 0 { err } else { EINVAL.to_errno() }))?;
        Ok(Self { raw, _handler: handler })
    }
}

impl CmIdRef {
    pub(super) fn as_raw(&self) -> *mut bindings::rdma_cm_id {
        self.0.get()
    }

    /// Lets the id share its port with ids in TIME_WAIT-like states (`SO_REUSEADDR`).
    pub(crate) fn set_reuseaddr(&self) -> Result {
        // SAFETY: Live id, not yet bound.
        check(unsafe { bindings::rdma_set_reuseaddr(self.as_raw(), 1) })
    }

    /// Whether an IPv6 wildcard address takes IPv6 peers only (`IPV6_V6ONLY`), so that
    /// it can share its port with an IPv4 one; before `bind`.
    pub(crate) fn set_afonly(&self, only: bool) -> Result {
        // SAFETY: Live id, not yet bound.
        check(unsafe { bindings::rdma_set_afonly(self.as_raw(), i32::from(only)) })
    }

    /// The type of service of the connection's path (`tos`, an IP ToS byte): rdma_cm
    /// makes it the RoCE traffic class or the InfiniBand service level. Before
    /// [`Self::resolve_route`].
    pub(crate) fn set_service_type(&self, tos: u8) {
        // SAFETY: Live id; the route is not resolved yet (the caller's order).
        unsafe { bindings::rdma_set_service_type(self.as_raw(), i32::from(tos)) }
    }

    /// Binds to a local address (port 0: an ephemeral port).
    pub(crate) fn bind(&self, addr: &SockAddr) -> Result {
        let mut raw = [0u8; SOCKADDR_IN6_LEN];
        addr.encode(&mut raw);
        // SAFETY: Live id; `raw` is a sockaddr of the length its family implies.
        check(unsafe { bindings::rdma_bind_addr(self.as_raw(), raw.as_mut_ptr().cast()) })
    }

    /// Starts resolving `dst` (and `src`, if given) to a device and path.
    pub(crate) fn resolve_addr(&self, src: Option<&SockAddr>, dst: &SockAddr, timeout_ms: u32) -> Result {
        let (mut s, mut d) = ([0u8; SOCKADDR_IN6_LEN], [0u8; SOCKADDR_IN6_LEN]);
        let src_ptr = match src {
            Some(a) => {
                a.encode(&mut s);
                s.as_mut_ptr().cast()
            }
            None => core::ptr::null_mut(),
        };
        dst.encode(&mut d);
        // SAFETY: Live id; the addresses are valid sockaddrs, copied by rdma_cm.
        check(unsafe {
            bindings::rdma_resolve_addr(self.as_raw(), src_ptr, d.as_ptr().cast(), timeout_ms as usize)
        })
    }

    /// Starts resolving the route after [`CmEvent::AddrResolved`].
    pub(crate) fn resolve_route(&self, timeout_ms: u32) -> Result {
        // SAFETY: Live id.
        check(unsafe { bindings::rdma_resolve_route(self.as_raw(), timeout_ms as usize) })
    }

    /// Listens for connection requests.
    pub(crate) fn listen(&self, backlog: i32) -> Result {
        // SAFETY: Live id.
        check(unsafe { bindings::rdma_listen(self.as_raw(), backlog) })
    }

    /// Sends the connection request for `qp` (of a [`crate::kernel_api::qp::QueuePair`] made for this id); only from
    /// inside this id's handler (after [`CmEvent::RouteResolved`]).
    pub(crate) fn connect_locked(&self, qp: &QpRef, policy: &ConnPolicy, private_data: &[u8]) -> Result {
        let len = u8::try_from(private_data.len())?;
        let policy = policy.raw();
        // SAFETY: Live id and QP, handler mutex held by our caller; rdma_cm copies the data.
        check(unsafe {
            bindings::infinisock_cm_connect_locked(self.as_raw(), qp.as_raw(), &policy, private_data.as_ptr().cast(), len)
        })
    }

    /// Active side, on [`CmEvent::ConnectResponse`]: readies `qp` with the READ depths
    /// the peer's REP offers, capped at the policy's, and sends the RTU (on failure, a
    /// REJ); only from inside this id's handler. Returns the depths applied.
    pub(crate) fn establish(&self, qp: &QpRef, policy: &ConnPolicy) -> Result<ReadDepths> {
        let policy = policy.raw();
        let mut depths = bindings::infinisock_rd_depths::default();
        // SAFETY: Live id and QP, handler mutex held by our caller; `depths` is writable.
        check(unsafe { bindings::infinisock_cm_establish(self.as_raw(), qp.as_raw(), &policy, &mut depths) })?;
        Ok(depths.into())
    }

    /// Refuses the peer's REQ or REP (REJ, consumer-defined); only from inside this
    /// id's handler. Failure means there was nothing to refuse any more.
    pub(crate) fn reject(&self) {
        // SAFETY: Live id, handler mutex held by our caller.
        let _ = unsafe { bindings::infinisock_cm_reject(self.as_raw()) };
    }

    /// Accepts a connection request on `qp`, with the READ depths its REQ offers capped
    /// at the policy's (the REP offers the same); only from inside this id's handler.
    /// Returns the depths applied.
    pub(crate) fn accept(&self, qp: &QpRef, policy: &ConnPolicy, private_data: &[u8]) -> Result<ReadDepths> {
        let len = u8::try_from(private_data.len())?;
        let policy = policy.raw();
        let mut depths = bindings::infinisock_rd_depths::default();
        // SAFETY: Live id and QP, handler mutex held by our caller; rdma_cm copies the
        // data; `depths` is writable.
        check(unsafe {
            bindings::infinisock_cm_accept(
                self.as_raw(),
                qp.as_raw(),
                &policy,
                private_data.as_ptr().cast(),
                len,
                &mut depths,
            )
        })?;
        Ok(depths.into())
    }

    /// Starts a disconnect: the QP (if any) moves to the error state, the peer is told.
    /// `Err`: the device refused the QP's move (the disconnect is started all the same).
    pub(crate) fn disconnect(&self, qp: Option<&QpRef>) -> Result {
        let qp = qp.map_or(core::ptr::null_mut(), QpRef::as_raw);
        // SAFETY: Live id; `qp` is live or null.
        to_result(unsafe { bindings::infinisock_cm_disconnect(self.as_raw(), qp) })
    }

    /// Tells the connection manager that the peer is known to be established (a
    /// message of its arrived) before its RTU did: the `ESTABLISHED` event follows as
    /// if the RTU had come. Only the first call while the REP is outstanding counts;
    /// others are refused by ib_cm, harmlessly, and so ignored.
    pub(crate) fn notify_established(&self) {
        // SAFETY: Live id; ib_cm takes its own locks and queues the event.
        let _ = unsafe { bindings::infinisock_cm_notify_established(self.as_raw()) };
    }

    /// Creates the connection's RC QP on the two CQs (and on the shared receive queue
    /// `srq` unless it is null), in INIT, with `send_wr` and `recv_wr` entries,
    /// `send_sge` SGEs and `max_inline` inline bytes per send request, and `qp_context`
    /// (null, or the mailbox a shared CQ delivers its completions to), for this id but
    /// not attached to it (the connection steps take it).
    /// Returns it and the most bytes a send may carry inline (the device may give more
    /// than asked).
    ///
    /// # Safety
    ///
    /// `pd`, both CQs, `srq` (null or in `pd`) and `qp_context` (null or a mailbox)
    /// are live and outlive the QP (its owner, [`crate::kernel_api::qp::QueuePair`],
    /// destroys it before any of them).
    pub(super) unsafe fn create_qp(
        &self,
        pd: *mut bindings::ib_pd,
        (send_cq, recv_cq): (*mut bindings::ib_cq, *mut bindings::ib_cq),
        srq: *mut bindings::ib_srq,
        (send_wr, recv_wr): (u32, u32),
        send_sge: u32,
        qp_context: *mut core::ffi::c_void,
        max_inline: u32,
    ) -> Result<(NonNull<bindings::ib_qp>, u32)> {
        let (mut max_inline, mut err) = (max_inline, 0);
        // SAFETY: Live id; the caller guarantees `pd` and the CQs.
        let qp = unsafe {
            bindings::infinisock_cm_create_qp(
                self.as_raw(),
                pd,
                send_cq,
                recv_cq,
                srq,
                send_wr,
                recv_wr,
                send_sge,
                qp_context,
                &mut max_inline,
                &mut err,
            )
        };
        match NonNull::new(qp) {
            Some(qp) => Ok((qp, max_inline)),
            None => Err(Error::from_errno(if err < 0 { err } else { EINVAL.to_errno() })),
        }
    }

    /// The verbs objects behind the id and its connection's `qp`, as far as they exist.
    pub(crate) fn verbs_info(&self, qp: Option<&QpRef>) -> bindings::infinisock_verbs_info {
        // SAFETY: All-zero is a valid `infinisock_verbs_info` (integers and arrays).
        let mut info: bindings::infinisock_verbs_info = unsafe { core::mem::zeroed() };
        let qp = qp.map_or(core::ptr::null_mut(), QpRef::as_raw);
        // SAFETY: Live id; `qp` is live or null; `info` is writable. Called under the
        // owner's lock, so the QP is not destroyed meanwhile.
        unsafe { bindings::infinisock_cm_verbs_info(self.as_raw(), qp, &mut info) };
        info
    }

    /// The local address (`route.addr.src_addr`).
    pub(crate) fn local_addr(&self) -> Option<SockAddr> {
        // SAFETY: Live id; the address storage is a `sockaddr_storage` inside it.
        let p = unsafe { bindings::infinisock_cm_src_addr(self.as_raw()) };
        // SAFETY: `p` points at 128 bytes of `sockaddr_storage`.
        SockAddr::decode(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), SOCKADDR_IN6_LEN) })
    }

    /// The peer's address (`route.addr.dst_addr`).
    pub(crate) fn peer_addr(&self) -> Option<SockAddr> {
        // SAFETY: As in `local_addr`.
        let p = unsafe { bindings::infinisock_cm_dst_addr(self.as_raw()) };
        // SAFETY: As in `local_addr`.
        SockAddr::decode(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), SOCKADDR_IN6_LEN) })
    }
}

unsafe extern "C" fn trampoline<H: CmHandler>(
    id: *mut bindings::rdma_cm_id,
    event: *mut bindings::rdma_cm_event,
) -> kernel::ffi::c_int {
    let (id_ref, ctx) =
        // SAFETY: rdma_cm passes a live id whose context is `Arc::as_ptr` of the `H`
        // its `CmId` holds for as long as it exists (type invariant); a request's new
        // id inherits its listener's context.
        unsafe { (&*id.cast::<CmIdRef>(), ArcBorrow::<H>::from_raw(bindings::infinisock_cm_context(id).cast::<H>())) };
    // SAFETY: The event is valid for the duration of the call.
    let (kind, status) = unsafe { (bindings::infinisock_cm_event_type(event), bindings::infinisock_cm_event_status(event)) };
    let private_data = || -> &[u8] {
        let mut len = 0u8;
        // SAFETY: The event is valid; the private data, if any, lives as long.
        let p = unsafe { bindings::infinisock_cm_event_private_data(event, &mut len) };
        if p.is_null() {
            &[]
        } else {
            // SAFETY: rdma_cm reports `len` bytes at `p`, valid during the call.
            unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len.into()) }
        }
    };
    let ev = match kind as bindings::rdma_cm_event_type {
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_ADDR_RESOLVED => CmEvent::AddrResolved,
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_ROUTE_RESOLVED => CmEvent::RouteResolved,
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_REQUEST => {
            // SAFETY: `id` is live and non-null (see above).
            let request = ConnRequest { id: unsafe { NonNull::new_unchecked(id) }, adopted: core::cell::Cell::new(false) };
            H::event(ctx, id_ref, CmEvent::ConnectRequest { private_data: private_data(), request: &request });
            // A request nobody adopted is rejected: rdma_cm destroys its id.
            return if request.adopted.get() { 0 } else { 1 };
        }
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_RESPONSE => {
            CmEvent::ConnectResponse { private_data: private_data() }
        }
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_ESTABLISHED => CmEvent::Established,
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_REJECTED => CmEvent::Rejected { status },
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_ADDR_ERROR
        | bindings::rdma_cm_event_type_RDMA_CM_EVENT_ROUTE_ERROR
        | bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_ERROR
        | bindings::rdma_cm_event_type_RDMA_CM_EVENT_UNREACHABLE => CmEvent::Failed { errno: if status < 0 { status } else { -110 } },
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_DISCONNECTED => CmEvent::Disconnected,
        bindings::rdma_cm_event_type_RDMA_CM_EVENT_DEVICE_REMOVAL => CmEvent::DeviceRemoval,
        _ => CmEvent::Other,
    };
    H::event(ctx, id_ref, ev);
    0
}
