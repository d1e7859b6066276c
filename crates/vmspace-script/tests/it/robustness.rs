//! No input makes the parser panic or hang.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use vmspace_script::{Env, ParseError, parse_script, parse_strace_log};

/// Parse `text` both ways; render any error and resolve any statement. Nothing may
/// panic, an error must point inside the text, and it must all take well under a
/// second (the bound is loose for slow CI machines).
fn exercise(text: &str) {
    let start = Instant::now();
    exercise_untimed(text);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{took:?} for an input of {} bytes",
        text.len()
    );
}

fn exercise_untimed(text: &str) {
    let lines = text.split('\n').count();
    let check_err = |e: &ParseError| {
        let _ = e.to_string();
        assert!(e.line >= 1 && e.line <= lines, "{e:?}");
        assert!(e.column >= 1 && e.width >= 1, "{e:?}");
    };
    match parse_script("fuzz.vms", text) {
        Ok(s) => {
            let printed = s.to_string();
            let back =
                parse_script("printed.vms", &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
            assert!(s.same_ast(&back));
            for st in &s.stmts {
                let _ = st.resolve(&Env::new());
            }
        }
        Err(e) => check_err(&e),
    }
    match parse_strace_log("fuzz.strace", text) {
        Ok(log) => {
            let _ = log.script.to_string();
            for st in &log.script.stmts {
                let _ = st.resolve(&Env::new());
            }
        }
        Err(e) => check_err(&e),
    }
}

/// Pieces of the grammar, to build inputs that get deep into the parser.
const PIECES: &[&str] = &[
    "mmap(",
    "munmap(",
    "mremap(",
    "mprotect(",
    "madvise(",
    "brk(",
    "memfd_create(",
    "pwrite64(",
    "setrlimit(",
    "prlimit64(",
    "store(",
    "load(",
    "fill(",
    "maps(",
    "vmas(",
    "openat(",
    "$a",
    "$",
    " = ",
    "=",
    "!=",
    "(",
    ")",
    ",",
    " ",
    "|",
    "+",
    "-",
    "*",
    "<<",
    "<",
    ">",
    "{",
    "}",
    "rlim_cur=",
    "rlim_max=",
    "NULL",
    "PROT_READ",
    "MAP_PRIVATE",
    "MREMAP_FIXED",
    "MREMAP_DONTUNMAP",
    "MADV_DONTNEED",
    "RLIMIT_AS",
    "RLIM64_INFINITY",
    "SIGSEGV",
    "-1 ENOMEM",
    "(Cannot allocate memory)",
    "(errno 4000)",
    "?",
    "0",
    "1",
    "4p",
    "0x",
    "0x7f0000000000",
    "18446744073709551615",
    "99999999999999999999",
    "010",
    "09",
    "\"",
    "\"abc\"",
    "\"ab\"...",
    "\\",
    "\\x4",
    "\\777",
    "'",
    "'a'",
    "#",
    "/*",
    "*/",
    "<unfinished ...>",
    "<... mmap resumed>",
    "<... munmap resumed>",
    "[pid 7] ",
    "7  ",
    "10:00:51.1 ",
    "[  11] ",
    "+++ exited +++",
    "--- SIGSEGV {} ---",
    "strace: Process 1 attached",
    "3</memfd:x>",
    "(deleted)",
    "<0.000012>",
    "\n",
    "\n",
    "\t",
    "é",
    "\u{0}",
    "\r\n",
];

fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::util::cases(2000)))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn grammar_soup_never_panics(text in soup()) {
        exercise(&text);
    }

    #[test]
    fn mutated_real_lines_never_panic(
        line in proptest::sample::select(vec![
            "4835  10:00:52.039544 mmap(0x7f0000000000, 8192, 0x3 /* PROT_READ|PROT_WRITE */, 0x100001 /* MAP_SHARED|MAP_FIXED_NOREPLACE */, 3</memfd:x>(deleted), 0x1000) = 0x7f0000000000 <0.000020>",
            "[pid  4897] mremap(0x7f492ac24000, 4096, 4096, MREMAP_MAYMOVE|MREMAP_DONTUNMAP <unfinished ...>\n[pid  4897] <... mremap resumed>) = 0x7f492ae14000",
            "prlimit64(0, RLIMIT_MEMLOCK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}, NULL) = -1 EPERM (Operation not permitted)",
            "pwrite64(3, \"hello\\n\\t\\\\\\0\\1\\377\\0\", 12, 4096) = 12",
            "$a = mmap(NULL, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\nvmas($a, $a + 6p) = \"[0,2)rw-p\"",
        ]),
        cut in any::<prop::sample::Index>(),
        insert in proptest::sample::select(PIECES),
        delete in 0usize..4,
    ) {
        let chars: Vec<char> = line.chars().collect();
        let at = cut.index(chars.len() + 1);
        let end = (at + delete).min(chars.len());
        let mutated: String = chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
        exercise(&mutated);
    }
}

/// Inputs built to be slow: deep nesting, long lines, many lines, many pending halves.
#[test]
fn pathological_inputs_finish_quickly() {
    let big = 200_000;
    let inputs = [
        "(".repeat(big),
        "-".repeat(big),
        format!("munmap({}", "(".repeat(big)),
        format!("munmap({}1, 1)", "-".repeat(big)),
        format!("munmap({}, 1)", vec!["1"; big / 2].join("|")),
        format!("store(0, \"{}\")", "\\x41".repeat(big)),
        format!("store(0, \"{}", "a".repeat(big)),
        "munmap(0, 1) /*".repeat(big / 16),
        "<...".repeat(big / 4),
        format!(
            "[pid 1] mmap(NULL, 1, {} <unfinished ...>\n",
            "PROT_READ|".repeat(big / 10)
        ),
        "[pid 1] munmap(0, 1 <unfinished ...>\n".repeat(big / 40),
        "[pid 1] <... munmap resumed>) = 0\n".repeat(big / 40),
        "munmap(0x1000, 4096) = 0\n".repeat(big / 20),
        "x".repeat(big),
        "\n".repeat(big),
        "3<".repeat(big / 2),
        format!("close(3<{})", "[".repeat(big)),
        "strace: Process 1 attached".repeat(big / 26),
        "a strace: Process 1 attached\n".repeat(big / 30),
        "(".repeat(big) + ")",
    ];
    for text in &inputs {
        exercise(text);
    }
}
