//! Escaping for XML and HTML, and fixed number formats.

use std::fmt::Write;

use vmspace::MapsLine;

/// Append `s` escaped for XML text and attribute values (both quote styles). Characters
/// XML 1.0 cannot carry at all, even as references (most C0 controls, U+FFFE, U+FFFF),
/// are written visibly as `\xNN` / `\u{NNNN}`.
pub(crate) fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `s` escaped, as a new string.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    esc(&mut out, s);
    out
}

/// A size in bytes for people: `12 KiB`, `1.5 MiB`, `127.9 TiB` (one decimal, truncated;
/// integers only, so the text never depends on floating point).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 1024u128;
    let mut i = 0;
    while i + 1 < UNITS.len() && u128::from(bytes) >= unit * 1024 {
        unit *= 1024;
        i += 1;
    }
    let tenths = u128::from(bytes) * 10 / unit;
    if tenths.is_multiple_of(10) {
        format!("{} {}", tenths / 10, UNITS[i])
    } else {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[i])
    }
}

/// Pages, rounded up: `1 page`, `16 pages`.
pub(crate) fn pages(bytes: u64) -> String {
    let p = bytes.div_ceil(4096);
    if p == 1 {
        "1 page".to_string()
    } else {
        format!("{p} pages")
    }
}

/// `16p`: pages, short.
pub(crate) fn pages_short(bytes: u64) -> String {
    format!("{}p", bytes.div_ceil(4096))
}

/// A maps line with single spaces between the columns (the kernel pads the name).
pub(crate) fn compact_line(l: &MapsLine) -> String {
    let p = l.perms();
    let mut s = format!(
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {}",
        l.start,
        l.end,
        p[0] as char,
        p[1] as char,
        p[2] as char,
        p[3] as char,
        l.offset,
        l.dev_major,
        l.dev_minor,
        l.inode
    );
    if let Some(n) = &l.name {
        s.push(' ');
        s.push_str(n);
    }
    s
}

/// The four permission characters.
pub(crate) fn perms(l: &MapsLine) -> String {
    l.perms().iter().map(|&c| c as char).collect()
}

/// The last path component of a name (`libc.so.6`), or the whole name (`[heap]`).
pub(crate) fn short_name(name: &str) -> &str {
    if name.starts_with('/') {
        let base = name.rsplit('/').next().unwrap_or(name);
        // A `/` inside " (deleted)" cannot happen, but names are arbitrary text.
        if base.is_empty() { name } else { base }
    } else {
        name
    }
}

/// Cut `s` to at most `max` characters, ending it with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_controls() {
        assert_eq!(
            escaped("a<b>&\"c\" 'd'\u{1}\r\n\u{ffff}é"),
            "a&lt;b&gt;&amp;&quot;c&quot; &#39;d&#39;\\x01\\r\n\\u{ffff}é"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(100), "100 B");
        assert_eq!(human_size(4096), "4 KiB");
        assert_eq!(human_size(48 * 1024), "48 KiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(0x7fff_f7ff_f000 - 0x5555_5594_4000), "42.6 TiB");
        assert_eq!(human_size(u64::MAX), "15.9 EiB");
        assert_eq!(pages(4096), "1 page");
        assert_eq!(pages(4097), "2 pages");
        assert_eq!(pages_short(16 * 4096), "16p");
    }

    #[test]
    fn names() {
        assert_eq!(short_name("/usr/lib/libc.so.6"), "libc.so.6");
        assert_eq!(short_name("/memfd:a b (deleted)"), "memfd:a b (deleted)");
        assert_eq!(short_name("[heap]"), "[heap]");
        assert_eq!(short_name("/"), "/");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
