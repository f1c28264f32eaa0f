// SPDX-License-Identifier: GPL-2.0

//! Log lines that a peer or a program can trigger at will, rate-limited per call site
//! as C's `pr_warn_ratelimited()` is (the limiter is `proto::ratelimit`).

/// Milliseconds of the monotonic clock, for the limiter.
pub(crate) fn now_ms() -> u64 {
    use kernel::time::ClockSource;
    // Never negative (`ClockSource`'s contract).
    (kernel::time::Monotonic::ktime_get() / 1_000_000) as u64
}

/// `pr_<level>!` through a limiter of its own.
macro_rules! ratelimited {
    ($pr:ident, $($arg:tt)*) => {{
        static LIMIT: $crate::proto::ratelimit::RateLimit = $crate::proto::ratelimit::RateLimit::new();
        if let $crate::proto::ratelimit::Verdict::Print { suppressed } = LIMIT.check($crate::kernel_api::log::now_ms()) {
            if suppressed > 0 {
                kernel::$pr!("{} similar messages suppressed\n", suppressed);
            }
            kernel::$pr!($($arg)*);
        }
    }};
}

/// `pr_warn!`, at most 10 lines per 5 s from one call site.
macro_rules! pr_warn_ratelimited {
    ($($arg:tt)*) => { $crate::kernel_api::log::ratelimited!(pr_warn, $($arg)*) };
}

/// `pr_info!`, at most 10 lines per 5 s from one call site.
macro_rules! pr_info_ratelimited {
    ($($arg:tt)*) => { $crate::kernel_api::log::ratelimited!(pr_info, $($arg)*) };
}

pub(crate) use {pr_info_ratelimited, pr_warn_ratelimited, ratelimited};
