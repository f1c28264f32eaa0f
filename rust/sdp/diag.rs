// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/infinisock/sdp`: one line per SDP socket of the namespace, with its
//! addresses, state and the data path's queues and credits (what `ss` shows for TCP);
//! a socket whose owner is inside a socket call at that moment shows as `busy`.

use kernel::{seq_file::SeqFile, seq_print};

use crate::{
    kernel_api::{net::{Net, ProcShow}, sock::for_each_state},
    proto::sockaddr::SockAddr,
    sdp::endpoint::{Endpoint, Phase},
};

/// The `/proc/net/infinisock/sdp` file.
pub(crate) struct SdpList;

/// Prints an address as `a.b.c.d:port` or `[v6]:port`.
struct Addr(Option<SockAddr>);

impl kernel::fmt::Display for Addr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            None => f.write_str("*:*"),
            Some(SockAddr::V4 { addr: a, port }) => write!(f, "{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], port),
            Some(SockAddr::V6 { addr: a, port, .. }) => {
                f.write_str("[")?;
                for (i, pair) in a.chunks(2).enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([pair[0], pair[1]]))?;
                }
                write!(f, "]:{}", port)
            }
        }
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Open => "open",
        Phase::Listening => "listen",
        Phase::Connecting => "connecting",
        Phase::Accepting => "accepting",
        Phase::Connected => "established",
        Phase::Closed => "closed",
    }
}

impl ProcShow for SdpList {
    fn show(m: &SeqFile, net: &Net) {
        seq_print!(m, "local peer state rx_queue tx_queue credits peer_bufs posted flags\n");
        for_each_state::<Endpoint>(|sk, ep| {
            if !core::ptr::eq(sk.net().as_raw(), net.as_raw()) {
                return;
            }
            // Never wait for an endpoint with the list's lock held: its owner may be
            // inside a call that waits for a page fault userspace controls, and the
            // list's lock is what socket creation and teardown in every namespace
            // take. Such a socket's line says only that it is busy.
            let Some(inner) = ep.inner.try_lock() else {
                seq_print!(m, "{} {} busy 0 0 0 0 0 -----\n", Addr(None), Addr(None));
                return;
            };
            let local = inner.id.as_ref().and_then(|id| id.local_addr()).or(inner.bound);
            let peer = match inner.phase {
                Phase::Open | Phase::Listening => None,
                _ => inner.id.as_ref().and_then(|id| id.peer_addr()).or(inner.peer),
            };
            seq_print!(m, "{} {} {}", Addr(local), Addr(peer), phase_name(inner.phase));
            match inner.link.as_ref() {
                Some(link) => {
                    let s = &link.stream;
                    let (credits, peer_bufs) = s.credits.as_ref().map_or((0, 0), |c| (c.available(), c.peer_bufs()));
                    seq_print!(
                        m,
                        " {} {} {} {} {} {}{}{}{}{}\n",
                        s.rx.bytes(),
                        link.outq(),
                        credits,
                        peer_bufs,
                        link.qp.recv_posted(),
                        if inner.orphaned { "O" } else { "-" },
                        if s.fin_pending { "p" } else { "-" },
                        if s.fin_sent { "F" } else { "-" },
                        if s.fin_received { "R" } else { "-" },
                        if s.peer_gone { "G" } else { "-" },
                    );
                }
                None => seq_print!(m, " 0 0 0 0 0 {}----\n", if inner.orphaned { "O" } else { "-" }),
            }
        });
    }
}
