// SPDX-License-Identifier: GPL-2.0

//! Network namespaces: the `struct net` wrapper, per-namespace state through
//! `register_pernet_subsys`, and `/proc/net/` entries.

use core::{marker::PhantomData, ptr::NonNull};

use kernel::{
    error::{from_result, to_result},
    prelude::*,
    seq_file::SeqFile,
    types::Opaque,
};

use crate::{kernel_api::{bindings, ffi_static::{FfiStatic, KernelTable}}};

/// A network namespace.
///
/// # Invariants
///
/// The wrapped `struct net` is alive for the lifetime of the reference.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// # Safety
    ///
    /// `ptr` is a live namespace for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// The initial network namespace.
    pub(crate) fn init_net() -> &'static Self {
        // SAFETY: `init_net` lives as long as the kernel.
        unsafe { Self::from_raw(&raw mut bindings::init_net) }
    }

    /// Whether this is the initial network namespace.
    pub(crate) fn is_init(&self) -> bool {
        core::ptr::eq(self.as_raw(), Self::init_net().as_raw())
    }

    /// Whether the initial user namespace owns this namespace: its root is the
    /// machine's, not a container's.
    pub(crate) fn owned_by_init_user_ns(&self) -> bool {
        // SAFETY: The namespace is live (type invariant).
        unsafe { bindings::infinisock_net_owned_by_init_user_ns(self.as_raw()) }
    }

    /// This namespace's state of subsystem `T`.
    pub(crate) fn state<T: PernetSubsys>(&self) -> &T::State {
        let table = T::table();
        // SAFETY: `T` is registered while any namespace can reach code that asks for its
        // state (the caller runs in a socket or device callback of this module). The id
        // was written before registration and is constant afterwards.
        let slot = unsafe { bindings::infinisock_net_generic(self.as_raw(), *table.id.get()) };
        // SAFETY: `init_trampoline` stored a valid `KBox<T::State>` pointer in the slot
        // before the namespace became usable; `exit_trampoline` clears it only when the
        // namespace is going away, after its last user.
        unsafe { &**slot.cast::<*const T::State>() }
    }
}

/// A subsystem with state in every network namespace.
pub(crate) trait PernetSubsys: Sized + 'static {
    /// The state; created when a namespace appears, dropped when it goes.
    type State: Send + Sync;

    /// The subsystem's registration table.
    fn table() -> &'static PernetTable<Self>;

    /// Creates the state of `net`.
    fn init(net: &Net) -> Result<KBox<Self::State>>;
}

/// A `struct pernet_operations` and the id it is given, in a static.
pub(crate) struct PernetTable<T> {
    ops: FfiStatic<bindings::pernet_operations>,
    id: FfiStatic<kernel::ffi::c_uint>,
    _subsys: PhantomData<fn() -> T>,
}

impl<T: PernetSubsys> PernetTable<T> {
    /// The table of subsystem `T`.
    pub(crate) const fn new() -> Self {
        Self {
            ops: FfiStatic::new(bindings::pernet_operations {
                init: Some(init_trampoline::<T>),
                exit: Some(exit_trampoline::<T>),
                size: core::mem::size_of::<*const T::State>(),
                // SAFETY: All-zero is valid for the remaining fields; `id` is set at
                // registration.
                ..unsafe { core::mem::zeroed() }
            }),
            id: FfiStatic::new(0),
            _subsys: PhantomData,
        }
    }
}

unsafe extern "C" fn init_trampoline<T: PernetSubsys>(net: *mut bindings::net) -> kernel::ffi::c_int {
    from_result(|| {
        // SAFETY: The namespace is being set up and alive for the call.
        let net_ref = unsafe { Net::from_raw(net) };
        let state = T::init(net_ref)?;
        // SAFETY: `net_generic` storage of `size` bytes exists for registered subsystems.
        unsafe {
            let slot = bindings::infinisock_net_generic(net, *T::table().id.get());
            *slot.cast::<*const T::State>() = KBox::into_raw(state);
        }
        Ok(0)
    })
}

unsafe extern "C" fn exit_trampoline<T: PernetSubsys>(net: *mut bindings::net) {
    // SAFETY: `init_trampoline` succeeded for this namespace (the kernel calls `exit` only
    // then), so the slot holds a `KBox` pointer; no user of the namespace is left.
    unsafe {
        let slot = bindings::infinisock_net_generic(net, *T::table().id.get()).cast::<*mut T::State>();
        drop(KBox::from_raw(*slot));
        *slot = core::ptr::null_mut();
    }
}

impl<T: PernetSubsys> KernelTable for PernetTable<T> {
    type Raw = bindings::pernet_operations;

    fn storage(&self) -> &FfiStatic<bindings::pernet_operations> {
        &self.ops
    }

    /// `init` runs for every existing namespace before this returns.
    unsafe fn register(&self, raw: *mut bindings::pernet_operations) -> Result {
        // SAFETY: Claimed and unregistered, so ours to write; `id` is the kernel's to
        // fill in and lives as long as the table.
        unsafe {
            (*raw).id = self.id.get();
            to_result(bindings::register_pernet_subsys(raw))
        }
    }

    /// `exit` runs for every namespace (dropping its state) before this returns.
    unsafe fn unregister(&self, raw: *mut bindings::pernet_operations) {
        // SAFETY: Registered.
        unsafe { bindings::unregister_pernet_subsys(raw) };
    }
}

/// A value formatted with `core::fmt::Display` (the protocol's), for `seq_print!`,
/// whose arguments take the kernel crate's own `Display`.
pub(crate) struct Shown<T>(pub(crate) T);

impl<T: core::fmt::Display> kernel::fmt::Display for Shown<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

/// Something shown as a read-only `/proc/net/` file.
pub(crate) trait ProcShow {
    /// Writes the file's contents for namespace `net`.
    fn show(m: &SeqFile, net: &Net);
}

unsafe extern "C" fn show_trampoline<S: ProcShow>(
    m: *mut bindings::seq_file,
    _v: *mut kernel::ffi::c_void,
) -> kernel::ffi::c_int {
    // SAFETY: The seq_file core passes a valid seq_file of a `proc_create_net_single`
    // file, which holds its namespace; our private bindings and the `kernel` crate
    // describe the same C type.
    unsafe { S::show(SeqFile::from_raw(m.cast()), Net::from_raw(bindings::infinisock_seq_file_net(m))) };
    0
}

/// A directory `/proc/net/NAME` of one namespace, removed with its files on drop.
pub(crate) struct ProcNetDir(NonNull<bindings::proc_dir_entry>);

// SAFETY: The proc entry pointer may be used and removed from any thread.
unsafe impl Send for ProcNetDir {}
// SAFETY: No method mutates through a shared reference.
unsafe impl Sync for ProcNetDir {}

impl ProcNetDir {
    /// Creates `/proc/net/NAME` in `net`.
    pub(crate) fn create(net: &Net, name: &'static CStr) -> Result<Self> {
        // SAFETY: `net` is live; `name` is a NUL-terminated static string.
        let dir = unsafe { bindings::infinisock_proc_net_mkdir(net.as_raw(), name.as_char_ptr()) };
        Ok(Self(NonNull::new(dir).ok_or(ENOMEM)?))
    }

    /// Adds a read-only file `name` whose contents `S` writes.
    pub(crate) fn add_file<S: ProcShow>(&self, name: &'static CStr) -> Result {
        // SAFETY: The directory is alive; `name` is static; the file is removed with it.
        let file = unsafe {
            bindings::proc_create_net_single(
                name.as_char_ptr(),
                0o444,
                self.0.as_ptr(),
                Some(show_trampoline::<S>),
                core::ptr::null_mut(),
            )
        };
        if file.is_null() {
            return Err(ENOMEM);
        }
        Ok(())
    }
}

impl Drop for ProcNetDir {
    fn drop(&mut self) {
        // SAFETY: Created in `create`; `proc_remove` waits for open readers to finish.
        unsafe { bindings::proc_remove(self.0.as_ptr()) };
    }
}
