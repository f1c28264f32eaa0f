// SPDX-License-Identifier: GPL-2.0

//! Urgent data on a stream (`MSG_OOB`), with TCP's semantics.
//!
//! The sender's `send(MSG_OOB)` makes the last byte of its data urgent. On the wire
//! (Annex A4, as OFED SDP sends it) that byte is the last byte of a Data message whose
//! header has `OOB_PRES` and `OOB_PEND`. The byte stays in the stream, at the *mark*,
//! as in TCP:
//!
//! - the receiver is sent `SIGURG` and `poll` reports `POLLPRI` until the byte is read;
//! - `recv(MSG_OOB)` returns it (once; `EINVAL` without one, with `SO_OOBINLINE`, or
//!   once it was read or passed);
//! - a normal read stops at the mark (`SIOCATMARK` is then true) and, unless
//!   `SO_OOBINLINE`, steps over the urgent byte; a read past the mark ends the urgent
//!   state;
//! - a newer urgent byte replaces an older one.
//!
//! Offsets count the stream's payload bytes from the connection's start.

/// The urgent byte, as `tcp_sock.urg_data` keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Byte {
    /// No urgent data (never, or the reader went past the mark).
    None,
    /// Arrived, not read with `MSG_OOB`.
    Valid(u8),
    /// Read with `MSG_OOB`; the byte still sits at the mark for a normal read.
    Read,
}

/// Why `recv(MSG_OOB)` returns no byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoUrgentByte {
    /// `EINVAL`: none arrived, it was read or passed, or `SO_OOBINLINE` is on.
    Invalid,
}

/// What a stream's normal read does next (see [`Urgent::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadPlan {
    /// Bytes to step over first: the urgent byte at the reader's place.
    pub skip: usize,
    /// Bytes to read at most, after them (up to the mark).
    pub limit: usize,
    /// Stop here: the reader is at the mark and this call has read already.
    pub stop: bool,
}

/// See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Urgent {
    /// Payload bytes filed for the reader, and consumed by it.
    filed: u64,
    read: u64,
    /// Offset of the urgent byte.
    mark: u64,
    byte: Byte,
}

impl Default for Urgent {
    fn default() -> Self {
        Self::new()
    }
}

impl Urgent {
    /// A new connection's: nothing urgent.
    pub const fn new() -> Self {
        Self { filed: 0, read: 0, mark: 0, byte: Byte::None }
    }

    /// `len` payload bytes were filed for the reader; `urgent`: the last of them is the
    /// urgent byte (its value).
    pub fn filed(&mut self, len: usize, urgent: Option<u8>) {
        if let (Some(b), 1..) = (urgent, len) {
            self.mark = self.filed + len as u64 - 1;
            self.byte = Byte::Valid(b);
        }
        self.filed += len as u64;
    }

    /// Whether urgent state is kept (`urg_data` non-zero).
    fn active(&self) -> bool {
        self.byte != Byte::None
    }

    /// Whether the reader's next byte is the urgent one (`SIOCATMARK`).
    pub fn at_mark(&self) -> bool {
        self.active() && self.read == self.mark
    }

    /// Whether an urgent byte waits for `recv(MSG_OOB)` (`POLLPRI`).
    pub fn pending(&self) -> bool {
        matches!(self.byte, Byte::Valid(_))
    }

    /// How a normal read of up to `want` bytes proceeds from the reader's place, with
    /// `copied` bytes already read by this call, `unread` bytes filed and not read,
    /// and `inline` (`SO_OOBINLINE`).
    pub fn plan(&self, want: usize, copied: usize, unread: usize, inline: bool) -> ReadPlan {
        if !self.active() || self.mark < self.read {
            return ReadPlan { skip: 0, limit: want, stop: false };
        }
        let to_mark = (self.mark - self.read) as usize;
        if to_mark > 0 {
            return ReadPlan { skip: 0, limit: want.min(to_mark), stop: false };
        }
        // At the mark.
        if copied > 0 {
            return ReadPlan { skip: 0, limit: 0, stop: true };
        }
        let skip = usize::from(!inline && unread > 0);
        ReadPlan { skip, limit: want, stop: false }
    }

    /// The reader consumed `n` bytes (stepped over or read).
    pub fn consumed(&mut self, n: usize) {
        self.read += n as u64;
        if self.active() && self.read > self.mark {
            self.byte = Byte::None;
        }
    }

    /// Bytes a normal read could return now out of `unread`: all but an urgent byte
    /// it would step over (`tcp_poll` does not count it as readable).
    pub fn readable(&self, unread: usize, inline: bool) -> usize {
        if self.at_mark() && !inline {
            unread.saturating_sub(1)
        } else {
            unread
        }
    }

    /// `FIONREAD`/`SIOCINQ` out of `unread` bytes: with an urgent byte not inline, the
    /// bytes before its mark (0 at the mark), as `tcp_inq` counts them.
    pub fn inq(&self, unread: usize, inline: bool) -> usize {
        if inline || !self.active() || self.mark < self.read {
            unread
        } else {
            unread.min((self.mark - self.read) as usize)
        }
    }

    /// `recv(MSG_OOB)`: the urgent byte, marked read unless `peek`.
    pub fn take(&mut self, peek: bool, inline: bool) -> Result<u8, NoUrgentByte> {
        match self.byte {
            Byte::Valid(b) if !inline => {
                if !peek {
                    self.byte = Byte::Read;
                }
                Ok(b)
            }
            _ => Err(NoUrgentByte::Invalid),
        }
    }
}

/// How a `send(MSG_OOB)` of `rest` bytes left goes out in rounds: all but the last
/// byte as any data, then that byte alone in a message flagged urgent. Returns the
/// bytes the next round may take, and whether it is the urgent byte.
pub fn send_round(rest: usize, urgent: bool) -> (usize, bool) {
    match (urgent, rest) {
        (true, 1) => (1, true),
        (true, n) => (n.saturating_sub(1), false),
        (false, n) => (n, false),
    }
}
