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
    // TCP_MAXSEG, TCP_INFO, TCP_CONGESTION, another level.
    for (level, name) in [(SOL_TCP, 2), (SOL_TCP, 11), (SOL_TCP, 13), (0, TCP_NODELAY), (1, TCP_NODELAY), (-1, -1)] {
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
    assert_eq!(stream_option(AF_INET6, SOL_IPV6, 67), Err(ENOPROTOOPT));
}
