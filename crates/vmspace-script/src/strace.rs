//! Reading raw strace lines: the parts the script parser does not need (the pid
//! prefix, the recorded result as text).

/// The call and the result of a logged call as the log wrote them, without strace's
/// prefixes (pid, time stamps) or `-T`'s duration: `("mmap(NULL, 4096, ...)",
/// "0x7f0000000000")` from `1234 12:00:00 mmap(NULL, 4096, ...) = 0x7f0000000000 <0.000012>`,
/// given the call's `name`. Without ` = ` (an unfinished call) the result is `?`.
pub fn call_and_result(source: &str, name: &str) -> (String, String) {
    let start = source.find(&format!("{name}(")).unwrap_or(0);
    let body = &source[start..];
    match body.rfind(" = ") {
        Some(i) => {
            let mut result = body[i + 3..].trim();
            // strace -T's duration.
            if let Some(j) = result.rfind(" <")
                && result.ends_with('>')
                && result[j + 2..result.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.')
            {
                result = result[..j].trim_end();
            }
            (body[..i].trim_end().to_string(), result.to_string())
        }
        None => (body.trim().to_string(), "?".to_string()),
    }
}

/// The pid of a raw strace line (`1234 ...` or `[pid 1234] ...`), if it names one.
pub fn line_pid(line: &str) -> Option<u32> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("[pid") {
        let rest = rest.trim_start();
        let end = rest.find(|c: char| !c.is_ascii_digit())?;
        return rest[..end].parse().ok();
    }
    let end = t.find(|c: char| !c.is_ascii_digit())?;
    if end == 0 || !t[end..].starts_with([' ', '\t', '<']) {
        return None;
    }
    t[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_either_prefix() {
        assert_eq!(line_pid("[pid  42] mmap("), Some(42));
        assert_eq!(line_pid("1234 mmap("), Some(1234));
        assert_eq!(line_pid("1234<x> mmap("), Some(1234));
        assert_eq!(line_pid("0x7f mmap("), None);
        assert_eq!(line_pid("mmap(NULL"), None);
    }

    #[test]
    fn the_call_and_result_lose_prefixes_and_durations() {
        assert_eq!(
            call_and_result(
                "1234 12:00:00 munmap(0x1000, 4096) = 0 <0.000012>",
                "munmap"
            ),
            ("munmap(0x1000, 4096)".to_string(), "0".to_string())
        );
        assert_eq!(
            call_and_result("brk(NULL) = 0x5000", "brk"),
            ("brk(NULL)".to_string(), "0x5000".to_string())
        );
        assert_eq!(
            call_and_result("mmap(NULL, 4096 <unfinished ...>", "mmap"),
            (
                "mmap(NULL, 4096 <unfinished ...>".to_string(),
                "?".to_string()
            )
        );
    }
}
