//! The HTML page: the SVG inline, then the maps lines each step removed and added.

use std::fmt::Write;

use crate::plan::Plan;
use crate::text::{compact_line, esc, escaped};
use crate::{Options, Step};

const CSS: &str = "\
body{margin:8px;font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;font-size:14px;color:#111;background:#fff}\
svg{display:block}\
h2{font-size:16px;margin:24px 0 8px}\
p.how{max-width:60em}\
table{border-collapse:collapse}\
td,th{text-align:left;vertical-align:top;padding:3px 8px;border-bottom:1px solid #ddd}\
pre,code,td.call{font-family:'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12px}\
pre{margin:0}\
.del{color:#b00000}.add{color:#006400}.note{color:#c00000;font-weight:bold}";

/// Write the page around an SVG already written.
pub(crate) fn write(steps: &[Step], opts: &Options, plan: &Plan, svg: &str) -> String {
    let mut s = String::with_capacity(svg.len() + 4096 + steps.len() * 512);
    s.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"generator\" content=\"vmspace render\"/>\n");
    let _ = writeln!(s, "<title>{}</title>", escaped(&opts.title));
    let _ = writeln!(s, "<style>{CSS}</style>\n</head>\n<body>");
    s.push_str(svg);
    s.push_str(
        "<p class=\"how\">One row per step, showing the address space after it. Each bar is a mapping \
(a VMA, one line of <code>/proc/pid/maps</code>), placed on an address axis that grows to the \
right; bar widths grow with the logarithm of the size, and address space that nothing drawn \
ever occupies is squeezed into a grey band. Bars outlined in black are new or changed since the \
row above; hatched red is address space the step unmapped; an arrow shows pages that moved. \
Hover over a bar for its maps line.</p>\n",
    );
    s.push_str("<h2>What each step changed in the maps</h2>\n<table>\n<tr><th>#</th><th>call</th><th>maps lines removed (-) and added (+)</th></tr>\n");
    for (i, step) in steps.iter().enumerate() {
        let ch = &plan.changes[i];
        let _ = write!(s, "<tr id=\"change-{i}\"><td>{i}</td><td class=\"call\">");
        esc(&mut s, &step.label);
        if !step.result.is_empty() {
            s.push_str(" = ");
            esc(&mut s, &step.result);
        }
        if let Some(n) = &step.note {
            s.push_str("<br/><span class=\"note\">");
            esc(&mut s, n);
            s.push_str("</span>");
        }
        s.push_str("</td><td><pre>");
        if i == 0 {
            let _ = write!(s, "({} mappings)", plan.lines[0].len());
        } else {
            for &k in &ch.removed {
                s.push_str("<span class=\"del\">- ");
                esc(&mut s, &compact_line(&plan.lines[i - 1][k]));
                s.push_str("</span>\n");
            }
            for (k, &c) in ch.changed.iter().enumerate() {
                if c {
                    s.push_str("<span class=\"add\">+ ");
                    esc(&mut s, &compact_line(&plan.lines[i][k]));
                    s.push_str("</span>\n");
                }
            }
            // Drop the last newline so that the cell does not end in a blank line.
            if s.ends_with('\n') {
                s.pop();
            }
        }
        s.push_str("</pre></td></tr>\n");
    }
    s.push_str("</table>\n</body>\n</html>\n");
    s
}
