// SPDX-License-Identifier: GPL-2.0

//! What a new SDP connection asks for and what it accepts in the Hello/HelloAck
//! exchange: the rings it sets up, and the checks of the peer's offer, the same on the
//! passive side (the peer's Hello) and the active side (its HelloAck).

use super::{
    credits::{Credits, MIN_RING},
    errno::{Errno, EADDRNOTAVAIL, ENETUNREACH, ENODEV},
    message,
    recv_window::{initial_grant, start_grant},
    ring::MAX_RING,
    wire::{Hello, HelloAck, WireError, BSDH_LEN, HELLO_ACK_LEN, HELLO_LEN, ZC_SINKAVAIL},
};

/// The rings of one connection: receive and send buffers, and their size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    pub recv_buffers: u16,
    pub send_buffers: u16,
    pub buffer_size: u32,
    /// Receive buffers posted at first (the initial grant), of `recv_buffers` at most:
    /// a stream's receive window starts small ([`initial_grant`]); a message socket,
    /// whose messages cannot be merged while the peer waits, posts its whole ring.
    pub recv_start: u16,
}

/// The namespace's ring tunables (`net.infinisock.sdp_{recv,send}_buffers`,
/// `sdp_buffer_size`, `sdp_recv_floor`), read when the connection starts.
#[derive(Clone, Copy, Debug)]
pub struct RingTunables {
    pub recv_buffers: u16,
    pub send_buffers: u16,
    pub buffer_size: u32,
    /// The receive window's floor, in buffers of the default size ([`initial_grant`]).
    pub recv_floor: u16,
}

/// A stream's rings: the tunables, or as many buffers as `SO_RCVBUF`/`SO_SNDBUF`
/// (`rcvbuf`, `sndbuf`, in bytes) ask for, within the rings' limits: at least
/// [`MIN_RING`] receive buffers (the credit scheme needs them) and one send buffer.
pub fn stream_rings(t: RingTunables, rcvbuf: Option<usize>, sndbuf: Option<usize>) -> RingConfig {
    // The tunable's bounds keep it above 0; `max(1)` keeps the division total anyway.
    let size = t.buffer_size.max(1) as usize;
    let count = |bytes: Option<usize>, tunable: u16, min: usize| match bytes {
        Some(b) => (b / size).clamp(min, MAX_RING) as u16,
        None => tunable,
    };
    let recv_buffers = count(rcvbuf, t.recv_buffers, usize::from(MIN_RING));
    RingConfig {
        recv_buffers,
        send_buffers: count(sndbuf, t.send_buffers, 1),
        buffer_size: t.buffer_size.max(1),
        // A program that sets `SO_RCVBUF` gets that window from the start, and keeps
        // it, as TCP's receive buffer stops autotuning (`SOCK_RCVBUF_LOCK`).
        recv_start: if rcvbuf.is_some() { recv_buffers } else { initial_grant(t.recv_floor, recv_buffers, t.buffer_size.max(1)) },
    }
}

/// A message socket's rings: buffers of its largest message plus the header, as many
/// as the memory of the stream rings (or of `SO_RCVBUF`/`SO_SNDBUF`) holds.
pub fn message_rings(t: RingTunables, rcvbuf: Option<usize>, sndbuf: Option<usize>, max_message: u32) -> RingConfig {
    let stream_bytes = |tunable: u16| usize::from(tunable) * t.buffer_size.max(1) as usize;
    let recv_buffers = message::ring_buffers(rcvbuf.unwrap_or_else(|| stream_bytes(t.recv_buffers)), max_message);
    RingConfig {
        recv_buffers,
        send_buffers: message::ring_buffers(sndbuf.unwrap_or_else(|| stream_bytes(t.send_buffers)), max_message),
        buffer_size: max_message + BSDH_LEN as u32,
        recv_start: recv_buffers,
    }
}

/// What one side offers of zero-copy in its Hello or HelloAck: how many of the other's
/// adverts (SrcAvail and SinkAvail together) it keeps open at once, and `ZC_*` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZcOffer {
    pub max_adverts: u8,
    pub flags: u8,
}

impl ZcOffer {
    /// Buffered copy only: what every connection offers until zero-copy is built.
    pub const NONE: Self = Self { max_adverts: 0, flags: 0 };
}

/// What the two offers allow a connection (`Documentation/plans/zero-copy.md`,
/// decision 2). Without both sides offering adverts, no zero-copy message may be sent
/// or received (a received one is a protocol error, as today).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZcTerms {
    /// Our adverts the peer keeps open at once: the most we may have open.
    pub our_adverts: u8,
    /// The peer's adverts we keep: one more open is a protocol error.
    pub peer_adverts: u8,
    /// We may send SrcAvail: the peer can READ from us (our QP's responder depth, the
    /// peer's initiator depth, is above 0).
    pub src_avail: bool,
    /// We may send SinkAvail: the peer said it accepts them (OFED SDP resets on one).
    pub sink_avail: bool,
    /// The peer may send us SinkAvail: we said we accept them.
    pub peer_sink_avail: bool,
}

impl ZcTerms {
    /// Whether zero-copy messages exist on the connection at all.
    pub fn negotiated(&self) -> bool {
        self.our_adverts > 0 && self.peer_adverts > 0
    }
}

/// The terms of a connection where we offered `ours`, the peer `peer`, and the peer's
/// QP may have `peer_reads` RDMA READs toward us in flight.
pub fn zc_terms(ours: ZcOffer, peer: ZcOffer, peer_reads: u8) -> ZcTerms {
    if ours.max_adverts == 0 || peer.max_adverts == 0 {
        return ZcTerms::default();
    }
    ZcTerms {
        our_adverts: peer.max_adverts,
        peer_adverts: ours.max_adverts,
        src_avail: peer_reads > 0,
        sink_avail: peer.flags & ZC_SINKAVAIL != 0,
        peer_sink_avail: ours.flags & ZC_SINKAVAIL != 0,
    }
}

/// The peer's side of the exchange, once checked: the credits it grants us, the size
/// of its receive buffers (the largest message we may send it) and its zero-copy offer.
#[derive(Debug)]
pub struct PeerTerms {
    pub credits: Credits,
    pub peer_msg_size: usize,
    pub zc: ZcOffer,
}

/// Why a peer's Hello or HelloAck cannot make a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermsError {
    /// A receive ring (the peer's, or ours) smaller than [`MIN_RING`]: its size.
    RingTooSmall(u16),
    /// The peer's buffers hold no payload after the header: their size.
    NoPayload(u32),
}

/// Checks what the peer offers (`peer_bufs` buffers of `peer_buffer_size` bytes, and
/// `zc`) against the `our_grant` receive buffers we posted for it.
pub fn peer_terms(peer_bufs: u16, peer_buffer_size: u32, zc: ZcOffer, our_grant: u16) -> Result<PeerTerms, TermsError> {
    let credits =
        Credits::new(peer_bufs, our_grant).map_err(|_| TermsError::RingTooSmall(peer_bufs.min(our_grant)))?;
    if peer_buffer_size as usize <= BSDH_LEN {
        return Err(TermsError::NoPayload(peer_buffer_size));
    }
    Ok(PeerTerms { credits, peer_msg_size: peer_buffer_size as usize, zc })
}

/// The zero-copy offer of a peer's Hello.
pub fn hello_zc(hello: &Hello) -> ZcOffer {
    ZcOffer { max_adverts: hello.max_adverts, flags: hello.zc_flags }
}

/// The Hello of an active connection with rings `cfg`, to a peer of `ip_version`,
/// from local `port`: it grants the buffers we post at first
/// ([`RingConfig::recv_start`]), asks for buffers of our size, and offers `zc`.
pub fn hello(cfg: RingConfig, ip_version: u8, port: u16, zc: ZcOffer) -> [u8; HELLO_LEN] {
    let hello = Hello {
        ip_version,
        max_adverts: zc.max_adverts,
        zc_flags: zc.flags,
        desired_remote_rcv_size: cfg.buffer_size,
        local_rcv_size: cfg.buffer_size,
        bufs: start_grant(cfg.recv_start, cfg.recv_buffers),
        port,
    };
    let mut buf = [0u8; HELLO_LEN];
    hello.encode(&mut buf);
    buf
}

/// The HelloAck of a passive connection with rings `cfg`, offering `zc`.
pub fn hello_ack(cfg: RingConfig, zc: ZcOffer) -> [u8; HELLO_ACK_LEN] {
    let ack = HelloAck {
        max_adverts: zc.max_adverts,
        zc_flags: zc.flags,
        actual_rcv_size: cfg.buffer_size,
        bufs: start_grant(cfg.recv_start, cfg.recv_buffers),
    };
    let mut buf = [0u8; HELLO_ACK_LEN];
    ack.encode(&mut buf);
    buf
}

/// Why a peer's Hello or HelloAck is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It does not decode.
    Malformed(WireError),
    /// It decodes, but its terms cannot make a connection.
    Unusable(TermsError),
}

/// The active side's check of the peer's HelloAck (CM private data), against our
/// `our_grant` receive buffers posted.
pub fn accept_hello_ack(private_data: &[u8], our_grant: u16) -> Result<PeerTerms, Refusal> {
    let ack = HelloAck::decode(private_data).map_err(Refusal::Malformed)?;
    let zc = ZcOffer { max_adverts: ack.max_adverts, flags: ack.zc_flags };
    peer_terms(ack.bufs, ack.actual_rcv_size, zc, our_grant).map_err(Refusal::Unusable)
}

/// What rdma_cm's refusal to bind an address means, as TCP would say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindRefusal {
    /// No RDMA device has the address: SDP cannot use it (`EADDRNOTAVAIL`, worth a
    /// line for the administrator).
    NoDevice,
    /// `EADDRNOTAVAIL` for a port: rdma_cm says so both for a taken port and for an
    /// address that is not local, where TCP says `EADDRINUSE` for the first. Binding
    /// the same address to any port tells them apart.
    PortOrAddress,
    /// Anything else, as it is.
    Other(Errno),
}

/// See [`BindRefusal`]: rdma_cm's error `e` for an address with `port`.
pub fn bind_refusal(e: Errno, port: u16) -> BindRefusal {
    match e {
        ENODEV => BindRefusal::NoDevice,
        EADDRNOTAVAIL if port != 0 => BindRefusal::PortOrAddress,
        e => BindRefusal::Other(e),
    }
}

/// rdma_cm's error for resolving an address or route with no RDMA device behind it,
/// as TCP would say it (`ENETUNREACH`).
pub fn route_errno(e: Errno) -> Errno {
    if e == ENODEV { ENETUNREACH } else { e }
}
