// SPDX-License-Identifier: GPL-2.0

//! What every network namespace keeps for the module and every layer reads: the
//! `net.infinisock.*` tunables (`tunables`), its hybrid streams' refusal cache and
//! path counters (`hybrid`), and its SDP and AF_IB counters (`stats`).

pub(crate) mod hybrid;
pub(crate) mod stats;
pub(crate) mod tunables;
