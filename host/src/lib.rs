// SPDX-License-Identifier: GPL-2.0

//! The module's kernel-free code (`rust/proto/`), compiled for the host so that it can be
//! unit-, property- and fuzz-tested without a kernel.

#![no_std]

#[path = "../../rust/proto/mod.rs"]
mod proto;

pub use proto::*;
