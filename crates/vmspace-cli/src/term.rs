//! Terminal niceties: colour only on a terminal (NO_COLOR honoured), a progress line.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Whether to colour output written to stdout.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Wrap `s` in an ANSI colour when `on`.
pub fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    start: Instant,
    last: Instant,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` units.
    pub fn new(total: u64) -> Self {
        let now = Instant::now();
        Self {
            total,
            start: now,
            last: now,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Redraw (at most ten times a second).
    pub fn update(&mut self, done: u64, note: &str) {
        if !self.enabled || self.last.elapsed().as_millis() < 100 {
            return;
        }
        self.last = Instant::now();
        let width = 30;
        let filled = (done * width / self.total.max(1)).min(width) as usize;
        let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r[{}{}] {done}/{} ops, {rate:.0} ops/s {note}\x1b[K",
            "#".repeat(filled),
            ".".repeat(width as usize - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    /// Erase the bar.
    pub fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}
