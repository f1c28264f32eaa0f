// SPDX-License-Identifier: GPL-2.0
//! The index FIFO against a std VecDeque model: in place at its full size, and on
//! the heap at a ring's size, where the wrap-around comes at the ring's length.

use infinisock_proto::ring::{IndexFifo, IndexSlots, MAX_RING};
use proptest::prelude::*;
use std::collections::VecDeque;

fn check<S: IndexSlots>(f: &mut IndexFifo<S>, cap: usize, ops: Vec<Option<u16>>) -> Result<(), TestCaseError> {
    let mut model = VecDeque::new();
    prop_assert_eq!(f.capacity(), cap);
    for op in ops {
        match op {
            Some(v) => {
                let pushed = f.push(v);
                prop_assert_eq!(pushed, model.len() < cap);
                if pushed {
                    model.push_back(v);
                }
            }
            None => prop_assert_eq!(f.pop(), model.pop_front()),
        }
        prop_assert_eq!(f.len(), model.len());
        prop_assert_eq!(f.front(), model.front().copied());
        for (n, v) in model.iter().enumerate() {
            prop_assert_eq!(f.get(n), Some(*v));
        }
        prop_assert_eq!(f.get(model.len()), None);
    }
    Ok(())
}

proptest! {
    #[test]
    fn behaves_like_a_deque(ops in proptest::collection::vec(proptest::option::of(any::<u16>()), 0..2000)) {
        check(&mut IndexFifo::new(), MAX_RING, ops)?;
    }

    #[test]
    fn a_rings_fifo_behaves_like_a_deque_of_the_rings_size(
        ring in 0usize..=MAX_RING,
        ops in proptest::collection::vec(proptest::option::of(any::<u16>()), 0..600),
    ) {
        let mut f = IndexFifo::<Vec<u16>>::for_ring(ring).unwrap();
        check(&mut f, ring, ops)?;
    }
}
