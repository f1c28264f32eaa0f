// SPDX-License-Identifier: GPL-2.0

//! Raw bindings, generated at build time by `tools/gen-bindings.sh` from
//! `bindings_helper.h`, for the wrappers beside this file (`kernel_api/`).

#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    rustdoc::all
)]

use kernel::ffi;
use pin_init::MaybeZeroable;

type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

// Generated next to the crate root (Kbuild), one folder up.
include!("../bindings_generated.rs");

/// What the C side says a struct's size (`"name"`) or a field's offset
/// (`"struct.field"`) is, for the KUnit check that bindgen's layouts match;
/// `usize::MAX` for a name it does not know.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn c_layout(name: &kernel::str::CStr) -> usize {
    // SAFETY: `name` is NUL-terminated; the helper only compares strings.
    unsafe { infinisock_layout(name.as_ptr().cast()) }
}
