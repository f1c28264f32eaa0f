// SPDX-License-Identifier: GPL-2.0

//! Protocol logic that needs no kernel.
//!
//! Everything under `rust/proto/` is plain `core`-only Rust. The module compiles it as
//! `crate::proto`; `host/` compiles the same files as the `infinisock_proto` crate so that
//! `cargo test` (unit, property and fuzz tests) runs them in seconds, without a VM.

pub mod abi;
pub mod conn_state;
pub mod cq_room;
pub mod credits;
pub mod diag;
pub mod errno;
pub mod error_queue;
pub mod handshake;
pub mod hybrid;
pub mod ib_port;
pub mod keepalive;
pub mod list;
pub mod listen;
pub mod memory;
pub mod message;
pub mod policy;
pub mod proc_row;
pub mod qp_shape;
pub mod ratelimit;
pub mod receive;
pub mod recv_pool;
pub mod recv_window;
pub mod rdma;
pub mod rdma_ops;
pub mod regions;
pub mod ring;
pub mod send;
pub mod sockaddr;
pub mod socket_args;
pub mod stats;
pub mod stream;
pub mod stream_options;
pub mod transmit;
pub mod urgent;
pub mod tunables;
pub mod wire;
pub mod zc_gather;
pub mod zc_land;
pub mod zc_policy;
pub mod zc_sink;
pub mod zc_sinkavail;
pub mod zc_src;
pub mod zc_to_user;

/// Protocol number that selects SDP under `AF_INET`/`AF_INET6`
/// (`include/uapi/linux/infinisock.h`).
pub const IPPROTO_SDP: i32 = 258;

/// The InfiniBand socket family (`<linux/socket.h>`).
pub const AF_IB: i32 = 27;
