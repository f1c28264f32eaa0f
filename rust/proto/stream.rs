// SPDX-License-Identifier: GPL-2.0

//! A connection's data-path state, as plain data: the credits, the reader's queue,
//! the send ring's account, staged bytes, the DisConn exchange and how the connection
//! fails; and what may be sent now. The buffers themselves, and the clock, are the
//! kernel's (`link::link::Link`).

use core::ops::DerefMut;

use super::{
    credits::{Credits, NoCredit, Outgoing},
    errno::Errno,
    receive::ReadyQueue,
    ring::{IndexFifo, IndexSlots, MAX_RING},
    send::SendRing,
    urgent::Urgent,
    wire::BSDH_LEN,
};

/// See the module documentation. `L` is the storage of the send ring's account, `B`
/// the staging buffer (a message's payload), `S` that of the receive ring's order.
#[derive(Clone, Debug)]
pub struct Stream<L, B, S = [u16; MAX_RING]> {
    /// Flow control; `None` until the Hello/HelloAck exchange has given the peer's
    /// initial grant.
    pub credits: Option<Credits>,
    /// Largest message the peer can take (its receive buffer size).
    pub peer_msg_size: usize,
    /// Receive buffers that completed before the credits existed (the peer may send
    /// as soon as its side is established); decoded when they do.
    pub rx_early: IndexFifo<S>,
    /// Buffers holding unread data, and the reader's place in them.
    pub rx: ReadyQueue<S>,
    /// Urgent data (`MSG_OOB`) in the received stream.
    pub urgent: Urgent,
    /// The peer sent DisConn: no more data will come.
    pub fin_received: bool,
    /// Sends posted and completed (or flushed), and their payload bytes.
    pub tx: SendRing<L>,
    /// A DisConn is owed to the peer (`shutdown(SHUT_WR)` or `close`).
    pub fin_pending: bool,
    /// The DisConn was posted.
    pub fin_sent: bool,
    /// The staging buffer of small writes (`proto::transmit`), allocated when bytes
    /// are first staged, growing up to `staging_capacity`.
    pub(super) staged: B,
    /// The most bytes the staging buffer holds: a message's payload.
    pub(super) staging_capacity: usize,
    /// Bytes waiting in the staging buffer (Nagle's algorithm: they go out when the
    /// sends in flight have completed, or when a message's worth piles up).
    pub staged_len: usize,
    /// The QP is in the error state (disconnect, or a failed send): nothing may be
    /// posted any more.
    pub qp_dead: bool,
    /// A send failed (`ETIMEDOUT`: the peer's adapter stopped acknowledging; else
    /// `ECONNRESET`). What the peer sent before may still wait in the receive CQ, its
    /// DisConn too: the connection is judged after them.
    pub send_failed: Option<Errno>,
    /// rdma_cm reported the peer disconnected.
    pub peer_gone: bool,
    /// A keepalive probe is posted and not completed.
    pub probe_outstanding: bool,
    /// The last message found no memory for its send buffer: what is owed (staged
    /// bytes, a DisConn, a credit update) waits for a retry, since no completion may
    /// come to trigger one.
    pub memory_short: bool,
    /// Our zero-copy adverts are open (`proto::zc_src`), or the unread bytes of those
    /// declined have not all gone: no other Data with payload and no DisConn may go
    /// before, so writers wait and staged bytes stay.
    pub data_held: bool,
}

/// What kind of message is being sent, for its credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credit {
    /// Data: needs a data credit.
    Data,
    /// A control message (credit update, DisConn, Abort): may use the reserve.
    Control,
}

impl<L: DerefMut<Target = [u32]>, B: Default> Stream<L, B> {
    /// [`Stream::with_order`] for a receive ring of up to [`MAX_RING`] buffers, its
    /// order kept in place.
    pub fn new(tx_lens: L, staging_capacity: usize) -> Self {
        Self::with_order(tx_lens, staging_capacity, IndexFifo::new(), ReadyQueue::new())
    }
}

impl<L: DerefMut<Target = [u32]>, B: Default, S: IndexSlots> Stream<L, B, S> {
    /// A new connection's state; `tx_lens` is the send ring's account storage, one
    /// entry per send slot; the staging buffer may grow to `staging_capacity` bytes;
    /// `rx_early` and `rx`, empty, each hold as many indices as the receive ring has
    /// buffers.
    pub fn with_order(tx_lens: L, staging_capacity: usize, rx_early: IndexFifo<S>, rx: ReadyQueue<S>) -> Self {
        Self {
            credits: None,
            peer_msg_size: 0,
            rx_early,
            rx,
            urgent: Urgent::new(),
            fin_received: false,
            tx: SendRing::new(tx_lens),
            fin_pending: false,
            fin_sent: false,
            staged: B::default(),
            staging_capacity,
            staged_len: 0,
            qp_dead: false,
            send_failed: None,
            peer_gone: false,
            probe_outstanding: false,
            memory_short: false,
            data_held: false,
        }
    }

    /// rdma_cm reported the peer's disconnect and the QP is not in the error state
    /// yet: the disconnect waits for our RDMA operations in flight to settle.
    pub fn disconnect_pending(&self) -> bool {
        self.peer_gone && !self.qp_dead
    }

    /// Whether anything arrived that was not read yet: bytes, or (on a message
    /// socket) a message, empty ones included.
    pub fn has_unread(&self) -> bool {
        self.rx.bytes() > 0 || !self.rx.is_empty()
    }

    /// Whether a read would return something now: bytes other than an urgent byte
    /// it steps over (`inline`: `SO_OOBINLINE`), or (on a message socket) a message.
    pub fn has_readable(&self, inline: bool) -> bool {
        self.urgent.readable(self.rx.bytes(), inline) > 0 || (self.rx.bytes() == 0 && !self.rx.is_empty())
    }

    /// Payload bytes that fit one message to the peer, our buffers being
    /// `buffer_size` bytes.
    pub fn max_payload(&self, buffer_size: usize) -> usize {
        buffer_size.min(self.peer_msg_size).saturating_sub(BSDH_LEN)
    }

    /// Send slots free in both accounts: the stream's, and the device's
    /// (`device_free`: slots it is done with).
    pub fn slots_free(&self, device_free: usize) -> usize {
        self.tx.free().min(device_free)
    }

    /// Whether a message of `kind` may be posted now, with `slots_free` send slots.
    pub fn can_send(&self, kind: Credit, slots_free: usize) -> bool {
        !self.qp_dead
            && slots_free > 0
            && self.credits.as_ref().is_some_and(|c| match kind {
                Credit::Data => c.available_for_data() > 0,
                Credit::Control => c.available() > 0,
            })
    }

    /// Takes the credit for a message of `kind`: its header's sequence numbers and
    /// grant.
    pub fn take_credit(&mut self, kind: Credit) -> Result<Outgoing, NoCredit> {
        let credits = self.credits.as_mut().ok_or(NoCredit)?;
        match kind {
            Credit::Data => credits.send_data(),
            Credit::Control => credits.send_control(),
        }
    }

    /// Bytes written and not yet acknowledged by the peer's adapter (`SIOCOUTQ`).
    pub fn outq(&self) -> usize {
        self.tx.unacked() + self.staged_len
    }

    /// Whether a DisConn is owed and not sent.
    pub fn fin_owed(&self) -> bool {
        self.fin_pending && !self.fin_sent
    }

    /// The DisConn was posted.
    pub fn fin_posted(&mut self) {
        self.fin_sent = true;
        self.fin_pending = false;
    }

    /// The connection is reset: nothing more goes to the peer.
    pub fn aborted(&mut self) {
        self.fin_pending = false;
        self.staged_len = 0;
    }

    /// Whether the peer should hear of reposted buffers now, our ring having
    /// `ring` buffers: when half of them (at least two) wait to be announced.
    pub fn credit_update_due(&self, ring: usize) -> bool {
        let threshold = (ring / 2).max(2) as u32;
        // While our adverts are open the peer's replies are what we wait for.
        self.credits.as_ref().is_some_and(|c| c.update_due(threshold) || (self.data_held && c.reply_room_due()))
    }

    /// Whether the data path needs its send completions as they come, rather than at
    /// the next reap: bytes held back until the sends in flight complete (Nagle, a
    /// DisConn), the end of the connection, a keepalive probe, RDMA operations whose
    /// completions the program waits for (`rdma_busy`), or a send ring half used (a
    /// poller may wait for room: `slots_free` of `slots`).
    pub fn wants_send_completions(&self, rdma_busy: bool, slots_free: usize, slots: usize) -> bool {
        self.staged_len > 0
            || self.fin_pending
            || self.fin_sent
            || self.fin_received
            || self.probe_outstanding
            || self.qp_dead
            || rdma_busy
            || slots_free * 2 < slots
    }
}
