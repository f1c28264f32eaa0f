// SPDX-License-Identifier: GPL-2.0

//! What AF_IB sockets add to the SDP connection: reliable messages (`seqpacket`) and
//! one-sided RDMA through the socket API (`rdma`).

pub(crate) mod rdma;
pub(crate) mod seqpacket;
