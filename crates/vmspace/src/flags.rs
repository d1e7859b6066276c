//! Flag types of the modelled calls, with Linux's x86-64 values.
//!
//! Every type keeps unknown bits (`from_bits_retain`), because the ABI lets a caller
//! pass any bit and the kernel's answer to unknown bits is part of the behaviour.

use bitflags::bitflags;

bitflags! {
    /// `PROT_*` for `mmap` and `mprotect`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct ProtFlags: u64 {
        /// `PROT_READ`
        const READ = 0x1;
        /// `PROT_WRITE`
        const WRITE = 0x2;
        /// `PROT_EXEC`
        const EXEC = 0x4;
        /// `PROT_SEM` (accepted and ignored on x86-64)
        const SEM = 0x8;
        /// `PROT_GROWSDOWN` (mprotect only)
        const GROWSDOWN = 0x0100_0000;
        /// `PROT_GROWSUP` (mprotect only; no grows-up VMAs on x86-64)
        const GROWSUP = 0x0200_0000;
        const _ = !0;
    }
}

bitflags! {
    /// `MAP_*` for `mmap`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct MapFlags: u64 {
        /// `MAP_SHARED`
        const SHARED = 0x01;
        /// `MAP_PRIVATE`
        const PRIVATE = 0x02;
        /// `MAP_SHARED_VALIDATE` (both type bits; since Linux 4.15)
        const SHARED_VALIDATE = 0x03;
        /// `MAP_DROPPABLE` (type value 8; since Linux 6.12)
        const DROPPABLE = 0x08;
        /// `MAP_FIXED`
        const FIXED = 0x10;
        /// `MAP_ANONYMOUS`
        const ANONYMOUS = 0x20;
        /// `MAP_32BIT`
        const BIT32 = 0x40;
        /// `MAP_ABOVE4G` (since Linux 6.4)
        const ABOVE4G = 0x80;
        /// `MAP_GROWSDOWN`
        const GROWSDOWN = 0x100;
        /// `MAP_DENYWRITE` (ignored)
        const DENYWRITE = 0x800;
        /// `MAP_EXECUTABLE` (ignored)
        const EXECUTABLE = 0x1000;
        /// `MAP_LOCKED`
        const LOCKED = 0x2000;
        /// `MAP_NORESERVE`
        const NORESERVE = 0x4000;
        /// `MAP_POPULATE`
        const POPULATE = 0x8000;
        /// `MAP_NONBLOCK`
        const NONBLOCK = 0x10000;
        /// `MAP_STACK`
        const STACK = 0x20000;
        /// `MAP_HUGETLB`
        const HUGETLB = 0x40000;
        /// `MAP_SYNC`
        const SYNC = 0x80000;
        /// `MAP_FIXED_NOREPLACE` (since Linux 4.17)
        const FIXED_NOREPLACE = 0x10_0000;
        /// `MAP_UNINITIALIZED` (no effect without CONFIG_MMAP_ALLOW_UNINITIALIZED)
        const UNINITIALIZED = 0x400_0000;
        const _ = !0;
    }
}

impl MapFlags {
    /// The `MAP_TYPE` field (the low 4 bits).
    pub const TYPE_MASK: u64 = 0x0f;
    /// Flags every `MAP_SHARED` caller may pass without `MAP_SHARED_VALIDATE` checking them
    /// (the kernel's `LEGACY_MAP_MASK`).
    pub const LEGACY_MASK: u64 = 0x01
        | 0x02
        | 0x10
        | 0x20
        | 0x800
        | 0x1000
        | 0x2000
        | 0x4000
        | 0x8000
        | 0x10000
        | 0x20000
        | 0x40000
        | 0x100
        | 0x40
        | 0x80
        | 0x400_0000
        | 0x7c00_0000;
}

bitflags! {
    /// `MREMAP_*` for `mremap`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct MremapFlags: u64 {
        /// `MREMAP_MAYMOVE`
        const MAYMOVE = 1;
        /// `MREMAP_FIXED`
        const FIXED = 2;
        /// `MREMAP_DONTUNMAP` (since Linux 5.7)
        const DONTUNMAP = 4;
        const _ = !0;
    }
}

bitflags! {
    /// `MLOCK_*` for `mlock2`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct MlockFlags: u64 {
        /// `MLOCK_ONFAULT` (since Linux 4.4)
        const ONFAULT = 1;
        const _ = !0;
    }
}

bitflags! {
    /// `MCL_*` for `mlockall`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct MlockAllFlags: u64 {
        /// `MCL_CURRENT`
        const CURRENT = 1;
        /// `MCL_FUTURE`
        const FUTURE = 2;
        /// `MCL_ONFAULT`
        const ONFAULT = 4;
        const _ = !0;
    }
}

bitflags! {
    /// `MFD_*` for `memfd_create`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub struct MemfdFlags: u64 {
        /// `MFD_CLOEXEC`
        const CLOEXEC = 1;
        /// `MFD_ALLOW_SEALING`
        const ALLOW_SEALING = 2;
        /// `MFD_HUGETLB`
        const HUGETLB = 4;
        /// `MFD_NOEXEC_SEAL` (since Linux 6.3)
        const NOEXEC_SEAL = 8;
        /// `MFD_EXEC` (since Linux 6.3)
        const EXEC = 0x10;
        const _ = !0;
    }
}

bitflags! {
    /// The kernel's `vm_flags` of a VMA (`VM_*`), as `/proc/pid/smaps` shows them.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct VmFlags: u64 {
        /// `VM_READ` (`rd`)
        const READ = 0x1;
        /// `VM_WRITE` (`wr`)
        const WRITE = 0x2;
        /// `VM_EXEC` (`ex`)
        const EXEC = 0x4;
        /// `VM_SHARED` (`sh`)
        const SHARED = 0x8;
        /// `VM_MAYREAD` (`mr`)
        const MAYREAD = 0x10;
        /// `VM_MAYWRITE` (`mw`)
        const MAYWRITE = 0x20;
        /// `VM_MAYEXEC` (`me`)
        const MAYEXEC = 0x40;
        /// `VM_MAYSHARE` (`ms`)
        const MAYSHARE = 0x80;
        /// `VM_GROWSDOWN` (`gd`)
        const GROWSDOWN = 0x100;
        /// `VM_UFFD_MISSING` (`um`)
        const UFFD_MISSING = 0x200;
        /// `VM_PFNMAP` (`pf`)
        const PFNMAP = 0x400;
        /// `VM_UFFD_WP` (`uw`)
        const UFFD_WP = 0x1000;
        /// `VM_LOCKED` (`lo`)
        const LOCKED = 0x2000;
        /// `VM_IO` (`io`)
        const IO = 0x4000;
        /// `VM_SEQ_READ` (`sr`)
        const SEQ_READ = 0x8000;
        /// `VM_RAND_READ` (`rr`)
        const RAND_READ = 0x1_0000;
        /// `VM_DONTCOPY` (`dc`)
        const DONTCOPY = 0x2_0000;
        /// `VM_DONTEXPAND` (`de`)
        const DONTEXPAND = 0x4_0000;
        /// `VM_LOCKONFAULT` (`lf`)
        const LOCKONFAULT = 0x8_0000;
        /// `VM_ACCOUNT` (`ac`)
        const ACCOUNT = 0x10_0000;
        /// `VM_NORESERVE` (`nr`)
        const NORESERVE = 0x20_0000;
        /// `VM_HUGETLB` (`ht`)
        const HUGETLB = 0x40_0000;
        /// `VM_SYNC` (`sf`)
        const SYNC = 0x80_0000;
        /// `VM_ARCH_1` (`ar`)
        const ARCH_1 = 0x100_0000;
        /// `VM_WIPEONFORK` (`wf`)
        const WIPEONFORK = 0x200_0000;
        /// `VM_DONTDUMP` (`dd`)
        const DONTDUMP = 0x400_0000;
        /// `VM_SOFTDIRTY` (`sd`)
        const SOFTDIRTY = 0x800_0000;
        /// `VM_MIXEDMAP` (`mm`)
        const MIXEDMAP = 0x1000_0000;
        /// `VM_HUGEPAGE` (`hg`)
        const HUGEPAGE = 0x2000_0000;
        /// `VM_NOHUGEPAGE` (`nh`)
        const NOHUGEPAGE = 0x4000_0000;
        /// `VM_MERGEABLE` (`mg`)
        const MERGEABLE = 0x8000_0000;
        /// `VM_DROPPABLE` (`dp`)
        const DROPPABLE = 1 << 40;
        /// `VM_SEALED` (`sl`)
        const SEALED = 1 << 42;
        const _ = !0;
    }
}

impl VmFlags {
    /// `VM_READ | VM_WRITE | VM_EXEC`.
    pub const ACCESS: Self = Self::READ.union(Self::WRITE).union(Self::EXEC);
    /// The kernel's `VM_SPECIAL`: mappings that are never merged, grown or locked.
    pub const SPECIAL: Self = Self::IO
        .union(Self::DONTEXPAND)
        .union(Self::PFNMAP)
        .union(Self::MIXEDMAP);
    /// `VM_LOCKED | VM_LOCKONFAULT`.
    pub const LOCKED_MASK: Self = Self::LOCKED.union(Self::LOCKONFAULT);

    /// The smaps mnemonics, in the kernel's order.
    pub const MNEMONICS: &'static [(VmFlags, &'static str)] = &[
        (Self::READ, "rd"),
        (Self::WRITE, "wr"),
        (Self::EXEC, "ex"),
        (Self::SHARED, "sh"),
        (Self::MAYREAD, "mr"),
        (Self::MAYWRITE, "mw"),
        (Self::MAYEXEC, "me"),
        (Self::MAYSHARE, "ms"),
        (Self::GROWSDOWN, "gd"),
        (Self::PFNMAP, "pf"),
        (Self::LOCKED, "lo"),
        (Self::IO, "io"),
        (Self::SEQ_READ, "sr"),
        (Self::RAND_READ, "rr"),
        (Self::DONTCOPY, "dc"),
        (Self::DONTEXPAND, "de"),
        (Self::LOCKONFAULT, "lf"),
        (Self::ACCOUNT, "ac"),
        (Self::NORESERVE, "nr"),
        (Self::HUGETLB, "ht"),
        (Self::SYNC, "sf"),
        (Self::ARCH_1, "ar"),
        (Self::WIPEONFORK, "wf"),
        (Self::DONTDUMP, "dd"),
        (Self::SOFTDIRTY, "sd"),
        (Self::MIXEDMAP, "mm"),
        (Self::HUGEPAGE, "hg"),
        (Self::NOHUGEPAGE, "nh"),
        (Self::MERGEABLE, "mg"),
        (Self::UFFD_MISSING, "um"),
        (Self::UFFD_WP, "uw"),
        (Self::SEALED, "sl"),
        (Self::DROPPABLE, "dp"),
    ];

    /// Parse the `VmFlags:` field of smaps (`"rd wr mr mw me ac sd"`).
    /// Returns the known flags and whether unknown mnemonics were seen.
    pub fn from_smaps(field: &str) -> (Self, bool) {
        let mut flags = Self::empty();
        let mut unknown = false;
        for word in field.split_ascii_whitespace() {
            match Self::MNEMONICS.iter().find(|m| m.1 == word) {
                Some(m) => flags |= m.0,
                None => unknown = true,
            }
        }
        (flags, unknown)
    }

    /// The `VmFlags:` field as smaps prints it (each mnemonic followed by a space).
    pub fn to_smaps(self) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        for (f, m) in Self::MNEMONICS {
            if self.contains(*f) {
                s.push_str(m);
                s.push(' ');
            }
        }
        s
    }
}

/// `madvise` advice values (`MADV_*`), an open set like the ABI.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Advice(pub u64);

impl Advice {
    /// `MADV_NORMAL`
    pub const NORMAL: Self = Self(0);
    /// `MADV_RANDOM`
    pub const RANDOM: Self = Self(1);
    /// `MADV_SEQUENTIAL`
    pub const SEQUENTIAL: Self = Self(2);
    /// `MADV_WILLNEED`
    pub const WILLNEED: Self = Self(3);
    /// `MADV_DONTNEED` (Linux's, which zaps pages; not POSIX's)
    pub const DONTNEED: Self = Self(4);
    /// `MADV_FREE`
    pub const FREE: Self = Self(8);
    /// `MADV_REMOVE`
    pub const REMOVE: Self = Self(9);
    /// `MADV_DONTFORK`
    pub const DONTFORK: Self = Self(10);
    /// `MADV_DOFORK`
    pub const DOFORK: Self = Self(11);
    /// `MADV_MERGEABLE`
    pub const MERGEABLE: Self = Self(12);
    /// `MADV_UNMERGEABLE`
    pub const UNMERGEABLE: Self = Self(13);
    /// `MADV_HUGEPAGE`
    pub const HUGEPAGE: Self = Self(14);
    /// `MADV_NOHUGEPAGE`
    pub const NOHUGEPAGE: Self = Self(15);
    /// `MADV_DONTDUMP`
    pub const DONTDUMP: Self = Self(16);
    /// `MADV_DODUMP`
    pub const DODUMP: Self = Self(17);
    /// `MADV_WIPEONFORK`
    pub const WIPEONFORK: Self = Self(18);
    /// `MADV_KEEPONFORK`
    pub const KEEPONFORK: Self = Self(19);
    /// `MADV_COLD`
    pub const COLD: Self = Self(20);
    /// `MADV_PAGEOUT`
    pub const PAGEOUT: Self = Self(21);
    /// `MADV_POPULATE_READ`
    pub const POPULATE_READ: Self = Self(22);
    /// `MADV_POPULATE_WRITE`
    pub const POPULATE_WRITE: Self = Self(23);
    /// `MADV_DONTNEED_LOCKED`
    pub const DONTNEED_LOCKED: Self = Self(24);
    /// `MADV_COLLAPSE`
    pub const COLLAPSE: Self = Self(25);
    /// `MADV_GUARD_INSTALL`
    pub const GUARD_INSTALL: Self = Self(102);
    /// `MADV_GUARD_REMOVE`
    pub const GUARD_REMOVE: Self = Self(103);
    /// `MADV_HWPOISON`
    pub const HWPOISON: Self = Self(100);
    /// `MADV_SOFT_OFFLINE`
    pub const SOFT_OFFLINE: Self = Self(101);

    /// Names as strace prints them.
    pub const NAMES: &'static [(Advice, &'static str)] = &[
        (Self::NORMAL, "MADV_NORMAL"),
        (Self::RANDOM, "MADV_RANDOM"),
        (Self::SEQUENTIAL, "MADV_SEQUENTIAL"),
        (Self::WILLNEED, "MADV_WILLNEED"),
        (Self::DONTNEED, "MADV_DONTNEED"),
        (Self::FREE, "MADV_FREE"),
        (Self::REMOVE, "MADV_REMOVE"),
        (Self::DONTFORK, "MADV_DONTFORK"),
        (Self::DOFORK, "MADV_DOFORK"),
        (Self::MERGEABLE, "MADV_MERGEABLE"),
        (Self::UNMERGEABLE, "MADV_UNMERGEABLE"),
        (Self::HUGEPAGE, "MADV_HUGEPAGE"),
        (Self::NOHUGEPAGE, "MADV_NOHUGEPAGE"),
        (Self::DONTDUMP, "MADV_DONTDUMP"),
        (Self::DODUMP, "MADV_DODUMP"),
        (Self::WIPEONFORK, "MADV_WIPEONFORK"),
        (Self::KEEPONFORK, "MADV_KEEPONFORK"),
        (Self::COLD, "MADV_COLD"),
        (Self::PAGEOUT, "MADV_PAGEOUT"),
        (Self::POPULATE_READ, "MADV_POPULATE_READ"),
        (Self::POPULATE_WRITE, "MADV_POPULATE_WRITE"),
        (Self::DONTNEED_LOCKED, "MADV_DONTNEED_LOCKED"),
        (Self::COLLAPSE, "MADV_COLLAPSE"),
        (Self::HWPOISON, "MADV_HWPOISON"),
        (Self::SOFT_OFFLINE, "MADV_SOFT_OFFLINE"),
        (Self::GUARD_INSTALL, "MADV_GUARD_INSTALL"),
        (Self::GUARD_REMOVE, "MADV_GUARD_REMOVE"),
    ];

    /// The strace name, if known.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.iter().find(|n| n.0 == self).map(|n| n.1)
    }

    /// The advice with this strace name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|n| n.1 == name).map(|n| n.0)
    }
}

/// `RLIMIT_*` resources that the model honours.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource(pub u64);

impl Resource {
    /// `RLIMIT_DATA`
    pub const DATA: Self = Self(2);
    /// `RLIMIT_STACK`
    pub const STACK: Self = Self(3);
    /// `RLIMIT_MEMLOCK`
    pub const MEMLOCK: Self = Self(8);
    /// `RLIMIT_AS`
    pub const AS: Self = Self(9);
    /// Names as strace prints them.
    pub const NAMES: &'static [(Resource, &'static str)] = &[
        (Self::DATA, "RLIMIT_DATA"),
        (Self::STACK, "RLIMIT_STACK"),
        (Self::MEMLOCK, "RLIMIT_MEMLOCK"),
        (Self::AS, "RLIMIT_AS"),
    ];
}

/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use linux_raw_sys::general as g;

    #[test]
    fn values_match_the_host_headers() {
        assert_eq!(ProtFlags::READ.bits(), u64::from(g::PROT_READ));
        assert_eq!(ProtFlags::GROWSDOWN.bits(), u64::from(g::PROT_GROWSDOWN));
        assert_eq!(
            MapFlags::FIXED_NOREPLACE.bits(),
            u64::from(g::MAP_FIXED_NOREPLACE)
        );
        assert_eq!(MapFlags::DROPPABLE.bits(), u64::from(g::MAP_DROPPABLE));
        assert_eq!(MapFlags::POPULATE.bits(), u64::from(g::MAP_POPULATE));
        assert_eq!(MapFlags::STACK.bits(), u64::from(g::MAP_STACK));
        assert_eq!(MapFlags::HUGETLB.bits(), u64::from(g::MAP_HUGETLB));
        assert_eq!(MapFlags::SYNC.bits(), u64::from(g::MAP_SYNC));
        assert_eq!(MapFlags::GROWSDOWN.bits(), u64::from(g::MAP_GROWSDOWN));
        assert_eq!(MapFlags::LOCKED.bits(), u64::from(g::MAP_LOCKED));
        assert_eq!(MapFlags::NORESERVE.bits(), u64::from(g::MAP_NORESERVE));
        assert_eq!(
            MremapFlags::DONTUNMAP.bits(),
            u64::from(g::MREMAP_DONTUNMAP)
        );
        assert_eq!(MlockFlags::ONFAULT.bits(), u64::from(g::MLOCK_ONFAULT));
        assert_eq!(
            MemfdFlags::NOEXEC_SEAL.bits(),
            u64::from(g::MFD_NOEXEC_SEAL)
        );
        assert_eq!(Advice::DONTNEED.0, u64::from(g::MADV_DONTNEED));
        assert_eq!(Advice::GUARD_INSTALL.0, u64::from(g::MADV_GUARD_INSTALL));
        assert_eq!(Advice::COLLAPSE.0, u64::from(g::MADV_COLLAPSE));
        assert_eq!(Advice::WIPEONFORK.0, u64::from(g::MADV_WIPEONFORK));
        assert_eq!(Resource::MEMLOCK.0, u64::from(g::RLIMIT_MEMLOCK));
        assert_eq!(Resource::AS.0, u64::from(g::RLIMIT_AS));
    }

    #[test]
    fn smaps_mnemonics_round_trip() {
        let (f, unknown) = VmFlags::from_smaps("rd wr mr mw me ac sd ");
        assert!(!unknown);
        assert_eq!(f.to_smaps(), "rd wr mr mw me ac sd ");
        assert!(VmFlags::from_smaps("rd zz").1);
    }
}
