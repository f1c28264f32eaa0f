// SPDX-License-Identifier: GPL-2.0

//! The RDMA devices the module can use, tracked as ib_core adds and removes them, and
//! listed in `/proc/net/infinisock/devices` (each namespace sees the ports it can use).

use kernel::{prelude::*, seq_file::SeqFile, seq_print};

use crate::{
    kernel_api::{ffi_static::Registration, ib::{IbClient, IbClientTable, IbDevice}, net::ProcShow},
    proto::ib_port::{link_layer_name, mtu_bytes, port_state_name},
};

crate::kernel_api::global::module_mutex! {
    /// Readied by `InfiniSock::init` before the ib client is registered.
    pub(crate) static DEVICES: KVec<IbDevice> = KVec::new();
}

/// The module's `struct ib_client`.
pub(crate) struct DeviceTracker;

/// Its registration table.
static CLIENT: IbClientTable = IbClientTable::new::<DeviceTracker>(c"infinisock");

impl IbClient for DeviceTracker {
    fn add(dev: IbDevice) -> Result {
        pr_info!("rdma device {} added ({} port(s))\n", dev.name(), dev.ports().count());
        DEVICES.lock().push(dev, GFP_KERNEL)?;
        Ok(())
    }

    fn remove(dev: &IbDevice) {
        pr_info!("rdma device {} removed\n", dev.name());
        let mut devices = DEVICES.lock();
        devices.retain(|d| !d.is(dev));
        // Under the list's lock: no queue is made for the device from now on.
        crate::link::recv_pools::device_removed(dev);
    }
}

/// The ib client registration, and the device list's storage freed after it: the list
/// is a static that outlives the module's other state, so its buffer must be released
/// explicitly once the last `remove` has run.
pub(crate) struct Tracking {
    _client: Registration<IbClientTable>,
    _list: FreeListOnDrop,
    _queues: crate::link::recv_pools::FreeQueuesOnDrop,
}

struct FreeListOnDrop;

impl Drop for FreeListOnDrop {
    fn drop(&mut self) {
        *DEVICES.lock() = KVec::new();
    }
}

impl Tracking {
    /// Starts tracking: `add` runs for every existing device before this returns.
    pub(crate) fn start() -> Result<Self> {
        Ok(Self { _client: Registration::new(&CLIENT)?, _list: FreeListOnDrop, _queues: crate::link::recv_pools::FreeQueuesOnDrop })
    }
}

/// `/proc/net/infinisock/devices`: one line per device port.
pub(crate) struct DeviceList;

impl ProcShow for DeviceList {
    fn show(m: &SeqFile, net: &crate::kernel_api::net::Net) {
        seq_print!(m, "device port state active_mtu link_layer\n");
        for dev in DEVICES.lock().iter() {
            // Only what the reader's namespace can use: another container's devices
            // are none of its business.
            for port in dev.ports().filter(|&p| dev.port_usable_in(p, net)) {
                match dev.port_info(port) {
                    Ok(p) => seq_print!(
                        m,
                        "{} {} {} {} {}\n",
                        dev.name(),
                        port,
                        port_state_name(p.state),
                        mtu_bytes(p.active_mtu),
                        link_layer_name(p.link_layer)
                    ),
                    Err(e) => seq_print!(m, "{} {} error {}\n", dev.name(), port, e.to_errno()),
                }
            }
        }
    }
}
