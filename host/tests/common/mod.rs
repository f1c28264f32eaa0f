// SPDX-License-Identifier: GPL-2.0

//! What several test files share: lists whose memory runs out, a completion, and the
//! wire of a two-peer model.

#![allow(dead_code)]

use std::collections::VecDeque;

use infinisock_proto::{
    list::{List, Lists, NoMemory},
    rdma::RequestStatus,
};

/// A list that can never hold more than `N` elements: its allocation fails beyond,
/// as a `KVec`'s can under memory pressure.
pub struct Capped<T, const N: usize>(pub Vec<T>);

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const N: usize> core::ops::Deref for Capped<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T, const N: usize> core::ops::DerefMut for Capped<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T, const N: usize> List<T> for Capped<T, N> {
    fn reserve_more(&mut self, more: usize) -> Result<(), NoMemory> {
        if self.0.len() + more > N {
            return Err(NoMemory);
        }
        self.0.reserve_exact(more);
        Ok(())
    }

    fn push_reserved(&mut self, v: T) -> Result<(), T> {
        if self.0.len() == self.0.capacity() || self.0.len() == N {
            return Err(v);
        }
        self.0.push(v);
        Ok(())
    }

    fn take_at(&mut self, at: usize) -> Option<T> {
        (at < self.0.len()).then(|| self.0.remove(at))
    }

    fn keep_if(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep)
    }

    fn cut_to(&mut self, len: usize) {
        self.0.truncate(len)
    }

    fn room(&self) -> usize {
        self.0.capacity().min(N)
    }

    fn grow_to(&mut self, len: usize, v: T) -> Result<(), NoMemory>
    where
        T: Clone,
    {
        if len > N {
            return Err(NoMemory);
        }
        if len > self.0.len() {
            self.0.resize(len, v);
        }
        Ok(())
    }
}

/// Lists of at most `N` elements each.
pub struct CappedLists<const N: usize>;

impl<const N: usize> Lists for CappedLists<N> {
    type Of<T> = Capped<T, N>;
}

/// A work completion, as the account of RDMA operations sees one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wc {
    Ok(u32),
    Flushed(u32),
    /// The peer refused (a remote access error, say).
    Refused(u32),
    /// Transport retries exhausted.
    Silent(u32),
}

impl RequestStatus for Wc {
    fn ok(&self) -> bool {
        matches!(self, Wc::Ok(_))
    }
    fn flushed(&self) -> bool {
        matches!(self, Wc::Flushed(_))
    }
    fn peer_silent(&self) -> bool {
        matches!(self, Wc::Silent(_))
    }
}

/// One direction of a two-peer model's connection: in order, each message with the
/// sender's `mseq` and the last `mseq` it had heard from the other side (its
/// `mseq_ack`). An RDMA operation travels among the messages without an `mseq` of its
/// own, as on an RC QP.
pub struct Wire<M> {
    pub queue: VecDeque<(u32, u32, M)>,
    /// The sender's last `mseq`.
    pub mseq: u32,
}

impl<M> Wire<M> {
    /// Empty; the first message gets `start + 1`.
    pub fn new(start: u32) -> Self {
        Self { queue: VecDeque::new(), mseq: start }
    }

    /// Sends `m` (a message, or an RDMA operation when `!message`) from a sender that
    /// had heard up to `heard`; returns the `mseq` it went with.
    pub fn send(&mut self, m: M, heard: u32, message: bool) -> u32 {
        if message {
            self.mseq = self.mseq.wrapping_add(1);
        }
        self.queue.push_back((self.mseq, heard, m));
        self.mseq
    }
}

/// A message between the zero-copy models' source and sink: the source's stream
/// offsets stand for the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZcMsg {
    /// A SrcAvail of stream bytes `start..start + len`.
    SrcAvail { start: u64, len: u32 },
    /// Stream bytes `start..start + len` as Data.
    Data { start: u64, len: u32 },
    /// Data a source sent while one of its adverts was open: the sink must refuse it.
    Forged,
    Cancel,
    RdCompl(u32),
    SendSm,
}

/// The source of the zero-copy models: its adverts (`zc_src`), its stream (written,
/// sent, and what declined adverts left to send again as Data), and its end of the
/// wires: what it sends the sink, and the last `mseq` it heard from it.
pub struct ZcSource {
    pub adverts: infinisock_proto::zc_src::SrcAdverts<infinisock_proto::HostLists>,
    /// Bytes written, and sent (as Data or adverts) of them.
    pub written: u64,
    pub sent: u64,
    /// Ranges to send again as Data, in order.
    resend: VecDeque<(u64, u32)>,
    /// Each advert's first stream offset, by id.
    starts: Vec<u64>,
    pub to_sink: Wire<ZcMsg>,
    heard: u32,
    /// Adverts the sink's SendSms closed.
    pub closed_by_send_sm: u64,
}

impl ZcSource {
    /// Nothing written; at most `max_open` adverts open, never timed out; its first
    /// message goes as `mseq + 1`, and it has heard the sink's `heard`.
    pub fn new(max_open: u8, mseq: u32, heard: u32) -> Self {
        Self {
            adverts: infinisock_proto::zc_src::SrcAdverts::new(max_open, u64::MAX, u64::MAX),
            written: 0,
            sent: 0,
            resend: VecDeque::new(),
            starts: vec![],
            to_sink: Wire::new(mseq),
            heard,
            closed_by_send_sm: 0,
        }
    }

    fn send(&mut self, m: ZcMsg) {
        self.to_sink.send(m, self.heard, true);
    }

    /// Sends what it may: declined bytes again, then new bytes, as an advert if
    /// `advert` and there is room, else as Data. With adverts open only another advert
    /// may go, of new bytes.
    pub fn sends(&mut self, advert: bool) {
        let open = !self.adverts.may_send_data();
        if open && (!self.resend.is_empty() || !advert || !self.adverts.has_room() || self.sent == self.written) {
            return;
        }
        if let Some((start, len)) = self.resend.pop_front() {
            return self.send(ZcMsg::Data { start, len });
        }
        if self.sent == self.written {
            return;
        }
        let len = u32::try_from(self.written - self.sent).unwrap_or(u32::MAX).min(1 << 20);
        let start = self.sent;
        self.sent += u64::from(len);
        if advert && self.adverts.has_room() {
            let id = self.starts.len() as u64;
            self.adverts.post(id, self.to_sink.mseq.wrapping_add(1), len, 0).unwrap();
            self.starts.push(start);
            self.send(ZcMsg::SrcAvail { start, len });
        } else {
            self.send(ZcMsg::Data { start, len });
        }
    }

    /// Cancels its open adverts (SrcAvailCancel), if any.
    pub fn cancels(&mut self) {
        if !self.adverts.may_send_data() {
            self.adverts.cancel(0);
            self.send(ZcMsg::Cancel);
        }
    }

    /// Breaks the rule: Data while one of its adverts is open (if one is).
    pub fn forges(&mut self) {
        if !self.adverts.may_send_data() {
            self.send(ZcMsg::Forged);
        }
    }

    /// An advert closed: its unread rest goes again as Data.
    fn closed(&mut self, c: infinisock_proto::zc_src::Closed) {
        if c.unread() > 0 {
            self.resend.push_back((self.starts[c.id as usize] + u64::from(c.read), c.unread()));
        }
    }

    /// Takes the sink's message `m`, sent as `mseq` with `mseq_ack`; `Err` says how
    /// the sink broke the rules.
    pub fn receives(&mut self, (mseq, mseq_ack, m): (u32, u32, ZcMsg)) -> Result<(), String> {
        self.heard = mseq;
        match m {
            ZcMsg::RdCompl(n) => match self.adverts.on_rd_compl(n, mseq_ack, 0) {
                Ok(Some(c)) => self.closed(c),
                Ok(None) => {}
                Err(e) => return Err(format!("RdmaRdCompl({}) refused: {:?}", n, e)),
            },
            ZcMsg::SendSm => {
                let mut closed = vec![];
                self.adverts.on_send_sm(|c| closed.push(c));
                self.closed_by_send_sm += closed.len() as u64;
                closed.into_iter().for_each(|c| self.closed(c));
            }
            other => return Err(format!("the sink sent {:?}", other)),
        }
        Ok(())
    }
}
