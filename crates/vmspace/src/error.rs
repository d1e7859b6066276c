//! Why a modelled system call failed.

use crate::Errno;

/// Why a system call of the engine failed: with the errno Linux returns, or because it
/// meets a case the model does not cover (then no errno is made up).
///
/// Differs compare the errno only; the reason is there to explain a result ("mremap:
/// new_len is zero").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SysError {
    /// The call fails as Linux's does.
    Errno {
        /// What user space sees.
        errno: Errno,
        /// The kernel check that failed, named after the kernel function where useful.
        reason: &'static str,
    },
    /// The call meets a case the model does not cover (hugetlbfs, MADV_COLLAPSE, guard
    /// regions, ...): what Linux would do is unknown here.
    NotModelled {
        /// What is not modelled.
        reason: &'static str,
    },
}

impl SysError {
    /// A failure with `errno`.
    pub const fn new(errno: Errno, reason: &'static str) -> Self {
        Self::Errno { errno, reason }
    }

    /// A case the model does not cover.
    pub const fn not_modelled(reason: &'static str) -> Self {
        Self::NotModelled { reason }
    }

    /// The errno user space sees, unless the case is not modelled.
    pub const fn errno(&self) -> Option<Errno> {
        match *self {
            Self::Errno { errno, .. } => Some(errno),
            Self::NotModelled { .. } => None,
        }
    }

    /// The kernel check that failed, or what is not modelled.
    pub const fn reason(&self) -> &'static str {
        match *self {
            Self::Errno { reason, .. } | Self::NotModelled { reason } => reason,
        }
    }
}

impl core::fmt::Display for SysError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Errno { errno, reason } => write!(f, "{errno} ({reason})"),
            Self::NotModelled { reason } => write!(f, "not modelled ({reason})"),
        }
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
