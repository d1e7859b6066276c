//! `vmspace tour`: the mremap scenarios on the built-in engine, as text, HTML and JSON.
//! (Each tour script also runs under `vmspace diff` and `vmspace run` in corpus.rs.)

use std::path::PathBuf;
use std::process::{Command, Output};

const TITLES: [&str; 8] = [
    "Shrink",
    "Expand in place",
    "Move",
    "MREMAP_FIXED",
    "MREMAP_DONTUNMAP",
    "The shared duplicate",
    "Populate when locked",
    "The efficient realloc",
];

fn vmspace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("vmspace runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vmspace-tour-test-{}-{name}", std::process::id()))
}

#[test]
fn the_tour_prints_every_scenario() {
    let o = vmspace(&["tour"]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    for (i, title) in TITLES.iter().enumerate() {
        let heading = format!("{}/8  {title}\n", i + 1);
        assert!(text.contains(&heading), "missing {heading:?}");
    }
    // Not a terminal: no colour.
    assert!(!text.contains('\x1b'));
    // Calls, results, maps changes and the engine's notes.
    assert!(text.contains("mremap(0x"));
    assert!(text.contains("      + 7"));
    assert!(text.contains("      - 7"));
    assert!(text.contains("0 bytes copied"));
    assert!(!text.contains("FAILED"));
}

#[test]
fn one_scenario_by_number_or_name() {
    let by_number = stdout(&vmspace(&["tour", "8"]));
    let by_name = stdout(&vmspace(&["tour", "realloc"]));
    assert_eq!(by_number, by_name);
    assert!(by_number.starts_with("8/8  The efficient realloc\n"));
    assert!(!by_number.contains("1/8  Shrink"));
    // The realloc in numbers: what a copying realloc would copy, and that the pages
    // exist once.
    assert!(by_number.contains("copied 67,104,768 bytes (16,383 pages)"));
    assert!(by_number.contains("Frames in use grew by 16,384, and the final buffer has 16,384"));
    assert!(by_number.contains("14 growths by doubling, from 4 KiB to 64 MiB"));
}

#[test]
fn list_and_unknown_scenarios() {
    let o = vmspace(&["tour", "--list"]);
    assert!(o.status.success());
    let list = stdout(&o);
    assert_eq!(list.lines().count(), 8);
    assert!(list.contains(" 5  dontunmap"));
    let bad = vmspace(&["tour", "nine"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--list"));
}

#[test]
fn json_is_one_object_per_scenario() {
    let o = vmspace(&["tour", "--json"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(values.len(), 8);
    for (v, title) in values.iter().zip(TITLES) {
        assert_eq!(v["title"], title);
        assert_eq!(v["passed"], true);
        assert!(!v["steps"].as_array().expect("steps").is_empty());
    }
}

/// A minimal XML well-formedness check: every tag closed in order, entities known,
/// attributes quoted.
fn well_formed(doc: &str) -> Result<(), String> {
    let body = doc.strip_prefix("<!DOCTYPE html>").ok_or("no doctype")?;
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(['<', '&']) {
        let (before, at) = rest.split_at(i);
        if before.contains('>') {
            return Err(format!("stray `>` before {:?}", &at[..at.len().min(40)]));
        }
        if let Some(ent) = at.strip_prefix('&') {
            let end = ent.find(';').ok_or("unterminated entity")?;
            let name = &ent[..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "#39")
                || (name.starts_with('#') && name[1..].chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("unknown entity &{name};"));
            }
            rest = &ent[end + 1..];
            continue;
        }
        let end = at.find('>').ok_or("unterminated tag")?;
        let tag = &at[1..end];
        rest = &at[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag
            .split_whitespace()
            .next()
            .ok_or("empty tag")?
            .to_string();
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if name == "style" {
            // CSS is text; skip to the end of the element.
            let close = rest.find("</style>").ok_or("unterminated style")?;
            rest = &rest[close + "</style>".len()..];
            continue;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn html_page_is_self_contained_and_well_formed() {
    let path = temp("tour.html");
    let o = vmspace(&["tour", "--html", path.to_str().expect("utf-8 path")]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("wrote"));
    let page = std::fs::read_to_string(&path).expect("the page was written");
    let _ = std::fs::remove_file(&path);
    well_formed(&page).expect("well-formed");
    assert!(page.starts_with("<!DOCTYPE html>\n<html"));
    assert!(page.contains("<style>"));
    for bad in ["<script", "<link", "src=", "http://", "https://"] {
        assert!(!page.contains(bad), "external resource: {bad}");
    }
    for slug in [
        "shrink",
        "expand",
        "move",
        "fixed",
        "dontunmap",
        "duplicate",
        "populate",
        "realloc",
    ] {
        assert!(page.contains(&format!("<section id=\"{slug}\">")), "{slug}");
    }
    assert!(page.contains("class=\"add\""));
    assert!(page.contains("class=\"del\""));
    assert!(page.contains("67,104,768 bytes"));
}

#[test]
fn the_checker_rejects_broken_pages() {
    assert!(well_formed("<!DOCTYPE html><p><b>x</p></b>").is_err());
    assert!(well_formed("<!DOCTYPE html><p>a & b</p>").is_err());
    assert!(well_formed("<!DOCTYPE html><p>x").is_err());
    well_formed("<!DOCTYPE html><p>x<br/></p>").expect("well-formed");
}

#[test]
fn help_has_an_example() {
    let o = vmspace(&["tour", "--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Examples:"));
    assert!(text.contains("vmspace tour --html tour.html"));
}
