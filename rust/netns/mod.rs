// SPDX-License-Identifier: GPL-2.0

//! What every network namespace keeps for the module and every layer reads: the
//! `net.infinisock.*` tunables (`tunables`) and its hybrid streams' refusal cache and
//! path counters (`hybrid`).

pub(crate) mod hybrid;
pub(crate) mod tunables;
