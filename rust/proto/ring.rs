// SPDX-License-Identifier: GPL-2.0

//! Order of the buffers in a receive or send ring.
//!
//! A reliable-connected QP completes receives in the order they were posted, but the
//! module reposts a receive buffer when its message is consumed, and control messages
//! are consumed at once while data waits for the reader: so buffer `k` is not simply
//! the `k`-th to complete. [`IndexFifo`] keeps the posting order.

/// Most buffers a ring may have.
pub const MAX_RING: usize = 256;

/// A first-in first-out queue of buffer indices, at most [`MAX_RING`] of them.
#[derive(Clone, Debug)]
pub struct IndexFifo {
    slots: [u16; MAX_RING],
    head: usize,
    len: usize,
}

impl Default for IndexFifo {
    fn default() -> Self {
        Self::new()
    }
}

impl IndexFifo {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { slots: [0; MAX_RING], head: 0, len: 0 }
    }

    /// Appends `idx`; `false` (and nothing changes) if the queue is full.
    pub fn push(&mut self, idx: u16) -> bool {
        if self.len == MAX_RING {
            return false;
        }
        self.slots[(self.head + self.len) % MAX_RING] = idx;
        self.len += 1;
        true
    }

    /// Removes and returns the oldest index.
    pub fn pop(&mut self) -> Option<u16> {
        let idx = self.front()?;
        self.head = (self.head + 1) % MAX_RING;
        self.len -= 1;
        Some(idx)
    }

    /// The oldest index, left in place.
    pub fn front(&self) -> Option<u16> {
        (self.len > 0).then(|| self.slots[self.head])
    }

    /// The `n`-th oldest index, left in place.
    pub fn get(&self, n: usize) -> Option<u16> {
        (n < self.len).then(|| self.slots[(self.head + n) % MAX_RING])
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
