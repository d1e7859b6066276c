//! `mmap`.

use alloc::collections::BTreeMap;

use crate::Mm;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE, page_align_wrapping, pages};
use crate::area::AreaKind;
use crate::error::{SysResult, bail};
use crate::flags::{MapFlags, ProtFlags, VmFlags};
use crate::mm::Fd;
use crate::object::{ObjKind, Object};
use crate::vma::{Backing, ObjId, Vma};

/// `calc_vm_prot_bits`.
pub(crate) fn prot_to_vm(prot: u64) -> VmFlags {
    let p = ProtFlags::from_bits_retain(prot);
    let mut f = VmFlags::empty();
    if p.contains(ProtFlags::READ) {
        f |= VmFlags::READ;
    }
    if p.contains(ProtFlags::WRITE) {
        f |= VmFlags::WRITE;
    }
    if p.contains(ProtFlags::EXEC) {
        f |= VmFlags::EXEC;
    }
    f
}

/// The file behind an mmap, once the descriptor is resolved.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum MapFile {
    None,
    Object(ObjId),
    /// A descriptor of the seeded process (`/dev/null`, a pipe): no `->mmap`.
    NoMmap,
}

impl Mm {
    /// `mmap(addr, len, prot, flags, fd, offset)`—Map memory.
    ///
    /// # Errors
    /// In the kernel's order: `EINVAL` for an unaligned offset; `EBADF` for a bad
    /// descriptor without `MAP_ANONYMOUS`; `EINVAL` for `MAP_HUGETLB` on a memfd,
    /// `EINVAL` for anonymous `MAP_HUGETLB` with an unknown size or a length that
    /// rounds up to 0 in huge pages, `ENOMEM` for the others (no huge page pool);
    /// `EINVAL` for len 0; `ENOMEM` when the rounded length overflows; `EOVERFLOW`
    /// when the offset overflows; `ENOMEM` above `max_map_count`; the
    /// address-selection errors (`ENOMEM`, `EINVAL`, `EPERM`, and for a `MAP_FIXED`
    /// address in the last 4095 bytes of the 64-bit range the errno it encodes:
    /// `0xfffffffffffffff3` gives `EACCES`); `EEXIST` for an occupied `MAP_FIXED_NOREPLACE`;
    /// `EPERM`/`EAGAIN` for `MAP_LOCKED` limits; `EOPNOTSUPP`, `EINVAL`, `ENODEV` for
    /// the file and map-type checks; `ENOMEM` for RLIMIT_AS/DATA and commit limits.
    ///
    /// # Linux
    /// Mirrors x86 `sys_mmap`, `ksys_mmap_pgoff`, `do_mmap` and `__mmap_region` of 6.18.
    /// `ksys_mmap_pgoff` rounds an anonymous `MAP_HUGETLB` length up to the huge page
    /// size (`ALIGN`, which wraps to 0 for lengths within a huge page of 2^64) before
    /// `do_mmap` checks it for 0; `__get_unmapped_area` takes any address it gets back
    /// in `[-4095, -1]` for an error code (`IS_ERR_VALUE`), and x86's
    /// `arch_get_unmapped_area_topdown` returns a `MAP_FIXED` address unchanged.
    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: u64,
        offset: u64,
    ) -> SysResult<u64> {
        if offset & (PAGE_SIZE - 1) != 0 {
            bail!(EINVAL, "sys_mmap: offset not page-aligned");
        }
        let mut pgoff = offset >> PAGE_SHIFT;
        let mflags = MapFlags::from_bits_retain(flags);
        let mut file = MapFile::None;
        if !mflags.contains(MapFlags::ANONYMOUS) {
            let fd32 = fd as u32;
            file = match self.fds.get(&fd32) {
                None => bail!(EBADF, "ksys_mmap_pgoff: fd is not open"),
                Some(Fd::Object(id)) => MapFile::Object(*id),
                Some(Fd::Foreign) => MapFile::NoMmap,
            };
            if mflags.contains(MapFlags::HUGETLB) {
                bail!(
                    EINVAL,
                    "ksys_mmap_pgoff: MAP_HUGETLB on a file that is not hugetlbfs"
                );
            }
        } else if mflags.contains(MapFlags::HUGETLB) {
            // Huge page sizes this machine has: the default (2 MiB), 2 MiB and 1 GiB.
            let huge_shift = match (flags >> 26) & 0x3f {
                0 | 21 => 21,
                30 => 30,
                _ => bail!(EINVAL, "ksys_mmap_pgoff: no hstate for the MAP_HUGE_* size"),
            };
            // ksys_mmap_pgoff rounds len up to the huge page size (wrapping to 0 near
            // the top), and do_mmap refuses the 0.
            let huge_mask = (1u64 << huge_shift) - 1;
            if len.wrapping_add(huge_mask) & !huge_mask == 0 {
                bail!(EINVAL, "do_mmap: len rounded up to the huge page size is 0");
            }
            if mflags.contains(MapFlags::NORESERVE) {
                return Err(crate::syscall::unsupported(
                    "mmap: hugetlb mappings are not modelled",
                ));
            }
            bail!(ENOMEM, "hugetlb_reserve_pages: no huge pages are reserved");
        }
        self.do_mmap(file, addr, len, prot, mflags, &mut pgoff)
    }

    fn do_mmap(
        &mut self,
        file: MapFile,
        mut addr: u64,
        len: u64,
        prot: u64,
        mut flags: MapFlags,
        pgoff: &mut u64,
    ) -> SysResult<u64> {
        if len == 0 {
            bail!(EINVAL, "do_mmap: len is 0");
        }
        if flags.contains(MapFlags::FIXED_NOREPLACE) {
            flags |= MapFlags::FIXED;
        }
        let fixed = flags.contains(MapFlags::FIXED);
        if !fixed {
            // round_hint_to_min
            addr &= !(PAGE_SIZE - 1);
            if addr != 0 && addr < self.cfg.search_min_addr {
                addr = page_align_wrapping(self.cfg.search_min_addr);
            }
        }
        let len = page_align_wrapping(len);
        if len == 0 {
            bail!(ENOMEM, "do_mmap: rounding len up overflows");
        }
        if pgoff.checked_add(pages(len)).is_none() {
            bail!(EOVERFLOW, "do_mmap: pgoff + len overflows");
        }
        if self.map_count() > self.cfg.max_map_count {
            bail!(ENOMEM, "do_mmap: map_count > max_map_count");
        }
        let mut vm_flags = prot_to_vm(prot)
            | self.def_flags
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;
        if flags.contains(MapFlags::GROWSDOWN) {
            vm_flags |= VmFlags::GROWSDOWN;
        }
        if flags.contains(MapFlags::LOCKED) {
            vm_flags |= VmFlags::LOCKED;
        }
        if flags.contains(MapFlags::SYNC) {
            vm_flags |= VmFlags::SYNC;
        }
        if flags.contains(MapFlags::STACK) {
            vm_flags |= VmFlags::NOHUGEPAGE;
        }
        let map_type = flags.bits() & MapFlags::TYPE_MASK;
        let kind = match file {
            MapFile::None if map_type & 1 == 0 => AreaKind::PrivateAnon,
            _ => AreaKind::File,
        };
        let addr = self.get_unmapped_area(kind, addr, len, flags)?;
        if flags.contains(MapFlags::FIXED_NOREPLACE) && self.intersects(addr, addr + len) {
            bail!(EEXIST, "do_mmap: MAP_FIXED_NOREPLACE range is occupied");
        }
        if flags.contains(MapFlags::LOCKED) && !self.can_do_mlock() {
            bail!(
                EPERM,
                "do_mmap: MAP_LOCKED without CAP_IPC_LOCK and RLIMIT_MEMLOCK 0"
            );
        }
        if !self.mlock_future_ok(vm_flags, pages(len)) {
            bail!(EAGAIN, "mlock_future_ok: RLIMIT_MEMLOCK exceeded");
        }
        let backing = match file {
            MapFile::Object(_) | MapFile::NoMmap => {
                // file_mmap_ok: the end offset must fit in a loff_t (shmem s_maxbytes).
                let end_off = pgoff
                    .checked_add(pages(len))
                    .and_then(|p| p.checked_mul(PAGE_SIZE));
                if end_off.is_none_or(|e| e > i64::MAX as u64) {
                    bail!(
                        EOVERFLOW,
                        "file_mmap_ok: offset + len beyond the file size limit"
                    );
                }
                match map_type {
                    0x01 | 0x03 => {
                        if map_type == 0x01 {
                            flags =
                                MapFlags::from_bits_retain(flags.bits() & MapFlags::LEGACY_MASK);
                        }
                        if flags.bits() & !MapFlags::LEGACY_MASK != 0 {
                            bail!(
                                EOPNOTSUPP,
                                "do_mmap: MAP_SHARED_VALIDATE with flags this file does not support"
                            );
                        }
                        vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                    }
                    0x02 => {}
                    _ => bail!(EINVAL, "do_mmap: invalid map type"),
                }
                let MapFile::Object(id) = file else {
                    bail!(ENODEV, "do_mmap: this descriptor's file cannot be mapped");
                };
                if vm_flags.contains(VmFlags::GROWSDOWN) {
                    bail!(EINVAL, "do_mmap: MAP_GROWSDOWN on a file mapping");
                }
                Backing::Object(id)
            }
            MapFile::None => match map_type {
                0x01 => {
                    if vm_flags.contains(VmFlags::GROWSDOWN) {
                        bail!(EINVAL, "do_mmap: MAP_GROWSDOWN with MAP_SHARED");
                    }
                    *pgoff = 0;
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                    Backing::Anon
                }
                0x08 | 0x02 => {
                    if map_type == 0x08 {
                        if flags.contains(MapFlags::LOCKED) {
                            bail!(EINVAL, "do_mmap: MAP_DROPPABLE with MAP_LOCKED");
                        }
                        if flags.contains(MapFlags::GROWSDOWN) {
                            bail!(EINVAL, "do_mmap: MAP_DROPPABLE with MAP_GROWSDOWN");
                        }
                        vm_flags |= VmFlags::DROPPABLE
                            | VmFlags::NORESERVE
                            | VmFlags::WIPEONFORK
                            | VmFlags::DONTDUMP;
                    }
                    *pgoff = addr >> PAGE_SHIFT;
                    Backing::Anon
                }
                _ => bail!(EINVAL, "do_mmap: invalid map type"),
            },
        };
        if flags.contains(MapFlags::NORESERVE) && self.cfg.overcommit.mode != 2 {
            vm_flags |= VmFlags::NORESERVE;
        }
        let shared_anon = file == MapFile::None && vm_flags.contains(VmFlags::SHARED);
        let addr = self.mmap_region(addr, len, vm_flags, backing, *pgoff, shared_anon)?;
        // The populate decision uses do_mmap's own flags: a mapping that lost VM_LOCKED
        // in __mmap_complete (droppable, special) is still populated.
        if vm_flags.contains(VmFlags::LOCKED)
            || flags.bits() & (MapFlags::POPULATE.bits() | MapFlags::NONBLOCK.bits())
                == MapFlags::POPULATE.bits()
        {
            let _ = self.mm_populate(addr, addr + len, true);
        }
        Ok(addr)
    }

    /// Gather the VMAs a new mapping replaces: split at the edges of `[start, end)`.
    /// Returns (pages, accounted pages) inside the range.
    pub(crate) fn gather_for_replace(&mut self, start: u64, end: u64) -> SysResult<(u64, u64)> {
        if !self.split_at_edges(start, end)? {
            // Nothing in the range (the common case of a chosen address).
            return Ok((0, 0));
        }
        let (mut n, mut acct) = (0, 0);
        for v in self.vmas.range(start, end) {
            n += v.pages();
            if v.vm_flags.contains(VmFlags::ACCOUNT) {
                acct += v.pages();
            }
        }
        Ok((n, acct))
    }

    /// `__mmap_region`: replace whatever is in `[addr, addr + len)` with a new mapping.
    pub(crate) fn mmap_region(
        &mut self,
        addr: u64,
        len: u64,
        mut vm_flags: VmFlags,
        backing: Backing,
        pgoff: u64,
        shared_anon: bool,
    ) -> SysResult<u64> {
        let end = addr + len;
        let pglen = pages(len);
        let (nr_pages, nr_accounted) = self.gather_for_replace(addr, end)?;
        if !self.may_expand_vm(vm_flags, pglen - nr_pages) {
            bail!(ENOMEM, "may_expand_vm: RLIMIT_AS or RLIMIT_DATA exceeded");
        }
        if Mm::accountable(vm_flags) {
            let charged = pglen - nr_accounted;
            if charged > 0 && !self.vm_enough_memory(charged) {
                bail!(ENOMEM, "__vm_enough_memory: commit limit");
            }
            vm_flags |= VmFlags::ACCOUNT;
        }
        // Tear down the old mappings (their charge moves to the new one). After the
        // gather, the VMAs in the range are exactly those starting in it.
        if nr_pages > 0 {
            self.unmap_inside(addr, end);
            self.free_pgtables(addr, end);
        }
        if vm_flags.contains(VmFlags::ACCOUNT) {
            self.committed += pglen;
        }
        let backing = if shared_anon {
            // shmem_zero_setup charges the whole object (after the old mappings are
            // gone: a failure here leaves a hole).
            if !vm_flags.contains(VmFlags::NORESERVE) && !self.vm_enough_memory(pglen) {
                bail!(
                    ENOMEM,
                    "shmem_zero_setup: commit limit for the shmem object"
                );
            }
            let id = ObjId(self.next_obj);
            self.next_obj += 1;
            let inode = self.next_inode;
            self.next_inode += 1;
            self.objects.insert(
                id,
                Object {
                    kind: ObjKind::ShmemAnon,
                    size: len,
                    pages: BTreeMap::new(),
                    inode,
                    fd_refs: 0,
                    vma_refs: 0,
                },
            );
            Backing::Object(id)
        } else {
            backing
        };
        let key = match self.merge_new(addr, end, vm_flags, backing, pgoff, None) {
            Some(k) => k,
            None => {
                self.insert_vma(Vma {
                    start: addr,
                    end,
                    vm_flags,
                    pgoff,
                    backing,
                    anon: None,
                });
                addr
            }
        };
        // __mmap_complete: mappings that cannot be locked (special, hugetlb, droppable)
        // silently lose the lock flags, after placement; the others count in locked_vm.
        if vm_flags.contains(VmFlags::LOCKED) {
            if vm_flags.intersects(VmFlags::SPECIAL | VmFlags::HUGETLB | VmFlags::DROPPABLE) {
                self.update_vma(key, |v| v.vm_flags.remove(VmFlags::LOCKED_MASK));
            } else {
                self.locked_vm += pglen;
            }
        }
        Ok(addr)
    }
}
