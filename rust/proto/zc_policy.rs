// SPDX-License-Identifier: GPL-2.0

//! When a zero-copy send pays (`Documentation/plans/zero-copy.md`, decision 10): the
//! per-connection threshold above which a send is advertised (SrcAvail) instead of
//! copied through the send buffers.
//!
//! A copied byte costs `c` twice (into our send buffer, out of the peer's receive
//! buffer); an advertised one costs `p` (pinning and registering it) plus its share of
//! the advert's fixed cost `F` (the round trip and the invalidation). Zero-copy wins
//! above `F / (2c - p)` bytes. The connection measures the three as moving averages and
//! recomputes the threshold every [`ZC_PERIOD`] zero-copy and every [`COPY_PERIOD`]
//! large copied sends, clamped to the namespace's floor and ceiling, and only moves it
//! when it changes by more than a quarter, so that noise does not make it flap. A socket
//! option fixes it or turns zero-copy off, as OFED's `SDP_ZCOPY_THRESH` did.

use super::errno::{Errno, EINVAL};

/// The floor's default, OFED SDP's threshold (`sdp_zcopy_thresh_min`).
pub const THRESH_MIN_DEFAULT: u32 = 64 << 10;
/// The ceiling's default, OFED SDP's largest (`sdp_zcopy_thresh_max`).
pub const THRESH_MAX_DEFAULT: u32 = 1 << 20;
/// The smallest threshold a program may fix.
pub const THRESH_FIXED_MIN: u32 = 4096;
/// Zero-copy sends between two recomputations.
pub const ZC_PERIOD: u32 = 16;
/// Large copied sends between two recomputations.
pub const COPY_PERIOD: u32 = 256;

/// The socket's choice (`INFINISOCK_ZCOPY_THRESH`, `SDP_ZCOPY_THRESH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// 0: every send is copied.
    Off,
    /// A fixed threshold, bytes.
    Fixed(u32),
    /// -1, the default: the connection's own ([`Threshold`]); the module uses the
    /// namespace's `sdp_zcopy_thresh`, the floor, as it does not measure yet.
    Adaptive,
}

impl Setting {
    /// The option's value: 0, -1, or `THRESH_FIXED_MIN..=THRESH_MAX_DEFAULT`; anything
    /// else is `EINVAL`.
    pub fn from_option(v: i32) -> Result<Self, Errno> {
        match v {
            0 => Ok(Setting::Off),
            -1 => Ok(Setting::Adaptive),
            n if (THRESH_FIXED_MIN as i32..=THRESH_MAX_DEFAULT as i32).contains(&n) => Ok(Setting::Fixed(n as u32)),
            _ => Err(EINVAL),
        }
    }

    /// What `getsockopt` answers.
    pub fn option_value(self) -> i32 {
        match self {
            Setting::Off => 0,
            Setting::Fixed(n) => n as i32,
            Setting::Adaptive => -1,
        }
    }
}

/// A moving average with weight 1/8, integer; the first sample sets it.
#[derive(Clone, Copy, Debug, Default)]
struct Ewma(Option<u64>);

impl Ewma {
    fn add(&mut self, sample: u64) {
        self.0 = Some(match self.0 {
            None => sample,
            Some(avg) => avg - avg / 8 + sample / 8,
        });
    }
}

/// Costs per byte are kept in 1/1024 ns, so that a copy's fraction of a nanosecond
/// per byte still counts.
const PER_BYTE_SCALE: u64 = 1024;

fn per_byte(ns: u64, bytes: u64) -> u64 {
    ns.saturating_mul(PER_BYTE_SCALE) / bytes.max(1)
}

/// One connection's threshold. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Threshold {
    setting: Setting,
    floor: u32,
    ceiling: u32,
    /// `F`: an advert's fixed cost, ns.
    fixed_ns: Ewma,
    /// `c`: copying a byte once, 1/1024 ns.
    copy: Ewma,
    /// `p`: pinning and registering a byte, 1/1024 ns.
    pin: Ewma,
    current: u32,
    zc_since: u32,
    copies_since: u32,
}

impl Threshold {
    /// A connection's threshold under `setting`, within the namespace's `floor` and
    /// `ceiling` (the ceiling is at least the floor). An adaptive one starts at the
    /// floor.
    pub fn new(setting: Setting, floor: u32, ceiling: u32) -> Self {
        Self {
            setting,
            floor,
            ceiling: ceiling.max(floor),
            fixed_ns: Ewma::default(),
            copy: Ewma::default(),
            pin: Ewma::default(),
            current: floor,
            zc_since: 0,
            copies_since: 0,
        }
    }

    /// Sends of at least this many bytes go zero-copy; `None`: none do.
    pub fn value(&self) -> Option<u32> {
        match self.setting {
            Setting::Off => None,
            Setting::Fixed(n) => Some(n),
            Setting::Adaptive => Some(self.current),
        }
    }

    /// The program changed its choice.
    pub fn set(&mut self, setting: Setting) {
        self.setting = setting;
    }

    /// A zero-copy send of `bytes` took `pin_ns` to pin and register, and `fixed_ns`
    /// for the rest (advert, READ's round trip, invalidation).
    pub fn record_zcopy(&mut self, bytes: u64, pin_ns: u64, fixed_ns: u64) {
        self.pin.add(per_byte(pin_ns, bytes));
        self.fixed_ns.add(fixed_ns);
        self.zc_since += 1;
        if self.zc_since >= ZC_PERIOD {
            self.recompute();
        }
    }

    /// A copied send of `bytes` (at least the floor's worth) took `ns` to copy in.
    pub fn record_copy(&mut self, bytes: u64, ns: u64) {
        self.copy.add(per_byte(ns, bytes));
        self.copies_since += 1;
        if self.copies_since >= COPY_PERIOD {
            self.recompute();
        }
    }

    /// `F / (2c - p)` in bytes, clamped; the ceiling when zero-copy never pays, `None`
    /// until each cost has been measured once.
    pub fn crossover(&self) -> Option<u32> {
        let (f, c, p) = (self.fixed_ns.0?, self.copy.0?, self.pin.0?);
        let saved = (2 * c).saturating_sub(p);
        if saved == 0 {
            return Some(self.ceiling);
        }
        let bytes = f.saturating_mul(PER_BYTE_SCALE) / saved;
        Some(bytes.clamp(u64::from(self.floor), u64::from(self.ceiling)) as u32)
    }

    fn recompute(&mut self) {
        self.zc_since = 0;
        self.copies_since = 0;
        let Some(t) = self.crossover() else { return };
        // Hysteresis: a quarter either way.
        if t.abs_diff(self.current) > self.current / 4 {
            self.current = t;
        }
    }
}
