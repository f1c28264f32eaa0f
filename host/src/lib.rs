// SPDX-License-Identifier: GPL-2.0

//! The module's kernel-free code (`rust/proto/`), compiled for the host so that it can be
//! unit-, property- and fuzz-tested without a kernel.

#![no_std]

extern crate alloc;

#[path = "../../rust/proto/mod.rs"]
mod proto;

pub use proto::*;

use alloc::vec::Vec;
use proto::list::{List, Lists, NoMemory};

/// The host's lists for the protocol's bookkeeping: `Vec`s, as the module's are
/// `KVec`s (`rust/kernel_api/list.rs`).
impl<T> List<T> for Vec<T> {
    fn reserve_more(&mut self, more: usize) -> Result<(), NoMemory> {
        self.try_reserve(more).map_err(|_| NoMemory)
    }

    fn push_reserved(&mut self, v: T) -> Result<(), T> {
        if self.len() == self.capacity() {
            return Err(v);
        }
        self.push(v);
        Ok(())
    }

    fn take_at(&mut self, at: usize) -> Option<T> {
        (at < self.len()).then(|| self.remove(at))
    }

    fn keep_if(&mut self, keep: impl FnMut(&T) -> bool) {
        self.retain(keep)
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
        self.try_reserve(len - self.len()).map_err(|_| NoMemory)?;
        self.resize(len, v);
        Ok(())
    }
}

/// The host's family of lists.
pub struct HostLists;

impl Lists for HostLists {
    type Of<T> = Vec<T>;
}
