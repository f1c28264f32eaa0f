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
