// SPDX-License-Identifier: GPL-2.0
//! The lines of `/proc/net/infinisock/sdp`, as the tools and tests read them.

use infinisock_proto::conn_state::Phase;
use infinisock_proto::hybrid::{Fallback, Path};
use infinisock_proto::proc_row::*;
use infinisock_proto::sockaddr::SockAddr;

#[test]
fn addresses_as_the_table_shows_them() {
    assert_eq!(ProcAddr(None).to_string(), "*:*");
    assert_eq!(ProcAddr(Some(SockAddr::V4 { addr: [10, 0, 0, 2], port: 5001 })).to_string(), "10.0.0.2:5001");
    let mut v6 = [0u8; 16];
    v6[0] = 0xfe;
    v6[1] = 0x80;
    v6[15] = 1;
    let a = SockAddr::V6 { addr: v6, port: 80, flowinfo: 0, scope_id: 0 };
    assert_eq!(ProcAddr(Some(a)).to_string(), "[fe80:0:0:0:0:0:0:1]:80");
}

#[test]
fn a_row_per_socket_with_the_header_s_columns() {
    let header_cols = HEADER.split_whitespace().count();
    let listener = Row::Socket {
        local: Some(SockAddr::V4 { addr: [0; 4], port: 7 }),
        peer: None,
        phase: Phase::Listening,
        orphaned: false,
        link: None,
        path: None,
    };
    assert_eq!(listener.to_string(), "0.0.0.0:7 *:* listen 0 0 0 0 0 ----- - 0/0 -\n");
    let closing = Row::Socket {
        local: Some(SockAddr::V4 { addr: [10, 0, 0, 1], port: 40000 }),
        peer: Some(SockAddr::V4 { addr: [10, 0, 0, 2], port: 7 }),
        phase: Phase::Connected,
        orphaned: true,
        link: Some(LinkRow {
            rx_queue: 3,
            tx_queue: 4096,
            credits: 14,
            peer_bufs: 16,
            posted: 16,
            fin_pending: false,
            fin_sent: true,
            fin_received: true,
            peer_gone: false,
            zc_thresh: Some(262144),
            zc_adaptive: true,
            zc_adverts_out: 2,
            zc_adverts_in: 1,
        }),
        path: Some(Path::Sdp),
    };
    assert_eq!(closing.to_string(), "10.0.0.1:40000 10.0.0.2:7 established 3 4096 14 16 16 O-FR- auto:262144 2/1 sdp\n");
    assert_eq!(Row::Busy.to_string(), "*:* *:* busy 0 0 0 0 0 ----- - - -\n");
    let fell_back = Row::Socket {
        local: None,
        peer: Some(SockAddr::V4 { addr: [10, 0, 0, 2], port: 7 }),
        phase: Phase::Closed,
        orphaned: false,
        link: None,
        path: Some(Path::Tcp(Fallback::Refused)),
    };
    assert_eq!(fell_back.to_string(), "*:* 10.0.0.2:7 closed 0 0 0 0 0 ----- - 0/0 tcp/refused\n");
    for row in [listener, closing, Row::Busy, fell_back] {
        assert_eq!(row.to_string().split_whitespace().count(), header_cols);
    }
    for (thresh, shown) in [(None, "-"), (Some(65536), "65536"), (Some(0), "0")] {
        assert_eq!(ProcThresh(thresh, false).to_string(), shown);
    }
    assert_eq!(ProcThresh(None, true).to_string(), "-");
    for (phase, name) in [
        (Phase::Open, "open"),
        (Phase::Connecting, "connecting"),
        (Phase::Accepting, "accepting"),
        (Phase::Closed, "closed"),
    ] {
        assert_eq!(phase_name(phase), name);
    }
}
