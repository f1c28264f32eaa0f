// SPDX-License-Identifier: GPL-2.0

//! Keepalive (`SO_KEEPALIVE`) of an SDP connection: when to probe an idle peer and
//! when to give up on it.
//!
//! The options and their meaning are TCP's (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
//! `TCP_KEEPCNT`). What differs is the probe: a zero-length RDMA WRITE, which the
//! peer's adapter acknowledges without consuming a receive buffer or a credit and
//! without waking the peer's software (as OFED SDP does it). An RC queue pair retries
//! the probe itself and reports a peer that never answers as a failed work request;
//! the module then ends the connection with `ETIMEDOUT`, as TCP does when its probes
//! go unanswered. The probe counter below is the second line: a probe still
//! outstanding after `TCP_KEEPCNT` intervals also ends it.

use super::errno::{Errno, EINVAL};

/// TCP's limits (`MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL`, `MAX_TCP_KEEPCNT`).
pub const MAX_KEEPIDLE: u32 = 32767;
/// See [`MAX_KEEPIDLE`].
pub const MAX_KEEPINTVL: u32 = 32767;
/// See [`MAX_KEEPIDLE`].
pub const MAX_KEEPCNT: u32 = 127;
/// TCP's defaults for the interval between probes and their number.
pub const DEFAULT_KEEPINTVL: u32 = 75;
/// See [`DEFAULT_KEEPINTVL`].
pub const DEFAULT_KEEPCNT: u32 = 9;

/// Which keepalive option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepaliveOpt {
    /// `TCP_KEEPIDLE`: seconds of silence from the peer before the first probe.
    Idle,
    /// `TCP_KEEPINTVL`: seconds between probes.
    Interval,
    /// `TCP_KEEPCNT`: unanswered probe intervals before the peer is declared dead.
    Count,
}

/// A socket's keepalive settings; `None` means the default (for the idle time, the
/// namespace's `net.infinisock.sdp_keepalive_time`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepaliveConfig {
    idle: Option<u32>,
    interval: Option<u32>,
    count: Option<u32>,
}

impl KeepaliveConfig {
    /// Sets an option as `setsockopt` does: values outside TCP's bounds are `EINVAL`.
    pub fn set(&mut self, opt: KeepaliveOpt, value: i32) -> Result<(), Errno> {
        let max = match opt {
            KeepaliveOpt::Idle => MAX_KEEPIDLE,
            KeepaliveOpt::Interval => MAX_KEEPINTVL,
            KeepaliveOpt::Count => MAX_KEEPCNT,
        };
        let v = u32::try_from(value).ok().filter(|v| (1..=max).contains(v)).ok_or(EINVAL)?;
        match opt {
            KeepaliveOpt::Idle => self.idle = Some(v),
            KeepaliveOpt::Interval => self.interval = Some(v),
            KeepaliveOpt::Count => self.count = Some(v),
        }
        Ok(())
    }

    /// The value in effect, as `getsockopt` reports it (`default_idle`: the
    /// namespace's keepalive time).
    pub fn get(&self, opt: KeepaliveOpt, default_idle: u32) -> u32 {
        match opt {
            KeepaliveOpt::Idle => self.idle.unwrap_or(default_idle),
            KeepaliveOpt::Interval => self.interval.unwrap_or(DEFAULT_KEEPINTVL),
            KeepaliveOpt::Count => self.count.unwrap_or(DEFAULT_KEEPCNT),
        }
    }

    /// Every value in effect (`default_idle`: the namespace's keepalive time).
    pub fn settings(&self, default_idle: u32) -> Settings {
        Settings {
            idle: self.get(KeepaliveOpt::Idle, default_idle),
            interval: self.get(KeepaliveOpt::Interval, default_idle),
            count: self.get(KeepaliveOpt::Count, default_idle),
        }
    }
}

/// The settings in effect for one decision, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Silence before the first probe.
    pub idle: u32,
    /// Between probes.
    pub interval: u32,
    /// Intervals a probe may stay unanswered.
    pub count: u32,
}

/// What the keepalive timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing to do yet: fire again after this many milliseconds.
    Wait(u64),
    /// Post a probe, then fire again after this many milliseconds.
    Probe(u64),
    /// The peer did not answer: end the connection (`ETIMEDOUT`).
    Dead,
}

/// The timer's memory between two firings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prober {
    /// Intervals a probe has been outstanding (TCP's `probes_out`).
    unanswered: u32,
}

impl Prober {
    /// Decides what to do, given how long the peer has been silent (no message
    /// received and no probe acknowledged for `silent_ms`), whether a probe is outstanding,
    /// whether other sends are in flight (the transport watches those itself, as TCP's
    /// retransmission timer does), and the settings.
    pub fn tick(&mut self, silent_ms: u64, probe_outstanding: bool, sends_in_flight: bool, s: Settings) -> Tick {
        let idle_ms = u64::from(s.idle.max(1)) * 1000;
        let interval_ms = u64::from(s.interval.max(1)) * 1000;
        if probe_outstanding {
            self.unanswered = self.unanswered.saturating_add(1);
            return if self.unanswered >= s.count.max(1) { Tick::Dead } else { Tick::Wait(interval_ms) };
        }
        self.unanswered = 0;
        if sends_in_flight {
            return Tick::Wait(idle_ms);
        }
        if silent_ms < idle_ms {
            return Tick::Wait(idle_ms - silent_ms);
        }
        Tick::Probe(interval_ms)
    }
}
