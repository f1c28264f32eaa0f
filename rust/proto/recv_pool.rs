// SPDX-License-Identifier: GPL-2.0

//! How many receive buffers a device's shared receive queue keeps posted for the
//! stream connections on it (memory model, step 3a).
//!
//! Each connection still grants its peer credits through its receive window
//! (`proto::recv_window`): `bufs` on the wire stays the flow-control contract. On the
//! shared queue a grant is a promise the pool keeps, not a buffer of the connection's
//! own, and the pool keeps it in two ways:
//!
//! - **Active connections are backed in full.** A connection that received
//!   [`ACTIVATE_AFTER`] messages within [`ACTIVE_MS`], and has received within
//!   [`ACTIVE_MS`] since, has a buffer posted for each of its grants, as a private
//!   receive queue would: a busy peer never meets receiver-not-ready (RNR), however
//!   many credits its window gives it. One message alone (a connection's greeting, a
//!   rare request) does not make it active: buffers posted for a connection's grants
//!   stay posted until some receive takes them (a shared queue cannot take a request
//!   back), so backing every connection that spoke once would leave the queue as full
//!   as private rings.
//! - **Idle connections share a reserve.** Their grants (the window's floor, mostly)
//!   are backed by [`reserve`] buffers: one per [`RESERVE_SHARE`] grants, at least
//!   [`RESERVE_MIN`]. This is the overcommit that makes an idle connection cost no
//!   buffer. An idle connection's receives take from the reserve until they make it
//!   active, and then the pool backs the rest of its grants at once.
//!
//! **Idle connections waking together get more.** When the queue runs low (the
//! device's limit event: fewer than [`PoolLevels::low_water`] left posted), the pool
//! backs idle grants beyond the reserve: [`PoolLevels::pressure`] doubles the idle
//! backing at each event, up to every idle grant, so that a storm of N wakers is
//! served within a few refills rather than N / reserve receiver-not-ready rounds of
//! their peers. [`CALM_MS`] after the last event the extra goes
//! ([`PoolLevels::calm`]), and the queue gives back what it posted for it.
//!
//! RNR is the last resort: idle connections waking faster than the queue refills, or
//! no memory for the buffers. The peer's adapter retries, and the queue refills
//! meanwhile (its refill timer, `kernel_api::srq`).
//!
//! A receive for a connection with no grant left is the peer breaking flow control
//! ([`Take::Unsolicited`]): the buffer goes back to the pool and the connection is
//! reset, so a hostile peer cannot keep more than its grant.

/// How long after its last receive a connection counts as active.
pub const ACTIVE_MS: u64 = 1000;

/// Receives within [`ACTIVE_MS`] that make an idle connection active.
pub const ACTIVATE_AFTER: u32 = 2;

/// The least reserve for idle connections' grants, in buffers.
pub const RESERVE_MIN: u64 = 32;

/// Idle grants per reserve buffer.
pub const RESERVE_SHARE: u64 = 32;

/// Buffers the pool posts beyond its target. A receive takes whichever buffer the
/// queue holds next, so an idle connection waking takes one that backs an active
/// connection's grant until the pool, told of it when the receive is reaped, posts
/// more: the slack covers that window. Buffers coming back are kept up to another
/// slack beyond, so that a target moving by a few does not allocate and free each
/// time.
pub const SLACK: u64 = 16;

/// How long after the last low-water event the pool keeps the extra backing it gave
/// idle grants.
pub const CALM_MS: u64 = 2000;

/// Low-water events within this long of a doubling do not double again: the queue
/// is told of receives only as they are reaped, so one storm sets the event off
/// again and again before the buffers of the last doubling are taken. About the
/// peers' receiver-not-ready wait (`c/cm.c`): one doubling per round of their retries.
pub const PRESSURE_GAP_MS: u64 = 150;

/// The reserve the grants of idle connections get: `idle` grants in all.
pub const fn reserve(idle: u64) -> u64 {
    let share = idle / RESERVE_SHARE;
    let reserve = if share > RESERVE_MIN { share } else { RESERVE_MIN };
    if reserve < idle {
        reserve
    } else {
        idle
    }
}

/// One connection's part in the pool, kept by the connection and changed only
/// through its pool's [`PoolLevels`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Grants not yet filled by a receive.
    unfilled: u64,
    /// When it last received, if it is active.
    active_since_rx: Option<u64>,
    /// While idle: when the receives counted toward [`ACTIVATE_AFTER`] began, and how
    /// many there were.
    quiet_rx: Option<(u64, u32)>,
}

impl Grants {
    /// Grants not yet filled by a receive.
    pub fn unfilled(&self) -> u64 {
        self.unfilled
    }

    /// Whether the pool backs its grants in full.
    pub fn active(&self) -> bool {
        self.active_since_rx.is_some()
    }
}

/// What a receive on the shared queue was, for the connection it arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// It filled one of the connection's grants.
    Granted,
    /// The connection had no grant left: the peer broke flow control.
    Unsolicited,
}

/// What to do with a buffer a connection is done with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// Post it again.
    Post,
    /// Free it: the pool holds more than it needs.
    Free,
}

/// The pool's account: the connections' grants, split by whether they are backed in
/// full, and the buffers posted.
///
/// # Invariants
///
/// `active` and `idle` are the sums of [`Grants::unfilled`] over the connections of
/// the pool that are, and are not, [`Grants::active`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolLevels {
    active: u64,
    idle: u64,
    posted: u64,
    /// Idle grants backed beyond the reserve since the queue ran low (at most the
    /// idle grants the reserve leaves unbacked).
    boost: u64,
    /// When the queue last ran low, while `boost` is on.
    pressure_at: Option<u64>,
    /// When the boost last doubled.
    doubled_at: u64,
    /// Of `posted`, how many the device has already used up that no reaped receive
    /// has reported yet (at least: what a low-water event proved). The account hears
    /// of a receive only when its connection reaps it, which under load lags.
    unreaped: u64,
}

impl PoolLevels {
    /// An empty pool.
    pub const fn new() -> Self {
        Self { active: 0, idle: 0, posted: 0, boost: 0, pressure_at: None, doubled_at: 0, unreaped: 0 }
    }

    /// Unfilled grants of active connections.
    pub fn active_grants(&self) -> u64 {
        self.active
    }

    /// Unfilled grants of idle connections.
    pub fn idle_grants(&self) -> u64 {
        self.idle
    }

    /// Buffers posted in the shared queue, as far as reaped receives say.
    pub fn posted(&self) -> u64 {
        self.posted
    }

    /// Buffers still posted on the device, as far as the account knows: posted, less
    /// those a low-water event proved used up before their receives were reaped.
    pub fn on_device(&self) -> u64 {
        self.posted.saturating_sub(self.unreaped)
    }

    /// The device said fewer than `limit` are posted (its limit event): what the
    /// account counts beyond that has been used up by receives not reaped yet. The
    /// refill that follows posts for them too; their receives, once reaped, do not
    /// count again.
    pub fn device_below(&mut self, limit: u64) {
        self.unreaped = self.unreaped.max(self.posted.saturating_sub(limit));
    }

    /// How many buffers the queue should hold for the grants: every active grant and
    /// the idle grants' reserve.
    pub fn target(&self) -> u64 {
        self.active + self.idle_backing()
    }

    /// Buffers backing idle grants: the reserve and the boost, no more than the
    /// grants.
    fn idle_backing(&self) -> u64 {
        let reserve = reserve(self.idle);
        reserve + self.boost.min(self.idle - reserve)
    }

    /// Posted buffers below which the queue is running low (the device's limit):
    /// a quarter of what it posts to, and at least half the slack.
    pub fn low_water(&self) -> u64 {
        (self.wanted() / 4).max(SLACK / 2)
    }

    /// The queue ran low at `now_ms`: receives take buffers faster than refills post
    /// them, so idle connections are waking more than the reserve covers. The
    /// backing of idle grants doubles (until every idle grant is backed), at most once
    /// per [`PRESSURE_GAP_MS`].
    pub fn pressure(&mut self, now_ms: u64) {
        let recent = self.pressure_at.is_some() && now_ms.saturating_sub(self.doubled_at) < PRESSURE_GAP_MS;
        self.pressure_at = Some(now_ms);
        if recent {
            return;
        }
        let backing = self.idle_backing().max(RESERVE_MIN);
        self.boost = (self.boost + backing).min(self.idle - reserve(self.idle));
        self.doubled_at = now_ms;
    }

    /// The boost goes once the queue has not run low for [`CALM_MS`] by `now_ms`.
    /// Returns whether it is still on (ask again later).
    pub fn calm(&mut self, now_ms: u64) -> bool {
        match self.pressure_at {
            Some(at) if now_ms.saturating_sub(at) >= CALM_MS => {
                self.boost = 0;
                self.pressure_at = None;
                false
            }
            at => at.is_some(),
        }
    }

    /// Buffers to post now, with room for `room` more in memory: up to the target and
    /// the [`SLACK`]; none while nothing is granted.
    pub fn to_post(&self, room: u64) -> u64 {
        self.wanted().saturating_sub(self.on_device()).min(room)
    }

    fn wanted(&self) -> u64 {
        match self.target() {
            0 => 0,
            t => t + SLACK,
        }
    }

    fn sum(&mut self, g: &Grants) -> &mut u64 {
        if g.active() {
            &mut self.active
        } else {
            &mut self.idle
        }
    }

    /// `g`'s connection granted `n` more buffers to its peer.
    pub fn grant(&mut self, g: &mut Grants, n: u64) {
        g.unfilled += n;
        *self.sum(g) += n;
    }

    /// `n` buffers were posted in the queue.
    pub fn posted_more(&mut self, n: u64) {
        self.posted += n;
    }

    /// A receive completed on `g`'s connection at `now_ms`: it consumed a posted
    /// buffer. The connection is active from now on, and what it still has granted is
    /// backed in full.
    pub fn received(&mut self, g: &mut Grants, now_ms: u64) -> Take {
        self.posted = self.posted.saturating_sub(1);
        self.unreaped = self.unreaped.saturating_sub(1);
        if g.unfilled == 0 {
            return Take::Unsolicited;
        }
        *self.sum(g) -= 1;
        g.unfilled -= 1;
        if !g.active() {
            let (since, n) = match g.quiet_rx {
                Some((since, n)) if now_ms.saturating_sub(since) < ACTIVE_MS => (since, n + 1),
                _ => (now_ms, 1),
            };
            if n < ACTIVATE_AFTER {
                g.quiet_rx = Some((since, n));
                return Take::Granted;
            }
            g.quiet_rx = None;
            self.idle -= g.unfilled;
            self.active += g.unfilled;
        }
        g.active_since_rx = Some(now_ms);
        Take::Granted
    }

    /// A buffer the queue held went back without a receive of any connection (a
    /// flush when the queue is destroyed).
    pub fn unposted(&mut self) {
        self.posted = self.posted.saturating_sub(1);
        self.unreaped = self.unreaped.saturating_sub(1);
    }

    /// `g`'s connection received nothing for [`ACTIVE_MS`] by `now_ms`: its grants
    /// join the idle ones. Returns whether it is still active.
    pub fn settle(&mut self, g: &mut Grants, now_ms: u64) -> bool {
        match g.active_since_rx {
            Some(at) if now_ms.saturating_sub(at) >= ACTIVE_MS => {
                self.active -= g.unfilled;
                self.idle += g.unfilled;
                g.active_since_rx = None;
                false
            }
            at => at.is_some(),
        }
    }

    /// `g`'s connection is gone (or its queue pair failed): its grants will never be
    /// filled.
    pub fn leave(&mut self, g: &mut Grants) {
        *self.sum(g) -= g.unfilled;
        g.unfilled = 0;
        g.active_since_rx = None;
        g.quiet_rx = None;
    }

    /// Posted buffers beyond what the pool keeps ([`PoolLevels::returned`]'s bound):
    /// left posted by connections that have gone idle or away. A shared queue cannot
    /// take a posted request back, so they stay until receives use them up, unless
    /// the queue consumes them itself (`kernel_api::srq_drain`).
    pub fn surplus(&self) -> u64 {
        self.on_device().saturating_sub(self.wanted() + SLACK)
    }

    /// `n` posted buffers are being consumed by the queue itself: they no longer
    /// count as posted, and each is freed when its receive completes.
    pub fn drained(&mut self, n: u64) {
        self.posted = self.posted.saturating_sub(n).max(self.unreaped);
    }

    /// A connection is done with a buffer of the pool: post it again while the pool
    /// holds less than it posts to and another [`SLACK`], else free it.
    pub fn returned(&self) -> Returned {
        if self.target() > 0 && self.on_device() < self.wanted() + SLACK {
            Returned::Post
        } else {
            Returned::Free
        }
    }
}
