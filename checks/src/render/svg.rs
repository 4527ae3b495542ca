//! The drawing primitives the message sequence diagrams share (`raftlab trace
//! show`, and the Explorer's diagram of a model run): lifelines, arrows with a
//! label, badges, and a [`Layout`] that places every label and badge where nothing
//! else is drawn. Arrow heads are one marker per colour (no `context-stroke`, which
//! ImageMagick and rsvg do not draw), so the SVG renders in browsers and converters.

use raft_model::{Id, Msg};
use std::fmt::Write;

/// The colours of message kinds, as the legend lists them.
pub const PALETTE: [(&str, &str); 5] = [
    ("#1f5fbf", "election"),
    ("#1a8a3a", "entries"),
    ("#d07000", "rejection"),
    ("#9a9a9a", "heartbeat"),
    ("#8a2be2", "client"),
];

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Heartbeat traffic: an empty AppendEntries, or a successful reply to one.
pub fn is_heartbeat(m: &Msg) -> bool {
    match m {
        Msg::AppendEntries(a) => a.entries.is_empty(),
        Msg::AppendEntriesReply(r) => r.success,
        _ => false,
    }
}

/// A few characters per message, as on a whiteboard.
pub fn label(m: &Msg, name: &dyn Fn(Id) -> String) -> String {
    match m {
        Msg::RequestVote(m) => format!("RequestVote t{}", m.term),
        Msg::RequestVoteReply(m) => {
            let yes = if m.vote_granted { "yes" } else { "no" };
            format!("vote {yes} t{}", m.term)
        }
        Msg::AppendEntries(m) if m.entries.is_empty() => {
            format!("AE t{} c{}", m.term, m.leader_commit)
        }
        Msg::AppendEntries(m) => format!(
            "AE t{} [{}..{}] c{}",
            m.term,
            m.prev_log_index.saturating_add(1),
            m.prev_log_index.saturating_add(m.entries.len() as u64),
            m.leader_commit
        ),
        Msg::AppendEntriesReply(m) if m.success => format!("ok {}", m.match_index),
        Msg::AppendEntriesReply(m) => format!("reject (len {})", m.x_len),
        Msg::InstallSnapshot(m) => format!("snapshot t{} @{}", m.term, m.last_included_index),
        Msg::ClientRequest(m) => format!("#{} {:?}", m.seq, m.op),
        Msg::ClientReply { seq, result } => format!("#{seq} -> {result:?}"),
        Msg::NotLeader { leader_hint, .. } => match leader_hint {
            Some(l) => format!("not leader, try {}", name(*l)),
            None => "not leader".into(),
        },
    }
}

pub fn color(m: &Msg) -> &'static str {
    match m {
        Msg::RequestVote(_) | Msg::RequestVoteReply(_) => "#1f5fbf",
        Msg::AppendEntries(a) if !a.entries.is_empty() => "#1a8a3a",
        Msg::AppendEntriesReply(r) if !r.success => "#d07000",
        m if is_heartbeat(m) => "#9a9a9a",
        _ => "#8a2be2",
    }
}

/// The `<defs>` every diagram needs: an arrow head per palette colour.
pub fn defs() -> String {
    let mut out = String::from("<defs>");
    for (c, _) in PALETTE {
        let _ = write!(
            out,
            r#"<marker id="{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"#,
            marker_id(c)
        );
    }
    out.push_str("</defs>\n");
    out
}

fn marker_id(color: &str) -> String {
    format!("arrow-{}", color.trim_start_matches('#'))
}

/// A box that something drawn occupies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// Places labels and badges so that none covers another: each goes where it asks,
/// or is moved right until it is clear of everything placed before. Boxes are
/// kept by horizontal band, so a placement looks only at its neighbours.
#[derive(Default)]
pub struct Layout {
    bands: std::collections::HashMap<i64, Vec<Rect>>,
    count: usize,
}

/// The height of a band of [`Layout`].
const BAND: f64 = 16.0;

impl Layout {
    fn bands_of(r: &Rect) -> std::ops::RangeInclusive<i64> {
        ((r.y / BAND).floor() as i64)..=(((r.y + r.h) / BAND).floor() as i64)
    }

    /// Where a box of `w` x `h` asked for at (`x`, `y`) goes.
    pub fn place(&mut self, x: f64, y: f64, w: f64, h: f64) -> Rect {
        let mut r = Rect { x, y, w, h };
        loop {
            let blocker = Self::bands_of(&r)
                .filter_map(|b| self.bands.get(&b))
                .flatten()
                .filter(|o| o.overlaps(&r))
                .map(|o| o.x + o.w)
                .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
            match blocker {
                Some(right) => r.x = right + 3.0,
                None => break,
            }
        }
        for b in Self::bands_of(&r) {
            self.bands.entry(b).or_default().push(r);
        }
        self.count += 1;
        r
    }

    /// How many boxes were placed.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Text width in the diagrams' fonts, roughly (for boxes behind text).
fn text_width(text: &str, per_char: f64) -> f64 {
    per_char * text.chars().count() as f64
}

pub fn lifeline(out: &mut String, x: f64, y0: f64, y1: f64, up: bool) {
    if y1 <= y0 {
        return;
    }
    let style = if up {
        r##"stroke="#333" stroke-width="2""##
    } else {
        r##"stroke="#bbb" stroke-width="1.5" stroke-dasharray="5,4""##
    };
    let _ = writeln!(
        out,
        r#"<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" {style}/>"#
    );
}

/// A label in a box, to the right of the lifeline at (`x`, `y`), where `layout`
/// finds room.
#[allow(clippy::too_many_arguments)]
pub fn badge(
    out: &mut String,
    layout: &mut Layout,
    x: f64,
    y: f64,
    text: &str,
    fill: &str,
    stroke: &str,
) {
    let w = 7.0 + text_width(text, 6.2);
    let r = layout.place(x + 6.0, y - 7.5, w, 15.0);
    let _ = writeln!(
        out,
        r#"<rect class="badge" x="{:.1}" y="{:.1}" width="{w:.1}" height="15" rx="3" fill="{fill}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" fill="{stroke}" font-weight="bold" font-size="10">{}</text>"#,
        r.x,
        r.y,
        r.x + 3.5,
        r.y + 11.0,
        esc(text)
    );
}

/// A small grey note to the left of the lifeline at (`x`, `y`) (a timer that
/// fired), where `layout` finds room.
pub fn note(out: &mut String, layout: &mut Layout, x: f64, y: f64, text: &str) {
    let w = text_width(text, 5.8);
    let r = layout.place(x - 8.0 - w, y - 7.0, w, 11.0);
    let _ = writeln!(
        out,
        r##"<rect class="label" x="{:.1}" y="{:.1}" width="{w:.1}" height="11" fill="white" fill-opacity="0.85"/><text x="{:.1}" y="{:.1}" fill="#555" font-size="10">{}</text>"##,
        r.x,
        r.y,
        r.x,
        r.y + 9.0,
        esc(text)
    );
}

/// An arrow from `from` to `to` (a lost message: dashed, ending in a cross), its
/// label on it where `layout` finds room.
pub fn arrow(
    out: &mut String,
    layout: &mut Layout,
    from: (f64, f64),
    to: (f64, f64),
    color: &str,
    text: &str,
    lost: bool,
) {
    let (x0, y0) = from;
    let (x1, y1) = to;
    let dash = if lost {
        r#" stroke-dasharray="3,2""#
    } else {
        ""
    };
    let marker = if lost {
        String::new()
    } else {
        format!(r#" marker-end="url(#{})""#, marker_id(color))
    };
    let _ = writeln!(
        out,
        r#"<line x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y1:.1}" stroke="{color}" stroke-width="1.3"{dash}{marker}/>"#
    );
    if lost {
        let _ = writeln!(
            out,
            r##"<text x="{x1:.1}" y="{:.1}" text-anchor="middle" font-size="13" font-weight="bold" fill="#c00000">✕</text>"##,
            y1 + 4.5
        );
    }
    // The label sits on the arrow, a third of the way along, on a white backing.
    let (lx, ly) = (x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3 - 3.0);
    let w = text_width(text, 5.5) + 4.0;
    let r = layout.place(lx - w / 2.0, ly - 8.5, w, 11.0);
    let _ = writeln!(
        out,
        r#"<rect class="label" x="{:.1}" y="{:.1}" width="{w:.1}" height="11" fill="white" fill-opacity="0.85"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9.5" fill="{color}">{}</text>"#,
        r.x,
        r.y,
        r.x + w / 2.0,
        r.y + 8.5,
        esc(text)
    );
}
