// SPDX-License-Identifier: GPL-2.0

//! A namespace's SDP and AF_IB counters (`/proc/net/infinisock/stats`), in the manner
//! of TCP's SNMP counters: connections opened and failed by reason, resets, protocol
//! violations, credit stalls, transport failures, and the bytes moved; then the paths
//! hybrid streams took (`hybrid`'s counts, also in `/proc/net/infinisock/hybrid`).
//! Which counter an event bumps is decided here; the module keeps them per CPU per
//! namespace.

use super::errno::{Errno, EADDRNOTAVAIL, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOBUFS, ENODEV, ENOMEM, ETIMEDOUT};

/// One counter. The order is the file's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Connections we opened that were established.
    ActiveOpens,
    /// Connections a listener accepted that were established.
    PassiveOpens,
    /// Connection attempts refused by the peer (no listener, a full backlog).
    ConnectRefused,
    /// Connection attempts that found no route or no RDMA device to the peer.
    ConnectUnreachable,
    /// Connection attempts that timed out.
    ConnectTimeout,
    /// Connection attempts that failed for want of memory or RDMA resources.
    ConnectNoResources,
    /// Connection attempts that failed otherwise (a malformed answer, a reset).
    ConnectOther,
    /// Connection requests a listener dropped (no memory, a bad Hello).
    RequestsDropped,
    /// Established connections that ended with `ECONNRESET`: reset by the peer, or
    /// after a protocol error.
    Resets,
    /// Messages from a peer that broke the protocol (the connection was reset).
    ProtocolViolations,
    /// Writes that ran out of the peer's credits and waited.
    CreditStalls,
    /// Sends the peer's adapter stopped acknowledging (the RC transport gave up).
    TransportTimeouts,
    /// Sends the peer's adapter kept answering receiver-not-ready until the retries
    /// ran out.
    RnrRetriesExceeded,
    /// Payload bytes sent (copied through the send buffers).
    BytesSent,
    /// Payload bytes received (copied out of the receive buffers).
    BytesReceived,
    /// The peer's zero-copy adverts (SrcAvail) accepted: their bytes are RDMA READ
    /// here, or declined (no READ depth, `shutdown(SHUT_RD)`) and sent again as Data.
    ZcAdvertsTaken,
    /// Bytes RDMA READ from the peer's adverts (the peer's program wrote them once; the
    /// reader copies them once).
    ZcBytesRead,
    /// The peer's SrcAvailCancels (an advert it gave up on: a timeout, a signal).
    ZcCancels,
    /// Our zero-copy adverts (SrcAvail) of a blocking write's pages.
    ZcAdvertsSent,
    /// Bytes the peer RDMA READ from our adverts (our program's bytes, never copied here).
    ZcBytesReadByPeer,
    /// Our SrcAvailCancels (a write's timeout or signal, a peer that did not READ).
    ZcCancelsSent,
    /// Our adverts the peer declined (SendSm closing them): their unread bytes went
    /// again as Data, copied.
    ZcDeclines,
    /// The peer's adverts we declined (our SendSm closing them): no RDMA READ depth,
    /// the reader shut its side, or the peer cancelled; their bytes come as Data.
    ZcDeclinesSent,
    /// Bytes of the peer's adverts RDMA READ straight into a blocked reader's pages
    /// (never copied here; not in `ZcBytesRead`, which counts those landed and copied).
    ZcBytesToUser,
}

impl Counter {
    /// Every counter, in order.
    pub const ALL: [Counter; 24] = [
        Counter::ActiveOpens,
        Counter::PassiveOpens,
        Counter::ConnectRefused,
        Counter::ConnectUnreachable,
        Counter::ConnectTimeout,
        Counter::ConnectNoResources,
        Counter::ConnectOther,
        Counter::RequestsDropped,
        Counter::Resets,
        Counter::ProtocolViolations,
        Counter::CreditStalls,
        Counter::TransportTimeouts,
        Counter::RnrRetriesExceeded,
        Counter::BytesSent,
        Counter::BytesReceived,
        Counter::ZcAdvertsTaken,
        Counter::ZcBytesRead,
        Counter::ZcCancels,
        Counter::ZcAdvertsSent,
        Counter::ZcBytesReadByPeer,
        Counter::ZcCancelsSent,
        Counter::ZcDeclines,
        Counter::ZcDeclinesSent,
        Counter::ZcBytesToUser,
    ];

    /// The counters given before the hybrid paths; those after them came later, and
    /// follow the paths so that the earlier netlink numbers stay.
    pub const FIRST: usize = 15;

    /// How many there are.
    pub const COUNT: usize = Self::ALL.len();

    /// The counter's name in `/proc/net/infinisock/stats`.
    pub fn name(self) -> &'static str {
        match self {
            Counter::ActiveOpens => "active_opens",
            Counter::PassiveOpens => "passive_opens",
            Counter::ConnectRefused => "connect_refused",
            Counter::ConnectUnreachable => "connect_unreachable",
            Counter::ConnectTimeout => "connect_timeout",
            Counter::ConnectNoResources => "connect_no_resources",
            Counter::ConnectOther => "connect_other",
            Counter::RequestsDropped => "requests_dropped",
            Counter::Resets => "resets",
            Counter::ProtocolViolations => "protocol_violations",
            Counter::CreditStalls => "credit_stalls",
            Counter::TransportTimeouts => "transport_timeouts",
            Counter::RnrRetriesExceeded => "rnr_retries_exceeded",
            Counter::BytesSent => "bytes_sent",
            Counter::BytesReceived => "bytes_received",
            Counter::ZcAdvertsTaken => "zc_adverts_taken",
            Counter::ZcBytesRead => "zc_bytes_read",
            Counter::ZcCancels => "zc_cancels",
            Counter::ZcAdvertsSent => "zc_adverts_sent",
            Counter::ZcBytesReadByPeer => "zc_bytes_read_by_peer",
            Counter::ZcCancelsSent => "zc_cancels_sent",
            Counter::ZcDeclines => "zc_declines",
            Counter::ZcDeclinesSent => "zc_declines_sent",
            Counter::ZcBytesToUser => "zc_bytes_to_user",
        }
    }

    /// The counter a failed connection attempt bumps, from the error `connect()`
    /// reports.
    pub fn of_connect_failure(err: Errno) -> Counter {
        match err {
            ECONNREFUSED => Counter::ConnectRefused,
            ENETUNREACH | EHOSTUNREACH | EADDRNOTAVAIL | ENODEV => Counter::ConnectUnreachable,
            ETIMEDOUT => Counter::ConnectTimeout,
            ENOBUFS | ENOMEM => Counter::ConnectNoResources,
            _ => Counter::ConnectOther,
        }
    }
}

/// The hybrid streams' paths the stats give after the first counters
/// ([`Counter::FIRST`]): SDP, then TCP by `hybrid::Fallback` reason, in
/// `Fallback::ALL` order.
pub const PATH_NAMES: [&str; 7] = [
    "hybrid_sdp",
    "hybrid_tcp_policy",
    "hybrid_tcp_no_device",
    "hybrid_tcp_refused",
    "hybrid_tcp_timeout",
    "hybrid_tcp_resources",
    "hybrid_tcp_other",
];

/// How many values the stats give: the counters, then the paths.
pub const VALUES: usize = Counter::COUNT + PATH_NAMES.len();

/// The name of each value the stats give, in order: the first counters, the paths,
/// the later counters.
pub fn value_names() -> impl Iterator<Item = &'static str> {
    let (first, later) = Counter::ALL.split_at(Counter::FIRST);
    first.iter().map(|c| c.name()).chain(PATH_NAMES).chain(later.iter().map(|c| c.name()))
}
