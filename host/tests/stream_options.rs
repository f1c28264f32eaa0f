// SPDX-License-Identifier: GPL-2.0
//! The `SOL_TCP` options a stream takes, and `ENOPROTOOPT` for the rest.

use infinisock_proto::abi::{SOL_TCP, TCP_CORK, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_NODELAY};
use infinisock_proto::errno::ENOPROTOOPT;
use infinisock_proto::keepalive::KeepaliveOpt;
use infinisock_proto::sockaddr::{AF_INET, AF_INET6};
use infinisock_proto::stream_options::*;

#[test]
fn tcp_options_a_stream_takes() {
    assert_eq!(stream_option(AF_INET, SOL_TCP, TCP_NODELAY), Ok(StreamOption::NoDelay));
    assert_eq!(stream_option(AF_INET, SOL_TCP, TCP_CORK), Ok(StreamOption::Cork));
    assert_eq!(stream_option(AF_INET, SOL_TCP, TCP_KEEPIDLE), Ok(StreamOption::Keepalive(KeepaliveOpt::Idle)));
    assert_eq!(stream_option(AF_INET, SOL_TCP, TCP_KEEPINTVL), Ok(StreamOption::Keepalive(KeepaliveOpt::Interval)));
    assert_eq!(stream_option(AF_INET, SOL_TCP, TCP_KEEPCNT), Ok(StreamOption::Keepalive(KeepaliveOpt::Count)));
}

#[test]
fn anything_else_is_enoprotoopt() {
    // TCP_MAXSEG, TCP_INFO, TCP_CONGESTION, IP_TTL, another level.
    for (level, name) in [(SOL_TCP, 2), (SOL_TCP, 11), (SOL_TCP, 13), (0, 2), (1, TCP_NODELAY), (-1, -1)] {
        assert_eq!(stream_option(AF_INET6, level, name), Err(ENOPROTOOPT), "{level}/{name}");
    }
}

#[test]
fn ipv6_only_on_ipv6_streams_alone() {
    use infinisock_proto::abi::{IPV6_V6ONLY, SOL_IPV6};
    assert_eq!(stream_option(AF_INET6, SOL_IPV6, IPV6_V6ONLY), Ok(StreamOption::V6Only));
    // TCP over IPv4 answers ENOPROTOOPT for SOL_IPV6; AF_IB has no IPv6 options.
    assert_eq!(stream_option(AF_INET, SOL_IPV6, IPV6_V6ONLY), Err(ENOPROTOOPT));
    assert_eq!(stream_option(27, SOL_IPV6, IPV6_V6ONLY), Err(ENOPROTOOPT));
    assert_eq!(stream_option(AF_INET6, SOL_IPV6, 66), Err(ENOPROTOOPT));
}

#[test]
fn type_of_service_as_tcp_takes_it() {
    use infinisock_proto::abi::{IPV6_TCLASS, IP_TOS, SOL_IP, SOL_IPV6};
    use infinisock_proto::errno::EINVAL;
    use infinisock_proto::sockaddr::SockAddr;
    assert_eq!(stream_option(AF_INET, SOL_IP, IP_TOS), Ok(StreamOption::Tos { v6: false }));
    assert_eq!(stream_option(AF_INET6, SOL_IP, IP_TOS), Ok(StreamOption::Tos { v6: false }));
    assert_eq!(stream_option(AF_INET6, SOL_IPV6, IPV6_TCLASS), Ok(StreamOption::Tos { v6: true }));
    assert_eq!(stream_option(AF_INET, SOL_IPV6, IPV6_TCLASS), Err(ENOPROTOOPT));
    assert_eq!(stream_option(27, SOL_IP, IP_TOS), Err(ENOPROTOOPT));
    // ECN's bits stay the stream's; the low byte of any int.
    assert_eq!(ip_tos(0, 0x10), 0x10);
    assert_eq!(ip_tos(0x01, 0x13), 0x11);
    assert_eq!(ip_tos(0, 0x1b8), 0xb8);
    assert_eq!(ipv6_tclass(0, 0x28), Ok(0x28));
    assert_eq!(ipv6_tclass(0x28, -1), Ok(0));
    assert_eq!(ipv6_tclass(0, 256), Err(EINVAL));
    assert_eq!(ipv6_tclass(0, -2), Err(EINVAL));
    // IPv4 peers, mapped ones included, take IP_TOS; IPv6 ones IPV6_TCLASS.
    let v4 = SockAddr::V4 { addr: [10, 0, 0, 1], port: 1 };
    let mut mapped = [0u8; 16];
    mapped[10..].copy_from_slice(&[0xff, 0xff, 10, 0, 0, 1]);
    let mapped = SockAddr::V6 { addr: mapped, port: 1, flowinfo: 0, scope_id: 0 };
    let v6 = SockAddr::V6 { addr: [0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], port: 1, flowinfo: 0, scope_id: 0 };
    assert_eq!(service_type(&v4, 0x10, 0x20), 0x10);
    assert_eq!(service_type(&mapped, 0x10, 0x20), 0x10);
    assert_eq!(service_type(&v6, 0x10, 0x20), 0x20);
}

#[test]
fn sdp_zcopy_thresh_is_ofeds_option_and_the_headers() {
    use infinisock_proto::abi::SDP_ZCOPY_THRESH;
    for family in [AF_INET, AF_INET6] {
        assert_eq!(stream_option(family, SOL_TCP, 80), Ok(StreamOption::ZcopyThresh));
    }
    assert_eq!(stream_option(AF_INET, 0, SDP_ZCOPY_THRESH), Err(ENOPROTOOPT));
    let header = include_str!("../../include/uapi/linux/infinisock.h");
    assert!(header.contains(&format!("#define SDP_ZCOPY_THRESH\t{SDP_ZCOPY_THRESH}\n")));
}
