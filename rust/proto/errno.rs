// SPDX-License-Identifier: GPL-2.0

//! Linux errno values, as the protocol logic reports them.
//!
//! Errno numbers are part of the Linux ABI, so the kernel-free code can name them
//! without the kernel's headers; the module converts them to `kernel::error::Error`.

/// A positive Linux errno value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The value as the kernel returns it from a syscall handler: negative.
    pub const fn to_kernel(self) -> i32 {
        -self.0
    }
}

/// Protocol not supported.
pub const EPROTONOSUPPORT: Errno = Errno(93);
/// Socket type not supported.
pub const ESOCKTNOSUPPORT: Errno = Errno(94);
/// Invalid argument.
pub const EINVAL: Errno = Errno(22);
/// Address family not supported by protocol.
pub const EAFNOSUPPORT: Errno = Errno(97);
/// Message too long.
pub const EMSGSIZE: Errno = Errno(90);
/// No space left (on a shared queue's partition).
pub const ENOSPC: Errno = Errno(28);
/// Broken pipe.
pub const EPIPE: Errno = Errno(32);
/// Connection reset by peer.
pub const ECONNRESET: Errno = Errno(104);
/// Transport endpoint is not connected.
pub const ENOTCONN: Errno = Errno(107);
/// Connection timed out.
pub const ETIMEDOUT: Errno = Errno(110);
/// Connection refused.
pub const ECONNREFUSED: Errno = Errno(111);
/// Network is unreachable.
pub const ENETUNREACH: Errno = Errno(101);
/// Transport endpoint is already connected.
pub const EISCONN: Errno = Errno(106);
/// Operation already in progress.
pub const EALREADY: Errno = Errno(114);
/// Out of memory.
pub const ENOMEM: Errno = Errno(12);
/// Device or resource busy.
pub const EBUSY: Errno = Errno(16);
/// No buffer space available.
pub const ENOBUFS: Errno = Errno(105);
/// Try again.
pub const EAGAIN: Errno = Errno(11);
/// Bad address.
pub const EFAULT: Errno = Errno(14);
/// Protocol not available (an unknown socket option).
pub const ENOPROTOOPT: Errno = Errno(92);
/// No such device.
pub const ENODEV: Errno = Errno(19);
/// Address already in use.
pub const EADDRINUSE: Errno = Errno(98);
/// Cannot assign requested address.
pub const EADDRNOTAVAIL: Errno = Errno(99);
/// Operation not supported.
pub const EOPNOTSUPP: Errno = Errno(95);
/// No route to host.
pub const EHOSTUNREACH: Errno = Errno(113);
/// Network is down.
pub const ENETDOWN: Errno = Errno(100);
/// Interrupted system call.
pub const EINTR: Errno = Errno(4);
/// Operation now in progress.
pub const EINPROGRESS: Errno = Errno(115);
/// Permission denied.
pub const EACCES: Errno = Errno(13);
/// Operation not permitted.
pub const EPERM: Errno = Errno(1);
/// A signal interrupted a call the kernel restarts (`ERESTARTSYS`, never seen by
/// programs).
pub const ERESTARTSYS: Errno = Errno(512);
