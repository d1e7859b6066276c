//! The two sides of the comparison behind one trait, so that every measured loop and
//! every layout is written once and runs unchanged on the engine and on the kernel.
//!
//! The kernel side is [`vmspace_linux::kbench::Kernel`]: raw system calls made by this
//! process on memory it owns. The engine side is a [`Mm`] started from the built-in
//! layout (the live agent's process on the reference machine), with the same arena at
//! the same address.

use vmspace::{Config, Mm, Op, Outcome, PageState, Seed};
use vmspace_linux::kbench::{KError, Kernel};

/// A failure: which call, and why. Built only on the error path.
pub(crate) type R<T> = Result<T, String>;

pub(crate) const P: u64 = 4096;
pub(crate) const MIB: u64 = 1 << 20;
pub(crate) const GIB: u64 = 1 << 30;
pub(crate) const PROT_NONE: u64 = 0;
pub(crate) const PROT_R: u64 = 1;
pub(crate) const PROT_RW: u64 = 3;
pub(crate) const PRIV_ANON: u64 = 0x22;
pub(crate) const MAP_FIXED: u64 = 0x10;
pub(crate) const MAP_NORESERVE: u64 = 0x4000;
pub(crate) const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
pub(crate) const MREMAP_MAYMOVE: u64 = 1;
pub(crate) const MREMAP_FIXED: u64 = 2;
pub(crate) const MREMAP_DONTUNMAP: u64 = 4;

/// Size of the arena both sides work in (as kbench.c: 8 GiB).
pub(crate) const ARENA_LEN: u64 = 8 * GIB;

/// One address space under test.
pub(crate) trait Space {
    /// `"engine"` or `"kernel"`.
    const NAME: &'static str;
    /// Back to the starting layout: the arena one `PROT_NONE` reservation, nothing
    /// else mapped by the benchmark.
    fn reset(&mut self) -> R<()>;
    /// First address of the arena (1 GiB aligned, [`ARENA_LEN`] bytes).
    fn arena(&self) -> u64;
    fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> R<u64>;
    fn munmap(&mut self, addr: u64, len: u64) -> R<()>;
    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> R<()>;
    fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: u64, new: u64) -> R<u64>;
    /// Write one byte in every page of the range.
    fn touch(&mut self, addr: u64, len: u64) -> R<()>;
    /// Copy `len` bytes from `src` to `dst` (memcpy).
    fn copy(&mut self, dst: u64, src: u64, len: u64) -> R<()>;
    /// Present pages in the range.
    fn resident(&mut self, addr: u64, len: u64) -> R<u64>;
    /// The VMA containing `addr` (setup and checks only: may be slow).
    fn vma_of(&mut self, addr: u64) -> R<Option<(u64, u64)>>;
    /// Number of VMAs (setup and checks only).
    fn vma_count(&mut self) -> R<u64>;
    /// Every VMA as (start, end), in address order (setup and checks only).
    fn vma_list(&mut self) -> R<Vec<(u64, u64)>>;
}

/// The engine: a fresh [`Mm`] per [`Space::reset`].
#[derive(Debug)]
pub(crate) struct Engine {
    seed: Seed,
    cfg: Config,
    arena: u64,
    pub(crate) mm: Mm,
    store: Op,
}

impl Engine {
    /// An engine started from `seed`, with its arena at `arena` (the kernel side's
    /// address, so that both sides have the same alignments).
    pub(crate) fn new(seed: Seed, max_map_count: u64, arena: u64) -> R<Self> {
        let cfg = Config {
            mmap_base: seed.mmap_base,
            max_map_count,
            ..Config::default()
        };
        let mm = Mm::from_seed(&seed, cfg.clone()).map_err(|e| e.to_string())?;
        let mut e = Self {
            seed,
            cfg,
            arena,
            mm,
            store: Op::Store {
                addr: 0,
                data: vec![1],
            },
        };
        e.reset()?;
        Ok(e)
    }
}

fn eng_err(call: &str, o: &Outcome) -> String {
    format!("engine: {call} = {o}")
}

impl Space for Engine {
    const NAME: &'static str = "engine";

    fn reset(&mut self) -> R<()> {
        // Drop the old address space first, so that its memory is back before the new
        // one is built.
        self.mm = Mm::new(Config::default());
        self.mm = Mm::from_seed(&self.seed, self.cfg.clone()).map_err(|e| e.to_string())?;
        let a = self.mmap(
            self.arena,
            ARENA_LEN,
            PROT_NONE,
            PRIV_ANON | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
        )?;
        if a != self.arena {
            return Err(format!("engine: arena landed at {a:#x}"));
        }
        Ok(())
    }

    fn arena(&self) -> u64 {
        self.arena
    }

    #[inline(always)]
    fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> R<u64> {
        let op = Op::Mmap {
            addr,
            len,
            prot,
            flags,
            fd: u64::MAX,
            offset: 0,
        };
        match self.mm.apply(&op) {
            Outcome::Value(v) => Ok(v),
            o => Err(eng_err("mmap", &o)),
        }
    }

    #[inline(always)]
    fn munmap(&mut self, addr: u64, len: u64) -> R<()> {
        match self.mm.apply(&Op::Munmap { addr, len }) {
            Outcome::Value(_) => Ok(()),
            o => Err(eng_err("munmap", &o)),
        }
    }

    #[inline(always)]
    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> R<()> {
        match self.mm.apply(&Op::Mprotect { addr, len, prot }) {
            Outcome::Value(_) => Ok(()),
            o => Err(eng_err("mprotect", &o)),
        }
    }

    #[inline(always)]
    fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: u64, new: u64) -> R<u64> {
        let op = Op::Mremap {
            old_addr: old,
            old_len,
            new_len,
            flags,
            new_addr: new,
        };
        match self.mm.apply(&op) {
            Outcome::Value(v) => Ok(v),
            o => Err(eng_err("mremap", &o)),
        }
    }

    fn touch(&mut self, addr: u64, len: u64) -> R<()> {
        let mut a = addr;
        while a < addr + len {
            if let Op::Store { addr, .. } = &mut self.store {
                *addr = a;
            }
            match self.mm.apply(&self.store) {
                Outcome::Done => {}
                o => return Err(eng_err("store", &o)),
            }
            a += P;
        }
        Ok(())
    }

    fn copy(&mut self, dst: u64, src: u64, len: u64) -> R<()> {
        // In 2 MiB pieces, as a memcpy streams through memory.
        const CHUNK: u64 = 2 * MIB;
        let mut off = 0;
        while off < len {
            let n = CHUNK.min(len - off);
            let data = match self.mm.apply(&Op::Load {
                addr: src + off,
                len: n,
            }) {
                Outcome::Bytes(b) => b,
                o => return Err(eng_err("load", &o)),
            };
            match self.mm.apply(&Op::Store {
                addr: dst + off,
                data,
            }) {
                Outcome::Done => {}
                o => return Err(eng_err("store", &o)),
            }
            off += n;
        }
        Ok(())
    }

    fn resident(&mut self, addr: u64, len: u64) -> R<u64> {
        Ok(self
            .mm
            .page_states(addr, len / P)
            .iter()
            .filter(|s| matches!(s, PageState::Present(_)))
            .count() as u64)
    }

    fn vma_of(&mut self, addr: u64) -> R<Option<(u64, u64)>> {
        Ok(self
            .mm
            .vmas()
            .find(|v| v.start <= addr && addr < v.end)
            .map(|v| (v.start, v.end)))
    }

    fn vma_count(&mut self) -> R<u64> {
        Ok(self.mm.map_count())
    }

    fn vma_list(&mut self) -> R<Vec<(u64, u64)>> {
        Ok(self.mm.vmas().map(|v| (v.start, v.end)).collect())
    }
}

/// The live kernel, in this process.
#[derive(Debug)]
pub(crate) struct KernelSide {
    k: Kernel,
}

impl KernelSide {
    pub(crate) fn new() -> R<Self> {
        let k =
            Kernel::new(ARENA_LEN).map_err(|e| format!("kernel: cannot reserve the arena: {e}"))?;
        Ok(Self { k })
    }
}

#[inline(always)]
fn k_err(call: &'static str) -> impl Fn(KError) -> String {
    move |e| format!("kernel: {call}: {e}")
}

/// This process's maps text.
pub(crate) fn self_maps() -> R<String> {
    std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("/proc/self/maps: {e}"))
}

impl Space for KernelSide {
    const NAME: &'static str = "kernel";

    fn reset(&mut self) -> R<()> {
        self.k.reset().map_err(k_err("reset"))
    }

    fn arena(&self) -> u64 {
        self.k.arena().0
    }

    #[inline(always)]
    fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> R<u64> {
        self.k.mmap(addr, len, prot, flags).map_err(k_err("mmap"))
    }

    #[inline(always)]
    fn munmap(&mut self, addr: u64, len: u64) -> R<()> {
        self.k.munmap(addr, len).map_err(k_err("munmap"))
    }

    #[inline(always)]
    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> R<()> {
        self.k.mprotect(addr, len, prot).map_err(k_err("mprotect"))
    }

    #[inline(always)]
    fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: u64, new: u64) -> R<u64> {
        self.k
            .mremap(old, old_len, new_len, flags, new)
            .map_err(k_err("mremap"))
    }

    #[inline(always)]
    fn touch(&mut self, addr: u64, len: u64) -> R<()> {
        self.k.touch(addr, len).map_err(k_err("touch"))
    }

    fn copy(&mut self, dst: u64, src: u64, len: u64) -> R<()> {
        self.k.copy(dst, src, len).map_err(k_err("copy"))
    }

    fn resident(&mut self, addr: u64, len: u64) -> R<u64> {
        self.k.resident(addr, len).map_err(k_err("mincore"))
    }

    fn vma_of(&mut self, addr: u64) -> R<Option<(u64, u64)>> {
        Ok(self
            .vma_list()?
            .into_iter()
            .find(|&(s, e)| s <= addr && addr < e))
    }

    fn vma_list(&mut self) -> R<Vec<(u64, u64)>> {
        let maps = self_maps()?;
        let mut out = Vec::new();
        for l in maps.lines() {
            if l.ends_with(" [vsyscall]") {
                continue;
            }
            let range = l.split(' ').next().unwrap_or("");
            let Some((s, e)) = range.split_once('-') else {
                continue;
            };
            if let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) {
                out.push((s, e));
            }
        }
        Ok(out)
    }

    fn vma_count(&mut self) -> R<u64> {
        Ok(vmspace_linux::procfs::map_count(&self_maps()?))
    }
}
