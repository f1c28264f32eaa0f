// SPDX-License-Identifier: GPL-2.0
//! Socket addresses: the errnos TCP gives, and encode/decode round trips.

use infinisock_proto::errno::{EAFNOSUPPORT, EINVAL};
use infinisock_proto::sockaddr::*;
use proptest::prelude::*;

fn sin(family: u16, port: u16, addr: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0; SOCKADDR_IN_LEN];
    v[0..2].copy_from_slice(&family.to_ne_bytes());
    v[2..4].copy_from_slice(&port.to_be_bytes());
    v[4..8].copy_from_slice(&addr);
    v
}

#[test]
fn bind_v4_like_inet_bind() {
    let a = sin(AF_INET, 5000, [10, 77, 0, 1]);
    assert_eq!(parse_bind(AF_INET, PortSpace::Tcp, &a), Ok(SockAddr::V4 { addr: [10, 77, 0, 1], port: 5000 }));
    assert_eq!(parse_bind(AF_INET, PortSpace::Tcp, &a[..15]), Err(EINVAL));
    assert_eq!(parse_bind(AF_INET, PortSpace::Tcp, &sin(AF_INET6, 1, [0; 4])), Err(EAFNOSUPPORT));
    // AF_UNSPEC only with INADDR_ANY.
    assert!(parse_bind(AF_INET, PortSpace::Tcp, &sin(AF_UNSPEC, 1, [0; 4])).is_ok());
    assert_eq!(parse_bind(AF_INET, PortSpace::Tcp, &sin(AF_UNSPEC, 1, [1, 2, 3, 4])), Err(EAFNOSUPPORT));
}

#[test]
fn bind_v6_accepts_rfc2133_length() {
    let mut a = vec![0; SOCKADDR_IN6_LEN];
    a[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
    a[2..4].copy_from_slice(&80u16.to_be_bytes());
    a[23] = 1;
    let p = parse_bind(AF_INET6, PortSpace::Tcp, &a[..SIN6_LEN_RFC2133]).unwrap();
    assert_eq!(p.port(), 80);
    assert_eq!(parse_bind(AF_INET6, PortSpace::Tcp, &a[..23]), Err(EINVAL));
    assert_eq!(parse_bind(AF_INET6, PortSpace::Tcp, &sin(AF_INET, 1, [0; 4])), Err(EINVAL));
}

#[test]
fn connect_errnos() {
    assert_eq!(parse_connect(AF_INET, PortSpace::Tcp, &[0]), Err(EINVAL));
    assert_eq!(parse_connect(AF_INET, PortSpace::Tcp, &sin(AF_UNSPEC, 0, [0; 4])), Ok(Parsed::Unspec));
    assert_eq!(parse_connect(AF_INET, PortSpace::Tcp, &sin(AF_INET6, 0, [0; 4])), Err(EAFNOSUPPORT));
    assert_eq!(parse_connect(AF_INET, PortSpace::Tcp, &sin(AF_INET, 7, [1; 4])[..12]), Err(EINVAL));
}

proptest! {
    #[test]
    fn never_panics(fam in prop_oneof![Just(AF_INET), Just(AF_INET6), any::<u16>()],
                    raw in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = parse_bind(fam, PortSpace::Tcp, &raw);
        let _ = parse_connect(fam, PortSpace::Tcp, &raw);
        let _ = SockAddr::decode(&raw);
    }

    #[test]
    fn encode_decode_round_trip(v6 in any::<bool>(), addr in any::<[u8; 16]>(), port in any::<u16>(),
                                flowinfo in any::<u32>(), scope_id in any::<u32>()) {
        let a = if v6 {
            SockAddr::V6 { addr, port, flowinfo, scope_id }
        } else {
            SockAddr::V4 { addr: [addr[0], addr[1], addr[2], addr[3]], port }
        };
        let mut out = [0; SOCKADDR_IN6_LEN];
        let len = a.encode(&mut out);
        prop_assert_eq!(SockAddr::decode(&out[..len]), Some(a));
        let parsed = if v6 { parse_bind(AF_INET6, PortSpace::Tcp, &out[..len]) } else { parse_bind(AF_INET, PortSpace::Tcp, &out[..len]) };
        prop_assert_eq!(parsed, Ok(a));
    }
}

fn sib(pkey: u16, gid: [u8; 16], sid: u64, mask: u64, scope: u64) -> Vec<u8> {
    let mut v = vec![0; SOCKADDR_IB_LEN];
    v[0..2].copy_from_slice(&AF_IB.to_ne_bytes());
    v[2..4].copy_from_slice(&pkey.to_be_bytes());
    v[8..24].copy_from_slice(&gid);
    v[24..32].copy_from_slice(&sid.to_be_bytes());
    v[32..40].copy_from_slice(&mask.to_be_bytes());
    v[40..48].copy_from_slice(&scope.to_ne_bytes());
    v
}

const GID_V4: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2];

#[test]
fn ib_gid_and_service_id_map_to_ip_and_port() {
    let a = sib(0xffff, GID_V4, SID_PS_TCP + 5000, u64::MAX, 0);
    assert_eq!(parse_ib(&a, PortSpace::Tcp), Ok(SockAddr::V4 { addr: [10, 77, 0, 2], port: 5000 }));
    assert_eq!(parse_bind(AF_IB, PortSpace::Tcp, &a), parse_ib(&a, PortSpace::Tcp));
    assert_eq!(parse_connect(AF_IB, PortSpace::Tcp, &a), Ok(Parsed::Addr(parse_ib(&a, PortSpace::Tcp).unwrap())));
    // pkey 0 and mask 0 mean the defaults; sid 0 is port 0.
    assert_eq!(parse_ib(&sib(0, [0; 16], 0, 0, 0), PortSpace::Tcp), Ok(SockAddr::V6 { addr: [0; 16], port: 0, flowinfo: 0, scope_id: 0 }));
    let mut v6 = [0u8; 16];
    v6[0] = 0xfd;
    v6[1] = 0x77;
    v6[15] = 2;
    assert_eq!(parse_ib(&sib(0xffff, v6, SID_PS_TCP + 1, u64::MAX, 0), PortSpace::Tcp).unwrap().ip_version(), 6);
}

#[test]
fn ib_bad_fields_are_einval() {
    let good = sib(0xffff, GID_V4, SID_PS_TCP + 1, u64::MAX, 0);
    assert_eq!(parse_ib(&good[..47], PortSpace::Tcp), Err(EINVAL));
    assert_eq!(parse_ib(&sib(0x8001, GID_V4, SID_PS_TCP + 1, 0, 0), PortSpace::Tcp), Err(EINVAL));
    // A service ID outside RDMA_PS_TCP, and a partial mask.
    assert_eq!(parse_ib(&sib(0xffff, GID_V4, (0x0111 << 16) + 1, 0, 0), PortSpace::Tcp), Err(EINVAL));
    assert_eq!(parse_ib(&sib(0xffff, GID_V4, SID_PS_TCP + 1, 0xffff, 0), PortSpace::Tcp), Err(EINVAL));
    // A scope id with an IPv4 GID, or beyond 32 bits.
    assert_eq!(parse_ib(&sib(0xffff, GID_V4, SID_PS_TCP + 1, 0, 3), PortSpace::Tcp), Err(EINVAL));
    assert_eq!(parse_ib(&sib(0xffff, [0; 16], SID_PS_TCP + 1, 0, 1 << 40), PortSpace::Tcp), Err(EINVAL));
    // A service ID of the other port space: a stream is not named by a message
    // socket's service ID, nor the other way round.
    assert_eq!(parse_ib(&good, PortSpace::Ib), Err(EINVAL));
    assert_eq!(parse_ib(&sib(0xffff, GID_V4, SID_PS_IB + 1, 0, 0), PortSpace::Tcp), Err(EINVAL));
    assert_eq!(parse_ib(&sib(0xffff, GID_V4, SID_PS_IB + 1, 0, 0), PortSpace::Ib), Ok(SockAddr::V4 { addr: [10, 77, 0, 2], port: 1 }));
    let mut wrong = good.clone();
    wrong[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
    assert_eq!(parse_ib(&wrong, PortSpace::Tcp), Err(EAFNOSUPPORT));
}

#[test]
fn ib_sockets_take_ip_addresses_too() {
    let a = sin(AF_INET, 7, [10, 77, 0, 2]);
    assert_eq!(parse_bind(AF_IB, PortSpace::Tcp, &a), parse_bind(AF_INET, PortSpace::Tcp, &a));
    assert_eq!(parse_connect(AF_IB, PortSpace::Tcp, &a), parse_connect(AF_INET, PortSpace::Tcp, &a));
    assert_eq!(parse_connect(AF_IB, PortSpace::Tcp, &sin(AF_UNSPEC, 0, [0; 4])), Ok(Parsed::Unspec));
}

proptest! {
    #[test]
    fn ib_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_ib(&raw, PortSpace::Tcp);
        let _ = parse_bind(AF_IB, PortSpace::Tcp, &raw);
        let _ = parse_connect(AF_IB, PortSpace::Tcp, &raw);
    }

    #[test]
    fn ib_encode_parse_round_trip(ib_ps in any::<bool>(), v6 in any::<bool>(), addr in any::<[u8; 16]>(), port in any::<u16>(),
                                  flowinfo in any::<u32>(), scope_id in any::<u32>()) {
        let a = if v6 && addr[..12] != GID_V4[..12] {
            SockAddr::V6 { addr, port, flowinfo, scope_id }
        } else {
            SockAddr::V4 { addr: [addr[0], addr[1], addr[2], addr[3]], port }
        };
        let ps = if ib_ps { PortSpace::Ib } else { PortSpace::Tcp };
        let mut out = [0; SOCKADDR_IB_LEN];
        prop_assert_eq!(a.encode_ib(ps, &mut out), SOCKADDR_IB_LEN);
        prop_assert_eq!(parse_ib(&out, ps), Ok(a));
        let mut any = [0; SOCKADDR_MAX_LEN];
        prop_assert_eq!(a.encode_for(AF_IB, ps, &mut any), SOCKADDR_IB_LEN);
        prop_assert_eq!(&any[..], &out[..]);
    }
}

fn v4(a: [u8; 4]) -> SockAddr {
    SockAddr::V4 { addr: a, port: 5000 }
}

fn v6(a: [u8; 16]) -> SockAddr {
    SockAddr::V6 { addr: a, port: 5000, flowinfo: 0, scope_id: 0 }
}

fn mapped(a: [u8; 4]) -> SockAddr {
    let mut m = [0u8; 16];
    m[10] = 0xff;
    m[11] = 0xff;
    m[12..].copy_from_slice(&a);
    v6(m)
}

#[test]
fn loopback_addresses() {
    let mut one = [0u8; 16];
    one[15] = 1;
    for a in [v4([127, 0, 0, 1]), v4([127, 9, 8, 7]), v6(one), mapped([127, 0, 0, 1])] {
        assert!(a.is_loopback(), "{a:?}");
    }
    for a in [v4([10, 77, 0, 1]), v4([0; 4]), v6([0; 16]), mapped([10, 0, 0, 1]), v4([128, 0, 0, 1])] {
        assert!(!a.is_loopback(), "{a:?}");
    }
}

#[test]
fn connections_go_to_unicast_peers_only() {
    let mut one = [0u8; 16];
    one[15] = 1;
    let mut all_nodes = [0u8; 16];
    all_nodes[0] = 0xff;
    all_nodes[1] = 0x02;
    all_nodes[15] = 1;
    for a in [v4([127, 0, 0, 1]), v6(one), mapped([127, 1, 2, 3]), v4([224, 0, 0, 1]), v4([239, 255, 255, 255]),
              v4([255; 4]), v6(all_nodes), mapped([224, 0, 0, 251]), v4([0; 4]), v6([0; 16]), mapped([0; 4])]
    {
        assert!(!a.is_unicast_peer(), "{a:?}");
    }
    let mut ula = [0u8; 16];
    ula[0] = 0xfd;
    ula[15] = 2;
    for a in [v4([10, 77, 0, 2]), v4([223, 255, 255, 255]), v4([240, 0, 0, 1]), v6(ula), mapped([10, 77, 0, 2])]
    {
        assert!(a.is_unicast_peer(), "{a:?}");
    }
}

#[test]
fn a_listener_serves_its_own_address_only() {
    let (a, b) = ([10, 77, 0, 1], [10, 77, 0, 2]);
    // The wildcard of either family serves everything.
    for any in [v4([0; 4]), v6([0; 16])] {
        assert!(any.serves(&v4(a)) && any.serves(&mapped(b)));
    }
    // A loopback listener does not serve a request addressed to the interface.
    assert!(!v4([127, 0, 0, 1]).serves(&v4(a)));
    assert!(v4(a).serves(&v4(a)) && v4(a).serves(&mapped(a)) && mapped(a).serves(&v4(a)));
    assert!(!v4(a).serves(&v4(b)) && !mapped(a).serves(&mapped(b)));
    let mut fd = [0u8; 16];
    fd[0] = 0xfd;
    fd[15] = 1;
    let mut fd2 = fd;
    fd2[15] = 2;
    assert!(v6(fd).serves(&v6(fd)) && !v6(fd).serves(&v6(fd2)) && !v6(fd).serves(&v4(a)));
}

proptest! {
    /// Ports never matter, and a specific address serves exactly the addresses equal
    /// to it (as IPv4 or IPv4-mapped).
    #[test]
    fn serves_is_address_equality(x in any::<[u8; 4]>(), y in any::<[u8; 4]>(), p in any::<u16>(), q in any::<u16>()) {
        prop_assume!(x != [0; 4]);
        let bound = SockAddr::V4 { addr: x, port: p };
        let dst = SockAddr::V4 { addr: y, port: q };
        prop_assert_eq!(bound.serves(&dst), x == y);
        prop_assert_eq!(mapped(x).with_port(p).serves(&dst), x == y);
    }
}

#[test]
fn trace_events_carry_ipv4_mapped_into_ipv6() {
    use infinisock_proto::sockaddr::SockAddr;
    let v4 = SockAddr::V4 { addr: [10, 77, 0, 2], port: 7201 };
    assert_eq!(v4.as_mapped_v6(), ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2], 7201));
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = 2;
    let v6 = SockAddr::V6 { addr: a, port: 9, flowinfo: 7, scope_id: 3 };
    assert_eq!(v6.as_mapped_v6(), (a, 9));
}
