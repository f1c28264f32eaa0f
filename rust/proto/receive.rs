// SPDX-License-Identifier: GPL-2.0

//! Receiving, as plain data: what each message the peer sends means for the
//! connection ([`classify`]), and the queue of receive buffers whose data waits for
//! the reader ([`ReadyQueue`]), read byte by byte across buffers as a stream or one
//! buffer at a time as messages.

use super::{
    abi::{POLLIN, POLLPRI, POLLRDHUP, POLLRDNORM},
    credits::{CreditError, Credits},
    list::{List, NoMemory},
    ring::{IndexFifo, IndexSlots, MAX_RING},
    wire::{decode, Advert, Message, Mid, WireError, FLAG_MESSAGE, FLAG_OOB_PRES},
    zc_land::ZcGate,
    zc_src::SrcViolation,
    zc_sink::SinkViolation,
};

/// What completed in a receive buffer.
#[derive(Clone, Copy, Debug)]
pub enum Incoming<'a> {
    /// A message (header and payload), exactly the bytes received.
    Message(&'a [u8]),
    /// An RDMA WRITE with immediate consumed the buffer: no header, no bytes in it.
    Immediate,
}

/// The connection as a received message finds it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RxContext {
    /// A message socket (`SOCK_SEQPACKET`): only data flagged `FLAG_MESSAGE` is an
    /// application message; a stream never sees the flag.
    pub messages: bool,
    /// The peer's DisConn came already.
    pub fin_received: bool,
    /// The socket was closed: nobody reads any more.
    pub orphaned: bool,
    /// `shutdown(SHUT_RD)`: data is dropped on arrival.
    pub discard: bool,
    /// Zero-copy was negotiated: its messages decode, and the peer's Data, Urgent and
    /// DisConn must pass this gate (`proto::zc_land`).
    pub zc: Option<ZcGate>,
    /// This side may advertise its own bytes (SrcAvail): the sink's replies,
    /// RdmaRdCompl and SendSm, are for it (`proto::zc_src`).
    pub src: bool,
}

/// What to do with a message that is in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing for the reader (a credit update, a resize request we do not honour,
    /// data after `SHUT_RD`): post the buffer again at once.
    Repost,
    /// Data for the reader, `payload_len` bytes (none for an immediate): the buffer
    /// waits in the [`ReadyQueue`].
    File {
        /// Payload bytes (the message minus its header).
        payload_len: usize,
    },
    /// Stream data whose last byte is urgent (`OOB_PRES`), `payload_len` bytes in
    /// all: filed as [`Verdict::File`] is, with the urgent byte's mark.
    Urgent {
        /// Payload bytes, the urgent one included (at least it).
        payload_len: usize,
    },
    /// The peer's DisConn: post the buffer again; no more data will come.
    DisConn,
    /// A zero-copy message: for the sink's flow (`proto::zc_land`) or, a reply to our
    /// adverts, for the source's (`proto::zc_src`).
    Zc(ZcVerdict),
}

/// A zero-copy message, as the sink or the source takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZcVerdict {
    /// A SrcAvail sent with `mseq_ack`; its first `inline_len` bytes follow its header
    /// in the buffer, for the reader.
    SrcAvail { ah: Advert, inline_len: usize, mseq_ack: u32 },
    /// SrcAvailCancel: post the buffer again; the flow answers it.
    Cancel,
    /// RdmaRdCompl to our SrcAvail, sent with `mseq_ack`: the peer READ `n` more bytes.
    RdCompl { n: u32, mseq_ack: u32 },
    /// SendSm sent with `mseq_ack`: the peer declines our open SrcAvails.
    SendSm { mseq_ack: u32 },
}

impl Verdict {
    /// The poll events the message raises.
    pub fn poll_events(self) -> u32 {
        match self {
            Verdict::Repost => 0,
            Verdict::File { .. } => POLLIN | POLLRDNORM,
            Verdict::Urgent { .. } => POLLIN | POLLRDNORM | POLLPRI,
            Verdict::DisConn => POLLIN | POLLRDNORM | POLLRDHUP,
            // The sink's flow decides what becomes readable (it may discard an advert).
            Verdict::Zc(_) => 0,
        }
    }
}

/// Why a received message ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Undecodable.
    Malformed(WireError),
    /// Data flagged (or not) as a message against the socket's kind.
    WrongFlag {
        /// Whether the socket is a message socket.
        messages: bool,
    },
    /// An RDMA WRITE with immediate on a stream.
    ImmediateOnStream,
    /// A SEND with invalidate, never negotiated: the device invalidated one of our
    /// keys at the peer's word (on rxe, any key of the device).
    RemoteInvalidate,
    /// The peer broke flow control.
    FlowControl(CreditError),
    /// Data after the peer's own DisConn.
    DataAfterDisConn,
    /// Data for a socket that was closed (TCP answers it with RST).
    DataAfterClose,
    /// The peer reset the connection (Abort).
    Reset,
    /// The peer broke a zero-copy rule.
    Zc(SinkViolation),
    /// A zero-copy message the sink never asked for (it advertises nothing itself).
    Unsolicited(Mid),
    /// The sink's reply to our adverts broke a rule.
    ZcSrc(SrcViolation),
}

impl Violation {
    /// Whether we tell the peer with an Abort: every violation but its own Abort.
    pub fn answer_with_abort(self) -> bool {
        self != Violation::Reset
    }
}

/// What a message says, detached from the buffer it borrows.
enum Kind {
    CreditUpdate,
    Data(usize),
    /// Stream data whose last byte is urgent.
    Urgent(usize),
    DisConn,
    Abort,
    Resize,
    SrcAvail { ah: Advert, inline_len: usize, mseq_ack: u32 },
    Cancel,
    SrcReply(ZcVerdict),
}

/// Checks one received message against the wire format, the socket's kind and flow
/// control (which it advances), and says what to do with it.
pub fn classify(incoming: Incoming<'_>, ctx: RxContext, credits: &mut Credits) -> Result<Verdict, Violation> {
    let kind = match incoming {
        Incoming::Immediate => {
            if !ctx.messages {
                return Err(Violation::ImmediateOnStream);
            }
            credits.receive_headerless().map_err(Violation::FlowControl)?;
            Kind::Data(0)
        }
        Incoming::Message(bytes) => {
            let (hdr, kind) = match decode(bytes, ctx.zc.is_some()).map_err(Violation::Malformed)? {
                (h, Message::Data(p)) => match (ctx.messages, h.flags & FLAG_MESSAGE != 0, p.len()) {
                    (false, false, n @ 1..) if h.flags & FLAG_OOB_PRES != 0 => (h, Kind::Urgent(n)),
                    (true, true, n) | (false, false, n @ 1..) => (h, Kind::Data(n)),
                    (_, false, 0) => (h, Kind::CreditUpdate),
                    (messages, ..) => return Err(Violation::WrongFlag { messages }),
                },
                (h, Message::DisConn) => (h, Kind::DisConn),
                (h, Message::Abort) => (h, Kind::Abort),
                (h, Message::ChRcvBuf(_) | Message::ChRcvBufAck(_)) => (h, Kind::Resize),
                (h, Message::SrcAvail { ah, inline }) => {
                    (h, Kind::SrcAvail { ah, inline_len: inline.len(), mseq_ack: h.mseq_ack })
                }
                (h, Message::SrcAvailCancel) => (h, Kind::Cancel),
                (h, Message::RdmaRdCompl(n)) if ctx.src => (h, Kind::SrcReply(ZcVerdict::RdCompl { n, mseq_ack: h.mseq_ack })),
                (h, Message::SendSm) if ctx.src => (h, Kind::SrcReply(ZcVerdict::SendSm { mseq_ack: h.mseq_ack })),
                // `decode` returns zero-copy messages only when negotiated.
                (h, _) if ctx.zc.is_none() => return Err(Violation::Malformed(WireError::UnexpectedMid(h.mid))),
                (h, _) => return Err(Violation::Unsolicited(h.mid)),
            };
            credits.receive(&hdr).map_err(Violation::FlowControl)?;
            // Data-bearing messages wait for every advert of the peer to close.
            let bearing = matches!(kind, Kind::Data(1..) | Kind::Urgent(_) | Kind::DisConn);
            if bearing && ctx.zc.is_some_and(|g| !g.admits(hdr.mseq_ack)) {
                return Err(Violation::Zc(SinkViolation::DataWhileOpen));
            }
            kind
        }
    };
    match kind {
        // A credit update: the header was all it had to say. Receive-buffer resizing
        // is not offered (Hello's fields say so); a peer asking anyway keeps its size.
        Kind::CreditUpdate | Kind::Resize => Ok(Verdict::Repost),
        Kind::DisConn => Ok(Verdict::DisConn),
        Kind::Cancel => Ok(Verdict::Zc(ZcVerdict::Cancel)),
        Kind::SrcReply(z) => Ok(Verdict::Zc(z)),
        Kind::Abort => Err(Violation::Reset),
        Kind::Data(_) | Kind::Urgent(_) | Kind::SrcAvail { .. } if ctx.fin_received => Err(Violation::DataAfterDisConn),
        Kind::Data(_) | Kind::Urgent(_) | Kind::SrcAvail { .. } if ctx.orphaned => Err(Violation::DataAfterClose),
        // After `SHUT_RD` too: the caller declines it (`SinkFlow::decline`), and its
        // bytes, coming again as Data, are dropped then.
        Kind::SrcAvail { ah, inline_len, mseq_ack } => Ok(Verdict::Zc(ZcVerdict::SrcAvail { ah, inline_len, mseq_ack })),
        Kind::Data(_) | Kind::Urgent(_) if ctx.discard => Ok(Verdict::Repost),
        Kind::Data(payload_len) => Ok(Verdict::File { payload_len }),
        Kind::Urgent(payload_len) => Ok(Verdict::Urgent { payload_len }),
    }
}

/// Receive buffers holding unread data, oldest first, and the reader's place in the
/// oldest.
#[derive(Clone, Debug)]
pub struct ReadyQueue<S = [u16; MAX_RING]> {
    ready: IndexFifo<S>,
    /// Bytes of the oldest buffer's payload already read.
    offset: usize,
    /// Unread payload bytes in all of them.
    bytes: usize,
}

/// A copy to the reader failed before its first byte (a page fault to take outside
/// the lock); nothing was consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

impl Default for ReadyQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadyQueue {
    /// An empty queue for a ring of up to [`MAX_RING`] buffers, in place.
    pub const fn new() -> Self {
        Self { ready: IndexFifo::new(), offset: 0, bytes: 0 }
    }
}

impl<S: List<u16>> ReadyQueue<S> {
    /// An empty queue for a ring of `ring` buffers.
    pub fn for_ring(ring: usize) -> Result<Self, NoMemory> {
        Ok(Self { ready: IndexFifo::for_ring(ring)?, offset: 0, bytes: 0 })
    }
}

impl<S: IndexSlots> ReadyQueue<S> {

    /// Files buffer `idx` with `payload_len` bytes for the reader.
    pub fn file(&mut self, idx: u16, payload_len: usize) {
        if self.ready.push(idx) {
            self.bytes += payload_len;
        }
    }

    /// Unread bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no buffer waits (a message socket may have empty messages waiting).
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// The oldest buffer waiting.
    pub fn front(&self) -> Option<u16> {
        self.ready.front()
    }

    /// Buffers waiting.
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// Buffers waiting whose index is `first` or above (landing slots, which follow
    /// the receive ring's).
    pub fn count_from(&self, first: u16) -> usize {
        (0..self.ready.len()).filter_map(|i| self.ready.get(i)).filter(|&idx| idx >= first).count()
    }

    /// Takes the oldest buffer as one message of `payload_len` bytes (a message
    /// socket reads whole buffers); returns it, to be posted again.
    pub fn take_message(&mut self, payload_len: usize) -> Option<u16> {
        let idx = self.ready.pop()?;
        self.offset = 0;
        self.bytes = self.bytes.saturating_sub(payload_len);
        Some(idx)
    }

    /// Reads up to `want` bytes as a stream, across buffers, after stepping over
    /// `skip` bytes (an urgent byte the reader does not take inline): `payload(idx)`
    /// is the length of a buffer's payload, `copy(idx, from, to)` copies that part of
    /// it to the reader and returns how many bytes it copied (fewer on a fault).
    /// Unless `peek`, what was stepped over and read is consumed, and `consumed(idx)`
    /// is told of each buffer read to its end (to post it again). Returns the bytes
    /// read; [`Fault`] when the first copy failed at once (then nothing is consumed).
    pub fn read(
        &mut self,
        skip: usize,
        want: usize,
        peek: bool,
        payload: impl Fn(u16) -> usize,
        mut copy: impl FnMut(u16, usize, usize) -> usize,
        mut consumed: impl FnMut(u16),
    ) -> Result<usize, Fault> {
        let (mut copied, mut offset, mut whole) = (0, self.offset, 0);
        let mut skipped = 0;
        while skipped < skip {
            let Some(idx) = self.ready.get(whole) else { break };
            let len = payload(idx);
            let take = len.saturating_sub(offset).min(skip - skipped);
            skipped += take;
            offset += take;
            if offset >= len {
                offset = 0;
                whole += 1;
            }
        }
        while copied < want {
            let Some(idx) = self.ready.get(whole) else { break };
            let len = payload(idx);
            let take = len.saturating_sub(offset).min(want - copied);
            let done = copy(idx, offset, offset + take).min(take);
            copied += done;
            if done < take {
                if copied == 0 {
                    return Err(Fault);
                }
                offset += done;
                break;
            }
            if offset + take < len {
                offset += take;
                break;
            }
            offset = 0;
            whole += 1;
        }
        if !peek {
            for _ in 0..whole {
                if let Some(idx) = self.ready.pop() {
                    consumed(idx);
                }
            }
            self.offset = offset;
            self.bytes -= copied + skipped;
        }
        Ok(copied)
    }
}

/// What a stream's `recvmsg` looks at between its steps.
#[derive(Clone, Copy, Debug)]
pub struct ReadState {
    pub phase: super::conn_state::Phase,
    /// The connection has its link (buffers).
    pub has_link: bool,
    /// Unread bytes.
    pub unread: usize,
    /// `shutdown()` directions asked for locally.
    pub shutdown: u8,
    /// A socket error is pending.
    pub error: bool,
    /// The peer's DisConn arrived.
    pub fin_received: bool,
    /// Bytes this call copied so far, of `len` asked for; it returns once `target`
    /// (`SO_RCVLOWAT`, or `len` with `MSG_WAITALL`) are there.
    pub copied: usize,
    pub len: usize,
    pub target: usize,
}

/// The next step of a stream's `recvmsg`, as `tcp_recvmsg` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStep {
    /// Not a connection (a listener, or never connected): `ENOTCONN`.
    NotConnected,
    /// Copy what is unread.
    Copy,
    /// Return what was copied.
    Done,
    /// Return the pending error (nothing was copied: a call that copied returns its
    /// bytes, and the error waits for the next).
    Error,
    /// The end of the stream: return what was copied (0 is EOF).
    Eof,
    /// Wait for data (or the time-out).
    Wait,
}

/// See [`ReadStep`].
pub fn read_step(s: &ReadState) -> ReadStep {
    use super::conn_state::{Phase, RCV_SHUTDOWN};
    if s.phase == Phase::Listening || (s.phase == Phase::Open && !s.has_link) {
        return ReadStep::NotConnected;
    }
    if s.has_link && s.unread > 0 && s.copied < s.len && s.shutdown & RCV_SHUTDOWN == 0 {
        return ReadStep::Copy;
    }
    if s.copied >= s.target && s.copied > 0 {
        return ReadStep::Done;
    }
    if s.error {
        return if s.copied > 0 { ReadStep::Done } else { ReadStep::Error };
    }
    if s.shutdown & RCV_SHUTDOWN != 0 || s.phase == Phase::Closed || s.fin_received {
        return ReadStep::Eof;
    }
    if s.len == 0 {
        return ReadStep::Done;
    }
    ReadStep::Wait
}

/// The wake-ups a message filed by a reap calls for: `raised`, the poll events it made
/// true; `writable`, `POLLOUT | POLLWRNORM` if a send would take data now (its
/// credit update may have made room), else 0; `already`, the events the receive CQ's
/// event woke pollers for, without SIGIO, before the reap. Returns the events to wake
/// pollers for now (0: blocked calls only) and those that are due SIGIO only now:
/// an edge-triggered epoll sees one edge per arrival, as with TCP.
pub fn wake_plan(raised: u32, writable: u32, already: u32) -> (u32, u32) {
    ((raised & !already) | writable, raised & already)
}
