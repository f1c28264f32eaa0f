// SPDX-License-Identifier: GPL-2.0

//! Transparent SDP's entry: the transparent hook (`tools/transparent/`, a BPF program on
//! `socket()`) asks the module which protocol each new socket gets, and the namespace's
//! `net.infinisock.sdp_transparent` answers: TCP streams become hybrid streams
//! (`hybrid`) while it is on (`proto::hybrid::socket_protocol`).

use kernel::prelude::*;

use crate::{
    kernel_api::{bpf, net::Net},
    netns::tunables as netns,
    proto::{hybrid::socket_protocol, tunables::TunableId},
};

/// Answers the transparent hook's kfunc.
pub(crate) struct Transparent;

impl bpf::ProtocolChooser for Transparent {
    fn choose(net: &Net, family: i32, sock_type: i32, protocol: i32) -> i32 {
        // `sdp_enable=0` takes SDP away from the namespace, transparent SDP with it.
        if netns::tunable(net, TunableId::SdpEnable) == 0 {
            return protocol;
        }
        socket_protocol(netns::transparent_mode(net), family, sock_type, protocol)
    }
}

/// Offers the kfunc to BPF programs. Without BTF for modules the kernel cannot, and
/// transparent mode is not available (explicit protocols still are).
pub(crate) fn register() -> Result {
    bpf::register_protocol_chooser::<Transparent>()
}
