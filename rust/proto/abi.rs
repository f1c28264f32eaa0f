// SPDX-License-Identifier: GPL-2.0

//! Numbers of the Linux socket ABI the stream logic needs: poll bits, `shutdown`
//! modes, socket-option and ioctl numbers. They are fixed by the ABI, so the
//! kernel-free code names them directly.

/// `EPOLLIN`.
pub const POLLIN: u32 = 0x0001;
/// `EPOLLPRI`.
pub const POLLPRI: u32 = 0x0002;
/// `EPOLLOUT`.
pub const POLLOUT: u32 = 0x0004;
/// `EPOLLERR`.
pub const POLLERR: u32 = 0x0008;
/// `EPOLLHUP`.
pub const POLLHUP: u32 = 0x0010;
/// `EPOLLRDNORM`.
pub const POLLRDNORM: u32 = 0x0040;
/// `EPOLLWRNORM`.
pub const POLLWRNORM: u32 = 0x0100;
/// `EPOLLRDHUP`.
pub const POLLRDHUP: u32 = 0x2000;

/// `shutdown(SHUT_RD)`.
pub const SHUT_RD: i32 = 0;
/// `shutdown(SHUT_WR)`.
pub const SHUT_WR: i32 = 1;
/// `shutdown(SHUT_RDWR)`.
pub const SHUT_RDWR: i32 = 2;

/// `SOL_INFINISOCK`: options of AF_IB sockets (`<linux/infinisock.h>`).
pub const SOL_INFINISOCK: i32 = 0x4942;
/// `INFINISOCK_MAX_MSG_SIZE`: a message socket's largest message.
pub const INFINISOCK_MAX_MSG_SIZE: i32 = 1;
/// `INFINISOCK_DEVICE` .. `INFINISOCK_MAX_INLINE`: the verbs objects behind a socket.
pub const INFINISOCK_DEVICE: i32 = 2;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_PORT: i32 = 3;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_GID: i32 = 4;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_QP_NUM: i32 = 5;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_PEER_QP_NUM: i32 = 6;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_PATH_MTU: i32 = 7;
/// See [`INFINISOCK_DEVICE`].
pub const INFINISOCK_MAX_INLINE: i32 = 8;
/// `INFINISOCK_TRANSPORT`: a hybrid stream's path (`proto::hybrid::Path`).
pub const INFINISOCK_TRANSPORT: i32 = 9;
/// `SOL_IPV6`: IPv6-level options.
pub const SOL_IPV6: i32 = 41;
/// `SOL_IP` (`IPPROTO_IP`).
pub const SOL_IP: i32 = 0;
/// `IP_TOS`.
pub const IP_TOS: i32 = 1;
/// `IPV6_TCLASS`.
pub const IPV6_TCLASS: i32 = 67;
/// `IPV6_V6ONLY`.
pub const IPV6_V6ONLY: i32 = 26;
/// `SOL_TCP`: TCP-level options, which SDP sockets accept as TCP does.
pub const SOL_TCP: i32 = 6;
/// `TCP_NODELAY`.
pub const TCP_NODELAY: i32 = 1;
/// `TCP_CORK`.
pub const TCP_CORK: i32 = 3;
/// `TCP_KEEPIDLE`.
pub const TCP_KEEPIDLE: i32 = 4;
/// `TCP_KEEPINTVL`.
pub const TCP_KEEPINTVL: i32 = 5;
/// `TCP_KEEPCNT`.
pub const TCP_KEEPCNT: i32 = 6;
/// `SDP_ZCOPY_THRESH` (`SOL_TCP`), OFED SDP's option (`<rdma/sdp_socket.h>`): the
/// smallest piece of a write that goes zero-copy.
pub const SDP_ZCOPY_THRESH: i32 = 80;

/// `SIOCINQ` (= `FIONREAD`): bytes readable now.
pub const SIOCINQ: u32 = 0x541B;
/// `SIOCATMARK`: the next byte to read is the urgent byte's place (the mark).
pub const SIOCATMARK: u32 = 0x8905;
/// `SIOCOUTQ` (= `TIOCOUTQ`): bytes sent but not yet acknowledged by the peer.
pub const SIOCOUTQ: u32 = 0x5411;

/// `TCP_ESTABLISHED`: `sk_state` values follow TCP's, so `ss` and `SO_ERROR` paths
/// read them as they do for TCP.
pub const TCP_ESTABLISHED: u32 = 1;
/// `TCP_SYN_SENT`.
pub const TCP_SYN_SENT: u32 = 2;
/// `TCP_FIN_WAIT1`.
pub const TCP_FIN_WAIT1: u32 = 4;
/// `TCP_CLOSE`.
pub const TCP_CLOSE: u32 = 7;
/// `TCP_CLOSE_WAIT`.
pub const TCP_CLOSE_WAIT: u32 = 8;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u32 = 10;

/// `MSG_PEEK`.
pub const MSG_PEEK: i32 = 0x2;
/// `MSG_OOB`.
pub const MSG_OOB: i32 = 0x1;
/// `MSG_CTRUNC`.
pub const MSG_CTRUNC: i32 = 0x8;
/// `MSG_ERRQUEUE`.
pub const MSG_ERRQUEUE: i32 = 0x2000;
/// `MSG_TRUNC`.
pub const MSG_TRUNC: i32 = 0x20;
/// `MSG_DONTWAIT`.
pub const MSG_DONTWAIT: i32 = 0x40;
/// `MSG_WAITALL`.
pub const MSG_WAITALL: i32 = 0x100;
/// `MSG_NOSIGNAL`.
pub const MSG_NOSIGNAL: i32 = 0x4000;
/// `MSG_MORE`: more data follows (a `sendfile()`'s pieces carry it but its last).
pub const MSG_MORE: i32 = 0x8000;
/// `MSG_ZEROCOPY`.
pub const MSG_ZEROCOPY: i32 = 0x400_0000;
/// `MSG_SPLICE_PAGES`: the kernel's own flag for a `sendfile()`'s or `splice()`'s
/// pages (a program's `sendmsg` cannot set it).
pub const MSG_SPLICE_PAGES: i32 = 0x800_0000;
/// `O_NONBLOCK` (x86 and the generic value).
pub const O_NONBLOCK: i32 = 0o4000;
