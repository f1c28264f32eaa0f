// SPDX-License-Identifier: GPL-2.0

//! Closing a socket: what `release` does for every kind of socket the module offers.

use kernel::sync::aref::ARef;

use crate::sock::{Sock, SocketOps, Socket};

/// Tears down the protocol side of a socket whose file was closed. No connection state
/// exists yet, so this marks the sock dead and drops the socket's reference to it.
pub(crate) fn release(sk: ARef<Sock>) {
    sk.orphan();
}

/// Operations of a socket kind in family `FAMILY` whose data path is not there yet:
/// everything but `release` answers `EOPNOTSUPP`.
pub(crate) struct UnconnectedOps<const FAMILY: i32>;

impl<const FAMILY: i32> SocketOps for UnconnectedOps<FAMILY> {
    const FAMILY: i32 = FAMILY;

    fn release(_sock: &Socket, sk: ARef<Sock>) {
        release(sk);
    }
}
