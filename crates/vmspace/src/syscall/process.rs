//! Process setup: resource limits and credentials.

use crate::Mm;
use crate::error::{SysResult, bail};
use crate::flags::Resource;

impl Mm {
    /// `prlimit64(0, resource, {cur, max}, NULL)`—Set a resource limit of this process.
    ///
    /// # Errors
    /// `EINVAL` for a resource number of 16 or more, or `cur > max`; `EPERM` when
    /// raising the hard limit without CAP_SYS_RESOURCE.
    ///
    /// # Linux
    /// Mirrors `do_prlimit`. Limits other than RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK
    /// and RLIMIT_STACK are accepted and have no effect on the model.
    pub fn setrlimit(&mut self, resource: u64, cur: u64, max: u64) -> SysResult<u64> {
        if resource >= 16 {
            bail!(EINVAL, "do_prlimit: resource >= RLIM_NLIMITS");
        }
        if cur > max {
            bail!(EINVAL, "do_prlimit: rlim_cur > rlim_max");
        }
        let r = &mut self.cfg.rlimits;
        let slot = match Resource(resource) {
            Resource::AS => Some(&mut r.address_space),
            Resource::DATA => Some(&mut r.data),
            Resource::MEMLOCK => Some(&mut r.memlock),
            Resource::STACK => Some(&mut r.stack),
            _ => None,
        };
        if let Some(slot) = slot {
            if max > slot.max && !self.cfg.cap_sys_resource {
                bail!(
                    EPERM,
                    "do_prlimit: raising the hard limit needs CAP_SYS_RESOURCE"
                );
            }
            slot.cur = cur;
            slot.max = max;
        }
        Ok(0)
    }

    /// `setuid(uid)`—A non-zero uid drops root and every capability with it.
    ///
    /// # Errors
    /// `EPERM` when an unprivileged process asks for another uid.
    pub fn setuid(&mut self, uid: u64) -> SysResult<u64> {
        let uid = uid as u32;
        if uid == u32::MAX {
            bail!(EINVAL, "setuid: uid -1 is invalid");
        }
        if self.cfg.privileged {
            if uid != 0 {
                self.cfg.privileged = false;
                self.cfg.cap_sys_resource = false;
                self.uid = uid;
            }
            return Ok(0);
        }
        if uid == self.uid {
            return Ok(0);
        }
        bail!(EPERM, "setuid: changing uid needs CAP_SETUID")
    }
}
