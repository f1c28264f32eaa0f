// SPDX-License-Identifier: GPL-2.0

//! How ib_core's port attributes read to an administrator.

/// `enum ib_port_state` as `ibv_devinfo` names it.
pub fn port_state_name(state: u32) -> &'static str {
    match state {
        0 => "NOP",
        1 => "DOWN",
        2 => "INIT",
        3 => "ARMED",
        4 => "ACTIVE",
        5 => "ACTIVE_DEFER",
        _ => "UNKNOWN",
    }
}

/// Bytes of an `enum ib_mtu` value (`IB_MTU_256` = 1 ... `IB_MTU_4096` = 5), 0 if invalid.
pub fn mtu_bytes(mtu: u32) -> u32 {
    match mtu {
        1..=5 => 128 << mtu,
        _ => 0,
    }
}

/// `enum rdma_link_layer` as a word.
pub fn link_layer_name(link_layer: u32) -> &'static str {
    match link_layer {
        1 => "InfiniBand",
        2 => "Ethernet",
        _ => "unspecified",
    }
}
