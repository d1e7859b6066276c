//! Configuration of a modelled process: layout, limits, policies.

use crate::addr::{PAGE_SIZE, TASK_SIZE};
use crate::flags::RLIM_INFINITY;

/// `vm.overcommit_memory` and the totals its heuristics use.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Overcommit {
    /// 0 = heuristic (a single charge fails only if larger than RAM + swap), 1 = always
    /// succeed, 2 = strict (commit limit).
    pub mode: u8,
    /// `vm.overcommit_ratio` (percent of RAM in the commit limit, mode 2).
    pub ratio: u64,
    /// `vm.overcommit_kbytes` (replaces the ratio when non-zero, mode 2).
    pub kbytes: u64,
    /// Total RAM in pages.
    pub total_ram_pages: u64,
    /// Total swap in pages.
    pub total_swap_pages: u64,
    /// Pages committed by everything outside this process (Committed_AS of the rest of
    /// the system), which strict mode counts against the limit.
    pub committed_elsewhere_pages: u64,
}

impl Default for Overcommit {
    fn default() -> Self {
        Self {
            mode: 0,
            ratio: 50,
            kbytes: 0,
            total_ram_pages: (24u64 << 30) / PAGE_SIZE,
            total_swap_pages: 0,
            committed_elsewhere_pages: 0,
        }
    }
}

/// Transparent huge page policy (`/sys/kernel/mm/transparent_hugepage/enabled`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ThpMode {
    /// `always`
    Always,
    /// `madvise` (the reference machine's setting)
    Madvise,
    /// `never`
    Never,
}

/// A soft and hard resource limit, in bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// Soft limit (`rlim_cur`).
    pub cur: u64,
    /// Hard limit (`rlim_max`).
    pub max: u64,
}

impl Rlimit {
    /// No limit.
    pub const INFINITY: Self = Self {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
}

/// The resource limits the model honours.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rlimits {
    /// `RLIMIT_AS`
    pub address_space: Rlimit,
    /// `RLIMIT_DATA`
    pub data: Rlimit,
    /// `RLIMIT_MEMLOCK`
    pub memlock: Rlimit,
    /// `RLIMIT_STACK`
    pub stack: Rlimit,
}

impl Default for Rlimits {
    fn default() -> Self {
        Self {
            address_space: Rlimit::INFINITY,
            data: Rlimit::INFINITY,
            memlock: Rlimit {
                cur: 8 << 20,
                max: 8 << 20,
            },
            stack: Rlimit {
                cur: 8 << 20,
                max: RLIM_INFINITY,
            },
        }
    }
}

/// Everything about a modelled process that is not its address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where top-down searches start (`mm->mmap_base`).
    pub mmap_base: u64,
    /// Upper end of user space (`TASK_SIZE`).
    pub task_size: u64,
    /// `vm.mmap_min_addr`: MAP_FIXED below this needs CAP_SYS_RAWIO.
    pub mmap_min_addr: u64,
    /// The floor for searches and hints: max(`vm.mmap_min_addr`, CONFIG_LSM_MMAP_MIN_ADDR).
    pub search_min_addr: u64,
    /// `stack_guard_gap` in bytes (256 pages by default).
    pub stack_guard_gap: u64,
    /// `vm.max_map_count`.
    pub max_map_count: u64,
    /// Overcommit policy.
    pub overcommit: Overcommit,
    /// THP policy.
    pub thp: ThpMode,
    /// `/sys/kernel/mm/transparent_hugepage/use_zero_page`: read faults in THP-eligible
    /// VMAs map the huge zero page.
    pub thp_use_zero_page: bool,
    /// Resource limits.
    pub rlimits: Rlimits,
    /// Running as root with CAP_IPC_LOCK and CAP_SYS_RAWIO (lock beyond RLIMIT_MEMLOCK,
    /// map below `vm.mmap_min_addr`).
    pub privileged: bool,
    /// CAP_SYS_RESOURCE: may raise hard resource limits. (Root in a container often
    /// lacks it, as on the reference machine.)
    pub cap_sys_resource: bool,
    /// Reproduce the 6.15+ accounting quirk: `MREMAP_DONTUNMAP` of a locked VMA adds the
    /// new VMA's size to `locked_vm` although the old VMA is unlocked.
    pub dontunmap_locked_vm_quirk: bool,
    /// The most frames the model may allocate (an embedder's memory budget), counting
    /// each page table as one frame as the kernel does; beyond it faults and populates
    /// behave as the kernel does when out of memory (ENOMEM from populate calls).
    pub frame_budget: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            // TASK_SIZE - 128 MiB: the layout with ADDR_NO_RANDOMIZE and an 8 MiB stack limit.
            mmap_base: TASK_SIZE - (128 << 20),
            task_size: TASK_SIZE,
            mmap_min_addr: 4096,
            search_min_addr: 65536,
            stack_guard_gap: 256 * PAGE_SIZE,
            max_map_count: 65530,
            overcommit: Overcommit::default(),
            thp: ThpMode::Madvise,
            thp_use_zero_page: true,
            rlimits: Rlimits::default(),
            privileged: true,
            cap_sys_resource: true,
            dontunmap_locked_vm_quirk: true,
            frame_budget: (4u64 << 30) / PAGE_SIZE,
        }
    }
}

impl Config {
    /// `mmap_base()` of arch/x86/mm/mmap.c for a process without address randomisation:
    /// `TASK_SIZE` minus the stack limit plus the guard gap, clamped to
    /// [128 MiB, 5/6 of TASK_SIZE].
    pub fn mmap_base_for_stack_limit(task_size: u64, stack_rlimit: u64, guard_gap: u64) -> u64 {
        let mut gap = stack_rlimit;
        if let Some(g) = gap.checked_add(guard_gap) {
            gap = g;
        }
        let gap_min = 128 << 20;
        let gap_max = (task_size / 6) * 5;
        let gap = gap.clamp(gap_min, gap_max);
        crate::addr::page_align_wrapping(task_size - gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmap_base_without_randomisation() {
        // 0x7ffff7fff000 is the well-known top of the mmap area under ADDR_NO_RANDOMIZE.
        let base = Config::mmap_base_for_stack_limit(TASK_SIZE, 8 << 20, 256 * 4096);
        assert_eq!(base, 0x7fff_f7ff_f000);
        assert_eq!(Config::default().mmap_base, base);
        let big = Config::mmap_base_for_stack_limit(TASK_SIZE, 1 << 30, 256 * 4096);
        assert_eq!(big, TASK_SIZE - (1 << 30) - (1 << 20));
    }
}
