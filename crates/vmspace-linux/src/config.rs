//! The engine configuration that matches this machine.

use vmspace::{Config, Seed};

/// The engine configuration of a process like the live agent started from this
/// process: the layout's `mmap_base`, the agent's `rlimits`, the capabilities it
/// inherits from this process, and the machine's memory and sysctls
/// (`vm.max_map_count`, `vm.overcommit_memory`). What cannot be read keeps its default.
///
/// # Linux
/// CAP_IPC_LOCK lets `can_do_mlock` lock beyond RLIMIT_MEMLOCK and CAP_SYS_RAWIO lets
/// `cap_mmap_addr` map below `vm.mmap_min_addr` (the engine's `privileged`, both);
/// CAP_SYS_RESOURCE lets `do_prlimit` raise a hard limit (`cap_sys_resource`).
pub fn engine_config(seed: &Seed, rlimits: vmspace::Rlimits) -> Config {
    let mut cfg = Config {
        mmap_base: seed.mmap_base,
        rlimits,
        ..Config::default()
    };
    if let Ok(st) = std::fs::read_to_string("/proc/self/status") {
        let cap = st
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        let has = |bit: u32| cap & (1 << bit) != 0;
        // CAP_IPC_LOCK 14, CAP_SYS_RAWIO 17, CAP_SYS_RESOURCE 24.
        cfg.privileged = has(14) && has(17);
        cfg.cap_sys_resource = has(24);
    }
    if let Ok(mi) = std::fs::read_to_string("/proc/meminfo") {
        if let Some(t) = crate::procfs::status_kb(&mi, "MemTotal") {
            cfg.overcommit.total_ram_pages = t / 4;
        }
        if let Some(s) = crate::procfs::status_kb(&mi, "SwapTotal") {
            cfg.overcommit.total_swap_pages = s / 4;
        }
    }
    if let Ok(m) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        && let Ok(v) = m.trim().parse()
    {
        cfg.max_map_count = v;
    }
    if let Ok(m) = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        && let Ok(v) = m.trim().parse()
    {
        cfg.overcommit.mode = v;
    }
    cfg
}
