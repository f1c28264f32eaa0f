// SPDX-License-Identifier: GPL-2.0

//! The SDP wire format: round trips, and hostile input (any bytes decode to a message or
//! an error, never a panic, and what decodes is consistent).

use infinisock_proto::wire::*;
use proptest::prelude::*;

fn mid_strategy() -> impl Strategy<Value = Mid> {
    prop::sample::select(vec![
        Mid::Hello,
        Mid::HelloAck,
        Mid::DisConn,
        Mid::Abort,
        Mid::SendSm,
        Mid::RdmaWrCompl,
        Mid::RdmaRdCompl,
        Mid::SrcAvailCancel,
        Mid::SinkAvailCancel,
        Mid::SinkCancelAck,
        Mid::ChRcvBuf,
        Mid::ChRcvBufAck,
        Mid::SinkAvail,
        Mid::SrcAvail,
        Mid::Data,
    ])
}

fn message(mid: Mid, payload: &[u8], bufs: u16, mseq: u32, ack: u32) -> Vec<u8> {
    let mut h = [0; BSDH_LEN];
    encode_header(&mut h, mid, 0, payload.len(), bufs, mseq, ack).unwrap();
    let mut v = h.to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn bsdh_layout_is_big_endian() {
    let h = Bsdh { mid: Mid::Data, flags: 0, bufs: 0x0102, len: 0x03040506, mseq: 0x0708090a, mseq_ack: 0x0b0c0d0e };
    let mut out = [0; BSDH_LEN];
    h.encode(&mut out);
    assert_eq!(out, [0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe]);
}

#[test]
fn data_and_control_messages_decode() {
    let m = message(Mid::Data, b"hello", 7, 3, 2);
    let (h, msg) = decode_message(&m).unwrap();
    assert_eq!((h.bufs, h.mseq, h.mseq_ack, h.len), (7, 3, 2, 21));
    assert_eq!(msg, Message::Data(b"hello"));
    assert_eq!(decode_message(&message(Mid::DisConn, b"", 1, 1, 0)).unwrap().1, Message::DisConn);
    assert_eq!(decode_message(&message(Mid::Abort, b"", 1, 1, 0)).unwrap().1, Message::Abort);
    let resize = message(Mid::ChRcvBuf, &65536u32.to_be_bytes(), 1, 1, 0);
    assert_eq!(decode_message(&resize).unwrap().1, Message::ChRcvBuf(65536));
}

#[test]
fn protocol_violations_are_errors() {
    assert_eq!(decode_message(&[0xff; 3]), Err(WireError::Short { need: 16, have: 3 }));
    let mut m = message(Mid::Data, b"abc", 1, 1, 0);
    m[0] = 0x42;
    assert_eq!(decode_message(&m), Err(WireError::UnknownMid(0x42)));
    let mut m = message(Mid::Data, b"abc", 1, 1, 0);
    m.push(0);
    assert_eq!(decode_message(&m), Err(WireError::LengthMismatch { header: 19, received: 20 }));
    assert_eq!(decode_message(&message(Mid::DisConn, b"x", 1, 1, 0)), Err(WireError::BadPayload(Mid::DisConn)));
    assert_eq!(decode_message(&message(Mid::ChRcvBuf, b"xyz", 1, 1, 0)), Err(WireError::BadPayload(Mid::ChRcvBuf)));
    assert_eq!(decode_message(&message(Mid::Hello, b"", 1, 1, 0)), Err(WireError::UnexpectedMid(Mid::Hello)));
    assert_eq!(decode_message(&message(Mid::SrcAvail, b"", 1, 1, 0)), Err(WireError::UnexpectedMid(Mid::SrcAvail)));
    let mut m = message(Mid::Data, b"", 1, 1, 0);
    m[1] = 0x40;
    assert_eq!(decode_message(&m), Err(WireError::UnknownFlags(0x40)));
}

#[test]
fn hello_fits_rdma_ps_tcp_private_data() {
    // 92-byte REQ private data minus rdma_cm's 36-byte header for RDMA_PS_TCP.
    assert!(HELLO_LEN <= 56);
    assert!(HELLO_ACK_LEN <= 196 - 36);
}

#[test]
fn hello_rejects_bad_version_and_ip() {
    let hello =
        Hello { ip_version: 4, max_adverts: 0, zc_flags: 0, desired_remote_rcv_size: 1, local_rcv_size: 2, bufs: 3, port: 4 };
    let mut b = [0; HELLO_LEN];
    hello.encode(&mut b);
    let mut bad = b;
    bad[BSDH_LEN] = 0x11;
    assert_eq!(Hello::decode(&bad), Err(WireError::BadVersion(0x11)));
    let mut bad = b;
    bad[BSDH_LEN + 1] = 5 << 4;
    assert_eq!(Hello::decode(&bad), Err(WireError::BadIpVersion(5)));
    assert_eq!(Hello::decode(&b[..HELLO_LEN - 1]), Err(WireError::Short { need: HELLO_LEN, have: HELLO_LEN - 1 }));
    assert!(matches!(HelloAck::decode(&b), Err(WireError::UnexpectedMid(Mid::Hello))));
}

proptest! {
    #[test]
    fn bsdh_round_trips(mid in mid_strategy(), flags in 0u8..4, bufs: u16, len: u32, mseq: u32, ack: u32) {
        let h = Bsdh { mid, flags, bufs, len, mseq, mseq_ack: ack };
        let mut b = [0; BSDH_LEN];
        h.encode(&mut b);
        prop_assert_eq!(Bsdh::decode(&b), Ok(h));
    }

    #[test]
    fn messages_round_trip(payload in prop::collection::vec(any::<u8>(), 0..512), bufs: u16, mseq: u32, ack: u32) {
        let m = message(Mid::Data, &payload, bufs, mseq, ack);
        let (h, msg) = decode_message(&m).unwrap();
        prop_assert_eq!((h.bufs, h.mseq, h.mseq_ack), (bufs, mseq, ack));
        prop_assert_eq!(msg, Message::Data(&payload));
    }

    /// Any bytes: a consistent message or an error, never a panic.
    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for zc in [false, true] {
            let Ok((h, msg)) = decode(&bytes, zc) else { continue };
            prop_assert_eq!(h.len as usize, bytes.len());
            prop_assert!(h.flags & !3 == 0);
            let n = bytes.len() - BSDH_LEN;
            match msg {
                Message::Data(p) => prop_assert_eq!(p.len(), n),
                Message::DisConn | Message::Abort => prop_assert_eq!(n, 0),
                Message::ChRcvBuf(_) | Message::ChRcvBufAck(_) => prop_assert_eq!(n, 4),
                _ if !zc => prop_assert!(false, "a zero-copy message without zero-copy"),
                Message::SrcAvail { ah, inline } => {
                    prop_assert_eq!(inline.len() + SRC_AH_LEN, n);
                    prop_assert!(inline.len() as u64 <= u64::from(ah.len));
                    prop_assert!(ah.len > 0 && ah.len <= ADVERT_MAX && ah.vaddr.checked_add(u64::from(ah.len)).is_some());
                }
                Message::SinkAvail(ah) => prop_assert!(n == SINK_AH_LEN && ah.len > 0 && ah.len <= ADVERT_MAX),
                Message::RdmaRdCompl(_) | Message::RdmaWrCompl(_) => prop_assert_eq!(n, COMPL_LEN),
                Message::SendSm | Message::SrcAvailCancel | Message::SinkAvailCancel | Message::SinkCancelAck => {
                    prop_assert_eq!(n, 0)
                }
            }
        }
        let _ = Hello::decode(&bytes);
        let _ = HelloAck::decode(&bytes);
    }

    /// Mutating one byte of a valid message yields a message or an error, never a panic.
    #[test]
    fn mutated_messages_never_panic(payload in prop::collection::vec(any::<u8>(), 0..32), at: prop::sample::Index, byte: u8) {
        let mut m = message(Mid::Data, &payload, 1, 1, 0);
        let i = at.index(m.len());
        m[i] = byte;
        let _ = decode_message(&m);
    }

    #[test]
    fn hello_round_trips(ip in prop::sample::select(vec![4u8, 6]), adverts: u8, zc_flags: u8, des: u32, local: u32, bufs: u16, port: u16, pad in 0usize..24) {
        let hello = Hello { ip_version: ip, max_adverts: adverts, zc_flags, desired_remote_rcv_size: des, local_rcv_size: local, bufs, port };
        let mut b = [0; HELLO_LEN];
        hello.encode(&mut b);
        // rdma_cm hands the whole private-data area over, padded with zeros.
        let mut v = b.to_vec();
        v.resize(HELLO_LEN + pad, 0);
        prop_assert_eq!(Hello::decode(&v), Ok(hello));
        let ack = HelloAck { max_adverts: adverts, zc_flags, actual_rcv_size: local, bufs };
        let mut b = [0; HELLO_ACK_LEN];
        ack.encode(&mut b);
        prop_assert_eq!(HelloAck::decode(&b), Ok(ack));
    }
}

#[test]
fn message_flag_round_trips_and_other_unknown_flags_do_not() {
    let mut h = [0; BSDH_LEN];
    encode_header(&mut h, Mid::Data, FLAG_MESSAGE, 0, 1, 2, 3).unwrap();
    let (hdr, msg) = decode_message(&h).unwrap();
    assert_eq!(hdr.flags, FLAG_MESSAGE);
    assert_eq!(msg, Message::Data(&[]));
    h[1] = 1 << 6;
    assert!(decode_message(&h).is_err());
}

fn advert(len: u32, rkey: u32, vaddr: u64) -> Vec<u8> {
    let mut b = vec![0; SRC_AH_LEN];
    Advert { len, rkey, vaddr }.encode(&mut b);
    b
}

/// The zero-copy messages (wire.rst), decoded only where zero-copy was negotiated.
#[test]
fn zero_copy_messages_decode_once_negotiated() {
    let ah = Advert { len: 1 << 20, rkey: 0x1234_5678, vaddr: 0x0000_0007_0000_0040 };
    let mut src = advert(ah.len, ah.rkey, ah.vaddr);
    assert_eq!(src, [0, 0x10, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 7, 0, 0, 0, 0x40]);
    src.extend_from_slice(b"first");
    let m = message(Mid::SrcAvail, &src, 1, 5, 4);
    assert_eq!(decode(&m, true).unwrap().1, Message::SrcAvail { ah, inline: b"first" });
    let mut sink = advert(ah.len, ah.rkey, ah.vaddr);
    sink.extend_from_slice(&[0; 4]);
    assert_eq!(decode(&message(Mid::SinkAvail, &sink, 1, 5, 4), true).unwrap().1, Message::SinkAvail(ah));
    let rd = message(Mid::RdmaRdCompl, &65536u32.to_be_bytes(), 1, 5, 4);
    assert_eq!(decode(&rd, true).unwrap().1, Message::RdmaRdCompl(65536));
    let wr = message(Mid::RdmaWrCompl, &0u32.to_be_bytes(), 1, 5, 4);
    assert_eq!(decode(&wr, true).unwrap().1, Message::RdmaWrCompl(0));
    for (mid, want) in [
        (Mid::SendSm, Message::SendSm),
        (Mid::SrcAvailCancel, Message::SrcAvailCancel),
        (Mid::SinkAvailCancel, Message::SinkAvailCancel),
        (Mid::SinkCancelAck, Message::SinkCancelAck),
    ] {
        let m = message(mid, b"", 1, 5, 4);
        assert_eq!(decode(&m, true).unwrap().1, want);
        // Without negotiation each one resets the connection, as today.
        assert_eq!(decode(&m, false), Err(WireError::UnexpectedMid(mid)));
        assert_eq!(decode(&message(mid, b"x", 1, 5, 4), true), Err(WireError::BadPayload(mid)));
    }
    assert_eq!(decode_message(&m), Err(WireError::UnexpectedMid(Mid::SrcAvail)));
}

/// Every way an advert breaks the rules aborts the connection.
#[test]
fn bad_adverts_are_errors() {
    // The error only: a decoded message borrows the bytes.
    let bad = |mid, body: &[u8]| decode(&message(mid, body, 1, 1, 0), true).map(|_| ());
    // Length 0, beyond 2^31, a range that wraps.
    assert_eq!(bad(Mid::SrcAvail, &advert(0, 1, 0)), Err(WireError::BadAdvert(Mid::SrcAvail)));
    assert_eq!(bad(Mid::SrcAvail, &advert(ADVERT_MAX + 1, 1, 0)), Err(WireError::BadAdvert(Mid::SrcAvail)));
    assert_eq!(bad(Mid::SrcAvail, &advert(ADVERT_MAX, 1, 0)), Ok(()));
    assert_eq!(bad(Mid::SrcAvail, &advert(2, 1, u64::MAX - 1)), Err(WireError::BadAdvert(Mid::SrcAvail)));
    // Inline bytes beyond the advert's length.
    let mut long = advert(3, 1, 0);
    long.extend_from_slice(b"four");
    assert_eq!(bad(Mid::SrcAvail, &long), Err(WireError::BadAdvert(Mid::SrcAvail)));
    // Headers of the wrong size; a SinkAvail with a payload.
    assert_eq!(bad(Mid::SrcAvail, &advert(3, 1, 0)[..15]), Err(WireError::BadPayload(Mid::SrcAvail)));
    assert_eq!(bad(Mid::SinkAvail, &advert(3, 1, 0)), Err(WireError::BadPayload(Mid::SinkAvail)));
    let mut sink = advert(3, 1, 0);
    sink.extend_from_slice(&[0; 5]);
    assert_eq!(bad(Mid::SinkAvail, &sink), Err(WireError::BadPayload(Mid::SinkAvail)));
    let mut sink = advert(0, 1, 0);
    sink.extend_from_slice(&[0; 4]);
    assert_eq!(bad(Mid::SinkAvail, &sink), Err(WireError::BadAdvert(Mid::SinkAvail)));
    assert_eq!(bad(Mid::RdmaRdCompl, b"abc"), Err(WireError::BadPayload(Mid::RdmaRdCompl)));
    assert_eq!(bad(Mid::RdmaWrCompl, b"abcde"), Err(WireError::BadPayload(Mid::RdmaWrCompl)));
}

/// OFED SDP leaves the zero-copy flags byte 0: its HelloAck reads as "no SinkAvail".
#[test]
fn ofed_hello_ack_accepts_no_sink_avail() {
    let ack = HelloAck { max_adverts: 16, zc_flags: 0, actual_rcv_size: 32768, bufs: 64 };
    let mut b = [0; HELLO_ACK_LEN];
    ack.encode(&mut b);
    assert_eq!(b[18], 0);
    assert_eq!(HelloAck::decode(&b).unwrap().zc_flags & ZC_SINKAVAIL, 0);
    let ours = HelloAck { zc_flags: ZC_SINKAVAIL, ..ack };
    ours.encode(&mut b);
    assert_eq!(b[18], ZC_SINKAVAIL);
}
