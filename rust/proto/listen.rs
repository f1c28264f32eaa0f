// SPDX-License-Identifier: GPL-2.0

//! A listener's queues: requests accepted on the wire that wait for the peer's RTU,
//! connections established and waiting for `accept()`, and the backlog that bounds
//! both, as `sk_acceptq_is_full` bounds TCP's.

use super::list::{List, Lists};

/// See the module documentation. `C` is a child connection.
pub struct ListenQueue<Ls: Lists, C> {
    backlog: usize,
    pending: Ls::Of<C>,
    ready: Ls::Of<C>,
}

impl<Ls: Lists, C> Default for ListenQueue<Ls, C> {
    fn default() -> Self {
        Self { backlog: 0, pending: Default::default(), ready: Default::default() }
    }
}

/// What became of a pending child whose connection was established.
#[derive(Debug, PartialEq, Eq)]
pub enum Established<C> {
    /// It waits for `accept()` now.
    Ready,
    /// It was not pending: the listener let it go meanwhile (closed, or the child
    /// failed and was forgotten).
    NotPending,
    /// No memory to queue it: the caller resets it.
    NoMemory(C),
}

impl<Ls: Lists, C> ListenQueue<Ls, C> {
    /// `listen(backlog)`, again or the first time: a negative backlog is 0.
    pub fn set_backlog(&mut self, backlog: i32) {
        self.backlog = backlog.max(0) as usize;
    }

    /// Whether a new request must be refused: the children already queued exceed
    /// the backlog.
    pub fn full(&self) -> bool {
        self.pending.len() + self.ready.len() > self.backlog
    }

    /// Queues a child whose request was accepted on the wire; gives it back without
    /// memory.
    pub fn add_pending(&mut self, child: C) -> Result<(), C> {
        self.pending.try_push(child)
    }

    /// The pending child `is` picks is established: it moves to the accept queue,
    /// behind those established before it.
    pub fn established(&mut self, is: impl Fn(&C) -> bool) -> Established<C> {
        let Some(at) = self.pending.iter().position(is) else { return Established::NotPending };
        let Some(child) = self.pending.take_at(at) else { return Established::NotPending };
        match self.ready.try_push(child) {
            Ok(()) => Established::Ready,
            Err(child) => Established::NoMemory(child),
        }
    }

    /// Children queued, waiting for their RTU or for `accept()` (what `ss` shows as a
    /// TCP listener's Recv-Q).
    pub fn queued(&self) -> usize {
        self.pending.len() + self.ready.len()
    }

    /// The backlog `listen()` set (a TCP listener's Send-Q in `ss`).
    pub fn backlog(&self) -> usize {
        self.backlog
    }

    /// Whether a connection waits for `accept()`.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// `accept()`: the oldest established connection.
    pub fn take_ready(&mut self) -> Option<C> {
        self.ready.take_at(0)
    }

    /// Removes the child `is` picks (it failed before `accept()` took it). Returns
    /// whether it was queued: if not, `accept()` has taken it.
    pub fn forget(&mut self, is: impl Fn(&C) -> bool) -> bool {
        let before = self.pending.len() + self.ready.len();
        self.pending.keep_if(|c| !is(c));
        self.ready.keep_if(|c| !is(c));
        before != self.pending.len() + self.ready.len()
    }

    /// Empties both queues (the listener closes): pending children first, then ready
    /// ones, oldest first in each.
    pub fn take_all(&mut self) -> [Ls::Of<C>; 2] {
        [core::mem::take(&mut self.pending), core::mem::take(&mut self.ready)]
    }
}
