//! The picture: snapshots of small inputs, exact checks of the marks, well-formed XML
//! whatever the names contain, and deterministic output.

use vmspace::MapsLine;
use vmspace_render::{Kind, Move, Options, Picture, Selection, Step, render_html, render_svg};

const P: u64 = 4096;

/// A maps line the way the kernel prints it.
fn line(start: u64, end: u64, perms: &str, name: Option<&str>) -> MapsLine {
    let (dev, ino) = match name {
        Some(n) if n.starts_with('/') => ("fe:00", 1234),
        _ => ("00:00", 0),
    };
    let head = format!("{start:08x}-{end:08x} {perms} 00000000 {dev} {ino} ");
    let text = match name {
        Some(n) => format!("{:<72} {n}", head.trim_end()),
        None => head,
    };
    MapsLine::parse(&text).unwrap()
}

fn anon(start: u64, pages: u64, perms: &str) -> MapsLine {
    line(start, start + pages * P, perms, None)
}

const BASE: u64 = 0x7f00_0000_0000;

fn opts() -> Options {
    Options {
        title: "test".to_string(),
        width: 800,
        ..Options::default()
    }
}

/// A library, a heap far below, a mapping that grows in place and then moves.
fn story() -> Vec<Step> {
    let heap = line(0x5555_0000_0000, 0x5555_0002_1000, "rw-p", Some("[heap]"));
    let lib = line(
        BASE + 64 * P,
        BASE + 80 * P,
        "r--p",
        Some("/usr/lib/libc.so.6"),
    );
    let stack = line(0x7fff_fffd_e000, 0x7fff_ffff_f000, "rw-p", Some("[stack]"));
    let a4 = anon(BASE + 16 * P, 4, "rw-p");
    let a8 = anon(BASE + 16 * P, 8, "rw-p");
    let guard = anon(BASE + 24 * P, 1, "---p");
    let moved = anon(BASE, 16, "rw-p");
    vec![
        Step::new("start", vec![heap.clone(), lib.clone(), stack.clone()]),
        Step::new(
            "mmap(0x7f0000010000, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)",
            vec![heap.clone(), a4, lib.clone(), stack.clone()],
        )
        .with_result("0x7f0000010000"),
        Step::new(
            "mremap(0x7f0000010000, 4p, 8p, 0)",
            vec![heap.clone(), a8.clone(), lib.clone(), stack.clone()],
        )
        .with_result("0x7f0000010000"),
        Step::new(
            "mmap(0x7f0000018000, 1p, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)",
            vec![heap.clone(), a8, guard.clone(), lib.clone(), stack.clone()],
        )
        .with_result("0x7f0000018000"),
        Step::new(
            "mremap(0x7f0000010000, 8p, 16p, MREMAP_MAYMOVE)",
            vec![heap, moved, guard, lib, stack],
        )
        .with_result("0x7f0000000000")
        .with_moves(vec![Move {
            from: BASE + 16 * P..BASE + 24 * P,
            to: BASE..BASE + 16 * P,
        }]),
    ]
}

#[test]
fn snapshot_of_a_small_story() {
    let steps = story();
    insta::assert_snapshot!("story.svg", render_svg(&steps, &opts()));
}

#[test]
fn snapshot_of_the_page() {
    let steps = story();
    let html = render_html(&steps[..3], &opts());
    insta::assert_snapshot!("story3.html", html);
}

#[test]
fn output_is_deterministic() {
    let steps = story();
    assert_eq!(render_html(&steps, &opts()), render_html(&steps, &opts()));
    let mut reordered = steps.clone();
    for s in &mut reordered {
        s.maps.reverse();
    }
    assert_eq!(render_svg(&steps, &opts()), render_svg(&reordered, &opts()));
}

#[test]
fn by_default_only_changes_and_their_neighbours_are_drawn() {
    let steps = story();
    let svg = render_svg(&steps, &opts());
    // The stack is not next to anything that changed.
    assert!(!svg.contains("7ffffffde000"));
    // The heap is the neighbour below the moved mapping in the last step.
    assert!(svg.contains("[heap]"));
    assert!(svg.contains("libc.so.6"));
    let sum = Picture::new(&steps, &opts()).summary();
    assert_eq!(sum.steps, 5);
    assert_eq!(sum.changed_steps, 4);
    assert_eq!(sum.mappings, 7);
    assert_eq!(sum.drawn, 6);
    assert_eq!(sum.moves, 1);

    let all = Options {
        selection: Selection::All,
        ..opts()
    };
    let svg = render_svg(&steps, &all);
    assert!(svg.contains("7ffffffde000"));
    assert_eq!(Picture::new(&steps, &all).summary().drawn, 7);
}

#[test]
fn marks() {
    let steps = story();
    let svg = render_svg(&steps, &opts());
    let rows: Vec<&str> = svg.split("<g class=\"row\"").skip(1).collect();
    assert_eq!(rows.len(), 5);
    let outlines = |r: &str| r.matches("stroke-width=\"2\"/>").count();
    let ghosts = |r: &str| r.matches("unmapped by this step").count();
    // Nothing is marked on the first row.
    assert_eq!((outlines(rows[0]), ghosts(rows[0])), (0, 0));
    // mmap: one new bar. mremap in place: the grown bar. PROT_NONE: the guard.
    assert_eq!((outlines(rows[1]), ghosts(rows[1])), (1, 0));
    assert_eq!((outlines(rows[2]), ghosts(rows[2])), (1, 0));
    assert_eq!((outlines(rows[3]), ghosts(rows[3])), (1, 0));
    assert!(rows[3].contains("url(#vs-noaccess)"));
    // The move: the new bar, the old range hatched, an arrow, and a caption.
    assert_eq!((outlines(rows[4]), ghosts(rows[4])), (1, 1));
    assert!(rows[4].contains("unmapped by this step: 7f0000010000-7f0000018000, 8 pages (32 KiB)"));
    assert!(rows[4].contains("marker-end=\"url(#vs-arrow)\""));
    assert!(rows[4].contains("moved: 7f0000010000 (8p) \u{2192} 7f0000000000 (16p)"));
    assert!(!rows[3].contains("moved"));
    // Steps that change nothing say so.
    let same = vec![steps[0].clone(), steps[1].clone(), steps[1].clone()];
    let svg = render_svg(&same, &opts());
    assert_eq!(svg.matches("<tspan class=\"same\">").count(), 1);
}

#[test]
fn moves_of_the_same_size_are_inferred_unless_given() {
    let before = vec![anon(BASE + 32 * P, 4, "rw-p")];
    let after = vec![anon(BASE, 4, "rw-p")];
    let steps = vec![
        Step::new("start", before.clone()),
        Step::new("mremap(...)", after.clone()),
    ];
    let svg = render_svg(&steps, &opts());
    assert!(svg.contains("moved: 7f0000020000 (4p) \u{2192} 7f0000000000 (4p)"));
    let steps = vec![
        Step::new("start", before),
        Step::new("munmap and mmap", after).with_moves(vec![]),
    ];
    let svg = render_svg(&steps, &opts());
    assert!(!svg.contains("moved:"));
    assert!(svg.contains("unmapped by this step"));
}

#[test]
fn every_backing_has_its_colour_and_the_legend_lists_them() {
    let lines = vec![
        anon(BASE, 1, "rw-p"),
        line(BASE + P, BASE + 2 * P, "rw-s", Some("/dev/zero (deleted)")),
        line(
            BASE + 2 * P,
            BASE + 3 * P,
            "rw-s",
            Some("/memfd:buf (deleted)"),
        ),
        line(BASE + 3 * P, BASE + 4 * P, "r-xp", Some("/usr/bin/true")),
        line(BASE + 4 * P, BASE + 5 * P, "rw-p", Some("[stack]")),
        line(BASE + 5 * P, BASE + 6 * P, "rw-p", Some("[heap]")),
        line(BASE + 6 * P, BASE + 7 * P, "r-xp", Some("[vdso]")),
    ];
    let kinds: Vec<Kind> = lines.iter().map(Kind::of).collect();
    assert_eq!(kinds, Kind::ALL);
    let steps = vec![Step::new("start", lines)];
    let svg = render_svg(&steps, &opts());
    for k in Kind::ALL {
        // Once in the legend (twice for anon: the no-access sample), once as a bar.
        assert_eq!(
            svg.matches(&format!("fill=\"{}\"", k.colour())).count(),
            if k == Kind::Anon { 3 } else { 2 },
            "{k:?}"
        );
        assert!(svg.contains(&format!(">{}</text>", k.describe())));
    }
    // Nothing changed, so everything is drawn and the heading says so.
    assert!(svg.contains("no step changed the maps: all 7 mappings drawn"));
}

fn parse_xml(text: &str) -> roxmltree::Document<'_> {
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opt)
        .unwrap_or_else(|e| panic!("not well-formed: {e}\n{text}"))
}

#[test]
fn hostile_names_stay_text() {
    let nasty = [
        "/tmp/</title><script>alert(\"x&y\")</script> (deleted)",
        "/memfd:<b>'quoted' & \"double\"</b> ]]> (deleted)",
        "/dev/shm/a\u{1}b\u{1b}[31mred\u{7f}\u{fffe} (deleted)",
        "[anon:<&>]",
        "/path with  spaces/and-\u{e9}\u{4e2d}\u{1f600}",
    ];
    let mut maps = Vec::new();
    for (i, n) in nasty.iter().enumerate() {
        maps.push(line(
            BASE + (i as u64) * 8 * P,
            BASE + (i as u64 * 8 + 4) * P,
            "rw-s",
            Some(n),
        ));
    }
    let mut grown = maps.clone();
    grown[0].end += 2 * P;
    let steps = vec![
        Step::new("start <&>", maps)
            .with_result("\"quoted\" & <tag>")
            .with_note("FAILED: expected \"<x>\""),
        Step::new("store(0x1, \"</text>\")", grown).with_note("a\u{0}b"),
    ];
    let all = Options {
        selection: Selection::All,
        title: "</title>&<script>".to_string(),
        ..opts()
    };
    let svg = render_svg(&steps, &all);
    let html = render_html(&steps, &all);
    assert!(!svg.contains("<script"));
    assert!(!html.contains("<script"));
    let doc = parse_xml(&svg);
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    // Each name comes back from the XML exactly (but for the characters XML cannot
    // carry, which are written visibly).
    let titles: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    for n in &nasty[..2] {
        assert!(
            titles.iter().any(|t| t.contains(n)),
            "{n:?} not among {titles:?}"
        );
    }
    assert!(
        titles
            .iter()
            .any(|t| t.contains("a\\x01b\\x1b[31mred\u{7f}\\u{fffe} (deleted)"))
    );
    assert!(titles.iter().any(|t| t == "</title>&<script>"));

    let doc = parse_xml(&html);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/1999/xhtml")
    );
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name(("http://www.w3.org/2000/svg", "svg")))
    );
    let page_text: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(page_text.contains("FAILED: expected \"<x>\""));
    assert!(page_text.contains(nasty[0]));
}

#[test]
fn no_resources_are_fetched() {
    let html = render_html(&story(), &opts());
    for bad in [
        "http://", "https://", "src=", "<script", "@import", "url(http",
    ] {
        let n = html.matches(bad).count();
        // The only URLs are the XML namespace names.
        let allowed = match bad {
            "http://" => html.matches("xmlns=\"http://").count(),
            _ => 0,
        };
        assert_eq!(n, allowed, "{bad}");
    }
}

#[test]
fn edge_cases_do_not_panic() {
    for steps in [
        vec![],
        vec![Step::new("empty", vec![])],
        vec![Step::new("empty", vec![]), Step::new("still", vec![])],
        vec![
            Step::new("a", vec![]),
            Step::new("b", vec![anon(BASE, 1, "rw-p")]),
        ],
        vec![Step::new(
            "huge",
            vec![
                line(0, 0x1000, "r--p", None),
                line(
                    0xffff_ffff_ff60_0000,
                    0xffff_ffff_ff60_1000,
                    "--xp",
                    Some("[vsyscall]"),
                ),
            ],
        )],
        vec![
            Step::new("bogus move", vec![anon(BASE, 1, "rw-p")]).with_moves(vec![Move {
                from: std::ops::Range {
                    start: BASE + 5,
                    end: BASE + 3,
                },
                to: u64::MAX - 1..u64::MAX,
            }]),
        ],
    ] {
        let html = render_html(&steps, &opts());
        parse_xml(&html);
        let tiny = Options { width: 0, ..opts() };
        parse_xml(&render_svg(&steps, &tiny));
    }
}

#[test]
fn random_layouts_give_well_formed_pictures() {
    // A small linear congruential generator: reproducible, no dependencies.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % n
    };
    let perms = ["rw-p", "r--p", "---p", "r-xp", "rw-s"];
    let names = [
        None,
        Some("[heap]"),
        Some("/lib/x.so"),
        Some("/memfd:m (deleted)"),
    ];
    for _ in 0..60 {
        let mut steps = Vec::new();
        for s in 0..1 + next(6) {
            let mut maps = Vec::new();
            let mut at = BASE + next(64) * P;
            for _ in 0..next(12) {
                let len = 1 + next(40);
                let name = names[next(4) as usize];
                maps.push(line(at, at + len * P, perms[next(5) as usize], name));
                at += (len + next(3) * next(1000)) * P;
            }
            steps.push(Step::new(format!("step {s}"), maps));
        }
        for sel in [Selection::Changed, Selection::All] {
            let o = Options {
                selection: sel,
                ..opts()
            };
            let pic = Picture::new(&steps, &o);
            parse_xml(&pic.html());
            let sum = pic.summary();
            assert!(sum.drawn <= sum.mappings);
            assert!(sum.width >= 400);
        }
    }
}
