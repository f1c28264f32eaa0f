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
    assert_eq!(parse_bind(AF_INET, &a), Ok(SockAddr::V4 { addr: [10, 77, 0, 1], port: 5000 }));
    assert_eq!(parse_bind(AF_INET, &a[..15]), Err(EINVAL));
    assert_eq!(parse_bind(AF_INET, &sin(AF_INET6, 1, [0; 4])), Err(EAFNOSUPPORT));
    // AF_UNSPEC only with INADDR_ANY.
    assert!(parse_bind(AF_INET, &sin(AF_UNSPEC, 1, [0; 4])).is_ok());
    assert_eq!(parse_bind(AF_INET, &sin(AF_UNSPEC, 1, [1, 2, 3, 4])), Err(EAFNOSUPPORT));
}

#[test]
fn bind_v6_accepts_rfc2133_length() {
    let mut a = vec![0; SOCKADDR_IN6_LEN];
    a[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
    a[2..4].copy_from_slice(&80u16.to_be_bytes());
    a[23] = 1;
    let p = parse_bind(AF_INET6, &a[..SIN6_LEN_RFC2133]).unwrap();
    assert_eq!(p.port(), 80);
    assert_eq!(parse_bind(AF_INET6, &a[..23]), Err(EINVAL));
    assert_eq!(parse_bind(AF_INET6, &sin(AF_INET, 1, [0; 4])), Err(EINVAL));
}

#[test]
fn connect_errnos() {
    assert_eq!(parse_connect(AF_INET, &[0]), Err(EINVAL));
    assert_eq!(parse_connect(AF_INET, &sin(AF_UNSPEC, 0, [0; 4])), Ok(Parsed::Unspec));
    assert_eq!(parse_connect(AF_INET, &sin(AF_INET6, 0, [0; 4])), Err(EAFNOSUPPORT));
    assert_eq!(parse_connect(AF_INET, &sin(AF_INET, 7, [1; 4])[..12]), Err(EINVAL));
}

proptest! {
    #[test]
    fn never_panics(fam in prop_oneof![Just(AF_INET), Just(AF_INET6), any::<u16>()],
                    raw in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = parse_bind(fam, &raw);
        let _ = parse_connect(fam, &raw);
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
        let parsed = if v6 { parse_bind(AF_INET6, &out[..len]) } else { parse_bind(AF_INET, &out[..len]) };
        prop_assert_eq!(parsed, Ok(a));
    }
}
