//! `vmspace render`: the page it writes, its errors, and — where Chromium is installed
//! (`/usr/bin/chromium`, Debian's package) — what the page looks like in a real browser.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmspace-render-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn vmspace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn example() -> String {
    root()
        .join("examples/mremap-grow.vms")
        .display()
        .to_string()
}

#[test]
fn help_has_an_example() {
    let out = vmspace(&["render", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("Example:\n  vmspace render examples/mremap-grow.vms -o"));
    assert!(help.contains("--svg") && help.contains("--all") && help.contains("--json"));
}

#[test]
fn renders_the_example_as_a_page_and_as_svg() {
    let dir = scratch("page");
    let html = dir.join("out.html");
    let out = vmspace(&["render", &example(), "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(html.to_str().unwrap()), "{stdout}");
    assert!(!stdout.contains('\x1b'));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\""));
    assert!(page.contains("start: the built-in layout (vmspace run&#39;s)"));
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    // 12 statements and the starting layout.
    assert_eq!(page.matches("<g class=\"row\"").count(), 13);
    // The mremap that moved, and the ranges it left.
    assert!(page.contains("moved: 7ffff7ca1000 (12p) \u{2192} 7ffff7c89000 (24p)"));
    assert!(page.contains("unmapped by this step: 7ffff7ca1000-7ffff7cad000"));
    // Nothing outside the page.
    assert!(!page.contains("<script") && !page.contains("src="));

    let svg = dir.join("out.svg");
    let out = vmspace(&["render", &example(), "-o", svg.to_str().unwrap(), "--svg"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(page.contains(&svg), "the page holds the same picture");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every mapping drawn (`--all`): the built-in layout's program is /usr/bin/vmspace, not
/// the build directory of the machine the layout was captured on.
#[test]
fn the_built_in_layout_names_a_neutral_program_path() {
    let dir = scratch("all");
    let html = dir.join("all.html");
    let out = vmspace(&["render", &example(), "--all", "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.matches("/usr/bin/vmspace").count() >= 13, "{page}");
    assert!(!page.contains("/target/"), "{page}");
}

#[test]
fn json_summary() {
    let dir = scratch("json");
    let out_path = dir.join("out.html");
    let out = vmspace(&[
        "render",
        &example(),
        "-o",
        out_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output"], out_path.to_str().unwrap());
    assert_eq!(v["format"], "html");
    assert_eq!(v["steps"], 13);
    assert_eq!(v["moves"], 1);
    assert_eq!(v["ok"], true);
    let drawn = v["drawn"].as_u64().unwrap();
    let mappings = v["mappings"].as_u64().unwrap();
    assert!(drawn < mappings / 2, "{v}");

    let out = vmspace(&[
        "render",
        &example(),
        "-o",
        out_path.to_str().unwrap(),
        "--json",
        "--all",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["drawn"], v["mappings"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_and_unwritable_output_exit_2() {
    let dir = scratch("errors");
    let out_path = dir.join("out.html");
    let o = out_path.to_str().unwrap();

    let missing = dir.join("missing.vms");
    let out = vmspace(&["render", missing.to_str().unwrap(), "-o", o]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );

    let bad = dir.join("bad.vms");
    std::fs::write(&bad, "# fine\nmmap(NULL, 4p, PROT_BOGUS, 0, -1, 0)\n").unwrap();
    let out = vmspace(&["render", bad.to_str().unwrap(), "-o", o]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:2:16:", bad.display())), "{err}");

    let nowhere = dir.join("no/such/dir/out.html");
    let out = vmspace(&["render", &example(), "-o", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot write"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_path.exists());

    let out = vmspace(&["render", &example()]);
    assert_eq!(out.status.code(), Some(2), "-o is required");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failed_assertions_are_drawn_and_exit_1() {
    let dir = scratch("failed");
    let script = dir.join("s.vms");
    std::fs::write(
        &script,
        "$a = mmap(NULL, 2p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         munmap($a, 1p) = -1 EINVAL\n\
         load($a, 1) = \"x\"\n",
    )
    .unwrap();
    let out_path = dir.join("out.html");
    let out = vmspace(&[
        "render",
        script.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&out_path).unwrap();
    assert!(page.contains("FAILED: expected -1 EINVAL"), "{page}");
    // The load faulted without `= SIGSEGV`: the run stopped there, and says so.
    assert!(page.contains("run stopped"), "{page}");
    assert!(text(&out.stderr).contains("1 assertion(s) failed"));
    let _ = std::fs::remove_dir_all(&dir);
}

const CHROMIUM: &str = "/usr/bin/chromium";
const SIZE: (u32, u32) = (1400, 900);

/// Take a screenshot of `url` with headless Chromium.
fn screenshot(url: &str, png: &Path, dir: &Path) {
    let profile = dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={},{}", SIZE.0, SIZE.1))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success() && png.exists(),
                "chromium failed ({status}):\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The RGB pixels of a PNG.
fn png_pixels(bytes: &[u8]) -> Vec<[u8; 3]> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    assert!(step >= 3, "expected colour, got {:?}", info.color_type);
    buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn count_near(pixels: &[[u8; 3]], c: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(c).all(|(&a, b)| a.abs_diff(b) <= 3))
        .count()
}

/// The Chromium to use: `/usr/bin/chromium`, or `VMSPACE_CHROMIUM` (which the test of
/// the missing-Chromium case points at nothing).
fn chromium() -> PathBuf {
    std::env::var_os("VMSPACE_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from)
}

/// Is Chromium there? Where it is not, the screenshot test is skipped, and says so on
/// the terminal (written to stderr directly, past the test harness's capture, so that a
/// skip never passes as a silent "ok"); in CI (`CI=true`, where `.ci/run` installs
/// Chromium) a missing Chromium is a failure.
fn chromium_present(test: &str) -> bool {
    use std::io::Write as _;
    let path = chromium();
    if path.exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "true"),
        "CI=true but {} is not installed: .ci/run installs it (apt-get install chromium)",
        path.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {} is not installed (apt-get install chromium); with CI=true this fails",
        path.display()
    );
    false
}

#[test]
fn the_page_looks_right_in_headless_chromium() {
    if !chromium_present("the_page_looks_right_in_headless_chromium") {
        return;
    }
    let dir = scratch("chromium");
    let html = dir.join("out.html");
    let out = vmspace(&["render", &example(), "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let png = dir.join("out.png");
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    screenshot(&url, &png, &dir);

    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), SIZE);
    let pixels = png_pixels(&bytes);
    assert_eq!(pixels.len(), (SIZE.0 * SIZE.1) as usize);
    let mut distinct: Vec<[u8; 3]> = pixels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() >= 16,
        "a blank page? only {} colours",
        distinct.len()
    );
    let white = count_near(&pixels, [255, 255, 255]);
    assert!(white < pixels.len() * 9 / 10, "mostly white");
    // The anonymous mappings, the heap, the library, and the hatched unmapped space.
    let anon = count_near(&pixels, hex(vmspace_render::Kind::Anon.colour()));
    let heap = count_near(&pixels, hex(vmspace_render::Kind::Heap.colour()));
    let file = count_near(&pixels, hex(vmspace_render::Kind::File.colour()));
    let ghost = count_near(&pixels, hex("#d62728"));
    assert!(anon > 20_000, "anon colour: {anon} pixels");
    assert!(heap > 5_000, "heap colour: {heap} pixels");
    assert!(file > 5_000, "file colour: {file} pixels");
    assert!(ghost > 200, "hatching: {ghost} pixels");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without Chromium the screenshot test says SKIPPED where a person sees it, and with
/// CI=true it fails (the test binary runs that one test again with Chromium pointed at
/// nothing).
#[test]
fn a_missing_chromium_is_a_visible_skip_and_a_failure_in_ci() {
    let run = |ci: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "the_page_looks_right_in_headless_chromium"])
            .env("VMSPACE_CHROMIUM", "/nonexistent/chromium")
            .env("CI", ci)
            .output()
            .unwrap()
    };
    let out = run("false");
    let err = text(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        err.contains("SKIPPED the_page_looks_right_in_headless_chromium: /nonexistent/chromium is not installed"),
        "{err}"
    );
    let out = run("true");
    assert!(!out.status.success(), "{out:?}");
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        all.contains("CI=true but /nonexistent/chromium is not installed"),
        "{all}"
    );
}
