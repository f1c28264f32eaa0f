// SPDX-License-Identifier: GPL-2.0
//! Transparent SDP's policy: the sysctl texts it takes and refuses, its canonical
//! form, and which connections and listeners it covers.

use infinisock_proto::errno::EINVAL;
use infinisock_proto::policy::*;
use infinisock_proto::sockaddr::SockAddr;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn v4(a: [u8; 4], port: u16) -> SockAddr {
    SockAddr::V4 { addr: a, port }
}

fn v6(text: &str, port: u16) -> SockAddr {
    SockAddr::V6 { addr: text.parse::<Ipv6Addr>().unwrap().octets(), port, flowinfo: 0, scope_id: 0 }
}

#[test]
fn ports_with_ranges_and_exclusions() {
    let p = Ports::parse("1-1024, 8080 ,!22").unwrap();
    assert_eq!(p.to_string(), "1-1024,8080,!22");
    assert!(p.contains(80) && p.contains(1024) && p.contains(8080));
    assert!(!p.contains(22) && !p.contains(1025) && !p.contains(8081));
    // Only exclusions: every other port.
    let q = Ports::parse("!22,!6000-6010").unwrap();
    assert!(q.contains(80) && q.contains(65535) && !q.contains(22) && !q.contains(6005));
    // Empty: every port.
    assert!(Ports::parse("").unwrap().contains(1) && Ports::parse(" \n").unwrap().contains(65535));
    assert_eq!(Ports::parse("").unwrap().to_string(), "");
}

#[test]
fn bad_port_lists_are_einval() {
    for bad in ["0", "65536", "-1", "10-5", "a", "1,,2", "1-", "-5", "!", "1 2", "+1", "0x50", "80,", "1-2-3"] {
        assert_eq!(Ports::parse(bad), Err(EINVAL), "{bad:?}");
    }
    let many: Vec<String> = (1..=MAX_ENTRIES as u16 + 1).map(|p| p.to_string()).collect();
    assert_eq!(Ports::parse(&many.join(",")), Err(EINVAL));
    assert!(Ports::parse(&many[..MAX_ENTRIES].join(",")).is_ok());
}

#[test]
fn peer_prefixes_of_both_versions() {
    let p = Prefixes::parse("10.0.0.0/8, fd00::/8, !10.1.2.3").unwrap();
    assert_eq!(p.to_string(), "10.0.0.0/8,fd00::/8,!10.1.2.3/32");
    assert!(p.contains(&v4([10, 9, 8, 7], 1)));
    assert!(!p.contains(&v4([10, 1, 2, 3], 1)));
    assert!(!p.contains(&v4([192, 168, 0, 1], 1)));
    assert!(p.contains(&v6("fd12::1", 1)));
    assert!(!p.contains(&v6("fe80::1", 1)));
    // An AF_INET6 socket reaching an IPv4 peer.
    assert!(p.contains(&v6("::ffff:10.0.0.1", 1)));
    assert!(!p.contains(&v6("::ffff:10.1.2.3", 1)));
    let all = Prefixes::parse("").unwrap();
    assert!(all.contains(&v4([1, 2, 3, 4], 1)) && all.contains(&v6("2001:db8::1", 1)));
    let everything_but = Prefixes::parse("!0.0.0.0/0").unwrap();
    assert!(!everything_but.contains(&v4([1, 2, 3, 4], 1)) && everything_but.contains(&v6("::1", 1)));
}

#[test]
fn bad_prefixes_are_einval() {
    for bad in [
        "10.0.0.1/8", "10.0.0.0/33", "10.0.0", "10.0.0.0.0", "256.0.0.0", "010.0.0.0", "10.0.0.0/", "10.0.0.0/-1",
        "fd00::/129", "fd00::1/8", ":::", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::/08x",
        "10.0.0.0/8 ,", "host.example", "",
    ] {
        if bad.is_empty() {
            continue;
        }
        assert_eq!(Prefixes::parse(bad), Err(EINVAL), "{bad:?}");
    }
}

#[test]
fn the_mode_and_the_whole_policy() {
    assert!(!Mode::from_tunable(0).on());
    assert_eq!(Mode::from_tunable(1), Mode { connect: true, listen: false });
    assert_eq!(Mode::from_tunable(2), Mode { connect: false, listen: true });
    assert_eq!(Mode::from_tunable(3), Mode { connect: true, listen: true });
    let p = Policy { mode: Mode::from_tunable(3), ports: Ports::parse("!22").unwrap(), peers: Prefixes::parse("10.0.0.0/8").unwrap() };
    assert!(p.connect_over_sdp(&v4([10, 0, 0, 2], 80)));
    assert!(!p.connect_over_sdp(&v4([10, 0, 0, 2], 22)));
    assert!(!p.connect_over_sdp(&v4([11, 0, 0, 2], 80)));
    assert!(p.listen_over_sdp(80) && !p.listen_over_sdp(22));
    let connect_only = Policy { mode: Mode::from_tunable(1), ..p };
    assert!(!connect_only.listen_over_sdp(80));
    assert!(!Policy::OFF.connect_over_sdp(&v4([10, 0, 0, 2], 80)) && !Policy::OFF.listen_over_sdp(80));
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        // Runs of zero groups are what `::` is for.
        proptest::collection::vec(prop_oneof![3 => Just(0u16), 1 => any::<u16>()], 8)
            .prop_map(|g| IpAddr::V6(Ipv6Addr::new(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]))),
    ]
}

fn masked(a: IpAddr, len: u8) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0))),
    }
}

fn sockaddr(a: IpAddr) -> SockAddr {
    match a {
        IpAddr::V4(a) => v4(a.octets(), 1),
        IpAddr::V6(a) => SockAddr::V6 { addr: a.octets(), port: 1, flowinfo: 0, scope_id: 0 },
    }
}

proptest! {
    /// Any address std prints parses to itself, and prints as std prints it (RFC 5952)
    /// but for IPv4-mapped ones, which std prints dotted.
    #[test]
    fn addresses_read_and_print_as_the_standard_library_does(a in ip(), len in 0u8..=128) {
        let max = if a.is_ipv4() { 32 } else { 128 };
        let len = len.min(max);
        let net = masked(a, len);
        let text = format!("{net}/{len}");
        let p = Prefixes::parse(&text).unwrap();
        let mapped = matches!(net, IpAddr::V6(v) if v.to_ipv4_mapped().is_some());
        if !mapped {
            prop_assert_eq!(p.to_string(), text.clone());
        }
        // Canonical text parses to the same policy.
        prop_assert_eq!(Prefixes::parse(&p.to_string()).unwrap(), p);
        // The prefix covers its own network, and an address outside it is not covered.
        prop_assert!(p.contains(&sockaddr(a)) || mapped);
        if len > 0 && !mapped {
            let flipped = match a {
                IpAddr::V4(x) => IpAddr::V4(Ipv4Addr::from(u32::from(x) ^ (1 << (32 - u32::from(len))))),
                IpAddr::V6(x) => IpAddr::V6(Ipv6Addr::from(u128::from(x) ^ (1u128 << (128 - u32::from(len))))),
            };
            let flipped_mapped = matches!(flipped, IpAddr::V6(v) if v.to_ipv4_mapped().is_some());
            if !flipped_mapped {
                prop_assert!(!p.contains(&sockaddr(flipped)));
            }
        }
    }

    /// A port list matches as its model says: in some inclusion (or there is none),
    /// in no exclusion; its canonical text reads back the same.
    #[test]
    fn ports_match_their_model(
        entries in proptest::collection::vec((any::<bool>(), 1u16..=65535, 0u16..50), 0..MAX_ENTRIES),
        probe in 1u16..=65535,
    ) {
        let text: Vec<String> = entries.iter().map(|(ex, lo, span)| {
            let hi = lo.saturating_add(*span);
            let body = if *span == 0 { lo.to_string() } else { format!("{lo}-{hi}") };
            if *ex { format!("!{body}") } else { body }
        }).collect();
        let p = Ports::parse(&text.join(",")).unwrap();
        prop_assert_eq!(Ports::parse(&p.to_string()).unwrap(), p);
        let covers = |(_, lo, span): &(bool, u16, u16)| (*lo..=lo.saturating_add(*span)).contains(&probe);
        let inc: Vec<_> = entries.iter().filter(|e| !e.0).collect();
        let expected = (inc.is_empty() || inc.iter().any(|e| covers(e))) && !entries.iter().any(|e| e.0 && covers(e));
        prop_assert_eq!(p.contains(probe), expected);
    }

    /// Whatever text an administrator writes: a policy or EINVAL, never a panic.
    #[test]
    fn any_text_parses_or_is_refused(text in "[0-9a-fA-F:./!, -]{0,80}") {
        let _ = Ports::parse(&text);
        let _ = Prefixes::parse(&text);
    }
}
