//! Pictures of a process address space over time: one row per step, each mapping a
//! bar on an address axis that compresses empty space, coloured by what backs it, with
//! what each step changed marked.
//!
//! The crate does no I/O. Its input is a list of [`Step`]s (a label — the call and its
//! result — and the `/proc/pid/maps` lines after the step); its output is an SVG
//! document or a single self-contained HTML page with the SVG inline (inline CSS, no
//! scripts, no external resources). The output is deterministic: the same steps give
//! the same bytes.
//!
//! ```
//! use vmspace_render::{Options, Picture, Step};
//!
//! let before = "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n";
//! let after = "7f0000000000-7f0000008000 rw-p 00000000 00:00 0 \n";
//! let steps = vec![
//!     Step::from_maps_text("start", before).unwrap(),
//!     Step::from_maps_text("mremap(0x7f0000000000, 4p, 8p, 0)", after)
//!         .unwrap()
//!         .with_result("0x7f0000000000"),
//! ];
//! let picture = Picture::new(&steps, &Options::default());
//! let svg = picture.svg();
//! assert!(svg.starts_with("<svg"));
//! assert!(picture.html().contains(&svg));
//! assert_eq!(picture.summary().steps, 2);
//! ```
//!
//! How the picture is made:
//! - The axis: every start and end of a drawn mapping, over all steps, cuts the address
//!   space into pieces. A piece that some drawn mapping covers at some step is as wide
//!   as about `log2(pages) + 1`; address space that no drawn mapping ever covers is
//!   shrunk to a narrow band with a break mark. Ticks carry hex addresses.
//! - The selection ([`Selection::Changed`], the default): the mappings that some step
//!   created, changed or removed, the mappings on either side of them, and whatever
//!   else lies in the address space that these cover. [`Selection::All`] draws
//!   everything.
//! - The marks: a bar that is new or different from the step before is outlined; space
//!   that the step unmapped is hatched; a move is an arrow from the old range to the
//!   new one (given with [`Step::with_moves`], or inferred when a range disappears and
//!   one of the same size appears in the same step).
//! - Hovering over a bar shows its maps line, kind and size (SVG `<title>`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod html;
mod kind;
mod plan;
mod svg;
mod text;

use std::ops::Range;

pub use kind::Kind;
use vmspace::MapsLine;
pub use vmspace::maps::MapsParseError;

/// The state after one step: what was done, and the maps lines after it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Step {
    /// The call as text (`mremap(0x7f..., 12p, 24p, MREMAP_MAYMOVE)`), or a caption such
    /// as `start`.
    pub label: String,
    /// What the call returned, as text (`0x7ffff7c89000`, `-1 ENOMEM`); may be empty.
    pub result: String,
    /// Something to flag on this row (a failed assertion, the error that stopped a
    /// run); drawn in red.
    pub note: Option<String>,
    /// The maps lines after the step (any order).
    pub maps: Vec<MapsLine>,
    /// The ranges whose pages this step moved; `None` to infer them (a range that
    /// disappeared and one of the same size that appeared).
    pub moves: Option<Vec<Move>>,
}

impl Step {
    /// A step with a label and the maps lines after it.
    pub fn new(label: impl Into<String>, maps: Vec<MapsLine>) -> Self {
        Step {
            label: label.into(),
            maps,
            ..Step::default()
        }
    }

    /// A step from the text of `/proc/pid/maps`.
    ///
    /// # Errors
    /// The first line that is not a maps line.
    pub fn from_maps_text(label: impl Into<String>, maps: &str) -> Result<Self, MapsParseError> {
        Ok(Step::new(label, parse_maps(maps)?))
    }

    /// Set the result text.
    #[must_use]
    pub fn with_result(mut self, result: impl Into<String>) -> Self {
        self.result = result.into();
        self
    }

    /// Set the note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Say exactly which ranges moved (none, if `moves` is empty).
    #[must_use]
    pub fn with_moves(mut self, moves: Vec<Move>) -> Self {
        self.moves = Some(moves);
        self
    }
}

/// Pages that moved from one range to another (an `mremap` that moved; the sizes may
/// differ when it also grew or shrank).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Move {
    /// Where they were.
    pub from: Range<u64>,
    /// Where they are now.
    pub to: Range<u64>,
}

/// Which mappings to draw.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    /// The mappings that change at some step, their neighbours, and everything in the
    /// address space these cover. When nothing changes at all, everything.
    #[default]
    Changed,
    /// Every mapping.
    All,
}

/// How to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The heading (the script's name, say).
    pub title: String,
    /// Which mappings to draw.
    pub selection: Selection,
    /// Width of the picture in pixels (it grows when the axis needs more room).
    pub width: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "address space".to_string(),
            selection: Selection::Changed,
            width: 1360,
        }
    }
}

/// Counts describing a picture.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Rows.
    pub steps: usize,
    /// Steps that changed the maps.
    pub changed_steps: usize,
    /// Distinct maps lines over all steps.
    pub mappings: usize,
    /// How many of them are drawn.
    pub drawn: usize,
    /// Moves marked.
    pub moves: usize,
    /// Width of the SVG in pixels.
    pub width: u32,
    /// Height of the SVG in pixels.
    pub height: u32,
}

/// A picture of some steps, laid out once, to write as SVG or HTML.
#[derive(Debug)]
pub struct Picture<'a> {
    steps: &'a [Step],
    opts: Options,
    plan: plan::Plan,
    geom: svg::Geometry,
}

impl<'a> Picture<'a> {
    /// Lay out `steps` (the first row shows the first step's maps with nothing marked;
    /// every later row is compared with the one before it).
    pub fn new(steps: &'a [Step], opts: &Options) -> Self {
        let geom = svg::Geometry::new(opts);
        let plan = plan::Plan::new(steps, opts.selection, geom.left, geom.track_width);
        let geom = geom.finish(&plan, steps.len(), opts.selection);
        Picture {
            steps,
            opts: opts.clone(),
            plan,
            geom,
        }
    }

    /// The picture as a standalone SVG document (no XML declaration; UTF-8).
    pub fn svg(&self) -> String {
        svg::write(self.steps, &self.opts, &self.plan, &self.geom)
    }

    /// A complete HTML page (polyglot XHTML: it parses as XML too) with the SVG inline
    /// and, below it, the maps lines each step removed and added.
    pub fn html(&self) -> String {
        html::write(self.steps, &self.opts, &self.plan, &self.svg())
    }

    /// Counts describing the picture.
    pub fn summary(&self) -> Summary {
        Summary {
            steps: self.steps.len(),
            changed_steps: self.plan.changes.iter().filter(|c| c.any()).count(),
            mappings: self.plan.distinct,
            drawn: self.plan.distinct_drawn,
            moves: self.plan.changes.iter().map(|c| c.moves.len()).sum(),
            width: u32::try_from(self.geom.width).unwrap_or(u32::MAX),
            height: u32::try_from(self.geom.height).unwrap_or(u32::MAX),
        }
    }
}

/// [`Picture::svg`] in one call.
pub fn render_svg(steps: &[Step], opts: &Options) -> String {
    Picture::new(steps, opts).svg()
}

/// [`Picture::html`] in one call.
pub fn render_html(steps: &[Step], opts: &Options) -> String {
    Picture::new(steps, opts).html()
}

/// Parse the text of `/proc/pid/maps` (blank lines are skipped).
///
/// # Errors
/// The first line that is not a maps line.
pub fn parse_maps(text: &str) -> Result<Vec<MapsLine>, MapsParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(MapsLine::parse)
        .collect()
}
