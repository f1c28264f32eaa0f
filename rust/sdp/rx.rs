// SPDX-License-Identifier: GPL-2.0

//! Receiving: completions of the receive ring, decoding and checking each message, and
//! `recvmsg` copying data out of the ring and reposting the buffers.

use crate::kernel_api::log::pr_warn_ratelimited;
use kernel::prelude::*;

use crate::{
    kernel_api::{sock::Msg, verbs::Wc},
    link::link::Link,
    proto::{
        abi::{
            MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
            TCP_CLOSE_WAIT,
        },
        wire::{decode_message, Message, FLAG_MESSAGE},
    },
    sdp::endpoint::{EpRef, Inner, Phase, RCV_SHUTDOWN},
};

/// Why a peer's message ends the connection.
enum Violation {
    /// Undecodable, or it broke flow control: the peer is buggy or hostile.
    Protocol,
    /// The peer reset the connection (Abort).
    Reset,
}

/// A receive completed (or was flushed).
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    // The queue pair names the buffer a receive completed in (posting order).
    let Some(idx) = wc.buffer else { return };
    if !wc.ok() {
        // A flush means the QP went to the error state (a disconnect or a failed
        // send), after everything the peer sent: `close::flushed` judges how the
        // connection ended. (Before it is established, rdma_cm flushes the QP of a
        // rejected request itself and reports the outcome as an event.)
        if inner.phase == Phase::Connected {
            crate::sdp::close::flushed(ep, inner);
        }
        return;
    }
    link.stream.rx_len[usize::from(idx)] = wc.byte_len;
    // An RDMA WRITE with immediate consumed the buffer: it holds no message.
    link.stream.rx_imm[usize::from(idx)] = wc.imm.map(|imm| (imm, wc.byte_len));
    link.stream.last_heard = kernel::time::Instant::now();
    if link.stream.credits.is_none() {
        // Arrived before our side saw the connection established; see `rx_early`.
        link.stream.rx_early.push(idx);
        return;
    }
    process(ep, inner, idx);
}

/// Decodes the messages that arrived before the credits existed.
pub(crate) fn process_early(ep: EpRef<'_>, inner: &mut Inner) {
    while let Some(idx) = inner.link.as_mut().and_then(|l| l.stream.rx_early.pop()) {
        process(ep, inner, idx);
    }
}

/// Handles the message in receive buffer `idx`.
fn process(ep: EpRef<'_>, inner: &mut Inner, idx: u16) {
    let orphaned = inner.orphaned;
    let discard = inner.shutdown & RCV_SHUTDOWN != 0;
    let Some(link) = inner.link.as_mut() else { return };
    match handle_message(link, idx, ep.is_seqpacket, orphaned, discard) {
        Ok(mask) => {
            if let Err(e) = link.progress() {
                ep.fail(inner, e);
                return;
            }
            let writable = if link.can_send_data() { POLLOUT | POLLWRNORM } else { 0 };
            match (mask & !inner.woken_before_reap) | writable {
                0 => ep.notify_waiters(),
                news => ep.wake(news),
            }
            // The receive event woke the pollers for these without SIGIO, which only
            // now is known to be due.
            let announced = mask & inner.woken_before_reap;
            if announced != 0 {
                ep.sk.sigio(announced);
            }
            crate::sdp::close::maybe_finish(ep, inner);
        }
        Err(Violation::Reset) => ep.fail(inner, ECONNRESET),
        Err(Violation::Protocol) => {
            if let Some(link) = inner.link.as_mut() {
                link.send_abort();
            }
            ep.fail(inner, ECONNRESET);
        }
    }
}

/// Checks one message and files it; returns the poll events it raised. On a message
/// socket (`messages`) only a Data message flagged `FLAG_MESSAGE` is an application
/// message, and an unflagged one must be a bare credit update; a stream never sees
/// the flag.
fn handle_message(link: &mut Link, idx: u16, messages: bool, orphaned: bool, discard: bool) -> Result<u32, Violation> {
    if link.stream.rx_imm[usize::from(idx)].is_some() {
        return handle_immediate(link, idx, messages, orphaned, discard);
    }
    let len = link.stream.rx_len[usize::from(idx)] as usize;
    // What the message says, detached from the buffer it borrows.
    enum Kind {
        CreditUpdate,
        Data(usize),
        DisConn,
        Abort,
        Resize,
    }
    let (hdr, kind) = match decode_message(link.received(idx, len)) {
        Ok((h, Message::Data(p))) => match (messages, h.flags & FLAG_MESSAGE != 0, p.len()) {
            (true, true, n) | (false, false, n @ 1..) => (h, Kind::Data(n)),
            (_, false, 0) => (h, Kind::CreditUpdate),
            (messages, ..) => {
                pr_warn_ratelimited!("SDP: {} flagged as a message from peer; connection reset\n", if messages { "data not" } else { "stream data" });
                return Err(Violation::Protocol);
            }
        },
        Ok((h, Message::DisConn)) => (h, Kind::DisConn),
        Ok((h, Message::Abort)) => (h, Kind::Abort),
        Ok((h, Message::ChRcvBuf(_) | Message::ChRcvBufAck(_))) => (h, Kind::Resize),
        Err(e) => {
            pr_warn_ratelimited!("SDP: malformed message from peer ({:?}); connection reset\n", e);
            return Err(Violation::Protocol);
        }
    };
    let credits = link.stream.credits.as_mut().ok_or(Violation::Protocol)?;
    if let Err(e) = credits.receive(&hdr) {
        pr_warn_ratelimited!("SDP: peer broke flow control ({:?}); connection reset\n", e);
        return Err(Violation::Protocol);
    }
    match kind {
        Kind::CreditUpdate => {
            // A credit update: the header was all it had to say.
            link.repost(idx).map_err(|_| Violation::Reset)?;
            Ok(0)
        }
        Kind::Data(payload_len) => file_data(link, idx, payload_len, orphaned, discard),
        Kind::DisConn => {
            link.stream.fin_received = true;
            link.repost(idx).map_err(|_| Violation::Reset)?;
            Ok(POLLIN | POLLRDNORM | POLLRDHUP)
        }
        Kind::Abort => Err(Violation::Reset),
        // Receive-buffer resizing is not offered (Hello's max_adverts/size fields say
        // so); a peer asking anyway is told nothing and keeps the size it has.
        Kind::Resize => {
            link.repost(idx).map_err(|_| Violation::Reset)?;
            Ok(0)
        }
    }
}

/// Files the immediate data of an RDMA WRITE with immediate, which arrives without
/// a header (`Credits::receive_headerless`), as the next message of a message socket.
fn handle_immediate(link: &mut Link, idx: u16, messages: bool, orphaned: bool, discard: bool) -> Result<u32, Violation> {
    if !messages {
        pr_warn_ratelimited!("SDP: RDMA WRITE with immediate on a stream from peer; connection reset\n");
        return Err(Violation::Protocol);
    }
    let credits = link.stream.credits.as_mut().ok_or(Violation::Protocol)?;
    if let Err(e) = credits.receive_headerless() {
        pr_warn_ratelimited!("SDP: peer broke flow control ({:?}); connection reset\n", e);
        return Err(Violation::Protocol);
    }
    file_data(link, idx, 0, orphaned, discard)
}

/// Files receive buffer `idx`, holding `payload_len` bytes of data (none for an
/// immediate), for the reader.
fn file_data(link: &mut Link, idx: u16, payload_len: usize, orphaned: bool, discard: bool) -> Result<u32, Violation> {
    if link.stream.fin_received {
        pr_warn_ratelimited!("SDP: peer sent data after DisConn; connection reset\n");
        return Err(Violation::Protocol);
    }
    if orphaned {
        // Data for a closed socket: nobody will read it (TCP answers with RST).
        return Err(Violation::Protocol);
    }
    if discard {
        link.repost(idx).map_err(|_| Violation::Reset)?;
        return Ok(0);
    }
    link.stream.rx_ready.push(idx);
    link.stream.rx_bytes += payload_len;
    Ok(POLLIN | POLLRDNORM)
}

/// Copies up to `dest.len()` unread bytes out of the ring; consumed buffers are
/// reposted unless `peek`. Returns the bytes copied.
fn copy_out(link: &mut Link, msg: &mut Msg, want: usize, peek: bool) -> Result<usize> {
    let mut copied = 0;
    let mut offset = link.stream.rx_offset;
    let mut n = 0;
    while copied < want {
        let Some(idx) = link.stream.rx_ready.get(n) else { break };
        let payload = link.payload(idx);
        let chunk = &payload[offset..];
        let take = chunk.len().min(want - copied);
        let done = msg.copy_out(&chunk[..take]);
        copied += done;
        if done < take {
            if copied == 0 {
                return Err(EFAULT);
            }
            offset += done;
            break;
        }
        if offset + take < payload.len() {
            offset += take;
            break;
        }
        offset = 0;
        n += 1;
    }
    if !peek {
        // Buffers fully read go back to the peer as credits.
        for _ in 0..n {
            if let Some(idx) = link.stream.rx_ready.pop() {
                if !link.stream.qp_dead {
                    link.repost(idx)?;
                }
            }
        }
        link.stream.rx_offset = offset;
        link.stream.rx_bytes -= copied;
    }
    Ok(copied)
}

/// `recvmsg` on a stream.
pub(crate) fn recvmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, flags: i32, nonblock: bool) -> Result<usize> {
    let sk = &ep.sk;
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    let mut timeo = sk.rcvtimeo(nonblock);
    let target = sk.rcvlowat(flags & MSG_WAITALL != 0, len);
    let mut copied = 0;
    let mut guard = ep.lock_reaped();
    loop {
        let inner = &mut *guard;
        if inner.phase == Phase::Listening || (inner.phase == Phase::Open && inner.link.is_none()) {
            return Err(ENOTCONN);
        }
        if let Some(link) = inner.link.as_mut() {
            if link.stream.rx_bytes > 0 && copied < len && inner.shutdown & RCV_SHUTDOWN == 0 {
                // With MSG_PEEK every round starts from the oldest byte again.
                let n = match copy_out(link, msg, len - copied, peek) {
                    Ok(n) => n,
                    Err(e) if e == EFAULT => {
                        // A page is missing: faulted in without the lock (a fault
                        // userspace controls must not hold the endpoint), then the
                        // state is looked at again.
                        drop(guard);
                        let faulted = msg.fault_in(len - copied, true);
                        guard = ep.lock_reaped();
                        match faulted {
                            Ok(()) => continue,
                            Err(_) if copied > 0 => break,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                };
                copied += n;
                if !peek {
                    if let Err(e) = link.maybe_credit_update() {
                        ep.fail(inner, e);
                    }
                }
                if peek || copied >= target {
                    break;
                }
                continue;
            }
        }
        if copied >= target && copied > 0 {
            break;
        }
        let err = sk.take_err();
        if err != 0 {
            if copied > 0 {
                break;
            }
            return Err(Error::from_errno(err));
        }
        let eof = inner.shutdown & RCV_SHUTDOWN != 0
            || inner.phase == Phase::Closed
            || inner.link.as_ref().is_some_and(|l| l.stream.fin_received);
        if eof {
            if inner.link.as_ref().is_some_and(|l| l.stream.fin_received) {
                ep.sk.set_tcp_state(TCP_CLOSE_WAIT);
            }
            break;
        }
        if len == 0 {
            break;
        }
        match ep.wait_for_data(&mut guard, &mut timeo) {
            Ok(()) => {}
            Err(_) if copied > 0 => break,
            Err(e) => return Err(e),
        }
    }
    crate::sdp::close::maybe_finish(ep, &mut guard);
    Ok(copied)
}
