// SPDX-License-Identifier: GPL-2.0

//! The regions of its memory a program registered on an AF_IB connection
//! (`INFINISOCK_MR_REG`) for the peer's RDMA READs and WRITEs and as the local side of
//! its own operations: their handles, their bounds and rights, which operations use
//! them, and their revocation at `close()`/`shutdown()`.

use super::{
    errno::{Errno, EBUSY, EINVAL, ENOBUFS, ENOMEM, EPIPE},
    list::{List, Lists},
    rdma::{region_serves, Access, MrRequest, RdmaOp},
};

/// Regions one connection may have registered at once.
pub const MAX_REGIONS: usize = 1024;

/// A registered region. `M` is the registration (the module's `Arc<UserMr>`):
/// dropping it deregisters the region and unpins its pages.
pub struct Region<M> {
    pub handle: u64,
    pub mr: M,
    pub addr: u64,
    pub len: u64,
    pub access: Access,
    /// Operations in flight whose local side it is: it cannot be deregistered.
    users: u32,
}

impl<M> Region<M> {
    /// An operation was posted on the region's bytes: it stays registered until the
    /// operation is over ([`RegionTable::release`]). Returns its handle.
    pub fn hold(&mut self) -> u64 {
        self.users += 1;
        self.handle
    }
}

/// See the module documentation.
pub struct RegionTable<Ls: Lists, M> {
    regions: Ls::Of<Region<M>>,
    next_handle: u64,
    /// The program closed or shut down the socket: no region is open to the peer
    /// any more, and no new one is registered.
    revoked: bool,
}

impl<Ls: Lists, M> Default for RegionTable<Ls, M> {
    fn default() -> Self {
        Self { regions: Default::default(), next_handle: 1, revoked: false }
    }
}

impl<Ls: Lists, M> RegionTable<Ls, M> {
    /// Whether a new registration may be made: `EPIPE` once revoked, `ENOBUFS` at
    /// [`MAX_REGIONS`]. Asked before the pages are pinned.
    pub fn may_register(&self) -> Result<(), Errno> {
        if self.revoked {
            return Err(EPIPE);
        }
        if self.regions.len() >= MAX_REGIONS {
            return Err(ENOBUFS);
        }
        Ok(())
    }

    /// Adds the registration `mr` of `req`; returns its handle (never 0).
    pub fn add(&mut self, mr: M, req: &MrRequest) -> Result<u64, Errno> {
        self.may_register()?;
        let handle = self.next_handle;
        let region = Region { handle, mr, addr: req.addr, len: req.len, access: req.access, users: 0 };
        self.regions.try_push(region).map_err(|_| ENOMEM)?;
        self.next_handle += 1;
        Ok(handle)
    }

    /// Takes back a registration the program never learnt the handle of (writing it
    /// back failed), unless an operation already uses it.
    pub fn forget(&mut self, handle: u64) -> Option<M> {
        let at = self.regions.iter().position(|r| r.handle == handle && r.users == 0)?;
        self.regions.take_at(at).map(|r| r.mr)
    }

    /// `INFINISOCK_MR_DEREG`: `EINVAL` for a handle the connection does not have,
    /// `EBUSY` while an operation uses the region as its local side.
    pub fn deregister(&mut self, handle: u64) -> Result<M, Errno> {
        let at = self.regions.iter().position(|r| r.handle == handle).ok_or(EINVAL)?;
        if self.regions[at].users > 0 {
            return Err(EBUSY);
        }
        self.regions.take_at(at).map(|r| r.mr).ok_or(EINVAL)
    }

    /// Where the region is that an `INFINISOCK_RDMA_REGION` operation `op` on
    /// `[addr, addr + len)` may use as its local side (inside it, with the rights `op`
    /// needs): an index for [`Self::get_mut`], valid until the table next changes.
    pub fn find(&self, addr: u64, len: u64, op: RdmaOp) -> Option<usize> {
        self.regions.iter().position(|r| region_serves(r.addr, r.len, r.access, addr, len, op))
    }

    /// The region at `at`, as [`Self::find`] gave it.
    pub fn get_mut(&mut self, at: usize) -> Option<&mut Region<M>> {
        self.regions.get_mut(at)
    }

    /// An operation that used region `handle` is over; the region goes now if it was
    /// revoked meanwhile (see [`Self::revoke`]).
    pub fn release(&mut self, handle: u64) {
        let Some(at) = self.regions.iter().position(|r| r.handle == handle) else { return };
        let r = &mut self.regions[at];
        r.users = r.users.saturating_sub(1);
        if self.revoked && r.users == 0 {
            drop(self.regions.take_at(at));
        }
    }

    /// Closes every region to the peer: at `close()` and `shutdown()` the program may
    /// reuse that memory at once, so the peer's next READ or WRITE must fail, not
    /// reach it. A region that is the local side of one of our operations in flight
    /// goes when that operation completes.
    pub fn revoke(&mut self) {
        self.revoked = true;
        self.regions.keep_if(|r| r.users > 0);
    }

    /// Whether the regions were revoked.
    pub fn revoked(&self) -> bool {
        self.revoked
    }

    /// Regions registered.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}
