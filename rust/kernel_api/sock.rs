// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over `struct socket` and `struct sock`, and the registrations that hand
//! the kernel our socket family (`sock_register`), our `struct proto`s
//! (`proto_register`) and our protocol under AF_INET/AF_INET6 (`inet_register_protosw`).
//!
//! Protocol code implements [`SocketFamily`], [`SocketOps`] and [`SockProto`]; the
//! `extern "C"` trampolines here turn the kernel's raw pointers into the wrapper types.

use core::{
    any::TypeId,
    ops::ControlFlow,
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};

use kernel::{
    error::{from_result, to_result},
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

use kernel::{
    sync::{Arc, ArcBorrow},
    types::ForeignOwnable,
};

use crate::{
    kernel_api::{bindings, ffi_static::{FfiStatic, KernelTable}, net::Net},
    proto::sockaddr::{SockAddr, SOCKADDR_MAX_LEN},
};

/// A `struct socket`: the file-side half of a socket.
///
/// # Invariants
///
/// The wrapped `struct socket` is valid for the lifetime of the reference: the socket
/// layer guarantees that for the duration of a `proto_ops` or `create` callback.
#[repr(transparent)]
pub(crate) struct Socket(Opaque<bindings::socket>);

impl Socket {
    /// # Safety
    ///
    /// `ptr` is a valid `struct socket` for the lifetime `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::socket) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::socket {
        self.0.get()
    }

    /// The socket type (`SOCK_STREAM`, ...), without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
    pub(crate) fn sock_type(&self) -> i32 {
        // SAFETY: The socket is valid (type invariant); `type` is set before `create`.
        unsafe { bindings::infinisock_socket_type(self.as_raw()) }
    }

    /// Attaches a newly allocated `sk` and the operations table, as a family's `create`
    /// does. The socket takes over the reference held by `sk`; `release` drops it.
    pub(crate) fn attach(&self, sk: ARef<Sock>, ops: &'static OpsTable) {
        let sk = ARef::into_raw(sk).as_ptr().cast::<bindings::sock>();
        // SAFETY: The socket is valid and has no `sk` yet (`create` is running); `sk` is a
        // valid, newly allocated sock whose reference is handed to the socket here.
        unsafe {
            bindings::infinisock_socket_set_ops(self.as_raw(), ops.0.get());
            bindings::sock_init_data(self.as_raw(), sk);
        }
    }

    /// The socket's sock, borrowed for the duration of a `proto_ops` call.
    pub(crate) fn sk(&self) -> Option<&Sock> {
        // SAFETY: The socket is valid; its `sk` stays set until `release`.
        let sk = unsafe { bindings::infinisock_socket_sk(self.as_raw()) };
        // SAFETY: A non-null `sk` of one of our sockets is one of our socks, alive while
        // the socket holds it.
        (!sk.is_null()).then(|| unsafe { Sock::from_raw(sk) })
    }

    /// Attaches an accepted connection's sock (`sock_graft`) and marks the socket
    /// connected. The socket takes over the reference held by `sk`.
    pub(crate) fn graft(&self, sk: ARef<Sock>) {
        let sk = ARef::into_raw(sk).as_ptr().cast::<bindings::sock>();
        // SAFETY: `accept` runs on a new socket without an `sk`; `sk` is a valid sock set
        // up by `Sock::init_child`, whose reference the socket now owns.
        unsafe {
            bindings::infinisock_sock_graft(sk, self.as_raw());
            bindings::infinisock_socket_set_state(self.as_raw(), bindings::socket_state_SS_CONNECTED as i32);
        }
    }

    /// Records the socket-level state (`SS_CONNECTED`, ...) the socket layer reports.
    pub(crate) fn set_connected(&self, connected: bool) {
        let state = if connected { bindings::socket_state_SS_CONNECTED } else { bindings::socket_state_SS_UNCONNECTED };
        // SAFETY: The socket is valid; `state` is a plain field.
        unsafe { bindings::infinisock_socket_set_state(self.as_raw(), state as i32) };
    }

    /// Detaches the `sk` from the socket in `release` (or in a `create` that fails
    /// after attaching it) and returns the socket's reference to it, or `None` if it
    /// has none.
    pub(crate) fn detach(&self) -> Option<ARef<Sock>> {
        // SAFETY: The socket is valid; `release` is its last operation (a failing
        // `create` its first), so nobody else reads `sk` concurrently.
        let sk = unsafe { bindings::infinisock_socket_take_sk(self.as_raw()) };
        // SAFETY: The socket owned one reference to `sk` (see `attach`, and `inet_create`
        // which does the same); it is transferred to the returned `ARef`.
        NonNull::new(sk).map(|sk| unsafe { ARef::from_raw(sk.cast::<Sock>()) })
    }
}

/// A `struct sock`: the protocol-side half of a socket, reference-counted.
///
/// # Invariants
///
/// The wrapped `struct sock` is valid while a reference to it is held, and it was
/// allocated with one of our `struct proto`s, so it is a `struct infinisock_sock`.
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

// SAFETY: `sock_hold`/`sock_put` manage the refcount from any context, and the last
// `sock_put` frees the sock.
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: The sock is valid (type invariant).
        unsafe { bindings::infinisock_sock_hold(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one reference.
        unsafe { bindings::infinisock_sock_put(obj.as_ptr().cast()) };
    }
}

// SAFETY: A sock may be used and released from any thread; its own lock serialises it.
unsafe impl Send for Sock {}
// SAFETY: See above.
unsafe impl Sync for Sock {}

/// While alive, the current task's `__GFP_ACCOUNT` allocations charge the memory
/// cgroup of a sock's creator (see [`Sock::charge_to_creator`]). Not `Send`: it
/// belongs to the task that made it.
pub(crate) struct MemcgScope(*mut bindings::mem_cgroup);

impl Drop for MemcgScope {
    fn drop(&mut self) {
        // SAFETY: Restores what `infinisock_memcg_enter` returned, on the same task.
        unsafe { bindings::infinisock_memcg_leave(self.0) };
    }
}

/// What [`Sock::charge_rmem`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemCharge {
    Charged,
    /// Not charged: more pages than a charge takes, or the cgroup refused.
    Refused,
    /// The sock has no memory cgroup to charge: it was made in the root cgroup, or
    /// socket memory is not accounted (cgroup v1 without its TCP limit,
    /// `cgroup.memory=nosocket`).
    NoCgroup,
}

impl Sock {
    /// Charges the sock's memory cgroup for `pages` pages of received data the
    /// connection holds, as TCP charges its receive queue (memory.stat `sock`):
    /// without reclaim, past the cgroup's limit if need be, since the data is here;
    /// [`Sock::rmem_pressure`] says when to hold back. The caller serializes the
    /// charges of one sock and gives back with [`Sock::uncharge_rmem`] exactly what it
    /// charged.
    pub(crate) fn charge_rmem(&self, pages: usize) -> MemCharge {
        let Ok(pages) = i32::try_from(pages) else { return MemCharge::Refused };
        // SAFETY: The sock is valid (type invariant); its sk_bypass_prot_mem is set
        // (`Sock::alloc`, `init_trampoline`), so no protocol-wide counter is touched.
        match unsafe { bindings::infinisock_sk_charge_rmem(self.as_raw(), pages) } {
            0 => MemCharge::Charged,
            e if e == ENOENT.to_errno() => MemCharge::NoCgroup,
            _ => MemCharge::Refused,
        }
    }

    /// Gives back `pages` pages charged by [`Sock::charge_rmem`].
    pub(crate) fn uncharge_rmem(&self, pages: usize) {
        let Ok(pages) = i32::try_from(pages) else { return };
        // SAFETY: The sock is valid; the caller charged these pages (and holds the lock
        // that serializes its charges).
        unsafe { bindings::infinisock_sk_uncharge_rmem(self.as_raw(), pages) };
    }

    /// Whether the sock's memory cgroup is under socket memory pressure: its reclaim
    /// struggles, and TCP keeps its windows small meanwhile.
    pub(crate) fn rmem_pressure(&self) -> bool {
        // SAFETY: The sock is valid (type invariant).
        unsafe { bindings::infinisock_sk_rmem_pressure(self.as_raw()) }
    }

    /// Charges the current task's accounted allocations to the memory cgroup of the
    /// task that created the sock, until the returned scope ends: connections are
    /// set up in rdma_cm's worker, not in the program.
    pub(crate) fn charge_to_creator(&self) -> MemcgScope {
        // SAFETY: The sock is valid (type invariant) and holds its cgroup for its life,
        // which covers the scope (it borrows nothing, but the caller holds the sock).
        MemcgScope(unsafe { bindings::infinisock_memcg_enter(self.as_raw()) })
    }

    /// # Safety
    ///
    /// `ptr` is a valid sock allocated with one of our `struct proto`s, for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Allocates a sock of `proto` in `net` (`sk_alloc`); `kern` marks a kernel socket.
    pub(crate) fn alloc(net: &Net, family: i32, proto: &'static ProtoTable, kern: bool) -> Result<ARef<Self>> {
        // SAFETY: `net` is a live namespace; `proto` is registered for as long as a sock of
        // it exists (the module cannot go away while a sock holds its `owner` reference).
        let sk = unsafe {
            bindings::sk_alloc(net.as_raw(), family, bindings::GFP_KERNEL, proto.proto.get(), i32::from(kern))
        };
        let sk = NonNull::new(sk).ok_or(ENOBUFS)?;
        // SAFETY: `sk_alloc` returned a sock nobody else sees yet.
        unsafe { bindings::infinisock_sk_init_memory(sk.as_ptr()) };
        // SAFETY: `sk_alloc` returned a sock with one reference, now owned by the `ARef`.
        Ok(unsafe { ARef::from_raw(sk.cast()) })
    }

    /// The network namespace the sock lives in.
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: The sock is valid and holds a reference to its namespace.
        unsafe { Net::from_raw(bindings::infinisock_sock_net(self.as_raw())) }
    }

    /// Records the protocol number `getsockopt(SO_PROTOCOL)` reports.
    pub(crate) fn set_protocol(&self, protocol: u16) {
        // SAFETY: The sock is valid and not yet visible to anyone but its creator.
        unsafe { bindings::infinisock_sk_set_protocol(self.as_raw(), protocol) };
    }

    /// The protocol number `getsockopt(SO_PROTOCOL)` reports (`inet_create` sets it,
    /// an incoming connection's sock has its listener's).
    pub(crate) fn protocol(&self) -> i32 {
        // SAFETY: The sock is valid; the protocol is set before anyone else sees it.
        i32::from(unsafe { bindings::infinisock_sk_protocol(self.as_raw()) })
    }

    /// The socket type (`SOCK_STREAM`, `SOCK_SEQPACKET`).
    pub(crate) fn sock_type(&self) -> i32 {
        // SAFETY: The sock is valid; the type never changes after `sock_init_data()`.
        unsafe { bindings::infinisock_sk_type(self.as_raw()) }
    }

    /// `IPV6_V6ONLY`: an `AF_INET6` sock takes IPv6 peers only (initially the
    /// namespace's `net.ipv6.bindv6only`, as `inet6_create` sets it).
    pub(crate) fn ipv6only(&self) -> bool {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_ipv6only(self.as_raw()) }
    }

    /// Sets `IPV6_V6ONLY`, under the sock's lock (the caller holds no lock of its own:
    /// the sock's is taken before the endpoint's); the caller checked it is not bound.
    pub(crate) fn set_ipv6only(&self, only: bool) {
        // SAFETY: The sock is valid; the helper takes its lock, which the caller does not
        // hold.
        unsafe { bindings::infinisock_sk_set_ipv6only(self.as_raw(), only) }
    }

    /// The address family of the sock.
    pub(crate) fn family(&self) -> u16 {
        // SAFETY: The sock is valid; the family never changes.
        unsafe { bindings::infinisock_sk_family(self.as_raw()) }
    }

    /// Sends the `SOL_SOCKET` options of the socket being created over an SDP stream
    /// to the protocol's `setsockopt` (`SOCK_CUSTOM_SOCKOPT`), which keeps
    /// `SO_ZEROCOPY`: the socket layer grants it to TCP, UDP and RDS only.
    pub(crate) fn own_sol_socket_options(&self) {
        // SAFETY: The sock is valid; its socket, if it has one, is being created.
        unsafe { bindings::infinisock_sk_own_sol_socket(self.as_raw()) };
    }

    /// A sock for an incoming connection on the listener `self`: of its protocol,
    /// in its namespace, set up like it.
    pub(crate) fn alloc_child(&self) -> Result<ARef<Self>> {
        let sk = Self::alloc(self.net(), i32::from(self.family()), self.table(), false)?;
        sk.init_child(self);
        Ok(sk)
    }

    /// Sets up a sock allocated for an incoming connection like its listener's.
    fn init_child(&self, parent: &Sock) {
        // SAFETY: `self` is newly allocated and not yet visible; `parent` is valid.
        unsafe { bindings::infinisock_sk_init_child(self.as_raw(), parent.as_raw()) };
    }

    /// The protocol's state pointer in `struct infinisock_sock`.
    fn state_slot(&self) -> *mut *mut core::ffi::c_void {
        // SAFETY: The sock is an `infinisock_sock` (type invariant).
        unsafe { bindings::infinisock_sk_state(self.as_raw()) }
    }

    /// The table the sock was allocated from.
    fn table(&self) -> &'static ProtoTable {
        // SAFETY: The sock is one of ours (type invariant), so its `sk_prot` is the
        // `struct proto` inside one of our `ProtoTable` statics, its first field
        // (`repr(C)`, and `FfiStatic` is `repr(C)` with the value first).
        unsafe { &*bindings::infinisock_sk_prot(self.as_raw()).cast::<ProtoTable>() }
    }

    /// Whether the sock's state is a `T`: the type its table's protocol keeps
    /// ([`SockProto::State`]).
    fn holds<T: 'static>(&self) -> bool {
        (self.table().state_type)() == TypeId::of::<T>()
    }

    /// The sock as [`STATEFUL`] holds it.
    fn listed_ptr(&self) -> NonNull<bindings::sock> {
        NonNull::from(&self.0).cast()
    }

    /// Installs the protocol state, of its protocol's [`SockProto::State`] type (else
    /// `EINVAL`), and lists the sock in [`for_each_state`]'s list. Only while no other
    /// thread can see the sock's state: from `init`, or for an incoming connection
    /// before it is queued.
    pub(crate) fn set_state<T: Send + Sync + 'static>(&self, state: Arc<T>) -> Result {
        if !self.holds::<T>() {
            return Err(EINVAL);
        }
        let mut listed = STATEFUL.lock();
        listed.reserve(1, GFP_KERNEL)?;
        let slot = self.state_slot();
        // SAFETY: The slot is ours to write (see above); an old value would leak, so
        // there must be none.
        unsafe {
            debug_assert!((*slot).is_null());
            *slot = state.into_foreign();
        }
        // Capacity was reserved above. Numbered under the lock, so the list stays in
        // `seq` order (`take_state` keeps the order of the others).
        let seq = NEXT_STATEFUL_SEQ.fetch_add(1, Ordering::Relaxed);
        let _ = listed.push_within_capacity(StatefulSock { sk: self.listed_ptr(), seq });
        Ok(())
    }

    /// The protocol state, borrowed while the socket keeps it installed: from a socket
    /// operation (the state is removed only after `release`, by the orphaned
    /// endpoint's teardown) or by a holder of a passive connection not yet accepted.
    /// `None` if there is none, or if it is not a `T`.
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<ArcBorrow<'_, T>> {
        if !self.holds::<T>() {
            return None;
        }
        // Only `set_state::<T>` fills the slot, for this `T`; only `take_state` empties
        // it, when no operation is using the sock any more (this method's contract),
        // and not while `for_each_state` holds the list's lock.
        // SAFETY: The slot holds null or a pointer from `Arc::<T>::into_foreign`, whose
        // value stays installed while the borrow lives (above).
        unsafe {
            let p = *self.state_slot();
            (!p.is_null()).then(|| <Arc<T> as ForeignOwnable>::borrow(p))
        }
    }

    /// Removes the protocol state: in `release` (no operation of the socket can run
    /// any more), or for an incoming connection nobody accepted.
    pub(crate) fn take_state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        if !self.holds::<T>() {
            return None;
        }
        let me = self.listed_ptr();
        // Unlisted first, under the list's lock: a reader of the list never sees a
        // listed sock without its state.
        let mut listed = STATEFUL.lock();
        listed.retain(|s| s.sk != me);
        let slot = self.state_slot();
        // SAFETY: As in `state`; the pointer is replaced by null so it is taken once.
        unsafe {
            let p = core::mem::replace(&mut *slot, core::ptr::null_mut());
            (!p.is_null()).then(|| <Arc<T> as ForeignOwnable>::from_foreign(p))
        }
    }

    /// Wakes `poll`/`epoll` waiters of the socket with the event bits in `mask`.
    pub(crate) fn wake(&self, mask: u32) {
        // SAFETY: The sock is valid; the helper reads `sk_wq` under RCU.
        unsafe { bindings::infinisock_sk_wake(self.as_raw(), mask) };
    }

    /// Sends `SIGIO` for `mask` to an `O_ASYNC` owner, without waking pollers (a
    /// receive event already did).
    pub(crate) fn sigio(&self, mask: u32) {
        // SAFETY: The sock is valid; the helper reads `sk_wq` under RCU.
        unsafe { bindings::infinisock_sk_sigio(self.as_raw(), mask) };
    }

    /// Wakes `poll`/`epoll` waiters for `mask`, without `SIGIO`; callable in any
    /// atomic context.
    pub(crate) fn wake_pollers(&self, mask: u32) {
        // SAFETY: The sock is valid; the helper reads `sk_wq` under RCU.
        unsafe { bindings::infinisock_sk_wake_pollers(self.as_raw(), mask) };
    }

    /// Records an asynchronous error (positive errno) for `SO_ERROR` and the next call.
    pub(crate) fn set_err(&self, errno: i32) {
        // SAFETY: The sock is valid; `sk_err` is written with WRITE_ONCE.
        unsafe { bindings::infinisock_sk_set_err(self.as_raw(), errno) };
    }

    /// Takes the pending error (`sock_error`): a negative errno, or 0.
    pub(crate) fn take_err(&self) -> i32 {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_take_err(self.as_raw()) }
    }

    /// The pending error without clearing it (positive errno, or 0).
    pub(crate) fn peek_err(&self) -> i32 {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_peek_err(self.as_raw()) }
    }

    /// The receive timeout in jiffies (`SO_RCVTIMEO`; 0 for a non-blocking call).
    pub(crate) fn rcvtimeo(&self, nonblock: bool) -> i64 {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_rcvtimeo(self.as_raw(), nonblock) as i64 }
    }

    /// How long a blocked reader busy-polls before sleeping, in µs (`SO_BUSY_POLL`,
    /// by default `net.core.busy_read`).
    pub(crate) fn busy_poll_usec(&self) -> u32 {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_busy_poll_usec(self.as_raw()) }
    }

    /// The send timeout in jiffies (`SO_SNDTIMEO`; 0 for a non-blocking call).
    pub(crate) fn sndtimeo(&self, nonblock: bool) -> i64 {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_sndtimeo(self.as_raw(), nonblock) as i64 }
    }

    /// `SO_RCVLOWAT`, or `len` for `MSG_WAITALL`: bytes a blocking read waits for.
    pub(crate) fn rcvlowat(&self, waitall: bool, len: usize) -> usize {
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        // SAFETY: The sock is valid.
        let v = unsafe { bindings::infinisock_sk_rcvlowat(self.as_raw(), i32::from(waitall), len) };
        usize::try_from(v).unwrap_or(1)
    }

    /// `SO_LINGER`: the linger time in jiffies if it is on.
    pub(crate) fn linger(&self) -> Option<i64> {
        let mut t = 0;
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_linger(self.as_raw(), &mut t) }.then_some(t as i64)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub(crate) fn keepalive(&self) -> bool {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_keepalive(self.as_raw()) }
    }

    /// Whether `SO_OOBINLINE` is set: urgent data stays in the stream.
    pub(crate) fn urginline(&self) -> bool {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_urginline(self.as_raw()) }
    }

    /// Tells the socket's owner urgent data arrived: `SIGURG` (and `POLLPRI` to an
    /// `O_ASYNC` owner).
    pub(crate) fn send_sigurg(&self) {
        // SAFETY: The sock is valid; the helper reads `sk_socket` and its file, which
        // live as long as the sock is grafted, under the caller's endpoint lock.
        unsafe { bindings::infinisock_sk_send_sigurg(self.as_raw()) };
    }

    /// Whether `SO_REUSEADDR` is set.
    pub(crate) fn reuse(&self) -> bool {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_reuse(self.as_raw()) }
    }

    /// `SO_RCVBUF` and `SO_SNDBUF` in bytes as the program set them; `None` for each
    /// one it did not set.
    pub(crate) fn user_bufs(&self) -> (Option<usize>, Option<usize>) {
        let (mut r, mut s) = (0, 0);
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_user_bufs(self.as_raw(), &mut r, &mut s) };
        let some = |v: i32| usize::try_from(v).ok().filter(|v| *v > 0);
        (some(r), some(s))
    }

    /// Sets `sk_state` to a TCP state, which `ss`/diagnostics and `SO_ERROR` paths read.
    pub(crate) fn set_tcp_state(&self, state: u32) {
        // SAFETY: The sock is valid.
        unsafe { bindings::infinisock_sk_set_state(self.as_raw(), state as i32) };
    }

    /// Writes the connection's addresses (`None`: unspecified, port 0) and `shutdown`
    /// state where TCP keeps them, for socket diagnostics to read without our lock.
    pub(crate) fn publish(&self, local: Option<SockAddr>, peer: Option<SockAddr>, shutdown: u8) {
        let form = SockAddr::mapped_v6_or_unspecified;
        let ((local, lport), (peer, pport)) = (form(local), form(peer));
        // SAFETY: The sock is valid; the addresses are 16 bytes each.
        unsafe {
            bindings::infinisock_sk_publish(self.as_raw(), local.as_ptr(), lport, peer.as_ptr(), pport, shutdown)
        };
    }

    /// Marks the sock as no longer attached to a file (`sock_orphan`), under its lock.
    pub(crate) fn orphan(&self) {
        // SAFETY: The sock is valid; `lock_sock`/`release_sock` pair up here.
        unsafe {
            bindings::infinisock_lock_sock(self.as_raw());
            bindings::infinisock_sock_orphan(self.as_raw());
            bindings::release_sock(self.as_raw());
        }
    }
}

/// A socket family: the `create` callback of a `struct net_proto_family`.
pub(crate) trait SocketFamily {
    /// The family number (`AF_*`).
    const FAMILY: i32;

    /// Creates the protocol side of `sock` for `socket(FAMILY, type, protocol)`.
    fn create(net: &Net, sock: &Socket, protocol: i32, kern: bool) -> Result;
}

/// Operations of one kind of socket: the parts of a `struct proto_ops` implemented in
/// Rust. Everything else answers `EOPNOTSUPP` through the kernel's `sock_no_*`.
pub(crate) trait SocketOps {
    /// The family number the table belongs to.
    const FAMILY: i32;

    /// Called on the last close of the socket's file.
    fn release(sock: &Socket, sk: ARef<Sock>);
}

/// A `struct msghdr` passed to `sendmsg`/`recvmsg`.
///
/// # Invariants
///
/// Valid for the duration of the call.
pub(crate) struct Msg(NonNull<bindings::msghdr>);

impl Msg {
    /// The flags of a `sendmsg` call (`MSG_*`).
    pub(crate) fn flags(&self) -> i32 {
        // SAFETY: Valid msghdr (type invariant).
        unsafe { bindings::infinisock_msg_flags(self.0.as_ptr()) }
    }

    /// Reports `flags` (`MSG_TRUNC`) to the caller of `recvmsg` in `msg_flags`.
    pub(crate) fn add_flags(&mut self, flags: i32) {
        // SAFETY: Valid msghdr (type invariant); `msg_flags` is the call's output.
        unsafe { bindings::infinisock_msg_add_flags(self.0.as_ptr(), flags) }
    }

    /// The control messages of a `sendmsg` (in kernel memory): level, type and data
    /// of each; an `Err(EINVAL)` item for a malformed one ends them.
    pub(crate) fn cmsgs(&mut self) -> Cmsgs<'_> {
        Cmsgs { msg: self, cursor: core::ptr::null_mut(), done: false }
    }

    /// Whether a control message with `len` bytes of data fits in what is left of a
    /// `recvmsg`'s control buffer (`CMSG_SPACE(len)`).
    pub(crate) fn control_fits(&self, len: usize) -> bool {
        // `CMSG_SPACE`: the 16-byte header and the data, each padded to 8 bytes.
        let space = 16 + len.div_ceil(8) * 8;
        // SAFETY: Valid msghdr (type invariant).
        unsafe { bindings::infinisock_msg_control_room(self.0.as_ptr()) >= space }
    }

    /// Appends a control message to a `recvmsg`'s control buffer (`put_cmsg`);
    /// `EFAULT` when its page is missing (as [`Msg::copy_in`]).
    pub(crate) fn put_cmsg(&mut self, level: i32, kind: i32, data: &[u8]) -> Result {
        let len = i32::try_from(data.len())?;
        // SAFETY: Valid msghdr (type invariant); `data` is `len` readable bytes.
        to_result(unsafe { bindings::infinisock_put_cmsg(self.0.as_ptr(), level, kind, len, data.as_ptr().cast()) })
    }

    /// The pages the first `len` bytes of the message's data span.
    pub(crate) fn pages(&mut self, len: usize) -> u32 {
        // SAFETY: Valid msghdr (type invariant); the iterator is only read.
        unsafe { bindings::infinisock_iter_pages(bindings::infinisock_msg_iter(self.0.as_ptr()), len) }
    }

    /// The start of the first `len` bytes of the message's data if they are one
    /// contiguous range of user memory.
    pub(crate) fn user_span(&mut self, len: usize) -> Option<u64> {
        let mut addr = 0;
        // SAFETY: Valid msghdr (type invariant); the iterator is only read.
        unsafe { bindings::infinisock_iter_user_span(bindings::infinisock_msg_iter(self.0.as_ptr()), len, &mut addr) }
            .then_some(addr)
    }

    /// The message's `iov_iter`, for pinning its pages (see `verbs::PinnedBuf`).
    pub(crate) fn iter_raw(&mut self) -> *mut bindings::iov_iter {
        // SAFETY: Valid msghdr (type invariant).
        unsafe { bindings::infinisock_msg_iter(self.0.as_ptr()) }
    }

    /// Copies the data to send into `buf`, as much as is there without a page fault:
    /// less than `buf.len()` when the data ends or a page is missing (then
    /// [`Msg::fault_in`], without the endpoint's lock). No copy waits for a fault
    /// userspace controls (userfaultfd, FUSE) with that lock held.
    pub(crate) fn copy_in(&mut self, buf: &mut [u8]) -> usize {
        // SAFETY: Valid msghdr (type invariant); `buf` is writable for its length.
        unsafe { bindings::infinisock_msg_copy_in(self.0.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), false) }
    }

    /// [`Msg::copy_in`] of all of `buf` or nothing.
    pub(crate) fn copy_in_all(&mut self, buf: &mut [u8]) -> bool {
        let len = buf.len();
        // SAFETY: As in `copy_in`.
        let copied = unsafe { bindings::infinisock_msg_copy_in(self.0.as_ptr(), buf.as_mut_ptr().cast(), len, true) };
        copied == len
    }

    /// Copies received `data` out to the program, as [`Msg::copy_in`] copies in.
    pub(crate) fn copy_out(&mut self, data: &[u8]) -> usize {
        // SAFETY: Valid msghdr (type invariant); `data` is readable for its length.
        unsafe { bindings::infinisock_msg_copy_out(self.0.as_ptr(), data.as_ptr().cast(), data.len(), false) }
    }

    /// [`Msg::copy_out`] of all of `data` or nothing.
    pub(crate) fn copy_out_all(&mut self, data: &[u8]) -> bool {
        // SAFETY: As in `copy_out`.
        let copied = unsafe { bindings::infinisock_msg_copy_out(self.0.as_ptr(), data.as_ptr().cast(), data.len(), true) };
        copied == data.len()
    }

    /// Faults in the first pages of the next `len` bytes of data (`written`: for
    /// receiving into them), after a partial copy ([`Msg::copy_in`], [`Msg::copy_out`])
    /// stopped at a missing one, as long as that takes: only without the endpoint's
    /// lock. `EFAULT`: the memory is not there; `EINTR`: a fatal signal.
    pub(crate) fn fault_in(&mut self, len: usize, written: bool) -> Result {
        // SAFETY: Valid msghdr (type invariant).
        to_result(unsafe { bindings::infinisock_msg_fault_in(self.0.as_ptr(), len, written, false) })
    }

    /// [`Msg::fault_in`] of every page of the `len` bytes, for the all-or-nothing
    /// copies ([`Msg::copy_in_all`], [`Msg::copy_out_all`]).
    pub(crate) fn fault_in_all(&mut self, len: usize, written: bool) -> Result {
        // SAFETY: Valid msghdr (type invariant).
        to_result(unsafe { bindings::infinisock_msg_fault_in(self.0.as_ptr(), len, written, true) })
    }

    /// Faults in room for a control message of `len` data bytes in a `recvmsg`'s
    /// control buffer, after [`Msg::put_cmsg`] found its page missing (as
    /// [`Msg::fault_in`]).
    pub(crate) fn fault_in_control(&mut self, len: usize) -> Result {
        // SAFETY: Valid msghdr (type invariant).
        to_result(unsafe { bindings::infinisock_msg_fault_in_control(self.0.as_ptr(), len) })
    }

    /// What one zero-copy advert may cover from here, and where its first byte sits
    /// in its page: the rest of the current segment of a user iovec, or the run of a
    /// `sendfile()`'s or `splice()`'s pages that makes one region; 0 for other data.
    pub(crate) fn zc_segment(&self) -> (usize, usize) {
        let mut offset = 0;
        // SAFETY: Valid msghdr (type invariant); only read.
        let len = unsafe { bindings::infinisock_msg_zc_segment(self.0.as_ptr(), &mut offset) };
        (len, offset)
    }

    /// Steps over the next `len` bytes of data, which went without a copy (at most
    /// what is left).
    pub(crate) fn advance(&mut self, len: usize) {
        // SAFETY: Valid msghdr (type invariant).
        unsafe { bindings::infinisock_msg_advance(self.0.as_ptr(), len) }
    }

    /// Steps back over the last `len` bytes stepped over (at most those).
    pub(crate) fn revert(&mut self, len: usize) {
        // SAFETY: Valid msghdr (type invariant).
        unsafe { bindings::infinisock_msg_revert(self.0.as_ptr(), len) }
    }

    /// Pins the pages of the next `len` bytes once and lets them go (`device_writes`:
    /// for an RDMA READ into them), so that pinning them with faults disabled
    /// (`PinnedBuf::pin`) then finds them in place; as [`Msg::fault_in`], only without
    /// the endpoint's lock.
    pub(crate) fn prepin(&mut self, len: usize, device_writes: bool) -> Result {
        // SAFETY: Valid msghdr (type invariant).
        to_result(unsafe { bindings::infinisock_msg_prepin(self.0.as_ptr(), len, device_writes) })
    }
}

/// A `getsockopt` answer: an `int`, or up to 64 bytes (a name, a GID).
pub(crate) enum OptValue {
    Int(i32),
    Bytes { buf: [u8; 64], len: usize },
}

impl OptValue {
    /// The first 64 bytes of `src`.
    pub(crate) fn bytes(src: &[u8]) -> Self {
        let mut buf = [0; 64];
        let len = src.len().min(buf.len());
        buf[..len].copy_from_slice(&src[..len]);
        Self::Bytes { buf, len }
    }
}

/// The control messages of a `sendmsg`, see [`Msg::cmsgs`].
pub(crate) struct Cmsgs<'a> {
    msg: &'a mut Msg,
    cursor: *mut core::ffi::c_void,
    done: bool,
}

impl<'a> Iterator for Cmsgs<'a> {
    type Item = Result<(i32, i32, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (mut level, mut kind, mut data, mut len) = (0, 0, core::ptr::null(), 0usize);
        // SAFETY: Valid msghdr; `cursor` is null or the previous control message.
        let ret = unsafe {
            bindings::infinisock_msg_next_cmsg(self.msg.0.as_ptr(), &mut self.cursor, &mut level, &mut kind, &mut data, &mut len)
        };
        match ret {
            1 => {
                // SAFETY: The helper checked the control message (`CMSG_OK`): `len`
                // bytes of kernel memory at `data`, alive for the `sendmsg` call.
                Some(Ok((level, kind, unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) })))
            }
            0 => {
                self.done = true;
                None
            }
            _ => {
                self.done = true;
                Some(Err(EINVAL))
            }
        }
    }
}

/// Operations of a connected stream socket, on top of [`SocketOps`].
pub(crate) trait StreamOps: SocketOps {
    /// `bind(2)` with the address bytes the program passed.
    fn bind(sock: &Socket, addr: &[u8]) -> Result;
    /// `connect(2)`; `flags` are the file's (`O_NONBLOCK`).
    fn connect(sock: &Socket, addr: &[u8], flags: i32) -> Result;
    /// `listen(2)`.
    fn listen(sock: &Socket, backlog: i32) -> Result;
    /// `accept4(2)`: attach the next connection to `newsock`.
    fn accept(sock: &Socket, newsock: &Socket, flags: i32) -> Result;
    /// `getsockname(2)`/`getpeername(2)`: fills `out`, returns its length.
    fn getname(sock: &Socket, peer: bool, out: &mut [u8; SOCKADDR_MAX_LEN]) -> Result<usize>;
    /// The `poll(2)` event mask (the trampoline has registered the waiter).
    fn poll(sock: &Socket) -> u32;
    /// `ioctl(2)` with the user address `arg`; returns the value to store there as
    /// an `int`, or `None` when the command wrote its own answer.
    fn ioctl(sock: &Socket, cmd: u32, arg: usize) -> Result<Option<i32>>;
    /// `shutdown(2)`.
    fn shutdown(sock: &Socket, how: i32) -> Result;
    /// `sendmsg(2)` family; returns bytes sent.
    fn sendmsg(sock: &Socket, msg: &mut Msg, len: usize) -> Result<usize>;
    /// `recvmsg(2)` family; returns bytes received.
    fn recvmsg(sock: &Socket, msg: &mut Msg, len: usize, flags: i32) -> Result<usize>;
    /// `setsockopt(2)` at a level other than `SOL_SOCKET`, with an `int` value.
    fn setsockopt(sock: &Socket, level: i32, name: i32, value: Option<i32>) -> Result;
    /// `getsockopt(2)` at a level other than `SOL_SOCKET`.
    fn getsockopt(sock: &Socket, level: i32, name: i32) -> Result<OptValue>;
    /// Whether the option `level`/`name` is the protocol's alone, one a hybrid's TCP
    /// socket does not have: until the path is TCP, the protocol sets and answers it
    /// by itself. `SOL_INFINISOCK`'s are.
    fn own_option(level: i32, _name: i32) -> bool {
        level == crate::proto::abi::SOL_INFINISOCK
    }
}

/// A protocol's `struct proto` callbacks.
pub(crate) trait SockProto {
    /// The protocol's state of each of its socks (`struct infinisock_sock.state`,
    /// see [`Sock::set_state`]).
    type State: Send + Sync + 'static;

    /// Sets up a newly allocated sock (for AF_INET/AF_INET6, called by `inet_create`).
    fn init(sk: &Sock) -> Result;

    /// `SO_KEEPALIVE` is being turned on or off (before the socket layer records it),
    /// under the sock's lock.
    fn keepalive(_sk: &Sock, _on: bool) {}
}

/// Sends `SIGPIPE` to the current task (a write on a stream that cannot send any more).
pub(crate) fn send_sigpipe() {
    // SAFETY: Signals the current task; always valid in syscall context.
    unsafe { bindings::infinisock_send_sigpipe() };
}

/// A `struct net_proto_family` in a static.
pub(crate) struct FamilyTable(FfiStatic<bindings::net_proto_family>);

impl FamilyTable {
    /// The table for family `F`, owned by this module.
    pub(crate) const fn new<F: SocketFamily>() -> Self {
        Self(FfiStatic::new(bindings::net_proto_family {
            family: F::FAMILY,
            create: Some(create_trampoline::<F>),
            owner: crate::THIS_MODULE_PTR,
        }))
    }
}

unsafe extern "C" fn create_trampoline<F: SocketFamily>(
    net: *mut bindings::net,
    sock: *mut bindings::socket,
    protocol: kernel::ffi::c_int,
    kern: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    from_result(|| {
        // SAFETY: `__sock_create` passes a live namespace and a new socket, valid for
        // the duration of the call.
        let (net, sock) = unsafe { (Net::from_raw(net), Socket::from_raw(sock)) };
        F::create(net, sock, protocol, kern != 0)?;
        Ok(0)
    })
}

/// A `struct proto_ops` in a static.
pub(crate) struct OpsTable(pub(super) FfiStatic<bindings::proto_ops>);

impl OpsTable {
    /// The table of a connected socket kind (streams, message sockets): everything
    /// through `O`, except what they do not have (`socketpair`, `mmap`).
    pub(crate) const fn stream<O: StreamOps>() -> Self {
        Self(FfiStatic::new(bindings::proto_ops {
            family: O::FAMILY,
            owner: crate::THIS_MODULE_PTR,
            release: Some(release_trampoline::<O>),
            bind: Some(bind_trampoline::<O>),
            connect: Some(connect_trampoline::<O>),
            socketpair: Some(bindings::sock_no_socketpair),
            accept: Some(accept_trampoline::<O>),
            getname: Some(getname_trampoline::<O>),
            poll: Some(poll_trampoline::<O>),
            ioctl: Some(ioctl_trampoline::<O>),
            listen: Some(listen_trampoline::<O>),
            shutdown: Some(shutdown_trampoline::<O>),
            setsockopt: Some(setsockopt_trampoline::<O>),
            getsockopt: Some(getsockopt_trampoline::<O>),
            sendmsg: Some(sendmsg_trampoline::<O>),
            recvmsg: Some(recvmsg_trampoline::<O>),
            mmap: Some(bindings::sock_no_mmap),
            // SAFETY: All-zero is a valid `proto_ops`: absent callbacks are NULL.
            ..unsafe { core::mem::zeroed() }
        }))
    }
}

/// The address bytes of a `bind`/`connect` call (already copied into the kernel).
///
/// # Safety
///
/// `addr` points at `len` readable bytes, or `len` is not positive.
unsafe fn addr_bytes<'a>(addr: *const bindings::sockaddr_unsized, len: i32) -> &'a [u8] {
    match usize::try_from(len) {
        // SAFETY: The caller guarantees `len` bytes at `addr`.
        Ok(len) if len > 0 && !addr.is_null() => unsafe { core::slice::from_raw_parts(addr.cast::<u8>(), len) },
        _ => &[],
    }
}

pub(super) unsafe extern "C" fn bind_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr_unsized,
    len: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    let mut len = len;
    // SAFETY: The socket layer passes a valid socket and a kernel copy of the address
    // (`move_addr_to_kernel`) of `len` bytes, in storage for a whole
    // `sockaddr_storage`, which the cgroup programs may rewrite.
    from_result(|| unsafe {
        let socket = Socket::from_raw(sock);
        if let Some(sk) = socket.sk() {
            to_result(bindings::infinisock_bpf_bind(sk.as_raw(), addr, &mut len))?;
        }
        O::bind(socket, addr_bytes(addr, len))
    }.map(|()| 0))
}

pub(super) unsafe extern "C" fn connect_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr_unsized,
    len: kernel::ffi::c_int,
    flags: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    let mut len = len;
    // SAFETY: As for `bind`.
    from_result(|| unsafe {
        let socket = Socket::from_raw(sock);
        if let Some(sk) = socket.sk() {
            to_result(bindings::infinisock_bpf_connect(sk.as_raw(), addr, &mut len))?;
        }
        O::connect(socket, addr_bytes(addr, len), flags)
    }.map(|()| 0))
}

pub(super) unsafe extern "C" fn listen_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    backlog: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: Valid socket for the call.
    from_result(|| O::listen(unsafe { Socket::from_raw(sock) }, backlog).map(|()| 0))
}

pub(super) unsafe extern "C" fn accept_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    newsock: *mut bindings::socket,
    arg: *mut bindings::proto_accept_arg,
) -> kernel::ffi::c_int {
    // SAFETY: `do_accept` passes the listening socket, a new socket without `sk` and
    // the accept arguments, all valid for the call.
    from_result(|| unsafe {
        O::accept(Socket::from_raw(sock), Socket::from_raw(newsock), bindings::infinisock_accept_flags(arg))
    }.map(|()| 0))
}

pub(super) unsafe extern "C" fn getname_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr,
    peer: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    from_result(|| {
        let mut out = [0u8; SOCKADDR_MAX_LEN];
        // SAFETY: Valid socket for the call.
        let len = O::getname(unsafe { Socket::from_raw(sock) }, peer != 0, &mut out)?;
        // SAFETY: `addr` is a `sockaddr_storage` (128 bytes) in the kernel; `len` is at
        // most `SOCKADDR_MAX_LEN` (48).
        unsafe { core::ptr::copy_nonoverlapping(out.as_ptr(), addr.cast::<u8>(), len.min(out.len())) };
        Ok(len as i32)
    })
}

pub(super) unsafe extern "C" fn poll_trampoline<O: StreamOps>(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The socket layer passes the file, its socket and the poll table.
    unsafe { bindings::infinisock_poll_wait(file, sock, wait) };
    // SAFETY: Valid socket for the call.
    O::poll(unsafe { Socket::from_raw(sock) })
}

pub(super) unsafe extern "C" fn ioctl_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    cmd: kernel::ffi::c_uint,
    arg: kernel::ffi::c_ulong,
) -> kernel::ffi::c_int {
    from_result(|| {
        // SAFETY: Valid socket for the call.
        if let Some(v) = O::ioctl(unsafe { Socket::from_raw(sock) }, cmd, arg as usize)? {
            let user = kernel::uaccess::UserSlice::new(kernel::uaccess::UserPtr::from_addr(arg as usize), 4);
            user.writer().write(&v)?;
        }
        Ok(0)
    })
}

pub(super) unsafe extern "C" fn shutdown_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    how: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: Valid socket for the call.
    from_result(|| O::shutdown(unsafe { Socket::from_raw(sock) }, how).map(|()| 0))
}

pub(super) unsafe extern "C" fn setsockopt_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    level: kernel::ffi::c_int,
    name: kernel::ffi::c_int,
    optval: bindings::sockptr_t,
    optlen: kernel::ffi::c_uint,
) -> kernel::ffi::c_int {
    if level == bindings::SOL_SOCKET as i32 {
        // Only an SDP stream's come here (`Sock::own_sol_socket_options`).
        // SAFETY: Valid socket and option buffer for the call.
        return unsafe { bindings::infinisock_own_sol_socket(sock, name, optval, optlen) };
    }
    from_result(|| {
        let mut v = 0;
        // SAFETY: `optval` is the caller's option buffer of `optlen` bytes.
        let value = match unsafe { bindings::infinisock_sockptr_read_int(optval, optlen, &mut v) } {
            0 => Some(v),
            _ if optlen < 4 => None,
            e => return Err(Error::from_errno(e)),
        };
        // SAFETY: Valid socket for the call.
        O::setsockopt(unsafe { Socket::from_raw(sock) }, level, name, value).map(|()| 0)
    })
}

pub(super) unsafe extern "C" fn getsockopt_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    level: kernel::ffi::c_int,
    name: kernel::ffi::c_int,
    optval: *mut kernel::ffi::c_char,
    optlen: *mut kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    use kernel::uaccess::{UserPtr, UserSlice};
    from_result(|| {
        let len_slice = UserSlice::new(UserPtr::from_ptr(optlen.cast()), 4);
        let len: i32 = len_slice.reader().read()?;
        if len < 0 {
            return Err(EINVAL);
        }
        // SAFETY: Valid socket for the call.
        let v = O::getsockopt(unsafe { Socket::from_raw(sock) }, level, name)?;
        let int;
        let bytes = match &v {
            OptValue::Int(i) => {
                int = i.to_ne_bytes();
                &int[..]
            }
            OptValue::Bytes { buf, len } => &buf[..*len],
        };
        // As the socket layer's own options: as much as the caller has room for.
        let n = (len as usize).min(bytes.len());
        UserSlice::new(UserPtr::from_ptr(optval.cast()), n).writer().write_slice(&bytes[..n])?;
        UserSlice::new(UserPtr::from_ptr(optlen.cast()), 4).writer().write(&(n as i32))?;
        Ok(0)
    })
}

pub(super) unsafe extern "C" fn sendmsg_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    len: usize,
) -> kernel::ffi::c_int {
    // SAFETY: Valid socket and msghdr for the call.
    let (sock, mut msg) = unsafe { (Socket::from_raw(sock), Msg(NonNull::new_unchecked(msg))) };
    match O::sendmsg(sock, &mut msg, len) {
        Ok(n) => n.min(i32::MAX as usize) as i32,
        Err(e) => e.to_errno(),
    }
}

pub(super) unsafe extern "C" fn recvmsg_trampoline<O: StreamOps>(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    len: usize,
    flags: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: Valid socket and msghdr for the call.
    let (sock, mut msg) = unsafe { (Socket::from_raw(sock), Msg(NonNull::new_unchecked(msg))) };
    match O::recvmsg(sock, &mut msg, len, flags) {
        Ok(n) => n.min(i32::MAX as usize) as i32,
        Err(e) => e.to_errno(),
    }
}

pub(super) unsafe extern "C" fn release_trampoline<O: SocketOps>(sock: *mut bindings::socket) -> kernel::ffi::c_int {
    // SAFETY: The socket layer passes the socket being released, valid for the call.
    let sock = unsafe { Socket::from_raw(sock) };
    if let Some(sk) = sock.detach() {
        O::release(sock, sk);
    }
    0
}

/// A `struct proto` in a static, the layout of the socks it allocates and the type of
/// their protocol state.
///
/// # Invariants
///
/// `repr(C)` with the `struct proto` first: a sock's `sk_prot` leads back to its
/// table (`Sock::table`).
#[repr(C)]
pub(crate) struct ProtoTable {
    proto: FfiStatic<bindings::proto>,
    layout: SockLayout,
    /// `TypeId::of::<P::State>` (a function: `TypeId::of` is not `const` here).
    state_type: fn() -> TypeId,
}

/// The memory layout a [`ProtoTable`] allocates its socks with.
#[derive(Clone, Copy)]
pub(crate) enum SockLayout {
    /// `struct infinisock_sock`: AF_IB and AF_INET socks.
    Inet,
    /// `struct infinisock6_sock`: AF_INET6 socks, with their `ipv6_pinfo`.
    Inet6,
}

impl ProtoTable {
    /// The `struct proto` named `name` with the callbacks of `P`, for socks of `layout`.
    pub(crate) const fn new<P: SockProto>(name: &str, layout: SockLayout) -> Self {
        Self {
            proto: FfiStatic::new(bindings::proto {
                name: crate::kernel_api::ffi_static::c_name(name),
                owner: crate::THIS_MODULE_PTR,
                init: Some(init_trampoline::<P>),
                // `sk_common_release()` (the error path of `inet_create` after `init`).
                destroy: Some(destroy_trampoline::<P>),
                // `sk_common_release()` (the error path of `inet_create`) calls `unhash`
                // unconditionally; our socks are never hashed.
                unhash: Some(unhash_nop),
                keepalive: Some(keepalive_trampoline::<P>),
                get_port: Some(bindings::infinisock_get_port_refused),
                // SAFETY: All-zero is a valid `proto`: absent callbacks are NULL.
                ..unsafe { core::mem::zeroed() }
            }),
            layout,
            state_type: TypeId::of::<P::State>,
        }
    }
}

unsafe extern "C" fn init_trampoline<P: SockProto>(sk: *mut bindings::sock) -> kernel::ffi::c_int {
    from_result(|| {
        // SAFETY: `inet_create`/`inet6_create` pass a sock just allocated from our proto,
        // seen by nobody else yet.
        unsafe { bindings::infinisock_sk_init_memory(sk) };
        // SAFETY: As above.
        P::init(unsafe { Sock::from_raw(sk) })?;
        Ok(0)
    })
}

unsafe extern "C" fn destroy_trampoline<P: SockProto>(sk: *mut bindings::sock) {
    // SAFETY: The kernel passes one of our socks; on this path no socket operation
    // can run on it any more.
    let sk = unsafe { Sock::from_raw(sk) };
    drop(sk.take_state::<P::State>());
    // A hybrid's inner socket, if `init` created one.
    sk.release_inner();
}

unsafe extern "C" fn keepalive_trampoline<P: SockProto>(sk: *mut bindings::sock, on: kernel::ffi::c_int) {
    // SAFETY: `sk_setsockopt(SO_KEEPALIVE)` passes one of our socks, locked.
    P::keepalive(unsafe { Sock::from_raw(sk) }, on != 0);
}

unsafe extern "C" fn unhash_nop(_sk: *mut bindings::sock) {}

impl KernelTable for ProtoTable {
    type Raw = bindings::proto;

    fn storage(&self) -> &FfiStatic<bindings::proto> {
        &self.proto
    }

    unsafe fn register(&self, raw: *mut bindings::proto) -> Result {
        // SAFETY: The helpers only return C `sizeof`/`offsetof`.
        let (size, pinfo) = unsafe {
            match self.layout {
                SockLayout::Inet => (bindings::infinisock_sock_size(), 0),
                SockLayout::Inet6 => (bindings::infinisock6_sock_size(), bindings::infinisock6_pinfo_offset()),
            }
        };
        // SAFETY: Claimed and unregistered, so ours to write (`FfiStatic` invariant); a
        // slab is created for it (`proto_register(.., 1)`).
        unsafe {
            (*raw).obj_size = size.try_into()?;
            (*raw).ipv6_pinfo_offset = pinfo.try_into()?;
            bindings::infinisock_proto_init_memory(raw);
            to_result(bindings::proto_register(raw, 1))
        }
    }

    unsafe fn unregister(&self, raw: *mut bindings::proto) {
        // SAFETY: Registered; no sock of it is left (each holds a module reference, so
        // the module cannot be unloading otherwise).
        unsafe { bindings::proto_unregister(raw) };
    }
}

impl KernelTable for FamilyTable {
    type Raw = bindings::net_proto_family;

    fn storage(&self) -> &FfiStatic<bindings::net_proto_family> {
        &self.0
    }

    unsafe fn register(&self, raw: *mut bindings::net_proto_family) -> Result {
        // SAFETY: The table lives for the module's lifetime.
        to_result(unsafe { bindings::sock_register(raw) })
    }

    unsafe fn unregister(&self, raw: *mut bindings::net_proto_family) {
        // SAFETY: Registered; the kernel never writes the family number, and
        // `sock_unregister` waits for running `create` calls.
        unsafe { bindings::sock_unregister((*raw).family) };
    }
}

/// Which IP family an [`InetProtosw`] joins.
#[derive(Clone, Copy)]
pub(crate) enum IpFamily {
    /// AF_INET.
    V4,
    /// AF_INET6.
    V6,
}

/// A `struct inet_protosw`: one (type, protocol) entry in AF_INET's or AF_INET6's
/// table of protocols, consulted by `inet_create()`/`inet6_create()`.
pub(crate) struct InetProtosw(FfiStatic<bindings::inet_protosw>, IpFamily);

impl InetProtosw {
    /// The entry for `socket(family, sock_type, protocol)`.
    pub(crate) const fn new(
        family: IpFamily,
        sock_type: i32,
        protocol: i32,
        proto: &'static ProtoTable,
        ops: &'static OpsTable,
    ) -> Self {
        Self(
            FfiStatic::new(bindings::inet_protosw {
                type_: sock_type as u16,
                protocol: protocol as u16,
                prot: proto.proto.get(),
                ops: ops.0.get(),
                // SAFETY: All-zero is a valid list head before registration, and no flags.
                ..unsafe { core::mem::zeroed() }
            }),
            family,
        )
    }
}

impl KernelTable for InetProtosw {
    type Raw = bindings::inet_protosw;

    fn storage(&self) -> &FfiStatic<bindings::inet_protosw> {
        &self.0
    }

    unsafe fn register(&self, raw: *mut bindings::inet_protosw) -> Result {
        match self.1 {
            IpFamily::V4 => {
                // SAFETY: The entry, and the proto and ops it points to, live for the
                // module's lifetime.
                unsafe { bindings::inet_register_protosw(raw) };
                Ok(())
            }
            // SAFETY: As above.
            IpFamily::V6 => to_result(unsafe { bindings::inet6_register_protosw(raw) }),
        }
    }

    unsafe fn unregister(&self, raw: *mut bindings::inet_protosw) {
        match self.1 {
            // SAFETY: Registered; the unregister calls wait for RCU readers.
            IpFamily::V4 => unsafe { bindings::inet_unregister_protosw(raw) },
            // SAFETY: As above.
            IpFamily::V6 => unsafe { bindings::inet6_unregister_protosw(raw) },
        }
    }
}

/// A kernel-internal socket (`sock_create_kern`), released on drop. Used by the KUnit
/// suites to exercise the socket paths exactly as `socket()` does.
pub(crate) struct KernelSocket(NonNull<bindings::socket>);

impl KernelSocket {
    /// Creates a socket in `net` as `socket(family, sock_type, protocol)` would.
    pub(crate) fn create(net: &Net, family: i32, sock_type: i32, protocol: i32) -> Result<Self> {
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` is live; `sock` is a valid out-pointer.
        to_result(unsafe { bindings::sock_create_kern(net.as_raw(), family, sock_type, protocol, &mut sock) })?;
        Ok(Self(NonNull::new(sock).ok_or(EINVAL)?))
    }

    /// The protocol number of the socket's sock.
    pub(crate) fn protocol(&self) -> i32 {
        // SAFETY: A created socket always has an `sk` until it is released.
        i32::from(unsafe { bindings::infinisock_sk_protocol(bindings::infinisock_socket_sk(self.0.as_ptr())) })
    }
}

impl Drop for KernelSocket {
    fn drop(&mut self) {
        // SAFETY: The socket was created by `sock_create_kern` and is released once.
        unsafe { bindings::sock_release(self.0.as_ptr()) };
    }
}

/// A sock with protocol state installed, as listed in [`STATEFUL`], and its number in
/// the list's order: a walk that lets go of the lock resumes by number
/// ([`for_each_state_from`]), since the socks it saw may be gone by then.
pub(crate) struct StatefulSock {
    sk: NonNull<bindings::sock>,
    seq: u64,
}

/// The number the next listed sock gets; 0 is no sock's (a walk from the start).
static NEXT_STATEFUL_SEQ: AtomicU64 = AtomicU64::new(1);

// SAFETY: Only dereferenced under the `STATEFUL` lock (see `for_each_state`).
unsafe impl Send for StatefulSock {}

crate::kernel_api::global::module_mutex! {
    /// Every sock whose state slot holds a state: `set_state` lists it and
    /// `take_state` unlists it, each under this lock, around filling and emptying the
    /// slot. A listed sock is alive: its state holds it (every protocol state keeps
    /// its sock, as the endpoint does), and the state is there while it is listed.
    static STATEFUL: KVec<StatefulSock> = KVec::new();
}

/// Readies the list of socks with state: in the module's `init`, before any socket
/// can exist. Dropping the returned value, at unload when every socket is gone,
/// frees the list's storage.
pub(crate) fn init_state_list() -> StateList {
    STATEFUL.init();
    StateList
}

/// See [`init_state_list`].
pub(crate) struct StateList;

impl Drop for StateList {
    fn drop(&mut self) {
        *STATEFUL.lock() = KVec::new();
    }
}

/// Calls `f` with every sock whose state is a `T`, and the state, under the list's
/// lock (which socket creation and the removal of a state take: `f` must not wait
/// for anything that may wait for them).
pub(crate) fn for_each_state<T: Send + Sync + 'static>(mut f: impl FnMut(&Sock, &T)) {
    for_each_state_from::<T>(0, |sk, state| {
        f(sk, state);
        ControlFlow::Continue(())
    });
}

/// As [`for_each_state`], from the sock numbered `from` or the next one still listed,
/// until `f` breaks. Returns where to resume: the number of the sock `f` broke at (it
/// is visited again), or `u64::MAX` when every sock was seen. A sock listed for the
/// whole of a walk resumed this way is visited exactly once.
pub(crate) fn for_each_state_from<T: Send + Sync + 'static>(
    from: u64,
    mut f: impl FnMut(&Sock, &T) -> ControlFlow<()>,
) -> u64 {
    let listed = STATEFUL.lock();
    let start = listed.partition_point(|s| s.seq < from);
    for s in &listed[start..] {
        // SAFETY: A listed sock is alive while the lock is held (see `STATEFUL`), and
        // is one of ours (only `set_state` lists socks).
        let sk = unsafe { Sock::from_raw(s.sk.as_ptr()) };
        if let Some(state) = sk.state::<T>() {
            if f(sk, &state).is_break() {
                return s.seq;
            }
        }
    }
    u64::MAX
}
