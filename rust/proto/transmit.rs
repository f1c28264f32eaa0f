// SPDX-License-Identifier: GPL-2.0

//! Posting on a stream: every message behind its credit with its header, small writes
//! staged (Nagle's algorithm), one round of a `sendmsg`, and what is due after a
//! completion or a credit change (staged bytes, a DisConn, a credit update). The send
//! slots themselves are the device's ([`SendSlots`]: the module's queue pair).

use core::{cell::Cell, ops::DerefMut};

use super::{
    errno::{Errno, EAGAIN, EFAULT, EINVAL, ENOMEM},
    list::List,
    ring::IndexSlots,
    send::{flush_staged_now, waits_for_nagle},
    stream::{Credit, Stream},
    urgent::send_round,
    wire::{encode_header, Mid, BSDH_LEN, FLAG_OOB_PEND, FLAG_OOB_PRES},
};

/// The send ring of the device, as a stream posts on it.
pub trait SendSlots {
    /// Slots the device is done with.
    fn free(&self) -> usize;
    /// Bytes per slot: the header and the payload.
    fn buffer_size(&self) -> usize;
    /// The next slot's buffer, at least `len` bytes (header and payload), to fill
    /// before it is posted. Buffers are taken as messages are written, so this may
    /// find no memory: `ENOMEM`, and nothing is lost; the caller tries again later.
    fn next(&mut self, len: usize) -> Result<&mut [u8], Errno>;
    /// Posts the slot [`Self::next`] gave, with its first `len` bytes.
    fn post(&mut self, len: usize) -> Result<(), Errno>;
}

/// `ENOMEM` (no memory for a send buffer) as `None`: the message stays owed.
fn not_short<T>(res: Result<T, Errno>) -> Result<Option<T>, Errno> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(e) if e == ENOMEM => Ok(None),
        Err(e) => Err(e),
    }
}

/// What one round of a stream write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteRound {
    /// Took this many of the program's bytes (staged or posted).
    Wrote(usize),
    /// Nothing could be taken now: no credit or no free slot. Wait.
    Blocked,
    /// No memory for a send buffer now. Wait a little and try again, as TCP's
    /// writers wait for memory.
    NoMemory,
    /// The program's buffer had no readable byte where the copy began: fault its pages
    /// in and try again.
    Fault,
}

/// Why a write round failed: posting failed, the QP is broken (the caller resets the
/// connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostFailed(pub Errno);

impl<L: DerefMut<Target = [u32]>, B: List<u8>, S: IndexSlots> Stream<L, B, S> {
    /// Posts one message of kind `mid` with BSDH `flags`: `fill` writes up to `max`
    /// payload bytes into the slot and returns how many. A data message takes a data
    /// credit; a control message (credit update, DisConn, Abort) may use the reserve.
    /// `EAGAIN` without a credit or a slot; `ENOMEM` without memory for its buffer
    /// (nothing taken, [`Stream::memory_short`] set); the error of `fill` as it is.
    pub fn send<E: From<Errno>>(
        &mut self,
        q: &mut impl SendSlots,
        mid: Mid,
        flags: u8,
        control: bool,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let kind = if control { Credit::Control } else { Credit::Data };
        if !self.can_send(kind, self.slots_free(q.free())) {
            return Err(EAGAIN.into());
        }
        let max = max.min(self.max_payload(q.buffer_size()));
        let buf = match q.next(BSDH_LEN + max) {
            Ok(buf) => buf,
            Err(e) => {
                self.memory_short |= e == ENOMEM;
                return Err(e.into());
            }
        };
        let payload = buf.get_mut(BSDH_LEN..BSDH_LEN + max).ok_or(EINVAL)?;
        let n = fill(payload)?.min(max);
        let out = self.take_credit(kind).map_err(|_| EAGAIN)?;
        let hdr: &mut [u8; BSDH_LEN] = buf.get_mut(..BSDH_LEN).and_then(|h| h.try_into().ok()).ok_or(EINVAL)?;
        encode_header(hdr, mid, flags, n, out.bufs, out.mseq, out.mseq_ack).ok_or(EINVAL)?;
        q.post(BSDH_LEN + n)?;
        self.tx.posted(n as u32);
        // What found no memory before is due again at this send's completion.
        self.memory_short = false;
        Ok(n)
    }

    /// Room for more staged bytes (the staging buffer grows into it).
    pub fn staged_room(&self, q: &impl SendSlots) -> usize {
        self.staging_capacity.min(self.max_payload(q.buffer_size())).saturating_sub(self.staged_len)
    }

    /// Bytes the staging buffer holds now, staged or not: none until a write stages
    /// some, so that a connection that never waits for Nagle never pays for it.
    pub fn staging_allocated(&self) -> usize {
        self.staged.len()
    }

    /// Grows the staging buffer so that it takes up to `want` more bytes (within its
    /// room), at least doubling it, so that a run of small writes grows it a few
    /// times only. `false` when memory ran out and it has no room at all: the caller
    /// sends instead of staging.
    fn grow_staging(&mut self, want: usize, room: usize) -> bool {
        /// The smallest staging buffer: a few small writes' worth.
        const MIN_STAGING: usize = 512;
        let need = self.staged_len + want.min(room);
        if need <= self.staged.len() {
            return true;
        }
        let len = need.max(self.staged.len() * 2).max(MIN_STAGING).min(self.staging_capacity);
        self.staged.grow_to(len, 0).is_ok() || self.staged.len() > self.staged_len
    }

    /// Copies up to `max` bytes into the staging buffer with `fill`; returns how many
    /// (fewer than its room when memory to grow it ran out).
    pub fn stage<E>(&mut self, q: &impl SendSlots, max: usize, fill: impl FnOnce(&mut [u8]) -> Result<usize, E>) -> Result<usize, E> {
        let room = self.staged_room(q);
        self.grow_staging(max, room);
        let at = self.staged_len;
        let n = max.min(room).min(self.staged.len().saturating_sub(at));
        let Some(buf) = self.staged.get_mut(at..at + n) else {
            return Ok(0);
        };
        let n = fill(buf)?.min(n);
        self.staged_len += n;
        Ok(n)
    }

    /// Sends the staged bytes as one data message if a credit allows; `false` if they
    /// are still waiting.
    pub fn flush_staged(&mut self, q: &mut impl SendSlots) -> Result<bool, Errno> {
        let len = self.staged_len;
        if len == 0 {
            return Ok(true);
        }
        if self.data_held || !self.can_send(Credit::Data, self.slots_free(q.free())) {
            return Ok(false);
        }
        // Out of `self` while `send` borrows it.
        let staged = core::mem::take(&mut self.staged);
        let res = self.send(q, Mid::Data, 0, false, len, |buf: &mut [u8]| -> Result<usize, Errno> {
            let n = len.min(buf.len());
            buf[..n].copy_from_slice(&staged[..n]);
            Ok(n)
        });
        self.staged = staged;
        let sent = res?;
        // The staging room never exceeds a message: all of it went.
        self.staged_len -= sent;
        Ok(self.staged_len == 0)
    }

    /// What is due after a completion or a credit change: staged bytes once nothing is
    /// in flight (or a message's worth is there), then a pending DisConn, then a
    /// credit update if one is due (`ring`: our receive buffers).
    /// A message that found no memory for its buffer is not an error here: it stays
    /// owed, [`Stream::memory_short`] says so, and the caller retries later.
    pub fn progress(&mut self, q: &mut impl SendSlots, ring: usize) -> Result<(), Errno> {
        if flush_staged_now(self.staged_len, self.tx.idle(), self.staged_room(q)) {
            not_short(self.flush_staged(q).map(|_| ()))?;
        }
        self.flush_fin(q)?;
        self.credit_update(q, ring)
    }

    /// Sends a pending DisConn once a credit and a slot allow it, after any staged
    /// data and once our zero-copy adverts closed (without memory for either, it
    /// stays owed).
    pub fn flush_fin(&mut self, q: &mut impl SendSlots) -> Result<(), Errno> {
        if self.fin_owed() && !not_short(self.flush_staged(q))?.unwrap_or(false) {
            return Ok(());
        }
        if self.fin_owed() && !self.data_held && self.can_send(Credit::Control, self.slots_free(q.free())) {
            if not_short(self.send(q, Mid::DisConn, 0, true, 0, |_| Ok::<usize, Errno>(0)))?.is_some() {
                self.fin_posted();
            }
        }
        Ok(())
    }

    /// Sends a credit update if the peer should hear about reposted buffers now
    /// (without memory for it, it stays due).
    pub fn credit_update(&mut self, q: &mut impl SendSlots, ring: usize) -> Result<(), Errno> {
        if self.credit_update_due(ring) && self.can_send(Credit::Control, self.slots_free(q.free())) {
            not_short(self.send(q, Mid::Data, 0, true, 0, |_| Ok::<usize, Errno>(0)))?;
        }
        Ok(())
    }

    /// Best effort: tells the peer the connection is reset; nothing more goes.
    pub fn abort(&mut self, q: &mut impl SendSlots) {
        let _ = self.send(q, Mid::Abort, 0, true, 0, |_| Ok::<usize, Errno>(0));
        self.aborted();
    }

    /// Sends the staged bytes ahead of what a write round posts next: `None` when they
    /// went (and, `then_data`, a data message may follow now), else the round to
    /// return: waiting for a credit or a slot, or for memory (staged bytes that found
    /// no buffer wait as a write that found none).
    fn staged_sent(&mut self, q: &mut impl SendSlots, then_data: bool) -> Result<Option<WriteRound>, PostFailed> {
        Ok(match not_short(self.flush_staged(q)).map_err(PostFailed)? {
            None => Some(WriteRound::NoMemory),
            Some(false) => Some(WriteRound::Blocked),
            Some(true) if then_data && !self.can_send(Credit::Data, self.slots_free(q.free())) => Some(WriteRound::Blocked),
            Some(true) => None,
        })
    }

    /// One round of a stream `sendmsg` with `rest` bytes left to take: a piece
    /// smaller than a message waits in the staging buffer while earlier messages are
    /// in flight (Nagle, unless `nodelay`) and goes when they complete; staged bytes
    /// go before new ones; otherwise a message's worth is posted. With `urgent`
    /// (`MSG_OOB`) the last byte goes alone, after the rest, in a message flagged
    /// `OOB_PRES | OOB_PEND` (`proto::urgent`). `copy_in` copies the program's next
    /// bytes into a buffer and returns how many it could.
    pub fn write_round(
        &mut self,
        q: &mut impl SendSlots,
        rest: usize,
        nodelay: bool,
        connected: bool,
        urgent: bool,
        mut copy_in: impl FnMut(&mut [u8]) -> usize,
    ) -> Result<WriteRound, PostFailed> {
        if self.data_held {
            return Ok(WriteRound::Blocked);
        }
        let (rest, urgent_byte) = send_round(rest, urgent);
        let max = self.max_payload(q.buffer_size());
        // Nothing is staged or posted for a copy that found no byte.
        let fault = Cell::new(false);
        let mut copy = |buf: &mut [u8]| -> Result<usize, Errno> {
            let n = copy_in(buf);
            if n == 0 && !buf.is_empty() {
                fault.set(true);
                return Err(EFAULT);
            }
            Ok(n)
        };
        let outcome = |res: Result<usize, Errno>| match res {
            Ok(n) => Ok(WriteRound::Wrote(n)),
            Err(_) if fault.get() => Ok(WriteRound::Fault),
            Err(e) if e == ENOMEM => Ok(WriteRound::NoMemory),
            Err(e) => Err(PostFailed(e)),
        };
        if urgent_byte {
            // After everything staged, at once (never staged): the peer's SIGURG
            // should not wait for Nagle.
            if let Some(wait) = self.staged_sent(q, true)? {
                return Ok(wait);
            }
            return outcome(self.send(q, Mid::Data, FLAG_OOB_PRES | FLAG_OOB_PEND, false, 1, &mut copy));
        }
        // Without memory for the staging buffer, small writes go out at once.
        // Only the peer's window matters here: full send slots empty by themselves.
        let blocked = self.credits.as_ref().is_some_and(|c| c.available_for_data() == 0);
        if waits_for_nagle(!nodelay, blocked, connected, rest, max, self.tx.idle(), self.staged_len)
            && self.grow_staging(rest, self.staged_room(q))
        {
            // Full, and no credit (or memory) to send it: wait.
            if self.staged_room(q) == 0 {
                if let Some(wait) = self.staged_sent(q, false)? {
                    return Ok(wait);
                }
            }
            let round = outcome(self.stage(q, rest, &mut copy))?;
            if round != WriteRound::Fault && (self.staged_room(q) == 0 || self.tx.idle()) {
                // The bytes are taken: without a buffer now they go when one is
                // found ([`Stream::memory_short`]).
                not_short(self.flush_staged(q)).map_err(PostFailed)?;
            }
            return Ok(round);
        }
        // Staged bytes go first; they wait for a credit.
        if let Some(wait) = self.staged_sent(q, true)? {
            return Ok(wait);
        }
        outcome(self.send(q, Mid::Data, 0, false, rest, &mut copy))
    }
}
