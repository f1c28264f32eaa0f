// SPDX-License-Identifier: GPL-2.0
//! Urgent data (`MSG_OOB`) with TCP's semantics: the mark stops a read, the urgent
//! byte is stepped over unless inline, `recv(MSG_OOB)` returns it once, reading past
//! the mark ends it; checked on examples written from `tcp_recvmsg` /
//! `tcp_recv_urg`, and against a model stream under random reads.

use infinisock_proto::urgent::{send_round, NoUrgentByte, ReadPlan, Urgent};
use proptest::prelude::*;

/// A reader of `stream` through `u`: one normal `recv` of up to `want` bytes;
/// returns what it read. `pos` is the reader's offset.
fn recv(u: &mut Urgent, stream: &[u8], pos: &mut usize, want: usize, inline: bool) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let unread = stream.len() - *pos;
        if unread == 0 || got.len() == want {
            return got;
        }
        let ReadPlan { skip, limit, stop } = u.plan(want - got.len(), got.len(), unread, inline);
        if stop {
            return got;
        }
        let skip = skip.min(unread);
        *pos += skip;
        u.consumed(skip);
        let n = limit.min(stream.len() - *pos);
        got.extend_from_slice(&stream[*pos..*pos + n]);
        *pos += n;
        u.consumed(n);
        if skip == 0 && n == 0 {
            return got;
        }
    }
}

#[test]
fn a_read_stops_at_the_mark_and_steps_over_the_byte() {
    let mut u = Urgent::new();
    let stream = b"ab!cd";
    u.filed(2, None);
    u.filed(1, Some(b'!'));
    u.filed(2, None);
    assert!(u.pending());
    assert_eq!(u.inq(5, false), 2);
    let mut pos = 0;
    assert_eq!(recv(&mut u, stream, &mut pos, 100, false), b"ab");
    assert!(u.at_mark());
    assert_eq!(u.readable(3, false), 2);
    // FIONREAD counts up to the mark: nothing at it.
    assert_eq!(u.inq(3, false), 0);
    assert_eq!(u.inq(3, true), 3);
    assert_eq!(u.take(true, false), Ok(b'!'));
    assert_eq!(u.take(false, false), Ok(b'!'));
    assert!(!u.pending());
    // Once read, the byte is gone for MSG_OOB, still at the mark for SIOCATMARK.
    assert_eq!(u.take(false, false), Err(NoUrgentByte::Invalid));
    assert!(u.at_mark());
    assert_eq!(recv(&mut u, stream, &mut pos, 100, false), b"cd");
    assert!(!u.at_mark());
}

#[test]
fn reading_past_the_mark_loses_the_byte() {
    let mut u = Urgent::new();
    let stream = b"a!b";
    u.filed(2, Some(b'!'));
    u.filed(1, None);
    let mut pos = 0;
    assert_eq!(recv(&mut u, stream, &mut pos, 100, false), b"a");
    // The next read steps over it (not inline) and goes on.
    assert_eq!(recv(&mut u, stream, &mut pos, 100, false), b"b");
    assert_eq!(u.take(false, false), Err(NoUrgentByte::Invalid));
}

#[test]
fn inline_the_byte_is_data_and_not_for_msg_oob() {
    let mut u = Urgent::new();
    let stream = b"a!b";
    u.filed(2, Some(b'!'));
    u.filed(1, None);
    let mut pos = 0;
    assert_eq!(u.take(false, true), Err(NoUrgentByte::Invalid));
    assert_eq!(recv(&mut u, stream, &mut pos, 100, true), b"a");
    assert!(u.at_mark());
    assert_eq!(u.readable(2, true), 2);
    assert_eq!(recv(&mut u, stream, &mut pos, 100, true), b"!b");
    assert!(!u.at_mark());
}

#[test]
fn a_newer_urgent_byte_replaces_the_older() {
    let mut u = Urgent::new();
    u.filed(1, Some(b'1'));
    u.filed(3, Some(b'2'));
    assert_eq!(u.take(false, false), Ok(b'2'));
    let stream = b"1ab2";
    let mut pos = 0;
    // The older byte is plain data now; the read stops at the newer mark.
    assert_eq!(recv(&mut u, stream, &mut pos, 100, false), b"1ab");
    assert!(u.at_mark());
}

#[test]
fn nothing_urgent_is_einval() {
    let mut u = Urgent::new();
    u.filed(10, None);
    assert_eq!(u.take(false, false), Err(NoUrgentByte::Invalid));
    assert!(!u.pending() && !u.at_mark());
}

#[test]
fn a_send_with_msg_oob_ends_with_its_byte_alone() {
    assert_eq!(send_round(10, true), (9, false));
    assert_eq!(send_round(1, true), (1, true));
    assert_eq!(send_round(10, false), (10, false));
    assert_eq!(send_round(0, true), (0, false));
}

proptest! {
    /// Whatever the reads, a reader that is not inline gets the stream minus the
    /// urgent bytes it stepped over, in order, and never reads across a mark in one
    /// call; inline it gets every byte.
    #[test]
    fn reads_see_the_stream_without_urgent_bytes(
        pieces in prop::collection::vec((1usize..20, any::<bool>()), 1..20),
        wants in prop::collection::vec(1usize..50, 1..60),
        inline in any::<bool>(),
    ) {
        let mut u = Urgent::new();
        let mut stream = Vec::new();
        let mut marks = Vec::new();
        let mut next = 0u8;
        for (len, urgent) in pieces {
            let bytes: Vec<u8> = (0..len).map(|_| { next = next.wrapping_add(1); next }).collect();
            if urgent {
                marks.push(stream.len() + len - 1);
            }
            u.filed(len, urgent.then(|| *bytes.last().unwrap()));
            stream.extend_from_slice(&bytes);
        }
        // Only the newest mark is kept: the older urgent bytes are plain data.
        let mark = marks.last().copied();
        let mut pos = 0;
        let mut got = Vec::new();
        for want in wants {
            let start = pos;
            let r = recv(&mut u, &stream, &mut pos, want, inline);
            prop_assert!(r.len() <= want);
            // No call reads from before the mark to after it.
            if let Some(m) = mark {
                prop_assert!(!(start < m && pos > m), "read {}..{} across the mark {}", start, pos, m);
            }
            got.extend_from_slice(&r);
        }
        let expected: Vec<u8> = stream[..pos]
            .iter()
            .enumerate()
            .filter(|(i, _)| inline || Some(*i) != mark)
            .map(|(_, b)| *b)
            .collect();
        prop_assert_eq!(got, expected);
    }
}
