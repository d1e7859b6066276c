//! madvise.

use crate::harness::*;
use vmspace::{Errno, Op, Outcome};

const MADV_REMOVE: u64 = 9;

fn seeded(lines: &[&str]) -> T {
    T::seeded(lines, 0x5555_5555_9000)
}

#[test]
fn remove_on_a_seeded_private_file_mapping_is_eacces() {
    // Live kernel (a C probe: MADV_REMOVE on a MAP_PRIVATE mapping of libc.so.6, and
    // on the vDSO): madvise_remove refuses memory without a vm_file with EINVAL and a
    // file mapping that is not shared and writable with EACCES; a locked VMA is EINVAL
    // before either.
    let mut t = seeded(&[
        "7ffff7db5000-7ffff7ddb000 r--p 00000000 fe:00 326279 /usr/lib/x86_64-linux-gnu/libc.so.6",
        "7ffff7f88000-7ffff7f8a000 rw-p 001d3000 fe:00 326279 /usr/lib/x86_64-linux-gnu/libc.so.6",
        "7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0 [vdso]",
    ]);
    let remove = |addr| Op::Madvise {
        addr,
        len: P,
        advice: MADV_REMOVE,
    };
    assert_eq!(t.err(remove(0x7fff_f7db_5000)), Errno::EACCES);
    assert_eq!(t.err(remove(0x7fff_f7f8_8000)), Errno::EACCES);
    assert_eq!(t.err(remove(0x7fff_f7fc_8000)), Errno::EINVAL);
    t.ok(Op::Mlock {
        addr: 0x7fff_f7f8_8000,
        len: P,
    });
    assert_eq!(t.err(remove(0x7fff_f7f8_8000)), Errno::EINVAL);
    // Anonymous memory has no file: EINVAL.
    let a = t.anon_at(W, P, PROT_RW);
    assert_eq!(t.op(remove(a)), Outcome::Error(Errno::EINVAL));
}

#[test]
fn a_split_refused_for_map_count_is_eagain_and_a_special_mapping_s_stays_einval() {
    // docs/probes/madvise-split-errors.c on Linux 6.18: with map_count = max_map_count,
    // MADV_DONTFORK on the middle page of a 3-page mapping (two splits) is EAGAIN
    // (madvise_vma_behavior turns the split's ENOMEM into EAGAIN); on the first page
    // of the 2-page [vdso] it is EINVAL (a special mapping refuses the split), and on
    // all of it 0.
    const DONTFORK: u64 = 10;
    let vdso = 0x7fff_f7fc_8000u64;
    let mut t = T::seeded_with(
        &["7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0 [vdso]"],
        0x5555_5555_9000,
        vmspace::Config {
            max_map_count: 2,
            ..vmspace::Config::default()
        },
    );
    let a = t.anon_at(W, 3 * P, PROT_RW);
    let advise = |addr, len| Op::Madvise {
        addr,
        len,
        advice: DONTFORK,
    };
    assert_eq!(t.err(advise(a + P, P)), Errno::EAGAIN);
    // Below the limit (as in the probe), the special mapping's own refusal shows.
    let mut t = seeded(&["7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0 [vdso]"]);
    assert_eq!(t.err(advise(vdso, P)), Errno::EINVAL);
    assert_eq!(t.op(advise(vdso, 2 * P)), Outcome::Value(0));
}
