//! What `/proc/pid/maps`, `/proc/pid/pagemap` and `/proc/pid/status` would show.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Mm;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::maps::MapsLine;
use crate::op::{Counters, PageState};
use crate::vma::{Backing, Vma};

impl Mm {
    /// The maps line of one VMA.
    ///
    /// # Linux
    /// `show_map_vma` and `get_vma_name`: file name first, then `[heap]` for the VMA
    /// overlapping `[start_brk, brk)`, then `[stack]` for the VMA containing
    /// `start_stack`.
    pub fn maps_line(&self, v: &Vma) -> MapsLine {
        let (offset, dev_major, dev_minor, inode, name) = match v.backing {
            Backing::Anon => {
                let name = if v.start < self.brk && v.end > self.start_brk {
                    Some(String::from("[heap]"))
                } else if v.start <= self.start_stack
                    && v.end >= self.start_stack
                    && self.start_stack != 0
                {
                    Some(String::from("[stack]"))
                } else {
                    None
                };
                (0, 0, 0, 0, name)
            }
            Backing::Object(id) => {
                let o = &self.objects[&id];
                (v.pgoff << PAGE_SHIFT, 0, 1, o.inode, Some(o.maps_name()))
            }
            Backing::Foreign(id) => {
                let f = &self.foreign[id.0 as usize];
                let off = if f.special { 0 } else { v.pgoff << PAGE_SHIFT };
                (off, f.dev_major, f.dev_minor, f.inode, Some(f.name.clone()))
            }
        };
        MapsLine {
            start: v.start,
            end: v.end,
            read: v.vm_flags.contains(crate::VmFlags::READ),
            write: v.vm_flags.contains(crate::VmFlags::WRITE),
            exec: v.vm_flags.contains(crate::VmFlags::EXEC),
            shared: v.vm_flags.contains(crate::VmFlags::MAYSHARE),
            offset,
            dev_major,
            dev_minor,
            inode,
            name,
        }
    }

    /// Append the maps line of `v` to `out` without building a [`MapsLine`].
    fn write_maps_line(&self, v: &Vma, out: &mut String) {
        let (offset, dev_minor, dev_major, inode): (u64, u32, u32, u64);
        let mut memfd_name: Option<&[u8]> = None;
        let name: Option<&str> = match v.backing {
            Backing::Anon => {
                (offset, dev_major, dev_minor, inode) = (0, 0, 0, 0);
                if v.start < self.brk && v.end > self.start_brk {
                    Some("[heap]")
                } else if v.start <= self.start_stack
                    && v.end >= self.start_stack
                    && self.start_stack != 0
                {
                    Some("[stack]")
                } else {
                    None
                }
            }
            Backing::Object(id) => {
                let o = &self.objects[&id];
                (offset, dev_major, dev_minor, inode) = (v.pgoff << PAGE_SHIFT, 0, 1, o.inode);
                match &o.kind {
                    crate::object::ObjKind::ShmemAnon => Some("/dev/zero (deleted)"),
                    crate::object::ObjKind::Memfd { name, .. } => {
                        memfd_name = Some(name);
                        None
                    }
                }
            }
            Backing::Foreign(id) => {
                let f = &self.foreign[id.0 as usize];
                let off = if f.special { 0 } else { v.pgoff << PAGE_SHIFT };
                (offset, dev_major, dev_minor, inode) = (off, f.dev_major, f.dev_minor, f.inode);
                Some(f.name.as_str())
            }
        };
        let line = MapsLine {
            start: v.start,
            end: v.end,
            read: v.vm_flags.contains(crate::VmFlags::READ),
            write: v.vm_flags.contains(crate::VmFlags::WRITE),
            exec: v.vm_flags.contains(crate::VmFlags::EXEC),
            shared: v.vm_flags.contains(crate::VmFlags::MAYSHARE),
            offset,
            dev_major,
            dev_minor,
            inode,
            name: None,
        };
        let start = out.len();
        line.write_to(out);
        if name.is_some() || memfd_name.is_some() {
            crate::maps::pad_for_name(out, start);
            match memfd_name {
                Some(n) => {
                    out.push_str("/memfd:");
                    crate::object::push_maps_path(out, n);
                    out.push_str(" (deleted)");
                }
                None => out.push_str(name.unwrap_or_default()),
            }
        }
    }

    /// The whole `/proc/pid/maps` text.
    pub fn maps_text(&self) -> String {
        let mut s = String::with_capacity(self.vmas.len() * 80 + 80);
        for v in self.vmas.iter() {
            self.write_maps_line(v, &mut s);
            s.push('\n');
        }
        if let Some(g) = &self.gate {
            g.write_to(&mut s);
            s.push('\n');
        }
        s
    }

    /// The maps lines of the VMAs that intersect any of `ranges` (sorted, disjoint
    /// `[start, end)`), each VMA once and in address order, each line ending in a
    /// newline; the gate line is never included. What [`maps_text`](Self::maps_text)
    /// shows for those VMAs, at a cost proportional to their number.
    pub fn maps_window(&self, ranges: &[(u64, u64)]) -> String {
        let mut s = String::new();
        let mut done = 0u64;
        for &(lo, hi) in ranges {
            let lo = lo.max(done);
            if lo >= hi {
                continue;
            }
            for v in self.vmas_in(lo, hi) {
                if v.start < done {
                    continue;
                }
                self.write_maps_line(v, &mut s);
                s.push('\n');
                done = v.end;
            }
        }
        s
    }

    /// `/proc/pid/smaps`-style `VmFlags` of the VMA containing `addr`.
    pub fn vm_flags_at(&self, addr: u64) -> Option<crate::VmFlags> {
        self.vma_at(addr).map(|v| v.vm_flags)
    }

    /// Page-table state of `npages` pages from `start`.
    pub fn page_states(&self, start: u64, npages: u64) -> Vec<PageState> {
        let mut out = alloc::vec![PageState::Absent; npages as usize];
        let end = start.saturating_add(npages.saturating_mul(PAGE_SIZE));
        self.pt.for_each(start, end, |va, f| {
            out[((va - start) / PAGE_SIZE) as usize] = PageState::Present(u64::from(f));
        });
        out
    }

    /// `VmSize`, `VmLck`, `VmData` and the VMA count.
    pub fn counters(&self) -> Counters {
        Counters {
            vm_size_kb: self.total_vm * 4,
            vm_lck_kb: self.locked_vm * 4,
            vm_data_kb: self.data_vm * 4,
            vm_stk_kb: self.stack_vm * 4,
            map_count: self.map_count(),
        }
    }

    /// Whether any memory is locked or will be (`locked_vm`, or `mlockall(MCL_FUTURE)`).
    pub fn has_locked_memory(&self) -> bool {
        self.locked_vm != 0 || self.def_flags.contains(crate::VmFlags::LOCKED)
    }

    /// Whether `mlockall(MCL_FUTURE)` is in force: VMAs made from now on are locked
    /// (`mm->def_flags` has `VM_LOCKED`).
    pub fn locks_future(&self) -> bool {
        self.def_flags.contains(crate::VmFlags::LOCKED)
    }

    /// Resident pages (present entries that are not the zero page).
    pub fn rss_pages(&self) -> u64 {
        let mut n = 0;
        self.pt.for_each(0, self.cfg.task_size, |_, f| {
            if !crate::frame::is_zero_frame(f) {
                n += 1;
            }
        });
        n
    }
}
