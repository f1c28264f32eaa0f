// SPDX-License-Identifier: GPL-2.0

//! A connection's data-path state: what may be sent, staging room, the DisConn owed,
//! and when the peer must hear of reposted buffers.

use infinisock_proto::credits::{Credits, CONTROL_RESERVE};
use infinisock_proto::stream::{Credit, Stream};
use infinisock_proto::wire::{Bsdh, Mid, BSDH_LEN};

/// An established stream: the peer granted `peer_bufs`, we posted 8 buffers of 4 KiB
/// and so did the peer.
fn established(peer_bufs: u16) -> Stream<Vec<u32>, Vec<u8>> {
    let mut s = Stream::new(vec![0; 4], 300);
    s.credits = Some(Credits::new(peer_bufs, 8).unwrap());
    s.peer_msg_size = 4096;
    s
}

#[test]
fn nothing_goes_before_the_credits_exist_or_after_the_qp_died() {
    let mut s = Stream::<_, Vec<u8>>::new(vec![0u32; 4], 0);
    assert!(!s.can_send(Credit::Control, 4));
    s = established(8);
    assert!(s.can_send(Credit::Data, 4) && s.can_send(Credit::Control, 4));
    assert!(!s.can_send(Credit::Data, 0), "no free send slot");
    s.qp_dead = true;
    assert!(!s.can_send(Credit::Control, 4));
}

#[test]
fn the_last_credit_is_kept_for_control_messages() {
    let mut s = established(3);
    let data = 3 - CONTROL_RESERVE;
    for _ in 0..data {
        assert!(s.can_send(Credit::Data, 4));
        s.take_credit(Credit::Data).unwrap();
    }
    assert!(!s.can_send(Credit::Data, 4));
    assert!(s.take_credit(Credit::Data).is_err());
    assert!(s.can_send(Credit::Control, 4));
    s.take_credit(Credit::Control).unwrap();
    assert!(!s.can_send(Credit::Control, 4));
}

#[test]
fn messages_fit_the_smaller_buffer_of_the_two_ends() {
    let mut s = established(8);
    assert_eq!(s.max_payload(8192), 4096 - BSDH_LEN);
    assert_eq!(s.max_payload(1024), 1024 - BSDH_LEN);
    s.staged_len = 100;
    assert_eq!(s.outq(), 100);
    s.tx.posted(50);
    assert_eq!(s.outq(), 150);
}

#[test]
fn the_disconn_is_owed_once_and_a_reset_owes_nothing() {
    let mut s = established(8);
    assert!(!s.fin_owed());
    s.fin_pending = true;
    assert!(s.fin_owed());
    s.fin_posted();
    assert!(!s.fin_owed() && s.fin_sent);
    let mut r = established(8);
    r.fin_pending = true;
    r.staged_len = 10;
    r.aborted();
    assert!(!r.fin_owed() && r.staged_len == 0);
}

#[test]
fn a_credit_update_is_due_when_half_the_ring_waits_to_be_announced() {
    let mut s = established(8);
    // The peer fills four of our eight buffers; we repost them one by one.
    for mseq in 1..=4 {
        let h = Bsdh { mid: Mid::Data, flags: 0, bufs: 8, len: 17, mseq, mseq_ack: 0 };
        s.credits.as_mut().unwrap().receive(&h).unwrap();
    }
    for n in 1..=4 {
        s.credits.as_mut().unwrap().reposted(1);
        assert_eq!(s.credit_update_due(8), n >= 4, "after {n} reposted");
    }
}

#[test]
fn a_sink_owing_replies_to_our_adverts_gets_every_reposted_buffer_at_once() {
    let mut s = established(8);
    // The peer filled our ring but for the reserve; the program reads none of it.
    for mseq in 1..=7 {
        let h = Bsdh { mid: Mid::Data, flags: 0, bufs: 8, len: 17, mseq, mseq_ack: 0 };
        s.credits.as_mut().unwrap().receive(&h).unwrap();
    }
    // Its last credit carries a reply (RdmaRdCompl), whose buffer we repost at once.
    let reply = Bsdh { mid: Mid::RdmaRdCompl, flags: 0, bufs: 8, len: 20, mseq: 8, mseq_ack: 0 };
    s.credits.as_mut().unwrap().receive(&reply).unwrap();
    s.credits.as_mut().unwrap().reposted(1);
    assert!(!s.credit_update_due(8), "one buffer alone is not worth an update");
    // With an advert of ours open, the peer must hear of it: it has a reply to send.
    s.data_held = true;
    assert!(s.credit_update_due(8));
}

#[test]
fn unread_data_and_a_pending_disconnect() {
    let mut s = established(8);
    assert!(!s.has_unread());
    s.rx.file(2, 0);
    assert!(s.has_unread(), "an empty message counts");
    s.peer_gone = true;
    assert!(s.disconnect_pending());
    s.qp_dead = true;
    assert!(!s.disconnect_pending());
}

#[test]
fn send_completions_are_wanted_while_something_waits_for_them() {
    let mut s = established(8);
    assert!(!s.wants_send_completions(false, 4, 4));
    assert!(s.wants_send_completions(true, 4, 4), "RDMA in flight");
    assert!(s.wants_send_completions(false, 1, 4), "ring more than half used");
    assert!(!s.wants_send_completions(false, 2, 4));
    s.staged_len = 1;
    assert!(s.wants_send_completions(false, 4, 4), "Nagle holds bytes");
    s.staged_len = 0;
    s.probe_outstanding = true;
    assert!(s.wants_send_completions(false, 4, 4), "keepalive probe");
    s.probe_outstanding = false;
    s.fin_pending = true;
    assert!(s.wants_send_completions(false, 4, 4), "DisConn owed");
}
