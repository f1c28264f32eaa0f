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
