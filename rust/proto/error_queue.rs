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
