//! The SVG picture, written by hand.

use std::fmt::Write;

use crate::kind::Kind;
use crate::plan::Plan;
use crate::text::{
    compact_line, esc, escaped, human_size, pages, pages_short, perms, short_name, truncate,
};
use crate::{Options, Selection, Step};

/// Height of one row (label, bar, room for move arrows).
const ROW_H: i64 = 52;
/// Where the bar starts within a row, and its height.
const BAR_Y: i64 = 18;
const BAR_H: i64 = 20;
/// Room left of the axis (step numbers) and right of it (slanted tick labels).
const LEFT: i64 = 44;
const RIGHT: i64 = 72;
/// Top of the legend, and the height of a legend line.
const LEGEND_Y: i64 = 54;
const LEGEND_LINE: i64 = 21;
/// Line height of the text under the title.
const SUBTITLE_LINE: i64 = 16;
/// Room for the legend's headings.
const LEGEND_HEADING: i64 = 72;
/// Room above the axis line for its slanted labels.
const AXIS_ROOM: i64 = 76;
/// Estimated advance of a character: 12px sans, 12px mono, 10px mono.
const SANS_12: f64 = 6.7;
/// The same for running text (DejaVu Sans averages about 6.1 there).
const SANS_12_TEXT: f64 = 6.4;
const MONO_12: f64 = 7.23;
const MONO_10: f64 = 6.03;
/// Smallest horizontal distance between two slanted axis labels.
const TICK_SPACING: i64 = 17;

const MONO: &str = "'DejaVu Sans Mono','Liberation Mono',Menlo,Consolas,monospace";
const SANS: &str = "'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif";

const GHOST: &str = "#d62728";
const MARK: &str = "#111111";

/// An entry of the legend.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Legend {
    Kind(Kind),
    NoAccess,
    Changed,
    Ghost,
    Moved,
    Gap,
}

impl Legend {
    fn text(self) -> &'static str {
        match self {
            Legend::Kind(k) => k.describe(),
            Legend::NoAccess => "no access (---)",
            Legend::Changed => "new or changed",
            Legend::Ghost => "unmapped by the step",
            Legend::Moved => "moved",
            Legend::Gap => "empty space (not to scale)",
        }
    }
}

/// Where things go.
#[derive(Clone, Debug, Default)]
pub(crate) struct Geometry {
    pub(crate) left: i64,
    pub(crate) track_width: i64,
    pub(crate) width: i64,
    pub(crate) height: i64,
    legend: Vec<(i64, i64, Legend)>,
    headings: Vec<(i64, i64, &'static str)>,
    subtitle: Vec<String>,
    axis_y: i64,
    rows_top: i64,
}

impl Geometry {
    /// The horizontal layout before the axis exists.
    pub(crate) fn new(opts: &Options) -> Geometry {
        let width = i64::from(opts.width.max(400));
        Geometry {
            left: LEFT,
            track_width: width - LEFT - RIGHT,
            width,
            ..Geometry::default()
        }
    }

    /// The rest, once the axis is known.
    pub(crate) fn finish(mut self, plan: &Plan, rows: usize, selection: Selection) -> Geometry {
        self.width = self.width.max(LEFT + plan.axis.width + RIGHT);
        let what = if plan.nothing_changed {
            format!(
                "no step changed the maps: all {} mappings drawn",
                plan.distinct
            )
        } else if selection == Selection::All {
            format!("all {} mappings drawn", plan.distinct)
        } else {
            format!(
                "{} of {} mappings drawn: those that change, their neighbours, and what shares their address space",
                plan.distinct_drawn, plan.distinct
            )
        };
        let text = format!(
            "{rows} step{}, one row each (the maps after the step); {what}. Bar widths grow with log2(pages); hover for details.",
            if rows == 1 { "" } else { "s" },
        );
        self.subtitle = wrap(&text, chars_fitting(self.width - LEFT - 8, SANS_12_TEXT));
        let backing: Vec<Legend> = Kind::ALL
            .iter()
            .map(|&k| Legend::Kind(k))
            .chain([Legend::NoAccess])
            .collect();
        let marks = [Legend::Changed, Legend::Ghost, Legend::Moved, Legend::Gap];
        let indent = LEFT + LEGEND_HEADING;
        let mut y = LEGEND_Y + (self.subtitle.len() as i64 - 1).max(0) * SUBTITLE_LINE;
        for (heading, group) in [("backing", &backing[..]), ("marks", &marks[..])] {
            self.headings.push((LEFT, y, heading));
            let mut x = indent;
            for &item in group {
                let w = 24 + (item.text().chars().count() as f64 * SANS_12) as i64 + 16;
                if x + w > self.width - 8 && x > indent {
                    x = indent;
                    y += LEGEND_LINE;
                }
                self.legend.push((x, y, item));
                x += w;
            }
            y += LEGEND_LINE;
        }
        let y = y - LEGEND_LINE;
        self.axis_y = y + LEGEND_LINE + AXIS_ROOM;
        self.rows_top = self.axis_y + 10;
        self.height = self.rows_top + rows as i64 * ROW_H + 10;
        self
    }
}

/// Break `text` at spaces into lines of at most `width` characters (a longer word gets
/// a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    lines
}

fn chars_fitting(px: i64, advance: f64) -> usize {
    if px <= 0 {
        0
    } else {
        (px as f64 / advance) as usize
    }
}

/// Write the SVG document.
pub(crate) fn write(steps: &[Step], opts: &Options, plan: &Plan, g: &Geometry) -> String {
    let mut s = String::with_capacity(8192 + steps.len() * 2048);
    let (w, h) = (g.width, g.height);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{SANS}\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<title>{}</title>", escaped(&opts.title));
    let _ = writeln!(
        s,
        "<style>\
.lbl{{font-family:{MONO};font-size:12px;white-space:pre}}\
.res{{fill:#1f4e79}}.note{{fill:#c00000;font-weight:bold}}.mv{{font-weight:bold}}.same{{fill:#888888}}\
.ax{{font-family:{MONO};font-size:10px;fill:#333333}}\
.in{{font-family:{MONO};font-size:10px;pointer-events:none}}\
.num{{font-size:11px;fill:#666666}}\
.v:hover{{stroke:#000000;stroke-width:2}}.mark{{pointer-events:none}}\
</style>"
    );
    let _ = writeln!(
        s,
        "<defs>\
<pattern id=\"vs-noaccess\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" fill=\"#ffffff\" fill-opacity=\"0.6\"/></pattern>\
<pattern id=\"vs-ghost\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(-45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/><rect width=\"2\" height=\"6\" fill=\"{GHOST}\"/></pattern>\
<marker id=\"vs-arrow\" viewBox=\"0 0 10 10\" refX=\"8\" refY=\"5\" markerWidth=\"5\" markerHeight=\"5\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"{MARK}\"/></marker>\
</defs>"
    );
    let _ = writeln!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>");

    header(&mut s, opts, g);
    legend(&mut s, g);

    // Row backgrounds, then the gap bands over them, then the axis.
    for i in (1..steps.len()).step_by(2) {
        let y0 = g.rows_top + i as i64 * ROW_H;
        let _ = writeln!(
            s,
            "<rect x=\"0\" y=\"{y0}\" width=\"{w}\" height=\"{ROW_H}\" fill=\"#f4f4f4\"/>"
        );
    }
    axis(&mut s, plan, g, steps.len());

    for (i, step) in steps.iter().enumerate() {
        row(&mut s, i, step, plan, g);
    }
    s.push_str("</svg>\n");
    s
}

fn header(s: &mut String, opts: &Options, g: &Geometry) {
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"24\" font-size=\"17\" font-weight=\"bold\">{}</text>",
        g.left,
        escaped(&opts.title)
    );
    for (k, l) in g.subtitle.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#444444\">{}</text>",
            g.left,
            43 + k as i64 * SUBTITLE_LINE,
            escaped(l)
        );
    }
}

fn legend(s: &mut String, g: &Geometry) {
    s.push_str("<g class=\"legend\">\n");
    for &(x, y, h) in &g.headings {
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{}\" font-weight=\"bold\">{h}</text>",
            y + 11
        );
    }
    for &(x, y, item) in &g.legend {
        let (sx, sy) = (x, y);
        match item {
            Legend::Kind(k) => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{sx}\" y=\"{sy}\" width=\"18\" height=\"13\" fill=\"{}\"/>",
                    k.colour()
                );
            }
            Legend::NoAccess => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{sx}\" y=\"{sy}\" width=\"18\" height=\"13\" fill=\"{}\"/><rect x=\"{sx}\" y=\"{sy}\" width=\"18\" height=\"13\" fill=\"url(#vs-noaccess)\"/>",
                    Kind::Anon.colour()
                );
            }
            Legend::Changed => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"11\" fill=\"#ffffff\" stroke=\"{MARK}\" stroke-width=\"2\"/>",
                    sx + 1,
                    sy + 1
                );
            }
            Legend::Ghost => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{sx}\" y=\"{sy}\" width=\"18\" height=\"13\" fill=\"url(#vs-ghost)\" stroke=\"{GHOST}\" stroke-dasharray=\"3 2\"/>"
                );
            }
            Legend::Moved => {
                let _ = writeln!(
                    s,
                    "<path d=\"M{} {}H{}\" stroke=\"{MARK}\" stroke-width=\"2\" marker-end=\"url(#vs-arrow)\"/>",
                    sx,
                    sy + 7,
                    sx + 16
                );
            }
            Legend::Gap => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{sx}\" y=\"{sy}\" width=\"18\" height=\"13\" fill=\"#e6e6e6\"/>{}",
                    break_mark(sx + 1, sy + 7)
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x + 24,
            y + 11,
            escaped(item.text())
        );
    }
    s.push_str("</g>\n");
}

/// Two slanted strokes centred vertically on `y`, starting at `x`.
fn break_mark(x: i64, y: i64) -> String {
    format!(
        "<path d=\"M{} {}L{} {}M{} {}L{} {}\" stroke=\"#555555\" stroke-width=\"1.5\"/>",
        x + 3,
        y + 5,
        x + 7,
        y - 5,
        x + 9,
        y + 5,
        x + 13,
        y - 5
    )
}

fn axis(s: &mut String, plan: &Plan, g: &Geometry, rows: usize) {
    let ay = g.axis_y;
    let bottom = g.rows_top + rows as i64 * ROW_H;
    let segs = &plan.axis.segs;
    s.push_str("<g class=\"axis\">\n");
    for seg in segs.iter().filter(|x| x.gap) {
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#e6e6e6\"><title>empty address space, not to scale: {:x}-{:x} ({})</title></rect>",
            seg.x0,
            ay,
            seg.x1 - seg.x0,
            bottom - ay,
            seg.start,
            seg.end,
            human_size(seg.end - seg.start)
        );
    }
    // The axis line, one piece per run of mapped segments, with a break mark at each gap.
    let mut i = 0;
    while i < segs.len() {
        if segs[i].gap {
            let _ = writeln!(s, "{}", break_mark(segs[i].x0 + 2, ay));
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < segs.len() && !segs[j + 1].gap {
            j += 1;
        }
        let _ = writeln!(
            s,
            "<path d=\"M{} {ay}H{}\" stroke=\"#333333\" stroke-width=\"1\"/>",
            segs[i].x0, segs[j].x1
        );
        i = j + 1;
    }
    // Ticks at every boundary; labels where there is room.
    let mut ticks: Vec<(i64, u64)> = Vec::new();
    for seg in segs.iter().filter(|x| !x.gap) {
        for t in [(seg.x0, seg.start), (seg.x1, seg.end)] {
            if ticks.last().is_none_or(|l| l.1 != t.1) {
                ticks.push(t);
            }
        }
    }
    let mut last_label: Option<i64> = None;
    for &(x, addr) in &ticks {
        let _ = writeln!(
            s,
            "<path d=\"M{x} {}V{ay}\" stroke=\"#333333\" stroke-width=\"1\"/>",
            ay - 5
        );
        if last_label.is_none_or(|l| x - l >= TICK_SPACING) {
            let _ = writeln!(
                s,
                "<path d=\"M{x} {}V{bottom}\" stroke=\"#dddddd\" stroke-width=\"1\"/>",
                ay + 1
            );
            let _ = writeln!(
                s,
                "<text class=\"ax\" transform=\"translate({},{}) rotate(-45)\">{addr:x}</text>",
                x + 2,
                ay - 7
            );
            last_label = Some(x);
        }
    }
    s.push_str("</g>\n");
}

fn row(s: &mut String, i: usize, step: &Step, plan: &Plan, g: &Geometry) {
    let y0 = g.rows_top + i as i64 * ROW_H;
    let by = y0 + BAR_Y;
    let ch = &plan.changes[i];
    let lines = &plan.lines[i];
    let axis = &plan.axis;
    let _ = writeln!(s, "<g class=\"row\" id=\"step-{i}\">");
    let _ = writeln!(
        s,
        "<text class=\"num\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{i}</text>",
        g.left - 8,
        by + 14
    );

    // The label: call = result, then notes.
    let mut extra: Vec<(&str, String)> = Vec::new();
    if !step.result.is_empty() {
        extra.push(("res", format!(" = {}", step.result)));
    }
    if let Some(n) = &step.note {
        extra.push(("note", format!("  {n}")));
    }
    for m in &ch.moves {
        extra.push((
            "mv",
            format!(
                "  moved: {:x} ({}) \u{2192} {:x} ({})",
                m.from.start,
                pages_short(m.from.end - m.from.start),
                m.to.start,
                pages_short(m.to.end - m.to.start)
            ),
        ));
    }
    if i > 0 && !ch.any() {
        extra.push(("same", "  \u{b7} maps unchanged".to_string()));
    }
    let room = chars_fitting(g.width - g.left - 8, MONO_12);
    let extra_len: usize = extra.iter().map(|e| e.1.chars().count()).sum();
    let label = truncate(&step.label, room.saturating_sub(extra_len).max(24));
    let mut full = step.label.clone();
    for e in &extra {
        full.push_str(&e.1);
    }
    let _ = write!(
        s,
        "<text class=\"lbl\" x=\"{}\" y=\"{}\"><title>{}</title>{}",
        g.left,
        y0 + 13,
        escaped(&full),
        escaped(&label)
    );
    let mut used = label.chars().count();
    for (class, t) in &extra {
        if used >= room {
            break;
        }
        let t = truncate(t, room - used);
        used += t.chars().count();
        let _ = write!(s, "<tspan class=\"{class}\">{}</tspan>", escaped(&t));
    }
    s.push_str("</text>\n");

    // The bars.
    let mut outlines = String::new();
    for (k, l) in lines.iter().enumerate() {
        if !plan.drawn[i][k] {
            continue;
        }
        let kind = Kind::of(l);
        let x0 = axis.x(l.start);
        let bw = (axis.x(l.end) - x0).max(1);
        let size = l.end - l.start;
        let changed = ch.changed[k] && i > 0;
        let _ = write!(
            s,
            "<rect class=\"v {}\" x=\"{x0}\" y=\"{by}\" width=\"{bw}\" height=\"{BAR_H}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"><title>",
            kind.class(),
            kind.colour()
        );
        esc(s, &compact_line(l));
        let _ = write!(
            s,
            "\n{}, {} ({}){}</title></rect>\n",
            kind.describe(),
            pages(size),
            human_size(size),
            if changed {
                "\nnew or changed in this step"
            } else {
                ""
            }
        );
        if !(l.read || l.write || l.exec) {
            let _ = writeln!(
                s,
                "<rect class=\"mark\" x=\"{x0}\" y=\"{by}\" width=\"{bw}\" height=\"{BAR_H}\" fill=\"url(#vs-noaccess)\"/>"
            );
        }
        // A caption inside the bar, when one fits.
        let p = perms(l);
        let n = pages_short(size);
        let mut options = Vec::new();
        if let Some(name) = l.name.as_deref() {
            options.push(format!("{} {p} {n}", short_name(name)));
            options.push(short_name(name).to_string());
        }
        options.push(format!("{p} {n}"));
        options.push(n);
        let fits = chars_fitting(bw - 6, MONO_10);
        if let Some(t) = options.iter().find(|t| t.chars().count() <= fits) {
            let _ = writeln!(
                s,
                "<text class=\"in\" x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>",
                x0 + 3,
                by + 14,
                kind.ink(),
                escaped(t)
            );
        }
        if changed {
            let _ = writeln!(
                outlines,
                "<rect class=\"mark\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{MARK}\" stroke-width=\"2\"/>",
                x0 + 1,
                by + 1,
                (bw - 2).max(1),
                BAR_H - 2
            );
        }
    }
    for &(gs, ge) in &ch.ghosts {
        let x0 = axis.x(gs);
        let gw = (axis.x(ge) - x0).max(1);
        let _ = writeln!(
            s,
            "<rect x=\"{x0}\" y=\"{}\" width=\"{gw}\" height=\"{}\" fill=\"url(#vs-ghost)\" stroke=\"{GHOST}\" stroke-width=\"1\" stroke-dasharray=\"3 2\"><title>unmapped by this step: {gs:x}-{ge:x}, {} ({})</title></rect>",
            by + 1,
            BAR_H - 2,
            pages(ge - gs),
            human_size(ge - gs)
        );
    }
    s.push_str(&outlines);
    for m in &ch.moves {
        let fx0 = axis.x(m.from.start);
        let fx1 = axis.x(m.from.end);
        let tx0 = axis.x(m.to.start);
        let tx1 = axis.x(m.to.end);
        let (fx, tx) = ((fx0 + fx1) / 2, (tx0 + tx1) / 2);
        let yb = by + BAR_H;
        let _ = writeln!(
            s,
            "<rect class=\"mark\" x=\"{fx0}\" y=\"{by}\" width=\"{}\" height=\"{BAR_H}\" fill=\"none\" stroke=\"{MARK}\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\"/>",
            (fx1 - fx0).max(1)
        );
        let d = format!(
            "M{fx} {}C{fx} {} {tx} {} {tx} {}",
            yb + 1,
            yb + 14,
            yb + 14,
            yb + 3
        );
        let _ = writeln!(
            s,
            "<path class=\"mark\" d=\"{d}\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"5\"/><path d=\"{d}\" fill=\"none\" stroke=\"{MARK}\" stroke-width=\"2\" marker-end=\"url(#vs-arrow)\"><title>moved: {:x}-{:x} \u{2192} {:x}-{:x}</title></path>",
            m.from.start, m.from.end, m.to.start, m.to.end
        );
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("aaaaaaa bb", 5), ["aaaaaaa", "bb"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("one", 0), ["one"]);
    }
}
