// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run by the kernel when the module loads; results appear as KTAP in
//! the kernel log and under `/sys/kernel/debug/kunit/`.

#[kernel::macros::kunit_tests(infinisock_sockets)]
mod sockets {
    use crate::{
        net::Net,
        proto::{socket_args::*, AF_IB, IPPROTO_SDP},
        sock::KernelSocket,
    };
    use kernel::prelude::*;

    const AF_INET: i32 = crate::bindings::AF_INET as i32;
    const AF_INET6: i32 = crate::bindings::AF_INET6 as i32;
    const SOCK_DGRAM: i32 = 2;

    fn create(family: i32, ty: i32, protocol: i32) -> Result<KernelSocket> {
        KernelSocket::create(Net::init_net(), family, ty, protocol)
    }

    #[test]
    fn af_ib_creates_stream_and_seqpacket() {
        let stream = create(AF_IB, SOCK_STREAM, 0).expect("AF_IB stream");
        assert_eq!(stream.protocol(), IPPROTO_SDP);
        let seqpacket = create(AF_IB, SOCK_SEQPACKET, 0).expect("AF_IB seqpacket");
        assert_eq!(seqpacket.protocol(), 0);
    }

    #[test]
    fn af_ib_rejects_other_types_and_protocols() {
        assert_eq!(create(AF_IB, SOCK_DGRAM, 0).err(), Some(ESOCKTNOSUPPORT));
        assert_eq!(create(AF_IB, SOCK_SEQPACKET, IPPROTO_SDP).err(), Some(EPROTONOSUPPORT));
        assert_eq!(create(AF_IB, SOCK_STREAM, 6).err(), Some(EPROTONOSUPPORT));
    }

    #[test]
    fn sdp_under_inet_and_inet6() {
        for family in [AF_INET, AF_INET6] {
            let s = create(family, SOCK_STREAM, IPPROTO_SDP).expect("SDP socket");
            assert_eq!(s.protocol(), IPPROTO_SDP);
        }
    }
}

#[kernel::macros::kunit_tests(infinisock_tunables)]
mod tunables {
    use crate::{
        net::Net,
        netns,
        proto::tunables::{tunable, TunableId, TUNABLES},
    };

    #[test]
    fn defaults_in_init_net() {
        assert_eq!(netns::tunable(Net::init_net(), TunableId::SdpEnable), tunable(TunableId::SdpEnable).default);
    }

    #[test]
    fn defaults_within_bounds() {
        for t in TUNABLES.iter() {
            assert!(t.accepts(t.default));
        }
    }
}
