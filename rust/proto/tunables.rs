// SPDX-License-Identifier: GPL-2.0

//! The per-network-namespace tunables under `net.infinisock.*`: names, defaults and
//! bounds. The module's sysctl table is built from this list, so the documentation,
//! the host tests and the kernel see one definition.

use core::ffi::CStr;

use super::{credits::MIN_RING, keepalive::MAX_KEEPIDLE, recv_window::RECV_FLOOR, ring::MAX_RING};

/// One integer tunable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunable {
    /// Name under `net.infinisock` (a C string: the kernel's sysctl table points at it).
    pub name: &'static CStr,
    /// Value in a new network namespace.
    pub default: i32,
    /// Smallest value a write may set.
    pub min: i32,
    /// Largest value a write may set.
    pub max: i32,
    /// Largest value a write may set in a namespace that a non-initial user namespace
    /// owns (a container's root): memory a connection takes stays within the
    /// defaults there.
    pub userns_max: i32,
}

impl Tunable {
    /// Whether a write of `value` is accepted.
    pub const fn accepts(&self, value: i32) -> bool {
        value >= self.min && value <= self.max
    }

    /// The largest value a write may set in a namespace owned by the initial user
    /// namespace (`privileged`) or by another one.
    pub const fn max_for(&self, privileged: bool) -> i32 {
        if privileged { self.max } else { self.userns_max }
    }
}

/// Index of each tunable in [`TUNABLES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum TunableId {
    /// `net.infinisock.sdp_enable`: 1 lets `socket(AF_INET/AF_INET6, SOCK_STREAM,
    /// IPPROTO_SDP)` create SDP sockets in this namespace; 0 refuses them with
    /// `EPROTONOSUPPORT`, as if the protocol were not there.
    SdpEnable = 0,
    /// `net.infinisock.sdp_recv_buffers`: receive buffers each new SDP connection posts
    /// (its initial credit grant to the peer).
    SdpRecvBuffers = 1,
    /// `net.infinisock.sdp_send_buffers`: send buffers of each new SDP connection: how
    /// many messages may be in flight at once.
    SdpSendBuffers = 2,
    /// `net.infinisock.sdp_buffer_size`: bytes in each send and receive buffer,
    /// including the 16-byte message header; the largest message a connection carries.
    SdpBufferSize = 3,
    /// `net.infinisock.sdp_fin_timeout`: seconds a closed socket's connection may wait
    /// for the peer to close its side before it is reset (TCP's `tcp_fin_timeout`).
    SdpFinTimeout = 4,
    /// `net.infinisock.sdp_keepalive_time`: seconds a connection with `SO_KEEPALIVE`
    /// may be silent before it probes the peer, unless `TCP_KEEPIDLE` says otherwise
    /// (TCP's `tcp_keepalive_time`).
    SdpKeepaliveTime = 5,
    /// `net.infinisock.sdp_transparent`: transparent SDP for programs that ask for TCP
    /// (`proto::policy::Mode`): 0 off, 1 outgoing connections try SDP first, 2
    /// listeners take SDP connections beside TCP ones, 3 both. Takes effect through
    /// the transparent hook (`tools/transparent/`), for sockets created from then on.
    SdpTransparent = 6,
    /// `net.infinisock.sdp_connect_timeout`: milliseconds a hybrid socket's RDMA
    /// attempt may take before the socket connects over TCP instead (rdma_cm's own
    /// timeouts, towards a peer without RDMA, run to about a minute).
    SdpConnectTimeout = 7,
    /// `net.infinisock.sdp_fallback_cache`: seconds a peer whose RDMA attempt failed is
    /// reached over TCP at once by the namespace's hybrid sockets; 0 turns it off.
    SdpFallbackCache = 8,
    /// `net.infinisock.sdp_recv_floor`: receive buffers each new SDP stream posts at
    /// first, and the least its receive window falls back to (`proto::recv_window`):
    /// what a connection holds until its window grows.
    SdpRecvFloor = 9,
    /// `net.infinisock.sdp_srq`: 1 puts each new SDP stream under `AF_INET`/`AF_INET6`
    /// on its device's shared receive queue (`proto::recv_pool`): its credits become
    /// grants out of the queue's buffers, and an idle connection holds none (the
    /// default). 0 gives each connection receive buffers and CQs of its own.
    SdpSrq = 10,
    /// `net.infinisock.sdp_zcopy`: 1 lets each new SDP stream under
    /// `AF_INET`/`AF_INET6` take the peer's zero-copy adverts (SrcAvail: it RDMA READs
    /// what the peer's program wrote, and the peer copies nothing); 2 also lets it
    /// advertise its own program's large blocking writes (it then keeps a PD and
    /// receive buffers of its own, not the shared receive queue); 0, the default,
    /// offers none, and every byte comes as a message.
    SdpZcopy = 11,
    /// `net.infinisock.sdp_zcopy_thresh`: the smallest piece of a blocking write that
    /// a zero-copy source (`sdp_zcopy` 2) advertises instead of copying, for sockets
    /// that did not choose their own (`SDP_ZCOPY_THRESH`). Read at each write.
    SdpZcopyThresh = 12,
    /// `net.infinisock.sdp_zcopy_timeout_ms`: milliseconds a zero-copy source waits
    /// for the peer to begin READing its oldest advert before it cancels its open
    /// adverts and copies the rest (OFED's `SDP_SRCAVAIL_ADV_TIMEOUT`). Fixed for a
    /// connection when it is made.
    SdpZcopyTimeoutMs = 13,
    /// `net.infinisock.sdp_zcopy_cancel_ms`: milliseconds a zero-copy source waits for
    /// the peer to answer its cancel before it resets the connection (and the pages
    /// the adverts exposed are released). Fixed for a connection when it is made.
    SdpZcopyCancelMs = 14,
    /// `net.infinisock.sdp_zcopy_thresh_max`: for sockets that leave the choice to
    /// the connection (`SDP_ZCOPY_THRESH` -1), the size from which a blocking write is
    /// always advertised; between `sdp_zcopy_thresh` (the floor) and this, each size
    /// class is advertised or copied as its calls have fared (`proto::zc_policy`).
    /// Equal to the floor (or below it): a fixed threshold. Read at each write.
    SdpZcopyThreshMax = 15,
}

/// Every tunable, in [`TunableId`] order.
pub const TUNABLES: [Tunable; 16] = [
    Tunable { name: c"sdp_enable", default: 1, min: 0, max: 1, userns_max: 1 },
    Tunable { name: c"sdp_recv_buffers", default: 16, min: MIN_RING as i32, max: MAX_RING as i32, userns_max: 16 },
    Tunable { name: c"sdp_send_buffers", default: 12, min: 1, max: MAX_RING as i32, userns_max: 12 },
    Tunable { name: c"sdp_buffer_size", default: 32768, min: 4096, max: 1 << 20, userns_max: 32768 },
    Tunable { name: c"sdp_fin_timeout", default: 60, min: 1, max: 3600, userns_max: 3600 },
    Tunable { name: c"sdp_keepalive_time", default: 7200, min: 1, max: MAX_KEEPIDLE as i32, userns_max: MAX_KEEPIDLE as i32 },
    Tunable { name: c"sdp_transparent", default: 0, min: 0, max: 3, userns_max: 3 },
    Tunable { name: c"sdp_connect_timeout", default: 2000, min: 10, max: 120_000, userns_max: 120_000 },
    Tunable { name: c"sdp_fallback_cache", default: 60, min: 0, max: 86_400, userns_max: 86_400 },
    Tunable { name: c"sdp_recv_floor", default: RECV_FLOOR as i32, min: MIN_RING as i32, max: MAX_RING as i32, userns_max: RECV_FLOOR as i32 },
    Tunable { name: c"sdp_srq", default: 1, min: 0, max: 1, userns_max: 1 },
    Tunable { name: c"sdp_zcopy", default: 0, min: 0, max: 2, userns_max: 2 },
    zcopy_bytes(c"sdp_zcopy_thresh", super::zc_policy::THRESH_MIN_DEFAULT),
    Tunable {
        name: c"sdp_zcopy_timeout_ms",
        default: super::zc_src::ADVERT_TIMEOUT_MS_DEFAULT as i32,
        min: super::zc_src::TIMEOUT_MS_MIN as i32,
        max: super::zc_src::TIMEOUT_MS_MAX as i32,
        userns_max: super::zc_src::TIMEOUT_MS_MAX as i32,
    },
    Tunable {
        name: c"sdp_zcopy_cancel_ms",
        default: super::zc_src::CANCEL_TIMEOUT_MS_DEFAULT as i32,
        min: super::zc_src::TIMEOUT_MS_MIN as i32,
        max: super::zc_src::TIMEOUT_MS_MAX as i32,
        userns_max: super::zc_src::TIMEOUT_MS_MAX as i32,
    },
    zcopy_bytes(c"sdp_zcopy_thresh_max", super::zc_policy::THRESH_MAX_DEFAULT),
];

/// A bound of the zero-copy choice (`sdp_zcopy_thresh`, `sdp_zcopy_thresh_max`): any
/// size a program may fix with `SDP_ZCOPY_THRESH`, for anyone (it sizes no memory).
const fn zcopy_bytes(name: &'static CStr, default: u32) -> Tunable {
    use super::zc_policy::{THRESH_FIXED_MIN, THRESH_MAX_DEFAULT};
    Tunable {
        name,
        default: default as i32,
        min: THRESH_FIXED_MIN as i32,
        max: THRESH_MAX_DEFAULT as i32,
        userns_max: THRESH_MAX_DEFAULT as i32,
    }
}

/// Index of each module-wide tunable in [`GLOBAL_TUNABLES`]: they exist in the initial
/// network namespace only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum GlobalId {
    /// `net.infinisock.sdp_mem`: KiB of kernel memory the buffers of all SDP and AF_IB
    /// connections together may take (`proto::memory`). The default, 0 here, is set
    /// at load to an eighth of the machine's memory.
    SdpMem = 0,
}

/// Every module-wide tunable, in [`GlobalId`] order.
pub const GLOBAL_TUNABLES: [Tunable; 1] =
    [Tunable { name: c"sdp_mem", default: 0, min: 1024, max: i32::MAX, userns_max: i32::MAX }];

/// The tunable with this id.
pub const fn tunable(id: TunableId) -> &'static Tunable {
    &TUNABLES[id as usize]
}
