//! memfd files: `memfd_create`, `ftruncate`, `pwrite64`, `close`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::Mm;
use crate::addr::{PAGE_SIZE, page_align_down};
use crate::error::{SysResult, bail};
use crate::fault::FaultErr;
use crate::flags::MemfdFlags;
use crate::mm::Fd;
use crate::object::{ObjKind, Object};
use crate::syscall::unsupported;
use crate::vma::{Backing, ObjId};

/// `MFD_NAME_MAX_LEN`: NAME_MAX minus the `memfd:` prefix.
const MFD_NAME_MAX_LEN: usize = 255 - 6;
/// Largest file size (`MAX_LFS_FILESIZE`).
const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;

impl Mm {
    fn fd_object(&self, fd: u64) -> SysResult<Option<ObjId>> {
        match self.fds.get(&(fd as u32)) {
            None => bail!(EBADF, "fdget: descriptor is not open"),
            Some(Fd::Object(id)) => Ok(Some(*id)),
            Some(Fd::Foreign) => Ok(None),
        }
    }

    /// `memfd_create(name, flags)`—Create an anonymous shmem file.
    ///
    /// # Errors
    /// In the kernel's order: `EINVAL` for unknown flags (the `MFD_HUGE_*` size bits
    /// are known only with `MFD_HUGETLB`), for `MFD_EXEC` with `MFD_NOEXEC_SEAL`, and
    /// for a name longer than 249 bytes; `EMFILE` when no descriptor is free; `ENODEV`
    /// for `MFD_HUGETLB` with a huge page size the machine lacks. A valid
    /// `MFD_HUGETLB` request is refused as not modelled.
    ///
    /// # Linux
    /// Mirrors `memfd_create` in mm/memfd.c of 6.18 (`sanitize_flags` before the name
    /// is read, `hugetlb_file_setup` after the descriptor is reserved). The flags are
    /// an `unsigned int`: the upper 32 bits of the argument are ignored. The name
    /// stops at its first NUL as the kernel reads a C string (`strnlen_user`).
    pub fn memfd_create(&mut self, name: &[u8], flags: u64) -> SysResult<u64> {
        /// `MFD_HUGE_MASK << MFD_HUGE_SHIFT`: the huge page size, as a log2.
        const HUGE_SIZE_BITS: u64 = 0x3f << 26;
        let all = MemfdFlags::CLOEXEC
            | MemfdFlags::ALLOW_SEALING
            | MemfdFlags::HUGETLB
            | MemfdFlags::NOEXEC_SEAL
            | MemfdFlags::EXEC;
        let flags = u64::from(flags as u32);
        let f = MemfdFlags::from_bits_retain(flags);
        let known = if f.contains(MemfdFlags::HUGETLB) {
            all.bits() | HUGE_SIZE_BITS
        } else {
            all.bits()
        };
        if flags & !known != 0 {
            bail!(EINVAL, "memfd_create: unknown flags");
        }
        if f.contains(MemfdFlags::EXEC) && f.contains(MemfdFlags::NOEXEC_SEAL) {
            bail!(EINVAL, "memfd_create: MFD_EXEC with MFD_NOEXEC_SEAL");
        }
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        if name.len() > MFD_NAME_MAX_LEN {
            bail!(EINVAL, "memfd_create: name longer than MFD_NAME_MAX_LEN");
        }
        let fd = self.alloc_fd();
        if u64::from(fd) >= 1 << 20 {
            bail!(EMFILE, "get_unused_fd_flags: no free descriptor");
        }
        if f.contains(MemfdFlags::HUGETLB) {
            // Huge page sizes this machine has: the default (2 MiB), 2 MiB and 1 GiB.
            if !matches!((flags & HUGE_SIZE_BITS) >> 26, 0 | 21 | 30) {
                bail!(
                    ENODEV,
                    "hugetlb_file_setup: no hstate for the MFD_HUGE_* size"
                );
            }
            return Err(unsupported(
                "memfd_create: MFD_HUGETLB (hugetlbfs) is not modelled",
            ));
        }
        let id = ObjId(self.next_obj);
        self.next_obj += 1;
        let inode = self.next_inode;
        self.next_inode += 1;
        self.objects.insert(
            id,
            Object {
                kind: ObjKind::Memfd {
                    name: name.to_vec(),
                    seals: 0,
                },
                size: 0,
                pages: BTreeMap::new(),
                inode,
                fd_refs: 1,
                vma_refs: 0,
            },
        );
        self.fds.insert(fd, Fd::Object(id));
        Ok(u64::from(fd))
    }

    /// `ftruncate(fd, length)`—Set a memfd's size. Shrinking discards the pages past
    /// the new end, including private copies mapped from them, and zeroes the tail of
    /// a partial last page.
    ///
    /// # Errors
    /// `EINVAL` for a negative length or a descriptor that is not a memfd; `EBADF`
    /// for a closed descriptor; `EFBIG` beyond the largest file size.
    ///
    /// # Linux
    /// Mirrors `do_sys_ftruncate`, `shmem_setattr` and `truncate_pagecache`
    /// (`unmap_mapping_range` with `even_cows`).
    pub fn ftruncate(&mut self, fd: u64, length: u64) -> SysResult<u64> {
        if (length as i64) < 0 {
            bail!(EINVAL, "do_sys_ftruncate: negative length");
        }
        let Some(id) = self.fd_object(fd)? else {
            bail!(
                EINVAL,
                "do_sys_ftruncate: not a regular file opened for writing"
            );
        };
        if length > MAX_LFS_FILESIZE {
            bail!(EFBIG, "inode_newsize_ok: beyond s_maxbytes");
        }
        let old = self.objects[&id].size;
        self.objects.get_mut(&id).expect("live object").size = length;
        if length < old {
            self.truncate_object(id, length);
        }
        Ok(0)
    }

    /// Drop cached pages past `size` and every mapping of them.
    fn truncate_object(&mut self, id: ObjId, size: u64) {
        let first_gone = size.div_ceil(PAGE_SIZE);
        // Zap PTEs of pages at or beyond `first_gone` in every VMA of the object.
        let vmas: Vec<(u64, u64, u64)> = self
            .vmas
            .iter()
            .filter(|v| v.backing == Backing::Object(id))
            .map(|v| (v.start, v.end, v.pgoff))
            .collect();
        for (start, end, pgoff) in vmas {
            let pages_in = (end - start) / PAGE_SIZE;
            if pgoff + pages_in <= first_gone {
                continue;
            }
            let from = if pgoff >= first_gone {
                start
            } else {
                start + (first_gone - pgoff) * PAGE_SIZE
            };
            self.zap_range(from, end);
        }
        let obj = self.objects.get_mut(&id).expect("live object");
        let gone: Vec<u64> = obj.pages.range(first_gone..).map(|(&k, _)| k).collect();
        let mut freed = Vec::new();
        for k in gone {
            if let Some(f) = obj.pages.remove(&k) {
                freed.push(f);
            }
        }
        let partial = if !size.is_multiple_of(PAGE_SIZE) {
            obj.pages.get(&(size / PAGE_SIZE)).copied()
        } else {
            None
        };
        for f in freed {
            self.frames.put(f);
        }
        if let Some(f) = partial {
            let off = (size % PAGE_SIZE) as usize;
            let zeros = alloc::vec![0u8; PAGE_SIZE as usize - off];
            self.frames.write(f, off, &zeros);
        }
    }

    /// `pwrite64(fd, buf, count, offset)`—Write to a memfd at an offset.
    ///
    /// # Errors
    /// `EINVAL` for a negative offset or an offset + count that overflows; `EBADF` for a
    /// closed descriptor; `EFBIG` beyond the largest file size.
    ///
    /// # Linux
    /// Mirrors `ksys_pwrite64`, `vfs_write` and shmem's write path: the file grows to
    /// cover the write.
    pub fn pwrite64(&mut self, fd: u64, data: &[u8], offset: u64) -> SysResult<u64> {
        if (offset as i64) < 0 {
            bail!(EINVAL, "ksys_pwrite64: negative offset");
        }
        let Some(id) = self.fd_object(fd)? else {
            return Err(unsupported(
                "pwrite64: writing to descriptors the model did not create is not modelled",
            ));
        };
        let count = data.len() as u64;
        if count == 0 {
            return Ok(0);
        }
        let Some(end) = offset.checked_add(count).filter(|&e| e as i64 >= 0) else {
            bail!(EINVAL, "rw_verify_area: offset + count overflows");
        };
        if end > MAX_LFS_FILESIZE {
            bail!(EFBIG, "generic_write_checks: beyond s_maxbytes");
        }
        let mut pos = offset;
        while pos < end {
            let index = pos / PAGE_SIZE;
            let frame = match self.cache_page(id, index) {
                Ok(f) => f,
                Err(FaultErr::Oom) => bail!(ENOMEM, "shmem_write_begin: out of memory"),
                Err(_) => bail!(EFAULT, "shmem_write_begin"),
            };
            let n = (page_align_down(pos) + PAGE_SIZE).min(end) - pos;
            let from = (pos - offset) as usize;
            self.frames.write(
                frame,
                (pos % PAGE_SIZE) as usize,
                &data[from..from + n as usize],
            );
            pos += n;
        }
        let o = self.objects.get_mut(&id).expect("live object");
        if end > o.size {
            o.size = end;
        }
        Ok(count)
    }

    /// `close(fd)`.
    ///
    /// # Errors
    /// `EBADF` for a descriptor that is not open.
    pub fn close(&mut self, fd: u64) -> SysResult<u64> {
        let fd = fd as u32;
        match self.fds.remove(&fd) {
            None => bail!(EBADF, "close: descriptor is not open"),
            Some(Fd::Foreign) => Ok(0),
            Some(Fd::Object(id)) => {
                let o = self.objects.get_mut(&id).expect("live object");
                o.fd_refs -= 1;
                self.maybe_free_object(Backing::Object(id));
                Ok(0)
            }
        }
    }
}
