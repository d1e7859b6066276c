//! Building an `Mm` from a real process's layout, and a default layout.

use alloc::string::String;

use crate::Mm;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::config::Config;
use crate::flags::VmFlags;
use crate::maps::MapsLine;
use crate::mm::{Fd, Foreign};
use crate::seed::{Seed, SeedVma};
use crate::vma::{Backing, ForeignId, Vma};

/// A seed that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedError {
    /// What is wrong, naming the line.
    pub message: String,
}

impl core::fmt::Display for SeedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for SeedError {}

fn special_name(name: &str) -> bool {
    name.starts_with('[') && name != "[heap]" && name != "[stack]" && !name.starts_with("[anon")
}

impl Mm {
    /// An address space holding a real process's layout: its VMAs become foreign
    /// mappings (files and special mappings keep their names and refuse what the
    /// kernel refuses), `[heap]` and `[stack]` become the brk area and the stack.
    pub fn from_seed(seed: &Seed, mut cfg: Config) -> Result<Self, SeedError> {
        cfg.mmap_base = seed.mmap_base;
        let mut mm = Mm::new(cfg);
        mm.fds.clear();
        for &fd in &seed.open_fds {
            mm.fds.insert(fd, Fd::Foreign);
        }
        mm.start_brk = seed.start_brk;
        mm.data_segment = seed.data_segment;
        mm.brk = seed.brk;
        let mut prev_end = 0;
        for (i, sv) in seed.vmas.iter().enumerate() {
            let l = &sv.line;
            if l.name.as_deref() == Some("[vsyscall]") {
                mm.gate = Some(l.clone());
                continue;
            }
            if l.start % PAGE_SIZE != 0
                || l.end % PAGE_SIZE != 0
                || l.end <= l.start
                || l.start < prev_end
                || l.end > mm.cfg.task_size
            {
                return Err(SeedError {
                    message: alloc::format!(
                        "seed line {}: `{l}` is not a page-aligned VMA above the previous one",
                        i + 1
                    ),
                });
            }
            prev_end = l.end;
            mm.seed_vma(sv);
        }
        // Fix up the locked counter: what smaps says is locked.
        mm.locked_vm = mm
            .vmas
            .iter()
            .filter(|v| v.vm_flags.contains(VmFlags::LOCKED))
            .map(|v| v.pages())
            .sum();
        if let Some(stack) = seed
            .vmas
            .iter()
            .find(|v| v.line.name.as_deref() == Some("[stack]"))
        {
            mm.start_stack = if seed.start_stack != 0 {
                seed.start_stack
            } else {
                stack.line.end - PAGE_SIZE
            };
        }
        Ok(mm)
    }

    fn seed_vma(&mut self, sv: &SeedVma) {
        let l = &sv.line;
        let name = l.name.as_deref();
        let inferred = || {
            let mut f = VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
            if l.read {
                f |= VmFlags::READ;
            }
            if l.write {
                f |= VmFlags::WRITE;
            }
            if l.exec {
                f |= VmFlags::EXEC;
            }
            if l.shared {
                f |= VmFlags::SHARED | VmFlags::MAYSHARE;
            }
            if name == Some("[stack]") {
                f |= VmFlags::GROWSDOWN | VmFlags::ACCOUNT;
            } else if name.is_some_and(special_name) {
                f |= VmFlags::DONTEXPAND | VmFlags::PFNMAP | VmFlags::IO;
            } else if Mm::accountable(f) {
                f |= VmFlags::ACCOUNT;
            }
            f
        };
        let vm_flags = sv.vm_flags.unwrap_or_else(inferred);
        let (backing, pgoff) = match name {
            None | Some("[heap]") | Some("[stack]") => (Backing::Anon, l.start >> PAGE_SHIFT),
            Some(n) => {
                let special = special_name(n);
                let id = match self.foreign.iter().position(|f| {
                    f.name == n
                        && f.inode == l.inode
                        && f.dev_major == l.dev_major
                        && f.dev_minor == l.dev_minor
                        && !f.special
                }) {
                    Some(i) if !special => i,
                    _ => {
                        self.foreign.push(Foreign {
                            name: String::from(n),
                            dev_major: l.dev_major,
                            dev_minor: l.dev_minor,
                            inode: l.inode,
                            special,
                        });
                        self.foreign.len() - 1
                    }
                };
                (
                    Backing::Foreign(ForeignId(id as u32)),
                    if special { 0 } else { l.offset >> PAGE_SHIFT },
                )
            }
        };
        // A VMA with anonymous pages has an anon_vma. When its neighbour below also has
        // one and the two are anon_vma_compatible (same backing, flags equal but for
        // the access bits, contiguous pgoff), they share it: whichever faulted second
        // reused the other's (find_mergeable_anon_vma), which lets them merge later.
        let anon = if sv.faulted && !vm_flags.contains(VmFlags::SHARED) {
            let shared_with = self.vma_before(l.start).filter(|p| {
                p.end == l.start
                    && p.backing == backing
                    && (p.vm_flags ^ vm_flags)
                        .difference(VmFlags::ACCESS | VmFlags::SOFTDIRTY)
                        .is_empty()
                    && p.pgoff.wrapping_add(p.pages()) == pgoff
            });
            match shared_with.and_then(|p| p.anon) {
                Some(a) => Some(a),
                None => Some(self.new_anon()),
            }
        } else {
            None
        };
        self.insert_vma(Vma {
            start: l.start,
            end: l.end,
            vm_flags,
            pgoff,
            backing,
            anon,
        });
        if vm_flags.contains(VmFlags::ACCOUNT) {
            self.committed += (l.end - l.start) / PAGE_SIZE;
        }
    }

    /// The maps line of the gate page, if the seed had one.
    pub fn gate_line(&self) -> Option<&MapsLine> {
        self.gate.as_ref()
    }
}
