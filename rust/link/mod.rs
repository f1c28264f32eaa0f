// SPDX-License-Identifier: GPL-2.0

//! A connection's link to its peer: its queue pair and the stream state indexing the
//! rings (`link`), its RDMA account and error queue (`rdma`), the module-wide account of
//! the buffer memory links hold (`memory`), the RDMA devices links are made on
//! (`devices`) and their shared receive queues (`recv_pools`), and the pages a
//! zero-copy source exposes to the peer (`zc_source`).

pub(crate) mod devices;
pub(crate) mod link;
pub(crate) mod memory;
pub(crate) mod rdma;
pub(crate) mod recv_pools;
pub(crate) mod zc_source;
