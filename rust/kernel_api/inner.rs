// SPDX-License-Identifier: GPL-2.0

//! A hybrid stream's inner TCP socket (`c/inner.c`) and the operations table that
//! sends each socket call to the outer protocol, to the inner socket, or to both.
//!
//! A hybrid socket is one of our socks with a kernel TCP socket inside. Until it
//! chooses a path, its calls go to the protocol (`HybridOps`), and socket options to
//! both sides, so that the TCP socket is ready to take over with the program's
//! options. Once it has fallen back ([`Socket::use_inner`]), every call goes to the
//! TCP socket through TCP's own `proto_ops`; once it runs on the protocol
//! ([`Socket::leave_inner`]), none does.

use core::{marker::PhantomData, ptr::NonNull};

use kernel::{error::to_result, prelude::*};

use crate::{
    kernel_api::{
        bindings,
        ffi_static::FfiStatic,
        sock::{self, OpsTable, Sock, Socket, StreamOps},
    },
    proto::sockaddr::SOCKADDR_MAX_LEN,
};

/// Where a hybrid socket's calls go.
enum Route {
    /// To the protocol: not a hybrid, or a hybrid on the protocol's path.
    Own,
    /// Not decided yet: to the protocol, and socket options to the inner socket too.
    Both(*mut bindings::socket),
    /// To the inner socket only: the hybrid fell back. (Or to the socket itself, when
    /// it is not ours: a TCP connection `accept` handed out.)
    Inner(*mut bindings::socket),
}

/// The route of `sock`'s calls.
///
/// # Safety
///
/// `sock` is valid for a socket call (which `release` cannot overlap).
unsafe fn route(sock: *mut bindings::socket) -> Route {
    // SAFETY: Valid socket (caller).
    if !unsafe { bindings::infinisock_socket_ours(sock) } {
        // A TCP socket from `accept`, reached through the listener's table: its own
        // operations serve it.
        return Route::Inner(sock);
    }
    // SAFETY: Valid socket (caller).
    let sk = unsafe { bindings::infinisock_socket_sk(sock) };
    if sk.is_null() {
        return Route::Own;
    }
    // SAFETY: `sk` is one of our socks, held by the socket.
    let mode = unsafe { bindings::infinisock_inner_mode(sk) };
    // SAFETY: As above; the inner socket stays until `release`.
    let inner = unsafe { bindings::infinisock_inner(sk) };
    if mode < 0 || inner.is_null() || mode & (1 << bindings::INFINISOCK_INNER_UNUSED) != 0 {
        Route::Own
    } else if mode & (1 << bindings::INFINISOCK_INNER_ACTIVE) != 0 {
        Route::Inner(inner)
    } else {
        Route::Both(inner)
    }
}

/// A hybrid's inner TCP socket, borrowed for one socket call of the outer socket.
///
/// # Invariants
///
/// The pointer is the inner socket of a socket in a call, valid for `'a`: the inner
/// socket is released only by the outer socket's `release` (or a failed `create`).
pub(crate) struct Inner<'a>(NonNull<bindings::socket>, PhantomData<&'a Socket>);

impl Inner<'_> {
    /// `bind(2)` on the TCP socket with these address bytes.
    pub(crate) fn bind(&self, addr: &[u8]) -> Result {
        // SAFETY: Valid inner socket (type invariant); the helper copies `addr`.
        to_result(unsafe { bindings::infinisock_inner_bind(self.0.as_ptr(), addr.as_ptr().cast(), addr.len() as i32) })
    }

    /// `connect(2)` on the TCP socket; `flags` are the outer file's (`O_NONBLOCK`).
    pub(crate) fn connect(&self, addr: &[u8], flags: i32) -> Result {
        // SAFETY: As in `bind`.
        to_result(unsafe {
            bindings::infinisock_inner_connect(self.0.as_ptr(), addr.as_ptr().cast(), addr.len() as i32, flags)
        })
    }

    /// `listen(2)` on the TCP socket.
    pub(crate) fn listen(&self, backlog: i32) -> Result {
        // SAFETY: Valid inner socket.
        to_result(unsafe { bindings::infinisock_inner_listen(self.0.as_ptr(), backlog) })
    }

    /// Accepts a TCP connection onto `newsock`, which becomes a plain TCP socket.
    pub(crate) fn accept(&self, newsock: &Socket, flags: i32) -> Result {
        // SAFETY: Valid inner socket; `newsock` is the new socket of an `accept` call,
        // without a file descriptor yet.
        to_result(unsafe { bindings::infinisock_inner_accept(self.0.as_ptr(), newsock.as_raw(), flags) })
    }

    /// The TCP socket's `IPV6_V6ONLY`.
    pub(crate) fn ipv6only(&self) -> bool {
        // SAFETY: Valid inner socket, which has its sock as long as it exists.
        unsafe { bindings::infinisock_inner_ipv6only(self.0.as_ptr()) }
    }

    /// Whether the TCP listener has a connection waiting for `accept`.
    pub(crate) fn acceptable(&self) -> bool {
        // SAFETY: Valid inner socket, listening (the caller's protocol state says so).
        unsafe { bindings::infinisock_inner_acceptable(self.0.as_ptr()) }
    }

    /// The TCP socket's local (or, with `peer`, remote) address; its length.
    pub(crate) fn name(&self, peer: bool, out: &mut [u8; SOCKADDR_MAX_LEN]) -> Result<usize> {
        let mut storage = [0u8; 128];
        // SAFETY: Valid inner socket; `storage` has room for a `sockaddr_storage`.
        let len = unsafe { bindings::infinisock_inner_getname(self.0.as_ptr(), storage.as_mut_ptr().cast(), i32::from(peer)) };
        let len = usize::try_from(len).map_err(|_| Error::from_errno(len))?.min(out.len());
        out[..len].copy_from_slice(&storage[..len]);
        Ok(len)
    }
}

impl Socket {
    /// The hybrid's inner socket while its path is undecided; `None` once it chose one,
    /// or for any other socket.
    pub(crate) fn undecided_inner(&self) -> Option<Inner<'_>> {
        // SAFETY: A socket in a call (type invariant of `Socket`).
        match unsafe { route(self.as_raw()) } {
            // SAFETY: The inner socket of a socket in a call (see `Inner`).
            Route::Both(p) => Some(Inner(unsafe { NonNull::new_unchecked(p) }, PhantomData)),
            _ => None,
        }
    }

    /// From now on every call goes to the inner socket (the hybrid fell back).
    pub(crate) fn use_inner(&self) {
        if let Some(sk) = self.sk() {
            // SAFETY: One of our socks, in a call.
            unsafe { bindings::infinisock_inner_set_mode(sk.as_raw(), bindings::INFINISOCK_INNER_ACTIVE as i32) };
        }
    }


    /// The hybrid's inner socket on either of its routes (undecided or fallen back).
    pub(crate) fn inner_socket(&self) -> Option<Inner<'_>> {
        // SAFETY: A socket in a call (type invariant of `Socket`).
        match unsafe { route(self.as_raw()) } {
            // SAFETY: The inner socket of a socket in a call (see `Inner`).
            Route::Both(p) | Route::Inner(p) => Some(Inner(unsafe { NonNull::new_unchecked(p) }, PhantomData)),
            Route::Own => None,
        }
    }

}

impl Sock {
    /// Gives a newly created hybrid sock its inner TCP socket (from `init`, after
    /// `inet_create` attached the sock to its socket).
    pub(crate) fn create_inner(&self) -> Result {
        // SAFETY: One of our socks, attached to its socket and not visible elsewhere.
        to_result(unsafe { bindings::infinisock_inner_create(self.as_raw()) })
    }

    /// Whether this is a hybrid sock that has not chosen its path yet.
    pub(crate) fn is_undecided_hybrid(&self) -> bool {
        // SAFETY: One of our socks; the mode is read atomically.
        unsafe { bindings::infinisock_inner_mode(self.as_raw()) == 0 }
    }

    /// From now on no call goes to the inner socket: the hybrid runs on the protocol
    /// (its connection was established in the background).
    pub(crate) fn leave_inner(&self) {
        // SAFETY: One of our socks; a plain flag, serialised by the caller's lock.
        unsafe { bindings::infinisock_inner_set_mode(self.as_raw(), bindings::INFINISOCK_INNER_UNUSED as i32) };
    }

    /// The inner TCP socket's cookie (`SO_COOKIE`), 0 if there is none. From process
    /// context, without the sock's lock (the helper takes it).
    pub(crate) fn inner_cookie(&self) -> u64 {
        // SAFETY: One of our socks; the helper looks at the inner socket under the
        // sock's lock, which its release takes too.
        unsafe { bindings::infinisock_inner_cookie(self.as_raw()) }
    }

    /// Releases the inner socket, if there is one: at the outer socket's release.
    pub(crate) fn release_inner(&self) {
        // SAFETY: One of our socks; the helper takes the inner pointer once, under the
        // sock's lock.
        unsafe { bindings::infinisock_inner_release(self.as_raw()) };
    }

    /// Outside a socket call: moves the socket to its inner socket and starts a
    /// non-blocking connect to `addr` there (`EINPROGRESS`). `ENOTCONN` if the socket
    /// was released meanwhile.
    pub(crate) fn connect_inner_async(&self, addr: &[u8]) -> Result {
        // SAFETY: One of our socks (held by the caller); the helper checks, under the
        // sock's lock, that the inner socket is still there.
        to_result(unsafe { bindings::infinisock_inner_connect_async(self.as_raw(), addr.as_ptr().cast(), addr.len() as i32) })
    }

    /// Waits on the socket's wait queue (where the inner socket's wake-ups go too)
    /// until `ready()`, for at most `*timeo` jiffies: `EAGAIN` when they ran out, the
    /// signal's errno when one came.
    pub(crate) fn wait_ready<F: FnMut() -> bool>(&self, timeo: &mut i64, mut ready: F) -> Result {
        unsafe extern "C" fn call<F: FnMut() -> bool>(ctx: *mut core::ffi::c_void) -> bool {
            // SAFETY: `ctx` is the `&mut F` passed below, live for the whole wait.
            unsafe { (*ctx.cast::<F>())() }
        }
        let mut err = 0;
        let f: *mut F = &mut ready;
        // SAFETY: One of our socks; `call::<F>` is called with `f` only during the wait.
        let left = unsafe {
            bindings::infinisock_sk_wait_ready(self.as_raw(), *timeo as isize, Some(call::<F>), f.cast(), &mut err)
        };
        *timeo = left as i64;
        to_result(err)
    }
}

impl OpsTable {
    /// The table of hybrid streams: everything through `O` until the socket falls back,
    /// then everything through its inner TCP socket.
    pub(crate) const fn hybrid<O: StreamOps>() -> Self {
        Self(FfiStatic::new(bindings::proto_ops {
            family: O::FAMILY,
            owner: crate::THIS_MODULE_PTR,
            release: Some(sock::release_trampoline::<O>),
            bind: Some(bind::<O>),
            connect: Some(connect::<O>),
            socketpair: Some(bindings::sock_no_socketpair),
            accept: Some(accept::<O>),
            getname: Some(getname::<O>),
            poll: Some(poll::<O>),
            ioctl: Some(ioctl::<O>),
            listen: Some(listen::<O>),
            shutdown: Some(shutdown::<O>),
            setsockopt: Some(setsockopt::<O>),
            getsockopt: Some(getsockopt::<O>),
            sendmsg: Some(sendmsg::<O>),
            recvmsg: Some(recvmsg::<O>),
            mmap: Some(bindings::sock_no_mmap),
            // SAFETY: All-zero is a valid `proto_ops`: absent callbacks are NULL.
            ..unsafe { core::mem::zeroed() }
        }))
    }
}

// The trampolines below: the socket layer passes a socket in a call and the call's
// arguments, valid for its duration. A fallen-back socket's call goes to its inner
// socket's `proto_ops` with the same arguments (the inner socket runs its own cgroup
// hooks); otherwise to the protocol's trampoline in `sock`.

unsafe extern "C" fn bind<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr_unsized,
    len: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_inner_bind(inner, addr.cast(), len),
            _ => sock::bind_trampoline::<O>(sock, addr, len),
        }
    }
}

unsafe extern "C" fn connect<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr_unsized,
    len: kernel::ffi::c_int,
    flags: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_inner_connect(inner, addr.cast(), len, flags),
            _ => sock::connect_trampoline::<O>(sock, addr, len, flags),
        }
    }
}

unsafe extern "C" fn listen<O: StreamOps>(sock: *mut bindings::socket, backlog: kernel::ffi::c_int) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_inner_listen(inner, backlog),
            _ => sock::listen_trampoline::<O>(sock, backlog),
        }
    }
}

unsafe extern "C" fn accept<O: StreamOps>(
    sock: *mut bindings::socket,
    newsock: *mut bindings::socket,
    arg: *mut bindings::proto_accept_arg,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and `newsock` are valid for its duration,
    // as `route` and the inner socket's `proto_ops` require; `newsock` has no file
    // descriptor yet.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_inner_accept(inner, newsock, bindings::infinisock_accept_flags(arg)),
            _ => sock::accept_trampoline::<O>(sock, newsock, arg),
        }
    }
}

unsafe extern "C" fn getname<O: StreamOps>(
    sock: *mut bindings::socket,
    addr: *mut bindings::sockaddr,
    peer: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_inner_getname(inner, addr.cast(), peer),
            _ => sock::getname_trampoline::<O>(sock, addr, peer),
        }
    }
}

unsafe extern "C" fn poll<O: StreamOps>(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // The waiter goes on the outer socket's queue, where the inner socket's wake-ups
    // arrive; the inner socket only computes the mask.
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => {
                bindings::infinisock_poll_wait(file, sock, wait);
                bindings::infinisock_fwd_poll(file, inner)
            }
            _ => sock::poll_trampoline::<O>(file, sock, wait),
        }
    }
}

unsafe extern "C" fn ioctl<O: StreamOps>(
    sock: *mut bindings::socket,
    cmd: kernel::ffi::c_uint,
    arg: kernel::ffi::c_ulong,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_fwd_ioctl(inner, cmd, arg),
            _ => sock::ioctl_trampoline::<O>(sock, cmd, arg),
        }
    }
}

unsafe extern "C" fn shutdown<O: StreamOps>(sock: *mut bindings::socket, how: kernel::ffi::c_int) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_fwd_shutdown(inner, how),
            _ => sock::shutdown_trampoline::<O>(sock, how),
        }
    }
}

unsafe extern "C" fn setsockopt<O: StreamOps>(
    sock: *mut bindings::socket,
    level: kernel::ffi::c_int,
    name: kernel::ffi::c_int,
    optval: bindings::sockptr_t,
    optlen: kernel::ffi::c_uint,
) -> kernel::ffi::c_int {
    let sol_socket = level == bindings::SOL_SOCKET as i32;
    // Before the path is chosen both sides take the option; the inner socket's answer
    // is the program's (it is TCP's), the protocol's own is best effort, but for the
    // protocol's own options, which TCP does not have. SOL_SOCKET options (sent here by
    // SOCK_CUSTOM_SOCKOPT) also set the outer sock, whose fields the socket layer
    // reads back.
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Both(_) if O::own_option(level, name) => {
                sock::setsockopt_trampoline::<O>(sock, level, name, optval, optlen)
            }
            Route::Inner(inner) => {
                if sol_socket {
                    bindings::infinisock_own_sol_socket(sock, name, optval, optlen);
                }
                bindings::infinisock_fwd_setsockopt(inner, level, name, optval, optlen)
            }
            Route::Both(inner) => {
                let err = bindings::infinisock_fwd_setsockopt(inner, level, name, optval, optlen);
                if err == 0 {
                    if sol_socket {
                        bindings::infinisock_own_sol_socket(sock, name, optval, optlen);
                    } else {
                        sock::setsockopt_trampoline::<O>(sock, level, name, optval, optlen);
                    }
                }
                err
            }
            Route::Own if sol_socket => bindings::infinisock_own_sol_socket(sock, name, optval, optlen),
            Route::Own => sock::setsockopt_trampoline::<O>(sock, level, name, optval, optlen),
        }
    }
}

unsafe extern "C" fn getsockopt<O: StreamOps>(
    sock: *mut bindings::socket,
    level: kernel::ffi::c_int,
    name: kernel::ffi::c_int,
    optval: *mut kernel::ffi::c_char,
    optlen: *mut kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // `SOL_INFINISOCK` (the path) is the protocol's on every route, its other own
    // options until the path is TCP.
    let own_level = level == crate::proto::abi::SOL_INFINISOCK;
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Both(_) if O::own_option(level, name) => sock::getsockopt_trampoline::<O>(sock, level, name, optval, optlen),
            Route::Inner(inner) | Route::Both(inner) if !own_level => {
                bindings::infinisock_fwd_getsockopt(inner, level, name, optval, optlen)
            }
            _ => sock::getsockopt_trampoline::<O>(sock, level, name, optval, optlen),
        }
    }
}

unsafe extern "C" fn sendmsg<O: StreamOps>(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    len: usize,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_fwd_sendmsg(inner, msg, len),
            _ => sock::sendmsg_trampoline::<O>(sock, msg, len),
        }
    }
}

unsafe extern "C" fn recvmsg<O: StreamOps>(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    len: usize,
    flags: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    // SAFETY: The socket layer's call: `sock` and the arguments are valid for its
    // duration, as `route` and the inner socket's `proto_ops` require.
    unsafe {
        match route(sock) {
            Route::Inner(inner) => bindings::infinisock_fwd_recvmsg(inner, msg, len, flags),
            _ => sock::recvmsg_trampoline::<O>(sock, msg, len, flags),
        }
    }
}
