//! `munmap`.

use crate::Mm;
use crate::addr::{PAGE_SIZE, is_page_aligned};
use crate::error::{SysResult, bail};

impl Mm {
    /// `munmap(addr, len)`—Remove mappings.
    ///
    /// # Errors
    /// `EINVAL` if `addr` is not page-aligned, lies above `TASK_SIZE`, the range runs past
    /// `TASK_SIZE`, or `len` is 0; `ENOMEM` if punching a hole would exceed
    /// `max_map_count`; `EINVAL` if a special mapping would be split.
    ///
    /// # Linux
    /// Mirrors `__vm_munmap` → `do_vmi_munmap` → `do_vmi_align_munmap` of 6.18.
    /// Unmapping holes is not an error.
    pub fn munmap(&mut self, addr: u64, len: u64) -> SysResult<u64> {
        let task_size = self.cfg.task_size;
        if !is_page_aligned(addr) || addr > task_size || len > task_size - addr {
            bail!(
                EINVAL,
                "do_vmi_munmap: unaligned address or range beyond TASK_SIZE"
            );
        }
        let end = addr + len.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if end == addr {
            bail!(EINVAL, "do_vmi_munmap: len is 0");
        }
        self.do_munmap(addr, end)?;
        Ok(0)
    }
}
