// SPDX-License-Identifier: GPL-2.0

//! The kernel-free code's errno values (`proto::errno`) as the kernel crate's `Error`.

use kernel::prelude::*;

use crate::proto::errno::Errno;

impl Errno {
    /// The same errno as a `kernel::error::Error`.
    pub(crate) fn into_error(self) -> Error {
        Error::from_errno(self.to_kernel())
    }
}

/// For the protocol's functions that return their callback's error type.
impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        e.into_error()
    }
}

/// For the protocol's functions that take a kernel call's failure.
impl From<Error> for Errno {
    fn from(e: Error) -> Self {
        Errno(-e.to_errno())
    }
}
