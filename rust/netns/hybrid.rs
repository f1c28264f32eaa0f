// SPDX-License-Identifier: GPL-2.0

//! What a namespace keeps for its hybrid streams: the ports and peers its policy covers
//! (`net.infinisock.sdp_ports`, `net.infinisock.sdp_peers`, parsed by `proto::policy`),
//! the peers recently reached over TCP at once (`proto::hybrid::RefusalCache`,
//! `net.infinisock.sdp_fallback_cache`), and how many hybrid connections took each
//! path (`/proc/net/infinisock/hybrid`).

use core::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use kernel::{
    new_mutex,
    prelude::*,
    str::Formatter,
    sync::{Arc, Mutex, MutexGuard},
};

use crate::{
    kernel_api::{
        net::Net,
        sysctl::{now_ms, TextSysctlTable, TextValues},
    },
    netns::tunables::{tunable, InfiniSockNet},
    proto::{
        hybrid::{Fallback, Path, RefusalCache},
        policy::{Ports, Prefixes},
        sockaddr::SockAddr,
        tunables::TunableId,
    },
};

/// The policy's port and peer lists of one namespace, as its sysctls set them.
#[pin_data]
pub(crate) struct PolicyLists {
    #[pin]
    lists: Mutex<(Ports, Prefixes)>,
}

/// The entries of [`PolicyLists`]' sysctl table, in order.
const POLICY_LIST_NAMES: [&CStr; 2] = [c"sdp_ports", c"sdp_peers"];

impl PolicyLists {
    /// The ports and peers the namespace's policy covers.
    pub(crate) fn get(&self) -> (Ports, Prefixes) {
        *self.lists.lock()
    }
}

impl TextValues for PolicyLists {
    fn show(&self, which: usize, out: &mut [u8]) -> usize {
        let (ports, peers) = self.get();
        let mut f = Formatter::new(out);
        // 16 entries of at most 44 bytes each fit the sysctl's buffer.
        let _ = if which == 0 { write!(f, "{ports}") } else { write!(f, "{peers}") };
        f.bytes_written()
    }

    fn store(&self, which: usize, text: &str) -> Result {
        if which == 0 {
            let ports = Ports::parse(text).map_err(|e| e.into_error())?;
            self.lists.lock().0 = ports;
        } else {
            let peers = Prefixes::parse(text).map_err(|e| e.into_error())?;
            self.lists.lock().1 = peers;
        }
        Ok(())
    }
}

/// Registers `net.infinisock.sdp_ports` and `sdp_peers` in `net`: empty, every port and
/// every peer.
pub(crate) fn register_policy_lists(net: &Net) -> Result<TextSysctlTable<PolicyLists, 2>> {
    let lists = Arc::pin_init(pin_init!(PolicyLists { lists <- new_mutex!((Ports::ALL, Prefixes::ALL)) }), GFP_KERNEL)?;
    TextSysctlTable::register(net, c"net/infinisock", POLICY_LIST_NAMES, lists)
}

/// Peers one namespace remembers at most.
const CACHED_PEERS: usize = 64;

/// A namespace's hybrid state.
pub(crate) struct HybridNet {
    refusals: Arc<Mutex<RefusalCache<CACHED_PEERS>>>,
    /// Outgoing hybrid connections by path: [0] over SDP, [n] over TCP for the
    /// `Fallback` numbered n.
    paths: [AtomicU64; 1 + Fallback::ALL.len()],
    /// Connections the cache sent over TCP at once (counted in `paths` too).
    cache_hits: AtomicU64,
}

impl HybridNet {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            refusals: Arc::pin_init(new_mutex!(RefusalCache::default()), GFP_KERNEL)?,
            paths: Default::default(),
            cache_hits: AtomicU64::new(0),
        })
    }
}

fn state(net: &Net) -> &HybridNet {
    &net.state::<InfiniSockNet>().hybrid
}

/// The namespace's refusal cache, locked, and how long it remembers a peer (ms); while
/// `sdp_fallback_cache` is 0 the cache is off, and empty.
fn refusals(net: &Net) -> (MutexGuard<'_, RefusalCache<CACHED_PEERS>>, u64) {
    let ttl_ms = u64::try_from(tunable(net, TunableId::SdpFallbackCache)).unwrap_or(0) * 1000;
    let mut cache = state(net).refusals.lock();
    if ttl_ms == 0 {
        cache.clear();
    }
    (cache, ttl_ms)
}

/// Counts an outgoing hybrid connection that took `path`; with `remember`, a fall-back
/// to TCP on the peer's account is remembered for `sdp_fallback_cache` seconds.
pub(crate) fn chose(net: &Net, peer: Option<&SockAddr>, path: Path, remember: bool) {
    let s = state(net);
    let slot = match path {
        Path::Undecided => return,
        Path::Sdp => 0,
        Path::Tcp(why) => why as usize,
    };
    s.paths[slot].fetch_add(1, Ordering::Relaxed);
    if let (Path::Tcp(why), Some(peer), true) = (path, peer, remember) {
        let (mut cache, ttl_ms) = refusals(net);
        cache.note(peer, why, now_ms(), ttl_ms);
    }
}

/// Whether a hybrid connection to `peer` goes over TCP at once: a recent attempt there
/// failed.
pub(crate) fn cached_fallback(net: &Net, peer: &SockAddr) -> Option<Fallback> {
    let hit = {
        let (mut cache, ttl_ms) = refusals(net);
        if ttl_ms == 0 {
            return None;
        }
        cache.lookup(peer, now_ms())
    };
    if hit.is_some() {
        state(net).cache_hits.fetch_add(1, Ordering::Relaxed);
    }
    hit
}

/// What `/proc/net/infinisock/hybrid` shows of a namespace.
pub(crate) struct HybridStats {
    /// Connections over SDP, then over TCP by reason (`Fallback::ALL` order).
    pub(crate) paths: [u64; 1 + Fallback::ALL.len()],
    /// Connections the cache sent over TCP at once.
    pub(crate) cache_hits: u64,
    /// Peers the cache holds.
    pub(crate) cached_peers: usize,
}

/// The namespace's hybrid figures.
pub(crate) fn stats(net: &Net) -> HybridStats {
    let s = state(net);
    let mut paths = [0; 1 + Fallback::ALL.len()];
    for (o, c) in paths.iter_mut().zip(s.paths.iter()) {
        *o = c.load(Ordering::Relaxed);
    }
    let cached_peers = refusals(net).0.len();
    HybridStats { paths, cache_hits: s.cache_hits.load(Ordering::Relaxed), cached_peers }
}
