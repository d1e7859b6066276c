//! `Mm::check_invariants`: the model's internal consistency, recomputed from scratch.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use crate::Mm;
use crate::addr::{PAGE_SIZE, pages};
use crate::flags::VmFlags;
use crate::frame::FrameKind;
use crate::vma::{Backing, is_data_mapping, is_exec_mapping, is_stack_mapping};

impl Mm {
    /// Check every invariant; returns a description of the first violation.
    ///
    /// - VMAs are page-aligned, non-empty, sorted, non-overlapping, below TASK_SIZE;
    /// - every present page-table entry lies inside a VMA and refers to a live frame;
    /// - frame reference counts equal page-table references plus page-cache holds;
    /// - `total_vm`/`data_vm`/`exec_vm`/`stack_vm` equal sums over the VMAs and
    ///   `locked_vm` equals the locked VMAs' pages plus the recorded DONTUNMAP leak;
    /// - object reference counts equal the VMAs and descriptors that use them.
    ///
    /// Two adjacent VMAs that could merge are allowed: Linux leaves such pairs in
    /// documented cases (a failed second split at `max_map_count - 1`).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut prev_end = 0;
        let (mut total, mut data, mut exec, mut stack, mut locked) = (0, 0, 0, 0, 0u64);
        let mut obj_vmas: BTreeMap<u32, u32> = BTreeMap::new();
        for v in self.vmas.iter() {
            if v.start % PAGE_SIZE != 0 || v.end % PAGE_SIZE != 0 || v.end <= v.start {
                return Err(format!(
                    "VMA {:#x}-{:#x} is not page-aligned and non-empty",
                    v.start, v.end
                ));
            }
            if v.start < prev_end {
                return Err(format!(
                    "VMA {:#x}-{:#x} overlaps its predecessor",
                    v.start, v.end
                ));
            }
            if v.end > self.cfg.task_size {
                return Err(format!(
                    "VMA {:#x}-{:#x} ends above TASK_SIZE",
                    v.start, v.end
                ));
            }
            prev_end = v.end;
            let n = v.pages();
            total += n;
            if is_exec_mapping(v.vm_flags) {
                exec += n;
            } else if is_stack_mapping(v.vm_flags) {
                stack += n;
            } else if is_data_mapping(v.vm_flags) {
                data += n;
            }
            if v.vm_flags.contains(VmFlags::LOCKED) {
                locked += n;
            }
            if let Backing::Object(id) = v.backing {
                *obj_vmas.entry(id.0).or_default() += 1;
                if !self.objects.contains_key(&id) {
                    return Err(format!("VMA {:#x} refers to a dead object", v.start));
                }
            }
        }
        // The index's order, gaps and summaries.
        self.vmas.check()?;
        let counters = [
            ("total_vm", self.total_vm, total),
            ("data_vm", self.data_vm, data),
            ("exec_vm", self.exec_vm, exec),
            ("stack_vm", self.stack_vm, stack),
        ];
        for (name, have, want) in counters {
            if have != want {
                return Err(format!("{name} is {have} pages but the VMAs sum to {want}"));
            }
        }
        if self.locked_vm as i64 != locked as i64 + self.locked_vm_leak {
            return Err(format!(
                "locked_vm is {} pages but locked VMAs sum to {locked} (+ leak {})",
                self.locked_vm, self.locked_vm_leak
            ));
        }
        for (id, o) in &self.objects {
            let want = obj_vmas.get(&id.0).copied().unwrap_or(0);
            if o.vma_refs != want {
                return Err(format!(
                    "object {} has vma_refs {} but {want} VMAs use it",
                    id.0, o.vma_refs
                ));
            }
            let fds = self
                .fds
                .values()
                .filter(|f| **f == crate::mm::Fd::Object(*id))
                .count() as u32;
            if o.fd_refs != fds {
                return Err(format!(
                    "object {} has fd_refs {} but {fds} descriptors",
                    id.0, o.fd_refs
                ));
            }
            if o.vma_refs == 0 && o.fd_refs == 0 {
                return Err(format!("object {} is unreferenced but alive", id.0));
            }
        }
        // Page-table entries and frame references.
        let mut refs: BTreeMap<u32, u32> = BTreeMap::new();
        let mut bad = None;
        let mut present = 0;
        self.pt.for_each(0, self.cfg.task_size, |va, f| {
            present += 1;
            if bad.is_none() && self.vma_at(va).is_none() {
                bad = Some(format!("page-table entry at {va:#x} outside every VMA"));
            }
            if !crate::frame::is_zero_frame(f) {
                *refs.entry(f).or_default() += 1;
            }
        });
        if let Some(b) = bad {
            return Err(b);
        }
        if present != self.pt.present() {
            return Err(format!(
                "page table counts {} present entries, a walk finds {present}",
                self.pt.present()
            ));
        }
        for o in self.objects.values() {
            for &f in o.pages.values() {
                *refs.entry(f).or_default() += 1;
            }
        }
        let mut in_use = 0;
        for (id, kind, r) in self.frames.all() {
            let want = refs.get(&id).copied().unwrap_or(0);
            if kind == FrameKind::Free {
                if want != 0 {
                    return Err(format!("free frame {id} is referenced {want} times"));
                }
                continue;
            }
            in_use += 1;
            if r != want {
                return Err(format!(
                    "frame {id} ({kind:?}) has refcount {r} but {want} references"
                ));
            }
        }
        if in_use != self.frames.in_use() {
            return Err(format!(
                "{} frames counted in use, {in_use} found",
                self.frames.in_use()
            ));
        }
        let _ = pages(0);
        Ok(())
    }
}
