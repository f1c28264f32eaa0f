// SPDX-License-Identifier: GPL-2.0

//! Receiving: what each message means for the connection (`classify`), and the
//! reader's queue (`ReadyQueue`) checked against a model byte stream.

use infinisock_proto::abi::{POLLIN, POLLPRI, POLLRDHUP, POLLRDNORM};
use infinisock_proto::credits::{CreditError, Credits};
use infinisock_proto::receive::*;
use infinisock_proto::wire::{
    encode_header, Advert, Mid, WireError, BSDH_LEN, FLAG_MESSAGE, FLAG_OOB_PEND, FLAG_OOB_PRES, SRC_AH_LEN,
};
use infinisock_proto::zc_land::SinkFlow;
use infinisock_proto::zc_sink::SinkViolation;
use infinisock_proto::HostLists;
use proptest::prelude::*;

/// Two ends' flow control after the Hello exchange: what `peer` sends, `us` receives.
fn pair() -> (Credits, Credits) {
    (Credits::new(8, 8).unwrap(), Credits::new(8, 8).unwrap())
}

/// The bytes of one message `peer` sends now.
fn message(peer: &mut Credits, mid: Mid, flags: u8, payload: &[u8]) -> Vec<u8> {
    let o = if mid == Mid::Data && !payload.is_empty() { peer.send_data() } else { peer.send_control() }.unwrap();
    let mut hdr = [0u8; BSDH_LEN];
    encode_header(&mut hdr, mid, flags, payload.len(), o.bufs, o.mseq, o.mseq_ack).unwrap();
    let mut m = hdr.to_vec();
    m.extend_from_slice(payload);
    m
}

const STREAM: RxContext = RxContext { messages: false, fin_received: false, orphaned: false, discard: false, zc: None, src: false };
const MESSAGES: RxContext = RxContext { messages: true, ..STREAM };

/// A SrcAvail's body: the advert, then `inline` bytes.
fn src_avail(ah: Advert, inline: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; SRC_AH_LEN];
    ah.encode(&mut b);
    b.extend_from_slice(inline);
    b
}

const AH: Advert = Advert { len: 100, rkey: 9, vaddr: 4096 };

#[test]
fn zero_copy_messages_only_where_negotiated() {
    let flow = SinkFlow::<HostLists>::new(4, true);
    let zc = RxContext { zc: Some(flow.gate()), ..STREAM };
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::SrcAvail, 0, &src_avail(AH, b"abc"));
    let mseq_ack = u32::from_be_bytes([m[12], m[13], m[14], m[15]]);
    let v = classify(Incoming::Message(&m), zc, &mut us).unwrap();
    assert_eq!(v, Verdict::Zc(ZcVerdict::SrcAvail { ah: AH, inline_len: 3, mseq_ack }));
    assert_eq!(v.poll_events(), 0, "the sink's flow says what is readable");
    let m = message(&mut peer, Mid::SrcAvailCancel, 0, b"");
    assert_eq!(classify(Incoming::Message(&m), zc, &mut us), Ok(Verdict::Zc(ZcVerdict::Cancel)));
    // The sink advertises nothing: replies to a source, and the SinkAvail family, are
    // unsolicited.
    for (mid, body) in [
        (Mid::RdmaRdCompl, &5u32.to_be_bytes()[..]),
        (Mid::SendSm, &[][..]),
        (Mid::RdmaWrCompl, &5u32.to_be_bytes()[..]),
        (Mid::SinkCancelAck, &[][..]),
    ] {
        let m = message(&mut peer, mid, 0, body);
        assert_eq!(classify(Incoming::Message(&m), zc, &mut us), Err(Violation::Unsolicited(mid)));
    }
    // A side that may advertise (a source) takes the sink's replies, with the
    // `mseq_ack` they were sent with; the SinkAvail family stays unsolicited.
    let src = RxContext { src: true, ..zc };
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::RdmaRdCompl, 0, &7u32.to_be_bytes());
    let mseq_ack = u32::from_be_bytes([m[12], m[13], m[14], m[15]]);
    assert_eq!(classify(Incoming::Message(&m), src, &mut us), Ok(Verdict::Zc(ZcVerdict::RdCompl { n: 7, mseq_ack })));
    let m = message(&mut peer, Mid::SendSm, 0, b"");
    assert_eq!(classify(Incoming::Message(&m), src, &mut us), Ok(Verdict::Zc(ZcVerdict::SendSm { mseq_ack })));
    let m = message(&mut peer, Mid::RdmaWrCompl, 0, &5u32.to_be_bytes());
    assert_eq!(classify(Incoming::Message(&m), src, &mut us), Err(Violation::Unsolicited(Mid::RdmaWrCompl)));
    // Not negotiated: malformed, as before.
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::SrcAvail, 0, &src_avail(AH, b""));
    assert_eq!(
        classify(Incoming::Message(&m), STREAM, &mut us),
        Err(Violation::Malformed(WireError::UnexpectedMid(Mid::SrcAvail)))
    );
    // After the peer's DisConn, or with nobody to read, an advert is data too late.
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::SrcAvail, 0, &src_avail(AH, b""));
    let after_fin = RxContext { fin_received: true, ..zc };
    assert_eq!(classify(Incoming::Message(&m), after_fin, &mut us), Err(Violation::DataAfterDisConn));
}

#[test]
fn data_waits_for_the_peers_adverts_to_close() {
    let mut flow = SinkFlow::<HostLists>::new(4, true);
    flow.on_src_avail(0, AH, 0).unwrap();
    let open = RxContext { zc: Some(flow.gate()), ..STREAM };
    let (mut peer, mut us) = pair();
    for (mid, flags, body) in [(Mid::Data, 0, &b"x"[..]), (Mid::Data, FLAG_OOB_PRES, &b"!"[..]), (Mid::DisConn, 0, &[][..])] {
        let m = message(&mut peer, mid, flags, body);
        assert_eq!(
            classify(Incoming::Message(&m), open, &mut us),
            Err(Violation::Zc(SinkViolation::DataWhileOpen)),
            "{:?} while an advert is open",
            mid
        );
    }
    // A credit update carries no data: it may come.
    let m = message(&mut peer, Mid::Data, 0, b"");
    assert_eq!(classify(Incoming::Message(&m), open, &mut us), Ok(Verdict::Repost));
}

#[test]
fn stream_data_is_filed_for_the_reader() {
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::Data, 0, b"hello");
    let v = classify(Incoming::Message(&m), STREAM, &mut us).unwrap();
    assert_eq!(v, Verdict::File { payload_len: 5 });
    assert_eq!(v.poll_events(), POLLIN | POLLRDNORM);
}

#[test]
fn stream_data_with_urgent_data_present_marks_its_last_byte() {
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::Data, FLAG_OOB_PRES | FLAG_OOB_PEND, b"ab!");
    let v = classify(Incoming::Message(&m), STREAM, &mut us).unwrap();
    assert_eq!(v, Verdict::Urgent { payload_len: 3 });
    assert_eq!(v.poll_events(), POLLIN | POLLRDNORM | POLLPRI);
    // A bare header with the flag has no byte to mark: a credit update.
    let m = message(&mut peer, Mid::Data, FLAG_OOB_PRES, b"");
    assert_eq!(classify(Incoming::Message(&m), STREAM, &mut us), Ok(Verdict::Repost));
    // Messages have no urgent data: the flag is ignored.
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::Data, FLAG_MESSAGE | FLAG_OOB_PRES, b"x");
    assert_eq!(classify(Incoming::Message(&m), MESSAGES, &mut us), Ok(Verdict::File { payload_len: 1 }));
    // After DisConn, urgent data is data after DisConn.
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::Data, FLAG_OOB_PRES, b"x");
    let after_fin = RxContext { fin_received: true, ..STREAM };
    assert_eq!(classify(Incoming::Message(&m), after_fin, &mut us), Err(Violation::DataAfterDisConn));
}

#[test]
fn a_bare_header_is_a_credit_update() {
    for ctx in [STREAM, MESSAGES] {
        let (mut peer, mut us) = pair();
        let m = message(&mut peer, Mid::Data, 0, b"");
        let v = classify(Incoming::Message(&m), ctx, &mut us);
        assert_eq!(v, Ok(Verdict::Repost));
        assert_eq!(v.unwrap().poll_events(), 0);
    }
}

#[test]
fn disconn_raises_rdhup_and_abort_resets_without_an_answer() {
    let (mut peer, mut us) = pair();
    let m = message(&mut peer, Mid::DisConn, 0, b"");
    let v = classify(Incoming::Message(&m), STREAM, &mut us).unwrap();
    assert_eq!(v, Verdict::DisConn);
    assert_eq!(v.poll_events(), POLLIN | POLLRDNORM | POLLRDHUP);
    let m = message(&mut peer, Mid::Abort, 0, b"");
    let v = classify(Incoming::Message(&m), STREAM, &mut us).unwrap_err();
    assert_eq!(v, Violation::Reset);
    assert!(!v.answer_with_abort());
}

#[test]
fn the_message_flag_must_match_the_socket() {
    let (mut peer, mut us) = pair();
    let flagged = message(&mut peer, Mid::Data, FLAG_MESSAGE, b"m");
    assert_eq!(classify(Incoming::Message(&flagged), STREAM, &mut us.clone()), Err(Violation::WrongFlag { messages: false }));
    assert_eq!(classify(Incoming::Message(&flagged), MESSAGES, &mut us), Ok(Verdict::File { payload_len: 1 }));
    let (mut peer, mut us) = pair();
    let plain = message(&mut peer, Mid::Data, 0, b"m");
    let v = classify(Incoming::Message(&plain), MESSAGES, &mut us).unwrap_err();
    assert_eq!(v, Violation::WrongFlag { messages: true });
    assert!(v.answer_with_abort());
}

#[test]
fn an_empty_flagged_message_is_a_message_not_a_credit_update() {
    let (mut peer, mut us) = pair();
    let o = peer.send_data().unwrap();
    let mut hdr = [0u8; BSDH_LEN];
    encode_header(&mut hdr, Mid::Data, FLAG_MESSAGE, 0, o.bufs, o.mseq, o.mseq_ack).unwrap();
    assert_eq!(classify(Incoming::Message(&hdr), MESSAGES, &mut us), Ok(Verdict::File { payload_len: 0 }));
}

#[test]
fn immediates_are_messages_only_on_message_sockets() {
    let (mut peer, mut us) = pair();
    peer.send_headerless().unwrap();
    assert_eq!(classify(Incoming::Immediate, STREAM, &mut us.clone()), Err(Violation::ImmediateOnStream));
    assert_eq!(classify(Incoming::Immediate, MESSAGES, &mut us), Ok(Verdict::File { payload_len: 0 }));
}

#[test]
fn data_after_disconn_or_close_is_a_violation_and_shut_rd_drops_it() {
    let (mut peer, us) = pair();
    let m = message(&mut peer, Mid::Data, 0, b"late");
    let fin = RxContext { fin_received: true, ..STREAM };
    assert_eq!(classify(Incoming::Message(&m), fin, &mut us.clone()), Err(Violation::DataAfterDisConn));
    let closed = RxContext { orphaned: true, ..STREAM };
    assert_eq!(classify(Incoming::Message(&m), closed, &mut us.clone()), Err(Violation::DataAfterClose));
    let shut_rd = RxContext { discard: true, ..STREAM };
    assert_eq!(classify(Incoming::Message(&m), shut_rd, &mut us.clone()), Ok(Verdict::Repost));
}

#[test]
fn malformed_and_out_of_order_messages_are_violations() {
    let (mut peer, mut us) = pair();
    let mut m = message(&mut peer, Mid::Data, 0, b"abc");
    m.pop();
    assert!(matches!(classify(Incoming::Message(&m), STREAM, &mut us.clone()), Err(Violation::Malformed(_))));
    assert!(matches!(
        classify(Incoming::Message(&m[..4]), STREAM, &mut us.clone()),
        Err(Violation::Malformed(WireError::Short { .. }))
    ));
    // The second message delivered first.
    let _first = message(&mut peer, Mid::Data, 0, b"1");
    let second = message(&mut peer, Mid::Data, 0, b"2");
    assert!(matches!(
        classify(Incoming::Message(&second), STREAM, &mut us),
        Err(Violation::FlowControl(CreditError::OutOfSequence { .. }))
    ));
}

/// One step of a reader against the queue.
#[derive(Clone, Debug)]
enum Op {
    /// The peer's next message arrives with this many payload bytes.
    Arrive(usize),
    /// The reader steps over `skip` bytes (an urgent byte), then asks for `want`
    /// bytes; `peek`; its copy faults after `fault_after` bytes of the call, if given.
    Read { skip: usize, want: usize, peek: bool, fault_after: Option<usize> },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..40).prop_map(Op::Arrive),
        (prop_oneof![4 => Just(0usize), 1 => 1usize..3], 0usize..100, any::<bool>(), proptest::option::of(0usize..50))
            .prop_map(|(skip, want, peek, fault_after)| Op::Read { skip, want, peek, fault_after }),
    ]
}

proptest! {
    /// Whatever the sizes of the peer's messages and of the reads, with peeks and
    /// faults between them, the reader gets the peer's bytes once each, in order;
    /// a buffer is given back exactly when all of it was read; and the queue's count
    /// of unread bytes is the model's.
    #[test]
    fn reads_see_the_stream_in_order(ops in proptest::collection::vec(op(), 1..80)) {
        let mut q = ReadyQueue::new();
        // Payload of each buffer index as it was filled, and the free indices.
        let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); 256];
        let mut free: Vec<u16> = (0..256).rev().collect();
        let (mut sent, mut read) = (Vec::<u8>::new(), Vec::<u8>::new());
        let mut next_byte = 0u8;
        for op in ops {
            match op {
                Op::Arrive(n) => {
                    let Some(idx) = free.pop() else { continue };
                    let payload: Vec<u8> = (0..n).map(|_| { next_byte = next_byte.wrapping_add(1); next_byte }).collect();
                    sent.extend_from_slice(&payload);
                    buffers[usize::from(idx)] = payload;
                    q.file(idx, n);
                }
                Op::Read { skip, want, peek, fault_after } => {
                    let mut got = Vec::new();
                    let mut given_back = Vec::new();
                    let res = q.read(
                        skip,
                        want,
                        peek,
                        |idx| buffers[usize::from(idx)].len(),
                        |idx, from, to| {
                            let part = &buffers[usize::from(idx)][from..to];
                            let room = fault_after.map_or(part.len(), |f| f.saturating_sub(got.len()));
                            let n = part.len().min(room);
                            got.extend_from_slice(&part[..n]);
                            n
                        },
                        |idx| given_back.push(idx),
                    );
                    let stepped = skip.min(sent.len() - read.len());
                    let unread = &sent[read.len() + stepped..];
                    match res {
                        Err(Fault) => {
                            prop_assert_eq!(fault_after, Some(0));
                            prop_assert!(!unread.is_empty() && want > 0);
                            prop_assert!(given_back.is_empty());
                        }
                        Ok(n) => {
                            prop_assert_eq!(n, got.len());
                            prop_assert!(n <= want);
                            prop_assert_eq!(&got[..], &unread[..n]);
                            if fault_after.is_none() {
                                prop_assert_eq!(n, want.min(unread.len()));
                            }
                            if peek {
                                prop_assert!(given_back.is_empty());
                            } else {
                                // Stepped-over bytes are consumed, not returned.
                                read.extend_from_slice(&sent[read.len()..read.len() + stepped]);
                                read.extend_from_slice(&got);
                                free.extend(given_back.iter().copied());
                            }
                        }
                    }
                }
            }
            prop_assert_eq!(q.bytes(), sent.len() - read.len());
        }
        // No buffer is lost or given back twice.
        prop_assert_eq!(free.len() + q.len(), 256);
    }
}

#[test]
fn messages_are_taken_whole() {
    let mut q = ReadyQueue::new();
    q.file(3, 10);
    q.file(5, 0);
    assert_eq!((q.len(), q.bytes()), (2, 10));
    assert_eq!(q.take_message(10), Some(3));
    assert_eq!(q.front(), Some(5));
    assert_eq!(q.take_message(0), Some(5));
    assert!(q.is_empty());
    assert_eq!(q.take_message(0), None);
}

mod read_steps {
    use infinisock_proto::conn_state::{Phase, RCV_SHUTDOWN};
    use infinisock_proto::receive::{read_step, ReadState, ReadStep};

    const WAITING: ReadState = ReadState {
        phase: Phase::Connected,
        has_link: true,
        unread: 0,
        shutdown: 0,
        error: false,
        fin_received: false,
        copied: 0,
        len: 100,
        target: 1,
    };

    #[test]
    fn listeners_and_unconnected_sockets_are_not_connected() {
        assert_eq!(read_step(&ReadState { phase: Phase::Listening, ..WAITING }), ReadStep::NotConnected);
        assert_eq!(read_step(&ReadState { phase: Phase::Open, has_link: false, ..WAITING }), ReadStep::NotConnected);
    }

    #[test]
    fn unread_bytes_are_copied_until_the_target() {
        assert_eq!(read_step(&ReadState { unread: 5, ..WAITING }), ReadStep::Copy);
        // Enough for the call's target: it returns; short of a MSG_WAITALL target, it
        // waits.
        assert_eq!(read_step(&ReadState { copied: 5, ..WAITING }), ReadStep::Done);
        assert_eq!(read_step(&ReadState { copied: 5, target: 100, ..WAITING }), ReadStep::Wait);
        // After SHUT_RD nothing is copied.
        assert_eq!(read_step(&ReadState { unread: 5, shutdown: RCV_SHUTDOWN, ..WAITING }), ReadStep::Eof);
    }

    #[test]
    fn an_error_is_returned_only_by_a_call_that_copied_nothing() {
        assert_eq!(read_step(&ReadState { error: true, ..WAITING }), ReadStep::Error);
        let some = ReadState { error: true, copied: 5, target: 100, ..WAITING };
        assert_eq!(read_step(&some), ReadStep::Done);
        // Data that arrived before the error is read first.
        assert_eq!(read_step(&ReadState { error: true, unread: 3, ..WAITING }), ReadStep::Copy);
    }

    #[test]
    fn the_end_of_the_stream_and_empty_reads() {
        assert_eq!(read_step(&ReadState { fin_received: true, ..WAITING }), ReadStep::Eof);
        assert_eq!(read_step(&ReadState { phase: Phase::Closed, ..WAITING }), ReadStep::Eof);
        assert_eq!(read_step(&ReadState { len: 0, target: 0, ..WAITING }), ReadStep::Done);
        assert_eq!(read_step(&WAITING), ReadStep::Wait);
    }
}

#[test]
fn a_reap_wakes_once_per_arrival_and_signals_what_the_cq_event_announced() {
    use infinisock_proto::abi::{POLLOUT, POLLWRNORM};
    let readable = POLLIN | POLLRDNORM;
    // Nothing announced before the reap: wake pollers, no late SIGIO.
    assert_eq!(wake_plan(readable, 0, 0), (readable, 0));
    // The CQ event already woke pollers for it: no second edge, SIGIO now.
    assert_eq!(wake_plan(readable, 0, readable), (0, readable));
    // A DisConn raises RDHUP beyond what the event announced.
    assert_eq!(wake_plan(readable | POLLRDHUP, 0, readable), (POLLRDHUP, readable));
    // Room to send is always news.
    assert_eq!(wake_plan(0, POLLOUT | POLLWRNORM, readable), (POLLOUT | POLLWRNORM, 0));
}

#[test]
fn landing_slots_waiting_are_counted_apart_from_ring_buffers() {
    // A ring of 16 buffers, landing slots 16.. after it.
    let mut q = ReadyQueue::new();
    q.file(3, 100);
    q.file(16, 1);
    q.file(4, 7);
    q.file(17, 10);
    assert_eq!(q.len(), 4);
    assert_eq!(q.count_from(16), 2);
    // The reader takes the first two buffers: one ring buffer and one landing slot.
    let mut consumed = vec![];
    let payload = |i: u16| match i {
        3 => 100,
        4 => 7,
        16 => 1,
        _ => 10,
    };
    q.read(0, 101, false, payload, |_, a, b| b - a, |i| consumed.push(i)).unwrap();
    assert_eq!(consumed, vec![3, 16]);
    assert_eq!((q.len(), q.count_from(16)), (2, 1), "the ring buffers held: 1");
}
