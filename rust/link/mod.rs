// SPDX-License-Identifier: GPL-2.0

//! A connection's link to its peer: the QP, CQs and registered rings (`link`), and the
//! module-wide account of ring memory they are charged to (`memory`).

pub(crate) mod devices;
pub(crate) mod link;
pub(crate) mod memory;
pub(crate) mod rdma;
