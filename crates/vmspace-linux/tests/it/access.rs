//! Memory accesses, made by the agent's CPU, with faults as results.

use vmspace::{Backend, Fault, FaultCode, Op, Outcome, Signal};

use crate::*;

#[test]
fn store_then_load_round_trips() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 2 * PAGE, PROT_RW);
    let data = b"hello, kernel\0\xff".to_vec();
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a + PAGE - 3,
                data: data.clone()
            }
        ),
        Outcome::Done
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE - 3,
                len: data.len() as u64
            }
        ),
        Outcome::Bytes(data)
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: a, len: 0 }),
        Outcome::Bytes(vec![])
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Fill {
                addr: a + 1,
                len: 3,
                byte: b'x'
            }
        ),
        Outcome::Done
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: a, len: 5 }),
        Outcome::Bytes(b"\0xxx\0".to_vec())
    );
}

#[test]
fn load_of_unmapped_memory_faults_at_the_first_missing_byte() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 3 * PAGE, PROT_RW);
    assert_eq!(
        value(
            &mut b,
            Op::Munmap {
                addr: a + PAGE,
                len: PAGE
            }
        ),
        0
    );
    // Starts two bytes before the hole: those two are read, the third faults.
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE - 2,
                len: 4
            }
        ),
        segv(FaultCode::MapErr, a + PAGE)
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: 0, len: 1 }),
        segv(FaultCode::MapErr, 0)
    );
    // Above TASK_SIZE and in kernel space: SEGV_MAPERR at the address. A non-canonical
    // address raises #GP, which Linux reports as SI_KERNEL with si_addr 0 (a C program
    // doing the same loads natively on 6.18.44 got si_code 128 and a null address).
    for addr in [
        0x7fff_ffff_f000,
        0xffff_ffff_8000_0000,
        0xffff_8000_0000_0000,
    ] {
        assert_eq!(
            apply(&mut b, Op::Load { addr, len: 8 }),
            segv(FaultCode::MapErr, addr)
        );
    }
    for addr in [
        0x8000_0000_0000_0000,
        0x8000_0000_0d04,
        0xffff_7fff_ffff_ffff,
    ] {
        assert_eq!(
            apply(&mut b, Op::Load { addr, len: 1 }),
            segv(FaultCode::SiKernel, 0)
        );
    }
    // An access that wraps around the top of the address space.
    let top = u64::MAX - 1;
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: top,
                data: vec![1; 4]
            }
        ),
        segv(FaultCode::MapErr, top)
    );
}

#[test]
fn store_to_read_only_memory_is_an_access_error() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 2 * PAGE, PROT_READ);
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a + 5,
                data: vec![1]
            }
        ),
        segv(FaultCode::AccErr, a + 5)
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + 5,
                len: 1
            }
        ),
        Outcome::Bytes(vec![0])
    );
    let n = mmap_anon(&mut b, PAGE, PROT_NONE);
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: n + 7,
                len: 1
            }
        ),
        segv(FaultCode::AccErr, n + 7)
    );
    // mprotect takes effect for the CPU immediately.
    assert_eq!(
        value(
            &mut b,
            Op::Mprotect {
                addr: a,
                len: PAGE,
                prot: PROT_RW
            }
        ),
        0
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Fill {
                addr: a + PAGE - 1,
                len: 2,
                byte: 9
            }
        ),
        segv(FaultCode::AccErr, a + PAGE)
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE - 1,
                len: 1
            }
        ),
        Outcome::Bytes(vec![9])
    );
}

#[test]
fn write_only_memory_is_readable_by_the_cpu() {
    // On x86 PROT_WRITE implies read access for the CPU (get_user_pages would refuse).
    let mut b = spawn();
    let a = mmap_anon(&mut b, PAGE, PROT_WRITE);
    let maps = b.maps().unwrap();
    assert!(
        maps.contains(&format!("{a:x}-{:x} -w-p", a + PAGE)),
        "{maps}"
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: a, len: 4 }),
        Outcome::Bytes(vec![0; 4])
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a,
                data: b"wo".to_vec()
            }
        ),
        Outcome::Done
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: a, len: 2 }),
        Outcome::Bytes(b"wo".to_vec())
    );
}

#[test]
fn access_past_the_end_of_a_memfd_is_sigbus() {
    let mut b = spawn();
    let fd = value(
        &mut b,
        Op::MemfdCreate {
            name: "bus".into(),
            flags: 0,
        },
    );
    assert_eq!(fd, 3);
    assert_eq!(value(&mut b, Op::Ftruncate { fd, length: PAGE }), 0);
    let a = value(&mut b, mmap_op(2 * PAGE, PROT_RW, MAP_SHARED, fd));
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE - 1,
                len: 1
            }
        ),
        Outcome::Bytes(vec![0])
    );
    let bus = Outcome::Fault(Fault {
        signal: Signal::Bus,
        code: FaultCode::AdrErr,
        addr: a + PAGE,
    });
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE - 1,
                len: 2
            }
        ),
        bus
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a + PAGE,
                data: vec![1]
            }
        ),
        bus
    );
    // Growing the file makes the page valid.
    assert_eq!(
        value(
            &mut b,
            Op::Ftruncate {
                fd,
                length: 2 * PAGE
            }
        ),
        0
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a + PAGE,
                len: 1
            }
        ),
        Outcome::Bytes(vec![0])
    );
}

#[test]
fn memfd_contents_written_with_pwrite64_are_visible_through_a_mapping() {
    let mut b = spawn();
    let fd = value(
        &mut b,
        Op::MemfdCreate {
            name: "data".into(),
            flags: 0,
        },
    );
    // More than the agent's 1 MiB buffer: written in pieces at increasing offsets.
    let data: Vec<u8> = (0..(3 << 19) + 5).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        value(
            &mut b,
            Op::Pwrite64 {
                fd,
                data: data.clone(),
                offset: 7
            }
        ),
        data.len() as u64
    );
    let len = data.len() as u64 + 7;
    let a = value(&mut b, mmap_op(len, PROT_READ, MAP_SHARED, fd));
    match apply(
        &mut b,
        Op::Load {
            addr: a + 7,
            len: data.len() as u64,
        },
    ) {
        Outcome::Bytes(got) => assert!(got == data, "contents differ"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        apply(
            &mut b,
            Op::Pwrite64 {
                fd: 99,
                data: vec![1],
                offset: 0
            }
        ),
        Outcome::Error(vmspace::Errno::EBADF)
    );
}

#[test]
fn large_accesses_are_chunked_with_the_same_fault_semantics() {
    let mut b = spawn();
    let len = 3 << 20;
    let a = mmap_anon(&mut b, len, PROT_RW);
    assert_eq!(
        value(
            &mut b,
            Op::Munmap {
                addr: a + len - PAGE,
                len: PAGE
            }
        ),
        0
    );
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    // The store faults in its third piece; everything before the hole was written.
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a,
                data: data.clone()
            }
        ),
        segv(FaultCode::MapErr, a + len - PAGE)
    );
    let good = (len - PAGE) as usize;
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: a,
                len: len - PAGE
            }
        ),
        Outcome::Bytes(data[..good].to_vec())
    );
    assert_eq!(
        apply(&mut b, Op::Load { addr: a + 5, len }),
        segv(FaultCode::MapErr, a + len - PAGE)
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Fill {
                addr: a,
                len,
                byte: 1
            }
        ),
        segv(FaultCode::MapErr, a + len - PAGE)
    );
}

#[test]
fn an_access_below_the_stack_grows_it() {
    let mut b = spawn();
    let stack = b
        .seed()
        .vmas
        .iter()
        .find(|v| v.line.name.as_deref() == Some("[stack]"))
        .unwrap()
        .line
        .clone();
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: stack.start - 20 * PAGE,
                len: 1
            }
        ),
        Outcome::Bytes(vec![0])
    );
    let maps = b.maps().unwrap();
    let grown = format!("{:x}-{:x} rw-p", stack.start - 20 * PAGE, stack.end);
    assert!(maps.contains(&grown), "{maps}");
}

#[test]
fn unmapping_the_agents_own_buffer_is_reported() {
    let mut b = spawn();
    // The agent's 1 MiB transfer buffer is the bottom of the one anonymous mapping of
    // more than 1 MiB at start-up (glibc's mmap'd chunk; above it is ld.so's block for
    // the main thread's TLS, which must stay mapped).
    let region = b
        .seed()
        .vmas
        .iter()
        .find(|v| v.line.name.is_none() && v.line.end - v.line.start > 1 << 20)
        .unwrap()
        .line
        .clone();
    let stack = b
        .seed()
        .vmas
        .iter()
        .find(|v| v.line.name.as_deref() == Some("[stack]"))
        .unwrap()
        .line
        .end;
    let pid = b.pid();
    assert_eq!(
        value(
            &mut b,
            Op::Munmap {
                addr: region.start,
                len: 1 << 20
            }
        ),
        0
    );
    // Reading the stack is fine; writing the bytes into the buffer faults.
    let err = b
        .apply(&Op::Load {
            addr: stack - 8,
            len: 1,
        })
        .unwrap_err();
    assert!(err.message.contains("own transfer buffer"), "{err}");
    assert!(err.message.contains("load("), "{err}");
    assert!(!proc_exists(pid));
}
