// SPDX-License-Identifier: GPL-2.0

//! The shared receive queues of the module's devices (memory model, step 3a): one per
//! device and buffer size, made for the first stream connection on the device that
//! asks for one (`net.infinisock.sdp_srq`), dropped when the last queue pair on it
//! is gone or its device is removed.
//!
//! A queue is made only while its device is in the device list, and under that list's
//! lock: a device being removed gets none, so nothing here holds it once the
//! module's `remove` has run (its connections, each holding the queue, go as rdma_cm
//! removes them).

use kernel::{prelude::*, sync::Arc};

use crate::{
    kernel_api::{cm::CmIdRef, ib::DeviceRef, srq::SharedRecvQueue},
    link::devices::DEVICES,
};

crate::kernel_api::global::module_mutex! {
    /// Readied by `InfiniSock::init`; locked after `DEVICES` when both are.
    pub(crate) static QUEUES: KVec<Arc<SharedRecvQueue>> = KVec::new();
}

/// The shared receive queue for buffers of `buffer_size` bytes on the device `id` is
/// bound to, made now if there is none. `ENODEV` if the device is going away.
pub(crate) fn for_id(id: &CmIdRef, buffer_size: usize) -> Result<Arc<SharedRecvQueue>> {
    let dev = Arc::new(DeviceRef::of_cm(id)?, GFP_KERNEL)?;
    let devices = DEVICES.lock();
    if !devices.iter().any(|d| d.is(&dev)) {
        return Err(ENODEV);
    }
    let mut queues = QUEUES.lock();
    // A retired queue takes no new queue pairs (`SharedRecvQueue::suspect`).
    queues.retain(|q| !q.retired());
    let found = queues.iter().find(|q| q.dev().is(&dev) && q.buffer_size() == buffer_size).cloned();
    let q = match found {
        Some(q) => q,
        None => {
            let q = SharedRecvQueue::new(dev, buffer_size, crate::link::memory::shared_queue_room)?;
            queues.push(q.clone(), GFP_KERNEL)?;
            q
        }
    };
    // Counted under the lock, so that `left` cannot drop it from the list meanwhile.
    q.join();
    Ok(q)
}

/// A queue pair left `queue` (or never joined it, if its creation failed): the queue
/// goes once none is left on it (with the last reference, which its caller holds).
pub(crate) fn left(queue: &Arc<SharedRecvQueue>) {
    let mut queues = QUEUES.lock();
    if queue.users() == 0 {
        queues.retain(|q| !Arc::ptr_eq(q, queue));
        // With no grant left it would not come back; stopped now, so that nothing
        // runs after the module's workqueue is gone.
        queue.stop_timers();
    }
}

/// The device `dev` is being removed: its queues are dropped from the list (each goes
/// with the last connection on it).
pub(crate) fn device_removed(dev: &crate::kernel_api::ib::IbDevice) {
    QUEUES.lock().retain(|q| !q.dev().is(dev));
}

/// Drops what is left at module exit (nothing, once every connection is gone).
pub(crate) struct FreeQueuesOnDrop;

impl Drop for FreeQueuesOnDrop {
    fn drop(&mut self) {
        *QUEUES.lock() = KVec::new();
    }
}
