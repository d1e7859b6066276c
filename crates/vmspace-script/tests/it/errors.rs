//! Parse errors: file, line and column, the line with a caret, what was expected.

use vmspace_script::{ParseError, parse_script, parse_strace_log};

use crate::util::error;

fn err(text: &str) -> ParseError {
    parse_script("bad.vms", text).unwrap_err()
}

#[test]
fn renders_like_a_compiler_diagnostic() {
    let text =
        "munmap(0x1000, 1p)\n\n$a = mmap(NULL 4p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n";
    let e = err(text);
    assert_eq!((e.line, e.column, e.width), (3, 16, 2));
    assert_eq!(
        e.to_string(),
        "bad.vms:3:16: error: expected `,` or `)` after argument 1 of `mmap`, found `4p`\n  \
         |\n\
         3 | $a = mmap(NULL 4p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n  \
         |                ^^"
    );
}

#[test]
fn a_file_that_fails_to_parse_runs_nothing() {
    // Good lines before the bad one do not produce a partial script: the result is an
    // error, and there is no script to run.
    let r = parse_script("f.vms", "munmap(0, 1)\nmunmap(0, 1)\nmunmap(0, 1\n");
    let e = r.unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("found the end of the line"), "{e}");
}

#[test]
fn gutter_width_follows_the_line_number() {
    let text = format!("{}munmap(0, 1) junk\n", "\n".repeat(99));
    let e = err(&text);
    assert_eq!(e.line, 100);
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "bad.vms:100:14: error: expected `=`, `!=` or the end of the line, found `junk`"
    );
    assert_eq!(lines[1], "    |");
    assert_eq!(lines[2], "100 | munmap(0, 1) junk");
    assert_eq!(lines[3], "    |              ^^^^");
}

#[test]
fn columns_count_characters_and_carets_keep_tabs() {
    let e = err("store(0, \"\u{e9}\u{e9}\") x");
    assert_eq!(e.column, 16);
    let e = err("\tmunmap(0,\t1) x");
    assert_eq!(e.column, 15);
    let last = e.to_string().lines().last().unwrap().to_string();
    assert_eq!(last, "  | \t         \t   ^");
}

#[test]
fn messages_say_what_was_expected() {
    let cases: &[(&str, (usize, &str))] = &[
        (
            "mmap(NULL, 1p, PROT_READ, MAP_PRIVATE, -1)",
            (42, "`mmap` takes 6 arguments, found 5"),
        ),
        (
            "munmap(0, 1, 2)",
            (14, "too many arguments: `munmap` takes 2 arguments"),
        ),
        (
            "munlockall(0)",
            (12, "too many arguments: `munlockall` takes 0 arguments"),
        ),
        (
            "mprotect(0, 1, PROT_READ|PROT_BOGUS)",
            (26, "`PROT_BOGUS` is not one of the PROT_* flags names"),
        ),
        (
            "munmap(0, FOO)",
            (
                11,
                "expected a length (a number, `Np`, `$name` or NULL), found `FOO`",
            ),
        ),
        (
            "munmap(0, )",
            (
                11,
                "expected a length (a number, `Np`, `$name` or NULL), found `)`",
            ),
        ),
        (
            "munmap 0, 1)",
            (8, "expected `(` after `munmap`, found `0`"),
        ),
        (
            "frobnicate(1)",
            (
                1,
                "`frobnicate` is not a supported call (expected one of mmap,",
            ),
        ),
        ("= munmap(0, 1)", (1, "expected a call such as `mmap(...)`")),
        (
            "$a munmap(0, 1)",
            (4, "expected `=` after `$a`, found `munmap`"),
        ),
        ("$ = munmap(0, 1)", (1, "expected a name after `$`")),
        (
            "munmap(0, 1) = ",
            (
                16,
                "expected an address (a number, `Np`, `$name` or NULL), found the end of the line",
            ),
        ),
        ("munmap(0x, 1)", (8, "expected hex digits after `0x`")),
        (
            "munmap(99999999999999999999, 1)",
            (8, "number does not fit in 64 bits"),
        ),
        ("munmap(12ab, 1)", (8, "invalid number")),
        ("munmap(09, 1)", (9, "invalid digit in octal number")),
        (
            "munmap(4503599627370496p, 1)",
            (8, "page count does not fit in 64 bits"),
        ),
        ("store(0, \"abc)", (10, "unterminated string")),
        ("store(0, \"\\q\")", (11, "unknown escape `\\q`")),
        (
            "store(0, \"\\400\")",
            (11, "octal escape is larger than a byte"),
        ),
        ("store(0, \"\\x\")", (11, "expected hex digits after `\\x`")),
        (
            "fill(0, 1, 'ab')",
            (12, "expected `'` to close the character literal"),
        ),
        ("fill(0, 1, '')", (12, "empty character literal")),
        ("munmap(0, 1) /* open", (14, "unterminated `/*` comment")),
        ("munmap(0, 1) @", (14, "unexpected character `@`")),
        (
            "munmap(0, 1) = -1 (errno 0)",
            (26, "errno numbers are 1..=4095"),
        ),
        ("munmap(0, 1) ! 3", (14, "expected `!=`")),
        (
            "close(3</dev/null)",
            (8, "unterminated `<...>` file descriptor decoration"),
        ),
        ("munmap(0, 1) <", (14, "unexpected `<`")),
        (
            "munmap(0, (1)",
            (
                14,
                "expected `,` or `)` after argument 2 of `munmap`, found the end of the line",
            ),
        ),
        ("munmap(0, (1 2))", (14, "expected `)`, found `2`")),
    ];
    for (text, (col, msg)) in cases {
        let e = err(text);
        assert_eq!(e.line, 1, "{text}");
        assert!(e.message.contains(msg), "{text}: {}", e.message);
        assert_eq!(e.column, *col, "{text}: {}", e.message);
    }
}

#[test]
fn expressions_are_bounded() {
    let deep = format!("munmap({}1{}, 1)", "(".repeat(100), ")".repeat(100));
    assert!(error(&deep).contains("nested too deeply"));
    let long = format!("munmap({}, 1)", vec!["1"; 1000].join("+"));
    assert!(error(&long).contains("expression too long"));
    let negs = format!("munmap({}1, 1)", "-".repeat(1000));
    assert!(error(&negs).contains("nested too deeply"));
}

#[test]
fn split_calls_point_at_the_right_half() {
    let text = "[pid 7] mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS <unfinished ...>\n\
                [pid 8] munmap(0, 1) = 0\n\
                [pid 7] <... mmap resumed>, -1, 0) = 0x1000 junk\n";
    let e = parse_strace_log("t.strace", text).unwrap_err();
    assert_eq!((e.line, e.column), (3, 45));
    assert!(e.source_line.starts_with("[pid 7] <... mmap resumed>"));
    assert!(e.message.contains("found `junk`"));
    let text = "[pid 7] mmap(NULL, 1p, PROT_BOGUS <unfinished ...>\n\
                [pid 7] <... mmap resumed>MAP_PRIVATE, -1, 0) = 0x1000\n";
    let e = parse_strace_log("t.strace", text).unwrap_err();
    assert_eq!((e.line, e.column), (1, 24));
    assert!(e.message.contains("PROT_BOGUS"));
}

#[test]
fn unfinished_calls_in_a_script_must_be_resumed() {
    let e = err("[pid 7] munmap(0x1000, 1p <unfinished ...>\nmunmap(0, 1)\n");
    assert_eq!((e.line, e.column, e.width), (1, 27, 16));
    assert!(e.message.contains("never resumed"));
    let e = err("munmap(0, 1)\n[pid 7] <... munmap resumed>) = 0\n");
    assert_eq!((e.line, e.column), (2, 9));
    assert!(e.message.contains("without an `<unfinished ...>` start"));
    let e = err("[pid 7] <... munmap>) = 0\n");
    assert!(e.message.contains("expected `<... NAME resumed>`"));
}

#[test]
fn an_undefined_name_is_a_parse_error_at_its_column() {
    let e = err(
        "$a = mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
                 munmap($a, 1p) = 0\n\
                 mprotect($a, 1p, PROT_NONE) = $b\n",
    );
    assert_eq!((e.line, e.column, e.width), (3, 31, 2));
    assert_eq!(
        e.message,
        "`$b` is not defined: no earlier line binds it (`$b = call(...)`)"
    );
    // A use before the binding, in the binding call itself, or in a later line's
    // expectation of the same name is no binding either.
    let e =
        err("munmap($a, 1p)\n$a = mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n");
    assert_eq!((e.line, e.column), (1, 8));
    let e = err("$a = mmap($a, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n");
    assert_eq!((e.line, e.column), (1, 11));
    let e = err("load(0x1000 + $x * 2, 4) = SIGSEGV\n");
    assert_eq!((e.line, e.column), (1, 15));
    // Names a runner starts with count as defined.
    let mut env = vmspace_script::Env::new();
    env.set("base", 0x10000);
    vmspace_script::parse_script_with_env("ok.vms", "munmap($base, 1p)\n", &env).unwrap();
    // Logs are checked too: strace prints no names, and a log is printed as a script
    // that must read back (cargo-fuzz's strace_parse found `brk(NULL) != $IV`).
    parse_strace_log("t.log", "munmap(0x1000, 4096) = 0\n").unwrap();
    let e = parse_strace_log("t.log", "6  brk(NULL)   !=    $IV").unwrap_err();
    assert_eq!((e.line, e.column), (1, 22));
    let log = parse_strace_log("t.log", "$a = brk(NULL)\nbrk($a) = $a\n").unwrap();
    vmspace_script::parse_script("back.vms", &log.script.to_string()).unwrap();
}

#[test]
fn a_long_line_is_shown_as_an_excerpt_around_the_caret() {
    // A 10 MB string, then the error.
    let long = format!("store(0x1000, \"{}\") junk\n", "A".repeat(10_000_000));
    let e = err(&long);
    assert_eq!(e.column, long.len() - 4);
    let shown = e.to_string();
    assert!(shown.len() < 400, "{} bytes of report", shown.len());
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    assert!(lines[2].starts_with("1 | ...AAA"), "{}", lines[2]);
    assert!(lines[2].ends_with("AA\") junk"), "{}", lines[2]);
    // The caret still lands under `junk`.
    let caret = lines[3].find('^').unwrap();
    assert_eq!(&lines[2][caret..caret + 4], "junk");
    assert_eq!(lines[3].matches('^').count(), 4);

    // Cut on both sides.
    let mid = format!(
        "store(0x1000, \"{}\\q{}\")\n",
        "B".repeat(1000),
        "A".repeat(1_000_000)
    );
    let e = err(&mid);
    assert_eq!((e.column, e.width), (16 + 1000, 2));
    let shown = e.to_string();
    assert!(shown.len() < 400, "{} bytes of report", shown.len());
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines[2].starts_with("1 | ...BBB") && lines[2].ends_with("AAA..."));
    let caret = lines[3].find('^').unwrap();
    assert_eq!(&lines[2][caret - 1..caret + 3], "B\\qA");
    assert_eq!(lines[3].matches('^').count(), 2);
}

#[test]
fn long_names_in_messages_are_shortened() {
    let name = "x".repeat(1_000_000);
    for text in [
        format!("{name}(0)\n"),
        format!("munmap(0, 1) = -1 {name}\n"),
        format!("${name} 1\n"),
        format!("{name}\n"),
    ] {
        let e = err(&text);
        assert!(e.message.len() < 300, "{}", &e.message[..300]);
        assert!(e.to_string().len() < 600);
    }
}

#[test]
fn invalid_utf8_has_a_line_and_a_column() {
    let bytes = b"munmap(0x1000, 1p)\n# caf\xc3\xa9 \xff\xfe\nmunmap(0, 1)\n".to_vec();
    let e = vmspace_script::decode_text("bad.vms", bytes).unwrap_err();
    assert_eq!((e.line, e.column, e.width), (2, 8, 1));
    assert_eq!(
        e.to_string(),
        "bad.vms:2:8: error: invalid UTF-8 (byte 0xff): scripts and logs are UTF-8 text\n  \
         |\n\
         2 | # caf\u{e9} \u{fffd}\u{fffd}\n  \
         |        ^"
    );
    let e = vmspace_script::decode_text("bad.vms", b"\x80".to_vec()).unwrap_err();
    assert_eq!((e.line, e.column), (1, 1));
    assert_eq!(
        vmspace_script::decode_text("ok.vms", "caf\u{e9}\n".into()).unwrap(),
        "caf\u{e9}\n"
    );
}

#[test]
fn control_characters_are_not_echoed() {
    let e = err("munmap(0, 1) \u{1b}[31m x\0\n");
    let shown = e.to_string();
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\0'),
        "{shown:?}"
    );
    assert!(
        shown.contains("munmap(0, 1) \u{fffd}[31m x\u{fffd}"),
        "{shown}"
    );
}
