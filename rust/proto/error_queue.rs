// SPDX-License-Identifier: GPL-2.0

//! The error queue of an AF_IB socket: the completions of its RDMA operations,
//! oldest first, until the program reads them with `recvmsg(MSG_ERRQUEUE)`.
//!
//! Every operation in flight has its place reserved when it is posted
//! ([`ErrorQueue::reserve`]), so its completion is always queued (a cancellation
//! included); the places the program has read are reclaimed once they make up half of
//! the storage, so a program that always leaves some records unread does not make it
//! grow.

use super::{
    errno::{Errno, ENOMEM},
    list::{List, Lists},
};

/// A finished operation: `errno` is 0 or a positive errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub token: u64,
    pub errno: u32,
    pub len: u32,
}

/// See the module documentation.
pub struct ErrorQueue<Ls: Lists> {
    queue: Ls::Of<Completion>,
    /// Records before this were read.
    head: usize,
}

impl<Ls: Lists> Default for ErrorQueue<Ls> {
    fn default() -> Self {
        Self { queue: Default::default(), head: 0 }
    }
}

/// No place was reserved for a record (not reached: every operation posted has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreserved;

impl<Ls: Lists> ErrorQueue<Ls> {
    pub fn is_empty(&self) -> bool {
        self.head == self.queue.len()
    }

    /// Records waiting to be read.
    pub fn len(&self) -> usize {
        self.queue.len() - self.head
    }

    /// Records the storage holds without growing, read places included.
    pub fn capacity(&self) -> usize {
        self.queue.room()
    }

    /// Makes room for `more` records beyond those waiting, first reclaiming the read
    /// places if they are at least half of the storage.
    pub fn reserve(&mut self, more: usize) -> Result<(), Errno> {
        if self.head > 0 && self.head >= self.len() {
            let waiting = self.len();
            self.queue.copy_within(self.head.., 0);
            self.queue.cut_to(waiting);
            self.head = 0;
        }
        self.queue.reserve_more(more).map_err(|_| ENOMEM)
    }

    /// Queues a record in a place reserved for it.
    pub fn push(&mut self, c: Completion) -> Result<(), Unreserved> {
        self.queue.push_reserved(c).map_err(|_| Unreserved)
    }

    /// The oldest record.
    pub fn front(&self) -> Option<Completion> {
        self.queue.get(self.head).copied()
    }

    /// Removes the oldest record.
    pub fn pop(&mut self) {
        if !self.is_empty() {
            self.head += 1;
        }
        if self.is_empty() {
            self.queue.cut_to(0);
            self.head = 0;
        }
    }
}

/// `IP_RECVERR` (`SOL_IP`) and `IPV6_RECVERR` (`SOL_IPV6`): the control message of a
/// stream's error-queue entry, a `MSG_ZEROCOPY` notification.
pub const IP_RECVERR: i32 = 11;
/// See [`IP_RECVERR`].
pub const IPV6_RECVERR: i32 = 25;
/// `struct sock_extended_err`'s size.
pub const EXTENDED_ERR_LEN: usize = 16;
/// The largest [`recverr_cmsg`]: the error and a `struct sockaddr_in6`.
pub const RECVERR_MAX: usize = EXTENDED_ERR_LEN + 28;

/// The control message `recvmsg(MSG_ERRQUEUE)` gives for a notification whose
/// `sock_extended_err` is `ee`, as `ip_recv_error()` (`v6` false) or
/// `ipv6_recv_error()` build it: level, type, and the error followed by the family's
/// offender address, zeroed (a notification names none), in the first `len` bytes.
pub fn recverr_cmsg(v6: bool, ee: &[u8; EXTENDED_ERR_LEN]) -> (i32, i32, [u8; RECVERR_MAX], usize) {
    let mut data = [0u8; RECVERR_MAX];
    data[..EXTENDED_ERR_LEN].copy_from_slice(ee);
    if v6 {
        (super::abi::SOL_IPV6, IPV6_RECVERR, data, RECVERR_MAX)
    } else {
        (super::abi::SOL_IP, IP_RECVERR, data, EXTENDED_ERR_LEN + 16)
    }
}
