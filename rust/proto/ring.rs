// SPDX-License-Identifier: GPL-2.0

//! Order of the buffers in a receive or send ring.
//!
//! A reliable-connected QP completes receives in the order they were posted, but the
//! module reposts a receive buffer when its message is consumed, and control messages
//! are consumed at once while data waits for the reader: so buffer `k` is not simply
//! the `k`-th to complete. [`IndexFifo`] keeps the posting order.
//!
//! A connection's queues hold indices of its own ring, so each is as long as the ring
//! ([`IndexFifo::for_ring`]), not [`MAX_RING`]: a connection keeps three of them, and
//! at 10,000 connections the 512 bytes of a full-size one were most of what pushed
//! the endpoint into the next slab size. The full-size array ([`IndexFifo::new`]) is
//! for a caller's stack, where no allocation is wanted.

use super::list::{List, NoMemory};

/// Most buffers a ring may have.
pub const MAX_RING: usize = 256;

/// Where an [`IndexFifo`] keeps its indices: as many as the storage's length.
pub trait IndexSlots {
    fn slots(&self) -> &[u16];
    fn slots_mut(&mut self) -> &mut [u16];
}

impl IndexSlots for [u16; MAX_RING] {
    fn slots(&self) -> &[u16] {
        self
    }

    fn slots_mut(&mut self) -> &mut [u16] {
        self
    }
}

impl<S: List<u16>> IndexSlots for S {
    fn slots(&self) -> &[u16] {
        self
    }

    fn slots_mut(&mut self) -> &mut [u16] {
        self
    }
}

/// A first-in first-out queue of buffer indices, as many as its storage `S` holds.
#[derive(Clone, Debug)]
pub struct IndexFifo<S = [u16; MAX_RING]> {
    slots: S,
    head: usize,
    len: usize,
}

impl Default for IndexFifo {
    fn default() -> Self {
        Self::new()
    }
}

impl IndexFifo {
    /// An empty queue of up to [`MAX_RING`] indices, in place.
    pub const fn new() -> Self {
        Self { slots: [0; MAX_RING], head: 0, len: 0 }
    }
}

impl<S: List<u16>> IndexFifo<S> {
    /// An empty queue for the indices of a ring of `ring` buffers.
    pub fn for_ring(ring: usize) -> Result<Self, NoMemory> {
        let mut slots = S::default();
        slots.grow_to(ring, 0)?;
        Ok(Self { slots, head: 0, len: 0 })
    }
}

impl<S: IndexSlots> IndexFifo<S> {
    /// How many indices it holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.slots().len()
    }

    /// The place of the `n`-th oldest index, for `n` up to the capacity: `head` is
    /// below it, so one subtraction wraps (and no division by a capacity of 0 exists).
    fn place(&self, n: usize) -> usize {
        let at = self.head + n;
        if at >= self.capacity() {
            at - self.capacity()
        } else {
            at
        }
    }

    /// Appends `idx`; `false` (and nothing changes) if the queue is full.
    pub fn push(&mut self, idx: u16) -> bool {
        if self.len >= self.capacity() {
            return false;
        }
        let at = self.place(self.len);
        self.slots.slots_mut()[at] = idx;
        self.len += 1;
        true
    }

    /// Removes and returns the oldest index.
    pub fn pop(&mut self) -> Option<u16> {
        let idx = self.front()?;
        self.head = self.place(1);
        self.len -= 1;
        Some(idx)
    }

    /// The oldest index, left in place.
    pub fn front(&self) -> Option<u16> {
        self.get(0)
    }

    /// The `n`-th oldest index, left in place.
    pub fn get(&self, n: usize) -> Option<u16> {
        (n < self.len).then(|| self.slots.slots()[self.place(n)])
    }

    /// How many indices are queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
