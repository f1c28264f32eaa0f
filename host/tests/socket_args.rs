// SPDX-License-Identifier: GPL-2.0

use infinisock_proto::errno::{EPROTONOSUPPORT, ESOCKTNOSUPPORT};
use infinisock_proto::socket_args::*;
use infinisock_proto::IPPROTO_SDP;
use proptest::prelude::*;

#[test]
fn accepted_combinations() {
    assert_eq!(af_ib_kind(SOCK_STREAM, 0), Ok(AfIbKind::Stream));
    assert_eq!(af_ib_kind(SOCK_STREAM, IPPROTO_SDP), Ok(AfIbKind::Stream));
    assert_eq!(af_ib_kind(SOCK_SEQPACKET, 0), Ok(AfIbKind::SeqPacket));
}

#[test]
fn errors_match_inet_create() {
    // SOCK_DGRAM, SOCK_RAW, SOCK_RDM: no such type in AF_IB.
    for ty in [2, 3, 4] {
        assert_eq!(af_ib_kind(ty, 0), Err(ESOCKTNOSUPPORT));
    }
    assert_eq!(af_ib_kind(SOCK_SEQPACKET, IPPROTO_SDP), Err(EPROTONOSUPPORT));
    assert_eq!(af_ib_kind(SOCK_STREAM, 6), Err(EPROTONOSUPPORT));
}

proptest! {
    /// Every (type, protocol) pair gets an answer, and only the three documented pairs
    /// create a socket.
    #[test]
    fn only_documented_pairs_succeed(ty in any::<i32>(), protocol in any::<i32>()) {
        let ok = matches!((ty, protocol), (SOCK_STREAM, 0) | (SOCK_STREAM, IPPROTO_SDP) | (SOCK_SEQPACKET, 0));
        prop_assert_eq!(af_ib_kind(ty, protocol).is_ok(), ok);
        if ty != SOCK_STREAM && ty != SOCK_SEQPACKET {
            prop_assert_eq!(af_ib_kind(ty, protocol), Err(ESOCKTNOSUPPORT));
        }
    }
}
