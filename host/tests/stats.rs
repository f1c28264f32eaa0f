// SPDX-License-Identifier: GPL-2.0
//! The namespace counters: one name per counter, in the order of their numbers (the
//! module indexes its per-CPU array by them), and the reason a failed connection
//! attempt is counted under.

use infinisock_proto::{
    errno::{EADDRNOTAVAIL, ECONNREFUSED, ECONNRESET, EHOSTUNREACH, ENETUNREACH, ENOBUFS, ENODEV, ENOMEM, ETIMEDOUT},
    hybrid::Fallback,
    stats::{value_names, Counter, PATH_NAMES},
};

#[test]
fn every_counter_in_its_place_with_its_own_name() {
    for (i, c) in Counter::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i, "{c:?} out of place");
        assert!(!c.name().is_empty() && c.name().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
    let mut names: Vec<_> = Counter::ALL.iter().map(|c| c.name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Counter::COUNT);
}

#[test]
fn failed_connects_by_reason_as_connect_reports_them() {
    assert_eq!(Counter::of_connect_failure(ECONNREFUSED), Counter::ConnectRefused);
    for e in [ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENODEV] {
        assert_eq!(Counter::of_connect_failure(e), Counter::ConnectUnreachable);
    }
    assert_eq!(Counter::of_connect_failure(ETIMEDOUT), Counter::ConnectTimeout);
    assert_eq!(Counter::of_connect_failure(ENOBUFS), Counter::ConnectNoResources);
    assert_eq!(Counter::of_connect_failure(ENOMEM), Counter::ConnectNoResources);
    assert_eq!(Counter::of_connect_failure(ECONNRESET), Counter::ConnectOther);
}

/// The uapi header's `INFINISOCK_STAT_*` and the netlink tool's names follow the
/// values' order: the module sends value i as attribute
/// `INFINISOCK_STAT_ACTIVE_OPENS + i`; the paths follow `Fallback::ALL`.
#[test]
fn uapi_numbers_and_tool_names_follow_the_counters() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let header = std::fs::read_to_string(format!("{root}/include/uapi/linux/infinisock.h")).unwrap();
    let from = header.find("INFINISOCK_STAT_ACTIVE_OPENS,").expect("the stats enum");
    let uapi: Vec<String> = header[from..]
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("__INFINISOCK_STAT_MAX"))
        .filter(|l| !l.starts_with("/*"))
        .map(|l| l.trim_end_matches(',').trim_start_matches("INFINISOCK_STAT_").to_ascii_lowercase())
        .collect();
    let ours: Vec<&str> = value_names().collect();
    assert_eq!(uapi, ours);
    let tool = std::fs::read_to_string(format!("{root}/tools/stat/infinisock-stat")).unwrap();
    let list = &tool[tool.find("STAT_NAMES = [").unwrap()..];
    let list = &list[..list.find(']').unwrap()];
    let names: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    assert_eq!(names, ours);
}

#[test]
fn path_names_follow_the_fallback_reasons() {
    assert_eq!(PATH_NAMES[0], "hybrid_sdp");
    assert_eq!(PATH_NAMES.len(), 1 + Fallback::ALL.len());
    for why in Fallback::ALL {
        assert_eq!(PATH_NAMES[why as usize], format!("hybrid_tcp_{}", why.name()));
    }
}
