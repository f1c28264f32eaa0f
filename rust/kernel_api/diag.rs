// SPDX-License-Identifier: GPL-2.0

//! Socket diagnostics (`c/diag.c`): SDP sockets dumped over `NETLINK_SOCK_DIAG` by
//! inet_diag, one handler for each of `IPPROTO_SDP` and `IPPROTO_SDP_HYBRID`, and AF_IB
//! sockets by sock_diag's handler for the family. The C side does netlink; the
//! sockets and their rows come from a [`DiagSource`].

use core::ops::ControlFlow;

use kernel::{error::to_result, prelude::*};

use crate::{
    kernel_api::{
        bindings,
        sock::{for_each_state_from, Sock},
    },
    proto::{
        diag::{DiagRow, SdpInfo},
        sockaddr::SOCKADDR_IB_LEN,
    },
};

/// Describes the sockets a dump lists.
pub(crate) trait DiagSource: 'static {
    /// The protocol state of the socks dumped.
    type State: Send + Sync + 'static;
    /// The row of `sk`. It must not wait (the dump holds the socket list's lock, as
    /// [`for_each_state_from`] says). `detail`: the requester asked for the info, so
    /// the device may be asked about the queue pair. `af_ib`: an AF_IB socket's row,
    /// which also names its ends (`struct sockaddr_ib`, local then peer).
    fn describe(sk: &Sock, state: &Self::State, detail: bool, af_ib: bool) -> (DiagRow, [[u8; SOCKADDR_IB_LEN]; 2]);
}

fn raw_info(info: &SdpInfo) -> bindings::infinisock_sdp_info {
    let v = &info.verbs;
    bindings::infinisock_sdp_info {
        isi_flags: info.flags,
        isi_phase: info.phase,
        isi_transport: info.transport,
        isi_credits: info.credits,
        isi_peer_bufs: info.peer_bufs,
        isi_posted: info.posted,
        isi_recv_bufs: info.recv_bufs,
        isi_send_bufs: info.send_bufs,
        isi_buf_size: info.buf_size,
        isi_port: v.port,
        isi_qp_num: v.qp_num,
        isi_peer_qp_num: v.peer_qp_num,
        isi_path_mtu: v.path_mtu,
        isi_max_inline: v.max_inline,
        isi_bytes_sent: info.bytes_sent,
        isi_bytes_received: info.bytes_received,
        isi_tcp_cookie: info.tcp_cookie,
        isi_gid: v.gid,
        isi_device: v.device.map(|c| c as kernel::ffi::c_char),
        isi_send_buf_bytes: info.send_buf_bytes,
        isi_zc_thresh: info.zc_thresh,
        isi_zc_adverts_out: info.zc_adverts_out,
        isi_zc_adverts_in: info.zc_adverts_in,
        isi_pad: 0,
    }
}

/// Walks the socks of `protocol` from `cursor` for one batch or one exact lookup.
unsafe extern "C" fn walk<S: DiagSource>(
    ctx: *mut bindings::infinisock_diag_ctx,
    protocol: u16,
    cursor: u64,
) -> u64 {
    // SAFETY: `c/diag.c` passes its live context for the duration of the call.
    let (detail, af_ib) =
        unsafe { (bindings::infinisock_diag_wants_info(ctx), bindings::infinisock_diag_for_af_ib(ctx)) };
    for_each_state_from::<S::State>(cursor, |sk, state| {
        if protocol != 0 && sk.protocol() != i32::from(protocol) {
            return ControlFlow::Continue(());
        }
        // SAFETY: As above; the sock is alive under the list's lock.
        if !unsafe { bindings::infinisock_diag_match(ctx, sk.as_raw()) } {
            return ControlFlow::Continue(());
        }
        let (row, [local, peer]) = S::describe(sk, state, detail, af_ib);
        let info = raw_info(&row.info);
        // SAFETY: As above; `info` and the addresses live across the call, which copies
        // them (a `struct sockaddr_ib` is `SOCKADDR_IB_LEN` bytes).
        match unsafe {
            bindings::infinisock_diag_fill(
                ctx,
                sk.as_raw(),
                row.rqueue,
                row.wqueue,
                &info,
                local.as_ptr().cast(),
                peer.as_ptr().cast(),
            )
        } {
            0 => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        }
    })
}

/// The handlers, registered until dropped. One exists at a time: the C side keeps
/// the walk in a static.
pub(crate) struct SockDiag(());

impl SockDiag {
    /// Registers the handlers, listing `S`'s sockets.
    pub(crate) fn register<S: DiagSource>() -> Result<Self> {
        // SAFETY: The walk is valid while the module is loaded. inet_diag takes a
        // module reference around each call into the handlers and unregistering
        // (`drop`) comes before the module's code goes.
        to_result(unsafe { bindings::infinisock_diag_register(Some(walk::<S>)) })?;
        Ok(Self(()))
    }
}

impl Drop for SockDiag {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`.
        unsafe { bindings::infinisock_diag_unregister() }
    }
}
