// SPDX-License-Identifier: GPL-2.0

//! AF_IB `SOCK_SEQPACKET`: the largest message a socket takes, the rings that carry
//! such messages, and how `recvmsg` delivers them.
//!
//! One application message travels in one RC SEND, into one posted receive buffer,
//! so a socket's receive buffers are exactly as large as its largest message (plus the
//! 16-byte header), and the peer sends nothing larger: the largest message of a
//! connection is the smaller of the two ends' (`IB_MAX_MSG_SIZE`).

use super::{
    conn_state::Phase,
    credits::MIN_RING,
    errno::{Errno, EINVAL},
    ring::MAX_RING,
    wire::BSDH_LEN,
};

/// The largest `IB_MAX_MSG_SIZE`: a receive buffer of 1 MiB with its header.
pub const MAX_MESSAGE: u32 = (1 << 20) - BSDH_LEN as u32;

/// Checks an `IB_MAX_MSG_SIZE` a program asks for: 1 to [`MAX_MESSAGE`] bytes.
pub fn check_max_message(value: i32) -> Result<u32, Errno> {
    match u32::try_from(value) {
        Ok(v) if (1..=MAX_MESSAGE).contains(&v) => Ok(v),
        _ => Err(EINVAL),
    }
}

/// The default largest message: what fits the stream buffers of the namespace
/// (`net.infinisock.sdp_buffer_size`).
pub const fn default_max_message(buffer_size: u32) -> u32 {
    buffer_size - BSDH_LEN as u32
}

/// Buffers of `max_message + 16` bytes in a ring worth `bytes`: a ring of small
/// messages has more buffers than a stream's (up to [`MAX_RING`]), a ring of large
/// ones fewer (down to [`MIN_RING`]), for the same memory.
pub fn ring_buffers(bytes: usize, max_message: u32) -> u16 {
    let size = max_message as usize + BSDH_LEN;
    (bytes / size).clamp(usize::from(MIN_RING), MAX_RING) as u16
}

/// What a message socket's `recvmsg` of `len` bytes does with a message of `size`
/// bytes, as every `SOCK_SEQPACKET` family does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Bytes copied to the reader.
    pub copied: usize,
    /// The rest of the message is dropped (`MSG_TRUNC` in `msg_flags`).
    pub truncated: bool,
    /// What the call returns: the copied bytes, or with `MSG_TRUNC` in its flags
    /// (`real_length`) the message's real length.
    pub returned: usize,
}

/// See [`Delivery`].
pub fn deliver(size: usize, len: usize, real_length: bool) -> Delivery {
    let copied = size.min(len);
    Delivery { copied, truncated: size > copied, returned: if real_length { size } else { copied } }
}

/// What a message socket's `recvmsg` looks at.
#[derive(Clone, Copy, Debug)]
pub struct MessageReadState {
    pub phase: Phase,
    pub has_link: bool,
    /// `shutdown(SHUT_RD)`: nothing more is read.
    pub rcv_shut: bool,
    /// A message (or an immediate) waits at the front of the queue.
    pub queued: bool,
    /// A socket error is pending.
    pub error: bool,
    /// The peer's DisConn arrived.
    pub fin_received: bool,
}

/// The next step of a message socket's `recvmsg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStep {
    /// `ENOTCONN`: a listener, or a socket that never connected.
    NotConnected,
    /// Deliver the message at the front.
    Take,
    /// Report the pending error.
    Error,
    /// End of data: 0.
    Eof,
    /// Wait for a message.
    Wait,
}

/// See [`MessageStep`]: messages that arrived are delivered before a pending error
/// and before the end.
pub fn message_read_step(s: &MessageReadState) -> MessageStep {
    if s.phase == Phase::Listening || (s.phase == Phase::Open && !s.has_link) {
        return MessageStep::NotConnected;
    }
    if s.queued && !s.rcv_shut {
        return MessageStep::Take;
    }
    if s.error {
        return MessageStep::Error;
    }
    if s.rcv_shut || s.fin_received || s.phase == Phase::Closed {
        return MessageStep::Eof;
    }
    MessageStep::Wait
}
