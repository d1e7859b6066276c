//! Why a modelled system call failed.

use crate::Errno;

/// The errno a modelled system call returns, plus the kernel check that produced it.
///
/// Differs compare `errno` only; `reason` is there to explain a result ("mremap:
/// new_len is zero").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SysError {
    /// What user space sees.
    pub errno: Errno,
    /// The kernel check that failed, named after the kernel function where useful.
    pub reason: &'static str,
}

impl SysError {
    /// A new error.
    pub const fn new(errno: Errno, reason: &'static str) -> Self {
        Self { errno, reason }
    }
}

impl core::fmt::Display for SysError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.errno, self.reason)
    }
}

impl core::error::Error for SysError {}

/// The result of a modelled system call.
pub type SysResult<T> = Result<T, SysError>;

/// Return early with an errno and the reason.
macro_rules! bail {
    ($e:ident, $why:expr) => {
        return Err($crate::error::SysError::new($crate::Errno::$e, $why))
    };
}
pub(crate) use bail;
