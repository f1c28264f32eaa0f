// SPDX-License-Identifier: GPL-2.0

//! What every network namespace keeps for the module and every layer reads: the
//! `net.infinisock.*` tunables (`tunables`).

pub(crate) mod tunables;
