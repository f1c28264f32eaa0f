// SPDX-License-Identifier: GPL-2.0

//! Growable lists for the protocol's bookkeeping (listener queues, registered regions,
//! RDMA operations, the error queue), written once for both builds: the module's are
//! `KVec`s allocating with `GFP_KERNEL` (`kernel_api::list`), the host tests' `Vec`s.
//! Every allocation can fail and says so; nothing here panics.

/// Memory ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

/// A growable list of `T`, read and written as a slice.
pub trait List<T>: Default + core::ops::DerefMut<Target = [T]> {
    /// Makes room for `more` elements beyond those there.
    fn reserve_more(&mut self, more: usize) -> Result<(), NoMemory>;
    /// Appends `v` in room reserved before; gives it back if there is none.
    fn push_reserved(&mut self, v: T) -> Result<(), T>;
    /// Removes and returns the element at `at`, shifting the rest down.
    fn take_at(&mut self, at: usize) -> Option<T>;
    /// Keeps the elements `keep` says yes to, in order.
    fn keep_if(&mut self, keep: impl FnMut(&T) -> bool);
    /// Drops the elements from `len` on.
    fn cut_to(&mut self, len: usize);
    /// Elements the storage holds without growing.
    fn room(&self) -> usize;
    /// Appends copies of `v` until there are `len` elements (none if there are as
    /// many already).
    fn grow_to(&mut self, len: usize, v: T) -> Result<(), NoMemory>
    where
        T: Clone;

    /// Appends `v`, growing the storage; gives it back when memory ran out.
    fn try_push(&mut self, v: T) -> Result<(), T> {
        if self.reserve_more(1).is_err() {
            return Err(v);
        }
        self.push_reserved(v)
    }
}

/// A family of lists, one per element type: what the module and the host tests each
/// instantiate the protocol's bookkeeping with.
pub trait Lists {
    /// The list of `T`.
    type Of<T>: List<T>;
}
