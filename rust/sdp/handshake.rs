// SPDX-License-Identifier: GPL-2.0

//! Connection management: `bind`, `listen`, `connect`, `accept` on rdma_cm ids in the
//! RDMA_PS_TCP port space (streams) or RDMA_PS_IB (AF_IB message sockets), and the
//! Hello/HelloAck exchange in the CM private data.

use crate::kernel_api::log::{pr_info_ratelimited, pr_warn_ratelimited};
use kernel::{prelude::*, sync::{Arc, ArcBorrow}};

use crate::{
    netns::tunables as netns,
    kernel_api::{
        cm::{CmEvent, CmHandler, CmId, CmIdRef, ConnPolicy, ConnRequest},
        sock::Socket,
        trace,
    },
    link::{link::Link, memory::Admitted},
    netns::stats,
    proto::{
        conn_state::{connect_step, rejection_errno, ConnectStep},
        abi::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_SENT},
        handshake::{
            self, accept_hello_ack, bind_refusal, hello, hello_ack, hello_zc, message_rings, peer_terms, stream_rings,
            BindRefusal, Refusal, RingConfig, RingTunables, ZcOffer,
        },
        listen::Established,
        memory::RingChoice,
        message,
        ring::MAX_RING,
        sockaddr::{SockAddr, AF_INET, AF_INET6},
        qp_shape::{QpProfile, RD_ATOMIC},
        stream_options::service_type,
        stats::Counter,
        tunables::TunableId,
        wire::Hello,
        zc_land::{PEER_ADVERTS, ZC_LANDING},
        zc_src::SrcLimits,
    },
    sdp::endpoint::{Endpoint, EpRef, Inner, Phase},
};

/// The QP policy of every SDP and AF_IB connection.
///
/// Credits guarantee a posted receive for every send, so receiver-not-ready never
/// happens with a peer that keeps the protocol: 6 retries (at the peer's RNR timer, at
/// most 655 ms each) are plenty, and a peer that grants credits but posts no receives
/// fails our sends (`ETIMEDOUT`) instead of holding them, and every page pinned behind
/// them, for ever. The transport count is 6, not 7, for the same reason: a peer that
/// stops acknowledging must fail our sends, as TCP's retransmission timeout does
/// (rdma_rxe treats 7 as "retry for ever" too). RDMA READs in flight each way are the
/// same for every profile (`proto::qp_shape::RD_ATOMIC`).
const CONN_POLICY: ConnPolicy = ConnPolicy { retry_count: 6, rnr_retry_count: 6, rd_atomic: RD_ATOMIC };

/// How long address and route resolution may take before `connect` fails.
const RESOLVE_TIMEOUT_MS: u32 = 2000;

/// The ring sizes a new connection of `ep` uses (`proto::handshake`), from the
/// namespace's tunables and the socket's `SO_RCVBUF`/`SO_SNDBUF`. `ep` is the
/// connecting socket or the listener.
fn ring_config(ep: EpRef<'_>, inner: &Inner) -> RingConfig {
    let net = ep.sk.net();
    let tunables = RingTunables {
        recv_buffers: netns::tunable(net, TunableId::SdpRecvBuffers) as u16,
        send_buffers: netns::tunable(net, TunableId::SdpSendBuffers) as u16,
        buffer_size: netns::tunable(net, TunableId::SdpBufferSize) as u32,
        recv_floor: netns::tunable(net, TunableId::SdpRecvFloor) as u16,
    };
    let (rcvbuf, sndbuf) = ep.sk.user_bufs();
    if ep.is_seqpacket {
        message_rings(tunables, rcvbuf, sndbuf, max_message(ep, inner))
    } else {
        stream_rings(tunables, rcvbuf, sndbuf)
    }
}

/// Whether a new connection of `ep` (the connecting socket or the listener) receives
/// from its device's shared receive queue: an SDP stream under `AF_INET`/`AF_INET6`
/// in a namespace with `net.infinisock.sdp_srq` set. AF_IB connections keep their
/// own, in a PD of their own: their programs register regions for the peer's RDMA,
/// which a PD shared with other connections would expose.
fn shared_recv(ep: EpRef<'_>) -> bool {
    ip_stream(ep) && netns::tunable(ep.sk.net(), TunableId::SdpSrq) == 1 && !exposes(ep)
}

/// Whether a new connection of `ep` advertises its own bytes for the peer to READ
/// (SrcAvail) as well as READing the peer's: with `net.infinisock.sdp_zcopy` 2.
/// Such a connection keeps a PD of its own, never the shared receive queue's: a
/// region is found by its key within its PD, which would otherwise expose it to
/// every connection on the device.
fn exposes(ep: EpRef<'_>) -> bool {
    ip_stream(ep) && netns::tunable(ep.sk.net(), TunableId::SdpZcopy) == 2
}

/// The clocks of a new connection's adverts, if it [`exposes`]: the namespace's
/// `sdp_zcopy_timeout_ms` and `sdp_zcopy_cancel_ms` now.
fn src_limits(ep: EpRef<'_>) -> Option<SrcLimits> {
    let ms = |id| u64::try_from(netns::tunable(ep.sk.net(), id)).unwrap_or(0);
    exposes(ep).then(|| SrcLimits {
        advert_ms: ms(TunableId::SdpZcopyTimeoutMs),
        cancel_ms: ms(TunableId::SdpZcopyCancelMs),
    })
}

/// Whether `ep` makes SDP streams under `AF_INET`/`AF_INET6` (not AF_IB, not messages).
fn ip_stream(ep: EpRef<'_>) -> bool {
    ep.qp_profile() == QpProfile::Stream && !ep.is_seqpacket
}

/// What a new connection of `ep` (the connecting socket or the listener) offers of
/// zero-copy: to keep the peer's adverts open and READ them, for an SDP stream under
/// `AF_INET`/`AF_INET6` in a namespace with `net.infinisock.sdp_zcopy` set, when its
/// ring leaves room for the landing slots.
fn zc_offer(ep: EpRef<'_>, cfg: RingConfig) -> ZcOffer {
    let on = ip_stream(ep)
        && netns::tunable(ep.sk.net(), TunableId::SdpZcopy) >= 1
        && usize::from(cfg.recv_buffers) + ZC_LANDING <= MAX_RING;
    // SinkAvail is not accepted yet.
    if on { ZcOffer { max_adverts: PEER_ADVERTS, flags: 0 } } else { ZcOffer::NONE }
}

/// The rings a new connection gets within the module's buffer memory
/// (`net.infinisock.sdp_mem`): `cfg`, the smallest rings under pressure, or none
/// (`ENOBUFS`) beyond the limit.
fn admit_rings(cfg: RingConfig) -> Result<(RingConfig, Admitted)> {
    Admitted::take(&RingChoice::new(cfg))
}

/// The largest message a new connection of `ep` offers: its `INFINISOCK_MAX_MSG_SIZE`,
/// or what the namespace's stream buffers hold.
pub(crate) fn max_message(ep: EpRef<'_>, inner: &Inner) -> u32 {
    inner.max_msg.unwrap_or_else(|| {
        message::default_max_message(netns::tunable(ep.sk.net(), TunableId::SdpBufferSize) as u32)
    })
}

/// The endpoint's rdma_cm id, created on first use.
fn ensure_id<'a>(ep: EpRef<'_>, inner: &'a mut Inner) -> Result<&'a CmId<Endpoint>> {
    if inner.id.is_none() {
        // The id holds the endpoint until the teardown destroys it.
        let id = CmId::new(ep.sk.net(), ep.port_space(), ep.clone())?;
        if ep.sk.reuse() {
            id.set_reuseaddr()?;
        }
        // The socket's IPV6_V6ONLY (by default the namespace's net.ipv6.bindv6only, as
        // rdma_cm's own default): with it, [::] and 0.0.0.0 may share a port.
        if ep.sk.family() == AF_INET6 {
            id.set_afonly(ep.sk.ipv6only())?;
        }
        inner.id = Some(id);
    }
    inner.id.as_ref().ok_or(EINVAL)
}

/// rdma_cm's errors for addresses with no RDMA device behind them, as TCP would say
/// (`proto::handshake::route_errno`).
fn route_errno(e: Error) -> Error {
    handshake::route_errno(e.into()).into_error()
}

/// The handler of the short-lived ids `bind` probes addresses with: a device removal
/// while one exists concerns no socket.
struct Probe;

impl CmHandler for Probe {
    fn event(_this: ArcBorrow<'_, Self>, _id: &CmIdRef, _event: CmEvent<'_>) {}
}

/// `bind`.
pub(crate) fn bind(ep: EpRef<'_>, addr: SockAddr) -> Result {
    let mut inner = ep.lock();
    if inner.phase != Phase::Open || inner.bound.is_some() {
        return Err(EINVAL);
    }
    // Loopback is reachable only from this host, and no RDMA device has it: rdma_cm
    // would bind it to some device and so open it to the fabric.
    if addr.is_loopback() {
        return Err(EADDRNOTAVAIL);
    }
    let id = ensure_id(ep, &mut inner)?;
    if let Err(e) = id.bind(&addr) {
        return match bind_refusal(e.into(), addr.port()) {
            BindRefusal::NoDevice => {
                pr_info_ratelimited!("SDP: bind: no RDMA device for the requested address\n");
                Err(EADDRNOTAVAIL)
            }
            BindRefusal::PortOrAddress => {
                // Destroying an id waits for its handlers, which take our lock.
                drop(inner);
                let probe = CmId::new(ep.sk.net(), ep.port_space(), Arc::new(Probe, GFP_KERNEL)?)?;
                Err(if probe.bind(&addr.with_port(0)).is_ok() { EADDRINUSE } else { e })
            }
            BindRefusal::Other(_) => Err(e),
        };
    }
    inner.bound = id.local_addr().or(Some(addr));
    ep.publish(&inner);
    Ok(())
}

/// `listen`: binds to the wildcard address and an ephemeral port if not bound.
pub(crate) fn listen(ep: EpRef<'_>, backlog: i32) -> Result {
    let mut inner = ep.lock();
    match inner.phase {
        Phase::Listening => {
            inner.listen.set_backlog(backlog);
            return Ok(());
        }
        Phase::Open => {}
        _ => return Err(EINVAL),
    }
    if inner.bound.is_none() {
        let any = SockAddr::unspecified(ep.sk.family());
        let id = ensure_id(ep, &mut inner)?;
        id.bind(&any)?;
        inner.bound = id.local_addr();
    }
    let id = inner.id.as_ref().ok_or(EINVAL)?;
    id.listen(backlog.max(0))?;
    inner.listen.set_backlog(backlog);
    ep.set_phase(&mut inner, Phase::Listening);
    ep.sk.set_tcp_state(TCP_LISTEN);
    Ok(())
}

/// `connect`: starts address resolution; the rest happens in CM events. Returns
/// `EINPROGRESS` for a non-blocking socket, else waits for the outcome.
pub(crate) fn connect(ep: EpRef<'_>, sock: &Socket, dst: SockAddr, nonblock: bool) -> Result {
    let mut guard = ep.lock();
    // An AF_IB socket bound to the wildcard GID has its port for both IP versions, but
    // its rdma_cm id is IPv6's; a connection to an IPv4 GID needs an IPv4 id on the
    // same port.
    let other_version = |b: &SockAddr| b.is_any() && b.ip_version() != dst.ip_version();
    if let Some(bound) = guard.bound.filter(|b| guard.phase == Phase::Open && other_version(b)) {
        let old = guard.id.take();
        // Destroying an id waits for its handlers, which take our lock.
        drop(guard);
        drop(old);
        guard = ep.lock();
        let family = if dst.ip_version() == 4 { AF_INET } else { AF_INET6 };
        let id = ensure_id(ep, &mut guard)?;
        id.bind(&SockAddr::unspecified(family).with_port(bound.port())).map_err(|_| EADDRINUSE)?;
        guard.bound = id.local_addr();
    }
    let inner = &mut *guard;
    // rdma_cm resolves a loopback or wildcard destination from a bound source and
    // sends the request there; rxe's GSI QP fails that send and stays in the error
    // state, ending connection management on the device for every program. No SDP
    // listener is on loopback, and TCP refuses multicast and broadcast.
    match connect_step(inner.phase, nonblock, dst.is_unicast_peer()) {
        ConnectStep::Fail(e) => return Err(e.into_error()),
        ConnectStep::Start => {
            // A previous attempt that failed leaves its error to be reported once.
            let src = inner.bound;
            let id = ensure_id(ep, inner)?;
            id.resolve_addr(src.as_ref(), &dst, RESOLVE_TIMEOUT_MS).map_err(route_errno)?;
            inner.peer = Some(dst);
            ep.set_phase(inner, Phase::Connecting);
            ep.sk.set_tcp_state(TCP_SYN_SENT);
            if ep.sk.is_undecided_hybrid() {
                crate::sdp::fallback::start_connect_timer(ep);
            }
        }
        ConnectStep::Wait => {}
        ConnectStep::Ended => {
            let err = ep.sk.take_err();
            return Err(if err != 0 { Error::from_errno(err) } else { EISCONN });
        }
    }
    if nonblock {
        return Err(EINPROGRESS);
    }
    let mut timeo = ep.sk.sndtimeo(false);
    while guard.phase == Phase::Connecting {
        match ep.wait(&mut guard, &mut timeo) {
            Ok(()) => {}
            // Timed out (SO_SNDTIMEO): the attempt goes on, as with TCP.
            Err(e) if e == EAGAIN => return Err(EINPROGRESS),
            Err(e) => return Err(e),
        }
    }
    if guard.phase == Phase::Connected {
        sock.set_connected(true);
        return Ok(());
    }
    let err = ep.sk.take_err();
    Err(if err != 0 { Error::from_errno(err) } else { ECONNREFUSED })
}

/// `accept`: the oldest established connection, waiting for one unless non-blocking.
pub(crate) fn accept(ep: EpRef<'_>, newsock: &Socket, nonblock: bool) -> Result {
    let mut timeo = ep.sk.rcvtimeo(nonblock);
    let mut guard = ep.lock();
    let child = loop {
        if guard.phase != Phase::Listening {
            return Err(EINVAL);
        }
        if let Some(child) = guard.listen.take_ready() {
            break child;
        }
        ep.wait(&mut guard, &mut timeo)?;
    };
    drop(guard);
    child.lock().parent = None;
    newsock.graft(child.sk.clone());
    Ok(())
}

/// One rdma_cm event on an endpoint's id (or, for a request, its listener's).
pub(crate) fn event(ep: EpRef<'_>, id: &CmIdRef, event: CmEvent<'_>) {
    match event {
        CmEvent::ConnectRequest { private_data, request } => on_request(ep, request, private_data),
        CmEvent::AddrResolved => {
            let mut inner = ep.lock();
            // The program's IP_TOS/IPV6_TCLASS, as TCP marks its packets.
            let tos = id.peer_addr().map_or(0, |dst| service_type(&dst, inner.tos, inner.tclass));
            if tos != 0 {
                id.set_service_type(tos);
            }
            if let Err(e) = id.resolve_route(RESOLVE_TIMEOUT_MS) {
                ep.fail(&mut inner, route_errno(e));
            }
        }
        CmEvent::RouteResolved => {
            on_route_resolved(ep, id);
        }
        CmEvent::ConnectResponse { private_data } => {
            on_connect_response(ep, id, private_data);
        }
        CmEvent::Established => {
            on_established(ep);
        }
        CmEvent::Rejected { status } => {
            let mut inner = ep.lock();
            let err = rejection_errno(inner.phase, status).into_error();
            ep.fail(&mut inner, err);
        }
        CmEvent::Failed { errno } => {
            let mut inner = ep.lock();
            ep.fail(&mut inner, route_errno(Error::from_errno(errno)));
        }
        CmEvent::Disconnected => {
            crate::sdp::close::on_disconnected(ep);
        }
        CmEvent::DeviceRemoval => {
            let mut inner = ep.lock();
            pr_info_ratelimited!("SDP: RDMA device removed under a connection; resetting it\n");
            ep.fail(&mut inner, ENETDOWN);
        }
        CmEvent::Other => {}
    }
}

/// Active side: the route is known; create the link and send the request with Hello.
fn on_route_resolved(ep: EpRef<'_>, id: &CmIdRef) {
    let mut guard = ep.lock();
    let inner = &mut *guard;
    if inner.phase != Phase::Connecting {
        return;
    }
    // The rings are charged to the program's memory cgroup, not rdma_cm's worker's.
    let _memcg = ep.sk.charge_to_creator();
    let link = admit_rings(ring_config(ep, inner)).and_then(|(cfg, admitted)| {
        let zc = zc_offer(ep, cfg);
        Ok((Link::new(ep.clone(), id, ep.qp_profile(), cfg, admitted, shared_recv(ep), zc, src_limits(ep))?, cfg, zc))
    });
    let (link, cfg, zc) = match link {
        Ok(l) => l,
        Err(e) => {
            ep.fail(inner, e);
            return;
        }
    };
    let buf = hello(cfg, inner.peer.map_or(4, |p| p.ip_version()), id.local_addr().map_or(0, |a| a.port()), zc);
    let sent = id.connect_locked(link.qp.qp(), &CONN_POLICY, &buf);
    inner.link = Some(link);
    if let Err(e) = sent {
        ep.fail(inner, e);
    }
}

/// Active side: the peer accepted. Takes its HelloAck, readies the QP and sends the
/// RTU; the connection is then up. A bad HelloAck is refused with a REJ.
fn on_connect_response(ep: EpRef<'_>, id: &CmIdRef, private_data: &[u8]) {
    {
        let mut guard = ep.lock();
        let inner = &mut *guard;
        if inner.phase != Phase::Connecting {
            return;
        }
        let Some(link) = inner.link.as_mut() else { return };
        let Ok(peer_zc) = take_hello_ack(link, private_data) else {
            stats::bump(ep.sk.net(), Counter::ProtocolViolations);
            if trace::violation_enabled() {
                trace::violation(&ep.sk, c"unusable HelloAck");
            }
            id.reject();
            ep.fail(inner, ECONNRESET);
            return;
        };
        match id.establish(link.qp.qp(), &CONN_POLICY) {
            Ok(depths) => {
                link.rdma.read_depth = depths.initiator;
                link.zc_negotiated(peer_zc, depths);
            }
            Err(e) => {
                // The peer got our REJ.
                ep.fail(inner, e);
                return;
            }
        }
    }
    on_established(ep);
}

/// The peer's HelloAck: its credit grant and buffer size, or `Err` (logged) when
/// they are unusable. Returns its zero-copy offer.
fn take_hello_ack(link: &mut Link, private_data: &[u8]) -> core::result::Result<ZcOffer, ()> {
    let terms = accept_hello_ack(private_data, link.initial_grant()).map_err(|refusal| match refusal {
        Refusal::Malformed(e) => pr_warn_ratelimited!("SDP: bad HelloAck from peer ({:?}); connection refused\n", e),
        Refusal::Unusable(e) => pr_warn_ratelimited!("SDP: unusable HelloAck from peer ({:?}); connection refused\n", e),
    })?;
    link.stream.credits = Some(terms.credits);
    link.stream.peer_msg_size = terms.peer_msg_size;
    Ok(terms.zc)
}

/// Both sides: the connection is up.
fn on_established(ep: EpRef<'_>) {
    let mut guard = ep.lock();
    let inner = &mut *guard;
    match inner.phase {
        Phase::Connecting => {
            // The HelloAck was taken with the REP (`on_connect_response`).
            if inner.link.as_ref().map_or(true, |l| l.stream.credits.is_none()) {
                ep.fail(inner, ECONNRESET);
                return;
            }
            ep.set_phase(inner, Phase::Connected);
            ep.sk.set_tcp_state(TCP_ESTABLISHED);
            stats::bump(ep.sk.net(), Counter::ActiveOpens);
            if ep.sk.is_undecided_hybrid() {
                crate::sdp::fallback::on_established(ep, inner);
            }
            crate::sdp::keepalive::on_established(ep, inner);
            crate::sdp::rx::process_early(ep, inner);
            ep.wake(POLLOUT | POLLWRNORM);
        }
        Phase::Accepting => {
            ep.set_phase(inner, Phase::Connected);
            ep.sk.set_tcp_state(TCP_ESTABLISHED);
            stats::bump(ep.sk.net(), Counter::PassiveOpens);
            crate::sdp::keepalive::on_established(ep, inner);
            let parent = inner.parent.clone();
            drop(guard);
            let Some(parent) = parent else {
                // The listener went away meanwhile.
                ep.abandon();
                return;
            };
            let mut pinner = parent.lock();
            match pinner.listen.established(|c| core::ptr::eq(&**c, &**ep)) {
                Established::Ready => parent.wake(POLLIN | POLLRDNORM),
                // The listener let it go meanwhile.
                Established::NotPending => {}
                Established::NoMemory(_) => {
                    drop(pinner);
                    ep.abandon();
                }
            }
        }
        _ => {}
    }
}

/// Passive side: a request arrived on listener `ep`. Sets up the new connection and
/// accepts it on the wire, or rejects it.
fn on_request(ep: EpRef<'_>, request: &ConnRequest, private_data: &[u8]) {
    let hello = match Hello::decode(private_data) {
        Ok(h) => h,
        Err(e) => {
            pr_info_ratelimited!("SDP: connection request with a bad Hello ({:?}) rejected\n", e);
            stats::bump(ep.sk.net(), Counter::RequestsDropped);
            return;
        }
    };
    {
        let inner = ep.lock();
        if inner.phase != Phase::Listening || inner.listen.full() {
            return;
        }
        // A listener bound to one address serves requests addressed to it, as TCP's
        // does, whatever rdma_cm matched the request by.
        if let (Some(bound), Some(dst)) = (inner.bound, request.local_addr()) {
            if !bound.serves(&dst) {
                pr_info_ratelimited!("SDP: connection request for another local address refused\n");
                return;
            }
        }
    }
    // On failure the request's id is not adopted, and rdma_cm rejects it.
    if let Err(e) = new_child(ep, request, &hello) {
        pr_info_ratelimited!("SDP: connection request dropped: {:?}\n", e);
        stats::bump(ep.sk.net(), Counter::RequestsDropped);
    }
}

/// The sock and endpoint of a passive connection, queued on the listener.
fn new_child(listener: EpRef<'_>, id: &ConnRequest, hello: &Hello) -> Result {
    let parent_sk = &listener.sk;
    let sk = parent_sk.alloc_child()?;
    let child = Endpoint::new(sk.clone(), listener.rdma_ops)?;
    let (cfg, max_msg, nodelay, zc_thresh, keepalive, tos) = {
        let inner = listener.lock();
        let tos = (inner.tos, inner.tclass);
        (ring_config(listener, &inner), inner.max_msg, inner.nodelay, inner.zc_thresh, inner.keepalive, tos)
    };
    let (cfg, admitted) = admit_rings(cfg)?;
    // Charged to the listener's memory cgroup: the program that will accept it.
    let _memcg = parent_sk.charge_to_creator();
    let zc = zc_offer(listener, cfg);
    let limits = src_limits(listener);
    let mut link = Link::new(child.clone(), id, child.qp_profile(), cfg, admitted, shared_recv(listener), zc, limits)?;
    let terms =
        peer_terms(hello.bufs, hello.local_rcv_size, hello_zc(&hello), link.initial_grant()).map_err(|_| EPROTO)?;
    link.stream.credits = Some(terms.credits);
    link.stream.peer_msg_size = terms.peer_msg_size;
    let buf = hello_ack(cfg, zc);
    // Nothing is visible to anyone before the REP is out; on failure the link goes
    // and rdma_cm destroys the id.
    let depths = id.accept(link.qp.qp(), &CONN_POLICY, &buf)?;
    link.rdma.read_depth = depths.initiator;
    link.zc_negotiated(terms.zc, depths);
    {
        let mut inner = child.lock();
        // Kept past the id's teardown: accept() reports the peer of a connection that
        // was reset while it waited (do_accept turns a getname failure into
        // ECONNABORTED and drops the connection, which TCP never does).
        inner.peer = id.peer_addr();
        child.set_phase(&mut inner, Phase::Accepting);
        inner.max_msg = max_msg;
        // As TCP's children (`tcp_create_openreq_child`): the listener's TCP_NODELAY
        // and keepalive times (`SO_KEEPALIVE` itself comes with the sock's flags).
        inner.nodelay = nodelay;
        inner.keepalive = keepalive;
        // OFED's children had their listener's SDP_ZCOPY_THRESH too.
        inner.zc_thresh = zc_thresh;
        // TCP's children have their listener's IP_TOS and IPV6_TCLASS too (their
        // packets take the client's path, as ours do).
        (inner.tos, inner.tclass) = tos;
        inner.parent = Some(listener.clone());
        // From here the id is the child's, and holds the child until its teardown
        // destroys it.
        inner.id = Some(id.adopt(child.clone())?);
        inner.link = Some(link);
    }
    if sk.set_state(child.clone()).is_err() {
        // Not reached (the child's sock is of its listener's protocol), but the id is
        // the child's now: only a reset may end it.
        child.abandon();
        return Ok(());
    }
    let queued = {
        let mut inner = listener.lock();
        inner.phase == Phase::Listening && inner.listen.add_pending(child.clone()).is_ok()
    };
    if !queued {
        // The listener closed meanwhile (or memory ran out): reset the connection.
        child.abandon();
    }
    Ok(())
}
