// SPDX-License-Identifier: GPL-2.0

//! SDP credit-based flow control.
//!
//! Every message, data or control, lands in one receive buffer the peer posted in
//! advance; sending without one would overrun the peer (RNR) or be dropped. The peer
//! tells us how many buffers it has posted in every header it sends (`bufs`), together
//! with the sequence number of the last of our messages it had received (`mseq_ack`).
//! Our credits are what it advertised minus what we sent since that acknowledgement.
//!
//! One credit is held back for control messages (credit updates, DisConn), so two
//! peers whose data credits both ran out can still tell each other about buffers they
//! posted again: the stream can never deadlock on credits (see [`Credits::update_due`];
//! `host/tests/credits.rs` checks both properties against a model of two peers).

use super::wire::{Bsdh, Mid, BSDH_LEN};

/// Credits kept for control messages.
pub const CONTROL_RESERVE: u32 = 1;

/// Fewest receive buffers a side may post: with fewer, the reserve and the cost of a
/// credit update leave no room for data.
pub const MIN_RING: u16 = 3;

/// Why a peer's header breaks flow control. Each one aborts the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditError {
    /// The peer sent a message although we had no receive buffer posted for it.
    NoBufferPosted,
    /// The peer sent a message beyond the credits we had granted it (a buffer was
    /// posted again, but we had not told the peer yet).
    NotGranted {
        /// The message's sequence number.
        mseq: u32,
        /// The last sequence number our grants allowed.
        granted: u32,
    },
    /// The peer's `mseq` is not the one after the last we received.
    OutOfSequence {
        /// The sequence number we expected.
        expected: u32,
        /// The one the peer sent.
        got: u32,
    },
    /// A receive ring smaller than [`MIN_RING`] was offered.
    RingTooSmall(u16),
    /// The peer acknowledged a message we never sent, or un-acknowledged one.
    BadAck {
        /// `mseq_ack` in the header.
        ack: u32,
    },
}

/// Why we may not send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoCredit;

/// The flow-control state of one connection, both directions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credits {
    /// Sequence number of the next message we send.
    next_mseq: u32,
    /// `bufs` in the peer's latest header.
    peer_bufs: u32,
    /// `mseq_ack` in the peer's latest header.
    peer_acked: u32,
    /// Sequence number of the last message we received.
    last_received: u32,
    /// Receive buffers we have posted and the peer has not filled yet.
    posted: u32,
    /// `bufs` and `mseq_ack` of the last header we sent (what the peer believes).
    advertised: (u32, u32),
}

impl Credits {
    /// State after the Hello/HelloAck exchange: the peer granted `peer_bufs`, we have
    /// `posted` buffers up. Both Hello and HelloAck count as sequence number 0.
    /// Fewer than [`MIN_RING`] buffers on either side is refused.
    pub fn new(peer_bufs: u16, posted: u16) -> Result<Self, CreditError> {
        if peer_bufs < MIN_RING || posted < MIN_RING {
            return Err(CreditError::RingTooSmall(peer_bufs.min(posted)));
        }
        Ok(Self {
            next_mseq: 1,
            peer_bufs: u32::from(peer_bufs),
            peer_acked: 0,
            last_received: 0,
            posted: u32::from(posted),
            advertised: (u32::from(posted), 0),
        })
    }

    /// Messages we sent that the peer had not received when it last reported.
    fn in_flight(&self) -> u32 {
        self.next_mseq.wrapping_sub(1).wrapping_sub(self.peer_acked)
    }

    /// The `mseq` of the last message we sent (0 before the first).
    pub fn last_sent(&self) -> u32 {
        self.next_mseq.wrapping_sub(1)
    }

    /// The `mseq_ack` of the peer's latest message: the last of ours it had received.
    pub fn peer_acked(&self) -> u32 {
        self.peer_acked
    }

    /// Messages we may send now, of any kind.
    pub fn available(&self) -> u32 {
        self.peer_bufs.saturating_sub(self.in_flight())
    }

    /// Receive buffers the peer last said it had posted.
    pub fn peer_bufs(&self) -> u32 {
        self.peer_bufs
    }

    /// Data messages we may send now: the control reserve is kept back.
    pub fn available_for_data(&self) -> u32 {
        self.available().saturating_sub(CONTROL_RESERVE)
    }

    /// Takes one credit for a data message; returns the header fields to send with it.
    pub fn send_data(&mut self) -> Result<Outgoing, NoCredit> {
        if self.available_for_data() == 0 {
            return Err(NoCredit);
        }
        Ok(self.take())
    }

    /// Takes one credit for a control message (credit update, DisConn); it may use the
    /// reserve.
    pub fn send_control(&mut self) -> Result<Outgoing, NoCredit> {
        if self.available() == 0 {
            return Err(NoCredit);
        }
        Ok(self.take())
    }

    /// Takes one credit for a message that carries no header: an RDMA WRITE with
    /// immediate data consumes one of the peer's receive buffers but tells it nothing
    /// of our grants, so what the peer believes we granted stays as it was.
    pub fn send_headerless(&mut self) -> Result<(), NoCredit> {
        if self.available_for_data() == 0 {
            return Err(NoCredit);
        }
        self.next_mseq = self.next_mseq.wrapping_add(1);
        Ok(())
    }

    fn take(&mut self) -> Outgoing {
        let out = Outgoing {
            mseq: self.next_mseq,
            bufs: u16::try_from(self.posted).unwrap_or(u16::MAX),
            mseq_ack: self.last_received,
        };
        self.next_mseq = self.next_mseq.wrapping_add(1);
        self.advertised = (u32::from(out.bufs), out.mseq_ack);
        out
    }

    /// Accounts a header received from the peer. On error the connection must be
    /// aborted; the state is unchanged.
    pub fn receive(&mut self, h: &Bsdh) -> Result<(), CreditError> {
        let expected = self.last_received.wrapping_add(1);
        if h.mseq != expected {
            return Err(CreditError::OutOfSequence { expected, got: h.mseq });
        }
        if self.posted == 0 {
            return Err(CreditError::NoBufferPosted);
        }
        // Our grants only grow (`ack + bufs` = messages received + buffers posted,
        // and receiving moves one to the other), so the latest one bounds them all.
        let (bufs, ack) = self.advertised;
        if h.mseq.wrapping_sub(ack) > bufs {
            return Err(CreditError::NotGranted { mseq: h.mseq, granted: ack.wrapping_add(bufs) });
        }
        // The ack may only move forward, and not past what we sent.
        let sent = self.next_mseq.wrapping_sub(1);
        let advance = h.mseq_ack.wrapping_sub(self.peer_acked);
        if advance > sent.wrapping_sub(self.peer_acked) {
            return Err(CreditError::BadAck { ack: h.mseq_ack });
        }
        self.last_received = h.mseq;
        self.posted -= 1;
        self.peer_acked = h.mseq_ack;
        self.peer_bufs = u32::from(h.bufs);
        Ok(())
    }

    /// Accounts a message that arrived without a header (an RDMA WRITE with immediate
    /// data): it has the next sequence number and must fit our grants, like any
    /// other, and says nothing about the peer's.
    pub fn receive_headerless(&mut self) -> Result<(), CreditError> {
        let mseq = self.last_received.wrapping_add(1);
        if self.posted == 0 {
            return Err(CreditError::NoBufferPosted);
        }
        let (bufs, ack) = self.advertised;
        if mseq.wrapping_sub(ack) > bufs {
            return Err(CreditError::NotGranted { mseq, granted: ack.wrapping_add(bufs) });
        }
        self.last_received = mseq;
        self.posted -= 1;
        Ok(())
    }

    /// Records `n` receive buffers posted again after their messages were consumed.
    pub fn reposted(&mut self, n: u32) {
        self.posted = self.posted.saturating_add(n);
    }

    /// Receive buffers we have posted that the peer does not know about yet: the
    /// credits a credit update would give it.
    pub fn unadvertised(&self) -> u32 {
        self.posted.saturating_sub(self.peer_view())
    }

    /// Messages the peer believes it may still send us: our last grant it heard of,
    /// minus what it sent since.
    pub fn peer_view(&self) -> u32 {
        let (bufs, ack) = self.advertised;
        bufs.saturating_sub(self.last_received.wrapping_sub(ack))
    }

    /// Whether a credit update should be sent now when no data is going out: the peer
    /// may be blocked (it believes it has no more than the control reserve left), or
    /// `threshold` buffers it does not know about have piled up (e.g. half the ring).
    ///
    /// An update fills one of the peer's buffers, so it is only worth sending when it
    /// grants at least two: then one update received never makes another due (idle
    /// peers do not ping-pong), and a blocked peer always gets at least one credit net.
    pub fn update_due(&self, threshold: u32) -> bool {
        let unadvertised = self.unadvertised();
        let peer_view = self.posted - unadvertised;
        unadvertised >= 2 && (unadvertised >= threshold || peer_view <= CONTROL_RESERVE)
    }

    /// Whether a peer that owes us replies (the sink of our zero-copy adverts) needs a
    /// credit update to send them: it believes it has no more than the control
    /// reserve, and we reposted a buffer it does not know about. Even one credit lets
    /// a reply go; without it a peer whose data fills our ring could answer nothing.
    pub fn reply_room_due(&self) -> bool {
        self.unadvertised() >= 1 && self.peer_view() <= CONTROL_RESERVE
    }
}

/// A pure credit update: a Data message without payload.
pub fn is_credit_update(h: &Bsdh) -> bool {
    h.mid == Mid::Data && h.len as usize == BSDH_LEN
}

/// Header fields of a message about to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Its sequence number.
    pub mseq: u32,
    /// Receive buffers we have posted (the credits we grant).
    pub bufs: u16,
    /// The last sequence number we received.
    pub mseq_ack: u32,
}
