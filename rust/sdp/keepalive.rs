// SPDX-License-Identifier: GPL-2.0

//! Keepalive of an established SDP connection (`SO_KEEPALIVE`, `TCP_KEEPIDLE`,
//! `TCP_KEEPINTVL`, `TCP_KEEPCNT`): a timer that probes a silent peer with a
//! zero-length RDMA WRITE, and the probe's completion. When to probe and when to give
//! up is `proto::keepalive`.

use crate::kernel_api::log::pr_info_ratelimited;
use kernel::{prelude::*, sync::Arc, time::msecs_to_jiffies, workqueue::WorkItem};

use crate::{
    netns::tunables as netns,
    kernel_api::verbs::Wc,
    proto::{keepalive::{KeepaliveOpt, Tick}, tunables::TunableId},
    sdp::endpoint::{work_id, Endpoint, EpRef, Inner, Phase},
};

/// The namespace's keepalive time: the idle time of a socket without `TCP_KEEPIDLE`.
fn default_idle(ep: EpRef<'_>) -> u32 {
    u32::try_from(netns::tunable(ep.sk.net(), TunableId::SdpKeepaliveTime)).unwrap_or(1)
}

/// The connection is established: it keeps the `SO_KEEPALIVE` its sock has (set before
/// `connect`, or inherited from the listener) and starts probing if that is on.
pub(crate) fn on_established(ep: EpRef<'_>, inner: &mut Inner) {
    inner.keepalive_on = ep.sk.keepalive();
    kick(ep, inner);
}

/// (Re)starts the timer so that it decides afresh with the current settings: called
/// when the connection is established, when `SO_KEEPALIVE` is turned on and when a
/// keepalive option changes.
pub(crate) fn kick(ep: EpRef<'_>, inner: &Inner) {
    if inner.keepalive_on && inner.phase == Phase::Connected {
        ep.cancel_timer::<{ work_id::KEEPALIVE_TIMER }>();
        // `Err`: already queued again by a concurrent firing, which decides afresh too.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::KEEPALIVE_TIMER }>(ep.clone(), 0);
    }
}

/// `SO_KEEPALIVE` turned on or off (`struct proto` `keepalive`, under the sock lock).
pub(crate) fn set_enabled(ep: EpRef<'_>, on: bool) {
    let mut inner = ep.lock();
    inner.keepalive_on = on;
    // Turning it off lets the timer run out at its next firing.
    kick(ep, &inner);
}

/// `setsockopt(SOL_TCP, TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT)`.
pub(crate) fn set_option(ep: EpRef<'_>, opt: KeepaliveOpt, value: i32) -> Result {
    let mut inner = ep.lock();
    inner.keepalive.set(opt, value).map_err(|e| e.into_error())?;
    kick(ep, &inner);
    Ok(())
}

/// `getsockopt` of the same options: the value in effect.
pub(crate) fn get_option(ep: EpRef<'_>, opt: KeepaliveOpt) -> i32 {
    let v = ep.lock().keepalive.get(opt, default_idle(ep));
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The timer fired.
impl WorkItem<{ work_id::KEEPALIVE_TIMER }> for Endpoint {
    type Pointer = Arc<Endpoint>;

    fn run(this: Arc<Endpoint>) {
        let mut guard = this.lock_reaped();
        let inner = &mut *guard;
        if !inner.keepalive_on || inner.phase != Phase::Connected {
            return;
        }
        let s = inner.keepalive.settings(default_idle(&this));
        let Some(link) = inner.link.as_mut() else { return };
        if link.stream.qp_dead {
            return;
        }
        let silent_ms = u64::try_from(link.last_heard.elapsed().as_millis()).unwrap_or(0);
        let busy = !link.tx_idle();
        let next = match inner.prober.tick(silent_ms, link.stream.probe_outstanding, busy, s) {
            Tick::Wait(ms) => ms,
            Tick::Probe(ms) => {
                if let Err(e) = link.post_probe() {
                    this.fail(inner, e);
                    return;
                }
                ms
            }
            Tick::Dead => {
                pr_info_ratelimited!("SDP: keepalive probe unanswered; connection timed out\n");
                this.fail(inner, ETIMEDOUT);
                return;
            }
        };
        let delay = msecs_to_jiffies(u32::try_from(next).unwrap_or(u32::MAX));
        // `Err`: `kick` queued it meanwhile, which decides afresh anyway.
        let _ = crate::kernel_api::work::workqueue().enqueue_delayed::<_, { work_id::KEEPALIVE_TIMER }>(this.clone(), delay);
    }
}

/// A probe completed: the peer's adapter acknowledged it, or the transport gave up.
pub(crate) fn completion(ep: EpRef<'_>, inner: &mut Inner, wc: Wc) {
    let Some(link) = inner.link.as_mut() else { return };
    link.stream.probe_outstanding = false;
    if wc.ok() {
        link.last_heard = kernel::time::Instant::now();
    } else if !wc.flushed() && inner.phase == Phase::Connected {
        // TCP's answer when its keepalive probes go unanswered.
        let err = if wc.peer_silent() { ETIMEDOUT } else { ECONNRESET };
        crate::sdp::tx::transport_failure(ep, &wc);
        ep.fail(inner, err);
    }
}
