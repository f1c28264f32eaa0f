// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/infinisock/sdp`: one line per SDP socket of the namespace, with its
//! addresses, state and the data path's queues and credits (what `ss` shows for TCP);
//! a socket whose owner is inside a socket call at that moment shows as `busy`.

use kernel::{seq_file::SeqFile, seq_print};

use crate::{
    kernel_api::{net::{Net, ProcShow, Shown}, sock::for_each_state},
    proto::{
        hybrid::IPPROTO_SDP_HYBRID,
        proc_row::{LinkRow, Row, HEADER},
    },
    sdp::endpoint::{Endpoint, Phase},
};

/// The `/proc/net/infinisock/sdp` file.
pub(crate) struct SdpList;

impl ProcShow for SdpList {
    fn show(m: &SeqFile, net: &Net) {
        seq_print!(m, "{}", HEADER);
        for_each_state::<Endpoint>(|sk, ep| {
            if !core::ptr::eq(sk.net().as_raw(), net.as_raw()) {
                return;
            }
            // Never wait for an endpoint with the list's lock held: its owner may be
            // inside a call that waits for a page fault userspace controls, and the
            // list's lock is what socket creation and teardown in every namespace
            // take. Such a socket's line says only that it is busy.
            let Some(inner) = ep.inner.try_lock() else {
                seq_print!(m, "{}", Shown(Row::Busy));
                return;
            };
            let local = inner.id.as_ref().and_then(|id| id.local_addr()).or(inner.bound);
            let peer = match inner.phase {
                Phase::Open | Phase::Listening => None,
                _ => inner.id.as_ref().and_then(|id| id.peer_addr()).or(inner.peer),
            };
            let link = inner.link.as_ref().map(|link| {
                let s = &link.stream;
                let (credits, peer_bufs) = s.credits.as_ref().map_or((0, 0), |c| (c.available(), c.peer_bufs()));
                LinkRow {
                    rx_queue: s.rx.bytes(),
                    tx_queue: link.outq(),
                    credits,
                    peer_bufs,
                    posted: link.qp.recv_posted(),
                    fin_pending: s.fin_pending,
                    fin_sent: s.fin_sent,
                    fin_received: s.fin_received,
                    peer_gone: s.peer_gone,
                }
            });
            // A hybrid stream's, or that of one its listener accepted.
            let path = (sk.protocol() == IPPROTO_SDP_HYBRID).then_some(inner.path);
            let row = Row::Socket { local, peer, phase: inner.phase, orphaned: inner.orphaned, link, path };
            seq_print!(m, "{}", Shown(row));
        });
    }
}
