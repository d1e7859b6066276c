//! Linux errno values, as an open set.

use core::fmt;

/// A Linux errno number (asm-generic numbering, as on x86-64).
///
/// An open set: any value in `1..=4095` is representable, including ones the model
/// never produces, because the live kernel may return them and a differ must be able
/// to show them.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Errno(u16);

macro_rules! errnos {
    ($($name:ident = $val:literal, $text:literal;)*) => {
        impl Errno {
            $(
                #[doc = $text]
                pub const $name: Self = Self($val);
            )*
            const TABLE: &'static [(u16, &'static str, &'static str)] = &[
                $(($val, stringify!($name), $text),)*
            ];
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    EBADF = 9, "Bad file descriptor";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    ENODEV = 19, "No such device";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ESPIPE = 29, "Illegal seek";
    ENOSYS = 38, "Function not implemented";
    EOVERFLOW = 75, "Value too large for defined data type";
    EOPNOTSUPP = 95, "Operation not supported";
    EHWPOISON = 133, "Memory page has hardware error";
}

impl Errno {
    /// The errno with this raw value, if it is in `1..=4095`.
    pub const fn from_raw(raw: i64) -> Option<Self> {
        if raw >= 1 && raw <= 4095 {
            Some(Self(raw as u16))
        } else {
            None
        }
    }

    /// The raw (positive) errno value.
    pub const fn raw(self) -> i32 {
        self.0 as i32
    }

    /// The symbolic name, as strace prints it (`"ENOMEM"`), if known.
    pub fn name(self) -> Option<&'static str> {
        Self::TABLE.iter().find(|e| e.0 == self.0).map(|e| e.1)
    }

    /// The C library's message for this errno (`"Cannot allocate memory"`), if known.
    pub fn message(self) -> Option<&'static str> {
        Self::TABLE.iter().find(|e| e.0 == self.0).map(|e| e.2)
    }

    /// The errno with this symbolic name (`"ENOMEM"`), if known.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EWOULDBLOCK" => return Some(Self::EAGAIN),
            "ENOTSUP" => return Some(Self::EOPNOTSUPP),
            _ => {}
        }
        Self::TABLE.iter().find(|e| e.1 == name).map(|e| Self(e.0))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_host_headers() {
        use linux_raw_sys::errno as e;
        let pairs = [
            (Errno::EPERM, e::EPERM),
            (Errno::ENOENT, e::ENOENT),
            (Errno::EINTR, e::EINTR),
            (Errno::EBADF, e::EBADF),
            (Errno::EAGAIN, e::EAGAIN),
            (Errno::ENOMEM, e::ENOMEM),
            (Errno::EACCES, e::EACCES),
            (Errno::EFAULT, e::EFAULT),
            (Errno::EBUSY, e::EBUSY),
            (Errno::EEXIST, e::EEXIST),
            (Errno::ENODEV, e::ENODEV),
            (Errno::EINVAL, e::EINVAL),
            (Errno::EMFILE, e::EMFILE),
            (Errno::ETXTBSY, e::ETXTBSY),
            (Errno::EFBIG, e::EFBIG),
            (Errno::ESPIPE, e::ESPIPE),
            (Errno::ENOSYS, e::ENOSYS),
            (Errno::EOVERFLOW, e::EOVERFLOW),
            (Errno::EOPNOTSUPP, e::EOPNOTSUPP),
            (Errno::EHWPOISON, e::EHWPOISON),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours.raw() as u32, theirs, "{ours}");
        }
    }

    #[test]
    fn names_round_trip_and_unknowns_stay_representable() {
        for &(v, n, _) in Errno::TABLE {
            assert_eq!(Errno::from_name(n), Some(Errno(v)));
        }
        let odd = Errno::from_raw(4000).unwrap();
        assert_eq!(odd.name(), None);
        assert_eq!(alloc::format!("{odd}"), "4000");
        assert_eq!(Errno::from_raw(0), None);
        assert_eq!(Errno::from_raw(4096), None);
    }
}
