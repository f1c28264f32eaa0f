// SPDX-License-Identifier: GPL-2.0

//! The SDP wire format (IBTA Annex A4): the 16-byte Base Sockets Direct Header (BSDH)
//! that starts every message, the messages the stream path uses, and the Hello/HelloAck
//! carried in the rdma_cm private data.
//!
//! Every multi-byte field is big-endian. Decoding never trusts the peer: any byte
//! sequence yields a message or a [`WireError`], and a decoded message is consistent
//! (its length field matches the bytes received, its payload has the size its message
//! ID implies). `Documentation/wire.rst` describes the format message by message.

/// Size of the BSDH.
pub const BSDH_LEN: usize = 16;

/// Message IDs (the BSDH `mid` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mid {
    /// Hello: connection request (only in CM private data).
    Hello = 0x00,
    /// HelloAck: connection reply (only in CM private data).
    HelloAck = 0x01,
    /// DisConn: the sender will send no more data (half-close).
    DisConn = 0x02,
    /// Abort: the connection is reset.
    Abort = 0x03,
    /// SendSm: the sink declines every open SrcAvail; the rest comes as Data (zero-copy).
    SendSm = 0x04,
    /// RdmaWrCompl: the source wrote this many bytes into the oldest SinkAvail, which it
    /// closes (zero-copy).
    RdmaWrCompl = 0x05,
    /// RdmaRdCompl: the sink READ this many more bytes of the oldest SrcAvail (zero-copy).
    RdmaRdCompl = 0x06,
    /// SrcAvailCancel: the source withdraws its open SrcAvails (zero-copy).
    SrcAvailCancel = 0x08,
    /// SinkAvailCancel: the reader withdraws its open SinkAvails (zero-copy).
    SinkAvailCancel = 0x09,
    /// SinkCancelAck: the SinkAvails before the cancel are closed (zero-copy).
    SinkCancelAck = 0x0A,
    /// ChRcvBuf: asks the peer to change the size of its receive buffers.
    ChRcvBuf = 0x0B,
    /// ChRcvBufAck: the receive buffer size now in effect.
    ChRcvBufAck = 0x0C,
    /// SinkAvail (zero-copy).
    SinkAvail = 0xFD,
    /// SrcAvail (zero-copy).
    SrcAvail = 0xFE,
    /// Data: stream bytes follow the header.
    Data = 0xFF,
}

impl Mid {
    /// The ID for a `mid` byte, if it names one.
    pub const fn from_u8(mid: u8) -> Option<Self> {
        Some(match mid {
            0x00 => Self::Hello,
            0x01 => Self::HelloAck,
            0x02 => Self::DisConn,
            0x03 => Self::Abort,
            0x04 => Self::SendSm,
            0x05 => Self::RdmaWrCompl,
            0x06 => Self::RdmaRdCompl,
            0x08 => Self::SrcAvailCancel,
            0x09 => Self::SinkAvailCancel,
            0x0A => Self::SinkCancelAck,
            0x0B => Self::ChRcvBuf,
            0x0C => Self::ChRcvBufAck,
            0xFD => Self::SinkAvail,
            0xFE => Self::SrcAvail,
            0xFF => Self::Data,
            _ => return None,
        })
    }
}

/// BSDH `flags`: out-of-band data present in this message.
pub const FLAG_OOB_PRES: u8 = 1 << 0;
/// BSDH `flags`: out-of-band data pending.
pub const FLAG_OOB_PEND: u8 = 1 << 1;
/// BSDH `flags`, not in Annex A4: this Data message is one whole application message
/// of an AF_IB `SOCK_SEQPACKET` connection (possibly empty, which a bare credit
/// update is not). Those connections live in rdma_cm's `RDMA_PS_IB` port space and
/// never meet an SDP peer.
pub const FLAG_MESSAGE: u8 = 1 << 7;
const FLAGS_KNOWN: u8 = FLAG_OOB_PRES | FLAG_OOB_PEND | FLAG_MESSAGE;

/// Why bytes from the peer are not a valid message. Each one aborts the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the message needs.
    Short {
        /// Bytes the message needs.
        need: usize,
        /// Bytes received.
        have: usize,
    },
    /// The `mid` byte names no message.
    UnknownMid(u8),
    /// The message is valid SDP but not allowed where it arrived (e.g. Hello in a data
    /// buffer, or a zero-copy message this module never negotiates).
    UnexpectedMid(Mid),
    /// The BSDH `len` does not match the bytes received.
    LengthMismatch {
        /// `len` from the header.
        header: u32,
        /// Bytes received.
        received: usize,
    },
    /// A control message carries a payload of the wrong size.
    BadPayload(Mid),
    /// Flag bits this version does not define.
    UnknownFlags(u8),
    /// Hello/HelloAck with a protocol version we do not speak.
    BadVersion(u8),
    /// Hello with an IP version other than 4 or 6.
    BadIpVersion(u8),
    /// A SrcAvail or SinkAvail whose length is 0 or above 2^31, whose range wraps, or
    /// whose inline bytes exceed its length.
    BadAdvert(Mid),
}

/// The Base Sockets Direct Header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bsdh {
    /// Message ID.
    pub mid: Mid,
    /// `FLAG_*` bits.
    pub flags: u8,
    /// Receive buffers the sender has posted for the peer's messages (the credit grant).
    pub bufs: u16,
    /// Length of the whole message, header included.
    pub len: u32,
    /// Sequence number of this message.
    pub mseq: u32,
    /// Sequence number of the last message the sender received from the peer.
    pub mseq_ack: u32,
}

impl Bsdh {
    /// Writes the header into `out`.
    pub fn encode(&self, out: &mut [u8; BSDH_LEN]) {
        out[0] = self.mid as u8;
        out[1] = self.flags;
        out[2..4].copy_from_slice(&self.bufs.to_be_bytes());
        out[4..8].copy_from_slice(&self.len.to_be_bytes());
        out[8..12].copy_from_slice(&self.mseq.to_be_bytes());
        out[12..16].copy_from_slice(&self.mseq_ack.to_be_bytes());
    }

    /// Reads a header from the start of `buf`, checking only the header itself.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let b: &[u8; BSDH_LEN] = buf
            .get(..BSDH_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(WireError::Short { need: BSDH_LEN, have: buf.len() })?;
        let mid = Mid::from_u8(b[0]).ok_or(WireError::UnknownMid(b[0]))?;
        if b[1] & !FLAGS_KNOWN != 0 {
            return Err(WireError::UnknownFlags(b[1]));
        }
        Ok(Self {
            mid,
            flags: b[1],
            bufs: u16::from_be_bytes([b[2], b[3]]),
            len: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            mseq: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            mseq_ack: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
        })
    }
}

/// A message received in a data-path receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Stream bytes.
    Data(&'a [u8]),
    /// The peer sends no more data.
    DisConn,
    /// The peer reset the connection.
    Abort,
    /// The peer asks us to resize our receive buffers to this many bytes.
    ChRcvBuf(u32),
    /// The peer's receive buffers now have this many bytes.
    ChRcvBufAck(u32),
    /// The peer advertises `ah.len` bytes to READ; `inline` are the first of them.
    SrcAvail { ah: Advert, inline: &'a [u8] },
    /// The peer's reader advertises room for `ah.len` bytes to WRITE into.
    SinkAvail(Advert),
    /// The peer READ this many more bytes of our oldest open SrcAvail.
    RdmaRdCompl(u32),
    /// The peer wrote this many bytes into our oldest open SinkAvail, and closed it.
    RdmaWrCompl(u32),
    /// The peer declines our open SrcAvails: their unread rest goes as Data.
    SendSm,
    /// The peer withdraws its open SrcAvails.
    SrcAvailCancel,
    /// The peer withdraws its open SinkAvails.
    SinkAvailCancel,
    /// The peer closed our SinkAvails sent before our cancel.
    SinkCancelAck,
}

/// The advertisement of a SrcAvail or SinkAvail (Annex A4's SrcAH/SinkAH): a region of
/// `len` bytes the peer may READ or WRITE with `rkey` at `vaddr` (which this module
/// treats as opaque: the advertiser's own iova).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    pub len: u32,
    pub rkey: u32,
    pub vaddr: u64,
}

/// Bytes of the SrcAvail header after the BSDH: `len`, `rkey`, `vaddr`.
pub const SRC_AH_LEN: usize = 16;
/// Bytes of the SinkAvail header after the BSDH: the SrcAvail's fields and `non_disc`.
pub const SINK_AH_LEN: usize = 20;
/// Bytes of the RdmaRdCompl and RdmaWrCompl payload: one `len`.
pub const COMPL_LEN: usize = 4;
/// The largest advertised region (OFED's limit is 1 MiB; 2^31 keeps lengths positive
/// in every signed reader's arithmetic).
pub const ADVERT_MAX: u32 = 1 << 31;

impl Advert {
    /// Writes the SrcAvail fields (`out` of `SRC_AH_LEN`, or the first bytes of a
    /// SinkAvail's).
    pub fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.len.to_be_bytes());
        out[4..8].copy_from_slice(&self.rkey.to_be_bytes());
        out[8..16].copy_from_slice(&self.vaddr.to_be_bytes());
    }

    /// Reads and checks the fields at the start of `b` (at least `SRC_AH_LEN` bytes).
    fn decode(b: &[u8], mid: Mid) -> Result<Self, WireError> {
        let ah = Self {
            len: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            rkey: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            vaddr: u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        };
        if ah.len == 0 || ah.len > ADVERT_MAX || ah.vaddr.checked_add(u64::from(ah.len)).is_none() {
            return Err(WireError::BadAdvert(mid));
        }
        Ok(ah)
    }
}

/// Size of the ChRcvBuf/ChRcvBufAck payload: one big-endian u32.
const CHRCVBUF_LEN: usize = 4;

/// Decodes one message that arrived in a receive buffer of `received` bytes (`buf` is
/// exactly those bytes), on a connection without zero-copy. Returns the header (for
/// credits and sequence numbers) and the message.
pub fn decode_message(buf: &[u8]) -> Result<(Bsdh, Message<'_>), WireError> {
    decode(buf, false)
}

/// As [`decode_message`]; `zc`: both ends negotiated zero-copy (Hello and HelloAck
/// `max_adverts` above 0), without which its messages are `UnexpectedMid`.
pub fn decode(buf: &[u8], zc: bool) -> Result<(Bsdh, Message<'_>), WireError> {
    let h = Bsdh::decode(buf)?;
    if u64::from(h.len) != buf.len() as u64 {
        return Err(WireError::LengthMismatch { header: h.len, received: buf.len() });
    }
    let payload = &buf[BSDH_LEN..];
    let size = |p: &[u8]| -> Result<u32, WireError> {
        let b: [u8; CHRCVBUF_LEN] = p.try_into().map_err(|_| WireError::BadPayload(h.mid))?;
        Ok(u32::from_be_bytes(b))
    };
    let msg = match h.mid {
        Mid::Data => Message::Data(payload),
        Mid::DisConn | Mid::Abort if !payload.is_empty() => return Err(WireError::BadPayload(h.mid)),
        Mid::DisConn => Message::DisConn,
        Mid::Abort => Message::Abort,
        Mid::ChRcvBuf => Message::ChRcvBuf(size(payload)?),
        Mid::ChRcvBufAck => Message::ChRcvBufAck(size(payload)?),
        mid @ (Mid::SrcAvail
        | Mid::SinkAvail
        | Mid::RdmaRdCompl
        | Mid::RdmaWrCompl
        | Mid::SendSm
        | Mid::SrcAvailCancel
        | Mid::SinkAvailCancel
        | Mid::SinkCancelAck)
            if zc =>
        {
            decode_zc(mid, payload)?
        }
        other => return Err(WireError::UnexpectedMid(other)),
    };
    Ok((h, msg))
}

/// The zero-copy messages' bodies (`Documentation/wire.rst`, zero-copy).
fn decode_zc(mid: Mid, payload: &[u8]) -> Result<Message<'_>, WireError> {
    let bad = WireError::BadPayload(mid);
    let compl = |p: &[u8]| -> Result<u32, WireError> {
        let b: [u8; COMPL_LEN] = p.try_into().map_err(|_| bad)?;
        Ok(u32::from_be_bytes(b))
    };
    Ok(match mid {
        Mid::SrcAvail => {
            let (ah, inline) = (payload.get(..SRC_AH_LEN).ok_or(bad)?, &payload[SRC_AH_LEN..]);
            let ah = Advert::decode(ah, mid)?;
            if inline.len() as u64 > u64::from(ah.len) {
                return Err(WireError::BadAdvert(mid));
            }
            Message::SrcAvail { ah, inline }
        }
        Mid::SinkAvail if payload.len() == SINK_AH_LEN => Message::SinkAvail(Advert::decode(payload, mid)?),
        Mid::RdmaRdCompl => Message::RdmaRdCompl(compl(payload)?),
        Mid::RdmaWrCompl => Message::RdmaWrCompl(compl(payload)?),
        Mid::SendSm | Mid::SrcAvailCancel | Mid::SinkAvailCancel | Mid::SinkCancelAck if !payload.is_empty() => {
            return Err(bad)
        }
        Mid::SendSm => Message::SendSm,
        Mid::SrcAvailCancel => Message::SrcAvailCancel,
        Mid::SinkAvailCancel => Message::SinkAvailCancel,
        Mid::SinkCancelAck => Message::SinkCancelAck,
        _ => return Err(bad),
    })
}

/// Writes the header of a message with `payload_len` bytes after it into `out` and
/// returns the header written. `None` if the message would not fit a u32 length.
#[allow(clippy::too_many_arguments)]
pub fn encode_header(
    out: &mut [u8; BSDH_LEN],
    mid: Mid,
    flags: u8,
    payload_len: usize,
    bufs: u16,
    mseq: u32,
    mseq_ack: u32,
) -> Option<Bsdh> {
    let len = u32::try_from(payload_len.checked_add(BSDH_LEN)?).ok()?;
    let h = Bsdh { mid, flags, bufs, len, mseq, mseq_ack };
    h.encode(out);
    Some(h)
}

/// Hello/HelloAck `zc_flags`: the sender accepts SinkAvail (OFED SDP resets on one, and
/// leaves the byte 0).
pub const ZC_SINKAVAIL: u8 = 1 << 0;

/// The protocol version this module speaks: Annex A4 v2.2, as OFED SDP does.
pub const VERSION: u8 = 0x22;

/// Writes the BSDH of a Hello or HelloAck (sequence numbers 0, `len` the whole of
/// `out`) and the version byte; returns the bytes after the BSDH for the rest.
fn encode_cm_header(out: &mut [u8], mid: Mid, bufs: u16) -> &mut [u8] {
    let mut h = [0; BSDH_LEN];
    Bsdh { mid, flags: 0, bufs, len: out.len() as u32, mseq: 0, mseq_ack: 0 }.encode(&mut h);
    out[..BSDH_LEN].copy_from_slice(&h);
    let body = &mut out[BSDH_LEN..];
    body[0] = VERSION;
    body
}

/// Checks the BSDH and version of a Hello or HelloAck of `len` bytes at the start of
/// CM private data; returns the header and the bytes after it.
fn decode_cm_header(buf: &[u8], mid: Mid, len: usize) -> Result<(Bsdh, &[u8]), WireError> {
    let h = Bsdh::decode(buf)?;
    if h.mid != mid {
        return Err(WireError::UnexpectedMid(h.mid));
    }
    let body = buf.get(BSDH_LEN..len).ok_or(WireError::Short { need: len, have: buf.len() })?;
    if body[0] != VERSION {
        return Err(WireError::BadVersion(body[0]));
    }
    Ok((h, body))
}

/// Hello in the rdma_cm REQ private data.
///
/// Deviation from Annex A4: rdma_cm's RDMA_PS_TCP header takes 36 of the 92 bytes of a
/// REQ's private data, leaving 56, so the two 16-byte IP addresses of the standard
/// Hello are left out (rdma_cm's own header carries both addresses and ports). What
/// remains is 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// IP version of the connection's addresses: 4 or 6.
    pub ip_version: u8,
    /// Zero-copy advertisements the sender can track (0: buffered copy only).
    pub max_adverts: u8,
    /// `ZC_*` bits (a reserved byte of Annex A4's Hello: 0 from OFED SDP).
    pub zc_flags: u8,
    /// Receive buffer size the sender would like the peer to use.
    pub desired_remote_rcv_size: u32,
    /// Size of each receive buffer the sender has posted.
    pub local_rcv_size: u32,
    /// Receive buffers the sender has posted (the initial credit grant).
    pub bufs: u16,
    /// The sender's port.
    pub port: u16,
}

/// Encoded size of [`Hello`].
pub const HELLO_LEN: usize = BSDH_LEN + 16;

impl Hello {
    /// Encodes into `out`.
    pub fn encode(&self, out: &mut [u8; HELLO_LEN]) {
        let b = encode_cm_header(out, Mid::Hello, self.bufs);
        b[1] = self.ip_version << 4;
        b[2] = self.zc_flags;
        b[3] = self.max_adverts;
        b[4..8].copy_from_slice(&self.desired_remote_rcv_size.to_be_bytes());
        b[8..12].copy_from_slice(&self.local_rcv_size.to_be_bytes());
        b[12..14].copy_from_slice(&self.port.to_be_bytes());
        b[14..16].copy_from_slice(&[0, 0]);
    }

    /// Decodes from CM private data, which may be longer than the message (rdma_cm pads
    /// it), but never shorter.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let (h, b) = decode_cm_header(buf, Mid::Hello, HELLO_LEN)?;
        let ip_version = b[1] >> 4;
        if ip_version != 4 && ip_version != 6 {
            return Err(WireError::BadIpVersion(ip_version));
        }
        Ok(Self {
            ip_version,
            max_adverts: b[3],
            zc_flags: b[2],
            desired_remote_rcv_size: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            local_rcv_size: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            bufs: h.bufs,
            port: u16::from_be_bytes([b[12], b[13]]),
        })
    }
}

/// HelloAck in the rdma_cm REP private data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloAck {
    /// Zero-copy advertisements the sender can track.
    pub max_adverts: u8,
    /// `ZC_*` bits, as in [`Hello`].
    pub zc_flags: u8,
    /// Size of each receive buffer the sender has posted.
    pub actual_rcv_size: u32,
    /// Receive buffers the sender has posted (the initial credit grant).
    pub bufs: u16,
}

/// Encoded size of [`HelloAck`].
pub const HELLO_ACK_LEN: usize = BSDH_LEN + 8;

impl HelloAck {
    /// Encodes into `out`.
    pub fn encode(&self, out: &mut [u8; HELLO_ACK_LEN]) {
        let b = encode_cm_header(out, Mid::HelloAck, self.bufs);
        b[1] = 0;
        b[2] = self.zc_flags;
        b[3] = self.max_adverts;
        b[4..8].copy_from_slice(&self.actual_rcv_size.to_be_bytes());
    }

    /// Decodes from CM private data (which may be longer than the message).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let (h, b) = decode_cm_header(buf, Mid::HelloAck, HELLO_ACK_LEN)?;
        Ok(Self {
            max_adverts: b[3],
            zc_flags: b[2],
            actual_rcv_size: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            bufs: h.bufs,
        })
    }
}
