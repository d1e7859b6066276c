//! The modelled system calls and the [`Backend`] implementation of [`Mm`].

mod brk;
mod file;
mod madvise;
mod mlock;
mod mmap;
mod mprotect;
mod mremap;
mod munmap;
mod process;

use alloc::string::String;
use alloc::vec::Vec;

use crate::Mm;
use crate::SysResult;

/// The largest load whose bytes are returned.
const MAX_LOAD: u64 = 1 << 30;
use crate::fault::FaultErr;
use crate::op::{Backend, BackendError, Counters, Op, Outcome, PageState};

impl Mm {
    /// Perform one operation and report what the process would see.
    pub fn apply(&mut self, op: &Op) -> Outcome {
        self.last_reason = "";
        let r: SysResult<u64> = match *op {
            Op::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset,
            } => self.mmap(addr, len, prot, flags, fd, offset),
            Op::Munmap { addr, len } => self.munmap(addr, len),
            Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => self.mremap(old_addr, old_len, new_len, flags, new_addr),
            Op::Mprotect { addr, len, prot } => self.mprotect(addr, len, prot),
            Op::Mlock { addr, len } => self.mlock(addr, len),
            Op::Mlock2 { addr, len, flags } => self.mlock2(addr, len, flags),
            Op::Munlock { addr, len } => self.munlock(addr, len),
            Op::Mlockall { flags } => self.mlockall(flags),
            Op::Munlockall => self.munlockall(),
            Op::Madvise { addr, len, advice } => self.madvise(addr, len, advice),
            Op::Brk { addr } => Ok(self.brk(addr)),
            Op::MemfdCreate { ref name, flags } => self.memfd_create(name, flags),
            Op::Ftruncate { fd, length } => self.ftruncate(fd, length),
            Op::Pwrite64 {
                fd,
                ref data,
                offset,
            } => self.pwrite64(fd, data, offset),
            Op::Close { fd } => self.close(fd),
            Op::Setrlimit { resource, cur, max } => self.setrlimit(resource, cur, max),
            Op::Setuid { uid } => self.setuid(uid),
            Op::Load { addr, len } if len > MAX_LOAD => {
                // Like the live agent: a load larger than 1 GiB is refused unless it
                // faults first (the pages up to the fault are read as usual).
                return match self.access_probe(addr, len) {
                    Err(e) => Self::access_outcome(Err(e)),
                    Ok(()) => Outcome::Unsupported(String::from(
                        "loads larger than 1 GiB are not supported",
                    )),
                };
            }
            Op::Load { addr, len } => {
                return Self::access_outcome(self.access_read(addr, len).map(Outcome::Bytes));
            }
            Op::Store { addr, ref data } => {
                return Self::access_outcome(
                    self.access_write(addr, data.len() as u64, |i| data[i as usize])
                        .map(|()| Outcome::Done),
                );
            }
            Op::Fill { addr, len, byte } => {
                return Self::access_outcome(
                    self.access_write(addr, len, |_| byte)
                        .map(|()| Outcome::Done),
                );
            }
        };
        match r {
            Ok(v) => Outcome::Value(v),
            // Any call may meet a case the model does not cover (see `unsupported`).
            Err(crate::SysError::NotModelled { reason }) => {
                Outcome::Unsupported(String::from(reason))
            }
            Err(crate::SysError::Errno { errno, reason }) => {
                self.last_reason = reason;
                Outcome::Error(errno)
            }
        }
    }

    fn access_outcome(r: Result<Outcome, FaultErr>) -> Outcome {
        match r {
            Ok(o) => o,
            Err(FaultErr::Signal(f)) => Outcome::Fault(f),
            Err(FaultErr::Oom) => Outcome::Unsupported(String::from(
                "out of memory: the frame budget is exhausted (the kernel would invoke the OOM killer)",
            )),
            Err(FaultErr::Unknown(why)) => Outcome::Unsupported(String::from(why)),
        }
    }
}

/// An error value that [`Mm::apply`] turns into [`Outcome::Unsupported`].
pub(crate) const fn unsupported(reason: &'static str) -> crate::SysError {
    crate::SysError::not_modelled(reason)
}

impl Backend for Mm {
    fn name(&self) -> &'static str {
        "engine"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        Ok(Mm::apply(self, op))
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        Ok(self.maps_text())
    }
    fn maps_window(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        Ok(Some(Mm::maps_window(self, ranges)))
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        Ok(self.page_states(start, npages))
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        Ok(Mm::counters(self))
    }
}
