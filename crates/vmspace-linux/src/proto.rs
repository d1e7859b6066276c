//! The wire format between the parent ([`crate::LiveBackend`]) and the agent.
//!
//! Both directions use fixed-size frames of native-endian `u64` words (parent and agent
//! are the same binary on the same machine), optionally followed by a payload whose
//! length the frame states and which never exceeds [`BUF_SIZE`]. The agent decodes into
//! stack values and a buffer allocated once at start-up, so its request loop neither
//! allocates nor maps memory.

/// The file descriptor the agent reads requests from.
pub(crate) const REQ_FD: i32 = 1000;
/// The file descriptor the agent writes responses to.
pub(crate) const RESP_FD: i32 = 1001;
/// Size of the agent's transfer buffer: the largest payload of one frame.
pub(crate) const BUF_SIZE: usize = 1 << 20;
/// Size of the agent's alternate signal stack.
pub(crate) const ALTSTACK_SIZE: usize = 64 << 10;

/// Words in a request frame.
const REQ_WORDS: usize = 10;
/// Words in a response frame.
const RESP_WORDS: usize = 6;
/// Bytes in a request frame.
pub(crate) const REQ_BYTES: usize = REQ_WORDS * 8;
/// Bytes in a response frame.
pub(crate) const RESP_BYTES: usize = RESP_WORDS * 8;

/// First word of the agent's greeting: `"vmspace"` and a protocol version.
const HELLO_MAGIC: u64 = u64::from_le_bytes(*b"vmspace\x01");

const REQ_SYSCALL: u64 = 1;
const REQ_LOAD: u64 = 2;
const REQ_STORE: u64 = 3;
const REQ_FILL: u64 = 4;
const REQ_EXIT: u64 = 5;

const RESP_HELLO: u64 = 0x10;
const RESP_RET: u64 = 0x11;
const RESP_DONE: u64 = 0x12;
const RESP_BYTES_KIND: u64 = 0x13;
const RESP_FAULT: u64 = 0x14;
const RESP_REFUSED: u64 = 0x15;
const RESP_DAMAGED: u64 = 0x16;

/// No argument is replaced by the buffer address.
const NO_BUF_ARG: u64 = u64::MAX;

/// One request from the parent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Make system call `nr` with these six register values. If `buf_arg` is set,
    /// that argument is replaced by the address of the agent's buffer, which holds
    /// the `payload_len` bytes that follow the frame.
    Syscall {
        nr: u64,
        args: [u64; 6],
        buf_arg: Option<u8>,
        payload_len: u64,
    },
    /// Read `len` (at most [`BUF_SIZE`]) bytes at `addr` with CPU loads.
    Load { addr: u64, len: u64 },
    /// Write the `payload_len` bytes that follow the frame at `addr` with CPU stores.
    Store { addr: u64, payload_len: u64 },
    /// Write `len` copies of `byte` at `addr` with CPU stores.
    Fill { addr: u64, len: u64, byte: u8 },
    /// Exit cleanly.
    Exit,
}

/// Why the agent refused a request without making the call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The system call number is not one the harness supports.
    NotSupported,
    /// `close` of a descriptor the harness needs (0, 1, 2 or a protocol pipe).
    ProtectedFd,
    /// A payload or length larger than the agent's buffer.
    TooLarge,
}

impl Refusal {
    const fn code(self) -> u64 {
        match self {
            Refusal::NotSupported => 1,
            Refusal::ProtectedFd => 2,
            Refusal::TooLarge => 3,
        }
    }

    const fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Refusal::NotSupported),
            2 => Some(Refusal::ProtectedFd),
            3 => Some(Refusal::TooLarge),
            _ => None,
        }
    }

    /// A sentence for reports.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Refusal::NotSupported => "system call not in the agent's supported list",
            Refusal::ProtectedFd => {
                "the descriptor is one the harness needs (0, 1, 2 or a protocol pipe)"
            }
            Refusal::TooLarge => "request larger than the agent's transfer buffer",
        }
    }
}

/// One response from the agent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// Sent once, after start-up: the agent is ready.
    Hello {
        /// The agent's `brk(0)`.
        brk: u64,
        /// The agent's `RLIMIT_STACK` soft limit.
        stack_cur: u64,
        /// The agent's `RLIMIT_STACK` hard limit.
        stack_max: u64,
        /// The agent's personality word.
        personality: u64,
    },
    /// The raw return value of a system call (`-errno` on failure).
    Ret(i64),
    /// A store or fill completed.
    Done,
    /// A load completed; `len` bytes follow the frame.
    Bytes { len: u64 },
    /// An access raised `signo` with `si_code` `code`; `addr` is the faulting address.
    Fault { signo: u64, code: u64, addr: u64 },
    /// The agent did not make the call.
    Refused(Refusal),
    /// An access faulted on the agent's own transfer buffer at `addr`: the script
    /// unmapped or protected memory the agent needs.
    Damaged { addr: u64 },
}

fn words<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    if bytes.len() != N * 8 {
        return None;
    }
    let mut w = [0u64; N];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w[i] = u64::from_ne_bytes(b);
    }
    Some(w)
}

fn bytes<const N: usize, const B: usize>(w: [u64; N]) -> [u8; B] {
    let mut out = [0u8; B];
    for (i, v) in w.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    out
}

impl Request {
    /// The frame's bytes.
    pub(crate) fn encode(&self) -> [u8; REQ_BYTES] {
        let w: [u64; REQ_WORDS] = match *self {
            Request::Syscall {
                nr,
                args,
                buf_arg,
                payload_len,
            } => [
                REQ_SYSCALL,
                nr,
                args[0],
                args[1],
                args[2],
                args[3],
                args[4],
                args[5],
                payload_len,
                buf_arg.map_or(NO_BUF_ARG, u64::from),
            ],
            Request::Load { addr, len } => [REQ_LOAD, addr, len, 0, 0, 0, 0, 0, 0, 0],
            Request::Store { addr, payload_len } => {
                [REQ_STORE, addr, 0, 0, 0, 0, 0, 0, payload_len, 0]
            }
            Request::Fill { addr, len, byte } => {
                [REQ_FILL, addr, len, u64::from(byte), 0, 0, 0, 0, 0, 0]
            }
            Request::Exit => [REQ_EXIT, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        bytes(w)
    }

    /// Decode a frame; `None` if it is malformed.
    pub(crate) fn decode(frame: &[u8]) -> Option<Self> {
        let w: [u64; REQ_WORDS] = words(frame)?;
        Some(match w[0] {
            REQ_SYSCALL => Request::Syscall {
                nr: w[1],
                args: [w[2], w[3], w[4], w[5], w[6], w[7]],
                payload_len: w[8],
                buf_arg: match w[9] {
                    NO_BUF_ARG => None,
                    i @ 0..=5 => Some(i as u8),
                    _ => return None,
                },
            },
            REQ_LOAD => Request::Load {
                addr: w[1],
                len: w[2],
            },
            REQ_STORE => Request::Store {
                addr: w[1],
                payload_len: w[8],
            },
            REQ_FILL => Request::Fill {
                addr: w[1],
                len: w[2],
                byte: u8::try_from(w[3]).ok()?,
            },
            REQ_EXIT => Request::Exit,
            _ => return None,
        })
    }

    /// Length of the payload that follows the frame.
    pub(crate) fn payload_len(&self) -> u64 {
        match *self {
            Request::Syscall { payload_len, .. } | Request::Store { payload_len, .. } => {
                payload_len
            }
            _ => 0,
        }
    }
}

impl Response {
    /// The frame's bytes.
    pub(crate) fn encode(&self) -> [u8; RESP_BYTES] {
        let w: [u64; RESP_WORDS] = match *self {
            Response::Hello {
                brk,
                stack_cur,
                stack_max,
                personality,
            } => [
                RESP_HELLO,
                HELLO_MAGIC,
                brk,
                stack_cur,
                stack_max,
                personality,
            ],
            Response::Ret(v) => [RESP_RET, v as u64, 0, 0, 0, 0],
            Response::Done => [RESP_DONE, 0, 0, 0, 0, 0],
            Response::Bytes { len } => [RESP_BYTES_KIND, len, 0, 0, 0, 0],
            Response::Fault { signo, code, addr } => [RESP_FAULT, signo, code, addr, 0, 0],
            Response::Refused(r) => [RESP_REFUSED, r.code(), 0, 0, 0, 0],
            Response::Damaged { addr } => [RESP_DAMAGED, addr, 0, 0, 0, 0],
        };
        bytes(w)
    }

    /// Decode a frame; `None` if it is malformed.
    pub(crate) fn decode(frame: &[u8]) -> Option<Self> {
        let w: [u64; RESP_WORDS] = words(frame)?;
        Some(match w[0] {
            RESP_HELLO if w[1] == HELLO_MAGIC => Response::Hello {
                brk: w[2],
                stack_cur: w[3],
                stack_max: w[4],
                personality: w[5],
            },
            RESP_RET => Response::Ret(w[1] as i64),
            RESP_DONE => Response::Done,
            RESP_BYTES_KIND => Response::Bytes { len: w[1] },
            RESP_FAULT => Response::Fault {
                signo: w[1],
                code: w[2],
                addr: w[3],
            },
            RESP_REFUSED => Response::Refused(Refusal::from_code(w[1])?),
            RESP_DAMAGED => Response::Damaged { addr: w[1] },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::Syscall {
                nr: 25,
                args: [1, 2, 3, 4, u64::MAX, 6],
                buf_arg: None,
                payload_len: 0,
            },
            Request::Syscall {
                nr: 319,
                args: [0, 1, 0, 0, 0, 0],
                buf_arg: Some(0),
                payload_len: 5,
            },
            Request::Load {
                addr: 0x7fff_0000_0000,
                len: 4096,
            },
            Request::Store {
                addr: u64::MAX,
                payload_len: BUF_SIZE as u64,
            },
            Request::Fill {
                addr: 0x1000,
                len: 3,
                byte: 0xff,
            },
            Request::Exit,
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()), Some(r));
        }
        assert_eq!(Request::decode(&[0u8; REQ_BYTES]), None);
        assert_eq!(Request::decode(&[0u8; 7]), None);
    }

    #[test]
    fn responses_round_trip() {
        let resps = [
            Response::Hello {
                brk: 0x5555_5555_9000,
                stack_cur: 8 << 20,
                stack_max: u64::MAX,
                personality: 0x40000,
            },
            Response::Ret(-22),
            Response::Ret(0x7fff_f7ff_0000),
            Response::Done,
            Response::Bytes { len: 17 },
            Response::Fault {
                signo: 11,
                code: 1,
                addr: 0x1000,
            },
            Response::Refused(Refusal::ProtectedFd),
            Response::Damaged { addr: 42 },
        ];
        for r in resps {
            assert_eq!(Response::decode(&r.encode()), Some(r));
        }
        let mut bad = Response::Hello {
            brk: 0,
            stack_cur: 0,
            stack_max: 0,
            personality: 0,
        }
        .encode();
        bad[8] ^= 1;
        assert_eq!(Response::decode(&bad), None);
    }
}
