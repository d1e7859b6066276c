//! The engine as a `vmspace::Backend` (what the differ drives), and the limits of its
//! `apply` that are the tool's, not Linux's.

use crate::harness::*;
use vmspace::{Backend, Op, Outcome};

#[test]
fn the_engine_as_a_backend_shows_what_its_own_methods_show() {
    let mut t = T::new();
    let a = t.anon_at(W, 3 * P, PROT_RW);
    t.store(a + P, b"x");
    assert_eq!(Backend::name(&t.mm), "engine");
    assert_eq!(Backend::maps(&mut t.mm).unwrap(), t.mm.maps_text());
    assert_eq!(Backend::counters(&mut t.mm).unwrap(), t.mm.counters());
    assert_eq!(
        Backend::pages(&mut t.mm, a, 3).unwrap(),
        t.mm.page_states(a, 3)
    );
    assert_eq!(
        Backend::maps_window(&mut t.mm, &[(a, a + P)]).unwrap(),
        Some(t.mm.maps_window(&[(a, a + P)]))
    );
    assert_eq!(
        Backend::apply(
            &mut t.mm,
            &Op::Load {
                addr: a + P,
                len: 1
            }
        )
        .unwrap(),
        Outcome::Bytes(b"x".to_vec())
    );
}

#[test]
fn loads_up_to_1_gib_are_made_and_larger_ones_refused() {
    // The live agent reads at most 1 GiB at once; the engine refuses the same loads.
    let mut t = T::new();
    let g = 1u64 << 30;
    let a = t.anon_at(W, g + P, PROT_RW);
    t.store(a + g - 1, b"z");
    let Outcome::Bytes(b) = t.mm.apply(&Op::Load { addr: a, len: g }) else {
        panic!("a 1 GiB load was not made");
    };
    assert_eq!((b.len() as u64, b[0], b[b.len() - 1]), (g, 0, b'z'));
    drop(b);
    assert!(matches!(
        t.mm.apply(&Op::Load {
            addr: a,
            len: g + 1
        }),
        Outcome::Unsupported(_)
    ));
}
