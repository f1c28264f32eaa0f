// SPDX-License-Identifier: GPL-2.0

//! Rate limiting of log lines that a peer or a program can trigger at will: at most
//! [`BURST`] lines per [`INTERVAL_MS`] from one call site, as the kernel's
//! `printk_ratelimited()` allows by default (10 per 5 s). A hostile peer that sends
//! malformed messages in a loop must not be able to flood the kernel log.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The length of one window.
pub const INTERVAL_MS: u64 = 5000;
/// Lines printed per window.
pub const BURST: u32 = 10;

/// What to do with one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Print it; `suppressed` lines were dropped since the last window that printed.
    Print { suppressed: u32 },
    /// Drop it.
    Suppress,
}

/// One call site's window. Lock-free: callers race only for which of them opens a new
/// window, and a lost race costs at most a line or two of the burst.
pub struct RateLimit {
    /// When the current window began (ms, never 0 once a window exists).
    window_start: AtomicU64,
    /// Lines asked for in the current window.
    asked: AtomicU32,
    /// Lines dropped since the last one printed.
    suppressed: AtomicU32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimit {
    /// A limiter with no window yet: the first line prints.
    pub const fn new() -> Self {
        Self { window_start: AtomicU64::new(0), asked: AtomicU32::new(0), suppressed: AtomicU32::new(0) }
    }

    /// Whether a line asked for at `now_ms` (a monotonic clock) is printed.
    pub fn check(&self, now_ms: u64) -> Verdict {
        let start = self.window_start.load(Ordering::Acquire);
        if start == 0 || now_ms.saturating_sub(start) >= INTERVAL_MS {
            // 0 stands for "no window": a clock that reads 0 starts one at 1 ms.
            let opened = self
                .window_start
                .compare_exchange(start, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if opened {
                self.asked.store(1, Ordering::Release);
                return Verdict::Print { suppressed: self.suppressed.swap(0, Ordering::AcqRel) };
            }
        }
        if self.asked.fetch_add(1, Ordering::AcqRel) < BURST {
            return Verdict::Print { suppressed: 0 };
        }
        // Saturates rather than wraps under a flood that outlasts u32.
        let _ = self.suppressed.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1));
        Verdict::Suppress
    }
}
