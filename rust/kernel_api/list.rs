// SPDX-License-Identifier: GPL-2.0

//! The module's lists for the protocol's bookkeeping (`proto::list`): `KVec`s that
//! allocate with `GFP_KERNEL`, so they are used in process context only (socket
//! calls, rdma_cm handlers and work items, never a CQ's event handler).

use kernel::prelude::*;

use crate::proto::list::{List, Lists, NoMemory};

impl<T> List<T> for KVec<T> {
    fn reserve_more(&mut self, more: usize) -> Result<(), NoMemory> {
        self.reserve(more, GFP_KERNEL).map_err(|_| NoMemory)
    }

    fn push_reserved(&mut self, v: T) -> Result<(), T> {
        self.push_within_capacity(v).map_err(|e| e.0)
    }

    fn take_at(&mut self, at: usize) -> Option<T> {
        self.remove(at).ok()
    }

    fn keep_if(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.retain(|v| keep(v))
    }

    fn cut_to(&mut self, len: usize) {
        self.truncate(len)
    }

    fn room(&self) -> usize {
        self.capacity()
    }

    fn grow_to(&mut self, len: usize, v: T) -> Result<(), NoMemory>
    where
        T: Clone,
    {
        if len <= self.len() {
            return Ok(());
        }
        self.resize(len, v, GFP_KERNEL).map_err(|_| NoMemory)
    }
}

impl From<NoMemory> for Error {
    fn from(_: NoMemory) -> Self {
        ENOMEM
    }
}

/// The module's family of lists.
pub(crate) struct KernelLists;

impl Lists for KernelLists {
    type Of<T> = KVec<T>;
}
