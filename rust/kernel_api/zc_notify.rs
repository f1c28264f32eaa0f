// SPDX-License-Identifier: GPL-2.0

//! `MSG_ZEROCOPY`'s completion notifications, with the kernel's own machinery (the
//! one TCP uses): each `sendmsg` with the flag, on a socket with `SO_ZEROCOPY`, takes
//! the next id, is charged to `optmem` and `RLIMIT_MEMLOCK`, and once its bytes are
//! the program's again queues a notification on the sock's error queue, where
//! adjacent ids merge; `recvmsg(MSG_ERRQUEUE)` takes them off.

use core::ptr::NonNull;

use kernel::prelude::*;

use crate::{
    kernel_api::{bindings, sock::Sock},
    proto::error_queue::EXTENDED_ERR_LEN,
};

/// The notification of one `sendmsg` call, from its start to its end.
///
/// # Invariants
///
/// `uarg` came from `msg_zerocopy_realloc()` and holds its one reference until
/// [`ZcNotify::end`] or the drop hands it back.
pub(crate) struct ZcNotify {
    uarg: NonNull<bindings::ubuf_info>,
}

impl ZcNotify {
    /// Begins the notification of a call of `len` bytes on `sk`; `ENOBUFS` when its
    /// charge does not fit (as TCP answers).
    pub(crate) fn begin(sk: &Sock, len: usize) -> Result<Self> {
        // SAFETY: The sock is valid; the call is in task context, as the helper
        // requires.
        let uarg = unsafe { bindings::infinisock_zc_notify_begin(sk.as_raw(), len) };
        NonNull::new(uarg).map(|uarg| Self { uarg }).ok_or(ENOBUFS)
    }

    /// The notification for the C helpers: pins of the call's pages take their own
    /// reference (`infinisock_pin_iter`).
    pub(super) fn as_raw(&self) -> *mut bindings::ubuf_info {
        self.uarg.as_ptr()
    }

    /// Ends it: the call sent `sent` bytes, and its notification says they were
    /// copied if `copied`. A call that sent nothing gives its id back and notifies
    /// nothing, unless another call took an id since (then its id is notified, as
    /// copied).
    pub(crate) fn end(self, sent: usize, copied: bool) {
        let uarg = self.uarg.as_ptr();
        core::mem::forget(self);
        // SAFETY: `uarg` holds its reference (type invariant), given up here once:
        // `self` is forgotten.
        unsafe { bindings::infinisock_zc_notify_end(uarg, sent, copied) };
    }
}

impl Drop for ZcNotify {
    fn drop(&mut self) {
        // SAFETY: As in `end`: a notification never ended sent nothing.
        unsafe { bindings::infinisock_zc_notify_end(self.uarg.as_ptr(), 0, false) };
    }
}

impl Sock {
    /// Whether `SO_ZEROCOPY` is set.
    pub(crate) fn zerocopy(&self) -> bool {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_zerocopy(self.as_raw()) }
    }

    /// Whether a notification waits on the error queue.
    pub(crate) fn errqueue_pending(&self) -> bool {
        // SAFETY: The sock is valid; the queue is looked at without its lock.
        unsafe { bindings::infinisock_sk_errqueue_pending(self.as_raw()) }
    }

    /// Takes the oldest notification off the error queue: its `sock_extended_err`.
    pub(crate) fn take_zc_notification(&self) -> Option<[u8; EXTENDED_ERR_LEN]> {
        let mut ee = [0u8; EXTENDED_ERR_LEN];
        // SAFETY: The sock is valid; `ee` is `EXTENDED_ERR_LEN` writable bytes.
        let err = unsafe { bindings::infinisock_zc_notify_take(self.as_raw(), ee.as_mut_ptr(), EXTENDED_ERR_LEN as u32) };
        (err == 0).then_some(ee)
    }
}
