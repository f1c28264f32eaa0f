// SPDX-License-Identifier: GPL-2.0

//! The SDP connection, which every stream and AF_IB message socket is: its state and
//! events (`endpoint`), connection management (`handshake`: bind, listen, connect,
//! accept, Hello), a hybrid stream's move to TCP (`fallback`), sending (`tx`), receiving (`rx`),
//! the READs of the peer's zero-copy adverts (`zcopy_rx`), our own adverts of a
//! blocking write's pages (`zcopy_tx`), closing (`close`), keepalive
//! (`keepalive`) and the `/proc` view (`diag`).

pub(crate) mod close;
pub(crate) mod diag;
pub(crate) mod endpoint;
pub(crate) mod fallback;
pub(crate) mod handshake;
pub(crate) mod keepalive;
pub(crate) mod rx;
pub(crate) mod tx;
pub(crate) mod zcopy_rx;
pub(crate) mod zcopy_tx;
