//! Reading scripts and logs: never more than a limit (`--max-input`), and text checked
//! to be UTF-8 with the position of the first byte that is not.
//!
//! A script is read whole, at most [`DEFAULT_MAX_SCRIPT`] bytes unless `--max-input`
//! says otherwise: `vmspace run /dev/zero` stops after limit + 1 bytes with an error
//! instead of filling memory. `vmspace replay` streams its log line by line
//! ([`Lines`]): at most [`DEFAULT_MAX_LOG`] bytes in all, and no line longer than
//! [`MAX_LOG_LINE`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The largest script `run`, `diff` and `render` read by default (64 MiB).
pub const DEFAULT_MAX_SCRIPT: u64 = 64 << 20;
/// The largest log `replay` reads by default (4 GiB; it is streamed, so memory does not
/// grow with it).
pub const DEFAULT_MAX_LOG: u64 = 4 << 30;
/// The longest line of a log `replay` reads (16 MiB).
pub const MAX_LOG_LINE: usize = 16 << 20;

/// A byte count with an optional binary suffix: `4096`, `0x1000`, `256K`, `512M`, `4G`,
/// `1T`.
///
/// # Errors
/// Text that is not such a count, or a count that does not fit in 64 bits.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() && !t.starts_with("0x") => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix {c:?} (use K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n = match num.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => num.parse::<u64>(),
    }
    .map_err(|_| {
        format!("{s:?} is not a size (a number of bytes, optionally with K, M, G or T)")
    })?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn too_large(path: &Path, limit: u64) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is larger than {limit} bytes, the most this command reads (raise it with \
         --max-input SIZE, e.g. --max-input 1G)",
        path.display()
    )
}

/// The bytes of `path`, reading at most `limit + 1` of them.
///
/// # Errors
/// The file cannot be opened or read, or holds more than `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A regular file's size is known: reserve it (no more than the limit allows).
    let hint = f
        .metadata()
        .map_or(0, |m| m.len())
        .min(limit.saturating_add(1));
    let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(buf)
}

/// The text of `path` (at most `limit` bytes, UTF-8).
///
/// # Errors
/// As [`read_bounded`], and text that is not UTF-8 (a parse error at its line and
/// column).
pub fn read_text(path: &Path, limit: u64) -> Result<String> {
    let bytes = read_bounded(path, limit)?;
    vmspace_script::decode_text(&path.display().to_string(), bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Read and parse a script (at most `limit` bytes) that will run with the names the
/// starting layout binds ([`vmspace_check::LAYOUT_NAMES`], see [`vmspace_check::layout_env`]) defined.
///
/// # Errors
/// As [`read_text`], and a script that does not parse.
pub fn load_script(path: &Path, limit: u64) -> Result<vmspace_script::Script> {
    let text = read_text(path, limit)?;
    let mut names = vmspace_script::Env::new();
    for n in vmspace_check::LAYOUT_NAMES {
        names.set(n, 0);
    }
    vmspace_script::parse_script_with_env(&path.display().to_string(), &text, &names)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The lines of a log, one at a time, each at most [`MAX_LOG_LINE`] bytes, all of them
/// at most a limit; memory is one line.
#[derive(Debug)]
pub struct Lines {
    r: BufReader<File>,
    name: String,
    path: std::path::PathBuf,
    limit: u64,
    read: u64,
    line: usize,
    buf: Vec<u8>,
    text: String,
}

impl Lines {
    /// The lines of `path`, at most `limit` bytes in all.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path, limit: u64) -> Result<Self> {
        let f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Lines {
            r: BufReader::with_capacity(1 << 16, f),
            name: path.display().to_string(),
            path: path.to_path_buf(),
            limit,
            read: 0,
            line: 0,
            buf: Vec::new(),
            text: String::new(),
        })
    }

    /// The next line without its `\n` (and `\r`), or `None` at the end.
    ///
    /// # Errors
    /// A read error, a line longer than [`MAX_LOG_LINE`], more than the limit in all, or
    /// a line that is not UTF-8 (a parse error at its line and column).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&str>> {
        // The last line's allocation is reused.
        self.buf = std::mem::take(&mut self.text).into_bytes();
        self.buf.clear();
        self.line += 1;
        // Never more than one byte past the longest line or the limit.
        let room = (MAX_LOG_LINE as u64 + 1).min(self.limit.saturating_sub(self.read) + 1);
        let n = (&mut self.r)
            .take(room)
            .read_until(b'\n', &mut self.buf)
            .with_context(|| format!("cannot read {}", self.name))?;
        if n == 0 {
            return Ok(None);
        }
        self.read += n as u64;
        if self.read > self.limit {
            return Err(too_large(&self.path, self.limit));
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n as u64 == room {
            bail!(
                "{}:{}: error: the line is longer than {MAX_LOG_LINE} bytes, the longest a log \
                 line may be",
                self.name,
                self.line
            );
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        match vmspace_script::decode_text(&self.name, std::mem::take(&mut self.buf)) {
            Ok(s) => {
                self.text = s;
                Ok(Some(&self.text))
            }
            Err(e) => {
                let e = vmspace_script::ParseError {
                    line: self.line,
                    ..e
                };
                Err(anyhow::anyhow!("{e}"))
            }
        }
    }

    /// The bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The number of the line [`Lines::next`] returned last (1-based).
    pub fn line_number(&self) -> usize {
        self.line
    }
}
