// SPDX-License-Identifier: GPL-2.0

//! When a zero-copy send pays (`Documentation/plans/zero-copy.md`, decision 10): which
//! blocking writes are advertised (SrcAvail) instead of copied through the send
//! buffers.
//!
//! A program that writes one size only (most bulk senders) gives its adverts one size,
//! and no estimate of an advert's fixed cost apart from its per-byte cost can be made
//! from them. So the choice compares what matters at the sizes the program uses: for
//! each power-of-two size class between the namespace's floor and ceiling, the time
//! per byte of its calls (entry to return) when advertised and when copied, as moving
//! averages. A class advertises when that is cheaper per byte by an eighth (pinning
//! holds memory: a tie copies); the mode not chosen is tried once every
//! [`PROBE_PERIOD`] calls of the class, so that neither measurement goes stale. Below
//! the floor every write is copied, from the ceiling on every one advertised. The
//! threshold reported is the smallest size from which every class up to the ceiling
//! advertises. A socket option fixes it or turns zero-copy off, as OFED's
//! `SDP_ZCOPY_THRESH` did.

use super::errno::{Errno, EINVAL};

/// The floor's default, OFED SDP's threshold (`sdp_zcopy_thresh_min`).
pub const THRESH_MIN_DEFAULT: u32 = 64 << 10;
/// The ceiling's default, OFED SDP's largest (`sdp_zcopy_thresh_max`).
pub const THRESH_MAX_DEFAULT: u32 = 1 << 20;
/// The smallest threshold a program may fix.
pub const THRESH_FIXED_MIN: u32 = 4096;
/// Calls of a class between two tries of the mode not chosen.
pub const PROBE_PERIOD: u32 = 32;
/// The smallest size class: 4 KiB ([`THRESH_FIXED_MIN`]).
const CLASS_MIN_SHIFT: u32 = 12;
/// Size classes: 4 KiB to 1 MiB and beyond ([`THRESH_MAX_DEFAULT`]).
const CLASSES: usize = 9;

/// The socket's choice (`SDP_ZCOPY_THRESH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// 0: every send is copied.
    Off,
    /// A fixed threshold, bytes.
    Fixed(u32),
    /// -1, the default: the connection's own choice ([`Threshold`]).
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

/// A moving average with weight 1/8, integer. It starts from the lesser of its first
/// two samples and counts as a measure only from the second: a connection's first
/// advert pays for growing the region pool and faulting in pages, and one such cold
/// sample taken as the average would take some twenty probes (hundreds of calls) to
/// wash out.
#[derive(Clone, Copy, Debug, Default)]
struct Ewma {
    avg: u64,
    samples: u8,
}

impl Ewma {
    fn add(&mut self, sample: u64) {
        self.avg = match self.samples {
            0 => sample,
            1 => self.avg.min(sample),
            _ => self.avg - self.avg / 8 + sample / 8,
        };
        self.samples = self.samples.saturating_add(1);
    }

    /// The average, once two samples were taken.
    fn value(&self) -> Option<u64> {
        (self.samples >= 2).then_some(self.avg)
    }
}

/// Time per byte is kept in 1/1024 ns, so that a copy's fraction of a nanosecond per
/// byte still counts.
const PER_BYTE_SCALE: u64 = 1024;

fn per_byte(ns: u64, bytes: u64) -> u64 {
    ns.saturating_mul(PER_BYTE_SCALE) / bytes.max(1)
}

/// How a write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Advertised (SrcAvail), pieces of at least the floor.
    Advertise,
    /// Copied through the send buffers.
    Copy,
}

impl Mode {
    fn other(self) -> Self {
        match self {
            Mode::Advertise => Mode::Copy,
            Mode::Copy => Mode::Advertise,
        }
    }
}

/// One size class's measurements.
#[derive(Clone, Copy, Debug, Default)]
struct Class {
    /// Time per byte of its advertised calls, 1/1024 ns.
    advertised: Ewma,
    /// Time per byte of its copied calls, 1/1024 ns.
    copied: Ewma,
    /// Calls since the mode not preferred was last tried.
    since_probe: u32,
}

impl Class {
    /// What the measurements say; an unmeasured mode is tried first (advertising, so
    /// that an adaptive socket starts at the floor).
    fn preferred(&self) -> Mode {
        match (self.advertised.value(), self.copied.value()) {
            (None, _) => Mode::Advertise,
            (Some(_), None) => Mode::Copy,
            // Advertising wins by an eighth, or not at all.
            (Some(a), Some(c)) if a.saturating_mul(8) < c.saturating_mul(7) => Mode::Advertise,
            _ => Mode::Copy,
        }
    }

    /// Whether both modes were measured: then the other one is only probed.
    fn measured(&self) -> bool {
        self.advertised.value().is_some() && self.copied.value().is_some()
    }
}

/// The size class of a write of `bytes` (at least 4 KiB: below, class 0).
fn class_of(bytes: u64) -> usize {
    let log = 63 - bytes.max(1).leading_zeros();
    (log.saturating_sub(CLASS_MIN_SHIFT) as usize).min(CLASSES - 1)
}

/// The smallest size of class `k`.
fn class_start(k: usize) -> u64 {
    1u64 << (CLASS_MIN_SHIFT as usize + k)
}

/// One connection's choice. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Threshold {
    setting: Setting,
    floor: u32,
    ceiling: u32,
    classes: [Class; CLASSES],
}

impl Threshold {
    /// A connection's choice under `setting`, within the namespace's `floor` and
    /// `ceiling` (the ceiling is at least the floor).
    pub fn new(setting: Setting, floor: u32, ceiling: u32) -> Self {
        let mut t = Self { setting, floor, ceiling, classes: [Class::default(); CLASSES] };
        t.set_bounds(floor, ceiling);
        t
    }

    /// The program changed its choice.
    pub fn set(&mut self, setting: Setting) {
        self.setting = setting;
    }

    /// The namespace's floor and ceiling, read at each write (the ceiling is at least
    /// the floor).
    pub fn set_bounds(&mut self, floor: u32, ceiling: u32) {
        self.floor = floor;
        self.ceiling = ceiling.max(floor);
    }

    /// How a blocking write of `bytes` goes; an adaptive socket counts it as a call of
    /// its class (tries the mode not preferred once every [`PROBE_PERIOD`]).
    pub fn choose(&mut self, bytes: u64) -> Mode {
        let min = match self.setting {
            Setting::Off => return Mode::Copy,
            Setting::Fixed(n) => return if bytes >= u64::from(n) { Mode::Advertise } else { Mode::Copy },
            Setting::Adaptive => u64::from(self.floor),
        };
        if bytes < min {
            return Mode::Copy;
        }
        if bytes >= u64::from(self.ceiling) {
            return Mode::Advertise;
        }
        let class = &mut self.classes[class_of(bytes)];
        let preferred = class.preferred();
        if !class.measured() {
            return preferred;
        }
        class.since_probe += 1;
        if class.since_probe >= PROBE_PERIOD {
            class.since_probe = 0;
            return preferred.other();
        }
        preferred
    }

    /// A blocking write of `bytes` chosen as `mode` took `ns` from entry to return.
    /// The caller records whole calls only (not one that stopped early or faulted in
    /// pages); an advertised call that fell back to copying counts as advertised.
    pub fn record(&mut self, mode: Mode, bytes: u64, ns: u64) {
        if self.setting != Setting::Adaptive || bytes < u64::from(self.floor) || bytes >= u64::from(self.ceiling) {
            return;
        }
        let class = &mut self.classes[class_of(bytes)];
        match mode {
            Mode::Advertise => class.advertised.add(per_byte(ns, bytes)),
            Mode::Copy => class.copied.add(per_byte(ns, bytes)),
        }
    }

    /// [`Self::value`] within the namespace's `floor` and `ceiling` as they are now
    /// (what the administrator's tools show; the bounds a write sets are left alone).
    pub fn value_within(&self, floor: u32, ceiling: u32) -> Option<u32> {
        let mut now = *self;
        now.set_bounds(floor, ceiling);
        now.value()
    }

    /// Writes of at least this many bytes are advertised (but for the probes); `None`:
    /// none are. An adaptive socket's is the smallest class start, from the floor up,
    /// from which every class below the ceiling prefers advertising.
    pub fn value(&self) -> Option<u32> {
        let floor = match self.setting {
            Setting::Off => return None,
            Setting::Fixed(n) => return Some(n),
            Setting::Adaptive => u64::from(self.floor),
        };
        let ceiling = u64::from(self.ceiling);
        let mut from = ceiling;
        // Downward from the class below the ceiling, while each advertises.
        for k in (0..CLASSES).rev() {
            let (start, end) = (class_start(k), if k + 1 == CLASSES { u64::MAX } else { class_start(k + 1) });
            if start >= ceiling || end <= floor {
                continue;
            }
            if self.classes[k].preferred() != Mode::Advertise {
                break;
            }
            from = start.max(floor);
        }
        Some(u32::try_from(from).unwrap_or(u32::MAX))
    }
}
