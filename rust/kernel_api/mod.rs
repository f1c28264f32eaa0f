// SPDX-License-Identifier: GPL-2.0

//! The kernel's interfaces, wrapped: the only room where the module meets C. Nothing
//! here knows SDP or AF_IB; the protocol rooms above call these wrappers.
//!
//! Sockets and their protocol state (`sock`), namespaces and `/proc/net` (`net`),
//! sysctl tables (`sysctl`), wait queues (`wait`), work items (`work`), module-wide
//! locked statics (`global`), RDMA devices (`ib`), their verbs objects (`verbs`: PD,
//! CQs, DMA buffers, user memory regions), a connection's queue pair and everything
//! the device touches through it (`qp`), a device's shared receive queue (`srq`), the
//! CQs its queue pairs share (`shared_cq`) and their per-QP mailboxes (`mailbox`), the
//! queue pairs that give its surplus back (`srq_drain`), rdma_cm ids (`cm`), the
//! C structures the kernel keeps pointers to (`ffi_static`), rate-limited log lines
//! (`log`), the module's tracepoints (`trace`), per-CPU counters (`percpu`), its
//! generic netlink family (`genl`), `MSG_ZEROCOPY`'s notifications (`zc_notify`), errno conversion (`errno`), `KVec` as the protocol's lists (`list`) and the raw bindings
//! under all of them (`bindings`, with the C helpers in `c/`, one file per kernel
//! interface, declared in `rust/helpers.h`).
//!
//! Every `unsafe` of the module is here: each wrapper owns the lifetime rules of what
//! it wraps, so the rooms above are safe Rust.

pub(crate) mod bindings;
pub(crate) mod bpf;
pub(crate) mod cm;
pub(crate) mod diag;
pub(crate) mod errno;
pub(crate) mod ffi_static;
pub(crate) mod genl;
pub(crate) mod global;
pub(crate) mod ib;
pub(crate) mod inner;
pub(crate) mod list;
pub(crate) mod log;
pub(crate) mod mailbox;
pub(crate) mod net;
pub(crate) mod percpu;
pub(crate) mod qp;
pub(crate) mod shared_cq;
pub(crate) mod sock;
pub(crate) mod srq;
pub(crate) mod srq_drain;
pub(crate) mod sysctl;
pub(crate) mod trace;
pub(crate) mod verbs;
pub(crate) mod wait;
pub(crate) mod work;
pub(crate) mod zc_notify;
