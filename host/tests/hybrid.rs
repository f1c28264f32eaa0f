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
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
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

fn v4(last: u8, port: u16) -> infinisock_proto::sockaddr::SockAddr {
    infinisock_proto::sockaddr::SockAddr::V4 { addr: [10, 0, 0, last], port }
}

#[test]
fn refusal_cache_scopes_and_expiry() {
    let mut c = RefusalCache::<4>::default();
    c.note(&v4(1, 80), Fallback::Refused, 1000, 500);
    // A refusal is the port's; another port of that host still tries SDP.
    assert_eq!(c.lookup(&v4(1, 80), 1200), Some(Fallback::Refused));
    assert_eq!(c.lookup(&v4(1, 81), 1200), None);
    // No device: the whole host.
    c.note(&v4(2, 80), Fallback::NoDevice, 1000, 500);
    assert_eq!(c.lookup(&v4(2, 9999), 1499), Some(Fallback::NoDevice));
    // Expired at its time.
    assert_eq!(c.lookup(&v4(1, 80), 1500), None);
    assert_eq!(c.lookup(&v4(2, 80), 1500), None);
    assert_eq!(c.len(), 0);
    // The policy and our own resources say nothing of the peer; a 0 TTL is off.
    c.note(&v4(3, 80), Fallback::Policy, 0, 500);
    c.note(&v4(3, 80), Fallback::Resources, 0, 500);
    c.note(&v4(3, 80), Fallback::Refused, 0, 0);
    assert_eq!(c.len(), 0);
    // IPv4 and its IPv4-mapped IPv6 form are one peer.
    c.note(&v4(4, 80), Fallback::Timeout, 0, 500);
    let mut mapped = [0u8; 16];
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped[12..].copy_from_slice(&[10, 0, 0, 4]);
    let v6 = infinisock_proto::sockaddr::SockAddr::V6 { addr: mapped, port: 80, flowinfo: 0, scope_id: 0 };
    assert_eq!(c.lookup(&v6, 1), Some(Fallback::Timeout));
}

proptest! {
    /// Against a model without a size limit: until more than N peers were live at once
    /// the cache answers as the model does; after that it may have forgotten some, but
    /// never answers what the model does not hold.
    #[test]
    fn refusal_cache_matches_a_model(ops in proptest::collection::vec((0u8..6, 0u16..3, 0usize..6, 0u64..50, 1u64..200), 1..200)) {
        const N: usize = 4;
        let mut c = RefusalCache::<N>::default();
        let mut model: Vec<([u8; 4], u16, u64, Fallback)> = Vec::new();
        let mut now = 0u64;
        let mut overflowed = false;
        for (host, port, why, step, ttl) in ops {
            now += step;
            let why = Fallback::ALL[why];
            let peer = v4(host, 80 + port);
            let cached = c.lookup(&peer, now);
            model.retain(|e| e.2 > now);
            let own = model.iter().find(|e| e.0[3] == host && e.1 == 80 + port);
            let want = own.or_else(|| model.iter().find(|e| e.0[3] == host && e.1 == 0)).map(|e| e.3);
            if !overflowed {
                prop_assert_eq!(cached, want);
            } else if let Some(got) = cached {
                // Full: it may have forgotten, never invented.
                prop_assert!(model.iter().any(|e| e.0[3] == host && (e.1 == 0 || e.1 == 80 + port) && e.3 == got));
            }
            c.note(&peer, why, now, ttl);
            if !matches!(why, Fallback::Policy | Fallback::Resources) {
                let p = if why == Fallback::Refused { 80 + port } else { 0 };
                match model.iter_mut().find(|e| e.0[3] == host && e.1 == p) {
                    Some(e) => { e.2 = now + ttl; e.3 = why; }
                    None => model.push(([10, 0, 0, host], p, now + ttl, why)),
                }
            }
            overflowed |= model.len() > N;
            prop_assert!(c.len() <= N);
        }
    }
}
