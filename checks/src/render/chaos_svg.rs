//! The pictures of a chaos run, as Jepsen draws them: every operation's latency
//! over time (one colour per kind, failures and operations of unknown outcome
//! marked), and throughput over time, each with the fault windows shaded and
//! named. Plain SVG (no scripts, no CSS, no `context-stroke`) so that browsers
//! and converters (rsvg-convert, ImageMagick) draw the same thing.

use super::svg::esc;
use raft_impl::nemesis::Window;
use raft_impl::workload::{OpKind, OpRecord, Outcome};
use std::fmt::Write;

const W: f64 = 1100.0;
const H: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 78.0;
const BOTTOM: f64 = 60.0;

const KINDS: [(OpKind, &str); 3] = [
    (OpKind::Put, "#1f5fbf"),
    (OpKind::Append, "#1a8a3a"),
    (OpKind::Get, "#8a2be2"),
];

/// Most points drawn per kind; the rest are thinned evenly (failures and
/// unknown outcomes are always drawn).
const MAX_POINTS: usize = 15_000;

fn color(k: OpKind) -> &'static str {
    KINDS
        .iter()
        .find(|(x, _)| *x == k)
        .map_or("#444", |(_, c)| c)
}

fn fault_fill(f: &str) -> &'static str {
    match f.split_whitespace().next().unwrap_or("") {
        "kill" => "#f4c7c3",
        "restart" => "#fce8b2",
        "partition" => "#c6dafc",
        "loss" => "#d9ead3",
        "dup" => "#e1d5e7",
        _ => "#fde2cf",
    }
}

/// The frame of a chart: background, fault windows, axes with ticks.
struct Frame {
    out: String,
    t_max: f64,
    plot_w: f64,
    plot_h: f64,
}

impl Frame {
    fn new(title: &str, t_max: f64, windows: &[Window]) -> Frame {
        let mut f = Frame {
            out: String::new(),
            t_max: t_max.max(1.0),
            plot_w: W - LEFT - RIGHT,
            plot_h: H - TOP - BOTTOM,
        };
        let _ = writeln!(
            f.out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif">"#
        );
        let _ = writeln!(
            f.out,
            r##"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/><text x="{LEFT}" y="24" font-size="15" font-weight="bold" fill="#222">{}</text>"##,
            esc(title)
        );
        // Labels above their window, on the first of three rows where they fit;
        // a window whose label fits nowhere is named by its colour alone.
        let mut rows: [f64; 3] = [f64::MIN; 3];
        for w in windows {
            let (x0, x1) = (f.x(w.start_s), f.x(w.end_s));
            let _ = writeln!(
                f.out,
                r#"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.7"/>"#,
                (x1 - x0).max(1.0),
                f.plot_h,
                fault_fill(&w.fault)
            );
            let text = w.to_string();
            let width = 5.4 * text.len() as f64;
            let fits = x0 + width <= LEFT + f.plot_w + RIGHT - 10.0;
            if let Some(k) = (0..rows.len()).find(|&k| fits && rows[k] + 4.0 <= x0) {
                rows[k] = x0 + width;
                let _ = writeln!(
                    f.out,
                    r##"<text x="{x0:.1}" y="{:.1}" font-size="9.5" fill="#555">{}</text>"##,
                    TOP - 6.0 - 12.0 * (2 - k) as f64,
                    esc(&text)
                );
            }
        }
        f
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + (t / self.t_max).clamp(0.0, 1.0) * self.plot_w
    }

    /// Axes: time below, `y_ticks` (value, label) on the left, named `y_name`.
    fn axes(&mut self, y_ticks: &[(f64, String)], y_name: &str) {
        let (x0, y0, x1, y1) = (LEFT, TOP + self.plot_h, LEFT + self.plot_w, TOP);
        let _ = writeln!(
            self.out,
            r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##
        );
        let step = nice_step(self.t_max / 10.0);
        let mut t = 0.0;
        while t <= self.t_max + 1e-9 {
            let x = self.x(t);
            let _ = writeln!(
                self.out,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
                y0 + 4.0,
                y0 + 16.0,
                fmt_num(t)
            );
            t += step;
        }
        let _ = writeln!(
            self.out,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">time (s)</text>"##,
            LEFT + self.plot_w / 2.0,
            y0 + 34.0
        );
        for (y, label) in y_ticks {
            let _ = writeln!(
                self.out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#333">{}</text>"##,
                x0 - 4.0,
                x0 - 6.0,
                y + 3.5,
                esc(label)
            );
        }
        let _ = writeln!(
            self.out,
            r##"<text x="16" y="{:.1}" font-size="11" text-anchor="middle" fill="#333" transform="rotate(-90 16 {:.1})">{}</text>"##,
            TOP + self.plot_h / 2.0,
            TOP + self.plot_h / 2.0,
            esc(y_name)
        );
    }

    fn legend(&mut self, items: &[(&str, &str, &str)]) {
        let x = LEFT + self.plot_w + 16.0;
        for (k, (label, col, shape)) in items.iter().enumerate() {
            let y = TOP + 10.0 + 18.0 * k as f64;
            let _ = writeln!(
                self.out,
                r##"{}<text x="{:.1}" y="{:.1}" font-size="11" fill="#222">{}</text>"##,
                mark(shape, x + 5.0, y, col),
                x + 16.0,
                y + 4.0,
                esc(label)
            );
        }
        // The fault windows' colours.
        let y0 = TOP + 30.0 + 18.0 * items.len() as f64;
        for (k, f) in ["kill", "restart", "partition", "loss", "dup", "delay"]
            .iter()
            .enumerate()
        {
            let y = y0 + 16.0 * k as f64;
            let _ = writeln!(
                self.out,
                r##"<rect x="{x:.1}" y="{:.1}" width="11" height="11" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#222">{f}</text>"##,
                y - 5.5,
                fault_fill(f),
                x + 16.0,
                y + 4.0
            );
        }
    }

    fn finish(mut self, note: &str) -> String {
        let _ = writeln!(
            self.out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#666">{}</text></svg>"##,
            H - 8.0,
            esc(note)
        );
        self.out
    }
}

fn mark(shape: &str, x: f64, y: f64, col: &str) -> String {
    match shape {
        "x" => format!(
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{col}" stroke-width="1.6"/>"#,
            x - 3.5,
            y - 3.5,
            x + 3.5,
            y + 3.5,
            x - 3.5,
            y + 3.5,
            x + 3.5,
            y - 3.5
        ),
        "triangle" => format!(
            r#"<path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} z" fill="{col}"/>"#,
            y - 4.0,
            x + 4.0,
            y + 3.0,
            x - 4.0,
            y + 3.0
        ),
        "line" => format!(
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{col}" stroke-width="2"/>"#,
            x - 6.0,
            x + 6.0
        ),
        _ => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.2" fill="{col}"/>"#),
    }
}

fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.max(1e-9).log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 && v % 1000.0 == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Latency of every operation over time, log scale: points by kind, failed reads
/// as red crosses, writes of unknown outcome as orange triangles (at the time
/// their client gave up).
pub fn latency(ops: &[OpRecord], windows: &[Window], duration_s: f64, title: &str) -> String {
    let mut f = Frame::new(title, duration_s, windows);
    let max_ms = ops
        .iter()
        .map(|o| (o.end_s - o.start_s) * 1000.0)
        .fold(10.0f64, f64::max);
    let decades = max_ms.log10().ceil().max(1.0);
    let (lo, hi) = (-1.0f64, decades); // 0.1 ms .. 10^decades ms
    let plot_h = f.plot_h;
    let y =
        |ms: f64| TOP + plot_h - ((ms.max(0.1).log10() - lo) / (hi - lo)).clamp(0.0, 1.0) * plot_h;
    let ticks: Vec<(f64, String)> = (lo as i32..=hi as i32)
        .map(|d| {
            let ms = 10f64.powi(d);
            (y(ms), if ms < 1.0 { "0.1".into() } else { fmt_num(ms) })
        })
        .collect();
    f.axes(&ticks, "latency (ms, log scale)");
    let mut shown = 0usize;
    for (kind, col) in KINDS {
        let oks: Vec<&OpRecord> = ops
            .iter()
            .filter(|o| o.kind == kind && o.outcome == Outcome::Ok)
            .collect();
        let every = oks.len().div_ceil(MAX_POINTS).max(1);
        for o in oks.iter().step_by(every) {
            shown += 1;
            let _ = write!(
                f.out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{col}" fill-opacity="0.55"/>"#,
                f.x(o.start_s),
                y((o.end_s - o.start_s) * 1000.0)
            );
        }
        f.out.push('\n');
    }
    for o in ops.iter().filter(|o| o.outcome != Outcome::Ok) {
        let (shape, col) = match o.outcome {
            Outcome::Fail => ("x", "#d00000"),
            _ => ("triangle", "#e07000"),
        };
        f.out.push_str(&mark(
            shape,
            f.x(o.start_s),
            y((o.end_s - o.start_s) * 1000.0),
            col,
        ));
    }
    f.legend(&[
        ("put", color(OpKind::Put), "dot"),
        ("append", color(OpKind::Append), "dot"),
        ("get", color(OpKind::Get), "dot"),
        ("get failed", "#d00000", "x"),
        ("write unknown", "#e07000", "triangle"),
    ]);
    let ok = ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
    let note = format!(
        "{} operations ({ok} answered, {shown} of them drawn); shaded: fault windows",
        ops.len()
    );
    f.finish(&note)
}

/// Operations answered per second over time, by kind, and failures per second.
pub fn throughput(ops: &[OpRecord], windows: &[Window], duration_s: f64, title: &str) -> String {
    let mut f = Frame::new(title, duration_s, windows);
    let bucket = if duration_s > 300.0 { 5.0 } else { 1.0 };
    let n = (duration_s / bucket).ceil().max(1.0) as usize;
    let mut series: Vec<(String, &str, Vec<f64>)> = KINDS
        .iter()
        .map(|(k, c)| (k.name().to_string(), *c, vec![0.0; n]))
        .collect();
    series.push(("not answered".into(), "#d00000", vec![0.0; n]));
    for o in ops {
        let b = ((o.end_s / bucket) as usize).min(n - 1);
        let s = match o.outcome {
            Outcome::Ok => KINDS.iter().position(|(k, _)| *k == o.kind).unwrap_or(0),
            _ => 3,
        };
        series[s].2[b] += 1.0 / bucket;
    }
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(1.0f64, f64::max);
    let top = nice_step(max / 5.0) * 5.0;
    let plot_h = f.plot_h;
    let y = |v: f64| TOP + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
    let ticks: Vec<(f64, String)> = (0..=5)
        .map(|k| {
            let v = top * k as f64 / 5.0;
            (y(v), fmt_num(v))
        })
        .collect();
    f.axes(&ticks, "operations per second");
    for (_, col, v) in &series {
        let pts: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(b, r)| format!("{:.1},{:.1}", f.x((b as f64 + 0.5) * bucket), y(*r)))
            .collect();
        let _ = writeln!(
            f.out,
            r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="1.6"/>"#,
            pts.join(" ")
        );
    }
    let items: Vec<(&str, &str, &str)> = series
        .iter()
        .map(|(name, col, _)| (name.as_str(), *col, "line"))
        .collect();
    f.legend(&items);
    f.finish(&format!(
        "operations answered (by kind) and not answered, per {bucket:.0} s; shaded: fault windows"
    ))
}
