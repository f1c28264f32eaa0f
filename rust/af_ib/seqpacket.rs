// SPDX-License-Identifier: GPL-2.0

//! AF_IB `SOCK_SEQPACKET`: reliable, ordered messages on the SDP engine.
//!
//! A connection is an SDP connection in rdma_cm's `RDMA_PS_IB` port space whose
//! buffers are as large as the largest message (`proto::message`). One `sendmsg` is
//! one RC SEND of one Data message flagged `FLAG_MESSAGE`, into one of the receive
//! buffers the peer posted and granted as a credit; one `recvmsg` takes one such
//! buffer. Flow control is SDP's: a sender without credits waits (or gets `EAGAIN`),
//! so the receiver's adapter never finds its receive queue empty.

use kernel::prelude::*;

use crate::{
    kernel_api::sock::Msg,
    proto::{
        abi::{MSG_DONTWAIT, MSG_OOB, MSG_PEEK, MSG_TRUNC, SOL_INFINISOCK, TCP_CLOSE_WAIT},
        message::{deliver, message_read_step, MessageReadState, MessageStep},
        rdma::{encode_imm, CMSG_IMM, IMM_LEN},
        wire::{Mid, FLAG_MESSAGE},
    },
    sdp::{
        endpoint::{EpRef, Inner, Phase, RCV_SHUTDOWN},
        tx::{send_error, sendable, wait_for_memory},
    },
};

/// `sendmsg`: sends the `len` bytes as one message, waiting for a credit unless
/// non-blocking. `EMSGSIZE` for a message larger than the connection carries.
pub(crate) fn sendmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, nonblock: bool) -> Result<usize> {
    let flags = msg.flags();
    if flags & MSG_OOB != 0 {
        return Err(EOPNOTSUPP);
    }
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let mut timeo = ep.sk.sndtimeo(nonblock);
    let mut guard = ep.lock_reaped();
    loop {
        let inner = &mut *guard;
        sendable(ep, inner).map_err(|e| send_error(e, flags))?;
        if let (Phase::Connected, Some(link)) = (inner.phase, inner.link.as_mut()) {
            if len > link.max_payload() {
                return Err(EMSGSIZE);
            }
            if link.can_send_data() {
                let res = link.send(Mid::Data, FLAG_MESSAGE, false, len, |buf| {
                    // All of it or nothing: a message is never cut.
                    if msg.copy_in_all(&mut buf[..len]) { Ok(len) } else { Err(EFAULT) }
                });
                match res {
                    Ok(n) => return Ok(n),
                    Err(e) if e == EFAULT => {
                        // A page is missing: faulted in without the lock (a fault
                        // userspace controls must not hold the endpoint), then the
                        // state is looked at again.
                        drop(guard);
                        msg.fault_in_all(len, false)?;
                        guard = ep.lock_reaped();
                        continue;
                    }
                    Err(e) if e == ENOMEM => {
                        // No memory for its buffer now: nothing was taken. The timer
                        // wakes a poller when memory is back.
                        if let Err(e) = wait_for_memory(ep, &mut guard, &mut timeo) {
                            crate::sdp::tx::retry_if_short(ep, &guard);
                            return Err(e);
                        }
                        continue;
                    }
                    Err(e) => {
                        ep.fail(inner, e);
                        return Err(e);
                    }
                }
            }
        }
        ep.wait(&mut guard, &mut timeo)?;
    }
}

/// What a `recvmsg` found missing of the caller's memory.
enum Missing {
    /// Room for a control message of this many data bytes.
    Control(usize),
    /// This many bytes of the data buffer.
    Data(usize),
}

/// `recvmsg`: the oldest message, or as much of it as fits with `MSG_TRUNC` in
/// `msg_flags` (the rest is dropped, as on every `SOCK_SEQPACKET` family); with
/// `MSG_TRUNC` in `flags` it returns the message's real length. `MSG_PEEK` leaves the
/// message queued. A message that cannot be copied out stays queued (`EFAULT`). The
/// immediate data of the peer's RDMA WRITE with immediate comes in order with the
/// messages: 0 bytes and an `INFINISOCK_CMSG_IMM` control message.
pub(crate) fn recvmsg(ep: EpRef<'_>, msg: &mut Msg, len: usize, flags: i32, nonblock: bool) -> Result<usize> {
    if flags & MSG_OOB != 0 {
        return Err(EOPNOTSUPP);
    }
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let mut timeo = ep.sk.rcvtimeo(nonblock);
    let mut guard = ep.lock_reaped();
    loop {
        let inner = &mut *guard;
        let rcv_shut = inner.shutdown & RCV_SHUTDOWN != 0;
        let link = inner.link.as_ref();
        let step = message_read_step(&MessageReadState {
            phase: inner.phase,
            has_link: link.is_some(),
            rcv_shut,
            queued: link.is_some_and(|l| l.stream.rx.front().is_some()),
            error: ep.sk.peek_err() != 0,
            fin_received: link.is_some_and(|l| l.stream.fin_received),
        });
        // What of the caller's buffers to fault in before trying again.
        let missing = match step {
            MessageStep::NotConnected => return Err(ENOTCONN),
            MessageStep::Take => match take(ep, inner, msg, len, flags)? {
                Ok(n) => return Ok(n),
                Err(missing) => missing,
            },
            MessageStep::Error => match ep.sk.take_err() {
                // `getsockopt(SO_ERROR)` took it meanwhile (it needs no lock of ours).
                0 => continue,
                err => return Err(Error::from_errno(err)),
            },
            MessageStep::Eof => {
                if inner.link.as_ref().is_some_and(|l| l.stream.fin_received) {
                    ep.sk.set_tcp_state(TCP_CLOSE_WAIT);
                }
                return Ok(0);
            }
            MessageStep::Wait => {
                ep.wait_for_data(&mut guard, &mut timeo)?;
                continue;
            }
        };
        // Faulted in without the lock (a fault userspace controls must not hold the
        // endpoint), then the state is looked at again.
        drop(guard);
        match missing {
            Missing::Control(len) => msg.fault_in_control(len)?,
            Missing::Data(len) => msg.fault_in_all(len, true)?,
        }
        guard = ep.lock_reaped();
    }
}

/// Delivers the message at the front of the queue (`MessageStep::Take`): its length
/// (or 0 and its immediate data), or what of the caller's memory was missing.
fn take(ep: EpRef<'_>, inner: &mut Inner, msg: &mut Msg, len: usize, flags: i32) -> Result<core::result::Result<usize, Missing>> {
    let Some(link) = inner.link.as_mut() else { return Err(ENOTCONN) };
    let Some(idx) = link.stream.rx.front() else { return Err(ENOTCONN) };
    if let Some((imm, written)) = link.rx_imm[usize::from(idx)] {
        // The peer's RDMA WRITE with immediate: no bytes, its data as a control
        // message.
        match msg.put_cmsg(SOL_INFINISOCK, CMSG_IMM, &encode_imm(imm, written)) {
            Ok(()) => {}
            Err(e) if e == EFAULT => return Ok(Err(Missing::Control(IMM_LEN))),
            Err(e) => return Err(e),
        }
        if flags & MSG_PEEK == 0 {
            consume(ep, inner, idx, 0);
        }
        return Ok(Ok(0));
    }
    let payload = link.payload(idx);
    let size = payload.len();
    let d = deliver(size, len, flags & MSG_TRUNC != 0);
    if !msg.copy_out_all(&payload[..d.copied]) {
        return Ok(Err(Missing::Data(d.copied)));
    }
    if d.truncated {
        msg.add_flags(MSG_TRUNC);
    }
    if flags & MSG_PEEK == 0 {
        consume(ep, inner, idx, size);
    }
    Ok(Ok(d.returned))
}

/// Gives the oldest message's buffer (`idx`, `size` payload bytes) back to the peer.
fn consume(ep: EpRef<'_>, inner: &mut Inner, idx: u16, size: usize) {
    let Some(link) = inner.link.as_mut() else { return };
    link.stream.rx.take_message(size);
    let res = link.repost(idx);
    if let Err(e) = res.and_then(|()| link.maybe_credit_update()) {
        ep.fail(inner, e);
    }
    crate::sdp::tx::retry_if_short(ep, inner);
    crate::sdp::close::maybe_finish(ep, inner);
}

/// `SIOCINQ`/`FIONREAD`: the size of the next message, as UDP reports its next
/// datagram's.
pub(crate) fn next_message_size(ep: EpRef<'_>) -> usize {
    let inner = ep.lock_reaped();
    let size = |l: &crate::link::link::Link, idx: u16| {
        if l.rx_imm[usize::from(idx)].is_some() { 0 } else { l.payload(idx).len() }
    };
    inner.link.as_ref().and_then(|l| l.stream.rx.front().map(|idx| size(l, idx))).unwrap_or(0)
}
