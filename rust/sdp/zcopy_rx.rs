// SPDX-License-Identifier: GPL-2.0

//! The sink's side of zero-copy SDP: the peer's SrcAvail adverts and cancels as they
//! arrive, and the completions of the RDMA READs that fetch the advertised bytes into
//! the link's landing slots (`proto::zc_land` keeps the rules; `link::link` posts the
//! READs and the replies). The peer's program wrote its bytes once; they cross the
//! fabric by our READ and are copied once, to the reader, as a message's are.

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::prelude::*;

use crate::{
    kernel_api::{trace, verbs::Wc},
    link::link::Link,
    netns::stats,
    proto::{
        abi::{POLLIN, POLLRDNORM},
        rdma_ops::connection_error,
        receive::{Violation, ZcVerdict},
        stats::Counter,
        wire::{BSDH_LEN, SRC_AH_LEN},
        zc_sink::OnSrcAvail,
    },
    sdp::endpoint::{EpRef, Inner, Phase, RCV_SHUTDOWN},
};

/// A SrcAvail or SrcAvailCancel in receive buffer `idx` (`discard`: after
/// `shutdown(SHUT_RD)`, which declines every advert). An accepted advert's inline
/// bytes wait for the reader in the buffer; otherwise it is posted again. Returns the
/// poll events it raised.
pub(crate) fn on_message(ep: EpRef<'_>, link: &mut Link, idx: u16, z: ZcVerdict, discard: bool) -> Result<u32, Violation> {
    // `classify` gives zero-copy verdicts only with the flow's gate.
    let flow = link.zc.as_mut().ok_or(Violation::Reset)?;
    let mut events = 0;
    match z {
        ZcVerdict::SrcAvail { ah, inline_len, mseq_ack } => {
            let verdict = flow.on_src_avail(mseq_ack, ah, inline_len as u32).map_err(Violation::Zc)?;
            if verdict == OnSrcAvail::Accept {
                stats::bump(ep.sk.net(), Counter::ZcAdvertsTaken);
            }
            if discard {
                flow.decline();
            }
            if verdict == OnSrcAvail::Accept && inline_len > 0 && !discard {
                link.set_payload_start(idx, BSDH_LEN + SRC_AH_LEN);
                link.stream.rx.file(idx, inline_len);
                link.stream.urgent.filed(inline_len, None);
                events = POLLIN | POLLRDNORM;
            }
        }
        ZcVerdict::Cancel => {
            stats::bump(ep.sk.net(), Counter::ZcCancels);
            flow.on_cancel();
        }
        // Replies to our own adverts: `sdp::zcopy_tx`'s.
        ZcVerdict::RdCompl { .. } | ZcVerdict::SendSm { .. } => return Err(Violation::Reset),
    }
    if events == 0 {
        link.repost(idx).map_err(|_| Violation::Reset)?;
    }
    Ok(events)
}

/// Counts what the link decided on its own since the last look: the peer's adverts
/// it declined (`zc_declines_sent`), and the adverts it opened for gathered spliced
/// pages (`zc_adverts_sent`). It decides them where it flushes its replies and its
/// gathered pages (`Link::progress`, `flush_fin`, `zc_shut_read`), with no namespace
/// to count in: each caller of those counts here after them.
pub(crate) fn count_link_events(ep: EpRef<'_>, link: &mut Link) {
    let declined = link.zc.as_mut().map_or(0, |flow| flow.take_declined());
    if declined > 0 {
        stats::add(ep.sk.net(), Counter::ZcDeclinesSent, u64::from(declined));
    }
    let runs = link.zc_src.as_mut().map_or(0, |src| src.take_runs_advertised());
    if runs > 0 {
        stats::add(ep.sk.net(), Counter::ZcAdvertsSent, runs);
        // Nobody may be waiting for them: their clock runs on the trim timer.
        crate::sdp::zcopy_tx::arm_clock(ep, link);
    }
}

/// A READ into a landing slot completed (or failed, or was flushed).
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    // Landing buffers allocated from here are the socket owner's memory, whoever reaps.
    let _memcg = ep.sk.charge_to_creator();
    let Some(link) = inner.link.as_mut() else { return };
    // The queue pair names the landing slot of each READ's completion.
    let Some(idx) = wc.buffer else { return };
    if !wc.ok() {
        link.zc_read_failed(idx);
        // A flush: the QP failed, and its receives' flush judges how. Otherwise the
        // peer refused the READ (a key or a range it never advertised) or stopped
        // answering.
        if let Some(err) = connection_error(&wc).filter(|_| inner.phase == Phase::Connected) {
            if !wc.peer_silent() {
                stats::bump(ep.sk.net(), Counter::ProtocolViolations);
                if trace::violation_enabled() {
                    trace::violation(&ep.sk, c"zero-copy READ refused");
                }
                pr_warn_ratelimited!("SDP: RDMA READ of the peer's advert failed (status {}); connection reset\n", wc.status);
            }
            ep.fail(inner, err.into_error());
            return;
        }
        crate::sdp::close::rdma_settled(ep, inner, false);
        return;
    }
    stats::add(ep.sk.net(), Counter::ZcBytesRead, u64::from(link.rx_len[usize::from(idx)]));
    let discard = inner.shutdown & RCV_SHUTDOWN != 0;
    let res = link.zc_landed(idx, discard).and_then(|()| link.progress());
    count_link_events(ep, link);
    if let Err(e) = res {
        ep.fail(inner, e);
        return;
    }
    crate::sdp::tx::retry_if_short(ep, inner);
    ep.wake(POLLIN | POLLRDNORM);
    // A peer's disconnect may wait for the READs in flight.
    crate::sdp::close::rdma_settled(ep, inner, false);
    crate::sdp::close::maybe_finish(ep, inner);
}
