// SPDX-License-Identifier: GPL-2.0
//! Hybrid streams: which socket() calls transparent mode converts, which failures of
//! an RDMA attempt go to TCP, and how the path is reported.

use infinisock_proto::errno::*;
use infinisock_proto::hybrid::*;
use infinisock_proto::policy::Mode;
use infinisock_proto::IPPROTO_SDP;
use proptest::prelude::*;

const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const SOCK_NONBLOCK: i32 = 0o4000;
const SOCK_CLOEXEC: i32 = 0o2000000;
const AF_UNIX: i32 = 1;
const AF_IB: i32 = 27;

#[test]
fn tcp_streams_become_hybrid_while_the_mode_is_on() {
    for mode in [1, 2, 3] {
        let mode = Mode::from_tunable(mode);
        for family in [AF_INET, AF_INET6] {
            for protocol in [0, IPPROTO_TCP] {
                for flags in [0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC] {
                    assert_eq!(socket_protocol(mode, family, SOCK_STREAM | flags, protocol), IPPROTO_SDP_HYBRID);
                }
            }
        }
    }
}

#[test]
fn everything_else_keeps_its_protocol() {
    let on = Mode::from_tunable(3);
    // Off: nothing converts.
    assert_eq!(socket_protocol(Mode::from_tunable(0), AF_INET, SOCK_STREAM, 0), 0);
    assert_eq!(socket_protocol(Mode::from_tunable(0), AF_INET6, SOCK_STREAM, IPPROTO_TCP), IPPROTO_TCP);
    // Explicit SDP stays strict SDP; MPTCP, SCTP (132) stay theirs.
    assert_eq!(socket_protocol(on, AF_INET, SOCK_STREAM, IPPROTO_SDP), IPPROTO_SDP);
    assert_eq!(socket_protocol(on, AF_INET, SOCK_STREAM, 262), 262);
    assert_eq!(socket_protocol(on, AF_INET6, SOCK_STREAM, 132), 132);
    // Other types and families.
    assert_eq!(socket_protocol(on, AF_INET, SOCK_DGRAM, 0), 0);
    assert_eq!(socket_protocol(on, AF_UNIX, SOCK_STREAM, 0), 0);
    assert_eq!(socket_protocol(on, AF_IB, SOCK_STREAM, 0), 0);
}

proptest! {
    #[test]
    fn converts_exactly_tcp_streams(mode in 0i64..4, family in 0i32..64, ty in any::<i32>(), protocol in -2i32..300) {
        let got = socket_protocol(Mode::from_tunable(mode), family, ty, protocol);
        let tcp = (family == AF_INET || family == AF_INET6) && ty & 0xf == SOCK_STREAM && (protocol == 0 || protocol == 6);
        prop_assert_eq!(got, if mode != 0 && tcp { IPPROTO_SDP_HYBRID } else { protocol });
    }
}

#[test]
fn failures_that_go_to_tcp() {
    for e in [ENODEV, EADDRNOTAVAIL, ENETUNREACH, EHOSTUNREACH, ENETDOWN] {
        assert_eq!(connect_failure(e), Ok(Fallback::NoDevice), "{e:?}");
    }
    assert_eq!(connect_failure(ECONNREFUSED), Ok(Fallback::Refused));
    assert_eq!(connect_failure(ETIMEDOUT), Ok(Fallback::Timeout));
    assert_eq!(connect_failure(ENOMEM), Ok(Fallback::Resources));
    assert_eq!(connect_failure(ENOBUFS), Ok(Fallback::Resources));
    assert_eq!(connect_failure(ECONNRESET), Ok(Fallback::Other));
    assert_eq!(connect_failure(EPROTONOSUPPORT), Ok(Fallback::Other));
}

#[test]
fn failures_the_program_sees() {
    // A signal, a call out of order, an address TCP refuses the same way, or a cgroup
    // program's verdict: TCP would answer alike, so the program hears it.
    for e in [EINTR, ERESTARTSYS, EAGAIN, EINPROGRESS, EALREADY, EISCONN, EINVAL, EAFNOSUPPORT, EACCES, EPERM, EADDRINUSE] {
        assert_eq!(connect_failure(e), Err(e), "{e:?}");
    }
}

#[test]
fn transport_option_values() {
    assert_eq!(Path::Undecided.option_value(), 0);
    assert_eq!(Path::Sdp.option_value(), 1);
    // <linux/infinisock.h>: INFINISOCK_TRANSPORT_TCP | INFINISOCK_FALLBACK_* << 8.
    let header = include_str!("../../include/uapi/linux/infinisock.h");
    for why in Fallback::ALL {
        let v = Path::Tcp(why).option_value();
        assert_eq!(v & 0xff, 2);
        let name = format!("INFINISOCK_FALLBACK_{}", why.name().to_uppercase());
        let line = header.lines().find(|l| l.starts_with(&format!("#define {name}\t"))).unwrap_or_else(|| panic!("{name}"));
        let num: i32 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(v >> 8, num, "{name}");
    }
    assert!(header.contains("#define IPPROTO_SDP_HYBRID\t259"));
}
