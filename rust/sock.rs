// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over `struct socket` and `struct sock`, and the registrations that hand
//! the kernel our socket family (`sock_register`), our `struct proto`s
//! (`proto_register`) and our protocol under AF_INET/AF_INET6 (`inet_register_protosw`).
//!
//! Protocol code implements [`SocketFamily`], [`SocketOps`] and [`SockProto`]; the
//! `extern "C"` trampolines here turn the kernel's raw pointers into the wrapper types.

use core::ptr::NonNull;

use kernel::{
    error::{from_result, to_result},
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

use crate::{
    bindings,
    ffi_static::{FfiStatic, KernelTable},
    net::Net,
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
    unsafe fn from_raw<'a>(ptr: *mut bindings::socket) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut bindings::socket {
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

    /// Detaches the `sk` from the socket in `release` and returns the socket's
    /// reference to it, or `None` if it has none.
    fn detach(&self) -> Option<ARef<Sock>> {
        // SAFETY: The socket is valid; `release` is its last operation, so nobody else
        // reads `sk` concurrently.
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

impl Sock {
    /// # Safety
    ///
    /// `ptr` is a valid sock allocated with one of our `struct proto`s, for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Allocates a sock of `proto` in `net` (`sk_alloc`); `kern` marks a kernel socket.
    pub(crate) fn alloc(net: &Net, family: i32, proto: &'static ProtoTable, kern: bool) -> Result<ARef<Self>> {
        // SAFETY: `net` is a live namespace; `proto` is registered for as long as a sock of
        // it exists (the module cannot go away while a sock holds its `owner` reference).
        let sk = unsafe {
            bindings::sk_alloc(net.as_raw(), family, bindings::GFP_KERNEL, proto.0.get(), i32::from(kern))
        };
        let sk = NonNull::new(sk).ok_or(ENOBUFS)?;
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

/// A protocol's `struct proto` callbacks.
pub(crate) trait SockProto {
    /// Sets up a newly allocated sock (for AF_INET/AF_INET6, called by `inet_create`).
    fn init(sk: &Sock) -> Result;
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
pub(crate) struct OpsTable(FfiStatic<bindings::proto_ops>);

impl OpsTable {
    /// The table for socket kind `O`: `release` from Rust, the rest `EOPNOTSUPP` until
    /// the data paths implement them.
    pub(crate) const fn new<O: SocketOps>() -> Self {
        Self(FfiStatic::new(bindings::proto_ops {
            family: O::FAMILY,
            owner: crate::THIS_MODULE_PTR,
            release: Some(release_trampoline::<O>),
            bind: Some(bindings::sock_no_bind),
            connect: Some(bindings::sock_no_connect),
            socketpair: Some(bindings::sock_no_socketpair),
            accept: Some(bindings::sock_no_accept),
            getname: Some(bindings::sock_no_getname),
            ioctl: Some(bindings::sock_no_ioctl),
            listen: Some(bindings::sock_no_listen),
            shutdown: Some(bindings::sock_no_shutdown),
            sendmsg: Some(bindings::sock_no_sendmsg),
            recvmsg: Some(bindings::sock_no_recvmsg),
            mmap: Some(bindings::sock_no_mmap),
            // SAFETY: All-zero is a valid `proto_ops`: absent callbacks are NULL.
            ..unsafe { core::mem::zeroed() }
        }))
    }
}

unsafe extern "C" fn release_trampoline<O: SocketOps>(sock: *mut bindings::socket) -> kernel::ffi::c_int {
    // SAFETY: The socket layer passes the socket being released, valid for the call.
    let sock = unsafe { Socket::from_raw(sock) };
    if let Some(sk) = sock.detach() {
        O::release(sock, sk);
    }
    0
}

/// A `struct proto` in a static, and the layout of the socks it allocates.
pub(crate) struct ProtoTable(FfiStatic<bindings::proto>, SockLayout);

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
        Self(
            FfiStatic::new(bindings::proto {
            name: crate::ffi_static::c_name(name),
            owner: crate::THIS_MODULE_PTR,
            init: Some(init_trampoline::<P>),
            // `sk_common_release()` (the error path of `inet_create`) calls `unhash`
            // unconditionally; our socks are never hashed.
            unhash: Some(unhash_nop),
            // SAFETY: All-zero is a valid `proto`: absent callbacks are NULL.
            ..unsafe { core::mem::zeroed() }
            }),
            layout,
        )
    }
}

unsafe extern "C" fn init_trampoline<P: SockProto>(sk: *mut bindings::sock) -> kernel::ffi::c_int {
    from_result(|| {
        // SAFETY: `inet_create`/`inet6_create` pass a sock just allocated from our proto.
        P::init(unsafe { Sock::from_raw(sk) })?;
        Ok(0)
    })
}

unsafe extern "C" fn unhash_nop(_sk: *mut bindings::sock) {}

impl KernelTable for ProtoTable {
    type Raw = bindings::proto;

    fn storage(&self) -> &FfiStatic<bindings::proto> {
        &self.0
    }

    unsafe fn register(&self, raw: *mut bindings::proto) -> Result {
        // SAFETY: The helpers only return C `sizeof`/`offsetof`.
        let (size, pinfo) = unsafe {
            match self.1 {
                SockLayout::Inet => (bindings::infinisock_sock_size(), 0),
                SockLayout::Inet6 => (bindings::infinisock6_sock_size(), bindings::infinisock6_pinfo_offset()),
            }
        };
        // SAFETY: Claimed and unregistered, so ours to write (`FfiStatic` invariant); a
        // slab is created for it (`proto_register(.., 1)`).
        unsafe {
            (*raw).obj_size = size.try_into()?;
            (*raw).ipv6_pinfo_offset = pinfo.try_into()?;
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
                prot: proto.0.get(),
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
