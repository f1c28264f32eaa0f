// SPDX-License-Identifier: GPL-2.0

//! Socket families, where a socket call enters the module: SDP under AF_INET and
//! AF_INET6 (`inet`, the operations shared with AF_IB streams), hybrid streams for
//! programs that asked for TCP (`hybrid`) and the hook that makes them (`transparent`),
//! the AF_IB family (`af_ib`), and what an administrator reads of them in `/proc/net/infinisock/`
//! (`proc`) and over generic netlink (`netlink`).

pub(crate) mod af_ib;
pub(crate) mod hybrid;
pub(crate) mod inet;
pub(crate) mod netlink;
pub(crate) mod proc;
pub(crate) mod transparent;
