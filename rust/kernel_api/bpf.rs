// SPDX-License-Identifier: GPL-2.0

//! The transparent hook's kfunc (`c/bpf.c`): a BPF program on `socket()` asks the
//! module which protocol a new socket gets; the module answers through a
//! [`ProtocolChooser`].

use kernel::{error::to_result, prelude::*};

use crate::kernel_api::{bindings, net::Net};

/// Decides the protocol of a `socket(family, sock_type, protocol)` call in `net`.
pub(crate) trait ProtocolChooser {
    /// The protocol to create the socket with (`protocol` to leave it alone).
    fn choose(net: &Net, family: i32, sock_type: i32, protocol: i32) -> i32;
}

unsafe extern "C" fn choose_trampoline<C: ProtocolChooser>(
    net: *mut bindings::net,
    family: kernel::ffi::c_int,
    sock_type: kernel::ffi::c_int,
    protocol: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: The kfunc passes the calling task's network namespace, which the task
    // holds for the duration of its `socket()` call.
    C::choose(unsafe { Net::from_raw(net) }, family, sock_type, protocol)
}

/// Registers the kfunc `infinisock_socket_protocol` for BPF tracing programs, answered
/// by `C`. The kernel keeps the registration until the module is unloaded, which a
/// loaded program that calls the kfunc prevents.
pub(crate) fn register_protocol_chooser<C: ProtocolChooser>() -> Result {
    // SAFETY: `choose_trampoline::<C>` is module code, callable until the module's BTF
    // (and with it the kfunc) goes away at unload.
    to_result(unsafe { bindings::infinisock_register_protocol_chooser(Some(choose_trampoline::<C>)) })
}
