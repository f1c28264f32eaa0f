// SPDX-License-Identifier: GPL-2.0

//! ib_core devices: the `struct ib_device` wrapper and the `struct ib_client` through
//! which ib_core tells the module about devices as they come and go.

use core::ptr::NonNull;

use kernel::{error::to_result, prelude::*};

use crate::{kernel_api::{bindings, ffi_static::{FfiStatic, KernelTable}}};

/// An RDMA device known to ib_core.
///
/// # Invariants
///
/// The device is valid from the client's `add` callback for it until its `remove`
/// callback returns, or while a [`DeviceRef`] holds it; an `IbDevice` is never used
/// outside that.
pub(crate) struct IbDevice(NonNull<bindings::ib_device>);

// SAFETY: ib_device methods may be called from any thread; ib_core serialises removal
// against the client's own callbacks.
unsafe impl Send for IbDevice {}
// SAFETY: See above; no method mutates through `&self`.
unsafe impl Sync for IbDevice {}

/// A counted reference to the device an rdma_cm id is bound to: the device does not
/// finish unregistering while one exists, so the verbs objects made on it stay valid
/// whatever order the id and they are destroyed in.
///
/// # Invariants
///
/// `0` holds one reference (`ib_device_try_get`), dropped in `drop`.
pub(crate) struct DeviceRef(IbDevice);

impl DeviceRef {
    /// The device `id` is bound to; `ENODEV` if none (or it is going away).
    pub(crate) fn of_cm(id: &crate::kernel_api::cm::CmIdRef) -> Result<Self> {
        // SAFETY: Live id (`CmIdRef` invariant); the helper takes a reference or fails.
        let dev = unsafe { bindings::infinisock_cm_device_get(id.as_raw()) };
        NonNull::new(dev).map(|d| Self(IbDevice(d))).ok_or(ENODEV)
    }
}

impl core::ops::Deref for DeviceRef {
    type Target = IbDevice;

    fn deref(&self) -> &IbDevice {
        &self.0
    }
}

impl Drop for DeviceRef {
    fn drop(&mut self) {
        // SAFETY: The reference taken in `of_cm` (type invariant), dropped once.
        unsafe { bindings::infinisock_device_put(self.0.as_raw()) };
    }
}

/// `IB_DEVICE_NAME_MAX`.
const DEVICE_NAME_LEN: usize = 64;

/// A copy of a device's name, taken at one moment.
pub(crate) struct DeviceName([u8; DEVICE_NAME_LEN]);

impl kernel::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        let len = self.0.iter().position(|&c| c == 0).unwrap_or(DEVICE_NAME_LEN);
        // Device names are ASCII (ib_core allows no other); anything else prints as '?'.
        for &c in &self.0[..len] {
            f.write_char(if c.is_ascii_graphic() { c as char } else { '?' })?;
        }
        Ok(())
    }
}

/// What a port reports about itself (`ib_query_port`).
pub(crate) struct PortInfo {
    /// `enum ib_port_state`.
    pub(crate) state: u32,
    /// `enum ib_mtu` of the active MTU.
    pub(crate) active_mtu: u32,
    /// `enum rdma_link_layer`.
    pub(crate) link_layer: u32,
}

impl IbDevice {
    pub(crate) fn as_raw(&self) -> *mut bindings::ib_device {
        self.0.as_ptr()
    }

    /// Whether `self` is the device behind `other`.
    pub(crate) fn is(&self, other: &IbDevice) -> bool {
        self.0 == other.0
    }

    /// The device's current name, copied: it can be renamed while registered.
    pub(crate) fn name(&self) -> DeviceName {
        let mut name = DeviceName([0; DEVICE_NAME_LEN]);
        // SAFETY: The device is valid (type invariant); the helper writes at most
        // `DEVICE_NAME_LEN` bytes, NUL-terminated, into our buffer.
        unsafe { bindings::infinisock_ib_device_name(self.0.as_ptr(), name.0.as_mut_ptr().cast(), DEVICE_NAME_LEN) };
        name
    }

    /// Whether a program in `net` can use `port`: the device is visible there, and a
    /// RoCE or iWARP port's network device is in `net` (rdma_cm resolves addresses
    /// through it).
    pub(crate) fn port_usable_in(&self, port: u32, net: &crate::kernel_api::net::Net) -> bool {
        // SAFETY: The device is valid (type invariant) and `net` is live.
        unsafe { bindings::infinisock_ib_port_usable_in(self.0.as_ptr(), port, net.as_raw()) }
    }

    /// The port numbers of the device.
    pub(crate) fn ports(&self) -> core::ops::RangeInclusive<u32> {
        // SAFETY: The device is valid (type invariant).
        unsafe {
            bindings::infinisock_ib_start_port(self.0.as_ptr())..=bindings::infinisock_ib_end_port(self.0.as_ptr())
        }
    }

    /// Queries port `port`.
    pub(crate) fn port_info(&self, port: u32) -> Result<PortInfo> {
        let mut attr = bindings::ib_port_attr::default();
        // SAFETY: The device is valid; `port` is in its range (checked by ib_core, which
        // answers EINVAL otherwise); `attr` is a valid out-pointer.
        to_result(unsafe { bindings::ib_query_port(self.0.as_ptr(), port, &mut attr) })?;
        // SAFETY: As above.
        let link_layer = unsafe { bindings::rdma_port_get_link_layer(self.0.as_ptr(), port) };
        Ok(PortInfo { state: attr.state, active_mtu: attr.active_mtu, link_layer })
    }
}

/// A module's reaction to RDMA devices appearing and disappearing.
pub(crate) trait IbClient {
    /// A device was registered (or existed when the client was registered).
    fn add(dev: IbDevice) -> Result;

    /// `dev` is being unregistered; after this returns the module must not touch it.
    fn remove(dev: &IbDevice);
}

/// A `struct ib_client` in a static.
pub(crate) struct IbClientTable(FfiStatic<bindings::ib_client>);

impl IbClientTable {
    /// The table of client `C`, named `name`.
    pub(crate) const fn new<C: IbClient>(name: &'static CStr) -> Self {
        Self(FfiStatic::new(bindings::ib_client {
            name: kernel::str::as_char_ptr_in_const_context(name),
            add: Some(add_trampoline::<C>),
            remove: Some(remove_trampoline::<C>),
            // SAFETY: All-zero is valid for the remaining fields before registration.
            ..unsafe { core::mem::zeroed() }
        }))
    }
}

unsafe extern "C" fn add_trampoline<C: IbClient>(dev: *mut bindings::ib_device) -> kernel::ffi::c_int {
    let Some(dev) = NonNull::new(dev) else { return EINVAL.to_errno() };
    // INVARIANT: ib_core calls `add` for a registered device; `remove` will follow.
    match C::add(IbDevice(dev)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn remove_trampoline<C: IbClient>(dev: *mut bindings::ib_device, _data: *mut kernel::ffi::c_void) {
    if let Some(dev) = NonNull::new(dev) {
        // INVARIANT: The device is still valid during `remove`.
        C::remove(&IbDevice(dev));
    }
}

impl KernelTable for IbClientTable {
    type Raw = bindings::ib_client;

    fn storage(&self) -> &FfiStatic<bindings::ib_client> {
        &self.0
    }

    /// `add` runs for every existing device before this returns.
    unsafe fn register(&self, raw: *mut bindings::ib_client) -> Result {
        // SAFETY: The table lives for the module's lifetime.
        to_result(unsafe { bindings::ib_register_client(raw) })
    }

    /// `remove` runs for every device before this returns.
    unsafe fn unregister(&self, raw: *mut bindings::ib_client) {
        // SAFETY: Registered.
        unsafe { bindings::ib_unregister_client(raw) };
    }
}
