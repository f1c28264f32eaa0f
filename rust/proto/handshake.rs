// SPDX-License-Identifier: GPL-2.0

//! What a new SDP connection asks for and what it accepts in the Hello/HelloAck
//! exchange: the rings it sets up, and the checks of the peer's offer, the same on the
//! passive side (the peer's Hello) and the active side (its HelloAck).

use super::{
    credits::{Credits, MIN_RING},
    message,
    ring::MAX_RING,
    wire::BSDH_LEN,
};

/// The rings of one connection: receive and send buffers, and their size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    pub recv_buffers: u16,
    pub send_buffers: u16,
    pub buffer_size: u32,
}

/// The namespace's ring tunables (`net.infinisock.sdp_{recv,send}_buffers`,
/// `sdp_buffer_size`), read when the connection starts.
#[derive(Clone, Copy, Debug)]
pub struct RingTunables {
    pub recv_buffers: u16,
    pub send_buffers: u16,
    pub buffer_size: u32,
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
    RingConfig {
        recv_buffers: count(rcvbuf, t.recv_buffers, usize::from(MIN_RING)),
        send_buffers: count(sndbuf, t.send_buffers, 1),
        buffer_size: t.buffer_size.max(1),
    }
}

/// A message socket's rings: buffers of its largest message plus the header, as many
/// as the memory of the stream rings (or of `SO_RCVBUF`/`SO_SNDBUF`) holds.
pub fn message_rings(t: RingTunables, rcvbuf: Option<usize>, sndbuf: Option<usize>, max_message: u32) -> RingConfig {
    let stream_bytes = |tunable: u16| usize::from(tunable) * t.buffer_size.max(1) as usize;
    RingConfig {
        recv_buffers: message::ring_buffers(rcvbuf.unwrap_or_else(|| stream_bytes(t.recv_buffers)), max_message),
        send_buffers: message::ring_buffers(sndbuf.unwrap_or_else(|| stream_bytes(t.send_buffers)), max_message),
        buffer_size: max_message + BSDH_LEN as u32,
    }
}

/// The peer's side of the exchange, once checked: the credits it grants us, and the
/// size of its receive buffers (the largest message we may send it).
#[derive(Debug)]
pub struct PeerTerms {
    pub credits: Credits,
    pub peer_msg_size: usize,
}

/// Why a peer's Hello or HelloAck cannot make a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermsError {
    /// A receive ring (the peer's, or ours) smaller than [`MIN_RING`]: its size.
    RingTooSmall(u16),
    /// The peer's buffers hold no payload after the header: their size.
    NoPayload(u32),
}

/// Checks what the peer offers (`peer_bufs` buffers of `peer_buffer_size` bytes)
/// against our receive ring of `our_recv_ring` buffers.
pub fn peer_terms(peer_bufs: u16, peer_buffer_size: u32, our_recv_ring: u16) -> Result<PeerTerms, TermsError> {
    let credits =
        Credits::new(peer_bufs, our_recv_ring).map_err(|_| TermsError::RingTooSmall(peer_bufs.min(our_recv_ring)))?;
    if peer_buffer_size as usize <= BSDH_LEN {
        return Err(TermsError::NoPayload(peer_buffer_size));
    }
    Ok(PeerTerms { credits, peer_msg_size: peer_buffer_size as usize })
}
