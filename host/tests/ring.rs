// SPDX-License-Identifier: GPL-2.0
//! The index FIFO against a std VecDeque model.

use infinisock_proto::ring::{IndexFifo, MAX_RING};
use proptest::prelude::*;
use std::collections::VecDeque;

proptest! {
    #[test]
    fn behaves_like_a_deque(ops in proptest::collection::vec(proptest::option::of(any::<u16>()), 0..2000)) {
        let mut f = IndexFifo::new();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Some(v) => {
                    let pushed = f.push(v);
                    prop_assert_eq!(pushed, model.len() < MAX_RING);
                    if pushed { model.push_back(v); }
                }
                None => prop_assert_eq!(f.pop(), model.pop_front()),
            }
            prop_assert_eq!(f.len(), model.len());
            prop_assert_eq!(f.front(), model.front().copied());
        }
    }
}
