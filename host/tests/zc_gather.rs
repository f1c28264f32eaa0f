// SPDX-License-Identifier: GPL-2.0
//! Gathering spliced pages into adverts: every byte is advertised once and in order,
//! an advert never exceeds what one registration maps, pieces join only where pages
//! meet, a run waits only behind an open advert and goes once none is open, and a
//! `sendfile()` that outpaces the sink makes few large adverts instead of one per call.

use std::collections::VecDeque;

use infinisock_proto::zc_gather::*;
use proptest::prelude::*;

const PAGE: usize = 4096;
const LIM: AdvertLimits = AdvertLimits { max_bytes: 1 << 20, max_pages: 256, page: PAGE };

/// The source as the module drives it: adverts open in slots, a run, and the byte
/// ranges each advert covers, checked as they are made.
struct Source {
    slots: usize,
    open: VecDeque<(usize, usize)>,
    run: Option<Run>,
    /// Where the run began in the stream, and where its pieces meet.
    run_start: usize,
    /// Stream offset of the next byte handed over.
    at: usize,
    /// Stream offset of the next byte advertised.
    advertised: usize,
    adverts: Vec<(usize, usize)>,
}

impl Source {
    fn new(slots: usize) -> Self {
        Self { slots, open: VecDeque::new(), run: None, run_start: 0, at: 0, advertised: 0, adverts: vec![] }
    }

    fn advertise(&mut self, start: usize, len: usize, first_off: usize) {
        assert!(len > 0 && len <= LIM.max_bytes, "advert of {len} bytes");
        assert!(LIM.pages(first_off, len) <= LIM.max_pages, "advert over too many pages");
        assert!(self.open.len() < self.slots);
        assert_eq!(start, self.advertised, "bytes advertised out of order or twice");
        self.advertised += len;
        self.open.push_back((start, len));
        self.adverts.push((start, len));
    }

    /// The run goes if a slot is free and it is due: the module's `Link::progress`.
    fn progress(&mut self) {
        let open = !self.open.is_empty();
        if let Some(run) = self.run.filter(|r| r.goes(open)) {
            if self.open.len() < self.slots {
                self.run = None;
                self.advertise(self.run_start, run.len, run.first_off);
            }
        }
    }

    /// The sink READ the oldest advert.
    fn close_oldest(&mut self) {
        self.open.pop_front().expect("an advert to close");
        if let Some(r) = self.run.as_mut() {
            r.advert_closed();
        }
        self.progress();
    }

    /// A call hands over `len` bytes beginning `off` into a page: what
    /// `zcopy_tx::advertise` does with spliced pages, the sink READing the oldest
    /// advert whenever the call would wait.
    fn piece(&mut self, off: usize, len: usize, more: bool) {
        let mut left = len;
        let mut off = off;
        while left > 0 {
            let piece = LIM.cap(off, left);
            let open = !self.open.is_empty();
            match step(self.run.as_ref(), off, piece, more, open, &LIM) {
                Step::Gather => {
                    if self.run.is_none() {
                        self.run = Some(Run::new(off));
                        self.run_start = self.at;
                    } else {
                        let r = self.run.unwrap();
                        assert_eq!((r.first_off + r.len) % PAGE, 0, "joined where the run ends mid-page");
                        assert_eq!(off, 0, "joined a piece that begins mid-page");
                    }
                    self.run.as_mut().unwrap().joined(piece, more, open, &LIM);
                    self.at += piece;
                    left -= piece;
                    off = (off + piece) % PAGE;
                    self.progress();
                }
                Step::FlushFirst => {
                    let before = self.run;
                    self.progress();
                    if self.run == before {
                        if self.open.len() < self.slots {
                            // Due or not, a run that blocks the next piece goes.
                            let r = self.run.take().unwrap();
                            self.advertise(self.run_start, r.len, r.first_off);
                        } else {
                            self.close_oldest();
                        }
                    }
                }
                Step::Advertise => {
                    if self.open.len() == self.slots {
                        self.close_oldest();
                        continue;
                    }
                    self.advertise(self.at, piece, off);
                    self.at += piece;
                    left -= piece;
                    off = (off + piece) % PAGE;
                }
            }
        }
    }

    /// The sink READs everything: every byte handed over is advertised.
    fn drain(&mut self) {
        while !self.open.is_empty() {
            self.close_oldest();
        }
        self.progress();
        assert!(self.run.is_none(), "a run left behind with no advert open");
        assert_eq!(self.advertised, self.at);
    }
}

#[test]
fn a_sendfile_faster_than_the_sink_makes_adverts_of_up_to_1_mib() {
    let mut s = Source::new(4);
    // 64 MiB in 64 KiB calls, the sink READing one advert every 24 calls.
    let calls = 1024;
    for i in 0..calls {
        s.piece(0, 64 << 10, i + 1 < calls);
        if i % 24 == 23 {
            s.close_oldest();
        }
    }
    s.drain();
    assert!(s.adverts.len() <= calls / 10, "{} adverts for {calls} calls", s.adverts.len());
    assert!(s.adverts.iter().all(|a| a.1 <= LIM.max_bytes));
    assert!(s.adverts.iter().filter(|a| a.1 == LIM.max_bytes).count() > 40, "{:?}", s.adverts.iter().map(|a| a.1 >> 10).collect::<Vec<_>>());
}

#[test]
fn a_piece_with_no_advert_open_goes_at_once() {
    let mut s = Source::new(4);
    s.piece(0, 64 << 10, true);
    assert_eq!(s.adverts, [(0, 64 << 10)]);
    // Behind it the next ones gather, and go when it closes.
    s.piece(0, 64 << 10, true);
    s.piece(0, 64 << 10, true);
    assert_eq!(s.adverts.len(), 1);
    s.close_oldest();
    assert_eq!(s.adverts, [(0, 64 << 10), (64 << 10, 128 << 10)]);
}

#[test]
fn the_last_call_sends_its_run_while_a_slot_is_free() {
    let mut s = Source::new(4);
    s.piece(0, 64 << 10, true);
    s.piece(0, 64 << 10, true);
    s.piece(0, 1000, false);
    assert_eq!(s.adverts, [(0, 64 << 10), (64 << 10, (64 << 10) + 1000)]);
}

#[test]
fn a_partial_page_ends_the_run() {
    let mut s = Source::new(4);
    s.piece(0, 64 << 10, true);
    s.piece(0, 5000, true);
    // It could take nothing more, and a slot was free: it went at once.
    assert!(s.run.is_none());
    assert_eq!(s.adverts, [(0, 64 << 10), (64 << 10, 5000)]);
    // A whole page behind it starts a new run.
    s.piece(0, 4096, true);
    assert_eq!(s.adverts.len(), 2);
    assert_eq!(s.run, Some(Run { len: 4096, first_off: 0, due: false }));
}

proptest! {
    #[test]
    fn every_byte_goes_once_in_order_within_the_limits(
        slots in 1usize..5,
        calls in proptest::collection::vec((0usize..3, 1usize..(300 << 10), any::<bool>(), 0usize..4), 1..60),
    ) {
        let mut s = Source::new(slots);
        let n = calls.len();
        for (i, (shape, len, more, reads)) in calls.into_iter().enumerate() {
            // Mostly whole pages, as the page cache gives; sometimes not.
            let (off, len) = match shape {
                0 => (0, len.div_ceil(PAGE) * PAGE),
                1 => (0, len),
                _ => (len % PAGE, len),
            };
            s.piece(off, len, more && i + 1 < n);
            for _ in 0..reads {
                if !s.open.is_empty() {
                    s.close_oldest();
                }
            }
            // Here slots free at once and credits never lack, so a run exists only
            // behind an open advert (in the module also while the slots are still
            // being withdrawn, or without a credit; `Run::goes` then says it is due).
            if s.run.is_some() {
                prop_assert!(!s.open.is_empty());
            }
        }
        s.drain();
    }
}
