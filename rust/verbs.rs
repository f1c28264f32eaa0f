// SPDX-License-Identifier: GPL-2.0

//! Verbs objects of one RDMA device: protection domain, completion queues and RC queue
//! pairs, each owned by a Rust value and destroyed when it is dropped.

use core::ptr::NonNull;

use kernel::{error::to_result, prelude::*};

use crate::{bindings, ib::IbDevice};

/// Turns a helper's (pointer, errno) answer into a `Result`.
fn checked<T>(ptr: *mut T, err: i32) -> Result<NonNull<T>> {
    match NonNull::new(ptr) {
        Some(p) => Ok(p),
        None if err < 0 => Err(Error::from_errno(err)),
        None => Err(EINVAL),
    }
}

/// A protection domain (`ib_alloc_pd`).
///
/// # Invariants
///
/// `0` is a live PD, deallocated only in `drop`; every object created in it holds a
/// reference to it, so it outlives them.
pub(crate) struct Pd(NonNull<bindings::ib_pd>);

// SAFETY: PD operations may be called from any thread.
unsafe impl Send for Pd {}
// SAFETY: No method mutates through `&self` on the Rust side.
unsafe impl Sync for Pd {}

impl Pd {
    /// Allocates a PD on `dev`.
    pub(crate) fn new(dev: &IbDevice) -> Result<Self> {
        let mut err = 0;
        // SAFETY: The device is registered (`IbDevice` invariant).
        let pd = unsafe { bindings::infinisock_alloc_pd(dev.as_raw(), &mut err) };
        Ok(Self(checked(pd, err)?))
    }
}

impl Drop for Pd {
    fn drop(&mut self) {
        // SAFETY: Live PD (type invariant); objects in it keep it alive until dropped.
        unsafe { bindings::infinisock_dealloc_pd(self.0.as_ptr()) };
    }
}

/// A completion queue polled from softirq (`ib_alloc_cq_any`).
///
/// # Invariants
///
/// `0` is a live CQ, freed only in `drop`.
pub(crate) struct Cq(NonNull<bindings::ib_cq>);

// SAFETY: CQ operations may be called from any thread.
unsafe impl Send for Cq {}
// SAFETY: No method mutates through `&self` on the Rust side.
unsafe impl Sync for Cq {}

impl Cq {
    /// Allocates a CQ of at least `entries` entries on `dev`.
    pub(crate) fn new(dev: &IbDevice, entries: u32) -> Result<Self> {
        let mut err = 0;
        let entries = i32::try_from(entries).map_err(|_| EINVAL)?;
        // SAFETY: The device is registered; no completion context is used yet.
        let cq = unsafe { bindings::infinisock_alloc_cq(dev.as_raw(), core::ptr::null_mut(), entries, &mut err) };
        Ok(Self(checked(cq, err)?))
    }
}

impl Drop for Cq {
    fn drop(&mut self) {
        // SAFETY: Live CQ; every QP using it was destroyed first (`Qp` borrows it).
        unsafe { bindings::infinisock_free_cq(self.0.as_ptr()) };
    }
}

/// Sizes of a queue pair's work queues.
#[derive(Clone, Copy)]
pub(crate) struct QpCaps {
    /// Send work requests outstanding at once.
    pub(crate) send_wr: u32,
    /// Receive work requests outstanding at once.
    pub(crate) recv_wr: u32,
    /// Scatter/gather entries per work request.
    pub(crate) sge: u32,
}

/// A reliable-connected queue pair (`ib_create_qp`), in RESET state until connected.
///
/// # Invariants
///
/// `qp` is a live QP whose PD and CQs are the borrowed ones; it is destroyed in `drop`,
/// before any of them can be.
pub(crate) struct Qp<'a> {
    qp: NonNull<bindings::ib_qp>,
    _pd: &'a Pd,
    _cqs: (&'a Cq, &'a Cq),
}

// SAFETY: QP operations may be called from any thread.
unsafe impl Send for Qp<'_> {}

impl<'a> Qp<'a> {
    /// Creates an RC QP in `pd` completing to `send_cq` and `recv_cq`.
    pub(crate) fn new_rc(pd: &'a Pd, send_cq: &'a Cq, recv_cq: &'a Cq, caps: QpCaps) -> Result<Self> {
        let mut err = 0;
        // SAFETY: PD and CQs are live and outlive the QP (borrowed for `'a`).
        let qp = unsafe {
            bindings::infinisock_create_rc_qp(
                pd.0.as_ptr(),
                send_cq.0.as_ptr(),
                recv_cq.0.as_ptr(),
                caps.send_wr,
                caps.recv_wr,
                caps.sge,
                core::ptr::null_mut(),
                &mut err,
            )
        };
        Ok(Self { qp: checked(qp, err)?, _pd: pd, _cqs: (send_cq, recv_cq) })
    }

    /// The QP number the peer addresses.
    pub(crate) fn num(&self) -> u32 {
        // SAFETY: Live QP (type invariant).
        unsafe { bindings::infinisock_qp_num(self.qp.as_ptr()) }
    }
}

impl Drop for Qp<'_> {
    fn drop(&mut self) {
        // SAFETY: Live QP, destroyed once. Destroying a kernel QP only fails for QPs
        // with user-space state, which ours never have.
        let r = to_result(unsafe { bindings::infinisock_destroy_qp(self.qp.as_ptr()) });
        if let Err(e) = r {
            pr_err!("destroying QP failed: {:?}\n", e);
        }
    }
}
