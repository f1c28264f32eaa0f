// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run by the kernel when the module loads; results appear as KTAP in
//! the kernel log and under `/sys/kernel/debug/kunit/`.

#[kernel::macros::kunit_tests(infinisock_sockets)]
mod sockets {
    use crate::{
            kernel_api::{net::Net, sock::KernelSocket},
            proto::{socket_args::*, AF_IB, IPPROTO_SDP},
    };
    use kernel::prelude::*;

    const AF_INET: i32 = crate::kernel_api::bindings::AF_INET as i32;
    const AF_INET6: i32 = crate::kernel_api::bindings::AF_INET6 as i32;
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

#[kernel::macros::kunit_tests(infinisock_ffi)]
mod ffi {
    use crate::kernel_api::bindings;
    use core::mem::{offset_of, size_of};
    use kernel::prelude::*;

    use crate::kernel_api::bindings::c_layout;

    macro_rules! same_layout {
        ($($ty:ident { $($field:ident $(= $cname:literal)?),* })*) => {{
            let mut mismatches = 0;
            $(
                if c_layout(kernel::c_str!(stringify!($ty))) != size_of::<bindings::$ty>() {
                    pr_err!("layout: size of struct {} differs\n", stringify!($ty));
                    mismatches += 1;
                }
                $(
                    let name = same_layout!(@name $ty $field $($cname)?);
                    if c_layout(name) != offset_of!(bindings::$ty, $field) {
                        pr_err!("layout: offset of {} differs\n", name);
                        mismatches += 1;
                    }
                )*
            )*
            mismatches
        }};
        (@name $ty:ident $field:ident) => { kernel::c_str!(concat!(stringify!($ty), ".", stringify!($field))) };
        (@name $ty:ident $field:ident $cname:literal) => { kernel::c_str!($cname) };
    }

    /// Every table the module builds in Rust has the layout the C compiler expects.
    #[test]
    fn tables_match_c_layout() {
        let mismatches = same_layout! {
            proto { name, owner, init, unhash, obj_size, ipv6_pinfo_offset }
            proto_ops { family, owner, release, bind, mmap, recvmsg }
            net_proto_family { family, create, owner }
            inet_protosw { type_ = "inet_protosw.type", protocol, prot, ops }
            pernet_operations { init, exit, id, size }
            ctl_table { procname, data, maxlen, mode, proc_handler, extra1, extra2 }
            ib_client { name, add, remove }
            ib_port_attr { state, active_mtu }
        };
        assert_eq!(mismatches, 0);
    }

    /// A table that is registered already cannot be registered again.
    #[test]
    fn double_registration_refused() {
        let again = crate::kernel_api::ffi_static::Registration::new(&crate::family::af_ib::FAMILY);
        assert_eq!(again.err(), Some(EBUSY));
    }

    /// An unknown name is reported as such, so the check above cannot pass vacuously.
    #[test]
    fn unknown_layout_name() {
        assert_eq!(c_layout(kernel::c_str!("proto.no_such_field")), usize::MAX);
    }
}

#[kernel::macros::kunit_tests(infinisock_verbs)]
mod verbs {
    use crate::{link::devices::DEVICES, kernel_api::verbs::{Cq, Pd, Qp, QpCaps}};

    /// A PD, CQs and an RC QP on every RDMA device (the test bed has two rxe devices),
    /// all released again.
    #[test]
    fn rc_qp_on_every_device() {
        // Holding the list keeps the devices from being removed under the test.
        let devices = DEVICES.lock();
        assert!(!devices.is_empty());
        for dev in devices.iter() {
            let pd = Pd::new(dev).expect("PD");
            let send_cq = Cq::new(dev, 64).expect("send CQ");
            let recv_cq = Cq::new(dev, 64).expect("recv CQ");
            let caps = QpCaps { send_wr: 32, recv_wr: 32, sge: 1 };
            let a = Qp::new_rc(&pd, &send_cq, &recv_cq, caps).expect("QP");
            let b = Qp::new_rc(&pd, &send_cq, &recv_cq, caps).expect("second QP");
            assert!(a.num() != 0 && a.num() != b.num());
        }
    }

    /// A queue pair larger than the device allows is refused with an error, not a crash.
    #[test]
    fn oversized_qp_refused() {
        let devices = DEVICES.lock();
        let dev = devices.first().expect("an RDMA device");
        let pd = Pd::new(dev).expect("PD");
        let cq = Cq::new(dev, 16).expect("CQ");
        let caps = QpCaps { send_wr: u32::MAX, recv_wr: 16, sge: 1 };
        assert!(Qp::new_rc(&pd, &cq, &cq, caps).is_err());
    }
}

#[kernel::macros::kunit_tests(infinisock_tunables)]
mod tunables {
    use crate::{netns::tunables as netns, kernel_api::net::Net, proto::tunables::{tunable, TunableId, TUNABLES}};

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

#[kernel::macros::kunit_tests(infinisock_lists)]
mod lists {
    use crate::{
        kernel_api::list::KernelLists,
        proto::{
            error_queue::{Completion, ErrorQueue},
            list::List,
        },
    };
    use kernel::prelude::*;

    /// `KVec` keeps the protocol's list contract (the host tests check the logic on
    /// `Vec`): a push needs reserved room and gives the element back without it, a
    /// missing index is `None`, not a panic.
    #[test]
    fn kvec_keeps_the_list_contract() {
        let mut v: KVec<u32> = KVec::new();
        assert_eq!(v.push_reserved(1), Err(1));
        assert!(v.reserve_more(2).is_ok());
        assert_eq!(v.push_reserved(1), Ok(()));
        assert_eq!(v.try_push(2), Ok(()));
        assert_eq!(v.take_at(5), None);
        v.keep_if(|x| *x != 1);
        assert_eq!(&v[..], &[2]);
        v.cut_to(0);
        assert!(v.is_empty());
    }

    /// With `KVec`'s growth: a program that always leaves one record unread does not
    /// make the error queue's storage grow.
    #[test]
    fn error_queue_does_not_grow_with_one_left_unread() {
        let mut q = ErrorQueue::<KernelLists>::default();
        for token in 0..10_000u64 {
            q.reserve(1).expect("room");
            assert!(q.push(Completion { token, errno: 0, len: 1 }).is_ok());
            while q.len() > 1 {
                q.pop();
            }
            assert!(q.capacity() <= 16);
        }
    }
}

#[kernel::macros::kunit_tests(infinisock_mailbox)]
mod mailbox {
    use core::sync::atomic::{AtomicUsize, Ordering};

    use kernel::{prelude::*, sync::{Arc, ArcBorrow}};

    use crate::kernel_api::{
        mailbox::Mailbox,
        srq::SRQ_TAG,
        verbs::{CqEvents, CqSide, Cqe, POLL_BATCH},
    };

    /// Counts the events each ring raised.
    struct Events {
        send: AtomicUsize,
        recv: AtomicUsize,
    }

    impl CqEvents for Events {
        fn cq_event(this: ArcBorrow<'_, Self>, side: CqSide) {
            match side {
                CqSide::Send => this.send.fetch_add(1, Ordering::SeqCst),
                CqSide::Recv => this.recv.fetch_add(1, Ordering::SeqCst),
            };
        }
    }

    static SEND: Cqe = Cqe::new(7);
    static RECV: Cqe = Cqe::new(SRQ_TAG | 5);

    fn events() -> Arc<Events> {
        Arc::new(Events { send: AtomicUsize::new(0), recv: AtomicUsize::new(0) }, GFP_KERNEL).expect("events")
    }

    /// Each ring is armed from the start, wakes once per arming, keeps its order
    /// across the wrap, counts what it has no room for, and `arm` reports what is
    /// waiting; the two rings are apart.
    #[test]
    fn rings_wake_once_per_arming_wrap_and_count_the_lost() {
        let ev = events();
        let mb = Mailbox::new(3, 2, ev.clone()).expect("mailbox");
        let mut out = [None; POLL_BATCH];
        mb.deliver(&SEND, 0, 1);
        mb.deliver(&SEND, 0, 2);
        assert_eq!(ev.send.load(Ordering::SeqCst), 1);
        assert_eq!(ev.recv.load(Ordering::SeqCst), 0);
        let (n, lost, empty) = mb.poll(CqSide::Send, &mut out, POLL_BATCH);
        assert_eq!((n, lost, empty), (2, 0, true));
        assert_eq!(out[0].map(|wc| (wc.tag, wc.byte_len)), Some((7, 1)));
        assert_eq!(out[1].map(|wc| wc.byte_len), Some(2));
        assert!(!mb.arm(CqSide::Send));
        // Past the end of the ring: 3, 4 and 5 wrap around, 6 has no room.
        for len in 3..=6 {
            mb.deliver(&SEND, 0, len);
        }
        assert_eq!(ev.send.load(Ordering::SeqCst), 2);
        assert!(mb.arm(CqSide::Send));
        let (n, lost, empty) = mb.poll(CqSide::Send, &mut out, 2);
        assert_eq!((n, lost, empty), (2, 1, false));
        assert_eq!(out[0].map(|wc| wc.byte_len), Some(3));
        assert_eq!(out[1].map(|wc| wc.byte_len), Some(4));
        let (n, lost, empty) = mb.poll(CqSide::Send, &mut out, POLL_BATCH);
        assert_eq!((n, lost, empty), (1, 0, true));
        assert_eq!(out[0].map(|wc| wc.byte_len), Some(5));
        // The receive ring: armed from the start too, its own entries.
        mb.deliver(&RECV, 5, 100);
        assert_eq!(ev.recv.load(Ordering::SeqCst), 1);
        let (n, _, _) = mb.poll(CqSide::Recv, &mut out, POLL_BATCH);
        assert_eq!(n, 1);
        assert_eq!(out[0].map(|wc| (wc.tag, wc.status, wc.byte_len)), Some((SRQ_TAG | 5, 5, 100)));
        assert!(!mb.ended());
    }
}
