// SPDX-License-Identifier: GPL-2.0

use infinisock_proto::ib_port::{link_layer_name, mtu_bytes, port_state_name};
use infinisock_proto::tunables::{tunable, TunableId, TUNABLES};

#[test]
fn tunable_defaults_are_within_bounds() {
    for t in TUNABLES.iter() {
        assert!(t.min <= t.max, "{:?}", t.name);
        assert!(t.accepts(t.default), "{:?}", t.name);
        assert!(!t.accepts(t.max.saturating_add(1)) || t.max == i32::MAX);
    }
}

#[test]
fn tunable_ids_index_their_entries() {
    assert_eq!(tunable(TunableId::SdpEnable).name.to_str().unwrap(), "sdp_enable");
    assert_eq!(tunable(TunableId::SdpEnable).default, 1);
}

#[test]
fn tunable_names_are_unique_sysctl_names() {
    for (i, a) in TUNABLES.iter().enumerate() {
        let name = a.name.to_str().unwrap();
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        for b in &TUNABLES[i + 1..] {
            assert_ne!(a.name, b.name);
        }
    }
}

#[test]
fn ib_mtu_enum_to_bytes() {
    assert_eq!([1, 2, 3, 4, 5].map(mtu_bytes), [256, 512, 1024, 2048, 4096]);
    assert_eq!(mtu_bytes(0), 0);
    assert_eq!(mtu_bytes(6), 0);
    assert_eq!(mtu_bytes(u32::MAX), 0);
}

#[test]
fn port_words() {
    assert_eq!(port_state_name(4), "ACTIVE");
    assert_eq!(port_state_name(1), "DOWN");
    assert_eq!(port_state_name(99), "UNKNOWN");
    assert_eq!(link_layer_name(2), "Ethernet");
    assert_eq!(link_layer_name(1), "InfiniBand");
}

/// A container's root may set at most the defaults of what sizes a connection's
/// memory, and anything within the bounds of the rest.
#[test]
fn userns_bounds_within_bounds() {
    use infinisock_proto::tunables::GLOBAL_TUNABLES;
    for t in TUNABLES.iter().chain(GLOBAL_TUNABLES.iter()) {
        assert!(t.min <= t.userns_max && t.userns_max <= t.max, "{:?}", t.name);
        assert_eq!(t.max_for(true), t.max);
        assert_eq!(t.max_for(false), t.userns_max);
    }
    for id in [TunableId::SdpRecvBuffers, TunableId::SdpSendBuffers, TunableId::SdpBufferSize, TunableId::SdpRecvFloor] {
        assert_eq!(tunable(id).userns_max, tunable(id).default);
    }
}

/// The zero-copy source's clocks: OFED's one-second advert timeout and a 5 s wait for
/// a cancel's answer, each settable from 100 ms to a minute, for anyone (they size
/// no memory).
#[test]
fn zcopy_timeouts() {
    use infinisock_proto::zc_src::{ADVERT_TIMEOUT_MS_DEFAULT, CANCEL_TIMEOUT_MS_DEFAULT};
    let advert = tunable(TunableId::SdpZcopyTimeoutMs);
    let cancel = tunable(TunableId::SdpZcopyCancelMs);
    assert_eq!(advert.name.to_str().unwrap(), "sdp_zcopy_timeout_ms");
    assert_eq!(cancel.name.to_str().unwrap(), "sdp_zcopy_cancel_ms");
    assert_eq!((advert.default, cancel.default), (1000, 5000));
    assert_eq!((advert.default as u64, cancel.default as u64), (ADVERT_TIMEOUT_MS_DEFAULT, CANCEL_TIMEOUT_MS_DEFAULT));
    for t in [advert, cancel] {
        assert!(!t.accepts(99) && t.accepts(100) && t.accepts(60_000) && !t.accepts(60_001));
        assert_eq!(t.userns_max, t.max);
    }
}

/// The adaptive choice's bounds: the floor (`sdp_zcopy_thresh`, OFED's 64 KiB) and
/// the ceiling (`sdp_zcopy_thresh_max`, OFED's largest, 1 MiB), each 4 KiB to 1 MiB,
/// for anyone (they size no memory).
#[test]
fn zcopy_threshold_bounds() {
    let floor = tunable(TunableId::SdpZcopyThresh);
    let ceiling = tunable(TunableId::SdpZcopyThreshMax);
    assert_eq!(ceiling.name.to_str().unwrap(), "sdp_zcopy_thresh_max");
    assert_eq!((floor.default, ceiling.default), (64 << 10, 1 << 20));
    for t in [floor, ceiling] {
        assert!(!t.accepts(4095) && t.accepts(4096) && t.accepts(1 << 20) && !t.accepts((1 << 20) + 1));
        assert_eq!(t.userns_max, t.max);
    }
}
