// SPDX-License-Identifier: GPL-2.0

//! How big a connection's queue pair is: its send and receive queues, the SGEs and
//! inline bytes of a send request, and the RDMA READs it answers, sized for what the
//! connection can put on them and nothing more.
//!
//! An SDP stream under IP posts only messages from its send ring (one SGE each), its
//! keepalive probe and the drain's marker; it never posts an RDMA operation. An AF_IB
//! socket also carries the program's one-sided operations: [`RDMA_REQUESTS`] more send
//! requests and as many SGEs as the device takes. Both answer RDMA READs: an AF_IB
//! stream and an SDP stream under IP share rdma_cm's TCP port space, so either may be
//! the other's peer, and toward a side that offers no responder resources an AF_IB
//! program's READs are refused (`EOPNOTSUPP`). Devices allocate queues by entry count
//! and entry size, so the stream's smaller shape is what makes an idle SDP connection
//! cheap.

use super::{handshake::RingConfig, rdma::RDMA_REQUESTS};

/// What a connection may post, which decides its queue pair's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QpProfile {
    /// An SDP stream under `AF_INET`/`AF_INET6`: messages only.
    Stream,
    /// An AF_IB socket (stream or message): messages and one-sided RDMA operations.
    AfIb,
}

/// SGEs per send request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendSges {
    /// One: a message is one ring buffer.
    One,
    /// As many as the device takes: an RDMA operation gathers pinned pages.
    DeviceMax,
}

/// Inline bytes a stream's send request asks for: a control message (credit update,
/// DisConn, Abort: a 16-byte header) and the smallest data messages go without a DMA
/// read of their buffer. 48 keeps rdma_rxe's send entry at 256 bytes (its 208-byte
/// request plus the inline room), where 16 SGEs made it 512.
pub const STREAM_INLINE: u32 = 48;

/// RDMA READs every connection keeps in flight each way, whatever its profile: enough
/// to keep the pipe of an AF_IB program's READs full (see the module documentation for
/// why streams under IP offer them too).
pub const RD_ATOMIC: u8 = 16;

/// Send-queue entries a queue pair on a shared receive queue keeps beyond its shape,
/// for the end marker that follows its last receive through the shared CQ
/// (`kernel_api::mailbox`).
pub const SHARED_END_MARKER: u32 = 1;

/// The queue pair of one connection. Every count includes the drain's marker, which
/// each queue needs once beyond its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpShape {
    /// Send-queue entries, and the send CQ's: the send ring, the keepalive probe, the
    /// RDMA requests and the marker.
    pub send_wrs: u32,
    /// Receive-queue entries, and the receive CQ's: the receive ring and the marker.
    pub recv_wrs: u32,
    pub send_sges: SendSges,
    /// Inline bytes asked for (the device may give more).
    pub max_inline: u32,
    /// Send-queue entries kept for one-sided RDMA requests.
    pub rdma_requests: u32,
}

impl QpShape {
    /// The shape of a connection of `profile` with rings `ring`.
    pub fn new(profile: QpProfile, ring: RingConfig) -> Self {
        const MARKER: u32 = 1;
        const PROBE: u32 = 1;
        let (send_sges, max_inline, rdma_requests) = match profile {
            QpProfile::Stream => (SendSges::One, STREAM_INLINE, 0),
            // The device's own inline room comes with its SGEs.
            QpProfile::AfIb => (SendSges::DeviceMax, 0, RDMA_REQUESTS),
        };
        QpShape {
            send_wrs: u32::from(ring.send_buffers) + PROBE + rdma_requests + MARKER,
            recv_wrs: u32::from(ring.recv_buffers) + MARKER,
            send_sges,
            max_inline,
            rdma_requests,
        }
    }
}

/// rdma_rxe's footprint, the reference device of the tests and benchmarks
/// (`drivers/infiniband/sw/rxe`): what the figures in `Documentation/design.rst`
/// ("Memory per connection") are worked out from, and what the host tests hold the
/// shapes to.
pub mod rxe {
    /// `struct rxe_send_wqe` without its SGEs or inline data.
    pub const SEND_WQE_HEADER: u32 = 208;
    /// `struct rxe_recv_wqe` without its SGEs.
    pub const RECV_WQE_HEADER: u32 = 40;
    /// `struct rxe_cqe`.
    pub const CQE: u32 = 72;
    /// `struct ib_sge`.
    pub const SGE: u32 = 16;
    /// SGEs a request of [`super::SendSges::DeviceMax`] gets on rxe: the module caps
    /// a device's at 16 (`infinisock_dev_sges`), below `RXE_MAX_SGE`.
    pub const DEVICE_SGES: u32 = 16;
    const QUEUE_HEADER: usize = 384;
    const PAGE: usize = 4096;

    /// Bytes of a queue of `entries` entries of `elem` bytes: rxe rounds the entries
    /// up to a power of two above them (one slot stays empty) and each entry to a
    /// power of two of at least 64 bytes, after a header, in whole pages of vmalloc.
    pub fn queue_bytes(entries: u32, elem: u32) -> usize {
        let slots = (entries as usize + 1).next_power_of_two();
        let elem = (elem.max(64) as usize).next_power_of_two();
        (QUEUE_HEADER + slots * elem).div_ceil(PAGE) * PAGE
    }

    /// Bytes of a send entry with `sges` SGEs and `inline` bytes of inline room.
    pub fn send_entry(sges: u32, inline: u32) -> u32 {
        SEND_WQE_HEADER + (sges * SGE).max(inline)
    }

    /// Bytes of the queues of `shape`: send queue, receive queue (one SGE), and the
    /// two CQs.
    pub fn qp_bytes(shape: &super::QpShape) -> usize {
        let sges = match shape.send_sges {
            super::SendSges::One => 1,
            super::SendSges::DeviceMax => DEVICE_SGES,
        };
        queue_bytes(shape.send_wrs, send_entry(sges, shape.max_inline))
            + queue_bytes(shape.recv_wrs, RECV_WQE_HEADER + SGE)
            + queue_bytes(shape.send_wrs, CQE)
            + queue_bytes(shape.recv_wrs, CQE)
    }
}
